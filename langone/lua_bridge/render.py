"""Typed IR -> a LuaJIT module (``kernel.source("lua")``), using only ``ffi`` and ``bit``.

The module is the same text whether it runs in-process (lupa, sandboxed) or
is exported for an embedded LuaJIT: it ``require``\\ s ``ffi`` and ``bit``,
defines the helpers it uses, and returns ``M`` with ``M.run(...)``. Tensors
arrive as pointers (cdata or addresses) followed by their sizes and, for
strided tensors, their strides in elements; see the module header.

How the IR's numpy semantics (:mod:`langone.kernels.ir`) map onto LuaJIT:

* **fp64** is a Lua number.
* **fp32** values live in doubles and every fp32 operation's result is fp32,
  as numpy's: one operation on fp32 values computed in double and rounded once
  is the correctly rounded fp32 result, so a value is rounded (``r32``) before
  it feeds another operation, and when assigned, cast, stored or returned
  (loads, constants and variables are already fp32: no rounding). The results
  are bit-identical to the python backend. ``fastmath=True`` skips the
  rounding of intermediate values, variables and comparisons (pure double).
* **fp16/bf16** compute as fp32; tensors are ``uint16_t`` bits converted on
  load and rounded to nearest even on store (``h2f``/``f2h``, ``bf2f``/``f2bf``).
* **int8/16/32, uint8** are Lua numbers wrapped after every operation
  (``bit.tobit``, sign-extending shifts, masks); int32 products that could
  exceed 2^52 use an exact split multiply (``imul32``).
* **int64** is a Lua number where :mod:`.intrange` proves the value stays
  below 2^52 (indices, shapes, loop counters bounded by them) and an
  ``int64_t`` cdata elsewhere (int64 data, accumulators), whose arithmetic
  wraps like numpy. Subscripts are computed in numbers: an in-bounds index
  is far below 2^52.
* ``//`` and ``%`` follow Python on negative operands; integer ``x // 0`` and
  ``x % 0`` give 0, shifts outside ``[0, bits)`` and negative ``**`` exponents
  give numpy's results (as :func:`langone.kernels.backends.numpy_ref.binop`).
* fp32 ``exp``/``tanh``/``sigmoid`` use an inline table + polynomial ``exp``
  (a gelu chain ran 2.2x faster than with libm; results matched correctly
  rounded fp32 on the tested range); fp64 math calls libm through ``math.*``;
  ``erf`` is pure Lua (no libm symbol needed by exported modules).
* Grids are sequential loops. A reduction variable's updates go straight into
  a double (or int64) total when the body only accumulates into it, else into
  a per-iteration lane folded into the total (min/max lanes NaN-propagating);
  the total is merged with the value from before the grid as the reference
  does. ``lo.atomic_add`` is a plain read-modify-write; fp16/bf16 tensors
  accumulate in an fp32 shadow inside a grid, rounded once at its end.
"""

from __future__ import annotations

import math

import numpy as np

from ..dtypes import DType, bf16, bool_, fp16, int64
from ..kernels import ir
from . import luasrc
from .header import header, signature_text
from .intrange import NUM_BITS, IntRanges
from .luasrc import paren as _paren, strip as _strip
from .render_expr import Expressions, _is_half, computes_in_fp32


# --- names ---------------------------------------------------------------------------

class Names:
    """IR names -> Lua identifiers, and fresh names for generated variables."""

    def __init__(self, k: ir.Kernel):
        user = {p.name for p in k.params} | {n for n, _ in k.locals} | \
            ir.bound_names(k.body)
        reserved = luasrc.LUA_KEYWORDS | luasrc.defined_names()
        self.taken: set[str] = set(reserved)
        self.map: dict[str, str] = {}
        for n in sorted(user):
            lua = n if n.isascii() and n.isidentifier() else \
                "u_" + n.encode("utf-8").hex()
            while lua in self.taken:
                lua += "_"
            self.map[n] = lua
            self.taken.add(lua)

    def __call__(self, name: str) -> str:
        return self.map[name]

    def fresh(self, base: str) -> str:
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name


