"""Device functions: ``@lo.func``, inlined into the kernels that call them.

A device function is a plain Python function that kernels may call. The
frontend inlines each call site: the callee's body is lowered to IR with its
own globals and source lines, its locals renamed to names no other site uses,
its parameters bound to the caller's arguments (a tensor argument by name, a
scalar one through a fresh local) and its ``return`` values assigned to fresh
result locals. So every backend sees ordinary IR, and a call costs what the
same code written out by hand costs. An elementwise ``@lo.kernel`` called
from a kernel is inlined the same way, on scalars.

Outside kernels, a device function is the Python function it wraps.

Example:
    >>> import numpy as np, langone as lo
    >>> @lo.func
    ... def clamp(v, lo_, hi):
    ...     if v < lo_:
    ...         return lo_
    ...     return min(v, hi)
    >>> @lo.kernel
    ... def clamp_all(x, out):
    ...     for i in lo.grid(x.shape[0]):
    ...         out[i] = clamp(x[i], 0.0, 1.0)
    >>> out = np.zeros(3)
    >>> clamp_all.on("numpy")(np.array([-1.0, 0.5, 2.0]), out)
    >>> out.tolist()
    [0.0, 0.5, 1.0]
    >>> clamp(7, 0, 5)                      # plain Python outside kernels
    5
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import functools
import inspect
from typing import Any

from ..errors import KernelCompileError


class DeviceFunction:
    """A function kernels may call (see :func:`func`); callable as plain Python."""

    __langone_func__ = True

    def __init__(self, fn):
        if not inspect.isfunction(fn):
            raise KernelCompileError(f"lo.func expects a Python function, got "
                                     f"{type(fn).__name__} {fn!r:.60}",
                                     hint="decorate a def function: @lo.func")
        self.py_func = fn
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        return self.py_func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<lo.func {self.py_func.__qualname__}>"


def func(fn=None):
    """Make ``fn`` a device function: kernels that call it inline its body.

    Device functions may call each other (not recursively), take tensors and
    scalars, use keyword arguments and defaults, and return one value, a
    tuple of values, or nothing (a procedure that stores into tensors). A
    ``return`` may end any branch of an ``if``; inside a loop it is an error.
    ``lo.grid`` cannot be used inside one: it runs within the caller's grid.

    Example:
        >>> import langone as lo
        >>> @lo.func
        ... def sq(v):
        ...     return v * v
        >>> sq(3)
        9
    """
    return DeviceFunction(fn) if fn is not None else DeviceFunction


def callee(obj: Any):
    """The Python function a kernel inlines when it calls ``obj``, or None."""
    if getattr(obj, "__langone_func__", False) or getattr(obj, "__langone_kernel__", False):
        return obj.py_func
    return None


class Shared:
    """State of one kernel's whole inlining: names in use, the call stack, sites.

    ``sites`` maps a call site's path (the ``(file, line, col)`` of each call
    from the kernel down) to ``{callee name: IR name}``, so the python backend
    can run each site's own function with that site's widened accumulators.
    """

    def __init__(self, names: set):
        self.names = set(names)
        self.stack: list[str] = []
        self.sites: dict[tuple, dict] = {}

    def fresh(self, base: str) -> str:
        from . import ir
        return ir.fresh_name(base.strip("_") or "v", self.names)


def _affine(e) -> bool:
    """Whether ``e`` is a sum or product of names, constants and shapes: pure,
    cheap and never raising, so a parameter may stand for it where it is used."""
    from . import ir
    if isinstance(e, (ir.Name, ir.Const, ir.Shape)):
        return True
    if isinstance(e, ir.BinOp) and e.op in ("+", "-", "*"):
        return _affine(e.left) and _affine(e.right)
    return isinstance(e, ir.UnaryOp) and e.op == "-" and _affine(e.operand)


def ast_names(node: ast.AST) -> set:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | \
        {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}


# --- returns ------------------------------------------------------------------------------

def _has_return(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Return) for n in ast.walk(node))


def _pass(where: ast.stmt) -> ast.Pass:
    return ast.copy_location(ast.Pass(), where)


def _lift(stmts: list, holds, exit_kind, keep_exit: bool, other=None) -> list:
    """``stmts`` where every ``exit_kind`` statement ends its path: what follows an
    ``if`` that holds one (``holds``) moves into both branches; anything else that
    holds one is refused by ``other(stmt)``, or left for the frontend to refuse."""
    for i, s in enumerate(stmts):
        if isinstance(s, exit_kind):
            return stmts[:i + 1] if keep_exit else stmts[:i]   # what follows never runs
        if not holds(s):
            continue
        if not isinstance(s, ast.If):
            if other is not None:
                other(s)
            continue                 # (not kernel language: the frontend says so)
        rest = stmts[i + 1:]
        new = ast.If(test=s.test,
                     body=_lift(s.body + rest, holds, exit_kind, keep_exit, other) or [_pass(s)],
                     orelse=_lift(s.orelse + rest, holds, exit_kind, keep_exit, other))
        return stmts[:i] + [ast.copy_location(new, s)]
    return stmts


def lift_returns(stmts: list, info) -> list:
    """``stmts`` where every ``return`` ends its path: what follows an ``if``
    that returns moves into its branches (``if c: return a`` then ``return b``
    becomes ``if c: return a else: return b``)."""
    def in_loop(s: ast.stmt):
        inner = next(n for n in ast.walk(s) if isinstance(n, ast.Return))
        raise info.error(inner, "return inside a loop of a device function is not "
                                "supported", hint="set a result variable and break, "
                                                  "then return it after the loop")
    return _lift(stmts, _has_return, ast.Return, True, in_loop)


def _ends_iteration(node: ast.AST) -> bool:
    """Whether ``node`` holds a ``continue`` of the enclosing grid (one inside a
    loop within the grid belongs to that loop)."""
    if isinstance(node, ast.Continue):
        return True
    if isinstance(node, (ast.For, ast.While)):
        return False
    return any(_ends_iteration(c) for c in ast.iter_child_nodes(node))


def lift_continues(stmts: list) -> list:
    """A grid body with its ``continue`` statements made structure: what follows
    an ``if`` that continues moves into its branches, and a ``continue`` ends
    its path (``if c: continue`` then ``rest`` becomes ``if c: pass else: rest``).
    Only an ``if`` can hold a grid's ``continue`` (loops keep their own)."""
    return _lift(stmts, _ends_iteration, ast.Continue, False)


