"""The Triton backend: semantics vs the numpy reference (Triton's interpreter on
machines without a GPU), ahead-of-time compilation of the whole kernel corpus for
sm_80/sm_90 and AMD gfx942, errors for what Triton cannot express, the autotune
cache, and GPU tests that run only where CUDA is.

The shared corpus (test_kernel_corpus.py) already runs every corpus kernel on
this backend; these are the backend's own corner cases.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

pytest.importorskip("triton")
ml_dtypes = pytest.importorskip("ml_dtypes")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import langone as lo  # noqa: E402
from langone.errors import KernelCompileError  # noqa: E402
from langone.kernels import backends  # noqa: E402
from langone.kernels.backends import triton_aot, triton_gpu, triton_launch  # noqa: E402
from langone.kernels.backends.triton_autotune import Autotuner, size_class  # noqa: E402
from langone.kernels.kernel import kernel  # noqa: E402

from kernel_corpus import CASES  # noqa: E402

BF16 = ml_dtypes.bfloat16
USABLE = "triton" in backends.usable()
GPU = USABLE and not triton_gpu.BACKEND.interpret

pytestmark = [pytest.mark.skipif(not USABLE, reason="the triton backend is not usable here"),
              pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning")]


from backend_helpers import assert_same, reference_pair  # noqa: E402
from test_kernel_debug import shifted_copy  # noqa: E402
from langone.bench import saxpy, total  # noqa: E402  (the shared workloads)

both = reference_pair("triton")



def assert_all_same(ref, got, rtol=0.0):
    (ref_args, ref_res), (tr_args, tr_res) = ref, got
    for a, b in zip(ref_args, tr_args):
        if isinstance(a, np.ndarray):
            assert_same(b, a, rtol)
    if ref_res is not None:
        assert_same(tr_res, ref_res, rtol)


# --- availability, warning, import laziness -----------------------------------------------

def test_available_in_interpreter_mode_and_warns_once():
    if GPU:
        pytest.skip("a GPU is present: no interpreter warning")
    backend = triton_gpu.TritonBackend()
    assert backend.available() is None and backend.interpret
    k = saxpy.stages(2.0, np.ones(3, np.float32), np.ones(3, np.float32),
                     np.zeros(3, np.float32)).final
    with pytest.warns(RuntimeWarning, match="no CUDA GPU was found: Triton kernels run in "
                                            "Triton's interpreter"):
        backend.compile(k, {})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        backend.compile(k, {})                     # once only


@pytest.mark.parametrize("tv, nv, ok", [("3.6.0", "2.4.1", False), ("3.6.0", "2.3.5", True),
                                        ("3.7.0", "2.5.2", True), ("3.10.1", "2.4.0", True)])
def test_an_interpreter_that_cannot_run_under_this_numpy_is_not_usable(tv, nv, ok, monkeypatch):
    import triton
    monkeypatch.setattr(triton, "__version__", tv)
    monkeypatch.setattr(np, "__version__", nv)
    why = triton_gpu._interpreter_too_old()
    assert (why is None) == ok
    if not ok:
        assert f"triton {tv}" in why and f"numpy {nv}" in why and "triton>=3.7" in why


def test_import_langone_does_not_import_triton():
    code = textwrap.dedent("""
        import sys
        import langone
        from langone.kernels.backends import triton_gpu, triton_render
        assert "triton" not in sys.modules, "import langone loaded triton"
        assert "torch" not in sys.modules
        triton_gpu.BACKEND.available()
        assert "triton" in sys.modules
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_device_pointer_is_what_triton_accepts():
    from triton.runtime.jit import mangle_type
    for dt, sig in ((np.float32, "*fp32"), (np.float16, "*fp16"), (BF16, "*bf16"),
                    (np.int64, "*i64"), (np.uint8, "*u8")):
        p = triton_launch.DevicePointer(4096, np.dtype(dt))
        assert p.data_ptr() == 4096 and mangle_type(p) == sig


# --- generated source ---------------------------------------------------------------------

