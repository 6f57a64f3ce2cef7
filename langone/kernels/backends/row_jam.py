"""Row jamming: in-order sums of several grid iterations, side by side (numba).

A sequential float sum that keeps Python's order is a chain of dependent adds:
each waits for the one before (about 4 cycles), so a row of ``n`` terms costs
``4n`` cycles however wide the machine is. :meth:`.numba_lower._Lowering.fission`
already moves the terms into a scratch row, so everything else vectorizes; the
chain stays. Grid iterations are independent (rule 1), so :data:`JAM` of them can
run their chains together: one step of the jammed loop adds the ``j``-th term of
every iteration's own chain, each chain still in its own order (bit for bit what
the python backend computes), and their latencies overlap.

The parallel function then runs, per ``prange`` step, :data:`JAM` iterations::

    for k in range(JAM):  <statements before the sum, iteration g*JAM + k>; save live locals
    for j in range(n):    s0 += t[0, j]; s1 += t[1, j]; ...     # JAM chains at once
    for k in range(JAM):  restore live locals; <statements after the sum>

and the last ``n % JAM`` iterations as they are. Only the sums are interleaved:
each iteration's statements run in its own order. Locals that live across a sum
go through a ``(JAM,)`` array each. Applies to 1-D grids whose in-order sums sit
at the top level of the body, with bounds the same for every iteration and no
``break``/``continue`` leaving the body (:func:`plan` says why not otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...dtypes import int64
from .. import ir
from ..passes import definite

#: Iterations jammed: independent add chains enough to hide an add's latency.
JAM = 8


@dataclass(frozen=True)
class SumLoop:
    """One in-order sum split off by fission: ``for j in range(trip): acc op= buf[j]``."""

    acc: str
    buf: str
    trip: str
    source: ir.For          # the loop it came from (its bounds decide the trip count)


@dataclass(frozen=True)
class Plan:
    items: tuple            # ("seg", stmts) and ("sum", For, SumLoop), in order
    hoisted: tuple          # the trip counts and scratch rows, computed once per step
    saves: tuple            # per item: locals to save after it (segments)
    restores: tuple         # per item: locals to restore before it (segments)
    live: tuple             # every saved local


def _name(n: str, t=int64) -> ir.Name:
    return ir.Name(ir.NOLOC, t, n)


def _int(v: int) -> ir.Const:
    return ir.Const(ir.NOLOC, int64, v)


def live_array(var: str) -> str:
    return f"_k_live_{var}"


class _Exposed(definite._Checker):
    """Definite assignment that collects the names read before they are assigned
    (``exposed``) instead of raising."""

    def __init__(self):
        super().__init__(None, None)
        self.exposed: set = set()

    def reads(self, e: ir.Expr, known) -> None:
        self.exposed |= {n.id for n in ir.walk(e) if isinstance(n, ir.Name) and n.id not in known}

    def stmt(self, s: ir.Stmt, known):
        if isinstance(s, ir.Alloc):
            for e in s.shape:
                self.reads(e, known)
            return known
        if isinstance(s, ir.Comment):
            return known
        return super().stmt(s, known)


def _flow(stmts: tuple) -> tuple[set, set]:
    """(names read before assigned, names assigned on every path) of ``stmts``."""
    x = _Exposed()
    known = x.block(tuple(stmts), frozenset())
    return x.exposed, set() if known is definite._ALL else set(known)


def plan(g: ir.Grid, sums: dict, types: dict) -> Plan | None:
    """How to jam grid ``g`` (``sums``: id of a fission sum loop -> :class:`SumLoop`),
    or None where jamming does not apply."""
    if len(g.vars) != 1 or _jumps(g.body):
        return None
    var = g.vars[0]
    if var in ir.assigned_names(g.body):     # each segment sets it afresh
        return None
    private = ir.bound_names(g.body) | {var}
    found = {id(s): sums[id(s)] for s in g.body if id(s) in sums}
    if not found or any(_varies(r.source, private) for r in found.values()):
        return None
    trips = {r.trip for r in found.values()}
    bufs = {r.buf for r in found.values()}
    hoisted, rest = [], []
    for s in g.body:
        is_trip = isinstance(s, ir.Assign) and s.target in trips
        (hoisted if is_trip or (isinstance(s, ir.Alloc) and s.name in bufs) else rest).append(s)
    items, seg = [], []
    for s in rest:
        if id(s) in found:
            items += [("seg", tuple(seg)), ("sum", s, found[id(s)])]
            seg = []
        else:
            seg.append(s)
    items.append(("seg", tuple(seg)))
    flows = [_flow(it[1]) if it[0] == "seg" else ({it[2].acc}, set()) for it in items]
    if _crosses_allocs(g.body, bufs, items):
        return None
    scalars = {n for n in private - {var} if n in types}
    saves, restores = [], []
    defined: set = {var}
    for i, (it, (exposed, assigned)) in enumerate(zip(items, flows)):
        later = set().union(*(e for e, _ in flows[i + 1:]))
        restores.append(tuple(sorted(scalars & exposed)) if it[0] == "seg" and i else ())
        if it[0] == "sum":
            if it[2].acc not in defined:
                return None
            saves.append(())
            continue
        defined |= assigned
        saves.append(tuple(sorted(scalars & assigned & later)))
    live = tuple(sorted(set().union(*saves)))
    if any(r.acc not in live for r in found.values()):
        return None
    return Plan(tuple(items), tuple(hoisted), tuple(saves), tuple(restores), live)


def candidates(g: ir.Grid) -> set:
    """``(loc, var)`` of the loops of ``g``'s body whose in-order sums are worth
    splitting off even alone (no other work beside them): top-level unit-step
    loops as long for every iteration, in a 1-D grid :func:`plan` can jam."""
    if len(g.vars) != 1 or _jumps(g.body):
        return set()
    private = ir.bound_names(g.body) | set(g.vars)
    return {(s.loc, s.var) for s in g.body if isinstance(s, ir.For) and
            isinstance(s.step, ir.Const) and s.step.value == 1 and not _varies(s, private)}


def jam(g: ir.Grid, p: Plan, extent: str, types: dict, holds) -> list:
    """The statements that replace grid ``g`` (``extent``: the name of its length;
    ``holds(t)``: the type a local of type ``t`` is held in). The remaining
    iterations' locals are renamed: they must differ from the ``prange`` body's, as
    numba takes a name assigned in it and used after it for a reduction."""
    var, k, group = g.vars[0], _name("_k_k"), _name("_k_g")
    row = ir.BinOp(ir.NOLOC, int64, "+", ir.BinOp(ir.NOLOC, int64, "*", group, _int(JAM)), k)
    body: list = [replace(s, shape=(_int(JAM), *s.shape)) if isinstance(s, ir.Alloc) else s
                  for s in p.hoisted]
    body += [ir.Alloc(ir.NOLOC, live_array(v), holds(types[v]), (_int(JAM),)) for v in p.live]
    bufs = {it[2].buf for it in p.items if it[0] == "sum"}
    for it, save, restore in zip(p.items, p.saves, p.restores):
        if it[0] == "sum":
            body += _jammed_sum(it[1], it[2], types)
            continue
        if not it[1]:                   # between two sums: nothing to run per iteration
            continue
        stmts = [ir.Assign(ir.NOLOC, var, row)]
        stmts += [ir.Assign(ir.NOLOC, v, ir.Load(ir.NOLOC, types[v], live_array(v), (k,)))
                  for v in restore]
        stmts += [_row_of(s, bufs, k) for s in it[1]]
        stmts += [ir.Store(ir.NOLOC, live_array(v), (k,), _name(v, types[v])) for v in save]
        body.append(ir.For(ir.NOLOC, k.id, _int(0), _int(JAM), _int(1), tuple(stmts)))
    types.update({k.id: int64, group.id: int64, "_k_ng": int64})
    done = ir.BinOp(ir.NOLOC, int64, "*", _name("_k_ng"), _int(JAM))
    private = ir.bound_names(g.body) | {var} | \
        {n.name for n in ir.walk_stmts(g.body) if isinstance(n, ir.Alloc)}
    tail = {n: f"{n}_tail" for n in private}
    types.update({new: types[old] for old, new in tail.items() if old in types})
    return [ir.Comment(ir.NOLOC, f"{JAM} iterations per step, their in-order sums "
                                 f"side by side (row_jam)"),
            ir.Assign(ir.NOLOC, "_k_ng", ir.BinOp(ir.NOLOC, int64, "//", _name(extent),
                                                  _int(JAM))),
            ir.Grid(g.loc, (group.id,), (_name("_k_ng"),), tuple(body)),
            ir.For(ir.NOLOC, tail[var], done, _name(extent), _int(1), ir.rename(g.body, tail))]


def _jammed_sum(loop: ir.For, r: SumLoop, types: dict) -> list:
    """``JAM`` register chains, loaded from and stored back to the live array."""
    t = types[r.acc]
    chains = [f"_k_{r.acc}_c{i}" for i in range(JAM)]
    types.update({c: t for c in chains})
    update = loop.body[0]

    def step(i: int) -> ir.Stmt:
        def swap(e):
            if isinstance(e, ir.Name) and e.id == r.acc:
                return _name(chains[i], t)
            if isinstance(e, ir.Load) and e.tensor == r.buf:
                return replace(e, index=(_int(i), *e.index))
            return e
        return ir.Assign(update.loc, chains[i], ir.map_exprs(update.value, swap))
    live = live_array(r.acc)
    return ([ir.Assign(ir.NOLOC, c, ir.Load(ir.NOLOC, t, live, (_int(i),)))
             for i, c in enumerate(chains)] +
            [replace(loop, body=tuple(step(i) for i in range(JAM)))] +
            [ir.Store(ir.NOLOC, live, (_int(i),), _name(c, t)) for i, c in enumerate(chains)])


def _row_of(s: ir.Stmt, bufs: set, k: ir.Name) -> ir.Stmt:
    """``s`` with its stores into the scratch rows ``bufs`` going to row ``k``."""
    def fix(orig, new):
        if isinstance(new, ir.Store) and new.tensor in bufs:
            return replace(new, index=(k, *new.index))
        return new
    return ir.rebuild_by_id(s, fix)


def _varies(loop: ir.For, private: set) -> bool:
    """Whether a loop's trip count may differ between iterations of the grid."""
    return any(isinstance(n, ir.Load) or (isinstance(n, ir.Name) and n.id in private)
               for e in (loop.start, loop.stop) for n in ir.walk(e))


def _crosses_allocs(body: tuple, bufs: set, items: list) -> bool:
    """Whether a scratch array other than ``bufs`` is used in more than one item."""
    names = {n.name for n in ir.walk_stmts(body) if isinstance(n, ir.Alloc)} - bufs
    for n in names:
        users = [i for i, it in enumerate(items)
                 if any(getattr(x, "tensor", None) == n or getattr(x, "name", None) == n
                        for x in ir.walk_stmts(it[1] if it[0] == "seg" else (it[1],)))]
        if len(users) > 1:
            return True
    return False


def _jumps(body: tuple) -> bool:
    """Whether ``body`` has a ``break``/``continue`` outside its own loops."""
    for s in body:
        if isinstance(s, (ir.Break, ir.Continue)):
            return True
        if isinstance(s, ir.If) and (_jumps(s.body) or _jumps(s.orelse)):
            return True
    return False


__all__ = ["JAM", "Plan", "SumLoop", "candidates", "jam", "plan"]
