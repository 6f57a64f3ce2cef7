"""LangOne: plain Python loops and expressions as fast kernels, over a pooled Tensor.

Only numpy is imported here; everything heavier (numba, triton, torch, lupa,
openvino, dask, psutil, ml_dtypes) loads on first use. Names below that come
from heavier modules resolve lazily through ``__getattr__``.

Example:
    >>> import numpy as np, langone as lo
    >>> x = lo.tensor(np.arange(4, dtype=np.float32))
    >>> (x * 2).numpy()
    array([0., 2., 4., 6.], dtype=float32)
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

from . import errors, events  # noqa: E402  (leaves: cheap)
from .dtypes import (  # noqa: E402
    DataPrecision, DType, dtype, result_type, can_cast, finfo, iinfo,
    fp16, bf16, fp32, fp64, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
    complex64, complex128, bool_,
    float16, bfloat16, float32, float64,
)
from .errors import (  # noqa: E402
    LangOneError, AllocationFailed, PoolExhausted, InvalidOperation,
    CorruptionDetected, DeviceNotFound, UnsupportedPrecision, DriverError,
    BudgetExceeded, KernelCompileError, KernelArgumentError, BackendUnavailable,
)

from .kernels.language import (grid, atomic_add, atomic_sub, atomic_max,  # noqa: E402
                               atomic_min, atomic_exchange, atomic_cas, erf, fmod,
                               conj, real, imag)
from .kernels.language import range  # noqa: E402,A004  (lo.range: a sequential loop)
from .kernels.inline import func  # noqa: E402  (@lo.func device functions)
# The Tensor namespace (Array API names; numpy-only, so imported eagerly). Binding
# its names after importing the subpackage keeps ``lo.tensor`` the function.
from .tensor import *  # noqa: E402,F401,F403
from .tensor import __all__ as _tensor_all  # noqa: E402

bool = bool_  # Array API spelling; shadows the builtin only as ``lo.bool``

# name -> module that defines it; resolved on first attribute access.
_LAZY: dict[str, str] = {}


def _lazy(module: str, *names: str) -> None:
    for n in names:
        _LAZY[n] = module


_lazy("langone.tensor.devices", "Device", "device", "cpu")
_lazy("langone.infer", "infer", "load_model")
_lazy("langone.tensor.memory", "MemoryPoolConfig", "MemoryPoolStats", "get_pool",
      "GPUMemoryManager", "parse_size")
_lazy("langone.kernels.kernel", "kernel", "Kernel")
_lazy("langone.runtime.platform", "PlatformProfile", "detect_platform")

_SUBMODULES = {"memory": "langone.tensor.memory",
               "kernels": "langone.kernels", "runtime": "langone.runtime",
               "lua_bridge": "langone.lua_bridge", "ternary": "langone.ternary",
               "profiler": "langone.profiler", "dtypes": "langone.dtypes",
               "config": "langone.config"}


def devices(refresh: bool = False) -> list:
    """LangOne's devices (``Device('cpu')``, ``Device('cuda:0')``...), then the
    OpenVINO inference devices as ``"openvino:CPU"``, ``"openvino:GPU"``... when
    OpenVINO is installed (it is imported on this first call, not before).
    """
    from importlib.util import find_spec
    from .tensor.devices import devices as _devices
    found: list = list(_devices(refresh=refresh))
    if find_spec("openvino") is not None:
        from .infer import ov_devices
        found += [f"openvino:{d}" for d in ov_devices()]
    return found


def backends() -> list[str]:
    """Kernel backends usable on this machine, e.g. ``['numpy', 'numba']``."""
    from .kernels import backends as _b
    return _b.usable()


def __getattr__(name: str):
    mod = _SUBMODULES.get(name)
    if mod is not None:
        value = importlib.import_module(mod)
    else:
        mod = _LAZY.get(name)
        if mod is None:
            raise AttributeError(f"module 'langone' has no attribute {name!r}")
        value = getattr(importlib.import_module(mod), name)
    globals()[name] = value          # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))
