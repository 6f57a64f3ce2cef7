"""Alloc/free sequences (hypothesis state machine) and four threads hammering one stack."""

from __future__ import annotations

import gc
import random
import threading

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition,
                                 rule)

from langone.errors import PoolExhausted
from langone.tensor.memory import (FixedCapacityUpstream, HostUpstream, LimitingAdaptor,
                                   MemoryPoolConfig, PoolMemoryResource, StatisticsAdaptor)

CAPACITY = 256 * 1024


class PoolMachine(RuleBasedStateMachine):
    """Every live block owns its bytes: no overlap, no aliasing, exact accounting."""

    @initialize(debug=st.booleans(), growth=st.sampled_from([1.0, 1.5, 4.0]),
                auto=st.booleans(), block_size=st.sampled_from([64, 256, 4096]),
                max_pool=st.sampled_from([None, 128 * 1024]),
                limit=st.sampled_from([None, 100_000]), nested=st.booleans(),
                interval=st.sampled_from([0.0, 1.0]))
    def build(self, debug, growth, auto, block_size, max_pool, limit, nested, interval):
        self.upstream = FixedCapacityUpstream(CAPACITY, "cuda:0")
        config = MemoryPoolConfig(default_block_size=block_size, growth_factor=growth,
                                  auto_cleanup=auto, max_pool_size=max_pool, debug=debug,
                                  guard_bytes=16, cleanup_interval=interval)
        resource = PoolMemoryResource(self.upstream, config)
        if nested:                  # layer by layer (not the fused stack), limiting twice
            resource = LimitingAdaptor(resource, 120_000)
        self.stack = StatisticsAdaptor(LimitingAdaptor(resource, limit))
        self.live = []              # (block, fill value)
        self.counter = 0

    @rule(nbytes=st.integers(0, 40_000))
    def allocate(self, nbytes):
        try:
            block = self.stack.allocate(nbytes)
        except PoolExhausted as exc:
            assert exc.available < exc.requested     # refusals state an honest shortfall
            return
        assert block.nbytes == nbytes and block.ptr % 64 == 0
        self.counter = self.counter % 250 + 1
        np.asarray(block)[:] = self.counter
        self.live.append((block, self.counter))

    @precondition(lambda self: self.live)
    @rule(index=st.integers(0, 10**6), explicit=st.booleans())
    def free(self, index, explicit):
        block, _ = self.live.pop(index % len(self.live))
        if explicit:
            block.free()
        else:
            del block               # the garbage-collection path
            gc.collect()

    @rule()
    def compact(self):
        self.stack.compact()
        assert self.stack.stats().cached == 0

    @invariant()
    def blocks_are_disjoint_and_intact(self):
        spans = sorted((b.ptr, b.ptr + b.nbytes) for b, _ in self.live)
        assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:]))
        for block, value in self.live:
            view = np.asarray(block)
            assert (view == value).all(), "a live block was overwritten"

    @invariant()
    def stats_are_consistent(self):
        s = self.stack.stats()
        assert s.in_use == sum(b.nbytes for b, _ in self.live)
        assert s.live_blocks == len(self.live)
        assert s.cache_hits + s.cache_misses == s.allocation_count
        assert s.reserved == self.upstream.used >= s.in_use
        assert s.cached <= s.reserved and s.largest_free_block <= s.cached
        assert s.peak >= s.in_use
        assert 0.0 <= s.fragmentation <= 1.0 and 0.0 <= s.efficiency <= 1.0

    def teardown(self):
        if not hasattr(self, "stack"):
            return
        for block, _ in self.live:
            block.free()
        self.live.clear()
        s = self.stack.stats()
        assert s.in_use == 0 and s.live_blocks == 0
        self.stack.compact()
        assert self.upstream.used == 0


PoolMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30,
                                         deadline=None)
TestPoolMachine = PoolMachine.TestCase


