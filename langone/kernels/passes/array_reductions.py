"""Array reductions: ``acc[j] += v`` inside ``lo.grid(i, j)`` (a transforming pass).

Grid iterations run in any order (exception 1), so a store that every iteration
along some grid variable makes to one element is a race (:mod:`.races`), except
this form, which OpenMP calls an array reduction: the element is only ever
updated by adding (or subtracting) a term that does not read the array, and
the array is not otherwise read or written in the grid (column sums, histograms,
``y[j] += A[i, j] * x[i]``). Its result is the sum of the terms in any order,
like a grid reduction's (exception 2): exact for integers (sums wrap alike
modulo 2**bits), within rounding for floats; fp16/bf16 arrays sum in fp32 and
round when the grid ends (exception 3), as ``lo.atomic_add`` does. So each
such store becomes an atomic add (``ir.Atomic`` with ``reduction=True``), which
every backend already runs with that meaning, the python backend included.
"""

from __future__ import annotations

from dataclasses import replace

from .. import ir
from . import races


def array_reductions(k: ir.Kernel) -> ir.Kernel:
    """``k`` with every array-reduction store of every grid made an atomic add."""
    found: dict = {}
    for g in (n for n in ir.walk(k) if isinstance(n, ir.Grid)):
        found.update(_in_grid(g))
    if not found:
        return k
    return replace(k, body=tuple(ir.rebuild_by_id(
        s, lambda orig, new: found.get(id(orig), new)) for s in k.body))


def _in_grid(g: ir.Grid) -> dict:
    """{id(store): its atomic} for the grid's array-reduction stores: updates that
    iterations may share, because their index misses a grid variable, mixes them
    (``(7 * i + j) % n``), or depends on data (a histogram's ``h[bin(x[i])] += 1``:
    iterations may hit one bin)."""
    deps, from_data = races._local_deps(g), _data_dependent(g)
    private = {n.name for n in ir.walk_stmts(g.body) if isinstance(n, ir.NewTensor)}
    updates: dict = {}
    for st, _guard in races._stores(g.body, deps, set()):
        if st.tensor in private:            # a local array: each iteration's own
            continue
        # A guard does not make an update the iteration's own: `if x[i, j] > 0:
        # out[i] += v` still adds from every j (and an atomic add is exact either way).
        own = _own_point_vars(st.index)
        shared = any(v not in own for v in g.vars) or any(
            isinstance(n, ir.Load) or isinstance(n, ir.Name) and n.id in from_data
            for ix in st.index for n in ir.walk(ix))
        term = _term(st)
        if term is not None and shared:
            updates.setdefault(st.tensor, []).append((st, term))
    out = {}
    for tensor, stores in updates.items():
        if _other_accesses(g.body, tensor, {id(st) for st, _ in stores}):
            continue                        # read or written otherwise: a race after all
        for st, (op, term) in stores:
            out[id(st)] = ir.Atomic(st.loc, st.tensor, st.index, term, op=op, reduction=True)
    return out


def _own_point_vars(index: tuple) -> set:
    """Grid variables that some index component is, give or take a constant (``i``,
    ``i + 1``, ``-1 - i``): distinct iterations along them reach distinct elements.
    Any other index (``(7 * i + j) % n``) may send two iterations to one element."""
    out = set()
    for ix in index:
        e = ix.operand if isinstance(ix, ir.UnaryOp) and ix.op == "-" else ix
        if isinstance(e, ir.BinOp) and e.op in ("+", "-"):
            sides = [(e.left, e.right)] + ([(e.right, e.left)])
            e = next((v for v, c in sides if isinstance(v, ir.Name) and isinstance(c, ir.Const)
                      and type(c.value) is int), e)
        if isinstance(e, ir.Name):
            out.add(e.id)
    return out


def _data_dependent(g: ir.Grid) -> set:
    """Locals of the grid whose value may come from a tensor element."""
    out: set = set()
    while True:
        before = len(out)
        for n in ir.walk_stmts(g.body):
            if isinstance(n, ir.Assign) and any(
                    isinstance(m, ir.Load) or isinstance(m, ir.Name) and m.id in out
                    for m in ir.walk(n.value)):
                out.add(n.target)
        if len(out) == before:
            return out


def _term(st: ir.Store):
    """``(op, term)`` of ``t[ix] = t[ix] + term`` (either order) or ``t[ix] - term``."""
    v = st.value
    if not isinstance(v, ir.BinOp) or v.op not in ("+", "-"):
        return None
    own = ir.Load(st.loc, None, st.tensor, st.index)
    sides = [(v.left, v.right)] + ([(v.right, v.left)] if v.op == "+" else [])
    for acc, term in sides:
        if acc == own and not any(isinstance(n, (ir.Load, ir.Shape)) and
                                  n.tensor == st.tensor for n in ir.walk(term)):
            return ("add" if v.op == "+" else "sub"), term
    return None


def _other_accesses(body: tuple, tensor: str, updates: set) -> bool:
    """Whether ``tensor`` is read or written in ``body`` other than by ``updates``
    (whose own read of the element is the update; their indices count) or by
    atomic adds whose old value is unused (they sum alike)."""
    def visit(node) -> bool:
        if id(node) in updates:
            return any(visit(ix) for ix in node.index)
        if isinstance(node, ir.Atomic) and node.tensor == tensor and \
                node.op in ("add", "sub") and not node.target:
            return any(visit(c) for c in ir.children(node))    # sums alike: compatible
        if isinstance(node, (ir.Store, ir.Atomic, ir.Load)) and node.tensor == tensor:
            return True
        return any(visit(c) for c in ir.children(node))
    return any(visit(s) for s in body)
