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


from .host import CPUDeviceInfo, cpu_info
from .discovery import devices
from .gpu_info import GPUDeviceInfo
from .names import Device, cpu, device

__all__ = ["CPUDeviceInfo", "Device", "GPUDeviceInfo", "cpu", "cpu_info", "device", "devices"]
