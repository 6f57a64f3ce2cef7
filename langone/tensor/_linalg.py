"""Linear algebra: matmul (``@``), tensordot, vecdot, matrix_transpose.

fp16 and bf16 products accumulate in fp32 (numpy has no BLAS for them, and
summing in half precision loses digits fast) and are rounded back once.

Example:
    >>> import langone as lo
    >>> a = lo.ones((2, 3), dtype="fp16")
    >>> b = lo.ones((3,), dtype="fp16")
    >>> (a @ b).tolist(), (a @ b).dtype
    ([3.0, 3.0], DType('fp16'))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dtypes as _dtypes
from ._backend import array_module, empty_buffer
from ._errors import ShapeMismatch, shape_mismatch
from ._operands import device_of, operand_array, operator_operand_ok
from .tensor import Tensor, dtype_of, wrap

_HALF = (_dtypes.fp16, _dtypes.bf16)


def _matmul_shape(a: tuple, b: tuple) -> tuple[int, ...]:
    """numpy's matmul shape rule, with an error that shows both shapes."""
    if not a or not b:
        raise ShapeMismatch(f"matmul needs tensors with at least 1 dimension, got shapes "
                            f"{a} and {b}; use * to scale by a scalar")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ShapeMismatch(
            f"matmul: shapes {a} and {b} are not aligned: the last dimension of the first "
            f"({a2[-1]}) must equal the {'only' if len(b) == 1 else 'second-to-last'} "
            f"dimension of the second ({b2[-2]})")
    try:
        batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    except ValueError:
        raise shape_mismatch(a, b, what="batched together by matmul (leading dims)") from None
    return batch + (a2[-2],) * (len(a) > 1) + (b2[-1],) * (len(b) > 1)


def matmul(x1: Any, x2: Any, /) -> Tensor:
    """Matrix product with numpy's rules for 1-D operands and batch broadcasting.

    Example:
        >>> import langone as lo
        >>> (lo.eye(2) @ lo.asarray([[1.0, 2.0], [3.0, 4.0]])).tolist()
        [[1.0, 2.0], [3.0, 4.0]]

    Raises:
        ShapeMismatch: the inner dimensions differ or the batch dimensions
            do not broadcast.
    """
    dev = device_of(x1, x2)
    a, b = operand_array(x1, dev), operand_array(x2, dev)
    a = a if hasattr(a, "shape") else np.asarray(a)
    b = b if hasattr(b, "shape") else np.asarray(b)
    dt = _dtypes.result_type(_dtype(a), _dtype(b))
    res = empty_buffer(_matmul_shape(a.shape, b.shape), dt.numpy, dev)
    xp = array_module(dev)
    if dt in _HALF:
        acc = _dtypes.fp32.numpy
        res[...] = xp.matmul(a.astype(acc, copy=False), b.astype(acc, copy=False))
    else:
        xp.matmul(a.astype(dt.numpy, copy=False), b.astype(dt.numpy, copy=False), out=res)
    return wrap(res, dt, dev)


def _dtype(arr) -> _dtypes.DType:
    return dtype_of(arr.dtype)


def matmul_op(a: Any, b: Any) -> Tensor:
    """``a @ b``: NotImplemented for operand types Python should try elsewhere."""
    if not (operator_operand_ok(a) and operator_operand_ok(b)):
        return NotImplemented
    return matmul(a, b)


def imatmul(a: Tensor, b: Any) -> Tensor:
    """``a @= b``: allowed when the product has ``a``'s shape (square ``b``)."""
    if not operator_operand_ok(b):
        return NotImplemented
    res = matmul(a, b)
    if res.shape != a.shape:
        raise ShapeMismatch(f"a @= b needs a result of a's shape {a.shape}, the product "
                            f"has shape {res.shape}; write a = a @ b instead")
    a._data[...] = res._data
    return a


def matrix_transpose(x: Tensor, /) -> Tensor:
    """Swap the last two dimensions (a view): ``x.mT``."""
    return x.mT


def tensordot(x1: Any, x2: Any, /, *, axes: Any = 2) -> Tensor:
    """Sum of products over the given axes (numpy's ``tensordot``).

    Example:
        >>> import langone as lo
        >>> lo.tensordot(lo.ones((2, 3)), lo.ones((3, 4)), axes=1).shape
        (2, 4)
    """
    dev = device_of(x1, x2)
    a, b = operand_array(x1, dev), operand_array(x2, dev)
    dt = _dtypes.result_type(_dtype(a), _dtype(b))
    xp = array_module(dev)
    acc = _dtypes.fp32.numpy if dt in _HALF else dt.numpy
    try:
        prod = xp.tensordot(a.astype(acc, copy=False), b.astype(acc, copy=False), axes=axes)
    except ValueError as exc:
        raise ShapeMismatch(f"tensordot: shapes {a.shape} and {b.shape} do not match "
                            f"over axes={axes!r} ({exc})") from None
    res = empty_buffer(prod.shape, dt.numpy, dev)
    res[...] = prod
    return wrap(res, dt, dev)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Tensor:
    """Dot product of vectors along ``axis``, broadcasting the other dimensions.

    Example:
        >>> import langone as lo
        >>> lo.vecdot(lo.ones((2, 3)), lo.asarray([1.0, 2.0, 3.0])).tolist()
        [6.0, 6.0]
    """
    from ._elementwise import multiply
    from ._reductions import sum as _sum
    n1, n2 = np.shape(_data(x1))[axis], np.shape(_data(x2))[axis]
    if n1 != n2:
        raise ShapeMismatch(f"vecdot: the vectors along axis {axis} have lengths {n1} and "
                            f"{n2} (shapes {np.shape(_data(x1))} and {np.shape(_data(x2))})")
    return _sum(multiply(x1, x2), axis=axis)


def _data(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


__all__ = ["matmul", "matrix_transpose", "tensordot", "vecdot"]
