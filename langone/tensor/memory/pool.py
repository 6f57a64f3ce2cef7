"""The caching pool: size classes, per-class free lists, one lock.

A request is rounded to its size class (see :class:`MemoryPoolConfig`), then
served, in order of preference, by:

1. the free list of its class (a pop: the warm, most recently freed block),
2. the smallest cached block at most ``growth_factor`` times larger,
3. the upstream (a *miss*): first stale blocks are trimmed if the cache is
   mostly idle (``auto_cleanup``, see below), then ``max_pool_size`` is
   enforced by releasing cached blocks, and if the upstream fails the whole
   cache is released and the request retried once.

Trims are rare and aimed: time is cut into epochs of ``cleanup_interval``
seconds (an epoch ends at the first miss after its interval); every cached
slab carries the epoch it was freed in, and at the end of an epoch only the
slabs freed before it began (idle through all of it) may go. Free lists are
LIFO, so those stale slabs are always at the bottom of each list.

Freed blocks go back to the free list of their class and stay there, warm,
until a trim, ``compact()``, ``max_pool_size`` pressure or an upstream
failure releases them; a second 64 MiB tensor reuses the pages of the first.

Example:
    >>> from langone.tensor.memory import PoolMemoryResource, HostUpstream
    >>> pool = PoolMemoryResource(HostUpstream())
    >>> a = pool.allocate(1000); ptr = a.ptr; a.free()
    >>> b = pool.allocate(1000)             # same class: the cached block again
    >>> b.ptr == ptr, pool.info().cache_hits
    (True, 1)
"""

from __future__ import annotations

import time
from bisect import bisect_right, insort

from ...errors import AllocationFailed, CorruptionDetected, InvalidOperation, PoolExhausted
from ...errors import format_bytes
from .block import LISTENERS, Block, Slab, block_class, release_parked
from .config import ALIGNMENT, MemoryPoolConfig
from .lock import TokenLock
from .resource import MemoryResource
from .stats import PoolInfo
from .upstream import HostUpstream

#: Byte written into debug guards; 0xFD is what MSVC's debug heap uses ("no man's land").
GUARD_BYTE = 0xFD


