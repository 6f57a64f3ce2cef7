"""Float-to-int conversion lowering: one rule on every backend (exception 5).

numpy converts arrays with ``astype(..., casting="unsafe")``; on x86-64 that
is the CPU's truncating conversion, which gives the integer minimum for NaN,
±inf and out-of-range values. Narrow targets go through int32 and wrap:

* to int32 / int64 (``W`` bits): ``trunc(v)`` if ``-2**(W-1) <= v < 2**(W-1)``,
  else ``-2**(W-1)`` (NaN fails both comparisons);
* to int8 / int16 / uint8 / uint16: the int32 value, wrapped to the width
  (``300.7 -> int8 44``, ``-2.7 -> uint8 254``, ``3e9 -> int8 0``);
* to uint32: the int64 value, wrapped (``-1.5 -> 2**32 - 1``, ``5e9 -> 705032704``);
* to uint64: below 2**63 (and NaN) the int64 value, wrapped; from 2**63 up the
  int64 value of ``v - 2**63`` with the top bit flipped (the compiler's
  unsigned conversion on x86-64: ``2**63 -> 2**63``, ``2**64 -> 0``, ``inf -> 0``).

Each float-to-int :class:`~langone.kernels.ir.Cast` (explicit ``lo.int32(v)``,
``int(v)``, and the conversions type inference adds at stores) becomes
``Select``/``Compare`` around an in-range ``Cast`` plus a wrapping integer
``Cast``, so renderers only ever convert in-range values and need no rule of
their own. (numpy's contiguous-array loops may use SIMD conversions that differ
out of range; the rule is that of its scalars and 0-d arrays, which the python
backend's stores use.)
"""

from __future__ import annotations

import math
from dataclasses import replace

from ...dtypes import DType, bool_, fp32, int32, int64, uint32, uint64
from .. import ir

_NARROW = {"int8", "int16", "uint8", "uint16"}
_TOP = 2 ** 63


def lower_casts(k: ir.Kernel) -> ir.Kernel:
    return replace(k, body=ir.map_exprs(k.body, _lower))


def _lower(e: ir.Expr) -> ir.Expr:
    if not isinstance(e, ir.Cast) or not _float_to_int(e):
        return e
    t: DType = e.type
    if isinstance(e.value, ir.Const):
        return ir.Const(e.loc, t, convert(float(e.value.value), t))
    v = e.value
    if v.type.itemsize == 2:                 # fp16/bf16 compute in fp32: compare there
        v = ir.Cast(v.loc, fp32, v)
    if t is uint64:
        return _to_uint64(e.loc, v)
    return _signed(e.loc, v, t)


def _to_uint64(loc, v: ir.Expr) -> ir.Expr:
    """x86-64's unsigned conversion: values from 2**63 up convert ``v - 2**63``
    and set the top bit back (flipping it: out of range gives 0)."""
    low = ir.Cast(loc, uint64, _signed(loc, v, int64))
    shifted = ir.BinOp(loc, v.type, "-", v, ir.Const(loc, v.type, float(_TOP)))
    high = ir.BinOp(loc, uint64, "^", ir.Cast(loc, uint64, _signed(loc, shifted, int64)),
                    ir.Const(loc, uint64, _TOP))
    big = ir.Compare(loc, bool_, ">=", v, ir.Const(loc, v.type, float(_TOP)))
    return ir.Select(loc, uint64, big, high, low, True)


def _signed(loc, v: ir.Expr, t: DType) -> ir.Expr:
    """``v`` (fp32 or fp64) to ``t`` through int32 (int64 for int64 and uint32):
    in range truncated, else the minimum, then wrapped to ``t``."""
    wide = int64 if t in (int64, uint32) else int32
    bits = wide.itemsize * 8
    lo = ir.Const(v.loc, v.type, -2.0 ** (bits - 1))
    hi = ir.Const(v.loc, v.type, 2.0 ** (bits - 1))
    minimum = ir.Const(v.loc, wide, -2 ** (bits - 1))
    inner = ir.Select(v.loc, wide, ir.Compare(v.loc, bool_, "<", v, hi),
                      ir.Cast(v.loc, wide, v), minimum, True)
    out = ir.Select(v.loc, wide, ir.Compare(v.loc, bool_, ">=", v, lo), inner, minimum, True)
    return out if wide is t else ir.Cast(loc, t, out)


def _float_to_int(e: ir.Cast) -> bool:
    src, t = e.value.type, e.type
    return isinstance(src, DType) and src.is_floating and isinstance(t, DType) and \
        t.is_integer


def convert(v: float, t: DType) -> int:
    """The rule on one Python float: what every backend computes for ``t(v)``."""
    if t is uint64:
        if v >= _TOP:
            return convert(v - _TOP, int64) % 2 ** 64 ^ _TOP
        return convert(v, int64) % 2 ** 64
    if t is uint32:
        return convert(v, int64) % 2 ** 32
    bits = 64 if t is int64 else 32
    if math.isnan(v) or not -2.0 ** (bits - 1) <= v < 2.0 ** (bits - 1):
        r = -2 ** (bits - 1)
    else:
        r = int(v)                               # truncates toward zero
    if t.name in _NARROW:
        span = 1 << (t.itemsize * 8)
        r %= span
        if t.name.startswith("int") and r >= span // 2:
            r -= span
    return r


def convert_const(v: float, t: DType) -> int:
    """A float constant cast to integer type ``t`` at compile time: the same
    rule as :func:`convert`."""
    return convert(v, t)
