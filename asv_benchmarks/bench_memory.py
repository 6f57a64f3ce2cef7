"""The memory pool against numpy: cached alloc+free, and reuse of a warm 64 MiB block.

Goals (DESIGN.md section 3): a cached alloc+free through the full default
stack (statistics -> limit -> pool) <= 1 us; reusing a 64 MiB block and
filling it within 1.1x of filling a preallocated buffer (``np.empty`` + fill
pays the page faults of fresh memory every time: 1.6x to 3.7x slower on these
machines, depending on transparent huge pages).

Run directly for a quick table: ``python asv_benchmarks/bench_memory.py``.
"""

import timeit

import numpy as np

from langone.tensor import memory

MiB = 1024 * 1024
LARGE = 64 * MiB


class AllocFree:
    """One allocation and its free, served from the pool's cache."""

    params = [4096, MiB]
    param_names = ["nbytes"]

    def setup(self, nbytes):
        self.pool = memory.get_pool("cpu")
        self.pool.allocate(nbytes).free()          # warm the size class

    def time_pool_alloc_free(self, nbytes):
        self.pool.allocate(nbytes).free()

    def time_allocate_free(self, nbytes):
        # The module function the Tensor calls: arena lookup + default stack.
        memory.allocate(nbytes).free()

    def time_allocate_collected(self, nbytes):
        # Never freed explicitly: the garbage-collection path returns it.
        memory.allocate(nbytes)

    def time_np_empty(self, nbytes):
        np.empty(nbytes, np.uint8)


class LargeBlockFill:
    """Filling 64 MiB: a reused warm pool block, a preallocated buffer, fresh memory."""

    def setup(self):
        self.pool = memory.get_pool("cpu")
        block = self.pool.allocate(LARGE)
        np.asarray(block).fill(0)                  # fault the pages in once
        block.free()
        self.preallocated = np.empty(LARGE, np.uint8)
        self.preallocated.fill(0)

    def time_pool_reuse_fill(self):
        block = self.pool.allocate(LARGE)
        np.asarray(block).fill(1)
        block.free()

    def time_preallocated_fill(self):
        self.preallocated.fill(1)

    def time_np_empty_fill(self):
        np.empty(LARGE, np.uint8).fill(1)


def _best_ns(fn, number: int, rounds: int = 25) -> float:
    return min(timeit.repeat(fn, number=number, repeat=rounds)) / number * 1e9


if __name__ == "__main__":
    print(f"{'benchmark':<42} {'time':>12}")
    for nbytes in AllocFree.params:
        bench = AllocFree()
        bench.setup(nbytes)
        base = _best_ns(lambda: bench.time_np_empty(nbytes), 5000)
        for name in ("time_pool_alloc_free", "time_allocate_free",
                     "time_allocate_collected", "time_np_empty"):
            fn = getattr(bench, name)
            ns = _best_ns(lambda: fn(nbytes), 5000)
            print(f"{name[5:] + f' ({nbytes} B)':<42} {ns:>9.0f} ns  "
                  f"({ns / base:.2f}x np.empty)")
    large = LargeBlockFill()
    large.setup()
    ref = _best_ns(large.time_preallocated_fill, 5) / 1e6
    for name in ("time_pool_reuse_fill", "time_preallocated_fill", "time_np_empty_fill"):
        ms = _best_ns(getattr(large, name), 5) / 1e6
        print(f"{name[5:] + ' (64 MiB)':<42} {ms:>9.2f} ms  ({ms / ref:.2f}x preallocated)")
