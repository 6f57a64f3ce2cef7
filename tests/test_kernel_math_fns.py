"""log1p expm1 atan2 hypot pow fmod copysign, in their lo., np. and math. spellings, on
every backend against the python backend (the kernel's own function under numpy).

copysign and fmod are exact: equal bit for bit, zero signs included (NaN payloads aside).
log1p expm1 atan2 hypot are math-library functions: within a few ulps of the stored type
(fp16 computes in fp32 and rounds at the store, exception 3), and exactly where the result
is NaN, infinite or zero. ``pow`` of floats (``**``) is within the fuzzer's tolerance.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kernel_factory import PRELUDE, load_function

import langone as lo
from langone.errors import KernelCompileError, KernelRuntimeError
from langone.kernels import backends

pytestmark = pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning")

EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -0.75, 2.0, -3.0, 1e-7, -1e-6, 1e-30, 3e-39, 5e-324,
         1e30, -1e300, 7.0, 88.0, 700.0, -745.0, np.inf, -np.inf, np.nan]
SPELLED = ["log1p", "expm1", "atan2", "hypot", "copysign", "fmod", "pow"]
EXACT = {"copysign", "fmod"}
ULPS = 4


@lo.kernel
def lo_fns(x, y, out):
    for i in lo.grid(x.shape[0]):
        out[i, 0] = lo.log1p(x[i])
        out[i, 1] = lo.expm1(x[i])
        out[i, 2] = lo.atan2(x[i], y[i])
        out[i, 3] = lo.hypot(x[i], y[i])
        out[i, 4] = lo.copysign(x[i], y[i])
        out[i, 5] = lo.fmod(x[i], y[i])
        out[i, 6] = lo.pow(x[i], y[i])


@lo.kernel
def np_fns(x, y, out):
    for i in lo.grid(x.shape[0]):
        out[i, 0] = np.log1p(x[i])
        out[i, 1] = np.expm1(x[i])
        out[i, 2] = np.arctan2(x[i], y[i])
        out[i, 3] = np.hypot(x[i], y[i])
        out[i, 4] = np.copysign(x[i], y[i])
        out[i, 5] = np.fmod(x[i], y[i])
        out[i, 6] = np.power(x[i], y[i])


@lo.kernel
def math_fns(x, y, out):
    for i in lo.grid(x.shape[0]):
        # Python raises ValueError/OverflowError outside these domains (the python
        # backend as Python does); the guards keep every backend inside them.
        out[i, 0] = math.log1p(x[i]) if x[i] > -1 else -7.0
        out[i, 1] = math.expm1(x[i]) if x[i] < 700 else -7.0
        out[i, 2] = math.atan2(x[i], y[i])
        out[i, 3] = math.hypot(x[i], y[i])
        out[i, 4] = math.copysign(x[i], y[i])
        out[i, 5] = math.fmod(x[i], y[i]) if y[i] != 0 and not math.isinf(x[i]) else -7.0
        out[i, 6] = math.pow(lo.clip(abs(x[i]), 0.5, 1e30), lo.clip(y[i], -8.0, 8.0))


def run_all(kern, *args):
    """``kern`` on every usable backend (fresh copies); backend -> its arguments."""
    outs = {}
    for b in backends.usable():
        got = [a.copy() for a in args]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            kern.on(b)(*got)
        outs[b] = got
    return outs


def assert_close_ulps(got, want, ulps, err_msg=""):
    """Equal where ``want`` is NaN, infinite or zero (zero signs too), else within
    ``ulps`` units in the last place of ``want``'s dtype."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, err_msg
    special = ~np.isfinite(want) | (want == 0)
    np.testing.assert_array_equal(got[special], want[special], err_msg=err_msg)
    np.testing.assert_array_equal(np.signbit(got[special & ~np.isnan(want)]),
                                  np.signbit(want[special & ~np.isnan(want)]), err_msg=err_msg)
    w = want[~special].astype(np.float64)
    g = got[~special].astype(np.float64)
    with np.errstate(over="ignore"):                  # spacing of the largest finite
        spacing = np.abs(np.spacing(want[~special])).astype(np.float64)
    bad = ~(np.abs(g - w) <= ulps * spacing)
    assert not bad.any(), f"{err_msg}: got {g[bad][:4]} want {w[bad][:4]}"


