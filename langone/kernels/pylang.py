"""The kernel language's ``lo`` names with their plain-Python meanings.

The ``python`` backend (:mod:`langone.kernels.backends.python_ref`) binds a
kernel's ``lo`` to this module and runs the kernel's own function. Here
``lo.grid`` is a plain loop, ``lo.atomic_add`` and the other atomics plain updates, math is numpy's
on numpy scalars, and casts convert like numpy's ``astype``. Halves follow the
language's declared exception 3: fp16/bf16 values are held as fp32 scalars.

Example:
    >>> from langone.kernels import pylang
    >>> pylang.fp16(1.0009765625 + 2**-12)      # rounded to fp16, held in fp32
    np.float32(1.0009766)
"""

from __future__ import annotations

import math
import re
import threading
from typing import Any

import numpy as np

from .. import dtypes
from ..dtypes import DType
from . import language

inf = math.inf
nan = math.nan
pi = math.pi


def _is_half(dt: np.dtype) -> bool:
    return dt.kind == "f" and dt.itemsize == 2 or dt.name == "bfloat16"


def hold(v: Any) -> Any:
    """A value as the language computes with it: halves become fp32."""
    dt = getattr(v, "dtype", None)
    if dt is not None and _is_half(dt):
        return v.astype(np.float32) if isinstance(v, np.ndarray) else np.float32(v)
    return v


def hold_array(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32) if _is_half(a.dtype) else a


def store_convert(v: Any, dt: np.dtype) -> Any:
    """``v`` converted for a store into an array of ``dt``: numpy's unsafe
    ``astype`` (exception 5), which rounds halves to nearest-even."""
    a = np.asarray(v)
    with np.errstate(all="ignore"):
        if a.dtype.kind == "f" and dt.kind in "iu" and a.ndim:
            return _float_to_int(a.astype(np.float64), dt)
        return a.astype(dt)


def _float_to_int(a: np.ndarray, dt: np.dtype) -> np.ndarray:
    """x86-64's conversion (passes/lower_casts), element by element as numpy's scalars
    do it: numpy's contiguous-array loops may use SIMD conversions that give other
    results out of range (5e9 -> uint32 is 0 there, 705032704 for a scalar)."""
    def signed(v, bits):
        ok = (v >= -2.0 ** (bits - 1)) & (v < 2.0 ** (bits - 1))    # NaN fails both
        return np.where(ok, np.trunc(np.where(ok, v, 0.0)), -2.0 ** (bits - 1)).astype(np.int64)
    if dt == np.uint64:
        top = np.uint64(2 ** 63)
        high = signed(a - 2.0 ** 63, 64).astype(np.uint64) ^ top
        return np.where(a >= 2.0 ** 63, high, signed(a, 64).astype(np.uint64))
    wide = 64 if dt.itemsize == 8 or dt == np.uint32 else 32
    return signed(a, wide).astype(dt)


def convert(v: Any, t: DType, hold_halves: bool = True, *, hold: bool | None = None) -> Any:
    """``v`` as a value of logical type ``t`` (a numpy scalar, or an array)."""
    keep = hold_halves if hold is None else hold
    r = store_convert(v, t.numpy)
    if r.ndim == 0:
        r = r[()]
    return globals()["hold"](r) if keep else r


class Array:
    """A tensor argument as the kernel sees it: numpy indexing (negative
    indices count from the end; out of range is an IndexError naming the
    tensor), half loads as fp32, stores converted like ``astype``."""

    __slots__ = ("a", "name", "half", "shape", "ndim", "size", "shadow", "dtype")

    def __init__(self, a: np.ndarray, name: str, dtype: DType):
        self.a = a
        self.name = name
        self.half = _is_half(a.dtype)
        self.shape = a.shape
        self.ndim = a.ndim
        self.size = a.size
        self.dtype = a.dtype
        self.shadow = None          # fp32 sums of a half atomic target, during a grid

    def __getitem__(self, idx):
        try:
            v = self.a[idx]
        except (IndexError, OverflowError) as exc:    # a uint64 index past int64's range
            raise self._index_error(exc, idx) from None
        return np.float32(v) if self.half else v

    def __setitem__(self, idx, v) -> None:
        try:
            self.a[idx] = store_convert(v, self.a.dtype)
        except (IndexError, OverflowError) as exc:
            raise self._index_error(exc, idx) from None

    def _index_error(self, exc: Exception, idx) -> IndexError:
        if isinstance(exc, OverflowError):
            return IndexError(f"index {idx} is out of bounds for tensor {self.name!r} "
                              f"with shape {self.shape}")
        # numpy: "index 10 is out of bounds for axis 0 with size 10": name the tensor.
        msg = re.sub(r"(for axis \d+) with", rf"\1 of {self.name!r} with", str(exc))
        return IndexError(msg if msg != str(exc) else f"{exc} (tensor {self.name!r})")

    def __len__(self) -> int:
        return len(self.a)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        # np.zeros_like(x) in a kernel run as plain Python
        return self.a if dtype is None else self.a.astype(dtype)