def test_source_shows_spmd_kernel_and_host_program():
    x = np.ones(8, np.float32)
    src = saxpy.source("triton", 2.0, x, x, x.copy())
    assert "@triton.jit" in src and "def k_saxpy_grid0(" in src
    assert "tl.load(t_x + (v_i), mask=_gm, other=0)" in src
    assert "tl.store(t_out + (v_i)," in src and "mask=_gm)" in src
    assert "0: launch  k_saxpy_grid0 over grid(x.shape[0])" in src
    src = total.source("triton", x)
    assert "0: host    acc: fp32 = 0.0" in src
    assert "combine sum(acc) from per-program partials" in src
    assert "_lo_rsum(v_acc)" in src and "2: host    return acc" in src


def test_source_is_the_same_text_for_gpu_and_interpreter():
    # The module decides libdevice vs core math at import (_INTERP), not at render time.
    src = lo.kernel(math_kernel).source("triton", np.ones(4, np.float32), np.ones(4, np.float32))
    assert "_INTERP = tl.constexpr(bool(triton.knobs.runtime.interpret))" in src
    assert "libdevice.tanh(x)" in src and "libdevice.exp(x)" in src


# --- semantics vs the reference -----------------------------------------------------------

def math_kernel(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = lo.tanh(x[i]) + lo.exp(x[i] * 0.1) + lo.log(abs(x[i]) + 1) + \
            lo.sin(x[i]) * lo.cos(x[i]) + lo.sigmoid(x[i]) + lo.erf(x[i]) + lo.sqrt(abs(x[i]))


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16])
def test_math_matches_reference(dt):
    k = lo.kernel(math_kernel)
    x = np.random.default_rng(0).uniform(-5, 5, 300).astype(dt)
    x[:4] = [0.0, -0.0, 1e-6, -30.0]
    ref, got = both(k, x, np.zeros_like(x))
    assert_all_same(ref, got, rtol={np.float16: 2e-3, np.float32: 2e-6, np.float64: 1e-13}[dt])


@kernel
def int_ops(a, b, out_q, out_m, out_s, out_r, out_p):
    for i in lo.grid(a.shape[0]):
        out_q[i] = a[i] // b[i]
        out_m[i] = a[i] % b[i]
        out_s[i] = a[i] << b[i]
        out_r[i] = a[i] >> b[i]
        out_p[i] = a[i] ** (b[i] % 8)      # int ** negative is an error (as numpy)


@pytest.mark.parametrize("dt", [np.int8, np.int16, np.int32, np.int64, np.uint8])
def test_integer_semantics_match_reference(dt):
    info = np.iinfo(dt)
    rng = np.random.default_rng(1)
    a = rng.integers(info.min, int(info.max) + 1, 400, dtype=np.int64).astype(dt)
    b = rng.integers(max(info.min, -70), min(info.max, 70) + 1, 400, dtype=np.int64).astype(dt)
    b[:8] = 0                                  # x // 0 and x % 0 are 0, as in numpy
    outs = [np.zeros(400, dt) for _ in range(5)]
    ref, got = both(int_ops, a, b, *outs)
    assert_all_same(ref, got)


@kernel
def float_divmod(a, b, q, m):
    for i in lo.grid(a.shape[0]):
        q[i] = a[i] // b[i]
        m[i] = a[i] % b[i]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_float_floordiv_mod_follow_numpy(dt):
    a = np.array([7, -7, 7, -7, 0.0, -0.0, 5.5, np.inf, np.nan, 3, 1e30, -1e-30], dt)
    b = np.array([2, 2, -2, -2, 3, -3, 0.0, 2, 2, np.inf, 7, 3], dt)
    ref, got = both(float_divmod, a, b, np.zeros_like(a), np.zeros_like(a))
    for x, y in zip(ref[0][2:], got[0][2:]):
        np.testing.assert_array_equal(y, x)
        real = ~np.isnan(x)                     # signed zeros too (a NaN's sign means nothing)
        np.testing.assert_array_equal(np.signbit(y[real]), np.signbit(x[real]))


@kernel
def casts(x, i8, u8, b, h, bf):
    for i in lo.grid(x.shape[0]):
        i8[i] = lo.int8(x[i])
        u8[i] = lo.uint8(x[i])
        b[i] = bool(x[i])
        h[i] = lo.fp16(x[i] * 1.0001)
        bf[i] = lo.bf16(x[i]) * 3


