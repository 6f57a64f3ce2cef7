"""The device-kernel emitter: typed IR statements -> SPMD Triton source lines.

Every scalar of a kernel body is a ``[BLOCK]`` vector of lanes (``v_<name>``)
unless it is the same in every lane (host values, shapes, the induction
variable of a loop every lane runs alike). Each statement runs under a lane
mask, as in the numpy reference: assignments are ``tl.where(mask, new, old)``,
loads and stores are masked, ``if`` narrows the mask, loops whose trip count
varies between lanes become ``while _lo_any(active)``, and ``break``/``continue``
retire lanes for the rest of the loop or iteration.

Two quirks of Triton's interpreter shape the output: a boolean scalar combined
with a boolean vector loses its boolean type there, so conditions are
broadcast to lanes first (:meth:`DeviceEmitter.cond`); and a literal bound to a
local loses the weak typing it has inside an expression, so literals stay
inline (:meth:`DeviceEmitter.operand`).
"""

from __future__ import annotations

import itertools

from ...dtypes import DType, fp32, fp64
from .. import ir
from .triton_lib import STORE_TL, is_half, literal, tl_type


# --- IR queries ----------------------------------------------------------------------------------

def _nodes(stmts) -> list:
    return list(ir.walk_stmts(stmts))


def touches_tensors(s: ir.Stmt) -> bool:
    return any(isinstance(n, (ir.Load, ir.Store, ir.AtomicAdd)) for n in _nodes((s,)))


assigned_names, read_names = ir.assigned_names, ir.read_names


def tensors_used(stmts) -> set:
    out = set()
    for n in _nodes(stmts):
        if isinstance(n, (ir.Load, ir.Store, ir.AtomicAdd, ir.Shape)):
            out.add(n.tensor)
    return out


def has_load(e: ir.Expr) -> bool:
    return any(isinstance(n, ir.Load) for n in ir.walk(e))


def _loop_exits(stmts) -> tuple[bool, bool]:
    """(has break, has continue) that target the loop whose body is ``stmts``."""
    brk = cont = False

    def visit(ss):
        nonlocal brk, cont
        for s in ss:
            if isinstance(s, ir.Break):
                brk = True
            elif isinstance(s, ir.Continue):
                cont = True
            elif isinstance(s, ir.If):
                visit(s.body)
                visit(s.orelse)
    visit(stmts)
    return brk, cont


def _scalar_loop_var_ok(k_body: tuple, var: str) -> bool:
    """A ``for var in range`` may keep ``var`` as a scalar when nothing outside
    such loops reads it, nothing assigns it, and such loops do not nest."""
    ok = True

    def visit(stmts, inside: bool):
        nonlocal ok
        for s in stmts:
            if isinstance(s, ir.Assign) and s.target == var:
                ok = False
            if isinstance(s, ir.For) and s.var == var:
                if inside:
                    ok = False
                for e in (s.start, s.stop, s.step):
                    visit_expr(e, inside)
                visit(s.body, True)
                continue
            for c in ir.children(s):
                if isinstance(c, ir.Expr):
                    visit_expr(c, inside)
            for f in ("body", "orelse"):
                if hasattr(s, f):
                    visit(getattr(s, f), inside)

    def visit_expr(e, inside):
        nonlocal ok
        if not inside and any(isinstance(n, ir.Name) and n.id == var for n in ir.walk(e)):
            ok = False
    visit(k_body, False)
    return ok


# --- the emitter -----------------------------------------------------------------------------

class _Loop:
    """break/continue flag names of the innermost sequential loop (None: unused)."""

    def __init__(self, brk: str | None, cont: str | None):
        self.brk = brk
        self.cont = cont


