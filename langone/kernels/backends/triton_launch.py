"""Runs a rendered Triton program: the host steps, device launches, read-backs.

Two modes, chosen by :mod:`.triton_gpu`:

* **GPU**: tensor arguments are CUDA arrays from LangOne's device pool (CuPy
  arrays); Triton receives small pointer objects with ``data_ptr()`` and
  ``dtype`` (no torch needed). Host numpy arrays are staged through the pool
  and written back. Grid kernels are autotuned on first use
  (:mod:`.triton_autotune`); with a "launch" listener each launch is timed
  with CUDA events and reported as ``gpu_ms``.
* **interpreter**: no GPU. Triton's interpreter runs the same kernels on the
  CPU; it wants torch tensors, so numpy arrays are wrapped zero-copy with
  ``torch.from_numpy`` (bf16 through an int16 view). The interpreter loops
  over programs in Python, so blocks are as large as the grid (up to
  :data:`INTERP_MAX_BLOCK`).

Host scalars live in the reference interpreter's format (1-element numpy
arrays in the compute dtype) and host statements run through
:class:`~langone.kernels.backends.numpy_ref.Interpreter`, so scalar code
outside grids has the reference's semantics by construction. A grid with
reductions writes one partial per program; the host reduces them and merges
the result with the value from before the grid as the reference does.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from typing import Any, Callable

import numpy as np

from ... import events
from ...dtypes import bf16
from ...errors import KernelIndexError, KernelRuntimeError
from .. import ir
from ..passes import lower_pow, lower_range
from . import numpy_ref
from .triton_lib import compute_numpy
from .triton_lower import DeviceKernel, HostStep
from .triton_render import Program

#: Largest BLOCK in interpreter mode (one numpy op per Triton op per program).
INTERP_MAX_BLOCK = 1 << 15

_ONE = np.ones(1, bool)


def next_pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


class DevicePointer:
    """What Triton needs of a tensor argument: its address and element dtype."""

    __slots__ = ("ptr", "dtype")

    def __init__(self, ptr: int, dtype: np.dtype):
        self.ptr = ptr
        self.dtype = dtype

    def data_ptr(self) -> int:
        return self.ptr


# --- array access per mode ------------------------------------------------------------------

class InterpreterArrays:
    """numpy arrays in, torch CPU tensors (zero-copy) to Triton's interpreter."""

    interpret = True
    max_programs = 1 << 30

    def __init__(self):
        import torch
        self.torch = torch

    def device_scope(self, arrays: list):
        return contextlib.nullcontext()

    def to_device(self, arr: np.ndarray) -> tuple[Any, Callable | None]:
        """(array the kernel may address, write-back or None)."""
        if any(s < 0 for s in arr.strides):       # torch refuses negative strides
            # A fresh array, not np.ascontiguousarray: that returns a size-1 axis
            # unchanged, negative stride included.
            tmp = np.empty(arr.shape, arr.dtype)
            tmp[...] = arr
            return tmp, lambda: np.copyto(arr, tmp)
        return arr, None

    def wrap(self, arr: np.ndarray) -> Any:
        torch = self.torch
        if arr.dtype.name == "bfloat16":
            return torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
        if not arr.flags.writeable:               # broadcast views: read-only, harmless
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return torch.from_numpy(arr)
        return torch.from_numpy(arr)

    def empty(self, n: int, dtype: np.dtype) -> np.ndarray:
        return np.zeros(n, dtype)

    def host(self, arr: np.ndarray) -> np.ndarray:
        return arr

    def shadow(self, arr: np.ndarray) -> np.ndarray:
        # C order whatever the tensor's layout: kernels address shadows as contiguous
        return arr.astype(np.float32, order="C")

    def unshadow(self, arr: np.ndarray, shadow: np.ndarray) -> None:
        arr[...] = shadow.astype(arr.dtype)

    def launch(self, fn, grid: tuple, args: list, meta: dict) -> None:
        with np.errstate(all="ignore"):           # masked-off lanes divide by zero too
            fn[grid](*args, **meta)


class Bf16Bits:
    """bf16 data on a GPU as its uint16 bits (CuPy has no bfloat16 dtype)."""

    def __init__(self, bits):
        self.bits = bits
        self.shape, self.strides = bits.shape, bits.strides
        self.dtype = np.dtype(bf16.numpy)

    def copy(self) -> "Bf16Bits":
        return Bf16Bits(self.bits.copy())

    def __setitem__(self, index, other: "Bf16Bits") -> None:
        self.bits[index] = other.bits


