"""round, np.round, sign, clip, isfinite: exact compositions, numpy's results bit for bit
(zero signs included) on every backend."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import langone as lo
from langone.errors import KernelCompileError
from langone.kernels import backends

pytestmark = pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning")


@lo.kernel
def float_math(x, out, flags):
    for i in lo.grid(x.shape[0]):
        out[i, 0] = np.round(x[i])
        out[i, 1] = lo.round(x[i]) * 3
        out[i, 2] = lo.clip(x[i], -1.5, 2.0)
        out[i, 3] = np.sign(x[i])
        out[i, 4] = round(x[i]) if np.isfinite(x[i]) and abs(x[i]) < 1e15 else 7
        flags[i, 0] = np.isfinite(x[i])
        flags[i, 1] = math.isfinite(x[i]) + math.isfinite(x[i])   # Python bools: 2


@lo.kernel
def int_math(x, out):
    for i in lo.grid(x.shape[0]):
        out[i, 0] = round(x[i]) * 3                # a Python int: wraps when stored
        out[i, 1] = np.sign(x[i]) * 100            # int8 arithmetic: wraps
        out[i, 2] = np.clip(x[i], -3, 4) * 50
        out[i, 3] = np.round(x[i]) * 2 + lo.isfinite(x[i])


EDGES = [0.5, 1.5, -2.5, -0.4, -0.5, 0.4, -0.0, 0.0, 2.5000002, 3.4999998, 8388609.0,
         -4.5, np.nan, np.inf, -np.inf, -1e30, 1e-40]


def _check(kern, args):
    outs = {}
    for b in backends.usable():
        got = [a.copy() for a in args]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            kern.on(b)(*got)
        outs[b] = got
    for b, got in outs.items():
        for have, want in zip(got[1:], outs["python"][1:]):
            np.testing.assert_array_equal(have, want, err_msg=b)
            np.testing.assert_array_equal(np.signbit(have), np.signbit(want), err_msg=b)
    return outs["python"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=8))
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_float_composites_match_numpy_on_every_backend(dtype, values):
    x = np.array(EDGES + values, dtype)
    n = x.shape[0]
    ref = _check(float_math, [x, np.zeros((n, 5), dtype), np.zeros((n, 2), np.int64)])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(ref[1][:, 0], np.rint(x))
        np.testing.assert_array_equal(np.signbit(ref[1][:, 0]), np.signbit(np.rint(x)))
        np.testing.assert_array_equal(ref[1][:, 2], np.clip(x, -1.5, 2.0))
        np.testing.assert_array_equal(ref[1][:, 3], np.sign(x))
    assert ref[2][:, 1].tolist() == [2 * bool(np.isfinite(v)) for v in x]


@given(st.lists(st.integers(-128, 127), min_size=1, max_size=8))
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_integer_composites_keep_numpys_integer_types(values):
    x = np.array([-128, 127, 0] + values, np.int8)
    ref = _check(int_math, [x, np.zeros((x.shape[0], 4), np.int8)])
    assert ref[1][:, 1].tolist() == (np.sign(x) * np.int8(100)).tolist()


def test_round_with_digits_is_a_clear_error():
    @lo.kernel
    def two(x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = round(x[i], 2)
    with pytest.raises(KernelCompileError, match="round\\(\\) takes 1 positional") as info:
        two.on("numpy")(np.ones(2), np.zeros(2))
    assert "round(x * 10) / 10" in str(info.value)
