"""Fixed-size local arrays (``w = lo.zeros((K,), lo.fp32)`` inside a grid): each
iteration's own array, of a shape known when the kernel compiles; every backend
gives the python backend's result, out of range is caught like any other access,
and misuse is a clear error at the user's line."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from backend_helpers import same_everywhere
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import langone as lo
from langone.errors import KernelCompileError, KernelIndexError
from langone.kernels import backends

pytestmark = pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning")

EVERY = backends.usable()
BINS = 4


@lo.kernel
def row_histograms(x, out):
    n, m = x.shape
    for i in lo.grid(n):
        h = lo.zeros((BINS,), lo.int32)
        for j in range(m):
            h[int(x[i, j] * BINS) % BINS] += 1
        for q in range(BINS):
            out[i, q] = h[q] * 10 + h[-1 - q]           # negative indices count from the end


@lo.kernel
def small_matvec(a, v, out):
    for i in lo.grid(a.shape[0]):
        w = np.empty((2, 3), dtype=np.float32)           # written before it is read
        for r in range(2):
            for c in range(3):
                w[r, c] = a[i, r * 3 + c] * v[c]
        s = lo.full(2, -0.0, lo.fp64)
        for r in range(2):
            for c in range(w.shape[1]):
                s[r] += w[r, c]
        out[i] = s[0] - s[1] + s.shape[0]


@lo.kernel
def typed_locals(x, out, flags):
    for i in lo.grid(x.shape[0]):
        b = lo.zeros(3, "bool")
        k8 = lo.ones((2,), np.int8)
        same = lo.zeros(2, x.dtype)
        b[1] = x[i] > 0
        k8[0] = x[i] * 100                    # stores convert like astype (wraps)
        same[0] = x[i] * 0.5
        flags[i] = b[1] or b[0]
        out[i] = k8[0] + k8[1] + same[0]
    for i in lo.grid(x.shape[0]):             # the same name in another grid: another array
        b = lo.ones(1)
        out[i] += b[0]


def test_local_arrays_on_every_backend():
    x = np.random.default_rng(0).random((6, 9))
    args, _ = same_everywhere(row_histograms, x, np.zeros((6, BINS)))
    assert args[1][:, :].sum() > 0
    same_everywhere(small_matvec, np.arange(12.0).reshape(2, 6), np.arange(3.0), np.zeros(2))
    x = np.array([1.5, -2.0, 3.25, 0.0])
    args, _ = same_everywhere(typed_locals, x, np.zeros(4), np.zeros(4, bool))
    assert args[2].tolist() == [True, False, True, False]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 5), m=st.integers(0, 12), seed=st.integers(0, 2 ** 16))
def test_local_histograms_property(n, m, seed):
    x = np.random.default_rng(seed).random((n, m))
    args, _ = same_everywhere(row_histograms, x, np.zeros((n, BINS)))
    want = np.zeros((n, BINS))
    for i in range(n):
        h = np.bincount((x[i] * BINS).astype(int) % BINS, minlength=BINS)
        want[i] = h * 10 + h[::-1]
    np.testing.assert_array_equal(args[1], want)


@lo.kernel
def out_of_range(x, out):
    for i in lo.grid(x.shape[0]):
        w = lo.zeros(2)
        w[int(x[i])] = 1.0
        out[i] = w[0]


@pytest.mark.parametrize("backend", EVERY)
def test_out_of_range_is_an_index_error_naming_the_array(backend):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(KernelIndexError, match=r"index 5 is out of bounds for axis 0 of "
                                                   r"'w' with size 2"):
            out_of_range.on(backend)(np.array([0.0, 5.0]), np.zeros(2))
        out = np.zeros(2)
        out_of_range.on(backend)(np.array([1.0, -2.0]), out)      # -2: the first element
        assert out.tolist() == [0.0, 1.0]


def _error(fn) -> str:
    with pytest.raises(KernelCompileError) as info:
        lo.kernel(fn).on("numba")(np.zeros(2), np.zeros(2))
    return str(info.value)


def test_local_array_errors():
    def computed_shape(x, out):
        for i in lo.grid(x.shape[0]):
            w = lo.zeros(x.shape[0])
            out[i] = w[0]

    def half(x, out):
        for i in lo.grid(x.shape[0]):
            w = lo.zeros(2, lo.fp16)
            out[i] = w[0]

    def in_loop(x, out):
        for i in lo.grid(x.shape[0]):
            for k in range(2):
                w = lo.zeros(2)
                out[i] = w[0]

    def reassigned(x, out):
        for i in lo.grid(x.shape[0]):
            w = lo.zeros(2)
            w = lo.zeros(3)

    def atomic_into_local(x, out):
        for i in lo.grid(x.shape[0]):
            w = lo.zeros(2)
            lo.atomic_add(w, 0, 1.0)
            out[i] = w[0]

    assert "'w' is a local array: only its own iteration sees it" in _error(atomic_into_local)
    msg = _error(computed_shape)
    assert "the shape of a local array must be known when the kernel compiles" in msg
    assert "w = lo.zeros(x.shape[0])" in msg
    assert "a local array of fp16 is not supported" in _error(half)
    assert "inside a loop or an if in lo.grid" in _error(in_loop)
    assert "'w' already has a value; a local array needs a new name" in _error(reassigned)


@lo.kernel
def bins_only_updated(x, out):
    for i in lo.grid(x.shape[0]):
        h = lo.zeros(3, lo.int64)
        h[int(x[i]) % 3] += 1                 # each iteration's own array: no reduction
        out[i] = 1


def test_a_local_array_update_from_data_is_no_array_reduction():
    args, _ = same_everywhere(bins_only_updated, np.arange(4.0), np.zeros(4))
    assert args[1].tolist() == [1.0] * 4
