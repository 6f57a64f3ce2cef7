"""Snapshots of a memory stack: :class:`MemoryPoolStats` and :class:`PoolInfo`.

Example:
    >>> s = MemoryPoolStats(in_use=3072, reserved=4096, peak=4096, allocation_count=3,
    ...                     free_count=1, cache_hits=1, cache_misses=2,
    ...                     largest_free_block=1024, cached=1024)
    >>> s.efficiency, s.fragmentation, s.live_blocks
    (0.75, 0.0, 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import format_bytes


@dataclass(frozen=True)
class PoolInfo:
    """What a :class:`~langone.tensor.memory.pool.PoolMemoryResource` holds.

    Attributes:
        reserved: bytes held from the upstream (handed out plus cached).
        cached: bytes of free blocks kept for reuse.
        cached_blocks: how many free blocks are kept.
        largest_free_block: size of the largest cached block.
        cache_hits / cache_misses: requests served from the cache / the upstream.
        peak_reserved: the most bytes ever reserved at once.
    """

    reserved: int
    cached: int
    cached_blocks: int
    largest_free_block: int
    cache_hits: int
    cache_misses: int
    peak_reserved: int


@dataclass(frozen=True)
class MemoryPoolStats:
    """Counters of a statistics adaptor plus its pool's state, taken atomically.

    Attributes:
        in_use: bytes requested by blocks now live (sizes as asked, unrounded).
        reserved: bytes the pool holds from its upstream.
        peak: the highest ``in_use`` seen.
        allocation_count / free_count: blocks handed out / given back.
        cache_hits / cache_misses: allocations served from the pool's cache /
            that had to go to the upstream.
        largest_free_block: the largest cached block, in bytes.
        fragmentation: 1 - largest_free_block / cached: 0 when the cache is
            one block (or empty), near 1 when it is many small pieces.
        efficiency: in_use / reserved (1.0 when nothing is reserved); what
            rounding, debug guards and caching cost shows up as its shortfall.
        cached: bytes of cached free blocks.
        device: the device of the pool, by name.
    """

    in_use: int
    reserved: int
    peak: int
    allocation_count: int
    free_count: int
    cache_hits: int
    cache_misses: int
    largest_free_block: int
    fragmentation: float = field(default=-1.0)
    efficiency: float = field(default=-1.0)
    cached: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        # Derived fields are computed here so that every snapshot agrees with itself.
        if self.fragmentation < 0:
            frag = 1.0 - self.largest_free_block / self.cached if self.cached else 0.0
            object.__setattr__(self, "fragmentation", frag)
        if self.efficiency < 0:
            eff = self.in_use / self.reserved if self.reserved else 1.0
            object.__setattr__(self, "efficiency", eff)

    @property
    def live_blocks(self) -> int:
        return self.allocation_count - self.free_count

    @property
    def hit_rate(self) -> float:
        """Fraction of allocations served from the cache (1.0 before any)."""
        total = self.cache_hits + self.cache_misses
        return self.cache_hits / total if total else 1.0

    def __str__(self) -> str:
        fb = format_bytes
        return "\n".join([
            f"memory pool on {self.device}",
            f"  in use      {fb(self.in_use)} in {self.live_blocks} blocks "
            f"(peak {fb(self.peak)})",
            f"  reserved    {fb(self.reserved)}, {fb(self.cached)} of it cached "
            f"(efficiency {self.efficiency:.0%})",
            f"  traffic     {self.allocation_count} allocations, {self.free_count} frees; "
            f"cache hits {self.cache_hits}, misses {self.cache_misses} "
            f"(hit rate {self.hit_rate:.0%})",
            f"  free blocks largest {fb(self.largest_free_block)}, "
            f"fragmentation {self.fragmentation:.0%}",
        ])
