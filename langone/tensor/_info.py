"""Array API inspection: ``isdtype``, ``__array_namespace_info__`` and the constants.

Example:
    >>> import langone as lo
    >>> lo.isdtype(lo.fp16, "real floating"), lo.isdtype(lo.int8, ("bool", "integral"))
    (True, True)
    >>> lo.__array_namespace_info__().default_dtypes()["real floating"]
    DType('fp64')
"""

from __future__ import annotations

import math
from typing import Any

from .. import dtypes as _dtypes
from ..dtypes import DType

e = math.e
inf = math.inf
nan = math.nan
pi = math.pi
newaxis = None

_KINDS = {
    "bool": lambda d: d.is_bool,
    "signed integer": lambda d: d.kind == "i",
    "unsigned integer": lambda d: d.kind == "u",
    "integral": lambda d: d.is_integer,
    "real floating": lambda d: d.is_floating,
    "complex floating": lambda d: d.is_complex,
    "numeric": lambda d: not d.is_bool,
}


def isdtype(dtype: Any, kind: Any) -> bool:
    """Whether ``dtype`` is of ``kind``: a DType, a kind name, or a tuple of either.

    Raises:
        ValueError: an unknown kind name (the valid ones are listed).
    """
    dt = _dtypes.dtype(dtype)
    if isinstance(kind, tuple):
        return any(isdtype(dt, k) for k in kind)
    if isinstance(kind, str):
        try:
            return bool(_KINDS[kind](dt))
        except KeyError:
            raise ValueError(f"unknown dtype kind {kind!r}; use one of "
                             f"{', '.join(map(repr, _KINDS))}") from None
    return _dtypes.dtype(kind) is dt


class ArrayNamespaceInfo:
    """What ``lo.__array_namespace_info__()`` reports (Array API 2023.12+)."""

    def capabilities(self) -> dict[str, Any]:
        return {"boolean indexing": True, "data-dependent shapes": True,
                "max dimensions": 64}

    def default_device(self):
        from .devices import device
        return device("cpu")

    def default_dtypes(self, *, device: Any = None) -> dict[str, DType | None]:
        return {"real floating": _dtypes.fp64, "complex floating": _dtypes.complex128,
                "integral": _dtypes.int64, "indexing": _dtypes.int64}

    def devices(self) -> list:
        from .devices import devices
        return list(devices())

    def dtypes(self, *, device: Any = None, kind: Any = None) -> dict[str, DType]:
        return {d.name: d for d in _dtypes.ALL_DTYPES if kind is None or isdtype(d, kind)}


def __array_namespace_info__() -> ArrayNamespaceInfo:
    """The Array API inspection object of the ``langone`` namespace."""
    return ArrayNamespaceInfo()


__all__ = ["isdtype", "__array_namespace_info__", "ArrayNamespaceInfo", "e", "inf", "nan",
           "pi", "newaxis"]
