"""Made tensors and several results: what the launcher does around a kernel.

``bind_made`` (after ``bind_params``) turns each top-level ``out = lo.empty(...)``
(:class:`ir.NewTensor`) into a tensor parameter the launcher allocates from the
pool once per launch (:class:`ir.Made`: its shape as expressions over the
parameters alone, and its fill value), and splits the kernel's ``return``
into the tensors it returns and the scalars it computes
(:attr:`ir.Kernel.results`).

``lower_results`` (after ``infer_types``) gives a backend one way to hand
back scalars: one is returned as before; several are each stored into a
one-element tensor the launcher makes too, so no backend renders a tuple.
"""

from __future__ import annotations

from dataclasses import replace

from ...dtypes import DType, bool_, fp64, int64
from .. import ir
from ..ir import TensorType

_SHAPE_OPS = ("+", "-", "*", "//", "%")


def bind_made(k: ir.Kernel, info) -> ir.Kernel:
    """Made tensors become parameters; the final return lists its tensors."""
    if k.kind == "elementwise":          # `return x`: the expression x, elementwise
        return k
    if any(isinstance(n, ir.NewTensor) and n.local for n in ir.walk(k)):
        k = replace(k, body=_local_arrays(k.body, k, info))
        sizes = {n.name: n.shape for n in ir.walk(k) if isinstance(n, ir.Alloc)}
        k = replace(k, body=ir.map_exprs(k.body, lambda e: sizes[e.tensor][e.axis] if (
            isinstance(e, ir.Shape) and e.tensor in sizes) else e))
    news = [s for s in k.body if isinstance(s, ir.NewTensor)]
    ret = k.body[-1] if k.body and isinstance(k.body[-1], ir.Return) else None
    if not news and not (ret is not None and ret.items) and \
            not (ret is not None and _is_tensor(ret.value, k, ())):
        return k
    shapes = _ShapeResolver(k, info)
    params, made, body = list(k.params), [], []
    for s in k.body:
        if not isinstance(s, ir.NewTensor):
            body.append(s)
            continue
        shape, fill = shapes.of(s), _fill(s, k, info)
        params.append(ir.Param(s.name, TensorType(_dtype(s, k, params, info), len(shape),
                                                  True), s.loc))
        made.append(ir.Made(s.name, shape, fill, s.loc))
        shapes.made[s.name] = shape
    k = replace(k, params=tuple(params), made=tuple(made))
    if ret is not None:
        items = ret.items or ((ret.value,) if ret.value is not None else ())
        if ret.items or _is_tensor(ret.value, k, made):
            results = tuple(("tensor", e.id) if _is_tensor(e, k, made) else ("scalar", "", None)
                            for e in items)
            scalars = tuple(e for e in items if not _is_tensor(e, k, made))
            body[-1] = ir.Return(ret.loc, None, scalars)
            k = replace(k, results=results)
    return replace(k, body=tuple(body))


def _local_arrays(stmts: tuple, k: ir.Kernel, info) -> tuple:
    """Local arrays (``w = lo.zeros(4)`` in a grid) as Allocs, then loops storing
    their fill value (what ``zeros``, ``ones``, ``full`` start with)."""
    out: list = []
    for s in stmts:
        if isinstance(s, ir.NewTensor) and s.local:
            dtype = _dtype(s, k, list(k.params), info)
            if dtype.name in ("fp16", "bf16"):
                raise info.error(s.loc, f"a local array of {dtype.name} is not supported",
                                 hint="make it lo.fp32: halves compute in fp32 anyway")
            out.append(ir.Alloc(s.loc, s.name, dtype, s.shape, local=True))
            if s.fill is not None:
                out.append(_fill_loops(s, k))
            continue
        out.append(replace(s, **{f: _local_arrays(getattr(s, f), k, info)
                                 for f in ("body", "orelse") if hasattr(s, f)}))
    return tuple(out)


