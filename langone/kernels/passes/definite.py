"""Definite assignment (analysis only): every local is assigned on every path
before it is read.

Python raises ``UnboundLocalError`` at run time on a path that reads an
unassigned local; compiled backends would read garbage, so the kernel
language makes "may be used before assignment" a compile error at the read.
The rules are Python's, path by path: both branches of an ``if`` must assign a
name for it to be assigned after the ``if`` (a branch that ends in ``break``,
``continue`` or ``return`` does not fall through, so it does not count); a
loop body may run zero times, so what only a loop assigns is unassigned after
it, including the loop variable (but for a ``range`` with constant bounds that
runs at least once, whose variable stays assigned).

Example: ``if x[i] > 0: t = x[i]`` followed by ``out[i] = t`` is an error.
"""

from __future__ import annotations

from .. import ir

#: The set of every name: what a path that never falls through "assigns".
_ALL = None


def _runs(s: ir.For) -> bool:
    """Whether a ``range`` loop has constant bounds and at least one iteration."""
    vals = []
    for e in (s.start, s.stop, s.step):
        if isinstance(e, ir.UnaryOp) and e.op == "-" and isinstance(e.operand, ir.Const):
            vals.append(-e.operand.value)
        elif isinstance(e, ir.Const):
            vals.append(e.value)
        else:
            return False
    start, stop, step = vals
    return bool(step) and len(range(int(start), int(stop), int(step))) > 0


def _meet(a, b):
    if a is _ALL:
        return b
    if b is _ALL:
        return a
    return a & b


class _Checker:
    def __init__(self, info, kernel: ir.Kernel):
        self.info = info
        self.kernel = kernel

    def block(self, stmts: tuple, known: frozenset):
        """Names assigned after ``stmts`` on every path that falls through
        (``_ALL`` when no path does)."""
        for s in stmts:
            known = self.stmt(s, known)
            if known is _ALL:
                return _ALL
        return known

    def reads(self, e: ir.Expr, known: frozenset) -> None:
        for n in ir.walk(e):
            if isinstance(n, ir.Name) and n.id not in known:
                raise self.info.error(
                    n.loc, f"{n.id!r} may be used before assignment",
                    hint=f"assign {n.id} on every path before this line "
                         f"(e.g. {n.id} = 0 before the if or loop)")

    def stmt(self, s: ir.Stmt, known: frozenset):
        if isinstance(s, ir.Assign):
            self.reads(s.value, known)
            return known | {s.target}
        if isinstance(s, (ir.Store, ir.Atomic)):
            for e in (*s.index, getattr(s, "compare", None), s.value):
                if e is not None:
                    self.reads(e, known)
            return known | {s.target} if getattr(s, "target", "") else known
        if isinstance(s, ir.If):
            self.reads(s.cond, known)
            return _meet(self.block(s.body, known), self.block(s.orelse, known))
        if isinstance(s, ir.For):
            for e in (s.start, s.stop, s.step):
                self.reads(e, known)
            self.block(s.body, known | {s.var})
            # range(3) runs at least once: its variable stays assigned after it.
            return known | {s.var} if _runs(s) else known
        if isinstance(s, ir.While):
            self.reads(s.cond, known)
            self.block(s.body, known)
            return known
        if isinstance(s, ir.Grid):
            for e in s.extents:
                self.reads(e, known)
            self.block(s.body, known | set(s.vars))
            return known
        if isinstance(s, ir.Return):
            for v in s.items or ((s.value,) if s.value is not None else ()):
                self.reads(v, known)
            return _ALL
        if isinstance(s, ir.NewTensor):
            for e in (*s.shape, *((s.fill,) if s.fill is not None else ())):
                self.reads(e, known)
            return known | {s.name}
        if isinstance(s, (ir.Break, ir.Continue)):
            return _ALL
        raise TypeError(f"not a statement: {s!r}")


def check(k: ir.Kernel, info) -> str:
    """Raise a KernelCompileError at the first read that may see no value."""
    _Checker(info, k).block(k.body, frozenset(p.name for p in k.params))
    return "ok"
