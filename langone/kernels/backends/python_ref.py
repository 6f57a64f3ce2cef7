"""The ``python`` backend: the kernel language's rule, made executable.

A kernel means what its own Python function computes when run as plain Python
over numpy arrays and numpy scalars (NumPy 2 rules), with ``lo.grid`` as
ordinary nested loops. This backend does exactly that: it runs the user's own
function body, with ``lo`` bound to plain-numpy meanings
(:mod:`langone.kernels.pylang`), and emulates only the language's declared
exceptions (DESIGN.md, section 1):

1. grid iterations run in order (any order is allowed; this is one of them);
2. reductions are not reassociated (the other backends may, within tolerance);
3. fp16/bf16 values are computed in fp32: loads and half casts give fp32
   scalars, stores round to the tensor's dtype (round-to-nearest-even);
4. scalar accumulators are widened: the first assignment of each accumulator
   (a grid reduction or an ``acc = acc op e`` loop accumulator) is converted
   to the accumulator's widened type;
5. stores convert like ``astype(..., casting="unsafe")``;
6. an out-of-range access is a :class:`~langone.errors.KernelIndexError` at the
   kernel's line; negative indices count from the end, as in Python.

It is slow by design and never chosen by default. Every other backend is
tested against it.
"""

from __future__ import annotations

import ast
import copy
import threading
import weakref
from typing import Any

import numpy as np

from ...errors import KernelCompileError, KernelIndexError, KernelRuntimeError
from .. import inline, ir, pylang
from ..frontend import get_source, intrinsic_table

_ACC_HOOK = "__langone_accumulator__"
_MADE_HOOK = "__langone_made__"
_LOCAL_HOOK = "__langone_local__"
_PYLANG = "__langone_pylang__"


def accumulators(k: ir.Kernel) -> set[str]:
    """Names widened by exception 4: grid reductions and loop accumulators."""
    out = {r.var for n in ir.walk(k) if isinstance(n, ir.Grid) for r in n.reductions}
    for n in ir.walk(k):
        if isinstance(n, (ir.For, ir.While)):
            out |= {s.target for s in n.body if ir.accumulation(s) is not None}
    return out


class _WidenFirstAssignments(ast.NodeTransformer):
    """``acc = v`` -> ``acc = __langone_accumulator__("acc", v)`` for the
    assignments of an accumulator that are not its own updates."""

    def __init__(self, names: set[str]):
        self.names = names

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id in self.names \
                and not _reads(node.value, node.targets[0].id):
            node.value = ast.Call(ast.Name(_ACC_HOOK, ast.Load()),
                                  [ast.Constant(node.targets[0].id), node.value], [])
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        # `acc: int = 0` is an assignment too (the annotation converts nothing).
        if node.value is not None and isinstance(node.target, ast.Name) \
                and node.target.id in self.names and not _reads(node.value, node.target.id):
            node.value = ast.Call(ast.Name(_ACC_HOOK, ast.Load()),
                                  [ast.Constant(node.target.id), node.value], [])
        return node


