"""The lua backend (LuaJIT through lupa): numeric corners vs the numpy reference,
representations (int64 numbers vs int64_t), half conversions, reductions,
atomics, layouts, debug checks, the launcher, and the sandbox. The shared
corpus (test_kernel_corpus.py) covers the ordinary kernels."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("lupa.luajit21")
ml_dtypes = pytest.importorskip("ml_dtypes")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import langone as lo  # noqa: E402
from langone.errors import KernelArgumentError, KernelIndexError  # noqa: E402
from langone.lua_bridge import backend as lua_backend  # noqa: E402
from langone.lua_bridge import runtime  # noqa: E402
from langone.lua_bridge.runtime import LuaKernelError  # noqa: E402

BF16 = ml_dtypes.bfloat16
INT_TYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8]


from backend_helpers import assert_same, reference_pair  # noqa: E402

both = reference_pair("lua")



def assert_outputs_same(kern, *args, rtol=0.0, outputs=None):
    (ref_args, ref_r), (lua_args, lua_r) = both(kern, *args)
    for i, (a, b) in enumerate(zip(ref_args, lua_args)):
        if isinstance(a, np.ndarray) and (outputs is None or i in outputs):
            assert_same(b, a, rtol)
    if ref_r is not None:
        assert_same(lua_r, ref_r, rtol)
    return lua_r


# --- integer arithmetic: every operator, every width, extremes --------------------------------

@lo.kernel
def int_binops(a, b, out):
    for i in lo.grid(a.shape[0]):
        x = a[i]
        y = b[i]
        out[i, 0] = x + y
        out[i, 1] = x - y
        out[i, 2] = x * y
        out[i, 3] = x // y
        out[i, 4] = x % y
        out[i, 5] = x ** abs(y % 70 - 3)      # checked at run time, never negative
        out[i, 6] = x << y
        out[i, 7] = x >> y
        out[i, 8] = (x & y) | (x ^ ~y)
        out[i, 9] = -x + abs(y)
        out[i, 10] = min(x, y) - max(x, y)


def _ints(dtype, draw_values):
    info = np.iinfo(dtype)
    edge = [info.min, info.min + 1, -1, 0, 1, 2, 7, info.max - 1, info.max]
    vals = [v for v in edge + draw_values if info.min <= v <= info.max]
    return np.array(vals, dtype=dtype)


@pytest.mark.parametrize("dtype", INT_TYPES, ids=lambda t: t.__name__)
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_integer_operators_match_reference_exactly(dtype, data):
    info = np.iinfo(dtype)
    values = data.draw(st.lists(st.integers(int(info.min), int(info.max)), max_size=30))
    a = _ints(dtype, values)
    rng = np.random.default_rng(len(values))
    # Shift counts and exponents in and out of range, zero divisors included.
    b = _ints(dtype, rng.integers(-3, 70, 12).tolist())
    a, b = np.meshgrid(a, b)
    a, b = a.ravel().copy(), b.ravel().copy()
    out = np.zeros((a.size, 11), dtype)
    assert_outputs_same(int_binops, a, b, out)


@lo.kernel
def int64_mixed(x, n, out):
    for i in lo.grid(x.shape[0]):
        v = x[i]
        small = i * 3 + 7              # provably below 2^52: a Lua number
        out[i, 0] = v * small + v // n
        out[i, 1] = v % (small + 1) - (v >> 3)
        out[i, 2] = lo.int64(lo.int32(v)) + lo.int64(lo.int8(v))
        out[i, 3] = i * i * i * i * i * i   # exceeds 2^52: int64_t arithmetic


def test_int64_values_near_the_limits_wrap_like_numpy():
    x = np.array([2**63 - 1, -2**63, 2**62 + 12345, -(2**53) - 1, 2**53 + 1, 0, 5, -5],
                 np.int64)
    out = np.zeros((x.size, 4), np.int64)
    assert_outputs_same(int64_mixed, x, 3, out)
    assert_outputs_same(int64_mixed, x, -(2**51), out)
    big = np.zeros(4000, np.int64)                     # i**6 overflows int64 near the end
    assert_outputs_same(int64_mixed, big, 2**40, np.zeros((4000, 4), np.int64))


def test_int64_scalar_arguments_beyond_2_52_are_refused_with_advice():
    x = np.zeros(3, np.int64)
    with pytest.raises(KernelArgumentError, match=r"too large for the lua backend.*2\^52"):
        int64_mixed.on("lua")(x, 2**60, np.zeros((3, 4), np.int64))


def test_int64_sources_show_numbers_for_indices_and_int64_t_for_data():
    x = np.zeros(3, np.int64)
    src = int64_mixed.source("lua", x, 3, np.zeros((3, 4), np.int64))
    assert "small = (i * 3) + 7" in src                # plain Lua numbers
    assert "I64(" in src and "LL" in src               # int64_t where values may be large


# --- floats: floor division, remainder, casts, comparisons ------------------------------------

@lo.kernel
def float_divmod(a, b, q, m):
    for i in lo.grid(a.shape[0]):
        q[i] = a[i] // b[i]
        m[i] = a[i] % b[i]


SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 1e-3, -7.25, 1e30, -1e30, np.inf, -np.inf, np.nan,
           3.0, 0.1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_floordiv_and_mod_follow_numpy_including_inf_nan_zero(dtype):
    a, b = np.meshgrid(np.array(SPECIAL, dtype), np.array(SPECIAL, dtype))
    a, b = a.ravel().copy(), b.ravel().copy()
    assert_outputs_same(float_divmod, a, b, np.zeros_like(a), np.zeros_like(a))


@lo.kernel
def float_to_ints(x, o8, ou8, o16, o32, o64, ob):
    for i in lo.grid(x.shape[0]):
        o8[i] = lo.int8(x[i])
        ou8[i] = lo.uint8(x[i])
        o16[i] = lo.int16(x[i])
        o32[i] = lo.int32(x[i])
        o64[i] = lo.int64(x[i])
        ob[i] = bool(x[i])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_to_int_casts_truncate_and_saturate_like_numpy(dtype):
    x = np.array([0.0, -0.0, 0.5, -0.5, 1.99, -1.99, 127.5, 128.7, -129.2, 255.9, 300.7,
                  40000.3, -40000.3, 3e9, -3e9, 2**31 - 1, -2**31, 1e19, np.nan, np.inf,
                  -np.inf], dtype)
    outs = [np.zeros(x.size, t) for t in (np.int8, np.uint8, np.int16, np.int32, np.int64,
                                          np.bool_)]
    assert_outputs_same(float_to_ints, x, *outs)


@lo.kernel
def int_zero_signs(x, o32, o64):
    for i in lo.grid(x.shape[0]):
        o32[i] = lo.float32(lo.int32(x[i]))          # trunc(-0.5) is 0, not -0.0
        o64[i] = lo.float64(i * -1) + lo.float64(-i) + lo.float64(i // -3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_int_float_round_trip_gives_no_negative_zero_like_python(dtype):
    x = np.array([-0.5, -0.0, 0.0, -0.99, 0.5, 2.5, -1.5] * 50, dtype)
    want = [x.copy(), np.ones(x.size, np.float32), np.ones(x.size, np.float64)]
    got = [a.copy() for a in want]
    int_zero_signs.on("python")(*want)
    int_zero_signs.on("lua")(*got)
    for g, w in zip(got[1:], want[1:]):
        np.testing.assert_array_equal(g, w)
        np.testing.assert_array_equal(np.signbit(g), np.signbit(w))


@lo.kernel
def fp32_rounding_points(x, y, cmp, fl, o64):
    for i in lo.grid(x.shape[0]):
        t = x[i] * y[i]                 # rounded to fp32 when assigned
        cmp[i] = lo.int32(x[i] * 3.0 == y[i] * 3.0) + lo.int32(t > 1.0)
        fl[i] = lo.floor(x[i] * 10.0) + lo.ceil(t)
        o64[i] = lo.fp64(x[i] * y[i])   # the fp32 product, then widened


def test_fp32_rounds_where_numpy_rounding_is_observable():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-3, 3, 500), [0.1, 0.7, 1 / 3]]).astype(np.float32)
    y = np.concatenate([rng.uniform(-3, 3, 500), [10.0, 1 / 0.7, 3.0]]).astype(np.float32)
    assert_outputs_same(fp32_rounding_points, x, y, np.zeros(x.size, np.int32),
                        np.zeros(x.size, np.float32), np.zeros(x.size, np.float64))


# --- math functions ---------------------------------------------------------------------------

@lo.kernel
def transcendental(x, out):
    for i in lo.grid(x.shape[0]):
        v = x[i]
        out[0, i] = lo.exp(v)
        out[1, i] = lo.tanh(v)
        out[2, i] = lo.sigmoid(v)
        out[3, i] = lo.erf(v)
        out[4, i] = lo.log(abs(v))
        out[5, i] = lo.sin(v) + lo.cos(v)


def _ulps(a, b):
    a, b = a.astype(np.float32), b.astype(np.float32)
    ai = a.view(np.int32).astype(np.int64)
    bi = b.view(np.int32).astype(np.int64)
    ai = np.where(ai < 0, -(2**31) - ai, ai)
    bi = np.where(bi < 0, -(2**31) - bi, bi)
    return np.where(np.isnan(a) & np.isnan(b), 0, np.abs(ai - bi))


def test_fp32_math_is_within_two_ulp_of_numpy():
    x = np.concatenate([np.linspace(-110, 95, 40001), np.linspace(-1e-3, 1e-3, 2001),
                        np.geomspace(1e-30, 1e-4, 200), [np.nan, np.inf, -np.inf, 0.0]])
    x = x.astype(np.float32)
    out = np.zeros((6, x.size), np.float32)
    transcendental.on("lua")(x, out)
    with np.errstate(all="ignore"):
        want = [np.exp(x), np.tanh(x), 1 / (1 + np.exp(-x.astype(np.float64))),
                np.array([math.erf(v) for v in x.astype(np.float64)]),
                np.log(np.abs(x)), np.sin(x) + np.cos(x)]
    normal = lambda w: np.abs(w.astype(np.float64)) > 1.2e-38    # noqa: E731 (not subnormal)
    for row, (got, w) in enumerate(zip(out, want)):
        w = np.asarray(w).astype(np.float32)
        keep = normal(w) | np.isnan(w) | (w == 0)
        if row == 5:              # a sum of two roundings: compare in value
            np.testing.assert_allclose(got, w, rtol=1e-6, atol=1e-6)
            continue
        assert _ulps(got[keep], w[keep]).max() <= 2, row


@lo.kernel
def erf64(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = lo.erf(x[i])


def test_erf_matches_libm_in_double():
    x = np.concatenate([np.linspace(-7, 7, 20001), [0.0, -0.0, 1e-300, 40.0, -40.0,
                                                     np.inf, -np.inf, np.nan]])
    out = np.zeros_like(x)
    erf64.on("lua")(x, out)
    want = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(out, want, rtol=2e-14, atol=1e-300)


# --- fp16 / bf16 ------------------------------------------------------------------------------

@lo.kernel
def widen(h, out):
    for i in lo.grid(h.shape[0]):
        out[i] = lo.fp32(h[i])


@lo.kernel
def narrow(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i]


ALL_BITS = np.arange(65536, dtype=np.uint16)


@pytest.mark.parametrize("half", [np.float16, BF16], ids=["fp16", "bf16"])
def test_every_half_bit_pattern_loads_exactly(half):
    h = ALL_BITS.view(half)
    out = np.zeros(65536, np.float32)
    widen.on("lua")(h, out)
    np.testing.assert_array_equal(out, h.astype(np.float32))


def _rounding_probes(rng):
    # Ties and near-ties of both half formats, subnormals, overflow, specials.
    halves = ALL_BITS.view(np.float16).astype(np.float64)
    bfs = ALL_BITS.view(BF16).astype(np.float64)
    mids = []
    for grid in (halves, bfs):
        g = np.sort(grid[np.isfinite(grid)])
        mids.append((g[1:] + g[:-1]) / 2)
    vals = np.concatenate(mids + [rng.standard_normal(5000) * 1e3,
                                  rng.standard_normal(2000) * 1e-6,
                                  [65504.0, 65520.0, 65519.99, 1e39, -1e39, 3.4e38, 0.0, -0.0,
                                   np.inf, -np.inf, np.nan]])
    return vals


@pytest.mark.parametrize("half", [np.float16, BF16], ids=["fp16", "bf16"])
@pytest.mark.parametrize("src", [np.float32, np.float64])
def test_stores_round_to_nearest_even_like_numpy(half, src):
    with np.errstate(all="ignore"):
        x = _rounding_probes(np.random.default_rng(0)).astype(src)
        want = x.astype(half)
    out = np.zeros(x.size, half)
    narrow.on("lua")(x, out)
    got_bits, want_bits = out.view(np.uint16), want.view(np.uint16)
    nan = np.isnan(want.astype(np.float32))
    assert np.array_equal(np.isnan(out.astype(np.float32)), nan)
    np.testing.assert_array_equal(got_bits[~nan], want_bits[~nan])


@lo.kernel
def half_math(h, b, oh, ob):
    for i in lo.grid(h.shape[0]):
        t = h[i] * 1.5 - b[i]
        oh[i] = lo.fp16(lo.bf16(t)) + h[i]
        ob[i] = lo.exp(b[i] * 0.25) + t


def test_half_arithmetic_computes_in_fp32_and_rounds_on_store():
    rng = np.random.default_rng(3)
    h = rng.standard_normal(500).astype(np.float16)
    b = rng.standard_normal(500).astype(BF16)
    assert_outputs_same(half_math, h, b, np.zeros(500, np.float16), np.zeros(500, BF16),
                        rtol=1e-2)


# --- reductions -------------------------------------------------------------------------------

@lo.kernel
def nan_skipping_max(x):
    m = -lo.inf
    for i in lo.grid(x.shape[0]):
        m = max(m, x[i])
    return m


@lo.kernel
def order_dependent_max(x):
    m = -lo.inf
    for i in lo.grid(x.shape[0]):
        m = max(x[i], m)               # Python keeps a NaN x[i] only until the next one
    return m


def test_python_max_reductions_keep_the_references_nan_rules():
    x = np.array([1.0, np.nan, 3.0, -2.0], np.float32)
    (_, want), (_, got) = both(nan_skipping_max, x)
    assert_same(got, want)
    assert got.item() == 3.0
    # max(v, acc) keeps a NaN v for one step only: no reduction means that in any order.
    with pytest.raises(lo.errors.KernelCompileError, match="not as a reduction"):
        order_dependent_max.on("lua")(x)


@lo.kernel
def two_updates(x, y):
    s = 1.0
    for i in lo.grid(x.shape[0]):
        s += x[i]
        if y[i] > 0:
            s = y[i] + s               # the variable on the right: still an accumulation
        s -= 0.5
    return s


@lo.kernel
def int64_sum(x):
    acc = 0
    for i in lo.grid(x.shape[0]):
        acc += x[i]
    return acc


@lo.kernel
def int32_min(x):
    m = 2147483647
    for i in lo.grid(x.shape[0]):
        m = min(m, x[i])
    return m


@lo.kernel
def any_over(x, t):
    found = False
    for i in lo.grid(x.shape[0]):
        found = max(found, x[i] > t)
    return found


def test_reductions_int64_wraparound_and_bool():
    x = np.linspace(-1, 1, 301).astype(np.float32)
    assert_outputs_same(two_updates, x, x[::-1].copy(), rtol=1e-5)
    big = np.full(10, 2**62, np.int64)                       # the sum wraps past 2^63
    r = assert_outputs_same(int64_sum, big)
    assert r == np.int64(-(2**63))                           # 10 * 2^62 mod 2^64
    assert_outputs_same(int32_min, np.array([5, -7, 2**31 - 1], np.int32))
    assert_outputs_same(any_over, x, 0.5)
    assert_outputs_same(any_over, x, 5.0)


def test_empty_grids_return_the_identity_merged_with_the_initial_value():
    for k, arr in ((int64_sum, np.zeros(0, np.int64)), (nan_skipping_max,
                                                        np.zeros(0, np.float32))):
        assert_outputs_same(k, arr)


@lo.kernel
def scaled_first(x, s):
    acc = x[0] * s
    return acc


@lo.kernel
def grid_max(x):
    m = -lo.inf
    for i in lo.grid(x.shape[0]):
        m = max(m, x[i])
    return m


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64], ids=str)
def test_a_negative_zero_result_keeps_its_sign(dtype):
    # lupa hands integral Lua numbers, -0.0 among them, to Python as ints
    x = np.array([1.5, 2.0], dtype)
    for kern, args, neg in ((scaled_first, (x, -0.0), True), (scaled_first, (x, 0.0), False),
                            (grid_max, (np.full(5, -0.0, dtype),), True)):
        r = assert_outputs_same(kern, *args)
        assert r == 0 and bool(np.signbit(np.asarray(r))) is neg, (kern.name, r)


# --- control flow, scoping --------------------------------------------------------------------

@lo.kernel
def loops(x, step, out, last):
    t = 100.0
    for i in lo.grid(x.shape[0]):
        s = 0.0
        c = 0
        for c in range(x.shape[0] - 1, -1, step):
            if c % 3 == 0:
                continue
            if s > 4.0:
                break
            s += x[c]
        k = 0
        while True:
            k += 1
            if k >= 3:
                break
        out[i] = s + t + k
        last[i] = c                    # a range variable read after its loop
    for i in lo.grid(x.shape[0]):      # a second grid reusing the same names
        s = x[i] * 2.0
        c = i
        t += s + c
    return t


def test_loops_continue_break_and_reused_names():
    x = np.random.default_rng(2).uniform(0, 1, 40).astype(np.float32)
    for step in (-1, -2):
        assert_outputs_same(loops, x, step, np.zeros(40, np.float32), np.zeros(40, np.int64),
                            rtol=1e-6)


def test_a_zero_range_step_is_an_error_not_a_hang():
    x = np.ones(3, np.float32)
    with pytest.raises(lo.errors.KernelRuntimeError,
                       match=r"test_lua_backend.py:\d+: range\(\) arg 3 must not be zero"):
        loops.on("lua")(x, 0, np.zeros(3, np.float32), np.zeros(3, np.int64))


@lo.kernel
def keyword_names(x, out):
    for i in lo.grid(x.shape[0]):
        end = x[i]
        local = end * 2.0
        nil = 1.0
        floor = local + nil            # shadows a helper's name
        r32 = floor
        M = r32 - end
        out[i] = M


def test_lua_keywords_and_helper_names_are_renamed():
    x = np.arange(5, dtype=np.float32)
    assert_outputs_same(keyword_names, x, np.zeros(5, np.float32))
    src = keyword_names.source("lua", x, x)
    assert "end_ = " in src and "local local" not in src


# --- atomics ----------------------------------------------------------------------------------

@lo.kernel
def scatter(idx, v, h8, h32, hf, hh):
    for i in lo.grid(idx.shape[0]):
        lo.atomic_add(h8, idx[i], v[i])
        lo.atomic_add(h32, idx[i], lo.int32(v[i]) * 100000)   # int8 * 100000: OverflowError
        lo.atomic_add(hf, idx[i], 0.1)
        lo.atomic_add(hh, idx[i], 1.0)


@lo.kernel
def scatter_host(idx, hh):
    for i in range(idx.shape[0]):
        lo.atomic_add(hh, idx[i], 1.0)


def test_atomic_add_wraps_ints_and_accumulates_halves_in_fp32():
    rng = np.random.default_rng(4)
    idx = rng.integers(0, 3, 7000).astype(np.int32)          # > 2048 adds per bin
    v = rng.integers(-100, 100, 7000).astype(np.int8)
    outs = [np.zeros(3, np.int8), np.zeros(3, np.int32), np.zeros(3, np.float32),
            np.zeros(3, np.float16)]
    assert_outputs_same(scatter, idx, v, *outs, outputs={2, 3, 4})
    (ref_args, _), (lua_args, _) = both(scatter, idx, v, *outs)
    np.testing.assert_allclose(lua_args[4], ref_args[4], rtol=1e-5)
    assert_same(lua_args[5], ref_args[5])                    # fp32 shadow: counts > 2048
    assert lua_args[5].min() > 2048
    # Outside a grid every add rounds to fp16 (2048 + 1 == 2048), as in the reference.
    assert_outputs_same(scatter_host, idx, np.zeros(3, np.float16))
    assert both(scatter_host, idx, np.zeros(3, np.float16))[1][0][1].max() == 2048


# --- layouts, arguments, results --------------------------------------------------------------

@lo.kernel
def strided_copy(x, out):
    for i, j in lo.grid(x.shape[0], x.shape[1]):
        out[i, j] = x[i, j] * 2.0 + x[i, 0]


def test_strided_negative_broadcast_and_empty_layouts():
    base = np.arange(60, dtype=np.float64).reshape(6, 10)
    for x in (base[::-1, ::3], base.T, np.broadcast_to(base[:1], (6, 10)), base[:0],
              base[1:5, 2:7]):
        assert_outputs_same(strided_copy, x, np.zeros(x.shape, np.float64))
    out = np.zeros((10, 6))[::2, ::-1]                        # a strided output
    assert_outputs_same(strided_copy, base[::2, :6], out)


@lo.kernel
def typed_returns(x, flag):
    s = 0
    for i in lo.grid(x.shape[0]):
        s += x[i]
    return s if flag else -s


def test_read_only_outputs_are_refused_before_lua_writes():
    out = np.zeros((6, 10))
    out.flags.writeable = False
    with pytest.raises(KernelArgumentError, match="writes to 'out', but that array .*is "
                                                  "read-only"):
        strided_copy.on("lua")(np.ones((6, 10)), out)
    x = np.ones((6, 10))
    x.flags.writeable = False                                 # read-only inputs are fine
    strided_copy.on("lua")(x, np.zeros((6, 10)))


def test_tensors_scalars_and_return_types():
    x = lo.tensor(np.array([2**40, 3, -5], np.int64))
    r = typed_returns.on("lua")(x, True)
    assert r.dtype == lo.int64 and r.item() == 2**40 - 2
    assert typed_returns.on("lua")(x, np.bool_(False)) == -(2**40 - 2)
    (_, want), (_, got) = both(nan_skipping_max, np.ones(3, np.float16))
    assert_same(got, want)


# --- debug bounds checks ---------------------------------------------------------------------

def _oob(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i + 1]


def test_debug_bounds_errors_match_the_reference_message():
    k = lo.kernel(_oob, debug=True)
    x = np.zeros(4, np.float32)
    with pytest.raises(KernelIndexError) as ref:
        k.on("numpy")(x, np.zeros(4, np.float32))
    with pytest.raises(KernelIndexError) as got:
        k.on("lua")(x, np.zeros(4, np.float32))
    assert str(got.value) == str(ref.value)
    assert "index 4 is out of bounds for axis 0 of 'x' with size 4" in str(got.value)


# --- options, source, launcher, lazy import ---------------------------------------------------

def _chain(x):
    return (x * 1.1 + 0.3) * (x - 0.7) / (x * x + 1.0)


def test_fastmath_computes_in_double_within_tolerance():
    fast = lo.kernel(_chain, fastmath=True)
    x = np.linspace(-3, 3, 1001).astype(np.float32)
    want = fast.on("numpy")(x).numpy()
    got = fast.on("lua")(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert "r32" not in fast.source("lua", x)


def test_source_is_a_readable_module_with_the_signature():
    x = np.ones(4, np.float32)
    src = strided_copy.source("lua", x[None, :], np.ones((1, 4), np.float32))
    assert src.startswith("-- LangOne kernel 'strided_copy' as a LuaJIT module")
    assert "-- Signature: strided_copy(x: fp32[:,:], out: fp32[:,:])" in src
    assert "function M.run(x, x_n0, x_n1, out, out_n0, out_n1)" in src
    assert "-- Typed IR:" in src and src.rstrip().endswith("return M")


def test_launcher_passes_addresses_sizes_and_element_strides():
    x = np.ones((3, 4), np.float32)[:, ::2]
    src = lua_backend.launcher_source(strided_copy.specialization(
        x, np.zeros((3, 2), np.float32), backend="lua").ir)
    assert "_addr(a0)" in src and "a0_st = _strides(a0, 4)" in src
    assert lua_backend.FAST_ADDRESSES          # the ndarray data field was verified


def test_importing_langone_and_the_bridge_does_not_load_lupa():
    code = textwrap.dedent("""
        import sys, langone, langone.lua_bridge, langone.lua_bridge.render
        import langone.lua_bridge.standalone
        assert "lupa" not in sys.modules, [m for m in sys.modules if "lupa" in m]
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the sandbox ------------------------------------------------------------------------------

