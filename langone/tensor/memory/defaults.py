"""The default stack of each device, and :func:`allocate` over it.

Each device gets, on first use, ``StatisticsAdaptor(LimitingAdaptor(
PoolMemoryResource(upstream)))`` with a :class:`HostUpstream` for the CPU and
a :class:`CudaUpstream` for ``cuda:N``. :func:`configure` replaces one;
blocks of the old stack stay valid and go back to it.

Example:
    >>> from langone.tensor import memory
    >>> block = memory.allocate(4096)
    >>> memory.get_pool().stats().in_use >= 4096
    True
    >>> block.free()
"""

from __future__ import annotations

import contextvars
import operator
import threading

from ..devices import Device, device as as_device
from .adaptors import LimitingAdaptor, StatisticsAdaptor
from .block import Block
from .config import MemoryPoolConfig
from .pool import PoolMemoryResource
from .resource import MemoryResource
from .upstream import CudaUpstream, HostUpstream

#: The arena of the current context (see :mod:`.arena`); None outside any.
active_arena: contextvars.ContextVar = contextvars.ContextVar("langone_arena", default=None)
#: One entry per arena scope open in any thread (list append/pop are atomic):
#: while it is empty, allocate() skips the context-variable lookup.
open_arenas: list = []

_stacks: dict[str, MemoryResource] = {}      # canonical device name -> stack
# What allocate() looks up first: the device argument itself. A Device equals
# and hashes like its canonical name, so both spellings find one entry; name
# strings (what Tensors pass) hash in C, Device objects in Python (slower).
_fast: dict[object, MemoryResource] = {}
_MAX_FAST = 256
_build_lock = threading.Lock()


def allocate(nbytes: int, device: str | Device = "cpu") -> Block:
    """A block of ``nbytes`` bytes on ``device`` (64-byte aligned, uninitialized).

    Inside ``with arena(...)`` for the same device the block is bump-allocated
    from the arena; otherwise it comes from the device's default pool stack.

    Raises:
        PoolExhausted: a limit of the stack would be exceeded.
        AllocationFailed: the device is out of memory.
        DeviceNotFound: no such device on this machine.

    Example:
        >>> import numpy as np
        >>> buf = np.asarray(allocate(64)).view(np.float32)   # 16 float32s, pooled
        >>> buf.shape
        (16,)
    """
    if nbytes.__class__ is not int:
        nbytes = operator.index(nbytes)
    try:
        stack = _fast[device]
    except (KeyError, TypeError):              # new, or not hashable (a Tensor...)
        stack = _resolve(device)
    if open_arenas:
        arena = active_arena.get()
        if arena is not None and arena._stack is stack:
            return arena.allocate(nbytes)
    return stack.allocate(nbytes)


def get_pool(device: str | Device = "cpu") -> MemoryResource:
    """The default stack of ``device``: ``stats()``, ``compact()``, ``allocate()``...

    Example:
        >>> pool = get_pool("cpu")
        >>> [type(layer).__name__ for layer in (pool.inner, pool.inner.inner)]
        ['LimitingAdaptor', 'PoolMemoryResource']
        >>> isinstance(pool, StatisticsAdaptor)
        True
    """
    try:
        return _fast[device]
    except (KeyError, TypeError):
        return _resolve(device)


def configure(device: str | Device = "cpu", config: MemoryPoolConfig | None = None,
              limit: int | str | None = None, upstream=None) -> MemoryResource:
    """Replace the default stack of ``device`` and return the new one.

    Args:
        device: whose stack to replace.
        config: the pool's settings (default: ``MemoryPoolConfig()``).
        limit: bytes the LimitingAdaptor allows live (None: unlimited).
        upstream: where the pool gets memory (default: the device's own).

    Example:
        >>> stack = configure("cpu", MemoryPoolConfig(max_pool_size="8GiB"))
        >>> stack is get_pool("cpu")
        True
    """
    dev = as_device(device)
    stack = _build(dev, config, limit, upstream)
    with _build_lock:
        _stacks[str(dev)] = stack
        _fast.clear()
    return stack


def set_limit(limit: int | str | None, device: str | Device = "cpu") -> None:
    """Set the byte limit of ``device``'s default stack (None: unlimited)."""
    find_limiter(get_pool(device)).limit = limit


def find_limiter(resource: MemoryResource) -> LimitingAdaptor:
    """The first LimitingAdaptor in ``resource``'s stack."""
    layer = resource
    while layer is not None:
        if isinstance(layer, LimitingAdaptor):
            return layer
        layer = getattr(layer, "inner", None)
    raise LookupError(f"{resource!r} has no LimitingAdaptor")


def _resolve(device) -> MemoryResource:
    dev = as_device(device)
    name = str(dev)
    with _build_lock:
        stack = _stacks.get(name)
    if stack is None:
        built = _build(dev, None, None, None)     # outside the lock: may import cupy
        with _build_lock:
            stack = _stacks.setdefault(name, built)
    with _build_lock:
        if len(_fast) >= _MAX_FAST:
            _fast.clear()
        if type(device) in (str, Device):       # not Tensors and arrays: kept alive
            _fast[device] = stack
    return stack


def _build(dev: Device, config, limit, upstream) -> MemoryResource:
    if upstream is None:
        upstream = HostUpstream() if dev.type == "cpu" else CudaUpstream(dev.index)
    pool = PoolMemoryResource(upstream, config or MemoryPoolConfig())
    return StatisticsAdaptor(LimitingAdaptor(pool, limit))