def assert_pow_close(got, want, dtype, err_msg=""):
    rtol = {np.float16: 1e-2, np.float32: 1e-5, np.float64: 1e-9}[dtype]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=err_msg)
    fin = np.isfinite(want) & np.isfinite(got)
    np.testing.assert_array_equal(got[~fin & ~np.isnan(want)], want[~fin & ~np.isnan(want)],
                                  err_msg=err_msg)
    g, w = got[fin].astype(np.float64), want[fin].astype(np.float64)
    assert (np.abs(g - w) <= rtol * (1 + np.abs(w))).all(), err_msg


def check_columns(outs, dtype):
    want = outs["python"][-1]
    for b, got in outs.items():
        for col, fn in enumerate(SPELLED):
            msg = f"{fn} on {b} ({np.dtype(dtype).name})"
            if fn in EXACT:
                # a NaN's sign is copysign's business only (an invalid fmod's is not defined)
                signed = slice(None) if fn == "copysign" else ~np.isnan(want[:, col])
                np.testing.assert_array_equal(got[-1][:, col], want[:, col], err_msg=msg)
                np.testing.assert_array_equal(np.signbit(got[-1][signed, col]),
                                              np.signbit(want[signed, col]), err_msg=msg)
            elif fn == "pow":
                assert_pow_close(got[-1][:, col], want[:, col], dtype, msg)
            else:
                assert_close_ulps(got[-1][:, col], want[:, col], ULPS, msg)


def floats(dtype):
    width = {np.float16: 16, np.float32: 32, np.float64: 64}[dtype]
    return st.lists(st.floats(allow_nan=True, allow_infinity=True, width=width),
                    min_size=2, max_size=10)


def pair(dtype, values):
    with np.errstate(over="ignore"):
        x = np.array(EDGES + values, dtype)
    y = np.roll(x, 3)
    y[:4] = np.array([-0.0, 0.0, -np.nan, np.inf], dtype)
    return x, y