def _fill_loops(s: ir.NewTensor, k: ir.Kernel) -> ir.Stmt:
    taken = {n.id for n in ir.walk(k) if isinstance(n, ir.Name)} | ir.bound_names(k.body)
    names = [ir.fresh_name(f"_fill_{s.name}{d}", taken) for d in range(len(s.shape))]
    zero, one = ir.Const(s.loc, ir.Weak("i"), 0), ir.Const(s.loc, ir.Weak("i"), 1)
    body: ir.Stmt = ir.Store(s.loc, s.name, tuple(ir.Name(s.loc, None, n) for n in names),
                             s.fill)
    for n, size in reversed(list(zip(names, s.shape))):
        body = ir.For(s.loc, n, zero, size, one, (body,))
    return body


def lower_results(k: ir.Kernel) -> ir.Kernel:
    """Typed scalar results: one stays the backend's return value; several are
    stored into one-element made tensors (``__result0``...)."""
    if not k.results:
        ret = k.body[-1] if k.body else None
        if not (isinstance(ret, ir.Return) and ret.value is not None
                and ret.value.type.is_complex):
            return k
        # A complex scalar goes through a slot as several do: every backend but the
        # python one computes its parts apart (passes/lower_complex).
        k = replace(k, results=(("scalar", "", ret.value.type),),
                    body=k.body[:-1] + (ir.Return(ret.loc, None, (ret.value,)),))
    ret = k.body[-1]
    scalars = list(ret.items)
    if len(scalars) <= 1 and not (scalars and scalars[0].type.is_complex):
        value = scalars[0] if scalars else None
        results = tuple(r if r[0] == "tensor" else ("scalar", "", value.type)
                        for r in k.results)
        return replace(k, body=k.body[:-1] + (ir.Return(ret.loc, value),),
                       results=results, return_type=value.type if value else None)
    taken = {p.name for p in k.params} | {n for n, _ in k.locals}
    stores, params, made, names = [], list(k.params), list(k.made), []
    for v in scalars:
        slot = ir.fresh_name(f"__result{len(names)}", taken)
        names.append((slot, v.type))
        params.append(ir.Param(slot, TensorType(v.type, 1, True), ret.loc))
        made.append(ir.Made(slot, (ir.Const(ret.loc, ir.Weak("i"), 1),), None, ret.loc))
        stores.append(ir.Store(ret.loc, slot, (ir.Const(ret.loc, int64, 0),), v))
    it = iter(names)
    results = tuple(r if r[0] == "tensor" else ("scalar",) + next(it) for r in k.results)
    return replace(k, params=tuple(params), made=tuple(made), results=results,
                   body=k.body[:-1] + tuple(stores) + (ir.Return(ret.loc, None),),
                   return_type=None)


def _is_int(t) -> bool:
    return isinstance(t, ir.Weak) and t.kind == "i" or isinstance(t, DType) and t.is_integer


def _is_tensor(e, k: ir.Kernel, made) -> bool:
    if not isinstance(e, ir.Name):
        return False
    return any(p.name == e.id and isinstance(p.type, TensorType) for p in k.params)


def _dtype(s: ir.NewTensor, k: ir.Kernel, params: list, info) -> DType:
    if s.like:
        t = next(p.type for p in params if p.name == s.like)
        if not isinstance(t, TensorType):
            raise info.error(s.loc, f"{s.like!r} is a scalar: {s.fn}() needs a tensor's "
                                    f"dtype", hint="pass a tensor for this argument")
        return t.dtype
    if s.dtype is not None:
        return s.dtype
    t = _fill_type(s, k, info)                     # full(shape, v): v's dtype, as numpy's
    if isinstance(t, DType):
        return t
    return {"b": bool_, "i": int64, "f": fp64}[t.kind]


def _fill_type(s: ir.NewTensor, k: ir.Kernel, info):
    e = s.fill
    if isinstance(e, ir.Const):
        return e.type
    for p in k.params:
        if isinstance(e, ir.Name) and p.name == e.id and not isinstance(p.type, TensorType):
            return p.type
    raise info.error(e.loc, f"{s.fn}() of a computed value needs a dtype",
                     hint=f"give it one: {s.fn}(shape, value, lo.fp32)")