def test_kernel_code_cannot_open_files():
    with pytest.raises(LuaKernelError, match="io"):
        runtime.run_sandboxed('return io.open("/etc/passwd", "r"):read("*a")', "evil")
    with pytest.raises(LuaKernelError, match="only 'ffi' and 'bit'"):
        runtime.run_sandboxed('return require("io").open("/etc/passwd")', "evil")


@pytest.mark.parametrize("name", ["io", "os", "load", "loadstring", "loadfile", "dofile",
                                  "debug", "package", "jit", "getfenv", "setfenv", "_G",
                                  "string", "python", "rawset", "setmetatable", "print"])
def test_dangerous_globals_are_absent(name):
    assert runtime.run_sandboxed(f"return {name} == nil") is True


def test_the_ffi_kernels_see_cannot_reach_c_functions():
    for attr in ("C", "load", "cdef", "metatype", "gc"):
        assert runtime.run_sandboxed(f'return require("ffi").{attr} == nil') is True
    with pytest.raises(LuaKernelError, match="not allowed in kernels"):
        runtime.run_sandboxed('local ffi = require("ffi") '
                              'return ffi.cast("int (*)(const char *)", 0)')
    with pytest.raises(LuaKernelError, match="only C types made by ffi.typeof"):
        runtime.run_sandboxed('local ffi = require("ffi") '
                              'return ffi.cast(ffi.typeof, 0)')
    assert runtime.run_sandboxed('local ffi = require("ffi") '
                                 'local p = ffi.new("double[2]", {1, 5}) '
                                 'return ffi.cast(ffi.typeof("double*"), p)[1]') == 5


