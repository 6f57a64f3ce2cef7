"""uint16, uint32 and uint64 values in kernels, on every backend.

The kernel's own Python function over numpy values is the meaning (the python
backend runs it): unsigned arithmetic wraps modulo 2**bits, Python int literals
are weak (``x - 1`` stays uint16), mixed signed/unsigned operands promote as
NumPy 2 does (``uint64 + int64`` is fp64), integers compare by value (uint64
against int64 too), ``//`` and ``%`` by zero give 0, float-to-unsigned casts
follow x86-64's conversion (lower_casts), and integer accumulators are int64
(exception 4). Every backend is compared with the python backend, dtypes
included; what numpy refuses is a compile error at the user's line.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import langone as lo
from langone.errors import KernelArgumentError, KernelCompileError, KernelIndexError
from langone.kernels import backends

from backend_helpers import same_everywhere

pytestmark = pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning",
                                        "ignore::RuntimeWarning")

UNSIGNED = [np.uint16, np.uint32, np.uint64]
SIGNED_OF = {np.uint16: np.int16, np.uint32: np.int32, np.uint64: np.int64}


def edges(dt) -> np.ndarray:
    """Values at the wrap boundaries of ``dt``, and a few ordinary ones."""
    m = int(np.iinfo(dt).max)
    vals = [0, 1, 2, 3, 7, m, m - 1, m // 2, m // 2 + 1, m // 3, 0xFF, 0x100, 12345]
    if dt == np.uint64:
        vals += [2 ** 63 - 1, 2 ** 63, 2 ** 53 + 1, 2 ** 32, 2 ** 32 - 1]
    return np.array(vals, dt)


@lo.kernel
def k_arith(x, y, add, sub, mul, fdiv, mod, xor):
    for i in lo.grid(x.shape[0]):
        add[i] = x[i] + y[i]
        sub[i] = x[i] - y[i]
        mul[i] = x[i] * y[i]
        fdiv[i] = x[i] // y[i]
        mod[i] = x[i] % y[i]
        xor[i] = (x[i] & y[i]) | (x[i] ^ y[i])


@lo.kernel
def k_unary(x, neg, inv, ab, lit):
    for i in lo.grid(x.shape[0]):
        neg[i] = -x[i]
        inv[i] = ~x[i]
        ab[i] = abs(x[i])
        lit[i] = (x[i] - 1) * 3 + x[i] // 2 - x[i] % 5


@lo.kernel
def k_shifts(x, s, left, right, cl, cr):
    for i in lo.grid(x.shape[0]):
        left[i] = x[i] << s[i]
        right[i] = x[i] >> s[i]
        cl[i] = x[i] << 5
        cr[i] = x[i] >> 3


@lo.kernel
def k_pow(x, e, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] ** e[i]


def _outs(x, n):
    return [np.zeros_like(x) for _ in range(n)]


@pytest.mark.parametrize("dt", UNSIGNED, ids=lambda d: d.__name__)
def test_arithmetic_wraps(dt):
    x = edges(dt)
    y = np.roll(x, 3)
    y[-1] = 0                                  # x // 0 and x % 0: 0, as numpy
    same_everywhere(k_arith, x, y, *_outs(x, 6))
    same_everywhere(k_unary, x, *_outs(x, 4))


@pytest.mark.parametrize("dt", UNSIGNED, ids=lambda d: d.__name__)
def test_shifts_and_powers(dt):
    x = edges(dt)
    bits = np.iinfo(dt).bits
    s = np.array([0, 1, bits - 1, bits, bits + 3, 5, 63, 2, 7, 1, 4, 9, 3] +
                 [1] * (len(x) - 13), dt)      # counts from the width up give 0
    same_everywhere(k_shifts, x, s, *_outs(x, 4))
    e = np.array(range(len(x)), dt) % 70
    same_everywhere(k_pow, x, e, np.zeros_like(x))


def test_arithmetic_results_are_numpys():
    x = edges(np.uint32)
    y = np.roll(x, 1)
    args, _ = same_everywhere(k_arith, x, y, *_outs(x, 6))
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(args[2], x + y)
        np.testing.assert_array_equal(args[4], x * y)
        np.testing.assert_array_equal(args[5], x // y)


# --- promotion (NEP 50) ------------------------------------------------------------------

@lo.kernel
def k_first_sum(x, y):
    return x[0] + y[0]


@lo.kernel
def k_first_ops(x, y):
    return x[0] * y[0] - y[0], x[0] // y[0], x[0] > y[0]


PAIRS = [(np.uint8, np.int8), (np.uint16, np.int16), (np.uint32, np.int32),
         (np.uint64, np.int64), (np.uint64, np.int8), (np.uint16, np.uint64),
         (np.uint32, np.float32), (np.uint64, np.float32), (np.uint16, np.float16),
         (np.uint32, np.uint8), (np.int64, np.uint32)]


@pytest.mark.parametrize("a,b", PAIRS, ids=lambda d: d.__name__)
def test_mixed_promotion_is_numpys(a, b):
    x = np.array([np.iinfo(a).max if a().dtype.kind in "iu" else 3], a)
    y = np.array([-2 if b().dtype.kind in "if" else 2], b)
    _, got = same_everywhere(k_first_sum, x, y)
    with np.errstate(all="ignore"):
        want = x[0] + y[0]
    assert np.asarray(got).dtype == np.asarray(want).dtype
    assert got == want
    _, got = same_everywhere(k_first_ops, x, y)
    with np.errstate(all="ignore"):
        wants = (x[0] * y[0] - y[0], x[0] // y[0], x[0] > y[0])
    for g, w in zip(got, wants):
        assert np.asarray(g).dtype == np.asarray(w).dtype, (g, w)


@lo.kernel
def k_weak(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] - 1


@pytest.mark.parametrize("dt", UNSIGNED, ids=lambda d: d.__name__)
def test_weak_literal_keeps_the_type_and_wraps(dt):
    x = np.array([0, 1, 5], dt)
    out = np.zeros_like(x)
    args, _ = same_everywhere(k_weak, x, out)
    assert args[1][0] == np.iinfo(dt).max


# --- comparisons by value ------------------------------------------------------------------

@lo.kernel
def k_compare(u, s, lt, le, eq, ne, gt, ge):
    for i in lo.grid(u.shape[0]):
        lt[i] = u[i] < s[i]
        le[i] = s[i] <= u[i]
        eq[i] = u[i] == s[i]
        ne[i] = s[i] != u[i]
        gt[i] = u[i] > s[i]
        ge[i] = u[i] >= s[i]


@lo.kernel
def k_compare_literals(u, out):
    for i in lo.grid(u.shape[0]):
        out[i, 0] = u[i] > -1
        out[i, 1] = u[i] < -1
        out[i, 2] = -1 != u[i]
        out[i, 3] = u[i] == 70000
        out[i, 4] = u[i] <= 70000
        out[i, 5] = 70000 > u[i]


@lo.kernel
def k_compare_pyint(u, n, out):
    for i in lo.grid(u.shape[0]):
        out[i] = u[i] > n


def test_uint64_and_int64_compare_exactly():
    u = np.array([2 ** 63, 2 ** 64 - 1, 0, 5, 2 ** 63, 2 ** 53 + 1, 7], np.uint64)
    s = np.array([-1, -1, -2 ** 63, 5, 2 ** 63 - 1, 2 ** 53, 2 ** 63 - 1], np.int64)
    outs = [np.zeros(len(u), bool) for _ in range(6)]
    args, _ = same_everywhere(k_compare, u, s, *outs)
    for got, want in zip(args[2:], (u < s, s <= u, u == s, s != u, u > s, u >= s)):
        np.testing.assert_array_equal(got, want)        # numpy 2: exact, not via fp64
    s32 = s.astype(np.int32)
    same_everywhere(k_compare, u, s32, *outs)


@pytest.mark.parametrize("dt", UNSIGNED, ids=lambda d: d.__name__)
def test_literals_outside_the_type_compare_by_value(dt):
    u = edges(dt)
    args, _ = same_everywhere(k_compare_literals, u, np.zeros((len(u), 6), bool))
    want = np.stack([u > -1, u < -1, u != -1, u == 70000, u <= 70000, u < 70000], axis=1)
    np.testing.assert_array_equal(args[1], want)
    for n in (-1, 3, 70000):                  # a Python int argument: by value too
        if n < 0 and dt == np.uint64:         # it meets uint64: the launcher refuses it
            with pytest.raises(KernelArgumentError, match="Python int -1"):
                k_compare_pyint.on("numpy")(u, n, np.zeros(len(u), bool))
            continue
        args, _ = same_everywhere(k_compare_pyint, u, n, np.zeros(len(u), bool))
        np.testing.assert_array_equal(args[2], u > n)


# --- casts, stores, loads --------------------------------------------------------------------

@lo.kernel
def k_store(f, out):
    for i in lo.grid(f.shape[0]):
        out[i] = f[i]


@lo.kernel
def k_casts(f, a, b, c):
    for i in lo.grid(f.shape[0]):
        a[i] = lo.uint16(f[i])
        b[i] = lo.uint32(f[i]) + lo.uint32(1)
        c[i] = lo.uint64(f[i]) // lo.uint64(3)


SPECIAL = [-1.5, -0.5, 0.0, 3.7, 65535.9, 65536.0, 70000.5, -70000.5, 2.0 ** 31,
           2.0 ** 32 - 0.5, 5e9, -5e9, 2.0 ** 63, 2.0 ** 63 + 2048, 2.0 ** 64, 1.8e19,
           2.0 ** 62 * 3, 1e30, -1e30, np.inf, -np.inf, np.nan, -2.0 ** 63]


@pytest.mark.parametrize("src", [np.float64, np.float32, np.float16],
                         ids=lambda d: d.__name__)
def test_float_to_unsigned_is_x86_astype(src):
    with np.errstate(all="ignore"):
        f = np.array(SPECIAL, np.float64).astype(src)
    for dt in UNSIGNED:
        args, _ = same_everywhere(k_store, f, np.zeros(len(f), dt))
        with np.errstate(all="ignore"):     # numpy's scalar (not SIMD array) conversion
            want = [np.asarray(v).astype(dt)[()] for v in f]
        np.testing.assert_array_equal(args[1], want)
    same_everywhere(k_casts, f, *(np.zeros(len(f), dt) for dt in UNSIGNED))


@lo.kernel
def k_to_uint16(f):
    return lo.uint16(f)


@lo.kernel
def k_to_uint32(f):
    return lo.uint32(f)


@lo.kernel
def k_to_uint64(f):
    return lo.uint64(f)


@lo.kernel
def k_to_int8(f):
    return lo.int8(f)


def test_elementwise_casts_follow_the_scalar_rule():
    # numpy's contiguous-array loops convert out-of-range floats with SIMD instructions
    # (5e9 -> uint32 is 0 there); the rule is its scalars' (705032704), on arrays too
    f = np.array(SPECIAL * 3, np.float64)
    for kern, dt in ((k_to_uint16, np.uint16), (k_to_uint32, np.uint32),
                     (k_to_uint64, np.uint64), (k_to_int8, np.int8)):
        _, got = same_everywhere(kern, f)
        with np.errstate(all="ignore"):
            want = [np.asarray(v).astype(dt)[()] for v in f]
        np.testing.assert_array_equal(np.asarray(got), want)


@pytest.mark.parametrize("src", [np.uint16, np.uint32, np.uint64, np.int64, np.int8],
                         ids=lambda d: d.__name__)
def test_integer_stores_narrow_and_widen(src):
    x = edges(src) if src().dtype.kind == "u" else \
        np.array([-1, 0, 1, 127, -128, np.iinfo(src).max, np.iinfo(src).min], src)
    for dt in [np.uint16, np.uint32, np.uint64, np.int8, np.int32, np.int64,
               np.float16, np.float32, np.float64, lo.bf16.numpy]:
        same_everywhere(k_store, x, np.zeros(len(x), dt))


# --- accumulators, atomics, indices, loops -----------------------------------------------------

@lo.kernel
def k_sum(x):
    acc = 0
    for i in lo.grid(x.shape[0]):
        acc += x[i]
    return acc


@lo.kernel
def k_max(x):
    m = x[0]
    for i in lo.grid(x.shape[0]):
        m = max(m, x[i])
    return m


@lo.kernel
def k_row_sums(x, out):
    for r in lo.grid(x.shape[0]):
        s = lo.uint32(0)
        for c in range(x.shape[1]):
            s += x[r, c]
        out[r] = s


@pytest.mark.parametrize("dt", UNSIGNED, ids=lambda d: d.__name__)
def test_integer_accumulators_widen(dt):
    x = edges(dt)
    _, got = same_everywhere(k_sum, x)
    # exception 4, as for uint8; a uint64 sum stays uint64 (int64 + uint64 is fp64)
    assert np.asarray(got).dtype == (np.uint64 if dt == np.uint64 else np.int64)
    assert int(got) % 2 ** 64 == int(x.astype(object).sum()) % 2 ** 64
    _, got = same_everywhere(k_max, x)
    assert np.asarray(got).dtype == dt and got == x.max()
    same_everywhere(k_row_sums, np.tile(x, (3, 1)), np.zeros(3, dt))


@lo.kernel
def k_atomics(t, idx, v, old):
    for i in lo.grid(v.shape[0]):
        old[i] = lo.atomic_add(t, idx[i], v[i])
        lo.atomic_max(t, idx[i], v[i])


@lo.kernel
def k_atomic_sums(t, idx, v):
    for i in lo.grid(v.shape[0]):
        lo.atomic_add(t, idx[i], v[i])


@pytest.mark.parametrize("dt", UNSIGNED, ids=lambda d: d.__name__)
def test_atomics_on_unsigned_tensors(dt):
    v = edges(dt)
    if dt == np.uint16 and "triton" in backends.usable():
        with pytest.raises(KernelCompileError, match="GPUs have no uint16 atomics"):
            k_atomics.on("triton")(np.zeros(len(v), dt), np.arange(len(v)), v,
                                   np.zeros_like(v))
        return                                 # the other backends: test_atomics_cpu
    # one element per iteration: the old values do not depend on the order
    same_everywhere(k_atomics, np.zeros(len(v), dt), np.arange(len(v)), v, np.zeros_like(v))
    idx = np.arange(len(v)) % 3                # collisions: wrapping sums commute
    args, _ = same_everywhere(k_atomic_sums, np.full(3, 5, dt), idx, v)
    want = np.full(3, 5, dt)
    with np.errstate(all="ignore"):
        np.add.at(want, idx, v)
    np.testing.assert_array_equal(args[0], want)


@lo.kernel
def k_gather(x, u, out):
    for i in lo.grid(u.shape[0]):
        out[i] = x[u[i]] + x[lo.int64(u[i]) - 1]


@lo.kernel
def k_loop_to(u, out):
    for i in lo.grid(u.shape[0]):
        s = 0
        for j in range(u[i]):
            s += j
        out[i] = s


@pytest.mark.parametrize("dt", UNSIGNED, ids=lambda d: d.__name__)
def test_unsigned_indices_and_ranges(dt):
    x = np.arange(10, dtype=np.float32) * 1.5
    u = np.array([1, 9, 3, 5], dt)
    same_everywhere(k_gather, x, u, np.zeros(4, np.float32))
    same_everywhere(k_loop_to, u, np.zeros(4, np.int64))


def test_a_huge_uint64_index_is_out_of_bounds_not_negative():
    x = np.arange(10, dtype=np.float32)
    u = np.array([1, 2 ** 64 - 1], np.uint64)          # -1 as int64: it must not wrap
    for b in backends.usable():
        with pytest.raises(KernelIndexError):
            k_gather.on(b)(x, u, np.zeros(2, np.float32))


# --- what numpy refuses ----------------------------------------------------------------------

def _bitor_signed(u, s, out):
    for i in lo.grid(u.shape[0]):
        out[i] = u[i] | s[i]


def _minus_one_literal(u, out):
    for i in lo.grid(u.shape[0]):
        out[i] = u[i] + -1


def _builtin_max_mixed(u, s, out):
    for i in lo.grid(u.shape[0]):
        out[i] = max(u[i], s[i])


def _shift_literal(u, out):
    for i in lo.grid(u.shape[0]):
        out[i] = u[i] << 70000


@pytest.mark.parametrize("fn,args,needle", [
    (_bitor_signed, (np.zeros(2, np.uint64), np.zeros(2, np.int64), np.zeros(2)),
     "operator | on uint64 and int64"),
    (_minus_one_literal, (np.zeros(2, np.uint16), np.zeros(2, np.uint16)),
     "Python integer -1 is out of bounds for uint16"),
    (_builtin_max_mixed, (np.zeros(2, np.uint64), np.zeros(2, np.int64), np.zeros(2)),
     "max() of uint64 and int64 gives one of them"),
    (_shift_literal, (np.zeros(2, np.uint16), np.zeros(2, np.uint16)),
     "Python integer 70000 is out of bounds for uint16"),
])
def test_what_numpy_refuses_is_a_compile_error(fn, args, needle):
    k = lo.kernel(fn)
    with pytest.raises(KernelCompileError) as info:
        k.on("numpy")(*args)
    err = info.value
    assert needle in str(err)
    assert err.filename.endswith("test_kernel_unsigned.py")
    assert err.lineno == fn.__code__.co_firstlineno + 2


# --- properties near the wrap boundaries ---------------------------------------------------------

def _boundary_values(dt):
    m = int(np.iinfo(dt).max)
    near = [0, 1, m, m - 1, m // 2, m // 2 + 1, 2 ** 63, 2 ** 63 - 1, 2 ** 32, 2 ** 16]
    return st.one_of(st.sampled_from([v for v in near if v <= m]), st.integers(0, m))


@st.composite
def unsigned_cases(draw):
    dt = draw(st.sampled_from(UNSIGNED))
    n = draw(st.integers(1, 6))
    x = np.array(draw(st.lists(_boundary_values(dt), min_size=n, max_size=n)), dt)
    y = np.array(draw(st.lists(_boundary_values(dt), min_size=n, max_size=n)), dt)
    s = draw(st.lists(st.integers(np.iinfo(SIGNED_OF[dt]).min, np.iinfo(SIGNED_OF[dt]).max),
                      min_size=n, max_size=n))
    return x, y, np.array(s, SIGNED_OF[dt])


@lo.kernel
def k_mixed(x, s, out, cmp):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] + s[i]
        cmp[i] = x[i] < s[i]


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(case=unsigned_cases())
def test_property_every_backend_wraps_like_numpy(case):
    x, y, s = case
    args, _ = same_everywhere(k_arith, x, y, *_outs(x, 6))
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(args[2], x + y)
        np.testing.assert_array_equal(args[3], x - y)
        np.testing.assert_array_equal(args[4], x * y)
        np.testing.assert_array_equal(args[5], x // y)
        np.testing.assert_array_equal(args[6], x % y)
    with np.errstate(all="ignore"):
        want = x + s                           # NEP 50: int32/int64/fp64 by the pair
    args, _ = same_everywhere(k_mixed, x, s, np.zeros(len(x), want.dtype),
                              np.zeros(len(x), bool))
    np.testing.assert_array_equal(args[2], want)
    np.testing.assert_array_equal(args[3], x < s)