def _fill(s: ir.NewTensor, k: ir.Kernel, info):
    """The fill value: a constant or a scalar parameter (the launcher fills)."""
    e = s.fill
    if e is None or isinstance(e, ir.Const) or (
            isinstance(e, ir.Name) and any(p.name == e.id and not isinstance(p.type, TensorType)
                                           for p in k.params)):
        return e
    raise info.error(e.loc, f"the fill value of {s.fn}() must be a constant or a scalar "
                            f"argument of the kernel",
                     hint=f"make it with {s.fn.replace('full', 'empty')}() and store the "
                          f"values in a lo.grid loop")


class _ShapeResolver:
    """Shapes of made tensors as expressions over the parameters alone: locals
    assigned once at the top level are substituted (``n, m = x.shape``)."""

    def __init__(self, k: ir.Kernel, info):
        self.k, self.info = k, info
        self.tensors = {p.name: p.type for p in k.params if isinstance(p.type, TensorType)}
        self.scalars = {p.name: p.type for p in k.params if not isinstance(p.type, TensorType)}
        self.made: dict[str, tuple] = {}
        counts: dict[str, int] = {}
        for n in ir.walk_stmts(k.body):
            if isinstance(n, (ir.Assign, ir.For)):
                name = n.target if isinstance(n, ir.Assign) else n.var
                counts[name] = counts.get(name, 0) + 1
        self.once = {s.target: s.value for s in k.body
                     if isinstance(s, ir.Assign) and counts[s.target] == 1}
        self.where: ir.NewTensor | None = None

    def of(self, s: ir.NewTensor) -> tuple:
        self.where = s
        if s.shape_of:
            if s.shape_of in self.made:
                return self.made[s.shape_of]
            t = self.tensors.get(s.shape_of)
            if t is None:
                raise self.info.error(s.loc, f"{s.shape_of!r} is a scalar, it has no shape")
            return tuple(ir.Shape(s.loc, None, s.shape_of, a) for a in range(t.ndim))
        return tuple(self.resolve(e) for e in s.shape)

    def resolve(self, e: ir.Expr) -> ir.Expr:
        if isinstance(e, ir.Const) and isinstance(e.value, int) and \
                not isinstance(e.value, bool):
            return e
        if isinstance(e, ir.Shape) and isinstance(e.axis, int):
            return self.made[e.tensor][e.axis] if e.tensor in self.made else e
        if isinstance(e, ir.Name):
            t = self.scalars.get(e.id)
            if _is_int(t):
                return e
            if t is None and e.id in self.once:
                return self.resolve(self.once[e.id])
            if t is None:
                raise self.fail(e, f"{e.id!r} is computed in the kernel")
            raise self.fail(e, f"{e.id!r} is not an integer")
        if isinstance(e, ir.BinOp) and e.op in _SHAPE_OPS:
            return replace(e, left=self.resolve(e.left), right=self.resolve(e.right))
        if isinstance(e, ir.UnaryOp) and e.op in ("-", "+"):
            return replace(e, operand=self.resolve(e.operand))
        if isinstance(e, ir.Call) and e.fn in ("min", "max"):
            return replace(e, args=tuple(self.resolve(a) for a in e.args))
        if isinstance(e, ir.Cast) and (e.type is int64 or e.type == ir.Weak("i")):
            return self.resolve(e.value)
        raise self.fail(e, f"{ir.fmt_expr(e)} is not an integer computed from the arguments")

    def fail(self, e: ir.Expr, why: str):
        s = self.where
        return self.info.error(e.loc, f"the shape of a tensor made by {s.fn}() must come "
                                      f"from the arguments: {why}",
                               hint="compute it from x.shape[k], len(x) and integer "
                                    "arguments (+ - * // %, min, max)")
