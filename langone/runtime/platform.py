"""Platform profiles: what kind of machine this is, and the defaults that suit it.

A board with 2 GiB of RAM, a laptop, a 128-core server and a rented cloud VM
want different memory-pool and budget settings. :func:`detect_platform` names
the kind of machine; :func:`default_config` turns that into settings.

Detection rules, applied in this order (the first that matches wins):

1. ``LANGONE_PLATFORM`` set to ``iot``, ``desktop``, ``server`` or ``cloud``
   (any case): that profile. Any other non-empty value is an error.
2. **iot**: at most 4 GiB of RAM, or an ARM CPU with at most 4 cores
   (Raspberry Pi, Jetson Nano, phones running Python).
3. **cloud**: the DMI tables (/sys/class/dmi/id) name a cloud provider: AWS
   ("Amazon EC2"), Google ("Google Compute Engine"), Azure (its chassis asset
   tag), Alibaba, Oracle, OpenStack, DigitalOcean, Hetzner, ... These names
   are specific enough on their own; the CPU's hypervisor flag is not
   required, because Graviton and bare-metal instances do not set it.
4. **server**: at least 32 physical cores or at least 64 GiB of RAM.
5. **desktop**: everything else.

Example:
    >>> from langone.runtime.platform import detect_platform, default_config
    >>> profile = detect_platform()              # e.g. PlatformProfile.DESKTOP
    >>> defaults = default_config(profile)
    >>> defaults.pool.default_block_size in (1024, 4096)
    True
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..errors import LangOneError
from ..tensor.devices import CPUDeviceInfo, cpu_info

GiB = 1024 ** 3

IOT_MAX_MEMORY = 4 * GiB
IOT_MAX_ARM_CORES = 4
SERVER_MIN_CORES = 32
SERVER_MIN_MEMORY = 64 * GiB

ENV_VAR = "LANGONE_PLATFORM"


class InvalidPlatform(LangOneError, ValueError):
    """``LANGONE_PLATFORM`` (or a profile argument) names no platform profile."""


class PlatformProfile(enum.StrEnum):
    """The kind of machine LangOne runs on; compares equal to its name ("iot")."""

    IOT = "iot"
    DESKTOP = "desktop"
    SERVER = "server"
    CLOUD = "cloud"

    @classmethod
    def parse(cls, value: "str | PlatformProfile") -> "PlatformProfile":
        """``"Server"`` -> ``PlatformProfile.SERVER`` (case and spaces ignored).

        Raises:
            InvalidPlatform: the value names no profile; the message lists them.
        """
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise InvalidPlatform(f"{value!r} is not a platform profile; use one of: "
                                  f"{_PROFILE_NAMES}") from None


_PROFILE_NAMES = ", ".join(p.value for p in PlatformProfile)


# (DMI field, lower-case substring, provider). Only strings that identify a
# cloud: a bare "Microsoft Corporation" is also a Surface laptop, so Azure is
# recognised by the asset tag it puts on every VM.
_CLOUD_HINTS = (
    ("sys_vendor", "amazon ec2", "AWS"),
    ("bios_vendor", "amazon ec2", "AWS"),
    ("bios_version", "amazon", "AWS"),                  # older Xen-based instances
    ("product_name", "google compute engine", "Google Cloud"),
    ("sys_vendor", "google", "Google Cloud"),
    ("chassis_asset_tag", "7783-7084-3265-9085-8269-3286-77", "Azure"),
    ("sys_vendor", "alibaba cloud", "Alibaba Cloud"),
    ("chassis_asset_tag", "oraclecloud.com", "Oracle Cloud"),
    ("product_name", "openstack", "OpenStack"),
    ("sys_vendor", "openstack", "OpenStack"),
    ("sys_vendor", "digitalocean", "DigitalOcean"),
    ("sys_vendor", "hetzner", "Hetzner Cloud"),
    ("sys_vendor", "scaleway", "Scaleway"),
    ("sys_vendor", "linode", "Linode"),
    ("sys_vendor", "akamai", "Linode"),
    ("sys_vendor", "vultr", "Vultr"),
    ("sys_vendor", "tencent cloud", "Tencent Cloud"),
    ("sys_vendor", "huawei cloud", "Huawei Cloud"),
    ("sys_vendor", "exoscale", "Exoscale"),
    ("sys_vendor", "upcloud", "UpCloud"),
)
_DMI_FIELDS = tuple(sorted({f for f, _, _ in _CLOUD_HINTS}) + ["product_version"])


def read_dmi(root: str | Path = "/sys/class/dmi/id") -> dict[str, str]:
    """The DMI identification strings this machine exposes (empty where none)."""
    found = {}
    for name in _DMI_FIELDS:
        try:
            found[name] = (Path(root) / name).read_text(errors="replace").strip()
        except OSError:
            continue
    return found


def cloud_provider(dmi: Mapping[str, str] | None = None) -> str | None:
    """The cloud provider named by the DMI tables ("AWS", "Azure", ...), or None.

    Example:
        >>> cloud_provider({"sys_vendor": "Amazon EC2", "product_name": "m7i.large"})
        'AWS'
    """
    dmi = read_dmi() if dmi is None else dmi
    for name, needle, provider in _CLOUD_HINTS:
        if needle in dmi.get(name, "").lower():
            return provider
    return None


def detect_platform(info: CPUDeviceInfo | None = None, *,
                    dmi: Mapping[str, str] | None = None) -> PlatformProfile:
    """The platform profile of this machine, by the rules in the module docstring.

    Args:
        info: the CPU to classify (default: this machine's, ``cpu_info()``).
        dmi: DMI strings (default: read from /sys/class/dmi/id).

    Raises:
        InvalidPlatform: ``LANGONE_PLATFORM`` is set to something else than
            iot, desktop, server or cloud.

    Example:
        >>> detect_platform() in list(PlatformProfile)
        True
    """
    forced = os.environ.get(ENV_VAR, "").strip()
    if forced:
        try:
            return PlatformProfile.parse(forced)
        except InvalidPlatform:
            raise InvalidPlatform(
                f"{ENV_VAR}={forced!r} is not a platform profile; set it to one of: "
                f"{_PROFILE_NAMES}, or unset it to detect the platform") from None
    info = cpu_info() if info is None else info
    memory = info.total_memory
    cores = info.physical_cores or info.logical_cores
    is_arm = info.architecture.lower().startswith(("arm", "aarch64"))
    if memory <= IOT_MAX_MEMORY or (is_arm and cores <= IOT_MAX_ARM_CORES):
        return PlatformProfile.IOT
    if cloud_provider(dmi) is not None:
        return PlatformProfile.CLOUD
    if cores >= SERVER_MIN_CORES or memory >= SERVER_MIN_MEMORY:
        return PlatformProfile.SERVER
    return PlatformProfile.DESKTOP


@dataclass(frozen=True)
class PoolDefaults:
    """Memory-pool settings; the field names are ``MemoryPoolConfig``'s.

    ``MemoryPoolConfig(**defaults.pool.as_kwargs())`` builds a pool config.
    ``max_pool_size`` is in bytes.
    """

    default_block_size: int
    max_pool_size: int
    auto_cleanup: bool
    compaction_threshold: float
    growth_factor: float
    shrink_factor: float

    def as_kwargs(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class PlatformDefaults:
    """Defaults for one platform profile on one machine.

    Attributes:
        profile: the profile these are for.
        pool: memory-pool settings.
        memory_budget_fraction, memory_budget: the process-wide host memory
            budget as a fraction of usable RAM, and in bytes.
        warning_threshold: fraction of a budget at which a warning is issued.
        gpu_budget_fraction: GPU memory budget as a fraction of each GPU's memory.
    """

    profile: PlatformProfile
    pool: PoolDefaults
    memory_budget_fraction: float
    memory_budget: int
    warning_threshold: float
    gpu_budget_fraction: float


# profile: (block size, pool fraction of RAM, auto cleanup, compaction threshold,
#           growth, shrink, memory budget fraction, GPU budget fraction)
# Why these values:
# - iot: RAM is scarce and shared with everything else on the board: a small
#   pool (25% of RAM), 1 KiB blocks (less rounding waste for small tensors),
#   eager cleanup and compaction, slow growth and deep shrinking. Jetson GPUs
#   share that RAM, hence the low GPU fraction.
# - desktop: other applications (and the display, on the GPU) need memory too.
# - cloud: memory is rented and neighbours are noisy: give cached memory back
#   (auto cleanup) but allow a larger pool than a desktop.
# - server: the machine is dedicated to the workload: keep what was allocated
#   (no auto cleanup), grow fast, shrink little, and use most of the GPU.
# Blocks are 4 KiB elsewhere: the host page size, below which nothing is gained.
_TABLE = {
    PlatformProfile.IOT: (1024, 0.25, True, 0.5, 1.25, 0.25, 0.5, 0.5),
    PlatformProfile.DESKTOP: (4096, 0.5, True, 0.7, 1.5, 0.5, 0.75, 0.8),
    PlatformProfile.CLOUD: (4096, 0.6, True, 0.7, 1.5, 0.5, 0.8, 0.9),
    PlatformProfile.SERVER: (4096, 0.75, False, 0.8, 2.0, 0.75, 0.85, 0.95),
}
WARNING_THRESHOLD = 0.7


def default_config(profile: PlatformProfile | str | None = None,
                   info: CPUDeviceInfo | None = None) -> PlatformDefaults:
    """Pool and budget defaults for ``profile`` on the machine ``info`` describes.

    Args:
        profile: a PlatformProfile or its name; None detects it (see
            :func:`detect_platform`, which honours ``LANGONE_PLATFORM``).
        info: the machine (default: this one); byte sizes are fractions of
            its usable memory (the container limit when there is one).

    Example:
        >>> d = default_config("iot")
        >>> d.pool.max_pool_size == int(0.25 * cpu_info().usable_memory)
        True
        >>> d.warning_threshold
        0.7
    """
    info = cpu_info() if info is None else info
    profile = detect_platform(info) if profile is None else PlatformProfile.parse(profile)
    block, pool_frac, cleanup, compact, grow, shrink, budget_frac, gpu_frac = _TABLE[profile]
    memory = info.usable_memory
    pool = PoolDefaults(default_block_size=block, max_pool_size=int(pool_frac * memory),
                        auto_cleanup=cleanup, compaction_threshold=compact,
                        growth_factor=grow, shrink_factor=shrink)
    return PlatformDefaults(profile=profile, pool=pool, memory_budget_fraction=budget_frac,
                            memory_budget=int(budget_frac * memory),
                            warning_threshold=WARNING_THRESHOLD, gpu_budget_fraction=gpu_frac)
