"""Typed IR -> Python source for numba: what ``kernel.source("numba")`` shows.

The module it writes holds two ``@njit`` functions per kernel:

* ``<name>_serial``: every loop is a plain ``range``;
* ``<name>_parallel`` (``parallel=True``): the outermost grid dimension is a
  ``prange``; grids with reductions are split into explicit chunks (one
  ``prange`` iteration each) whose partial results land in a small array and
  are combined in order afterwards -- numba's own prange reduction inference
  is not relied on.

Kernels with ``lo.atomic_add`` or compiled with ``debug=True`` get only the
serial function (numba has no atomics in ``prange``; bounds errors are
simplest to raise from one thread).

Exact IR semantics (see :mod:`langone.kernels.ir` and the numpy reference):

* every value has numba type == its IR compute type. numba widens small
  integers to int64, so narrow integer results are wrapped (``np.int32(a + b)``,
  which truncates = wraps like numpy); constants carry their type.
* fp16/bf16 tensors arrive as uint16 bits: loads convert to fp32, stores and
  casts round (``numba_math``); half-typed arithmetic runs in fp32.
* a reduction variable is, inside the grid, a per-iteration *lane* that starts
  at the identity; lanes are folded into the chunk accumulator with a
  NaN-propagating min/max (as the reference's ``np.min`` over lanes) or a
  reassociable add/multiply (so the loop vectorizes), and the total is merged
  with the value from before the grid with Python's semantics.
"""

from __future__ import annotations

import math
from typing import Any

from ...dtypes import DType, fp32, fp64, int64
from .. import ir
from . import interchange

#: Names the generated module defines; kernel names colliding with them are renamed.
_RESERVED = {"np", "math", "_m", "_ix", "njit", "prange", "range", "min", "max", "abs",
             "_JIT"}

#: Chunks of a parallel reduction (a constant: numba cannot cache a function
#: that asks for the thread count, and 256 partials cost nothing to combine).
REDUCTION_CHUNKS = 256

_FLOAT_CALLS = ("exp", "log", "sin", "cos", "tanh", "sigmoid", "erf")


def is_half(t: Any) -> bool:
    return isinstance(t, DType) and t.is_floating and t.itemsize == 2


def _np_name(t: DType) -> str:
    """The numpy scalar type a value of ``t`` is held in while computing."""
    return "float32" if is_half(t) else t.numpy.name


def _const(value: Any, t: DType) -> str:
    if t.is_bool:
        return "True" if value else "False"
    if t.is_integer:
        text = str(int(value))
        return text if t is int64 and value >= 0 else \
            (f"({text})" if t is int64 else f"np.{t.numpy.name}({text})")
    v = float(value)
    text = "np.inf" if v == math.inf else "-np.inf" if v == -math.inf else \
        "np.nan" if v != v else repr(v)
    return f"({text})" if t is fp64 and text.startswith("-") else \
        text if t is fp64 else f"np.float32({text})"


def identity(op: str, t: DType) -> str:
    """Source text of the reduction identity for ``op`` in type ``t``."""
    return _const(ir.reduction_identity(op, t), t)


def _lane_fold(op: str, t: DType, acc: str, lane: str) -> str:
    """Fold one iteration's lane into a chunk accumulator (vectorizable)."""
    if op == "sum":
        return f"_m.radd({acc}, {lane})" if t.is_floating else f"{acc} + {lane}"
    if op == "prod":
        return f"_m.rmul({acc}, {lane})" if t.is_floating else f"{acc} * {lane}"
    base = ir.reduction_base(op)
    if t.is_floating:        # Python max/min lanes never hold NaN: one fold for both
        return f"_m.f{'minimum' if base == 'min' else 'maximum'}({acc}, {lane})"
    return f"_m.py{base}({acc}, {lane})"


def _final_merge(op: str, t: DType, init: str, total: str) -> str:
    """Merge a grid's total into the value from before it (the reference's _combine)."""
    if op == "sum":
        return _wrap_int(f"{init} + {total}", t)
    if op == "prod":
        return _wrap_int(f"{init} * {total}", t)
    if op in ("maximum", "minimum") and t.is_floating:
        return f"_m.f{op}({init}, {total})"           # NaN propagates, as lo.maximum's
    return f"_m.py{ir.reduction_base(op)}({init}, {total})"