class TensorInfo:
    """How a tensor parameter appears in Lua: pointer, sizes, strides (elements)."""

    def __init__(self, p: ir.Param, names: Names):
        t = p.type
        self.name = p.name
        self.dtype: DType = t.dtype
        self.ndim = t.ndim
        self.contiguous = t.contiguous
        self.ptr = names(p.name)
        self.shape = [names.fresh(f"{self.ptr}_n{d}") for d in range(t.ndim)]
        if t.contiguous:
            # Row-major strides from the sizes; the last one is the literal 1.
            self.strides = [names.fresh(f"{self.ptr}_s{d}") for d in range(t.ndim - 1)] + ["1"]
        else:
            self.strides = [names.fresh(f"{self.ptr}_s{d}") for d in range(t.ndim)]

    @property
    def run_args(self) -> list[str]:
        return [self.ptr] + self.shape + ([] if self.contiguous else self.strides)

    def flat(self, idx: list[str], strides: list[str] | None = None) -> str:
        """Element offset of logical index ``idx``."""
        parts = []
        for i, s in zip(idx, strides or self.strides):
            if i != "0":
                parts.append(i if s == "1" else f"{_paren(i)} * {s}")
        return " + ".join(parts) if parts else "0"


# --- small IR queries --------------------------------------------------------------------

def _stmts(body) -> list:
    """Every statement inside ``body``, nested ones included."""
    return [n for n in ir.walk_stmts(body) if isinstance(n, ir.Stmt)]


def _reads(nodes, name: str) -> int:
    """How often variable ``name`` is read in ``nodes`` (statements or expressions)."""
    return sum(1 for node in nodes for n in ir.walk(node)
               if isinstance(n, ir.Name) and n.id == name)


def _own_continue(body) -> bool:
    """Whether ``body`` has a ``continue`` that belongs to its loop."""
    for s in body:
        if isinstance(s, ir.Continue):
            return True
        if isinstance(s, ir.If) and (_own_continue(s.body) or _own_continue(s.orelse)):
            return True
    return False


def _iinfo(t: DType):
    return np.iinfo(t.numpy)


# --- the emitter ---------------------------------------------------------------------------

