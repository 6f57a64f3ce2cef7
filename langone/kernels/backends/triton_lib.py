"""The vocabulary of generated Triton code: types, literals, and the helper library.

Helpers are ``@triton.jit`` functions emitted into a generated module only when
its kernels call them. They cover what Triton's operators define differently
from the kernel IR (Python's floor division, numpy's float ``divmod``, shifts by
out-of-range amounts, integer powers), bf16 rounding (Triton's interpreter
truncates), reductions that stay fast in the interpreter, debug bounds checks,
and transcendentals that use libdevice on a GPU and core math in the
interpreter (decided by the module's ``_INTERP`` constant at import time).

Example:
    >>> from langone.dtypes import fp16, int8
    >>> from langone.kernels.backends import triton_lib
    >>> triton_lib.tl_type(fp16), triton_lib.pointer_signature(int8)
    ('tl.float32', '*i8')
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...dtypes import DType
from .. import ir
from .numpy_ref import compute_np


# --- types --------------------------------------------------------------------------------

def is_half(t: Any) -> bool:
    """fp16 and bf16: stored as halves, computed in fp32."""
    return isinstance(t, DType) and t.is_floating and t.itemsize == 2


_TL = {"fp32": "tl.float32", "fp64": "tl.float64", "int8": "tl.int8", "int16": "tl.int16",
       "int32": "tl.int32", "int64": "tl.int64", "uint8": "tl.uint8", "uint16": "tl.uint16",
       "uint32": "tl.uint32", "uint64": "tl.uint64", "bool": "tl.int1",
       "fp16": "tl.float32", "bf16": "tl.float32"}
STORE_TL = {"fp16": "tl.float16", "bf16": "tl.bfloat16"}
_SIG = {"fp16": "fp16", "bf16": "bf16", "fp32": "fp32", "fp64": "fp64", "int8": "i8",
        "int16": "i16", "int32": "i32", "int64": "i64", "uint8": "u8", "uint16": "u16",
        "uint32": "u32", "uint64": "u64", "bool": "u1"}


def tl_type(t: DType) -> str:
    """The Triton type a value of logical type ``t`` is computed in."""
    return _TL[t.name]


# numpy dtype of a host-side value of logical type ``t`` (halves compute in fp32).
compute_numpy = compute_np


def pointer_signature(t: DType) -> str:
    """Triton's signature string for a pointer to ``t`` elements (``*fp32``)."""
    return "*" + _SIG[t.name]


def scalar_signature(t: DType) -> str:
    """Host scalars travel as int64 or fp64 (exact for every logical type)."""
    return "fp64" if t.is_floating else "i64"


def literal(value: Any, t: DType) -> str:
    """Python source of a constant (special floats through module constants)."""
    if t.is_bool:
        return "True" if value else "False"
    if t.is_integer:
        return str(int(value))
    v = float(value)
    if v != v:
        return "(_INF - _INF)"
    if math.isinf(v):
        return "_INF" if v > 0 else "(-_INF)"
    return repr(v)


def trip_count(k: int | None, start: str, stop: str, step: str) -> str:
    """Triton text of the iterations of ``range(start, stop, step)``, clamped at 0
    (Triton divides truncating); ``k``: the step when it is a constant."""
    if k is None:
        n = (f"tl.where({step} > 0, ({stop} - {start} + {step} - 1) // {step}, "
             f"({start} - {stop} - {step} - 1) // (0 - {step}))")
    elif k == 1:
        n = f"{stop} - {start}"
    else:
        a, b = (start, stop) if k < 0 else (stop, start)
        n = f"({a} - {b} + {abs(k) - 1}) // {abs(k)}"
    return f"tl.maximum({n}, 0)"


def is_plain(v: Any) -> bool:
    """Whether a constant is a plain Python literal: ±inf/NaN are constexpr
    expressions (``-_INF``), which the interpreter cannot combine with a tensor
    on their right, so those constants are emitted typed."""
    return not isinstance(v, float) or math.isfinite(v)


