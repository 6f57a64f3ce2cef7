"""The numba CPU backend: conversions, semantic corners vs the numpy reference,
reductions (serial and parallel variants), debug bounds checks, atomics, and
the on-disk cache. The shared corpus (test_kernel_corpus.py) covers the
ordinary kernels; these are the backend's own edge cases."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("numba")
ml_dtypes = pytest.importorskip("ml_dtypes")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from numba import njit  # noqa: E402

import langone as lo  # noqa: E402
from langone.kernels import cache  # noqa: E402
from langone.kernels.backends import interchange, numba_cpu  # noqa: E402
from langone.kernels.backends import numba_math as m  # noqa: E402
from langone.kernels.kernel import kernel  # noqa: E402

BF16 = ml_dtypes.bfloat16


from backend_helpers import assert_same, reference_pair  # noqa: E402

both = reference_pair("numba")



@pytest.fixture(params=["serial", "parallel"])
def variant(request, monkeypatch):
    """Run a test with the serial function, then with the parallel one."""
    monkeypatch.setattr(numba_cpu, "PARALLEL_THRESHOLD",
                        10 ** 12 if request.param == "serial" else 0)
    return request.param


# --- fp16 / bf16 conversions: every bit pattern --------------------------------------------

@njit
def _map_u16_to_f32(fn, a, out):
    for i in range(a.shape[0]):
        out[i] = fn(a[i])


@njit
def _map_f32_to_u16(fn, a, out):
    for i in range(a.shape[0]):
        out[i] = fn(a[i])


ALL_BITS = np.arange(65536, dtype=np.uint16)


@pytest.mark.parametrize("fn, np_type", [(m.f16_to_f32, np.float16), (m.bf16_to_f32, BF16)])
def test_half_bits_to_f32_all_patterns(fn, np_type):
    got = np.empty(65536, np.float32)
    _map_u16_to_f32(fn, ALL_BITS, got)
    want = ALL_BITS.view(np_type).astype(np.float32)
    nan = np.isnan(want)
    np.testing.assert_array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32))
    assert np.isnan(got[nan]).all()


@pytest.mark.parametrize("to_f32, to_half, np_type", [
    (m.f16_to_f32, m.f32_to_f16, np.float16), (m.bf16_to_f32, m.f32_to_bf16, BF16)])
def test_half_round_trip_all_patterns(to_f32, to_half, np_type):
    f = np.empty(65536, np.float32)
    _map_u16_to_f32(to_f32, ALL_BITS, f)
    back = np.empty(65536, np.uint16)
    _map_f32_to_u16(to_half, f, back)
    nan = np.isnan(ALL_BITS.view(np_type).astype(np.float32))
    np.testing.assert_array_equal(back[~nan], ALL_BITS[~nan])
    assert np.isnan(back[nan].view(np_type).astype(np.float32)).all()


EDGES = np.array([0.0, -0.0, np.inf, -np.inf, 65504, 65519.996, 65520, -65520, 6.1035156e-05,
                  6.097555e-05, 2.9802322e-08, 2.9802326e-08, 5.96e-08, 1e-45, 3.4e38,
                  1.0009766, 1.0004883, 1.0014648, 3.3895314e38, 3.3961776e38], np.float32)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.integers(0, 2 ** 32 - 1), min_size=1, max_size=2000))
def test_f32_to_half_rounds_like_numpy(bits):
    x = np.concatenate([np.array(bits, np.uint64).astype(np.uint32).view(np.float32), EDGES])
    nan = np.isnan(x)
    for fn, np_type in ((m.f32_to_f16, np.float16), (m.f32_to_bf16, BF16)):
        got = np.empty(x.size, np.uint16)
        _map_f32_to_u16(fn, x, got)
        with np.errstate(all="ignore"):
            want = x.astype(np_type).view(np.uint16)
        np.testing.assert_array_equal(got[~nan], want[~nan])
        assert np.isnan(got[nan].view(np_type).astype(np.float32)).all()


def test_f64_to_half_rounds_once():
    rng = np.random.default_rng(0)
    d = rng.standard_normal(200_000) * np.exp2(rng.integers(-28, 18, 200_000))

    @njit
    def conv(a, out):
        for i in range(a.shape[0]):
            out[i] = m.f32_to_f16(m.f64_to_f32_odd(a[i]))
    got = np.empty(d.size, np.uint16)
    conv(d, got)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(got, d.astype(np.float16).view(np.uint16))


# --- fp32 math polynomials vs numpy ----------------------------------------------------------

def _ulps(got, want):
    got, want = got.astype(np.float64), want.astype(np.float64)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    with np.errstate(invalid="ignore"):
        err = np.abs(got - want) / np.spacing(np.abs(want.astype(np.float32))).astype(
            np.float64)
    return np.where(same, 0.0, err)


@pytest.mark.parametrize("fn, ref, lo_, hi_", [
    (m.exp_f32, np.exp, -110, 95), (m.log_f32, np.log, 0, 1e6),
    (m.sin_f32, np.sin, -1e4, 1e4), (m.cos_f32, np.cos, -1e4, 1e4),
    (m.tanh_f32, np.tanh, -12, 12), (m.sigmoid_f32, None, -90, 90)])
def test_polynomial_math_within_few_ulp(fn, ref, lo_, hi_):
    rng = np.random.default_rng(1)
    specials = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, 1.0, -1.0, 0.625]
    x = np.concatenate([rng.uniform(lo_, hi_, 200_000), rng.uniform(-1, 1, 1000),
                        specials]).astype(np.float32)
    got = np.empty_like(x)
    _map_u16_to_f32(fn, x, got)
    with np.errstate(all="ignore"):
        want = ref(x) if ref else np.float32(1) / (np.float32(1) + np.exp(-x))
    assert (np.isnan(got) == np.isnan(want)).all()
    assert _ulps(got, want).max() <= 4


# --- semantic corners vs the reference ------------------------------------------------------

@kernel
def int_ops(a, b, out):
    for i in lo.grid(a.shape[0]):
        out[0, i] = a[i] + b[i]
        out[1, i] = a[i] - b[i]
        out[2, i] = a[i] * b[i]
        out[3, i] = a[i] // b[i]
        out[4, i] = a[i] % b[i]
        out[5, i] = (a[i] & b[i]) | (a[i] ^ 5)
        out[6, i] = -a[i]
        out[7, i] = ~a[i]
        out[8, i] = abs(a[i])
        out[9, i] = min(a[i], b[i]) + max(a[i], b[i])
        out[10, i] = a[i] ** abs(b[i] % 4 - 1)      # checked at run time, never negative
        out[11, i] = a[i] * 3 + 100


@pytest.mark.parametrize("dt", [np.int8, np.int16, np.int32, np.int64, np.uint8])
def test_integer_arithmetic_wraps_like_numpy(dt):
    info = np.iinfo(dt)
    edge = np.array([info.min, info.max, 0, 1, -1 if info.min else 2, 7, -7 if info.min else 9],
                    dt)
    rng = np.random.default_rng(2)
    a = np.concatenate([edge.repeat(len(edge)), rng.integers(info.min, info.max, 500, dt)])
    b = np.concatenate([np.tile(edge, len(edge)), rng.integers(info.min, info.max, 500, dt)])
    out = np.zeros((12, a.size), dt)
    with np.errstate(all="ignore"):
        (ref, _), (got, _) = both(int_ops, a, b, out)
    assert_same(got[2], ref[2])


@kernel
def shifts(a, s, out):
    for i in lo.grid(a.shape[0]):
        out[0, i] = a[i] << s[i]
        out[1, i] = a[i] >> s[i]
        out[2, i] = a[i] << 3
        out[3, i] = a[i] >> 2


@pytest.mark.parametrize("dt", [np.int32, np.int64, np.uint8])
def test_shifts_out_of_range_match_reference(dt):
    info = np.iinfo(dt)
    s_vals = np.arange(-3 if info.min else 0, 70 if dt is np.int64 else 40)
    a = np.array([info.min, info.max, -5 if info.min else 5, 1, 0, 77], dt)
    A, S = np.meshgrid(a, s_vals.astype(dt))
    out = np.zeros((4, A.size), dt)
    (ref, _), (got, _) = both(shifts, A.ravel(), S.ravel(), out)
    assert_same(got[2], ref[2])


@kernel
def float_ops(a, b, out):
    for i in lo.grid(a.shape[0]):
        out[0, i] = a[i] // b[i]
        out[1, i] = a[i] % b[i]
        out[2, i] = a[i] / b[i]
        out[3, i] = min(a[i], b[i])
        out[4, i] = max(a[i], b[i])
        out[5, i] = lo.minimum(a[i], b[i])
        out[6, i] = lo.maximum(a[i], b[i])
        out[7, i] = lo.where(lo.isnan(a[i]), 1.0, 0.0) + lo.where(lo.isinf(b[i]), 2.0, 0.0)
        out[8, i] = lo.floor(a[i]) + lo.ceil(b[i]) * 0.5
        out[9, i] = abs(a[i]) ** 0.5 - a[i] * b[i]


FLOATS = [-7.5, 7.5, 0.0, -0.0, 1.0, -1.0, 3.0, np.inf, -np.inf, np.nan, -2.5, 0.3, 1e30]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_float_floordiv_mod_min_max_nan_match_reference(dt):
    A, B = np.meshgrid(np.array(FLOATS, dt), np.array(FLOATS, dt))
    out = np.zeros((10, A.size), dt)
    (ref, _), (got, _) = both(float_ops, A.ravel(), B.ravel(), out)
    np.testing.assert_array_equal(got[2][:9], ref[2][:9])       # exact, NaNs equal
    np.testing.assert_array_equal(np.signbit(got[2][:3]), np.signbit(ref[2][:3]))
    assert_same(got[2][9], ref[2][9], rtol=1e-6)


@kernel
def transcendental(a, out):
    for i in lo.grid(a.shape[0]):
        out[0, i] = lo.exp(a[i])
        out[1, i] = lo.log(a[i])
        out[2, i] = lo.sqrt(a[i])
        out[3, i] = lo.sin(a[i])
        out[4, i] = lo.cos(a[i])
        out[5, i] = lo.tanh(a[i])
        out[6, i] = lo.erf(a[i])
        out[7, i] = lo.sigmoid(a[i])


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16])
def test_math_matches_reference(dt):
    rng = np.random.default_rng(3)
    a = np.concatenate([rng.uniform(-20, 20, 3000), [0, -0.0, np.nan, np.inf, -np.inf, 1e-3]])
    a = a.astype(dt)
    out = np.zeros((8, a.size), dt)
    (ref, _), (got, _) = both(transcendental, a, out)
    assert_same(got[1], ref[1], rtol={np.float64: 1e-12, np.float32: 1e-5,
                                      np.float16: 1e-3}[dt])


@kernel
def casts(x, o_i32, o_i8, o_u8, o_f16, o_bf16, o_b, o_f32):
    for i in lo.grid(x.shape[0]):
        o_i32[i] = lo.int32(x[i])
        o_i8[i] = lo.int8(x[i])
        o_u8[i] = lo.uint8(x[i])
        o_f16[i] = lo.fp16(x[i])
        o_bf16[i] = lo.bf16(x[i])
        o_b[i] = lo.bool_(x[i])
        o_f32[i] = lo.fp32(lo.fp16(x[i]) * 3.0) + lo.fp32(lo.bf16(x[i] + 1))


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.int64, BF16])
def test_casts_truncate_and_round_like_numpy(dt):
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.uniform(-120, 120, 2000), [0.0, -0.0, 0.5, -0.5, 1.5, -1.5,
                                                       2.5, 1.0009765625, 1.00048828125]])
    x = x.astype(dt)
    outs = [np.zeros(x.size, t) for t in (np.int32, np.int8, np.uint8, np.float16, BF16,
                                          np.bool_, np.float32)]
    (ref, _), (got, _) = both(casts, x, *outs)
    for g, r in zip(got[1:], ref[1:]):
        assert_same(g, r)


@kernel
def half_math(x, y, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] * y[i] + x[i] / 3.0


@pytest.mark.parametrize("dt", [np.float16, BF16])
def test_half_loads_compute_in_fp32_and_round_on_store(dt, variant):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(40_000).astype(dt)
    x[:4] = [65504, -65504, 1e-7, np.nan] if dt is np.float16 else [3e38, -3e38, 1e-40, np.nan]
    y = rng.standard_normal(40_000).astype(dt)
    (ref, _), (got, _) = both(half_math, x, y, np.zeros_like(x))
    nan = np.isnan(ref[2].astype(np.float32))
    np.testing.assert_array_equal(got[2].view(np.uint16)[~nan], ref[2].view(np.uint16)[~nan])
    assert nan[3] and np.isnan(got[2][nan].astype(np.float32)).all()


@kernel
def select_bool(x, flags, out):
    for i in lo.grid(x.shape[0]):
        f = flags[i]
        if (not f) and x[i] > 0 or ~f and x[i] < -1:
            out[i] = x[i] if x[i] > 0.5 else -x[i]
        else:
            out[i] = 0


def test_bool_logic_and_select_match_reference():
    rng = np.random.default_rng(6)
    x = rng.standard_normal(1000).astype(np.float32)
    flags = rng.random(1000) < 0.5
    (ref, _), (got, _) = both(select_bool, x, flags, np.zeros_like(x))
    assert_same(got[2], ref[2])


@kernel
def mixed_params(a, n, x, out):
    total = 0
    for k in range(n):
        total += k
    for i in lo.grid(x.shape[0]):
        out[i] = a * x[i] + total
    return a * 2


def test_scalar_params_and_results_keep_numpy_types():
    x = np.arange(10, dtype=np.float32)
    (ref, r_ref), (got, r_nb) = both(mixed_params, np.float32(1.5), 4, x, np.zeros_like(x))
    assert r_nb.dtype == r_ref.dtype and r_nb.item() == r_ref.item()
    assert_same(got[3], ref[3])
    (ref, r_ref), (got, r_nb) = both(mixed_params, np.float16(0.1), 3, x.astype(np.float16),
                                     np.zeros(10, np.float16))
    assert r_nb.dtype == lo.fp16 and r_nb.item() == r_ref.item()
    assert_same(got[3], ref[3])


# --- reductions ----------------------------------------------------------------------------

@kernel
def reductions(x):
    s = 0.0
    p = 1.0
    lo_ = lo.inf
    hi = -lo.inf
    for i in lo.grid(x.shape[0]):
        v = x[i]
        s += v
        p *= 1.0 + v * 0.0001
        lo_ = min(lo_, v)
        hi = max(hi, v)
    return s + p * 10.0 + lo_ * 10.0 + hi * 100.0


@kernel
def int_reductions(x):
    s = 0
    m = 0
    for i, j in lo.grid(x.shape[0], x.shape[1]):
        s += x[i, j] * (j + 1)
        m = max(m, x[i, j] + i)
    return s * 1000 + m


@kernel
def nan_max(x):
    a = -lo.inf
    b = lo.inf
    for i in lo.grid(x.shape[0]):
        a = lo.maximum(a, x[i])
        b = min(b, x[i])
    return a + b


@pytest.mark.parametrize("dt", [np.float32, np.float16, np.float64])
def test_float_reductions_match_reference(dt, variant):
    x = np.random.default_rng(7).standard_normal(50_001).astype(dt)
    (_, want), (_, got) = both(reductions, x)
    assert type(got) is type(want)
    np.testing.assert_allclose(got, want, rtol=1e-4)   # fp32 sums/products, reassociated


@pytest.mark.parametrize("dt", [np.int8, np.int32])
def test_integer_reductions_accumulate_in_int64(dt, variant):
    x = np.random.default_rng(8).integers(-100, 100, (300, 7)).astype(dt)
    (_, want), (_, got) = both(int_reductions, x)
    assert got.dtype == lo.int64 and got.item() == want.item()


def test_reductions_on_empty_and_tiny_grids(variant):
    for n in (0, 1, 3):
        x = np.arange(n, dtype=np.float32)
        (_, want), (_, got) = both(reductions, x)
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_nan_propagation_in_reductions(variant):
    x = np.arange(40_000, dtype=np.float32)
    x[12345] = np.nan
    (_, want), (_, got) = both(nan_max, x)
    # The partials carry the NaN; the merge with the initial value follows the
    # reference (Python's max: today it drops a NaN total).
    assert np.array_equal(got, want, equal_nan=True)
    x[12345] = 5
    (_, want), (_, got) = both(nan_max, x)
    assert got == want == 39999


@kernel
def loop_max(x, out):
    for r in lo.grid(x.shape[0]):
        m = x[r, 0]
        s = 0.0
        for c in range(x.shape[1]):
            m = max(m, x[r, c])
            s += x[r, c]
        out[r] = m + s


def test_sequential_loop_accumulators_keep_python_max():
    x = np.random.default_rng(9).standard_normal((6, 50)).astype(np.float32)
    x[1, 7] = np.nan            # a NaN later in the row is skipped by max(m, v)
    x[2, 0] = np.nan            # a NaN start stays NaN
    (ref, _), (got, _) = both(loop_max, x, np.zeros(6, np.float32))
    assert_same(got[1], ref[1], rtol=1e-5)
    assert "_m.maxnum" in loop_max.source("numba", x, np.zeros(6, np.float32))


# --- atomics -------------------------------------------------------------

@kernel
def histogram(values, counts, weights):
    for i in lo.grid(values.shape[0]):
        lo.atomic_add(counts, values[i], 1)
        lo.atomic_add(weights, values[i], 0.1)


@pytest.mark.parametrize("wdt", [np.float32, np.float16])
def test_atomic_add_histogram(wdt, variant):
    values = np.random.default_rng(10).integers(0, 16, 50_000).astype(np.int64)
    args = (values, np.zeros(16, np.int32), np.zeros(16, wdt))
    (ref, _), (got, _) = both(histogram, *args)
    np.testing.assert_array_equal(got[1], np.bincount(values, minlength=16))
    np.testing.assert_allclose(got[2].astype(np.float64), ref[2].astype(np.float64),
                               rtol=1e-3)
    assert "_parallel = None   # serial only: atomics" in histogram.source("numba")


# --- rendering and launching ---------------------------------------------------------------

@kernel
def saxpy(a, x, y, out):
    for i in lo.grid(x.shape[0]):
        out[i] = a * x[i] + y[i]


def test_source_has_serial_and_prange_variants():
    x = np.ones(4, np.float32)
    src = saxpy.source("numba", 2.0, x, x, x)
    assert "def saxpy_serial(a, x, y, out):" in src
    assert "for i in prange(_k_n0):" in src and "@njit(parallel=True" in src
    assert "# source: " + saxpy.__wrapped__.__code__.co_filename in src


def test_launcher_picks_variant_by_size(monkeypatch):
    calls = []
    final = saxpy.stages(2.0, *[np.ones(2, np.float32)] * 3).final
    launch = numba_cpu.make_launcher(final, lambda *a: calls.append("serial"),
                                     lambda *a: calls.append("parallel"), {})
    threshold = numba_cpu.parallel_threshold(final)
    assert 1024 <= threshold <= 10 ** 7
    small, big = np.ones(10, np.float32), np.ones(threshold, np.float32)
    launch([2.0, small, small, small])
    launch([2.0, big, big, big])
    assert calls == ["serial", "parallel"]


# --- loop interchange of row accumulations (backends/interchange.py) ------------------------

_INTERCHANGED = {"naive_matmul", "matmul_bias_relu", "batched_matmul_3d_grid",
                 "max_plus_product", "min_plus_builtin_min", "int_matmul_even_k", "triangular_bound_depends_on_i"}
_KEPT = {"matmul_b_transposed_contiguous_k", "bound_depends_on_j_not_interchanged",
         "grid2d_global_const", "strided_and_transposed"}


def _corpus(names):
    import kernel_corpus
    found = [c for c in kernel_corpus.CASES if c.name in names]
    assert {c.name for c in found} == names
    return found


@pytest.mark.parametrize("name", sorted(_INTERCHANGED | _KEPT))
def test_row_accumulations_interchange_only_where_it_pays_and_is_safe(name):
    case, = _corpus({name})
    args = case.make(np.random.default_rng(0))
    interchanged = "# loop interchange:" in case.kernel.source("numba", *args)
    assert interchanged == (name in _INTERCHANGED)


@pytest.mark.parametrize("name", sorted(_INTERCHANGED - {"int_matmul_even_k",
                                                          "triangular_bound_depends_on_i"}))
def test_interchanged_kernels_equal_the_reference_bit_for_bit(name, variant):
    # Each accumulator still adds its terms in the order of k: no rounding differs.
    # (These cases have rows of >= MIN_ROW, so the interchanged loops run.)
    case, = _corpus({name})
    both = reference_pair("numba")
    args = case.make(np.random.default_rng(1))
    assert args[-1].shape[-1] >= interchange.MIN_ROW
    (ref, _), (got, _) = both(case.kernel, *args)
    for r, g in zip(ref, got):
        if isinstance(r, np.ndarray):
            assert_same(g, r)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=st.integers(0, 9), n=st.integers(0, 300), k=st.integers(0, 9),
       parallel=st.booleans())
def test_interchanged_matmul_any_shape(m, n, k, parallel):
    # n crosses MIN_ROW: both the interchanged loops and the fallback run.
    from langone import bench
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)[:, ::-1]        # strided too
    old = numba_cpu.PARALLEL_THRESHOLD
    numba_cpu.PARALLEL_THRESHOLD = 0 if parallel else 10 ** 12
    try:
        (ref, _), (got, _) = reference_pair("numba")(
            bench.matmul, a, b, np.full((m, n), np.nan, np.float32))
    finally:
        numba_cpu.PARALLEL_THRESHOLD = old
    if n >= interchange.MIN_ROW:
        assert_same(got[2], ref[2])
    else:                            # the original k loop, its sum reassociated
        np.testing.assert_allclose(got[2], ref[2], rtol=1e-5, atol=1e-5)


def test_elementwise_kernel_with_broadcasting():
    @kernel
    def gelu(x, b):
        return 0.5 * x * (1.0 + lo.tanh(0.7978845608 * (x + 0.044715 * x * x * x))) + b
    x = np.random.default_rng(11).standard_normal((64, 33)).astype(np.float32)
    b = np.arange(33, dtype=np.float32)
    want = gelu.on("numpy")(x, b).numpy()
    got = gelu.on("numba")(x, b).numpy()
    assert got.dtype == want.dtype == np.float32 and got.shape == (64, 33)
    # 1 + tanh(z) cancels for negative x: absolute error, not relative, is the bound.
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


# --- the on-disk cache ---------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import numpy as np
    import langone as lo
    from langone.kernels.kernel import kernel

    @kernel
    def twice(x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = 2 * x[i] + 1

    x = np.arange(5, dtype=np.float32); out = np.zeros_like(x)
    twice.on("numba")(x, out)
    assert (out == 2 * x + 1).all(), out
    print("OK")
""")


