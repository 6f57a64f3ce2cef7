"""Expressions of the Lua renderer: how each IR value is represented and computed.

:class:`Expressions` is the half of :class:`~.render.Emitter` that turns IR
expressions into Lua text (see the mapping of numpy semantics in
:mod:`.render`'s docstring): Lua numbers or ``int64_t`` cdata, fp32 rounding,
integer wrapping. It relies on the emitter's ``k``, ``names``, ``ranges``,
``tensors``, ``scalars``, ``types``, ``fastmath``, ``index_mode`` and ``use()``.
"""

from __future__ import annotations

from typing import Any

from ..dtypes import DType, bf16, bool_, fp16, fp32, fp64, int32, int64, uint8
from ..kernels import ir
from . import luasrc
from .luasrc import paren as _paren, strip as _strip

_HALVES = ("fp16", "bf16")


def computes_in_fp32(t: Any) -> bool:
    """fp32, fp16 and bf16 values are fp32 while computing (held in doubles)."""
    return isinstance(t, DType) and t.is_floating and t is not fp64


def _is_half(t: Any) -> bool:
    return isinstance(t, DType) and t.name in _HALVES


class Expressions:
    """Value representations and ``e_*`` methods (a mixin of the Emitter)."""

    # -- value representations ---------------------------------------------------------
    def wide(self, e: ir.Expr) -> bool:
        return not self.index_mode and self.ranges.wide(e)

    def as_wide(self, e: ir.Expr) -> str:
        """``e`` (an integer) as an int64_t cdata."""
        saved, self.index_mode = self.index_mode, False
        try:
            if self.ranges.wide(e):
                return self.ex(e)
            if isinstance(e, ir.Const):
                return luasrc.lua_int(e.value, True)
            return f"{self.use('I64')}({_strip(self.ex(e))})"
        finally:
            self.index_mode = saved

    def num(self, e: ir.Expr) -> str:
        """``e`` (an integer) as a Lua number."""
        if e.type is int64 and self.ranges.wide(e) and not self._index_arith(e):
            saved, self.index_mode = self.index_mode, False
            try:
                return f"tonumber({_strip(self.ex(e))})"
            finally:
                self.index_mode = saved
        return self.ex(e)

    def _index_arith(self, e: ir.Expr) -> bool:
        """In a subscript, int64 arithmetic is done in numbers (see module doc)."""
        return self.index_mode and (
            (isinstance(e, ir.BinOp) and e.op in ("+", "-", "*", "//", "%")) or
            (isinstance(e, ir.UnaryOp) and e.op in ("-", "+")) or
            isinstance(e, (ir.Select, ir.Const, ir.Shape)) or
            (isinstance(e, ir.Call) and e.fn in ("abs", "min", "max", "minimum", "maximum")) or
            (isinstance(e, ir.Cast) and not e.value.type.is_floating and
             e.value.type is not int64))

    def index_num(self, e: ir.Expr) -> str:
        """An index, extent or range bound: always a Lua number."""
        saved, self.index_mode = self.index_mode, True
        try:
            return self.num(e)
        finally:
            self.index_mode = saved

    def exact32(self, e: ir.Expr) -> bool:
        """Whether ``e``'s double is already an fp32 value (rounding is a no-op)."""
        if isinstance(e, (ir.Const, ir.Load)):
            return True
        if isinstance(e, ir.Name):
            return not self.fastmath              # variables are rounded on assignment
        if isinstance(e, ir.UnaryOp) and e.op in ("-", "+"):
            return self.exact32(e.operand)
        if isinstance(e, ir.Select):
            return self.exact32(e.a) and self.exact32(e.b)
        if isinstance(e, ir.Call) and e.fn in ("abs", "min", "max", "minimum", "maximum",
                                               "floor", "ceil"):
            return all(self.exact32(a) for a in e.args)
        if isinstance(e, ir.Cast):
            s = e.value.type
            return computes_in_fp32(e.type) or s.is_bool or s.name in ("int8", "uint8",
                                                                        "int16")
        return False

    def rounded(self, e: ir.Expr, always: bool = False) -> str:
        """``e`` rounded to fp32 when its type computes in fp32 and it may not be."""
        text = self.ex(e)
        if not computes_in_fp32(e.type) or self.exact32(e) or (self.fastmath and not always):
            return text
        return f"{self.use('r32')}({_strip(text)})"

    def may_be_negative_zero(self, e: ir.Expr) -> bool:
        """Whether an int64 held in a Lua number may be -0.0 (``0 * -3``, ``-0``,
        ``0 // -3`` in doubles); narrower integers are wrapped by bit operations,
        which never give -0.0."""
        if isinstance(e, ir.Name):
            return e.id not in self.grid_vars     # grid variables count up from 0
        return not isinstance(e, (ir.Const, ir.Load, ir.Shape, ir.Cast))

    def wrap(self, t: DType, text: str) -> str:
        """Wrap an integer result to ``t``'s width (numbers)."""
        text = _strip(text)
        if t is int32:
            return f"tobit({text})"
        if t.name == "int16":
            return f"{self.use('wrap16')}({text})"
        if t.name == "int8":
            return f"{self.use('wrap8')}({text})"
        if t is uint8:
            return f"band({text}, 255)"
        return f"({text})"

    # -- expressions ----------------------------------------------------------------------
    def ex(self, e: ir.Expr) -> str:
        return getattr(self, "e_" + type(e).__name__)(e)

    def e_Const(self, e: ir.Const) -> str:
        t = e.type
        if t.is_bool:
            return "true" if e.value else "false"
        if t.is_floating:
            return luasrc.lua_float(e.value)
        return luasrc.lua_int(e.value, self.wide(e))

    def e_Name(self, e: ir.Name) -> str:
        return self.names(e.id)

    def e_Shape(self, e: ir.Shape) -> str:
        return self.tensors[e.tensor].shape[e.axis]

    def e_Load(self, e: ir.Load) -> str:
        info = self.tensors[e.tensor]
        text = f"{info.ptr}[{self.index(e.tensor, e.index, e.loc, checks=e.checks)}]"
        t = info.dtype
        if t is bool_:
            return f"({text} ~= 0)"
        if t is fp16:
            return f"{self.use('h2f')}({text})"
        if t is bf16:
            return f"{self.use('bf2f')}({text})"
        if t is int64 and self.index_mode:
            return f"tonumber({text})"
        return text

    def e_BinOp(self, e: ir.BinOp) -> str:
        t = e.type
        if t.is_floating:
            return self.float_binop(e)
        if t.is_bool:
            a, b = self.ex(e.left), self.ex(e.right)
            return f"({a} {'and' if e.op == '&' else 'or'} {b})" if e.op in ("&", "|") \
                else f"({a} ~= {b})"
        if t is int64:
            return self.int64_binop(e)
        return self.narrow_binop(e)

    def float_binop(self, e: ir.BinOp) -> str:
        op = e.op
        if op in ("//", "%"):
            if e.type is fp64:
                self.use("fdivmod")
                fn = "ffloordiv" if op == "//" else "fremainder"
            else:
                self.use("fdivmod32")
                fn = "ffloordiv32" if op == "//" else "fremainder32"
            a, b = self.rounded(e.left, True), self.rounded(e.right, True)
            return f"{fn}({_strip(a)}, {_strip(b)})"
        # numpy rounds every fp32 operation: an operand computed in double is
        # rounded first (one operation on fp32 values, done in double and
        # rounded once, is the correctly rounded fp32 result).
        a, b = self.rounded(e.left), self.rounded(e.right)
        return f"({a} {'^' if op == '**' else op} {b})"

    def int64_binop(self, e: ir.BinOp) -> str:
        op = e.op
        wide_operand = not self.index_mode and (self.ranges.wide(e.left) or
                                                self.ranges.wide(e.right))
        if wide_operand and not self.wide(e):     # e.g. v % 2 of an int64_t v: small result
            return f"tonumber({self.wide_binop(e)})"
        if self.wide(e) and not self._index_arith(e):
            return self.wide_binop(e)
        if op not in ("+", "-", "*", "//", "%"):       # bit ops in a subscript
            saved, self.index_mode = self.index_mode, False
            try:
                return f"tonumber({self.wide_binop(e)})"
            finally:
                self.index_mode = saved
        a, b = self.num(e.left), self.num(e.right)
        if op in ("+", "-", "*"):
            return f"({a} {op} {b})"
        fn = self.use("idiv" if op == "//" else "imod")
        return f"{fn}({_strip(a)}, {_strip(b)})"

    def wide_binop(self, e: ir.BinOp) -> str:
        """int64 arithmetic on int64_t cdata (wraps at 64 bits like numpy)."""
        op = e.op
        a, b = self.as_wide(e.left), self.as_wide(e.right)
        if op in ("+", "-", "*"):
            return f"({a} {op} {b})"
        fn = {"//": "idiv64", "%": "imod64", "**": "ipow64", "<<": "shl64",
              ">>": "shr64"}.get(op)
        if fn:
            return f"{self.use(fn)}({_strip(a)}, {_strip(b)})"
        return f"{ {'&': 'band', '|': 'bor', '^': 'bxor'}[op]}({_strip(a)}, {_strip(b)})"

    def narrow_binop(self, e: ir.BinOp) -> str:
        t, op = e.type, e.op
        a, b = self.ex(e.left), self.ex(e.right)
        if op in ("+", "-"):
            return self.wrap(t, f"{a} {op} {b}")
        if op == "*":
            exact = self.ranges.bits(e.left) + self.ranges.bits(e.right) <= 52
            if t is int32 and not exact:
                return f"{self.use('imul32')}({_strip(a)}, {_strip(b)})"
            return self.wrap(t, f"{a} * {b}")
        if op == "//":
            return self.wrap(t, f"{self.use('idiv')}({_strip(a)}, {_strip(b)})")
        if op == "%":
            return f"{self.use('imod')}({_strip(a)}, {_strip(b)})"
        if op == "**":
            text = f"{self.use('ipow32')}({_strip(a)}, {_strip(b)})"
            return text if t is int32 else self.wrap(t, text)
        if op == "<<":
            text = f"{self.use('shl')}({_strip(a)}, {_strip(b)}, {t.bits})"
            return text if t is int32 else self.wrap(t, text)
        if op == ">>":
            return f"{self.use('shr')}({_strip(a)}, {_strip(b)}, {t.bits})"
        return f"{ {'&': 'band', '|': 'bor', '^': 'bxor'}[op]}({_strip(a)}, {_strip(b)})"

    def e_UnaryOp(self, e: ir.UnaryOp) -> str:
        t = e.type
        if e.op == "not" or (e.op == "~" and t.is_bool):
            return f"(not {self.ex(e.operand)})"
        if e.op == "+":
            return self.ex(e.operand)
        if t is int64 and self.wide(e) and not self._index_arith(e):
            a = _strip(self.as_wide(e.operand))
            return f"(-{_paren(a)})" if e.op == "-" else f"bnot({a})"
        if t is int64 and e.op == "~":                 # in a subscript
            return f"tonumber(bnot({_strip(self.as_wide(e.operand))}))"
        a = self.ex(e.operand)
        if e.op == "-":
            if t.is_floating or t is int64:
                return f"(-{_paren(a)})"
            return self.wrap(t, f"-{_paren(a)}")
        text = f"bnot({_strip(a)})"                    # ~ on int8/16/32, uint8
        return f"band({text}, 255)" if t is uint8 else text

    def e_Compare(self, e: ir.Compare) -> str:
        ct = e.left.type
        op = {"==": "==", "!=": "~="}.get(e.op, e.op)
        if ct.is_bool and op not in ("==", "~="):
            a, b = f"({self.ex(e.left)} and 1 or 0)", f"({self.ex(e.right)} and 1 or 0)"
        elif computes_in_fp32(ct):
            a, b = self.rounded(e.left), self.rounded(e.right)
        else:
            a, b = self.ex(e.left), self.ex(e.right)
        return f"({a} {op} {b})"

    def e_BoolOp(self, e: ir.BoolOp) -> str:
        return "(" + f" {e.op} ".join(self.ex(v) for v in e.values) + ")"

    def e_Select(self, e: ir.Select) -> str:
        c = self.ex(e.cond)
        if e.type.is_bool:                              # `c and false or b` would be b
            a, b = self.ex(e.a), self.ex(e.b)
            return f"(({c} and {a}) or (not {c} and {b}))"
        if e.type is int64 and self.wide(e) and not self._index_arith(e):
            a, b = self.as_wide(e.a), self.as_wide(e.b)
        elif e.type is int64:
            a, b = self.num(e.a), self.num(e.b)
        else:
            a, b = self.ex(e.a), self.ex(e.b)
        return f"({c} and {a} or {b})"

    def e_Call(self, e: ir.Call) -> str:
        fn, t = e.fn, e.type
        if fn in ("isnan", "isinf"):
            arg = e.args[0]
            if not arg.type.is_floating:
                return "false"
            if fn == "isnan":
                return f"{self.use('isnan')}({_strip(self.ex(arg))})"
            return f"{self.use('isinf')}({_strip(self.rounded(arg, True))})"
        if fn in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "erf"):
            x = _strip(self.rounded(e.args[0]))
            if fn == "erf":
                return f"{self.use('erf')}({x})"
            if t is fp64 or fn in ("log", "sqrt", "sin", "cos"):
                return f"{self.use('sigmoid64')}({x})" if fn == "sigmoid" else f"{fn}({x})"
            return f"{self.use(fn + '32')}({x})"
        if fn in ("floor", "ceil"):
            return f"{fn}({_strip(self.rounded(e.args[0], True))})"
        if fn == "abs":
            return self.call_abs(e)
        return self.call_minmax(e)

    def call_abs(self, e: ir.Call) -> str:
        t, arg = e.type, e.args[0]
        if t.is_floating:
            return f"abs({_strip(self.ex(arg))})"
        if t is int64:
            if self.wide(e) and not self._index_arith(e):
                return f"{self.use('abs64')}({_strip(self.as_wide(arg))})"
            return f"abs({_strip(self.num(arg))})"
        text = f"abs({_strip(self.ex(arg))})"
        return text if t is uint8 else self.wrap(t, text)

    def call_minmax(self, e: ir.Call) -> str:
        fn, t = e.fn, e.type
        if t.is_bool:
            a, b = self.ex(e.args[0]), self.ex(e.args[1])
            return f"({a} {'and' if fn in ('min', 'minimum') else 'or'} {b})"
        if t.is_floating:
            a, b = self.rounded(e.args[0]), self.rounded(e.args[1])
            helper = {"min": "pymin", "max": "pymax", "minimum": "fminimum",
                      "maximum": "fmaximum"}[fn]
        else:
            if t is int64 and self.wide(e) and not self._index_arith(e):
                a, b = self.as_wide(e.args[0]), self.as_wide(e.args[1])
            else:
                a, b = self.num(e.args[0]), self.num(e.args[1])
            helper = "pymin" if fn in ("min", "minimum") else "pymax"
        return f"{self.use(helper)}({_strip(a)}, {_strip(b)})"

    def e_Cast(self, e: ir.Cast) -> str:
        t, s = e.type, e.value.type
        if t.is_bool:
            return f"({self.ex(e.value)} ~= 0)" if not s.is_bool else self.ex(e.value)
        if s.is_bool:
            return f"({self.ex(e.value)} and 1 or 0)"
        if t.is_integer:
            return self.cast_to_int(e)
        return self.cast_to_float(e)

    def cast_to_int(self, e: ir.Cast) -> str:
        t, s = e.type, e.value.type
        if s.is_floating:
            x = _strip(self.rounded(e.value, True))
            if t is int64:
                text = f"{self.use('I64')}({x})"
                return f"tonumber({text})" if self.index_mode else text
            text = f"{self.use('f2i32')}({x})"
            return text if t is int32 else self.wrap(t, text)
        if t is int64:
            return self.ex(e.value)                       # from a narrower integer
        v = self.ex(e.value)
        if s is int64:                                    # tobit wraps numbers and cdata
            v = f"tobit({_strip(v)})"
            return v if t is int32 else self.wrap(t, v)
        return self.wrap(t, v)

    def cast_to_float(self, e: ir.Cast) -> str:
        t, s = e.type, e.value.type
        if computes_in_fp32(s):                   # leaving fp32: the rounded value counts
            v = self.rounded(e.value, True)
            if not _is_half(t):
                return v
        else:
            v = self.ex(e.value)
            if s is int64 and self.ranges.wide(e.value):
                v = f"tonumber({_strip(v)})"
            elif s is int64 and self.may_be_negative_zero(e.value):
                v = f"({_strip(v)} + 0)"          # -0.0 + 0 is 0: no signed integer zero
            if t is fp64 or (s.is_integer and s.bits <= 16 and t is fp32):
                return v                          # exact
            if t is fp32:
                return f"{self.use('r32')}({_strip(v)})"
        return f"{self.use('rh16' if t is fp16 else 'rbf16')}({_strip(v)})"
