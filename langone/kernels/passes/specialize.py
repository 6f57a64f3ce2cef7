"""Specialization: bind a call signature's types to the parameters.

Also resolves ``x.ndim`` and negative ``x.shape[-k]`` to constants, and lowers
an elementwise kernel (no ``lo.grid``; returns an expression of tensors) to a
grid kernel over its (broadcast) output, writing into an extra ``out`` tensor.
"""

from __future__ import annotations

from dataclasses import replace

from ...dtypes import DType
from .. import ir
from ..ir import TensorType

OUT = "__out"          # the output tensor that elementwise lowering adds


def bind_params(k: ir.Kernel, sig: tuple, info) -> ir.Kernel:
    """Give each parameter its type from the signature; fix ndim/shape axes."""
    params = tuple(replace(p, type=t) for p, t in zip(k.params, sig))
    tensors = {p.name: p.type for p in params if isinstance(p.type, TensorType)}
    for s in ir.walk(k):            # made tensors (bind_made types them): their ndim
        if isinstance(s, ir.NewTensor):
            like = tensors.get(s.shape_of)
            ndim = like.ndim if like is not None else len(s.shape)
            tensors[s.name] = TensorType(None, ndim, True)
    k = replace(k, params=params)

    def fix(e: ir.Expr) -> ir.Expr:
        if not isinstance(e, ir.Shape):
            return e
        tt = tensors.get(e.tensor)
        if tt is None:
            raise info.error(e.loc, f"{e.tensor!r} is a scalar, it has no shape or ndim",
                             hint="pass a tensor for this argument")
        if e.unpack and e.unpack != tt.ndim:        # Python's ValueError, at compile time
            raise info.error(e.loc, f"{ir.unpack_mismatch(e.unpack, tt.ndim)}: "
                                    f"{e.tensor!r} has {tt.ndim} dimension(s)",
                             hint=f"unpack one name per dimension of {e.tensor!r}")
        e = replace(e, unpack=0)
        if e.axis is None:
            return ir.Const(e.loc, ir.Weak("i"), tt.ndim)
        if e.axis == "size":                # a Python int: the product of the shape
            size: ir.Expr = ir.Const(e.loc, ir.Weak("i"), 1)
            for axis in range(tt.ndim):
                dim = replace(e, axis=axis)
                size = dim if axis == 0 else ir.BinOp(e.loc, None, "*", size, dim)
            return size
        axis = e.axis + tt.ndim if e.axis < 0 else e.axis
        if not 0 <= axis < tt.ndim:
            raise info.error(e.loc, f"{e.tensor}.shape[{e.axis}] is out of range: "
                                    f"{e.tensor!r} has {tt.ndim} dimension(s)")
        return replace(e, axis=axis)
    # Negative indices (literal or computed) are the lower_index pass's business.
    return replace(k, body=ir.map_exprs(k.body, fix))


def elementwise_as_scalar_kernel(k: ir.Kernel) -> ir.Kernel:
    """The elementwise body with tensor params seen as scalars of their dtype.

    Used to infer the output dtype before lowering to a grid.
    """
    params = tuple(replace(p, type=p.type.dtype) if isinstance(p.type, TensorType) else p
                   for p in k.params)
    return replace(k, params=params)


def lower_elementwise(k: ir.Kernel, out_dtype: DType, out_ndim: int) -> ir.Kernel:
    """Rewrite ``return expr`` into ``for idx in grid(out.shape): out[idx] = expr``."""
    tensors = {p.name for p in k.params if isinstance(p.type, TensorType)}
    vars_ = tuple(f"__i{d}" for d in range(out_ndim))
    loc = k.body[-1].loc
    index = tuple(ir.Name(loc, None, v) for v in vars_)

    def as_load(e):
        if isinstance(e, ir.Name) and e.id in tensors:
            return ir.Load(e.loc, None, e.id, index)
        return e
    body = ir.map_exprs(k.body, as_load)
    *assigns, ret = body
    store = ir.Store(ret.loc, OUT, index, ret.value)
    extents = tuple(ir.Shape(loc, None, OUT, d) for d in range(out_ndim))
    grid = ir.Grid(loc, vars_, extents, tuple(assigns) + (store,), ())
    out_param = ir.Param(OUT, TensorType(out_dtype, out_ndim, True))
    return replace(k, params=k.params + (out_param,), body=(grid,))
