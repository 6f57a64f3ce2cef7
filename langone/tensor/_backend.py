"""Where tensor data lives: pooled buffers and the array module of each device.

CPU data is a numpy array viewing a pool block; CUDA data is a cupy array over a
CUDA block. Everything device-specific funnels through this module so that the
rest of the tensor code reads ``xp.add(...)`` and the CPU path never imports
cupy.

Example:
    >>> import numpy as np
    >>> from langone.tensor._backend import empty_buffer, array_module
    >>> from langone.tensor.devices import device
    >>> empty_buffer((2, 3), np.dtype("float32"), device("cpu")).shape
    (2, 3)
    >>> array_module(device("cpu")) is np
    True
"""

from __future__ import annotations

import math
import operator
from types import ModuleType

import numpy as np

from ..errors import DeviceNotFound, UnsupportedPrecision
from ._errors import ShapeMismatch
from .devices import Device, device as parse_device
from .memory import allocate

CPU: Device = parse_device("cpu")

_cupy: ModuleType | None = None
_AVAILABLE: set[Device] = set()


# --- array modules ---------------------------------------------------------------

def array_module(dev: Device) -> ModuleType:
    """numpy for the CPU, cupy (imported on first use) for CUDA devices."""
    if dev.type == "cpu":
        return np
    return cupy_module(dev)


def cupy_module(dev: Device | None = None) -> ModuleType:
    """Check that ``dev`` exists and return cupy (imported on first use).

    Raises:
        DeviceNotFound: no such CUDA device here (the message says what discovery
            found), or cupy is not installed.
    """
    global _cupy
    dev = dev if dev is not None else parse_device("cuda")
    if dev not in _AVAILABLE:                  # discovery is cached; skip even the lookup
        _AVAILABLE.add(dev.require_available())
    if _cupy is None:
        try:
            import cupy
        except ImportError as exc:
            raise DeviceNotFound(
                f"device '{dev}' needs CuPy, which is not installed; install "
                f"langone[gpu], or use device='cpu'") from exc
        _cupy = cupy
    return _cupy


# --- shapes ------------------------------------------------------------------------

def normalize_shape(shape) -> tuple[int, ...]:
    """``3`` -> ``(3,)``; any iterable of integers -> a tuple; rejects negatives."""
    if type(shape) is tuple and all(type(d) is int and d >= 0 for d in shape):
        return shape                            # the common case, no rebuild
    try:
        dims = (operator.index(shape),) if not hasattr(shape, "__iter__") else \
            tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"a shape is an int or a sequence of ints, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ShapeMismatch(f"negative dimension in shape {dims}; sizes must be >= 0")
    return dims


# --- allocation ---------------------------------------------------------------------

def empty_buffer(shape: tuple[int, ...], npdt: np.dtype, dev: Device):
    """An uninitialized C-contiguous array of ``shape`` whose memory is a pool block.

    The array's ``.base`` chain holds the block: the memory goes back to the
    pool when the last view of it dies. Zero-size arrays need no memory and
    skip the pool.
    """
    nbytes = math.prod(shape) * npdt.itemsize
    if dev.type == "cpu":
        if nbytes == 0:
            return np.empty(shape, npdt)
        buf = np.asarray(allocate(nbytes, dev._name))   # a str: the fastest key
        if buf.size != nbytes:
            buf = buf[:nbytes]
        buf = buf.view(npdt)
        return buf if len(shape) == 1 else buf.reshape(shape)
    return _empty_cuda(shape, npdt, nbytes, dev)


def _empty_cuda(shape, npdt, nbytes, dev):
    cp = cupy_module(dev)
    if npdt.name == "bfloat16":
        raise UnsupportedPrecision(
            "bf16 tensors are not supported on CUDA devices yet (CuPy has no "
            "bfloat16 dtype); use fp16 or fp32 there, or keep bf16 data on the CPU")
    with cp.cuda.Device(dev.index):
        if nbytes == 0:
            return cp.empty(shape, npdt)
        buf = cp.asarray(allocate(nbytes, dev))
        return buf[:nbytes].view(npdt).reshape(shape)


# --- transfers -------------------------------------------------------------------------

def transfer(arr, src: Device, dst: Device):
    """Copy ``arr`` (on ``src``) into a fresh pooled C-contiguous buffer on ``dst``."""
    out = empty_buffer(arr.shape, arr.dtype, dst)
    if src.type == "cpu" and dst.type == "cpu":
        np.copyto(out, arr)
    elif src.type == "cpu":
        cp = cupy_module(dst)
        with cp.cuda.Device(dst.index):
            out.set(np.ascontiguousarray(arr))
    elif dst.type == "cpu":
        cp = cupy_module(src)
        with cp.cuda.Device(src.index):
            cp.ascontiguousarray(arr).get(out=out)
    else:
        cp = cupy_module(src)
        with cp.cuda.Device(src.index):
            contiguous = cp.ascontiguousarray(arr)
        # Unified addressing lets a device-to-device memcpy cross GPUs.
        out.data.copy_from_device(contiguous.data, out.nbytes)
    return out


def is_cpu_array(obj) -> bool:
    """Whether ``obj`` is data numpy can address directly (numpy arrays and scalars)."""
    return isinstance(obj, (np.ndarray, np.generic))