def identity_literal(op: str, t: DType) -> str:
    """The reduction identity in ``t`` (:func:`ir.reduction_identity`)."""
    v = ir.reduction_identity(op, t)
    if t.is_bool:
        return "True" if v else "False"
    if t.is_floating and math.isinf(v):
        return "_INF" if v > 0 else "(-_INF)"
    return str(v)


#: Operators Triton defines differently: (op, float?) -> (helper, call with {a} {b} {bits}).
HELPER_OPS = {
    ("**", True): ("fpow", "_lo_fpow({a}, {b})"),
    ("//", True): ("divmod_f", "_lo_floordiv_f({a}, {b})"),
    ("%", True): ("divmod_f", "_lo_mod_f({a}, {b})"),
    ("//", False): ("floordiv_i", "_lo_floordiv_i({a}, {b})"),
    ("%", False): ("mod_i", "_lo_mod_i({a}, {b})"),
    ("**", False): ("ipow", "_lo_ipow({a}, {b}, {bits})"),
    ("<<", False): ("shift", "_lo_shl({a}, {b}, {bits})"),
    (">>", False): ("shift", "_lo_shr({a}, {b}, {bits})"),
}


# --- helper library (emitted into the module when used) --------------------------------------

HELPERS: dict[str, str] = {
    "div": '''
@triton.jit
def _lo_div(a, b):
    # IEEE division: Triton's fp32 "/" is approximate on NVIDIA GPUs.
    if a.dtype == tl.float32:
        return tl.div_rn(a, b)
    else:
        return a / b
''',
    "floordiv_i": '''
@triton.jit
def _lo_floordiv_i(a, b):
    # Python's a // b (Triton truncates); numpy gives 0 for a // 0.
    zero = b == 0
    d = tl.where(zero, 1, b)
    q = a // d
    q = tl.where(((a % d) != 0) & ((a < 0) != (d < 0)), q - 1, q)
    return tl.where(zero, 0, q)
''',
    "mod_i": '''
@triton.jit
def _lo_mod_i(a, b):
    # Python's a % b: the sign of the divisor; numpy gives 0 for a % 0.
    zero = b == 0
    d = tl.where(zero, 1, b)
    r = a % d
    r = tl.where((r != 0) & ((r < 0) != (d < 0)), r + d, r)
    return tl.where(zero, 0, r)
''',
    "divmod_f": '''

@triton.jit
def _lo_floordiv_f(a, b):
    # numpy's npy_divmod: fmod, then move the quotient to the floor.
    mod = _lo_fmod(a, b)
    div = _lo_div(a - mod, b)
    fix = (mod != 0) & ((b < 0) != (mod < 0))
    div = tl.where(fix, div - 1.0, div)
    q = tl.floor(div)
    q = tl.where(div - q > 0.5, q + 1.0, q)
    q = tl.where(div == 0, 0.0 * _lo_div(a, b), q)
    return tl.where(b == 0, _lo_div(a, b), q)


@triton.jit
def _lo_mod_f(a, b):
    # Python's a % b (the sign of the divisor), as numpy.remainder: fmod, then fix.
    # A NaN b makes mod NaN, so "mod == 0" needs no NaN test (an "& (b == b)" here
    # failed in Triton's interpreter for a 0-d b, as in x % 3.0).
    mod = _lo_fmod(a, b)
    fix = (mod != 0) & ((b < 0) != (mod < 0))
    mod = tl.where(fix, mod + b, mod)
    return tl.where(mod == 0, tl.where(b < 0, -0.0, 0.0), mod)
''',
    "ipow": '''
@triton.jit
def _lo_ipow(a, b, BITS: tl.constexpr):
    # Integer power by squaring, wrapping like numpy; negative exponents act as 0.
    e = tl.where(b < 0, 0, b) + a * 0
    base = a + e * 0
    r = base * 0 + 1
    for _ in range(BITS):
        r = tl.where((e & 1) != 0, r * base, r)
        base = base * base
        e = e >> 1
    return r
''',
    "shift": '''
@triton.jit
def _lo_shl(a, b, BITS: tl.constexpr):
    bad = (b < 0) | (b >= BITS)
    return tl.where(bad, 0, a << tl.where(bad, 0, b))


@triton.jit
def _lo_shr(a, b, BITS: tl.constexpr):
    # Shifting by the width or more fills with the sign, as numpy's reference does.
    bad = (b < 0) | (b >= BITS)
    r = a >> tl.where(bad, 0, b)
    if a.dtype.is_int_unsigned():
        return tl.where(bad, 0, r)
    else:
        return tl.where(bad, tl.where(a < 0, -1, 0), r)
''',
    "fpow": '''
@triton.jit
def _lo_cube(a):
    # a ** 3 rounded once, as C's pow: fp32 through fp64 (a*a exact there), fp64 as
    # a double-double product; infinities, NaN and zeros keep the plain product.
    if a.dtype == tl.float32:
        w = a.to(tl.float64)
        return (w * w * w).to(tl.float32)
    else:
        hi = a * a
        lo = tl.fma(a, a, -hi)
        t = hi * a
        r = t + (tl.fma(hi, a, -t) + lo * a)
        return tl.where((t == 0) | (tl.abs(t) == _INF) | (t != t), t, r)


@triton.jit
def _lo_fpow(a, b):
    if _INTERP:
        # The interpreter has no libdevice: exp/log with C pow's special cases.
        # Nested tl.where, not & / |: b is often a 0-d constant (x ** 3), and the
        # interpreter's & of a 0-d boolean with a vector is not boolean.
        r = tl.exp(b * tl.log(tl.abs(a)))
        odd = tl.where(tl.floor(b) == b, tl.floor(b * 0.5) * 2.0 != b, False)
        # a negative base to a fractional power is NaN, but -inf's is inf or 0, as C's
        negative_r = tl.where(tl.floor(b) == b, tl.where(odd, -r, r),
                              tl.where(tl.abs(a) == _INF, r, (_INF - _INF)))
        r = tl.where(a < 0, negative_r, r)
        # -0.0 to an odd integer power keeps its sign; (-1) ** +-inf is 1 (not inf * 0).
        r = tl.where(a == 0, tl.where(odd, tl.where(_lo_negbit(a), -r, r), r), r)
        r = tl.where(a == -1, tl.where(tl.abs(b) == _INF, 1.0, r), r)
        r = tl.where(b == 0, 1.0, tl.where(a == 1, 1.0, r))
    else:
        r = libdevice.pow(a, b)
    # Small whole exponents exactly as C's correctly rounded pow (signed zeros too).
    return tl.where(b == 1, a, tl.where(b == 2, a * a, tl.where(b == 3, _lo_cube(a), r)))
''',
    "tanh": '''
@triton.jit
def _lo_tanh(x):
    if _INTERP:
        # tanh|x| = (1 - e^-2|x|) / (1 + e^-2|x|): never overflows; abs error ~1 ulp of 1.
        e = tl.exp(-2.0 * tl.abs(x))
        t = _lo_div(1.0 - e, 1.0 + e)
        return tl.where(x < 0, -t, t)
    else:
        return libdevice.tanh(x)
''',
    "reduce": '''
# Reductions go through Triton's own combine functions: its interpreter reduces
# with numpy for those (any other combine function runs once per element, in
# Python), and Triton's tl.sum/tl.max wrappers are jit code the interpreter
# cannot call unless TRITON_INTERPRET was set before triton was imported.
@triton.jit
def _lo_rsum(x):
    return tl.reduce(x, 0, tl.standard._sum_combine)


@triton.jit
def _lo_nan_if_any(x, m):
    # NaN-propagating for floats (the reference reduces with np.max / np.min).
    if x.dtype.is_floating():
        m = tl.where(tl.reduce((x != x).to(tl.int32), 0, tl.standard._elementwise_max) > 0,
                     (_INF - _INF), m)
    return m


@triton.jit
def _lo_rmax(x):
    return _lo_nan_if_any(x, tl.reduce(x, 0, tl.standard._elementwise_max))


@triton.jit
def _lo_rmin(x):
    return _lo_nan_if_any(x, tl.reduce(x, 0, tl.standard._elementwise_min))


@triton.jit
def _lo_rprod(x):
    # The last element of a product scan (the interpreter's numpy fast path).
    p = tl.associative_scan(x, 0, tl.standard._prod_combine)
    return _lo_rsum(tl.where(tl.arange(0, x.shape[0]) == x.shape[0] - 1, p, 0))


@triton.jit
def _lo_any(mask):
    # Whether any lane is set (the condition of lane-divergent loops).
    return tl.reduce(mask.to(tl.int32), 0, tl.standard._elementwise_max) > 0
''',
    "atomic_loop": '''
@triton.jit
def _lo_atomic_loop(ptr, base, mask, value, compare, OP: tl.constexpr):
    # The atomics GPUs have no exact instruction for, as compare-and-swap loops on
    # the element's bits (ptr, base: integer pointers of its width). OP 0: numpy's
    # maximum, 1: minimum (NaN propagates; tl.atomic_max on floats keeps a NaN only
    # of one sign), 2: cas, swapping where the element == compare as numbers
    # (-0.0 == 0.0, NaN != NaN; a CAS compares bits). Lanes off the mask, or with
    # nothing to write, swap base with itself (no change). Returns the old values.
    cur = tl.load(ptr, mask=mask, other=0)
    old = cur
    todo = mask
    while _lo_any(todo):
        now = cur.to(value.dtype, bitcast=True)
        if OP == 0:
            new = tl.maximum(now, value, propagate_nan=tl.PropagateNan.ALL)
        elif OP == 1:
            new = tl.minimum(now, value, propagate_nan=tl.PropagateNan.ALL)
        else:
            new = value
        bits = new.to(cur.dtype, bitcast=True)
        if OP == 2:
            want = todo & (now == compare)
        else:
            want = todo & (bits != cur)
        prev = tl.atomic_cas(tl.where(want, ptr, base), tl.where(want, cur, 0),
                             tl.where(want, bits, 0))
        done = todo & ((want == 0) | (prev == cur))
        old = tl.where(done, cur, old)
        todo = todo & want & (prev != cur)
        cur = tl.where(todo, prev, cur)
    return old.to(value.dtype, bitcast=True)
''',
    "f64_to_f32_odd": '''
@triton.jit
def _lo_f64_to_f32_odd(v):
    # fp64 -> fp32 rounding to odd: a second rounding to fp16/bf16 is then exact,
    # as numpy's single rounding (a direct conversion may round twice).
    f = v.to(tl.float32)
    back = f.to(tl.float64)
    bits = f.to(tl.int32, bitcast=True)
    bits = tl.where(tl.abs(back) > tl.abs(v), bits - 1, bits)
    bits = tl.where(back != v, bits | 1, bits)
    return bits.to(tl.float32, bitcast=True)
''',
    "bf16": '''
@triton.jit
def _lo_bf16(x):
    # fp32 -> the nearest bf16 (ties to even), as fp32. Done on the bits: Triton's
    # interpreter truncates in .to(tl.bfloat16); GPUs round the same way as this.
    u = x.to(tl.uint32, bitcast=True)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    r = tl.where(x != x, u | 0x400000, r)
    return r.to(tl.float32, bitcast=True)
''',
    "check": '''
@triton.jit
def _lo_check(err, bad, idx, lin, code):
    # Record the first bad lane: an index out of bounds or a negative exponent
    # (code = the check's number + 1).
    if _lo_any(bad):
        first = _lo_rmin(tl.where(bad, lin, 9223372036854775807))
        value = _lo_rsum(tl.where(bad & (lin == first), idx, 0))
        zero = tl.full([], 0, tl.int64)
        if tl.atomic_cas(err, zero, zero + code) == 0:
            tl.store(err + 1, value)
    return bad
''',
}