def test_casts_wrap_truncate_and_round_like_numpy():
    x = np.array([0.0, 0.9, -0.9, 1.5, -1.5, 127.9, 200.0, -200.0, 300.5, 65504.0, 1e-8, 7.0],
                 np.float64)
    outs = [np.zeros(12, d) for d in (np.int8, np.uint8, np.bool_, np.float16, BF16)]
    ref, got = both(casts, x, *outs)
    assert_all_same(ref, got)


@kernel
def halves(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] * 3 + x[i] / 7


@pytest.mark.parametrize("dt", [np.float16, BF16])
def test_half_loads_compute_in_fp32_and_round_on_store(dt):
    x = np.random.default_rng(2).standard_normal(500).astype(dt)
    ref, got = both(halves, x, np.zeros_like(x))
    assert_all_same(ref, got)


@kernel
def reductions(x):
    s = 0.0
    p = 1.0
    hi = -lo.inf
    lo_ = lo.inf
    for i in lo.grid(x.shape[0]):
        s += x[i]
        p *= 1.0 + x[i] * 1e-3
        hi = max(hi, x[i])
        lo_ = min(lo_, x[i])
    return s + p + hi - lo_


@kernel
def int_reductions(x):
    s = 0
    m = 0
    for i in lo.grid(x.shape[0]):
        s += x[i]
        m = max(m, x[i])
    return s * 1000 + m


@pytest.mark.parametrize("n", [0, 1, 3, 1000, 40_000])
def test_reductions_on_empty_tiny_and_multi_program_grids(n, monkeypatch):
    monkeypatch.setattr(triton_launch, "INTERP_MAX_BLOCK", 1024)   # several programs
    x = np.random.default_rng(3).standard_normal(n).astype(np.float32)
    (_, want), (_, got) = both(reductions, x)
    assert_same(got, want, rtol=1e-5)
    xi = np.random.default_rng(3).integers(-100, 100, n).astype(np.int8)
    (_, want), (_, got) = both(int_reductions, xi)
    assert_same(got, want)


@kernel
def nan_max(x):
    m = -lo.inf
    for i in lo.grid(x.shape[0]):
        m = max(m, x[i])
    return m


def test_nan_propagation_in_reductions(monkeypatch):
    monkeypatch.setattr(triton_launch, "INTERP_MAX_BLOCK", 1024)
    x = np.arange(5000, dtype=np.float32)
    x[1234] = np.nan
    (_, want), (_, got) = both(nan_max, x)
    assert np.array_equal(got, want, equal_nan=True)
    x[1234] = 7
    (_, want), (_, got) = both(nan_max, x)
    assert got == want == 4999


@kernel
def divergent_loops(n, out, out2):
    for i in lo.grid(n.shape[0]):
        s = 0
        k = -1                             # a zero-trip loop leaves k unassigned
        for k in range(n[i]):              # a different trip count in every lane
            if k % 3 == 1:
                continue
            s += k
            if s > 40:
                break
        j = 0
        while j * j < n[i]:
            j += 1
        out[i] = s
        out2[i] = j + k


def test_lane_divergent_loops_break_continue_match_reference():
    n = np.array([0, 1, 2, 5, 9, 17, 30, 3, 0, 12], np.int64)
    ref, got = both(divergent_loops, n, np.zeros(10, np.int64), np.full(10, -1, np.int64))
    assert_all_same(ref, got)


@kernel
def nested_same_var(x, out):
    for i in lo.grid(x.shape[0]):
        t = 0.0
        for c in range(3):
            for c in range(c, 5, 2):
                t += x[i] * c
        out[i] = t + c


@kernel
def step_from_data(x, step, out):
    for i in lo.grid(x.shape[0]):
        t = 0.0
        for c in range(x.shape[0] - 1, -1, step[i]):
            t += x[c]
        out[i] = t


def test_loop_variables_and_runtime_steps_match_reference():
    x = np.arange(7, dtype=np.float32)
    assert_all_same(*both(nested_same_var, x, np.zeros(7, np.float32)))
    step = np.array([-1, -2, -3, -7, -1, -2, -9], np.int64)
    assert_all_same(*both(step_from_data, x, step, np.zeros(7, np.float32)), rtol=1e-6)


@kernel
def host_code_with_tensors(x, out, k):
    s = 0.0
    for i in range(x.shape[0]):            # a sequential scan outside any grid
        s += x[i]
        out[i] = s
    n = x.shape[0]
    for i in lo.grid(n):
        out[i] = out[i] / s + k
    return x[n - 1] * 2 + s


