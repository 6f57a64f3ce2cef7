"""The memory-resource protocol shared by the pool and its adaptors.

A stack of resources (statistics over limit over pool, as in RAPIDS RMM)
shares ONE lock, created by the pool at the bottom. Each layer has a public
``allocate`` / ``deallocate`` that take the lock once, and a private
``_allocate`` / ``_deallocate`` that assume it is held and call the layer
below: an allocation through three layers costs one lock round trip.

Frees never block. A block may be returned by the garbage collector while
this very thread holds the lock (a collection triggered inside a critical
section), where blocking would deadlock. So a free (``Block.free``, which
runs this protocol inline because it is the hot path) tries the lock without
waiting and, if it is busy, parks the block in the owner's pending list;
whoever holds the lock drains that list right after releasing it, and a
parker retries the lock once after parking, so no parked block is missed.

Anything that hands out blocks (every layer here, and arenas) follows the
protocol: ``_lock`` (a :class:`~.lock.TokenLock`), ``_pending`` (a list) and
``_deallocate(block, slab)`` called with the lock held.
"""

from __future__ import annotations

from ... import events as _events
from .block import LISTENERS, Block, drain, foreign_block, release_parked
from .lock import wait_for


class MemoryResource:
    """Base of every layer: locking, deferred frees, events.

    Subclasses implement ``_allocate(nbytes) -> Block`` and
    ``_deallocate(block, slab)`` (lock held) and set ``_lock``, ``_pending``
    (shared with the layer below) and ``_pool`` (the pool at the bottom).
    """

    __slots__ = ("_lock", "_pending", "_pool", "device", "__weakref__")

    def allocate(self, nbytes: int) -> Block:
        """A block of at least ``nbytes`` bytes, 64-byte aligned.

        Raises:
            PoolExhausted: a limit of this stack would be exceeded.
            AllocationFailed: the upstream has no memory left, even after
                the pool released its cache.
        """
        lock = self._lock                     # a TokenLock, inlined: see lock.py
        try:
            lock.pop()
        except IndexError:
            wait_for(lock)
        try:
            block = self._allocate(nbytes)
        finally:
            lock.append(True)
        block._owner = self
        if self._pending:
            drain(self)
        # Reading the bus's table directly keeps the no-listener path at one
        # truth test; has_listeners() decides per kind in _notify_alloc.
        if LISTENERS:
            self._notify_alloc(block)
        return block

    def deallocate(self, block: Block) -> None:
        """Give ``block`` back (what ``block.free()`` does).

        Raises:
            InvalidOperation: double free, or a block of another resource.
        """
        if block._owner is not self and block._slab is not None:
            raise foreign_block(block, self)
        block.free()

    def compact(self) -> int:
        """Release every cached block to the upstream; returns the bytes released."""
        with self._lock:
            release_parked(self)
            released = self._pool._release_cached(None)
        return released

    def available(self) -> int:
        """Bytes this stack could still hand out, approximately (read live)."""
        with self._lock:
            return self._available()

    # -- internals ----------------------------------------------------------------
    def _notify_alloc(self, block: Block) -> None:
        misses = self._pool._miss_log
        while misses:
            nbytes, size = misses.pop()
            if _events.has_listeners("pool_miss"):
                _events.emit("pool_miss", nbytes=nbytes, size=size, device=str(self.device))
        if _events.has_listeners("alloc"):
            _events.emit("alloc", nbytes=block.nbytes, device=str(block.device), ptr=block.ptr)

