"""lo.grid inside sequential loops and ifs (time steps): each grid finishes before the
next statement, as the plain Python loops do; every backend gives the python
backend's result (Triton runs the loop on the host and launches each grid per step)."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

import langone as lo
from langone.errors import KernelCompileError
from langone.kernels import backends

pytestmark = pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning")

EVERY = backends.usable()


@lo.func
def laplacian(u, s, i, j):
    return u[s, i - 1, j] + u[s, i + 1, j] + u[s, i, j - 1] + u[s, i, j + 1] - 4.0 * u[s, i, j]


@lo.kernel
def jacobi(u, steps, k, hist):
    n, m = u.shape[1], u.shape[2]
    acc = 0.0
    for t in range(steps):
        src = t % 2
        dst = 1 - src
        for i, j in lo.grid(n - 2, m - 2):               # reads src, writes dst
            u[dst, i + 1, j + 1] = u[src, i + 1, j + 1] + k * laplacian(u, src, i + 1, j + 1)
        if t % 3 == 0:                                   # a grid inside an if
            peak = -lo.inf
            for i in lo.grid(n):
                peak = max(peak, u[dst, i, m // 2])
                acc += u[dst, i, m // 2]                 # a reduction across time steps
            hist[t] = peak
    w = 0
    while w < 2:                                         # and inside a while
        tot = 0.0
        for i in lo.grid(m):
            tot += u[0, 0, i] + w
        hist[steps + w] = tot
        w += 1
    return acc


@lo.kernel
def heat(u, v, steps, alpha):
    for t in range(steps):
        for i in lo.grid(u.shape[0] - 2):
            v[i + 1] = u[i + 1] + alpha * (u[i] - 2.0 * u[i + 1] + u[i + 2])
        for i in lo.grid(u.shape[0] - 2):               # sees every write of the grid above
            u[i + 1] = v[i + 1]


def _run_all(kern, *args):
    outs = {}
    for b in ["python"] + [b for b in EVERY if b != "python"]:
        got = copy.deepcopy(list(args))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            r = kern.on(b)(*got)
        outs[b] = (got, r)
    return outs


def test_time_stepped_grids_match_the_python_backend_on_every_backend():
    u0 = np.zeros((2, 12, 10))
    u0[:, 6, 5] = 1.0
    outs = _run_all(jacobi, u0, 10, 0.2, np.zeros(12))
    (ref_args, ref) = outs["python"]
    for b, (args, r) in outs.items():
        np.testing.assert_allclose(args[0], ref_args[0], rtol=1e-12, err_msg=b)
        np.testing.assert_allclose(args[3], ref_args[3], rtol=1e-12, err_msg=b)
        np.testing.assert_allclose(float(r), float(ref), rtol=1e-12, err_msg=b)
    assert ref_args[3][0] == pytest.approx(0.2) and float(ref) > 0


def test_each_grid_sees_the_previous_grids_writes():
    u0 = np.zeros(33)
    u0[16] = 1.0
    outs = _run_all(heat, u0, u0.copy(), 40, 0.25)
    want = u0.copy()
    for _ in range(40):                                  # the same steps, in numpy
        want[1:-1] = want[1:-1] + 0.25 * (want[:-2] - 2 * want[1:-1] + want[2:])
    for b, (args, _) in outs.items():
        np.testing.assert_allclose(args[0], want, rtol=1e-12, atol=1e-15, err_msg=b)


needs_triton = pytest.mark.skipif("triton" not in EVERY, reason="needs triton")


@needs_triton
def test_triton_runs_the_step_loop_on_the_host_and_launches_each_grid_per_step():
    host = heat.source("triton", np.zeros(5), np.zeros(5), 2, 0.1).split("Host program")[1]
    assert "for t in range(0, steps, 1):\n#                  # launch k_heat_grid0\n" \
           "#                  # launch k_heat_grid1" in host
    launches = []
    from langone.kernels.backends import triton_launch
    original = triton_launch.Launcher.launch

    def counting(self, dk, interp):
        launches.append(dk.name)
        return original(self, dk, interp)
    triton_launch.Launcher.launch = counting
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            heat.on("triton")(np.zeros(5), np.zeros(5), 3, 0.1)
    finally:
        triton_launch.Launcher.launch = original
    assert launches == ["k_heat_grid0", "k_heat_grid1"] * 3


@needs_triton
def test_triton_refuses_step_loops_that_read_tensors_to_decide():
    @lo.kernel
    def until_small(x, n):
        while x[0] > 1.0:
            for i in lo.grid(x.shape[0]):
                x[i] = x[i] / 2.0

    @lo.kernel
    def stop_early(x, steps):
        for t in range(steps):
            for i in lo.grid(x.shape[0]):
                x[i] = x[i] / 2.0
            if x[0] < 1.0:
                break
    with pytest.raises(KernelCompileError, match="its condition and bounds cannot read "
                                                 "tensor elements") as info:
        until_small.on("triton")(np.full(3, 8.0), 1)
    assert "while x[0] > 1.0:" in str(info.value)
    with pytest.raises(KernelCompileError, match="cannot break out of"):
        stop_early.on("triton")(np.full(3, 8.0), 5)
    x = np.full(3, 8.0)
    stop_early.on("numba")(x, 5)                  # the CPU backends run them
    assert x.tolist() == [0.5, 0.5, 0.5]


def test_grids_still_cannot_nest():
    @lo.kernel
    def nested(x, out):
        for i in lo.grid(x.shape[0]):
            for j in lo.grid(x.shape[0]):
                out[i] = x[j]
    with pytest.raises(KernelCompileError, match="lo.grid loops cannot be nested"):
        nested.on("numpy")(np.ones(2), np.zeros(2))


@lo.kernel
def accumulate_steps(x, out, steps):
    for t in range(steps):
        for i in lo.grid(x.shape[0]):
            out[i] += x[i] * t + x[0]             # x[i] needs the grid's i; x[0] does not


def test_loads_inside_a_stepped_grid_are_not_hoisted_out_of_the_step_loop():
    x = np.arange(4.0)
    outs = _run_all(accumulate_steps, x, np.zeros(4), 3)
    for b, (args, _) in outs.items():
        np.testing.assert_array_equal(args[1], [0.0, 3.0, 6.0, 9.0], err_msg=b)
