"""Tensors a kernel makes (lo.empty, zeros, ... at its top level) and kernels that
return several values: every backend gives the python backend's result, results
come back as Tensors on the arguments' device, and misuse is a clear error."""

from __future__ import annotations

import numpy as np
import pytest
from backend_helpers import same_everywhere as everywhere
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import langone as lo
from langone import events
from langone.errors import KernelCompileError, KernelRuntimeError
from langone.kernels import backends

pytestmark = pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning")

EVERY = backends.usable()


def as_tuple(r):
    return r if isinstance(r, tuple) else (r,)


def same_everywhere(kern, *args):
    """Every backend equals the python backend (backend_helpers), results as Tensors."""
    _, ref = everywhere(kern, *args)
    for r in as_tuple(ref):
        assert isinstance(r, lo.Tensor)
    return ref


# --- made tensors ----------------------------------------------------------------------------

@lo.kernel
def doubled(x):
    out = lo.empty_like(x)
    for i in lo.grid(x.shape[0]):
        out[i] = 2 * x[i]
    return out


@lo.kernel
def spellings(x, k):
    n, m = x.shape
    a = lo.zeros((n, m), x.dtype)
    b = np.ones((m,), dtype=np.float32)
    c = lo.full(n, k)                   # the fill value's dtype: int64 for an int
    d = np.full_like(x, 2.5, "float32")
    e = lo.empty(x.shape, dtype=float)
    f = lo.ones_like(b, lo.int8)
    g = np.zeros(len(x) * 2 + 1 + min(n, m) // 2, np.int32)
    for i, j in lo.grid(n, m):
        a[i, j] += x[i, j] * b[j] + d[i, j]
        e[i, j] = x[i, j]
    for i in lo.grid(n):
        c[i] += i
    for j in lo.grid(g.shape[0]):
        g[j] = j % 3
    return a, c, e, f, g


@lo.kernel
def scratch_then_reduce(x):
    """A temporary the kernel fills and reads back: nothing of it is returned."""
    t = lo.empty_like(x, lo.fp32)
    for i in lo.grid(x.shape[0]):
        t[i] = x[i] * x[i]
    s = 0.0
    for i in lo.grid(x.shape[0]):
        s += t[i]
    return s


def test_made_tensors_on_every_backend():
    x = np.arange(12.0).reshape(3, 4)
    assert same_everywhere(doubled, np.arange(3.0)).tolist() == [0.0, 2.0, 4.0]
    a, c, e, f, g = same_everywhere(spellings, x, 7)
    assert c.dtype == lo.int64 and c.tolist() == [7, 8, 9]
    assert f.dtype == lo.int8 and f.tolist() == [1, 1, 1, 1]
    assert g.dtype == lo.int32 and g.shape == (8,)
    np.testing.assert_array_equal(np.asarray(e), x)
    assert float(same_everywhere(scratch_then_reduce, np.arange(4.0))) == 14.0


def test_made_tensor_is_fresh_per_launch_and_on_the_device():
    out1 = doubled(np.arange(3.0))
    out2 = doubled(np.arange(3.0))
    assert isinstance(out1, lo.Tensor) and out1.device == lo.tensor([0.0]).device
    assert np.shares_memory(np.asarray(out1), np.asarray(out2)) is False
    t = doubled(lo.tensor(np.arange(4, dtype=np.float32)))
    assert t.dtype == lo.fp32 and t.tolist() == [0.0, 2.0, 4.0, 6.0]


def test_made_tensors_come_from_the_pool():
    seen = []
    unsubscribe = events.subscribe("alloc", lambda e: seen.append(e.nbytes))
    try:
        doubled.on("numba")(np.arange(1000.0))
    finally:
        unsubscribe()
    assert any(n >= 8000 for n in seen)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 5), m=st.integers(1, 4), k=st.integers(0, 3),
       seed=st.integers(0, 2 ** 16))
def test_made_shapes_follow_the_arguments(n, m, k, seed):
    x = np.random.default_rng(seed).normal(size=(n, m))
    same_everywhere(spellings, x, k)
    same_everywhere(tiled, x, k)


