"""Reductions and scans: sum, mean, max, argmax, std, cumulative_sum, ...

Results come from the pool (numpy writes them with ``out=``). Half-precision
data (fp16, bf16) accumulates in fp32 and the result is rounded back to the
input's type once, as the design requires; integer sums accumulate in int64.

Example:
    >>> import langone as lo
    >>> x = lo.asarray([[1, 2, 3], [4, 5, 6]], dtype="bf16")
    >>> x.sum(axis=1).tolist(), x.sum().dtype, lo.argmax(x, axis=0).tolist()
    ([6.0, 15.0], DType('bf16'), [1, 1, 1])
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from .. import dtypes as _dtypes
from ..dtypes import DType
from ..errors import InvalidOperation
from ._backend import array_module, empty_buffer
from .tensor import Tensor, wrap

_HALF = (_dtypes.fp16, _dtypes.bf16)


def _as_tensor(x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x
    from .creation import asarray
    return asarray(x)


def _axes(axis: Any, ndim: int) -> tuple[int, ...] | None:
    if axis is None:
        return None
    return normalize_axis_tuple(axis, ndim)


def _reduced_shape(shape: tuple, axes: tuple | None, keepdims: bool) -> tuple[int, ...]:
    if axes is None:
        return (1,) * len(shape) if keepdims else ()
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reduce(name: str, x: Any, axis: Any, keepdims: bool, out_dt: DType,
            acc_dt: DType | None, out: Tensor | None, **kw: Any) -> Tensor:
    """Run ``xp.<name>`` over ``axis`` into a pooled (or the given) result.

    ``acc_dt`` is passed as numpy's ``dtype=`` (the accumulator); when it differs
    from ``out_dt`` the reduction runs in ``acc_dt`` and is rounded into the result.
    """
    x = _as_tensor(x)
    axes = _axes(axis, x.ndim)
    if out is None:
        res = wrap(empty_buffer(_reduced_shape(x.shape, axes, keepdims), out_dt.numpy,
                                x.device), out_dt, x.device)
    else:
        res = out
    if axes is not None and isinstance(axis, (int, np.integer)):
        axes = axes[0]                      # argmax/argmin take one int axis, not a tuple
    fn = getattr(array_module(x.device), name)
    if acc_dt is not None:
        kw["dtype"] = acc_dt.numpy
    try:
        if acc_dt is None or acc_dt is res.dtype:
            fn(x._data, axis=axes, out=res._data, keepdims=keepdims, **kw)
        else:
            res._data[...] = fn(x._data, axis=axes, keepdims=keepdims, **kw)
    except ValueError as exc:
        if "zero-size" in str(exc) or "empty" in str(exc):
            raise InvalidOperation(
                f"{name} of an empty selection (shape {x.shape}, axis={axis}) is "
                f"undefined; check x.size before reducing") from None
        raise
    return res


def _sum_types(x: Tensor, dtype: Any) -> tuple[DType, DType]:
    """(result type, accumulator type) of sum/prod/cumulative_sum."""
    if dtype is not None:
        dt = _dtypes.dtype(dtype)
    elif x.dtype.kind in "fc":
        dt = x.dtype
    elif x.dtype.kind == "u":
        dt = _dtypes.uint64          # the Array API's default unsigned integer
    else:
        dt = _dtypes.int64           # bool and signed ints
    return dt, _dtypes.accumulator_type(dt) if dt.is_floating else dt


def _mean_types(x: Tensor, dtype: Any) -> tuple[DType, DType]:
    dt = _dtypes.dtype(dtype) if dtype is not None else (
        x.dtype if x.dtype.kind in "fc" else _dtypes.fp64)
    return dt, _dtypes.accumulator_type(dt) if dt.is_floating else dt


def sum(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False,
        out: Tensor | None = None) -> Tensor:
    """Sum over ``axis`` (all axes when None); fp16/bf16 accumulate in fp32.

    Example:
        >>> import langone as lo
        >>> lo.sum(lo.ones((2, 3)), axis=0).tolist()
        [2.0, 2.0, 2.0]
    """
    x = _as_tensor(x)
    dt, acc = _sum_types(x, dtype)
    return _reduce("sum", x, axis, keepdims, dt, acc, out)


def prod(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False,
         out: Tensor | None = None) -> Tensor:
    """Product over ``axis``; types as :func:`sum`."""
    x = _as_tensor(x)
    dt, acc = _sum_types(x, dtype)
    return _reduce("prod", x, axis, keepdims, dt, acc, out)


def mean(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False,
         out: Tensor | None = None) -> Tensor:
    """Arithmetic mean over ``axis``; integer input gives fp64 (numpy's rule)."""
    x = _as_tensor(x)
    dt, acc = _mean_types(x, dtype)
    return _reduce("mean", x, axis, keepdims, dt, acc, out)


def var(x: Any, /, *, axis: Any = None, correction: float = 0.0, keepdims: bool = False,
        dtype: Any = None, out: Tensor | None = None) -> Tensor:
    """Variance over ``axis`` dividing by ``N - correction`` (numpy's ``ddof``)."""
    x = _as_tensor(x)
    dt, acc = _mean_types(x, dtype)
    return _reduce("var", x, axis, keepdims, dt, acc, out, ddof=correction)


def std(x: Any, /, *, axis: Any = None, correction: float = 0.0, keepdims: bool = False,
        dtype: Any = None, out: Tensor | None = None) -> Tensor:
    """Standard deviation over ``axis``; ``correction`` as in :func:`var`."""
    x = _as_tensor(x)
    dt, acc = _mean_types(x, dtype)
    return _reduce("std", x, axis, keepdims, dt, acc, out, ddof=correction)


def max(x: Any, /, *, axis: Any = None, keepdims: bool = False,
        out: Tensor | None = None) -> Tensor:
    """Largest element over ``axis`` (NaN propagates).

    Raises:
        InvalidOperation: the reduction covers no elements.
    """
    x = _as_tensor(x)
    return _reduce("max", x, axis, keepdims, x.dtype, None, out)


def min(x: Any, /, *, axis: Any = None, keepdims: bool = False,
        out: Tensor | None = None) -> Tensor:
    """Smallest element over ``axis`` (NaN propagates).

    Raises:
        InvalidOperation: the reduction covers no elements.
    """
    x = _as_tensor(x)
    return _reduce("min", x, axis, keepdims, x.dtype, None, out)


def any(x: Any, /, *, axis: Any = None, keepdims: bool = False,
        out: Tensor | None = None) -> Tensor:
    """Whether any element over ``axis`` is nonzero."""
    return _reduce("any", x, axis, keepdims, _dtypes.bool_, None, out)


def all(x: Any, /, *, axis: Any = None, keepdims: bool = False,
        out: Tensor | None = None) -> Tensor:
    """Whether every element over ``axis`` is nonzero."""
    return _reduce("all", x, axis, keepdims, _dtypes.bool_, None, out)


def _arg_reduce(name: str, x: Any, axis: int | None, keepdims: bool,
                out: Tensor | None) -> Tensor:
    x = _as_tensor(x)
    if axis is not None and not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name} takes one axis (an int) or None, got {axis!r}")
    if axis is not None:
        axis = normalize_axis_index(int(axis), x.ndim)
    return _reduce(name, x, axis, keepdims, _dtypes.int64, None, out)


