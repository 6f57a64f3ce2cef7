"""Lowered IR (:mod:`.lower`) -> a LuaJIT module (``kernel.source("lua")``).

The module is the same text whether it runs in-process (lupa, sandboxed) or
is exported for an embedded LuaJIT: it ``require``\\ s ``ffi`` and ``bit``,
defines the helpers it uses (:mod:`.lualib`), and returns ``M`` with
``M.run(...)``. Tensors arrive as pointers (cdata or addresses) followed by
their sizes and, for strided tensors, their strides in elements; see the
module header (:mod:`.header`). Every node maps to one Lua construct; what
the kernel means on LuaJIT was decided by :mod:`.lower`.
"""

from __future__ import annotations

from ..kernels import ir
from ..kernels.passes import lower_range
from . import lualib, luasrc
from .header import header, signature_text
from .luasrc import paren as _paren, strip as _strip
from .render_expr import Expressions


class Names:
    """IR names -> Lua identifiers, and fresh names for generated variables."""

    def __init__(self, k: ir.Kernel):
        user = {p.name for p in k.params} | {n for n, _ in k.locals} | \
            ir.bound_names(k.body) | {s.name for s in _stmts(k.body) if isinstance(s, ir.Alloc)}
        self.taken: set[str] = set(luasrc.LUA_KEYWORDS | lualib.defined_names())
        self.map: dict[str, str] = {}
        for n in sorted(user):
            lua = n if n.isascii() and n.isidentifier() else "u_" + n.encode("utf-8").hex()
            while lua in self.taken:
                lua += "_"
            self.map[n] = lua
            self.taken.add(lua)

    def __call__(self, name: str) -> str:
        return self.map[name]

    def fresh(self, base: str) -> str:
        return ir.fresh_name(base, self.taken)


class TensorInfo:
    """How a tensor appears in Lua: pointer, sizes, strides (elements)."""

    def __init__(self, name: str, t: ir.TensorType, names: Names, shape=None, label=None):
        self.label = label or name                # what index errors call it
        self.dtype, self.ndim, self.contiguous = t.dtype, t.ndim, t.contiguous
        self.ptr = names(name)
        self.shape = shape or [names.fresh(f"{self.ptr}_n{d}") for d in range(t.ndim)]
        # Row-major strides of a contiguous tensor come from its sizes; the last is 1.
        n = t.ndim - 1 if t.contiguous else t.ndim
        self.strides = [names.fresh(f"{self.ptr}_s{d}") for d in range(n)] + \
            (["1"] if t.contiguous and t.ndim else [])
        self.bits = None        # a parameter's fp32/fp64 data as int32 words (lualib.ld64)

    @property
    def run_args(self) -> list[str]:
        return [self.ptr] + self.shape + ([] if self.contiguous else self.strides)

    def stride_locals(self) -> list[str]:
        """``local`` definitions of a contiguous tensor's strides."""
        out = []
        for a in range(self.ndim - 2, -1, -1) if self.contiguous else ():
            nxt = self.strides[a + 1]
            value = self.shape[a + 1] if nxt == "1" else f"{nxt} * {self.shape[a + 1]}"
            out.append(f"local {self.strides[a]} = {value}")
        return out

    def flat(self, idx: list[str]) -> str:
        """Element offset of logical index ``idx``."""
        parts = [_paren(i) if s == "1" else f"{_paren(i)} * {s}"     # `c and a or b` too
                 for i, s in zip(idx, self.strides) if i != "0"]
        return _strip(" + ".join(parts)) if parts else "0"


def _stmts(body) -> list:
    return [n for n in ir.walk_stmts(body) if isinstance(n, ir.Stmt)]


def _own_continue(body) -> bool:
    """Whether ``body`` has a ``continue`` that belongs to its loop."""
    return any(isinstance(s, ir.Continue) or isinstance(s, ir.If) and (
        _own_continue(s.body) or _own_continue(s.orelse)) for s in body)