def test_serial_segments_write_scalars_back_and_return_loads():
    x = np.random.default_rng(4).standard_normal(50).astype(np.float32)
    ref, got = both(host_code_with_tensors, x, np.zeros(50, np.float32), 3)
    assert_all_same(ref, got, rtol=1e-6)
    src = host_code_with_tensors.source("triton", x, np.zeros(50, np.float32), 3)
    assert "k_host_code_with_tensors_serial0" in src and "read back i, s" in src


@kernel
def scalar_kinds(x, out, flag, k8, f32, big):
    for i in lo.grid(x.shape[0]):
        v = x[i] * f32 + k8
        if flag:
            v = -v
        out[i] = v + big


def test_scalar_params_keep_their_types():
    x = np.arange(5, dtype=np.float32)
    args = (x, np.zeros(5, np.float32), True, np.int8(-3), np.float32(0.1), 2 ** 40)
    assert_all_same(*both(scalar_kinds, *args))


@kernel
def strided(x, out):
    for i, j, k in lo.grid(x.shape[0], x.shape[1], x.shape[2]):
        out[i, j, k] = x[i, j, k] * 2 + i - j * k


def test_negative_and_broadcast_strides():
    base = np.random.default_rng(5).standard_normal((6, 7, 8)).astype(np.float32)
    views = [base[::-1, :, ::-2], base[:, ::3, :], np.broadcast_to(base[:1, :1, :], (4, 5, 8))]
    for v in views:
        out = np.zeros(v.shape, np.float32)[::-1]              # a negative-stride output too
        assert_all_same(*both(strided, v, out))


@kernel
def short_circuit(x, out):
    for i in lo.grid(x.shape[0]):
        ok = i + 1 < x.shape[0] and x[i + 1] > 0 or i == 0
        out[i] = x[i + 1] if i + 1 < x.shape[0] and not ok else -1.0


def test_short_circuit_and_select_guard_out_of_bounds_loads():
    x = np.random.default_rng(6).standard_normal(64).astype(np.float32)
    assert_all_same(*both(kernel(short_circuit.__wrapped__, debug=True), x,
                          np.zeros(64, np.float32)))


@kernel
def uniform_conditions(x, out, n):
    flag = n > 3
    limit = 0.5 if flag else -0.5
    for i in lo.grid(x.shape[0]):
        big = x[i] > limit
        if flag and big:
            out[i] = 1.0
        elif not flag or i == 2:
            out[i] = 2.0
        keep = big or flag
        if keep != big:
            out[i] = out[i] + 10.0
    return limit * n


@kernel(fastmath=True, cache=False)
def host_only(t, h):
    acc = 1
    k = 0
    while k < t.shape[0]:                    # shapes only: no device kernel at all
        acc = acc * 3 % 1000003
        k += 1
    return acc + h


def test_uniform_boolean_conditions_and_host_only_kernels():
    x = np.random.default_rng(8).standard_normal(40).astype(np.float32)
    for n in (2, 7):
        assert_all_same(*both(uniform_conditions, x, np.zeros(40, np.float32), n))
    t = np.zeros(50, np.int8)
    assert_all_same(*both(host_only, t, np.int16(4)))
    assert "@triton.jit" not in host_only.source("triton", t, np.int16(4))


# --- atomics ------------------------------------------------------------------------------

@kernel
def histogram(values, counts, weights):
    for i in lo.grid(values.shape[0]):
        lo.atomic_add(counts, values[i], 1)
        lo.atomic_add(weights, values[i], 0.25)


@pytest.mark.parametrize("wdt", [np.float32, np.float16, np.float64])
def test_atomic_add_histogram(wdt):
    values = np.random.default_rng(7).integers(0, 16, 20_000).astype(np.int64)
    ref, got = both(histogram, values, np.zeros(16, np.int64), np.zeros(16, wdt))
    assert_all_same(ref, got)               # fp16 accumulates through an fp32 shadow


class _TunedInterpreterArrays(triton_launch.InterpreterArrays):
    """The interpreter, driven the way a GPU is: autotuned, a few programs looping."""

    interpret = False
    max_programs = 4

    def device_name(self):
        return "mock GPU"


