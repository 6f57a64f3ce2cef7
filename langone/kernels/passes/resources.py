"""Resource estimate (analysis only): work and traffic per grid iteration.

The analyzer issue builds budgets and advice on this; here we count, per grid
and per iteration, floating-point operations, transcendental calls and bytes
loaded/stored, so ``estimate.evaluate(extents)`` gives totals for a launch.
Every grid counts, also one inside a sequential loop (a time step), which runs
once per step: ``GridEstimate.in_loop`` says so.

:func:`iteration_work` splits one iteration's work by loop: the statements' own
counts plus, per inner loop, its trip count (an expression a backend can
evaluate before the grid starts, where it is known then) times its body's work.
A backend weighs the counts into a time and decides at run time whether a
launch is worth a parallel region (``backends/numba_lower.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...dtypes import bool_
from .. import ir



@dataclass
class GridEstimate:
    loc: ir.Loc
    flops: int = 0                 # per iteration (loops counted once)
    transcendentals: int = 0
    bytes_loaded: int = 0
    bytes_stored: int = 0
    atomics: int = 0
    has_inner_loops: bool = False
    in_loop: bool = False          # inside a sequential loop: launched once per step


@dataclass
class ResourceEstimate:
    grids: list = field(default_factory=list)

    def evaluate(self, iterations: list[int]) -> dict:
        """Totals for a launch whose grids run ``iterations[g]`` iterations."""
        tot = {"flops": 0, "transcendentals": 0, "bytes": 0}
        for g, n in zip(self.grids, iterations):
            tot["flops"] += g.flops * n
            tot["transcendentals"] += g.transcendentals * n
            tot["bytes"] += (g.bytes_loaded + g.bytes_stored) * n
        tot["intensity"] = tot["flops"] / tot["bytes"] if tot["bytes"] else float("inf")
        return tot


def grids(stmts: tuple, in_loop: bool = False):
    """``(grid, in_loop)`` for every grid of ``stmts`` in order, also those inside
    sequential loops and ``if``s (``in_loop``: inside a ``for``/``while``)."""
    for s in stmts:
        if isinstance(s, ir.Grid):
            yield s, in_loop
            continue
        inner = in_loop or isinstance(s, (ir.For, ir.While))
        for f in ("body", "orelse"):
            yield from grids(getattr(s, f, ()), inner)


def estimate(k: ir.Kernel) -> ResourceEstimate:
    tensors = {p.name: p.type for p in k.params if p.is_tensor}
    est = ResourceEstimate()
    for s, in_loop in grids(k.body):
        g = GridEstimate(s.loc, in_loop=in_loop)
        for node in ir.walk(s):
            if isinstance(node, (ir.For, ir.While)):
                g.has_inner_loops = True
            elif isinstance(node, ir.BinOp) and node.type.is_floating:
                g.flops += 1
            elif isinstance(node, ir.Call):
                g.flops += 1
                g.transcendentals += node.fn in ir.TRANSCENDENTALS
            elif isinstance(node, (ir.Load, ir.Store)) and node.tensor not in tensors:
                continue                  # a local array: registers or stack, not memory
            elif isinstance(node, ir.Load):
                g.bytes_loaded += tensors[node.tensor].dtype.itemsize
            elif isinstance(node, ir.Store):
                g.bytes_stored += tensors[node.tensor].dtype.itemsize
            elif isinstance(node, ir.Atomic):
                g.atomics += 1
                g.bytes_stored += tensors[node.tensor].dtype.itemsize
        est.grids.append(g)
    return est


# --- one iteration's work, loop by loop ----------------------------------------------------

#: The trip count assumed for an inner loop whose count is not known before the grid
#: starts (a ``while``, or bounds that the grid itself computes).
UNKNOWN_TRIP = 8


@dataclass
class Work:
    """The work of one run of some statements: their own counts (not those of the
    loops among them) and, per inner loop, ``(trip, work of its body)``; ``trip`` is
    an int64 expression over names fixed before the grid, or None (unknown:
    :data:`UNKNOWN_TRIP`)."""

    flops: int = 0
    transcendentals: int = 0
    bytes: int = 0
    loops: list = field(default_factory=list)


def iteration_work(g: ir.Grid, tensors: dict) -> Work:
    """One iteration of grid ``g``, loop by loop. ``tensors``: name -> dtype of the
    arrays in memory (a name not in it is a local array: registers or stack)."""
    fixed = ir.bound_names(g.body) | set(g.vars)      # what the grid itself computes
    return _work(g.body, tensors, fixed)


def _work(stmts: tuple, tensors: dict, varying: set) -> Work:
    w = Work()

    def count(node) -> None:
        if isinstance(node, ir.BinOp) and node.type.is_floating:
            w.flops += 1
        elif isinstance(node, ir.Call):
            w.flops += 1
            w.transcendentals += node.fn in ir.TRANSCENDENTALS
        elif isinstance(node, (ir.Load, ir.Store, ir.Atomic)) and node.tensor in tensors:
            w.bytes += tensors[node.tensor].itemsize

    def visit(node) -> None:
        if isinstance(node, (ir.For, ir.While)):
            trip = _trip(node, varying) if isinstance(node, ir.For) else None
            for e in ((node.start, node.stop, node.step) if isinstance(node, ir.For)
                      else (node.cond,)):
                for n in ir.walk(e):
                    count(n)
            w.loops.append((trip, _work(node.body, tensors, varying)))
            return
        count(node)
        for c in ir.children(node):
            visit(c)

    for s in stmts:
        visit(s)
    return w


def _trip(s: ir.For, varying: set) -> ir.Expr | None:
    """The trip count of ``range(start, stop, step)`` as an expression over names
    fixed before the grid (never negative), or None. A start that the grid
    computes (``range(i + 1, n)``) counts half the stop: a triangle."""
    def fixed(e) -> bool:
        return all(not (isinstance(n, ir.Name) and n.id in varying) and
                   not isinstance(n, (ir.Load, ir.Call)) for n in ir.walk(e))
    if not (isinstance(s.step, ir.Const) and s.step.value == 1) or not fixed(s.stop):
        return None
    i64 = s.stop.type if getattr(s.stop.type, "is_integer", False) else None
    if i64 is None:
        return None
    zero = ir.Const(s.loc, i64, 0)
    if fixed(s.start):
        span = ir.BinOp(s.loc, i64, "-", s.stop, s.start)
    else:
        span = ir.BinOp(s.loc, i64, "//", s.stop, ir.Const(s.loc, i64, 2))
    return ir.Select(s.loc, i64, ir.Compare(s.loc, bool_, ">", span, zero), span, zero)