class Emitter(Expressions):
    """Writes the module for one lowered kernel."""

    def __init__(self, k: ir.Kernel, options: dict | None, module_name: str | None = None,
                 typed: ir.Kernel | None = None):
        self.k, self.typed = k, typed or k
        self.module_name = module_name or k.name
        self.debug = bool((options or {}).get("debug"))
        self.names = Names(k)
        self.tensors = {p.name: TensorInfo(p.name, p.type, self.names)
                        for p in k.params if p.is_tensor}
        for info in self.tensors.values():
            if info.dtype.name in ("fp32", "fp64"):
                info.bits = self.names.fresh(f"{info.ptr}_bits")
        self.helpers: set[str] = set()
        self.ctypes: dict[str, str] = {}          # C type -> Lua name of its ctype
        self.sites: list[tuple] = []
        self.lines: list[str] = []
        self.labels: list[str | None] = []        # continue labels of enclosing loops
        self.tmp = self.names.fresh("at")          # atomic_add's index temporary

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
        self.put(d, f"{self.names(s.target)} = {_strip(self.ex(s.value))}")

    def s_Store(self, s: ir.Store, d: int) -> None:
        self.put(d, f"{self.tensors[s.tensor].ptr}[{self.index(s)}] = {_strip(self.ex(s.value))}")

    def s_Atomic(self, s: ir.Atomic, d: int) -> None:
        info = self.tensors[s.tensor]
        old = f"{info.ptr}[{self.tmp}]"
        k = self.index(s)
        self.element = ((s.tensor, s.index), self.read(info, self.tmp))
        try:
            new = _strip(self.ex(s.value))
        finally:
            self.element = None
        self.put(d, f"do local {self.tmp} = {k}; {old} = {new} end")

    def s_Alloc(self, s: ir.Alloc, d: int) -> None:
        label = s.shape[0].tensor if s.shape and isinstance(s.shape[0], ir.Shape) else s.name
        info = TensorInfo(s.name, ir.TensorType(s.dtype, len(s.shape)), self.names,
                          [_strip(self.ex(x)) for x in s.shape], label)
        size = " * ".join(info.shape) or "1"
        self.put(d, f"local {info.ptr} = "
                    f"{self.ctype(luasrc.CTYPE[s.dtype.name] + '[?]')}({size})")
        for line in info.stride_locals():
            self.put(d, line)
        self.tensors[s.name] = info

    def s_Comment(self, s: ir.Comment, d: int) -> None:
        self.put(d, f"-- {s.text}")

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
        start, stop = _strip(self.ex(s.start)), self.ex(s.stop)
        if isinstance(s.step, ir.Const):                # never 0 (the frontend)
            step = int(s.step.value)
            last = f"{_paren(stop)} - 1" if step > 0 else f"{_paren(stop)} + 1"
            step_text = "" if step == 1 else f", {step}"
        else:
            st = self.names.fresh("step")
            self.put(d, f"local {st} = {_strip(self.ex(s.step))}")
            if s.checked_step:                          # decided by passes/lower_range
                where = lower_range.message(self.k.filename, s.loc.line, self.k.name)
                self.put(d, f"if {st} == 0 then error({luasrc.lua_string(where)}, 0) end")
            last = f"({st} > 0) and ({_strip(stop)} - 1) or ({_strip(stop)} + 1)"
            step_text = f", {st}"
        self.put(d, f"for {self.names(s.var)} = {start}, {last}{step_text} do")
        self.loop_body(s.body, d + 1)
        self.put(d, "end")

    def loop_body(self, body: tuple, d: int) -> None:
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

    def s_While(self, s: ir.While, d: int) -> None:
        self.put(d, f"while {_strip(self.ex(s.cond))} do")
        self.loop_body(s.body, d + 1)
        self.put(d, "end")

    def s_Break(self, s, d: int) -> None:
        self.put(d, "do break end")

    def s_Continue(self, s, d: int) -> None:
        self.put(d, f"goto {self.labels[-1]}")

    def s_Return(self, s: ir.Return, d: int) -> None:
        self.put(d, "do return end" if s.value is None else
                 f"do return {_strip(self.ex(s.value))} end")

    def s_Grid(self, g: ir.Grid, d: int) -> None:
        """Nested sequential loops; each iteration starts from the outer values of
        the variables it assigns, except the totals it reduces into."""
        extents = [self.names.fresh(f"grid_n{i}") for i in range(len(g.vars))]
        for n, x in zip(extents, g.extents):        # evaluated once, before the loops
            self.put(d, f"local {n} = {_strip(self.ex(x))}")
        for depth, (v, n) in enumerate(zip(g.vars, extents), d):
            self.put(depth, f"for {self.names(v)} = 0, {n} - 1 do")
        depth = d + len(g.vars)
        private = sorted({s.target for s in _stmts(g.body) if isinstance(s, ir.Assign)} -
                         {r.var for r in g.reductions})
        if private:
            lua = ", ".join(self.names(n) for n in private)
            self.put(depth, f"local {lua} = {lua}")
        self.loop_body(g.body, depth)
        for depth in range(depth - 1, d - 1, -1):
            self.put(depth, "end")

    # -- the module --------------------------------------------------------------------
    def run_params(self) -> list[str]:
        out = []
        for p in self.k.params:
            out += self.tensors[p.name].run_args if p.is_tensor else [self.names(p.name)]
        return out

    def function(self) -> list[str]:
        """The ``M.run`` function (body rendered first: it decides the helpers)."""
        self.put(1, "-- kernel body")
        self.block(self.k.body, 1)
        body, self.lines = self.lines, []
        head = [f"function M.run({', '.join(self.run_params())})"]
        for p in self.k.params:
            if p.is_tensor:
                info = self.tensors[p.name]
                ct = self.ctype(luasrc.CTYPE[info.dtype.name] + "*")
                head.append(f"  {info.ptr} = ffi.cast({ct}, {info.ptr})")
                if info.bits:        # an fp64's high words (lualib.ld64): + 1 little-endian
                    high = " + (ffi.abi('le') and 1 or 0)" if info.dtype.itemsize == 8 else ""
                    head.append(f"  local {info.bits} = ffi.cast("
                                f"{self.ctype('int32_t*')}, {info.ptr}){high}")
                head += ["  " + line for line in info.stride_locals()]
        grid_vars = {v for n in ir.walk(self.k) if isinstance(n, ir.Grid) for v in n.vars}
        local_names = [self.names(n) for n, _ in self.k.locals
                       if n not in {p.name for p in self.k.params} and n not in grid_vars]
        for i in range(0, len(local_names), 16):
            head.append(f"  local {', '.join(local_names[i:i + 16])}")
        return head + body + ["end"]

    def module(self) -> str:
        run = self.function()
        parts = [header(self.typed, self), lualib.PRELUDE,
                 f"local KERNEL = {luasrc.lua_string(repr(self.k.name))}"]
        if self.sites:
            parts.append("local SITES = {\n" + "".join(
                f"  {{{luasrc.lua_string(w)}, {a}, {luasrc.lua_string(n)}}},\n"
                for w, a, n in self.sites) + "}")
        if self.helpers:
            parts.append(lualib.helper_text(self.helpers))
        if self.ctypes:
            parts.append("\n".join(f"local {name} = ffi.typeof({luasrc.lua_string(c)})"
                                   for c, name in self.ctypes.items()))
        sig = luasrc.lua_string(signature_text(self.k))
        parts.append(f"local M = {{name = {luasrc.lua_string(self.k.name)}, signature = {sig}}}")
        parts += ["\n".join(run), "return M"]
        return "\n\n".join(parts) + "\n"


def render_module(k: ir.Kernel, options: dict | None = None, module_name: str | None = None,
                  typed: ir.Kernel | None = None) -> str:
    """The complete Lua module for the lowered kernel ``k`` (:func:`.lower.lower`).

    ``module_name`` is the name ``require`` will load it by (the header's
    example uses it; default: the kernel's name); ``typed``, the IR it was
    lowered from, is shown in the header.

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
    return Emitter(k, options, module_name, typed).module()


__all__ = ["render_module", "signature_text"]