class DeviceEmitter:
    """Writes one device kernel (grid or serial) as a ``@triton.jit`` function."""

    def __init__(self, k: ir.Kernel, types: dict, options: dict, helpers: set,
                 name: str, kind: str, stmts: tuple, available: set):
        self.k = k
        self.types = types
        self.options = options
        self.helpers = helpers
        self.name = name
        self.kind = kind
        self.stmts = stmts
        self.available = available          # host names with a value before this kernel
        self.tensor_types = {p.name: p.type for p in k.params if p.is_tensor}
        self.lines: list[str] = []
        self.line_locs: dict[int, ir.Loc] = {}
        self.counter = itertools.count()
        self.depth = 1
        self.loops: list[_Loop] = []
        self.scope: dict[str, str] = {}
        self.used_args: dict[str, str] = {}    # arg name -> prologue cast line (or "")
        self.shadowed: set = set()
        self.checks: list = []

    # -- output -------------------------------------------------------------------------
    def put(self, text: str, loc: ir.Loc | None = None) -> None:
        if loc is not None and loc.line:
            self.line_locs[len(self.lines)] = loc
        self.lines.append("    " * self.depth + text)

    def tmp(self, prefix: str = "_t") -> str:
        return f"{prefix}{next(self.counter)}"

    def let(self, text: str, prefix: str = "_t") -> str:
        name = self.tmp(prefix)
        self.put(f"{name} = {text}")
        return name

    def simple(self, text: str, prefix: str = "_t") -> str:
        """A temporary holding ``text`` when it computes something (a load, a call),
        so that using it twice computes it once; names and literals stay as they are
        (a literal bound to a local would lose its weak type)."""
        return self.let(text, prefix) if "(" in text and ("tl." in text or "_lo_" in text) \
            else text

    # -- names ----------------------------------------------------------------------------
    def var(self, name: str) -> str:
        return self.scope.get(name) or f"v_{name}"

    def shape_arg(self, tensor: str, axis: int) -> str:
        arg = f"t_{tensor}_n{axis}"
        self.used_args.setdefault(arg, f"{arg} = tl.full([], {arg}, tl.int64)")
        return arg

    def stride_arg(self, tensor: str, axis: int, shadow: bool = False) -> str | None:
        tt = self.tensor_types[tensor]
        if axis == tt.ndim - 1 and (tt.contiguous or shadow):
            return None
        arg = f"t_{tensor}{'_acc' if shadow else ''}_s{axis}"
        self.used_args.setdefault(arg, f"{arg} = tl.full([], {arg}, tl.int64)")
        return arg

    # -- analysis ---------------------------------------------------------------------------
    def plan_lanes(self, fixed_lanes: set) -> None:
        """Decide which names are [BLOCK] lane vectors and which loops keep a scalar
        induction variable (uniform trip count, nothing reads the variable outside)."""
        assigned = {n.target for n in _nodes(self.stmts) if isinstance(n, ir.Assign)}
        self.lanes = set(fixed_lanes) | assigned
        fors = [n for n in _nodes(self.stmts) if isinstance(n, ir.For)]
        self.uniform_loops: set = set()
        changed = True
        while changed:
            changed = False
            self.uniform_loops = set()
            for f in fors:
                brk, _ = _loop_exits(f.body)
                uniform = not brk and not any(self.is_vec(e) for e in (f.start, f.stop, f.step))
                if uniform:
                    self.uniform_loops.add(id(f))
                if (not uniform or not _scalar_loop_var_ok(self.k.body, f.var)) and \
                        f.var not in self.lanes:
                    self.lanes.add(f.var)
                    changed = True

    def is_vec(self, e: ir.Expr) -> bool:
        """Whether ``e`` differs between lanes (a [BLOCK] vector) in this kernel."""
        for n in ir.walk(e):
            if isinstance(n, ir.Load):
                return True
            if isinstance(n, ir.Name) and n.id in self.lanes and n.id not in self.scope:
                return True
        return False

    # -- statements -------------------------------------------------------------------------
    def block(self, stmts: tuple, mask: str) -> None:
        entry = mask
        for i, s in enumerate(stmts):
            getattr(self, "s_" + type(s).__name__)(s, mask)
            lp = self.loops[-1] if self.loops else None
            if lp is not None and i + 1 < len(stmts) and self._exits_here(s):
                # Lanes that left the loop or this iteration skip the rest of the block.
                flags = " | ".join(f for f in (lp.brk, lp.cont) if f)
                mask = self.let(f"{entry} & (({flags}) == 0)", "_m")

    @staticmethod
    def _exits_here(s: ir.Stmt) -> bool:
        if isinstance(s, (ir.Break, ir.Continue)):
            return True
        if isinstance(s, ir.If):
            brk, cont = _loop_exits(s.body + s.orelse)
            return brk or cont
        return False

    def s_Assign(self, s: ir.Assign, mask: str) -> None:
        val = self.ex(s.value, mask)
        t = self.types.get(s.target, s.value.type)
        if s.value.type is not t:
            val = f"({val}).to({tl_type(t)})"
        name = self.var(s.target)
        self.put(f"{name} = tl.where({mask}, {val}, {name})", s.loc)

    def pointer(self, tensor: str, index: tuple, mask: str, loc: ir.Loc,
                shadow: bool = False, checks: tuple = ()) -> tuple[str, str]:
        """(pointer expression, access mask) for ``tensor[index]``; ``checks``:
        the axes to range-check (decided by passes/lower_index)."""
        parts, vec, idx_texts = [], False, []
        for axis, ix in enumerate(index):
            text = self.ex(ix, mask)
            vec = vec or self.is_vec(ix)
            if checks:
                text = self.let(text if self.is_vec(ix) else f"{text} + _zl")
            idx_texts.append(text)
            stride = self.stride_arg(tensor, axis, shadow)
            parts.append(text if stride is None else f"{text} * {stride}")
        offset = " + ".join(parts) if parts else "0"
        if not vec:
            offset = f"{offset} + _zl"            # same address in every lane: broadcast
        if checks:
            mask = self.bounds_check(tensor, idx_texts, mask, loc, checks)
        base = f"t_{tensor}_acc" if shadow else f"t_{tensor}"
        return f"{base} + ({offset})", mask

    def bounds_check(self, tensor: str, idx: list, mask: str, loc: ir.Loc,
                     checks: tuple) -> str:
        self.helpers.add("check")
        bad = []
        for axis, text in enumerate(idx):
            if axis not in checks:
                continue
            n = self.shape_arg(tensor, axis)
            self.checks.append((loc, tensor, axis))
            code = len(self.checks)
            bad.append(self.let(f"_lo_check(_err, {mask} & (({text} < 0) | ({text} >= {n})), "
                                f"{text}, _lin, {code})", "_bad"))
        return self.let(f"{mask} & (({' | '.join(bad)}) == 0)", "_m")

    def s_Store(self, s: ir.Store, mask: str) -> None:
        t = self.tensor_types[s.tensor].dtype
        val = self.ex(s.value, mask)
        ptr, m = self.pointer(s.tensor, s.index, mask, s.loc, checks=s.checks)
        if is_half(t):
            val = self.to_storage(val, t)
        self.put(f"tl.store({ptr}, {val}, mask={m})", s.loc)

    def s_AtomicAdd(self, s: ir.AtomicAdd, mask: str) -> None:
        t = self.tensor_types[s.tensor].dtype
        val = self.ex(s.value, mask)
        if self.kind == "serial":                 # one lane: add in place, round once
            ptr, m = self.pointer(s.tensor, s.index, mask, s.loc, checks=s.checks)
            p = self.let(ptr, "_p")
            old = f"tl.load({p}, mask={m}, other=0)"
            if is_half(t):
                old = f"{old}.to(tl.float32)"
                val = self.to_storage(f"{old} + {val}", t)
            else:
                val = f"{old} + {val}"
            self.put(f"tl.store({p}, {val}, mask={m})", s.loc)
            return
        shadow = is_half(t)
        if shadow:
            self.shadowed.add(s.tensor)
        ptr, m = self.pointer(s.tensor, s.index, mask, s.loc, shadow=shadow,
                                 checks=s.checks)
        if not self.is_vec(s.value):
            val = f"{val} + tl.full([BLOCK], 0, {tl_type(t)})"
        self.put(f"tl.atomic_add({ptr}, {val}, mask={m}, sem=\"relaxed\")", s.loc)

    def s_If(self, s: ir.If, mask: str) -> None:
        c = self.let(self.cond(s.cond, mask), "_c")
        self.line_locs.setdefault(len(self.lines) - 1, s.loc)
        self.block(s.body, self.let(f"{mask} & {c}", "_m"))
        if s.orelse:
            self.block(s.orelse, self.let(f"{mask} & ({c} == 0)", "_m"))

    def s_Break(self, s: ir.Break, mask: str) -> None:
        lp = self.loops[-1]
        self.put(f"{lp.brk} = {lp.brk} | {mask}", s.loc)

    def s_Continue(self, s: ir.Continue, mask: str) -> None:
        lp = self.loops[-1]
        self.put(f"{lp.cont} = {lp.cont} | {mask}", s.loc)

    def s_Return(self, s: ir.Return, mask: str) -> None:     # pragma: no cover - host only
        raise AssertionError("return runs on the host")

    def s_Grid(self, s: ir.Grid, mask: str) -> None:           # pragma: no cover
        raise AssertionError("grids are top-level device kernels")

    def trip_count(self, s: ir.For, start: str, stop: str, step: str) -> str:
        """Iterations of range(start, stop, step), clamped at 0 (Triton divides truncating)."""
        st = s.step
        if isinstance(st, ir.Const) and st.value == 1:
            n = f"{stop} - {start}"
        elif isinstance(st, ir.Const) and st.value > 0:
            n = f"({stop} - {start} + {st.value - 1}) // {st.value}"
        elif isinstance(st, ir.Const):
            n = f"({start} - {stop} + {-st.value - 1}) // {-st.value}"
        else:
            n = (f"tl.where({step} > 0, ({stop} - {start} + {step} - 1) // {step}, "
                 f"({start} - {stop} - {step} - 1) // (0 - {step}))")
        return f"tl.maximum({n}, 0)"

    def s_For(self, s: ir.For, mask: str) -> None:
        self.put(f"# for {s.var} in range({ir.fmt_expr(s.start)}, {ir.fmt_expr(s.stop)}, "
                 f"{ir.fmt_expr(s.step)})", s.loc)
        # The start is a typed tensor, so the loop value is one (the interpreter's
        # induction variable is a Python int); constant steps stay literals.
        start = self.let(self.ex(s.start, mask), "_lo")
        stop = self.simple(self.ex(s.stop, mask), "_hi")
        const_step = isinstance(s.step, ir.Const)
        step = str(s.step.value) if const_step else self.let(self.ex(s.step, mask), "_st")
        n = self.let(self.trip_count(s, start, stop, step), "_n")
        brk, cont = _loop_exits(s.body)
        lp = _Loop(self.tmp("_brk") if brk else None, self.tmp("_cont") if cont else None)
        value = lambda t: f"{start} + {t}" + ("" if step == "1" else f" * {step}")  # noqa: E731
        if id(s) in self.uniform_loops:
            t = self.tmp("_i")
            self.put(f"for {t} in range(0, {n}):")
            self.depth += 1
            if lp.cont:
                self.put(f"{lp.cont} = tl.full([BLOCK], 0, tl.int1)")
            if s.var in self.lanes:
                self.put(f"{self.var(s.var)} = tl.where({mask}, {value(t)}, {self.var(s.var)})")
                self.run_body(s, mask, lp)
            else:
                outer = self.scope.get(s.var)
                self.scope[s.var] = f"_s_{s.var}{t}"
                self.put(f"{self.scope[s.var]} = {value(t)}")
                self.run_body(s, mask, lp)
                self.restore_scope(s.var, outer)
            self.depth -= 1
            return
        t = self.let("tl.full([], 0, tl.int64)", "_i")
        if lp.brk:
            self.put(f"{lp.brk} = tl.full([BLOCK], 0, tl.int1)")
        active = self.let(f"{mask} & ({t} + _zl < {n})", "_a")
        self.helpers.add("reduce")
        self.put(f"while _lo_any({active}):")
        self.depth += 1
        if lp.cont:
            self.put(f"{lp.cont} = tl.full([BLOCK], 0, tl.int1)")
        self.put(f"{self.var(s.var)} = tl.where({active}, {value(t)}, {self.var(s.var)})")
        self.run_body(s, active, lp)
        self.put(f"{t} = {t} + 1")
        self.put(f"{active} = {mask} & ({t} + _zl < {n})" +
                 (f" & ({lp.brk} == 0)" if lp.brk else ""))
        self.depth -= 1

    def restore_scope(self, name: str, outer: str | None) -> None:
        if outer is None:
            self.scope.pop(name, None)
        else:
            self.scope[name] = outer

    def run_body(self, s, mask: str, lp: _Loop) -> None:
        self.loops.append(lp)
        try:
            self.block(s.body, mask)
        finally:
            self.loops.pop()

    def s_While(self, s: ir.While, mask: str) -> None:
        brk, cont = _loop_exits(s.body)
        lp = _Loop(self.tmp("_brk") if brk else None, self.tmp("_cont") if cont else None)
        self.put(f"# while {ir.fmt_expr(s.cond)}", s.loc)
        if lp.brk:
            self.put(f"{lp.brk} = tl.full([BLOCK], 0, tl.int1)")
        active = self.tmp("_a")
        self.put(f"{active} = {mask} & {self.cond(s.cond, mask)}")
        self.helpers.add("reduce")
        self.put(f"while _lo_any({active}):")
        self.depth += 1
        if lp.cont:
            self.put(f"{lp.cont} = tl.full([BLOCK], 0, tl.int1)")
        self.run_body(s, active, lp)
        if lp.brk:
            self.put(f"{active} = {active} & ({lp.brk} == 0)")
        self.put(f"{active} = {active} & {self.cond(s.cond, active)}")
        self.depth -= 1

    # -- expressions ------------------------------------------------------------------------
    def ex(self, e: ir.Expr, mask: str) -> str:
        return getattr(self, "e_" + type(e).__name__)(e, mask)

    def cond(self, e: ir.Expr, mask: str) -> str:
        """A boolean as a lane vector: Triton's interpreter mangles ``vector & scalar``
        of booleans (the result is not boolean), so scalars are broadcast first."""
        text = self.ex(e, mask)
        return text if self.is_vec(e) else f"(({text}).to(tl.int64) + _zl != 0)"

    def operand(self, e: ir.Expr, mask: str, other: ir.Expr) -> str:
        """An operand: constants next to a non-constant stay literals (Triton keeps
        Python literals weakly typed, like NEP 50), else typed."""
        if isinstance(e, ir.Const) and not isinstance(other, ir.Const):
            return literal(e.value, e.type)
        return self.ex(e, mask)

    def e_Const(self, e: ir.Const, mask: str) -> str:
        return f"tl.full([], {literal(e.value, e.type)}, {tl_type(e.type)})"

    def e_Name(self, e: ir.Name, mask: str) -> str:
        return self.var(e.id)

    def e_Shape(self, e: ir.Shape, mask: str) -> str:
        return self.shape_arg(e.tensor, e.axis)

    def e_Load(self, e: ir.Load, mask: str) -> str:
        ptr, m = self.pointer(e.tensor, e.index, mask, e.loc, checks=e.checks)
        text = f"tl.load({ptr}, mask={m}, other=0)"
        return f"{text}.to(tl.float32)" if is_half(e.type) else text

    def e_BinOp(self, e: ir.BinOp, mask: str) -> str:
        t, op = e.type, e.op
        r = e.right
        inline = t.is_bool or op in ("+", "-", "*", "&", "|", "^") or \
            (op == "/" and t.is_floating) or \
            (op in ("<<", ">>") and isinstance(r, ir.Const) and 0 <= r.value < t.bits)
        if not inline:                          # helpers take typed values, not literals
            a = self.simple(self.ex(e.left, mask))
            b = self.ex(e.right, mask)
            return self.helper_binop(e, a, b)
        if t.is_bool and (self.is_vec(e.left) != self.is_vec(e.right)):
            a, b = self.cond(e.left, mask), self.cond(e.right, mask)
        else:
            a, b = self.operand(e.left, mask, e.right), self.operand(e.right, mask, e.left)
        if op == "/":
            return f"tl.div_rn({a}, {b})" if t is not fp64 else f"({a} / {b})"
        return f"({a} {op} {b})"

    def helper_binop(self, e: ir.BinOp, a: str, b: str) -> str:
        t, op, r = e.type, e.op, e.right
        if op == "**" and isinstance(r, ir.Const) and r.value == 2:
            return f"({a} * {a})"
        if t.is_floating:
            if op == "**":
                self.helpers.add("fpow")
                return f"_lo_fpow({a}, {b})"
            self.helpers.add("divmod_f")
            return f"_lo_{'floordiv' if op == '//' else 'mod'}_f({a}, {b})"
        if op in ("//", "%"):
            name = "floordiv_i" if op == "//" else "mod_i"
            self.helpers.add(name)
            return f"_lo_{name}({a}, {b})"
        if op == "**":
            self.helpers.add("ipow")
            return f"_lo_ipow({a}, {b}, {t.bits})"
        if op in ("<<", ">>"):
            self.helpers.add("shift")
            return f"_lo_{'shl' if op == '<<' else 'shr'}({a}, {b}, {t.bits})"
        raise NotImplementedError(f"triton backend: operator {op!r} on {t.name}")

    def e_UnaryOp(self, e: ir.UnaryOp, mask: str) -> str:
        v = self.ex(e.operand, mask)
        if e.op == "not" or (e.op == "~" and e.type.is_bool):
            return f"({v} == 0)"
        if e.op == "+":
            return v
        return f"({e.op}{v})"

    def e_Compare(self, e: ir.Compare, mask: str) -> str:
        a = self.operand(e.left, mask, e.right)
        b = self.operand(e.right, mask, e.left)
        return f"({a} {e.op} {b})"

    def e_BoolOp(self, e: ir.BoolOp, mask: str) -> str:
        op = "&" if e.op == "and" else "|"
        vec = any(self.is_vec(v) for v in e.values)
        part = self.cond if vec else self.ex
        if not any(has_load(v) for v in e.values[1:]):
            return "(" + f" {op} ".join(part(v, mask) for v in e.values) + ")"
        # Later operands load only in lanes where they decide the result (short circuit).
        acc = self.let(self.cond(e.values[0], mask), "_b")
        for v in e.values[1:]:
            need = self.let(f"{mask} & {acc}" if e.op == "and" else f"{mask} & ({acc} == 0)", "_m")
            acc = self.let(f"{acc} {op} {self.cond(v, need)}", "_b")
        return acc

    def e_Select(self, e: ir.Select, mask: str) -> str:
        if not (has_load(e.a) or has_load(e.b)):
            c = self.ex(e.cond, mask)
            return f"tl.where({c}, {self.operand(e.a, mask, e.b)}, {self.operand(e.b, mask, e.a)})"
        c = self.let(self.cond(e.cond, mask), "_c")
        a = self.ex(e.a, self.let(f"{mask} & {c}", "_m"))
        b = self.ex(e.b, self.let(f"{mask} & ({c} == 0)", "_m"))
        return f"tl.where({c}, {a}, {b})"

    def e_Call(self, e: ir.Call, mask: str) -> str:
        fn, t = e.fn, e.type
        args = [self.ex(a, mask) for a in e.args]
        x = args[0]
        if fn in ("exp", "log", "sin", "cos", "tanh"):
            self.helpers.add(fn)
            return f"_lo_{fn}({x})"
        if fn == "sqrt":
            return f"tl.sqrt_rn({x})" if t is not fp64 else f"tl.sqrt({x})"
        if fn == "erf":
            return f"tl.erf({x})"
        if fn in ("floor", "ceil"):
            return f"tl.{fn}({x})"
        if fn == "sigmoid":
            self.helpers.add("exp")
            one = "1.0"
            return f"tl.div_rn({one}, {one} + _lo_exp(-{x}))" if t is not fp64 else \
                f"({one} / ({one} + _lo_exp(-{x})))"
        if fn == "abs":
            return f"tl.abs({x})"
        if fn in ("min", "max"):
            a, b = (self.simple(self.operand(a_, mask, o)) for a_, o in
                    zip(e.args, e.args[::-1]))
            cmp = "<" if fn == "min" else ">"
            return f"tl.where({b} {cmp} {a}, {b}, {a})"
        if fn in ("minimum", "maximum"):
            a, b = (self.operand(a_, mask, o) for a_, o in zip(e.args, e.args[::-1]))
            nan = ", propagate_nan=tl.PropagateNan.ALL" if t.is_floating else ""
            return f"tl.{fn}({a}, {b}{nan})"
        if fn in ("isnan", "isinf"):
            if not e.args[0].type.is_floating:
                return f"({x} != {x})"                       # always False, lane-shaped
            return f"({x} != {x})" if fn == "isnan" else f"(tl.abs({x}) == _INF)"
        raise NotImplementedError(f"triton backend: intrinsic {fn!r}")

    def round_half(self, v: str, t: DType) -> str:
        """An fp32 value rounded to fp16/bf16 precision (still fp32)."""
        if t.name == "bf16":
            self.helpers.add("bf16")
            return f"_lo_bf16({v})"
        return f"({v}).to(tl.float16).to(tl.float32)"

    def to_storage(self, v: str, t: DType) -> str:
        """An fp32 value as a half for a store (bf16 rounded on the bits first)."""
        if t.name == "bf16":
            self.helpers.add("bf16")
            v = f"_lo_bf16({v})"
        return f"({v}).to({STORE_TL[t.name]})"

    def e_Cast(self, e: ir.Cast, mask: str) -> str:
        t, s = e.type, e.value.type
        v = self.ex(e.value, mask)
        if t.is_bool:
            return f"({v} != 0)"
        if t.is_integer:
            if s.is_floating and t.bits < 64:
                # numpy converts through int64 and wraps; a direct cvt would saturate.
                return f"({v}).to(tl.int64).to({tl_type(t)})"
            return f"({v}).to({tl_type(t)})"
        if is_half(t):
            if s is fp64:
                self.helpers.add("f64_to_f32_odd")
                v = f"_lo_f64_to_f32_odd({v})"
            return self.round_half(v, t)
        if is_half(s) and t is fp32:
            return v
        return f"({v}).to({tl_type(t)})"