class Emitter(Expressions):
    """Writes the module for one typed, specialized kernel."""

    def __init__(self, k: ir.Kernel, options: dict | None, module_name: str | None = None):
        options = options or {}
        self.k = k
        self.module_name = module_name or k.name
        self.debug = bool(options.get("debug"))
        self.fastmath = bool(options.get("fastmath"))
        self.names = Names(k)
        self.ranges = IntRanges.of(k)
        self.tensors = {p.name: TensorInfo(p, self.names) for p in k.params if p.is_tensor}
        self.scalars = {p.name: p.type for p in k.params if not p.is_tensor}
        self.types = dict(k.local_types)
        self.helpers: set[str] = set()
        self.ctypes: dict[str, str] = {}          # C type -> Lua name of its ctype
        self.sites: list[tuple] = []
        self.lines: list[str] = []
        self.labels: list[str | None] = []        # continue labels of enclosing loops
        self.folds: dict[str, tuple] = {}         # reduction var -> (op, total name)
        self.shadows: dict[str, tuple] = {}       # half tensor -> (shadow, strides)
        self.index_mode = False
        self.private_for = self._private_for_vars()
        self.tmp = self.names.fresh("at")          # atomic_add's index temporary
        self.grid_vars = {v for n in ir.walk(k) if isinstance(n, ir.Grid) for v in n.vars}

    # -- output -------------------------------------------------------------------------
    def put(self, d: int, text: str) -> None:
        self.lines.append("  " * d + text)

    def use(self, helper: str) -> str:
        self.helpers.add(helper)
        return helper

    def ctype(self, c: str) -> str:
        """The Lua name of ``ffi.typeof(c)`` (declared once at module level)."""
        if c not in self.ctypes:
            base = c.replace("*", "_p").replace(" ", "").replace("[?]", "_vla")
            self.ctypes[c] = self.names.fresh(base if base.isidentifier() else "ctype")
        return self.ctypes[c]

    def block(self, stmts, d: int) -> None:
        for s in stmts:
            getattr(self, "s_" + type(s).__name__)(s, d)

    # -- statements -------------------------------------------------------------------
    def s_Assign(self, s: ir.Assign, d: int) -> None:
        fold = self.folds.get(s.target)
        if fold is not None:
            self.put(d, self.direct_fold(s, fold))
            return
        self.put(d, f"{self.names(s.target)} = {_strip(self.assigned(s.target, s.value))}")

    def assigned(self, target: str, value: ir.Expr) -> str:
        """``value`` converted to the representation of variable ``target``."""
        t = self.types.get(target)
        if computes_in_fp32(t):
            return self.rounded(value)
        if t is int64:
            local_wide = self.ranges.local_bits.get(target, NUM_BITS) > NUM_BITS
            return self.as_wide(value) if local_wide else self.num(value)
        return self.ex(value)

    def index(self, tensor: str, index: tuple, loc: ir.Loc, strides=None,
              checks: tuple = ()) -> str:
        info = self.tensors[tensor]
        parts = []
        for axis, ix in enumerate(index):
            text = _strip(self.index_num(ix))
            if axis in checks:                  # decided by passes/lower_index
                self.sites.append((f"{self.k.filename}:{loc.line}", axis, repr(tensor)))
                text = f"{self.use('chk')}({text}, {info.shape[axis]}, {len(self.sites)})"
            parts.append(text)
        return info.flat(parts, strides)

    def stored(self, t: DType, e: ir.Expr) -> str:
        """A value of type ``t`` as written into a ``t`` tensor's memory."""
        if t is bool_:
            return "1" if isinstance(e, ir.Const) and e.value else \
                "0" if isinstance(e, ir.Const) else f"({self.ex(e)} and 1 or 0)"
        if t is fp16:
            return f"{self.use('f2h')}({_strip(self.ex(e))})"
        if t is bf16:
            return f"{self.use('f2bf')}({_strip(self.ex(e))})"
        return _strip(self.ex(e))                 # ffi converts (floats round to nearest)

    def s_Store(self, s: ir.Store, d: int) -> None:
        info = self.tensors[s.tensor]
        self.put(d, f"{info.ptr}[{self.index(s.tensor, s.index, s.loc, checks=s.checks)}] = "
                    f"{self.stored(info.dtype, s.value)}")

    def s_AtomicAdd(self, s: ir.AtomicAdd, d: int) -> None:
        info = self.tensors[s.tensor]
        t = info.dtype
        v = self.ex(s.value)
        tmp = self.tmp
        if s.tensor in self.shadows:              # half tensor inside a grid: fp32 shadow
            sh, strides = self.shadows[s.tensor]
            k = self.index(s.tensor, s.index, s.loc, strides, s.checks)
            self.put(d, f"do local {tmp} = {k}; {sh}[{tmp}] = {sh}[{tmp}] + {_strip(v)} end")
            return
        k = self.index(s.tensor, s.index, s.loc, checks=s.checks)
        old = f"{info.ptr}[{tmp}]"
        if t is fp16:
            new = f"{self.use('f2h')}({self.use('h2f')}({old}) + {_strip(v)})"
        elif t is bf16:
            new = f"{self.use('f2bf')}({self.use('bf2f')}({old}) + {_strip(v)})"
        elif t.is_integer and t is not int64:
            new = self.wrap(t, f"{old} + {v}")
        else:
            new = f"{old} + {_strip(v)}"         # floats round on store; int64 cdata wraps
        self.put(d, f"do local {tmp} = {k}; {old} = {new} end")

    def s_If(self, s: ir.If, d: int) -> None:
        keyword = "if"
        while True:                               # if / elif chains become elseif
            self.put(d, f"{keyword} {_strip(self.ex(s.cond))} then")
            self.block(s.body, d + 1)
            if len(s.orelse) == 1 and isinstance(s.orelse[0], ir.If):
                s, keyword = s.orelse[0], "elseif"
                continue
            if s.orelse:
                self.put(d, "else")
                self.block(s.orelse, d + 1)
            break
        self.put(d, "end")

    def s_For(self, s: ir.For, d: int) -> None:
        start, stop = _strip(self.index_num(s.start)), self.index_num(s.stop)
        if isinstance(s.step, ir.Const):
            step = int(s.step.value)
            if step == 0:
                self.put(d, 'error("range() arg 3 must not be zero", 0)')
                return
            last = f"{_paren(stop)} - 1" if step > 0 else f"{_paren(stop)} + 1"
            step_text = "" if step == 1 else f", {step}"
        else:
            st = self.names.fresh("step")
            self.put(d, f"local {st} = {_strip(self.index_num(s.step))}")
            self.put(d, f'if {st} == 0 then error("range() arg 3 must not be zero", 0) end')
            last = f"({st} > 0) and ({_strip(stop)} - 1) or ({_strip(stop)} + 1)"
            step_text = f", {st}"
        var = self.names(s.var)
        if s.var in self.private_for:
            self.put(d, f"for {var} = {start}, {last}{step_text} do")
            self.loop_body(s.body, d + 1)
        else:                                     # the variable outlives the loop
            it = self.names.fresh(f"{var}_it")
            self.put(d, f"for {it} = {start}, {last}{step_text} do")
            wide = self.ranges.local_bits.get(s.var, 0) > NUM_BITS
            self.put(d + 1, f"{var} = " + (f"{self.use('I64')}({it})" if wide else it))
            self.loop_body(s.body, d + 1)
        self.put(d, "end")

    def _private_for_vars(self) -> set:
        """``range`` variables read only inside loops over them: Lua's own loop
        variable serves. Others are copied into the kernel-level variable."""
        fors = [n for n in ir.walk(self.k) if isinstance(n, ir.For)]
        out = set()
        for var in {f.var for f in fors}:
            inside = sum(_reads(f.body, var) for f in fors if f.var == var)
            assigned = any(isinstance(n, ir.Assign) and n.target == var
                           for n in ir.walk(self.k))
            nested = any(_reads(f.body, var) and any(
                isinstance(g, ir.For) and g.var == var for g in _stmts(f.body))
                for f in fors if f.var == var)
            if not assigned and not nested and inside == _reads(self.k.body, var):
                out.add(var)
        return out

    def loop_body(self, body: tuple, d: int, tail: list | None = None) -> None:
        """A loop body; ``continue`` jumps to a label after it (Lua has no continue)."""
        label = self.names.fresh("continue") if _own_continue(body) else None
        self.labels.append(label)
        try:
            if label:
                self.put(d, "do")
                self.block(body, d + 1)
                self.put(d, "end")
                self.put(d, f"::{label}::")
            else:
                self.block(body, d)
        finally:
            self.labels.pop()
        for line in tail or ():
            self.put(d, line)

    def s_While(self, s: ir.While, d: int) -> None:
        self.put(d, f"while {_strip(self.ex(s.cond))} do")
        self.loop_body(s.body, d + 1)
        self.put(d, "end")

    def s_Break(self, s, d: int) -> None:
        self.put(d, "do break end")

    def s_Continue(self, s, d: int) -> None:
        self.put(d, f"goto {self.labels[-1]}")

    def s_Return(self, s: ir.Return, d: int) -> None:
        if s.value is None:
            self.put(d, "do return end")
        else:
            self.put(d, f"do return {_strip(self.ex(s.value))} end")

    # -- grids ------------------------------------------------------------------------
    def s_Grid(self, g: ir.Grid, d: int) -> None:
        where = f"line {g.loc.line}" if g.loc.line else "grid"
        self.put(d, f"-- lo.grid ({where}): " +
                 ", ".join(f"{v} < {ir.fmt_expr(x)}" for v, x in zip(g.vars, g.extents)) +
                 "".join(f"; reduce {r.op}({r.var})" for r in g.reductions) +
                 " -- sequential")
        extents = []
        for i, x in enumerate(g.extents):
            n = self.names.fresh(f"grid_n{i}")
            self.put(d, f"local {n} = {_strip(self.index_num(x))}")
            extents.append(n)
        totals = {}
        for r in g.reductions:
            totals[r.var] = self.names.fresh(f"{self.names(r.var)}_total")
            self.put(d, f"local {totals[r.var]} = {self.identity(r)}")
        direct = {r.var: (r.op, totals[r.var]) for r in g.reductions if self.can_fold(g, r)}
        shadows = self.open_shadows(g, d)
        depth = d
        for v, n in zip(g.vars, extents):
            self.put(depth, f"for {self.names(v)} = 0, {n} - 1 do")
            depth += 1
        private = sorted({s.target for s in _stmts(g.body) if isinstance(s, ir.Assign)} |
                         {s.var for s in _stmts(g.body) if isinstance(s, ir.For)
                          and s.var not in self.private_for})
        private = [n for n in private if n not in totals]
        if private:                               # each iteration starts from the outer values
            lua = [self.names(n) for n in private]
            self.put(depth, f"local {', '.join(lua)} = {', '.join(lua)}")
        lanes = [r for r in g.reductions if r.var not in direct]
        for r in lanes:
            self.put(depth, f"local {self.names(r.var)} = {self.identity(r)}")
        tail = [f"{totals[r.var]} = {self.lane_fold(r, totals[r.var])}" for r in lanes]
        saved = self.folds
        self.folds = dict(saved, **direct)
        try:
            self.loop_body(g.body, depth, tail)
        finally:
            self.folds = saved
        for _ in g.vars:
            depth -= 1
            self.put(depth, "end")
        for r in g.reductions:
            self.merge(r, totals[r.var], d)
        self.close_shadows(shadows, d)

    def red_type(self, r: ir.Reduction) -> DType:
        return self.types[r.var]

    def red_wide(self, r: ir.Reduction) -> bool:
        return self.ranges.local_bits.get(r.var, NUM_BITS) > NUM_BITS

    def identity(self, r: ir.Reduction) -> str:
        t, v = self.red_type(r), ir.reduction_identity(r.op, self.red_type(r))
        if t.is_bool:
            return "true" if v else "false"
        if t.is_floating:
            return ("huge" if v > 0 else "(-huge)") if v in (math.inf, -math.inf) \
                else luasrc.lua_float(v)
        return luasrc.lua_int(v, self.red_wide(r))

    def can_fold(self, g: ir.Grid, r: ir.Reduction) -> bool:
        """Whether every use of ``r.var`` in the grid is one accumulating update
        (``v = v + e``, ``v = v * e``, ``v = min(v, e)``, ...): then updates go
        straight into the total, with no per-iteration lane."""
        updates = [s for s in _stmts(g.body) if isinstance(s, ir.Assign) and s.target == r.var]
        if not updates or any(isinstance(s, ir.For) and s.var == r.var for s in _stmts(g.body)):
            return False
        for s in updates:
            if self.fold_operand(s, r.op) is None:
                return False
        return _reads(g.body, r.var) == len(updates)

    @staticmethod
    def fold_operand(s: ir.Assign, op: str):
        """The operand ``e`` of an update of reduction ``op`` (the one recognizer,
        :func:`ir.accumulation`), else None."""
        found = ir.accumulation(s)
        if found is None or ir.ACCUMULATION_REDUCTION[found[0]] != op:
            return None
        return found[2]

    def direct_fold(self, s: ir.Assign, fold: tuple) -> str:
        op, total = fold
        e = self.fold_operand(s, op)
        t = self.types[s.target]
        if t is int64 and op in ("sum", "prod"):
            e_text = self.num(e) if not self.ranges.wide(e) else self.ex(e)
        else:
            e_text = self.rounded(e) if op not in ("sum", "prod") else self.ex(e)
        if op == "sum":
            sign = "-" if isinstance(s.value, ir.BinOp) and s.value.op == "-" else "+"
            return f"{total} = {total} {sign} {e_text}"
        if op == "prod":
            return f"{total} = {total} * {e_text}"
        base = ir.reduction_base(op)
        if t.is_bool:
            return f"{total} = {total} {'and' if base == 'min' else 'or'} {e_text}"
        fn = self.use(self.merge_helper(op, t))
        return f"{total} = {fn}({total}, {_strip(e_text)})"

    @staticmethod
    def merge_helper(op: str, t) -> str:
        """The Lua helper merging two values of a min/max reduction: numpy's
        NaN-propagating rule for lo.minimum/maximum, else Python's."""
        if op in ("minimum", "maximum") and t.is_floating:
            return "f" + op
        return "py" + ir.reduction_base(op)

    def lane_fold(self, r: ir.Reduction, total: str) -> str:
        lane, t = self.names(r.var), self.red_type(r)
        if r.op == "sum":
            return f"{total} + {lane}"
        if r.op == "prod":
            return f"{total} * {lane}"
        base = ir.reduction_base(r.op)
        if t.is_bool:
            return f"{total} {'and' if base == 'min' else 'or'} {lane}"
        if t.is_floating:      # NaN-propagating, like np.min over lanes (Python's skip NaN)
            fn = self.use("fminimum" if base == "min" else "fmaximum")
            return f"{fn}({lane}, {total})"
        return f"{self.use('py' + base)}({total}, {lane})"

    def merge(self, r: ir.Reduction, total: str, d: int) -> None:
        """Combine the grid's total with the value from before it (reference ``_combine``)."""
        var, t = self.names(r.var), self.red_type(r)
        if r.op in ("sum", "prod"):
            op = "+" if r.op == "sum" else "*"
            if computes_in_fp32(t) and not self.fastmath:
                r32 = self.use("r32")
                text = f"{r32}({var} {op} {r32}({total}))"
            elif t is int64 and self.red_wide(r):
                text = f"{self.use('I64')}({var}) {op} {total}"
            else:
                text = f"{var} {op} {total}"
        elif t.is_bool:
            text = f"{var} {'and' if ir.reduction_base(r.op) == 'min' else 'or'} {total}"
        else:
            text = f"{self.use(self.merge_helper(r.op, t))}({var}, {total})"
        self.put(d, f"{var} = {text}")

    def open_shadows(self, g: ir.Grid, d: int) -> list:
        """fp32 copies of fp16/bf16 tensors the grid atomically adds into."""
        out = []
        for node in _stmts(g.body):
            if not isinstance(node, ir.AtomicAdd) or node.tensor in self.shadows:
                continue
            info = self.tensors[node.tensor]
            if not _is_half(info.dtype):
                continue
            sh = self.names.fresh(f"{info.ptr}_f32")
            strides = [self.names.fresh(f"{sh}_s{a}") for a in range(info.ndim - 1)] + ["1"]
            size = " * ".join(info.shape) or "1"
            self.put(d, f"local {sh} = {self.ctype('float[?]')}({size})")
            for a in range(info.ndim - 2, -1, -1):
                self.put(d, f"local {strides[a]} = {strides[a + 1]} * {info.shape[a + 1]}"
                         if strides[a + 1] != "1" else f"local {strides[a]} = {info.shape[a + 1]}")
            conv = self.use("h2f" if info.dtype is fp16 else "bf2f")
            self.elementwise(info, d, lambda src, dst: f"{sh}[{dst}] = {conv}({src})", strides)
            self.shadows[node.tensor] = (sh, strides)
            out.append((node.tensor, sh, strides))
        return out

    def close_shadows(self, shadows: list, d: int) -> None:
        for tensor, sh, strides in shadows:
            info = self.tensors[tensor]
            conv = self.use("f2h" if info.dtype is fp16 else "f2bf")
            self.elementwise(info, d, lambda src, dst: f"{src} = {conv}({sh}[{dst}])", strides)
            del self.shadows[tensor]

    def elementwise(self, info: TensorInfo, d: int, stmt, shadow_strides: list) -> None:
        idx = []
        for a in range(info.ndim):
            v = self.names.fresh(f"e{a}")
            self.put(d + a, f"for {v} = 0, {info.shape[a]} - 1 do")
            idx.append(v)
        src = f"{info.ptr}[{info.flat(idx)}]"
        self.put(d + info.ndim, stmt(src, info.flat(idx, shadow_strides)))
        for a in range(info.ndim - 1, -1, -1):
            self.put(d + a, "end")

    # -- the module --------------------------------------------------------------------
    def run_params(self) -> list[str]:
        out = []
        for p in self.k.params:
            out += self.tensors[p.name].run_args if p.is_tensor else [self.names(p.name)]
        return out

    def function(self) -> list[str]:
        """The ``M.run`` function (body rendered first: it decides the helpers)."""
        body_start = len(self.lines)
        self.put(1, "-- kernel body")
        self.block(self.k.body, 1)
        body = self.lines[body_start:]
        self.lines = self.lines[:body_start]
        head = [f"function M.run({', '.join(self.run_params())})"]
        for info in self.tensors.values():
            ct = self.ctype(luasrc.CTYPE[info.dtype.name] + "*")
            head.append(f"  {info.ptr} = ffi.cast({ct}, {info.ptr})")
            if info.contiguous:
                for a in range(info.ndim - 2, -1, -1):
                    nxt = info.strides[a + 1]
                    value = info.shape[a + 1] if nxt == "1" else f"{nxt} * {info.shape[a + 1]}"
                    head.append(f"  local {info.strides[a]} = {value}")
        params = {p.name for p in self.k.params}
        grid_vars = {v for n in ir.walk(self.k) if isinstance(n, ir.Grid) for v in n.vars}
        local_names = [self.names(n) for n, _ in self.k.locals
                       if n not in params and n not in grid_vars]
        for i in range(0, len(local_names), 16):
            head.append(f"  local {', '.join(local_names[i:i + 16])}")
        return head + body + ["end"]

    def module(self) -> str:
        run = self.function()
        parts = [header(self.k, self), luasrc.PRELUDE,
                 f"local KERNEL = {luasrc.lua_string(repr(self.k.name))}"]
        if self.sites:
            parts.append("local SITES = {\n" + "".join(
                f"  {{{luasrc.lua_string(w)}, {a}, {luasrc.lua_string(n)}}},\n"
                for w, a, n in self.sites) + "}")
        if self.helpers:
            parts.append(luasrc.helper_text(self.helpers))
        if self.ctypes:
            parts.append("\n".join(f"local {name} = ffi.typeof({luasrc.lua_string(c)})"
                                   for c, name in self.ctypes.items()))
        sig = signature_text(self.k)
        parts.append(f"local M = {{name = {luasrc.lua_string(self.k.name)}, "
                     f"signature = {luasrc.lua_string(sig)}}}")
        parts.append("\n".join(run))
        parts.append("return M")
        return "\n\n".join(parts) + "\n"


def render_module(k: ir.Kernel, options: dict | None = None,
                  module_name: str | None = None) -> str:
    """The complete Lua module for the typed kernel ``k``.

    ``module_name`` is the name ``require`` will load it by (the header's
    example uses it; default: the kernel's name).

    Example:
        >>> import numpy as np, langone as lo
        >>> @lo.kernel
        ... def scale(x, out):
        ...     for i in lo.grid(x.shape[0]):
        ...         out[i] = 2 * x[i]
        >>> x = np.ones(3, np.float32)
        >>> "function M.run(x, x_n0, out, out_n0)" in scale.source("lua", x, x)
        True
    """
    return Emitter(k, options, module_name).module()


__all__ = ["render_module", "computes_in_fp32", "signature_text"]
