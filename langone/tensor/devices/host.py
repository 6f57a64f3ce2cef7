"""What this machine's CPU is and can do: :class:`CPUDeviceInfo`, :func:`cpu_info`."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from ...errors import format_bytes
from ._text import memory_line as _memory_line, rate as _rate
from .names import Device, cpu

# --- CPU info ----------------------------------------------------------------

# /proc/cpuinfo flags worth knowing for kernels, in the order they are shown.
_X86_SIMD = ("sse2", "sse3", "ssse3", "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c",
             "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512_vnni",
             "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")
_ARM_SIMD = ("neon", "asimd", "asimdhp", "fphp", "asimddp", "bf16", "i8mm",
             "sve", "sve2", "sme")
_ARM_VENDORS = {"0x41": "ARM", "0x42": "Broadcom", "0x43": "Cavium", "0x48": "HiSilicon",
                "0x4e": "NVIDIA", "0x51": "Qualcomm", "0x61": "Apple", "0xc0": "Ampere"}


@dataclass(frozen=True)
class CPUDeviceInfo:
    """What this machine's CPU and memory are and can do.

    Attributes:
        name: the CPU model (``model name`` in /proc/cpuinfo); also ``.model``.
        architecture: ``platform.machine()``: "x86_64", "aarch64", "arm64", ...
        vendor: "GenuineIntel", "AuthenticAMD", "ARM", "Apple", ... or None.
        physical_cores, logical_cores: cores, and hardware threads.
        l1d_cache, l2_cache: bytes per core (per instance); l3_cache: bytes of
            one shared instance. From /sys/devices/system/cpu/cpu0/cache, else
            lscpu; None where unknown.
        total_memory: physical RAM in bytes. available_memory: read live.
        memory_limit: the cgroup (container) memory limit when it is below the
            RAM, else None; see :attr:`usable_memory`.
        simd: SIMD and matrix extensions from /proc/cpuinfo flags, e.g.
            ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", ...) on x86,
            ("neon", "asimd", "sve", ...) on ARM.
        max_frequency: Hz (cpufreq max, else psutil, else /proc/cpuinfo's
            current "cpu MHz"), or None.
        compute_throughput: estimated peak fp32 FLOP/s = physical cores x
            frequency x FLOPs per cycle per core, where FLOPs per cycle = fp32
            lanes of the widest vector unit (512/256/128 bits / 32) x 2 pipes x
            2 with FMA (x 1 without). AMD Zen 4 executes AVX-512 in 256-bit
            halves and is counted as 256-bit. A ceiling, not a measurement; None
            without a frequency.
        memory_bandwidth: peak DRAM bytes/s = sum over populated DIMMs of
            configured MT/s x data width / 8, from the SMBIOS memory-device
            tables (/sys/firmware/dmi/entries/17-*, readable by root only). It
            assumes one DIMM per channel, so it is an upper bound; None where
            the tables cannot be read.
        hypervisor: whether the CPU reports running under a hypervisor.
    """

    name: str
    architecture: str
    vendor: str | None
    physical_cores: int | None
    logical_cores: int
    l1d_cache: int | None
    l2_cache: int | None
    l3_cache: int | None
    total_memory: int
    available_memory: int | None
    memory_limit: int | None
    simd: tuple[str, ...]
    max_frequency: float | None
    compute_throughput: float | None
    memory_bandwidth: float | None
    hypervisor: bool
    device: Device = cpu

    @property
    def model(self) -> str:
        return self.name

    @property
    def usable_memory(self) -> int:
        """RAM this process may use: the cgroup limit if one is set, else all of it."""
        return min(self.total_memory, self.memory_limit or self.total_memory)

    @property
    def supports_fp16(self) -> bool:
        """Hardware fp16 <-> fp32 conversion (F16C, ARM fphp/asimdhp)."""
        return bool({"f16c", "fphp", "asimdhp", "avx512_fp16"} & set(self.simd))

    @property
    def supports_bf16(self) -> bool:
        """Native bf16 dot products (AVX512_BF16, AMX-BF16, ARM BF16)."""
        return bool({"avx512_bf16", "amx_bf16", "bf16"} & set(self.simd))

    @property
    def supports_fp64(self) -> bool:
        return True

    def __str__(self) -> str:
        about = ", ".join(filter(None, [self.architecture, self.vendor,
                                        "under a hypervisor" if self.hypervisor else ""]))
        freq = f" at {self.max_frequency / 1e9:.2f} GHz" if self.max_frequency else ""
        caches = ", ".join(f"{label} {format_bytes(size) if size else 'unknown'}" for label, size in
                           (("L1d", self.l1d_cache), ("L2", self.l2_cache), ("L3", self.l3_cache)))
        memory = _memory_line(self.total_memory, self.available_memory)
        if self.memory_limit:
            memory += f", container limit {format_bytes(self.memory_limit)}"
        return "\n".join([
            f"{self.device}  {self.name} ({about})",
            f"  cores       {self.physical_cores or '?'} physical, "
            f"{self.logical_cores} logical{freq}",
            f"  caches      {caches}",
            f"  memory      {memory}",
            f"  SIMD        {' '.join(self.simd) or 'none detected'}",
            f"  fp32 peak   {_rate(self.compute_throughput, 'FLOP/s')} (estimate)",
            f"  bandwidth   {_rate(self.memory_bandwidth, 'B/s')}",
        ])


def cpu_info(refresh: bool = False) -> CPUDeviceInfo:
    """The :class:`CPUDeviceInfo` of this machine (static part cached, memory live).

    Example:
        >>> info = cpu_info()
        >>> info.logical_cores >= 1 and info.total_memory > 0
        True
    """
    if refresh:
        _cpu_static.cache_clear()
    return replace(_cpu_static(), available_memory=_available_memory())


def _read(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return None


@lru_cache(maxsize=1)
def _cpu_static() -> CPUDeviceInfo:
    import platform
    fields = _parse_cpuinfo(_read("/proc/cpuinfo") or "")
    arch = platform.machine() or "unknown"
    flags = set((fields.get("flags") or fields.get("features") or "").split())
    simd = _simd_features(flags, arch)
    vendor = fields.get("vendor_id") or _ARM_VENDORS.get(fields.get("cpu implementer", ""))
    if vendor is None and sys.platform == "darwin" and arch == "arm64":
        vendor = "Apple"
    physical, logical = _core_counts()
    caches = _cache_sizes_sysfs(Path("/sys/devices/system/cpu/cpu0/cache")) or _cache_sizes_lscpu()
    total = _total_memory()
    freq = _max_frequency(fields)
    family = int(fields["cpu family"]) if fields.get("cpu family", "").isdigit() else None
    return CPUDeviceInfo(
        name=_cpu_name(fields) or platform.processor() or arch,
        architecture=arch, vendor=vendor, physical_cores=physical, logical_cores=logical,
        l1d_cache=caches.get(1), l2_cache=caches.get(2), l3_cache=caches.get(3),
        total_memory=total, available_memory=None, memory_limit=_cgroup_memory_limit(total),
        simd=simd, max_frequency=freq,
        compute_throughput=_peak_fp32(physical or logical, freq, simd, arch, vendor, family),
        memory_bandwidth=_dmi_memory_bandwidth(Path("/sys/firmware/dmi/entries")),
        hypervisor="hypervisor" in flags or bool((_read("/sys/hypervisor/type") or "").strip())
        or os.path.exists("/proc/device-tree/hypervisor"),
    )


def _parse_cpuinfo(text: str) -> dict[str, str]:
    """Keys (lower-cased) of the first processor block, plus machine-wide keys.

    Machine-wide keys (ARM boards' ``Hardware``, ``Model``) come after the
    last block, so the first occurrence of each key wins.
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if sep and key and key not in fields:
            fields[key] = value.strip()
    return fields


def _cpu_name(fields: dict[str, str]) -> str | None:
    """x86 writes "model name"; ARM boards write "Model" (x86's "model" is a number)."""
    model = fields.get("model", "")
    return (fields.get("model name") or (None if model.isdigit() else model)
            or fields.get("hardware") or None)


def _simd_features(flags: set[str], arch: str) -> tuple[str, ...]:
    """The SIMD features among ``flags``; AArch64 always has NEON (= asimd)."""
    if "pni" in flags:                      # Linux calls SSE3 "pni" (Prescott New Instructions)
        flags = flags | {"sse3"}
    if arch.lower() in ("aarch64", "arm64"):
        flags = flags | {"neon", "asimd"}
    elif arch.lower().startswith("arm") and "neon" in flags:
        flags = flags | {"neon"}
    names = _X86_SIMD if arch.lower() in ("x86_64", "amd64", "i686", "i386") else _ARM_SIMD
    return tuple(name for name in names if name in flags)


def _peak_fp32(cores: int, hz: float | None, simd: tuple[str, ...], arch: str,
               vendor: str | None, family: int | None) -> float | None:
    """Estimated peak fp32 FLOP/s; see CPUDeviceInfo.compute_throughput."""
    if not hz or not cores:
        return None
    has = set(simd)
    if "avx512f" in has:
        # AMD family 0x19 with AVX-512 is Zen 4, which splits 512-bit ops in two.
        width = 256 if vendor == "AuthenticAMD" and family == 0x19 else 512
    elif "avx" in has:
        width = 256
    elif has & {"sse2", "neon", "asimd"}:
        width = 128
    else:
        width = 32
    fma = 2 if has & {"fma", "asimd", "avx512f"} else 1       # AArch64 NEON always has FMA
    pipes = 2 if arch.lower() in ("x86_64", "amd64", "aarch64", "arm64") else 1
    return cores * hz * (width // 32) * pipes * fma


def _core_counts() -> tuple[int | None, int]:
    logical = os.cpu_count() or 1
    try:
        import psutil
        return psutil.cpu_count(logical=False), logical
    except Exception:
        return None, logical


def _total_memory() -> int:
    try:
        import psutil
        return int(psutil.virtual_memory().total)
    except Exception:
        return _meminfo_kib("MemTotal") * 1024


def _available_memory() -> int | None:
    try:
        import psutil
        return int(psutil.virtual_memory().available)
    except Exception:
        kib = _meminfo_kib("MemAvailable")
        return kib * 1024 if kib else None


def _meminfo_kib(key: str) -> int:
    match = re.search(rf"^{key}:\s+(\d+)", _read("/proc/meminfo") or "", re.M)
    return int(match.group(1)) if match else 0


def _cgroup_memory_limit(total: int) -> int | None:
    """The container's memory limit (cgroup v2, else v1) when it is below ``total``."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        text = (_read(path) or "").strip()
        if text.isdigit() and 0 < int(text) < total:
            return int(text)
    return None


def _max_frequency(fields: dict[str, str]) -> float | None:
    khz = (_read("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq") or "").strip()
    if khz.isdigit() and int(khz) > 0:
        return int(khz) * 1e3
    try:
        import psutil
        freq = psutil.cpu_freq()
        if freq and freq.max:
            return freq.max * 1e6
    except Exception:
        pass
    try:
        return float(fields["cpu mhz"]) * 1e6 or None
    except (KeyError, ValueError):
        return None


def _parse_size(text: str) -> int | None:
    """Cache sizes as sysfs and lscpu write them: "32K", "1024K", "2 MiB", "512"."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?\s*", text, re.I)
    if not match:
        return None
    scale = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}[match.group(2).upper()]
    return int(float(match.group(1)) * scale)


