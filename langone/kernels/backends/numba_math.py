"""Scalar helpers that the generated numba kernels call (``_m.name(...)``).

Everything here is branch-free (selects, not ``if``) so that once LLVM inlines
a helper into a kernel's loop, the loop still vectorizes:

* bit casts (``f32_bits``/``bits_f32``...) and the LLVM ``maximum``/``minimum``
  intrinsics (NaN-propagating, and LLVM vectorizes reductions over them);
* fp16/bf16 <-> fp32 conversions (IEEE round-to-nearest-even, subnormals,
  overflow to inf, NaN kept quiet) -- numba has no float16 on the CPU, so
  half tensors arrive as ``uint16`` bit patterns;
* fp32 ``exp log sin cos tanh sigmoid`` as inline polynomials (Cephes-style
  range reduction). numba here calls scalar libm for these (no SVML), which
  does not vectorize and loses to numpy's SIMD ufuncs; these stay within a few
  ulp of numpy. fp64 keeps libm (``math.*``).
* integer corner cases the IR defines differently from numba: shifts by
  out-of-range amounts, ``**`` with negative exponents (checked first where
  ``passes/lower_pow`` cannot prove them non-negative), ``INT64_MIN // -1``,
  integer ``fmod`` (C's sign, and 0 for a zero divisor, as numpy).

Example:
    >>> import numpy as np
    >>> from langone.kernels.backends import numba_math as m
    >>> float(m.f16_to_f32(np.uint16(0x3c00)))
    1.0
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir as lir
from numba import njit, types
from numba.extending import intrinsic

from ...errors import KernelIndexError, KernelRuntimeError

# Helpers are compiled into each kernel that calls them (and cached with it),
# so they need no cache of their own. error_model="numpy": x/0 gives inf/nan.
_JIT = dict(nogil=True, error_model="numpy")
# Math and conversions are inlined in numba's IR: LLVM's inliner gives up on
# the bigger ones, and a call in a loop stops it from vectorizing.
_INLINE = dict(_JIT, inline="always")

_F32 = np.float32


# --- bit casts and LLVM intrinsics -------------------------------------------------------

def _bitcast(src, dst, lltype):
    @intrinsic
    def cast(typingctx, x):
        if x != src:
            return None

        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], lltype)
        return dst(src), codegen
    return cast


def _wrapping(op: str):
    """int64 ``a op b`` as plain LLVM arithmetic. numba emits signed integer
    ``+ - *`` as no-signed-wrap, so LLVM may fold what follows an overflow as if
    none happened (``x + 4 < 0`` false for ``x = 2**63 - 1``); numpy wraps. The
    ``lower_wrap`` pass marks the operations that may overflow."""
    @intrinsic
    def wrapping(typingctx, a, b):
        if not all(isinstance(t, (types.Integer, types.Boolean)) for t in (a, b)):
            return None

        def codegen(context, builder, sig, args):
            x, y = (context.cast(builder, v, t, types.int64) for v, t in zip(args, sig.args))
            return getattr(builder, op)(x, y)
        return types.int64(a, b), codegen
    return wrapping


wadd = _wrapping("add")
wsub = _wrapping("sub")
wmul = _wrapping("mul")

f32_bits = _bitcast(types.float32, types.int32, lir.IntType(32))
bits_f32 = _bitcast(types.int32, types.float32, lir.FloatType())
f64_bits = _bitcast(types.float64, types.int64, lir.IntType(64))
bits_f64 = _bitcast(types.int64, types.float64, lir.DoubleType())


def _float_binary(name):
    @intrinsic
    def fn(typingctx, a, b):
        if a != b or a not in (types.float32, types.float64):
            return None

        def codegen(context, builder, sig, args):
            t = args[0].type
            f = builder.module.declare_intrinsic(name, [t], lir.FunctionType(t, [t, t]))
            return builder.call(f, args)
        return a(a, a), codegen
    return fn


#: NaN-propagating max/min (numpy's maximum/minimum); reductions over them vectorize.
fmaximum = _float_binary("llvm.maximum")
fminimum = _float_binary("llvm.minimum")


@njit(**_INLINE)
def np_minimum(a, b):
    """numpy's ``minimum`` exactly: a NaN operand wins, and on a tie (``-0.0`` and
    ``0.0``) the second operand (LLVM's ``minimum`` orders -0.0 below 0.0)."""
    return a if (a < b or a != a) else b


@njit(**_INLINE)
def np_maximum(a, b):
    """numpy's ``maximum`` exactly (see :func:`np_minimum`)."""
    return a if (a > b or a != a) else b


#: IEEE maxNum/minNum (a NaN operand is ignored): Python's ``max(acc, v)`` for a
#: non-NaN ``acc``, as a vectorizable loop accumulator.
maxnum = _float_binary("llvm.maxnum")
minnum = _float_binary("llvm.minnum")


@njit(fastmath={"reassoc", "nsz"}, **_JIT)
def radd(a, b):
    """``a + b`` that LLVM may reassociate: lets a sum reduction vectorize.

    The fast-math flags live on this one instruction and survive inlining, so
    only the accumulator update is reassociated, never the kernel's own math.
    """
    return a + b


@njit(fastmath={"reassoc", "nsz"}, **_JIT)
def rmul(a, b):
    """``a * b`` that LLVM may reassociate (prod reductions)."""
    return a * b


# --- fp16 / bf16 -------------------------------------------------------------------------

_HALF_MAGIC = np.float32(2.0 ** -14)        # the smallest normal half


@njit(**_INLINE)
def f16_to_f32(h):
    """IEEE half bits (uint16) -> float32, exact (subnormals, inf, NaN)."""
    hi = np.int32(h)
    o = (hi & 0x7FFF) << 13                  # exponent+mantissa in float position
    e = o & 0x0F800000
    o = o + 0x38000000                       # rebias exponent 15 -> 127
    o = o + 0x38000000 if e == 0x0F800000 else o            # inf/NaN: max exponent
    sub = bits_f32(np.int32(o + 0x00800000)) - _HALF_MAGIC  # renormalize subnormals
    f = sub if e == 0 else bits_f32(np.int32(o))
    return bits_f32(np.int32(f32_bits(f) | ((hi & 0x8000) << 16)))


@njit(**_INLINE)
def f32_to_f16(f):
    """float32 -> IEEE half bits (uint16): round to nearest even, like numpy."""
    b = np.int64(f32_bits(f))
    sign = (b >> 16) & 0x8000
    a = b & 0x7FFFFFFF
    nan = 0x7E00 | ((a >> 13) & 0x3FF)
    big = nan if a > 0x7F800000 else 0x7C00                  # overflow -> inf
    # Halves below 2^-14 are subnormal: adding 0.5 aligns the mantissa so the
    # float adder does the rounding.
    tiny = np.int64(f32_bits(bits_f32(np.int32(a)) + _F32(0.5))) - 0x3F000000
    normal = (a - 0x38000000 + 0xFFF + ((a >> 13) & 1)) >> 13
    o = big if a >= 0x47800000 else (tiny if a < 0x38800000 else normal)
    return np.uint16(o | sign)


@njit(**_INLINE)
def bf16_to_f32(h):
    """bfloat16 bits (uint16) -> float32 (exact: the upper half of the bits)."""
    return bits_f32(np.int32(np.int64(h) << 16))


@njit(**_INLINE)
def f32_to_bf16(f):
    """float32 -> bfloat16 bits (uint16): round to nearest even, NaN stays NaN."""
    b = np.int64(f32_bits(f)) & 0xFFFFFFFF
    rounded = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    nan = (b >> 16) | 0x40
    return np.uint16(nan if (b & 0x7FFFFFFF) > 0x7F800000 else rounded)


@njit(**_INLINE)
def f64_to_f32_odd(d):
    """float64 -> float32 rounding to odd: a second rounding (to fp16/bf16) is
    then correct, as if rounded once from float64."""
    f = np.float32(d)
    fd = np.float64(f)
    b = f32_bits(f)
    step = np.int32(-1) if abs(fd) > abs(d) else np.int32(1)
    b = b + step if (fd != d and (b & 1) == 0) else b
    return bits_f32(np.int32(b))


@njit(**_INLINE)
def round_f16(x):
    """float32 rounded to the nearest half, returned as float32."""
    return f16_to_f32(f32_to_f16(x))


@njit(**_INLINE)
def round_bf16(x):
    """float32 rounded to the nearest bfloat16, returned as float32."""
    return bf16_to_f32(f32_to_bf16(x))


# --- fp32 transcendental functions (Cephes) ---------------------------------------------

_EXP_HI, _EXP_LO = _F32(88.72283935546875), _F32(-103.972084045410)
_LOG2E, _C1, _C2 = _F32(1.44269504088896341), _F32(0.693359375), _F32(-2.12194440e-4)
_E0, _E1, _E2 = _F32(1.9875691500e-4), _F32(1.3981999507e-3), _F32(8.3334519073e-3)
_E3, _E4, _E5 = _F32(4.1665795894e-2), _F32(1.6666665459e-1), _F32(5.0000001201e-1)
_INF32, _HALF, _ONE, _TWO = _F32(np.inf), _F32(0.5), _F32(1.0), _F32(2.0)


@njit(**_INLINE)
def exp_f32(x):
    """exp for float32: x = n ln2 + r, a degree-6 polynomial for exp(r), then
    2^n built in two factors so subnormal results come out right."""
    xc = x if x > _F32(-104.0) else _F32(-104.0)
    xc = xc if xc < _F32(89.0) else _F32(89.0)
    n = np.floor(xc * _LOG2E + _HALF)
    r = xc - n * _C1 - n * _C2
    p = ((((_E0 * r + _E1) * r + _E2) * r + _E3) * r + _E4) * r + _E5
    y = p * (r * r) + r + _ONE
    ni = np.int32(n)
    n1 = ni >> 1
    s1 = bits_f32(np.int32((n1 + 127) << 23))
    s2 = bits_f32(np.int32((ni - n1 + 127) << 23))
    y = y * s1 * s2
    y = _INF32 if x > _EXP_HI else y
    y = _F32(0.0) if x < _EXP_LO else y
    return x if x != x else y


_SQRTH = _F32(0.707106781186547524)
_L = (_F32(7.0376836292e-2), _F32(-1.1514610310e-1), _F32(1.1676998740e-1),
      _F32(-1.2420140846e-1), _F32(1.4249322787e-1), _F32(-1.6668057665e-1),
      _F32(2.0000714765e-1), _F32(-2.4999993993e-1), _F32(3.3333331174e-1))
_L0, _L1, _L2, _L3, _L4, _L5, _L6, _L7, _L8 = _L
_TWO23, _FLT_MIN = _F32(8388608.0), _F32(1.17549435e-38)
_NAN32 = _F32(np.nan)


@njit(**_INLINE)
def log_f32(x):
    """log for float32: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(m) by a
    degree-9 polynomial (Cephes logf); subnormals are scaled up first."""
    sub = x < _FLT_MIN
    xs = x * _TWO23 if sub else x
    b = f32_bits(xs)
    e = ((b >> 23) & 0xFF) - 126
    e = e - 23 if sub else e
    m = bits_f32(np.int32((b & 0x007FFFFF) | 0x3F000000))      # in [0.5, 1)
    small = m < _SQRTH
    e = e - 1 if small else e
    m = (m + m - _ONE) if small else (m - _ONE)
    z = m * m
    y = ((((((((_L0 * m + _L1) * m + _L2) * m + _L3) * m + _L4) * m + _L5) * m + _L6)
          * m + _L7) * m + _L8) * m * z
    fe = np.float32(e)
    y = y + _C2 * fe - _HALF * z
    r = m + y + _C1 * fe
    r = -_INF32 if x == _F32(0.0) else r
    r = _NAN32 if x < _F32(0.0) else r
    return x if (x != x or x == _INF32) else r


# pi/2 in three double parts (fdlibm): j * _PIO2_1 is exact for |j| < 2^20.
_PIO2_1, _PIO2_2, _PIO2_2T = 1.57079632673412561417e+00, 6.07710050630396597660e-11, \
    2.02226624879595063154e-21
_S1, _S2, _S3 = _F32(-1.9515295891e-4), _F32(8.3321608736e-3), _F32(-1.6666654611e-1)
_K1, _K2, _K3 = _F32(2.443315711809948e-5), _F32(-1.388731625493765e-3), \
    _F32(4.166664568298827e-2)


@njit(**_INLINE)
def _reduce_pio2(x):
    """(r, quadrant) with x = r + quadrant*pi/2, |r| <= pi/4; reduced in float64
    so results stay accurate for |x| up to ~1e6 (degrading slowly beyond)."""
    xd = np.float64(x)
    j = np.floor(xd * 0.63661977236758134308 + 0.5)
    r = ((xd - j * _PIO2_1) - j * _PIO2_2) - j * _PIO2_2T
    q = np.int64(j) & 3
    return np.float32(r), q


@njit(**_INLINE)
def _sin_poly(r, z):
    return ((_S1 * z + _S2) * z + _S3) * z * r + r


@njit(**_INLINE)
def _cos_poly(z):
    return ((_K1 * z + _K2) * z + _K3) * z * z - _HALF * z + _ONE


@njit(**_INLINE)
def sin_f32(x):
    """sin for float32 (Cephes sinf polynomials after a float64 reduction)."""
    r, q = _reduce_pio2(x)
    z = r * r
    s, c = _sin_poly(r, z), _cos_poly(z)
    v = c if (q & 1) else s
    return -v if (q & 2) else v


@njit(**_INLINE)
def cos_f32(x):
    """cos for float32 (Cephes cosf polynomials after a float64 reduction)."""
    r, q = _reduce_pio2(x)
    z = r * r
    s, c = _sin_poly(r, z), _cos_poly(z)
    v = s if (q & 1) else c
    return -v if ((q + 1) & 2) else v


_T0, _T1, _T2 = _F32(-5.70498872745e-3), _F32(2.06390887954e-2), _F32(-5.37397155531e-2)
_T3, _T4 = _F32(1.33314422036e-1), _F32(-3.33332819422e-1)


@njit(**_INLINE)
def tanh_f32(x):
    """tanh for float32: odd polynomial below 0.625 (Cephes tanhf), else
    1 - 2/(exp(2|x|) + 1) with the sign of x."""
    a = abs(x)
    z = x * x
    p = ((((_T0 * z + _T1) * z + _T2) * z + _T3) * z + _T4) * z * x + x
    q = _ONE - _TWO / (exp_f32(a + a) + _ONE)
    q = -q if x < _F32(0.0) else q
    return p if a < _F32(0.625) else q


@njit(**_INLINE)
def sigmoid_f32(x):
    """1 / (1 + exp(-x)) in float32, as the reference computes it."""
    return _ONE / (_ONE + exp_f32(-x))


@njit(**_JIT)
def sigmoid_f64(x):
    return 1.0 / (1.0 + math.exp(-x))


@njit(**_JIT)
def erf_f32(x):
    """erf through float64 libm (the reference rounds math.erf the same way)."""
    return np.float32(math.erf(np.float64(x)))


# --- integer corner cases ----------------------------------------------------------------

@njit(**_JIT)
def shl(a, b, bits):
    """``a << b`` with numpy's result for shifts outside [0, bits): 0."""
    ok = b >= 0 and b < bits
    return a << (b if ok else b - b) if ok else a - a     # b - b: 0 in b's type


@njit(**_JIT)
def shr(a, b, bits):
    """``a >> b``; shifts outside [0, bits) fill with the sign (-1 or 0)."""
    ok = b >= 0 and b < bits
    fill = a - a - 1 if a < 0 else a - a
    return a >> (b if ok else b - b) if ok else fill


@njit(**_JIT)
def ushr(a, b, bits):
    """uint64 ``a >> b``: logical; shifts of the width or more give 0. (``shr``'s
    ``a - a - 1`` would make numba compute a uint64 in fp64.)"""
    return a >> b if b < bits else a - a


@njit(**_JIT)
def ipow(a, b):
    """Integer power with wrap-around; negative exponents count as 0 (x**0 = 1)."""
    r = a - a + 1
    e = b if b > 0 else b - b
    base = a
    while e > 0:
        if e & 1:
            r = wmul(r, base)
        base = wmul(base, base)
        e >>= 1
    return r


@njit(**_JIT)
def floordiv_i64(a, b):
    """int64 ``a // b`` where INT64_MIN // -1 wraps to INT64_MIN (as numpy)."""
    return -a if b == -1 else a // b


@njit(**_JIT)
def fmod_i(a, b):
    """numpy's integer ``fmod``: C's remainder (the dividend's sign); ``a`` fmod 0
    and fmod -1 are 0 (numba's ``np.fmod`` takes the divisor's sign)."""
    if b == 0 or b == -1:
        return a - a
    r = a % b                                   # Python's: the divisor's sign
    return r - b if r != 0 and (r < 0) != (a < 0) else r


@njit(**_JIT)
def isinf_f(x):
    return abs(x) == np.inf


@njit(**_INLINE)
def pymin(a, b):
    """Python's ``min(a, b)``: ``b if b < a else a`` (a NaN ``b`` is ignored)."""
    return b if b < a else a


@njit(**_INLINE)
def pymax(a, b):
    """Python's ``max(a, b)``: ``b if b > a else a``."""
    return b if b > a else a


# --- debug bounds checks -------------------------------------------------------------

class KernelBoundsError(KernelIndexError):
    """An out-of-bounds access caught by a ``debug=True`` numba kernel.

    Raised from compiled code with the site (file, line, tensor, axis, kernel
    -- constant per access) and the offending index and size (runtime values).
    """

    def __init__(self, where: str, index: int, size: int):
        super().__init__(where.replace("{index}", str(index)).replace("{size}", str(size)))


@njit(**_INLINE)
def check_index(i, n, where):
    """``i`` if ``0 <= i < n``, else KernelBoundsError. ``i`` is normalized
    (``passes/lower_index``): a negative ``i`` was ``i - n`` in the kernel."""
    if i < 0 or i >= n:
        raise KernelBoundsError(where, i - n if i < 0 else i, n)
    return i


@njit(**_INLINE)
def check_index_p(i, n, err, site):
    """``check_index`` for ``prange`` loops, which a ``raise`` would keep serial:
    a bad index is recorded in ``err`` (site, index, size) and replaced by 0;
    the launcher raises after the loop and runs size-0 tensors serially."""
    if i < 0 or i >= n:
        err[0] = site
        err[1] = i - n if i < 0 else i
        err[2] = n
        return 0
    return i


def raise_recorded(err, sites: tuple) -> None:
    """Raise what ``check_index_p``, ``check_exponent_p`` or ``step_stop_p`` recorded,
    if anything (``sites``: ``numba_lower.parallel_sites``)."""
    if err[0]:
        kind, where = sites[int(err[0]) - 1]
        if kind == "exponent":
            raise NegativePowerError(where, int(err[1]))
        if kind == "step":
            raise ZeroStepError(where)
        raise KernelBoundsError(where, int(err[1]), int(err[2]))


# --- range steps: zero ----------------------------------------------------------------

class ZeroStepError(KernelRuntimeError):
    """A zero ``range`` step reached in a numba kernel (Python raises ValueError):
    the site's message (file, line, kernel)."""


@njit(**_INLINE)
def check_step(step, where):
    """``step`` if it is not 0, else ZeroStepError (``passes/lower_range`` decided
    which loops need this)."""
    if step == 0:
        raise ZeroStepError(where)
    return step


@njit(**_INLINE)
def step_stop_p(start, stop, step, err, site):
    """``check_step`` for ``prange`` loops: the stop of ``range(start, stop, step)``,
    or, for a zero step, ``start`` (no iteration), with the site recorded in ``err``;
    the launcher raises after the loop."""
    if step == 0:
        err[0] = site
        return start
    return stop


@njit(**_INLINE)
def nonzero_step(step):
    """The step of a loop ``step_stop_p`` emptied (any non-zero value)."""
    return step if step != 0 else 1


# --- integer powers: negative exponents ------------------------------------------------

class NegativePowerError(KernelRuntimeError):
    """A negative integer exponent caught by a numba kernel (numpy raises
    ValueError): the site's message (file, line, kernel) with the exponent."""

    def __init__(self, where: str, exponent: int):
        super().__init__(where.replace("{exponent}", str(exponent)))


@njit(**_INLINE)
def check_exponent(e, where):
    """``e`` if ``e >= 0``, else NegativePowerError (``passes/lower_pow`` decided
    which exponents need this)."""
    if e < 0:
        raise NegativePowerError(where, e)
    return e


@njit(**_INLINE)
def check_exponent_p(e, err, site):
    """``check_exponent`` for ``prange`` loops: a negative ``e`` is recorded in
    ``err`` (site, exponent) and replaced by 0; the launcher raises after the loop."""
    if e < 0:
        err[0] = site
        err[1] = e
        return e - e
    return e