@pytest.mark.parametrize("wdt", [np.float16, np.float32, np.float64])
def test_autotune_trials_leave_atomic_targets_as_they_were(wdt, tmp_path, monkeypatch):
    # Each trial launch adds into the targets; a half target is added to through its fp32
    # shadow, which the trials must restore as well (a GPU histogram was 37x too large).
    if triton_gpu._interpreter_too_old():
        pytest.skip(triton_gpu._interpreter_too_old())
    monkeypatch.setattr(triton_launch, "time_launch", lambda arrays, go: (go(), 1.0)[1])
    values = np.random.default_rng(7).integers(0, 16, 2000).astype(np.int64)
    args = [values, np.zeros(16, np.int64), np.zeros(16, wdt)]
    typed = histogram.stages(*args).final
    program = triton_gpu.BACKEND.program(typed, histogram.options)
    module = triton_gpu.load_module(program, histogram.options, interpret=True)
    launcher = triton_launch.Launcher(program, module, histogram.options,
                                      _TunedInterpreterArrays(), Autotuner(tmp_path / "a.json"))
    want = [a.copy() for a in args]
    histogram.on("python")(*want)
    launcher(args)
    assert json.loads((tmp_path / "a.json").read_text())        # it did tune
    np.testing.assert_array_equal(args[1], want[1])
    np.testing.assert_array_equal(args[2], want[2])


@kernel
def byte_histogram(values, counts):
    for i in lo.grid(values.shape[0]):
        lo.atomic_add(counts, values[i], 1)


def test_atomic_add_into_int8_is_a_compile_error_at_the_users_line():
    line = byte_histogram.__wrapped__.__code__.co_firstlineno + 3
    with pytest.raises(KernelCompileError,
                       match=rf"(?s)test_triton_backend.py:{line}:\d+: in kernel "
                             r"'byte_histogram': the Triton backend cannot lo.atomic_add into "
                             r"'counts', a int8 tensor.*\^\nhint: accumulate into an int32"):
        byte_histogram.on("triton")(np.zeros(4, np.int64), np.zeros(4, np.int8))
    counts = np.zeros(4, np.int8)               # outside a grid it is a plain add
    serial_bytes.on("triton")(np.array([1, 1, 3], np.int64), counts)
    assert counts.tolist() == [0, 2, 0, 1]


@kernel
def serial_bytes(values, counts):
    for i in range(values.shape[0]):
        lo.atomic_add(counts, values[i], 1)


# --- fuzzer findings: each compared with the python backend (the rule) ----------------------

def assert_same_as_python(kern, *args):
    """``kern`` on triton gives the python backend's outputs, bit for bit (zero signs too)."""
    want = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    got = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    kern.on("python")(*want)
    kern.on("triton")(*got)
    for w, g in zip(want, got):
        if isinstance(w, np.ndarray):
            assert g.dtype == w.dtype and _bits(g) == _bits(w), (g, w)


def _bits(a):
    """The bytes of ``a`` with every NaN made one NaN: NaN payloads and signs are no part of
    a value (GPUs return a canonical NaN from arithmetic; x86 a negative one)."""
    if a.dtype.kind == "f" or a.dtype.name == "bfloat16":
        a = np.where(np.isnan(a.astype(np.float32)), np.array(np.nan, a.dtype), a)
    return a.tobytes()


@kernel
def copy_1d(x, out):
    for i in lo.grid(out.shape[0]):
        out[i] = x[i]


@kernel
def bf16_cast_plus_one(x, out, out1):
    for i in lo.grid(out.shape[0]):
        out[i] = lo.bf16(x[i])
        out1[i] = x[i] + 1


def _ints_for_half(dt):
    """Small values, the extremes, and values that round differently through fp32."""
    if dt is np.bool_:
        return np.array([True, False, True], dt)
    info = np.iinfo(dt)
    vals = [0, 1, 2, 4, 100, -3, info.min, info.max]
    if info.bits >= 32:
        vals += [2 ** 28 + 2 ** 20 + 1, -(2 ** 28 + 2 ** 20 + 1), 2 ** 24 + 1]
    if info.bits == 64:
        vals += [2 ** 60 + 2 ** 52 + 1, -(2 ** 60 + 2 ** 52 + 1), 2 ** 60 + 2 ** 52,
                 2 ** 53 + 1, 2 ** 53 - 1, 2 ** 62 + 2 ** 54 - 1]
    return np.array([v for v in vals if info.min <= v <= info.max], dt)


