"""Expressions of the Lua renderer: one Lua construct per lowered IR node.

:mod:`.lower` has made every representation explicit (rounding, wrapping,
int64 numbers or cdata, raw tensor elements); :class:`Expressions`, a mixin of
:class:`~.render.Emitter`, only writes them. It relies on the emitter's
``names``, ``tensors``, ``sites``, ``k`` and ``use()``.
"""

from __future__ import annotations

from ..kernels import ir
from . import luasrc
from .lualib import DEFINED_BY
from .luasrc import paren as _paren, strip as _strip

_LUA_OP = {"**": "^", "!=": "~="}


class Expressions:
    """``e_*`` methods: lowered IR expressions -> Lua text."""

    element: tuple | None = None      # (tensor, index) whose old value an Atomic reads

    def ex(self, e: ir.Expr) -> str:
        return getattr(self, "e_" + type(e).__name__)(e)

    def e_Const(self, e: ir.Const) -> str:
        if e.type is None:                              # a message
            return luasrc.lua_string(e.value)
        if e.type.is_bool:
            return "true" if e.value else "false"
        if e.type.is_floating:
            return luasrc.lua_float(e.value)
        return luasrc.lua_int(e.value, False)

    def e_Name(self, e: ir.Name) -> str:
        return self.names(e.id)

    def e_Shape(self, e: ir.Shape) -> str:
        return self.tensors[e.tensor].shape[e.axis]

    def e_Load(self, e: ir.Load) -> str:
        if self.element is not None and self.element[0] == (e.tensor, e.index):
            return self.element[1]
        return self.read(self.tensors[e.tensor], self.index(e))

    def read(self, info, k: str) -> str:
        """Element ``k`` of a tensor; a parameter's floats through ld32/ld64, so that
        no NaN payload reaches LuaJIT (a local array holds only computed values)."""
        if info.bits is None:
            return f"{info.ptr}[{k}]"
        fn = self.use("ld64" if info.dtype.itemsize == 8 else "ld32")
        return f"{fn}({info.ptr}, {info.bits}, {k})"

    def index(self, access, strides=None) -> str:
        """The element offset of a Load/Store/Atomic; its ``checks`` axes are
        range-checked (decided by passes/lower_index)."""
        info = self.tensors[access.tensor]
        parts = []
        for axis, ix in enumerate(access.index):
            text = _strip(self.ex(ix))
            if axis in access.checks:
                self.sites.append((f"{self.k.filename}:{access.loc.line}", axis,
                                   repr(info.label)))
                text = f"{self.use('chk')}({text}, {info.shape[axis]}, {len(self.sites)})"
            parts.append(text)
        return info.flat(parts)

    def e_BinOp(self, e: ir.BinOp) -> str:
        return f"({self.ex(e.left)} {_LUA_OP.get(e.op, e.op)} {self.ex(e.right)})"

    e_Compare = e_BinOp

    def e_UnaryOp(self, e: ir.UnaryOp) -> str:
        if e.op == "not":
            return f"(not {self.ex(e.operand)})"
        return f"(-{_paren(self.ex(e.operand))})"

    def e_BoolOp(self, e: ir.BoolOp) -> str:
        return "(" + f" {e.op} ".join(self.ex(v) for v in e.values) + ")"

    def e_Select(self, e: ir.Select) -> str:
        c, a, b = self.ex(e.cond), self.ex(e.a), self.ex(e.b)
        if e.type.is_bool:                              # `c and false or b` would be b
            return f"(({c} and {a}) or (not {c} and {b}))"
        return f"({c} and {a} or {b})"

    def e_Call(self, e: ir.Call) -> str:
        if e.fn == "I64" and isinstance(e.args[0], ir.Const):
            return luasrc.lua_int(e.args[0].value, True)
        if e.fn == "U64" and isinstance(e.args[0], ir.Const):
            return f"{int(e.args[0].value) % 2 ** 64}ULL"
        if e.fn in DEFINED_BY:
            self.use(DEFINED_BY[e.fn])
        return f"{e.fn}({', '.join(_strip(self.ex(a)) for a in e.args)})"