class GPUArrays:
    """CuPy arrays (LangOne's CUDA pool) in, DevicePointers to Triton."""

    interpret = False

    def __init__(self):
        import cupy
        self.cp = cupy
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        self._name = props["name"].decode() if isinstance(props["name"], bytes) \
            else str(props["name"])
        #: Programs beyond this loop over chunks (a few waves of blocks per SM).
        self.max_programs = 32 * int(props.get("multiProcessorCount", 108))

    def device_name(self) -> str:
        return self._name

    def device_scope(self, arrays: list):
        """Launch on the device of the CUDA arguments (Triton uses the current one)."""
        for a in arrays:
            dev = getattr(a, "device", None)
            if dev is not None and not isinstance(a, np.ndarray):
                return self.cp.cuda.Device(dev.id)
        return contextlib.nullcontext()

    def to_device(self, arr: Any) -> tuple[Any, Callable | None]:
        if not isinstance(arr, np.ndarray):
            return arr, None
        # Host data: staged through the device pool and copied back after the call.
        from ...tensor import _backend
        from ...tensor.devices import Device
        host = arr.view(np.uint16) if arr.dtype.name == "bfloat16" else arr
        dev = _backend.transfer(host, Device("cpu"), Device(f"cuda:{self.cp.cuda.Device().id}"))
        back = (lambda: np.copyto(host, dev.get())) if arr.flags.writeable else None
        return (Bf16Bits(dev) if host is not arr else dev), back

    def wrap(self, arr: Any) -> DevicePointer:
        if isinstance(arr, Bf16Bits):
            return DevicePointer(arr.bits.data.ptr, arr.dtype)
        return DevicePointer(arr.data.ptr, arr.dtype)

    def empty(self, n: int, dtype: np.dtype) -> Any:
        from ...tensor import _backend
        from ...tensor.devices import Device
        dev = Device(f"cuda:{self.cp.cuda.Device().id}")
        out = _backend.empty_buffer((max(n, 1),), np.dtype(dtype), dev)
        out.fill(0)
        return out

    def host(self, arr: Any) -> np.ndarray:
        return arr.get()

    def shadow(self, arr: Any) -> Any:
        cp = self.cp
        if isinstance(arr, Bf16Bits):     # C order, as the interpreter's (kernels assume it)
            return (arr.bits.astype(cp.uint32, order="C") << 16).view(cp.float32)
        return arr.astype(cp.float32, order="C")

    def unshadow(self, arr: Any, shadow: Any) -> None:
        cp = self.cp
        if isinstance(arr, Bf16Bits):          # round to nearest even on the bits
            u = shadow.view(cp.uint32)
            r = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
            r = cp.where(shadow != shadow, (u >> 16) | 0x40, r)
            arr.bits[...] = r.astype(cp.uint16)
            return
        arr[...] = shadow.astype(arr.dtype)

    def launch(self, fn, grid: tuple, args: list, meta: dict) -> None:
        fn[grid](*args, **meta)


# --- the launcher ----------------------------------------------------------------------------

class _HostInterpreter(numpy_ref.Interpreter):
    """The host program: the reference's semantics, plus the launches of time steps."""

    def __init__(self, k: ir.Kernel, filename: str, launch):
        super().__init__(k, filename)
        self._launch = launch

    def s_Launch(self, s, m) -> None:
        self._launch(s.kernel, self)


def _scalar(value: np.ndarray, t) -> Any:
    v = value[0]
    if t.is_floating:
        return float(v)
    # Integer scalars travel as int64: a uint64 as its bits (the kernel converts back).
    return int(v) - (1 << 64) if int(v) >= 1 << 63 else int(v)


