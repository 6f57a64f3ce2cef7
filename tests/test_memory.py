"""Pooled memory: sizes, config, upstreams, pool, adaptors, guards, GC return, events.

Arenas, the GPU memory manager and the stateful / threaded tests live in
test_memory_arena.py, test_memory_manager.py and test_memory_stateful.py.
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langone import events
from langone.errors import (AllocationFailed, CorruptionDetected, DeviceNotFound,
                            InvalidOperation, LangOneError, PoolExhausted)
from langone.tensor import memory
from langone.tensor.devices import Device
from langone.tensor.memory import (FixedCapacityUpstream, HostUpstream, InvalidSize,
                                   LimitingAdaptor, MemoryPoolConfig, MemoryPoolStats,
                                   PoolMemoryResource, StatisticsAdaptor, parse_size)
from langone.tensor.memory.lock import TokenLock

KiB, MiB = 1024, 1024 * 1024


@pytest.fixture
def restore_defaults():
    """Undo configure() calls: put the default stacks back as they were."""
    from langone.tensor.memory import defaults
    saved = dict(defaults._stacks)
    yield
    defaults._stacks.clear()
    defaults._stacks.update(saved)
    defaults._fast.clear()


def stack(upstream=None, limit=None, **config):
    """A fresh statistics(limit(pool(upstream))) stack, debug off unless asked."""
    config.setdefault("debug", False)
    pool = PoolMemoryResource(upstream or HostUpstream(), MemoryPoolConfig(**config))
    return StatisticsAdaptor(LimitingAdaptor(pool, limit))


# --- parse_size -------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("64MB", 64_000_000), ("64MiB", 64 * MiB), ("1.5GB", 1_500_000_000),
    ("512KB", 512_000), ("4096", 4096), ("4 KiB", 4096), ("2gib", 2 * 1024**3),
    (" 7 b ", 7), ("1TB", 10**12), (".5KiB", 512), ("1.5KiB", 1536), (0, 0),
    (np.int64(12), 12),
])
def test_parse_size_accepts_the_documented_forms(text, expected):
    assert parse_size(text) == expected


@given(st.integers(0, 10**6), st.sampled_from(["", "B", "KB", "MB", "GB", "KiB", "MiB",
                                               "GiB", "TiB"]),
       st.sampled_from(["", " "]), st.booleans())
def test_parse_size_is_number_times_unit(n, unit, space, lower):
    text = f"{n}{space}{unit.lower() if lower else unit}"
    factor = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10,
              "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}[unit]
    assert parse_size(text) == n * factor


@pytest.mark.parametrize("bad", ["x", "-5", "64 parsecs", "1.2.3MB", "", "MB", 1.5, True,
                                 None, -1, "64M B"])
def test_parse_size_rejects_with_accepted_forms(bad):
    with pytest.raises(InvalidSize, match=r"byte size.*'64MB'.*'4 KiB'") as info:
        parse_size(bad)
    assert isinstance(info.value, ValueError) and isinstance(info.value, LangOneError)


# --- MemoryPoolConfig -------------------------------------------------------------

def test_config_defaults_and_size_classes():
    cfg = MemoryPoolConfig(debug=False)
    assert (cfg.default_block_size, cfg.max_pool_size, cfg.auto_cleanup,
            cfg.compaction_threshold, cfg.growth_factor, cfg.shrink_factor,
            cfg.cleanup_interval, cfg.guard_bytes) == (4096, None, True, 0.7, 1.5, 0.5, 1.0, 64)
    assert [cfg.size_class(n) for n in (0, 1, 64, 65, 4096, 4097, 10_000)] == \
        [64, 64, 64, 128, 4096, 8192, 12288]
    assert MemoryPoolConfig(max_pool_size="1MiB", default_block_size="64KiB").max_pool_size \
        == MiB


@pytest.mark.parametrize("kwargs, message", [
    ({"default_block_size": 1000}, "power of two"),
    ({"default_block_size": 32}, "power of two >= 64"),
    ({"growth_factor": 0.9}, "growth_factor must be >= 1.0"),
    ({"compaction_threshold": 0.0}, r"compaction_threshold must be in \(0.0, 1.0\]"),
    ({"shrink_factor": 1.0}, r"shrink_factor must be in \[0.0, 1.0\)"),
    ({"guard_bytes": 0}, "guard_bytes must be >= 1"),
    ({"cleanup_interval": -1}, "cleanup_interval must be >= 0 seconds"),
    ({"max_pool_size": "lots"}, "byte size"),
])
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(InvalidOperation, match=message):
        MemoryPoolConfig(**kwargs)


def test_config_is_frozen():
    cfg = MemoryPoolConfig(debug=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.max_pool_size = 10
    assert dataclasses.replace(cfg, max_pool_size="1KiB").max_pool_size == 1024


def test_config_debug_follows_langone_debug(monkeypatch):
    monkeypatch.setenv("LANGONE_DEBUG", "1")
    assert MemoryPoolConfig().debug is True
    monkeypatch.setenv("LANGONE_DEBUG", "0")
    assert MemoryPoolConfig().debug is False


# --- upstreams ----------------------------------------------------------------------

@given(st.integers(0, 100_000))
@settings(max_examples=30)
def test_host_upstream_slabs_are_aligned_and_writable(size):
    up = HostUpstream()
    slab = up.allocate(size)
    assert slab.ptr % 64 == 0 and slab.size == size
    up.write(slab, 0, b"\x01" * min(size, 7))
    assert up.read(slab, 0, min(size, 7)) == b"\x01" * min(size, 7)
    up.deallocate(slab)
    assert slab.handle is None


def test_fixed_capacity_upstream_fails_like_a_full_gpu():
    up = FixedCapacityUpstream("16KiB", device="cuda:2")
    slab = up.allocate(12 * KiB)
    assert str(up.device) == "cuda:2" and up.available() == 4 * KiB
    with pytest.raises(PoolExhausted, match=r"cannot allocate 8.00 KiB: only 4.00 KiB "
                                            r"available in the device memory on cuda:2 "
                                            r"\(limit 16.00 KiB\)") as info:
        up.allocate(8 * KiB)
    assert isinstance(info.value, AllocationFailed)
    assert (info.value.requested, info.value.available, info.value.limit) == \
        (8 * KiB, 4 * KiB, 16 * KiB)
    up.deallocate(slab)
    assert up.used == 0 and up.allocate(16 * KiB).size == 16 * KiB


def test_pool_over_a_fake_device_hands_out_blocks_of_that_device():
    s = stack(FixedCapacityUpstream("1MiB", "cuda:1"))
    block = s.allocate(100)
    assert block.device == Device("cuda:1") and isinstance(block, memory.HostBlock)
    block.free()


def test_cuda_upstream_without_a_gpu_is_device_not_found():
    if Device("cuda:0").is_available():
        pytest.skip("this machine has a GPU: covered by the GPU tests")
    with pytest.raises(DeviceNotFound, match="cuda:0"):
        memory.CudaUpstream(0)
    with pytest.raises(DeviceNotFound, match="cuda:0"):
        memory.allocate(16, "cuda:0")


def test_device_blocks_expose_the_cuda_array_interface():
    cls = memory.block.block_class(memory.DeviceBlock, Device("cuda:0"))
    block = cls(4096, 100, object())
    block._slab = None                   # a hand-made block: keep the finalizer quiet
    assert block.__cuda_array_interface__ == {"shape": (100,), "typestr": "|u1",
                                              "data": (4096, False), "version": 3,
                                              "strides": None}
    assert not hasattr(block, "__array_interface__") and block.device == "cuda:0"
    assert cls(4096, 0, None).__cuda_array_interface__["data"] == (0, False)


@pytest.mark.gpu
def test_cuda_upstream_round_trip_on_a_gpu():
    if not Device("cuda:0").is_available():
        pytest.skip("needs a CUDA GPU")
    s = stack(memory.CudaUpstream(0), debug=True)
    block = s.allocate(1000)
    assert block.ptr % 64 == 0 and "__cuda_array_interface__" in dir(type(block))
    assert block.__cuda_array_interface__["shape"] == (1000,)
    block.free()
    assert s.stats().in_use == 0


# --- the pool -------------------------------------------------------------------------

def test_freed_block_is_reused_from_its_size_class():
    s = stack()
    a = s.allocate(100)
    ptr = a.ptr
    a.free()
    b = s.allocate(128)                  # 100 and 128 share the 128-byte class
    assert b.ptr == ptr and b.nbytes == 128
    st_ = s.stats()
    assert (st_.cache_hits, st_.cache_misses, st_.reserved) == (1, 1, 128)
    b.free()


def test_default_block_size_sets_the_pool_granule():
    s = stack(default_block_size="64KiB")
    small, big = s.allocate(5000), s.allocate(70_000)
    assert s.stats().reserved == 5056 + 128 * KiB      # 64-byte, then 64 KiB granules
    small.free(), big.free()


def test_blocks_are_aligned_and_do_not_overlap():
    s = stack()
    blocks = [s.allocate(n) for n in (0, 1, 63, 64, 65, 4095, 4096, 4097, 70_000)]
    assert all(b.ptr % 64 == 0 for b in blocks)
    spans = sorted((b.ptr, b.ptr + max(b.nbytes, 1)) for b in blocks)
    assert all(end <= nxt for (_, end), (nxt, _) in zip(spans, spans[1:]))
    for b in blocks:
        b.free()


def test_zero_byte_allocation_works():
    s = stack()
    a, b = s.allocate(0), s.allocate(0)
    assert a.nbytes == 0 and a.ptr != b.ptr and a.ptr % 64 == 0
    assert np.asarray(a).shape == (0,)
    a.free(), b.free()
    assert s.stats().in_use == 0


def test_negative_size_is_rejected():
    with pytest.raises(InvalidOperation, match="cannot allocate -1 bytes"):
        stack().allocate(-1)


def test_growth_factor_lets_a_larger_cached_block_serve():
    s = stack(default_block_size=4096)
    big = s.allocate(12 * KiB)
    ptr = big.ptr
    big.free()
    again = s.allocate(8 * KiB)          # 12 KiB <= 8 KiB * 1.5: reused
    assert again.ptr == ptr and s.stats().cache_hits == 1
    again.free()
    exact = stack(growth_factor=1.0)
    big = exact.allocate(12 * KiB)
    big.free()
    other = exact.allocate(8 * KiB)      # exact classes only: a miss
    assert exact.stats().cache_misses == 2
    other.free()


def test_large_block_is_cached_and_reused_warm():
    s = stack()
    a = s.allocate(64 * MiB)
    np.asarray(a)[::4096] = 1            # touch the pages
    ptr = a.ptr
    a.free()
    b = s.allocate(64 * MiB)
    assert b.ptr == ptr and s.stats().reserved == 64 * MiB
    assert np.asarray(b)[4096] == 1      # the same (warm) pages
    b.free()
    assert s.compact() == 64 * MiB and s.stats().reserved == 0


def test_compact_releases_only_cached_blocks():
    up = FixedCapacityUpstream("1MiB")
    s = stack(up)
    keep = s.allocate(10 * KiB)
    for n in (1, 5000, 9000):
        s.allocate(n).free()
    released = s.compact()
    assert released == 64 + 8192 + 12288
    assert up.used == s.stats().reserved == 12288 and s.stats().cached == 0
    keep.free()


def test_max_pool_size_releases_cache_then_raises():
    up = FixedCapacityUpstream("1MiB")
    s = stack(up, max_pool_size="16KiB", auto_cleanup=False)
    s.allocate(8 * KiB).free()           # cached: 8 KiB of the 16
    held = s.allocate(12 * KiB)          # needs the cache released first
    assert up.used == 12 * KiB and s.stats().cached == 0
    with pytest.raises(PoolExhausted, match=r"cannot allocate 8.00 KiB: only 4.00 KiB "
                                            r"available in the memory pool on cuda:0 "
                                            r"\(limit 16.00 KiB\)"):
        s.allocate(8 * KiB)
    held.free()


def test_upstream_failure_releases_cache_and_retries_once():
    up = FixedCapacityUpstream("16KiB")
    s = stack(up, auto_cleanup=False)
    s.allocate(8 * KiB).free()
    block = s.allocate(12 * KiB)         # fails upstream (8 + 12 > 16), then succeeds
    assert up.allocations == 2 and s.stats().reserved == 12 * KiB
    with pytest.raises(PoolExhausted, match="device memory on cuda:0"):
        s.allocate(8 * KiB)              # nothing cached left to release: fails
    assert s.stats().allocation_count == 2   # failed requests are not counted
    block.free()


def _stale_cache(**config):
    """A pool holding 40 KiB idle since before the last trim, and 64 KiB freed since."""
    config.setdefault("cleanup_interval", 0.0)
    s = stack(FixedCapacityUpstream("1MiB"), **config)
    blocks = [s.allocate(n * 4 * KiB) for n in (1, 2, 3, 4)]    # 40 KiB in 4 classes
    for b in blocks:
        b.free()
    s.allocate(64 * KiB).free()          # a miss: a trim ends the epoch, nothing stale yet
    return s


def test_auto_cleanup_trims_only_stale_blocks_on_a_later_miss():
    s = _stale_cache()
    held = s.allocate(128 * KiB)         # 100% idle > 70%: release stale ones, largest first
    info = s.info()
    assert info.cached == 64 * KiB and info.reserved == 192 * KiB     # the 64 KiB stays
    held.free()


@pytest.mark.parametrize("config, cached_after", [
    ({"auto_cleanup": False}, 104 * KiB),                  # never trims by itself
    ({"compaction_threshold": 1.0}, 104 * KiB),            # 100% idle is not > 1.0
    ({"cleanup_interval": 3600.0}, 104 * KiB),             # the epoch is not over
    ({"shrink_factor": 0.9}, 88 * KiB),                    # releases >= 10.4 KiB: the 16
    ({"shrink_factor": 0.0}, 64 * KiB),                    # every stale block
])
def test_cleanup_settings_change_the_trim(config, cached_after):
    s = _stale_cache(**config)
    held = s.allocate(128 * KiB)
    assert s.info().cached == cached_after
    held.free()


def test_blocks_reused_every_epoch_are_never_trimmed():
    s = stack(cleanup_interval=0.0)
    big = s.allocate(64 * MiB)
    ptr = big.ptr
    big.free()
    for i in range(1, 6):                # each round: reuse the big block, then miss
        s.allocate(64 * MiB).free()
        s.allocate(i * 8 * KiB).free()
    again = s.allocate(64 * MiB)
    st_ = s.stats()
    assert again.ptr == ptr and st_.cache_misses == 6
    # The one-off blocks were trimmed once idle through a whole epoch: all but
    # the last two rounds' (32 and 40 KiB).
    assert st_.cached == 72 * KiB
    again.free()


def test_pool_info_and_repr():
    pool = PoolMemoryResource(HostUpstream(), MemoryPoolConfig(debug=False))
    pool.allocate(100).free()
    info = pool.info()
    assert (info.reserved, info.cached, info.cached_blocks, info.largest_free_block,
            info.cache_misses, info.peak_reserved) == (128, 128, 1, 128, 1, 128)
    assert "reserved=128 B" in repr(pool)


# --- blocks: freeing, errors, GC --------------------------------------------------------

def test_double_free_names_the_block():
    s = stack()
    block = s.allocate(4 * KiB)
    block.free()
    assert block.freed
    with pytest.raises(InvalidOperation, match=rf"double free of the block at "
                                               rf"0x{block.ptr:x} \(4.00 KiB on cpu\)"):
        block.free()


def test_foreign_block_is_refused():
    a, b = stack(), stack()
    block = a.allocate(10)
    with pytest.raises(InvalidOperation, match="was not allocated by"):
        b.deallocate(block)
    block.free()


def test_numpy_view_keeps_the_block_until_it_dies():
    s = stack()
    view = np.asarray(s.allocate(1000))
    assert isinstance(view.base, memory.Block) and view.base.nbytes == 1000
    view[:] = 7
    assert s.stats().in_use == 1000
    part = view[10:20]                   # a view of the view keeps it alive too
    del view
    assert s.stats().in_use == 1000 and part.sum() == 70
    del part
    st_ = s.stats()
    assert (st_.in_use, st_.free_count) == (0, 1)


def test_block_collected_while_the_lock_is_held_is_parked_then_returned():
    s = stack()
    block = s.allocate(100)
    s._lock.acquire()                    # as if a collection ran inside the pool
    del block
    gc.collect()
    assert len(s._pending) == 1
    s._lock.release()
    assert s.stats().in_use == 0 and not s._pending


def test_explicit_free_from_another_thread_while_locked_is_deferred():
    s = stack()
    block = s.allocate(100)
    s._lock.acquire()
    worker = threading.Thread(target=block.free)
    worker.start()
    worker.join()                        # returned at once: frees never block
    assert block.freed and len(s._pending) == 1
    s._lock.release()
    s.allocate(1).free()                 # the next operation drains the parked block
    assert s.stats().in_use == 0


def test_blocks_alive_at_interpreter_exit_are_harmless():
    code = ("import numpy as np\nfrom langone.tensor import memory\n"
            "v = np.asarray(memory.allocate(100)); b = memory.allocate(10)\n"
            "c = memory.get_pool().allocate(5); c.free()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "Exception" not in done.stderr, done.stderr


# --- adaptors -------------------------------------------------------------------------

def test_limiting_adaptor_refuses_past_its_limit():
    s = stack(limit="10KiB")
    limiter = s.inner
    held = s.allocate(8 * KiB)
    with pytest.raises(PoolExhausted, match=r"cannot allocate 4.00 KiB: only 2.00 KiB "
                                            r"available in the memory limit on cpu "
                                            r"\(limit 10.00 KiB\)") as info:
        s.allocate(4 * KiB)
    assert (info.value.requested, info.value.available, info.value.limit) == \
        (4 * KiB, 2 * KiB, 10 * KiB)
    assert limiter.used == 8 * KiB and s.available() == 2 * KiB
    held.free()
    s.allocate(10 * KiB).free()
    limiter.limit = None
    assert limiter.limit is None and limiter.available() > MiB
    s.allocate(MiB).free()


def test_limiting_adaptor_alone_and_under_statistics_agree():
    pool = PoolMemoryResource(HostUpstream(), MemoryPoolConfig(debug=False))
    alone = LimitingAdaptor(pool, "4KiB")
    block = alone.allocate(3 * KiB)
    with pytest.raises(PoolExhausted, match="only 1.00 KiB available in the memory limit"):
        alone.allocate(2 * KiB)
    assert alone.used == 3 * KiB
    block.free()
    assert alone.used == 0 and alone.available() == 4 * KiB
    over = StatisticsAdaptor(alone)      # shares the limiter's state
    held = over.allocate(3 * KiB)
    assert alone.used == 3 * KiB
    with pytest.raises(PoolExhausted, match="only 1.00 KiB available in the memory limit"):
        over.allocate(2 * KiB)
    held.free()
    assert alone.used == 0 and over.stats().in_use == 0


def test_debug_config_gives_a_guarded_pool():
    guarded = PoolMemoryResource(HostUpstream(), MemoryPoolConfig(debug=True))
    assert type(guarded) is memory.GuardedPoolMemoryResource
    plain = PoolMemoryResource(HostUpstream(), MemoryPoolConfig(debug=False))
    assert type(plain) is PoolMemoryResource


def test_statistics_adaptor_counts_everything():
    s = stack()
    a, b = s.allocate(1000), s.allocate(3000)
    a.free()
    c = s.allocate(1000)                 # hit
    st_ = s.stats()
    assert (st_.in_use, st_.peak, st_.allocation_count, st_.free_count) == (4000, 4000, 3, 1)
    assert (st_.cache_hits, st_.cache_misses, st_.reserved) == (1, 2, 1024 + 3008)
    assert st_.efficiency == pytest.approx(4000 / 4032) and st_.live_blocks == 2
    b.free(), c.free()
    st_ = s.stats()
    assert (st_.in_use, st_.cached, st_.largest_free_block) == (0, 4032, 3008)
    assert st_.fragmentation == pytest.approx(1024 / 4032) and st_.efficiency == 0.0
    s.inner.inner.allocate(10).free()    # traffic that bypasses the statistics layer
    assert s.stats().allocation_count == 3
    s.reset_peak()
    assert s.stats().peak == 0


def test_stats_dataclass_derives_its_ratios_and_reads_well():
    empty = MemoryPoolStats(0, 0, 0, 0, 0, 0, 0, 0)
    assert (empty.efficiency, empty.fragmentation, empty.hit_rate) == (1.0, 0.0, 1.0)
    s = MemoryPoolStats(in_use=1536, reserved=2048, peak=4096, allocation_count=4,
                        free_count=2, cache_hits=3, cache_misses=1, largest_free_block=256,
                        cached=512, device="cuda:0")
    text = str(s)
    assert "memory pool on cuda:0" in text and "1.50 KiB in 2 blocks" in text
    assert "efficiency 75%" in text and "hit rate 75%" in text
    assert "fragmentation 50%" in text


# --- debug guards ---------------------------------------------------------------------

def _poke(address: int) -> None:
    ctypes.memset(address, 0, 1)


def test_guards_catch_a_write_past_the_end():
    s = stack(debug=True)
    block = s.allocate(100)
    _poke(block.ptr + 100)
    with pytest.raises(CorruptionDetected, match=rf"block at 0x{block.ptr:x} \(100 B on "
                                                 rf"cpu\).*after it \(nearest at offset "
                                                 rf"100, its size being 100\)"):
        block.free()
    assert s.stats().in_use == 0         # the block was still given back


def test_guards_catch_a_write_before_the_start():
    s = stack(debug=True)
    block = s.allocate(64)
    _poke(block.ptr - 1)
    with pytest.raises(CorruptionDetected, match=r"guard bytes before it \(nearest at "
                                                 r"offset -1\) were overwritten"):
        block.free()


def test_guards_report_both_sides_and_pass_clean_blocks():
    s = stack(debug=True)
    clean = s.allocate(10)
    np.asarray(clean)[:] = 0             # writing inside the block is fine
    clean.free()
    block = s.allocate(10)
    _poke(block.ptr - 64), _poke(block.ptr + 10)
    with pytest.raises(CorruptionDetected, match="before it .* and after it"):
        block.free()


def test_guard_bytes_setting_sizes_both_guards():
    s = stack(debug=True, guard_bytes=200)
    block = s.allocate(1000)
    assert block.ptr - block._slab.ptr == 256 and block.ptr % 64 == 0
    _poke(block.ptr + 1000 + 199)        # the last guard byte
    with pytest.raises(CorruptionDetected, match="offset 1199"):
        block.free()


def test_corruption_found_by_the_collector_is_a_warning():
    s = stack(debug=True)
    block = s.allocate(32)
    _poke(block.ptr + 32)
    with pytest.warns(RuntimeWarning, match="CorruptionDetected: .*after it"):
        del block
        gc.collect()
    assert s.stats().in_use == 0


# --- events ---------------------------------------------------------------------------

def test_alloc_free_and_miss_events_are_emitted_when_listened_to():
    seen = []
    offs = [events.subscribe(kind, seen.append) for kind in ("alloc", "free", "pool_miss")]
    try:
        s = stack()
        block = s.allocate(100)
        block.free()
        s.allocate(100).free()           # a hit: no pool_miss
    finally:
        for off in offs:
            off()
    kinds = [e.kind for e in seen]
    assert kinds == ["pool_miss", "alloc", "free", "alloc", "free"]
    miss, alloc = seen[0], seen[1]
    assert (miss.nbytes, miss.size, miss.device) == (100, 128, "cpu")
    assert (alloc.nbytes, alloc.device, alloc.ptr) == (100, "cpu", block.ptr)
    assert not s.inner.inner._miss_log


# --- the default stacks -------------------------------------------------------------------

def test_default_stack_is_layered_and_shared_across_device_spellings():
    pool = memory.get_pool()
    assert isinstance(pool, StatisticsAdaptor) and isinstance(pool.inner, LimitingAdaptor)
    assert isinstance(pool.inner.inner, PoolMemoryResource)
    assert memory.get_pool("cpu") is memory.get_pool(Device("cpu")) is pool


def test_allocate_contract_for_the_tensor():
    before = memory.get_pool().stats().in_use
    block = memory.allocate(np.int64(256), Device("cpu"))
    assert block.nbytes == 256 and block.ptr % 64 == 0 and block.device == "cpu"
    assert block.__array_interface__ == {"shape": (256,), "typestr": "|u1",
                                         "data": (block.ptr, False), "version": 3}
    assert memory.get_pool().stats().in_use == before + 256
    view = np.asarray(block)
    assert view.ctypes.data == block.ptr and view.base is block
    del block, view
    assert memory.get_pool().stats().in_use == before


def test_configure_and_set_limit_replace_the_default(restore_defaults):
    old = memory.get_pool()
    survivor = memory.allocate(100)
    new = memory.configure("cpu", MemoryPoolConfig(debug=False), limit="1KiB")
    assert memory.get_pool() is new is not old
    with pytest.raises(PoolExhausted, match="limit 1.00 KiB"):
        memory.allocate(2 * KiB)
    memory.set_limit("4KiB")
    memory.allocate(2 * KiB).free()
    before = old.stats().in_use
    survivor.free()                      # goes back to the stack that made it
    assert old.stats().in_use == before - 100


def test_token_lock_waits_for_its_holder():
    lock = TokenLock()
    lock.acquire()
    got = []
    worker = threading.Thread(target=lambda: (lock.acquire(), got.append(1), lock.release()))
    worker.start()
    worker.join(0.05)
    assert not got and lock.locked()
    lock.release()
    worker.join()
    assert got == [1] and not lock.locked()
    with pytest.raises(RuntimeError, match="not held"):
        lock.release()


def test_allocate_accepts_every_device_spelling_and_caches_only_names(restore_defaults):
    import langone as lo
    from langone.tensor.devices import Device
    from langone.tensor.memory import defaults
    t = lo.zeros(4)
    for spec in ("cpu", Device("cpu"), t):          # a Tensor: its device
        block = memory.allocate(64, spec)
        assert block.device == "cpu"
        block.free()
    assert memory.get_pool(t) is memory.get_pool("cpu") is memory.get_pool(Device("cpu"))
    assert all(type(key) in (str, Device) for key in defaults._fast)   # t not kept alive
