"""Integer-to-half conversion lowering: one rounding, as numpy's ``astype``.

numpy (and ml_dtypes for bf16) converts an integer to fp16/bf16 with a single
round-to-nearest-even. A target that converts through fp32 rounds twice
(int32 2**28 + 2**20 + 1 -> bf16 is 2**28 + 2**21 in numpy, 2**28 through
fp32), and bf16 rounding helpers that work on fp32 bits break on integers.
This pass rewrites every ``Cast(half, v)`` of an integer or bool ``v`` to
``Cast(half, Cast(fp64, w))`` where ``fp64(w)`` is exact, so a renderer only
converts fp64 to halves (rounding to odd through fp32, then to nearest):

* int8..int32, uint8..uint32, bool: ``w = v`` (exact in fp64);
* int64 and uint64: ``w = v`` when ``|v| < 2**53``, else ``v`` with its low 11 bits
  replaced by one sticky bit at bit 10 (``w`` then has at most 53 significant
  bits and lies strictly between the same two multiples of 2**11 as ``v``, and
  the fp32 and half neighbours of such a large value are multiples of 2**11,
  so rounding to odd and then to nearest gives numpy's result).
"""

from __future__ import annotations

from dataclasses import replace

from ...dtypes import DType, bool_, fp64, int64, uint64
from .. import ir

_LOW = 2047                        # the 11 low bits that become one sticky bit
_EXACT = 2 ** 53                   # int64 magnitudes below this are exact in fp64


def lower_half_casts(k: ir.Kernel) -> ir.Kernel:
    """``k`` with integer and bool to fp16/bf16 casts made single-rounding."""
    return replace(k, body=ir.map_exprs(k.body, _lower))


def _is_half(t) -> bool:
    return isinstance(t, DType) and t.is_floating and t.itemsize == 2


def _lower(e: ir.Expr) -> ir.Expr:
    if not (isinstance(e, ir.Cast) and _is_half(e.type)):
        return e
    src = e.value.type
    if not (isinstance(src, DType) and (src.is_integer or src.is_bool)):
        return e
    v = _sticky(e.value) if src in (int64, uint64) else e.value
    return replace(e, value=ir.Cast(e.loc, fp64, v))


def _sticky(v: ir.Expr) -> ir.Expr:
    """An int64 ``w`` with ``fp64(w)`` exact that rounds to any half as ``v`` does."""
    loc, t = v.loc, v.type

    def const(x: int) -> ir.Const:
        return ir.Const(loc, t, x % 2 ** 64 if t is uint64 else x)

    def binop(op: str, a: ir.Expr, b: ir.Expr) -> ir.BinOp:
        return ir.BinOp(loc, t, op, a, b)

    high = binop("&", v, const(~_LOW))
    low_set = ir.Compare(loc, bool_, "!=", binop("&", v, const(_LOW)), const(0))
    sticky = binop("|", high, ir.Select(loc, t, low_set, const(1 << 10), const(0), True))
    exact = ir.Compare(loc, bool_, "<", v, const(_EXACT))
    if t is int64:
        exact = ir.BoolOp(loc, bool_, "and", (exact, ir.Compare(loc, bool_, ">", v,
                                                                 const(-_EXACT))))
    return ir.Select(loc, t, exact, v, sticky, True)
