"""Simplification: constant folding (with the reference's own arithmetic) and
a few algebraic identities that are exact in every type."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import ir
from ..backends import numpy_ref as ref


def _value(e: ir.Const, arr: np.ndarray):
    v = arr.reshape(-1)[0]
    return bool(v) if e.type.is_bool else int(v) if e.type.is_integer else float(v)


def _complex(e: ir.Expr) -> bool:
    return any(getattr(getattr(n, "type", None), "is_complex", False)
               for n in (e, *ir.children(e)))


def fold(e: ir.Expr) -> ir.Expr:
    if _complex(e):       # numpy's arrays and scalars differ on complex (FMA, order):
        return e          # passes/lower_complex writes them out, as the scalars compute
    consts = [c for c in ir.children(e)]
    if not consts or not all(isinstance(c, ir.Const) for c in consts):
        return _identities(e)
    args = [np.asarray([c.value]).astype(ref.compute_np(c.type)) for c in consts]
    with np.errstate(all="ignore"):
        if isinstance(e, ir.BinOp):
            if e.op in ("//", "%") and e.type.is_integer and consts[1].value == 0:
                return e                   # keep the runtime's behaviour for x // 0
            if e.op == "**" and e.type.is_integer and consts[1].value < 0:
                return e                   # an error at run time (passes/lower_pow)
            out = ref.binop(e.op, args[0], args[1], e.type)
        elif isinstance(e, ir.UnaryOp):
            out = ~args[0] if e.op in ("not", "~") else \
                np.negative(args[0]) if e.op == "-" else args[0]
        elif isinstance(e, ir.Compare):
            out = ref._CMP[e.op](args[0], args[1])
        elif isinstance(e, ir.Cast):
            out = ref.cast_array(args[0], e.type)
        elif isinstance(e, ir.Call) and e.fn not in ("erf",):
            out = ref.call(e.fn, args, e.type)
        else:
            return e
    return ir.Const(e.loc, e.type, _value(e, np.asarray(out)))


def _identities(e: ir.Expr) -> ir.Expr:
    if isinstance(e, ir.BinOp):
        l, r = e.left, e.right
        if e.op == "*" and isinstance(r, ir.Const) and r.value == 1 and l.type is e.type:
            return l
        if e.op == "*" and isinstance(l, ir.Const) and l.value == 1 and r.type is e.type:
            return r
        if e.op in ("+", "-") and e.type.is_integer and isinstance(r, ir.Const) \
                and r.value == 0:
            return l
    if isinstance(e, ir.Cast) and e.value.type is e.type:
        return e.value
    if isinstance(e, ir.Select) and isinstance(e.cond, ir.Const):
        return e.a if e.cond.value else e.b
    return e


def simplify(k: ir.Kernel) -> ir.Kernel:
    return replace(k, body=ir.map_exprs(k.body, fold))