# log1p expm1 atan2 hypot: libdevice on a GPU. The interpreter has no libdevice: there
# they compute in fp64 from core math (Goldberg's log1p, Kahan's expm1, Cephes' atan),
# and an fp32 result is that rounded once.
HELPERS["math64"] = '''
@triton.jit
def _lo_log1p64(x):
    # log(1 + x) accurate near 0: log(u) * x / (u - 1) cancels the rounding of u = 1 + x.
    u = 1.0 + x
    r = tl.log(u) * (x / tl.where(u == 1.0, 1.0, u - 1.0))
    return tl.where(u == 1.0, x, tl.where(u == _INF, x, r))


@triton.jit
def _lo_expm1_64(x):
    # exp(x) - 1 accurate near 0: (u - 1) * x / log(u) cancels the rounding of u = exp(x).
    u = tl.exp(x)
    um = u - 1.0
    lu = tl.log(u)
    r = um * (x / tl.where(lu == 0.0, 1.0, lu))
    r = tl.where(u == _INF, u, tl.where(um == -1.0, -1.0, r))
    return tl.where(u == 1.0, x, r)


@triton.jit
def _lo_atan64(x):
    # Cephes atan for x >= 0: reduce to |x| <= 0.66, a rational function of degree 4/5.
    big = x > 2.414213562373095
    mid = x > 0.66
    t = tl.where(big, -1.0 / tl.where(big, x, 1.0), tl.where(mid, (x - 1.0) / (x + 1.0), x))
    z = t * t
    p = (((-8.750608600031904122785e-1 * z - 1.615753718733365076637e1) * z
          - 7.500855792314704667340e1) * z - 1.228866684490136173410e2) * z \
        - 6.485021904942025371773e1
    q = ((((z + 2.485846490142306297962e1) * z + 1.650270098316988542046e2) * z
          + 4.328810604912902668951e2) * z + 4.853903996359136964868e2) * z \
        + 1.945506571482613964425e2
    r = t * (z * p / q) + t
    r = tl.where(big, r + 6.123233995736765886130e-17,
                 tl.where(mid, r + 3.061616997868382943065e-17, r))
    return tl.where(big, 1.5707963267948966 + r, tl.where(mid, 0.7853981633974483 + r, r))


@triton.jit
def _lo_atan2_64(y, x):
    # C's atan2, special cases included (signed zeros, infinities, NaN).
    ay = tl.abs(y)
    ax = tl.abs(x)
    neg_y = _lo_negbit(y)
    x_neg = _lo_negbit(x)
    both_inf = tl.where(ax == _INF, ay == _INF, False)          # pi/4, or 3pi/4 below
    ratio = tl.where(both_inf, 1.0, ay / tl.where(ax == 0.0, 1.0, ax))
    a = _lo_atan64(tl.where(ax == 0.0, _INF, ratio))
    a = tl.where(ay == 0.0, 0.0, a)
    a = tl.where(x_neg, 3.141592653589793 - a, a)
    a = tl.where(neg_y, -a, a)
    return tl.where(x != x, x, tl.where(y != y, y, a))


@triton.jit
def _lo_hypot64(x, y):
    # sqrt(x^2 + y^2) without overflow or underflow; inf wins over NaN (C's hypot).
    ax = tl.abs(x)
    ay = tl.abs(y)
    m = tl.where(ax > ay, ax, ay)
    n = tl.where(ax > ay, ay, ax)
    direct = tl.sqrt(m * m + n * n)
    r = n / tl.where(m == 0.0, 1.0, m)
    scaled = m * tl.sqrt(1.0 + r * r)
    h = tl.where(m < 1e150, tl.where(n > 1e-150, direct, scaled), scaled)
    h = tl.where(h != h, ax + ay, h)
    return tl.where(ax == _INF, _INF, tl.where(ay == _INF, _INF, h))
'''

