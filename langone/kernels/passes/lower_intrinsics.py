"""Intrinsic lowering: math functions defined by other operations, written out once.

* ``sigmoid(x)`` is ``1 / (1 + exp(-x))`` in ``x``'s float type (as the python
  backend computes it);
* ``isnan(x)`` is ``x != x``; ``isinf(x)`` is ``abs(x) == inf``; both are
  ``False`` for integers and booleans.

A renderer then needs only ``exp``, ``abs``, comparisons and division.
"""

from __future__ import annotations

from dataclasses import replace

from ...dtypes import DType, bool_
from .. import ir


def lower_intrinsics(k: ir.Kernel) -> ir.Kernel:
    """``k`` with sigmoid, isnan and isinf written with other operations."""
    return replace(k, body=ir.map_exprs(k.body, _lower))


def _lower(e: ir.Expr) -> ir.Expr:
    if not isinstance(e, ir.Call) or e.fn not in ("sigmoid", "isnan", "isinf"):
        return e
    loc, x = e.loc, e.args[0]
    if e.fn == "sigmoid":
        t: DType = e.type
        x = x if x.type is t else ir.Cast(loc, t, x)
        one = ir.Const(loc, t, 1.0)
        exp = ir.Call(loc, t, "exp", (ir.UnaryOp(loc, t, "-", x),))
        return ir.BinOp(loc, t, "/", one, ir.BinOp(loc, t, "+", one, exp))
    if not (isinstance(x.type, DType) and x.type.is_floating):
        return ir.Const(loc, bool_, False)
    if e.fn == "isnan":
        return ir.Compare(loc, bool_, "!=", x, x)
    inf = ir.Const(loc, x.type, float("inf"))
    return ir.Compare(loc, bool_, "==", ir.Call(loc, x.type, "abs", (x,)), inf)