@pytest.mark.parametrize("dt", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_])
def test_integer_to_bf16_rounds_once_like_numpy(dt):
    # Was 0.0 for int32 and a raw InterpreterError for the other widths.
    x = _ints_for_half(dt)
    for out_dt in (BF16, np.float16):
        assert_same_as_python(copy_1d, x, np.zeros(len(x), out_dt))
    if dt is not np.bool_:
        assert_same_as_python(bf16_cast_plus_one, x, np.zeros(len(x), np.float32),
                              np.zeros(len(x), BF16))


@kernel
def small_powers(x, out0, out1, out2, out3):
    for i in lo.grid(x.shape[0]):
        out0[i] = x[i] ** 0
        out1[i] = x[i] ** 1
        out2[i] = x[i] ** 2
        out3[i] = x[i] ** 3


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_float_to_small_integer_powers_match_python(dt):
    # ``x ** 3`` and ``x ** 1`` raised a raw InterpreterError. Exact where C's pow is exact
    # (special values, zero signs, overflow); elsewhere within an ulp, as libm's pow
    # itself is not always correctly rounded.
    special = np.array([1.5, -2.0, 3.0, -4.0, 0.0, -0.0, np.nan, np.inf, -np.inf, 0.5,
                        1e200, -1e-200, 3e38, 1e-30], np.float64)
    with np.errstate(all="ignore"):
        special = special.astype(dt)
        assert_same_as_python(small_powers, special, *(np.zeros(14, dt) for _ in range(4)))
    x = np.random.default_rng(11).standard_normal(300).astype(dt)
    want, got = ([x] + [np.zeros_like(x) for _ in range(4)] for _ in range(2))
    small_powers.on("python")(*want)
    small_powers.on("triton")(*got)
    for w, g in zip(want[1:], got[1:]):
        np.testing.assert_allclose(g, w, rtol=2 * np.finfo(dt).eps, atol=0)


@kernel
def copy_from_reversed(x0, x1, out0, out1):
    for i in lo.grid(out0.shape[0]):
        out1[i] = x1[i] + x0[i]
        out0[i] = x1[i]


def test_size_one_negative_stride_views():
    # np.ascontiguousarray keeps a size-1 axis' negative stride: torch.from_numpy refused it.
    x0 = np.array([33], np.uint8)[::-1]
    x1 = np.array([7, 0], np.int16)[::-1][:1]
    out0 = np.zeros(1, np.int16)[::-1]
    assert x1.strides[0] < 0 and out0.strides[0] < 0
    assert_same_as_python(copy_from_reversed, x0, x1, out0, np.zeros(1, np.int16))


# --- property test ------------------------------------------------------------------------

@kernel
def mixed(a, b, out):
    for i in lo.grid(a.shape[0]):
        v = a[i]
        w = b[i]
        if v > w:
            out[i] = lo.where(w != 0, v // w, v) + (v % 5) - (w << 2)
        else:
            out[i] = min(v, w) * 3 - max(v, 2) + abs(w)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from([np.int8, np.int32, np.int64, np.uint8]),
       st.integers(0, 300), st.integers(0, 2 ** 32 - 1))
def test_random_integer_programs_match_reference(dt, n, seed):
    info = np.iinfo(dt)
    rng = np.random.default_rng(seed)
    a = rng.integers(info.min, int(info.max) + 1, n, dtype=np.int64).astype(dt)
    b = rng.integers(max(info.min, -9), min(info.max, 9) + 1, n, dtype=np.int64).astype(dt)
    assert_all_same(*both(mixed, a, b, np.zeros(n, dt)))


# --- ahead-of-time compilation for real GPUs ----------------------------------------------

def _corpus_program(case):
    args = case.make(np.random.default_rng(0))
    return case.kernel.stages(*args).for_backends()      # complex values as pairs of reals


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_corpus_compiles_ahead_of_time_for_sm80_and_sm90(case):
    compiled = triton_aot.compile_kernel(_corpus_program(case),
                                         targets=(triton_aot.SM80, triton_aot.SM90))
    assert compiled and {c.target for c in compiled} == {"sm_80", "sm_90"}
    for c in compiled:
        assert c.binary, f"{c.kernel} has no cubin for {c.target}"
        assert f".target {c.target}" in c.asm["ptx"]


