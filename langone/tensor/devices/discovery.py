"""GPU discovery: NVML, then CuPy, then torch; and :func:`devices`.

Discovery runs once and is cached (``refresh=True`` re-runs it). Any failure
means "no GPU from this source"; the reasons are kept for error messages.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Callable

from .names import Device, cpu


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
