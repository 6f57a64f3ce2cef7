"""Devices: where tensors live, which ones this machine has, and what they can do.

A :class:`Device` is only a name (``cpu`` or ``cuda:N``): constructing one never
touches a driver, so code can mention ``cuda:0`` on a machine without a GPU.
Asking about the hardware (:meth:`Device.info`, :meth:`Device.require_available`,
:func:`devices`) runs discovery once and caches it.

GPU discovery asks, in order, and stops at the first that reports a GPU:

1. NVML (``pynvml`` from nvidia-ml-py): light, creates no CUDA context, and
   gives clocks and bus width. ``CUDA_VISIBLE_DEVICES`` is applied to its list.
2. CuPy (``cupy.cuda.runtime``), then 3. torch (``torch.cuda``): the CUDA
   runtime's own view, used where NVML is missing (Jetson boards, some
   containers). Both need the CUDA driver library, so they are not imported
   when ``libcuda`` cannot be loaded (that saves 0.5 s for CuPy, 2 s for torch).

Every failure (library not installed, no driver, no device, any exception)
means "no GPU from this source"; the reasons are kept for error messages.
Nothing heavy is imported with this module: psutil, pynvml, cupy and torch
load inside the functions that need them.

Example:
    >>> from langone.tensor.devices import Device, device, devices, cpu
    >>> Device("cuda")                 # a name; no GPU needed to write it
    Device('cuda:0')
    >>> device("cpu") == "cpu" == cpu
    True
    >>> devices()[0]                   # the CPU comes first, then every GPU found
    Device('cpu')
    >>> cpu.info().logical_cores >= 1
    True
"""

from __future__ import annotations

import os
import re
import sys
import threading
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Callable

from ..errors import DeviceNotFound, format_bytes

_ACCEPTED = ("'cpu', 'cuda' (the same as 'cuda:0'), 'cuda:N' with N = 0, 1, ..., "
             "a Device, or an object with a .device attribute (a Tensor, a numpy, "
             "CuPy or torch array)")


# --- names -------------------------------------------------------------------

def _parse_name(spec: str) -> tuple[str, int]:
    """``"cuda:1"`` -> ``("cuda", 1)``; whitespace and case are ignored."""
    kind, sep, idx = spec.strip().lower().partition(":")
    if kind == "cpu" and (not sep or idx == "0"):
        return "cpu", 0
    if kind == "cuda" and not sep:
        return "cuda", 0
    if kind == "cuda" and idx.isascii() and idx.isdigit():
        return "cuda", int(idx)
    if kind == "cpu":
        raise DeviceNotFound(f"unknown device {spec!r}: LangOne has a single CPU device, "
                             f"'cpu' (its threads are not separate devices)")
    raise DeviceNotFound(f"unknown device {spec!r}: use {_ACCEPTED}")


