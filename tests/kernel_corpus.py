"""The kernel corpus: every construct of the kernel language, with inputs.

Each :class:`Case` has a kernel, a function making its arguments, and
optionally ``expect(args) -> (outputs, result)`` computed with plain numpy, so
the numpy reference itself is checked too. Every backend runs every case and
is compared with the numpy reference (tests/test_kernel_corpus.py); later
backends join by registering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import ml_dtypes
import numpy as np

import langone as lo
from langone import bench

SCALE = 3.0                   # a global constant: captured at compile time
BF16 = ml_dtypes.bfloat16


@dataclass
class Case:
    name: str
    kernel: Any
    make: Callable[[np.random.Generator], tuple]
    expect: Callable[..., Any] | None = None     # args -> expected result / outputs
    rtol: float = 1e-5
    atol: float = 1e-6


CASES: list[Case] = []


def case(make, expect=None, rtol=1e-5, atol=1e-6, name=None):
    def deco(fn):
        k = lo.kernel(fn)
        CASES.append(Case(name or fn.__name__, k, make, expect, rtol, atol))
        return k
    return deco


def reuse(kernel, make, expect=None, rtol=1e-5, atol=1e-6, name=None):
    """Add a kernel defined elsewhere (the benchmark workloads) to the corpus."""
    CASES.append(Case(name or kernel.__name__, kernel, make, expect, rtol, atol))


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# --- 1-D grids, scalars, NEP 50 ------------------------------------------------

reuse(bench.saxpy, lambda r: (2.0, f32(r, 1000), f32(r, 1000), np.zeros(1000, np.float32)),
      lambda a, x, y, out: {"out": (a * x + y).astype(np.float32)})


@case(lambda r: (np.float64(0.5), f32(r, 257), np.zeros(257, np.float64)),
      lambda a, x, out: {"out": a * x.astype(np.float64)})
def strong_scalar_promotes(a, x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = a * x[i]


@case(lambda r: (f32(r, 33, 17), f32(r, 33, 17), np.zeros((33, 17), np.float32)),
      lambda x, y, out: {"out": x * y + SCALE})
def grid2d_global_const(x, y, out):
    for i, j in lo.grid(x.shape[0], x.shape[1]):
        out[i, j] = x[i, j] * y[i, j] + SCALE


@case(lambda r: (f32(r, 4, 5, 6), np.zeros((4, 5, 6), np.float32)),
      lambda x, out: {"out": x * 2 - 1})
def grid3d(x, out):
    for i, j, k in lo.grid(x.shape[0], x.shape[1], x.shape[2]):
        out[i, j, k] = x[i, j, k] * 2 - 1


@case(lambda r: (f32(r, 2, 3, 4, 5)[:, ::-1], np.zeros((2, 3, 4, 5), np.float32)),
      lambda x, out: np.float32(x.sum()), rtol=1e-4, atol=1e-4)
def grid4d_strided_sum(x, out):
    n0, n1, n2, n3 = x.shape
    s = 0.0
    for i, j, k, l in lo.grid(n0, n1, n2, n3):
        out[i, j, k, l] = x[i, j, k, l] * (l - k + j - i)
        s += x[i, j, k, l]
    return s


@case(lambda r: (50, np.zeros(64, np.int32)),
      lambda n, out: {"out": np.concatenate([np.arange(50) ** 2, np.zeros(14)]).astype(np.int32)})
def grid_scalar_extent(n, out):
    for i in lo.grid(n):
        out[i] = i * i


# --- reductions ----------------------------------------------------------------

reuse(bench.dot, lambda r: (f32(r, 10_000), f32(r, 10_000)),
      lambda x, y: np.float32(np.dot(x.astype(np.float64), y)), rtol=1e-4, atol=1e-3)


@case(lambda r: (r.uniform(0.9, 1.1, 500).astype(np.float64),),
      lambda x: np.prod(x), rtol=1e-10)
def prod_reduction(x):
    p = 1.0
    for i in lo.grid(x.shape[0]):
        p *= x[i]
    return p


@case(lambda r: (f32(r, 3001),), lambda x: x.max() - x.min())
def min_max_range(x):
    hi = -lo.inf
    lo_ = lo.inf
    for i in lo.grid(x.shape[0]):
        hi = max(hi, x[i])
        lo_ = min(lo_, x[i])
    return hi - lo_


@case(lambda r: (r.integers(-128, 127, 5000, dtype=np.int8),),
      lambda x: x.astype(np.int64).sum())
def int8_sum_accumulates_in_int64(x):
    acc = 0
    for i in lo.grid(x.shape[0]):
        acc += x[i]
    return acc


@case(lambda r: (r.uniform(0, 1, 4096).astype(np.float16),),
      lambda x: x.astype(np.float32).sum(), rtol=1e-3)
def fp16_sum_accumulates_in_fp32(x):
    s = 0.0
    for i in lo.grid(x.shape[0]):
        s += x[i]
    return s


@case(lambda r: (f32(r, 2000),), lambda x: np.float32(x[x > 0].sum()), rtol=1e-4)
def conditional_sum(x):
    s = 0.0
    for i in lo.grid(x.shape[0]):
        if x[i] > 0:
            s += x[i]
    return s


@case(lambda r: (f32(r, 40, 30),), lambda x: np.float32(x.sum()), rtol=1e-4, atol=1e-4)
def sum2d(x):
    s = 0.0
    for i, j in lo.grid(x.shape[0], x.shape[1]):
        s += x[i, j]
    return s


@case(lambda r: (f32(r, 1000),), lambda x: x.sum() / x.shape[0] - 1.0, rtol=1e-4, atol=1e-5)
def mean_minus_one_after_grid(x):
    s = 0.0
    n = x.shape[0]
    for i in lo.grid(n):
        s -= -x[i]
    return s / n - 1.0


# --- sequential loops, control flow ------------------------------------------------

def _softmax(x, out):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return {"out": e / e.sum(axis=1, keepdims=True)}


reuse(bench.softmax_rows, lambda r: (f32(r, 37, 50), np.zeros((37, 50), np.float32)),
      _softmax, rtol=1e-5)


def _collatz(n, out):
    res = []
    for v in n.tolist():
        steps = 0
        while v != 1 and steps <= 200:
            v = v // 2 if v % 2 == 0 else 3 * v + 1
            steps += 1
        res.append(steps)
    return {"out": np.array(res, np.int32)}


@case(lambda r: (np.arange(1, 200, dtype=np.int64), np.zeros(199, np.int32)), _collatz)
def collatz_while_break(n, out):
    for i in lo.grid(n.shape[0]):
        v = n[i]
        steps = 0
        while v != 1:
            if v % 2 == 0:
                v = v // 2
            else:
                v = 3 * v + 1
            steps += 1
            if steps > 200:
                break
        out[i] = steps


@case(lambda r: (f32(r, 20, 31), np.zeros(20, np.float32)),
      lambda x, out: {"out": x[:, 30:4:-3].sum(axis=1)}, rtol=1e-5)
def range_negative_step(x, out):
    for i in lo.grid(x.shape[0]):
        s = 0.0
        for c in range(x.shape[1] - 1, 4, -3):
            s += x[i, c]
        out[i] = s


@case(lambda r: (r.integers(0, 10, (16, 25)).astype(np.int32), np.zeros(16, np.int32)),
      lambda x, out: {"out": np.where(x % 3 == 0, 0, x).sum(axis=1).astype(np.int32)})
def continue_skips(x, out):
    for i in lo.grid(x.shape[0]):
        s = 0
        for c in range(x.shape[1]):
            if x[i, c] % 3 == 0:
                continue
            s += x[i, c]
        out[i] = s


def _first_neg(x, out):
    res = []
    for row in x:
        idx = np.nonzero(row < -1.0)[0]
        res.append(idx[0] if idx.size else -1)
    return {"out": np.array(res, np.int64)}


@case(lambda r: (f32(r, 30, 40), np.zeros(30, np.int64)), _first_neg)
def break_finds_first(x, out):
    for i in lo.grid(x.shape[0]):
        found = -1
        for c in range(x.shape[1]):
            if x[i, c] < -1.0:
                found = c
                break
        out[i] = found


@case(lambda r: (f32(r, 500), np.zeros(500, np.float32)),
      lambda x, out: {"out": np.where(x > 1, 1.0, np.where(x < -1, -1.0,
                                                           np.where(x > 0, x * x, 0.0)))
                      .astype(np.float32)})
def if_elif_else(x, out):
    for i in lo.grid(x.shape[0]):
        v = x[i]
        if v > 1:
            out[i] = 1.0
        elif v < -1:
            out[i] = -1.0
        else:
            out[i] = v * v if v > 0 else 0.0


@case(lambda r: (f32(r, 300), np.zeros(300, np.int8)),
      lambda x, out: {"out": np.concatenate([[0], (x[1:] > x[:-1]) & (x[1:] > 0)]).astype(np.int8)})
def short_circuit_guards_index(x, out):
    for i in lo.grid(x.shape[0]):
        if i > 0 and x[i] > x[i - 1] and not x[i] <= 0:
            out[i] = 1
        else:
            out[i] = 0


@case(lambda r: (f32(r, 100), np.zeros(100, np.float32)),
      lambda x, out: {"out": np.where(x > 0, x, 0.1 * x).astype(np.float32)})
def where_leaky_relu(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = lo.where(x[i] > 0, x[i], 0.1 * x[i])


# --- integers, casts, bits -------------------------------------------------------

@case(lambda r: (r.integers(-128, 128, 256, dtype=np.int8),
                 r.integers(-128, 128, 256, dtype=np.int8), np.zeros(256, np.int8),
                 r.integers(-2**31, 2**31, 256, dtype=np.int64).astype(np.int32),
                 np.zeros(256, np.int32)),
      lambda a, b, o8, c, o32: {"o8": a + b, "o32": c * np.int32(3) + np.int32(7)})
def int_wraparound(a, b, o8, c, o32):
    for i in lo.grid(a.shape[0]):
        o8[i] = a[i] + b[i]
        o32[i] = c[i] * 3 + 7


@case(lambda r: (r.integers(-50, 50, 200).astype(np.int32),
                 r.choice([-7, -3, -1, 1, 2, 5], 200).astype(np.int32),
                 np.zeros(200, np.int32), np.zeros(200, np.int32)),
      lambda a, b, q, m: {"q": a // b, "m": a % b})
def int_floordiv_mod_python_semantics(a, b, q, m):
    for i in lo.grid(a.shape[0]):
        q[i] = a[i] // b[i]
        m[i] = a[i] % b[i]


@case(lambda r: (f32(r, 200) * 10, r.choice([-2.5, -1.0, 0.75, 3.0], 200).astype(np.float32),
                 np.zeros(200, np.float32), np.zeros(200, np.float32)),
      lambda a, b, q, m: {"q": np.floor_divide(a, b), "m": np.remainder(a, b)}, rtol=1e-5)
def float_floordiv_mod(a, b, q, m):
    for i in lo.grid(a.shape[0]):
        q[i] = a[i] // b[i]
        m[i] = a[i] % b[i]


@case(lambda r: ((f32(r, 128) * 100), np.zeros(128, np.int32), np.zeros(128, np.float16),
                 np.zeros(128, np.bool_)),
      lambda x, oi, oh, ob: {"oi": x.astype(np.int32), "oh": x.astype(np.int32).astype(np.float16),
                             "ob": x.astype(np.int32) != 0})
def casts(x, oi, oh, ob):
    for i in lo.grid(x.shape[0]):
        v = lo.int32(x[i])
        oi[i] = v
        oh[i] = lo.fp16(v)
        ob[i] = bool(v)


@case(lambda r: (r.integers(-2**31, 2**31, 300, dtype=np.int64).astype(np.int32),
                 r.integers(0, 31, 300).astype(np.int32), np.zeros(300, np.int32)),
      lambda a, s, out: {"out": ((a & 0x0F0F) | (a ^ s)) + (a >> s) + (s << 2) + ~s})
def bit_ops(a, s, out):
    for i in lo.grid(a.shape[0]):
        out[i] = ((a[i] & 0x0F0F) | (a[i] ^ s[i])) + (a[i] >> s[i]) + (s[i] << 2) + ~s[i]


@case(lambda r: (r.integers(0, 255, 300, dtype=np.uint8), np.zeros(300, np.uint8)),
      lambda x, out: {"out": (x * np.uint8(2) + np.uint8(100))})
def uint8_wraps(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] * 2 + 100


@case(lambda r: (r.integers(1, 100, 64).astype(np.int64), np.zeros(64, np.float64)),
      lambda x, out: {"out": x / 7 + (x // 7) + x ** 2 * 0.5})
def true_division_and_pow(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] / 7 + (x[i] // 7) + x[i] ** 2 * 0.5


# --- math --------------------------------------------------------------------------

def _math(x, o):
    ax = np.abs(x) + 0.5
    return {"o": (np.exp(x * 0.5) + np.log(ax) + np.sqrt(ax) + np.sin(x) * np.cos(x)
                  + np.tanh(x) + np.floor(x) - np.ceil(x)).astype(np.float32)}


@case(lambda r: (f32(r, 1000), np.zeros(1000, np.float32)), _math, rtol=1e-5, atol=1e-5)
def math_functions(x, o):
    for i in lo.grid(x.shape[0]):
        a = abs(x[i]) + 0.5
        o[i] = (lo.exp(x[i] * 0.5) + lo.log(a) + lo.sqrt(a) + lo.sin(x[i]) * lo.cos(x[i])
                + lo.tanh(x[i]) + lo.floor(x[i]) - lo.ceil(x[i]))


def _erf_sig(x, o):
    erf = np.vectorize(math.erf)(x.astype(np.float64))
    return {"o": (erf + 1 / (1 + np.exp(-x.astype(np.float64)))
                  + np.minimum(x, 0.5) + np.maximum(x, -0.5)).astype(np.float32)}


@case(lambda r: (f32(r, 500), np.zeros(500, np.float32)), _erf_sig, rtol=1e-5, atol=1e-5)
def erf_sigmoid_minimum_maximum(x, o):
    for i in lo.grid(x.shape[0]):
        o[i] = lo.erf(x[i]) + lo.sigmoid(x[i]) + lo.minimum(x[i], 0.5) + lo.maximum(x[i], -0.5)


def _two_arg_math(x, y, o):
    with np.errstate(all="ignore"):
        return {"o": np.stack([np.log1p(x), np.expm1(x), np.arctan2(x, y), np.hypot(x, y),
                               np.copysign(x, y), np.fmod(x, y), np.power(np.abs(x), y)],
                              axis=1).astype(x.dtype)}


def _two_arg_make(dtype):
    def make(r):
        x = (r.standard_normal(400) * 4).astype(dtype)
        y = (r.standard_normal(400) * 2).astype(dtype)
        x[:6] = [0.0, -0.0, 1e-6, -1e-7, np.inf, np.nan]
        y[:6] = [-0.0, 0.0, -3.0, 0.0, np.nan, 1.0]
        return x, y, np.zeros((400, 7), dtype)
    return make


def _two_arg_math_kernel(x, y, o):
    for i in lo.grid(x.shape[0]):
        o[i, 0] = lo.log1p(x[i])
        o[i, 1] = np.expm1(x[i])
        o[i, 2] = lo.atan2(x[i], y[i])
        o[i, 3] = np.hypot(x[i], y[i])
        o[i, 4] = np.copysign(x[i], y[i])
        o[i, 5] = lo.fmod(x[i], y[i])
        o[i, 6] = lo.pow(abs(x[i]), y[i])


for _dt, _tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
    case(_two_arg_make(_dt), _two_arg_math, rtol=_tol, atol=_tol,
         name=f"log1p_expm1_atan2_hypot_copysign_fmod_pow_{np.dtype(_dt).name}")(
        _two_arg_math_kernel)


def _math_module(x, o):
    m = math
    return {"o": np.array([[m.log1p(abs(v)), m.expm1(v / 8), m.atan2(v, 2), m.hypot(v, 3),
                            m.copysign(2, v), m.fmod(v, 1.5), m.pow(abs(v) + 1, 1.5)]
                           for v in x.astype(np.float64).tolist()]).astype(np.float32)}


@case(lambda r: (f32(r, 300) * 4, np.zeros((300, 7), np.float32)), _math_module,
      rtol=1e-6, atol=1e-6)
def math_module_two_argument_functions(x, o):
    for i in lo.grid(x.shape[0]):
        o[i, 0] = math.log1p(abs(x[i]))
        o[i, 1] = math.expm1(x[i] / 8)
        o[i, 2] = math.atan2(x[i], 2)
        o[i, 3] = math.hypot(x[i], 3)
        o[i, 4] = math.copysign(2, x[i])
        o[i, 5] = math.fmod(x[i], 1.5)
        o[i, 6] = math.pow(abs(x[i]) + 1, 1.5)


def _int_fmod_pow(a, b, o):
    with np.errstate(all="ignore"):
        return {"o": np.stack([np.fmod(a, b), np.power(a, np.abs(b) % 4)], axis=1)}


@case(lambda r: (r.integers(-100, 100, 500).astype(np.int32),
                 r.integers(-6, 6, 500).astype(np.int32), np.zeros((500, 2), np.int32)),
      _int_fmod_pow)
def integer_fmod_and_pow(a, b, o):
    for i in lo.grid(a.shape[0]):
        o[i, 0] = np.fmod(a[i], b[i])
        o[i, 1] = lo.pow(a[i], abs(b[i]) % 4)


def _builtins(x, out):
    return {"out": np.stack([x.min(axis=1), np.maximum(x.max(axis=1), -1), np.abs(x[:, 0]),
                             np.full(x.shape[0], x.ndim + len(x) + x.size)], axis=1)}


@case(lambda r: (r.integers(-50, 50, (40, 3)).astype(np.int64), np.zeros((40, 4), np.int64)),
      _builtins)
def builtins_min_max_abs_len_size(x, out):
    n, m = x.shape
    for i in lo.grid(n):
        out[i, 0] = min(x[i, 0], x[i, 1], x[i, m - 1])
        out[i, 1] = max(x[i, 0], x[i, 1], x[i, 2], -1)
        out[i, 2] = abs(x[i, 0])
        out[i, 3] = x.ndim + len(x) + x.size


def _hist(v, h):
    out = np.zeros_like(h)
    np.add.at(out, v, 1)
    return {"h": out}


@case(lambda r: (r.integers(0, 16, 5000).astype(np.int32), np.zeros(16, np.int64)), _hist)
def atomic_histogram(v, h):
    for i in lo.grid(v.shape[0]):
        lo.atomic_add(h, v[i], 1)


def _segment_extremes(v, key, top, bottom):
    with np.errstate(invalid="ignore"):
        np.maximum.at(top, key, v)
        np.minimum.at(bottom, key, v)
    return {"top": top, "bottom": bottom}


def _with_nans(r):
    v = r.standard_normal(3000).astype(np.float32)
    v[r.integers(0, 3000, 3)] = np.nan                   # NaN propagates: those segments
    return (v, r.integers(0, 40, 3000).astype(np.int64), np.full(50, -np.inf, np.float32),
            np.full(50, np.inf, np.float32))


@case(_with_nans, _segment_extremes, rtol=0.0, atol=0.0)
def atomic_segment_max_min(v, key, top, bottom):
    for i in lo.grid(v.shape[0]):          # the final elements do not depend on the order
        lo.atomic_max(top, key[i], v[i])
        lo.atomic_min(bottom, key[i], v[i])


def _take_stock(stock, key, qty):
    np.subtract.at(stock, key, qty)
    return {"stock": stock}


@case(lambda r: (np.full(7, 2**62, np.int64), r.integers(-7, 7, 2000),
                 r.integers(-2**40, 2**40, 2000)), _take_stock, rtol=0.0, atol=0.0)
def atomic_sub_int64_negative_keys(stock, key, qty):
    for i in lo.grid(key.shape[0]):
        lo.atomic_sub(stock, key[i], qty[i])


def _swap_slots(slots, perm, v, c, old, won):
    old[:] = slots[perm]
    slots[perm] = np.where(v == c, old, v)           # the cas swaps back where v == c
    return {"slots": slots, "old": old, "won": (v == c).astype(np.int8)}


@case(lambda r: (r.integers(0, 3, 300).astype(np.int32), r.permutation(300),
                 r.integers(0, 4, 300).astype(np.int32), r.integers(0, 4, 300).astype(np.int32),
                 np.zeros(300, np.int32), np.zeros(300, np.int8)), _swap_slots, rtol=0.0,
      atol=0.0)
def atomic_exchange_then_cas_distinct_slots(slots, perm, v, c, old, won):
    for i in lo.grid(perm.shape[0]):       # one iteration per slot: old values are fixed
        old[i] = lo.atomic_exchange(slots, perm[i], v[i])
        won[i] = lo.atomic_cas(slots, perm[i], c[i], old[i]) == c[i]


def _half_peaks(v, key, top):
    acc = top.astype(np.float32)
    np.maximum.at(acc, key, v.astype(np.float32))
    return {"top": acc.astype(np.float16)}


@case(lambda r: (r.standard_normal(2000).astype(np.float16), r.integers(0, 9, 2000),
                 np.full(9, -60000.0, np.float16)), _half_peaks, rtol=0.0, atol=0.0)
def atomic_max_fp16_collisions(v, key, top):
    for i in lo.grid(v.shape[0]):
        lo.atomic_max(top, key[i], v[i])


# --- layouts ------------------------------------------------------------------------

@case(lambda r: (f32(r, 40, 30)[::2, 1::3], f32(r, 20, 10).T.copy().T,
                 np.zeros((20, 10), np.float32)),
      lambda x, y, out: {"out": x + 2 * y})
def strided_and_transposed(x, y, out):
    for i, j in lo.grid(x.shape[0], x.shape[1]):
        out[i, j] = x[i, j] + 2 * y[i, j]


@case(lambda r: (f32(r, 12, 9), np.zeros(12, np.float32)),
      lambda x, out: {"out": x[:, -1] * x.ndim + x[:, 0]})
def ndim_and_negative_constant_index(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i, -1] * x.ndim + x[i, x.shape[-1] - x.shape[1]]


def _matmul(a, b, out):
    return {"out": (a.astype(np.float64) @ b).astype(np.float32)}


reuse(bench.matmul, lambda r: (f32(r, 17, 23), f32(r, 23, 19), np.zeros((17, 19), np.float32)),
      _matmul, rtol=1e-4, atol=1e-4, name="naive_matmul")


# Row accumulations: the numba backend interchanges these loops (k outside j,
# see langone/kernels/backends/interchange.py) for rows of >= 16 (the int and
# triangular cases have shorter rows: the fallback); the last two it must not.

@case(lambda r: (f32(r, 9, 31), f32(r, 31, 20), f32(r, 20), np.zeros((9, 20), np.float32)),
      lambda a, b, bias, out: {"out": np.maximum(
          (a.astype(np.float64) @ b + bias), 0).astype(np.float32)}, rtol=1e-4, atol=1e-4)
def matmul_bias_relu(a, b, bias, out):
    for i, j in lo.grid(a.shape[0], b.shape[1]):
        acc = bias[j]
        for k in range(a.shape[1]):
            acc += a[i, k] * b[k, j]
        out[i, j] = max(acc, 0.0)


@case(lambda r: (f32(r, 3, 5, 7), f32(r, 3, 7, 17), np.zeros((3, 5, 17), np.float32)),
      lambda a, b, out: {"out": (a.astype(np.float64) @ b).astype(np.float32)},
      rtol=1e-4, atol=1e-4)
def batched_matmul_3d_grid(a, b, out):
    for n, i, j in lo.grid(a.shape[0], a.shape[1], b.shape[2]):
        acc = 0.0
        for k in range(a.shape[2]):
            acc = acc + a[n, i, k] * b[n, k, j]
        out[n, i, j] = acc


@case(lambda r: (f32(r, 6, 8), f32(r, 8, 16), np.zeros((6, 16), np.float32)),
      lambda a, b, out: {"out": (a[:, :, None] + b[None, :, :]).max(axis=1)})
def max_plus_product(a, b, out):
    for i, j in lo.grid(a.shape[0], b.shape[1]):
        best = -lo.inf
        for k in range(a.shape[1]):
            best = lo.maximum(best, a[i, k] + b[k, j])
        out[i, j] = best


@case(lambda r: (f32(r, 5, 8), f32(r, 8, 16), np.zeros((5, 16), np.float32)),
      lambda a, b, out: {"out": (a[:, :, None] + b[None, :, :]).min(axis=1)})
def min_plus_builtin_min(a, b, out):
    for i, j in lo.grid(a.shape[0], b.shape[1]):
        best = lo.inf
        for k in range(a.shape[1]):
            best = min(best, a[i, k] + b[k, j])
        out[i, j] = best


@case(lambda r: (r.integers(-50, 50, (7, 9)).astype(np.int32),
                 r.integers(-50, 50, (9, 4)).astype(np.int32), np.zeros((7, 4), np.int64)),
      lambda a, b, out: {"out": a.astype(np.int64)[:, ::2] @ b.astype(np.int64)[::2]})
def int_matmul_even_k(a, b, out):
    for i, j in lo.grid(a.shape[0], b.shape[1]):
        acc = 0
        for k in range(0, a.shape[1], 2):
            acc += a[i, k] * b[k, j]
        out[i, j] = acc


@case(lambda r: (f32(r, 8, 12), f32(r, 10, 12), np.zeros((8, 10), np.float32)),
      lambda a, b, out: {"out": (a.astype(np.float64) @ b.T).astype(np.float32)},
      rtol=1e-4, atol=1e-4)
def matmul_b_transposed_contiguous_k(a, b, out):
    for i, j in lo.grid(a.shape[0], b.shape[0]):
        acc = 0.0
        for k in range(a.shape[1]):
            acc += a[i, k] * b[j, k]
        out[i, j] = acc


@case(lambda r: (f32(r, 6, 6), np.zeros((6, 6), np.float32)),
      lambda x, out: {"out": np.cumsum(x, axis=0, dtype=np.float32)}, rtol=1e-4, atol=1e-5)
def triangular_bound_depends_on_i(x, out):
    for i, j in lo.grid(x.shape[0], x.shape[1]):
        acc = 0.0
        for k in range(i + 1):
            acc += x[k, j]
        out[i, j] = acc


@case(lambda r: (f32(r, 5, 7), np.zeros((4, 7), np.float32)),
      lambda x, out: {"out": np.arange(4, dtype=np.float32)[:, None] + np.array(
          [x[:min(j + 1, 5), j].sum() for j in range(7)], np.float32)}, rtol=1e-4, atol=1e-5)
def bound_depends_on_j_not_interchanged(x, out):
    for i, j in lo.grid(out.shape[0], out.shape[1]):
        acc = 0.0 + i
        for k in range(min(j + 1, x.shape[0])):
            acc += x[k, j]
        out[i, j] = acc


@case(lambda r: (f32(r, 100), np.zeros(100, np.float32)),
      lambda x, out: {"out": np.cumsum(x, dtype=np.float32)}, rtol=1e-4, atol=1e-5)
def sequential_scan_no_grid(x, out):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i]
        out[i] = s


# --- precision ----------------------------------------------------------------------

@case(lambda r: (r.standard_normal(300).astype(BF16), np.zeros(300, BF16),
                 np.zeros(300, np.float16)),
      lambda x, ob, oh: {"ob": (x.astype(np.float32) * 3 + 1).astype(BF16),
                         "oh": (x.astype(np.float32) * 3 + 1).astype(np.float16)},
      rtol=1e-2, atol=1e-2)
def bf16_and_fp16_storage(x, ob, oh):
    for i in lo.grid(x.shape[0]):
        v = x[i] * 3 + 1
        ob[i] = v
        oh[i] = v


# --- elementwise kernels (no grid) ------------------------------------------------------

def _gelu(x):
    return (0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))
            ).astype(np.float32)


@case(lambda r: (f32(r, 2000),), _gelu, rtol=1e-5, atol=1e-6)
def gelu(x):
    return 0.5 * x * (1.0 + lo.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))


@case(lambda r: (f32(r, 7, 1), f32(r, 1, 9), 2.0),
      lambda a, b, s: (a * s + b).astype(np.float32))
def elementwise_broadcast(a, b, s):
    t = a * s
    return t + b


@case(lambda r: (r.integers(-5, 5, (4, 6)).astype(np.int8), f32(r, 4, 6).astype(np.float16)),
      lambda a, h: a + h * 2, rtol=1e-3, atol=1e-3)
def elementwise_mixed_int8_fp16(a, h):
    return a + h * 2


@case(lambda r: (f32(r, 3, 4, 5, 2), f32(r, 4, 1, 2)),
      lambda a, b: np.maximum(a, b) - lo.pi)
def elementwise_4d_broadcast(a, b):
    return lo.maximum(a, b) - lo.pi


@case(lambda r: (f32(r, 50, 60)[:, ::2],), lambda x: np.where(x > 0, np.sqrt(np.abs(x)), x))
def elementwise_strided_where(x):
    return lo.where(x > 0, lo.sqrt(abs(x)), x)


def make_closure_kernel():
    factor = 4

    @case(lambda r: (np.arange(10, dtype=np.int16), np.zeros(10, np.int16)),
          lambda x, out: {"out": (x * 4).astype(np.int16)}, name="closure_constant")
    def closure_constant(x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = x[i] * factor
    return closure_constant


make_closure_kernel()


# --- indices, bounds and conversions (issue 10: exceptions 5 and 6) ------------------------

@case(lambda r: (f32(r, 9), np.zeros(9, np.float32)),
      lambda x, out: {"out": np.roll(x, 1)})
def index_minus_one_wraps(x, out):
    for i in lo.grid(out.shape[0]):
        out[i] = x[i - 1]                  # x[-1] at i = 0: the last element, as in Python


@case(lambda r: (f32(r, 6), np.zeros(6, np.float32)),
      lambda x, out: {"out": x[-1] + x[np.arange(6) - 6]})
def index_literal_and_computed_negative(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[-1] + x[i - x.shape[0]]


@case(lambda r: (f32(r, 7), np.zeros(8, np.float32)),
      lambda x, out: {"out": np.concatenate([[0], x]).astype(np.float32)})
def store_shifted_by_one(x, out):
    for i in lo.grid(x.shape[0]):
        out[i + 1] = x[i]


@case(lambda r: (f32(r, 10), np.array([0, 9, -1, -10, 4, 3]), np.zeros(6, np.float32)),
      lambda x, idx, out: {"out": x[idx]})
def gather_with_negative_indices(x, idx, out):
    for i in lo.grid(idx.shape[0]):
        out[i] = x[idx[i]]


_EDGE = np.array([np.nan, np.inf, -np.inf, 3e9, -3e9, 1e19, -1e19, 300.7, -300.7, 2.7,
                  -2.7, -0.0, 70000.5])


def _astype(v, t):
    with np.errstate(invalid="ignore"):
        return v.astype(t)                 # numpy's conversion on x86-64: the rule


@case(lambda r: (_EDGE.copy(), np.zeros(13, np.int32), np.zeros(13, np.int64),
                 np.zeros(13, np.int8), np.zeros(13, np.int16), np.zeros(13, np.uint8)),
      lambda x, a, b, c, d, e: {"a": _astype(x, np.int32), "b": _astype(x, np.int64),
                                "c": _astype(x, np.int8), "d": _astype(x, np.int16),
                                "e": _astype(x, np.uint8)})
def float_to_int_stores(x, a, b, c, d, e):
    for i in lo.grid(x.shape[0]):
        a[i] = x[i]
        b[i] = x[i]
        c[i] = x[i]
        d[i] = x[i]
        e[i] = x[i]


@case(lambda r: (_EDGE.astype(np.float32), np.zeros(13, np.int32)),
      lambda x, out: {"out": _astype(x, np.int32)})
def float_to_int32_explicit_cast(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = lo.int32(x[i])


# --- one meaning (issue 10): each was a wrong result on some backend ----------------------

_ZEROS_NAN = np.array([0.0, 2.0, np.nan, -1.0, 0.0, 5.5], np.float32)


@case(lambda r: (_ZEROS_NAN.copy(), np.zeros(6, np.float32), np.zeros(6, np.float32)),
      lambda x, a, b: {"a": np.where(x != 0, x, 9.0).astype(np.float32),
                       "b": np.where(x != 0, 5.0, x).astype(np.float32)})
def or_and_give_an_operand(x, a, b):
    for i in lo.grid(x.shape[0]):
        a[i] = x[i] or 9.0                 # x[i] if x[i] else 9.0: not a bool
        b[i] = x[i] and 5.0


@case(lambda r: (np.concatenate([f32(r, 500), [np.nan], f32(r, 500)]).astype(np.float32),),
      lambda x: np.float32(np.nan))
def maximum_reduction_propagates_nan(x):
    acc = -lo.inf
    for i in lo.grid(x.shape[0]):
        acc = lo.maximum(acc, x[i])
    return acc


@case(lambda r: (np.concatenate([f32(r, 500), [np.nan], f32(r, 500)]).astype(np.float32),),
      lambda x: np.float32(np.nanmin(x)))
def python_min_reduction_skips_nan(x):
    acc = lo.inf
    for i in lo.grid(x.shape[0]):
        acc = min(acc, x[i])
    return acc


@case(lambda r: (np.array([[1e16, 1.0, -1e16, 1.0] * 8] * 3), np.zeros(3)),
      lambda x, out: {"out": np.ones(3)}, rtol=0.0, atol=0.0)
def sequential_sum_in_order(x, out):
    for r in lo.grid(x.shape[0]):
        s = 0.0
        for c in range(x.shape[1]):
            s += x[r, c]                   # Python's order: 1.0, not 16.0
        out[r] = s


@case(lambda r: (np.full((4, 300), 100, np.int8), np.zeros(4, np.int64)),
      lambda x, out: {"out": x.astype(np.int64).sum(axis=1)})
def int8_loop_accumulator_widened(x, out):
    for r in lo.grid(x.shape[0]):
        s = 0
        for c in range(x.shape[1]):
            s += x[r, c]                   # an int64 accumulator (exception 4)
        out[r] = s


@case(lambda r: (np.linspace(-3, 3, 101).astype(np.float32), np.zeros(101, np.float32)),
      lambda x, out: {"out": x * np.float32(0.1) + x * np.float32(1 / 101)
                      + (np.arange(101) * 0.3).astype(np.float32)}, rtol=0.0, atol=0.0)
def python_numbers_stay_weak(x, out):
    c = 0.1                                # a Python float: fp32 when it meets x[i]
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] * c + x[i] * (1.0 / x.shape[0]) + i * 0.3


@case(lambda r: (np.arange(1, 7, dtype=np.uint8), np.zeros(6, np.float64)),
      lambda x, out: {"out": np.sin(x.astype(np.float32)).astype(np.float64)})
def math_on_small_ints(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = lo.sin(x[i])              # an fp16 value computed in fp32 (exception 3)


# --- whole-kernel fuzzer findings (Triton) -------------------------------------------------

_INTS_FOR_HALVES = np.array([0, 1, -3, 100, 127, -128, 2 ** 28 + 2 ** 20 + 1, 2 ** 24 + 1,
                             2 ** 31 - 1, -2 ** 31], np.int64)


@case(lambda r: (_INTS_FOR_HALVES.astype(np.int32), _INTS_FOR_HALVES.astype(np.int8),
                 _INTS_FOR_HALVES.copy(), np.zeros(10, BF16), np.zeros(10, np.float32),
                 np.zeros(10, BF16), np.zeros(10, np.float16)),
      lambda a, b, c, o1, o2, o3, o4: {
          "o1": a.astype(BF16), "o2": b.astype(BF16).astype(np.float32),
          "o3": c.astype(BF16), "o4": (a // 65536).astype(np.float16)}, rtol=0.0, atol=0.0)
def ints_to_halves_round_once(a, b, c, o1, o2, o3, o4):
    for i in lo.grid(a.shape[0]):
        o1[i] = a[i]                       # one rounding, not two through fp32
        o2[i] = lo.bf16(b[i])
        o3[i] = c[i]
        o4[i] = a[i] // 65536


_POW_BASES = np.array([1.5, -2.0, 3.0, -4.0, 0.0, -0.0, np.nan, np.inf, -np.inf, 0.5])


@case(lambda r: (_POW_BASES.copy(), _POW_BASES.astype(np.float32), np.zeros(10),
                 np.zeros(10, np.float32)),
      lambda x, y, a, b: {"a": x ** 3 + x ** 1, "b": y ** 3 - y ** 0}, rtol=0.0, atol=0.0)
def float_to_small_integer_powers(x, y, a, b):
    for i in lo.grid(x.shape[0]):
        a[i] = x[i] ** 3 + x[i] ** 1
        b[i] = y[i] ** 3 - y[i] ** 0


@case(lambda r: (r.integers(-3, 4, 60), r.integers(0, 9, 60),
                 r.integers(-3, 4, 60).astype(np.int32), r.integers(0, 9, 60).astype(np.int32),
                 np.zeros(60, np.int64), np.zeros(60, np.int32)),
      lambda x, e, y, f, a, b: {"a": x ** e + x ** (e % 3),
                                "b": (y ** f + y ** np.abs(f - 4)).astype(np.int32)})
def int_powers_with_runtime_exponents(x, e, y, f, a, b):
    for i in lo.grid(x.shape[0]):          # checked exponents that are never negative
        a[i] = x[i] ** e[i] + x[i] ** (e[i] % 3)
        b[i] = y[i] ** f[i] + y[i] ** abs(f[i] - 4)


@case(lambda r: (np.array([33], np.uint8)[::-1], np.array([7, 1], np.int16)[::-1][:1],
                 np.zeros(1, np.int16)[::-1], np.zeros(1, np.int16)),
      lambda x0, x1, out0, out1: {"out0": x1.copy(), "out1": x1 + x0})
def size_one_reversed_views(x0, x1, out0, out1):
    for i in lo.grid(out0.shape[0]):
        out1[i] = x1[i] + x0[i]
        out0[i] = x1[i]


@case(lambda r: (f32(r, 7), np.zeros(7, np.float32)),
      lambda x, out: {"out": (-np.inf - x) + (np.inf / (x * x + 1))})
def infinite_constants_on_the_left(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = (-lo.inf - x[i]) + lo.inf / (x[i] * x[i] + 1)   # fuzz seed 271 (Triton)


@case(lambda r: (np.array([[1e16, 1.0, -1e16, 1.0] * 8] * 3) * np.array([[1.0], [2.0], [0.5]]),
                 np.zeros((3, 32)), np.zeros(3)),
      lambda x, out, tot: {"out": x * 2.0}, rtol=0.0, atol=0.0)
def store_and_sum_in_order(x, out, tot):
    for r in lo.grid(x.shape[0]):
        s = 0.0
        p = 1.0
        for c in range(x.shape[1]):
            t = x[r, c] * 2.0
            out[r, c] = t
            s -= t                         # numba splits the sum off: still in order
            p *= x[r, c] * 1e-16 + 1.0
        tot[r] = s + p


# --- int64 data in subscripts, fp32 atomics, int64 -> fp32 ----------------------

_HASH_KEYS = np.array([2**40 + 12345, 987654321987, 3, -(2**62) + 7, 2**53 + 1, 0], np.int64)


@case(lambda r: (r.standard_normal(1000), _HASH_KEYS.copy(), np.zeros(6)),
      lambda x, key, out: {"out": x[(key * 2654435761) % 1000]}, rtol=0.0, atol=0.0)
def hashed_gather_wraps_int64(x, key, out):
    for i in lo.grid(key.shape[0]):        # the product wraps at 64 bits, then lands in bounds
        out[i] = x[(key[i] * 2654435761) % x.shape[0]]


@case(lambda r: (f32(r, 3000), f32(r, 3000), f32(r, 3000)),
      lambda x, y, out: {"out": out + x * y}, rtol=0.0, atol=0.0)
def atomic_add_rounded_fp32_products(x, y, out):
    for i in lo.grid(x.shape[0]):          # x * y is an fp32 value: rounded, then added
        lo.atomic_add(out, i, x[i] * y[i])


_BIG_INT64 = np.array([2**60 + 2**36 + 1, -(2**60 + 2**36 + 1), 2**62 + 2**38 + 1,
                       2**63 - 1, -(2**63), 2**53 + 1, 0], np.int64)


@case(lambda r: (np.concatenate([_BIG_INT64, r.integers(-2**63, 2**63 - 1, 500, dtype=np.int64)]),
                 np.zeros(507, np.float32)),
      lambda x, out: {"out": x.astype(np.float32)}, rtol=0.0, atol=0.0)
def int64_to_fp32_rounds_once(x, out):
    for i in lo.grid(x.shape[0]):          # one rounding, not two through the double
        out[i] = lo.fp32(x[i])


# --- made tensors, several results ----------------------------------------------

@case(lambda r: (f32(r, 37, 11),),
      lambda x: (x.sum(0), np.float32(x.sum()), np.float32(x.max()), np.int64(x.size)),
      rtol=1e-4, atol=1e-4)
def column_sums_total_max(x):
    n, m = x.shape
    sums = lo.zeros((m,), x.dtype)
    total = 0.0
    mx = -lo.inf
    count = 0
    for j in lo.grid(m):
        for i in range(n):
            sums[j] += x[i, j]
    for i, j in lo.grid(n, m):
        total += x[i, j]
        mx = max(mx, x[i, j])
        count += 1
    return sums, total, mx, count


@case(lambda r: (f32(r, 300), 3),
      lambda x, k: np.repeat(np.cumsum(x, dtype=np.float32), k),
      rtol=1e-4, atol=1e-4)
def made_scratch_and_output(x, k):
    prefix = np.empty_like(x)
    out = lo.empty(len(x) * k, "float32")
    acc = 0.0
    for i in range(x.shape[0]):            # a sequential prefix sum at the top level
        acc += x[i]
        prefix[i] = acc
    for i in lo.grid(out.shape[0]):
        out[i] = prefix[i // k]
    return out


# --- local arrays --------------------------------------------------------------

_TAPS = 5


@case(lambda r: (f32(r, 200), np.zeros(200, np.float32)),
      lambda x, out: {"out": np.array([_median5(x, i) for i in range(200)], np.float32)})
def median_of_five_local_window(x, out):
    n = x.shape[0]
    for i in lo.grid(n):
        w = np.empty(_TAPS, np.float32)
        for t in range(_TAPS):
            w[t] = x[(i + t) % n]
        for a in range(1, _TAPS):           # insertion sort in the local array
            v = w[a]
            b = a - 1
            while b >= 0 and w[b] > v:
                w[b + 1] = w[b]
                b -= 1
            w[b + 1] = v
        out[i] = w[_TAPS // 2]


def _median5(x, i):
    return np.float32(np.median(x[np.arange(i, i + _TAPS) % x.shape[0]]))


# --- complex values -----------------------------------------------------------------

def c64(rng, *shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


@case(lambda r: (c64(r, 300), c64(r, 300)), lambda z, w: np.vdot(w, z), rtol=1e-4, atol=1e-4)
def complex_dot_conj(z, w):
    acc = 0j
    for i in lo.grid(z.shape[0]):
        acc += z[i] * w[i].conjugate()
    return acc


@case(lambda r: (c64(r, 64), 0.3, np.zeros(64, np.complex64), np.zeros(64, np.float32)),
      lambda z, t, out, mag: {"out": np.conj(z * np.exp(1j * t)) / (1 + 1j),
                              "mag": np.abs(z * np.exp(1j * t)) + (z * np.exp(1j * t)).real})
def complex_rotate_parts(z, angle, out, mag):
    for i in lo.grid(z.shape[0]):
        w = z[i] * lo.exp(1j * angle)
        out[i] = w.conjugate() / (1 + 1j)
        mag[i] = abs(w) + w.real


@case(lambda r: (c64(r, 6).astype(np.complex128), c64(r, 50).astype(np.complex128),
                 np.zeros(50, np.complex128)),
      lambda c, z, out: {"out": np.polyval(c, z)}, rtol=1e-9, atol=1e-9)
def complex_horner_sequential(coef, z, out):
    for i in lo.grid(z.shape[0]):
        v = 0j
        for k in range(coef.shape[0]):
            v = v * z[i] + coef[k]
        out[i] = v


@case(lambda r: (c64(r, 40), np.zeros(40, np.int64)),
      lambda z, n: {"n": np.array([(a.real > 0) + 2 * (a == a.conjugate()) + 4 * (abs(a) < 1)
                                    for a in z])})
def complex_compare_and_branch(z, n):
    for i in lo.grid(z.shape[0]):
        v = 0
        if z[i].real > 0:
            v += 1
        if z[i] == lo.conj(z[i]):
            v += 2
        if abs(z[i]) < 1:
            v += 4
        n[i] = v


# --- unsigned values -------------------------------------------------------------

def _u64_edges(r, n):
    """uint64 values, a third of them near the wrap boundaries (0, 2**63, 2**64 - 1)."""
    x = r.integers(0, 2 ** 64, n, dtype=np.uint64)
    x[::3] = np.array([0, 1, 2 ** 63, 2 ** 63 - 1, 2 ** 64 - 1, 2 ** 64 - 2],
                      np.uint64)[np.arange(len(x[::3])) % 6]
    return x


def _hash_expect(x, out):
    with np.errstate(all="ignore"):
        h = x * np.uint64(0x5851F42D4C957F2D)
        h = h ^ (h >> np.uint64(31))
        return {"out": (h % np.uint64(1000003)).astype(np.uint32)}


@case(lambda r: (_u64_edges(r, 600), np.zeros(600, np.uint32)), _hash_expect)
def uint64_hash_wraps(x, out):
    for i in lo.grid(x.shape[0]):
        h = x[i] * 0x5851F42D4C957F2D          # wraps modulo 2**64, as numpy's
        h = h ^ (h >> 31)
        out[i] = h % 1000003                   # a narrowing store into uint32


@case(lambda r: (r.integers(0, 2 ** 32, 500, dtype=np.uint32),
                 r.integers(-2 ** 31, 2 ** 31, 500, dtype=np.int32),
                 np.zeros(500, np.int64), np.zeros(500, bool)),
      lambda u, s, out, lt: {"out": u.astype(np.int64) + s, "lt": u < s})
def uint32_int32_promote_to_int64(u, s, out, lt):
    for i in lo.grid(u.shape[0]):
        out[i] = u[i] + s[i]                   # NEP 50: int64
        lt[i] = u[i] < s[i]


@case(lambda r: (_u64_edges(r, 300), r.integers(-2 ** 63, 2 ** 63, 300, dtype=np.int64),
                 np.zeros(300, bool), np.zeros(300, np.float64)),
      lambda u, s, gt, f: {"gt": u > s, "f": u + s})
def uint64_int64_compare_exactly(u, s, gt, f):
    for i in lo.grid(u.shape[0]):
        gt[i] = u[i] > s[i]                    # by value, not through fp64
        f[i] = u[i] + s[i]                     # fp64, numpy's promotion


@case(lambda r: (r.integers(0, 2 ** 16, 400, dtype=np.uint16), np.zeros(400, np.uint16)),
      lambda x, out: {"out": ((x - np.uint16(1)) * np.uint16(3)) ^ ~x})
def uint16_literals_stay_uint16(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = ((x[i] - 1) * 3) ^ ~x[i]      # weak literals: uint16, wrapping


@case(lambda r: (_u64_edges(r, 2000),),
      lambda x: np.add.reduce(x, dtype=np.uint64))
def uint64_sum_accumulates_in_uint64(x):
    acc = 0
    for i in lo.grid(x.shape[0]):
        acc += x[i]
    return acc


@case(lambda r: (np.array([-1.5, 0.0, 3.7, 7e4, 5e9, 2.0 ** 63, 2.0 ** 64, 1e30, -np.inf,
                           np.nan] * 20),
                 np.zeros(200, np.uint16), np.zeros(200, np.uint32), np.zeros(200, np.uint64)),
      lambda f, a, b, c: {n: np.array([np.asarray(v).astype(t)[()] for v in f], t)
                          for n, t in (("a", np.uint16), ("b", np.uint32), ("c", np.uint64))})
def float_to_unsigned_stores(f, a, b, c):
    for i in lo.grid(f.shape[0]):
        a[i] = f[i]                            # numpy's astype on x86-64 (exception 5)
        b[i] = f[i]
        c[i] = f[i]


@case(lambda r: (r.standard_normal(64).astype(np.float32),
                 r.integers(0, 64, 300, dtype=np.uint32), np.zeros(300, np.float32)),
      lambda x, u, out: {"out": x[u]})
def uint32_gather(x, u, out):
    for i in lo.grid(u.shape[0]):
        out[i] = x[u[i]]
