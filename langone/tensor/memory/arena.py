"""Arenas: bump allocation for temporaries, released as a whole.

Inside ``with arena(size) as a:``, :func:`~langone.tensor.memory.allocate`
calls of this thread / asyncio task (a ``contextvars`` context) for the
arena's device take consecutive 64-byte aligned slices of one pool block
instead of going to the pool one by one.

Rules, chosen so that no block can ever be used after its memory is reused:

- When the arena is full, allocations fall back to the pool (counted in
  ``overflows``) rather than failing: an arena is a speed-up, not a limit.
- Freeing the most recent block gives its space back to the bump pointer
  (stack-like temporaries reuse memory); other freed space is reclaimed only
  when the whole arena is.
- The arena's buffer goes back to the pool when the scope has exited AND
  every block cut from it is dead. A block that escapes the scope stays
  valid as long as it lives, and keeps the buffer reserved meanwhile.
- Blocks cut from the buffer are not pool allocations: they emit no
  "alloc"/"free" events and do not appear in the pool's statistics (the
  buffer does, as one block).

Example:
    >>> from langone.tensor import memory
    >>> with memory.arena("1MiB") as a:
    ...     x = memory.allocate(1000)
    ...     y = memory.allocate(1000)
    ...     y.ptr - x.ptr, a.used
    (1024, 2048)
    >>> del x, y
    >>> a.released
    True
"""

from __future__ import annotations

from ...errors import InvalidOperation, format_bytes
from ..devices import Device, device as as_device
from .block import Block, drain, foreign_block
from .defaults import active_arena, get_pool, open_arenas
from .lock import TokenLock, wait_for
from .sizes import parse_size


class Arena:
    """A bump allocator over one pool block; use it through :func:`arena`.

    Attributes:
        capacity: bytes of the buffer.
        device: its device.
        used: bytes now bumped past (64-byte granules).
        peak: the most bytes ever used at once.
        allocations: blocks cut from the buffer.
        overflows / overflow_bytes: requests that did not fit and went to the pool.
    """

    __slots__ = ("capacity", "device", "used", "peak", "allocations", "overflows",
                 "overflow_bytes", "_stack", "_buffer", "_base", "_live", "_closed",
                 "_lock", "_pending", "_token", "_block_cls", "__weakref__")

    def __init__(self, size: int | str, device: str | Device = "cpu"):
        self.capacity = parse_size(size)
        self.device = as_device(device)
        self._stack = get_pool(self.device)
        self.used = self.peak = self.allocations = self.overflows = self.overflow_bytes = 0
        self._buffer: Block | None = None
        self._base = 0
        self._live = 0
        self._closed = False
        self._lock = TokenLock()          # the release protocol of resource.py
        self._pending: list = []
        self._token = None
        self._block_cls = None

    # -- scope ----------------------------------------------------------------------
    def __enter__(self) -> "Arena":
        if self._buffer is not None or self._closed:
            raise InvalidOperation("this arena was already entered; an arena serves one "
                                   "scope: make a new one with memory.arena(size)")
        self._buffer = self._stack.allocate(self.capacity)
        self._base = self._buffer.ptr
        self._block_cls = type(self._buffer)
        self._token = active_arena.set(self)
        open_arenas.append(None)
        return self

    def __exit__(self, *exc_info) -> None:
        active_arena.reset(self._token)
        open_arenas.pop()
        with self._lock:
            self._closed = True
            buffer = self._take_buffer_if_done()
        if self._pending:
            drain(self)
        if buffer is not None:
            buffer.free()

    # -- allocation -----------------------------------------------------------------
    def allocate(self, nbytes: int) -> Block:
        """A block cut from the buffer, or from the pool when it does not fit."""
        if nbytes < 0:
            raise InvalidOperation(f"cannot allocate {nbytes} bytes: a size must be >= 0")
        size = (nbytes + 63) & -64 or 64
        lock = self._lock
        try:
            lock.pop()
        except IndexError:
            wait_for(lock)
        try:
            open_ = self._buffer is not None and not self._closed
            offset = self.used
            fits = open_ and offset + size <= self.capacity
            if fits:
                self.used = offset + size
                self._live += 1
                self.allocations += 1
                if self.used > self.peak:
                    self.peak = self.used
            elif open_:
                self.overflows += 1
                self.overflow_bytes += nbytes
        finally:
            lock.append(True)
        if self._pending:
            drain(self)
        if not open_:
            raise InvalidOperation("this arena's scope is over (or not entered yet); "
                                   "allocate inside 'with memory.arena(size):'")
        if not fits:
            return self._stack.allocate(nbytes)
        block = self._block_cls(self._base + offset, nbytes, self)
        block._owner = self
        return block

    def deallocate(self, block: Block) -> None:
        """Give back a block of this arena (``block.free()`` does this)."""
        if block._owner is not self and block._slab is not None:
            raise foreign_block(block, self)
        block.free()

    def _deallocate(self, block: Block, slab) -> None:
        # Lock held (see resource.py). Freeing the buffer here cannot deadlock:
        # frees never block, they park when the pool's lock is busy.
        self._live -= 1
        start = block.ptr - self._base
        if start + ((block.nbytes + 63) & -64 or 64) == self.used:
            self.used = start                   # the top block: its space is free again
        buffer = self._take_buffer_if_done()
        if buffer is not None:
            buffer.free()

    def _take_buffer_if_done(self) -> Block | None:
        # Lock held. Exactly one caller gets the buffer back to free it.
        if self._closed and self._live == 0 and self._buffer is not None:
            buffer, self._buffer = self._buffer, None
            return buffer
        return None

    # -- state ------------------------------------------------------------------------
    @property
    def live_blocks(self) -> int:
        """Blocks cut from the buffer and not yet freed."""
        return self._live

    @property
    def released(self) -> bool:
        """Whether the buffer went back to the pool (scope over, all blocks dead)."""
        return self._closed and self._buffer is None

    def __repr__(self) -> str:
        state = "released" if self.released else "closed" if self._closed else "open"
        return (f"Arena({format_bytes(self.capacity)} on {self.device}, {state}, "
                f"used {format_bytes(self.used)}, {self._live} live blocks, "
                f"{self.overflows} overflows)")


def arena(size: int | str, device: str | Device = "cpu") -> Arena:
    """A context manager bump-allocating this context's temporaries on ``device``.

    Args:
        size: bytes of the arena's buffer ("64MB" etc. accepted).
        device: which allocations it serves; others go to their pools.

    Example:
        >>> from langone.tensor import memory
        >>> with memory.arena("64KB") as a:
        ...     tmp = memory.allocate(100_000)       # larger than the arena: pool
        >>> a.overflows
        1
    """
    return Arena(size, device)