class Device:
    """A place where tensors live: ``cpu`` or ``cuda:N``.

    Devices are immutable and hashable, compare equal to their names
    (``Device("cuda") == "cuda:0"``) and hash like their canonical name, so
    ``{Device("cpu"): 1}["cpu"]`` works.

    Args:
        spec: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, another Device, or anything
            :func:`device` accepts.

    Raises:
        DeviceNotFound: the name does not parse. Naming a GPU this machine lacks
            is allowed; :meth:`info` and :meth:`require_available` then raise.

    Example:
        >>> d = Device("CUDA:1")
        >>> d.type, d.index, str(d)
        ('cuda', 1, 'cuda:1')
    """

    __slots__ = ("type", "index", "_name")

    def __init__(self, spec: "str | Device" = "cpu"):
        if isinstance(spec, str):
            kind, index = _parse_name(spec)
        else:
            other = spec if isinstance(spec, Device) else device(spec)
            kind, index = other.type, other.index
        setattr_ = object.__setattr__          # instances are immutable: see __setattr__
        setattr_(self, "type", kind)
        setattr_(self, "index", index)
        setattr_(self, "_name", "cpu" if kind == "cpu" else f"cuda:{index}")

    def __setattr__(self, name, value):
        # Devices are dict keys (pools per device, caches per device): mutating one
        # would silently corrupt those tables.
        raise AttributeError(f"Device is immutable: cannot set {name!r}; make another "
                             f"one instead, e.g. Device('cuda:1')")

    def __reduce__(self):
        return (Device, (self._name,))

    def __str__(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"Device('{self._name}')"

    def __eq__(self, other) -> bool:
        if isinstance(other, Device):
            return self._name == other._name
        if isinstance(other, str):
            try:
                return self._name == device(other)._name
            except DeviceNotFound:
                return False
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._name)

    def is_available(self, refresh: bool = False) -> bool:
        """Whether this machine has this device (the CPU always; GPUs if found)."""
        return self.type == "cpu" or self.index < len(_discover(refresh).gpus)

    def require_available(self, refresh: bool = False) -> "Device":
        """Return ``self`` if this machine has the device, else raise.

        Raises:
            DeviceNotFound: with the list of devices that do exist and why no
                GPU was found (e.g. "no CUDA device found (checked NVML, CuPy, torch)").
        """
        if not self.is_available(refresh):
            raise DeviceNotFound(_missing_device_message(self, _discover()))
        return self

    def info(self, refresh: bool = False) -> "CPUDeviceInfo | GPUDeviceInfo":
        """What the hardware behind this device is and can do.

        Static facts are cached; available memory is read live on every call.
        ``refresh=True`` re-runs discovery (after a driver install, say).

        Example:
            >>> print(Device("cpu").info())          # doctest: +SKIP
            cpu  AMD EPYC (x86_64, AuthenticAMD, under a hypervisor)
              cores       2 physical, 2 logical at 2.60 GHz
              ...
        """
        if self.type == "cpu":
            return cpu_info(refresh)
        found = _discover(refresh)
        if self.index >= len(found.gpus):
            raise DeviceNotFound(_missing_device_message(self, found))
        return _build_gpu_info(self, found.gpus[self.index])


cpu = Device("cpu")

# Parsed names, so that device("cuda:0") on the hot path is one dict lookup.
# Only valid names get in, and at most _MAX_NAMES of them.
_BY_NAME: dict[str, Device] = {"cpu": cpu, "cuda": Device("cuda:0")}
_BY_NAME["cuda:0"] = _BY_NAME["cuda"]
_MAX_NAMES = 256


def device(obj=None) -> Device:
    """Interpret ``obj`` as a :class:`Device`.

    Args:
        obj: ``None`` (the CPU), a name (``"cpu"``, ``"cuda:1"``), a Device, a
            ``torch.device`` or ``cupy.cuda.Device``, or any object with a
            ``.device`` attribute (a Tensor, a numpy 2 / CuPy / torch array).

    Raises:
        DeviceNotFound: ``obj`` names no device; the message lists the accepted forms.

    Example:
        >>> device(), device("cuda"), device(Device("cpu"))
        (Device('cpu'), Device('cuda:0'), Device('cpu'))
    """
    if obj is None:
        return cpu
    cls = type(obj)
    if cls is str:                                   # the hot path: device="cpu"
        found = _BY_NAME.get(obj)
        return found if found is not None else _remember(obj)
    if cls is Device:
        return obj
    return _from_object(obj)


def _remember(name: str) -> Device:
    dev = Device(name)
    if len(_BY_NAME) < _MAX_NAMES:
        _BY_NAME[name] = dev
    return dev


def _from_object(obj, depth: int = 0) -> Device:
    """Devices of other libraries and of objects that carry one."""
    if isinstance(obj, Device):
        return obj
    if isinstance(obj, str):
        return device(str(obj))
    kind = getattr(obj, "type", None)
    if isinstance(kind, str) and hasattr(obj, "index"):            # torch.device
        if kind in ("cpu", "cuda"):
            return device(kind if obj.index is None else f"{kind}:{obj.index}")
        raise DeviceNotFound(f"device type {kind!r} ({obj!r}) is not supported: "
                             f"LangOne places tensors on {_ACCEPTED}")
    ident = getattr(obj, "id", None)
    if isinstance(ident, int) and type(obj).__module__.startswith("cupy"):   # cupy.cuda.Device
        return device(f"cuda:{ident}")
    inner = getattr(obj, "device", None)
    if inner is not None and inner is not obj and depth < 2:
        return _from_object(inner, depth + 1)
    text = repr(obj)
    text = text if len(text) <= 60 else text[:57] + "..."
    raise DeviceNotFound(f"cannot use {type(obj).__name__} {text} as a device: use {_ACCEPTED}")