def test_a_kernel_module_that_reaches_for_io_fails_when_it_runs():
    sb = runtime.sandbox()
    mod = sb.module('local M = {} function M.run() return io.open("/etc/passwd") end '
                    'return M', "crafted")
    with pytest.raises(sb.LuaError, match="io"):
        mod.run()


def test_bytecode_is_refused_and_libraries_are_private_copies():
    with pytest.raises(LuaKernelError, match="mode"):
        runtime.run_sandboxed("\x1bLJ\x02", "bytecode")
    runtime.run_sandboxed("bit.band = nil; math.floor = nil")
    assert runtime.run_sandboxed("return bit.band(6, 3) + math.floor(2.5)") == 4



# --- vs the python backend, bit for bit: int64 subscripts, fp32 atomics, int64 -> float ------

def same_as_python(kern, *args):
    """Run ``kern`` on the python backend (the rule) and on lua, with copies: every
    array and the result equal bit for bit."""
    ref = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    got = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    ref_r, got_r = kern.on("python")(*ref), kern.on("lua")(*got)
    for a, b in zip(ref, got):
        if isinstance(a, np.ndarray):
            assert b.dtype == a.dtype
            np.testing.assert_array_equal(b.view(np.uint8), a.view(np.uint8))
    assert got_r == ref_r


