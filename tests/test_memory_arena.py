"""Arenas: bump allocation in a context, fallback, escaping blocks, isolation."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from langone.errors import InvalidOperation
from langone.tensor import memory
from langone.tensor.memory import FixedCapacityUpstream, MemoryPoolConfig, defaults

KiB = 1024


@pytest.fixture
def pool():
    """A private default CPU stack for each test, so counts start at zero."""
    saved = dict(defaults._stacks)
    stack = memory.configure("cpu", MemoryPoolConfig(debug=False))
    yield stack
    defaults._stacks.clear()
    defaults._stacks.update(saved)
    defaults._fast.clear()


def test_allocations_in_an_arena_are_bumped_from_one_buffer(pool):
    with memory.arena("64KiB") as a:
        blocks = [memory.allocate(n) for n in (1, 100, 64, 0)]
        assert [b.ptr - blocks[0].ptr for b in blocks] == [0, 64, 192, 256]
        assert a.used == 320 and a.allocations == 4 and a.live_blocks == 4
        assert all(b.ptr % 64 == 0 and b.device == "cpu" for b in blocks)
        np.asarray(blocks[1])[:] = 5                      # host memory, viewable
        assert pool.stats().allocation_count == 1         # only the arena's buffer
    del blocks
    assert a.released and pool.stats().in_use == 0


def test_arena_buffer_returns_to_the_pool_and_is_reused(pool):
    with memory.arena("64KiB"):
        memory.allocate(10)
    with memory.arena("64KiB"):
        memory.allocate(10)
    st = pool.stats()
    assert (st.in_use, st.cache_hits, st.cache_misses) == (0, 1, 1)


def test_freeing_the_top_block_gives_its_space_back(pool):
    with memory.arena("4KiB") as a:
        x = memory.allocate(100)
        y = memory.allocate(100)
        y_ptr = y.ptr
        y.free()
        z = memory.allocate(64)
        assert z.ptr == y_ptr and a.used == 192
        x.free()                                          # not the top: not reclaimed
        assert a.used == 192 and a.live_blocks == 1
        z.free()
        assert a.used == 128
    assert a.released


def test_full_arena_falls_back_to_the_pool(pool):
    with memory.arena("1KiB") as a:
        inside = memory.allocate(1000)
        outside = memory.allocate(100)                    # 1024 + 128 > 1 KiB
        assert a.overflows == 1 and a.overflow_bytes == 100
        assert outside._owner is pool and inside._owner is a
        assert pool.stats().in_use == 1024 + 100
    del inside
    assert a.released and pool.stats().in_use == 100
    outside.free()


def test_block_escaping_the_scope_stays_valid_until_it_dies(pool):
    with memory.arena("8KiB") as a:
        kept = np.asarray(memory.allocate(1000))
        kept[:] = 42
    assert not a.released and a.live_blocks == 1
    reuse = memory.allocate(8 * KiB)                      # must not get the arena buffer
    np.asarray(reuse)[:] = 0
    assert (kept == 42).all()
    assert pool.stats().in_use == 8 * KiB + 8 * KiB
    del kept
    assert a.released and pool.stats().in_use == 8 * KiB
    reuse.free()


def test_arena_blocks_double_free_and_foreign_frees_are_refused(pool):
    with memory.arena("4KiB") as a, memory.arena("4KiB") as b:
        block = memory.allocate(10)
        assert block._owner is b
        with pytest.raises(InvalidOperation, match="was not allocated by"):
            a.deallocate(block)
        block.free()
        with pytest.raises(InvalidOperation, match=r"double free of the block at 0x"):
            block.free()


def test_arena_serves_one_scope_only(pool):
    a = memory.arena("4KiB")
    with pytest.raises(InvalidOperation, match="not entered yet"):
        a.allocate(10)
    with a:
        pass
    with pytest.raises(InvalidOperation, match="already entered"):
        a.__enter__()
    with pytest.raises(InvalidOperation, match="scope is over"):
        a.allocate(10)
    with pytest.raises(InvalidOperation, match="must be >= 0"):
        memory.arena("1KiB").allocate(-1)


def test_nested_arenas_inner_first_then_outer(pool):
    with memory.arena("4KiB") as outer:
        with memory.arena("4KiB") as inner:
            assert memory.allocate(10)._owner is inner
        assert memory.allocate(10)._owner is outer
    assert memory.allocate(10)._owner is pool


def test_arena_is_private_to_its_context(pool):
    owners = []
    with memory.arena("4KiB") as a:
        worker = threading.Thread(target=lambda: owners.append(memory.allocate(10)._owner))
        worker.start()
        worker.join()

        async def task():                               # tasks copy the context: shared
            return memory.allocate(10)._owner
        owners.append(asyncio.run(task()))
    assert owners == [pool, a]


def test_arena_only_serves_its_own_device(pool):
    fake = memory.configure("cuda:3", MemoryPoolConfig(debug=False),
                            upstream=FixedCapacityUpstream("1MiB", "cuda:3"))
    with memory.arena("4KiB") as cpu_arena:
        on_fake = memory.allocate(10, "cuda:3")
        assert on_fake._owner is fake and cpu_arena.allocations == 0
        on_fake.free()
    with memory.arena("4KiB", device="cuda:3") as a:
        block = memory.allocate(10, "cuda:3")
        assert block._owner is a and str(block.device) == "cuda:3"
        assert memory.allocate(10)._owner is pool
    assert "closed, used 64 B, 1 live blocks" in repr(a)
    del block
    assert "released" in repr(a)
