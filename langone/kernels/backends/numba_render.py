"""Lowered IR -> Python source for numba: what ``kernel.source("numba")`` shows.

The module holds two ``@njit`` functions per kernel, ``<name>_serial`` and
``<name>_parallel`` (``parallel=True``; None for serial-only kernels), each
from its own lowered IR (:mod:`.numba_lower`, where every decision is made).
This module only spells nodes: a ``Grid`` is a ``prange`` loop, a ``For`` a
``range`` loop, an ``Alloc`` an ``np.empty``, a ``Call`` its function (numba's,
numpy's or ``numba_math``'s, named by the lowering), a constant a literal of
its type.
"""

from __future__ import annotations

import math
from typing import Any

from ...dtypes import DType, fp64, int64
from .. import ir
from .numba_lower import LoweredModule, function_names


def _const(value: Any, t: DType | None) -> str:
    """A literal of type ``t`` (numba types a bare literal as int64 or fp64)."""
    if t is None:                                     # a message
        return repr(value)
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


class Renderer:
    """Writes one function of a lowered kernel."""

    def __init__(self, k: ir.Kernel, parallel: bool):
        self.k = k
        self.loop = "prange" if parallel else "range"
        self.lines: list[str] = []

    def function(self, fname: str) -> list[str]:
        self.put(0, f"def {fname}({', '.join(p.name for p in self.k.params)}):")
        self.block(self.k.body or (ir.Return(),), 1)
        return self.lines

    def put(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def block(self, stmts: tuple, depth: int) -> None:
        if not stmts:
            self.put(depth, "pass")
        for s in stmts:
            getattr(self, "s_" + type(s).__name__)(s, depth)

    # -- statements --------------------------------------------------------------
    def s_Assign(self, s: ir.Assign, d: int) -> None:
        self.put(d, f"{s.target} = {self.ex(s.value)}")

    def s_Store(self, s: ir.Store, d: int) -> None:
        self.put(d, f"{s.tensor}[{self.index(s)}] = {self.ex(s.value)}")

    def s_Atomic(self, s: ir.Atomic, d: int) -> None:
        self.put(d, f"{s.tensor}[{self.index(s)}] += {self.ex(s.value)}")

    def s_Alloc(self, s: ir.Alloc, d: int) -> None:
        shape = ", ".join(self.ex(x) for x in s.shape) + ("," if len(s.shape) == 1 else "")
        self.put(d, f"{s.name} = np.empty(({shape}), np.{s.dtype.numpy.name})")

    def s_Comment(self, s: ir.Comment, d: int) -> None:
        self.put(d, f"# {s.text}")

    def s_If(self, s: ir.If, d: int) -> None:
        self.put(d, f"if {self.ex(s.cond)}:")
        self.block(s.body, d + 1)
        if s.orelse:
            self.put(d, "else:")
            self.block(s.orelse, d + 1)

    def s_For(self, s: ir.For, d: int) -> None:
        start, stop, step = (self.ex(x) for x in (s.start, s.stop, s.step))
        args = stop if start == "0" and step == "1" else \
            f"{start}, {stop}" + ("" if step == "1" else f", {step}")
        self.put(d, f"for {s.var} in range({args}):")
        self.block(s.body, d + 1)

    def s_Grid(self, g: ir.Grid, d: int) -> None:
        self.put(d, f"for {g.vars[0]} in {self.loop}({self.ex(g.extents[0])}):")
        self.block(g.body, d + 1)

    def s_While(self, s: ir.While, d: int) -> None:
        self.put(d, f"while {self.ex(s.cond)}:")
        self.block(s.body, d + 1)

    def s_Break(self, s, d: int) -> None:
        self.put(d, "break")

    def s_Continue(self, s, d: int) -> None:
        self.put(d, "continue")

    def s_Return(self, s: ir.Return, d: int) -> None:
        self.put(d, "return None" if s.value is None else f"return {self.ex(s.value)}")

    # -- expressions -------------------------------------------------------------
    def ex(self, e: ir.Expr) -> str:
        return getattr(self, "e_" + type(e).__name__)(e)

    def index(self, access) -> str:
        return ", ".join(self.ex(i) for i in access.index) or "()"   # 0-d: a[()]

    def e_Const(self, e: ir.Const) -> str:
        return _const(e.value, e.type)

    def e_Name(self, e: ir.Name) -> str:
        return e.id

    def e_Shape(self, e: ir.Shape) -> str:
        return f"{e.tensor}.shape[{e.axis}]"

    def e_Load(self, e: ir.Load) -> str:
        return f"{e.tensor}[{self.index(e)}]"

    def e_BinOp(self, e: ir.BinOp) -> str:
        return f"({self.ex(e.left)} {e.op} {self.ex(e.right)})"

    def e_Compare(self, e: ir.Compare) -> str:
        return f"({self.ex(e.left)} {e.op} {self.ex(e.right)})"

    def e_UnaryOp(self, e: ir.UnaryOp) -> str:
        return f"({e.op}{' ' if e.op == 'not' else ''}{self.ex(e.operand)})"

    def e_BoolOp(self, e: ir.BoolOp) -> str:
        return "(" + f" {e.op} ".join(self.ex(v) for v in e.values) + ")"

    def e_Select(self, e: ir.Select) -> str:
        return f"({self.ex(e.a)} if {self.ex(e.cond)} else {self.ex(e.b)})"

    def e_Call(self, e: ir.Call) -> str:
        return f"{e.fn}({', '.join(self.ex(a) for a in e.args)})"


def render_module(m: LoweredModule, options: dict, *, cache: bool = True) -> str:
    """The complete module source for a lowered kernel (see :func:`.numba_lower.lower_module`)."""
    k = m.kernel
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
    out = head + ["", "@njit(**_JIT)"] + Renderer(m.serial, False).function(serial)
    if m.parallel is not None:
        out += ["", "", "@njit(parallel=True, **_JIT)"]
        out += Renderer(m.parallel, True).function(parallel)
    else:
        out += ["", "", f"{parallel} = None   # serial only: {m.serial_only}"]
    return "\n".join(out) + "\n"