def _wrap_int(text: str, t: DType) -> str:
    """Narrow integers: numba computes in 64 bits; truncating wraps like numpy."""
    if t.is_integer and t is not int64:
        return f"np.{t.numpy.name}({text})"
    return f"({text})"


# --- sequential-loop accumulators -----------------------------------------------------------

_ACC_FN = {"+": "radd", "*": "rmul", "max": "maxnum", "min": "minnum",
           "maximum": "fmaximum", "minimum": "fminimum"}


def loop_accumulators(body: tuple, types: dict, fastmath: bool = False) -> dict:
    """Float accumulators of a sequential loop: ``acc = acc + e``, ``acc * e``,
    ``max(acc, e)``, ``maximum(acc, e)`` (and min) as a direct statement of
    the body, with ``acc`` used nowhere else in the loop.

    Their updates become IEEE min/max intrinsics, so LLVM can vectorize the
    loop; min/max are exact in any order. Sums and products keep Python's
    order (bit-identical to the python backend) unless the kernel opts in
    with ``fastmath=True``: then they become reassociable adds (``radd``)
    and vectorize like any parallel reduction. Python's
    ``max(acc, e)`` keeps its meaning (a NaN ``e`` is skipped; a NaN ``acc``
    is restored after the loop). Returns ``{id(stmt): (stmt, helper, operand)}``.
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
            found[id(s)] = (s, _ACC_FN[op], other)
    return found


# --- names ---------------------------------------------------------------------------

def _all_names(stmts) -> set:
    return ir.read_names(stmts) | ir.bound_names(stmts)


class _Names:
    """IR name -> Python identifier, with per-grid renaming.

    numba's prange treats a variable assigned in the loop and also used
    outside it as a reduction or a live-out; grid-private names that occur
    elsewhere in the kernel get a per-grid suffix so every grid's locals are
    private.
    """

    def __init__(self, k: ir.Kernel):
        taken = _all_names(k.body) | {p.name for p in k.params}
        self.base: dict[str, str] = {}
        for n in sorted(taken):
            new = n
            while new in _RESERVED or new.startswith("_k") or \
                    (new != n and new in taken):
                new += "_"
            self.base[n] = new
        self.scope: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        return self.scope.get(name) or self.base.get(name, name)


# --- the emitter ---------------------------------------------------------------------

class Emitter:
    """Writes one function (serial or parallel variant) of a typed kernel."""

    def __init__(self, k: ir.Kernel, options: dict, parallel: bool):
        self.k = k
        self.parallel = parallel
        self.debug = bool(options.get("debug"))
        self.fastmath = bool(options.get("fastmath"))
        self.tensors = {p.name: p.type for p in k.params if p.is_tensor}
        self.types = k.local_types
        self.names = _Names(k)
        self.lines: list[str] = []
        self.grid_no = 0
        self.shadow: dict[str, str] = {}      # half tensor -> its fp32 atomic shadow
        self.accumulators: dict[int, tuple] = {}   # id(Assign) -> (helper, operand)
        self.sites: list[str] = []            # parallel: messages of the checked accesses

    # -- output ------------------------------------------------------------------
    def put(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def function(self, fname: str) -> list[str]:
        params = ", ".join(self.names(p.name) for p in self.k.params)
        if self.parallel and uses_checks(self.k):
            params += ", _k_err"              # see check_index_p: no raise inside prange
        self.put(0, f"def {fname}({params}):")
        start = len(self.lines)
        self.block(self.k.body, 1)
        if len(self.lines) == start:
            self.put(1, "return None")
        return self.lines

    def block(self, stmts: tuple, depth: int) -> None:
        if not stmts:
            self.put(depth, "pass")
        for s in stmts:
            getattr(self, "s_" + type(s).__name__)(s, depth)

    # -- statements --------------------------------------------------------------
    def s_Assign(self, s: ir.Assign, d: int) -> None:
        name = self.names(s.target)
        acc = self.accumulators.get(id(s))
        if acc is not None:                 # a loop accumulator: vectorizable update
            fn, other = acc
            self.put(d, f"{name} = _m.{fn}({name}, {self.ex(other)})")
            return
        self.put(d, f"{name} = {self.ex(s.value)}")

    def index(self, tensor: str, index: tuple, loc: ir.Loc, checks: tuple = ()) -> str:
        parts = []
        for axis, ix in enumerate(index):
            text = self.ex(ix)
            if axis in checks:                  # decided by passes/lower_index
                where = (f"{self.k.filename}:{loc.line}: index {{index}} is out of bounds "
                         f"for axis {axis} of {tensor!r} with size {{size}} "
                         f"(in kernel {self.k.name!r})")
                size = f"{self.names(tensor)}.shape[{axis}]"
                if self.parallel:
                    self.sites.append(where)
                    text = f"_ix(_m.check_index_p({text}, {size}, _k_err, {len(self.sites)}))"
                else:
                    text = f"_ix(_m.check_index({text}, {size}, {where!r}))"
            else:
                text = f"_ix({text})"
            parts.append(text)
        return ", ".join(parts) or "()"            # a 0-d tensor: a[()] reads its value

    def s_Store(self, s: ir.Store, d: int) -> None:
        t = self.tensors[s.tensor].dtype
        val = self.ex(s.value)
        if is_half(t):
            val = f"_m.f32_to_{'f16' if t.name == 'fp16' else 'bf16'}({val})"
        idx = self.index(s.tensor, s.index, s.loc, s.checks)
        self.put(d, f"{self.names(s.tensor)}[{idx}] = {val}")

    def s_AtomicAdd(self, s: ir.AtomicAdd, d: int) -> None:
        t = self.tensors[s.tensor].dtype
        idx = self.index(s.tensor, s.index, s.loc, s.checks)
        val = self.ex(s.value)
        name = self.names(s.tensor)
        if s.tensor in self.shadow:                      # fp32 shadow of a half tensor
            self.put(d, f"{self.shadow[s.tensor]}[{idx}] += {val}")
        elif is_half(t):                                 # outside a grid: round each add
            h = "f16" if t.name == "fp16" else "bf16"
            self.put(d, f"_k_ix = ({idx},)" if s.index else "_k_ix = ()")
            self.put(d, f"{name}[_k_ix] = _m.f32_to_{h}(_m.{h}_to_f32({name}[_k_ix]) + {val})")
        elif t.is_integer and t is not int64:
            self.put(d, f"{name}[{idx}] += np.{t.numpy.name}({val})")
        else:
            self.put(d, f"{name}[{idx}] += {val}")

    def s_If(self, s: ir.If, d: int) -> None:
        self.put(d, f"if {self.ex(s.cond)}:")
        self.block(s.body, d + 1)
        if s.orelse:
            self.put(d, "else:")
            self.block(s.orelse, d + 1)

    def range_args(self, s: ir.For) -> str:
        step = self.ex(s.step)
        return f"{self.ex(s.start)}, {self.ex(s.stop)}" + ("" if step == "1" else f", {step}")

    def s_For(self, s: ir.For, d: int) -> None:
        rng = self.range_args(s)
        found = loop_accumulators(s.body, self.types, self.fastmath)
        sticky = []
        for stmt, fn, other in found.values():
            if fn in ("maxnum", "minnum"):  # Python keeps a NaN accumulator; maxnum would not
                name = self.names(stmt.target)
                sticky.append((name, f"_k_{name}_{len(self.lines)}"))
                self.put(d, f"{sticky[-1][1]} = {name}")
            self.accumulators[id(stmt)] = (fn, other)
        self.put(d, f"for {self.names(s.var)} in range({rng}):")
        self.block(s.body, d + 1)
        for name, keep in sticky:
            self.put(d, f"{name} = {keep} if {keep} != {keep} else {name}")

    def s_While(self, s: ir.While, d: int) -> None:
        self.put(d, f"while {self.ex(s.cond)}:")
        self.block(s.body, d + 1)

    def s_Break(self, s, d: int) -> None:
        self.put(d, "break")

    def s_Continue(self, s, d: int) -> None:
        self.put(d, "continue")

    def s_Return(self, s: ir.Return, d: int) -> None:
        self.put(d, "return None" if s.value is None else f"return {self.ex(s.value)}")

    # -- grids -------------------------------------------------------------------
    def s_Grid(self, g: ir.Grid, d: int) -> None:
        g_no = self.grid_no
        self.grid_no += 1
        others = [s for s in self.k.body if s is not g]
        outside = _all_names(others)
        red = {r.var: r for r in g.reductions}
        scope = {}
        for n in (ir.assigned_names(g.body) | set(g.vars)) & outside:
            if n not in red:
                scope[n] = f"{self.names.base.get(n, n)}_g{g_no}"
        for r in g.reductions:
            scope[r.var] = f"_k_{self.names.base.get(r.var, r.var)}_lane"
        ext = []
        where = f"line {g.loc.line}" if g.loc.line else "grid"
        self.put(d, f"# lo.grid ({where}): " +
                 ", ".join(f"{v} < {ir.fmt_expr(x)}" for v, x in zip(g.vars, g.extents)) +
                 "".join(f"; reduce {r.op}({r.var})" for r in g.reductions))
        for i, x in enumerate(g.extents):
            ext.append(f"_k_n{i}")
            self.put(d, f"_k_n{i} = {self.ex(x)}")
        shadows = self.open_shadows(g, d)
        outer_scope = self.names.scope
        self.names.scope = dict(outer_scope, **scope)
        try:
            if g.reductions:
                self.reduction_grid(g, ext, d)
            else:
                self.loops(g, ext, d, self.parallel)
        finally:
            self.names.scope = outer_scope
        self.close_shadows(shadows, d)

    def loops(self, g: ir.Grid, ext: list, d: int, parallel: bool, first=None) -> int:
        """Nested loops over the grid; returns the body's depth."""
        rows = interchange.match(g, self.types) if first is None else None
        if rows is not None:         # short rows: the k loop vectorizes better as it is
            self.put(d, f"if {ext[-1]} >= {interchange.MIN_ROW}:")
            self.interchanged(g, rows, ext, d + 1, parallel)
            self.put(d, "else:")
            d += 1
        for i, (v, n) in enumerate(zip(g.vars, ext)):
            if i == 0 and first is not None:
                self.put(d, f"for {self.names(v)} in range({first}):")
            else:
                rng = "prange" if (parallel and i == 0) else "range"
                self.put(d, f"for {self.names(v)} in {rng}({n}):")
            d += 1
        self.block(g.body, d)
        return d

    def interchanged(self, g: ir.Grid, m, ext: list, d: int, parallel: bool) -> None:
        """A row accumulation with its ``k`` loop outside the innermost grid
        loop and one accumulator per ``j`` (see :mod:`.interchange`)."""
        row, j, nj = f"_k_row{self.grid_no}", self.names(g.vars[-1]), ext[-1]
        alloc = f"{row} = np.empty({nj}, np.{_np_name(self.types[m.acc])})"
        first = self.names(g.vars[0])
        self.put(d, f"# loop interchange: {m.loop.var} outside {g.vars[-1]}, "
                    f"one {m.acc} per {g.vars[-1]}")
        if parallel:                # chunks of rows, one accumulator row per chunk
            self.put(d, f"_k_nc = min({ext[0]}, {REDUCTION_CHUNKS})")
            self.put(d, "for _k_c in prange(_k_nc):")
            self.put(d + 1, alloc)
            self.put(d + 1, f"for {first} in range(_k_c * {ext[0]} // _k_nc, "
                            f"(_k_c + 1) * {ext[0]} // _k_nc):")
            d += 2
        else:
            self.put(d, alloc)
            self.put(d, f"for {first} in range({ext[0]}):")
            d += 1
        for v, n in zip(g.vars[1:-1], ext[1:-1]):
            self.put(d, f"for {self.names(v)} in range({n}):")
            d += 1
        self.put(d, f"for {j} in range({nj}):")
        self.put(d + 1, f"{row}[{j}] = {self.ex(m.init)}")
        self.put(d, f"for {self.names(m.loop.var)} in range({self.range_args(m.loop)}):")
        self.put(d + 1, f"for {j} in range({nj}):")
        scope = self.names.scope
        self.names.scope = dict(scope, **{m.acc: f"{row}[{j}]"})
        try:                         # the update itself, acc read as row[j]
            self.put(d + 2, f"{row}[{j}] = {self.ex(m.loop.body[0].value)}")
        finally:
            self.names.scope = scope
        self.put(d, f"for {j} in range({nj}):")
        self.put(d + 1, f"{self.names(m.acc)} = {row}[{j}]")
        self.block(m.rest, d + 1)

    def reduction_grid(self, g: ir.Grid, ext: list, d: int) -> None:
        reds = [(r, self.types[r.var]) for r in g.reductions]
        if not self.parallel:
            for r, t in reds:
                self.put(d, f"_k_{r.var}_acc = {identity(r.op, t)}")
            self.lane_loops(g, ext, d, reds, None)
            for r, t in reds:
                self.merge(r, t, f"_k_{r.var}_acc", d)
            return
        self.put(d, f"_k_nc = min(_k_n0, {REDUCTION_CHUNKS})")
        for r, t in reds:
            self.put(d, f"_k_{r.var}_part = np.empty(max(_k_nc, 1), np.{_np_name(t)})")
        self.put(d, "for _k_c in prange(_k_nc):")
        for r, t in reds:
            self.put(d + 1, f"_k_{r.var}_acc = {identity(r.op, t)}")
        self.lane_loops(g, ext, d + 1, reds,
                        "_k_c * _k_n0 // _k_nc, (_k_c + 1) * _k_n0 // _k_nc")
        for r, t in reds:
            self.put(d + 1, f"_k_{r.var}_part[_k_c] = _k_{r.var}_acc")
        for r, t in reds:
            self.put(d, f"_k_{r.var}_tot = {identity(r.op, t)}")
        self.put(d, "for _k_c in range(_k_nc):")
        for r, t in reds:
            self.put(d + 1, f"_k_{r.var}_tot = "
                            f"{_lane_fold(r.op, t, f'_k_{r.var}_tot', f'_k_{r.var}_part[_k_c]')}")
        for r, t in reds:
            self.merge(r, t, f"_k_{r.var}_tot", d)

    def lane_loops(self, g, ext, d, reds, first) -> None:
        """The grid loops with each reduction's lane reset and folded per iteration."""
        body_depth = d + len(g.vars)
        start = len(self.lines)
        self.loops(g, ext, d, False, first)
        # Insert the lane resets at the top of the innermost body, folds at its end.
        resets = ["    " * body_depth + f"{self.names(r.var)} = {identity(r.op, t)}"
                  for r, t in reds]
        self.lines[start + len(g.vars):start + len(g.vars)] = resets
        for r, t in reds:
            acc = f"_k_{r.var}_acc"
            self.put(body_depth, f"{acc} = {_lane_fold(r.op, t, acc, self.names(r.var))}")

    def merge(self, r: ir.Reduction, t: DType, total: str, d: int) -> None:
        name = self.names.base.get(r.var, r.var)
        self.put(d, f"{name} = {_final_merge(r.op, t, name, total)}")

    def open_shadows(self, g: ir.Grid, d: int) -> list:
        """fp32 copies of half tensors that the grid atomically adds into
        (the reference accumulates halves in fp32 and rounds once)."""
        out = []
        for node in ir.walk_stmts(g.body):
            if isinstance(node, ir.AtomicAdd) and is_half(self.tensors[node.tensor].dtype) \
                    and node.tensor not in self.shadow:
                name = self.names(node.tensor)
                sh = f"_k_{name}_f32"
                h = "f16" if self.tensors[node.tensor].dtype.name == "fp16" else "bf16"
                self.shadow[node.tensor] = sh
                out.append((node.tensor, sh, h))
                self.put(d, f"{sh} = np.empty({name}.shape, np.float32)")
                self.elementwise_copy(name, sh, self.tensors[node.tensor].ndim, d,
                                      lambda src: f"_m.{h}_to_f32({src})")
        return out

    def close_shadows(self, shadows: list, d: int) -> None:
        for tensor, sh, h in shadows:
            name = self.names(tensor)
            self.elementwise_copy(sh, name, self.tensors[tensor].ndim, d,
                                  lambda src: f"_m.f32_to_{h}({src})")
            del self.shadow[tensor]

    def elementwise_copy(self, src: str, dst: str, ndim: int, d: int, conv) -> None:
        idx = []
        for a in range(ndim):
            self.put(d + a, f"for _k_a{a} in range({src}.shape[{a}]):")
            idx.append(f"_k_a{a}")
        ix = ", ".join(idx) or "()"                   # a 0-d tensor: its one element
        self.put(d + ndim, f"{dst}[{ix}] = {conv(f'{src}[{ix}]')}")

    # -- expressions -------------------------------------------------------------
    def ex(self, e: ir.Expr) -> str:
        return getattr(self, "e_" + type(e).__name__)(e)

    def e_Const(self, e: ir.Const) -> str:
        return _const(e.value, e.type)

    def e_Name(self, e: ir.Name) -> str:
        return self.names(e.id)

    def e_Shape(self, e: ir.Shape) -> str:
        return f"{self.names(e.tensor)}.shape[{e.axis}]"

    def e_Load(self, e: ir.Load) -> str:
        text = f"{self.names(e.tensor)}[{self.index(e.tensor, e.index, e.loc, e.checks)}]"
        if is_half(e.type):
            return f"_m.{'f16' if e.type.name == 'fp16' else 'bf16'}_to_f32({text})"
        return text

    def e_BinOp(self, e: ir.BinOp) -> str:
        t, op = e.type, e.op
        a, b = self.ex(e.left), self.ex(e.right)
        if t.is_floating:
            text = f"({a} {op} {b})"
            return f"np.float32{text}" if op == "**" and t is not fp64 else text
        if t.is_bool:                                   # & | ^ on booleans
            return f"({a} {op} {b})"
        if op in ("<<", ">>"):
            return self.shift(e, a, b)
        if op == "**":
            return _wrap_int(f"_m.ipow(np.int64({a}), np.int64({b}))", t)
        if op == "//" and t is int64:
            return f"_m.floordiv_i64({a}, {b})"
        return _wrap_int(f"{a} {op} {b}", t)

    def shift(self, e: ir.BinOp, a: str, b: str) -> str:
        t = e.type
        if t is not int64:
            a, b = f"np.int64({a})", f"np.int64({b})"
        r = e.right
        if isinstance(r, ir.Const) and 0 <= r.value < t.bits:
            return _wrap_int(f"{a} {e.op} {b}", t)
        fn = "shl" if e.op == "<<" else "shr"
        return _wrap_int(f"_m.{fn}({a}, {b}, {t.bits})", t)

    def e_UnaryOp(self, e: ir.UnaryOp) -> str:
        v = self.ex(e.operand)
        t = e.type
        if e.op == "not" or (e.op == "~" and t.is_bool):
            return f"(not {v})"
        if e.op == "+":
            return v
        return _wrap_int(f"{e.op}{v}", t) if t.is_integer else f"({e.op}{v})"

    def e_Compare(self, e: ir.Compare) -> str:
        return f"({self.ex(e.left)} {e.op} {self.ex(e.right)})"

    def e_BoolOp(self, e: ir.BoolOp) -> str:
        return "(" + f" {e.op} ".join(self.ex(v) for v in e.values) + ")"

    def e_Select(self, e: ir.Select) -> str:
        return f"({self.ex(e.a)} if {self.ex(e.cond)} else {self.ex(e.b)})"

    def e_Call(self, e: ir.Call) -> str:
        fn, t = e.fn, e.type
        args = [self.ex(a) for a in e.args]
        at = e.args[0].type
        if fn in _FLOAT_CALLS:
            if t is fp64:
                return f"_m.sigmoid_f64({args[0]})" if fn == "sigmoid" else \
                    f"math.{fn}({args[0]})"
            return f"_m.{fn}_f32({args[0]})"
        if fn in ("sqrt", "floor", "ceil"):
            return f"np.{fn}({args[0]})"
        if fn == "abs":
            return _wrap_int(f"abs({args[0]})", t) if t.is_integer else f"abs({args[0]})"
        if fn in ("min", "max"):
            return f"_m.py{fn}({args[0]}, {args[1]})"
        if fn in ("minimum", "maximum"):
            if t.is_floating:
                return f"_m.f{fn}({args[0]}, {args[1]})"
            return f"_m.py{fn[:3]}({args[0]}, {args[1]})"
        if fn in ("isnan", "isinf"):
            return f"np.{fn}({args[0]})" if at.is_floating else "False"
        raise NotImplementedError(f"numba backend: intrinsic {fn!r}")

    def e_Cast(self, e: ir.Cast) -> str:
        t, s = e.type, e.value.type
        v = self.ex(e.value)
        if t.is_bool:
            return f"({v} != {_const(0, s)})"
        if t.is_integer:
            if s.is_floating and t is not int64:
                return f"np.{t.numpy.name}(np.int64({v}))"
            return f"np.{t.numpy.name}({v})"
        if is_half(t):
            r = f"_m.round_{'f16' if t.name == 'fp16' else 'bf16'}"
            if s is fp32 or is_half(s):
                return f"{r}({v})"
            if s.is_bool:
                return f"{r}(np.float32({v}))"
            wide = v if s is fp64 else f"np.float64({v})"
            return f"{r}(_m.f64_to_f32_odd({wide}))"
        if t is fp32 and is_half(s):
            return v
        return f"np.{t.numpy.name}({v})"


