"""GPUMemoryManager: one pool stack per device, and placement by free memory.

The same pool code as the host runs over each device's upstream. Build a
manager from a mapping of device -> upstream (tests use
:class:`FixedCapacityUpstream` s, so the GPU logic runs on the CPU), or take
:meth:`GPUMemoryManager.default` for the GPUs this machine has.

Example:
    >>> from langone.tensor.memory import GPUMemoryManager, FixedCapacityUpstream
    >>> mm = GPUMemoryManager({"cuda:0": FixedCapacityUpstream("1MiB", "cuda:0"),
    ...                        "cuda:1": FixedCapacityUpstream("4MiB", "cuda:1")})
    >>> mm.auto_place_tensor((256, 256), "fp32")     # 256 KiB: the emptier device
    Device('cuda:1')
    >>> block = mm.allocate(3 << 20)                 # only cuda:1 can hold 3 MiB
    >>> str(block.device), mm.get_device_stats()["cuda:1"].in_use
    ('cuda:1', 3145728)
    >>> mm.release(block)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ...dtypes import dtype as as_dtype
from ...errors import AllocationFailed, InvalidOperation, PoolExhausted, format_bytes
from ..devices import Device, device as as_device
from .adaptors import LimitingAdaptor, StatisticsAdaptor
from .block import Block
from .config import MemoryPoolConfig
from .pool import PoolMemoryResource
from .resource import MemoryResource
from .stats import MemoryPoolStats


class GPUMemoryManager:
    """Pools for several devices, with placement of tensors on the emptiest.

    Args:
        upstreams: device -> upstream (``FixedCapacityUpstream``,
            ``CudaUpstream``, ``HostUpstream``...), or device -> an already
            built resource stack (used as is).
        config: pool settings for every device (default ``MemoryPoolConfig()``).
        limits: optional device -> byte limit of its LimitingAdaptor.
    """

    def __init__(self, upstreams: Mapping, config: MemoryPoolConfig | None = None,
                 limits: Mapping | None = None):
        limits = {str(as_device(d)): v for d, v in (limits or {}).items()}
        self._stacks: dict[Device, MemoryResource] = {}
        for dev, source in upstreams.items():
            dev = as_device(dev)
            if isinstance(source, MemoryResource):
                stack = source
            else:
                pool = PoolMemoryResource(source, config or MemoryPoolConfig())
                stack = StatisticsAdaptor(LimitingAdaptor(pool, limits.get(str(dev))))
            if stack.device != dev:
                raise InvalidOperation(f"the upstream given for {dev} allocates on "
                                       f"{stack.device}; key each upstream by its own device")
            self._stacks[dev] = stack

    @classmethod
    def default(cls) -> "GPUMemoryManager":
        """The default stacks of every CUDA GPU found; the CPU's when there is none.

        Never fails: a machine without GPUs (or without CuPy and torch) gets
        a manager over the CPU alone.
        """
        from .defaults import get_pool
        from ..devices import devices
        try:
            gpus = [d for d in devices() if d.type == "cuda"]
        except Exception:  # noqa: BLE001 - discovery trouble means "no GPU"
            gpus = []
        stacks = {}
        for dev in gpus:
            try:
                stacks[dev] = get_pool(dev)
            except Exception:  # noqa: BLE001 - found but unusable (no CuPy/torch)
                continue
        return cls(stacks or {as_device("cpu"): get_pool("cpu")})

    # -- queries --------------------------------------------------------------------
    @property
    def devices(self) -> list[Device]:
        return list(self._stacks)

    def pool(self, device: str | Device) -> MemoryResource:
        """The stack of ``device``."""
        dev = as_device(device)
        try:
            return self._stacks[dev]
        except KeyError:
            raise InvalidOperation(f"{dev} is not managed here; managed devices: "
                                   f"{', '.join(map(str, self._stacks)) or 'none'}") from None

    def available(self, device: str | Device) -> int:
        """Bytes ``device`` could still hand out: its cache, upstream and limits."""
        return self.pool(device).available()

    def get_device_stats(self) -> dict[str, MemoryPoolStats]:
        """``{"cuda:0": MemoryPoolStats, ...}`` for every managed device."""
        return {str(dev): stack.stats() for dev, stack in self._stacks.items()}

    # -- placement and allocation ------------------------------------------------------
    def auto_place_tensor(self, shape, dtype, preferred: str | Device | None = None) -> Device:
        """The device a tensor of ``shape`` and ``dtype`` should go to.

        ``preferred`` wins when it can hold the tensor; otherwise the device
        with the most available memory among those that can.

        Raises:
            PoolExhausted: no device can hold it; the message lists each
                device's available memory.
        """
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        nbytes = math.prod(shape) * as_dtype(dtype).itemsize
        return self._place(nbytes, preferred)

    def allocate(self, nbytes: int, precision=None,
                 preferred_device: str | Device | None = None) -> Block:
        """A block of ``nbytes`` on the best device (see :meth:`auto_place_tensor`).

        Args:
            nbytes: bytes to allocate.
            precision: element type the block will hold (a dtype name,
                DType, DataPrecision, numpy dtype); ``nbytes`` must then be a
                whole number of its elements.
            preferred_device: where to allocate if it has room.

        Raises:
            PoolExhausted: no device has room.
            InvalidOperation: ``nbytes`` is not a multiple of the precision's itemsize.
        """
        if precision is not None:
            itemsize = as_dtype(precision).itemsize
            if nbytes % itemsize:
                raise InvalidOperation(
                    f"{nbytes} bytes is not a whole number of {as_dtype(precision)} "
                    f"elements ({itemsize} bytes each); pass count * {itemsize}")
        first = self._place(nbytes, preferred_device)
        order = [first] + [d for d in self._by_room() if d != first]
        for dev in order:
            try:
                return self._stacks[dev].allocate(nbytes)
            except AllocationFailed:      # another thread took the room meanwhile
                continue
        raise self._exhausted(nbytes)

    def release(self, block: Block) -> None:
        """Give back a block allocated by this manager."""
        stack = self._stacks.get(block.device)
        if stack is None or block._owner is not stack:
            raise InvalidOperation(
                f"the block at 0x{block.ptr:x} ({format_bytes(block.nbytes)} on "
                f"{block.device}) was not allocated by this manager; call block.free()")
        stack.deallocate(block)

    def compact(self) -> int:
        """Release every device's cached blocks; returns the bytes released."""
        return sum(stack.compact() for stack in self._stacks.values())

    # -- internals ----------------------------------------------------------------------
    def _by_room(self) -> list[Device]:
        rooms = {dev: stack.available() for dev, stack in self._stacks.items()}
        return sorted(rooms, key=rooms.__getitem__, reverse=True)

    def _place(self, nbytes: int, preferred) -> Device:
        if preferred is not None:
            dev = as_device(preferred)
            if self.pool(dev).available() >= nbytes:
                return dev
        rooms = {dev: stack.available() for dev, stack in self._stacks.items()}
        fitting = [dev for dev, room in rooms.items() if room >= nbytes]
        if not fitting:
            raise self._exhausted(nbytes, rooms)
        return max(fitting, key=rooms.__getitem__)

    def _exhausted(self, nbytes: int, rooms: dict | None = None) -> PoolExhausted:
        if rooms is None:
            rooms = {dev: stack.available() for dev, stack in self._stacks.items()}
        best = max(rooms.values(), default=0)
        names = ", ".join(map(str, rooms)) or "no device"
        err = PoolExhausted(nbytes, best, device=names, what="emptiest memory pool")
        listing = ", ".join(f"{dev}: {format_bytes(room)} available"
                            for dev, room in rooms.items()) or "no devices are managed"
        err.args = (f"{err.args[0]} [{listing}]",)
        return err

    def __repr__(self) -> str:
        return f"GPUMemoryManager({', '.join(map(str, self._stacks))})"