@lo.kernel
def hashed_subscripts(x, key, out, counts):
    for i in lo.grid(key.shape[0]):
        out[i, 0] = x[(key[i] * 2654435761) % x.shape[0]]     # wraps at 64 bits first
        out[i, 1] = x[(key[i] + 1) - key[i]]                   # 1, not 0 (in doubles)
        out[i, 2] = x[key[i] % 7 - 7]                          # a negative index
        c = 0
        for j in range((key[i] * 2654435761) % 7):             # a range bound
            c += 1
        counts[i] = c


def test_int64_subscript_arithmetic_wraps_like_numpy_before_it_indexes():
    key = np.array([2**40 + 12345, 987654321987, 3, -(2**62) + 7, 2**62 - 1, 2**53 + 1,
                    -(2**53) - 3, 0], np.int64)
    x = np.arange(1000, dtype=np.float64)
    out, counts = np.zeros((key.size, 3)), np.zeros(key.size, np.int64)
    with np.errstate(over="ignore"):
        same_as_python(hashed_subscripts, x, key, out, counts)
    src = hashed_subscripts.source("lua", x, key, out, counts)
    assert "imod64(key[i] * 2654435761LL" in src                # int64_t, then tonumber


@lo.kernel
def fp32_atomic_products(x, y, out, h, b):
    for i in lo.grid(x.shape[0]):
        lo.atomic_add(out, i, x[i] * y[i])
        lo.atomic_add(out, i % 7, x[i] - y[i])
        lo.atomic_add(h, i, lo.fp16(x[i] * y[i]))
        lo.atomic_add(b, i, lo.bf16(x[i] * y[i]))


