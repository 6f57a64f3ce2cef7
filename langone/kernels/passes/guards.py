"""Bounds analysis: which accesses are proven in range, guarded at launch, or
checked at run time (the language's exception 6: out of range is an error).

Every tensor access's index gets an affine range (:mod:`.index_ranges`) from
the grid and ``range`` loops around it. Per axis of an access:

* a range that may be negative is *normalized* (Python: ``x[-1]`` is the last
  element), so a range ``[lo, hi]`` is in bounds iff ``size >= hi + 1`` and,
  when normalized, ``size >= -lo``;
* a bound that holds for every launch (``x[i - 1]`` for ``i in
  lo.grid(x.shape[0])``) needs nothing;
* a bound that does not, on an access that runs for every value of its range
  (not under ``if``, ``while``, a lazy operand, or a loop with ``break``),
  becomes a :class:`ShapeGuard`: the launcher compares a few numbers before
  every call and raises :class:`~langone.errors.KernelArgumentError` naming
  the argument, its shape and the line (``out[i + 1] = x[i]`` over
  ``lo.grid(x.shape[0])`` needs ``out.shape[0] >= x.shape[0] + 1``);
* everything else (data-dependent indices such as ``x[idx[i]]``, accesses
  that may not run) is range-checked in the generated code, unless the kernel
  says ``boundscheck=False``; ``debug=True`` checks every access.

The :mod:`.lower_index` pass applies the plan to the IR.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...dtypes import DType
from .. import ir
from .index_ranges import Affine, Interval, at_most, interval


@dataclass(frozen=True)
class ShapeGuard:
    """``tensor.shape[axis] >= need`` whenever every ``when`` affine is >= 1."""

    tensor: str
    axis: int
    need: Affine
    when: tuple
    line: int
    text: str                      # the access, e.g. "out[(i + 1)]", for the message
    context: str                   # the loops, e.g. "i in lo.grid(x.shape[0])"
    reach: Affine                  # the index that needs it (need - 1, or -need)


@dataclass(frozen=True)
class AccessPlan:
    """Axes of one access whose index is normalized / checked at run time."""

    normalize: tuple
    checks: tuple


@dataclass
class Plan:
    guards: tuple
    accesses: dict                 # id(Load/Store/Atomic node) -> AccessPlan


def shape_guards(k: ir.Kernel, options: dict | None = None) -> tuple:
    """The launch guards of a typed kernel. None for elementwise kernels (they
    broadcast) and with ``debug=True`` (every access is checked as it runs, so
    the error names the very index)."""
    if (options or {}).get("debug"):
        return ()
    return plan(k).guards


def plan(k: ir.Kernel, *, boundscheck: bool = True, debug: bool = False,
         launch_guards: bool = True) -> Plan:
    """The bounds plan of a typed kernel (see the module doc). Without
    ``launch_guards`` (a standalone Lua module: no launcher checks its
    arguments), what a guard would prove is checked at run time instead."""
    w = _Walker(k, boundscheck, debug, launch_guards)
    if k.kind != "elementwise":
        w.stmts(k.body, w.base_env(), (), (), False)
    return Plan(tuple(w.guards), w.accesses)


def _has_jump(stmts: tuple) -> bool:
    return any(isinstance(n, (ir.Break, ir.Continue)) for n in ir.walk_stmts(stmts))


class _Walker:
    """One pass over the kernel with the ranges of the variables in scope.

    ``when``: affines that are >= 1 whenever the current statement runs (loop
    trip counts); ``ctx``: the loops' text; ``cond``: whether the statement
    may run for only some values of the loop variables.
    """

    def __init__(self, k: ir.Kernel, boundscheck: bool, debug: bool,
                 launch_guards: bool = True):
        self.k = k
        self.boundscheck = boundscheck
        self.debug = debug
        self.launch_guards = launch_guards
        self.guards: list[ShapeGuard] = []
        self.accesses: dict = {}
        self.seen: set = set()
        self.local_sizes = {n.name: n.shape for n in ir.walk(k) if isinstance(n, ir.Alloc)}
        self.host_counts: dict = {}
        for n in ir.walk(k):
            for name in ((n.target,) if isinstance(n, ir.Assign) else (n.var,)
                         if isinstance(n, ir.For) else n.vars if isinstance(n, ir.Grid) else ()):
                self.host_counts[name] = self.host_counts.get(name, 0) + 1

    def base_env(self) -> dict:
        """Integer scalar parameters the kernel never assigns: launch-time symbols."""
        env = {}
        for p in self.k.params:
            if isinstance(p.type, DType) and p.type.is_integer and \
                    not self.host_counts.get(p.name):
                env[p.name] = Interval.point(Affine.symbol(("scalar", p.name)))
        return env

    # -- statements -----------------------------------------------------------------
    def stmts(self, stmts: tuple, env: dict, when: tuple, ctx: tuple, cond: bool) -> None:
        for s in stmts:
            self.stmt(s, env, when, ctx, cond)

    def stmt(self, s: ir.Stmt, env, when, ctx, cond) -> None:
        if isinstance(s, ir.Assign):
            self.expr(s.value, env, when, ctx, cond)
            if not ctx and not cond and self.host_counts.get(s.target) == 1:
                iv = interval(s.value, env)       # n = x.shape[0] before the grids
                if iv is not None and iv.is_point:
                    env[s.target] = iv
        elif isinstance(s, (ir.Store, ir.Atomic)):
            self.access(s, env, when, ctx, cond)
            if getattr(s, "compare", None) is not None:
                self.expr(s.compare, env, when, ctx, cond)
            self.expr(s.value, env, when, ctx, cond)
        elif isinstance(s, ir.If):
            self.expr(s.cond, env, when, ctx, cond)
            self.stmts(s.body, dict(env), when, ctx, True)
            self.stmts(s.orelse, dict(env), when, ctx, True)
        elif isinstance(s, ir.While):
            self.expr(s.cond, env, when, ctx, cond)
            self.stmts(s.body, dict(env), when, ctx, True)
        elif isinstance(s, ir.For):
            self.loop(s, env, when, ctx, cond)
        elif isinstance(s, ir.Grid):
            self.grid(s, env, when, ctx, cond)
        elif isinstance(s, ir.Return) and s.value is not None:
            self.expr(s.value, env, when, ctx, cond)

    def loop(self, s: ir.For, env, when, ctx, cond) -> None:
        for e in (s.start, s.stop, s.step):
            self.expr(e, env, when, ctx, cond)
        inner = dict(env)
        inner.pop(s.var, None)
        start, stop = interval(s.start, env), interval(s.stop, env)
        step = s.step.value if isinstance(s.step, ir.Const) else None
        exact = False
        if start is not None and stop is not None and step:
            if step > 0:
                inner[s.var] = Interval(start.lo, stop.hi - 1)
                trips = stop.lo - start.lo
            else:
                inner[s.var] = Interval(stop.lo + 1, start.hi)
                trips = start.lo - stop.lo
            exact = abs(step) == 1 and start.is_point and stop.is_point
            if exact:
                when = when + (trips,)
        if s.var in ir.bound_names(s.body):          # a grid reusing the name, too
            inner.pop(s.var, None)
        text = f"{s.var} in range({ir.fmt_expr(s.start)}, {ir.fmt_expr(s.stop)}" + \
            ("" if step == 1 else f", {ir.fmt_expr(s.step)}") + ")"
        self.stmts(s.body, inner, when, ctx + (text,),
                   cond or not exact or _has_jump(s.body))

    def grid(self, g: ir.Grid, env, when, ctx, cond) -> None:
        inner = dict(env)
        assigned = ir.assigned_names(g.body)
        exact = True
        for var, ext in zip(g.vars, g.extents):
            self.expr(ext, env, when, ctx, cond)
            iv = interval(ext, env)
            inner.pop(var, None)
            if iv is None or var in assigned:
                continue
            inner[var] = Interval(Affine(0), iv.hi - 1)
            if iv.is_point:
                when = when + (iv.lo,)
            else:
                exact = False
        text = f"{', '.join(g.vars)} in lo.grid(" + \
            ", ".join(ir.fmt_expr(x) for x in g.extents) + ")"
        self.stmts(g.body, inner, when, ctx + (text,), cond or not exact)

    # -- expressions ------------------------------------------------------------------
    def expr(self, e: ir.Expr, env, when, ctx, cond) -> None:
        """Visit the accesses in ``e``; operands evaluated lazily may not run."""
        if isinstance(e, ir.Load):
            self.access(e, env, when, ctx, cond)
            return
        if isinstance(e, ir.Select):
            self.expr(e.cond, env, when, ctx, cond)
            self.expr(e.a, env, when, ctx, True)
            self.expr(e.b, env, when, ctx, True)
            return
        if isinstance(e, ir.BoolOp):
            self.expr(e.values[0], env, when, ctx, cond)
            for v in e.values[1:]:
                self.expr(v, env, when, ctx, True)
            return
        for c in ir.children(e):
            self.expr(c, env, when, ctx, cond)

    def access(self, node, env, when, ctx, cond) -> None:
        for ix in node.index:
            self.expr(ix, env, when, ctx, cond)
        normalize, checks = [], []
        for axis, ix in enumerate(node.index):
            iv = interval(ix, env)
            if iv is None:
                normalize.append(axis)
                checks.append(axis)
                continue
            needs = [(iv.hi + 1, iv.hi)]
            if not iv.lo.nonneg():
                normalize.append(axis)
                needs.append((-iv.lo, iv.lo))
            local = self.local_sizes.get(node.tensor)     # a local array: no launch guard
            size = Affine(local[axis].value) if local else \
                Affine.symbol(("shape", node.tensor, axis))
            open_ = [(n, r) for n, r in needs if not at_most(n, size, when)]
            if open_ and (cond or not self.launch_guards or local):
                checks.append(axis)
            for need, reach in ([] if cond or local else open_):
                self.guard(node, axis, need, reach, when, ctx)
        if self.debug:
            checks = list(range(len(node.index)))
        elif not self.boundscheck:
            checks = []
        if normalize or checks:
            self.accesses[id(node)] = AccessPlan(tuple(normalize), tuple(checks))

    def guard(self, node, axis: int, need: Affine, reach: Affine, when, ctx) -> None:
        key = (node.tensor, axis, need, when)
        if key in self.seen:
            return
        self.seen.add(key)
        text = f"{node.tensor}[{', '.join(ir.fmt_expr(i) for i in node.index)}]"
        self.guards.append(ShapeGuard(node.tensor, axis, need, when, node.loc.line, text,
                                      ", ".join(ctx), reach))
