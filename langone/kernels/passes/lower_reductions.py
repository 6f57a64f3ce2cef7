"""Reduction lowering: what a grid reduction means, as plain IR expressions.

A grid reduction ``reduce(op: var)`` (see :class:`~langone.kernels.ir.Reduction`)
is lowered the same way on every backend that splits iterations:

* inside the grid, ``var`` is a per-iteration *lane* that starts at the
  identity of ``op`` (:func:`identity`);
* lanes are folded into partial totals (:func:`lane_fold`), in any order;
* the grand total is merged with the value ``var`` held before the grid
  (:func:`merge`), with Python's meaning of ``op``.

These helpers build the statements and expressions; a backend's target
lowering decides how iterations are split (chunks, threads, blocks) and may
swap a fold for a reassociating form of the same operation.
"""

from __future__ import annotations

from ...dtypes import DType
from .. import ir


def identity(op: str, t: DType, loc: ir.Loc = ir.NOLOC) -> ir.Const:
    """The identity of reduction ``op`` in type ``t``, as a constant."""
    return ir.Const(loc, t, ir.reduction_identity(op, t))


def merge(op: str, t: DType, before: ir.Expr, total: ir.Expr) -> ir.Expr:
    """``before`` merged with a grid's ``total``: the reference's combine.

    Python's ``max``/``min`` keep a NaN ``before`` and skip a NaN total;
    ``lo.maximum``/``lo.minimum`` propagate NaN (numpy's), as
    :data:`ir.REDUCTION_MERGE` defines.
    """
    fn = ir.REDUCTION_MERGE[op]
    if fn in ("+", "*"):            # an int64 sum or product may wrap (passes/lower_wrap)
        return ir.BinOp(before.loc, t, fn, before, total, wraps=t.name == "int64")
    return ir.Call(before.loc, t, fn, (before, total))


def lane_fold(op: str, t: DType, acc: ir.Expr, lane: ir.Expr) -> ir.Expr:
    """``acc`` combined with one iteration's ``lane``.

    A lane starts at the identity, so a Python ``max``/``min`` lane never
    holds NaN: folding both kinds with the NaN-propagating ``maximum`` /
    ``minimum`` is exact and keeps one fold per base operator.
    """
    base = ir.reduction_base(op)
    if base in ("sum", "prod"):
        return merge(base, t, acc, lane)
    return ir.Call(acc.loc, t, "maximum" if base == "max" else "minimum", (acc, lane))


def with_lanes(body: tuple, reductions: tuple, types: dict, lane, acc,
               fold=lane_fold) -> tuple:
    """One grid iteration's ``body`` with each reduction's lane reset first and
    folded into its accumulator last.

    Args:
        body: the iteration's statements, which update the lanes.
        reductions: the grid's :class:`~langone.kernels.ir.Reduction` s.
        types: the reduction variables' types.
        lane: ``lane(var)`` names the variable's lane.
        acc: ``acc(var)`` names the accumulator the lanes fold into.
        fold: ``fold(op, t, acc, lane)``: a backend may pass a reassociating form.
    """
    resets, folds = [], []
    for r in reductions:
        t = types[r.var]
        resets.append(ir.Assign(ir.NOLOC, lane(r.var), identity(r.op, t)))
        total = ir.Name(ir.NOLOC, t, acc(r.var))
        folds.append(ir.Assign(ir.NOLOC, acc(r.var),
                               fold(r.op, t, total, ir.Name(ir.NOLOC, t, lane(r.var)))))
    return (*resets, *body, *folds)
