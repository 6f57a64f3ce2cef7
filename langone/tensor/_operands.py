"""Operands: turning Tensors, numpy data, Python scalars and sequences into arrays.

Every operation starts here: it finds the device its Tensor operands share
(refusing to mix devices silently) and gets each operand as an array of that
device's array module, without copying where that is possible.

Example:
    >>> import numpy as np
    >>> import langone as lo
    >>> from langone.tensor._operands import device_of, operand_array
    >>> x = lo.ones(3)
    >>> str(device_of(x, 2.0)), operand_array(2.0, x.device)
    ('cpu', 2.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._backend import CPU, cupy_module, is_cpu_array
from ._errors import device_mismatch
from .devices import Device
from .tensor import Tensor

#: Python scalar types: weakly typed under NEP 50.
WEAK_SCALARS = (bool, int, float)
#: Types the operators accept besides Tensors (anything else gets NotImplemented).
OPERATOR_TYPES = (Tensor, bool, int, float, np.ndarray, np.generic, list, tuple)


def device_of(*objs: Any) -> Device:
    """The device shared by the Tensors among ``objs`` (the CPU when there are none).

    Raises:
        DeviceMismatch: two Tensors live on different devices.
    """
    found = None
    for obj in objs:
        if isinstance(obj, Tensor):
            dev = obj._device
            if found is None:
                found = dev
            elif dev is not found and dev != found:
                raise device_mismatch(found, dev)
    return CPU if found is None else found


def operand_array(x: Any, dev: Device) -> Any:
    """``x`` as data an operation on ``dev`` can use: an array or a Python scalar.

    Tensors give their array (no copy), Python scalars stay scalars (they are
    weak in promotion), numpy data is used as is on the CPU; anything else is
    converted with :func:`host_array`.

    Raises:
        DeviceMismatch: ``x`` lives on another device than ``dev``.
    """
    if isinstance(x, Tensor):
        if x._device is not dev and x._device != dev:
            raise device_mismatch(dev, x._device)
        return x._data
    if type(x) in WEAK_SCALARS:
        return x
    if dev.type == "cpu":
        return x if is_cpu_array(x) else host_array(x)
    return _cuda_operand(x, dev)


def _cuda_operand(x: Any, dev: Device) -> Any:
    cp = cupy_module(dev)
    if isinstance(x, cp.ndarray):
        return x
    if is_cpu_array(x) or hasattr(x, "__array__") or isinstance(x, (list, tuple)):
        if isinstance(x, np.generic):
            return x                      # a numpy scalar travels as a kernel argument
        raise device_mismatch(dev, "cpu", what="a CUDA tensor and host (numpy) data")
    return cp.asarray(x)


def host_array(obj: Any, dtype: np.dtype | None = None) -> np.ndarray:
    """Convert anything array-like to a numpy array, sharing memory when it can.

    Handles numpy arrays and scalars, Tensors on the CPU, objects with
    ``__dlpack__`` (torch, jax, ...), objects with ``__array__``, Python
    scalars and (nested) sequences, including sequences of Tensors.
    """
    if isinstance(obj, np.ndarray):
        return obj if dtype is None or obj.dtype == dtype else obj.astype(dtype)
    if isinstance(obj, Tensor):
        return obj.numpy() if dtype is None else obj.numpy().astype(dtype)
    if hasattr(obj, "__dlpack__") and not hasattr(obj, "__array_interface__"):
        from . import _dlpack
        arr = _dlpack.to_numpy(obj)
        return arr if dtype is None else arr.astype(dtype, copy=False)
    return np.asarray(obj, dtype=dtype)


def operator_operand_ok(x: Any) -> bool:
    """Whether a binary operator should handle ``x`` or return NotImplemented."""
    return isinstance(x, OPERATOR_TYPES)