def result_arity(stmts: list, info, name: str) -> int:
    """How many values every path of (lifted) ``stmts`` returns: 0 for none."""
    arities = set()

    def paths(body: list) -> None:
        last = body[-1] if body else None
        if isinstance(last, ast.Return):
            v = last.value
            arities.add(0 if v is None else len(v.elts) if isinstance(v, ast.Tuple) else 1)
        elif isinstance(last, ast.If):
            paths(last.body)
            paths(last.orelse)
        else:
            arities.add(0)
    paths(stmts)
    if len(arities) > 1:
        where = next((n for n in ast.walk(ast.Module(stmts, [])) if isinstance(n, ast.Return)),
                     None)
        raise info.error(where, f"device function {name!r} returns {_counts(arities)} on "
                                f"different paths",
                         hint="return the same number of values on every path (a value "
                              "on every path, or on none)")
    return arities.pop()


def _counts(arities: set) -> str:
    return " or ".join("nothing" if a == 0 else "1 value" if a == 1 else f"{a} values"
                       for a in sorted(arities))


# --- binding ------------------------------------------------------------------------------

def bind_arguments(fn, node: ast.FunctionDef, call: ast.Call, info) -> list:
    """The argument expression (an AST node, or a default's Python value
    wrapped in :class:`Default`) of each of ``fn``'s parameters, in order, by
    Python's binding rules; errors with Python's wording."""
    a = node.args
    if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
        raise info.error(call, f"device function {fn.__name__!r} must take plain "
                               f"parameters", hint="remove *args, **kwargs, / and *")
    if any(isinstance(x, ast.Starred) for x in call.args) or \
            any(k.arg is None for k in call.keywords):
        raise info.error(call, "*args and **kwargs are not supported in kernel calls")
    try:
        bound = inspect.signature(fn).bind(*call.args, **{k.arg: k.value for k in call.keywords})
    except TypeError as exc:
        raise info.error(call, f"{exc}", hint=f"{fn.__name__}{inspect.signature(fn)}") from None
    bound.apply_defaults()
    return [v if isinstance(v, ast.AST) else Default(v) for v in bound.arguments.values()]


