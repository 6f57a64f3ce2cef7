"""Upstreams: where a pool gets its memory (the bottom of an RMM-style stack).

An upstream allocates :class:`~langone.tensor.memory.block.Slab` s of exact
sizes and takes them back; it caches nothing. Its interface:

- ``device`` and ``block_base`` (the Block class of its memory),
- ``allocate(size) -> Slab`` (raises ``AllocationFailed`` when it cannot),
- ``deallocate(slab)``,
- ``write(slab, offset, data)`` / ``read(slab, offset, n)`` (debug guards),
- ``available() -> int`` (bytes it could still provide, read live).

Example:
    >>> up = FixedCapacityUpstream("1MiB", device="cuda:1")   # a fake GPU, host-backed
    >>> slab = up.allocate(4096)
    >>> up.used, up.available(), str(up.device)
    (4096, 1044480, 'cuda:1')
    >>> up.deallocate(slab)
"""

from __future__ import annotations

import os

import numpy as np

from ...errors import AllocationFailed, DeviceNotFound, PoolExhausted, format_bytes
from ..devices import Device, device as as_device
from .block import DeviceBlock, HostBlock, Slab
from .config import ALIGNMENT
from .sizes import parse_size


class HostUpstream:
    """Host memory from numpy: 64-byte aligned ``uint8`` buffers.

    Memory is not touched on allocation (``np.empty``), so large slabs cost
    their page faults on first use only; a pool that keeps them warm avoids
    paying again.
    """

    block_base = HostBlock

    def __init__(self) -> None:
        self.device = as_device("cpu")

    def allocate(self, size: int) -> Slab:
        try:
            raw = np.empty(size + ALIGNMENT, np.uint8)
        except MemoryError as exc:
            raise AllocationFailed(size, str(self.device), f"the host is out of memory "
                                                           f"({exc})") from None
        address = raw.__array_interface__["data"][0]
        start = -address % ALIGNMENT
        aligned = raw[start:start + size]      # index 0 is the slab's first byte
        return Slab(address + start, size, aligned)

    def deallocate(self, slab: Slab) -> None:
        slab.handle = None                     # numpy frees the buffer

    def write(self, slab: Slab, offset: int, data: bytes) -> None:
        slab.handle[offset:offset + len(data)] = np.frombuffer(data, np.uint8)

    def read(self, slab: Slab, offset: int, n: int) -> bytes:
        return slab.handle[offset:offset + n].tobytes()

    def available(self) -> int:
        return _host_available()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class FixedCapacityUpstream(HostUpstream):
    """A fake device with a fixed capacity, backed by host memory, for tests.

    It reports ``device`` (``cuda:0`` by default) and fails like a full GPU:
    an allocation past ``capacity`` raises ``PoolExhausted`` (an
    ``AllocationFailed``), so the GPU logic of pools and of the
    :class:`~langone.tensor.memory.manager.GPUMemoryManager` runs on the CPU.
    Its blocks expose ``__array_interface__`` since the memory is host memory.

    Args:
        capacity: bytes this device holds (int or a size string like "64MiB").
        device: the device it pretends to be.
    """

    def __init__(self, capacity: int | str, device: str | Device = "cuda:0"):
        super().__init__()
        self.device = as_device(device)
        self.capacity = parse_size(capacity)
        self.used = 0
        self.allocations = 0        # calls that succeeded: tests count upstream traffic

    def allocate(self, size: int) -> Slab:
        if self.used + size > self.capacity:
            raise PoolExhausted(size, self.capacity - self.used, self.capacity,
                                device=str(self.device), what="device memory")
        slab = super().allocate(size)
        self.used += size
        self.allocations += 1
        return slab

    def deallocate(self, slab: Slab) -> None:
        self.used -= slab.size
        super().deallocate(slab)

    def available(self) -> int:
        return self.capacity - self.used

    def __repr__(self) -> str:
        return (f"FixedCapacityUpstream({format_bytes(self.capacity)}, "
                f"device='{self.device}', used={format_bytes(self.used)})")


