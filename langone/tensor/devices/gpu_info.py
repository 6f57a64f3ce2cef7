"""What a CUDA GPU is and can do: :class:`GPUDeviceInfo`."""

from __future__ import annotations

from dataclasses import dataclass

from ._text import memory_line as _memory_line, rate as _rate
from .discovery import _GPURecord, _optional
from .names import Device

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
