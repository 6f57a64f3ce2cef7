"""Call signatures: what a kernel is specialized on, computed fast at every call.

A *key* is a cheap hashable summary of the arguments (dtype, ndim, layout,
device per tensor; kind per Python scalar; dtype per numpy scalar). The
*signature* is the IR-level type of each parameter, built once per key.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dtypes
from ..errors import KernelArgumentError
from .ir import TensorType, Weak

_WEAK = {bool: Weak("b"), int: Weak("i"), float: Weak("f"), complex: Weak("c")}

from ..tensor.tensor import Tensor as _Tensor


def tensor_class():
    return _Tensor


def arg_key(a: Any) -> Any:
    """Hashable summary of one argument (fast path for the common types)."""
    t = type(a)
    if t is float or t is int or t is bool:
        return t
    # Devices appear by name: a Device hashes in Python, a str in C (~0.3 us a call).
    if t is np.ndarray:
        return (a.dtype, a.ndim, a.flags.c_contiguous, "cpu")
    if t is _Tensor:
        d = a._data
        return (d.dtype, d.ndim, d.flags.c_contiguous, a._device._name)
    if isinstance(a, np.generic):
        return ("scalar", a.dtype)
    return ("other", t)


def param_type(a: Any, name: str, kernel: str) -> Any:
    """IR type of one argument, or a KernelArgumentError naming the parameter."""
    t = type(a)
    if t in _WEAK:
        return _WEAK[t]
    if isinstance(a, np.generic):
        return _dtype(a.dtype, name, kernel)
    arr = array_of(a)
    if arr is not None:
        return TensorType(_dtype(arr.dtype, name, kernel), arr.ndim,
                          bool(arr.flags.c_contiguous))
    raise KernelArgumentError(
        f"argument {name!r} of kernel {kernel!r} is a {t.__name__}; pass a langone "
        f"Tensor, a numpy array, or a number (bool, int, float, complex)")


def _dtype(npd: np.dtype, name: str, kernel: str):
    try:
        return dtypes.dtype(npd)
    except Exception as exc:       # UnsupportedPrecision, with the supported list
        raise KernelArgumentError(f"argument {name!r} of kernel {kernel!r}: {exc}") from None


def unwrap(a: Any) -> Any:
    """What a CPU backend receives: the numpy view of a Tensor, else the value."""
    return a._data if type(a) is _Tensor else a


def array_of(a: Any) -> Any:
    """The array behind a tensor argument on any device (numpy or cupy), else None."""
    if type(a) is np.ndarray:
        return a
    if isinstance(a, _Tensor):
        return a._data
    return None


def host_array(a: Any) -> np.ndarray | None:
    """The numpy view of a CPU tensor or array argument, else None."""
    if type(a) is np.ndarray:
        return a
    if isinstance(a, _Tensor):
        return a._data if a._device.type == "cpu" else None
    return None


def device_of(args: tuple) -> str:
    """The device all tensor arguments live on ("cpu" when none is a tensor)."""
    devs = {str(a._device) for a in args if isinstance(a, tensor_class())}
    if len(devs) > 1:
        raise KernelArgumentError(f"kernel arguments live on different devices "
                                  f"({', '.join(sorted(devs))}); move them with .to(device)")
    return devs.pop() if devs else "cpu"