def _child(cache_dir, *env_extra):
    env = dict(os.environ, LANGONE_CACHE_DIR=str(cache_dir), NUMBA_DEBUG_CACHE="1")
    env.pop("LANGONE_DISABLE_CACHE", None)
    for kv in env_extra:
        k, _, v = kv.partition("=")
        env[k] = v
    script = cache_dir / "child_kernel.py"        # kernels need a source file
    script.write_text(CHILD)
    r = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "OK" in r.stdout, r.stderr[-3000:]
    return r.stdout


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A cache directory after one process compiled ``twice`` into it."""
    d = tmp_path_factory.mktemp("kcache")
    first = _child(d)
    return d, first


def test_second_process_loads_numba_machine_code_from_cache(warm_cache):
    d, first = warm_cache
    files = list((d / "numba").glob("langone_kcache_numba_twice_*.py"))
    assert len(files) == 1
    assert list((d / "numba" / "__pycache__").glob("*.nbi")), "numba's index is missing"
    assert "data saved to" in first
    second = _child(d)
    assert "data loaded from" in second and "data saved to" not in second
    assert list((d / "numba").glob("langone_kcache_numba_twice_*.py")) == files


def test_corrupt_cached_module_is_rebuilt(warm_cache):
    d, _ = warm_cache
    (path,) = (d / "numba").glob("langone_kcache_numba_twice_*.py")
    path.write_text("this is not python )(")
    _child(d)
    assert path.read_text().startswith("# LangOne kernel 'twice'")


def test_corrupt_numba_cache_files_are_recompiled(warm_cache):
    d, _ = warm_cache
    _child(d)                                        # make sure numba's files exist
    damaged = list((d / "numba" / "__pycache__").glob("*twice*.nb[ic]"))
    assert damaged
    for f in damaged:
        f.write_text("garbage")
    assert "data saved to" in _child(d)              # recompiled and saved again
    assert "data loaded from" in _child(d)


def test_disabled_cache_writes_nothing(tmp_path):
    _child(tmp_path, "LANGONE_DISABLE_CACHE=1")
    assert not (tmp_path / "numba").exists()


def test_cache_info_and_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("LANGONE_CACHE_DIR", str(tmp_path))
    mod = cache.load_module("numba", "demo", "k" * 24, "X = 1\n")
    assert mod.X == 1
    info = cache.info()
    assert info["entries"] == 1 and info["bytes"] > 0 and info["path"].startswith(
        str(tmp_path))
    assert cache.clear() == 1 and cache.info()["entries"] == 0


def test_cache_key_changes_with_options_and_source():
    k1 = cache.cache_key("numba", "abc", {"debug": False}, "src")
    assert k1 != cache.cache_key("numba", "abc", {"debug": True}, "src")
    assert k1 != cache.cache_key("numba", "abc", {"debug": False}, "src2")
    assert k1 == cache.cache_key("numba", "abc", {"debug": False}, "src")


def test_in_order_sums_are_split_off_so_the_rest_of_the_loop_vectorizes():
    from langone import bench
    x = np.random.default_rng(2).standard_normal((4, 64)).astype(np.float32)
    out = np.empty_like(x)
    src = bench.softmax_rows.source("numba", x, out)
    assert "_k_terms" in src                      # e's terms stored, then summed in order
    assert "_k_terms" not in bench.softmax_rows_fast.source("numba", x, out)


@lo.kernel(fastmath=True)
def _checked_three_ways(x, idx, e, s, out):
    for i in lo.grid(out.shape[0]):
        acc = 0
        for j in range(0, x.shape[0], s):
            acc += x[idx[j]] ** e[i]
        out[i] = acc


def test_parallel_check_sites_name_their_kind_and_follow_the_kernels_options():
    # Each check site of the parallel function says what it checks; they are numbered by
    # the lowering of the kernel's own options (fastmath here), as the compiled code is.
    from langone.kernels.backends import numba_lower
    args = (np.arange(4), np.array([0, 1, -1, 3]), np.ones(5000, np.int64), 1,
            np.zeros(5000, np.int64))
    final = _checked_three_ways.stages(*args).final
    sites = numba_lower.parallel_sites(final, _checked_three_ways.options)
    assert {kind for kind, _ in sites} == {"step", "index", "exponent"}
    assert all(where.startswith(__file__) for _, where in sites)
    bad = list(args)
    bad[2] = bad[2].copy()
    bad[2][4000] = -3
    with pytest.raises(lo.errors.KernelRuntimeError, match=r"\(exponent -3\)"):
        _checked_three_ways.on("numba")(*bad)
    with pytest.raises(lo.errors.KernelRuntimeError, match="range\\(\\) arg 3 must not be zero"):
        _checked_three_ways.on("numba")(*args[:3], 0, args[4])
    bad = list(args)
    bad[1] = np.array([0, 1, 9, 3])
    with pytest.raises(lo.errors.KernelIndexError, match="index 9 is out of bounds"):
        _checked_three_ways.on("numba")(*bad)


@lo.kernel
def _row_stats(x, y, out):
    for r in lo.grid(x.shape[0]):
        scale = x[r, 0] * 0.5                  # lives across the sums
        s = 0.0
        q = 1.0
        for c in range(x.shape[1]):
            y[r, c] = x[r, c] * scale
            s += x[r, c] * x[r, c]
            q *= 1.0 + x[r, c] * 1e-3
        out[r] = s * scale + q


@lo.kernel
def _ragged_row_sums(x, y, out):
    for r in lo.grid(x.shape[0]):
        s = 0.0
        for c in range(r % 7, x.shape[1]):    # a different length per row: not jammed
            y[r, c] = x[r, c] * 2.0
            s += x[r, c]
        out[r] = s


@pytest.mark.parametrize("rows", [2003, 2008, 7])
def test_jammed_in_order_sums_are_bit_for_bit_the_python_backends(rows):
    # 8 rows' in-order chains run side by side in the parallel function (row_jam); each
    # keeps Python's order, so the sums are bitwise those of the kernel run as Python.
    x = np.random.default_rng(1).standard_normal((rows, 600)).astype(np.float32)
    got = [x, np.zeros_like(x), np.zeros(rows, np.float32)]
    want = [x, np.zeros_like(x), np.zeros(rows, np.float32)]
    _row_stats.on("numba")(*got)
    _row_stats.on("python")(*want)
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[2])
    assert "row_jam" in _row_stats.source("numba") and "_k_live_scale" in \
        _row_stats.source("numba")


def test_rows_of_different_lengths_are_not_jammed():
    x = np.random.default_rng(2).standard_normal((2003, 600)).astype(np.float32)
    got = [x, np.zeros_like(x), np.zeros(2003, np.float32)]
    want = [x, np.zeros_like(x), np.zeros(2003, np.float32)]
    _ragged_row_sums.on("numba")(*got)
    _ragged_row_sums.on("python")(*want)
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[2])
    assert "row_jam" not in _ragged_row_sums.source("numba")


@pytest.mark.parametrize("rows", [2003, 16])
def test_pure_in_order_sums_of_a_jammable_grid_are_jammed_bit_for_bit(rows):
    from langone.bench import layernorm_rows     # two sums with nothing beside them
    x = np.random.default_rng(3).standard_normal((rows, 700)).astype(np.float32)
    got, want = np.zeros_like(x), np.zeros_like(x)
    layernorm_rows.on("numba")(x, got)
    layernorm_rows.on("python")(x, want)
    np.testing.assert_array_equal(got, want)
    src = layernorm_rows.source("numba")
    assert "row_jam" in src and "_k_live_mean" in src
