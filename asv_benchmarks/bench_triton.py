"""The Triton backend: launch overhead, saxpy bandwidth and row softmax on a GPU,
against torch where it is installed with CUDA; LangOne against tutorial-style Triton
kernels (``TutorialPairs``); ahead-of-time compile time anywhere.

GPU benchmarks raise ``NotImplementedError`` in ``setup`` on machines without a
CUDA GPU, which asv reports as skipped; so do the torch columns without CUDA
torch. GPU times include a device synchronization (kernels launch
asynchronously); bandwidth is computed from CUDA-event time of the kernel alone.

Run directly for a quick table: ``python asv_benchmarks/bench_triton.py``.
"""

import os
import shutil
import tempfile
import timeit
import warnings

import numpy as np

import langone as lo
from langone.bench import saxpy, softmax_rows  # the shared workloads

warnings.filterwarnings("ignore", message="no CUDA GPU was found")


def gpu_or_skip():
    """The triton backend object when it runs on a real GPU, else NotImplementedError."""
    from langone.kernels import backends
    if "triton" not in backends.usable():
        raise NotImplementedError("the triton backend is not usable here")
    b = backends.get("triton")
    if b.interpret:
        raise NotImplementedError("no CUDA GPU: Triton runs in its interpreter here")
    return b


def torch_cuda_or_skip():
    try:
        import torch
    except ImportError:
        raise NotImplementedError("torch is not installed") from None
    if not torch.cuda.is_available():
        raise NotImplementedError("torch has no CUDA here")
    return torch


def sync():
    import cupy
    cupy.cuda.Device().synchronize()


def gpu_ms_of(call) -> float:
    """CUDA-event milliseconds of the device kernels one call launches."""
    from langone import events
    seen = []
    off = events.subscribe("launch", lambda ev: seen.append(ev.data.get("gpu_ms")))
    try:
        call()
    finally:
        off()
    return sum(ms for ms in seen if ms)


def cuda(a):
    return lo.tensor(a, device="cuda")


class LaunchOverhead:
    """A cached call of a 16-element saxpy: Python + Triton launch + sync."""

    def setup(self):
        gpu_or_skip()
        x = np.ones(16, np.float32)
        self.x, self.y, self.out = cuda(x), cuda(x), cuda(x)
        self.k = saxpy.on("triton")
        self.call()

    def call(self):
        self.k(2.0, self.x, self.y, self.out)
        sync()

    def time_langone_triton(self):
        self.call()

    def time_torch(self):
        torch = torch_cuda_or_skip()
        x = torch.ones(16, device="cuda")
        torch.add(x, x, alpha=2.0)
        torch.cuda.synchronize()


class Saxpy:
    """2**26 fp32 elements (768 MiB moved): bandwidth bound."""

    timeout = 300
    n = 1 << 26

    def setup(self):
        gpu_or_skip()
        rng = np.random.default_rng(0)
        self.x = cuda(rng.standard_normal(self.n).astype(np.float32))
        self.y = cuda(rng.standard_normal(self.n).astype(np.float32))
        self.out = lo.empty_like(self.x)
        self.k = saxpy.on("triton")
        self.k(2.0, self.x, self.y, self.out)           # autotune once
        sync()

    def time_langone_triton(self):
        self.k(2.0, self.x, self.y, self.out)
        sync()

    def track_bandwidth_gbs(self):
        ms = gpu_ms_of(lambda: self.k(2.0, self.x, self.y, self.out))
        return 3 * 4 * self.n / (ms * 1e-3) / 1e9
    track_bandwidth_gbs.unit = "GB/s"

    def time_torch(self):
        torch = torch_cuda_or_skip()
        if not hasattr(self, "tx"):
            self.tx = torch.randn(self.n, device="cuda")
            self.ty = torch.randn(self.n, device="cuda")
        torch.add(self.ty, self.tx, alpha=2.0)
        torch.cuda.synchronize()


