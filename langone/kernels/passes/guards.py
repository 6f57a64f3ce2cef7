"""Shape guards (analysis only): launch-time checks that keep compiled kernels in bounds.

Compiled backends do not bounds-check (unless ``debug=True``): an output tensor
shorter than the grid would be written past its end. For every access that
*always* runs in a grid iteration (not under an ``if`` or inside a loop) and
indexes an axis directly with a grid variable, the tensor's extent along that
axis must cover the grid's. The launcher checks these few comparisons before
every call and raises :class:`~langone.errors.KernelArgumentError` naming the
argument, its shape and the line, instead of corrupting memory.

Example: ``for i in lo.grid(x.shape[0]): out[i] = x[i]`` guards
``out.shape[0] >= x.shape[0]``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import ir


@dataclass(frozen=True)
class ShapeGuard:
    """``params[tensor].shape[axis] >= extent`` where extent is described by
    ``("shape", param, axis)``, ``("const", value)`` or ``("scalar", param)``."""

    tensor: int
    axis: int
    extent: tuple
    line: int
    text: str                      # the access, e.g. "out[i]", for the message
    grid: str                      # the grid, e.g. "i in lo.grid(x.shape[0])"


def _extent_spec(e: ir.Expr, index: dict) -> tuple | None:
    if isinstance(e, ir.Cast):
        e = e.value
    if isinstance(e, ir.Shape) and e.tensor in index:
        return ("shape", index[e.tensor], e.axis)
    if isinstance(e, ir.Const) and isinstance(e.value, int):
        return ("const", e.value)
    if isinstance(e, ir.Name) and e.id in index:
        return ("scalar", index[e.id])
    return None


def shape_guards(k: ir.Kernel) -> tuple:
    """The guards of a typed kernel (none for elementwise kernels: they broadcast)."""
    if k.kind == "elementwise":
        return ()
    index = {p.name: i for i, p in enumerate(k.params)}
    guards: list[ShapeGuard] = []
    seen: set = set()
    for g in k.body:
        if not isinstance(g, ir.Grid):
            continue
        specs = {v: _extent_spec(x, index) for v, x in zip(g.vars, g.extents)}
        grid_text = f"{', '.join(g.vars)} in lo.grid(" + \
            ", ".join(ir.fmt_expr(x) for x in g.extents) + ")"
        assigned = ir.assigned_names(g.body)
        for access in _unconditional_accesses(g.body):
            for axis, ix in enumerate(access.index):
                var = ix.id if isinstance(ix, ir.Name) else None
                spec = specs.get(var)
                if spec is None or var in assigned or access.tensor not in index:
                    continue
                key = (access.tensor, axis, spec)
                if spec == ("shape", index[access.tensor], axis) or key in seen:
                    continue                  # x[i] for i in lo.grid(x.shape[0]): always true
                if key in seen:
                    continue
                seen.add(key)
                text = f"{access.tensor}[{', '.join(ir.fmt_expr(i) for i in access.index)}]"
                guards.append(ShapeGuard(index[access.tensor], axis, spec, access.loc.line,
                                         text, grid_text))
    return tuple(guards)


def _unconditional_accesses(body: tuple):
    """Loads/stores of the grid body's own statements (which run in every
    iteration), outside ``a if c else b`` and ``and``/``or`` (evaluated lazily)."""
    for s in body:
        if isinstance(s, (ir.If, ir.For, ir.While)):
            continue                  # may not run; break/continue cannot leave the grid
        if isinstance(s, (ir.Store, ir.AtomicAdd)):
            yield s
        for node in _eager_exprs(s):
            if isinstance(node, ir.Load):
                yield node


def _eager_exprs(node):
    for child in ir.children(node):
        if isinstance(child, (ir.Select, ir.BoolOp)):
            continue
        if isinstance(child, ir.Expr):
            yield child
            yield from _eager_exprs(child)