class PoolMemoryResource(MemoryResource):
    """A thread-safe caching pool over an upstream.

    With ``config.debug`` the constructor returns a
    :class:`GuardedPoolMemoryResource` (a subclass), so that the hot path of
    ordinary pools carries no debug test at all.

    Args:
        upstream: where memory comes from (default: :class:`HostUpstream`).
        config: a :class:`MemoryPoolConfig` (default: its defaults).
    """

    __slots__ = ("upstream", "config", "_free", "_sizes", "_reserved", "_hits",
                 "_misses", "_peak_reserved", "_small", "_big_mask", "_fit", "_max",
                 "_epoch", "_next_cleanup",
                 "_front", "_back", "_block_cls", "_miss_log")

    def __new__(cls, upstream=None, config: MemoryPoolConfig | None = None):
        debug = config.debug if config is not None else MemoryPoolConfig().debug
        if cls is PoolMemoryResource and debug:
            cls = GuardedPoolMemoryResource
        return super().__new__(cls)

    def __init__(self, upstream=None, config: MemoryPoolConfig | None = None):
        self.upstream = upstream if upstream is not None else HostUpstream()
        self.config = config if config is not None else MemoryPoolConfig()
        cfg = self.config
        self.device = self.upstream.device
        self._lock = TokenLock()
        self._pending: list = []
        self._pool = self
        self._free: dict[int, list[Slab]] = {}     # size class -> cached slabs (LIFO)
        self._sizes: list[int] = []                # the keys of _free, sorted
        self._reserved = self._peak_reserved = 0
        self._hits = self._misses = 0
        self._small = cfg.default_block_size
        self._big_mask = cfg.default_block_size - 1
        self._fit = cfg.growth_factor
        self._max = cfg.max_pool_size
        self._epoch = 0
        self._next_cleanup = time.monotonic() + cfg.cleanup_interval
        self._front = cfg.front_guard
        self._back = cfg.guard_bytes
        self._block_cls = block_class(self.upstream.block_base, self.device)
        self._miss_log: list[tuple[int, int]] = []   # for "pool_miss" events, if listened to

    # -- the hot path (lock held) --------------------------------------------------
    def _allocate(self, nbytes: int) -> Block:
        if nbytes <= self._small:
            if nbytes < 0:
                raise _negative(nbytes)
            size = (nbytes + 63) & -64 or 64
        else:
            mask = self._big_mask
            size = (nbytes + mask) & ~mask
        slab = self._take(size, nbytes)
        return self._block_cls(slab.ptr, nbytes, slab)

    def _take(self, size: int, nbytes: int) -> Slab:
        """A slab of class ``size``: the warmest cached one, else a refill."""
        cached = self._free.get(size)
        if cached:
            self._hits += 1
            return cached.pop()
        return self._refill(size, nbytes)

    def _deallocate(self, block: Block, slab: Slab) -> None:
        size = slab.size
        cached = self._free.get(size)
        if cached is None:
            self._free[size] = [slab]
            insort(self._sizes, size)
        else:
            cached.append(slab)
        slab.freed_in = self._epoch

    # -- misses ---------------------------------------------------------------------
    def _refill(self, size: int, nbytes: int) -> Slab:
        """A slab for a request whose own free list is empty."""
        slab = self._take_larger(size)
        if slab is not None:
            self._hits += 1
            return slab
        if LISTENERS:
            self._miss_log.append((nbytes, size))
        if self.config.auto_cleanup and time.monotonic() >= self._next_cleanup:
            self._cleanup()
        if self._max is not None and self._reserved + size > self._max:
            self._release_cached(self._reserved + size - self._max)
            if self._reserved + size > self._max:
                raise PoolExhausted(size, self._max - self._reserved, self._max,
                                    device=str(self.device), what="memory pool")
        try:
            slab = self.upstream.allocate(size)
        except AllocationFailed:
            if not self._cached():
                raise
            self._release_cached(None)            # cached memory may be what it lacks
            slab = self.upstream.allocate(size)
        self._misses += 1
        self._reserved += size
        if self._reserved > self._peak_reserved:
            self._peak_reserved = self._reserved
        return slab

    def _cleanup(self) -> int:
        """End the current epoch: trim slabs idle through all of it, if the cache
        is mostly idle; returns the bytes released."""
        cfg = self.config
        stale_before = self._epoch                 # freed in an earlier epoch
        self._epoch += 1
        self._next_cleanup = time.monotonic() + cfg.cleanup_interval
        idle = self._cached()
        if idle <= cfg.compaction_threshold * self._reserved:
            return 0
        return self._release_cached(idle - int(cfg.shrink_factor * idle), stale_before)

    def _take_larger(self, size: int) -> Slab | None:
        """The smallest cached slab of a class in (size, size * growth_factor]."""
        sizes = self._sizes
        limit = size * self._fit
        for i in range(bisect_right(sizes, size), len(sizes)):
            larger = sizes[i]
            if larger > limit:
                break
            cached = self._free[larger]
            if cached:
                return cached.pop()
        return None

    def _release_cached(self, target: int | None, stale_before: int | None = None) -> int:
        """Give cached slabs back upstream, largest classes first, until ``target``
        bytes are released (None: all); returns the bytes released.

        Largest first: each upstream call returns the most memory, and small
        blocks are the ones most likely to be asked for again. Within a class
        the coldest (least recently freed) slabs go first. With
        ``stale_before``, only slabs freed in an earlier epoch may go.
        """
        released = 0
        sizes, free, upstream = self._sizes, self._free, self.upstream
        for i in range(len(sizes) - 1, -1, -1):
            if target is not None and released >= target:
                break
            size = sizes[i]
            cached = free[size]
            count = len(cached)
            if stale_before is not None:
                count = next((k for k, slab in enumerate(cached)
                              if slab.freed_in >= stale_before), count)
            if target is not None:
                count = min(count, -(-(target - released) // size))
            for slab in cached[:count]:
                upstream.deallocate(slab)
            del cached[:count]
            released += count * size
            if not cached:
                del free[size]
                del sizes[i]
        self._reserved -= released
        return released

    def _cached(self) -> int:
        """Bytes in the free lists."""
        # Summed when asked (trims, at most once per cleanup_interval; stats)
        # rather than counted on the hot path, where it would cost ~3% per call.
        return sum(size * len(cached) for size, cached in self._free.items())

    # -- inspection and maintenance ---------------------------------------------------
    def info(self) -> PoolInfo:
        """A consistent snapshot of what the pool holds."""
        with self._lock:
            release_parked(self)
            return self._info()

    def _info(self) -> PoolInfo:
        largest = next((s for s in reversed(self._sizes) if self._free[s]), 0)
        return PoolInfo(self._reserved, self._cached(),
                        sum(len(self._free[s]) for s in self._sizes), largest,
                        self._hits, self._misses, self._peak_reserved)

    def _available(self) -> int:
        cached = self._cached()
        room = cached + self.upstream.available()
        if self._max is not None:
            room = min(room, self._max - self._reserved + cached)
        return max(room, 0)

    def __repr__(self) -> str:
        return (f"PoolMemoryResource({self.upstream!r}, reserved="
                f"{format_bytes(self._reserved)}, cached={format_bytes(self._cached())})")


class GuardedPoolMemoryResource(PoolMemoryResource):
    """A pool in debug mode: guard bytes before and after every block.

    Each block's slab is laid out as ``[front guard][block][back guard]...``
    with the front guard a multiple of 64 (blocks stay aligned). The guards
    are filled with ``GUARD_BYTE`` on allocation and checked on free.

    Raises (on free):
        CorruptionDetected: naming the block and the side(s) overwritten;
            the block is returned to the pool all the same.
    """

    __slots__ = ()

    def _allocate(self, nbytes: int) -> Block:
        if nbytes < 0:
            raise _negative(nbytes)
        front, back = self._front, self._back
        slab = self._take(self.config.size_class(nbytes + front + back), nbytes)
        pattern = bytes((GUARD_BYTE,))
        self.upstream.write(slab, 0, pattern * front)
        self.upstream.write(slab, front + nbytes, pattern * back)
        return self._block_cls(slab.ptr + front, nbytes, slab)

    def _deallocate(self, block: Block, slab: Slab) -> None:
        before = self.upstream.read(slab, 0, self._front)
        after = self.upstream.read(slab, self._front + block.nbytes, self._back)
        super()._deallocate(block, slab)          # the memory itself is fine to reuse
        if before.count(GUARD_BYTE) != len(before) or after.count(GUARD_BYTE) != len(after):
            raise _corruption(block, before, after)


def _negative(nbytes: int) -> InvalidOperation:
    return InvalidOperation(f"cannot allocate {nbytes} bytes: a size must be >= 0")


def _corruption(block: Block, before: bytes, after: bytes) -> CorruptionDetected:
    # Offsets are relative to block.ptr; the changed byte nearest the block is
    # reported on each side, since overruns grow outward from the block's edges.
    sides = []
    changed = [i for i, b in enumerate(before) if b != GUARD_BYTE]
    if changed:
        sides.append(f"before it (nearest at offset {changed[-1] - len(before)})")
    changed = [i for i, b in enumerate(after) if b != GUARD_BYTE]
    if changed:
        sides.append(f"after it (nearest at offset {block.nbytes + changed[0]}, "
                     f"its size being {block.nbytes})")
    return CorruptionDetected(
        f"the block at 0x{block.ptr:x} ({format_bytes(block.nbytes)} on {block.device}) "
        f"was written outside its bounds: guard bytes {' and '.join(sides)} were "
        f"overwritten; look for an out-of-bounds index in the kernel or copy that "
        f"filled it (debug-mode kernels check bounds)")


__all__ = ["PoolMemoryResource", "GuardedPoolMemoryResource", "GUARD_BYTE", "ALIGNMENT"]
