"""Frontend: a Python function's AST -> untyped IR (positions kept).

Everything outside the kernel language is reported here as a
:class:`~langone.errors.KernelCompileError` at the user's line and column,
with what to write instead.
"""

from __future__ import annotations

import ast
import inspect
import math
import textwrap
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import KernelCompileError
from . import alloc, composites, inline, ir
from .ir import Loc


@dataclass
class SourceInfo:
    """Where a kernel's source lives, to map AST positions to file positions."""

    filename: str
    lines: list[str]          # the file's lines (or the snippet's)
    line_offset: int          # file line of the snippet's first line, minus 1
    col_offset: int           # indentation removed by dedent
    name: str

    def loc(self, node: ast.AST) -> Loc:
        return Loc(node.lineno + self.line_offset,
                   getattr(node, "col_offset", 0) + self.col_offset)

    def line_text(self, lineno: int) -> str | None:
        if 1 <= lineno <= len(self.lines):
            return self.lines[lineno - 1]
        return None

    def error(self, node_or_loc: Any, message: str, hint: str | None = None
              ) -> KernelCompileError:
        loc = node_or_loc if isinstance(node_or_loc, Loc) else self.loc(node_or_loc)
        return KernelCompileError(
            message, filename=self.filename, lineno=loc.line or None, col=loc.col,
            source_line=self.line_text(loc.line) if loc.line else None,
            hint=hint, kernel=self.name)


def get_source(fn) -> tuple[ast.FunctionDef, SourceInfo]:
    """Parse ``fn``'s source; errors (no source, lambdas) become compile errors."""
    name = getattr(fn, "__name__", repr(fn))
    try:
        lines, first = inspect.getsourcelines(fn)
        filename = inspect.getsourcefile(fn) or "<unknown>"
    except (OSError, TypeError) as exc:
        raise KernelCompileError(
            f"cannot read the source of {name!r} ({exc})",
            hint="kernels must be defined in a file (or a notebook cell), "
                 "not built with exec() or typed at a bare REPL", kernel=name) from None
    snippet = "".join(lines)
    dedented = textwrap.dedent(snippet)
    indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
    info = SourceInfo(filename, _file_lines(filename, lines, first), first - 1,
                      indent, name)
    try:
        module = ast.parse(dedented)
    except SyntaxError as exc:
        raise info.error(Loc((exc.lineno or 1) + first - 1, (exc.offset or 1) - 1),
                         f"syntax error: {exc.msg}") from None
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name == fn.__name__:
            return node, info
    for node in module.body:                       # lambdas, renamed functions
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node, info
    raise info.error(Loc(first, indent), f"{name!r} is not a def function",
                     hint="write the kernel as a def function; lambdas are not kernels")


def _file_lines(filename: str, snippet: list[str], first: int) -> list[str]:
    import linecache
    lines = linecache.getlines(filename)
    if lines:
        return lines
    return [""] * (first - 1) + snippet


# --- name resolution -----------------------------------------------------------

#: Math functions spelled alike in ``lo``, ``np`` (``np.arctan2``, ``np.power`` too)
#: and ``math``.
_TWO_SPELLINGS = ("log1p", "expm1", "atan2", "hypot", "pow", "fmod", "copysign")


def _intrinsic_table() -> dict[int, tuple[str, Any]]:
    """id(object) -> ("intrinsic"|"cast"|"grid"|"atomic"|"const"|"range", payload)."""
    import langone
    from . import language
    table: dict[int, tuple[str, Any]] = {}

    def add(obj: Any, entry: tuple[str, Any]) -> None:
        if obj is not None and not isinstance(obj, (int, float)):
            table.setdefault(id(obj), entry)

    for nm in ir.INTRINSICS:
        add(getattr(langone, nm, None) if nm not in ("min", "max") else None,
            ("intrinsic", nm))
        add(getattr(language, nm, None), ("intrinsic", nm))
        if nm not in ("sigmoid", "erf", "min", "max", "abs"):
            add(getattr(np, nm, None), ("intrinsic", nm))
        if nm in ("exp", "log", "sqrt", "sin", "cos", "tanh", "erf", "floor",
                  "ceil", "isnan", "isinf", *_TWO_SPELLINGS):
            add(getattr(math, nm), ("mathcall", nm))
    for np_name, nm in (("arctan2", "atan2"), ("power", "pow"), ("conjugate", "conj")):
        add(getattr(np, np_name), ("intrinsic", nm))
    for nm, kinds in (("isfinite", "isfinite"), ("sign", "sign"), ("clip", "clip"),
                      ("round", "rint"), ("rint", "rint")):
        add(getattr(langone, nm, None), ("composite", kinds))     # see composites.py
        add(getattr(np, nm, None), ("composite", kinds))
    add(math.isfinite, ("composite", "math_isfinite"))
    add(round, ("composite", "round"))
    add(getattr(langone, "where", None), ("where", None))
    add(language.where, ("where", None))
    add(np.where, ("where", None))
    add(np.abs, ("intrinsic", "abs"))
    add(math.fabs, ("mathcall", "abs"))
    add(min, ("intrinsic", "min"))
    add(max, ("intrinsic", "max"))
    add(abs, ("intrinsic", "abs"))
    add(language.grid, ("grid", None))
    add(getattr(langone, "grid", None), ("grid", None))
    for op in ir.ATOMIC_OPS:
        add(getattr(language, f"atomic_{op}"), ("atomic", op))
        add(getattr(langone, f"atomic_{op}", None), ("atomic", op))
    add(range, ("range", None))
    add(language.range, ("range", "lo"))
    for nm in alloc.SPELLINGS:                        # tensors made at the top level
        add(getattr(langone, nm, None), ("alloc", nm))
        add(getattr(np, nm), ("alloc", nm))
    # Python's own conversions give Python numbers: weak in promotion (NEP 50).
    add(float, ("pycast", (ir.Weak("f"), dtypes.fp64)))
    add(int, ("pycast", (ir.Weak("i"), dtypes.int64)))
    add(bool, ("pycast", (ir.Weak("b"), dtypes.bool_)))
    for d in dtypes.ALL_DTYPES:
        add(d, ("cast", d))
    for nm in ("float16", "float32", "float64", "int8", "int16", "int32", "int64",
               "uint8", "uint16", "uint32", "uint64", "complex64", "complex128", "bool_"):
        add(getattr(np, nm), ("cast", dtypes.dtype(nm)))
    return table


