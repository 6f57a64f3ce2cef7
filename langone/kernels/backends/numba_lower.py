"""Target lowering for numba: final typed IR -> the IR :mod:`.numba_render` prints.

The renderer maps each node to one Python construct; every decision about
meaning or speed is made here, on IR, in this order:

1. **Names.** Identifiers that collide with the generated module's names are
   renamed; a grid's private locals that also occur elsewhere get a per-grid
   suffix (numba's ``prange`` treats a variable assigned in the loop and used
   outside it as a reduction or a live-out), and a reduction variable is,
   inside its grid, a per-iteration lane ``_k_<var>_lane``.
2. **Grids.** The parallel function runs the outermost grid dimension as a
   ``prange`` (an IR :class:`~langone.kernels.ir.Grid` of one variable); every
   other loop is a plain ``For``. Each grid there is a run-time choice: the
   ``prange`` when the launch's estimated work (:func:`grid_work`: iterations
   times one iteration's cost, inner trip counts evaluated before the grid)
   reaches the ``_k_pwork`` argument, else the serial function's loops (their
   names renamed), so a small grid inside a time-step loop pays no parallel
   region per step. Grids with reductions are split into
   :data:`REDUCTION_CHUNKS` chunks whose partials land in a small array and are
   combined in order afterwards (:mod:`..passes.lower_reductions`): numba's own
   prange reduction inference is not relied on. Row accumulations get the loop
   interchange of :mod:`.interchange` behind a run-time row-length test.
   Half tensors that a grid atomically adds into get an fp32 shadow (the
   reference accumulates halves in fp32 and rounds once).
3. **Sequential accumulators** (:func:`loop_accumulators`) become IEEE
   min/max intrinsics, or reassociable adds with ``fastmath``.
4. **Accesses.** Run-time checked axes become ``check_index`` calls (in the
   parallel function, ``check_index_p`` recording into ``_k_err``: no raise
   inside ``prange``), checked power exponents ``check_exponent`` (``_p``)
   calls; tensor indices are cast to unsigned (``_ix``: numba
   then skips negative-index wrap-around, which would stop vectorization).
5. **Operations.** Each operation becomes what computes it in numba: numba
   widens small integers to int64, so narrow integer results are wrapped
   (``np.int32(a + b)`` truncates = wraps like numpy); fp16/bf16 tensors
   arrive as uint16 bits, so loads convert to fp32 and stores and casts round
   (``numba_math``); intrinsics become their numba functions.

6. **Allocations** inside loops but outside any ``prange`` are made once per
   call (:func:`hoist_allocs`): local arrays at the function's top, scratch
   rows there too, grown where they were allocated.

After this, a ``Call``'s ``fn`` is the Python callable to print, casts are
calls, and no node carries an implicit rule.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields, replace
from typing import Any, Callable

from ...dtypes import DType, bool_, fp32, fp64, int64, uint64
from .. import ir
from ..passes import lower_atomics, lower_pow, lower_range, lower_reductions as red, resources
from . import interchange, row_jam

#: Names the generated module defines; kernel names colliding with them are renamed.
RESERVED = {"np", "math", "_m", "_ix", "njit", "prange", "range", "min", "max", "abs", "_JIT"}

#: Chunks of a parallel reduction (a constant: numba cannot cache a function
#: that asks for the thread count, and 256 partials cost nothing to combine).
REDUCTION_CHUNKS = 256

#: int64 operations that may overflow (passes/lower_wrap), as wrapping intrinsics.
_WRAPPING = {"+": "_m.wadd", "-": "_m.wsub", "*": "_m.wmul"}

#: The error record argument of a parallel function with checked accesses.
ERR = "_k_err"

#: The parallel function's argument that says how much estimated work (ns on one
#: thread) a grid launch needs to run as a ``prange``: each grid decides at run time.
PWORK = "_k_pwork"

#: One thread's time per unit of work (ns, vectorized loops, fitted here): per byte
#: moved, per transcendental, per flop or call, per loop iteration.
NS_PER_BYTE, NS_PER_TRANSCENDENTAL, NS_PER_FLOP, NS_PER_ITERATION = 0.01, 0.6, 0.05, 0.05


def is_half(t: Any) -> bool:
    return isinstance(t, DType) and t.is_floating and t.itemsize == 2


def _held(t: Any) -> Any:
    """The type a local of type ``t`` is held in here (halves in fp32)."""
    return fp32 if is_half(t) else t


def _half(t: DType) -> str:
    return "f16" if t.name == "fp16" else "bf16"


# --- what the module holds ---------------------------------------------------------------

def uses_atomics(k: ir.Kernel) -> bool:
    return any(isinstance(n, ir.Atomic) for n in ir.walk(k))


def uses_checks(k: ir.Kernel) -> bool:
    """Whether some access is range-checked, or some integer power's exponent
    checked, at run time (raises from compiled code)."""
    return any(ir.may_raise(n) for n in ir.walk(k))


def has_parallel_variant(k: ir.Kernel, options: dict) -> bool:
    """Whether the module has a ``parallel=True`` function: kernels with grids,
    unless they use atomics (numba has no atomics in ``prange``) or
    ``debug=True`` (bounds errors are simplest to raise from one thread)."""
    has_grid = any(isinstance(s, ir.Grid) for s in ir.walk(k))
    return has_grid and not uses_atomics(k) and not options.get("debug")


def function_names(k: ir.Kernel) -> tuple[str, str]:
    return f"{k.name}_serial", f"{k.name}_parallel"


@dataclass(frozen=True)
class LoweredModule:
    """What :func:`.numba_render.render_module` prints.

    Attributes:
        kernel: the final typed IR (shown in the module's header).
        serial: the serial function's lowered IR.
        parallel: the parallel function's, or None with ``serial_only`` saying why.
        sites: messages of the parallel function's checked accesses, by site number.
    """

    kernel: ir.Kernel
    serial: ir.Kernel
    parallel: ir.Kernel | None
    serial_only: str
    sites: tuple


def lower_module(k: ir.Kernel, options: dict) -> LoweredModule:
    """Both functions of kernel ``k``'s module, lowered."""
    serial, _ = lower(k, options, parallel=False)
    if not has_parallel_variant(k, options):
        why = "atomics" if uses_atomics(k) else \
            "debug=True" if options.get("debug") else "no lo.grid"
        return LoweredModule(k, serial, None, why, ())
    parallel, sites = lower(k, options, parallel=True)
    return LoweredModule(k, serial, parallel, "", sites)


def parallel_sites(k: ir.Kernel, options: dict) -> tuple:
    """``(kind, message)`` of the parallel function's checked accesses, exponents
    and steps, by site number (what ``check_index_p`` / ``check_exponent_p`` /
    ``step_stop_p`` record; the launcher raises with them). ``options``: the
    kernel's own, which decide how it is lowered and so the numbering."""
    if not uses_checks(k) or not has_parallel_variant(k, options):
        return ()
    return lower(k, options, parallel=True)[1]


def lower(k: ir.Kernel, options: dict, parallel: bool) -> tuple[ir.Kernel, tuple]:
    """One function's lowered kernel and its check sites (see the module doc)."""
    return _Lowering(k, options, parallel).run()


# --- generic rebuilding ---------------------------------------------------------------------

def map_body(stmts: tuple, fn: Callable[[ir.Stmt], list]) -> tuple:
    """Rebuild statements bottom-up: nested bodies first, then ``fn(stmt)``,
    which returns the statements that replace it."""
    out: list = []
    for s in stmts:
        changes = {f: map_body(getattr(s, f), fn) for f in ("body", "orelse")
                   if hasattr(s, f)}
        out += fn(replace(s, **changes) if changes else s)
    return tuple(out)


def map_own_exprs(s: ir.Stmt, fn) -> ir.Stmt:
    """``s`` with ``fn`` applied bottom-up to its own expressions (not to the
    statements of its bodies)."""
    changes = {}
    for f in fields(s):
        v = getattr(s, f.name)
        if isinstance(v, ir.Expr):
            changes[f.name] = ir.map_exprs(v, fn)
        elif f.name not in ("body", "orelse") and isinstance(v, tuple) and v and \
                all(isinstance(x, ir.Expr) for x in v):
            changes[f.name] = tuple(ir.map_exprs(x, fn) for x in v)
    return replace(s, **changes) if changes else s


def _all_names(stmts) -> set:
    return ir.read_names(stmts) | ir.bound_names(stmts)


def _names_outside(stmts, g: ir.Grid) -> set:
    """Names read or bound anywhere in ``stmts`` but inside grid ``g``."""
    out: set = set()
    for s in stmts:
        if s is g:
            continue
        if any(n is g for n in ir.walk(s)):        # g sits in this loop or if
            own = {f: getattr(s, f) for f in ("body", "orelse") if hasattr(s, f)}
            rest = replace(s, **{f: () for f in own})
            out |= _all_names((rest,))
            for body in own.values():
                out |= _names_outside(body, g)
        else:
            out |= _all_names((s,))
    return out


def base_names(k: ir.Kernel) -> dict:
    """IR name -> a Python identifier that no generated name can collide with."""
    taken = _all_names(k.body) | {p.name for p in k.params}
    out = {}
    for n in sorted(taken):
        new = n
        while new in RESERVED or new.startswith("_k") or (new != n and new in taken):
            new += "_"
        out[n] = new
    return out


def _name(n: str, t: Any = int64) -> ir.Name:
    return ir.Name(ir.NOLOC, t, n)


def _int(v: int) -> ir.Const:
    return ir.Const(ir.NOLOC, int64, v)


def _call(fn: str, t: Any, *args: ir.Expr) -> ir.Call:
    return ir.Call(args[0].loc if args else ir.NOLOC, t, fn, tuple(args))


def _loop(var: str, stop: ir.Expr, body, start: ir.Expr | None = None) -> ir.For:
    return ir.For(ir.NOLOC, var, start or _int(0), stop, _int(1), tuple(body))


def _acc(var: str) -> str:
    """A reduction's accumulator (of a chunk, in the parallel function)."""
    return f"_k_{var}_acc"


def _part(var: str) -> str:
    """A reduction's partials array: one accumulator per chunk."""
    return f"_k_{var}_part"


def _tot(var: str) -> str:
    """A reduction's total over the chunks."""
    return f"_k_{var}_tot"


# --- sequential-loop accumulators -------------------------------------------------------------

_ACC_FN = {"+": "radd", "*": "rmul", "max": "maxnum", "min": "minnum",
           "maximum": "fmaximum", "minimum": "fminimum"}


def loop_accumulators(body: tuple, types: dict, fastmath: bool = False) -> dict:
    """Float accumulators of a sequential loop: ``acc = acc + e``, ``acc * e``,
    ``max(acc, e)``, ``maximum(acc, e)`` (and min) as a direct statement of
    the body, with ``acc`` used nowhere else in the loop.

    Their updates become IEEE min/max intrinsics, so LLVM can vectorize the
    loop; min/max are exact in any order. Sums and products keep Python's
    order (bit-identical to the python backend) unless the kernel opts in
    with ``fastmath=True`` or the loop with ``lo.range(..., reassociate=True)``
    (the ``fastmath`` argument here): then they become reassociable adds (``radd``)
    and vectorize like any parallel reduction. Python's ``max(acc, e)``
    keeps its meaning (a NaN ``e`` is skipped; a NaN ``acc`` is restored
    after the loop). Returns ``{id(stmt): (helper, operand)}``.
    """
    found = {}
    for s in body:
        if not getattr(types.get(getattr(s, "target", None)), "is_floating", False):
            continue
        update = ir.accumulation(s)
        if update is None:
            continue
        op, _, other = update
        if op not in _ACC_FN or (op in ("+", "*") and not fastmath):
            continue                    # an in-order chain: Python's meaning
        acc = s.target
        uses = sum(1 for n in ir.walk_stmts(body)
                   if (isinstance(n, ir.Name) and n.id == acc) or
                   (isinstance(n, ir.Assign) and n.target == acc) or
                   (isinstance(n, ir.For) and n.var == acc))
        if uses == 2:                   # its own read and its own write, nothing else
            found[id(s)] = (_ACC_FN[op], other)
    return found


def in_order_sums(s: ir.For, types: dict, alone: bool = False) -> dict:
    """The float sums and products of a unit-step loop worth splitting off
    (:meth:`_Lowering.fission`): ``acc = acc + e`` (``-``, ``*``) as a direct
    statement, ``acc`` used nowhere else in the loop, beside work that would
    vectorize (a store or a transcendental), or ``alone`` where :mod:`.row_jam`
    will interleave the sum with other iterations', in a body every iteration
    runs to its end (no ``break``/``continue``/``while``).
    Returns ``{id(stmt): (operator, term)}``."""
    if not (isinstance(s.step, ir.Const) and s.step.value == 1) or \
            len(s.body) < (1 if alone else 2) or \
            any(isinstance(n, (ir.Break, ir.Continue, ir.While)) for n in ir.walk_stmts(s.body)):
        return {}
    found = {}
    for b in s.body:
        update = ir.accumulation(b)
        if update is None or update[0] not in ("+", "-", "*") or \
                not getattr(types.get(b.target), "is_floating", False):
            continue
        uses = sum(1 for n in ir.walk_stmts(s.body)
                   if (isinstance(n, ir.Name) and n.id == b.target) or
                   (isinstance(n, ir.Assign) and n.target == b.target))
        if uses == 2 and b.target != s.var:
            found[id(b)] = (update[0], update[2])
    rest = [b for b in s.body if id(b) not in found]
    return found if alone or any(_vector_work(b) for b in rest) else {}


def _vector_work(s: ir.Stmt) -> bool:
    """Whether ``s`` does what pays for a split: a store or a transcendental
    (a sum beside mere arithmetic is latency-bound either way)."""
    return any(isinstance(n, ir.Store) or (isinstance(n, ir.Call) and n.fn in ir.TRANSCENDENTALS)
               for n in ir.walk(s))



# --- the work of a grid launch -----------------------------------------------------------------

def work_ns(w: resources.Work) -> ir.Expr:
    """An fp64 expression: the estimated time (ns, one thread) of the statements
    whose work is ``w``, their inner loops' trip counts evaluated at run time."""
    own = round(NS_PER_BYTE * w.bytes + NS_PER_TRANSCENDENTAL * w.transcendentals +
                NS_PER_FLOP * w.flops + NS_PER_ITERATION, 6)
    total: ir.Expr = ir.Const(ir.NOLOC, fp64, own)
    for trip, body in w.loops:
        inner = work_ns(body)
        n = trip if trip is not None else _int(resources.UNKNOWN_TRIP)
        if isinstance(n, ir.Const) and isinstance(inner, ir.Const):
            term: ir.Expr = ir.Const(ir.NOLOC, fp64, round(n.value * inner.value, 6))
        else:
            term = ir.BinOp(ir.NOLOC, fp64, "*", n, inner)
        if isinstance(term, ir.Const) and isinstance(total, ir.Const):
            total = ir.Const(ir.NOLOC, fp64, round(total.value + term.value, 6))
        else:
            total = ir.BinOp(ir.NOLOC, fp64, "+", total, term)
    return total


def grid_work(g: ir.Grid, ext: list, arrays: dict) -> ir.Expr:
    """The estimated time (ns, one thread) of one launch of grid ``g``: its
    iterations (``ext``: the names of its extents) times one iteration's work."""
    work = work_ns(resources.iteration_work(g, arrays))
    for n in ext:
        work = ir.BinOp(ir.NOLOC, fp64, "*", work, _name(n))
    return work


# --- allocations out of loops ------------------------------------------------------------------

def hoist_allocs(body: tuple) -> tuple:
    """Allocations inside loops (but not inside a ``prange``, where each iteration
    needs its own) made once per call, at the top of the function:

    * a local array (``w = lo.zeros(4)`` in a grid: constant shape) is allocated
      there, when every allocation of its name has the same dtype and shape; its
      fill loop stays where it was, so each iteration starts from the same values
      (and an ``lo.empty`` one from unspecified ones, as before);
    * a 1-D scratch row (a fission's terms, an interchange's accumulator row:
      written before read, never asked its shape) starts empty there and grows
      where it was allocated: ``if buf.shape[0] < n: buf = np.empty(n)``.

    ``np.empty`` per grid iteration inside a time-step loop cost more than the
    loops it fed (nbody)."""
    in_prange = {n.name for g in ir.walk_stmts(body) if isinstance(g, ir.Grid)
                 for n in ir.walk_stmts(g.body) if isinstance(n, ir.Alloc)}
    allocs: dict = {}
    for n in ir.walk_stmts(body):
        if isinstance(n, ir.Alloc):
            allocs.setdefault(n.name, set()).add((n.dtype, n.shape, n.local))
    asked = {n.tensor for n in ir.walk_stmts(body) if isinstance(n, ir.Shape)}
    top: dict = {}

    def movable(a: ir.Alloc) -> bool:
        if a.name in in_prange or len(allocs[a.name]) != 1:
            return False
        if a.local:
            return all(isinstance(x, ir.Const) for x in a.shape)
        return len(a.shape) == 1 and a.name not in asked

    def visit(stmts: tuple, in_loop: bool) -> tuple:
        out: list = []
        for st in stmts:
            if isinstance(st, ir.Alloc) and in_loop and movable(st):
                if st.local:
                    top[st.name] = st
                    continue
                top[st.name] = replace(st, shape=(_int(0),))
                size = ir.Shape(st.loc, int64, st.name, 0)
                out.append(ir.If(st.loc, ir.Compare(st.loc, bool_, "<", size, st.shape[0]),
                                 (st,), ()))
                continue
            if isinstance(st, ir.Grid):
                out.append(st)
                continue
            loop = in_loop or isinstance(st, (ir.For, ir.While))
            out.append(replace(st, **{f: visit(getattr(st, f), loop)
                                      for f in ("body", "orelse") if hasattr(st, f)}))
        return tuple(out)

    body = visit(body, False)
    return (*top.values(), *body)


# --- the lowering ---------------------------------------------------------------------------

class _Lowering:
    """One function (serial or parallel) of a typed kernel, lowered."""

    def __init__(self, k: ir.Kernel, options: dict, parallel: bool):
        self.names = base_names(k)
        self.original = {new: old for old, new in self.names.items()}
        self.k = replace(k, params=ir.rename(k.params, self.names),
                         body=ir.rename(k.body, self.names))
        self.parallel = parallel
        self.fastmath = bool(options.get("fastmath"))
        self.types = {self.names.get(n, n): t for n, t in k.locals}
        self.arrays = {p.name: p.type.dtype for p in self.k.params if p.is_tensor}
        self.tensors = set(self.arrays)            # the kernel's, not local arrays
        self.local_shapes = {n.name: n.shape for n in ir.walk(k)     # the user's local arrays
                             if isinstance(n, ir.Alloc) and n.local}
        self.sites: list[tuple[str, str]] = []     # (kind, message) per check site
        self.temp = itertools.count()
        self.sum_loops: dict = {}      # id(a fission's in-order sum loop) -> row_jam.SumLoop
        self.jam_loops: set = set()    # loops (loc, var) whose sums row_jam will interleave
        self.in_prange = False         # lowering the body of a prange

    def run(self) -> tuple[ir.Kernel, tuple]:
        body = map_body(tuple(self.host(self.k.body, itertools.count())), self.select_stmt)
        body = hoist_allocs(body)
        params = self.k.params
        if self.parallel:
            params += (ir.Param(PWORK),)
        if self.parallel and uses_checks(self.k):
            params += (ir.Param(ERR),)
        return replace(self.k, params=params, body=body), tuple(self.sites)

    def host(self, stmts: tuple, grids) -> list:
        """Host statements: each grid lowered (also one inside a sequential loop or
        an ``if``: a time step), every other statement's accumulators chosen."""
        out: list = []
        for s in stmts:
            if isinstance(s, ir.Grid):
                out += self.grid(s, next(grids))
            elif any(isinstance(n, ir.Grid) for n in ir.walk(s)):
                out.append(replace(s, **{f: tuple(self.host(getattr(s, f), grids))
                                         for f in ("body", "orelse") if hasattr(s, f)}))
            else:
                out += self.accumulate((s,))
        return out

    # -- 1-2. grids ------------------------------------------------------------------------
    def grid(self, g: ir.Grid, g_no: int) -> list:
        """A grid: in the serial function its loops; in the parallel one a run-time
        choice between a ``prange`` and the serial loops, by the launch's
        estimated work (:func:`grid_work`) against :data:`PWORK`."""
        self.g_no = g_no
        g = self.privatize(g, g_no)
        ext = [f"_k_n{i}" for i in range(len(g.vars))]
        out: list = [ir.Comment(g.loc, self.describe(g))]
        out += [ir.Assign(g.loc, n, x) for n, x in zip(ext, g.extents)]
        opened, closed = self.shadows(g)
        if not self.parallel:
            return out + opened + self.grid_loops(g, ext) + closed
        work = grid_work(g, ext, {t: self.arrays[t] for t in self.tensors})
        threads = self.grid_loops(g, ext)
        self.parallel = False
        try:
            alone = self.one_thread(self.grid_loops(g, ext), g)
        finally:
            self.parallel = True
        worth = ir.Compare(g.loc, bool_, ">=", work, _name(PWORK, fp64))
        note = ir.Comment(g.loc, "threads when the launch's estimated work (ns) pays "
                                 "for a parallel region")
        return out + opened + [note, ir.If(g.loc, worth, tuple(threads), tuple(alone))] + closed

    def grid_loops(self, g: ir.Grid, ext: list) -> list:
        """The loops of grid ``g`` (a ``prange`` when ``self.parallel``)."""
        rows = interchange.match(g, self.types)
        if self.parallel and not g.reductions and rows is None:
            self.jam_loops = row_jam.candidates(g)
        self.in_prange = self.parallel
        try:
            g = replace(g, body=self.accumulate(map_body(g.body, self.to_shadow)))
        finally:
            self.in_prange = False
        self.jam_loops = set()
        if g.reductions:
            return self.reduction(g, ext)
        if rows is not None:         # short rows: the k loop vectorizes better as it is
            longer = ir.Compare(g.loc, bool_, ">=", _name(ext[-1]), _int(interchange.MIN_ROW))
            return [ir.If(g.loc, longer, tuple(self.interchanged(g, rows, ext)),
                          tuple(self.loops(g, ext, g.body, self.parallel)))]
        if self.parallel and (jp := row_jam.plan(g, self.sum_loops, self.types)) is not None:
            return row_jam.jam(g, jp, ext[0], self.types, _held)
        return self.loops(g, ext, g.body, self.parallel)

    def one_thread(self, stmts: list, g: ir.Grid) -> list:
        """The serial loops of grid ``g`` beside its ``prange``: their names renamed
        (``_ks<grid>_<name>``), as numba takes a name assigned in a ``prange`` and
        used elsewhere for a reduction; reduction variables keep theirs."""
        keep = {r.var for r in g.reductions}
        names = (ir.assigned_names(stmts) | ir.bound_names(stmts) |
                 {n.name for n in ir.walk_stmts(stmts) if isinstance(n, ir.Alloc)}) - keep
        scope = {n: f"_ks{self.g_no}_{n}" for n in names}
        self.types.update({new: self.types[old] for old, new in scope.items()
                           if old in self.types})
        self.local_shapes.update({new: self.local_shapes[old] for old, new in scope.items()
                                  if old in self.local_shapes})
        return list(ir.rename(tuple(stmts), scope))

    def privatize(self, g: ir.Grid, g_no: int) -> ir.Grid:
        """Per-grid names for the grid's locals used elsewhere, and lanes."""
        outside = _names_outside(self.k.body, g)
        reduced = {r.var for r in g.reductions}
        scope = {n: f"{n}_g{g_no}" for n in (ir.assigned_names(g.body) | set(g.vars)) & outside
                 if n not in reduced}
        scope.update({v: self.lane(v) for v in reduced})
        self.types.update({new: self.types[old] for old, new in scope.items()
                           if old in self.types})
        return replace(g, vars=tuple(scope.get(v, v) for v in g.vars),
                       body=ir.rename(g.body, scope))

    @staticmethod
    def lane(var: str) -> str:
        return f"_k_{var}_lane"

    @staticmethod
    def describe(g: ir.Grid) -> str:
        where = f"line {g.loc.line}" if g.loc.line else "grid"
        return f"lo.grid ({where}): " + \
            ", ".join(f"{v} < {ir.fmt_expr(x)}" for v, x in zip(g.vars, g.extents)) + \
            "".join(f"; reduce {r.op}({r.var})" for r in g.reductions)

    def loops(self, g: ir.Grid, ext: list, body, parallel: bool, first=None) -> list:
        """Nested loops over the grid: the first a prange when ``parallel``, or
        over ``first`` (a chunk's start and stop) when given."""
        for v, n in reversed(list(zip(g.vars[1:], ext[1:]))):
            body = (_loop(v, _name(n), body),)
        if parallel:
            return [ir.Grid(g.loc, g.vars[:1], (_name(ext[0]),), tuple(body))]
        start, stop = first or (None, _name(ext[0]))
        return [_loop(g.vars[0], stop, body, start)]

    def chunked(self, total: str, body_of) -> list:
        """``_k_nc`` chunks of ``range(total)`` in a prange: ``body_of(start, stop)``."""
        c, nc, n = _name("_k_c"), _name("_k_nc"), _name(total)

        def bound(i: ir.Expr) -> ir.Expr:
            return ir.BinOp(ir.NOLOC, int64, "//", ir.BinOp(ir.NOLOC, int64, "*", i, n), nc)
        stop = bound(ir.BinOp(ir.NOLOC, int64, "+", c, _int(1)))
        return [ir.Assign(ir.NOLOC, "_k_nc", _call("min", int64, n, _int(REDUCTION_CHUNKS))),
                ir.Grid(ir.NOLOC, ("_k_c",), (nc,), tuple(body_of(bound(c), stop)))]

    def interchanged(self, g: ir.Grid, m: interchange.RowAccumulation, ext: list) -> list:
        """A row accumulation with its ``k`` loop outside the innermost grid
        loop and one accumulator per ``j`` (see :mod:`.interchange`)."""
        row, t = f"_k_row{self.g_no}", self.types[m.acc]
        j, nj = g.vars[-1], _name(ext[-1])
        cell = ir.Load(ir.NOLOC, t, row, (_name(j),))
        update = ir.map_exprs(m.loop.body[0].value,
                              lambda e: cell if isinstance(e, ir.Name) and e.id == m.acc else e)
        inner: tuple = (
            _loop(j, nj, [ir.Store(ir.NOLOC, row, (_name(j),), m.init)]),
            replace(m.loop, body=(_loop(j, nj, [ir.Store(ir.NOLOC, row, (_name(j),), update)]),)),
            _loop(j, nj, [ir.Assign(ir.NOLOC, m.acc, cell), *self.accumulate(m.rest)]))
        for v, n in reversed(list(zip(g.vars[1:-1], ext[1:-1]))):
            inner = (_loop(v, _name(n), inner),)
        alloc = ir.Alloc(ir.NOLOC, row, fp32 if is_half(t) else t, (nj,))
        note = ir.Comment(ir.NOLOC, f"loop interchange: {m.loop.var} outside {j}, "
                                    f"one {m.acc} per {j}")
        if self.parallel:            # chunks of rows, one accumulator row per chunk
            return [note, *self.chunked(ext[0], lambda lo, hi: [
                alloc, _loop(g.vars[0], hi, inner, lo)])]
        return [note, alloc, _loop(g.vars[0], _name(ext[0]), inner)]

    def reduction(self, g: ir.Grid, ext: list) -> list:
        """Lanes folded into one accumulator per reduction (serial) or per chunk
        (parallel: :meth:`chunked_reduction`), merged with the values from
        before the grid."""
        reds = [(r, self.types[r.var]) for r in g.reductions]
        body = red.with_lanes(g.body, g.reductions, self.types, self.lane, _acc, self.fold)
        inits = [ir.Assign(ir.NOLOC, _acc(r.var), red.identity(r.op, t)) for r, t in reds]
        if self.parallel:
            return self.chunked_reduction(g, ext, body, inits, reds)
        return [*inits, *self.loops(g, ext, body, False), *self.merges(reds, _acc)]

    def chunked_reduction(self, g: ir.Grid, ext: list, body: tuple, inits: list,
                          reds: list) -> list:
        """One accumulator per chunk into a partials array, combined in order."""
        c = (_name("_k_c"),)
        parts = [ir.Alloc(ir.NOLOC, _part(r.var), t,
                          (_call("max", int64, _name("_k_nc"), _int(1)),)) for r, t in reds]
        count, chunks = self.chunked(ext[0], lambda lo, hi: [
            *inits, *self.loops(g, ext, body, False, (lo, hi)),
            *(ir.Store(ir.NOLOC, _part(r.var), c, _name(_acc(r.var), t)) for r, t in reds)])
        totals = [ir.Assign(ir.NOLOC, _tot(r.var), red.identity(r.op, t)) for r, t in reds]
        folds = [ir.Assign(ir.NOLOC, _tot(r.var), self.fold(
            r.op, t, _name(_tot(r.var), t), ir.Load(ir.NOLOC, t, _part(r.var), c)))
            for r, t in reds]
        return [count, *parts, chunks, *totals, _loop("_k_c", _name("_k_nc"), folds),
                *self.merges(reds, _tot)]

    @staticmethod
    def fold(op: str, t: DType, a: ir.Expr, b: ir.Expr) -> ir.Expr:
        base = ir.reduction_base(op)
        if base in ("sum", "prod") and t.is_floating:      # the lanes vectorize
            return _call("_m.radd" if base == "sum" else "_m.rmul", t, a, b)
        return red.lane_fold(op, t, a, b)

    @staticmethod
    def merges(reds: list, total) -> list:
        """Each reduction's ``total(var)`` merged into the variable itself."""
        return [ir.Assign(ir.NOLOC, r.var, red.merge(r.op, t, _name(r.var, t),
                                                     _name(total(r.var), t)))
                for r, t in reds]

    # -- fp32 shadows of half tensors ------------------------------------------------------
    @staticmethod
    def shadow_name(tensor: str) -> str:
        return f"_k_{tensor}_f32"

    def shadows(self, g: ir.Grid) -> tuple[list, list]:
        """The fp32 shadows of half tensors the grid atomically adds into: their
        allocations and copies in, and the copies back after the grid."""
        opened, closed = [], []
        for t in dict.fromkeys(n.tensor for n in ir.walk_stmts(g.body)
                               if isinstance(n, ir.Atomic) and is_half(self.arrays[n.tensor])):
            sh = self.shadow_name(t)
            self.arrays[sh] = fp32
            ndim = self.k.param(t).type.ndim
            opened += [ir.Alloc(ir.NOLOC, sh, fp32,
                                tuple(ir.Shape(ir.NOLOC, int64, t, a) for a in range(ndim))),
                       self.copy(t, sh, t, ndim)]
            closed.append(self.copy(sh, t, t, ndim))
        return opened, closed

    def copy(self, src: str, dst: str, shape_of: str, ndim: int) -> ir.Stmt:
        """``dst[...] = src[...]`` element by element (conversions come later)."""
        idx = tuple(_name(f"_k_a{a}") for a in range(ndim))
        body: Any = ir.Store(ir.NOLOC, dst, idx, ir.Load(ir.NOLOC, self.arrays[src], src, idx))
        for a in reversed(range(ndim)):
            body = _loop(f"_k_a{a}", ir.Shape(ir.NOLOC, int64, shape_of, a), [body])
        return body

    def to_shadow(self, s: ir.Stmt) -> list:
        if isinstance(s, ir.Atomic) and self.shadow_name(s.tensor) in self.arrays:
            return [replace(s, tensor=self.shadow_name(s.tensor))]
        return [s]

    # -- 3. sequential accumulators ------------------------------------------------------
    def accumulate(self, stmts: tuple) -> tuple:
        return map_body(tuple(stmts), self.loop_with_accumulators)

    def loop_with_accumulators(self, s: ir.Stmt) -> list:
        if not isinstance(s, ir.For):
            return [s]
        found = loop_accumulators(s.body, self.types, self.fastmath or s.reassociate)
        if not found:
            ordered = in_order_sums(s, self.types, alone=(s.loc, s.var) in self.jam_loops)
            return self.fission(s, ordered) if ordered and not \
                (self.fastmath or s.reassociate) else [s]
        before, after = [], []
        body = []
        for b in s.body:
            if id(b) in found:
                fn, other = found[id(b)]
                acc = _name(b.target, b.value.type)
                b = replace(b, value=_call(f"_m.{fn}", b.value.type, acc, other))
                if fn in ("maxnum", "minnum"):    # Python keeps a NaN accumulator; maxnum not
                    keep = _name(f"_k_{b.target}_{next(self.temp)}", acc.type)
                    before.append(ir.Assign(s.loc, keep.id, acc))
                    nan = ir.Compare(s.loc, bool_, "!=", keep, keep)
                    after.append(ir.Assign(s.loc, b.target,
                                           ir.Select(s.loc, acc.type, nan, keep, acc)))
            body.append(b)
        return [*before, replace(s, body=tuple(body)), *after]

    def fission(self, s: ir.For, ordered: dict) -> list:
        """Split off a loop's in-order float sums: the loop stores each term in
        a scratch row and a second loop adds them up in Python's order. The
        first loop (``exp``, stores, ...) then vectorizes; only the additions
        stay a scalar chain, bit-identical to the python backend."""
        # Generated names get their own prefixes (_k_n<i> are the grid's extents).
        loc, n = s.loc, _name(f"_k_trip{next(self.temp)}")
        slot = _name(f"_k_slot{next(self.temp)}")
        trip = ir.BinOp(loc, int64, "-", s.stop, s.start)
        out = [ir.Assign(loc, n.id, ir.Call(loc, int64, "max", (trip, _int(0)))),
               ir.Assign(loc, slot.id, _int(0))]
        body, sums = [], []
        for b in s.body:
            if id(b) not in ordered:
                body.append(b)
                continue
            op, term = ordered[id(b)]
            buf, t = f"_k_terms{next(self.temp)}", self.types[b.target]
            out.append(ir.Alloc(loc, buf, t, (n,)))
            body.append(ir.Store(b.loc, buf, (slot,), term))
            acc, j = _name(b.target, t), _name(f"_k_j{next(self.temp)}")
            add = ir.BinOp(b.loc, t, op, acc, ir.Load(b.loc, t, buf, (j,)))
            sums.append(_loop(j.id, n, [ir.Assign(b.loc, b.target, add)]))
            self.sum_loops[id(sums[-1])] = row_jam.SumLoop(b.target, buf, n.id, s)
        # The iteration's number, counted: the body may reassign the loop variable
        # or what the start reads, which Python's range ignores.
        body.append(ir.Assign(loc, slot.id, ir.BinOp(loc, int64, "+", slot, _int(1))))
        self.types.update({n.id: int64, slot.id: int64})
        return [*out, replace(s, body=tuple(body)), *sums]

    # -- 4-5. accesses and operations --------------------------------------------------------
    def select_stmt(self, s: ir.Stmt) -> list:
        if lower_atomics.needs_plain(s):      # serial here: the Python meaning, as it is
            t = self.arrays[s.tensor]
            old = s.target or f"_k_old{next(self.temp)}"
            plain = lower_atomics.plain(s, old, t, lower_atomics.held_type(t))
            return [x for p in plain for x in map_body((p,), self.select_stmt)]
        s = map_own_exprs(s, self.select)
        if isinstance(s, ir.For) and s.checked_step:
            return [self.check_step(s)]
        if isinstance(s, ir.Alloc):                       # halves are held in fp32
            s = replace(s, dtype=fp32 if is_half(s.dtype) else s.dtype)
            self.arrays[s.name] = s.dtype
        if not isinstance(s, (ir.Store, ir.Atomic)):
            return [s]
        t = self.arrays[s.tensor]
        if isinstance(s, ir.Atomic) and is_half(t):    # outside a grid: round each add
            load = self.select(ir.Load(s.loc, t, s.tensor, s.index, s.checks))
            s = ir.Store(s.loc, s.tensor, s.index, ir.BinOp(s.loc, fp32, "+", load, s.value),
                         s.checks)
        s = replace(s, index=self.index(s), checks=())
        if isinstance(s, ir.Atomic) and t is int64:
            return self.wrapping_add(s)
        if is_half(t):
            return [replace(s, value=_call(f"_m.f32_to_{_half(t)}", t, s.value))]
        if isinstance(s, ir.Atomic):
            return [replace(s, value=self.wrap(s.value, t))]
        return [s]

    @staticmethod
    def wrapping_add(s: ir.Atomic) -> list:
        """An int64 atomic add (serial here) as a wrapping add: numba's ``+=`` is
        no-signed-wrap. The index is computed once, into temporaries."""
        temps = [ir.Assign(s.loc, f"_k_at{axis}", ix) for axis, ix in enumerate(s.index)]
        index = tuple(_name(a.target) for a in temps)
        load = ir.Load(s.loc, int64, s.tensor, index)
        return [*temps, ir.Store(s.loc, s.tensor, index, _call("_m.wadd", int64, load, s.value))]

    def index(self, a) -> tuple:
        """An access's index: checked axes raise, tensor indices are unsigned."""
        local = self.local_shapes.get(a.tensor)      # a local array: constant sizes
        if a.tensor not in self.tensors and local is None:
            return a.index
        out = []
        for axis, ix in enumerate(a.index):
            if axis in a.checks:                    # decided by passes/lower_index
                size = local[axis] if local else ir.Shape(ix.loc, int64, a.tensor, axis)
                where = (f"{self.k.filename}:{a.loc.line}: index {{index}} is out of bounds "
                         f"for axis {axis} of {self.original.get(a.tensor, a.tensor)!r} "
                         f"with size {{size}} (in kernel {self.k.name!r})")
                if self.parallel:
                    self.sites.append(("index", where))
                    ix = _call("_m.check_index_p", int64, ix, size, _name(ERR),
                               _int(len(self.sites)))
                else:
                    ix = _call("_m.check_index", int64, ix, size, ir.Const(ix.loc, None, where))
            out.append(_call("_ix", int64, ix))
        return tuple(out)

    def check_exponent(self, e: ir.BinOp, b: ir.Expr) -> ir.Expr:
        """A checked power's exponent (decided by passes/lower_pow): a negative
        one raises, or in the parallel function is recorded like an index."""
        where = lower_pow.message(self.k.filename, e.loc.line, self.k.name, "{exponent}")
        if self.parallel:
            self.sites.append(("exponent", where))
            return _call("_m.check_exponent_p", int64, b, _name(ERR), _int(len(self.sites)))
        return _call("_m.check_exponent", int64, b, ir.Const(e.loc, None, where))

    def check_step(self, s: ir.For) -> ir.For:
        """A loop whose step may be zero (decided by passes/lower_range): a zero
        step raises, or in the parallel function is recorded and the loop skipped
        (its stop becomes its start)."""
        where = lower_range.message(self.k.filename, s.loc.line, self.k.name)
        if self.parallel:
            self.sites.append(("step", where))
            stop = _call("_m.step_stop_p", int64, s.start, s.stop, s.step, _name(ERR),
                         _int(len(self.sites)))
            return replace(s, stop=stop, step=_call("_m.nonzero_step", int64, s.step),
                           checked_step=False)
        return replace(s, step=_call("_m.check_step", int64, s.step,
                                     ir.Const(s.loc, None, where)), checked_step=False)

    @staticmethod
    def wrap(e: ir.Expr, t: DType) -> ir.Expr:
        """Narrow integers: numba computes in 64 bits; truncating wraps like numpy."""
        if t.is_integer and t is not int64:
            return _call(f"np.{t.numpy.name}", t, e)
        return e

    def select(self, e: ir.Expr) -> ir.Expr:
        """The numba form of one (already lowered below) expression."""
        method = getattr(self, "select_" + type(e).__name__, None)
        return e if method is None else method(e)

    def select_Load(self, e: ir.Load) -> ir.Expr:
        if e.tensor not in self.tensors:
            return e                                 # a local array: raw values
        e = replace(e, index=self.index(e), checks=())
        return _call(f"_m.{_half(e.type)}_to_f32", e.type, e) if is_half(e.type) else e

    def select_BinOp(self, e: ir.BinOp) -> ir.Expr:
        t, op, a, b = e.type, e.op, e.left, e.right
        if t.is_floating:
            return _call("np.float32", t, e) if op == "**" and t is not fp64 else e
        if t.is_bool:                                    # & | ^ on booleans
            return e
        if op in ("<<", ">>"):
            if t is not int64 and t is not uint64:     # uint64 shifts stay logical
                a, b = _call("np.int64", int64, a), _call("np.int64", int64, b)
            if isinstance(e.right, ir.Const) and 0 <= e.right.value < t.bits:
                return self.wrap(replace(e, left=a, right=b), t)
            fn = "_m.shl" if op == "<<" else "_m.ushr" if t is uint64 else "_m.shr"
            return self.wrap(_call(fn, t, a, b, _int(t.bits)), t)
        if op == "**":
            b = _call("np.int64", int64, b)
            if e.checked:
                b = self.check_exponent(e, b)
            return self.wrap(_call("_m.ipow", t, _call("np.int64", int64, a), b), t)
        if op == "//" and t is int64:
            return _call("_m.floordiv_i64", t, a, b)
        if e.wraps:                                      # numba's own int64 ops are nsw
            return _call(_WRAPPING[op], t, a, b)
        return self.wrap(e, t)

    def select_UnaryOp(self, e: ir.UnaryOp) -> ir.Expr:
        if e.op == "~" and e.type.is_bool:
            return replace(e, op="not")
        if e.op == "+":
            return e.operand
        return self.wrap(e, e.type) if e.op != "not" else e

    def select_Call(self, e: ir.Call) -> ir.Expr:
        fn, t, x = e.fn, e.type, e.args[0] if e.args else None
        if fn in ("exp", "log", "sin", "cos", "tanh", "sigmoid", "erf"):
            name = f"_m.{fn}_f32" if t is not fp64 else \
                "_m.sigmoid_f64" if fn == "sigmoid" else f"math.{fn}"
            return replace(e, fn=name)
        if fn in ("sqrt", "floor", "ceil"):
            return replace(e, fn=f"np.{fn}")
        if fn in ("log1p", "expm1", "atan2", "hypot", "copysign"):
            return replace(e, fn=f"math.{fn}")           # libm's (the f version for fp32)
        if fn == "fmod":
            if t.is_floating:
                return replace(e, fn="np.fmod")
            a, b = e.args if t is uint64 else (_call("np.int64", int64, v) for v in e.args)
            return self.wrap(_call("_m.fmod_i", t, a, b), t)
        if fn == "abs":
            return self.wrap(e, t)
        if fn in ("min", "max"):
            return replace(e, fn=f"_m.py{fn}")
        if fn in ("minimum", "maximum"):
            return replace(e, fn=f"_m.np_{fn}" if t.is_floating else f"_m.py{fn[:3]}")
        if fn in ("isnan", "isinf"):
            return replace(e, fn=f"np.{fn}") if x.type.is_floating else \
                ir.Const(e.loc, bool_, False)
        if fn in ir.INTRINSICS:
            raise NotImplementedError(f"numba backend: intrinsic {fn!r}")
        return e                                      # already a numba function

    def select_Cast(self, e: ir.Cast) -> ir.Expr:
        t, s, v = e.type, e.value.type, e.value
        if t.is_bool:
            return ir.Compare(e.loc, bool_, "!=", v, ir.Const(e.loc, s, 0))
        if t.is_integer:
            if s.is_floating and t is not int64:
                v = _call("np.int64", int64, v)
            return _call(f"np.{t.numpy.name}", t, v)
        if is_half(t):
            if s.is_bool:
                v = _call("np.float32", fp32, v)
            elif s is not fp32 and not is_half(s):
                wide = v if s is fp64 else _call("np.float64", fp64, v)
                v = _call("_m.f64_to_f32_odd", fp32, wide)
            return _call(f"_m.round_{_half(t)}", t, v)
        if t is fp32 and is_half(s):
            return v
        return _call(f"np.{t.numpy.name}", t, v)