def _cache_sizes_sysfs(root: Path) -> dict[int, int]:
    """{level: bytes} of cpu0's data/unified caches from sysfs."""
    sizes: dict[int, int] = {}
    for entry in sorted(root.glob("index*")):
        kind = (_read(entry / "type") or "").strip()
        level = (_read(entry / "level") or "").strip()
        size = _parse_size(_read(entry / "size") or "")
        if kind in ("Data", "Unified") and level.isdigit() and size:
            sizes[int(level)] = size
    return sizes


def _cache_sizes_lscpu() -> dict[int, int]:
    """{level: bytes per instance} from ``lscpu -C`` (when sysfs has no cache info)."""
    import subprocess
    try:
        out = subprocess.run(["lscpu", "-B", "-C=NAME,ONE-SIZE"], capture_output=True,
                             text=True, timeout=2, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return _parse_lscpu_caches(out)


def _parse_lscpu_caches(out: str) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for line in out.splitlines()[1:]:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            level = {"L1d": 1, "L2": 2, "L3": 3}.get(parts[0])
            if level:
                sizes[level] = int(parts[1])
    return sizes


def _dmi_memory_bandwidth(root: Path) -> float | None:
    """Peak bytes/s summed over the SMBIOS type-17 (memory device) entries."""
    total = 0.0
    for entry in root.glob("17-*"):
        try:
            total += _dimm_bandwidth((entry / "raw").read_bytes())
        except OSError:            # root-only: unreadable for ordinary users
            return None
    return total or None


def _dimm_bandwidth(raw: bytes) -> float:
    """Bytes/s of one SMBIOS type-17 structure; 0 for an empty slot or no speed."""
    def word(offset: int, size: int = 2) -> int:
        return int.from_bytes(raw[offset:offset + size], "little")

    length = raw[1] if len(raw) > 1 else 0
    if len(raw) < 0x17 or raw[0] != 17 or length < 0x17:
        return 0.0
    width, size = word(0x0A), word(0x0C)
    if size == 0 or width in (0, 0xFFFF):
        return 0.0
    speed = word(0x20) if length >= 0x22 else 0                    # configured speed
    if speed == 0xFFFF and length >= 0x5C:
        speed = word(0x58, 4)                                      # extended configured
    if speed in (0, 0xFFFF):
        speed = word(0x15)                                         # rated speed
        if speed == 0xFFFF and length >= 0x58:
            speed = word(0x54, 4)
    return 0.0 if speed in (0, 0xFFFF) else speed * 1e6 * width / 8