@pytest.mark.skipif(not triton_aot.target_supported(triton_aot.GFX942),
                    reason="this Triton wheel has no AMD backend")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_corpus_compiles_ahead_of_time_for_amd_gfx942(case):
    compiled = triton_aot.compile_kernel(_corpus_program(case), targets=(triton_aot.GFX942,))
    assert compiled and {c.target for c in compiled} == {"gfx942"}
    for c in compiled:
        assert c.binary and "amdgcn" in c.asm, f"{c.kernel} has no hsaco for gfx942"


OWN_KERNELS = [
    (shifted_copy, lambda: (np.arange(10, dtype=np.float32), np.zeros(8, np.float32), 2)),
    (divergent_loops, lambda: (np.arange(5), np.zeros(5, np.int64), np.zeros(5, np.int64))),
    (host_code_with_tensors, lambda: (np.ones(4, np.float32), np.ones(4, np.float32), 3)),
    (histogram, lambda: (np.zeros(4, np.int64), np.zeros(16, np.int64), np.zeros(16, np.float16))),
    (casts, lambda: (np.zeros(3), np.zeros(3, np.int8), np.zeros(3, np.uint8),
                     np.zeros(3, np.bool_), np.zeros(3, np.float16), np.zeros(3, BF16))),
    (int_ops, lambda: tuple(np.zeros(4, np.int16) for _ in range(7))),
    (float_divmod, lambda: tuple(np.zeros(4) for _ in range(4))),
    (uniform_conditions, lambda: (np.ones(4, np.float32), np.ones(4, np.float32), 3)),
    (short_circuit, lambda: (np.ones(4, np.float32), np.ones(4, np.float32))),
    (reductions, lambda: (np.ones(4, np.float32),)),
    (strided, lambda: (np.zeros((2, 3, 4), np.float32)[::-1], np.zeros((2, 3, 4), np.float32))),
    (step_from_data, lambda: (np.ones(4, np.float32), np.ones(4, np.int64),
                              np.ones(4, np.float32))),
    (nested_same_var, lambda: (np.ones(4, np.float32), np.ones(4, np.float32))),
    (scalar_kinds, lambda: (np.ones(4, np.float32), np.ones(4, np.float32), True, np.int8(3),
                            np.float32(1), 5)),
    (mixed, lambda: (np.zeros(3, np.uint8),) * 3),
]


@pytest.mark.parametrize("kern, make", OWN_KERNELS, ids=lambda v: getattr(v, "__name__", ""))
def test_own_kernels_compile_ahead_of_time_with_bounds_checks(kern, make):
    # The interpreter is Python: it cannot see what only the compiler checks (the
    # types of loop-carried values, typed atomics). Compiling catches those.
    compiled = triton_aot.compile_kernel(kern.stages(*make()).final, targets=(triton_aot.SM80,),
                                         options={"debug": True})
    assert compiled and all(c.binary for c in compiled)


def test_aot_compile_error_points_at_the_users_line():
    case = next(c for c in CASES if c.name == "softmax_rows")
    program = triton_gpu.BACKEND.program(_corpus_program(case), {})
    store_line = next(i + 1 for i, text in enumerate(program.source.splitlines())
                      if "tl.store(t_out" in text)

    class Boom(Exception):
        lineno = store_line
    err = triton_aot._user_error(program, Boom("type mismatch"), triton_aot.SM80)
    assert isinstance(err, KernelCompileError) and err.lineno is not None
    assert err.filename == case.kernel.py_func.__code__.co_filename     # the user's file
    assert "out[r, c]" in err.source_line
    assert "Triton cannot compile this kernel for sm_80: type mismatch" in str(err)


# --- autotune cache -----------------------------------------------------------------------

def test_autotuner_picks_fastest_and_persists(tmp_path):
    path = tmp_path / "autotune.json"
    calls = []

    def trial(cfg):
        calls.append(cfg)
        if cfg["BLOCK"] == 2048:
            raise RuntimeError("out of resources")
        return abs(cfg["BLOCK"] - 512) + cfg["num_warps"]
    tuner = Autotuner(path)
    best = tuner.choose("k|sig|H100|7", trial)
    assert (best["BLOCK"], best["num_warps"]) == (512, 4)
    assert tuner.choose("k|sig|H100|7", trial) is best and len(calls) == len(tuner.candidates)
    again = Autotuner(path)                           # a new process reads the file
    assert again.choose("k|sig|H100|7", lambda cfg: pytest.fail("re-tuned"))["BLOCK"] == 512
    assert json.loads(path.read_text())["k|sig|H100|7"]["num_warps"] == 4