@lo.kernel
def fp32_atomic_products_serial(x, y, out, h):
    for i in range(x.shape[0]):
        lo.atomic_add(out, i, x[i] * y[i])
        lo.atomic_add(h, i, lo.fp16(x[i] * y[i]))


def test_fp32_atomic_add_rounds_the_value_before_adding():
    rng = np.random.default_rng(14)
    x, y = (rng.standard_normal(5000).astype(np.float32) for _ in range(2))
    out = rng.standard_normal(5000).astype(np.float32)
    h = rng.standard_normal(5000).astype(np.float16)
    b = rng.standard_normal(5000).astype(BF16)
    same_as_python(fp32_atomic_products, x, y, out, h, b)
    same_as_python(fp32_atomic_products_serial, x, y, out, h)


@lo.kernel
def int64_to_floats(x, o32, o16, ob, o64, big):
    for i in lo.grid(x.shape[0]):
        o32[i] = lo.fp32(x[i])
        o16[i] = lo.fp16(x[i])
        ob[i] = lo.bf16(x[i])
        o64[i] = lo.fp64(x[i])
        big[i] = x[i]                       # an implicit conversion on store


def test_int64_to_fp32_and_bf16_rounds_once_like_numpy():
    rng = np.random.default_rng(15)
    vals = [2**60 + 2**36 + 1, -(2**60 + 2**36 + 1), 2**62 + 2**38 + 1, 2**63 - 1, -(2**63),
            2**53 + 1, 2**56 + 2**48 + 1, 2**24 + 1, 65519, 65520, 0, -1]
    for p in range(53, 63):                 # just above the fp32 / bf16 halfway points
        for m in (1, 2, 3, 37):
            vals += [2**p + (m << (p - 24)) + 2**(p - 25) + 1, 2**p + (m << (p - 8)) + 2**(p - 9) + 1,
                     -(2**p + (m << (p - 24)) + 2**(p - 25) + 1)]
    x = np.concatenate([np.array(vals, np.int64),
                        rng.integers(-2**63, 2**63 - 1, 3000, dtype=np.int64)])
    n = x.size
    outs = (np.zeros(n, np.float32), np.zeros(n, np.float16), np.zeros(n, BF16), np.zeros(n),
            np.zeros(n, np.float32))
    same_as_python(int64_to_floats, x, *outs)
    o32 = np.zeros(1, np.float32)
    int64_to_floats.on("lua")(x[:1].copy(), o32, *(o[:1].copy() for o in outs[1:]))
    assert float(o32[0]) == 2.0**60 + 2.0**37           # not 2^60 (through the double)