HELPERS["copysign"] = '''
@triton.jit
def _lo_negbit(y):
    # Whether y's sign bit is set (-0.0 and negative NaNs too).
    if y.dtype == tl.float64:
        return (y.to(tl.uint64, bitcast=True) >> 63) != 0
    else:
        return (y.to(tl.uint32, bitcast=True) >> 31) != 0


@triton.jit
def _lo_copysign(x, y):
    # |x| with y's sign bit (NaN's too), on the bits: exact everywhere.
    if y.dtype == tl.float64:
        xb = x.to(tl.float64).to(tl.uint64, bitcast=True)
        yb = y.to(tl.uint64, bitcast=True)
        return ((xb & 0x7FFFFFFFFFFFFFFF) | (yb & 0x8000000000000000)).to(tl.float64,
                                                                          bitcast=True)
    else:
        xb = x.to(tl.float32).to(tl.uint32, bitcast=True)
        yb = y.to(tl.uint32, bitcast=True)
        return ((xb & 0x7FFFFFFF) | (yb & 0x80000000)).to(tl.float32, bitcast=True)
'''

HELPERS["fmod_i"] = '''
@triton.jit
def _lo_fmod_i(a, b):
    # numpy's integer fmod: C's remainder (Triton's % truncates); x fmod 0 is 0, and
    # so is x fmod -1 (INT_MIN % -1 overflows in C).
    if b.dtype.is_int_unsigned():
        bad = b == 0
    else:
        bad = tl.where(b == 0, True, b == -1)
    r = a % tl.where(bad, 1, b)
    return tl.where(bad, 0, r)
'''