class CudaUpstream:
    """Device memory of one CUDA GPU, from CuPy (raw ``cudaMalloc``) or torch.

    CuPy is preferred: ``cupy.cuda.Memory`` is a bare driver allocation freed
    when dropped. Without CuPy, torch's allocator is used (``torch.empty`` of
    uint8 on the device). Neither is imported before an instance is made.

    Args:
        device_index: which GPU (``cuda:N``).
        backend: "cupy", "torch", or None to take the first one that works.

    Raises:
        DeviceNotFound: no such GPU, or neither CuPy nor torch can reach it.
    """

    block_base = DeviceBlock

    def __init__(self, device_index: int = 0, backend: str | None = None):
        self.device = Device(f"cuda:{int(device_index)}")
        self.index = int(device_index)
        # Discovery first: it is cached and cheap, and it skips importing CuPy and
        # torch (seconds) on machines whose driver library cannot even load.
        self.device.require_available()
        self.backend, self._lib = _load_cuda_backend(self.index, backend)

    # -- allocation -------------------------------------------------------------
    def allocate(self, size: int) -> Slab:
        try:
            if self.backend == "cupy":
                cp = self._lib
                with cp.cuda.Device(self.index):
                    mem = cp.cuda.Memory(size)
                return Slab(int(mem.ptr), size, mem)
            torch = self._lib
            tensor = torch.empty(size, dtype=torch.uint8, device=f"cuda:{self.index}")
            return Slab(int(tensor.data_ptr()), size, tensor)
        except Exception as exc:  # noqa: BLE001 - OutOfMemoryError, CUDARuntimeError...
            raise AllocationFailed(size, str(self.device),
                                   f"{type(exc).__name__}: {exc}") from None

    def deallocate(self, slab: Slab) -> None:
        slab.handle = None            # cupy.cuda.Memory / the tensor frees on release

    # -- copies for the debug guards ---------------------------------------------
    def write(self, slab: Slab, offset: int, data: bytes) -> None:
        host = np.frombuffer(data, np.uint8)
        if self.backend == "cupy":
            rt = self._lib.cuda.runtime
            with self._lib.cuda.Device(self.index):
                rt.memcpy(slab.ptr + offset, host.ctypes.data, host.nbytes,
                          rt.memcpyHostToDevice)
            return
        src = self._lib.from_numpy(host.copy())
        slab.handle.narrow(0, offset, host.nbytes).copy_(src)

    def read(self, slab: Slab, offset: int, n: int) -> bytes:
        if self.backend == "cupy":
            out = np.empty(n, np.uint8)
            rt = self._lib.cuda.runtime
            with self._lib.cuda.Device(self.index):
                rt.memcpy(out.ctypes.data, slab.ptr + offset, n, rt.memcpyDeviceToHost)
            return out.tobytes()
        return slab.handle.narrow(0, offset, n).cpu().numpy().tobytes()

    def available(self) -> int:
        if self.backend == "cupy":
            with self._lib.cuda.Device(self.index):
                return int(self._lib.cuda.runtime.memGetInfo()[0])
        return int(self._lib.cuda.mem_get_info(self.index)[0])

    def __repr__(self) -> str:
        return f"CudaUpstream({self.index}, backend={self.backend!r})"


def _load_cuda_backend(index: int, backend: str | None):
    """(name, module) of the first library that reaches GPU ``index``."""
    order = (backend,) if backend else ("cupy", "torch")
    reasons = []
    for name in order:
        try:
            if name == "cupy":
                import cupy
                count = cupy.cuda.runtime.getDeviceCount()
                lib = cupy
            elif name == "torch":
                import torch
                count = torch.cuda.device_count() if torch.cuda.is_available() else 0
                lib = torch
            else:
                raise DeviceNotFound(f"unknown CUDA backend {name!r}; use 'cupy' or 'torch'")
        except DeviceNotFound:
            raise
        except Exception as exc:  # noqa: BLE001 - ImportError, no driver, ...
            reasons.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        if index < count:
            return name, lib
        reasons.append(f"{name} sees {count} CUDA device(s)")
    raise DeviceNotFound(f"cannot allocate on cuda:{index}: " + "; ".join(reasons)
                         + "; use device='cpu' or install CuPy (cupy-cuda12x) on a GPU machine")


def _host_available() -> int:
    """Bytes of RAM still available to this process (psutil, else sysconf)."""
    try:
        import psutil
        return int(psutil.virtual_memory().available)
    except ImportError:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
