"""GPUMemoryManager over fake devices (FixedCapacityUpstream): placement, exhaustion, stats."""

from __future__ import annotations

import pytest

from langone.dtypes import DataPrecision
from langone.errors import InvalidOperation, PoolExhausted
from langone.tensor import memory
from langone.tensor.devices import Device
from langone.tensor.memory import FixedCapacityUpstream, GPUMemoryManager, MemoryPoolConfig

KiB, MiB = 1024, 1024 * 1024


def manager(**kwargs) -> GPUMemoryManager:
    """cuda:0 with 1 MiB, cuda:1 with 4 MiB."""
    return GPUMemoryManager({"cuda:0": FixedCapacityUpstream("1MiB", "cuda:0"),
                             "cuda:1": FixedCapacityUpstream("4MiB", "cuda:1")},
                            config=MemoryPoolConfig(debug=False), **kwargs)


def test_placement_picks_the_device_with_most_room():
    mm = manager()
    assert mm.devices == [Device("cuda:0"), Device("cuda:1")]
    assert mm.auto_place_tensor((256, 256), "fp32") == "cuda:1"
    assert mm.auto_place_tensor((256, 256), "fp32", preferred="cuda:0") == "cuda:0"
    assert mm.auto_place_tensor(2 * MiB, "uint8", preferred="cuda:0") == "cuda:1"


def test_placement_follows_usage():
    mm = manager()
    held = mm.allocate(3 * MiB + 512 * KiB)               # cuda:1 keeps 0.5 MiB
    assert held.device == "cuda:1"
    assert mm.auto_place_tensor((1000,), "fp64") == "cuda:0"
    assert mm.available("cuda:1") == 512 * KiB
    mm.release(held)
    assert mm.available("cuda:1") == 4 * MiB              # cached memory counts as room


def test_nothing_fits_lists_every_device():
    mm = manager()
    with pytest.raises(PoolExhausted, match=r"cannot allocate 8.00 MiB: only 4.00 MiB "
                                            r"available .* on cuda:0, cuda:1.*\[cuda:0: "
                                            r"1.00 MiB available, cuda:1: 4.00 MiB "
                                            r"available\]"):
        mm.auto_place_tensor((1024, 1024), DataPrecision.FP64)
    with pytest.raises(PoolExhausted, match=r"cuda:1: 4.00 MiB available"):
        mm.allocate(5 * MiB)


def test_allocate_fills_devices_then_exhausts():
    mm = manager()
    blocks = [mm.allocate(512 * KiB) for _ in range(10)]   # 8 fit on cuda:1, 2 on cuda:0
    assert sorted(str(b.device) for b in blocks).count("cuda:0") == 2
    stats = mm.get_device_stats()
    assert set(stats) == {"cuda:0", "cuda:1"}
    assert (stats["cuda:0"].in_use, stats["cuda:1"].in_use) == (1 * MiB, 4 * MiB)
    with pytest.raises(PoolExhausted, match=r"cuda:0: 0 B available, cuda:1: 0 B"):
        mm.allocate(1)
    for b in blocks:
        mm.release(b)
    assert all(s.in_use == 0 for s in mm.get_device_stats().values())
    assert mm.compact() == 5 * MiB


def test_allocate_prefers_the_preferred_device_and_checks_precision():
    mm = manager()
    block = mm.allocate(4000, precision="fp32", preferred_device="cuda:0")
    assert block.device == "cuda:0" and block.nbytes == 4000
    mm.release(block)
    with pytest.raises(InvalidOperation, match=r"4002 bytes is not a whole number of fp32 "
                                               r"elements \(4 bytes each\)"):
        mm.allocate(4002, precision="fp32")


def test_limits_bound_what_a_device_offers():
    mm = manager(limits={"cuda:1": "256KiB"})
    assert mm.available("cuda:1") == 256 * KiB
    assert mm.auto_place_tensor(512 * KiB, "uint8") == "cuda:0"


def test_release_refuses_blocks_it_did_not_allocate():
    mm = manager()
    stranger = memory.allocate(10)
    with pytest.raises(InvalidOperation, match="not allocated by this manager"):
        mm.release(stranger)
    stranger.free()
    with pytest.raises(InvalidOperation, match="cuda:7 is not managed here; managed "
                                               "devices: cuda:0, cuda:1"):
        mm.pool("cuda:7")


def test_upstreams_must_match_their_keys():
    with pytest.raises(InvalidOperation, match="allocates on cuda:1"):
        GPUMemoryManager({"cuda:0": FixedCapacityUpstream("1MiB", "cuda:1")})


def test_default_never_fails():
    mm = GPUMemoryManager.default()
    assert mm.devices
    if not Device("cuda:0").is_available():
        assert mm.devices == [Device("cpu")]
        block = mm.allocate(100)
        assert block.device == "cpu"
        mm.release(block)
