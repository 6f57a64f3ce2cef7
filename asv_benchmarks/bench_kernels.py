"""asv: LangOne kernels (numba backend) vs numpy vs the same loop hand-written in numba.

The workloads live in :mod:`langone.bench` (also the quick ``langone bench``).
"""

from langone.bench import CASES, case, first_call_ms
import tempfile


class Kernels:
    """One timing per (case, implementation)."""

    params = (CASES, ["langone", "numpy", "numba_hand"])
    param_names = ["case", "impl"]
    timeout = 300

    def setup(self, name, impl):
        calls = dict(zip(["langone", "numpy", "numba_hand"], case(name)))
        self.fn = calls[impl]
        self.fn()                                   # compile / warm up

    def time_call(self, name, impl):
        self.fn()


class FirstCall:
    """First call in a new process with a warm disk cache (AOT tier built)."""

    timeout = 300
    number = 1
    repeat = 3

    def setup(self):
        self.cache_dir = tempfile.mkdtemp(prefix="langone-bench-cache-")
        first_call_ms(self.cache_dir)              # warm the disk cache

    def track_first_call_warm_cache_ms(self):
        return first_call_ms(self.cache_dir)["warm"]["first_call_ms"]
    track_first_call_warm_cache_ms.unit = "ms"


if __name__ == "__main__":
    from langone.bench import main
    main()