class Softmax:
    """Row softmax of 4096 x 1024 fp32 (one lane per row, three passes)."""

    timeout = 300
    shape = (4096, 1024)

    def setup(self):
        gpu_or_skip()
        x = np.random.default_rng(0).standard_normal(self.shape).astype(np.float32)
        self.x, self.out = cuda(x), cuda(np.empty_like(x))
        self.k = softmax_rows.on("triton")
        self.k(self.x, self.out)
        sync()

    def time_langone_triton(self):
        self.k(self.x, self.out)
        sync()

    def time_torch(self):
        torch = torch_cuda_or_skip()
        if not hasattr(self, "tx"):
            self.tx = torch.randn(*self.shape, device="cuda")
        torch.softmax(self.tx, dim=1)
        torch.cuda.synchronize()


class TutorialPairs:
    """LangOne's kernel and the tutorial-style Triton kernel of the same loop on the same
    data (asv_benchmarks/triton_tutorial.py); the ratio of the two is what
    ``make gpu-check`` reports. cuBLAS (``torch.matmul``) beside the matmul."""

    timeout = 600
    params = ["saxpy", "softmax", "total", "stencil", "histogram", "matmul"]
    param_names = ["case"]

    def setup(self, case):
        gpu_or_skip()
        torch_cuda_or_skip()
        import sys
        import pathlib
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
        from scripts import gpu_check
        self.bench = gpu_check.Bench(smoke=False)
        self.row = getattr(self.bench, case)()           # checks results, times both

    def track_langone_ms(self, case):
        return self.row["langone_ms"]
    track_langone_ms.unit = "ms"

    def track_tutorial_ms(self, case):
        return self.row["tutorial_ms"]
    track_tutorial_ms.unit = "ms"

    def track_ratio(self, case):
        """tutorial time / LangOne time: 1.0 is as fast as the tutorial kernel."""
        return self.row["ratio"]
    track_ratio.unit = "ratio"


class AheadOfTime:
    """Compiling the generated saxpy kernel for sm_80 from scratch (no GPU needed)."""

    timeout = 300
    number = 1
    repeat = 3

    def setup(self):
        from langone.kernels import backends
        if "triton" not in backends.usable():
            raise NotImplementedError("triton is not installed")
        x = np.ones(8, np.float32)
        self.ir = saxpy.stages(2.0, x, x, x.copy()).final

    def track_compile_sm80_ms(self):
        from langone.kernels.backends import triton_aot
        d = tempfile.mkdtemp(prefix="langone-aot-bench-")
        old = os.environ.get("LANGONE_CACHE_DIR")
        os.environ["LANGONE_CACHE_DIR"] = d
        try:
            t = timeit.default_timer()
            triton_aot.compile_kernel(self.ir, targets=(triton_aot.SM80,))
            return (timeit.default_timer() - t) * 1e3
        finally:
            if old is None:
                os.environ.pop("LANGONE_CACHE_DIR", None)
            else:
                os.environ["LANGONE_CACHE_DIR"] = old
            shutil.rmtree(d, ignore_errors=True)
    track_compile_sm80_ms.unit = "ms"


def _best(fn, repeat=7, number=20):
    fn()
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


if __name__ == "__main__":
    aot = AheadOfTime()
    aot.setup()
    print(f"AOT compile of saxpy for sm_80: {aot.track_compile_sm80_ms():.0f} ms")
    for cls in (LaunchOverhead, Saxpy, Softmax):
        b = cls()
        try:
            b.setup()
        except NotImplementedError as exc:
            print(f"{cls.__name__}: skipped ({exc})")
            continue
        t = _best(b.time_langone_triton)
        line = f"{cls.__name__}: langone/triton {t * 1e6:9.1f} us"
        try:
            tt = _best(b.time_torch)
            line += f"   torch {tt * 1e6:9.1f} us   ratio {tt / t:5.2f}x"
        except NotImplementedError as exc:
            line += f"   (torch skipped: {exc})"
        if hasattr(b, "track_bandwidth_gbs"):
            line += f"   {b.track_bandwidth_gbs():.0f} GB/s"
        print(line)