class _Running(threading.local):
    """Per thread: how many grids are running (one: grids do not nest) and the half
    atomic targets shadowed in them (their fp32 shadows close with the grid)."""

    grids = 0
    shadowed: list

    def __init__(self):
        self.shadowed = []


_RUN = _Running()


def grid(*extents: int):
    """``lo.grid`` as plain nested loops; a half tensor that an atomic
    targets inside is updated in fp32 and rounded once when the grid ends (exception
    3: every backend sums it so, through an fp32 shadow)."""
    _RUN.grids += 1
    try:
        yield from language.grid(*extents)
    finally:
        _RUN.grids -= 1
        while _RUN.shadowed:
            t = _RUN.shadowed.pop()
            t.a[...] = store_convert(t.shadow, t.a.dtype)
            t.shadow = None


def _atomic(op: str, tensor: Array, index, value, compare=None):
    """``old = tensor[index]``, the element updated by ``op``, ``old`` returned:
    iterations run one at a time here. Inside a grid a half target is updated in
    its fp32 shadow (see :func:`grid`), so its old values are fp32 there."""
    if isinstance(tensor, Array) and tensor.half:
        value = np.float32(value)          # a half's atomics work in fp32, also outside grids
    if not (isinstance(tensor, Array) and tensor.half and _RUN.grids):
        old = tensor[index]
        if op != "cas" or old == compare:
            tensor[index] = language.atomic_update(op, old, value)
        return old
    if tensor.shadow is None:
        tensor.shadow = tensor.a.astype(np.float32)
        _RUN.shadowed.append(tensor)
    try:
        old = tensor.shadow[index]
        if op != "cas" or old == compare:
            tensor.shadow[index] = np.float32(language.atomic_update(op, old, value))
    except (IndexError, OverflowError) as exc:
        raise tensor._index_error(exc, index) from None
    return old


def atomic_add(tensor: Array, index, value):
    return _atomic("add", tensor, index, value)


def atomic_sub(tensor: Array, index, value):
    return _atomic("sub", tensor, index, value)


def atomic_max(tensor: Array, index, value):
    return _atomic("max", tensor, index, value)


def atomic_min(tensor: Array, index, value):
    return _atomic("min", tensor, index, value)


def atomic_exchange(tensor: Array, index, value):
    return _atomic("exchange", tensor, index, value)


def atomic_cas(tensor: Array, index, compare, value):
    return _atomic("cas", tensor, index, value, compare)


def _unary(np_fn, floats: bool = False):
    """``np_fn`` on numpy scalars; with ``floats``, integer arguments first
    become the float numpy computes them in, held as the language holds it
    (``lo.sin`` of an int8 is an fp16 value, computed in fp32: exception 3)."""
    def fn(x):
        return hold(np_fn(hold(_float_of(x)) if floats else x))
    fn.__name__ = np_fn.__name__
    return fn


exp, log, sqrt, sin, cos, tanh, floor, ceil = (
    _unary(f, floats=True) for f in (np.exp, np.log, np.sqrt, np.sin, np.cos, np.tanh,
                                     np.floor, np.ceil))
isnan, isinf, isfinite, sign, rint = map(_unary, (np.isnan, np.isinf, np.isfinite, np.sign,
                                                  np.rint))
log1p, expm1 = _unary(np.log1p, floats=True), _unary(np.expm1, floats=True)


