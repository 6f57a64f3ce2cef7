"""Platform profiles: detection rules, the LANGONE_PLATFORM override, defaults."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from langone.errors import LangOneError
from langone.runtime.platform import (InvalidPlatform, PlatformProfile, cloud_provider,
                                      default_config, detect_platform, read_dmi)
from langone.tensor.devices import cpu_info

GiB = 1024 ** 3
IOT, DESKTOP, SERVER, CLOUD = (PlatformProfile.IOT, PlatformProfile.DESKTOP,
                               PlatformProfile.SERVER, PlatformProfile.CLOUD)
RELAXED = settings(max_examples=60, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True)
def no_override(monkeypatch):
    monkeypatch.delenv("LANGONE_PLATFORM", raising=False)


def machine(memory_gib: float, cores: int, arch: str = "x86_64", *,
            logical: int | None = None, limit_gib: float | None = None):
    """A fabricated CPU info (the rest of the fields are this machine's)."""
    return replace(cpu_info(), total_memory=int(memory_gib * GiB), physical_cores=cores,
                   logical_cores=logical or cores, architecture=arch,
                   memory_limit=int(limit_gib * GiB) if limit_gib else None)


AWS = {"sys_vendor": "Amazon EC2", "product_name": "m7i.2xlarge"}
NO_DMI: dict = {}


@pytest.mark.parametrize("info, dmi, expected", [
    (machine(2, 16), NO_DMI, IOT),                       # little RAM
    (machine(4, 8), NO_DMI, IOT),                        # exactly 4 GiB
    (machine(4.01, 8), NO_DMI, DESKTOP),
    (machine(8, 4, "aarch64"), NO_DMI, IOT),             # Raspberry Pi 5
    (machine(8, 4, "armv7l"), NO_DMI, IOT),
    (machine(16, 8, "arm64"), NO_DMI, DESKTOP),          # Apple M-series
    (machine(8, 4, "x86_64"), NO_DMI, DESKTOP),          # a small x86 is no IoT board
    (machine(16, 8), AWS, CLOUD),
    (machine(768, 96), AWS, CLOUD),                      # cloud wins over server
    (machine(2, 2), AWS, IOT),                           # ... but a tiny VM is frugal first
    (machine(32, 16, "aarch64"), {"product_name": "Google Compute Engine"}, CLOUD),
    (machine(32, 16), {"chassis_asset_tag": "7783-7084-3265-9085-8269-3286-77"}, CLOUD),
    (machine(16, 4), {"sys_vendor": "Microsoft Corporation", "product_name": "Surface Pro"},
     DESKTOP),
    (machine(16, 4), {"sys_vendor": "QEMU", "product_name": "Standard PC (Q35)"}, DESKTOP),
    (machine(32, 32), NO_DMI, SERVER),                   # 32 physical cores
    (machine(32, 31), NO_DMI, DESKTOP),
    (machine(32, 16, logical=32), NO_DMI, DESKTOP),      # SMT threads are not cores
    (machine(64, 8), NO_DMI, SERVER),                    # 64 GiB
    (machine(63.9, 8), NO_DMI, DESKTOP),
])
def test_detection_rules(info, dmi, expected):
    assert detect_platform(info, dmi=dmi) is expected


def test_logical_cores_count_when_physical_cores_are_unknown():
    assert detect_platform(replace(machine(32, 1, logical=40), physical_cores=None),
                           dmi=NO_DMI) is SERVER


def test_this_machine_gets_a_profile():
    assert detect_platform() in list(PlatformProfile)


@pytest.mark.parametrize("value, expected", [("iot", IOT), ("Server", SERVER),
                                             (" CLOUD ", CLOUD), ("desktop", DESKTOP)])
def test_env_var_overrides_detection(monkeypatch, value, expected):
    monkeypatch.setenv("LANGONE_PLATFORM", value)
    assert detect_platform(machine(2, 2), dmi=AWS) is expected


def test_empty_env_var_means_detect(monkeypatch):
    monkeypatch.setenv("LANGONE_PLATFORM", "  ")
    assert detect_platform(machine(2, 2), dmi=NO_DMI) is IOT


def test_invalid_env_var_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LANGONE_PLATFORM", "laptop")
    with pytest.raises(InvalidPlatform, match=r"LANGONE_PLATFORM='laptop' is not a platform "
                                              r"profile; set it to one of: iot, desktop, "
                                              r"server, cloud, or unset it"):
        detect_platform(machine(16, 8))
    with pytest.raises(InvalidPlatform):
        default_config()


def test_profiles_parse_and_compare_as_strings():
    assert PlatformProfile.parse("IoT") is IOT and PlatformProfile.parse(SERVER) is SERVER
    assert IOT == "iot" and str(CLOUD) == "cloud" and f"{DESKTOP}" == "desktop"
    with pytest.raises(InvalidPlatform, match=r"'mainframe' is not a platform profile; "
                                              r"use one of: iot, desktop, server, cloud"):
        PlatformProfile.parse("mainframe")
    assert issubclass(InvalidPlatform, LangOneError) and issubclass(InvalidPlatform, ValueError)


@pytest.mark.parametrize("dmi, provider", [
    (AWS, "AWS"), ({"bios_vendor": "Amazon EC2"}, "AWS"), ({"bios_version": "4.11.amazon"}, "AWS"),
    ({"sys_vendor": "Google"}, "Google Cloud"), ({"sys_vendor": "Alibaba Cloud"}, "Alibaba Cloud"),
    ({"chassis_asset_tag": "OracleCloud.com"}, "Oracle Cloud"),
    ({"product_name": "OpenStack Nova"}, "OpenStack"), ({"sys_vendor": "DigitalOcean"},
                                                        "DigitalOcean"),
    ({"sys_vendor": "Hetzner"}, "Hetzner Cloud"),
    ({"sys_vendor": "Dell Inc.", "product_name": "PowerEdge R750"}, None),
    ({"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine"}, None),
    ({}, None),
])
def test_cloud_provider_hints(dmi, provider):
    assert cloud_provider(dmi) == provider


def test_read_dmi_reads_the_fields_that_exist(tmp_path):
    (tmp_path / "sys_vendor").write_text("Amazon EC2\n")
    (tmp_path / "product_name").write_text("c7g.xlarge\n")
    assert read_dmi(tmp_path) == {"sys_vendor": "Amazon EC2", "product_name": "c7g.xlarge"}
    assert cloud_provider(read_dmi(tmp_path)) == "AWS"
    assert read_dmi(tmp_path / "missing") == {}


# --- defaults --------------------------------------------------------------------

POOL_FIELDS = ["default_block_size", "max_pool_size", "auto_cleanup", "compaction_threshold",
               "growth_factor", "shrink_factor"]


def test_iot_defaults_are_small_and_aggressive():
    d = default_config("iot", machine(4, 4, "aarch64"))
    assert d.profile is IOT
    assert d.pool.max_pool_size == GiB                   # 25% of 4 GiB
    assert d.pool.default_block_size == 1024 and d.pool.auto_cleanup
    assert d.pool.compaction_threshold == 0.5 and d.pool.shrink_factor == 0.25
    assert d.memory_budget == 2 * GiB and d.memory_budget_fraction == 0.5
    assert d.warning_threshold == 0.7


def test_desktop_defaults_match_the_pool_defaults():
    d = default_config(DESKTOP, machine(16, 8))
    assert d.pool.as_kwargs() == {"default_block_size": 4096, "max_pool_size": 8 * GiB,
                                  "auto_cleanup": True, "compaction_threshold": 0.7,
                                  "growth_factor": 1.5, "shrink_factor": 0.5}
    assert d.memory_budget == 12 * GiB and d.gpu_budget_fraction == 0.8


def test_server_keeps_memory_and_cloud_gives_it_back():
    info = machine(256, 64)
    server, cloud = default_config(SERVER, info), default_config(CLOUD, info)
    assert server.pool.max_pool_size == 192 * GiB and not server.pool.auto_cleanup
    assert server.pool.growth_factor == 2.0 and server.gpu_budget_fraction == 0.95
    assert cloud.pool.auto_cleanup and cloud.pool.max_pool_size < server.pool.max_pool_size


def test_sizes_follow_the_container_limit():
    d = default_config(SERVER, machine(256, 64, limit_gib=16))
    assert d.pool.max_pool_size == 12 * GiB and d.memory_budget == int(0.85 * 16 * GiB)


def test_default_config_detects_and_honours_the_env_var(monkeypatch):
    assert default_config(info=machine(2, 2)).profile is IOT
    monkeypatch.setenv("LANGONE_PLATFORM", "server")
    d = default_config(info=machine(2, 2))
    assert d.profile is SERVER and d.pool.max_pool_size == int(0.75 * 2 * GiB)
    with pytest.raises(InvalidPlatform, match="'tablet' is not a platform profile"):
        default_config("tablet")


def test_pools_grow_with_the_profile_and_stay_within_budgets():
    info = machine(32, 8)
    order = [default_config(p, info) for p in (IOT, DESKTOP, CLOUD, SERVER)]
    sizes = [d.pool.max_pool_size for d in order]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4
    for d in order:
        assert list(d.pool.as_kwargs()) == POOL_FIELDS
        assert d.pool.max_pool_size <= d.memory_budget <= info.usable_memory
        assert 0 < d.gpu_budget_fraction <= 1 and d.warning_threshold == 0.7
        assert 0 < d.pool.shrink_factor < 1 < d.pool.growth_factor


_RANK = {IOT: 0, DESKTOP: 1, SERVER: 2}


@RELAXED
@given(memory=st.floats(0.25, 2048), cores=st.integers(1, 256),
       arch=st.sampled_from(["x86_64", "aarch64", "armv7l"]))
def test_more_hardware_never_means_a_smaller_profile(memory, cores, arch):
    small = detect_platform(machine(memory, cores, arch), dmi=NO_DMI)
    big = detect_platform(machine(memory * 2, cores * 2, arch), dmi=NO_DMI)
    assert _RANK[small] <= _RANK[big]
    assert detect_platform(machine(memory, cores, arch), dmi=AWS) in (IOT, CLOUD)


@RELAXED
@given(memory=st.floats(0.25, 4096), limit=st.none() | st.floats(0.1, 4096),
       profile=st.sampled_from(list(PlatformProfile)))
def test_defaults_never_exceed_usable_memory(memory, limit, profile):
    info = machine(memory, 8, limit_gib=limit)
    d = default_config(profile, info)
    assert 0 < d.pool.max_pool_size <= d.memory_budget <= info.usable_memory
    assert d.pool.default_block_size in (1024, 4096)

