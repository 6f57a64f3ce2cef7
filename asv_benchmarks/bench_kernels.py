"""asv: LangOne kernels (numba backend) vs numpy vs the same loop hand-written in numba.

The workloads live in :mod:`langone.bench` (also the quick ``langone bench``).
"""

import tempfile

from langone.bench import CASES, NPBENCH_CASES, case, first_call_ms, npbench, numba_peer_names

VARIANTS = npbench().VARIANTS


class Kernels:
    """One timing per (case, implementation)."""

    params = ([c for c in CASES if c not in NPBENCH_CASES], ["langone", "numpy", "numba_hand"])
    param_names = ["case", "impl"]
    timeout = 300

    def setup(self, name, impl):
        calls = dict(zip(["langone", "numpy", "numba_hand"], case(name)))
        self.fn = calls[impl]
        self.fn()                                   # compile / warm up

    def time_call(self, name, impl):
        self.fn()


class NPBench:
    """NPBench's floyd_warshall and nbody at its "M" size: LangOne (the step loop inside
    one kernel), NPBench's numpy version and each of NPBench's numba versions."""

    params = (NPBENCH_CASES,
              ["langone", "numpy", *dict.fromkeys(v for vs in VARIANTS.values() for v in vs)])
    param_names = ["case", "impl"]
    timeout = 600

    def setup(self, name, impl):
        impls = ["langone", "numpy", *numba_peer_names(name)]
        if impl not in impls:
            raise NotImplementedError(f"NPBench has no {impl} version of {name}")
        self.fn = case(name, "M")[impls.index(impl)]
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