def _reads(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


def _namespace(fn) -> dict:
    """The function's globals (and closure values) with every LangOne
    language object replaced by its plain-Python meaning."""
    import langone
    from .. import language
    table = intrinsic_table()
    ns = dict(fn.__globals__)
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            ns[name] = cell.cell_contents
        except ValueError:          # an empty cell: reading it fails, as in Python
            pass
    for name, value in list(ns.items()):
        if value is langone or value is language:
            ns[name] = pylang
        elif _is_langone_object(value) and id(value) in table:
            replacement = pylang.replacement(table[id(value)], value)
            if replacement is not None:
                ns[name] = replacement
    return ns


def _is_langone_object(value: Any) -> bool:
    """Objects LangOne defines (``from langone import exp``); numpy's and the
    builtins keep their own meaning."""
    mod = getattr(value, "__module__", None) or type(value).__module__
    return isinstance(mod, str) and mod.startswith("langone")


def build_function(fn, k: ir.Kernel, made_hook=None):
    """The kernel's own function, recompiled with exception 4's widening hook,
    bound to the plain-Python namespace. Line numbers are the file's.
    ``made_hook(name, value)`` receives what each ``name = lo.empty(...)`` made."""
    widened = {n: t for n, t in k.locals if n in accumulators(k)}
    return _compile(fn, k, widened, (), kernel=True, made_hook=made_hook)


class _WrapMade(ast.NodeTransformer):
    """``out = lo.empty(...)`` -> ``out = __langone_made__("out", lo.empty(...))``
    at the function's top level (where the language allows them)."""

    def __init__(self, names: set[str]):
        self.names = names

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        for s in node.body:
            if isinstance(s, ast.Assign) and len(s.targets) == 1 and \
                    isinstance(s.targets[0], ast.Name) and s.targets[0].id in self.names:
                s.value = ast.Call(ast.Name(_MADE_HOOK, ast.Load()),
                                   [ast.Constant(s.targets[0].id), s.value], [])
        return node


class _WrapLocal(ast.NodeTransformer):
    """``w = lo.zeros(4)`` below the top level (in a grid: the frontend allows no
    other place) -> ``w = __langone_local__("w", lo.zeros(4))``: a local array the
    kernel indexes like its tensors (checked, stores converted)."""

    def __init__(self, ns: dict):
        self.ns = ns
        self.depth = 0

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        for s in node.body:                      # the top level: made tensors, not these
            for child in ast.iter_child_nodes(s):
                self.visit(child)
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and \
                isinstance(node.value, ast.Call) and \
                intrinsic_table().get(id(_resolve(node.value.func, self.ns)), ("",))[0] \
                == "alloc":
            node.value = ast.Call(ast.Name(_LOCAL_HOOK, ast.Load()),
                                  [ast.Constant(node.targets[0].id), node.value], [])
        return node


def _resolve(node: ast.expr, ns: dict) -> Any:
    if isinstance(node, ast.Name):
        import builtins
        return ns.get(node.id, getattr(builtins, node.id, None))
    if isinstance(node, ast.Attribute):
        return getattr(_resolve(node.value, ns), node.attr, None)
    return None


class _ArrayReductions(ast.NodeTransformer):
    """``acc[j] += v`` that the kernel sums as an array reduction
    (``passes/array_reductions``) -> ``lo.atomic_add(acc, j, v)``, which emulates
    how every backend sums it (a half in fp32 until the grid ends)."""

    def __init__(self, info, k: ir.Kernel):
        self.info = info
        self.at = {(n.loc.line, n.loc.col): n.op for n in ir.walk(k)
                   if isinstance(n, ir.Atomic) and n.reduction}

    def update(self, node, target: ast.Subscript, value: ast.expr, op: str) -> ast.AST:
        fn = ast.Attribute(ast.Name(_PYLANG, ast.Load()), f"atomic_{op}", ast.Load())
        index = target.slice
        call = ast.Call(fn, [target.value, index, value], [])
        return ast.copy_location(ast.Expr(call), node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        op = self.at.get(self._where(node))
        if op is None or not isinstance(node.target, ast.Subscript):
            return node
        return self.update(node, node.target, node.value, op)

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        op = self.at.get(self._where(node))
        if op is None or not isinstance(node.value, ast.BinOp):
            return node
        target, v = node.targets[0], node.value
        own = ast.dump(target, annotate_fields=False).replace("Store()", "Load()")
        term = v.right if ast.dump(v.left, annotate_fields=False) == own else v.left
        return self.update(node, target, term, op)

    def _where(self, node) -> tuple:
        loc = self.info.loc(node)
        return (loc.line, loc.col)


def _local_array(name: str, value: Any) -> pylang.Array:
    arr = np.array(value._data if hasattr(value, "_data") else value)   # a copy of its own
    return pylang.Array(arr, name, None)


def _compile(fn, k: ir.Kernel, widened: dict, path: tuple, kernel: bool, made_hook=None):
    """``fn`` recompiled: accumulators in ``widened`` (its own names -> types)
    widened at their first assignment (and on entry, for parameters), and each
    device function it calls replaced by that call site's own compiled copy."""
    node, info = get_source(fn)
    node = copy.deepcopy(node)
    node.decorator_list = []
    if kernel:                  # called with every argument, positionally, in launch order
        a = node.args
        a.args, a.posonlyargs, a.kwonlyargs = a.posonlyargs + a.args + a.kwonlyargs, [], []
        a.defaults, a.kw_defaults = [], []
    node = _WidenFirstAssignments(set(widened)).visit(node)
    if made_hook is not None:
        node = _WrapMade({m.name for m in k.made}).visit(node)
    ns = _namespace(fn)
    node = _WrapLocal(ns).visit(node)
    node = _ArrayReductions(info, k).visit(node)
    node.body[:0] = [ast.parse(f"{a.arg} = {_ACC_HOOK}({a.arg!r}, {a.arg})").body[0]
                     for a in node.args.args if a.arg in widened and not kernel]
    _SiteCalls(ns, info, k, path, inline.ast_assigned(node)).visit(node)
    module = ast.Module([node], type_ignores=[])
    ast.increment_lineno(module, info.line_offset)
    ast.fix_missing_locations(module)
    ns[_ACC_HOOK] = lambda name, v: pylang.convert(v, widened[name]) if name in widened else v
    ns[_MADE_HOOK] = made_hook
    ns[_LOCAL_HOOK] = _local_array
    ns[_PYLANG] = pylang
    code = compile(module, info.filename, "exec")
    exec(code, ns)                               # defines the function in ns only
    _OWN_CODE.add(ns[node.name].__code__)
    return ns[node.name], info


#: Code objects of compiled kernels and device-function sites: where errors are
#: reported (the innermost of them in a traceback). Weak: they go with their kernels.
_OWN_CODE: weakref.WeakSet = weakref.WeakSet()


class _SiteCalls(ast.NodeTransformer):
    """Calls of device functions -> ``__langone_site_N(...)``, the site's own copy
    (its accumulators widened with the types the kernel's IR gave that site)."""

    def __init__(self, ns: dict, info, k: ir.Kernel, path: tuple, local_names: set):
        self.ns, self.info, self.k, self.path = ns, info, k, path
        self.local_names = local_names
        self.sites = dict(k.inlined)
        self.types, self.acc = dict(k.locals), accumulators(k)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        fn = inline.callee(self._static(node.func))
        if fn is None:
            return node
        key = self.path + ((self.info.filename, node.lineno + self.info.line_offset,
                            node.col_offset + self.info.col_offset),)
        widened = {name: self.types[n] for name, n in self.sites.get(key, ())
                   if n in self.acc and n in self.types}
        site = f"__langone_site_{len([n for n in self.ns if n.startswith('__langone_site')])}"
        self.ns[site] = _compile(fn, self.k, widened, key, kernel=False)[0]
        node.func = ast.copy_location(ast.Name(site, ast.Load()), node.func)
        return node

    def _static(self, node: ast.expr) -> Any:
        """What a global name / attribute chain refers to (None for locals)."""
        if isinstance(node, ast.Name):
            if node.id in self.local_names:
                return None
            import builtins
            return self.ns.get(node.id, getattr(builtins, node.id, None))
        if isinstance(node, ast.Attribute):
            base = self._static(node.value)
            return None if base is None else getattr(base, node.attr, None)
        return None


class PythonRun:
    """Runs one typed kernel's function on host arrays and scalars."""

    def __init__(self, fn, k: ir.Kernel):
        self.k = k
        self.made = threading.local()      # this call's made tensors, by name
        self.fn, self.info = build_function(fn, k, self.made_hook)
        self.n_args = len(k.params) - len(k.made)

    def __call__(self, args: list[Any]) -> Any:
        vals = []
        for p, a in zip(self.k.params[:self.n_args], args):
            if p.is_tensor:
                vals.append(pylang.Array(np.asarray(a), p.name, p.type.dtype))
            else:
                vals.append(pylang.hold(a))
        self.made.arrays = {m.name: a for m, a in zip(self.k.made, args[self.n_args:])}
        result = self.call(vals)
        if self.k.results:
            return self.results(result)
        if result is None or self.k.return_type is None:
            return None
        return pylang.convert(result, self.k.return_type, hold=False)

    def made_hook(self, name: str, value: Any) -> pylang.Array:
        """What ``name = lo.empty(...)`` made, in the launcher's buffer (the one
        every backend fills), which must have the shape and dtype the function
        itself gave: the python backend checks the launcher's shape rule."""
        buf = self.made.arrays[name]
        arr = np.asarray(value._data if hasattr(value, "_data") else value)
        if arr.shape != buf.shape or arr.dtype != buf.dtype:
            raise KernelCompileError(
                f"internal compiler error: {name!r} was made with shape {arr.shape} "
                f"{arr.dtype}, the launcher allocated {buf.shape} {buf.dtype}",
                hint="this is a LangOne bug: please report it", kernel=self.k.name)
        buf[...] = arr
        return pylang.Array(buf, name, self.k.param(name).type.dtype)

    def results(self, result: Any) -> tuple:
        """The scalars among several results, converted (tensors: the launcher's)."""
        values = result if isinstance(result, tuple) else (result,)
        return tuple(pylang.convert(v, r[2], hold=False) if r[0] == "scalar" else None
                     for v, r in zip(values, self.k.results))

    def call(self, vals: list[Any]) -> Any:
        """The function on ``vals``; what it raises becomes a kernel error naming the line."""
        with np.errstate(all="ignore"):
            try:
                return self.fn(*vals)
            except IndexError as exc:
                raise KernelIndexError(f"{self.where(exc)}: {exc} "
                                       f"(in kernel {self.k.name!r})") from None
            except (ValueError, ZeroDivisionError, OverflowError, TypeError) as exc:
                raise KernelRuntimeError(f"{self.where(exc)}: {type(exc).__name__}: {exc} "
                                         f"(in kernel {self.k.name!r}, python backend)"
                                         ) from None

    def where(self, exc: BaseException) -> str:
        """``file:line`` of the innermost kernel or device-function frame the
        exception passed through (where the compiled backends report it too)."""
        tb, where = exc.__traceback__, self.info.filename
        while tb is not None:
            code = tb.tb_frame.f_code
            if code in _OWN_CODE:
                where = f"{code.co_filename}:{tb.tb_lineno}"
            tb = tb.tb_next
        return where


class PythonBackend:
    """Backend protocol: ``render`` (what runs) and ``compile`` (a callable)."""

    name = "python"
    devices = ("cpu",)
    wants_function = True                   # compile() needs the kernel's own function

    def available(self) -> str | None:
        return None

    def render(self, kernel: ir.Kernel, options: dict) -> str:
        fn = options.get("function")
        if fn is None:
            return "# python backend: runs the kernel's own function as plain Python\n"
        node, _ = get_source(fn)
        return "# python backend: the kernel's own function, run as plain Python\n" + \
            ast.unparse(node)

    def compile(self, kernel: ir.Kernel, options: dict):
        fn = options.get("function")
        if fn is None:
            raise KernelCompileError("the python backend needs the kernel's function",
                                     kernel=kernel.name)
        if kernel.kind == "elementwise":
            return _elementwise(fn, kernel)
        return PythonRun(fn, kernel)


def _elementwise(fn, k: ir.Kernel):
    """Elementwise kernels: the function applied to whole arrays (numpy
    broadcasting is the kernel's meaning), result converted into ``out``."""
    body = PythonRun(fn, k)                  # its errors name the line, as for loop kernels

    def run(args):
        *ins, out = args
        vals = [pylang.hold_array(a) if isinstance(a, np.ndarray) else pylang.hold(a)
                for a in ins]
        res = np.asarray(body.call(vals))
        out[...] = pylang.store_convert(np.broadcast_to(res, out.shape), out.dtype)
    return run


BACKEND = PythonBackend()
