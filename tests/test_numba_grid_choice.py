"""The numba backend's per-grid choice between a ``prange`` and serial loops
(backends/numba_lower.py: ``grid``, ``grid_work``), and its allocations hoisted out
of loops (``hoist_allocs``). The decision is pinned on the generated code and on the
work expression evaluated for given sizes, never on timings."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

pytest.importorskip("numba")

import langone as lo  # noqa: E402
from langone import bench  # noqa: E402
from langone.kernels import ir  # noqa: E402
from langone.kernels.backends import numba_cpu, numba_lower, numba_render  # noqa: E402
from langone.kernels.passes import resources  # noqa: E402


@lo.kernel
def relax_steps(x, y, steps):
    n = x.shape[0]
    for t in range(steps):
        for i in lo.grid(n):                 # cheap: one multiply per iteration
            x[i] = x[i] * 0.5
        for i in lo.grid(n):                 # n loads per iteration
            s = 0.0
            for j in range(n):
                s += x[j]
            y[i] = s + t


@lo.kernel
def triangle(x, out):
    for i in lo.grid(x.shape[0]):
        s = 0.0
        for j in range(i + 1, x.shape[0]):
            s += x[j] * x[j]
        out[i] = s


@lo.kernel
def local_window(x, out, steps):
    n = x.shape[0]
    for t in range(steps):
        for i in lo.grid(n):
            w = lo.zeros(3, lo.fp32)
            for d in range(3):
                w[d] = x[(i + d) % n]
            out[i] = w[0] + w[1] + w[2] + t


def _lowered(kern, *args):
    final = kern.stages(*args).final
    return final, numba_lower.lower_module(final, kern.options)


def _choices(lowered: numba_lower.LoweredModule) -> list[ir.If]:
    """The parallel function's run-time choices, one per grid, in order."""
    return [s for s in ir.walk(lowered.parallel) if isinstance(s, ir.If) and
            any(isinstance(n, ir.Name) and n.id == numba_lower.PWORK for n in ir.walk(s.cond))]


def _goes_parallel(choice: ir.If, lowered, env: dict) -> bool:
    """The choice's condition evaluated as the generated code would, with ``env``."""
    text = numba_render.Renderer(lowered.parallel, True).ex(choice.cond)
    env = {numba_lower.PWORK: numba_cpu.PARALLEL_WORK_NS, **env}
    return bool(eval(text, {"np": np, "_m": None}, env))


def test_each_grid_in_a_step_loop_chooses_by_its_own_work():
    x, y = np.ones(8, np.float32), np.ones(8, np.float32)
    _, low = _lowered(relax_steps, x, y, 2)
    cheap, rows = _choices(low)
    for c in (cheap, rows):                  # a prange when worth it, else serial loops
        assert any(isinstance(n, ir.Grid) for n in ir.walk_stmts(c.body))
        assert not any(isinstance(n, ir.Grid) for n in ir.walk_stmts(c.orelse))
    for n, want_cheap, want_rows in ((50, False, False), (5000, False, True)):
        big = np.ones(n, np.float32)
        env = {"n": n, "_k_n0": n, "x": big, "y": big}
        assert _goes_parallel(cheap, low, env) is want_cheap, n
        assert _goes_parallel(rows, low, env) is want_rows, n


def test_floyd_warshall_step_grid_runs_serially_at_preset_S_and_in_parallel_at_paper():
    path = np.ones((4, 4), np.int32)
    _, low = _lowered(bench.floyd_warshall, path)
    (choice,) = _choices(low)
    small, large = 200, 2800
    assert not _goes_parallel(choice, low, {"n": small, "_k_n0": small,
                                            "path": np.empty((small, small), np.int32)})
    assert _goes_parallel(choice, low, {"n": large, "_k_n0": large,
                                        "path": np.empty((large, large), np.int32)})


def test_trip_counts_known_before_the_grid_count_at_run_time():
    x = np.ones(8, np.float32)
    final = triangle.stages(x, x).final
    (g,) = [s for s in ir.walk(final) if isinstance(s, ir.Grid)]
    w = resources.iteration_work(g, {p.name: p.type.dtype for p in final.params if p.is_tensor})
    (trip, inner), = w.loops
    assert trip is not None                  # range(i + 1, n): half of n, a triangle
    text = numba_render.Renderer(final, False).ex(trip)
    assert eval(text, {}, {"x": np.ones(1000)}) == 500
    assert inner.bytes == 8 and inner.flops >= 2       # x[j] twice; a multiply, an add


def test_unknown_trip_counts_take_the_default():
    @lo.kernel
    def ragged(x, lens, out):
        for i in lo.grid(x.shape[0]):
            s = 0.0
            for j in range(lens[i]):         # read from memory inside the grid
                s += x[j]
            out[i] = s
    x, lens = np.ones(8, np.float32), np.ones(8, np.int64)
    final = ragged.stages(x, lens, x).final
    (g,) = [s for s in ir.walk(final) if isinstance(s, ir.Grid)]
    (trip, _), = resources.iteration_work(g, {}).loops
    assert trip is None
    work = numba_lower.work_ns(resources.iteration_work(g, {}))
    assert isinstance(work, ir.Const) and work.value > resources.UNKNOWN_TRIP * 0.05