@lo.kernel
def _last_column_and_back(x, out, hist):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i, x.shape[1] - 1] + x[i, -x.shape[1]]
        lo.atomic_add(hist, (i, -hist.shape[1]), 1)


def test_an_index_whose_sign_only_the_shapes_decide_is_one_operand():
    # Its negative-index select (`c and a or b` in Lua) was joined to the other axes'
    # offsets without parentheses: LuaJIT raised "arithmetic on a boolean value".
    x = np.arange(12.0).reshape(3, 4)
    got = [x, np.zeros(3), np.zeros((3, 2), np.int64)]
    want = [x, np.zeros(3), np.zeros((3, 2), np.int64)]
    _last_column_and_back.on("lua")(*got)
    _last_column_and_back.on("python")(*want)
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[2])


# --- NaN payloads -------------------------------------------------------------------
# LuaJIT keeps type tags in NaN payloads, and its FFI loads do not canonicalize NaNs:
# a NaN read from a tensor with certain payloads was taken for an object ("cannot
# convert 'proto'", "attempt to perform arithmetic on a function value") or, worse,
# compared as one (x != x was False).

@lo.kernel
def _nan_probe(x, out, isnan):
    for i in lo.grid(x.shape[0]):
        out[i] = -x[i] + 1.0
        isnan[i] = x[i] != x[i]