HELPERS["fmod"] = '''
@triton.jit
def _lo_fmod(a, b):
    # C's fmod, exact (the dividend's sign; fmod(x, 0) and fmod(inf, y) are NaN). Not
    # Triton's float %: on NVIDIA GPUs it is a - trunc(a / b) * b, wrong for large
    # quotients (1e30 % 7.0 gave 5.3e13); the interpreter's is numpy's. lo.fmod, and
    # the first step of // and % (divmod_f).
    if _INTERP:
        return a % b
    else:
        return libdevice.fmod(a, b)
'''

for _fn, _args in (("log1p", "x"), ("expm1", "x"), ("atan2", "y, x"), ("hypot", "x, y")):
    _f64 = {"expm1": "expm1_64", "atan2": "atan2_64", "hypot": "hypot64"}.get(_fn, _fn + "64")
    _wide = ", ".join(f"{a}.to(tl.float64)" for a in _args.split(", "))
    HELPERS[_fn] = f"""
@triton.jit
def _lo_{_fn}({_args}):
    if _INTERP:
        if {_args[0]}.dtype == tl.float64:
            return _lo_{_f64}({_args})
        else:
            return _lo_{_f64}({_wide}).to(tl.float32)
    else:
        return libdevice.{_fn}({_args})
"""