def _float_binary(np_fn):
    """``np_fn`` of two values in the float type numpy computes it in for their
    promoted type (Python numbers alone: fp64), halves computed in fp32."""
    def fn(a, b):
        if isinstance(a, (np.ndarray, np.generic)) or isinstance(b, (np.ndarray, np.generic)):
            ft = np.result_type(a, b)                  # NEP 50: Python numbers are weak
            ft = ft if ft.kind == "f" else np.result_type(ft, np.float16)
            ft = np.dtype(np.float32) if ft.itemsize == 2 else ft
        else:
            ft = np.dtype(np.float64)
        return np_fn(np.asarray(a).astype(ft), np.asarray(b).astype(ft))
    fn.__name__ = np_fn.__name__
    return fn


atan2, hypot, copysign = map(_float_binary, (np.arctan2, np.hypot, np.copysign))


def fmod(a, b):
    """numpy's ``fmod``: C's remainder, the dividend's sign (integers: ``x % 0`` is 0)."""
    with np.errstate(divide="ignore"):
        return hold(np.fmod(a, b))


def pow(a, b):  # noqa: A001  (lo.pow)
    """numpy's ``power`` (integers to negative integer powers raise ValueError)."""
    return hold(np.power(a, b))


def real(z):
    return hold(np.real(z))


def imag(z):
    return hold(np.imag(z))


def conj(z):
    return hold(np.conj(z))


def clip(x, low, high):
    return hold(np.clip(x, low, high))
abs = _unary(np.abs)   # noqa: A001  (lo.abs)


def minimum(a, b):
    return hold(np.minimum(a, b))


def maximum(a, b):
    return hold(np.maximum(a, b))


def where(c, a, b):
    r = np.where(c, a, b)
    return hold(r[()] if r.ndim == 0 else r)


def _float_of(x):
    """``x`` as the float type numpy's ufuncs compute it in (ints -> the smallest
    float holding them safely, Python numbers -> fp64)."""
    if not isinstance(x, (np.ndarray, np.generic)):
        return np.complex128(x) if isinstance(x, complex) else np.float64(x)  # exp(2): fp64
    dt = x.dtype
    if dt.kind in "fc":
        return x
    ft = np.result_type(dt, np.float16)
    return np.asarray(x).astype(ft)[()] if not isinstance(x, np.ndarray) else x.astype(ft)


def sigmoid(x):
    x = hold(_float_of(x))
    one = np.ones((), np.result_type(x))[()]
    return hold(one / (one + np.exp(-x)))


def erf(x):
    x = hold(_float_of(x))
    dt = np.result_type(x)
    arr = np.asarray(x, dtype=np.float64)
    out = np.vectorize(math.erf, otypes=[np.float64])(arr) if arr.ndim else \
        np.float64(math.erf(float(arr)))
    return hold(np.asarray(out).astype(dt)[()] if not isinstance(x, np.ndarray)
                else out.astype(dt))


def _cast(t: DType):
    def fn(v):
        return convert(v, t)
    fn.__name__ = t.name
    fn.dtype = t.numpy          # still a dtype where one is wanted: lo.zeros(n, lo.int8)
    return fn


_CASTS = {d.name: _cast(d) for d in dtypes.ALL_DTYPES}


def replacement(entry: tuple, obj: Any) -> Any:
    """The plain-Python meaning of a language object found by the frontend's
    intrinsic table (``("intrinsic", "exp")``, ``("cast", fp16)``...)."""
    kind, payload = entry
    if kind in ("intrinsic", "composite"):
        return globals().get(payload)
    if kind == "where":
        return where
    if kind == "grid":
        return grid
    if kind == "atomic":
        return globals()[f"atomic_{payload}"]
    if kind == "cast" and isinstance(obj, DType):
        return _CASTS[payload.name]
    return None


def __getattr__(name: str) -> Any:
    cast = _CASTS.get(name)
    if cast is None:
        try:
            d = dtypes.dtype(name)
        except Exception:
            d = None
        if isinstance(d, DType):
            cast = _CASTS.get(d.name)
    if cast is not None:
        return cast
    import langone
    return getattr(langone, name)
