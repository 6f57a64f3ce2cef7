"""complex64/complex128 in kernels: every backend against the python backend.

The python backend runs the function on numpy's complex scalars; every other
backend computes the parts apart (passes/lower_complex.py). ``*``, ``/``,
``conj``, parts and comparisons are exact; ``abs`` and ``lo.exp`` go through libm
(hypot, exp, cos, sin) and compare within a few ulps.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import langone as lo
from langone.errors import KernelCompileError
from backend_helpers import same_everywhere
from kernel_factory import load_function

CTYPES = [np.complex64, np.complex128]


def _c(rng, n, dt):
    return (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dt)


@lo.kernel
def arith(z, w, x, out):
    for i in lo.grid(z.shape[0]):
        out[i] = (z[i] * w[i] - x[i]) / (w[i] + 2j) + -z[i]


@lo.kernel
def divide(z, w, out):
    for i in lo.grid(z.shape[0]):
        out[i] = z[i] / w[i]


@lo.kernel
def parts(z, re, im, mag):
    for i in lo.grid(z.shape[0]):
        v = z[i].conjugate() * 1.5
        re[i] = v.real + lo.real(z[i])
        im[i] = v.imag - lo.imag(z[i])
        mag[i] = abs(v)


@lo.kernel
def exp_of(z, out):
    for i in lo.grid(z.shape[0]):
        out[i] = lo.exp(z[i]) + np.exp(lo.conj(z[i]))


@lo.kernel
def compare(z, w, out):
    for i in lo.grid(z.shape[0]):
        a, b = z[i], w[i]
        out[i] = (a == b) + 2 * (a != b) + 4 * (a < b) + 8 * (a <= b) + 16 * (a > b) \
            + 32 * (a >= b) + 64 * lo.isnan(a) + 128 * lo.isinf(b)


@lo.kernel
def cdot(z, w):
    acc = 0j
    for i in lo.grid(z.shape[0]):
        acc += z[i] * lo.conj(w[i])
    return acc


@lo.kernel
def horner(coef, z, out):
    """A sequential complex loop: polynomial values by Horner's rule."""
    for i in lo.grid(z.shape[0]):
        v = coef[0] * 0
        for k in range(coef.shape[0]):
            v = v * z[i] + coef[k]
        out[i] = v


@pytest.mark.parametrize("dt", CTYPES)
def test_arithmetic_matches_the_python_backend_exactly(dt):
    rng = np.random.default_rng(3)
    z, w = _c(rng, 33, dt), _c(rng, 33, dt)
    x = rng.standard_normal(33).astype(np.float32)
    same_everywhere(arith, z, w, x, np.zeros(33, dt))
    same_everywhere(horner, _c(rng, 5, dt), z, np.zeros(33, dt))


@pytest.mark.parametrize("dt", CTYPES)
def test_division_follows_numpy_including_zero_and_special_divisors(dt):
    special = [0, -0.0, 1e-30, 1e30, np.inf, -np.inf, np.nan, 2.0, -3.5]
    vals = np.array([complex(a, b) for a in special for b in special], dt)
    z = np.repeat(vals, len(vals))
    w = np.tile(vals, len(vals))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, _ = same_everywhere(divide, z, w, np.zeros(len(z), dt))
        expected = z / w
    got = np.zeros(len(z), dt)
    divide.on("numba")(z, w, got)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dt", CTYPES)
def test_parts_conjugate_abs_and_exp(dt):
    rng = np.random.default_rng(4)
    z = _c(rng, 40, dt)
    z[:4] = [0, complex(2.0, -0.0), complex(-1.5, 0.0), complex(0.0, 3.0)]
    rt = np.dtype(dt).type(0).real.dtype
    same_everywhere(parts, z, np.zeros(40, rt), np.zeros(40, rt), np.zeros(40, rt),
                    rtol=4 * np.finfo(rt).eps)
    _, _ = same_everywhere(exp_of, z, np.zeros(40, dt), rtol=8 * np.finfo(rt).eps)
    out = np.zeros(40, dt)
    exp_of.on("numba")(z, out)
    assert out[1] == np.exp(z[1]) + np.exp(np.conj(z[1]))        # exp(x + 0j) is exact


