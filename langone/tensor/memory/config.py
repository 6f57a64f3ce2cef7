"""How a :class:`~langone.tensor.memory.pool.PoolMemoryResource` behaves.

Example:
    >>> cfg = MemoryPoolConfig(max_pool_size="1GiB", growth_factor=1.25)
    >>> cfg.max_pool_size, cfg.size_class(5000), cfg.size_class(100)
    (1073741824, 8192, 128)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ... import config as _global_config
from ...errors import InvalidOperation
from .sizes import parse_size

#: Every block starts on a multiple of this many bytes (a cache line; AVX-512 loads).
ALIGNMENT = 64


@dataclass(frozen=True)
class MemoryPoolConfig:
    """Settings of one caching pool; every field changes what the pool does.

    Frozen: a pool reads its settings once, so changing them afterwards
    could only half-apply. Make a new pool (``dataclasses.replace(cfg, ...)``,
    or ``memory.configure``) instead.

    Attributes:
        default_block_size: granule of the size classes (a power of two >= 64;
            sizes like "4KiB" are accepted). Requests up to it are rounded up
            to a multiple of 64 bytes, larger ones to a multiple of it, and
            each rounded size has its own free list of cached blocks.
        max_pool_size: most bytes the pool may hold from its upstream (live
            plus cached), or None for no limit. A request that would go past
            it first releases cached blocks, then raises ``PoolExhausted``.
        auto_cleanup: trim the cache on its own, releasing blocks that sat
            unused for a while. Off, cached blocks are released only by
            ``compact()``, by ``max_pool_size`` pressure or when the upstream
            runs out. Trims happen on cache misses only: a workload whose
            requests all hit the cache keeps its blocks, warm.
        compaction_threshold: a trim releases anything only while more than
            this fraction of the reserved bytes sits unused in the cache.
        growth_factor: reuse tolerance: a request that finds no cached block
            of its own size class takes the smallest cached block at most
            ``growth_factor`` times larger (1.0: exact classes only). Larger
            values reuse more and waste more (up to 1 - 1/growth_factor of a
            block).
        shrink_factor: a trim releases stale cached blocks, largest first,
            until the cache holds at most ``shrink_factor`` of what it held
            (0.0: every stale block).
        cleanup_interval: seconds between trims (checked on misses). A
            block is stale, and may be trimmed, once it has sat in the cache
            through a whole interval; blocks reused more often than that are
            never trimmed, so a loop that reuses a 64 MiB block keeps it.
        debug: put guard bytes before and after every block and check them
            when the block is freed (``CorruptionDetected``). Defaults to the
            ``LANGONE_DEBUG`` environment variable.
        guard_bytes: size of the guard after each block in debug mode; the
            guard before it is this rounded up to 64 so that blocks stay aligned.
    """

    default_block_size: int = 4096
    max_pool_size: int | None = None
    auto_cleanup: bool = True
    compaction_threshold: float = 0.7
    growth_factor: float = 1.5
    shrink_factor: float = 0.5
    cleanup_interval: float = 1.0
    debug: bool = field(default_factory=_global_config.debug)
    guard_bytes: int = 64

    def __post_init__(self) -> None:
        # Sizes may be given as strings ("4KiB"); store them as ints.
        normalize = object.__setattr__              # the dataclass is frozen
        normalize(self, "default_block_size", parse_size(self.default_block_size))
        bs = self.default_block_size
        if bs < ALIGNMENT or bs & (bs - 1):
            raise InvalidOperation(
                f"default_block_size must be a power of two >= {ALIGNMENT}, got {bs}; "
                f"try 4096 (a page) or 65536")
        if self.max_pool_size is not None:
            normalize(self, "max_pool_size", parse_size(self.max_pool_size))
        _check_range("compaction_threshold", self.compaction_threshold, 0.0, 1.0,
                     "a fraction of the reserved bytes, e.g. 0.7", low_open=True)
        _check_range("shrink_factor", self.shrink_factor, 0.0, 1.0,
                     "the fraction of the cache a trim keeps, e.g. 0.5", high_open=True)
        if not self.cleanup_interval >= 0.0:
            raise InvalidOperation(f"cleanup_interval must be >= 0 seconds, got "
                                   f"{self.cleanup_interval}; try 1.0")
        if not self.growth_factor >= 1.0:
            raise InvalidOperation(
                f"growth_factor must be >= 1.0 (how much larger a reused cached block "
                f"may be than the request), got {self.growth_factor}; try 1.5")
        normalize(self, "guard_bytes", parse_size(self.guard_bytes))
        if self.guard_bytes < 1:
            raise InvalidOperation(f"guard_bytes must be >= 1, got {self.guard_bytes}; "
                                   f"try 64")

    def size_class(self, nbytes: int) -> int:
        """The rounded size a request of ``nbytes`` is served with (debug guards aside)."""
        if nbytes <= self.default_block_size:
            return max(-(-nbytes // ALIGNMENT) * ALIGNMENT, ALIGNMENT)
        return -(-nbytes // self.default_block_size) * self.default_block_size

    @property
    def front_guard(self) -> int:
        """Bytes of guard before a block in debug mode (a multiple of 64)."""
        return -(-self.guard_bytes // ALIGNMENT) * ALIGNMENT


def _check_range(name: str, value: float, low: float, high: float, meaning: str,
                 low_open: bool = False, high_open: bool = False) -> None:
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below):
        lo_b = "(" if low_open else "["
        hi_b = ")" if high_open else "]"
        raise InvalidOperation(f"{name} must be in {lo_b}{low}, {high}{hi_b} ({meaning}), "
                               f"got {value}")