def test_autotuner_survives_a_damaged_file_and_reports_total_failure(tmp_path):
    path = tmp_path / "autotune.json"
    path.write_text("{not json")
    tuner = Autotuner(path)
    assert tuner.choose("a", lambda cfg: cfg["BLOCK"])["BLOCK"] == 128
    assert "a" in json.loads(path.read_text())
    with pytest.raises(RuntimeError, match="every autotuning configuration failed"):
        tuner.choose("b", lambda cfg: 1 / 0)
    assert size_class(1000) == size_class(1023) != size_class(1 << 20)


# --- GPU (skipped without CUDA) -----------------------------------------------------------

gpu = pytest.mark.skipif(not GPU, reason="needs a CUDA GPU")


@gpu
@pytest.mark.gpu
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_corpus_on_cuda_tensors(case):
    import copy
    args = case.make(np.random.default_rng(0))
    ref = copy.deepcopy(args)
    want = case.kernel.on("python")(*ref)
    if case.kernel._untyped()[0].kind == "elementwise":
        pytest.skip("elementwise kernels take host arrays here (kernel.py allocates on cpu)")
    dev = [lo.tensor(a, device="cuda") if isinstance(a, np.ndarray) and a.dtype != BF16
           else a for a in args]
    got = case.kernel.on("triton")(*dev)
    for a, r in zip(dev, ref):
        if hasattr(a, "numpy"):
            np.testing.assert_allclose(a.cpu().numpy().astype(np.float64), r.astype(np.float64),
                                       rtol=case.rtol, atol=case.atol)
    if want is not None:
        np.testing.assert_allclose(np.float64(got), np.float64(want), rtol=case.rtol,
                                   atol=case.atol)


@gpu
@pytest.mark.gpu
def test_gpu_launch_is_timed_with_cuda_events_and_tuned_once(tmp_path, monkeypatch):
    from langone import events
    monkeypatch.setenv("LANGONE_CACHE_DIR", str(tmp_path))
    seen = []
    off = events.subscribe("launch", lambda ev: seen.append(ev.data))
    try:
        x = lo.tensor(np.ones(1 << 20, np.float32), device="cuda")
        out = lo.empty_like(x)
        saxpy.on("triton")(2.0, x, x, out)
    finally:
        off()
    assert any(d.get("gpu_ms", 0) > 0 for d in seen)
    np.testing.assert_array_equal(out.cpu().numpy(), 3.0)


@kernel
def _add_one_everywhere(t):
    for i, j in lo.grid(t.shape[0], t.shape[1]):
        lo.atomic_add(t, (i, j), 1.0)


@pytest.mark.parametrize("dt", [np.float16, BF16])
def test_half_atomic_targets_in_column_major_layouts(dt):
    # The fp32 shadow of a half atomic target is C-ordered whatever the target's layout
    # (a transposed target's shadow kept its layout, and the kernel read it as C order).
    base = np.arange(8, dtype=np.float32).reshape(2, 4).astype(dt)
    got, want = base.copy().T, base.copy().T
    _add_one_everywhere.on("triton")(got)
    _add_one_everywhere.on("python")(want)
    assert got.astype(np.float32).tolist() == [[1, 5], [2, 6], [3, 7], [4, 8]]
    np.testing.assert_array_equal(got.astype(np.float32), want.astype(np.float32))


@lo.kernel
def last_negative_at_or_before(x, out):
    for i in lo.grid(x.shape[0]):
        b = i
        while b >= 0 and x[b] >= 0:           # a short-circuit test that loads
            b -= 1
        out[i] = b


def test_while_test_with_a_guarded_load_is_computed_again_each_step():
    # It was computed once, before the loop: lanes never left it (a hang).
    x = np.array([1.0, -1.0, 2.0, 3.0, -4.0, 5.0])
    (ref_args, _), (args, _) = both(last_negative_at_or_before, x, np.zeros(6))
    assert_same(args[1], ref_args[1])
    assert args[1].tolist() == [-1.0, 1.0, 1.0, 1.0, 4.0, 4.0]