def argmax(x: Any, /, *, axis: int | None = None, keepdims: bool = False,
           out: Tensor | None = None) -> Tensor:
    """Index of the first largest element (of the flattened tensor when axis is None)."""
    return _arg_reduce("argmax", x, axis, keepdims, out)


def argmin(x: Any, /, *, axis: int | None = None, keepdims: bool = False,
           out: Tensor | None = None) -> Tensor:
    """Index of the first smallest element (of the flattened tensor when axis is None)."""
    return _arg_reduce("argmin", x, axis, keepdims, out)


def count_nonzero(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Number of nonzero elements over ``axis`` (int64)."""
    x = _as_tensor(x)
    return sum(x != 0, axis=axis, keepdims=keepdims)


def _scan(name: str, initial: int, x: Any, axis: int | None, dtype: Any,
          include_initial: bool, out: Tensor | None, flatten: bool) -> Tensor:
    x = _as_tensor(x)
    if flatten or (axis is None and x.ndim <= 1):
        x, axis = x.reshape(-1), 0
    if axis is None:
        raise ValueError(f"cumulative_{name[3:]} of a {x.ndim}-d tensor needs an axis")
    axis = normalize_axis_index(axis, x.ndim)
    dt, acc = _sum_types(x, dtype)
    shape = list(x.shape)
    shape[axis] += int(include_initial)
    res = out if out is not None else wrap(empty_buffer(tuple(shape), dt.numpy, x.device),
                                           dt, x.device)
    target = res._data
    if include_initial:
        head = (slice(None),) * axis
        target[head + (slice(0, 1),)] = initial
        target = target[head + (slice(1, None),)]
    fn = getattr(array_module(x.device), name)
    if acc is dt:
        fn(x._data, axis=axis, dtype=acc.numpy, out=target)
    else:
        target[...] = fn(x._data, axis=axis, dtype=acc.numpy)
    return res


def cumulative_sum(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                   include_initial: bool = False, out: Tensor | None = None,
                   flatten: bool = False) -> Tensor:
    """Running sum along ``axis`` (optional for 1-D input); types as :func:`sum`.

    Example:
        >>> import langone as lo
        >>> lo.cumulative_sum(lo.asarray([1, 2, 3]), include_initial=True).tolist()
        [0, 1, 3, 6]
    """
    return _scan("cumsum", 0, x, axis, dtype, include_initial, out, flatten)


def cumulative_prod(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                    include_initial: bool = False, out: Tensor | None = None) -> Tensor:
    """Running product along ``axis`` (optional for 1-D input); types as :func:`sum`."""
    return _scan("cumprod", 1, x, axis, dtype, include_initial, out, False)


__all__ = ["sum", "prod", "mean", "var", "std", "max", "min", "any", "all", "argmax",
           "argmin", "count_nonzero", "cumulative_sum", "cumulative_prod"]