def test_four_threads_share_one_stack():
    stack = StatisticsAdaptor(LimitingAdaptor(
        PoolMemoryResource(HostUpstream(), MemoryPoolConfig(debug=False))))
    errors, rounds = [], 1500

    def work(seed: int) -> None:
        rng = random.Random(seed)
        mine = []
        try:
            for i in range(rounds):
                if mine and rng.random() < 0.5:
                    block, value = mine.pop(rng.randrange(len(mine)))
                    if not (np.asarray(block) == value).all():
                        errors.append(f"thread {seed}: block overwritten")
                    if rng.random() < 0.5:
                        block.free()
                    # else: dropped here, returned by garbage collection
                    del block
                else:
                    block = stack.allocate(rng.choice((0, 8, 100, 4096, 5000, 70_000)))
                    value = (seed * 50 + i) % 251 + 1
                    np.asarray(block)[:] = value
                    mine.append((block, value))
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(repr(exc))
        finally:
            mine.clear()

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    s = stack.stats()
    assert s.in_use == 0 and s.allocation_count == s.free_count > 0
    assert s.cache_hits + s.cache_misses == s.allocation_count
    assert s.reserved == s.cached


def test_the_machine_covers_the_fused_default_stack_and_the_layered_ones():
    # StatisticsAdaptor fuses the default shape (see adaptors._DefaultStack);
    # PoolMachine builds both that shape and others, so both paths are checked.
    from langone.tensor.memory import get_pool
    from langone.tensor.memory.adaptors import _DefaultStack

    plain = PoolMemoryResource(HostUpstream(), MemoryPoolConfig(debug=False))
    guarded = PoolMemoryResource(HostUpstream(), MemoryPoolConfig(debug=True))
    assert type(StatisticsAdaptor(LimitingAdaptor(plain))) is _DefaultStack
    assert type(StatisticsAdaptor(LimitingAdaptor(guarded))) is StatisticsAdaptor
    assert type(StatisticsAdaptor(LimitingAdaptor(LimitingAdaptor(plain)))) is StatisticsAdaptor
    assert isinstance(get_pool("cpu"), _DefaultStack)


def test_fused_stack_counts_blocks_its_limiter_hands_out_itself():
    # The fused stack reads live bytes off its limiter; blocks allocated from
    # the limiter directly count against the limit but not in the stack's stats.
    pool = PoolMemoryResource(HostUpstream(), MemoryPoolConfig(debug=False))
    limiter = LimitingAdaptor(pool, 10_000)
    stack = StatisticsAdaptor(limiter)
    direct = limiter.allocate(6000)
    mine = stack.allocate(3000)
    s = stack.stats()
    assert (s.in_use, s.peak, limiter.used) == (3000, 3000, 9000)
    with pytest.raises(PoolExhausted, match="only 1000 B available"):
        stack.allocate(2000)
    direct.free()
    again = stack.allocate(2000)
    mine.free()
    again.free()
    s = stack.stats()
    assert (s.in_use, s.peak, limiter.used) == (0, 5000, 0)
    assert s.allocation_count == s.free_count == 2
    assert s.cache_hits + s.cache_misses == 3          # the pool's: the direct one too
    reuse = stack.allocate(3000)                        # a free-list hit
    reuse.free()
    assert (stack.stats().cache_hits, pool.info().cache_hits) == (1, 1)


@pytest.mark.parametrize("block_size", [64, 256, 4096])
def test_inlined_size_classes_match_the_config(block_size):
    # PoolMemoryResource._allocate and _DefaultStack.allocate each write the
    # size-class rule out for speed; both must agree with MemoryPoolConfig.
    config = MemoryPoolConfig(default_block_size=block_size, debug=False)
    pool = PoolMemoryResource(HostUpstream(), config)
    fused = StatisticsAdaptor(LimitingAdaptor(PoolMemoryResource(HostUpstream(), config)))
    for nbytes in [0, 1, 63, 64, 65, block_size - 1, block_size, block_size + 1,
                   3 * block_size + 5, 100_000]:
        for resource in (pool, fused):
            block = resource.allocate(nbytes)
            assert block._slab.size == config.size_class(nbytes), (resource, nbytes)
            block.free()