def test_comparisons_are_the_lexicographic_order_of_numpy_scalars():
    vals = np.array([complex(a, b) for a in (1.0, 2.0, np.nan) for b in (0.0, 1.0, np.nan)]
                    + [complex(np.inf, 1), complex(-0.0, 0.0)], np.complex128)
    z, w = np.repeat(vals, len(vals)), np.tile(vals, len(vals))
    ref_args, _ = same_everywhere(compare, z, w, np.zeros(len(z), np.int64))
    with warnings.catch_warnings():      # the scalars' operators (not np.less's NaN rule)
        warnings.simplefilter("ignore")
        want = [(a == b) + 2 * (a != b) + 4 * (a < b) + 8 * (a <= b) + 16 * (a > b)
                + 32 * (a >= b) + 64 * np.isnan(a) + 128 * np.isinf(b) for a, b in zip(z, w)]
    np.testing.assert_array_equal(ref_args[2], want)


@pytest.mark.parametrize("dt", CTYPES)
def test_grid_sum_returns_a_complex_scalar(dt):
    rng = np.random.default_rng(5)
    z, w = _c(rng, 300, dt), _c(rng, 300, dt)
    eps = np.finfo(np.dtype(dt).type(0).real.dtype).eps
    _, ref = same_everywhere(cdot, z, w, rtol=300 * eps)
    assert ref.dtype == lo.dtype(dt)
    np.testing.assert_allclose(complex(ref), np.vdot(w, z), rtol=300 * eps)


def test_elementwise_kernels_made_tensors_and_several_results():
    @lo.kernel
    def rotate(z, x):
        return z * x - 2.5j

    @lo.kernel
    def split_sum(z):
        out = lo.empty_like(z)
        s = 0j
        n = 0
        for i in lo.grid(z.shape[0]):
            out[i] = z[i] * 1j
            s += z[i]
            n += 1
        return out, s, n

    rng = np.random.default_rng(6)
    z = _c(rng, (5, 4), np.complex64).reshape(5, 4)
    x = rng.standard_normal(4).astype(np.float32)
    _, r = same_everywhere(rotate, z, x)
    np.testing.assert_array_equal(r.numpy(), z * x - 2.5j)
    zs = z[:, 1].copy()
    _, (out, s, n) = same_everywhere(split_sum, zs, rtol=1e-6)
    np.testing.assert_array_equal(out.numpy(), zs * 1j)
    assert out.dtype == lo.complex64 and int(n) == 5


def test_strided_complex_views_and_scalar_arguments():
    @lo.kernel
    def axpy(a, z, out):
        for i, j in lo.grid(z.shape[0], z.shape[1]):
            out[i, j] = a * z[i, j] + out[i, j]

    rng = np.random.default_rng(7)
    big = _c(rng, 60, np.complex128).reshape(6, 10)
    z = big[::2, 1::3]                         # not contiguous
    same_everywhere(axpy, 1.5 - 2j, z, np.ones((3, 3), np.complex128))
    same_everywhere(axpy, np.complex64(0.5j), z.astype(np.complex64),
                    np.ones((3, 3), np.complex64))


def test_casts_between_complex_and_real_follow_numpy_astype():
    @lo.kernel
    def casts(z, x, re, c, b, n):
        for i in lo.grid(z.shape[0]):
            re[i] = z[i]                       # the real part, as numpy's astype
            c[i] = lo.complex64(x[i]) + lo.complex128(z[i])
            b[i] = lo.bool_(z[i])
            n[i] = lo.int32(z[i])

    z = np.array([1.5 + 2j, -2.7 - 0j, 1j, 0, 3e9], np.complex128)
    x = np.array([1, 2, 3, 4, 5], np.float32)
    ref_args, _ = same_everywhere(casts, z, x, np.zeros(5, np.float32),
                                  np.zeros(5, np.complex128), np.zeros(5, bool),
                                  np.zeros(5, np.int32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(ref_args[2], z.astype(np.float32))
        np.testing.assert_array_equal(ref_args[4], z.astype(bool))
        np.testing.assert_array_equal(ref_args[5], z.astype(np.int32))


def test_local_complex_arrays_and_array_sums():
    @lo.kernel
    def hist(z, idx, acc):
        for i in lo.grid(z.shape[0]):
            w = lo.zeros((2,), lo.complex64)
            w[0] = z[i]
            w[1] = z[i] * z[i]
            acc[idx[i]] += w[0] + w[1]

    rng = np.random.default_rng(8)
    z = _c(rng, 50, np.complex64)
    idx = rng.integers(0, 3, 50)
    same_everywhere(hist, z, idx, np.zeros(3, np.complex64), rtol=1e-5)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.complex_numbers(allow_nan=True, allow_infinity=True, width=64),
                min_size=2, max_size=8),
       st.sampled_from(CTYPES))