_TABLE: dict[int, tuple[str, Any]] | None = None


def intrinsic_table() -> dict[int, tuple[str, Any]]:
    global _TABLE
    if _TABLE is None:
        _TABLE = _intrinsic_table()
    return _TABLE


_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
           ast.Mod: "%", ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|",
           ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>"}
_CMPOPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">",
           ast.GtE: ">="}
_UNOPS = {ast.USub: "-", ast.UAdd: "+", ast.Not: "not", ast.Invert: "~"}

_SUPPORTED = ("lo.grid/range loops, while, if/elif/else, scalar locals, tensor "
              "indexing x[i, j], x.shape[k], math (lo.exp, ...), casts (lo.fp32(v))")


class _Frontend(inline.Calls):
    """Lowers one FunctionDef. Scope tracking decides reductions and grid rules."""

    def __init__(self, fn, node: ast.FunctionDef, info: SourceInfo):
        self.fn = fn
        self.node = node
        self.info = info
        self.env = dict(getattr(fn, "__globals__", {}))
        closure = getattr(fn, "__closure__", None) or ()
        for name, cell in zip(fn.__code__.co_freevars, closure):
            try:
                self.env[name] = cell.cell_contents
            except ValueError:
                pass
        self.params: list[str] = []
        self.in_grid = False
        self.grid_locals: set[str] = set()
        self.loop_depth = 0         # sequential loops within the current region
        self.top_defined: set[str] = set()
        self.after_grid_locals: set[str] = set()   # grid-private names, dead after it
        # Inlining (see inline.py): statements that must run before the one being
        # lowered (argument temporaries, inlined bodies), per statement; the whole
        # kernel's shared state; and, in a device function, its result locals.
        self.frames: list[list] = [[]]
        self.hoisted: set[int] = set()      # ids of atomics run before their statement
        self.shared = inline.Shared(inline.ast_names(node))
        self.results: list[str] | None = None
        self.site_path: tuple = ()
        self.made: set[str] = set()     # tensors the kernel makes (lo.empty...): see alloc.py
        self.grid_arrays: set[str] = set()   # local arrays of the grid being lowered
        self.branch_depth = 0           # ifs around the statement, within the region

    # -- helpers -----------------------------------------------------------
    def err(self, node: Any, message: str, hint: str | None = None) -> KernelCompileError:
        return self.info.error(node, message, hint)

    def loc(self, node: ast.AST) -> Loc:
        return self.info.loc(node)

    def resolve(self, node: ast.expr) -> Any:
        """The Python object a global name/attribute chain refers to, or a sentinel."""
        if isinstance(node, ast.Name):
            if node.id in self.params or node.id in self.top_defined or \
                    node.id in self.grid_locals:
                return _LOCAL
            if node.id in self.env:
                return self.env[node.id]
            import builtins
            return getattr(builtins, node.id, _UNKNOWN)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            if base in (_LOCAL, _UNKNOWN):
                return base
            return getattr(base, node.attr, _UNKNOWN)
        return _UNKNOWN

    # -- kernel --------------------------------------------------------------
    def lower(self) -> ir.Kernel:
        a = self.node.args
        if a.vararg or a.kwarg:
            raise self.err(self.node, "kernel parameters must be named: no *args or **kwargs",
                           hint="list each tensor and scalar parameter by name (defaults "
                                "and keyword-only parameters are fine)")
        params = []
        for arg in a.posonlyargs + a.args + a.kwonlyargs:     # the launcher's order
            self.params.append(arg.arg)
            params.append(ir.Param(arg.arg, None, self.loc(arg)))
        body = self.block(self.node.body, top=True)
        kind = self.classify(body)
        inlined = tuple((path, tuple(sorted(m.items())))
                        for path, m in self.shared.sites.items())
        return ir.Kernel(self.node.name, tuple(params), body, kind=kind,
                         filename=self.info.filename, inlined=inlined)

    def classify(self, body: tuple) -> str:
        has_grid = any(isinstance(s, ir.Grid) for s in body)
        has_index = any(isinstance(n, (ir.Load, ir.Store, ir.Atomic, ir.Shape,
                                       ir.NewTensor)) for n in ir.walk_stmts(body))
        ret = body[-1] if body and isinstance(body[-1], ir.Return) else None
        if ret is not None and ret.items and not has_grid and not has_index:
            raise self.info.error(ret.loc, "an elementwise kernel (no lo.grid) returns one "
                                  "expression", hint="write one kernel per result, or make "
                                  "the outputs and fill them in a lo.grid loop")
        if not has_grid and not has_index and ret is not None and ret.value is not None:
            for s in body[:-1]:
                if not isinstance(s, ir.Assign):
                    raise self.info.error(s.loc, "an elementwise kernel (no lo.grid) "
                                          "may only assign locals and return an expression",
                                          hint="use lo.grid for control flow over elements, "
                                               "or lo.where(cond, a, b) for choices")
            return "elementwise"
        return "loop"

    # -- statements ---------------------------------------------------------------
    def block(self, stmts: list[ast.stmt], top: bool = False) -> tuple:
        out: list[ir.Stmt] = []
        for i, s in enumerate(stmts):
            if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and \
                    isinstance(s.value.value, str):
                continue                                  # docstring
            if isinstance(s, ast.Return) and self.results is None:
                if not top or self.in_grid or i != len(stmts) - 1:
                    raise self.err(s, "return is only allowed as the last statement "
                                      "of the kernel",
                                   hint="store results into an output tensor, or "
                                        "accumulate a reduction and return it at the end")
            pre, lowered = self.with_frame(lambda: self.stmt(s, top))
            self.check_hoisted_atomics(pre, lowered)
            out.extend(pre)
            out.extend(lowered)
        return tuple(out)

    def with_frame(self, lower):
        """``(statements to run first, lower())``: what lowering emitted before it."""
        self.frames.append([])
        try:
            value = lower()
        finally:
            pre = self.frames.pop()
        return pre, value

    def stmt(self, s: ast.stmt, top: bool) -> list[ir.Stmt]:
        loc = self.loc(s)
        if isinstance(s, ast.Pass):
            return []
        if isinstance(s, ast.Return):
            if self.results is not None:                  # a device function's result
                values = self.tuple_values(s.value, len(self.results)) if s.value else []
                return [ir.Assign(loc, r, v) for r, v in zip(self.results, values)]
            if isinstance(s.value, ast.Tuple):            # several results
                return [ir.Return(loc, None, tuple(self.expr(v) for v in s.value.elts))]
            return [ir.Return(loc, self.expr(s.value) if s.value else None)]
        if isinstance(s, ast.Assign):
            if len(s.targets) != 1:
                raise self.err(s, "chained assignment (a = b = ...) is not supported",
                               hint="assign each name on its own line")
            if isinstance(s.targets[0], (ast.Tuple, ast.List)):
                return self.unpack(s.targets[0], s.value, s)
            if alloc.spelling(self, s.value) is not None:
                return [alloc.new_tensor(self, s.targets[0], s.value, top)]
            if self.atomic_kind(s.value):
                return self.atomic_assign(s.targets[0], s.value, s)
            return [self.assign(s.targets[0], self.expr(s.value), s)]
        if isinstance(s, ast.AugAssign):
            op = _BINOPS.get(type(s.op))
            target = s.target
            if isinstance(target, ast.Name):
                cur = self.name_expr(target)
            elif isinstance(target, ast.Subscript):
                cur = self.subscript(target)
            else:
                raise self.err(target, "cannot augment-assign to this target")
            return [self.assign(target, ir.BinOp(loc, None, op, cur, self.expr(s.value)), s)]
        if isinstance(s, ast.AnnAssign):
            if s.value is None or not isinstance(s.target, ast.Name):
                raise self.err(s, "annotated declarations need a value: `x: float = 0.0`")
            self.cast_target(s.annotation)
            if self.atomic_kind(s.value):
                return self.atomic_assign(s.target, s.value, s)
            # As in Python, an annotation does not convert: `t: lo.fp32 = 0.1` is 0.1.
            return [self.assign(s.target, self.expr(s.value), s)]
        if isinstance(s, ast.If):
            cond = self.expr(s.test)
            self.branch_depth += 1
            try:
                return [ir.If(loc, cond, self.block(s.body), self.block(s.orelse))]
            finally:
                self.branch_depth -= 1
        if isinstance(s, ast.For):
            return [self.for_loop(s, top)]
        if isinstance(s, ast.While):
            if s.orelse:
                raise self.err(s, "while/else is not supported",
                               hint="use a flag variable instead of else")
            pre, cond = self.with_frame(lambda: self.expr(s.test))
            self.loop_depth += 1
            body = self.block(s.body)
            self.loop_depth -= 1
            if pre:          # a call in the condition: evaluated before every test
                test = ir.If(loc, cond, (), (ir.Break(loc),))
                return [ir.While(loc, ir.Const(loc, ir.Weak("b"), True), (*pre, test, *body))]
            return [ir.While(loc, cond, body)]
        if isinstance(s, (ast.Break, ast.Continue)):
            if self.loop_depth == 0:
                word = "break" if isinstance(s, ast.Break) else "continue"
                raise self.err(s, f"'{word}' outside a sequential loop" +
                               (" (lo.grid iterations are independent)" if self.in_grid
                                else ""),
                               hint="`continue` ends a grid iteration; a grid cannot be "
                                    "broken out of: skip the remaining work with if"
                               if self.in_grid else None)
            return [ir.Break(loc) if isinstance(s, ast.Break) else ir.Continue(loc)]
        if isinstance(s, ast.Expr):
            return self.expr_stmt(s)
        raise self.err(s, f"{type(s).__name__} statements are not part of the kernel "
                          f"language", hint=f"kernels support {_SUPPORTED}")

    def expr_stmt(self, s: ast.Expr) -> list[ir.Stmt]:
        call = s.value
        if isinstance(call, ast.Call) and inline.callee(self.resolve(call.func)) is not None:
            self.inline(call, inline.callee(self.resolve(call.func)))   # a procedure
            return []
        if self.atomic_kind(call):
            return [self.atomic(call, "")]
        raise self.err(s, "this expression statement has no effect in a kernel",
                       hint="assign its value (v = ...) or store it (out[i] = ...)")

    def atomic_kind(self, e: ast.expr) -> str:
        """``"max"`` for a call of ``lo.atomic_max``...; "" for anything else."""
        if not isinstance(e, ast.Call):
            return ""
        kind, op = intrinsic_table().get(id(self.resolve(e.func)), ("", None))
        return op if kind == "atomic" else ""

    def atomic(self, call: ast.Call, target: str) -> ir.Atomic:
        """``lo.atomic_<op>(t, index, [compare,] value)``, its old value into ``target``.
        Python evaluates the arguments in order, then updates the element."""
        op = self.atomic_kind(call)
        params = "(tensor, index, compare, value)" if op == "cas" else "(tensor, index, value)"
        if len(call.args) != params.count(",") + 1 or call.keywords:
            raise self.err(call, f"lo.atomic_{op} takes {params}, got "
                                 f"{len(call.args) + len(call.keywords)} argument(s)")
        t = call.args[0]
        if not (isinstance(t, ast.Name) and t.id in self.params):
            raise self.err(t, f"lo.atomic_{op}'s first argument must be a tensor parameter, "
                              f"not {ast.unparse(t)!r}",
                           hint=f"lo.atomic_{op}(out, i, v) updates out[i], where out is "
                                f"one of the kernel's tensor arguments")
        if t.id in self.grid_arrays:
            raise self.err(t, f"{t.id!r} is a local array: only its own iteration sees it",
                           hint=f"update it directly: {t.id}[i] = ...")
        idx = call.args[1]
        elts = idx.elts if isinstance(idx, ast.Tuple) else [idx]
        index = tuple(self.index_expr(e) for e in elts)
        compare = self.expr(call.args[2]) if op == "cas" else None
        value = self.expr(call.args[-1])
        return ir.Atomic(self.loc(call), t.id, index, value, op=op, compare=compare,
                         target=target)

    def hoist_atomic(self, call: ast.Call) -> ir.Name:
        """An atomic inside a larger expression runs before the statement, its old
        value held in a temporary (see :meth:`check_hoisted_atomics`)."""
        old = self.shared.fresh(f"{self.atomic_kind(call)}_old")
        node = self.atomic(call, old)
        self.hoisted.add(id(node))
        self.frames[-1].append(node)
        return ir.Name(self.loc(call), None, old)

    def check_hoisted_atomics(self, pre: list, lowered: list) -> None:
        """A hoisted atomic now runs before the rest of its statement: exact unless
        that statement also reads the tensor, maybe before the atomic in Python's
        order (``t[0] + lo.atomic_add(t, 0, 1)``). Such a statement is an error."""
        for a in ir.walk_stmts(tuple(pre)):
            if not (isinstance(a, ir.Atomic) and id(a) in self.hoisted):
                continue
            for st in lowered:
                own = [c for c in ir.children(st) if isinstance(c, ir.Expr)]
                if any(isinstance(n, ir.Load) and n.tensor == a.tensor
                       for e in own for n in ir.walk(e)):
                    raise self.info.error(
                        a.loc, f"lo.atomic_{a.op} on {a.tensor!r} inside an expression "
                               f"that also reads {a.tensor!r}: the order of the read and "
                               f"the update would be lost",
                        hint=f"old = lo.atomic_{a.op}(...) on its own line first, then "
                             f"use old")

    def atomic_assign(self, target: ast.expr, call: ast.Call, s: ast.stmt) -> list:
        """``old = lo.atomic_max(...)``, or ``out[j] = lo.atomic_max(...)`` (Python
        evaluates the value before the target's index: the update comes first)."""
        if isinstance(target, ast.Name):
            self.assign(target, ir.Const(self.loc(s), ir.Weak("i"), 0), s)  # checks, scope
            return [self.atomic(call, target.id)]
        old = self.shared.fresh(f"{self.atomic_kind(call)}_old")
        return [self.atomic(call, old),
                self.assign(target, ir.Name(self.loc(call), None, old), s)]

    def assign(self, target: ast.expr, value: ir.Expr, s: ast.stmt) -> ir.Stmt:
        loc = self.loc(s)
        if isinstance(target, ast.Name):
            name = target.id
            if name in self.made or name in self.grid_arrays:
                raise self.err(target, f"{name!r} is a tensor the kernel made; it cannot "
                                       f"be assigned again",
                               hint=f"store into its elements ({name}[i] = ...), or make "
                                    f"another tensor under a new name")
            if name in self.params and self.results is None:   # a device function's are locals
                raise self.err(target, f"cannot assign to the parameter {name!r}",
                               hint=f"use a new local: {name}_ = ...")
            if self.in_grid:
                if name not in self.top_defined:
                    self.grid_locals.add(name)
            else:
                self.top_defined.add(name)
            return ir.Assign(loc, name, value)
        if isinstance(target, ast.Subscript):
            tname, index = self.subscript_parts(target)
            return ir.Store(loc, tname, index, value)
        raise self.err(target, f"cannot assign to {type(target).__name__}")

    def for_loop(self, s: ast.For, top: bool) -> ir.Stmt:
        loc = self.loc(s)
        if s.orelse:
            raise self.err(s, "for/else is not supported", hint="use a flag variable")
        it = s.iter
        kind = ("", None)
        if isinstance(it, ast.Call):
            kind = intrinsic_table().get(id(self.resolve(it.func)), ("", None))
        reassociate = self.range_options(it, kind)
        if kind[0] == "grid":
            return self.grid_loop(s, top)
        if kind[0] != "range":
            raise self.err(it, "kernels loop over lo.grid(...) (parallel) or "
                               "range(...) (sequential) only",
                           hint="for i in lo.grid(x.shape[0]): ... or for k in range(n): ...")
        if not isinstance(s.target, ast.Name):
            raise self.err(s.target, "a range loop variable must be a single name")
        args = [self.expr(a) for a in it.args]
        if not 1 <= len(args) <= 3:
            raise self.err(it, f"range takes 1 to 3 arguments, got {len(args)}")
        if len(args) == 1:
            args = [ir.Const(loc, ir.Weak("i"), 0)] + args
        if len(args) == 2:
            args.append(ir.Const(loc, ir.Weak("i"), 1))
        if isinstance(args[2], ir.Const) and args[2].value == 0:
            raise self.err(it.args[2], "range() step must not be zero")
        var = s.target.id
        if var in self.params:
            raise self.err(s.target, f"loop variable {var!r} shadows a parameter")
        (self.grid_locals if self.in_grid else self.top_defined).add(var)
        self.loop_depth += 1
        body = self.block(s.body)
        self.loop_depth -= 1
        return ir.For(loc, var, args[0], args[1], args[2], body, reassociate)

    def range_options(self, it: ast.expr, kind: tuple) -> bool:
        """``reassociate=True/False`` of ``lo.range``; other loops take no keywords."""
        keywords = it.keywords if isinstance(it, ast.Call) else []
        if not keywords:
            return False
        kw = keywords[0]
        if kind != ("range", "lo") or len(keywords) != 1 or kw.arg != "reassociate" or \
                not isinstance(kw.value, ast.Constant) or not isinstance(kw.value.value, bool):
            raise self.err(it, "loop ranges take positional arguments only, except "
                               "lo.range(..., reassociate=True)",
                           hint="write range(start, stop, step), or lo.range(n, "
                                "reassociate=True) to let a backend reorder its sums")
        return kw.value.value

    def grid_loop(self, s: ast.For, top: bool) -> ir.Stmt:
        loc = self.loc(s)
        if self.results is not None:
            raise self.err(s.iter, "lo.grid cannot be used inside a device function",
                           hint="a device function runs inside its caller's grid "
                                "iteration: call it from the kernel's lo.grid body")
        if self.in_grid:
            raise self.err(s.iter, "lo.grid loops cannot be nested",
                           hint="use one multi-dimensional grid: "
                                "for i, j in lo.grid(n, m)")
        call = s.iter
        extents = tuple(self.expr(a) for a in call.args)
        if not extents:
            raise self.err(call, "lo.grid takes at least one extent",
                           hint="for i, j in lo.grid(n, m)")
        tgt = s.target
        names = [tgt] if isinstance(tgt, ast.Name) else \
            list(tgt.elts) if isinstance(tgt, ast.Tuple) else None
        if names is None or not all(isinstance(n, ast.Name) for n in names):
            raise self.err(tgt, "lo.grid loop variables must be names: for i, j in lo.grid(n, m)")
        if len(names) != len(extents):
            raise self.err(tgt, f"lo.grid has {len(extents)} extent(s) but "
                                f"{len(names)} loop variable(s)")
        vars_ = tuple(n.id for n in names)
        outer_depths = self.loop_depth, self.branch_depth
        self.in_grid, self.grid_locals, self.loop_depth, self.branch_depth = \
            True, set(vars_), 0, 0
        body = self.block(inline.lift_continues(list(s.body)))   # continue ends an iteration
        for name in self.grid_arrays:             # local arrays end with their grid
            self.params.remove(name)
        self.grid_arrays = set()
        inner_locals = self.grid_locals
        self.in_grid, self.grid_locals = False, set()
        self.loop_depth, self.branch_depth = outer_depths
        reductions = find_reductions(body, self.top_defined, self.info)
        self.after_grid_locals |= inner_locals - self.top_defined
        # A grid's private names are dead after it: where the function assigns the same
        # name elsewhere, that is another variable (maybe of another type), as in Python.
        clash = (inner_locals - self.top_defined) & _stored_outside(self.node, s)
        if clash:
            fresh = {n: self.shared.fresh(n) for n in sorted(clash)}
            body, vars_ = ir.rename(body, fresh), tuple(fresh.get(v, v) for v in vars_)
        return ir.Grid(loc, vars_, extents, body, reductions)

    # -- expressions ---------------------------------------------------------------
    def expr(self, e: ast.expr) -> ir.Expr:
        loc = self.loc(e)
        if isinstance(e, ast.Constant):
            v = e.value
            if isinstance(v, bool):
                return ir.Const(loc, ir.Weak("b"), v)
            if isinstance(v, int):
                return self.int_const(v, e)
            if isinstance(v, float):
                return ir.Const(loc, ir.Weak("f"), v)
            if isinstance(v, complex):
                return ir.Const(loc, ir.Weak("c"), v)
            raise self.err(e, f"{type(v).__name__} constants are not supported in kernels",
                           hint="kernels compute on numbers only")
        if isinstance(e, ast.Name):
            return self.name_expr(e)
        if isinstance(e, ast.BinOp):
            op = _BINOPS.get(type(e.op))
            if op is None:
                raise self.err(e, f"operator {type(e.op).__name__} is not supported")
            return ir.BinOp(loc, None, op, self.expr(e.left), self.expr(e.right))
        if isinstance(e, ast.UnaryOp):
            return ir.UnaryOp(loc, None, _UNOPS[type(e.op)], self.expr(e.operand))
        if isinstance(e, ast.Compare):
            return self.compare(e)
        if isinstance(e, ast.BoolOp):
            return self.bool_op(e)
        if isinstance(e, ast.IfExp):
            return self.if_exp(e)
        if isinstance(e, ast.Call):
            return self.call(e)
        if isinstance(e, ast.Subscript):
            return self.subscript(e)
        if isinstance(e, ast.Attribute):
            return self.attribute(e)
        raise self.err(e, f"{type(e).__name__} expressions are not part of the kernel "
                          f"language", hint=f"kernels support {_SUPPORTED}")

    def name_expr(self, e: ast.Name) -> ir.Expr:
        loc = self.loc(e)
        n = e.id
        if n in self.params or n in self.top_defined or n in self.grid_locals:
            if not self.in_grid and n in self.after_grid_locals and \
                    n not in self.top_defined:
                raise self.err(e, f"{n!r} is defined inside lo.grid and has no value "
                                  f"after it", hint="reduce it (acc += ...) or store it")
            return ir.Name(loc, None, n)
        if n in self.after_grid_locals:
            raise self.err(e, f"{n!r} is defined inside lo.grid and has no value after it",
                           hint="define it before the grid and reduce into it (acc += ...)")
        obj = self.resolve(e)
        return self.constant(obj, e)

    def int_const(self, v: int, node: ast.expr) -> ir.Expr:
        if not -2 ** 63 <= v < 2 ** 63:
            raise self.err(node, f"integer constant {v} does not fit in int64",
                           hint="kernels compute with fixed-width integers; use a float "
                                "(e.g. 1e30) or a smaller value")
        return ir.Const(self.loc(node), ir.Weak("i"), v)

    def constant(self, obj: Any, node: ast.expr) -> ir.Expr:
        loc = self.loc(node)
        if obj is _UNKNOWN:
            name = ast.unparse(node)
            raise self.err(node, f"name {name!r} is not defined",
                           hint="define it before use, or pass it as a kernel argument")
        if isinstance(obj, bool):
            return ir.Const(loc, ir.Weak("b"), obj)
        if isinstance(obj, int):
            return self.int_const(obj, node)
        if isinstance(obj, float):
            return ir.Const(loc, ir.Weak("f"), obj)
        if isinstance(obj, complex):
            return ir.Const(loc, ir.Weak("c"), obj)
        if isinstance(obj, np.generic) and obj.dtype.kind in "biufc":
            return ir.Const(loc, dtypes.dtype(obj.dtype), obj.item())
        name = ast.unparse(node)
        raise self.err(node, f"{name!r} ({type(obj).__name__}) cannot be used as a value "
                             f"in a kernel",
                       hint="pass tensors and numbers as kernel arguments; "
                            "global numbers are captured as constants")

    def attribute(self, e: ast.Attribute) -> ir.Expr:
        if e.attr in ("real", "imag") and self.resolve(e.value) in (_LOCAL, _UNKNOWN):
            return ir.Call(self.loc(e), None, e.attr, (self.expr(e.value),))   # z.real
        if isinstance(e.value, ast.Name) and e.value.id in self.params:
            if e.attr == "ndim":
                return ir.Shape(self.loc(e), None, e.value.id, None)
            if e.attr == "size":
                return ir.Shape(self.loc(e), None, e.value.id, "size")
            if e.attr == "shape":
                raise self.err(e, "use x.shape[k] with a constant k",
                               hint="or unpack it: n, m = x.shape")
            raise self.err(e, f"tensor attribute {e.attr!r} is not available in kernels",
                           hint="kernels can read x.shape[k], x.shape, x.ndim and x.size")
        obj = self.resolve(e)
        return self.constant(obj, e)

    def compare(self, e: ast.Compare) -> ir.Expr:
        loc = self.loc(e)
        parts = []
        left = self.expr(e.left)
        for n, (op, right_node) in enumerate(zip(e.ops, e.comparators)):
            cop = _CMPOPS.get(type(op))
            if cop is None:
                raise self.err(e, f"comparison {type(op).__name__} is not supported",
                               hint="use == != < <= > >=")
            pre, right = self.with_frame(lambda: self.expr(right_node))
            if pre and n:        # Python evaluates it only if the comparisons before held
                raise self.err(right_node, "a device function call in a chained comparison "
                                           "is only supported as its first comparand",
                               hint="assign the call to a local first")
            self.frames[-1].extend(pre)
            parts.append(ir.Compare(loc, None, cop, left, right))
            left = right
        return parts[0] if len(parts) == 1 else ir.BoolOp(loc, None, "and", tuple(parts))

    def cast_target(self, node: ast.expr) -> tuple[str, Any]:
        kind = intrinsic_table().get(id(self.resolve(node)))
        if kind is None or kind[0] not in ("cast", "pycast"):
            raise self.err(node, f"{ast.unparse(node)!r} is not a LangOne dtype",
                           hint="annotate with lo.fp32, lo.int32, ...")
        return kind

    def call(self, e: ast.Call) -> ir.Expr:
        loc = self.loc(e)
        if isinstance(e.func, ast.Attribute) and e.func.attr == "conjugate" and \
                self.resolve(e.func.value) in (_LOCAL, _UNKNOWN):
            if e.args or e.keywords:
                raise self.err(e, "conjugate() takes no arguments")
            return ir.Call(loc, None, "conj", (self.expr(e.func.value),))   # z.conjugate()
        obj = self.resolve(e.func)
        fn = inline.callee(obj)
        if fn is not None:
            results = self.inline(e, fn)
            if len(results) != 1:
                raise self.err(e, f"{ast.unparse(e.func)}() returns "
                                  f"{len(results) or 'no'} values" + (
                                      "" if not results else ", not one"),
                               hint="unpack a tuple result: a, b = f(x)" if results else
                               "call it as a statement; it returns nothing")
            return results[0]
        if obj is len:
            return self.length(e)
        if e.keywords:
            raise self.err(e, "keyword arguments are not supported in kernel calls")
        entry = intrinsic_table().get(id(obj))
        fname = ast.unparse(e.func)
        if entry is None:
            if obj is _LOCAL:
                raise self.err(e, f"{fname!r} is a value, not a function")
            if inspect.isfunction(obj) and not obj.__module__.startswith("langone"):
                raise self.err(e.func, f"{fname!r} is a plain Python function; kernels can "
                                       f"only call device functions",
                               hint=f"decorate it with @lo.func (def {obj.__name__} ...)")
            raise self.err(e.func, f"{fname!r} cannot be called in a kernel",
                           hint="kernels can call lo.exp log sqrt sin cos tanh abs floor "
                                "ceil minimum maximum where erf sigmoid log1p expm1 atan2 "
                                "hypot pow fmod copysign, min/max/abs and casts such as "
                                "lo.fp32(v)")
        kind, payload = entry
        if kind == "atomic":
            return self.hoist_atomic(e)
        args = [self.expr(a) for a in e.args]
        if kind in ("cast", "pycast") and len(args) != 1:
            raise self.err(e, f"{fname}() takes exactly one argument")
        if kind == "mathcall" and len(args) != ir.INTRINSICS[payload][0]:
            raise self.err(e, f"{fname}() takes {_ARGUMENTS[ir.INTRINSICS[payload][0]]}, "
                              f"got {len(args)}")
        if kind == "cast":
            return ir.Cast(loc, payload, args[0])
        if kind == "pycast":                  # int(v): a Python int, weak in promotion
            weak, dt = payload
            return ir.Cast(loc, weak, ir.Cast(loc, dt, args[0]))
        if kind == "mathcall":
            return _math_call(loc, payload, args)
        if kind == "composite":
            if len(args) != composites.ARITY[payload] or e.keywords:
                raise self.err(e, f"{fname}() takes {composites.ARITY[payload]} positional "
                                  f"argument(s) in kernels, got {len(args)}",
                               hint="round(x, ndigits) is not supported: round(x * 10) / 10"
                               if payload == "round" else None)
            return composites.build(payload, args, loc)
        if kind == "where":
            if len(args) != 3:
                raise self.err(e, "lo.where takes (cond, a, b)")
            return ir.Select(loc, None, args[0], args[1], args[2], strong=True)
        if kind == "intrinsic":
            arity = ir.INTRINSICS[payload][0]
            if payload in ("min", "max") and len(args) >= 2:
                out = args[0]
                for a in args[1:]:
                    out = ir.Call(loc, None, payload, (out, a))
                return out
            if len(args) != arity:
                raise self.err(e, f"{fname}() takes {_ARGUMENTS[arity]}, got {len(args)}")
            return ir.Call(loc, None, payload, tuple(args))
        if kind in ("grid", "range"):
            raise self.err(e, f"{fname}() can only be used as a for-loop iterator")
        if kind == "alloc":
            raise alloc.misplaced(self, e)
        raise self.err(e, f"{fname!r} cannot be called here")

    def subscript_parts(self, e: ast.Subscript) -> tuple[str, tuple]:
        base = e.value
        if not (isinstance(base, ast.Name) and base.id in self.params):
            raise self.err(base, f"only tensor parameters can be indexed, not "
                                 f"{ast.unparse(base)!r}",
                           hint="kernels index their tensor arguments: x[i, j]")
        sl = e.slice
        elts = sl.elts if isinstance(sl, ast.Tuple) else [sl]
        return base.id, tuple(self.index_expr(x) for x in elts)

    def index_expr(self, x: ast.expr) -> ir.Expr:
        if isinstance(x, ast.Slice):
            raise self.err(x, "slices are not supported inside kernels",
                           hint="index one element at a time inside a loop: x[i]")
        if isinstance(x, ast.Constant) and x.value is Ellipsis:
            raise self.err(x, "... (Ellipsis) is not supported inside kernels")
        return self.expr(x)

    def subscript(self, e: ast.Subscript) -> ir.Expr:
        base = e.value
        if isinstance(base, ast.Attribute) and base.attr == "shape" and \
                isinstance(base.value, ast.Name) and base.value.id in self.params:
            k = e.slice
            if isinstance(k, ast.UnaryOp) and isinstance(k.op, ast.USub) and \
                    isinstance(k.operand, ast.Constant) and type(k.operand.value) is int:
                kv = -k.operand.value
            elif isinstance(k, ast.Constant):
                kv = k.value
            else:
                raise self.err(k, "x.shape[k] needs a constant integer k")
            if not isinstance(kv, int) or isinstance(kv, bool):
                raise self.err(k, "x.shape[k] needs a constant integer k")
            return ir.Shape(self.loc(e), None, base.value.id, kv)
        tname, index = self.subscript_parts(e)
        return ir.Load(self.loc(e), None, tname, index)