def test_every_grid_counts_for_the_estimate_also_inside_a_step_loop():
    x = np.ones(8, np.float32)
    est = resources.estimate(relax_steps.stages(x, x, 2).final)
    assert len(est.grids) == 2 and all(g.in_loop for g in est.grids)
    assert numba_cpu.parallel_threshold(relax_steps.stages(x, x, 2).final) >= 1024


def test_scratch_rows_grow_once_instead_of_one_allocation_per_iteration():
    m, pos, vel, nt = bench.npbench().nbody_initialize(5, 0.1, 0.05)
    src = bench.nbody.source("numba", m, pos, vel, nt, 0.05, 1.0, 0.1)
    serial = src[src.index("def nbody_serial"):src.index("def nbody_parallel")]
    head = serial.split("\n")[1]
    assert head.strip().startswith("_k_terms") and "np.empty((0,)" in head
    assert "np.empty((_k_trip" in serial                      # grows where it was made
    lines = serial.splitlines()
    for i, line in enumerate(lines):
        if "np.empty((_k_trip" in line:
            assert ".shape[0] < _k_trip" in lines[i - 1], line
    parallel = src[src.index("def nbody_parallel"):]
    prange_part = parallel[parallel.index("prange"):]
    assert "np.empty((_k_trip" in prange_part                # each iteration its own


def test_local_arrays_are_made_once_per_call_outside_prange():
    x, out = np.ones(8, np.float32), np.ones(8, np.float32)
    src = local_window.source("numba", x, out, 2)
    serial = src[src.index("def local_window_serial"):src.index("def local_window_parallel")]
    assert serial.splitlines()[1].strip().startswith("w = np.empty((3,), np.float32)")
    assert serial.count("np.empty(") == 1
    parallel = src[src.index("def local_window_parallel"):]
    body = parallel.splitlines()
    assert body[1].strip().startswith("_ks")        # the serial copy's, at the top
    assert "w = np.empty((3,), np.float32)" in parallel[parallel.index("prange"):]


CASES = [
    (relax_steps, lambda r: (r.standard_normal(37).astype(np.float32),
                             np.zeros(37, np.float32), 3)),
    (triangle, lambda r: (r.standard_normal(41).astype(np.float32), np.zeros(41, np.float32))),
    (local_window, lambda r: (r.standard_normal(29).astype(np.float32),
                              np.zeros(29, np.float32), 2)),
    (bench.floyd_warshall, lambda r: (bench.npbench().floyd_warshall_initialize(23),)),
    (bench.nbody, lambda r: (*bench.npbench().nbody_initialize(9, 0.2, 0.05)[:3], 4,
                             0.05, 1.0, 0.1)),
]


def _corpus_cases():
    import kernel_corpus
    return [(c.kernel, c.make, c.rtol, c.atol) for c in kernel_corpus.CASES]


@pytest.mark.parametrize("grid_work", [0.0, math.inf], ids=["prange", "serial_branch"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_both_branches_of_the_parallel_function_equal_the_python_backend(
        case, grid_work, monkeypatch):
    kern, make = CASES[case]
    _same_as_python(kern, make, grid_work, monkeypatch)


@pytest.mark.parametrize("case", _corpus_cases(), ids=lambda c: c[0].__name__)
def test_corpus_serial_branches_of_the_parallel_function(case, monkeypatch):
    kern, make, rtol, atol = case
    _same_as_python(kern, make, math.inf, monkeypatch, rtol, atol)


def _same_as_python(kern, make, grid_work, monkeypatch, rtol=1e-5, atol=1e-6):
    monkeypatch.setattr(numba_cpu, "PARALLEL_THRESHOLD", 0)     # the parallel function
    monkeypatch.setattr(numba_cpu, "GRID_WORK_NS", grid_work)
    fresh = lo.kernel(kern.py_func, **kern.options)          # a launcher made now
    args = make(np.random.default_rng(0))
    want_args, got_args = copy.deepcopy(args), copy.deepcopy(args)
    want = kern.on("python")(*want_args)
    got = fresh.on("numba")(*got_args)
    for w, g in zip(want_args, got_args):
        if isinstance(w, np.ndarray):
            np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(w, np.float64),
                                       rtol=rtol, atol=atol)
    want = want if isinstance(want, tuple) else (want,)
    got = got if isinstance(got, tuple) else (got,)
    for w, g in zip(want, got):
        w = w.numpy() if hasattr(w, "numpy") else w
        g = g.numpy() if hasattr(g, "numpy") else g
        np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(w, np.float64),
                                   rtol=rtol, atol=atol)