def devices(refresh: bool = False) -> list[Device]:
    """The devices of this machine: the CPU, then every CUDA GPU found.

    Example:
        >>> devices()                      # on a machine without a GPU
        [Device('cpu')]
    """
    return [cpu] + [Device(f"cuda:{i}") for i in range(len(_discover(refresh).gpus))]


def _missing_device_message(dev: Device, found: "_Discovery") -> str:
    if not found.gpus:
        return (f"{dev} is not available: no CUDA device found (checked NVML, CuPy, "
                f"torch): {'; '.join(found.notes)}. Place tensors on 'cpu' instead")
    have = ", ".join(f"cuda:{i}" for i in range(len(found.gpus)))
    return (f"{dev} is not available: this machine has {len(found.gpus)} CUDA "
            f"device(s): {have} (and cpu)")


# --- GPU discovery -----------------------------------------------------------

class _GPURecord:
    """What a driver library reported about one GPU, before any derivation.

    A plain class rather than a dataclass: dataclass creation costs about 1 ms
    at import, and this one is private.
    """

    __slots__ = ("name", "total_memory", "compute_capability", "source",
                 "multiprocessor_count", "cuda_cores", "sm_clock_hz", "memory_clock_hz",
                 "memory_bus_width", "max_threads_per_block", "uuid", "free_memory")

    def __init__(self, name: str, total_memory: int, compute_capability: tuple[int, int],
                 source: str, *, multiprocessor_count: int | None = None,
                 cuda_cores: int | None = None, sm_clock_hz: float | None = None,
                 memory_clock_hz: float | None = None, memory_bus_width: int | None = None,
                 max_threads_per_block: int | None = None, uuid: str | None = None,
                 free_memory: Callable[[], int] | None = None):
        self.name = name
        self.total_memory = total_memory
        self.compute_capability = compute_capability
        self.source = source                        # "NVML", "CuPy" or "torch"
        self.multiprocessor_count = multiprocessor_count
        self.cuda_cores = cuda_cores
        self.sm_clock_hz = sm_clock_hz
        self.memory_clock_hz = memory_clock_hz
        self.memory_bus_width = memory_bus_width    # bits
        self.max_threads_per_block = max_threads_per_block
        self.uuid = uuid
        self.free_memory = free_memory              # live query, or None


class _Discovery:
    """The GPUs found, and per library asked, why it reported none."""

    __slots__ = ("gpus", "notes")

    def __init__(self, gpus: tuple[_GPURecord, ...], notes: tuple[str, ...]):
        self.gpus = gpus
        self.notes = notes


_DISCOVERY: _Discovery | None = None
_DISCOVERY_LOCK = threading.Lock()


def _discover(refresh: bool = False) -> _Discovery:
    global _DISCOVERY
    found = _DISCOVERY
    if found is not None and not refresh:
        return found
    with _DISCOVERY_LOCK:
        if _DISCOVERY is None or refresh:
            _DISCOVERY = _run_probes()
        return _DISCOVERY


def _run_probes() -> _Discovery:
    notes = []
    records, note = _probe_nvml()
    if records:
        return _Discovery(tuple(records), ())
    notes.append(note)
    if not _cuda_driver_loadable():
        notes.append("CuPy, torch: not asked, the CUDA driver library (libcuda) "
                     "cannot be loaded")
        return _Discovery((), tuple(notes))
    for probe in (_probe_cupy, _probe_torch):
        records, note = probe()
        if records:
            return _Discovery(tuple(records), ())
        notes.append(note)
    return _Discovery((), tuple(notes))