_ARGUMENTS = {1: "exactly one argument", 2: "exactly two arguments"}


def _math_call(loc: Loc, fn: str, args: list) -> ir.Expr:
    """``math.fn(v, ...)``: computed in double, a Python number (weak in promotion);
    ``math.floor``/``ceil`` give Python ints, ``isnan``/``isinf`` bools."""
    call = ir.Call(loc, None, fn, tuple(ir.Cast(loc, dtypes.fp64, a) for a in args))
    if fn in ("floor", "ceil"):
        return ir.Cast(loc, ir.Weak("i"), ir.Cast(loc, dtypes.int64, call))
    return ir.Cast(loc, ir.Weak("b" if fn in ("isnan", "isinf") else "f"), call)


def _stored_outside(fn: ast.AST, skip: ast.AST) -> set:
    """Names assigned (or loop targets) anywhere in ``fn`` but inside ``skip``."""
    out: set = set()

    def visit(node: ast.AST) -> None:
        if node is skip:
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child)
    visit(fn)
    return out


class _Sentinel:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


_LOCAL = _Sentinel("<local>")
_UNKNOWN = _Sentinel("<undefined>")


# --- reductions -----------------------------------------------------------------

def _reads(node: Any, name: str) -> bool:
    return any(isinstance(n, ir.Name) and n.id == name for n in ir.walk(node))


