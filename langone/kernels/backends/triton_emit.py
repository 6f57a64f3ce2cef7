"""The device-kernel emitter: lowered IR statements -> SPMD Triton source lines.

Every scalar is a ``[BLOCK]`` lane vector ``v_<name>`` unless the lane plan of
:mod:`.triton_lower` keeps it scalar. Each statement runs under a lane mask, as
in the numpy reference: assignments are ``tl.where(mask, new, old)``, loads and
stores are masked, ``if`` narrows the mask, and a loop that is not uniform runs
``while _lo_any(active)``. Triton's interpreter shapes the output: a boolean scalar
combined with a boolean vector loses its type there (conditions are broadcast to
lanes first, :meth:`DeviceEmitter.cond`); a literal bound to a local loses its
weak typing (literals stay inline).
"""

from __future__ import annotations

import itertools
import math

from ...dtypes import DType, fp32, fp64
from .. import ir
from .triton_lib import (HELPER_OPS, STORE_TL, is_half, is_plain, literal, tl_type,
                         trip_count)
from .triton_lower import DeviceKernel, is_vec, needs_mask


class DeviceEmitter:
    """Writes one device kernel (grid or serial) as a ``@triton.jit`` function."""

    def __init__(self, k: ir.Kernel, types: dict, helpers: set, dk: DeviceKernel):
        self.types = types
        self.helpers = helpers
        self.lanes = dk.lanes
        self.uniform_loops = dk.uniform_loops
        self.loop_breaks = dk.loop_breaks
        self.tensor_types = {p.name: p.type for p in k.params if p.is_tensor}
        self.lines: list[str] = []
        self.line_locs: dict[int, ir.Loc] = {}
        self.counter = itertools.count()
        self.depth = 1
        self.scope: dict[str, str] = {}        # scalar loop variables in scope
        self.used_args: dict[str, str] = {}    # arg name -> prologue cast line
        self.checks: list = []
        self.local: dict = {}                  # local array -> (shape, its DType)

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

    def arg(self, arg: str) -> str:
        """A shape or stride argument, made a typed 0-d value once in the prologue."""
        self.used_args.setdefault(arg, f"{arg} = tl.full([], {arg}, tl.int64)")
        return arg

    def stride_arg(self, tensor: str, axis: int, shadow: bool = False) -> str | None:
        tt = self.tensor_types[tensor]
        if axis == tt.ndim - 1 and (tt.contiguous or shadow):
            return None                           # contiguous: the last stride is 1
        return self.arg(f"t_{tensor}{'_acc' if shadow else ''}_s{axis}")

    def is_vec(self, e: ir.Expr) -> bool:
        """Whether ``e`` differs between lanes (a [BLOCK] vector) in this kernel."""
        return is_vec(e, self.lanes, self.scope)

    # -- statements -------------------------------------------------------------------------
    def block(self, stmts: tuple, mask: str) -> None:
        for s in stmts:
            getattr(self, "s_" + type(s).__name__)(s, mask)

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
        bad = [self.record_check((loc, tensor, axis), mask, text,
                                 f"({text} < 0) | ({text} >= {self.arg(f't_{tensor}_n{axis}')})")
               for axis, text in enumerate(idx) if axis in checks]
        return self.let(f"{mask} & (({' | '.join(bad)}) == 0)", "_m")

    def record_check(self, site: tuple, mask: str, value: str, bad: str) -> str:
        """Record the first lane where ``bad`` holds; the launcher raises for ``site``."""
        self.helpers.add("check")
        self.checks.append(site)
        return self.let(f"_lo_check(_err, {mask} & ({bad}), {value}, _lin, "
                        f"{len(self.checks)})", "_bad")

    def s_Store(self, s: ir.Store, mask: str) -> None:
        if s.tensor in self.local:
            return self.store_local(s, mask)
        t = self.tensor_types[s.tensor].dtype
        val = self.ex(s.value, mask)
        ptr, m = self.pointer(s.tensor, s.index, mask, s.loc, checks=s.checks)
        if is_half(t):
            val = self.to_storage(val, t)
        self.put(f"tl.store({ptr}, {val}, mask={m})", s.loc)

    # -- local arrays: a [BLOCK, K] tensor, K the size rounded up to a power of two -------
    def s_Alloc(self, s: ir.Alloc, mask: str) -> None:
        shape = tuple(int(d.value) for d in s.shape)
        self.local[s.name] = (shape, s.dtype)
        width = 1 << max(0, (math.prod(shape) - 1).bit_length())
        self.put(f"_cols_{s.name} = tl.arange(0, {width})", s.loc)
        self.put(f"{self.var(s.name)} = tl.full([BLOCK, {width}], 0, {self.held(s.dtype)})")

    @staticmethod
    def held(t: DType) -> str:
        return "tl.int8" if t.is_bool else tl_type(t)      # bools held as 0/1

    def local_index(self, a, mask: str) -> tuple[str, str]:
        """(flat index lane vector, mask) of an access to a local array; checked
        axes record the first bad lane, which then neither loads nor stores."""
        shape, _ = self.local[a.tensor]
        flat, bad = "0", []
        for axis, (ix, size) in enumerate(zip(a.index, shape)):
            text = self.let(f"{self.ex(ix, mask)} + _zl")
            if axis in a.checks:                 # decided by passes/lower_index
                bad.append(self.record_check((a.loc, (a.tensor, size), axis), mask, text,
                                             f"({text} < 0) | ({text} >= {size})"))
            flat = f"({flat}) * {size} + {text}" if axis else text
        if bad:
            mask = self.let(f"{mask} & (({' | '.join(bad)}) == 0)", "_m")
        return self.let(flat), mask

    def load_local(self, e: ir.Load, mask: str) -> str:
        flat, _ = self.local_index(e, mask)
        t = self.local[e.tensor][1]
        zero = "-0.0" if t.is_floating else "0"      # x + -0.0 is x, signed zeros too
        text = f"tl.reduce(tl.where(_cols_{e.tensor}[None, :] == {flat}[:, None], " \
            f"{self.var(e.tensor)}, {zero}), 1, tl.standard._sum_combine)"
        return f"({text} != 0)" if t.is_bool else f"({text}).to({tl_type(t)})"

    def store_local(self, s: ir.Store, mask: str) -> None:
        flat, m = self.local_index(s, mask)
        t = self.local[s.tensor][1]
        val = f"(({self.ex(s.value, mask)}) + tl.full([BLOCK], 0, {self.held(t)}))" \
            if not t.is_bool else f"(({self.ex(s.value, mask)}) + _zl).to(tl.int8)"
        name = self.var(s.tensor)
        hit = f"(_cols_{s.tensor}[None, :] == {flat}[:, None]) & ((({m}) + _zl) != 0)[:, None]"
        self.put(f"{name} = tl.where({hit}, {val}[:, None], {name})", s.loc)

    def s_Atomic(self, s: ir.Atomic, mask: str) -> None:
        t = self.tensor_types[s.tensor].dtype          # a half updates its fp32 shadow
        cmp = None if s.compare is None else self.ex(s.compare, mask)
        val = self.ex(s.value, mask)
        ptr, m = self.pointer(s.tensor, s.index, mask, s.loc, shadow=is_half(t),
                              checks=s.checks)
        if not self.is_vec(s.value):
            val = f"{val} + tl.full([BLOCK], 0, {tl_type(t)})"
        call = self.atomic_call(s, t, ptr, m, val, cmp)
        if not s.target:
            self.put(call, s.loc)
            return
        old = self.let(call, "_old")
        self.line_locs.setdefault(len(self.lines) - 1, s.loc)
        name = self.var(s.target)
        self.put(f"{name} = tl.where({m}, {old}, {name})")

    def atomic_call(self, s: ir.Atomic, t: DType, ptr: str, m: str, val: str,
                    cmp: str | None) -> str:
        """Triton's atomic for ``s``: its own where it is exact (integer max/min),
        else the compare-and-swap loop of ``_lo_atomic_loop`` (float max/min, cas)."""
        relaxed = f"mask={m}, sem=\"relaxed\""
        if s.op in ("add", "sub"):
            return f"tl.atomic_add({ptr}, {val if s.op == 'add' else f'-({val})'}, {relaxed})"
        if s.op in ("max", "min") and not t.is_floating:
            return f"tl.atomic_{s.op}({ptr}, {val}, {relaxed})"
        bits = "tl.int64" if t.itemsize == 8 else "tl.int32"
        as_int = f".to(tl.pointer_type({bits}), bitcast=True)"
        if s.op == "exchange":        # on the bits: Triton's interpreter has no float xchg
            swap = f"tl.atomic_xchg(({ptr}){as_int}, ({val}).to({bits}, bitcast=True), " \
                   f"{relaxed})"
            return f"{swap}.to({tl_type(t)}, bitcast=True)" if t.is_floating else swap
        self.helpers.add("atomic_loop")
        base = f"t_{s.tensor}_acc" if is_half(t) else f"t_{s.tensor}"
        code = {"max": 0, "min": 1, "cas": 2}[s.op]
        ptr = self.let(f"({ptr}){as_int}", "_p")
        return f"_lo_atomic_loop({ptr}, {base}{as_int}, {m}, {val}, " \
               f"{cmp if cmp is not None else val}, {code})"

    def s_If(self, s: ir.If, mask: str) -> None:
        c = self.let(self.cond(s.cond, mask), "_c")
        self.line_locs.setdefault(len(self.lines) - 1, s.loc)
        self.block(s.body, self.let(f"{mask} & {c}", "_m"))
        if s.orelse:
            self.block(s.orelse, self.let(f"{mask} & ({c} == 0)", "_m"))

    def s_For(self, s: ir.For, mask: str) -> None:
        self.put(f"# for {s.var} in range({ir.fmt_expr(s.start)}, {ir.fmt_expr(s.stop)}, "
                 f"{ir.fmt_expr(s.step)})", s.loc)
        # The start is a typed tensor, so the loop value is one (the interpreter's
        # induction variable is a Python int); constant steps stay literals.
        start = self.let(self.ex(s.start, mask), "_lo")
        stop = self.simple(self.ex(s.stop, mask), "_hi")
        k = s.step.value if isinstance(s.step, ir.Const) else None
        step = str(k) if k is not None else self.let(self.ex(s.step, mask), "_st")
        n = trip_count(k, start, stop, step)
        if s.checked_step:             # passes/lower_range: a zero step runs no iteration
            self.check((s.loc, None, "step"), step, s.step, mask, "{v} == 0")
            n = f"tl.where({step} == 0, 0, {n})"
        n = self.let(n, "_n")
        value = lambda t: f"{start} + {t}" + ("" if step == "1" else f" * {step}")  # noqa: E731
        if id(s) not in self.uniform_loops:
            t = self.let("tl.full([], 0, tl.int64)", "_i")
            brk = self.loop_breaks.get(id(s))
            active = self.let(f"{mask} & ({t} + _zl < {n})", "_a")
            self.loop(f"{active} = {mask} & ({t} + _zl < {n})" +
                      (f" & ({self.var(brk)} == 0)" if brk else ""), active, s.body,
                      f"{self.var(s.var)} = tl.where({active}, {value(t)}, {self.var(s.var)})",
                      f"{t} = {t} + 1")
            return
        t = self.tmp("_i")
        self.put(f"for {t} in range(0, {n}):")
        self.depth += 1
        outer = self.scope.pop(s.var, None)
        if s.var in self.lanes:
            self.put(f"{self.var(s.var)} = tl.where({mask}, {value(t)}, {self.var(s.var)})")
        else:
            self.scope[s.var] = f"_s_{s.var}{t}"
            self.put(f"{self.scope[s.var]} = {value(t)}")
        self.block(s.body, mask)
        self.scope.pop(s.var, None)
        if outer is not None:
            self.scope[s.var] = outer
        self.depth -= 1

    def loop(self, update, active: str, body: tuple, first: str = "", last: str = ""
             ) -> None:
        """``while any lane is active``: ``first``, ``body``, ``last``, then ``update``
        (a line, or a function that writes the update's lines in the loop)."""
        self.helpers.add("reduce")
        self.put(f"while _lo_any({active}):")
        self.depth += 1
        for line in (first, "BODY", last):
            self.block(body, active) if line == "BODY" else line and self.put(line)
        update() if callable(update) else self.put(update)
        self.depth -= 1

    def s_While(self, s: ir.While, mask: str) -> None:
        self.put(f"# while {ir.fmt_expr(s.cond)}", s.loc)
        active = self.let(f"{mask} & {self.cond(s.cond, mask)}", "_a")
        # The test is computed again in the loop: a short-circuit test writes temporaries.
        self.loop(lambda: self.put(f"{active} = {active} & {self.cond(s.cond, active)}"),
                  active, s.body)

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
        if isinstance(e, ir.Const) and not isinstance(other, ir.Const) and is_plain(e.value):
            return literal(e.value, e.type)
        return self.ex(e, mask)

    def e_Const(self, e: ir.Const, mask: str) -> str:
        return f"tl.full([], {literal(e.value, e.type)}, {tl_type(e.type)})"

    def e_Name(self, e: ir.Name, mask: str) -> str:
        return self.var(e.id)

    def e_Shape(self, e: ir.Shape, mask: str) -> str:
        return self.arg(f"t_{e.tensor}_n{e.axis}")

    def e_Load(self, e: ir.Load, mask: str) -> str:
        if e.tensor in self.local:
            return self.load_local(e, mask)
        ptr, m = self.pointer(e.tensor, e.index, mask, e.loc, checks=e.checks)
        text = f"tl.load({ptr}, mask={m}, other=0)"
        return f"{text}.to(tl.float32)" if is_half(e.type) else text

    def e_BinOp(self, e: ir.BinOp, mask: str) -> str:
        t, op, r = e.type, e.op, e.right
        inline = t.is_bool or op in ("+", "-", "*", "&", "|", "^") or \
            (op == "/" and t.is_floating) or \
            (op in ("<<", ">>") and isinstance(r, ir.Const) and 0 <= r.value < t.bits)
        if not inline:                          # helpers take typed values, not literals
            a = self.simple(self.ex(e.left, mask))
            b = self.ex(e.right, mask)
            if e.checked:                       # passes/lower_pow: a negative one raises
                b = self.simple(b)
                self.check((e.loc, None, None), b, e.right, mask, "{v} < 0")
            return self.helper_binop(e, a, b)
        if t.is_bool and (self.is_vec(e.left) != self.is_vec(e.right)):
            a, b = self.cond(e.left, mask), self.cond(e.right, mask)
        else:
            a, b = self.operand(e.left, mask, e.right), self.operand(e.right, mask, e.left)
        if op == "/":
            return f"tl.div_rn({a}, {b})" if t is not fp64 else f"({a} / {b})"
        return f"({a} {op} {b})"

    def check(self, site: tuple, text: str, e: ir.Expr, mask: str, bad: str) -> None:
        """Record the first lane where ``bad`` ("{v} < 0") holds of ``text``, ``e``'s value."""
        v = text if self.is_vec(e) else self.let(f"{text} + _zl")
        self.record_check(site, mask, v, bad.format(v=v))

    def helper_binop(self, e: ir.BinOp, a: str, b: str) -> str:
        if e.op == "**" and isinstance(e.right, ir.Const) and e.right.value == 2:
            return f"({a} * {a})"
        helper, call = HELPER_OPS[(e.op, e.type.is_floating)]
        self.helpers.add(helper)
        return call.format(a=a, b=b, bits=e.type.bits)

    def e_UnaryOp(self, e: ir.UnaryOp, mask: str) -> str:
        v = self.ex(e.operand, mask)
        if e.op == "not" or (e.op == "~" and e.type.is_bool):
            return f"({v} == 0)"
        return v if e.op == "+" else f"({e.op}{v})"

    def e_Compare(self, e: ir.Compare, mask: str) -> str:
        return f"({self.operand(e.left, mask, e.right)} {e.op} " \
            f"{self.operand(e.right, mask, e.left)})"

    def e_BoolOp(self, e: ir.BoolOp, mask: str) -> str:
        op = "&" if e.op == "and" else "|"
        vec = any(self.is_vec(v) for v in e.values)
        part = self.cond if vec else self.ex
        if not any(needs_mask(v) for v in e.values[1:]):
            return "(" + f" {op} ".join(part(v, mask) for v in e.values) + ")"
        # Later operands load only in lanes where they decide the result (short circuit).
        acc = self.let(self.cond(e.values[0], mask), "_b")
        for v in e.values[1:]:
            need = self.let(f"{mask} & {acc}" if e.op == "and" else f"{mask} & ({acc} == 0)", "_m")
            acc = self.let(f"{acc} {op} {self.cond(v, need)}", "_b")
        return acc

    def e_Select(self, e: ir.Select, mask: str) -> str:
        if not (needs_mask(e.a) or needs_mask(e.b)):
            c = self.ex(e.cond, mask)
            return f"tl.where({c}, {self.operand(e.a, mask, e.b)}, {self.operand(e.b, mask, e.a)})"
        c = self.let(self.cond(e.cond, mask), "_c")
        a = self.ex(e.a, self.let(f"{mask} & {c}", "_m"))
        b = self.ex(e.b, self.let(f"{mask} & ({c} == 0)", "_m"))
        return f"tl.where({c}, {a}, {b})"

    def e_Call(self, e: ir.Call, mask: str) -> str:
        fn, t = e.fn, e.type
        if fn in ("min", "max"):
            a, b = (self.simple(self.operand(a_, mask, o)) for a_, o in
                    zip(e.args, e.args[::-1]))
            return f"tl.where({b} {'<' if fn == 'min' else '>'} {a}, {b}, {a})"
        if fn in ("minimum", "maximum"):
            a, b = (self.operand(a_, mask, o) for a_, o in zip(e.args, e.args[::-1]))
            nan = ", propagate_nan=tl.PropagateNan.ALL" if t.is_floating else ""
            return f"tl.{fn}({a}, {b}{nan})"
        if fn in ("log1p", "expm1", "atan2", "hypot", "copysign", "fmod"):
            helper = fn if fn != "fmod" else "fmod" if t.is_floating else "fmod_i"
            self.helpers.add(helper)
            name = f"_lo_{helper}"
            return f"{name}({', '.join(self.ex(a, mask) for a in e.args)})"
        x = self.ex(e.args[0], mask)
        if fn in ("exp", "log", "sin", "cos", "tanh"):     # libdevice on a GPU
            self.helpers.add(fn)
            return f"_lo_{fn}({x})"
        return f"{'tl.sqrt_rn' if fn == 'sqrt' and t is not fp64 else 'tl.' + fn}({x})"

    def round_half(self, v: str, t: DType) -> str:
        """An fp32 value rounded to fp16/bf16 precision (still fp32)."""
        if t.name == "bf16":
            self.helpers.add("bf16")
            return f"_lo_bf16({v})"
        return f"({v}).to(tl.float16).to(tl.float32)"

    def to_storage(self, v: str, t: DType) -> str:
        """An fp32 value as a half for a store (bf16 rounded on the bits first)."""
        return f"({self.round_half(v, t) if t.name == 'bf16' else v}).to({STORE_TL[t.name]})"

    def e_Cast(self, e: ir.Cast, mask: str) -> str:
        t, s = e.type, e.value.type
        v = self.ex(e.value, mask)
        if t.is_bool:
            return f"({v} != 0)"
        if t.is_integer:      # floats through int64, then wrap: a direct cvt would saturate
            return f"({v})" + (".to(tl.int64)" if s.is_floating and t.bits < 64 else "") + \
                f".to({tl_type(t)})"
        if is_half(t):
            if s is fp64:
                self.helpers.add("f64_to_f32_odd")
                v = f"_lo_f64_to_f32_odd({v})"
            return self.round_half(v, t)
        return v if is_half(s) and t is fp32 else f"({v}).to({tl_type(t)})"