# exp/log/sin/cos: libdevice on a GPU, core math in the interpreter (no libdevice there).
for _fn in ("exp", "log", "sin", "cos"):
    HELPERS[_fn] = f"""
@triton.jit
def _lo_{_fn}(x):
    if _INTERP:
        return tl.{_fn}(x)
    else:
        return libdevice.{_fn}(x)
"""
HELPER_DEPS = {"divmod_f": ("div", "fmod"), "tanh": ("div",), "check": ("reduce",), "fpow": ("copysign",),
               "atomic_loop": ("reduce",),
               **{fn: ("math64", "copysign") for fn in ("log1p", "expm1", "atan2", "hypot")}}


def helper_lines(names: set) -> list[str]:
    """Source lines of the helpers ``names`` and their dependencies, in a fixed order."""
    needed = set(names)
    for h in list(needed):
        needed.update(HELPER_DEPS.get(h, ()))
    out: list[str] = []
    for h in HELPERS:
        if h in needed:
            out += HELPERS[h].strip("\n").splitlines() + ["", ""]
    return out


#: The generated module's imports and constants.
MODULE_HEADER = [
    "import triton",
    "import triton.language as tl",
    "from triton.language.extra import libdevice",
    "",
    "# Decided when this module is imported: Triton's interpreter cannot call libdevice.",
    "_INTERP = tl.constexpr(bool(triton.knobs.runtime.interpret))",
    "_INF = tl.constexpr(float('inf'))",
    "# NaN is (_INF - _INF): Triton compares global constexprs across kernels,",
    "# and a NaN global never equals itself.",
    "",
]
