"""Pooled memory, layered like RAPIDS RMM: upstream -> pool -> limit -> statistics.

Public contract (kept stable for the Tensor):

- ``allocate(nbytes, device="cpu") -> Block`` honours the active :func:`arena`,
  else takes memory from the device's default stack.
- :class:`Block`: ``.ptr`` (64-byte aligned), ``.nbytes``, ``.device``,
  ``.free()``. Host blocks expose ``__array_interface__`` (a 1-D uint8
  buffer) so ``np.asarray(block)`` views the memory and keeps the block
  alive; CUDA blocks expose ``__cuda_array_interface__``. A block nobody
  freed returns to its pool when garbage collected.
- ``get_pool(device)`` -> the default stack, ``StatisticsAdaptor(
  LimitingAdaptor(PoolMemoryResource(upstream)))``: ``.stats()``,
  ``.compact()``, ``.allocate()``, ``.deallocate()``.
- ``arena(size)``: bump allocation for temporaries, released as a whole.
- ``parse_size("64MB") -> int``.

Layers (one-way imports): sizes, config -> block -> upstream -> resource ->
pool -> adaptors -> defaults -> arena, manager.

Example:
    >>> import numpy as np
    >>> from langone.tensor import memory
    >>> in_use = memory.get_pool().stats().in_use
    >>> x = np.asarray(memory.allocate(4 * 1024)).view(np.float32)
    >>> x[:] = 1.0
    >>> float(x.sum())
    1024.0
    >>> memory.get_pool().stats().in_use - in_use
    4096
    >>> del x                                   # the block goes back to the pool
    >>> memory.get_pool().stats().in_use - in_use
    0
"""

from __future__ import annotations

from .adaptors import LimitingAdaptor, StatisticsAdaptor
from .arena import Arena, arena
from .block import Block, DeviceBlock, HostBlock, Slab
from .config import ALIGNMENT, MemoryPoolConfig
from .defaults import allocate, configure, get_pool, set_limit
from .manager import GPUMemoryManager
from .pool import GUARD_BYTE, GuardedPoolMemoryResource, PoolMemoryResource
from .resource import MemoryResource
from .sizes import InvalidSize, parse_size
from .stats import MemoryPoolStats, PoolInfo
from .upstream import CudaUpstream, FixedCapacityUpstream, HostUpstream

__all__ = [
    "allocate", "get_pool", "configure", "set_limit", "arena", "Arena", "parse_size",
    "InvalidSize", "Block", "HostBlock", "DeviceBlock", "Slab", "MemoryPoolConfig",
    "MemoryPoolStats", "PoolInfo", "MemoryResource", "PoolMemoryResource",
    "GuardedPoolMemoryResource",
    "LimitingAdaptor", "StatisticsAdaptor", "HostUpstream", "CudaUpstream",
    "FixedCapacityUpstream", "GPUMemoryManager", "ALIGNMENT", "GUARD_BYTE",
]
