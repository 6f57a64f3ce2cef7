"""The :class:`Tensor`: a device-placed, numpy-like array over pooled memory.

A Tensor is a thin shell around an array of its device's array module (a numpy
array on the CPU, a cupy array on CUDA) plus its LangOne :class:`DType` and
:class:`Device`. Views (basic indexing, reshape, transpose...) are Tensors
around views of the same array, so they share storage; the pool block is kept
alive by the arrays' ``.base`` chain and returns to the pool when the last view
dies. Operators and methods delegate to the namespace functions
(``_elementwise``, ``_reductions``, ``_linalg``, ``_manipulation``,
``_searching``), which allocate their results from the pool.

Example:
    >>> import langone as lo
    >>> x = lo.arange(6, dtype="fp32").reshape(2, 3)
    >>> x[:, 1] += 10
    >>> x
    tensor([[ 0., 11.,  2.],
            [ 3., 14.,  5.]], dtype=fp32, device='cpu')
    >>> (x.T @ x).shape, x.sum(axis=0).dtype
    ((3, 3), DType('fp32'))
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .. import dtypes as _dtypes
from ..dtypes import DType
from ..errors import InvalidOperation
from ._backend import CPU, transfer
from ._errors import DeviceMismatch, ShapeMismatch, device_mismatch, shape_mismatch
from .devices import Device, device as parse_device

_new = object.__new__
_DTYPE_OF: dict[np.dtype, DType] = {}
_API_VERSIONS = ("2021.12", "2022.12", "2023.12", "2024.12")
_DL_CPU, _DL_CUDA = 1, 2          # DLDeviceType codes from dlpack.h


def dtype_of(npdt: np.dtype) -> DType:
    """The LangOne DType of a numpy dtype (cached: this is on every op's path)."""
    try:
        return _DTYPE_OF[npdt]
    except KeyError:
        found = _DTYPE_OF[npdt] = _dtypes.dtype(npdt)
        return found


def wrap(arr, dtype: DType | None = None, dev: Device = CPU) -> "Tensor":
    """Make a Tensor around ``arr`` (no copy). Internal fast constructor."""
    t = _new(Tensor)
    t._data = arr
    t._dtype = dtype_of(arr.dtype) if dtype is None else dtype
    t._device = dev
    return t


class Tensor:
    """An n-dimensional array on a device; see :func:`langone.tensor` to make one.

    ``Tensor(data, dtype=None, device=None, copy=None)`` is the same as
    :func:`langone.asarray`. Indexing with ints, slices, ``...`` and ``None``
    gives views; integer-array and boolean-mask indexing give copies.

    Example:
        >>> import langone as lo
        >>> t = lo.Tensor([[1, 2], [3, 4]], dtype="int8")
        >>> t.shape, t.dtype, t.strides, t[:, 0].tolist()
        ((2, 2), DType('int8'), (2, 1), [1, 3])
    """

    __slots__ = ("_data", "_dtype", "_device", "__weakref__")
    __array_priority__ = 100.0
    __hash__ = None                      # elementwise ==, like numpy arrays

    def __new__(cls, data: Any, dtype: Any = None, device: Any = None, copy: bool | None = None):
        from .creation import asarray
        return asarray(data, dtype=dtype, device=device, copy=copy)

    # --- attributes ------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> DType:
        return self._dtype

    @property
    def device(self) -> Device:
        return self._device

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    @property
    def itemsize(self) -> int:
        return self._dtype.itemsize

    @property
    def strides(self) -> tuple[int, ...]:
        """Bytes to step in each dimension (numpy's convention, not elements)."""
        return self._data.strides

    @property
    def is_contiguous(self) -> bool:
        """Whether the elements are laid out densely in C (row-major) order."""
        return bool(self._data.flags.c_contiguous)

    @property
    def T(self) -> "Tensor":
        """All dimensions reversed (a view); for 2-D tensors the transpose."""
        return wrap(self._data.T, self._dtype, self._device)

    @property
    def mT(self) -> "Tensor":
        """The last two dimensions swapped (a view): a stack of transposed matrices."""
        if self._data.ndim < 2:
            raise ShapeMismatch(f"mT needs at least 2 dimensions, the tensor has shape "
                                f"{self.shape}; use expand_dims first")
        return wrap(self._data.swapaxes(-1, -2), self._dtype, self._device)

    def data_ptr(self) -> int:
        """Address of the first element (what Triton and ctypes consume)."""
        if self._device.type == "cpu":
            return self._data.__array_interface__["data"][0]
        return self._data.data.ptr

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor; use .item() to get its value")
        return self._data.shape[0]

    def __contains__(self, value: Any) -> bool:
        return bool(_ew.equal(self, value).any())

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor; use .item() to get its value")
        return (self[i] for i in range(self._data.shape[0]))

    # --- indexing ----------------------------------------------------------------------
    def __getitem__(self, key: Any) -> "Tensor":
        key = self._index_key(key)
        arr = self._data
        res = arr[key]
        if isinstance(res, np.generic):      # numpy gives scalars for full integer keys;
            res = arr[key + (...,) if type(key) is tuple else (key, ...)]  # keep a 0-d view
        return wrap(res, self._dtype, self._device)

    def __setitem__(self, key: Any, value: Any) -> None:
        key = self._index_key(key)
        value = _ops.operand_array(value, self._device)
        try:
            self._data[key] = value
        except ValueError as exc:
            msg = str(exc)
            if "read-only" in msg:
                raise InvalidOperation(
                    "cannot assign to a read-only tensor (it views a read-only numpy "
                    "array or a broadcast_to result); make a writable one with .copy()"
                ) from None
            if "broadcast" in msg:
                raise shape_mismatch(np.shape(value), self._data[key].shape,
                                     what="assigned (value into target)") from None
            raise

    def _index_key(self, key: Any) -> Any:
        if isinstance(key, Tensor):
            return self._index_array(key)
        if type(key) is tuple:
            return tuple(self._index_array(k) if isinstance(k, Tensor) else k for k in key)
        return key

    def _index_array(self, index: "Tensor"):
        if index._device != self._device:
            raise device_mismatch(self._device, index._device, what="the tensor and its index")
        return index._data

    # --- views ---------------------------------------------------------------------------
    def reshape(self, *shape: Any, order: str = "C", copy: bool | None = None) -> "Tensor":
        """The same elements in a new shape: a view when the strides allow, else a copy."""
        if order != "C":
            raise ValueError(f"only order='C' is supported, got order={order!r}")
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = shape[0]
        return _man.reshape(self, shape, copy=copy)

    def transpose(self, *axes: Any) -> "Tensor":
        """Permute the dimensions (a view); no arguments reverses them, like numpy."""
        if len(axes) == 1 and not isinstance(axes[0], int):
            axes = axes[0]
        if not axes:
            return self.T
        return _man.permute_dims(self, tuple(axes))

    def permute_dims(self, axes: tuple[int, ...]) -> "Tensor":
        return _man.permute_dims(self, axes)

    def swapaxes(self, axis1: int, axis2: int) -> "Tensor":
        return wrap(self._data.swapaxes(axis1, axis2), self._dtype, self._device)

    def squeeze(self, axis: int | tuple[int, ...] | None = None) -> "Tensor":
        return _man.squeeze(self, axis)

    def expand_dims(self, axis: int | tuple[int, ...] = 0) -> "Tensor":
        return _man.expand_dims(self, axis)

    def flatten(self) -> "Tensor":
        """1-D view of the elements when possible, else a copy (torch's flatten)."""
        return _man.reshape(self, (-1,))

    ravel = flatten

    def broadcast_to(self, shape: tuple[int, ...]) -> "Tensor":
        return _man.broadcast_to(self, shape)

    def view(self, dtype: Any) -> "Tensor":
        """Reinterpret the bytes as another dtype (e.g. bf16 as uint16), no copy."""
        dt = _dtypes.dtype(dtype)
        try:
            return wrap(self._data.view(dt.numpy), dt, self._device)
        except ValueError as exc:
            raise ShapeMismatch(f"cannot view a {self._dtype.name} tensor of shape "
                                f"{self.shape} as {dt.name}: {exc}") from None

    # --- conversions ---------------------------------------------------------------------
    def astype(self, dtype: Any, copy: bool = True) -> "Tensor":
        """This tensor converted to ``dtype`` (a new pooled tensor unless ``copy=False``
        and the dtype already matches)."""
        return _man.astype(self, dtype, copy=copy)

    def copy(self) -> "Tensor":
        """A C-contiguous copy in a new pool block."""
        return _man.copy(self)

    __copy__ = copy

    def __deepcopy__(self, memo: dict) -> "Tensor":
        return self.copy()

    def to(self, device: Any = None, dtype: Any = None, *, copy: bool = False) -> "Tensor":
        """Move and/or convert: ``x.to("cuda")``, ``x.to("fp16")``, ``x.to("cpu", "bf16")``.

        Returns ``self`` when nothing changes, unless ``copy=True``.

        Raises:
            DeviceNotFound: the target device does not exist on this machine.
        """
        device, dtype = _split_device_dtype(device, dtype)
        dev = self._device if device is None else parse_device(device)
        out, copied = self, False
        if dev != self._device:
            out = wrap(transfer(self._data, self._device, dev), self._dtype, dev)
            copied = True
        if dtype is not None and _dtypes.dtype(dtype) is not out._dtype:
            out, copied = out.astype(dtype), True
        return out.copy() if copy and not copied else out

    def to_device(self, device: Any, /, *, stream: Any = None) -> "Tensor":
        """Array API spelling of :meth:`to` for devices."""
        return self.to(device)

    def cpu(self) -> "Tensor":
        return self.to(CPU)

    def cuda(self, index: int = 0) -> "Tensor":
        return self.to(f"cuda:{index}")

    def numpy(self) -> np.ndarray:
        """The data as a numpy array sharing memory (CPU tensors only)."""
        if self._device.type != "cpu":
            raise DeviceMismatch(f"tensor is on {self._device}; numpy arrays live on the "
                                 f"CPU: use x.cpu().numpy() (a device-to-host copy)")
        return self._data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        arr = self.numpy()
        if dtype is not None and np.dtype(dtype) != arr.dtype:
            if copy is False:
                raise ValueError(f"converting {self._dtype.name} to {np.dtype(dtype)} "
                                 f"needs a copy, but copy=False was requested")
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def tolist(self) -> Any:
        return _host(self).tolist()

    def item(self) -> bool | int | float:
        if self._data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has "
                             f"shape {self.shape} ({self._data.size} elements)")
        return _host(self).item()

    def __bool__(self) -> bool:
        return bool(self._scalar())

    def __int__(self) -> int:
        return int(self._scalar())

    def __float__(self) -> float:
        return float(self._scalar())

    def __complex__(self) -> complex:
        return complex(self._scalar())

    def __index__(self) -> int:
        if not (self._dtype.is_integer or self._dtype.is_bool) or self._data.ndim:
            raise TypeError(f"only 0-d integer tensors can be used as an index, this "
                            f"one is {self._dtype.name} with shape {self.shape}")
        return operator.index(self._data.item())

    def _scalar(self):
        if self._data.size != 1:
            raise ValueError(f"the truth value / number of a tensor with {self._data.size} "
                             f"elements (shape {self.shape}) is ambiguous; use .any(), "
                             f".all() or index one element")
        return self._data.item()

    # --- interchange protocols -----------------------------------------------------------------
    def __dlpack__(self, *, stream: Any = None, max_version: tuple[int, int] | None = None,
                   dl_device: tuple[int, int] | None = None, copy: bool | None = None):
        return _dlpack.export(self, stream=stream, max_version=max_version,
                              dl_device=dl_device, copy=copy)

    def __dlpack_device__(self) -> tuple[int, int]:
        if self._device.type == "cpu":
            return (_DL_CPU, 0)
        return (_DL_CUDA, self._device.index)

    def __array_namespace__(self, *, api_version: str | None = None):
        if api_version is not None and api_version not in _API_VERSIONS:
            raise ValueError(f"unsupported Array API version {api_version!r}; LangOne "
                             f"implements {', '.join(_API_VERSIONS)}")
        import langone
        return langone

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any):
        return _ew.array_ufunc(ufunc, method, inputs, kwargs)

    def __reduce__(self):
        return (_rebuild, (_host(self), self._dtype.name, str(self._device)))

    # --- printing --------------------------------------------------------------------------------
    def __repr__(self) -> str:
        arr = _host(self)
        if self._dtype is _dtypes.bf16:
            arr = arr.astype(np.float32)   # ml_dtypes prints 1.0 as "1"; show floats as floats
        body = np.array2string(arr, separator=", ", prefix="tensor(")
        shape = f", shape={self.shape}" if arr.size > np.get_printoptions()["threshold"] else ""
        return f"tensor({body}{shape}, dtype={self._dtype.name}, device='{self._device}')"

    def __format__(self, spec: str) -> str:
        if spec and self._data.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    # --- arithmetic, comparison, bitwise operators -----------------------------------------------
    def __add__(self, o): return _ew.binary_op("add", self, o)
    def __radd__(self, o): return _ew.binary_op("add", o, self)
    def __iadd__(self, o): return _ew.inplace_op("add", self, o)
    def __sub__(self, o): return _ew.binary_op("subtract", self, o)
    def __rsub__(self, o): return _ew.binary_op("subtract", o, self)
    def __isub__(self, o): return _ew.inplace_op("subtract", self, o)
    def __mul__(self, o): return _ew.binary_op("multiply", self, o)
    def __rmul__(self, o): return _ew.binary_op("multiply", o, self)
    def __imul__(self, o): return _ew.inplace_op("multiply", self, o)
    def __truediv__(self, o): return _ew.binary_op("true_divide", self, o)
    def __rtruediv__(self, o): return _ew.binary_op("true_divide", o, self)
    def __itruediv__(self, o): return _ew.inplace_op("true_divide", self, o)
    def __floordiv__(self, o): return _ew.binary_op("floor_divide", self, o)
    def __rfloordiv__(self, o): return _ew.binary_op("floor_divide", o, self)
    def __ifloordiv__(self, o): return _ew.inplace_op("floor_divide", self, o)
    def __mod__(self, o): return _ew.binary_op("remainder", self, o)
    def __rmod__(self, o): return _ew.binary_op("remainder", o, self)
    def __imod__(self, o): return _ew.inplace_op("remainder", self, o)
    def __pow__(self, o): return _ew.binary_op("power", self, o)
    def __rpow__(self, o): return _ew.binary_op("power", o, self)
    def __ipow__(self, o): return _ew.inplace_op("power", self, o)
    def __and__(self, o): return _ew.binary_op("bitwise_and", self, o)
    def __rand__(self, o): return _ew.binary_op("bitwise_and", o, self)
    def __iand__(self, o): return _ew.inplace_op("bitwise_and", self, o)
    def __or__(self, o): return _ew.binary_op("bitwise_or", self, o)
    def __ror__(self, o): return _ew.binary_op("bitwise_or", o, self)
    def __ior__(self, o): return _ew.inplace_op("bitwise_or", self, o)
    def __xor__(self, o): return _ew.binary_op("bitwise_xor", self, o)
    def __rxor__(self, o): return _ew.binary_op("bitwise_xor", o, self)
    def __ixor__(self, o): return _ew.inplace_op("bitwise_xor", self, o)
    def __lshift__(self, o): return _ew.binary_op("left_shift", self, o)
    def __rlshift__(self, o): return _ew.binary_op("left_shift", o, self)
    def __ilshift__(self, o): return _ew.inplace_op("left_shift", self, o)
    def __rshift__(self, o): return _ew.binary_op("right_shift", self, o)
    def __rrshift__(self, o): return _ew.binary_op("right_shift", o, self)
    def __irshift__(self, o): return _ew.inplace_op("right_shift", self, o)
    def __eq__(self, o): return _ew.binary_op("equal", self, o)
    def __ne__(self, o): return _ew.binary_op("not_equal", self, o)
    def __lt__(self, o): return _ew.binary_op("less", self, o)
    def __le__(self, o): return _ew.binary_op("less_equal", self, o)
    def __gt__(self, o): return _ew.binary_op("greater", self, o)
    def __ge__(self, o): return _ew.binary_op("greater_equal", self, o)
    def __neg__(self): return _ew.negative(self)
    def __pos__(self): return _ew.positive(self)
    def __abs__(self): return _ew.abs(self)
    def __invert__(self): return _ew.bitwise_invert(self)

    def __matmul__(self, o): return _linalg.matmul_op(self, o)
    def __rmatmul__(self, o): return _linalg.matmul_op(o, self)
    def __imatmul__(self, o): return _linalg.imatmul(self, o)

    # --- math methods (numpy spellings; the functions are the Array API ones) ----------------------
    def sum(self, axis=None, dtype=None, out=None, keepdims=False):
        return _red.sum(self, axis=axis, dtype=dtype, keepdims=keepdims, out=out)

    def prod(self, axis=None, dtype=None, out=None, keepdims=False):
        return _red.prod(self, axis=axis, dtype=dtype, keepdims=keepdims, out=out)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False):
        return _red.mean(self, axis=axis, dtype=dtype, keepdims=keepdims, out=out)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, correction=None):
        return _red.std(self, axis=axis, correction=ddof if correction is None else correction,
                        keepdims=keepdims, dtype=dtype, out=out)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, correction=None):
        return _red.var(self, axis=axis, correction=ddof if correction is None else correction,
                        keepdims=keepdims, dtype=dtype, out=out)

    def max(self, axis=None, out=None, keepdims=False):
        return _red.max(self, axis=axis, keepdims=keepdims, out=out)

    def min(self, axis=None, out=None, keepdims=False):
        return _red.min(self, axis=axis, keepdims=keepdims, out=out)

    def argmax(self, axis=None, out=None, keepdims=False):
        return _red.argmax(self, axis=axis, keepdims=keepdims, out=out)

    def argmin(self, axis=None, out=None, keepdims=False):
        return _red.argmin(self, axis=axis, keepdims=keepdims, out=out)

    def any(self, axis=None, out=None, keepdims=False):
        return _red.any(self, axis=axis, keepdims=keepdims, out=out)

    def all(self, axis=None, out=None, keepdims=False):
        return _red.all(self, axis=axis, keepdims=keepdims, out=out)

    def cumsum(self, axis=None, dtype=None, out=None):
        return _red.cumulative_sum(self, axis=axis, dtype=dtype, out=out, flatten=axis is None)

    def clip(self, min=None, max=None, out=None):
        return _ew.clip(self, min, max, out=out)

    def round(self, decimals: int = 0, out=None):
        return _ew.round(self, decimals=decimals, out=out)

    def abs(self):
        return _ew.abs(self)

    def matmul(self, other):
        return _linalg.matmul(self, other)

    def dot(self, other):
        return _linalg.matmul(self, other)

    def nonzero(self):
        return _search.nonzero(self)

    def sort(self, axis: int = -1, descending: bool = False):
        """Sort in place along ``axis`` (numpy's method semantics)."""
        self._data[...] = _search.sort(self, axis=axis, descending=descending)._data

    def argsort(self, axis: int = -1, descending: bool = False):
        return _search.argsort(self, axis=axis, descending=descending)

    def fill(self, value: Any) -> None:
        """Set every element to ``value`` in place."""
        self._data.fill(value)


def _host(t: Tensor) -> np.ndarray:
    """The data as a numpy array: the array itself on the CPU, a copy from a GPU."""
    if t._device.type == "cpu":
        return t._data
    return t._data.get()


def _rebuild(arr: np.ndarray, dtype: str, device: str) -> Tensor:
    from .creation import asarray
    return asarray(arr, dtype=dtype, device=device, copy=True)


def _split_device_dtype(device: Any, dtype: Any) -> tuple[Any, Any]:
    """``x.to("fp16")`` passes a dtype where the device goes: tell them apart."""
    if device is None or isinstance(device, Device):
        return device, dtype
    if isinstance(device, str):
        kind = device.strip().lower().partition(":")[0]
        if kind in ("cpu", "cuda"):
            return device, dtype
        try:
            _dtypes.dtype(device)
        except TypeError:
            return device, dtype        # neither: parse_device reports the bad device
        return None, device
    return (None, device) if dtype is None else (device, dtype)


# The operation modules build Tensors, so they import this module; the methods
# above only look them up when called, which makes this late import safe.
from . import _dlpack, _elementwise as _ew, _linalg, _manipulation as _man  # noqa: E402
from . import _operands as _ops, _reductions as _red, _searching as _search  # noqa: E402
