"""Integer quantization and automatic precision choice.

:func:`quantize` maps floats to int8 (or int16) with a symmetric scale, per
tensor or per channel: ``q = clip(round(x / scale), -qmax, qmax)`` with
``scale = max|x| / qmax``, so every element comes back within ``scale / 2``.
:func:`optimize_precision` tries the candidate precisions from the smallest
and keeps the first whose relative error stays within a tolerance.

Example:
    >>> import langone as lo
    >>> w = lo.asarray([[0.5, -1.0], [2.0, 0.25]], dtype="fp32")
    >>> q = lo.quantize(w, axis=0)          # one scale per row
    >>> q.values.tolist(), [round(s, 6) for s in q.scale.tolist()]
    ([[64, -127], [127, 16]], [0.007874, 0.015748])
    >>> big = lo.linspace(-1, 1, 4096, dtype="fp32")
    >>> small, report = lo.optimize_precision(big, tolerance=1e-2)
    >>> report.chosen, report.nbytes["int8"], big.nbytes
    ('int8', 4100, 16384)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from .. import dtypes as _dtypes
from ..dtypes import DType
from ..errors import InvalidOperation, UnsupportedPrecision
from . import _elementwise as _ew, _reductions as _red
from .creation import asarray
from .tensor import Tensor

_QUANT_TYPES = (_dtypes.int8, _dtypes.int16)


class QuantizedTensor:
    """Integer ``values`` with a float ``scale``: ``x ≈ values * scale`` (zero point 0).

    ``scale`` is 0-d for per-tensor quantization, or 1-D with one entry per
    index of ``axis`` for per-channel quantization.
    """

    __slots__ = ("values", "scale", "zero_point", "axis", "orig_dtype")

    def __init__(self, values: Tensor, scale: Tensor, axis: int | None, orig_dtype: DType):
        self.values = values
        self.scale = scale
        self.zero_point = 0
        self.axis = axis
        self.orig_dtype = orig_dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    @property
    def dtype(self) -> DType:
        return self.values.dtype

    @property
    def device(self):
        return self.values.device

    @property
    def nbytes(self) -> int:
        """Storage of the values plus the scales."""
        return self.values.nbytes + self.scale.nbytes

    def dequantize(self, dtype: Any = None) -> Tensor:
        """``values * scale`` as floats (the original dtype unless ``dtype`` is given)."""
        dt = _dtypes.dtype(dtype) if dtype is not None else self.orig_dtype
        scale = self.scale
        if self.axis is not None:       # put the per-channel scales on their axis
            shape = [1] * self.values.ndim
            shape[self.axis] = scale.shape[0]
            scale = scale.reshape(tuple(shape))
        approx = _ew.multiply(self.values.astype(scale.dtype), scale)
        return approx.astype(dt, copy=False)

    def __repr__(self) -> str:
        per = "per-tensor" if self.axis is None else f"per-channel along axis {self.axis}"
        return (f"QuantizedTensor(shape={self.shape}, dtype={self.dtype.name}, {per}, "
                f"from {self.orig_dtype.name}, device='{self.device}')")


def _work_dtype(x: Tensor) -> DType:
    return _dtypes.fp64 if x.dtype is _dtypes.fp64 else _dtypes.fp32


def _check_finite(x: Tensor, what: str) -> None:
    if x.dtype.is_floating:
        bad = int(_red.sum(_ew.logical_not(_ew.isfinite(x))))
        if bad:
            raise InvalidOperation(f"cannot {what}: the tensor holds {bad} non-finite "
                                   f"value(s) (nan or inf); replace them first, e.g. "
                                   f"lo.where(lo.isfinite(x), x, 0)")


def quantize(x: Any, dtype: Any = "int8", axis: int | None = None) -> QuantizedTensor:
    """Symmetric integer quantization with a per-tensor or per-channel scale.

    Args:
        x: float data (a Tensor or anything :func:`asarray` takes).
        dtype: ``"int8"`` (default) or ``"int16"``.
        axis: None for one scale for the whole tensor, or the channel axis
            (e.g. 0 for the output rows of a weight matrix).

    Returns:
        A :class:`QuantizedTensor`; ``|x - q.dequantize()| <= q.scale / 2`` elementwise.

    Raises:
        UnsupportedPrecision: ``dtype`` is not int8 or int16.
        InvalidOperation: ``x`` holds nan or inf.
    """
    x = asarray(x)
    qdt = _dtypes.dtype(dtype)
    if qdt not in _QUANT_TYPES:
        raise UnsupportedPrecision(
            f"quantize supports symmetric int8 and int16, got {qdt.name}; for fp16/bf16 "
            f"use x.astype('{qdt.name}')")
    _check_finite(x, "quantize")
    xf = x.astype(_work_dtype(x), copy=False)
    qmax = _dtypes.iinfo(qdt).max
    if axis is not None:
        axis = normalize_axis_index(axis, x.ndim)
    others = None if axis is None else tuple(i for i in range(x.ndim) if i != axis)
    amax = _red.max(_ew.abs(xf), axis=others, keepdims=axis is not None) if x.size else \
        _ew.abs(xf).sum(axis=others, keepdims=axis is not None)
    scale = amax / qmax
    scale = _ew.where(scale == 0, 1.0, scale)      # all-zero channels: any scale is exact
    q = _ew.clip(_ew.round(xf / scale), -qmax, qmax).astype(qdt)
    if axis is not None:
        scale = scale.reshape(-1)
    return QuantizedTensor(q, scale, axis, x.dtype if x.dtype.is_floating else _dtypes.fp32)


@dataclass
class PrecisionReport:
    """What :func:`optimize_precision` measured and chose."""

    chosen: str
    tolerance: float
    metric: str
    within_tolerance: bool
    original: str
    original_nbytes: int
    errors: dict[str, float] = field(default_factory=dict)
    nbytes: dict[str, int] = field(default_factory=dict)

    @property
    def compression(self) -> float:
        """Original bytes / chosen bytes."""
        return self.original_nbytes / self.nbytes.get(self.chosen, self.original_nbytes)

    def __str__(self) -> str:
        rows = [f"precision  {'rel. error':>12}  {'bytes':>12}"]
        for name, err in self.errors.items():
            mark = "  <- chosen" if name == self.chosen else ""
            rows.append(f"{name:<9}  {err:>12.3e}  {self.nbytes[name]:>12,}{mark}")
        verdict = (f"chose {self.chosen} ({self.compression:.1f}x smaller than "
                   f"{self.original})" if self.within_tolerance else
                   f"no candidate within {self.metric} error {self.tolerance:g}; kept "
                   f"{self.original}")
        return "\n".join(rows + [verdict])


def _relative_error(ref: Tensor, approx: Tensor, metric: str) -> float:
    diff = _ew.subtract(ref, approx)
    if metric == "max":
        num, den = float(_red.max(_ew.abs(diff))), float(_red.max(_ew.abs(ref)))
    else:
        num = math.sqrt(float(_red.mean(_ew.square(diff))))
        den = math.sqrt(float(_red.mean(_ew.square(ref))))
    err = num / den if den else num
    return err if math.isfinite(err) else math.inf       # fp16 overflow -> inf -> reject


def _candidate(x: Tensor, name: str, axis: int | None) -> Tensor | QuantizedTensor:
    dt = _dtypes.dtype(name)
    if dt in _QUANT_TYPES:
        return quantize(x, dt, axis=axis)
    if not dt.is_floating:
        raise UnsupportedPrecision(f"optimize_precision candidates are float types or "
                                   f"int8/int16 (quantized), got {name!r}")
    with np.errstate(over="ignore"):      # an fp16 overflow is measured (inf error), not warned
        return x.astype(dt, copy=False)


def optimize_precision(x: Any, tolerance: float = 1e-2,
                       candidates: Sequence[Any] = ("int8", "fp16", "bf16", "fp32"),
                       *, metric: str = "max", axis: int | None = None,
                       ) -> tuple[Tensor | QuantizedTensor, PrecisionReport]:
    """Store ``x`` in the smallest precision whose relative error is within ``tolerance``.

    Candidates are tried from the fewest bytes; among equally small ones the most
    accurate wins (fp16 usually beats bf16 unless the values overflow fp16).

    Args:
        x: float data.
        tolerance: the largest acceptable relative error.
        candidates: dtype names; int8/int16 mean symmetric quantization.
        metric: ``"max"``: max|x - x̂| / max|x| (default); ``"rms"``: ||x - x̂|| / ||x||.
        axis: channel axis for per-channel quantization (None: per tensor).

    Returns:
        ``(converted, report)``: a Tensor or :class:`QuantizedTensor`, and a
        :class:`PrecisionReport`. When no candidate qualifies, ``x`` is returned
        unchanged and ``report.within_tolerance`` is False.

    Raises:
        InvalidOperation: ``x`` holds nan or inf.
    """
    if metric not in ("max", "rms"):
        raise ValueError(f"metric must be 'max' or 'rms', got {metric!r}")
    x = asarray(x)
    _check_finite(x, "choose a precision")
    ref = x.astype(_dtypes.fp64, copy=False)
    report = PrecisionReport(chosen=x.dtype.name, tolerance=tolerance, metric=metric,
                             within_tolerance=False, original=x.dtype.name,
                             original_nbytes=x.nbytes)
    results = {}
    for cand in candidates:
        name = _dtypes.dtype(cand).name
        results[name] = conv = _candidate(x, name, axis)
        approx = conv.dequantize(_dtypes.fp64) if isinstance(conv, QuantizedTensor) else conv
        report.errors[name] = _relative_error(ref, approx.astype(_dtypes.fp64, copy=False),
                                              metric)
        report.nbytes[name] = conv.nbytes
    passing = [n for n in results if report.errors[n] <= tolerance]
    if not passing:
        return x, report
    best = min(passing, key=lambda n: (report.nbytes[n], report.errors[n]))
    report.chosen, report.within_tolerance = best, True
    return results[best], report


__all__ = ["QuantizedTensor", "PrecisionReport", "quantize", "optimize_precision"]
