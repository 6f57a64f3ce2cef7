"""Adaptors layered over a resource: a byte limit, and statistics.

Both share the lock of the resource they wrap (see :mod:`.resource`), so a
default stack ``StatisticsAdaptor(LimitingAdaptor(PoolMemoryResource(...)))``
takes one lock per allocation, not three.

Example:
    >>> from langone.tensor.memory import (PoolMemoryResource, LimitingAdaptor,
    ...                                    StatisticsAdaptor)
    >>> stack = StatisticsAdaptor(LimitingAdaptor(PoolMemoryResource(), "1MiB"))
    >>> block = stack.allocate(1000)
    >>> stack.stats().in_use, stack.stats().allocation_count
    (1000, 1)
    >>> block.free()
"""

from __future__ import annotations

from ...errors import PoolExhausted
from .block import LISTENERS, Block, drain, release_parked
from .lock import wait_for
from .pool import PoolMemoryResource, _negative
from .resource import MemoryResource
from .sizes import parse_size
from .stats import MemoryPoolStats

#: "No limit": large enough never to bind, and an int, so the check stays one compare.
UNLIMITED = 1 << 62


class _Adaptor(MemoryResource):
    """An adaptor forwards to ``inner`` under the lock ``inner`` shares."""

    __slots__ = ("inner",)

    def __init__(self, inner: MemoryResource):
        self.inner = inner
        self.device = inner.device
        self._lock = inner._lock
        self._pending = inner._pending
        self._pool = inner._pool

    def _available(self) -> int:
        return self.inner._available()

    def info(self):
        """The pool's :class:`~langone.tensor.memory.stats.PoolInfo`."""
        return self._pool.info()


class LimitingAdaptor(_Adaptor):
    """Refuses allocations that would take live bytes past ``limit``.

    Bytes are counted as requested (``block.nbytes``), the sizes a memory
    budget is written in; the pool's own rounding is bounded by
    ``MemoryPoolConfig.max_pool_size`` instead.

    Args:
        inner: the resource to limit.
        limit: bytes (int or size string), or None for no limit. Settable later.

    Raises (on allocate):
        PoolExhausted: with the request, what is left and the limit.
    """

    __slots__ = ("_limit", "_used", "_direct")

    def __init__(self, inner: MemoryResource, limit: int | str | None = None):
        super().__init__(inner)
        self._used = 0
        self._direct = 0     # of _used: blocks of this adaptor's own _allocate (not
                             # of a _DefaultStack above it, which counts in _used only)
        self.limit = limit

    @property
    def limit(self) -> int | None:
        return None if self._limit == UNLIMITED else self._limit

    @limit.setter
    def limit(self, value: int | str | None) -> None:
        self._limit = UNLIMITED if value is None else parse_size(value)

    @property
    def used(self) -> int:
        """Bytes of live blocks allocated through this adaptor."""
        return self._used

    def _allocate(self, nbytes: int) -> Block:
        used = self._used + nbytes
        if used > self._limit:
            raise self._exhausted(nbytes)
        block = self.inner._allocate(nbytes)
        self._used = used
        self._direct += nbytes
        return block

    def _deallocate(self, block: Block, slab) -> None:
        self._used -= block.nbytes
        self._direct -= block.nbytes
        self.inner._deallocate(block, slab)

    def _available(self) -> int:
        return min(self._limit - self._used, self.inner._available())

    def _exhausted(self, nbytes: int) -> PoolExhausted:
        return PoolExhausted(nbytes, max(self._limit - self._used, 0), self._limit,
                             device=str(self.device), what="memory limit")

    def __repr__(self) -> str:
        return f"LimitingAdaptor({self.inner!r}, limit={self.limit})"


