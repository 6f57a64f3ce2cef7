"""Blocks (the memory a caller owns) and slabs (the memory a pool holds).

A :class:`Slab` is one upstream allocation, kept by the pool for its whole
life and handed out again and again. A :class:`Block` is one hand-out of a
slab: the caller's handle, created per allocation and dead after its free,
so that a stale handle can never free somebody else's memory.

Example:
    >>> import numpy as np
    >>> from langone.tensor import memory
    >>> block = memory.allocate(16)
    >>> view = np.asarray(block)        # a uint8 view; it keeps the block alive
    >>> view.base is block, block.ptr % 64
    (True, 0)
"""

from __future__ import annotations

import warnings

from ... import events as _events
from ...errors import InvalidOperation, LangOneError, format_bytes
from ..devices import Device, cpu


# The event bus's table of listeners, mutated in place and never rebound: one
# truth test on the hot path tells whether anybody listens at all.
LISTENERS = _events._listeners


class Slab:
    """One allocation from an upstream: address, size and what keeps it alive."""

    __slots__ = ("ptr", "size", "handle", "freed_in")

    def __init__(self, ptr: int, size: int, handle: object):
        self.ptr = ptr          # 64-byte aligned
        self.size = size        # the size class it was allocated for
        self.handle = handle    # numpy buffer, cupy Memory, torch tensor...
        self.freed_in = 0       # the pool's cleanup epoch when it was last cached

    def __repr__(self) -> str:
        return f"Slab(ptr=0x{self.ptr:x}, size={self.size})"


class Block:
    """Memory handed out by a resource: ``ptr``, ``nbytes``, ``device``, ``free()``.

    A block is returned to the resource that handed it out either by
    :meth:`free` or, when it was never freed, when it is garbage collected
    (for host blocks: when the last numpy view of it dies). After ``free()``
    the memory may be reused at once, so views must not outlive it.

    Attributes:
        ptr: address of the first byte, a multiple of 64.
        nbytes: the size requested (the memory behind it may be larger).
        device: the :class:`~langone.tensor.devices.Device` holding the memory.
    """

    __slots__ = ("ptr", "nbytes", "_slab", "_owner", "__weakref__")
    device: Device = cpu     # each resource uses a subclass fixing its device

    def __init__(self, ptr: int, nbytes: int, slab: object, owner: object = None):
        self.ptr = ptr
        self.nbytes = nbytes
        self._slab = slab       # None once freed: what double frees are caught by
        self._owner = owner     # the resource free() goes back to; set on hand-out

    def free(self) -> None:
        """Give the memory back to its resource now.

        This runs the release protocol of :mod:`.resource` inline (it is the
        hot path): take the owner's lock without waiting, give the block to
        ``owner._deallocate``; if the lock is busy, park the block for the
        lock's holder instead. Freeing never blocks.

        Raises:
            InvalidOperation: the block was already freed.
        """
        slab = self._slab
        if slab is None:
            raise double_free(self)
        owner = self._owner
        self._slab = None
        lock = owner._lock
        try:
            lock.pop()
        except IndexError:                  # busy, maybe by this very thread
            owner._pending.append((self, slab))
            drain(owner)
        else:
            try:
                owner._deallocate(self, slab)
            finally:
                lock.append(True)
            if owner._pending:
                drain(owner)
        if LISTENERS and _events.has_listeners("free"):
            _events.emit("free", nbytes=self.nbytes, device=str(self.device), ptr=self.ptr)

    @property
    def freed(self) -> bool:
        """Whether :meth:`free` was called (or the block was collected)."""
        return self._slab is None

    def __del__(self) -> None:
        # Garbage collection returns blocks nobody freed. This may run inside a
        # resource's critical section (a collection triggered by an allocation)
        # or at interpreter shutdown: free() never blocks, and nothing may escape.
        if self._slab is not None:
            try:
                self.free()
            except Exception as exc:  # noqa: BLE001
                report_collect_error(exc)

    def __repr__(self) -> str:
        state = ", freed" if self._slab is None else ""
        return (f"{type(self).__name__}(ptr=0x{self.ptr:x}, "
                f"nbytes={self.nbytes}, device={self.device}{state})")


class HostBlock(Block):
    """A block of host memory; numpy views it through ``__array_interface__``."""

    __slots__ = ()

    @property
    def __array_interface__(self) -> dict:
        return {"shape": (self.nbytes,), "typestr": "|u1", "data": (self.ptr, False),
                "version": 3}


class DeviceBlock(Block):
    """A block of CUDA memory; CuPy, torch and numba view it via ``__cuda_array_interface__``."""

    __slots__ = ()

    @property
    def __cuda_array_interface__(self) -> dict:
        # The interface wants a null pointer for empty arrays.
        return {"shape": (self.nbytes,), "typestr": "|u1",
                "data": (self.ptr if self.nbytes else 0, False), "version": 3,
                "strides": None}


_CLASSES: dict[tuple[type, str], type] = {}


def block_class(base: type, device: Device) -> type:
    """``base`` specialised to ``device`` (a class attribute: no per-block cost)."""
    key = (base, str(device))
    cls = _CLASSES.get(key)
    if cls is None:
        cls = type(base.__name__, (base,), {"__slots__": (), "device": device,
                                            "__module__": base.__module__,
                                            "__qualname__": base.__qualname__})
        _CLASSES[key] = cls
    return cls


def double_free(block: Block) -> InvalidOperation:
    return InvalidOperation(
        f"double free of the block at 0x{block.ptr:x} ({format_bytes(block.nbytes)} "
        f"on {block.device}): it was already freed; free each block exactly once "
        f"(or let garbage collection do it)")


def foreign_block(block: Block, resource: object) -> InvalidOperation:
    return InvalidOperation(
        f"the block at 0x{block.ptr:x} ({format_bytes(block.nbytes)} on {block.device}) "
        f"was not allocated by {resource!r}; give it back with block.free() or to the "
        f"resource that allocated it")


def drain(owner) -> None:
    """Return the blocks parked on ``owner``'s lock, if the lock can be had now."""
    pending, lock = owner._pending, owner._lock
    while pending:
        try:
            lock.pop()
        except IndexError:                  # its holder drains after releasing
            return
        try:
            release_parked(owner)
        finally:
            lock.append(True)


def release_parked(owner) -> None:
    """Return the blocks parked on ``owner`` (its lock held)."""
    pending = owner._pending
    while pending:
        block, slab = pending.pop()
        try:
            block._owner._deallocate(block, slab)
        except LangOneError as exc:         # e.g. a corrupted guard: nobody to raise to
            report_collect_error(exc)


def report_collect_error(exc: Exception) -> None:
    """Warn about an error found while returning a block nobody waits on.

    Never raises: it runs in finalizers, possibly at interpreter shutdown.
    """
    if not isinstance(exc, LangOneError):
        return
    try:
        warnings.warn(f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=3)
    except Exception:  # noqa: BLE001
        pass
