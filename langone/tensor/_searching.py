"""Sorting, searching, set and indexing functions of the Array API.

``sort`` and ``take`` write into pooled buffers; the others (argsort, nonzero,
searchsorted, unique_*, take_along_axis) keep the fresh arrays numpy computes,
since numpy has no ``out=`` for them.

Example:
    >>> import langone as lo
    >>> x = lo.asarray([3, 1, 2, 1])
    >>> lo.sort(x).tolist(), lo.unique_values(x).tolist(), lo.take(x, lo.asarray([0, 2])).tolist()
    ([1, 1, 2, 3], [1, 2, 3], [3, 2])
"""

from __future__ import annotations

from typing import Any, NamedTuple

from numpy.lib.array_utils import normalize_axis_index

from ._backend import array_module, empty_buffer
from ._operands import operand_array
from .tensor import Tensor, wrap


def _as_tensor(x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x
    from .creation import asarray
    return asarray(x)


def _adopt(x: Tensor, arr: Any) -> Tensor:
    return wrap(arr, None, x.device)


def _along(x: Tensor, axis: int | None) -> tuple[Any, int]:
    """The data to sort and the axis: ``axis=None`` sorts the flattened tensor,
    as numpy's ``sort``/``argsort`` do (the Array API has no None here)."""
    if axis is None:
        return x._data.reshape(-1), -1
    return x._data, axis


def sort(x: Any, /, *, axis: int | None = -1, descending: bool = False,
         stable: bool = True) -> Tensor:
    """A sorted copy along ``axis``; ``descending=True`` keeps equal elements in order.

    ``axis=None`` sorts the flattened tensor and returns a 1-D tensor (numpy's meaning).

    Example:
        >>> import langone as lo
        >>> lo.sort(lo.asarray([2.0, 3.0, 1.0]), descending=True).tolist()
        [3.0, 2.0, 1.0]
        >>> lo.sort(lo.asarray([[3, 1], [2, 0]]), axis=None).tolist()
        [0, 1, 2, 3]
    """
    x = _as_tensor(x)
    data, axis = _along(x, axis)
    xp = array_module(x.device)
    res = empty_buffer(data.shape, x.dtype.numpy, x.device)
    if descending:
        # Sorting the reversed input stably, then reversing, keeps ties in input order.
        res[...] = xp.flip(data, axis=axis)
        res.sort(axis=axis, kind="stable")
        return wrap(xp.flip(res, axis=axis), x.dtype, x.device)
    res[...] = data
    res.sort(axis=axis, kind="stable" if stable else None)
    return wrap(res, x.dtype, x.device)


def argsort(x: Any, /, *, axis: int | None = -1, descending: bool = False,
            stable: bool = True) -> Tensor:
    """Indices that sort ``x`` along ``axis`` (int64); ``axis=None``: indices into
    the flattened tensor, as numpy's."""
    x = _as_tensor(x)
    data, axis = _along(x, axis)
    xp = array_module(x.device)
    if not descending:
        return _adopt(x, xp.argsort(data, axis=axis, kind="stable" if stable else None))
    n = data.shape[axis] if data.ndim else 1
    flipped = xp.argsort(xp.flip(data, axis=axis), axis=axis, kind="stable")
    return _adopt(x, n - 1 - xp.flip(flipped, axis=axis))


def nonzero(x: Any, /) -> tuple[Tensor, ...]:
    """Indices of the nonzero elements, one int64 tensor per dimension."""
    x = _as_tensor(x)
    return tuple(_adopt(x, i) for i in x._data.nonzero())


def searchsorted(x1: Any, x2: Any, /, *, side: str = "left", sorter: Any = None) -> Tensor:
    """Insertion points of ``x2`` into the sorted 1-D ``x1`` (int64)."""
    x1 = _as_tensor(x1)
    xp = array_module(x1.device)
    values = operand_array(x2, x1.device)
    srt = None if sorter is None else operand_array(sorter, x1.device)
    return _adopt(x1, xp.asarray(xp.searchsorted(x1._data, values, side=side, sorter=srt)))


def take(x: Any, indices: Any, /, *, axis: int | None = None) -> Tensor:
    """Elements of ``x`` at ``indices`` along ``axis`` (required unless x is 1-D)."""
    x = _as_tensor(x)
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"take on a {x.ndim}-d tensor needs an axis")
        axis = 0
    axis = normalize_axis_index(axis, x.ndim)
    idx = operand_array(indices, x.device)
    xp = array_module(x.device)
    shape = x.shape[:axis] + getattr(idx, "shape", ()) + x.shape[axis + 1:]
    res = empty_buffer(shape, x.dtype.numpy, x.device)
    xp.take(x._data, idx, axis=axis, out=res)
    return wrap(res, x.dtype, x.device)


def take_along_axis(x: Any, indices: Any, /, *, axis: int = -1) -> Tensor:
    """Pick values along ``axis`` with an index tensor of matching shape."""
    x = _as_tensor(x)
    idx = operand_array(indices, x.device)
    return _adopt(x, array_module(x.device).take_along_axis(x._data, idx, axis=axis))


class UniqueAll(NamedTuple):
    values: Tensor
    indices: Tensor
    inverse_indices: Tensor
    counts: Tensor


class UniqueCounts(NamedTuple):
    values: Tensor
    counts: Tensor


class UniqueInverse(NamedTuple):
    values: Tensor
    inverse_indices: Tensor


def _unique(x: Any, **flags: bool):
    x = _as_tensor(x)
    parts = array_module(x.device).unique(x._data, **flags)
    return x, parts


def unique_values(x: Any, /) -> Tensor:
    """The distinct values of ``x``, sorted, as a 1-D tensor."""
    x, vals = _unique(x)
    return _adopt(x, vals)


def unique_counts(x: Any, /) -> UniqueCounts:
    """Distinct values and how often each occurs."""
    x, (vals, counts) = _unique(x, return_counts=True)
    return UniqueCounts(_adopt(x, vals), _adopt(x, counts))


def unique_inverse(x: Any, /) -> UniqueInverse:
    """Distinct values and, for each element of ``x``, the index of its value."""
    x, (vals, inv) = _unique(x, return_inverse=True)
    return UniqueInverse(_adopt(x, vals), _adopt(x, inv.reshape(x.shape)))


def unique_all(x: Any, /) -> UniqueAll:
    """Distinct values, first indices, inverse indices and counts."""
    x, (vals, first, inv, counts) = _unique(x, return_index=True, return_inverse=True,
                                            return_counts=True)
    return UniqueAll(_adopt(x, vals), _adopt(x, first), _adopt(x, inv.reshape(x.shape)),
                     _adopt(x, counts))


__all__ = ["sort", "argsort", "nonzero", "searchsorted", "take", "take_along_axis",
           "unique_values", "unique_counts", "unique_inverse", "unique_all"]
