"""Tensor overhead against numpy: creation and elementwise operations.

``lo.empty((16,))`` measures the fixed cost of a Tensor (pool allocation, the
numpy view of the block, the Python object); ``lo.zeros((1024, 1024))`` adds
the fill of 8 MiB. Note that ``np.zeros`` gets zero pages from calloc lazily,
so it only pays for the pages a later pass touches, while a pooled block is
reused memory that must be written. Binary ops compare ``a + b`` on Tensors
with the same numpy ufunc on arrays (small: overhead; large: bandwidth).

Run directly for a quick table: ``python asv_benchmarks/bench_tensor.py``.
"""

import importlib
import timeit

import numpy as np

lo = importlib.import_module("langone.tensor")


class Creation:
    def time_lo_empty_16(self):
        lo.empty((16,))

    def time_np_empty_16(self):
        np.empty((16,))

    def time_lo_empty_16_fp32(self):
        lo.empty((16,), dtype="fp32")

    def time_lo_zeros_1024x1024(self):
        lo.zeros((1024, 1024))

    def time_np_zeros_1024x1024(self):
        np.zeros((1024, 1024))

    def time_lo_zeros_1024x1024_touched(self):
        lo.zeros((1024, 1024)).numpy().sum()

    def time_np_zeros_1024x1024_touched(self):
        np.zeros((1024, 1024)).sum()

    def time_lo_tensor_from_list(self):
        lo.tensor([1.0, 2.0, 3.0])

    def time_np_array_from_list(self):
        np.array([1.0, 2.0, 3.0])


class BinaryOp:
    params = [16, 1_000_000]
    param_names = ["n"]

    def setup(self, n):
        self.a = lo.ones(n, dtype="fp32")
        self.b = lo.ones(n, dtype="fp32")
        self.na = np.ones(n, np.float32)
        self.nb = np.ones(n, np.float32)

    def time_lo_add(self, n):
        self.a + self.b

    def time_np_add(self, n):
        self.na + self.nb

    def time_lo_mul_scalar(self, n):
        self.a * 2.0

    def time_np_mul_scalar(self, n):
        self.na * 2.0

    def time_lo_exp(self, n):
        lo.exp(self.a)

    def time_np_exp(self, n):
        np.exp(self.na)


class Reduction:
    def setup(self):
        self.a = lo.ones(1_000_000, dtype="fp32")
        self.na = np.ones(1_000_000, np.float32)

    def time_lo_sum(self):
        self.a.sum()

    def time_np_sum(self):
        self.na.sum()


def _best_us(fn, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


if __name__ == "__main__":
    c = Creation()
    rows: list = [("empty((16,))", c.time_lo_empty_16, c.time_np_empty_16, 20000),
            ("zeros((1024,1024))", c.time_lo_zeros_1024x1024, c.time_np_zeros_1024x1024, 50),
            ("zeros((1024,1024)) + touch", c.time_lo_zeros_1024x1024_touched,
             c.time_np_zeros_1024x1024_touched, 50),
            ("tensor([1.,2.,3.])", c.time_lo_tensor_from_list, c.time_np_array_from_list,
             20000)]
    for n in BinaryOp.params:
        b = BinaryOp()
        b.setup(n)
        reps = 20000 if n < 1000 else 50
        rows += [(f"{label} (n={n:,})", getattr(b, f"time_lo_{op}"), getattr(b, f"time_np_{op}"),
                  reps, n) for label, op in (("a + b", "add"), ("a * 2.0", "mul_scalar"),
                                             ("exp(a)", "exp"))]
    r = Reduction()
    r.setup()
    rows.append(("sum (n=1,000,000)", r.time_lo_sum, r.time_np_sum, 200))
    print(f"{'operation':<30} {'langone us':>11} {'numpy us':>10} {'ratio':>7}")
    for name, lo_fn, np_fn, number, *args in rows:
        t_lo = _best_us(lambda: lo_fn(*args), number)
        t_np = _best_us(lambda: np_fn(*args), number)
        print(f"{name:<30} {t_lo:>11.2f} {t_np:>10.2f} {t_lo / t_np:>6.2f}x")
