"""Index lowering: negative indices count from the end; accesses the bounds
analysis cannot prove are marked for a run-time range check.

After this pass a renderer sees only indices that are non-negative and in
range, or accesses whose ``checks`` axes it range-checks (raising
:class:`~langone.errors.KernelIndexError`); it decides nothing about either.
``x[i - 1]`` becomes ``x[(i - 1) + x.shape[0] if i - 1 < 0 else i - 1]`` and
``x[-1]`` becomes ``x[-1 + x.shape[0]]``; ``x[i]`` and ``x[i + 1]`` stay as
they are (their range cannot be negative). See :mod:`.guards` for the plan.
"""

from __future__ import annotations

from dataclasses import replace

from ...dtypes import bool_, int64
from .. import ir
from .guards import AccessPlan, plan


def lower_index(k: ir.Kernel, options: dict | None = None) -> ir.Kernel:
    """``k`` with normalized indices and run-time checks per :func:`.guards.plan`."""
    options = options or {}
    p = plan(k, boundscheck=options.get("boundscheck", True) is not False,
             debug=bool(options.get("debug")),
             launch_guards=options.get("launch_guards", True) is not False)
    if not p.accesses:
        return k
    local = {n.name: n.shape for n in ir.walk(k) if isinstance(n, ir.Alloc)}

    def lower(orig, new):
        ap: AccessPlan | None = p.accesses.get(id(orig)) \
            if isinstance(orig, (ir.Load, ir.Store, ir.Atomic)) else None
        if ap is None:
            return new
        index = tuple(normalized(ix, new.tensor, axis, local.get(new.tensor))
                      if axis in ap.normalize else ix for axis, ix in enumerate(new.index))
        return replace(new, index=index, checks=ap.checks)
    return replace(k, body=tuple(ir.rebuild_by_id(s, lower) for s in k.body))


def normalized(ix: ir.Expr, tensor: str, axis: int, local_shape: tuple | None = None
               ) -> ir.Expr:
    """``ix`` counted from the end of ``tensor``'s ``axis`` when negative (Python);
    a local array's size is the constant in its shape."""
    size = local_shape[axis] if local_shape else ir.Shape(ix.loc, int64, tensor, axis)
    wrapped = ir.BinOp(ix.loc, int64, "+", ix, size)
    if isinstance(ix, ir.Const):
        return wrapped if ix.value < 0 else ix
    negative = ir.Compare(ix.loc, bool_, "<", ix, ir.Const(ix.loc, int64, 0))
    return ir.Select(ix.loc, int64, negative, wrapped, ix, True)