def test_property_arithmetic_on_any_values(values, dt):
    z = np.array(values, dt)
    w = z[::-1].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same_everywhere(arith, z, w, np.ones(len(z), np.float32), np.zeros(len(z), dt))
        same_everywhere(divide, z, w, np.zeros(len(z), dt))


@pytest.mark.parametrize("body,message", [
    ("out[i] = z[i] // 2", "complex values support \\+ - \\* / in kernels, not floor division"),
    ("out[i] = z[i] ** 2", "not powers"),
    ("out[i] = lo.sqrt(z[i])", "sqrt\\(\\) of a complex value is not supported"),
    ("out[i] = lo.maximum(z[i], z[i])", "maximum\\(\\) of a complex value"),
    ("lo.atomic_add(out, i, z[i])", "lo.atomic_add on a complex tensor"),
    ("out[i] = 1j < 2j", "Python complex numbers have no order"),
])
def test_unsupported_complex_operations_are_compile_errors(body, message):
    k = load_function("@lo.kernel\n"
                      "def k(z, out):\n"
                      "    for i in lo.grid(z.shape[0]):\n"
                      f"        {body}\n", "k")
    z = np.ones(2, np.complex64)
    with pytest.raises(KernelCompileError, match=message):
        k.on("numba")(z, np.zeros(2, np.complex64))


def test_complex_product_reductions_are_refused_at_the_grid():
    @lo.kernel
    def prod(z):
        p = 1 + 0j
        for i in lo.grid(z.shape[0]):
            p *= z[i]
        return p

    with pytest.raises(KernelCompileError, match="complex grid reduction must be a sum"):
        prod.on("numba")(np.ones(3, np.complex64))



def test_exports_refuse_complex_kernels_clearly():
    from langone.kernels import aot
    from langone.lua_bridge import standalone
    z = np.ones(3, np.complex64)
    with pytest.raises(KernelCompileError, match="ahead-of-time modules of kernels with "
                                                 "complex values are not supported"):
        aot.build(divide, z, z, z)
    with pytest.raises(KernelCompileError, match="computes with complex values"):
        standalone.export(divide, "complex64[:], complex64[:], complex64[:]")


@lo.kernel
def exp_only(z, out):
    for i in lo.grid(z.shape[0]):
        out[i] = lo.exp(z[i])


@pytest.mark.parametrize("dt", CTYPES)
def test_exp_gives_c99s_special_values_as_numpy_does(dt):
    special = [0.0, -0.0, 1.0, -2.0, 800.0, np.inf, -np.inf, np.nan]
    z = np.array([complex(a, b) for a in special for b in special], dt)
    rt = np.dtype(dt).type(0).real.dtype
    ref_args, _ = same_everywhere(exp_only, z, np.zeros(len(z), dt), rtol=8 * np.finfo(rt).eps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = np.exp(z)
    for got in (ref_args[1], _numba_exp(z)):
        np.testing.assert_allclose(got, want, rtol=8 * np.finfo(rt).eps)
        assert (np.signbit(got.real) == np.signbit(want.real))[want.real == 0].all()
        assert (np.signbit(got.imag) == np.signbit(want.imag))[want.imag == 0].all()


def _numba_exp(z):
    out = np.zeros_like(z)
    exp_only.on("numba")(z, out)
    return out


@lo.func
def _polar(z):
    return abs(z), z / (abs(z) + 1e-30)


def test_device_functions_take_and_return_complex_values():
    @lo.kernel
    def normalize(z, mag, unit):
        for i in lo.grid(z.shape[0]):
            m, u = _polar(z[i])
            mag[i] = m
            unit[i] = u

    z = _c(np.random.default_rng(9), 16, np.complex128)
    ref_args, _ = same_everywhere(normalize, z, np.zeros(16), np.zeros(16, np.complex128),
                                  rtol=1e-14)
    np.testing.assert_allclose(ref_args[2], z / np.abs(z), rtol=1e-14)