def _why(source: str, exc: BaseException) -> str:
    if isinstance(exc, ImportError):
        return f"{source}: not installed"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{source}: {type(exc).__name__}" + (f": {text[:120]}" if text else "")


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _optional(fn, *args):
    """A query some drivers or GPUs do not support: its failure is just 'unknown'."""
    try:
        return fn(*args)
    except Exception:
        return None


def _cuda_driver_loadable() -> bool:
    """Whether the CUDA driver library loads; CuPy and torch see no GPU without it."""
    import ctypes
    names = {"win32": ("nvcuda.dll",), "darwin": ()}.get(
        sys.platform, ("libcuda.so.1", "libcuda.so"))
    for name in names:
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def _probe_nvml() -> tuple[list[_GPURecord], str]:
    try:
        import pynvml
        pynvml.nvmlInit()
        # NVML stays initialised: live free-memory queries need it, and nvmlInit
        # is reference counted, so this does not disturb other NVML users.
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i)
                   for i in range(pynvml.nvmlDeviceGetCount())]
        uuids = [_text(_optional(pynvml.nvmlDeviceGetUUID, h) or "") for h in handles]
        order = _cuda_visible_order(len(handles), uuids, os.environ.get("CUDA_VISIBLE_DEVICES"))
        records = [_nvml_record(pynvml, handles[i], uuids[i]) for i in order]
    except Exception as exc:
        return [], _why("NVML", exc)
    return records, ("" if records else "NVML: no NVIDIA GPU listed")


def _nvml_record(nv, handle, uuid: str) -> _GPURecord:
    mem = nv.nvmlDeviceGetMemoryInfo(handle)
    sm_mhz = _optional(nv.nvmlDeviceGetMaxClockInfo, handle, nv.NVML_CLOCK_SM)
    mem_mhz = _optional(nv.nvmlDeviceGetMaxClockInfo, handle, nv.NVML_CLOCK_MEM)
    get_cores = getattr(nv, "nvmlDeviceGetNumGpuCores", None)      # NVML >= 11.5
    get_width = getattr(nv, "nvmlDeviceGetMemoryBusWidth", None)
    return _GPURecord(
        name=_text(nv.nvmlDeviceGetName(handle)),
        total_memory=int(mem.total),
        compute_capability=tuple(int(v) for v in nv.nvmlDeviceGetCudaComputeCapability(handle)),
        source="NVML",
        cuda_cores=_optional(get_cores, handle) if get_cores else None,
        sm_clock_hz=sm_mhz * 1e6 if sm_mhz else None,
        memory_clock_hz=mem_mhz * 1e6 if mem_mhz else None,
        memory_bus_width=_optional(get_width, handle) if get_width else None,
        uuid=uuid or None,
        free_memory=lambda: int(nv.nvmlDeviceGetMemoryInfo(handle).free),
    )


def _cuda_visible_order(count: int, uuids: list[str], env: str | None) -> list[int]:
    """Which NVML devices CUDA exposes, in CUDA's order, under CUDA_VISIBLE_DEVICES.

    NVML ignores the variable, CUDA honours it. Entries are indices or UUID
    prefixes (``GPU-8a1b``); like CUDA, the list stops at the first entry that
    matches nothing. Indices are read in NVML's (PCI bus) order: exact with
    ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` and whenever the GPUs are all alike.
    """
    if env is None:
        return list(range(count))
    order: list[int] = []
    for token in (t.strip() for t in env.split(",")):
        if token.isascii() and token.isdigit() and int(token) < count:
            pick = int(token)
        else:
            hits = [i for i, u in enumerate(uuids)
                    if token and (u.startswith(token) or u.startswith("GPU-" + token))]
            if len(hits) != 1:
                break
            pick = hits[0]
        if pick in order:
            break
        order.append(pick)
    return order


def _probe_cupy() -> tuple[list[_GPURecord], str]:
    try:
        import cupy
        runtime = cupy.cuda.runtime
        records = [_cupy_record(cupy, i, runtime.getDeviceProperties(i))
                   for i in range(runtime.getDeviceCount())]
    except Exception as exc:
        return [], _why("CuPy", exc)
    return records, ("" if records else "CuPy: getDeviceCount() is 0")