_PAYLOAD_NANS = {
    np.float64: [0xfffc000000000000, 0xffffffffffffffff, 0xfff8000000000001,
                 0x7fffffffffffffff, 0x7ff4000000000000, 0x7ff0000000000001],
    np.float32: [0x7fffffff, 0xffffffff, 0xff800001, 0x7fc40000, 0x7fa00000],
}


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_nan_payloads_read_from_tensors_are_nans(dt):
    ints = np.uint64 if dt is np.float64 else np.uint32
    bits = np.array(_PAYLOAD_NANS[dt] * 50, ints)      # enough for LuaJIT to compile a trace
    x = np.concatenate([bits.view(dt), np.array([1.5, -0.0, np.inf], dt)])
    out, isnan = np.zeros_like(x), np.zeros(len(x), bool)
    _nan_probe.on("lua")(x, out, isnan)
    np.testing.assert_array_equal(isnan, np.isnan(x))
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(out, -x + dt(1.0))   # NaNs equal, whatever the payload


def test_bf16_nan_payloads_are_nans():
    import ml_dtypes
    x = np.array([0x7fff, 0xffff, 0xffc1, 0x3fc0], np.uint16).view(ml_dtypes.bfloat16)
    out, isnan = np.zeros(4, np.float32), np.zeros(4, bool)
    _nan_probe.on("lua")(x, out, isnan)
    np.testing.assert_array_equal(isnan, [True, True, True, False])
    assert out[3] == -1.5 + 1.0 and np.isnan(out[:3]).all()
