"""Array reductions: ``acc[j] += v`` that grid iterations share (column sums,
histograms, ``y += A.T @ t``) sum every term, in any order: exact for integers,
within rounding for floats, halves in fp32 until the grid ends -- on every
backend, as the python backend computes it."""

from __future__ import annotations

import numpy as np
import pytest
from backend_helpers import same_everywhere
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import langone as lo
from langone.errors import KernelCompileError

pytestmark = pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning")


def run_everywhere(kern, *args, rtol=0.0):
    return same_everywhere(kern, *args, rtol=rtol)[0]


@lo.kernel
def column_sums(x, acc):
    for i, j in lo.grid(x.shape[0], x.shape[1]):
        acc[j] += x[i, j]


@lo.kernel
def histogram(x, h):
    n = h.shape[0]
    for i in lo.grid(x.shape[0]):
        b = int(x[i] * n) % n                       # data decides the bin
        h[b] += 1


@lo.kernel
def atax_second_half(a, tmp, y):
    for i, j in lo.grid(a.shape[0], a.shape[1]):
        y[j] = y[j] + a[i, j] * tmp[i]              # y += A.T @ tmp


@lo.kernel
def debits(x, acc):
    for i, j in lo.grid(x.shape[0], x.shape[1]):
        acc[j] -= x[i, j]


def test_integer_array_reductions_are_exact_everywhere():
    x = np.random.default_rng(0).integers(-2**31, 2**31 - 1, (300, 4)).astype(np.int32)
    args = run_everywhere(column_sums, x, np.zeros(4, np.int32))
    want = x.astype(np.int64).sum(0).astype(np.int32)     # wraps alike modulo 2**32
    np.testing.assert_array_equal(args[1], want)
    args = run_everywhere(debits, x.astype(np.int64), np.zeros(4, np.int64))
    np.testing.assert_array_equal(args[1], -x.astype(np.int64).sum(0))
    r = np.random.default_rng(1).random(1000)
    args = run_everywhere(histogram, r, np.zeros(7, np.int32))
    np.testing.assert_array_equal(args[1], np.bincount((r * 7).astype(int) % 7, minlength=7))


def test_float_array_reductions_agree_within_rounding():
    rng = np.random.default_rng(2)
    a, t = rng.random((200, 9)).astype(np.float32), rng.random(200).astype(np.float32)
    args = run_everywhere(atax_second_half, a, t, np.zeros(9, np.float32), rtol=1e-5)
    np.testing.assert_allclose(args[2], a.T.astype(np.float64) @ t, rtol=1e-5)
    x16 = rng.random((500, 3)).astype(np.float16)          # summed in fp32, rounded once
    args = run_everywhere(column_sums, x16, np.zeros(3, np.float16), rtol=1e-3)
    np.testing.assert_allclose(args[1], x16.astype(np.float32).sum(0), rtol=1e-3)
    wide = rng.random((50, 2))                               # fp64 terms into fp32
    run_everywhere(column_sums, wide, np.zeros(2, np.float32), rtol=1e-6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 40), bins=st.integers(1, 9), seed=st.integers(0, 2**16))
def test_histograms_property(n, bins, seed):
    r = np.random.default_rng(seed).random(n)
    args = run_everywhere(histogram, r, np.zeros(bins, np.int64))
    np.testing.assert_array_equal(args[1], np.bincount((r * bins).astype(int) % bins,
                                                       minlength=bins))


def test_a_shared_element_also_read_otherwise_is_still_a_race():
    @lo.kernel
    def reads_too(x, acc, out):
        for i, j in lo.grid(x.shape[0], x.shape[1]):
            acc[j] += x[i, j]
            out[i, j] = acc[j]
    with pytest.raises(KernelCompileError, match="a race"):
        reads_too.on("numba")(np.ones((2, 2)), np.zeros(2), np.zeros((2, 2)))


# Found by the differential fuzzer (seeds 91022 and 91038): an index that mixes the grid
# variables, or an update under a guard that reads them, still sends several iterations
# to one element; SPMD backends (numpy, triton) lost all but one of their terms.

@lo.kernel
def mixed_index_sums(x, acc):
    for i, j in lo.grid(x.shape[0], x.shape[1]):
        for r in range(x.shape[1]):
            acc[(i * 7 + j) % acc.shape[0], r] = acc[(i * 7 + j) % acc.shape[0], r] + x[i, r]


@lo.kernel
def guarded_sums(x, acc):
    for i, j in lo.grid(x.shape[0], x.shape[1]):
        if x[i, j] > 0:
            acc[i] += x[i, j]


def test_updates_whose_index_mixes_grid_variables_are_array_reductions():
    x = np.arange(8, dtype=np.int64).reshape(4, 2) - 3
    args = run_everywhere(mixed_index_sums, x, np.zeros((4, 2), np.int64))
    want = np.zeros((4, 2), np.int64)
    for i in range(4):
        for j in range(2):
            want[(i * 7 + j) % 4] += x[i]
    np.testing.assert_array_equal(args[1], want)


def test_a_guard_does_not_make_an_update_the_iterations_own():
    x = np.array([[1.5, -2.0, 4.0], [0.25, 8.0, -1.0]])
    args = run_everywhere(guarded_sums, x, np.zeros(2))
    np.testing.assert_array_equal(args[1], np.where(x > 0, x, 0).sum(axis=1))
