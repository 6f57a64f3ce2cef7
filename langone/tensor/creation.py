"""Making tensors: ``tensor``, ``asarray``, ``zeros``, ``arange``, ``from_numpy``, ...

Storage comes from the memory pool, except for :func:`from_numpy`,
:func:`from_dlpack` and :func:`asarray` without a copy, which share the
caller's memory. Default types follow numpy: Python floats give fp64 and ints
int64 (pass ``dtype="fp32"`` for single precision).

Example:
    >>> import langone as lo
    >>> lo.zeros((2, 2), dtype="fp16")
    tensor([[0., 0.],
            [0., 0.]], dtype=fp16, device='cpu')
    >>> lo.arange(0, 1, 0.25).tolist()
    [0.0, 0.25, 0.5, 0.75]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dtypes as _dtypes
from ..dtypes import DType
from ._backend import CPU, array_module, empty_buffer, normalize_shape, transfer
from ._operands import host_array
from .devices import Device, device as parse_device
from .tensor import Tensor, dtype_of, wrap

_DEFAULT_FLOAT = _dtypes.fp64


def _dt(dtype: Any, default: DType = _DEFAULT_FLOAT) -> DType:
    return default if dtype is None else _dtypes.dtype(dtype)


def _dev(device: Any) -> Device:
    return CPU if device is None else parse_device(device)


# --- from existing data -----------------------------------------------------------------

def asarray(obj: Any, /, *, dtype: Any = None, device: Any = None,
            copy: bool | None = None) -> Tensor:
    """A Tensor from any array-like, sharing memory when possible (Array API ``asarray``).

    ``obj`` may be a Tensor, a numpy array or scalar, a Python scalar or (nested)
    sequence, or an object with ``__dlpack__`` or ``__array__`` (torch, cupy,
    jax...). ``copy=None`` shares memory when dtype and device allow and copies
    into the pool otherwise; ``copy=True`` always copies into the pool;
    ``copy=False`` never copies and raises ValueError when a copy is needed.

    Example:
        >>> import numpy as np, langone as lo
        >>> a = np.zeros(3, np.float32)
        >>> t = lo.asarray(a)
        >>> t[0] = 5
        >>> float(a[0])
        5.0

    Raises:
        UnsupportedPrecision: the data's dtype (e.g. complex) is not a LangOne dtype.
        DeviceNotFound: ``device`` does not exist here.
    """
    dt = None if dtype is None else _dtypes.dtype(dtype)
    if isinstance(obj, Tensor):
        return _from_tensor(obj, dt, obj.device if device is None else parse_device(device),
                            copy)
    dev = _dev(device)
    src_dev, arr, fresh = _foreign(obj, dt)
    src_dt = dtype_of(arr.dtype)
    target = src_dt if dt is None else dt
    needs_copy = fresh or target is not src_dt or src_dev != dev
    if copy is False and needs_copy:
        raise ValueError(f"asarray(copy=False): a {type(obj).__name__} of {src_dt.name} on "
                         f"{src_dev} cannot become a {target.name} tensor on {dev} without "
                         f"a copy; pass copy=None to allow one")
    if not (copy or needs_copy):
        return wrap(arr, src_dt, src_dev)
    if src_dev != dev:
        arr, src_dev = transfer(arr, src_dev, dev), dev
        if target is src_dt:
            return wrap(arr, src_dt, dev)
    res = empty_buffer(arr.shape, target.numpy, dev)
    res[...] = arr
    return wrap(res, target, dev)


def _from_tensor(t: Tensor, dt: DType | None, dev: Device, copy: bool | None) -> Tensor:
    changes = dev != t.device or (dt is not None and dt is not t.dtype)
    if copy is False and changes:
        raise ValueError(f"asarray(copy=False): converting a {t.dtype.name} tensor on "
                         f"{t.device} to {dt.name if dt else t.dtype.name} on {dev} needs "
                         f"a copy; pass copy=None to allow one")
    return t.to(dev, dt, copy=bool(copy))


def _foreign(obj: Any, dt: DType | None) -> tuple[Device, Any, bool]:
    """(device, array, whether the array is a fresh temporary) for non-Tensor input."""
    if isinstance(obj, np.ndarray):
        return CPU, obj, False
    dl_device = getattr(obj, "__dlpack_device__", None)
    if dl_device is not None and dl_device()[0] == 2:            # kDLCUDA
        cp = array_module(parse_device(f"cuda:{dl_device()[1]}"))
        return parse_device(f"cuda:{dl_device()[1]}"), cp.from_dlpack(obj), False
    if hasattr(obj, "__cuda_array_interface__"):
        import cupy
        return parse_device(f"cuda:{cupy.cuda.Device().id}"), cupy.asarray(obj), False
    if isinstance(obj, (list, tuple, bool, int, float, np.generic)):
        return CPU, np.asarray(obj, dtype=None if dt is None else dt.numpy), True
    return CPU, host_array(obj), False


def tensor(data: Any, dtype: Any = None, device: Any = None, copy: bool | None = None) -> Tensor:
    """A new tensor holding a copy of ``data`` in pooled memory (like ``numpy.array``).

    ``copy=False`` shares memory instead, and raises ValueError when that is
    impossible (see :func:`asarray`).

    Example:
        >>> import langone as lo
        >>> lo.tensor([1.0, 2.0, 3.0], dtype="fp32")
        tensor([1., 2., 3.], dtype=fp32, device='cpu')
    """
    return asarray(data, dtype=dtype, device=device, copy=False if copy is False else True)


def from_numpy(arr: np.ndarray) -> Tensor:
    """A CPU tensor sharing ``arr``'s memory (no copy; storage is the array's, not the pool's).

    Example:
        >>> import numpy as np, langone as lo
        >>> a = np.arange(3.0)
        >>> lo.from_numpy(a)[1] = 7
        >>> a.tolist()
        [0.0, 7.0, 2.0]

    Raises:
        TypeError: ``arr`` is not a numpy array.
        UnsupportedPrecision: its dtype is not a LangOne dtype.
    """
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"from_numpy needs a numpy.ndarray, got {type(arr).__name__}; "
                        f"use lo.asarray for other data")
    return wrap(arr, dtype_of(arr.dtype), CPU)


def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> Tensor:
    """A tensor sharing memory with any DLPack producer (numpy, torch, cupy, jax...).

    bf16 data works too (numpy's own DLPack import refuses it).

    Example:
        >>> import numpy as np, langone as lo
        >>> lo.from_dlpack(np.arange(3)).tolist()
        [0, 1, 2]
    """
    if isinstance(x, Tensor):
        return asarray(x, device=device, copy=copy)
    if not hasattr(x, "__dlpack__"):
        raise TypeError(f"from_dlpack needs an object with __dlpack__, got "
                        f"{type(x).__name__}; use lo.asarray for other data")
    kind, index = x.__dlpack_device__()
    if kind == 2:
        cp = array_module(parse_device(f"cuda:{index}"))
        arr, src = cp.from_dlpack(x), parse_device(f"cuda:{index}")
    else:
        from ._dlpack import to_numpy
        arr, src = to_numpy(x), CPU
    return asarray(wrap(arr, None, src), device=device, copy=copy)


# --- from shapes ----------------------------------------------------------------------------------

def empty(shape: Any, dtype: Any = None, *, device: Any = None) -> Tensor:
    """An uninitialized tensor of ``shape`` from the pool (fp64 unless ``dtype`` is given).

    Example:
        >>> import langone as lo
        >>> lo.empty((2, 3), dtype="fp32").shape
        (2, 3)
    """
    dt = _DEFAULT_FLOAT if dtype is None else _dtypes.dtype(dtype)
    dev = CPU if device is None else parse_device(device)
    return wrap(empty_buffer(normalize_shape(shape), dt.numpy, dev), dt, dev)


def full(shape: Any, fill_value: Any, dtype: Any = None, *, device: Any = None) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value`` (dtype inferred from it if None).

    Example:
        >>> import langone as lo
        >>> lo.full(2, 7).tolist(), lo.full(2, 7).dtype
        ([7, 7], DType('int64'))
    """
    if dtype is None:
        dtype = fill_value.dtype if isinstance(fill_value, Tensor) else \
            _dtypes.result_type(fill_value)
    t = empty(shape, dtype=dtype, device=device)
    t._data.fill(fill_value.item() if isinstance(fill_value, Tensor) else fill_value)
    return t


def zeros(shape: Any, dtype: Any = None, *, device: Any = None) -> Tensor:
    """A tensor of ``shape`` filled with zeros (fp64 unless ``dtype`` is given)."""
    t = empty(shape, dtype=dtype, device=device)
    t._data.fill(0)
    return t


def ones(shape: Any, dtype: Any = None, *, device: Any = None) -> Tensor:
    """A tensor of ``shape`` filled with ones (fp64 unless ``dtype`` is given)."""
    t = empty(shape, dtype=dtype, device=device)
    t._data.fill(1)
    return t


def _like(x: Any, dtype: Any, device: Any) -> dict:
    return {"dtype": x.dtype if dtype is None else dtype,
            "device": x.device if device is None and isinstance(x, Tensor) else device}


def empty_like(x: Any, /, dtype: Any = None, *, device: Any = None) -> Tensor:
    """An uninitialized tensor with ``x``'s shape, dtype and device (unless overridden)."""
    return empty(x.shape, **_like(x, dtype, device))


def zeros_like(x: Any, /, dtype: Any = None, *, device: Any = None) -> Tensor:
    """Zeros with ``x``'s shape, dtype and device (unless overridden)."""
    return zeros(x.shape, **_like(x, dtype, device))


def ones_like(x: Any, /, dtype: Any = None, *, device: Any = None) -> Tensor:
    """Ones with ``x``'s shape, dtype and device (unless overridden)."""
    return ones(x.shape, **_like(x, dtype, device))


def full_like(x: Any, /, fill_value: Any, dtype: Any = None, *, device: Any = None) -> Tensor:
    """``fill_value`` with ``x``'s shape, dtype and device (unless overridden)."""
    return full(x.shape, fill_value, **_like(x, dtype, device))


# --- ranges and matrices ---------------------------------------------------------------------------------

def _pooled(values: np.ndarray, dt: DType, dev: Device) -> Tensor:
    """Copy numpy-computed ``values`` into a pooled tensor of ``dt`` on ``dev``."""
    if dev.type != "cpu":
        values = transfer(values, CPU, dev)
    res = empty_buffer(values.shape, dt.numpy, dev)
    res[...] = values
    return wrap(res, dt, dev)


def arange(start: Any, /, stop: Any = None, step: Any = 1, *, dtype: Any = None,
           device: Any = None) -> Tensor:
    """Evenly spaced values in ``[start, stop)`` (``arange(n)`` counts from 0).

    Example:
        >>> import langone as lo
        >>> lo.arange(5).tolist(), lo.arange(5, 0, -2).tolist()
        ([0, 1, 2, 3, 4], [5, 3, 1])
    """
    values = np.arange(start, stop, step) if stop is not None else np.arange(start, step=step)
    return _pooled(values, _dt(dtype, dtype_of(values.dtype)), _dev(device))


def linspace(start: float, stop: float, /, num: int, *, dtype: Any = None, device: Any = None,
             endpoint: bool = True) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop`` (included unless not endpoint).

    Example:
        >>> import langone as lo
        >>> lo.linspace(0, 1, 3).tolist()
        [0.0, 0.5, 1.0]
    """
    values = np.linspace(start, stop, num, endpoint=endpoint)
    return _pooled(values, _dt(dtype), _dev(device))


def eye(n_rows: int, n_cols: int | None = None, /, *, k: int = 0, dtype: Any = None,
        device: Any = None) -> Tensor:
    """A matrix with ones on the ``k``-th diagonal and zeros elsewhere.

    Example:
        >>> import langone as lo
        >>> lo.eye(2, dtype="int8").tolist()
        [[1, 0], [0, 1]]
    """
    n_cols = n_rows if n_cols is None else n_cols
    t = zeros((n_rows, n_cols), dtype=dtype, device=device)
    lo_, hi = max(0, -k), min(n_rows, n_cols - k)
    if hi > lo_:
        xp = array_module(t.device)
        rows = xp.arange(lo_, hi)
        t._data[rows, rows + k] = 1
    return t


def _triangle(x: Tensor, k: int, lower: bool) -> Tensor:
    xp = array_module(x.device)
    n, m = x.shape[-2:]
    keep = xp.tri(n, m, k, dtype=bool) if lower else ~xp.tri(n, m, k - 1, dtype=bool)
    res = empty_buffer(x.shape, x.dtype.numpy, x.device)
    res.fill(0)
    xp.copyto(res, x._data, where=keep)
    return wrap(res, x.dtype, x.device)


def tril(x: Tensor, /, *, k: int = 0) -> Tensor:
    """The lower triangle (on and below diagonal ``k``) of the last two dimensions."""
    return _triangle(x, k, lower=True)


def triu(x: Tensor, /, *, k: int = 0) -> Tensor:
    """The upper triangle (on and above diagonal ``k``) of the last two dimensions."""
    return _triangle(x, k, lower=False)


def meshgrid(*arrays: Tensor, indexing: str = "xy") -> list[Tensor]:
    """Coordinate grids from 1-D tensors (``indexing="xy"`` Cartesian, ``"ij"`` matrix)."""
    from ._manipulation import copy
    from ._operands import device_of
    dev = device_of(*arrays)
    grids = array_module(dev).meshgrid(*(a._data for a in arrays), indexing=indexing,
                                       copy=False)
    return [copy(wrap(g, a.dtype, dev)) for g, a in zip(grids, arrays)]


__all__ = ["tensor", "asarray", "from_numpy", "from_dlpack", "empty", "zeros", "ones", "full",
           "empty_like", "zeros_like", "ones_like", "full_like", "arange", "linspace", "eye",
           "tril", "triu", "meshgrid"]
