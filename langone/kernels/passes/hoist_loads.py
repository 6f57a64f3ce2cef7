"""Hoist loop-invariant loads: a target-independent optimization.

In ``for c in range(n): out[r, c] = x[r, c] * scale[r]`` the load
``scale[r]`` gives the same value on every iteration, but a compiler of the
generated code must reload it after every store to ``out`` unless it can
prove the two never overlap. The kernel language can: distinct tensor
arguments that overlap are unspecified (DESIGN.md), so a load whose index
reads nothing the loop assigns, from a tensor the loop never writes -- nor one
that may legally be the same array as a written one (an in-place update,
:mod:`.aliases`) -- is read once before the loop.

Only loads proven in range (no run-time check: ``lower_index`` decided) move,
and only into an ``if`` that holds when the loop runs at least once: a loop
of zero iterations reads nothing, as in Python.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from ...dtypes import bool_
from .. import ir
from . import aliases


def hoist_loads(k: ir.Kernel) -> ir.Kernel:
    """``k`` with loop-invariant, in-range loads of ``range`` loops hoisted."""
    taken = ir.bound_names(k.body) | ir.read_names(k.body) | {p.name for p in k.params}
    h = _Hoister(taken, aliases.pairs(k)[0])
    body = h.stmts(k.body)
    if not h.new_locals:
        return k
    return replace(k, body=body, locals=tuple(sorted(k.locals + tuple(h.new_locals))))


class _Hoister:
    def __init__(self, taken: set, may_alias: list):
        self.taken = taken
        self.may_alias = may_alias            # (output, tensor) pairs one array may be
        self.new_locals: list = []
        self.counter = itertools.count()

    def stmts(self, stmts: tuple) -> tuple:
        out: list = []
        for s in stmts:
            out.extend(self.stmt(s))
        return tuple(out)

    def stmt(self, s: ir.Stmt) -> list:
        if isinstance(s, ir.If):
            return [replace(s, body=self.stmts(s.body), orelse=self.stmts(s.orelse))]
        if isinstance(s, (ir.While, ir.Grid)):
            return [replace(s, body=self.stmts(s.body))]
        if isinstance(s, ir.For):
            loop = replace(s, body=self.stmts(s.body))       # inner loops first
            return self.hoist(loop)
        return [s]

    def hoist(self, loop: ir.For) -> list:
        assigned = ir.bound_names(loop.body) | {loop.var}     # grid variables too
        written = {n.tensor for n in ir.walk_stmts(loop.body)
                   if isinstance(n, (ir.Store, ir.Atomic))}
        written |= {b for a, b in self.may_alias if a in written} | \
            {a for a, b in self.may_alias if b in written}
        found: dict = {}                                       # load -> local name

        def visit(e: ir.Expr) -> ir.Expr:
            if isinstance(e, ir.Load) and not e.checks and e.tensor not in written and \
                    not _reads(e, assigned):
                if e not in found:
                    found[e] = self.fresh(e)
                return ir.Name(e.loc, e.type, found[e])
            return e
        body = ir.map_exprs(loop.body, visit)
        if not found:
            return [loop]
        runs = _runs_once(loop)
        loads = tuple(ir.Assign(e.loc, name, e) for e, name in found.items())
        return [ir.If(loop.loc, runs, loads, ()), replace(loop, body=body)]

    def fresh(self, e: ir.Load) -> str:
        while True:
            name = f"{e.tensor}_inv{next(self.counter)}"
            if name not in self.taken:
                self.taken.add(name)
                self.new_locals.append((name, e.type))
                return name


def _reads(e: ir.Expr, names: set) -> bool:
    return any(isinstance(n, ir.Name) and n.id in names for n in ir.walk(e))


def _runs_once(loop: ir.For) -> ir.Expr:
    """``start < stop`` (``>`` for a negative step): the loop's first iteration runs."""
    step = loop.step
    if isinstance(step, ir.Const):
        op = "<" if step.value > 0 else ">"
        return ir.Compare(loop.loc, bool_, op, loop.start, loop.stop)
    zero = ir.Const(loop.loc, step.type, 0)
    up = ir.Compare(loop.loc, bool_, "<", loop.start, loop.stop)
    down = ir.Compare(loop.loc, bool_, ">", loop.start, loop.stop)
    return ir.Select(loop.loc, bool_, ir.Compare(loop.loc, bool_, ">", step, zero), up, down)