# --- the module ------------------------------------------------------------------------

def uses_atomics(k: ir.Kernel) -> bool:
    return any(isinstance(n, ir.AtomicAdd) for n in ir.walk(k))


def uses_checks(k: ir.Kernel) -> bool:
    """Whether some access is range-checked at run time (raises from compiled code)."""
    return any(getattr(n, "checks", ()) for n in ir.walk(k))


def has_parallel_variant(k: ir.Kernel, options: dict) -> bool:
    """Whether the module has a ``parallel=True`` function (see module doc)."""
    has_grid = any(isinstance(s, ir.Grid) for s in k.body)
    return has_grid and not uses_atomics(k) and not options.get("debug")


def parallel_sites(k: ir.Kernel, options: dict) -> tuple:
    """The messages of the parallel function's checked accesses, by site number
    (what ``check_index_p`` records; the launcher raises with them)."""
    if not uses_checks(k) or not has_parallel_variant(k, options):
        return ()
    em = Emitter(k, options, True)
    em.function("_")
    return tuple(em.sites)


def function_names(k: ir.Kernel) -> tuple[str, str]:
    return f"{k.name}_serial", f"{k.name}_parallel"


def render_module(k: ir.Kernel, options: dict, *, cache: bool = True) -> str:
    """The complete module source for kernel ``k`` (typed, final IR)."""
    fastmath = ", fastmath=True" if options.get("fastmath") else ""
    serial, parallel = function_names(k)
    head = [
        f"# LangOne kernel {k.name!r} for numba, generated from its typed IR: do not edit.",
        f"# source: {k.filename}",
        "#",
        "# Typed IR:",
        *("#   " + line for line in ir.format_kernel(k).splitlines()),
        "",
        "import math",
        "",
        "import numpy as np",
        "from numba import njit, prange",
        "",
        "from langone.kernels.backends import numba_math as _m",
        "",
        "# Indices as unsigned: numba then skips negative-index wrap-around, which",
        "# would stop loops from vectorizing (negative indices are out of bounds).",
        "_ix = np.uint64",
        f"_JIT = dict(nogil=True, error_model='numpy', boundscheck=False, "
        f"cache={cache}{fastmath})",
        "",
    ]
    out = head + ["", "@njit(**_JIT)"] + Emitter(k, options, False).function(serial)
    if has_parallel_variant(k, options):
        out += ["", "", "@njit(parallel=True, **_JIT)"]
        out += Emitter(k, options, True).function(parallel)
    else:
        why = "lo.atomic_add" if uses_atomics(k) else "debug=True" \
            if options.get("debug") else "no lo.grid"
        out += ["", "", f"{parallel} = None   # serial only: {why}"]
    return "\n".join(out) + "\n"