class Default:
    """A parameter's default value (a Python object, captured as a constant)."""

    def __init__(self, value: Any):
        self.value = value


def function_ast(fn) -> tuple[ast.FunctionDef, Any]:
    """The callee's (copied) FunctionDef and SourceInfo."""
    from .frontend import get_source
    node, info = get_source(fn)
    return copy.deepcopy(node), info


# --- the frontend's part ------------------------------------------------------------------

class Calls:
    """The frontend's call sites, tuples and lazy operands (a mixin of its
    ``_Frontend``, which provides ``expr``, ``err``, ``loc``, ``frames``...)."""

    def inline(self, call: ast.Call, fn) -> tuple:
        """Inline ``fn`` at ``call``: its statements go before the current one;
        the result locals' names are returned (none for a procedure)."""
        from . import ir
        name = fn.__qualname__
        stack = self.shared.stack
        if name in stack:
            cycle = " -> ".join(stack[stack.index(name):] + [name])
            raise self.err(call, f"recursion is not supported in kernels: {cycle}",
                           hint="write the recursion as a loop")
        node, info = function_ast(fn)
        info = dataclasses.replace(info, name=self.info.name)    # errors name the kernel
        args = bind_arguments(fn, node, call, self.info)
        values = [self.constant(a.value, call) if isinstance(a, Default) else self.expr(a)
                  for a in args]
        body = lift_returns(list(node.body), info)
        results = [self.shared.fresh(f"{fn.__name__}_result")
                   for _ in range(result_arity(body, info, fn.__name__))]
        loc = self.loc(call)
        site = self.site_path + ((self.info.filename, loc.line, loc.col),)
        own, before = ast_names(node), set(self.shared.names)
        self.shared.names |= own
        sub = type(self)(fn, node, info)
        sub.shared, sub.results, sub.site_path = self.shared, results, site
        sub.in_grid, sub.params = self.in_grid, [a.arg for a in node.args.args]
        stack.append(name)
        try:
            lowered = sub.block(body)
        finally:
            stack.pop()
        assigned, mapping, binds, inlined = ir.assigned_names(lowered), {}, [], {}
        for p, v in zip(sub.params, values):
            if isinstance(v, ir.Name) and p not in assigned:
                mapping[p] = v.id                          # tensors, and unchanged scalars
            elif _affine(v) and p not in assigned:
                # i + 1 stays an expression: the bounds analysis proves x[i + 1] through it
                mapping[p] = self.shared.fresh(f"{fn.__name__}_{p}")
                inlined[mapping[p]] = v
            else:
                mapping[p] = self.shared.fresh(f"{fn.__name__}_{p}")
                binds.append(ir.Assign(loc, mapping[p], v))
        for n in sorted((ir.bound_names(lowered) & own) - set(mapping)):
            # the user's own name where it is free (messages then say 't', not 'maybe_t')
            mapping[n] = n if n not in before else self.shared.fresh(n)
        self.shared.sites[site] = mapping
        body = ir.rename(lowered, mapping)
        if inlined:
            body = ir.map_exprs(body, lambda e: inlined.get(e.id, e)
                                if isinstance(e, ir.Name) else e)
        self.frames[-1].extend(binds + list(body))
        return tuple(ir.Name(loc, None, r) for r in results)

    def tuple_values(self, node: ast.expr, n: int) -> list:
        """The ``n`` values of a tuple-valued expression: a tuple display,
        ``x.shape`` or a device function call; Python's errors otherwise."""
        from . import ir
        if isinstance(node, (ast.Tuple, ast.List)):
            values = [self.expr(e) for e in node.elts]
        elif isinstance(node, ast.Attribute) and node.attr == "shape" and \
                isinstance(node.value, ast.Name) and node.value.id in self.params:
            return [ir.Shape(self.loc(node), None, node.value.id, k, unpack=n)
                    for k in range(n)]
        elif isinstance(node, ast.Call) and callee(self.resolve(node.func)) is not None:
            values = list(self.inline(node, callee(self.resolve(node.func))))
        else:
            if n == 1:
                return [self.expr(node)]
            raise self.err(node, f"cannot unpack {ast.unparse(node)!r} into {n} values",
                           hint="unpack a tuple (a, b), x.shape or a device function's "
                                "tuple result")
        if len(values) != n:
            raise self.err(node, ir.unpack_mismatch(n, len(values)))
        return values

    def unpack(self, target, value: ast.expr, s: ast.stmt) -> list:
        """``a, b = ...``: every value computed first, then assigned in order
        (so ``a, b = b, a`` swaps)."""
        from . import ir
        for t in target.elts:
            if not isinstance(t, (ast.Name, ast.Subscript)):
                raise self.err(t, "only names and tensor elements can be unpacked into",
                               hint="unpack one level: a, b = f(x)")
        values = self.tuple_values(value, len(target.elts))
        loc, out, held = self.loc(s), [], []
        for v in values:
            if isinstance(v, (ir.Const, ir.Shape)):
                held.append(v)
            else:
                tmp = self.shared.fresh("unpacked")
                out.append(ir.Assign(loc, tmp, v))
                held.append(ir.Name(loc, None, tmp))
        return out + [self.assign(t, v, s) for t, v in zip(target.elts, held)]

    def length(self, e: ast.Call):
        """``len(x)``: ``x.shape[0]``."""
        from . import ir
        if len(e.args) != 1 or e.keywords or not (
                isinstance(e.args[0], ast.Name) and e.args[0].id in self.params):
            raise self.err(e, "len() takes one tensor argument in kernels")
        return ir.Shape(self.loc(e), None, e.args[0].id, 0)

    def if_exp(self, e: ast.IfExp):
        """``a if c else b``; a branch that inlines a call becomes an ``if``
        statement, so only the chosen branch runs, as in Python."""
        from . import ir
        loc, test = self.loc(e), self.expr(e.test)
        pa, a = self.with_frame(lambda: self.expr(e.body))
        pb, b = self.with_frame(lambda: self.expr(e.orelse))
        if not pa and not pb:
            return ir.Select(loc, None, test, a, b)
        t = self.shared.fresh("chosen")
        self.frames[-1].append(ir.If(loc, test, (*pa, ir.Assign(loc, t, a)),
                                     (*pb, ir.Assign(loc, t, b))))
        return ir.Name(loc, None, t)

    def bool_op(self, e: ast.BoolOp):
        """``a and b`` / ``a or b`` (Python's values); an operand after the first
        that inlines a call runs only when Python would evaluate it."""
        from . import ir
        loc = self.loc(e)
        op = "and" if isinstance(e.op, ast.And) else "or"
        first = self.expr(e.values[0])
        rest = [self.with_frame(lambda v=v: self.expr(v)) for v in e.values[1:]]
        if not any(pre for pre, _ in rest):
            return ir.BoolOp(loc, None, op, (first, *(v for _, v in rest)))
        t = self.shared.fresh(op + "_value")
        self.frames[-1].append(ir.Assign(loc, t, first))
        for pre, v in rest:
            then = (*pre, ir.Assign(loc, t, v))
            self.frames[-1].append(ir.If(loc, ir.Name(loc, None, t), *(
                (then, ()) if op == "and" else ((), then))))
        return ir.Name(loc, None, t)


def ast_assigned(node: ast.FunctionDef) -> set:
    """Names a function binds itself: parameters, assignment and loop targets."""
    out = {a.arg for a in node.args.args}
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.add(n.id)
    return out
