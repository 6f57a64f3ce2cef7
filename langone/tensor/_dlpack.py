"""DLPack exchange, including bf16, which numpy's own DLPack code cannot describe.

numpy exports and imports only its standard dtypes. A bf16 tensor is exported
as the same bytes viewed as uint16, and the type code in the capsule's
``DLDataType`` is then rewritten from kDLUInt to kDLBfloat (both 16 bits, one
lane); importing does the reverse. Nothing else in the capsule changes, so
ownership and the deleter stay numpy's (or the producer's).

Example:
    >>> import langone as lo, torch
    >>> t = torch.from_dlpack(lo.ones(3, dtype="bf16"))
    >>> t.dtype
    torch.bfloat16
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

_KDL_UINT, _KDL_BFLOAT = 1, 4
# Offsets of DLTensor.dtype: DLTensor = {void* data; DLDevice device (8 bytes);
# int32 ndim; DLDataType dtype; ...} puts dtype at byte 20. The versioned
# DLManagedTensorVersioned = {DLPackVersion (8); void* ctx; deleter; uint64 flags;
# DLTensor} puts the DLTensor at byte 32; the legacy DLManagedTensor at byte 0.
_CAPSULES = ((b"dltensor_versioned", 32 + 20), (b"dltensor", 0 + 20))

_is_valid = ctypes.pythonapi.PyCapsule_IsValid
_is_valid.argtypes = (ctypes.py_object, ctypes.c_char_p)
_is_valid.restype = ctypes.c_int
_get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_get_pointer.argtypes = (ctypes.py_object, ctypes.c_char_p)
_get_pointer.restype = ctypes.c_void_p


def _retag(capsule: Any, from_code: int, to_code: int) -> bool:
    """Rewrite a 16-bit ``from_code`` dtype code to ``to_code``; False if it is not one."""
    for name, offset in _CAPSULES:
        if _is_valid(capsule, name):
            addr = _get_pointer(capsule, name) + offset
            code = ctypes.c_uint8.from_address(addr)
            bits = ctypes.c_uint8.from_address(addr + 1).value
            if code.value != from_code or bits != 16:
                return False
            code.value = to_code
            return True
    return False


def export(t: Any, *, stream: Any = None, max_version: Any = None, dl_device: Any = None,
           copy: bool | None = None) -> Any:
    """``Tensor.__dlpack__``: the array module's capsule, with bf16 retagged."""
    kw = {"stream": stream, "max_version": max_version, "dl_device": dl_device, "copy": copy}
    arr = t._data
    if t.dtype.name != "bf16":
        return arr.__dlpack__(**kw)
    capsule = arr.view(np.uint16).__dlpack__(**kw)
    _retag(capsule, _KDL_UINT, _KDL_BFLOAT)
    return capsule


class _Capsule:
    """Hands numpy a capsule we already took from the producer."""

    def __init__(self, capsule: Any, device: tuple[int, int]):
        self._capsule = capsule
        self._device = device

    def __dlpack__(self, **_: Any) -> Any:
        return self._capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return self._device


def to_numpy(obj: Any) -> np.ndarray:
    """A numpy array sharing memory with a CPU DLPack producer (bf16 included)."""
    try:
        return np.from_dlpack(obj)
    except (BufferError, TypeError, RuntimeError) as exc:
        first_error = exc
    try:
        capsule = obj.__dlpack__(max_version=(1, 0))
    except TypeError:                       # producers that predate DLPack 1.0
        capsule = obj.__dlpack__()
    if not _retag(capsule, _KDL_BFLOAT, _KDL_UINT):
        raise first_error
    from .. import dtypes
    arr = np.from_dlpack(_Capsule(capsule, obj.__dlpack_device__()))
    return arr.view(dtypes.bf16.numpy)