def _cupy_record(cupy, index: int, props: dict) -> _GPURecord:
    def free() -> int:                 # needs a context on that device: created on first use
        with cupy.cuda.Device(index):
            return int(cupy.cuda.runtime.memGetInfo()[0])

    khz = props.get("clockRate") or 0               # dropped from cudaDeviceProp in CUDA 13
    mem_khz = props.get("memoryClockRate") or 0
    return _GPURecord(
        name=_text(props.get("name", f"CUDA device {index}")),
        total_memory=int(props["totalGlobalMem"]),
        compute_capability=(int(props["major"]), int(props["minor"])),
        source="CuPy",
        multiprocessor_count=props.get("multiProcessorCount"),
        sm_clock_hz=khz * 1e3 or None,
        memory_clock_hz=mem_khz * 1e3 or None,
        memory_bus_width=props.get("memoryBusWidth") or None,
        max_threads_per_block=props.get("maxThreadsPerBlock"),
        free_memory=free,
    )


def _probe_torch() -> tuple[list[_GPURecord], str]:
    try:
        import torch
        if getattr(torch.version, "hip", None):
            return [], "torch: a ROCm build (its 'cuda' devices are AMD GPUs, not supported)"
        if not torch.cuda.is_available():
            return [], "torch: torch.cuda.is_available() is False"
        records = [_torch_record(torch, i, torch.cuda.get_device_properties(i))
                   for i in range(torch.cuda.device_count())]
    except Exception as exc:
        return [], _why("torch", exc)
    return records, ("" if records else "torch: device_count() is 0")


def _torch_record(torch, index: int, props) -> _GPURecord:
    khz = getattr(props, "clock_rate", 0) or 0          # only in some torch versions
    return _GPURecord(
        name=str(props.name),
        total_memory=int(props.total_memory),
        compute_capability=(int(props.major), int(props.minor)),
        source="torch",
        multiprocessor_count=getattr(props, "multi_processor_count", None),
        sm_clock_hz=khz * 1e3 or None,
        free_memory=lambda: int(torch.cuda.mem_get_info(index)[0]),
    )


# --- GPU info ----------------------------------------------------------------

# FP32 cores per streaming multiprocessor, by compute capability (major, minor)
# or by major alone; from the CUDA C programming guide's throughput table.
_CORES_PER_SM = {(3,): 192, (5,): 128, (6, 0): 64, (6,): 128, (7,): 64, (8, 0): 64,
                 (8,): 128, (9,): 128, (10,): 128, (11,): 128, (12,): 128}

# Peak DRAM bandwidth (bytes/s) of one representative part per compute
# capability, used only when the driver gives no bus width and memory clock.
# Parts of one generation differ (an L4 has a third of an L40S's bandwidth):
# this is an order of magnitude for cost models, not a measurement.
_BANDWIDTH_BY_CC = {
    (5, 3): 25.6e9,     # Jetson Nano
    (6, 0): 732e9,      # Tesla P100
    (6, 1): 480e9,      # Tesla P40
    (6, 2): 59.7e9,     # Jetson TX2
    (7, 0): 900e9,      # Tesla V100
    (7, 2): 137e9,      # Jetson AGX Xavier
    (7, 5): 320e9,      # Tesla T4
    (8, 0): 1555e9,     # A100 40 GB
    (8, 6): 696e9,      # A40
    (8, 7): 204.8e9,    # Jetson AGX Orin
    (8, 9): 864e9,      # L40S
    (9, 0): 3350e9,     # H100 SXM
    (10, 0): 8000e9,    # B200
    (12, 0): 1792e9,    # RTX 5090
}


def _cores_per_sm(cc: tuple[int, int]) -> int | None:
    return _CORES_PER_SM.get(cc) or _CORES_PER_SM.get(cc[:1])