class Launcher:
    """``launcher(args) -> result``: the backend's compiled callable."""

    def __init__(self, program: Program, module, options: dict, arrays, tuner=None):
        self.program = program
        self.k = program.kernel
        self.options = options
        self.arrays = arrays
        self.tuner = tuner
        self.fns = {dk.name: getattr(module, dk.name) for dk in program.kernels}
        self.tensor_params = [(i, p.name) for i, p in enumerate(self.k.params) if p.is_tensor]
        self.written = {n.tensor for n in ir.walk(self.k)
                        if isinstance(n, (ir.Store, ir.Atomic))}
        self.fastmath = bool(options.get("fastmath"))
        self.last_launch_ms: dict[str, float] = {}
        self._tune_base = None

    def __call__(self, args: list) -> Any:
        bound = list(args)
        writebacks = []
        for i, name in self.tensor_params:
            bound[i], back = self.arrays.to_device(args[i])
            if back is not None and name in self.written:
                writebacks.append(back)
        interp = _HostInterpreter(self.k, self.k.filename, self.launch).bind(bound)
        tensors = interp.tensors
        try:
            with np.errstate(all="ignore"), self.arrays.device_scope(list(tensors.values())):
                for step in self.program.steps:
                    if isinstance(step, HostStep):
                        result = interp.block(step.stmts, _ONE)
                        if step.stmts and isinstance(step.stmts[-1], ir.Return):
                            return result
                    else:
                        self.launch(step.kernel, interp)
            return None
        finally:
            for back in writebacks:
                back()

    # -- one device kernel --------------------------------------------------------------------
    def launch(self, dk: DeviceKernel, interp) -> None:
        tensors, env = interp.tensors, interp.env
        shadows = {ta.name: self.arrays.shadow(tensors[ta.name]) for ta in dk.tensors
                   if ta.shadow}
        args = []
        for ta in dk.tensors:
            arr = shadows[ta.name] if ta.shadow else tensors[ta.name]
            args.append(self.arrays.wrap(arr))
            if not ta.shadow:
                args.extend(arr.shape)
            item = arr.dtype.itemsize
            args.extend(arr.strides[a] // item for a in ta.stride_axes)
        for name, t in dk.scalars:
            args.append(_scalar(env[name], t) if name in env else 0)
        if dk.kind == "grid":
            # What the kernel writes, as it sees it: a half atomic target's fp32 shadow,
            # else the tensor (autotune trials restore exactly these).
            written = [shadows.get(ta.name, tensors[ta.name]) for ta in dk.tensors
                       if ta.name in self.written]
            self.launch_grid(dk, interp, args, written)
        else:
            self.launch_serial(dk, interp, args)
        for name, sh in shadows.items():
            self.arrays.unshadow(tensors[name], sh)

    def error_buffer(self, dk: DeviceKernel, args: list):
        if not dk.checks:
            return None
        err = self.arrays.empty(2, np.int64)
        args.append(self.arrays.wrap(err))
        return err

    def raise_index_error(self, dk: DeviceKernel, err, interp) -> None:
        code, value = (int(v) for v in self.arrays.host(err)[:2])
        if code == 0:
            return
        loc, tensor, axis = dk.checks[code - 1]
        if axis == "step":            # a zero range step (triton_emit.check_step)
            raise KernelRuntimeError(lower_range.message(self.k.filename, loc.line,
                                                         self.k.name))
        if tensor is None:            # a checked exponent (triton_emit.check_exponent)
            raise KernelRuntimeError(lower_pow.message(self.k.filename, loc.line,
                                                       self.k.name, value))
        if isinstance(tensor, tuple):  # a local array: (name, its constant size)
            tensor, size = tensor
        else:
            size = interp.tensors[tensor].shape[axis]
        if value < 0:                 # normalized by passes/lower_index: it was value - size
            value -= size
        raise KernelIndexError(
            f"{self.k.filename}:{loc.line}: index {value} is out of bounds for axis {axis} "
            f"of {tensor!r} with size {size} (in kernel {self.k.name!r})")

    def launch_serial(self, dk: DeviceKernel, interp, args: list) -> None:
        outs = []
        for name, t in dk.outputs:
            buf = self.arrays.empty(1, compute_numpy(t) if not t.is_bool else np.bool_)
            outs.append((name, t, buf))
            args.append(self.arrays.wrap(buf))
        err = self.error_buffer(dk, args)
        self.run(dk, (1,), args, {"BLOCK": 1, "num_warps": 1})
        if err is not None:
            self.raise_index_error(dk, err, interp)
        for name, t, buf in outs:
            interp.env[name] = np.asarray(self.arrays.host(buf)[:1]).astype(compute_numpy(t))

    def launch_grid(self, dk: DeviceKernel, interp, args: list, written: list) -> None:
        g = dk.grid
        extents = [int(interp.expr(e, _ONE)[0]) for e in g.extents]
        total = math.prod(extents) if all(n > 0 for n in extents) else 0
        if total == 0:
            return                           # no iterations: reductions keep their value
        args.extend(extents[1:])
        args.append(total)
        cfg = self.config(dk, total, args, written)
        programs = self.programs(total, cfg)
        tail, parts, err = self.grid_tail(dk, programs)
        self.run(dk, (programs,), args + tail, cfg)
        if err is not None:
            self.raise_index_error(dk, err, interp)
        for var, op, t, buf in parts:
            partials = np.asarray(self.arrays.host(buf)[:programs]).astype(compute_numpy(t))
            total_v = numpy_ref.reduce_lanes(op, partials)
            interp.env[var] = numpy_ref.combine(op, interp.env[var],
                                                 np.asarray([total_v], compute_numpy(t)))

    def programs(self, total: int, cfg: dict) -> int:
        """Programs to launch: one per chunk, capped on a GPU (programs loop over chunks,
        so reductions produce few partials)."""
        n = -(-total // cfg["BLOCK"])
        return min(n, self.arrays.max_programs) if not self.arrays.interpret else n

    def grid_tail(self, dk: DeviceKernel, programs: int) -> tuple[list, list, Any]:
        """The trailing arguments: per-program partials of each reduction, error buffer."""
        tail, parts = [], []
        for var, op, t in dk.reductions:
            buf = self.arrays.empty(programs, compute_numpy(t) if not t.is_bool else np.bool_)
            parts.append((var, op, t, buf))
            tail.append(self.arrays.wrap(buf))
        err = self.error_buffer(dk, tail)
        return tail, parts, err

    def config(self, dk: DeviceKernel, total: int, args: list, written: list) -> dict:
        if self.arrays.interpret or self.tuner is None:
            return {"BLOCK": min(next_pow2(total), INTERP_MAX_BLOCK), "num_warps": 4}
        from .triton_autotune import size_class
        if self._tune_base is None:          # hashing the IR costs ~100 us: once
            self._tune_base = (ir.ir_hash(self.k), sorted(self.options.items()),
                               self.arrays.device_name())
        ir_hash, options, device = self._tune_base
        key = self.tuner.key(self.k.name, dk.name, ir_hash, options, device, size_class(total))

        def trial(cfg: dict) -> float:
            saved = [a.copy() for a in written]          # trials must not change results
            try:
                programs = self.programs(total, cfg)
                tail, _, _ = self.grid_tail(dk, programs)
                meta = dict(cfg, enable_fp_fusion=self.fastmath)
                fn = self.fns[dk.name]
                go = lambda: self.arrays.launch(fn, (programs,), args + tail, meta)  # noqa
                go()                                      # compiles this configuration
                return min(time_launch(self.arrays, go) for _ in range(3))
            finally:
                for a, copy in zip(written, saved):
                    a[...] = copy
        cfg = self.tuner.choose(key, trial)
        return {"BLOCK": cfg["BLOCK"], "num_warps": cfg["num_warps"]}

    def run(self, dk: DeviceKernel, grid: tuple, args: list, meta: dict) -> None:
        """One launch (timed with CUDA events when someone listens for launches)."""
        fn = self.fns[dk.name]
        meta = dict(meta, enable_fp_fusion=self.fastmath)
        if self.arrays.interpret or not events.has_listeners("launch"):
            self.arrays.launch(fn, grid, args, meta)
            return
        ms = time_launch(self.arrays, lambda: self.arrays.launch(fn, grid, args, meta))
        self.last_launch_ms[dk.name] = ms
        events.emit("launch", kernel=self.k.name, backend="triton", device_kernel=dk.name,
                    grid=grid, block=meta["BLOCK"], num_warps=meta.get("num_warps"),
                    gpu_ms=ms)


def time_launch(arrays, launch: Callable[[], None]) -> float:
    """Milliseconds one launch took on the GPU, measured with CUDA events."""
    cp = arrays.cp
    start, end = cp.cuda.Event(), cp.cuda.Event()
    start.record()
    launch()
    end.record()
    end.synchronize()
    return float(cp.cuda.get_elapsed_time(start, end))


__all__ = ["DevicePointer", "GPUArrays", "INTERP_MAX_BLOCK", "InterpreterArrays",
           "Launcher", "next_pow2", "time_launch"]