@lo.kernel
def tiled(x, reps):
    n, m = x.shape
    rows = n * reps
    out = lo.empty((rows, m + 1), x.dtype)
    for i, j in lo.grid(rows, m + 1):
        out[i, j] = x[i % n, j] if j < m else i
    return out


# --- several results -------------------------------------------------------------------------

@lo.kernel
def stats(x):
    s = 0.0
    mx = -lo.inf
    c = 0
    for i in lo.grid(x.shape[0]):
        s += x[i]
        mx = max(mx, x[i])
        c += 1
    return s, mx, c, s < mx


@lo.kernel
def out_and_sum(x, out):
    s = 0
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] + 1
        s += x[i]
    return out, s


@lo.kernel
def shape_pair(x):
    return x.shape[0], x.ndim


def test_several_results_on_every_backend():
    s, mx, c, below = same_everywhere(stats, np.array([1.5, -2.0, 3.0], np.float32))
    assert (float(s), float(mx), int(c), bool(below)) == (2.5, 3.0, 3, True)
    assert s.dtype == lo.fp32 and c.dtype == lo.int64 and below.dtype == lo.bool_
    out, s = same_everywhere(out_and_sum, np.arange(4, dtype=np.int16),
                             np.zeros(4, np.int16))
    assert out.tolist() == [1, 2, 3, 4] and int(s) == 6
    assert tuple(map(int, same_everywhere(shape_pair, np.zeros((2, 3))))) == (2, 2)


def test_a_returned_argument_is_that_tensor():
    x, out = lo.tensor(np.arange(3.0)), lo.zeros(3)
    got, _ = out_and_sum(x, out)
    assert np.shares_memory(np.asarray(got), np.asarray(out))


def test_check_mode_compares_every_result():
    checked = lo.kernel(spellings.py_func, check=True)
    a, c, e, f, g = checked(np.ones((2, 3)), 4)
    assert c.tolist() == [4, 5] and g.shape == (6,)
    s, mx, c, below = lo.kernel(stats.py_func, check=True)(np.array([1.0, 2.0]))
    assert float(s) == 3.0 and int(c) == 2


# --- errors ----------------------------------------------------------------------------------

def _error(kern, *args) -> str:
    with pytest.raises(KernelCompileError) as info:
        kern.on("numba")(*args)
    return str(info.value)


def test_allocation_placement_errors():
    @lo.kernel
    def in_loop(x):
        for t in range(2):
            w = lo.zeros(3)

    @lo.kernel
    def reassigned(x):
        w = lo.zeros(3)
        w = lo.ones(3)

    @lo.kernel
    def as_value(x):
        return lo.zeros(3)

    assert "inside a loop or an if" in _error(in_loop, np.zeros(2))
    assert "'w' already has a value" in _error(reassigned, np.zeros(2))
    assert "makes a tensor: assign it to a name" in _error(as_value, np.zeros(2))


def test_shape_and_fill_errors():
    @lo.kernel
    def float_shape(x, f):
        out = lo.empty((x.shape[0] / 2,))

    @lo.kernel
    def fill_from_data(x):
        out = lo.full(3, x[0])

    @lo.kernel
    def on_device(x):
        out = lo.empty(3, device="cpu")

    @lo.kernel
    def bad_dtype(x):
        out = lo.empty(3, "float128")

    msg = _error(float_shape, np.zeros(2), 1.0)
    assert "must come from the arguments" in msg and "float_shape" in msg
    assert "must be a constant or a scalar argument" in _error(fill_from_data, np.zeros(2))
    assert "does not take device=" in _error(on_device, np.zeros(2))
    assert "'float128' is not a LangOne dtype" in _error(bad_dtype, np.zeros(2))


def test_tuple_return_of_an_elementwise_kernel_is_an_error():
    @lo.kernel
    def pair(x, y):
        return x + y, x - y
    assert "returns one expression" in _error(pair, np.zeros(2), np.zeros(2))


@pytest.mark.parametrize("backend", ["python", "numba", "numpy"])
def test_negative_shape_is_a_runtime_error(backend):
    with pytest.raises(KernelRuntimeError, match="negative dimensions"):
        tiled.on(backend)(np.zeros((2, 2)), -1)
