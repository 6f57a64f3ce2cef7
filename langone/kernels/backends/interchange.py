"""Loop interchange for row accumulations: the ``ikj`` order of a naive matmul.

A 2-D or 3-D grid whose innermost iteration is

.. code-block:: python

    acc = init                        # may read the grid variables
    for k in range(start, stop, step):
        acc = acc + e                 # any update of ir.accumulation: * max min ...
    ...                               # statements that use acc (out[i, j] = acc)

walks ``e``'s tensors across rows when one of them is indexed ``[..., k, j]``
(``b[k, j]`` in ``a[i, k] * b[k, j]``): each step of ``k`` jumps a whole row,
and nothing vectorizes. A backend may instead keep one accumulator per ``j``
(a row of them) and run ``k`` outside ``j``:

.. code-block:: python

    row[:] = init                     # for j in range(n): row[j] = init(j)
    for k in range(start, stop, step):
        for j in range(n):            # contiguous in b and in row: SIMD
            row[j] = row[j] + e
    for j in range(n):
        acc = row[j]
        ...

Each ``acc`` still sees its terms in the same order of ``k``, so results are
those of the original loop; what moves is only the order *between* grid
iterations, which ``lo.grid`` declares independent. The match is
conservative: ``e`` may read no local the grid body assigns (other than
``k``) and no tensor the body writes, and the ``k`` range may not depend on
the innermost grid variable.

This module only analyses IR; the numba renderer emits the loops.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import ir

#: Rows shorter than this keep the original order, chosen at run time: with
#: few accumulators per row the interchanged inner loop is too short to pay,
#: while the original ``k`` loop still vectorizes over contiguous data.
MIN_ROW = 16

@dataclass(frozen=True)
class RowAccumulation:
    """A grid body that :func:`match` found interchangeable.

    Attributes:
        acc: the accumulator's name.
        init: its initial value (an expression of the grid variables).
        loop: the sequential ``k`` loop (its body is the one update).
        rest: the statements after the loop, run per ``j`` with ``acc`` final.
    """

    acc: str
    init: ir.Expr
    loop: ir.For
    rest: tuple


def match(g: ir.Grid, types: dict) -> RowAccumulation | None:
    """The row accumulation in ``g``'s body if interchanging it pays, else None."""
    if len(g.vars) < 2 or g.reductions or len(g.body) < 2:
        return None
    first, loop, rest = g.body[0], g.body[1], g.body[2:]
    if not (isinstance(first, ir.Assign) and isinstance(loop, ir.For)
            and len(loop.body) == 1):
        return None
    acc, j, k = first.target, g.vars[-1], loop.var
    if acc in g.vars or acc == k or k in g.vars:
        return None
    found = ir.accumulation(loop.body[0])
    if found is None or loop.body[0].target != acc or acc not in types:
        return None
    operand = found[2]
    local = ir.assigned_names(g.body)
    bounds = set().union(*(_names(e) for e in (loop.start, loop.stop, loop.step)))
    if bounds & (local | {j}) or _names(first.value) & local:
        return None
    if _names(operand) & (local - {k}) or _loaded(operand) & _written(g.body):
        return None
    if k in ir.read_names(rest) | ir.bound_names(rest) or not _walks_rows(operand, j, k):
        return None
    return RowAccumulation(acc, first.value, loop, tuple(rest))


def _walks_rows(operand: ir.Expr, j: str, k: str) -> bool:
    """Whether some load in ``operand`` has ``j`` as its last index and ``k``
    in an earlier one: the strided walk that interchanging makes contiguous."""
    for n in ir.walk(operand):
        if isinstance(n, ir.Load) and len(n.index) >= 2:
            last = n.index[-1]
            if isinstance(last, ir.Name) and last.id == j and \
                    any(k in _names(ix) for ix in n.index[:-1]):
                return True
    return False


def _names(e: ir.Expr) -> set:
    return {n.id for n in ir.walk(e) if isinstance(n, ir.Name)}


def _loaded(e: ir.Expr) -> set:
    return {n.tensor for n in ir.walk(e) if isinstance(n, ir.Load)}


def _written(stmts) -> set:
    return {n.tensor for n in ir.walk_stmts(stmts) if isinstance(n, (ir.Store, ir.Atomic))}
