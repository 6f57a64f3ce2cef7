"""Shape manipulation and conversion: reshape, permute_dims, concat, astype, ...

Views (reshape when the strides allow, permute_dims, expand_dims, squeeze,
flip, moveaxis, broadcast_to, unstack) share storage with their input. Copies
(reshape when needed, astype, copy, concat, stack) are written into pooled
buffers. repeat, roll, tile and diff keep the fresh array numpy returns (numpy
offers no ``out=`` for them), so their storage is numpy's rather than the pool's.

Example:
    >>> import langone as lo
    >>> x = lo.arange(6).reshape(2, 3)
    >>> lo.permute_dims(x, (1, 0)).shape, lo.concat([x, x], axis=1).shape
    ((3, 2), (2, 6))
"""

from __future__ import annotations

import math
import operator
from typing import Any, Sequence

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from .. import dtypes as _dtypes
from ._backend import array_module, empty_buffer
from ._errors import ShapeMismatch, shape_mismatch
from ._operands import device_of, operand_array
from .tensor import Tensor, dtype_of, wrap


def _as_tensor(x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x
    from .creation import asarray
    return asarray(x)


def _view(x: Tensor, arr: Any) -> Tensor:
    return wrap(arr, x._dtype, x._device)


# --- conversion ------------------------------------------------------------------------

def astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Tensor:
    """``x`` converted to ``dtype`` (numpy casting: floats to ints truncate).

    Returns ``x`` itself when ``copy=False`` and nothing needs to change.

    Example:
        >>> import langone as lo
        >>> lo.astype(lo.asarray([1.7, -1.7]), "int32").tolist()
        [1, -1]

    Raises:
        UnsupportedPrecision: ``dtype`` is not a LangOne dtype.
    """
    x = _as_tensor(x)
    dt = _dtypes.dtype(dtype)
    if device is not None and x.device != device:
        x, copy = x.to(device), False            # the transfer already copied
        if dt is x.dtype:
            return x
    if dt is x.dtype and not copy:
        return x
    res = empty_buffer(x.shape, dt.numpy, x.device)
    res[...] = x._data
    return wrap(res, dt, x.device)


def copy(x: Any, /) -> Tensor:
    """A C-contiguous copy of ``x`` in a new pool block."""
    x = _as_tensor(x)
    return astype(x, x.dtype, copy=True)


# --- views ----------------------------------------------------------------------------------

def _resolve_shape(shape: Any, size: int, old: tuple) -> tuple[int, ...]:
    dims = [operator.index(shape)] if not hasattr(shape, "__iter__") else \
        [operator.index(d) for d in shape]
    unknown = [i for i, d in enumerate(dims) if d == -1]
    known = math.prod(d for d in dims if d != -1)
    bad = len(unknown) > 1 or any(d < -1 for d in dims) or \
        (known != size if not unknown else known == 0 or size % known)
    if bad:
        raise ShapeMismatch(
            f"cannot reshape a tensor of shape {old} ({size} elements) into shape "
            f"{tuple(dims)}; the sizes must multiply to {size} (one -1 may stand for "
            f"the missing size)")
    if unknown:
        dims[unknown[0]] = size // known
    return tuple(dims)


def reshape(x: Any, /, shape: Any, *, copy: bool | None = None) -> Tensor:
    """Same elements, new shape: a view when the strides allow it, else a pooled copy.

    ``copy=True`` always copies; ``copy=False`` raises instead of copying.

    Example:
        >>> import langone as lo
        >>> x = lo.arange(6)
        >>> v = lo.reshape(x, (2, -1))
        >>> v[0, 0] = 9
        >>> int(x[0])
        9
    """
    x = _as_tensor(x)
    target = _resolve_shape(shape, x.size, x.shape)
    if copy is not True:
        view = _reshape_view(x, target)
        if view is not None:
            return _view(x, view)
        if copy is False:
            raise ValueError(f"reshaping the strided tensor of shape {x.shape} (strides "
                             f"{x.strides}) into {target} needs a copy, but copy=False")
    res = empty_buffer(target, x.dtype.numpy, x.device)
    res.reshape(x.shape)[...] = x._data
    return _view(x, res)


def _reshape_view(x: Tensor, target: tuple):
    if x.device.type == "cpu":
        try:
            return np.reshape(x._data, target, copy=False)
        except ValueError:
            return None
    view = x._data.view()
    try:
        view.shape = target                       # cupy: raises when a copy is needed
    except AttributeError:
        return None
    return view


def permute_dims(x: Tensor, /, axes: Sequence[int]) -> Tensor:
    """Reorder the dimensions (a view): ``permute_dims(x, (1, 0))`` transposes."""
    try:
        return _view(x, x._data.transpose(tuple(axes)))
    except ValueError:
        raise ShapeMismatch(f"permute_dims: axes {tuple(axes)} are not a permutation of "
                            f"the {x.ndim} dimensions of shape {x.shape}") from None


def expand_dims(x: Tensor, /, axis: int | tuple[int, ...] = 0) -> Tensor:
    """Insert size-1 dimensions at ``axis`` (a view)."""
    return _view(x, array_module(x.device).expand_dims(x._data, axis))


def squeeze(x: Tensor, /, axis: int | tuple[int, ...] | None = None) -> Tensor:
    """Remove size-1 dimensions (all of them when ``axis`` is None) (a view)."""
    try:
        return _view(x, array_module(x.device).squeeze(x._data, axis))
    except ValueError:
        raise ShapeMismatch(f"cannot squeeze axis {axis} of shape {x.shape}: only "
                            f"dimensions of size 1 can be removed") from None


def flip(x: Tensor, /, *, axis: int | tuple[int, ...] | None = None) -> Tensor:
    """Reverse the order of elements along ``axis`` (all axes when None) (a view)."""
    return _view(x, array_module(x.device).flip(x._data, axis))


def moveaxis(x: Tensor, source: Any, destination: Any, /) -> Tensor:
    """Move dimensions to new positions, keeping the order of the others (a view)."""
    return _view(x, array_module(x.device).moveaxis(x._data, source, destination))


def broadcast_to(x: Any, /, shape: tuple[int, ...]) -> Tensor:
    """A read-only view of ``x`` repeated (with zero strides) to ``shape``."""
    x = _as_tensor(x)
    shape = tuple(shape)
    try:
        return _view(x, array_module(x.device).broadcast_to(x._data, shape))
    except ValueError:
        raise shape_mismatch(x.shape, shape, what="broadcast (tensor to target)") from None


def broadcast_arrays(*arrays: Any) -> list[Tensor]:
    """Views of the inputs broadcast against each other."""
    dev = device_of(*arrays)
    data = [operand_array(a, dev) for a in arrays]
    try:
        views = array_module(dev).broadcast_arrays(*data)
    except ValueError:
        raise shape_mismatch(*(np.shape(d) for d in data)) from None
    return [wrap(v, None, dev) for v in views]


def unstack(x: Tensor, /, *, axis: int = 0) -> tuple[Tensor, ...]:
    """Views of the slices of ``x`` along ``axis``."""
    axis = normalize_axis_index(axis, x.ndim)
    head = (slice(None),) * axis
    return tuple(x[head + (i,)] for i in range(x.shape[axis]))


# --- joining ------------------------------------------------------------------------------------

def _join_inputs(arrays: Sequence[Any]):
    if not len(arrays):
        raise ValueError("need at least one tensor to join")
    dev = device_of(*arrays)
    data = [operand_array(a, dev) for a in arrays]
    data = [d if hasattr(d, "shape") else np.asarray(d) for d in data]
    dt = _dtypes.result_type(*(dtype_of(d.dtype) for d in data))
    return dev, data, dt


def concat(arrays: Sequence[Any], /, *, axis: int | None = 0) -> Tensor:
    """Join tensors along an existing ``axis`` (flattened first when None).

    Raises:
        ShapeMismatch: the shapes differ outside ``axis`` (all shapes are listed).
    """
    dev, data, dt = _join_inputs(arrays)
    if axis is None:
        data, axis = [d.reshape(-1) for d in data], 0
    shapes = [d.shape for d in data]
    axis = normalize_axis_index(axis, len(shapes[0]) or 1)
    if any(len(s) != len(shapes[0]) or s[:axis] + s[axis + 1:] != shapes[0][:axis] +
           shapes[0][axis + 1:] for s in shapes):
        raise ShapeMismatch(f"concat along axis {axis}: shapes {shapes} must match in "
                            f"every other dimension")
    shape = list(shapes[0])
    shape[axis] = sum(s[axis] for s in shapes)
    res = empty_buffer(tuple(shape), dt.numpy, dev)
    array_module(dev).concatenate(data, axis=axis, out=res, casting="unsafe")
    return wrap(res, dt, dev)


def stack(arrays: Sequence[Any], /, *, axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new ``axis``.

    Raises:
        ShapeMismatch: the shapes differ (all shapes are listed).
    """
    dev, data, dt = _join_inputs(arrays)
    shapes = [d.shape for d in data]
    if any(s != shapes[0] for s in shapes):
        raise ShapeMismatch(f"stack needs tensors of one shape, got shapes {shapes}")
    axis = normalize_axis_index(axis, len(shapes[0]) + 1)
    shape = shapes[0][:axis] + (len(data),) + shapes[0][axis:]
    res = empty_buffer(shape, dt.numpy, dev)
    array_module(dev).stack(data, axis=axis, out=res, casting="unsafe")
    return wrap(res, dt, dev)


# --- numpy-computed (numpy-owned storage) ----------------------------------------------------------

def repeat(x: Any, repeats: Any, /, *, axis: int | None = None) -> Tensor:
    """Repeat each element ``repeats`` times along ``axis`` (flattened when None)."""
    x = _as_tensor(x)
    reps = operand_array(repeats, x.device)
    return wrap(array_module(x.device).repeat(x._data, reps, axis=axis), x.dtype, x.device)


def roll(x: Any, /, shift: Any, *, axis: Any = None) -> Tensor:
    """Shift elements cyclically along ``axis`` (of the flattened tensor when None)."""
    x = _as_tensor(x)
    return wrap(array_module(x.device).roll(x._data, shift, axis=axis), x.dtype, x.device)


def tile(x: Any, repetitions: tuple[int, ...], /) -> Tensor:
    """Repeat the whole tensor ``repetitions[i]`` times along dimension ``i``."""
    x = _as_tensor(x)
    return wrap(array_module(x.device).tile(x._data, repetitions), x.dtype, x.device)


def diff(x: Any, /, *, axis: int = -1, n: int = 1, prepend: Any = None,
         append: Any = None) -> Tensor:
    """``n``-th discrete difference along ``axis``."""
    x = _as_tensor(x)
    kw = {k: operand_array(v, x.device) for k, v in (("prepend", prepend), ("append", append))
          if v is not None}
    return wrap(array_module(x.device).diff(x._data, n=n, axis=axis, **kw), None, x.device)


__all__ = ["astype", "copy", "reshape", "permute_dims", "expand_dims", "squeeze", "flip",
           "moveaxis", "broadcast_to", "broadcast_arrays", "unstack", "concat", "stack",
           "repeat", "roll", "tile", "diff"]