def _update_op(s: ir.Assign) -> tuple[str | None, ir.Expr | None]:
    """The reduction ``s`` performs on its target, by the one recognizer of
    accumulations (:func:`ir.accumulation`); returns (op, e) or (None, None)."""
    found = ir.accumulation(s)
    if found is None:
        return None, None
    op, _, e = found
    if op == "-":
        e = ir.UnaryOp(e.loc, None, "-", e)
    return ir.ACCUMULATION_REDUCTION[op], e


def find_reductions(body: tuple, outer: set[str], info: SourceInfo) -> tuple:
    """Variables defined before a grid and updated in it must be reductions."""
    ops: dict[str, str] = {}
    for node in ir.walk_stmts(body):
        if isinstance(node, ir.Assign) and node.target in outer:
            op, _ = _update_op(node)
            if op is None:
                raise info.error(node.loc, f"{node.target!r} is defined before lo.grid and "
                                 f"assigned inside it, but not as a reduction",
                                 hint=f"grid iterations are independent: only reductions "
                                      f"({node.target} += v, -= v, *= v, "
                                      f"= min({node.target}, v), = max({node.target}, v), "
                                      f"= lo.minimum({node.target}, v), "
                                      f"= lo.maximum({node.target}, v)) may update outer "
                                      f"variables")
            if ops.setdefault(node.target, op) != op:
                raise info.error(node.loc, f"reduction {node.target!r} mixes {ops[node.target]}"
                                 f" and {op}", hint="use one reduction operator per variable")
    for name in ops:
        _check_only_updates(body, name, info)
    return tuple(ir.Reduction(n, op) for n, op in ops.items())


def _check_only_updates(body: tuple, name: str, info: SourceInfo) -> None:
    """A reduction variable may appear in a grid only in its own updates."""
    def visit(node: Any) -> None:
        if isinstance(node, ir.Assign) and node.target == name:
            _, e = _update_op(node)
            visit(e)
            return
        if isinstance(node, ir.Name) and node.id == name:
            raise info.error(node.loc, f"reduction variable {name!r} is read inside lo.grid",
                             hint="its value is only complete after the grid; read it there")
        for c in ir.children(node):
            visit(c)
    for s in body:
        visit(s)


def parse_kernel(fn) -> ir.Kernel:
    """Lower a Python function to untyped IR (raises KernelCompileError)."""
    node, info = get_source(fn)
    fe = _Frontend(fn, node, info)
    try:
        return fe.lower()
    except KernelCompileError:
        raise
    except RecursionError:
        raise info.error(info.loc(node), "the kernel is nested too deeply to compile",
                         hint="split deeply nested expressions into locals") from None


def source_info(fn) -> SourceInfo:
    return get_source(fn)[1]