@dataclass(frozen=True)
class GPUDeviceInfo:
    """What a CUDA GPU is and can do.

    Attributes:
        device: the device this describes (``cuda:N``).
        name: the product name, e.g. ``"NVIDIA H100 80GB HBM3"``.
        total_memory, available_memory: bytes (available is read when info() is
            called; None where the driver could not say).
        compute_capability: ``(major, minor)``.
        max_threads_per_block: 1024 on every GPU CUDA 12 supports.
        supports_fp16: native fp16 arithmetic (compute capability >= 5.3).
        supports_bf16: native bf16 arithmetic (>= 8.0, Ampere).
        supports_fp64: always True: every CUDA GPU computes in fp64, although
            consumer parts do it at 1/32 or 1/64 of their fp32 rate.
        memory_bandwidth: peak DRAM bytes/s: bus width / 8 x memory clock x 2
            (double data rate) when the driver reports both, else the value of a
            representative part of that compute capability, else None.
        compute_throughput: peak fp32 FLOP/s: SMs x fp32 cores per SM (by
            compute capability) x max SM clock x 2 (a fused multiply-add is two
            FLOPs); None when SM count or clock is unknown.
        multiprocessor_count: streaming multiprocessors (SMs).
        sm_clock: max SM clock in Hz, or None.
        source: the library that reported the GPU: "NVML", "CuPy" or "torch".
    """

    device: Device
    name: str
    total_memory: int
    available_memory: int | None
    compute_capability: tuple[int, int]
    max_threads_per_block: int
    supports_fp16: bool
    supports_bf16: bool
    supports_fp64: bool
    memory_bandwidth: float | None
    compute_throughput: float | None
    multiprocessor_count: int | None
    sm_clock: float | None
    source: str

    def __str__(self) -> str:
        major, minor = self.compute_capability
        sms = f", {self.multiprocessor_count} SMs" if self.multiprocessor_count else ""
        precisions = [p for p, ok in (("fp16", self.supports_fp16), ("bf16", self.supports_bf16),
                                      ("fp32", True), ("fp64", self.supports_fp64)) if ok]
        return "\n".join([
            f"{self.device}  {self.name} (compute capability {major}.{minor}{sms})",
            f"  memory      {_memory_line(self.total_memory, self.available_memory)}",
            f"  bandwidth   {_rate(self.memory_bandwidth, 'B/s')}",
            f"  fp32 peak   {_rate(self.compute_throughput, 'FLOP/s')}",
            f"  precisions  {' '.join(precisions)}",
            f"  threads     {self.max_threads_per_block} per block (reported by {self.source})",
        ])


def _build_gpu_info(dev: Device, rec: _GPURecord) -> GPUDeviceInfo:
    """Derive the GPUDeviceInfo of one discovered GPU (reads free memory live)."""
    cc = rec.compute_capability
    per_sm = _cores_per_sm(cc)
    sms = rec.multiprocessor_count
    if sms is None and rec.cuda_cores and per_sm:
        sms = rec.cuda_cores // per_sm
    if rec.memory_bus_width and rec.memory_clock_hz:
        bandwidth = rec.memory_bus_width / 8 * rec.memory_clock_hz * 2
    else:
        bandwidth = _BANDWIDTH_BY_CC.get(cc)
    flops = sms * per_sm * rec.sm_clock_hz * 2 if sms and per_sm and rec.sm_clock_hz else None
    free = _optional(rec.free_memory) if rec.free_memory else None
    return GPUDeviceInfo(
        device=dev, name=rec.name, total_memory=rec.total_memory,
        available_memory=None if free is None else int(free),
        compute_capability=cc,
        max_threads_per_block=rec.max_threads_per_block or 1024,
        supports_fp16=cc >= (5, 3), supports_bf16=cc >= (8, 0), supports_fp64=True,
        memory_bandwidth=bandwidth, compute_throughput=flops,
        multiprocessor_count=sms, sm_clock=rec.sm_clock_hz, source=rec.source)


def _rate(value: float | None, unit: str) -> str:
    if value is None:
        return "unknown"
    for prefix in ("", "K", "M", "G", "T", "P"):
        if value < 1000 or prefix == "P":
            return f"{value:.3g} {prefix}{unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _memory_line(total: int, available: int | None) -> str:
    avail = "unknown" if available is None else format_bytes(available)
    return f"{format_bytes(total)} total, {avail} available"


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