@pytest.mark.parametrize("kern", [lo_fns, np_fns], ids=["lo", "np"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@given(data=st.data())
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_float_functions_match_the_python_backend_on_every_backend(kern, dtype, data):
    x, y = pair(dtype, data.draw(floats(dtype)))
    outs = run_all(kern, x, y, np.zeros((x.shape[0], 7), dtype))
    check_columns(outs, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_python_backend_is_numpy(dtype):
    """The reference itself: numpy's functions, in the arguments' type."""
    x, y = pair(dtype, [])
    out = np.zeros((x.shape[0], 7), dtype)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        lo_fns.on("python")(x, y, out)
        want = [np.log1p(x), np.expm1(x), np.arctan2(x, y), np.hypot(x, y),
                np.copysign(x, y), np.fmod(x, y), np.power(x, y)]
    for col, w in enumerate(want):
        np.testing.assert_array_equal(out[:, col], w, err_msg=SPELLED[col])
    assert out[0, 4] == 0 and np.signbit(out[0, 4])          # copysign(0.0, -0.0) is -0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data())
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_math_spellings_compute_in_double_on_every_backend(dtype, data):
    x, y = pair(dtype, data.draw(floats(dtype)))
    outs = run_all(math_fns, x, y, np.zeros((x.shape[0], 7), dtype))
    check_columns(outs, dtype)


def test_special_values():
    """The IEEE corner cases the docs promise, on every backend."""
    x = np.array([np.inf, np.nan, -0.0, -0.0, 0.0, -0.0, 5.0, -5.0, -0.0, 1e-300])
    y = np.array([np.nan, -np.inf, -0.0, 0.0, -0.0, 3.0, 0.0, np.inf, -1.0, 1e-300])
    outs = run_all(lo_fns, x, y, np.zeros((x.shape[0], 7)))
    check_columns(outs, np.float64)
    ref = outs["python"][-1]
    assert ref[0, 3] == np.inf and ref[1, 3] == np.inf                  # hypot(inf, nan)
    assert ref[2, 2] == -np.pi and ref[3, 2] == 0 and np.signbit(ref[3, 2])   # atan2 zeros
    assert ref[4, 2] == np.pi
    assert np.isnan(ref[6, 5]) and ref[7, 5] == -5.0                    # fmod(x, 0), (x, inf)
    assert np.signbit(ref[5, 5]) and ref[5, 5] == 0                     # fmod(-0.0, 3)
    assert np.signbit(ref[8, 4]) and np.signbit(ref[1, 4])              # copysign to -0/-NaN
    assert ref[9, 0] == 1e-300 and ref[9, 1] == 1e-300                  # log1p/expm1 tiny


@lo.kernel
def int_fns(a, b, out, fout):
    for i in lo.grid(a.shape[0]):
        out[i, 0] = np.fmod(a[i], b[i])
        out[i, 1] = lo.fmod(a[i], 3) + math.fmod(7, 2)
        out[i, 2] = lo.pow(a[i], abs(b[i]) % 5)
        out[i, 3] = np.power(b[i], 2)
        fout[i, 0] = lo.atan2(a[i], b[i])
        fout[i, 1] = lo.hypot(a[i], b[i])     # np.hypot of int8: see the note below
        fout[i, 2] = lo.copysign(a[i], b[i])


# Note: on the python backend np.hypot(int8, int8) is numpy's own, rounded to fp16 where
# it returns; lo.hypot computes in fp32 and rounds at the store (exception 3), as every
# compiled backend does for either spelling. The np.* spellings of exp, log, ... are so too.
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8])
@given(st.lists(st.integers(-2**31, 2**31 - 1), min_size=1, max_size=8))
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_integer_fmod_and_pow_keep_numpys_integer_types(dtype, values):
    info = np.iinfo(dtype)
    edges = [info.min, info.max, -7, 7, 0, -1, 3, -3, 1, -8]
    a = np.array(edges + values, np.int64).astype(dtype)
    b = np.roll(a, 4)
    n = a.shape[0]
    outs = run_all(int_fns, a, b, np.zeros((n, 4), dtype), np.zeros((n, 3), np.float32))
    ref = outs["python"]
    for bk, got in outs.items():
        np.testing.assert_array_equal(got[2], ref[2], err_msg=bk)
        assert_close_ulps(got[3], ref[3], 2, bk)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(ref[2][:, 0], np.fmod(a, b))         # C's sign
    assert (ref[2][b == 0, 0] == 0).all()                                  # numpy: fmod by 0
    assert ref[2][:, 1].tolist() == (np.fmod(a, dtype(3)) + 1).astype(dtype).tolist()


@pytest.mark.parametrize("spelling, args, want", [
    ("lo.atan2(x[i], 2.0)", (np.float32,), np.float32),
    ("lo.atan2(x[i], y[i])", (np.int8, np.int8), np.float16),
    ("lo.hypot(x[i], y[i])", (np.int32, np.int32), np.float64),
    ("np.copysign(x[i], 2)", (np.int16,), np.float32),
    ("lo.fmod(x[i], 3)", (np.int8,), np.int8),
    ("np.fmod(x[i], y[i])", (np.bool_, np.bool_), np.int8),
    ("lo.pow(x[i], 2)", (np.int8,), np.int8),
    ("x[i] + np.power(2, 3)", (np.int8,), np.int64),
    ("x[i] + lo.pow(2.0, 3.0)", (np.float32,), np.float64),
    ("x[i] + math.pow(2, 3)", (np.float32,), np.float32),
    ("x[i] + math.atan2(1, 2)", (np.float16,), np.float16),
    ("x[i] + math.fmod(7, 2)", (np.int8,), np.float64),
    ("lo.log1p(x[i])", (np.int8,), np.float16),
    ("np.expm1(x[i])", (np.int64,), np.float64),
])
def test_result_types_follow_numpy(spelling, args, want):
    """A returned scalar has numpy's type: two-argument functions promote first (Python
    numbers weak), math.* gives a weak Python float."""
    names = ", ".join("xy"[: len(args)])
    src = (f"import math\n\n\ndef typed({names}):\n    s = {spelling.replace('[i]', '[0]')}\n"
           f"    for i in lo.grid(1):\n        s += 0\n    return s\n")
    kern = lo.kernel(load_function(src, "typed"))
    vals = [np.ones(1, a) for a in args]
    for b in backends.usable():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            r = kern.on(b)(*vals)
        want_t = np.float32 if want is np.float16 else want     # accumulators: exception 4
        want_t = np.int64 if np.dtype(want).kind in "iu" else want_t
        assert np.asarray(r).dtype == want_t, (b, spelling, np.asarray(r).dtype)


def test_integer_pow_with_a_negative_exponent_raises_on_every_backend():
    @lo.kernel
    def neg(a, e, out):
        for i in lo.grid(a.shape[0]):
            out[i] = lo.pow(a[i], e[i])
    for b in backends.usable():
        with pytest.raises(KernelRuntimeError, match="negative integer powers"):
            neg.on(b)(np.ones(3, np.int32), np.array([1, -1, 2], np.int32),
                      np.zeros(3, np.int32))


@pytest.mark.parametrize("call, message", [
    ("lo.atan2(x[i])", "lo.atan2() takes exactly two arguments, got 1"),
    ("lo.log1p(x[i], x[i])", "lo.log1p() takes exactly one argument, got 2"),
    ("np.hypot(x[i], x[i], x[i])", "np.hypot() takes exactly two arguments, got 3"),
    ("math.hypot(x[i], x[i], x[i])", "math.hypot() takes exactly two arguments, got 3"),
    ("math.pow(x[i])", "math.pow() takes exactly two arguments, got 1"),
    ("lo.pow(x[i], -2)", "integers to negative integer powers are not allowed"),
    ("math.atan(x[i])", "'math.atan' cannot be called in a kernel"),
])
def test_misuse_is_a_compile_error_at_the_users_line(call, message):
    src = (f"import math\n\n\ndef bad(x, out):\n    for i in lo.grid(x.shape[0]):\n"
           f"        out[i] = {call}\n")
    kern = lo.kernel(load_function(src, "bad"))
    for b in ("python", "numpy"):
        with pytest.raises(KernelCompileError, match=message.replace("(", r"\(")
                           .replace(")", r"\)")) as info:
            kern.on(b)(np.ones(2, np.int64), np.zeros(2))
        assert f".py:{PRELUDE.count(chr(10)) + 6}:" in str(info.value)   # the user's line
        assert f"out[i] = {call}" in str(info.value)


@lo.kernel
def builtins_kernel(x, out):
    n, m = x.shape
    for i in lo.grid(x.shape[0]):
        out[i, 0] = min(x[i, 0], x[i, 1], x[i, 2])
        out[i, 1] = max(x[i, 0], x[i, 1], x[i, 2], -1)
        out[i, 2] = abs(x[i, 2])
        out[i, 3] = n + m * 10 + x.shape[-1] * 100 + x.ndim * 1000 + len(x) * 10**4 + \
            x.size * 10**5


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.int8])
def test_builtins_min_max_abs_and_shape_on_every_backend(dtype):
    x = np.array([[1, 5, -2], [4, 3, -9]], dtype)
    if x.dtype.kind == "f":
        x = np.array([[1.0, np.nan, -2.0], [np.nan, 3.0, -0.0]], dtype)
    outs = run_all(builtins_kernel, x, np.zeros((2, 4), np.float64))
    ref = outs["python"][1]
    for b, got in outs.items():
        np.testing.assert_array_equal(got[1], ref, err_msg=b)
    assert ref[:, 3].tolist() == [622332.0, 622332.0]
    if x.dtype.kind == "i":
        assert ref[:, 0].tolist() == [-2, -9] and ref[:, 1].tolist() == [5, 4]
        assert ref[:, 2].tolist() == [2, 9]
    else:       # Python's min/max: NaN wins only in first place; abs(-0.0) is 0.0
        assert ref[:, 1].tolist()[0] == 1.0 and np.isnan(ref[1, 0])
        assert ref[1, 2] == 0 and not np.signbit(ref[1, 2])
