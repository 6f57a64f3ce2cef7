"""Complex values as pairs of reals: the one complex arithmetic of every backend.

No backend renders complex numbers. This pass, run on the final IR for every
backend but the python one (which runs the function on numpy's complex
scalars), writes each complex value as its real and imaginary parts:

* a complex tensor ``z`` becomes two real tensors ``z__re``/``z__im``: the
  launcher passes ``z.real`` and ``z.imag``, numpy's strided views of the same
  memory (:func:`split_args`), so loads and stores reach the parts in place;
  a complex scalar parameter, local or grid sum becomes two real ones;
* ``+ - * /``, ``abs``, ``lo.exp``, ``conj``, ``.real``, ``.imag``,
  ``isnan``/``isinf``, comparisons and casts follow numpy's own algorithms
  (its ``*`` as written, Smith's division with its zero-divisor case, ``abs`` as
  ``hypot``, ``exp`` with C99's exact ``exp(x + 0j)``, the lexicographic order of
  its scalars' ``<``), so results match the python backend's.

An operand used more than once (in ``*`` and ``/``) is first given to fresh
locals, so nested expressions do not grow; where the expression is evaluated
only sometimes (a later ``and``/``or`` operand, a conditional's arms, a
``while`` test) nothing moves out of it, and it is written in place.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import numpy as np

from ...dtypes import DType, bool_
from .. import ir
from ..ir import TensorType


def has_complex(k: ir.Kernel) -> bool:
    """Whether any parameter, local or value of ``k`` is complex."""
    types = [_dtype(p.type) for p in k.params] + [t for _, t in k.locals]
    for n in ir.walk(k):
        types.append(n.dtype if isinstance(n, ir.Alloc) else getattr(n, "type", None))
    return any(_complex(t) for t in types)


def lower_complex(k: ir.Kernel) -> ir.Kernel:
    """``k`` with every complex value written as two real ones."""
    if not has_complex(k):
        return k
    return _Splitter(k).kernel()


def split_args(k: ir.Kernel):
    """``expand(args)`` for ``k`` before :func:`lower_complex`: each complex tensor
    argument as its ``.real`` and ``.imag`` views, each complex scalar as its
    parts; None when ``k`` has no complex parameter."""
    kinds = [("tensor" if p.is_tensor else "scalar")
             if _dtype(p.type).is_complex else None for p in k.params]
    if not any(kinds):
        return None
    part = [_dtype(p.type).real.type for p in k.params]

    def expand(args: list) -> list:
        out = []
        for a, kind, t in zip(args, kinds, part):
            if kind is None:
                out.append(a)
            elif kind == "tensor":
                out += [a.real, a.imag]
            else:
                out += [t(a.real), t(a.imag)]
        return out
    return expand


def _dtype(t: Any) -> DType:
    return t.dtype if isinstance(t, TensorType) else t


def _complex(t: Any) -> bool:
    return isinstance(t, DType) and t.is_complex


class _Splitter:
    def __init__(self, k: ir.Kernel):
        self.k = k
        self.taken = ir.bound_names(k.body) | ir.read_names(k.body) | \
            {p.name for p in k.params} | {n for n, _ in k.locals}
        self.parts: dict[str, tuple[str, str]] = {}     # complex name -> part names
        self.new_locals: list[tuple[str, DType]] = []
        self.pre: list | None = None      # statements the current one needs first

    def pair(self, name: str) -> tuple[str, str]:
        if name not in self.parts:
            self.parts[name] = (ir.fresh_name(f"{name}__re", self.taken),
                                ir.fresh_name(f"{name}__im", self.taken))
        return self.parts[name]

    # -- the kernel ------------------------------------------------------------------
    def kernel(self) -> ir.Kernel:
        params = []
        for p in self.k.params:
            t = _dtype(p.type)
            if not t.is_complex:
                params.append(p)
                continue
            part = (TensorType(t.real, p.type.ndim, False) if p.is_tensor else t.real)
            params += [ir.Param(n, part, p.loc) for n in self.pair(p.name)]
        for n in ir.walk(self.k):
            if isinstance(n, ir.Alloc) and _complex(n.dtype):
                self.pair(n.name)
        locals_ = []
        for n, t in self.k.locals:
            locals_ += [(m, t.real) for m in self.pair(n)] if _complex(t) else [(n, t)]
        body = self.stmts(self.k.body)          # made stays: the launcher allocates whole
        return replace(self.k, params=tuple(params), body=body,  # tensors, then split_args
                       locals=tuple(sorted(locals_ + self.new_locals)))

    # -- statements --------------------------------------------------------------------
    def stmts(self, stmts: tuple) -> tuple:
        out: list = []
        for s in stmts:
            saved, self.pre = self.pre, []
            new = self.stmt(s)
            out += self.pre + (list(new) if isinstance(new, (list, tuple)) else [new])
            self.pre = saved
        return tuple(out)

    def stmt(self, s: ir.Stmt):
        if isinstance(s, ir.Assign):
            if not _complex(s.value.type):
                return replace(s, value=self.real(s.value))
            return self.assign_pair(s.loc, self.pair(s.target), self.cx(s.value))
        if isinstance(s, (ir.Store, ir.Atomic)):
            return self.store(s)
        if isinstance(s, ir.If):
            return replace(s, cond=self.real(s.cond), body=self.stmts(s.body),
                           orelse=self.stmts(s.orelse))
        if isinstance(s, ir.While):
            return replace(s, cond=self.lazy(self.real, s.cond), body=self.stmts(s.body))
        if isinstance(s, ir.For):
            return replace(s, start=self.real(s.start), stop=self.real(s.stop),
                           step=self.real(s.step), body=self.stmts(s.body))
        if isinstance(s, ir.Grid):
            return self.grid(s)
        if isinstance(s, ir.Return):
            return replace(s, value=None if s.value is None else self.real(s.value),
                           items=tuple(self.real(v) for v in s.items))
        if isinstance(s, ir.Alloc) and _complex(s.dtype):
            return [replace(s, name=n, dtype=s.dtype.real) for n in self.pair(s.name)]
        return s

    def assign_pair(self, loc, names: tuple[str, str], value: tuple) -> list:
        re, im = value
        if names[0] in ir.read_names((ir.Assign(loc, "_", im),)):
            keep = self.temp(loc, re)                  # z = z * w: im reads the old re
            return [ir.Assign(loc, names[1], im), ir.Assign(loc, names[0], keep)]
        return [ir.Assign(loc, names[0], re), ir.Assign(loc, names[1], im)]

    def store(self, s):
        index = tuple(self.real(i) for i in s.index)
        dt = self.tensor_type(s.tensor)
        if not dt.is_complex:
            fix = {"value": self.real(s.value)}
            if getattr(s, "compare", None) is not None:
                fix["compare"] = self.real(s.compare)
            return replace(s, index=index, **fix)
        value = self.cx(s.value)         # only a sum's terms reach here as atomics
        return [replace(s, tensor=t, index=index, value=v)
                for t, v in zip(self.pair(s.tensor), value)]

    def grid(self, s: ir.Grid) -> ir.Grid:
        reductions = []
        for r in s.reductions:
            if _complex(self.k.local_types.get(r.var)):
                reductions += [ir.Reduction(n, r.op) for n in self.pair(r.var)]
            else:
                reductions.append(r)
        return replace(s, extents=tuple(self.real(x) for x in s.extents),
                       body=self.stmts(s.body), reductions=tuple(reductions))

    def tensor_type(self, name: str) -> DType:
        for p in self.k.params:
            if p.name == name:
                return p.type.dtype
        for n in ir.walk(self.k):
            if isinstance(n, ir.Alloc) and n.name == name:
                return n.dtype
        raise KeyError(name)

    # -- helpers -------------------------------------------------------------------------
    def lazy(self, fn, e):
        """``fn(e)`` where ``e`` is evaluated only sometimes: nothing moves out of it."""
        saved, self.pre = self.pre, None
        try:
            return fn(e)
        finally:
            self.pre = saved

    def temp(self, loc, e: ir.Expr) -> ir.Expr:
        """``e`` as a fresh local assigned first (``e`` itself where nothing may move)."""
        if self.pre is None or isinstance(e, (ir.Name, ir.Const)):
            return e
        name = ir.fresh_name("__c", self.taken)
        self.new_locals.append((name, e.type))
        self.pre.append(ir.Assign(loc, name, e))
        return ir.Name(loc, e.type, name)

    def atom(self, loc, pair: tuple) -> tuple:
        return tuple(self.temp(loc, e) for e in pair)

    # -- real-valued expressions (which may hold complex ones) ----------------------------
    def real(self, e: ir.Expr) -> ir.Expr:
        if isinstance(e, ir.Call) and e.args and _complex(e.args[0].type):
            return self.complex_call(e)
        if isinstance(e, ir.Compare) and _complex(e.left.type):
            return self.compare(e)
        if isinstance(e, ir.BoolOp):
            first = self.real(e.values[0])
            rest = tuple(self.lazy(self.real, v) for v in e.values[1:])
            return replace(e, values=(first,) + rest)
        if isinstance(e, ir.Select):
            return replace(e, cond=self.real(e.cond), a=self.lazy(self.real, e.a),
                           b=self.lazy(self.real, e.b))
        if isinstance(e, ir.Shape) and e.tensor in self.parts:
            return replace(e, tensor=self.parts[e.tensor][0])     # the parts share it
        return self.rebuild(e, self.real)

    def rebuild(self, e: ir.Expr, fn) -> ir.Expr:
        changes = {}
        for f in fields(e):
            if f.name in ("loc", "type"):
                continue
            v = getattr(e, f.name)
            if isinstance(v, ir.Expr):
                changes[f.name] = fn(v)
            elif isinstance(v, tuple) and any(isinstance(x, ir.Expr) for x in v):
                changes[f.name] = tuple(fn(x) if isinstance(x, ir.Expr) else x for x in v)
        return replace(e, **changes) if changes else e

    def complex_call(self, e: ir.Call) -> ir.Expr:
        re, im = self.cx(e.args[0])
        loc, t = e.loc, e.args[0].type.real
        if e.fn == "real":
            return re
        if e.fn == "imag":
            return im
        if e.fn == "abs":                                   # numpy: npy_hypot
            return ir.Call(loc, t, "hypot", (re, im))
        if e.fn in ("isnan", "isinf"):
            return ir.BinOp(loc, bool_, "|", ir.Call(loc, bool_, e.fn, (re,)),
                            ir.Call(loc, bool_, e.fn, (im,)))
        raise AssertionError(f"complex {e.fn} reached lower_complex")   # types refused it

    def compare(self, e: ir.Compare) -> ir.Expr:
        loc = e.loc
        (ar, ai), (br, bi) = self.atom(loc, self.cx(e.left)), self.atom(loc, self.cx(e.right))

        def cmp(op, x, y):
            return ir.Compare(loc, bool_, op, x, y)

        def both(op, x, y):
            return ir.BinOp(loc, bool_, op, x, y)
        if e.op == "==":
            return both("&", cmp("==", ar, br), cmp("==", ai, bi))
        if e.op == "!=":
            return both("|", cmp("!=", ar, br), cmp("!=", ai, bi))
        # numpy scalars' lexicographic order (its ufuncs, np.less..., also want
        # numbers for imaginary parts; a kernel's `<` is the scalars' operator).
        strict = e.op.rstrip("=")
        return both("|", cmp(strict, ar, br), both("&", cmp("==", ar, br), cmp(e.op, ai, bi)))

    # -- complex-valued expressions -> (re, im) -----------------------------------------
    def cx(self, e: ir.Expr) -> tuple:
        t: DType = e.type
        part = t.real
        loc = e.loc
        if isinstance(e, ir.Const):
            v = complex(e.value)
            return (ir.Const(loc, part, _part(v.real, part)),
                    ir.Const(loc, part, _part(v.imag, part)))
        if isinstance(e, ir.Name):
            return tuple(ir.Name(loc, part, n) for n in self.pair(e.id))
        if isinstance(e, ir.Load):
            index = tuple(self.real(i) for i in e.index)
            return tuple(replace(e, type=part, tensor=n, index=index)
                         for n in self.pair(e.tensor))
        if isinstance(e, ir.Cast):
            return self.cast(e, part)
        if isinstance(e, ir.UnaryOp):
            re, im = self.cx(e.operand)
            if e.op == "+":
                return re, im
            return ir.UnaryOp(loc, part, "-", re), ir.UnaryOp(loc, part, "-", im)
        if isinstance(e, ir.BinOp):
            return self.binop(e, part)
        if isinstance(e, ir.Select):
            cond = self.real(e.cond)
            a, b = self.lazy(self.cx, e.a), self.lazy(self.cx, e.b)
            return tuple(ir.Select(loc, part, cond, x, y, e.strong) for x, y in zip(a, b))
        if isinstance(e, ir.Call) and e.fn == "conj":
            re, im = self.cx(e.args[0])
            return re, ir.UnaryOp(loc, part, "-", im)
        if isinstance(e, ir.Call) and e.fn == "exp":
            return self.exp(e, part)
        raise AssertionError(f"complex {type(e).__name__} reached lower_complex")

    def cast(self, e: ir.Cast, part: DType) -> tuple:
        loc, v = e.loc, e.value
        if _complex(v.type):
            return tuple(x if x.type is part else ir.Cast(loc, part, x) for x in self.cx(v))
        re = self.real(v)
        if re.type is not part:
            re = ir.Const(loc, part, _part(re.value, part)) if isinstance(re, ir.Const) \
                else ir.Cast(loc, part, re)
        return re, ir.Const(loc, part, 0.0)

    def binop(self, e: ir.BinOp, part: DType) -> tuple:
        loc = e.loc

        def op(o, x, y):
            return ir.BinOp(loc, part, o, x, y)
        if e.op in ("+", "-"):
            (ar, ai), (br, bi) = self.cx(e.left), self.cx(e.right)
            return op(e.op, ar, br), op(e.op, ai, bi)
        (ar, ai), (br, bi) = self.atom(loc, self.cx(e.left)), self.atom(loc, self.cx(e.right))
        if e.op == "*":                                   # numpy's, as written
            return (op("-", op("*", ar, br), op("*", ai, bi)),
                    op("+", op("*", ar, bi), op("*", ai, br)))
        return self.divide(loc, part, ar, ai, br, bi)

    def divide(self, loc, part, ar, ai, br, bi) -> tuple:
        """numpy's complex division: Smith's method, and a zero divisor divides
        each part by +0 (giving numpy's infinities and NaNs)."""
        def op(o, x, y):
            return ir.BinOp(loc, part, o, x, y)

        def sel(c, x, y):
            return ir.Select(loc, part, c, x, y, True)
        one, zero = ir.Const(loc, part, 1.0), ir.Const(loc, part, 0.0)
        abr, abi = (self.temp(loc, ir.Call(loc, part, "abs", (x,))) for x in (br, bi))
        real_big = self.temp(loc, ir.Compare(loc, bool_, ">=", abr, abi))
        both_zero = ir.BinOp(loc, bool_, "&", ir.Compare(loc, bool_, "==", abr, zero),
                             ir.Compare(loc, bool_, "==", abi, zero))
        rat1 = self.temp(loc, op("/", bi, br))
        scl1 = self.temp(loc, op("/", one, op("+", br, op("*", bi, rat1))))
        rat2 = self.temp(loc, op("/", br, bi))
        scl2 = self.temp(loc, op("/", one, op("+", bi, op("*", br, rat2))))
        re1 = sel(both_zero, op("/", ar, abr), op("*", op("+", ar, op("*", ai, rat1)), scl1))
        im1 = sel(both_zero, op("/", ai, abr), op("*", op("-", ai, op("*", ar, rat1)), scl1))
        re2 = op("*", op("+", op("*", ar, rat2), ai), scl2)
        im2 = op("*", op("-", op("*", ai, rat2), ar), scl2)
        return sel(real_big, re1, re2), sel(real_big, im1, im2)

    def exp(self, e: ir.Call, part: DType) -> tuple:
        """``exp(x) * (cos y, sin y)`` with C99's special values, which numpy returns:
        ``exp(x + 0j)`` is ``exp(x)`` with the zero kept; an infinite ``x`` with a
        ``y`` that is not finite gives ``inf + nan j`` (``x = +inf``) or
        ``0 + copysign(0, y) j`` (``x = -inf``)."""
        loc = e.loc
        x, y = self.atom(loc, self.cx(e.args[0]))

        def c(v):
            return ir.Const(loc, part, v)

        def cmp(op, a, b):
            return ir.Compare(loc, bool_, op, a, b)

        def sel(cond, a, b):
            return ir.Select(loc, part, cond, a, b, True)
        ex = self.temp(loc, ir.Call(loc, part, "exp", (x,)))
        flat = self.temp(loc, cmp("==", y, c(0.0)))
        y_finite = cmp("==", ir.BinOp(loc, part, "-", y, y), c(0.0))
        special = self.temp(loc, ir.BinOp(loc, bool_, "&", ir.UnaryOp(loc, bool_, "not", y_finite),
                                          ir.Call(loc, bool_, "isinf", (x,))))
        re = ir.BinOp(loc, part, "*", ex, ir.Call(loc, part, "cos", (y,)))
        im = ir.BinOp(loc, part, "*", ex, ir.Call(loc, part, "sin", (y,)))
        re = sel(special, sel(cmp(">", x, c(0.0)), c(float("inf")), c(0.0)), re)
        below = ir.BinOp(loc, bool_, "&", special, cmp("<", x, c(0.0)))
        im = sel(below, ir.Call(loc, part, "copysign", (c(0.0), y)), im)
        return sel(flat, ex, re), sel(flat, y, im)


def _part(v: float, part: DType) -> float:
    """A part of a constant, rounded to the part's type."""
    return float(np.array(v, dtype=np.float64).astype(part.numpy))
