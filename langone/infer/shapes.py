"""Shape buckets: padding the batch dimension so that many batch sizes share few compiles.

``buckets="pow2"`` rounds a batch of n up to the next power of two; a tuple of
sizes rounds up to the next size given (beyond the largest, a batch keeps its
own size). The padding rows are zeros and are sliced off the outputs, which is
right for models whose samples are independent along dimension 0, and checked:
every output must keep the padded batch in its dimension 0.

Example:
    >>> from langone.infer.shapes import bucket_size
    >>> bucket_size(5, "pow2"), bucket_size(5, (2, 8, 32)), bucket_size(40, (2, 8, 32))
    (8, 8, 40)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidOperation


def check_buckets(buckets: Any) -> Any:
    if buckets is None or buckets == "pow2":
        return buckets
    try:
        sizes = tuple(sorted({int(b) for b in buckets}))
    except (TypeError, ValueError):
        sizes = ()
    if not sizes or sizes[0] < 1:
        raise InvalidOperation(f"buckets={buckets!r}: use None, 'pow2' or batch sizes "
                               f"such as (1, 8, 32)")
    return sizes


def bucket_size(n: int, buckets: Any) -> int:
    if buckets == "pow2":
        return 1 << max(n - 1, 0).bit_length()
    for size in buckets:
        if size >= n:
            return size
    return n                                  # beyond the largest bucket: its own shape


def pad_batch(arr: Any, size: int) -> np.ndarray:
    """``arr`` (an array or ``openvino.Tensor``) with zero rows up to ``size`` in dimension 0."""
    arr = arr.data if not isinstance(arr, np.ndarray) else arr
    out = np.zeros((size,) + tuple(arr.shape[1:]), arr.dtype)
    out[:arr.shape[0]] = arr
    return out


def check_batch_outputs(entry: Any, size: int, name: str) -> None:
    for spec in entry.outputs:
        if not spec.shape or spec.shape[0] != size:
            raise InvalidOperation(
                f"buckets pad the batch (dimension 0) of model {name!r}, but its output "
                f"{spec.describe()} does not keep a batch of {size} in dimension 0; "
                f"load the model without buckets")