class StatisticsAdaptor(_Adaptor):
    """Counts what passes through it; :meth:`stats` adds the pool's state.

    Over ``LimitingAdaptor(PoolMemoryResource)``, the default stack, the
    constructor returns :class:`_DefaultStack`, which does the three layers'
    work in one frame.
    """

    __slots__ = ("_in_use", "_peak", "_allocations", "_frees")

    def __new__(cls, inner: MemoryResource):
        if (cls is StatisticsAdaptor and type(inner) is LimitingAdaptor
                and type(inner.inner) is PoolMemoryResource):
            cls = _DefaultStack
        return super().__new__(cls)

    def __init__(self, inner: MemoryResource):
        super().__init__(inner)
        self._in_use = self._peak = self._allocations = self._frees = 0

    def _allocate(self, nbytes: int) -> Block:
        block = self.inner._allocate(nbytes)
        in_use = self._in_use + nbytes
        self._in_use = in_use
        if in_use > self._peak:
            self._peak = in_use
        self._allocations += 1
        return block

    def _deallocate(self, block: Block, slab) -> None:
        self._in_use -= block.nbytes
        self._frees += 1
        self.inner._deallocate(block, slab)

    def stats(self) -> MemoryPoolStats:
        """A :class:`MemoryPoolStats` snapshot, consistent across all its fields."""
        with self._lock:
            release_parked(self)
            info = self._pool._info()
            return MemoryPoolStats(
                in_use=self._live(), reserved=info.reserved, peak=self._peak,
                allocation_count=self._allocations, free_count=self._frees,
                cache_hits=info.cache_hits, cache_misses=info.cache_misses,
                largest_free_block=info.largest_free_block, cached=info.cached,
                device=str(self.device))

    def reset_peak(self) -> None:
        """Start measuring ``peak`` again from the current ``in_use``."""
        with self._lock:
            self._peak = self._live()

    def _live(self) -> int:
        """Bytes of live blocks allocated through this adaptor (lock held)."""
        return self._in_use

    def __repr__(self) -> str:
        return f"StatisticsAdaptor({self.inner!r})"


class _DefaultStack(StatisticsAdaptor):
    """``StatisticsAdaptor(LimitingAdaptor(PoolMemoryResource))``, fused.

    The default stack of every device has exactly this shape, and its
    alloc+free must fit in 1 us. Walking the three layers costs four Python
    frames and ~40 attribute accesses per round trip (~1 us here), so for
    this one shape the constructor of :class:`StatisticsAdaptor` returns
    this subclass, whose ``allocate`` / ``_deallocate`` do the three layers'
    work in one frame each (the size classes of ``PoolMemoryResource._allocate``
    are written out again here; a test pins both to ``MemoryPoolConfig.size_class``).
    Live bytes are counted once: the limiter's ``_used`` (which the limit is
    checked against anyway), less the blocks the limiter handed out by itself.

    Same checks, same counters as seen from ``stats()``: the stateful test in
    ``tests/test_memory_stateful.py`` runs against this class too.
    """

    __slots__ = ("_limiter", "_below")

    def __init__(self, inner: MemoryResource):
        super().__init__(inner)
        self._limiter = inner
        self._below = inner.inner

    def allocate(self, nbytes: int) -> Block:
        # MemoryResource.allocate with Statistics-, Limiting- and
        # PoolMemoryResource._allocate inlined, in that order.
        lock = self._lock
        try:
            lock.pop()
        except IndexError:
            wait_for(lock)
        try:
            limiter = self._limiter
            used = limiter._used + nbytes
            if used > limiter._limit:
                raise limiter._exhausted(nbytes)
            pool = self._below
            if nbytes <= pool._small:
                if nbytes < 0:
                    raise _negative(nbytes)
                size = (nbytes + 63) & -64 or 64
            else:
                mask = pool._big_mask
                size = (nbytes + mask) & ~mask
            cached = pool._free.get(size)
            if cached:
                slab = cached.pop()
                pool._hits += 1
            else:
                slab = pool._refill(size, nbytes)
            limiter._used = used
            if used > self._peak:               # live <= used: only then can it be a peak
                live = used - limiter._direct
                if live > self._peak:
                    self._peak = live
            self._allocations += 1
        finally:
            lock.append(True)
        block = pool._block_cls(slab.ptr, nbytes, slab, self)
        if self._pending:
            drain(self)
        if LISTENERS:
            self._notify_alloc(block)
        return block

    def _deallocate(self, block: Block, slab) -> None:
        self._limiter._used -= block.nbytes
        self._frees += 1
        pool = self._below
        cached = pool._free.get(slab.size)
        if cached is None:                      # a class's first free: keep _sizes sorted
            pool._deallocate(block, slab)
        else:
            cached.append(slab)
            slab.freed_in = pool._epoch

    def _live(self) -> int:
        return self._limiter._used - self._limiter._direct
