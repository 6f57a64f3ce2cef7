"""One meaning for every kernel: each backend gives what the kernel's own
Python function computes (the ``python`` backend), or the same clear error.

Each test here was a wrong result or a silent disagreement between backends.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import langone as lo
from langone.errors import KernelCompileError
from langone.kernels import backends

pytestmark = pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning")

OTHERS = [b for b in backends.usable() if b != "python"]


def _line(k, offset: int) -> int:
    return k.__wrapped__.__code__.co_firstlineno + offset


def _same_everywhere(kern, make, exact=True):
    """Run ``kern`` on the python backend and every other backend on copies of
    ``make()``'s arguments; outputs and results must match."""
    args = make()
    ref_args = copy.deepcopy(args)
    ref = kern.on("python")(*ref_args)
    for b in OTHERS:
        got_args = copy.deepcopy(args)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            got = kern.on(b)(*got_args)
        for want, have in zip(ref_args, got_args):
            if isinstance(want, np.ndarray):
                _assert_equal(have, want, exact, f"{kern.__name__} on {b}")
        if ref is None:
            assert got is None
        else:
            _assert_equal(np.asarray(got), np.asarray(ref), exact,
                          f"{kern.__name__} on {b}: result")
    return ref_args, ref


def _assert_equal(got, want, exact, what):
    assert got.dtype == want.dtype, (what, got.dtype, want.dtype)
    if exact:
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64),
                                   rtol=1e-6, equal_nan=True, err_msg=what)


# --- the python backend ---------------------------------------------------------------

def test_python_backend_is_listed_but_never_the_default():
    assert "python" in lo.backends()
    k = lo.kernel(_copy_fn)
    x = np.arange(3, dtype=np.float32)
    out = np.zeros_like(x)
    k(x, out)
    assert k.specialization(x, out).backend == "numba"


def _copy_fn(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i]


@lo.kernel
def _halves(x, out):
    for i in lo.grid(x.shape[0]):
        t = x[i] * 3.0
        out[i] = t - x[i] * 3.0 + x[i] / 3.0


def test_python_backend_computes_halves_in_fp32_and_rounds_at_stores():
    x = np.array([0.1, 1 / 3, 2.5, 1000.0, -7.125], np.float16)
    out = np.zeros_like(x)
    _halves.on("python")(x, out)
    x32 = x.astype(np.float32)
    want = ((x32 * np.float32(3.0)) - x32 * np.float32(3.0) + x32 / np.float32(3.0))
    np.testing.assert_array_equal(out, want.astype(np.float16))
    _same_everywhere(_halves, lambda: (x, np.zeros_like(x)))


@lo.kernel
def _int8_loop_sum(x, out):
    for r in lo.grid(x.shape[0]):
        s = 0
        for c in range(x.shape[1]):
            s += x[r, c]
        out[r] = s


def test_loop_accumulators_are_widened_everywhere():
    x = np.full((3, 100), 100, np.int8)
    args, _ = _same_everywhere(_int8_loop_sum, lambda: (x, np.zeros(3, np.int64)))
    np.testing.assert_array_equal(args[1], np.full(3, 10000))     # int8 would wrap


@lo.kernel
def _gather_neg(x, out):
    for i in lo.grid(out.shape[0]):
        out[i] = x[i - 1]


def test_python_backend_negative_index_counts_from_end():
    x = np.arange(4, dtype=np.float32)
    out = np.zeros(4, np.float32)
    _gather_neg.on("python")(x, out)
    np.testing.assert_array_equal(out, [3, 0, 1, 2])


@lo.kernel
def _oob(idx, x, out):
    for i in lo.grid(out.shape[0]):
        out[i] = x[idx[i]]


def test_python_backend_index_error_names_line_and_tensor():
    with pytest.raises(lo.errors.KernelIndexError,
                       match=rf"test_kernel_semantics.py:{_line(_oob, 3)}: index 7 is out of "
                             r"bounds for axis 0 of 'x' with size 3"):
        _oob.on("python")(np.array([0, 7]), np.zeros(3, np.float32), np.zeros(2, np.float32))


def test_python_backend_runs_the_frontend_checks_first():
    def bad(x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = x[i:]
    with pytest.raises(KernelCompileError):
        lo.kernel(bad).on("python")(np.zeros(2), np.zeros(2))


# --- and / or give an operand ------------------------------------------------------------

@lo.kernel
def _or_value(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] or 9.0


@lo.kernel
def _and_value(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] and 5.0


@lo.kernel
def _bool_and_in_condition(x, y, out):
    for i in lo.grid(x.shape[0]):
        if x[i] and y[i] > 0:
            out[i] = 1
        else:
            out[i] = 2


@pytest.mark.parametrize("kern, want", [(_or_value, [9.0, 2.0, np.nan, -1.0]),
                                        (_and_value, [0.0, 5.0, 5.0, 5.0])])
def test_and_or_store_the_operand_not_a_bool(kern, want):
    x = np.array([0.0, 2.0, np.nan, -1.0], np.float32)
    args, _ = _same_everywhere(kern, lambda: (x, np.zeros(4, np.float32)))
    np.testing.assert_array_equal(args[1], np.array(want, np.float32))


def test_and_or_in_conditions_test_truth_of_any_type():
    x = np.array([0.0, 2.0, 3.0], np.float32)
    y = np.array([5, -1, 2], np.int32)
    args, _ = _same_everywhere(_bool_and_in_condition,
                               lambda: (x, y, np.zeros(3, np.int64)))
    np.testing.assert_array_equal(args[2], [2, 2, 1])


def test_and_or_with_operands_of_different_types_is_a_compile_error():
    def mixed(x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = x[i] or 2.5
    k = lo.kernel(mixed)
    with pytest.raises(KernelCompileError, match=r"`or` gives one of its operands, and these "
                                                 r"have different types: int32, float "
                                                 r"\(a Python number\)"):
        k.on("numpy")(np.zeros(2, np.int32), np.zeros(2))


# --- definite assignment -------------------------------------------------------------------

@lo.kernel
def _maybe_unbound(x, out):
    for i in lo.grid(x.shape[0]):
        if x[i] > 0:
            t = x[i]
        out[i] = t


@lo.kernel
def _bound_on_every_path(x, out):
    for i in lo.grid(x.shape[0]):
        if x[i] > 0:
            t = x[i]
        elif x[i] < -1:
            t = -x[i]
        else:
            t = 0.0
        for c in range(3):
            if c == 1:
                continue
            u = t * c
            out[i] = u


@pytest.mark.parametrize("backend", ["python"] + OTHERS)
def test_a_variable_assigned_on_one_path_is_a_compile_error(backend):
    with pytest.raises(KernelCompileError,
                       match=rf":{_line(_maybe_unbound, 5)}:\d+: in kernel '_maybe_unbound': "
                             r"'t' may be used before assignment"):
        _maybe_unbound.on(backend)(np.ones(2, np.float32), np.zeros(2, np.float32))


def test_assigned_on_every_path_compiles():
    x = np.array([1.0, -3.0, -0.5], np.float32)
    _same_everywhere(_bound_on_every_path, lambda: (x, np.zeros(3, np.float32)))


# --- reductions: NaN rules ------------------------------------------------------------------

@lo.kernel
def _nan_maximum(x):
    acc = -lo.inf
    for i in lo.grid(x.shape[0]):
        acc = lo.maximum(acc, x[i])
    return acc


@lo.kernel
def _nan_minimum(x):
    acc = lo.inf
    for i in lo.grid(x.shape[0]):
        acc = lo.minimum(x[i], acc)
    return acc


@lo.kernel
def _python_max(x):
    acc = -lo.inf
    for i in lo.grid(x.shape[0]):
        acc = max(acc, x[i])
    return acc


def test_numpy_maximum_and_minimum_reductions_propagate_nan():
    x = np.array([1.0, np.nan, 3.0] * 100, np.float32)
    _, r = _same_everywhere(_nan_maximum, lambda: (x,))
    assert np.isnan(r)
    _, r = _same_everywhere(_nan_minimum, lambda: (x,))
    assert np.isnan(r)


def test_python_max_reduction_skips_nan():
    x = np.array([1.0, np.nan, 3.0] * 100, np.float32)
    _, r = _same_everywhere(_python_max, lambda: (x,))
    assert r == 3.0


# --- sequential loops keep Python's order -----------------------------------------------------

@lo.kernel
def _in_order_sum(x, out):
    for r in lo.grid(x.shape[0]):
        s = 0.0
        for c in range(x.shape[1]):
            s += x[r, c]
        out[r] = s


def test_sequential_sums_keep_pythons_order():
    x = np.array([[1e16, 1.0, -1e16, 1.0] * 8] * 2)
    args, _ = _same_everywhere(_in_order_sum, lambda: (x, np.zeros(2)))
    np.testing.assert_array_equal(args[1], [1.0, 1.0])


# --- grid races --------------------------------------------------------------------------------

@lo.kernel
def _racy_column_copy(x, y):
    for i, j in lo.grid(x.shape[0], x.shape[1]):
        y[j] = x[i, j] * 2.0            # (y[j] += x[i, j] is an array reduction)


@lo.kernel
def _guarded_single_writer(x, y):
    for i, j in lo.grid(x.shape[0], x.shape[1]):
        if i == 0:
            y[j] = x[i, j]


def test_a_store_that_does_not_pin_the_grid_point_is_a_race_error():
    with pytest.raises(KernelCompileError,
                       match=r"grid iterations that differ only in 'i' all write y\[j\]: a race"
                             r"(.|\n)*hint: accumulate with lo.atomic_add\(y, j, v\)"):
        _racy_column_copy.on("numba")(np.ones((4, 3)), np.zeros(3))


def test_a_store_guarded_by_the_missing_variable_is_not_a_race():
    x = np.arange(12.0).reshape(4, 3)
    args, _ = _same_everywhere(_guarded_single_writer, lambda: (x, np.zeros(3)))
    np.testing.assert_array_equal(args[1], x[0])


# --- NEP 50: Python numbers stay weak ---------------------------------------------------------

@lo.kernel
def _weak_local(x, out):
    c = 0.1
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] * c + x[i] * (1.0 / x.shape[0]) + i * 0.3


def test_weak_locals_shapes_and_loop_variables_promote_like_python():
    x = np.linspace(-3, 3, 101).astype(np.float32)
    args, _ = _same_everywhere(_weak_local, lambda: (x, np.zeros_like(x)))
    n = np.float32(1.0 / 101)
    want = np.array([x[i] * np.float32(0.1) + x[i] * n + np.float32(i * 0.3)
                     for i in range(101)], np.float32)
    np.testing.assert_array_equal(args[1], want)


def test_int_to_a_negative_power_is_a_compile_error():
    def inv(x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = x[i] ** -1
    with pytest.raises(KernelCompileError, match="integers to negative integer powers"):
        lo.kernel(inv).on("numba")(np.ones(2, np.int64), np.zeros(2, np.int64))


# --- aliasing ----------------------------------------------------------------------------------

@lo.kernel
def _scale_in_place(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] * 2.0


@lo.kernel
def _shift_left(x, out):
    for i in lo.grid(x.shape[0] - 1):
        out[i] = x[i + 1]


@pytest.mark.parametrize("backend", ["python"] + OTHERS)
def test_in_place_elementwise_updates_may_share_an_array(backend):
    x = np.arange(4, dtype=np.float32)
    _scale_in_place.on(backend)(x, x)
    np.testing.assert_array_equal(x, [0, 2, 4, 6])


@pytest.mark.parametrize("backend", ["python"] + OTHERS)
def test_the_same_array_as_input_and_shifted_output_is_refused(backend):
    x = np.arange(4, dtype=np.float32)
    with pytest.raises(lo.errors.KernelArgumentError,
                       match=r"kernel '_shift_left' got the same array for 'x' and 'out'.*"
                             r"pass a copy, e\.g\. x\.copy\(\)"):
        _shift_left.on(backend)(x, x)
    np.testing.assert_array_equal(x, [0, 1, 2, 3])          # nothing written


# --- Python's own conversions and math give Python numbers ----------------------------------

@lo.kernel
def _python_conversions(x, k, out, o2):
    for i in lo.grid(x.shape[0]):
        t: lo.fp32 = 0.1                   # an annotation does not convert, as in Python
        out[i] = x[i] * float(k) + math.exp(x[i]) + t
        o2[i] = x[i] * int(k) + math.floor(x[i]) + int(x[i])


def test_int_float_and_math_results_are_weak_python_numbers():
    x = np.linspace(0, 2, 7).astype(np.float32)
    args, _ = _same_everywhere(_python_conversions,
                               lambda: (x, np.int32(3), np.zeros(7), np.zeros(7, np.float32)),
                               exact=False)
    want = [float(v) * np.float32(3.0) + np.float32(math.exp(v)) + np.float32(0.1)
            for v in x]                      # each term fp32: x[i] meets Python numbers
    np.testing.assert_allclose(args[2], np.array(want, np.float32), rtol=1e-7)
    assert "fp32(exp(fp64(x[i])))" in _python_conversions.ir


# --- lo.range(..., reassociate=True): the per-loop opt-in ------------------------------------

@lo.kernel
def _row_sums_reassociated(x, out):
    for r in lo.grid(x.shape[0]):
        s = 0.0
        for c in lo.range(x.shape[1], reassociate=True):
            s += x[r, c]
        out[r] = s


def test_lo_range_reassociate_is_a_range_whose_sums_may_reorder():
    x = np.random.default_rng(3).standard_normal((5, 300)).astype(np.float32)
    args, _ = _same_everywhere(_row_sums_reassociated, lambda: (x, np.zeros(5, np.float32)),
                               exact=False)
    np.testing.assert_allclose(args[1], x.astype(np.float64).sum(axis=1), rtol=1e-4)
    assert "range(0, x.shape[1], 1) reassociate:" in _row_sums_reassociated.ir
    assert list(lo.range(1, 7, 2, reassociate=True)) == [1, 3, 5]


def test_lo_range_takes_only_the_reassociate_keyword():
    def bad(x, out):
        for r in lo.grid(x.shape[0]):
            for c in lo.range(3, order=False):
                out[r] = c
    with pytest.raises(KernelCompileError, match=r"except lo.range\(\.\.\., reassociate=True\)"):
        lo.kernel(bad).on("numpy")(np.zeros(2), np.zeros(2))


# --- branch-free and/or ---------------------------------------------------------------------

@lo.kernel
def _in_bin(r, lo_, hi_, out):
    for b in lo.grid(out.shape[0]):
        s = 0.0
        l = lo_[b]
        h = hi_[b]
        for i in range(r.shape[0]):
            if r[i] >= l and r[i] < h:
                s += r[i]
        out[b] = s


@lo.kernel
def _guarded_gather(idx, x, out):
    for i in lo.grid(idx.shape[0]):
        if idx[i] < x.shape[0] and x[idx[i]] > 0:   # the and keeps x[idx[i]] in range
            out[i] = 1


def test_and_without_checked_loads_becomes_branch_free():
    r = np.random.default_rng(4).random(500)
    lo_ = np.linspace(0, 1, 9)[:-1].copy()
    args, _ = _same_everywhere(_in_bin, lambda: (r, lo_, lo_ + 1 / 8, np.zeros(8)))
    assert "((r[i] >= l) & (r[i] < h))" in _in_bin.ir


def test_and_guarding_a_checked_load_keeps_short_circuiting():
    idx = np.array([0, 5, 100, 2])
    x = np.array([1.0, -1.0, 2.0, 3.0, 4.0, 5.0])
    args, _ = _same_everywhere(_guarded_gather, lambda: (idx, x, np.zeros(4, np.int64)))
    np.testing.assert_array_equal(args[2], [1, 1, 0, 1])
    assert " and " in _guarded_gather.ir


# --- loop-invariant loads ---------------------------------------------------------------------

@lo.kernel
def _scale_rows(x, scale, out):
    for r in lo.grid(x.shape[0]):
        for c in range(x.shape[1]):
            out[r, c] = x[r, c] * scale[r] + scale[0]


def test_loop_invariant_loads_are_read_once_before_the_loop():
    x = np.random.default_rng(5).random((4, 6)).astype(np.float32)
    s = np.arange(1, 5, dtype=np.float32)
    _same_everywhere(_scale_rows, lambda: (x, s, np.zeros_like(x)))
    ir_text = _scale_rows.ir
    assert "scale_inv0: fp32 = scale[r]" in ir_text and "scale[r]) +" not in ir_text


def test_a_hoisted_load_is_not_read_when_the_loop_does_not_run():
    x = np.zeros((3, 0), np.float32)
    for b in ["python"] + OTHERS:           # scale is empty: scale[0] must never be read
        _scale_rows.on(b)(x, np.zeros(0, np.float32), np.zeros((3, 0), np.float32))


# --- integers to negative integer powers --------------------------------------------------------

@lo.kernel
def _int_pow(x, e, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] ** e[i]


@lo.kernel
def _guarded_int_pow(x, e, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] ** e[i] if e[i] >= 0 else -1    # lanes with e < 0 never run the power


@lo.kernel
def _and_guarded_int_pow(x, e, out):
    for i in lo.grid(x.shape[0]):
        if e[i] >= 0 and x[i] ** e[i] > 4:             # and keeps short-circuiting
            out[i] = 1


@lo.kernel
def _elementwise_pow(x, e):
    return x ** e


@lo.kernel
def _host_pow(x, out):
    p = x[0] ** x[1]                                    # before the grid: host code
    for i in lo.grid(out.shape[0]):
        out[i] = p + i


@lo.kernel
def _folded_negative_pow(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] ** (1 - 2)                        # not a literal: an error at run time


@lo.kernel
def _proven_pows(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] ** 2 + x[i] ** i + x[i] ** (i % 3)
        for c in range(4):
            out[i] += x[i] ** c


def _runtime_errors(kern, args, line: int, what: str):
    """(backend, message) of the KernelRuntimeError every backend raises, after checking
    that it names ``line``, says ``what`` and names the kernel."""
    for b in ["python"] + OTHERS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with pytest.raises(lo.errors.KernelRuntimeError) as info:
                kern.on(b)(*copy.deepcopy(args))
        msg = str(info.value)
        assert not isinstance(info.value, IndexError), (b, msg)
        assert msg.startswith(f"{__file__}:{line}: "), (b, msg)
        assert what in msg.lower() and f"(in kernel {kern.__name__!r}" in msg, (b, msg)
        yield b, msg


def _raises_negative_power(kern, args, line: int, exponent: int) -> None:
    """Every backend raises KernelRuntimeError naming the line (python: numpy's
    ValueError; the others also the exponent and the kernel)."""
    for b, msg in _runtime_errors(kern, args, line,
                                  "integers to negative integer powers are not allowed"):
        if b != "python":
            assert f"(exponent {exponent})" in msg, (b, msg)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8])
def test_int_to_a_negative_runtime_power_raises_everywhere(dtype):
    x, e = np.array([2, 3, 2], dtype), np.array([1, -2, 0], dtype)
    _raises_negative_power(_int_pow, (x, e, np.zeros(3, dtype)), _line(_int_pow, 3), -2)
    assert "(x[i] ** e[i]!)" in _int_pow.ir


def test_int_to_a_negative_power_raises_in_elementwise_and_host_code():
    x, e = np.array([[2, 3], [4, 5]]), np.array([0, -7])
    _raises_negative_power(_elementwise_pow, (x, e), _line(_elementwise_pow, 2), -7)
    _raises_negative_power(_host_pow, (np.array([3, -1]), np.zeros(2, np.int64)),
                           _line(_host_pow, 2), -1)


def test_int_to_a_negative_folded_power_raises_at_run_time():
    args = (np.array([2, 3]), np.zeros(2, np.int64))
    _raises_negative_power(_folded_negative_pow, args, _line(_folded_negative_pow, 3), -1)


def test_a_power_its_condition_skips_is_not_checked_in_those_lanes():
    x, e = np.array([2, 3, 2, 5]), np.array([3, -2, 0, -1])
    args, _ = _same_everywhere(_guarded_int_pow, lambda: (x, e, np.zeros(4, np.int64)))
    np.testing.assert_array_equal(args[2], [8, -1, 1, -1])
    args, _ = _same_everywhere(_and_guarded_int_pow, lambda: (x, e, np.zeros(4, np.int64)))
    np.testing.assert_array_equal(args[2], [1, 0, 0, 0])
    assert " and " in _and_guarded_int_pow.ir


def test_non_negative_exponents_need_no_check():
    x = np.arange(-3, 4)
    args, _ = _same_everywhere(_proven_pows, lambda: (x, np.zeros(7, np.int64)))
    want = [v ** 2 + v ** i + v ** (i % 3) + sum(v ** c for c in range(4))
            for i, v in enumerate(x.tolist())]
    np.testing.assert_array_equal(args[1], want)
    assert "**" in _proven_pows.ir and "!" not in _proven_pows.ir
    assert "check_exponent" not in _proven_pows.source("numba")


def test_numba_parallel_function_raises_for_a_negative_power(monkeypatch):
    from langone.kernels.backends import numba_cpu
    monkeypatch.setattr(numba_cpu, "PARALLEL_THRESHOLD", 1000)
    n = 100_000
    x, e = np.full(n, 2, np.int64), np.ones(n, np.int64)
    e[77_777] = -3
    kern = lo.kernel(_int_pow.__wrapped__)
    assert "check_exponent_p(" in kern.source("numba", x, e, np.zeros(n, np.int64))
    with pytest.raises(lo.errors.KernelRuntimeError,
                       match=rf"{_line(_int_pow, 3)}: integers to negative integer powers "
                             r"are not allowed \(exponent -3\) \(in kernel '_int_pow'\)"):
        kern.on("numba")(x, e, np.zeros(n, np.int64))
    e[77_777] = 5
    out = np.zeros(n, np.int64)
    kern.on("numba")(x, e, out)
    assert out[77_777] == 32 and out[0] == 2


# --- numba's split of in-order sums (review findings) -------------------------------------

@lo.kernel
def _max_then_sum_2d(x, out):
    for r, q in lo.grid(out.shape[0], out.shape[1]):
        m = -lo.inf
        for c in range(x.shape[1]):
            m = max(m, x[r, c])
        s = 0.0
        for c in range(x.shape[1]):
            e = lo.exp(x[r, c] - m)
            out[r, q] = e
            s += e
        out[r, q] = s + q


@lo.kernel
def _reassigned_loop_variable(x, out):
    for r in lo.grid(x.shape[0]):
        s = 0.0
        k = 0
        for c in range(k, x.shape[1]):
            out[r, c] = x[r, c]
            c = c * 3                      # Python's range ignores this, and k below
            k = k + 1
            s += x[r, c % x.shape[1]]
        out[r, 0] = s


@lo.kernel
def _checked_power_sum(n, e):
    acc = 0
    for i in lo.grid(n):
        acc += i ** e
    return acc


def test_split_sums_keep_the_grid_extents_and_python_s_range():
    x = np.random.default_rng(6).standard_normal((4, 50)).astype(np.float32)
    _same_everywhere(_max_then_sum_2d, lambda: (x, np.zeros((4, 7), np.float32)), exact=False)
    _same_everywhere(_reassigned_loop_variable, lambda: (x, np.zeros_like(x)), exact=False)


def test_a_kernel_without_tensors_raises_its_run_time_checks():
    two, minus_one = np.int64(2), np.int64(-1)   # numpy ints: numpy's power rule
    assert int(_checked_power_sum.on("numba")(100, two)) == sum(i ** 2 for i in range(100))
    for b in ["python"] + OTHERS:
        with pytest.raises(lo.errors.KernelRuntimeError, match="(?i)negative integer powers"):
            _checked_power_sum.on(b)(100, minus_one)


# --- review findings: optimizations must keep the meaning -----------------------------------

@lo.kernel
def _add_twice(a, b, m):
    for i in lo.grid(a.shape[0]):
        for c in range(m):
            a[i] = a[i] + b[i]             # a and b may be one array: b[i] changes


@lo.kernel
def _narrow_index(x, out):
    for i in lo.grid(out.shape[0]):
        out[i] = x[lo.int8(i)]             # wraps past 127: a negative index


@lo.kernel
def _annotated_accumulator(x, out):
    for r in lo.grid(x.shape[0]):
        acc: int = 0
        for c in range(x.shape[1]):
            acc += x[r, c]                 # widened to int64, annotation or not
        out[r] = acc


def _guard_then_read(k, x, out):
    for i in lo.grid(out.shape[0]):
        out[i] = 1 if k < x.shape[0] and x[k] > 0.0 else 0


def test_an_in_place_array_is_not_read_once_before_the_loop():
    a = np.ones(3)
    for b in ["python"] + OTHERS:
        x = a.copy()
        _add_twice.on(b)(x, x, 3)
        np.testing.assert_array_equal(x, [8.0, 8.0, 8.0], err_msg=b)


def test_a_narrowed_index_counts_from_the_end_when_it_wraps():
    x = np.arange(1000, dtype=np.float64)
    _same_everywhere(_narrow_index, lambda: (x, np.zeros(300)))


def test_annotated_accumulators_are_widened_on_the_python_backend_too():
    x = np.full((2, 4), 100, np.int8)
    args, _ = _same_everywhere(_annotated_accumulator, lambda: (x, np.zeros(2, np.int64)))
    np.testing.assert_array_equal(args[1], [400, 400])


def test_without_bounds_checks_no_pass_reads_what_the_program_would_not():
    k = lo.kernel(_guard_then_read, boundscheck=False)
    for b in ["python"] + OTHERS:
        out = np.zeros(2, np.int64)
        k.on(b)(100, np.ones(4), out)          # x[100] is never read: k < 4 is False
        np.testing.assert_array_equal(out, [0, 0], err_msg=b)
    assert " and " in k.ir


# --- range steps that are zero at run time ------------------------------------------------------

@lo.kernel
def _strided_row_sums(x, s, out):
    for i in lo.grid(x.shape[0]):
        acc = 0.0
        for j in range(0, x.shape[1], s):
            acc += x[i, j]
        out[i] = acc


@lo.kernel
def _per_row_steps(x, steps, out):
    for i in lo.grid(x.shape[0]):
        acc = 0
        if steps[i] != 7:                               # a lane with step 7 never loops
            for j in range(x.shape[1] - 1, -1, steps[i]):
                acc += x[i, j]
        out[i] = acc


@lo.kernel
def _serial_strided_sum(x, s):
    acc = 0.0
    for j in range(0, x.shape[0], s):
        acc += x[j]
    return acc


@lo.kernel
def _proven_steps(x, out):
    for i in lo.grid(x.shape[0]):
        for j in range(0, x.shape[1], x.shape[1]):      # a shape: >= 0, but 0 for no columns
            out[i] += x[i, j]
        for j in range(0, x.shape[1], i + 1):           # >= 1: proven, never checked
            out[i] += x[i, j]


def _raises_zero_step(kern, args, line: int) -> None:
    for _ in _runtime_errors(kern, args, line, "range() arg 3 must not be zero"):
        pass


@pytest.mark.parametrize("rows", [3, 5000])            # 5000: numba's parallel function
def test_a_zero_range_step_raises_everywhere(rows):
    x = np.random.default_rng(0).random((rows, 6))
    _raises_zero_step(_strided_row_sums, (x, 0, np.zeros(rows)), _line(_strided_row_sums, 4))
    for s in (1, 2, 5, -1):                             # and the same sums when it is not
        _same_everywhere(_strided_row_sums, lambda: (x, s, np.zeros(rows)))
    assert "range(0, x.shape[1], s!)" in _strided_row_sums.ir


@pytest.mark.parametrize("rows", [4, 3000])
def test_a_zero_step_of_one_lane_raises_and_a_loop_never_reached_does_not(rows):
    x = np.arange(rows * 5).reshape(rows, 5)
    steps = np.full(rows, -2)
    steps[1] = 7
    _same_everywhere(_per_row_steps, lambda: (x, steps, np.zeros(rows, np.int64)))
    steps[1] = 0
    _raises_zero_step(_per_row_steps, (x, steps, np.zeros(rows, np.int64)),
                      _line(_per_row_steps, 5))


def test_a_zero_step_in_serial_code_raises():
    x = np.ones(5)
    _raises_zero_step(_serial_strided_sum, (x, 0), _line(_serial_strided_sum, 3))
    _same_everywhere(_serial_strided_sum, lambda: (x, 2))


def test_steps_proven_non_zero_are_not_checked():
    _same_everywhere(_proven_steps, lambda: (np.ones((3, 4)), np.zeros(3)))
    assert "range(0, x.shape[1], x.shape[1]!)" in _proven_steps.ir
    assert "range(0, x.shape[1], (i + 1)):" in _proven_steps.ir


@lo.kernel
def _min_max_of_zeros(a, b, lo_out, hi_out):
    for i in lo.grid(a.shape[0]):
        lo_out[i] = lo.minimum(a[i], b[i])
        hi_out[i] = lo.maximum(a[i], b[i])


def test_minimum_and_maximum_of_opposite_zeros_give_numpys_operand():
    # numpy returns the second operand on a tie; LLVM's minimum orders -0.0 below 0.0
    a, b = np.array([-0.0, 0.0, np.nan, 1.0]), np.array([0.0, -0.0, 1.0, np.nan])
    want = [np.minimum(a, b), np.maximum(a, b)]
    for be in ["python"] + OTHERS:
        got = [np.ones(4), np.ones(4)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            _min_max_of_zeros.on(be)(a, b, *got)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w, err_msg=be)
            np.testing.assert_array_equal(np.signbit(g[:2]), np.signbit(w[:2]), err_msg=be)


@lo.kernel
def _half_histogram(t, v):
    for i in lo.grid(v.shape[0]):
        lo.atomic_add(t, i % 2, v[i])
    lo.atomic_add(t, 1, 0.5)                      # outside a grid: an ordinary update


@pytest.mark.parametrize("dt", [np.float16, "bfloat16"])
def test_half_atomic_targets_sum_in_fp32_within_a_grid_on_every_backend(dt):
    # 100 adds of 1.0 into fp16 2048.0: each rounded back to fp16 they would all be lost
    # (2048 + 1 rounds to 2048); summed in fp32 and rounded once, 2148.
    dt = np.dtype(dt) if dt != "bfloat16" else lo.bf16.numpy
    t0 = np.array([2048.0, 0.0]).astype(dt)
    v = np.ones(200, np.float32)
    ref_t, _ = _same_everywhere(_half_histogram, lambda: (t0.copy(), v))
    assert ref_t[0].astype(np.float32).tolist() == [2148.0 if dt == np.float16 else 2144.0,
                                                    100.5]


@lo.kernel
def _after_int64_wrap(x, c, out, neg, ab, narrow):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] * c - c
        neg[i] = (x[i] + 4) < 0
        ab[i] = abs(x[i] + 4)
        narrow[i] = lo.int16(abs(x[i] + 4))


@lo.kernel
def _int64_sum_then_sign(x, t, idx):
    acc = x[0] * 0
    for i in lo.grid(x.shape[0]):
        acc += x[i]
    for i in lo.grid(idx.shape[0]):
        lo.atomic_add(t, idx[i], 3)
    return (acc + 1 < 0) and (t[0] + 1 < 0)


_INT64_EDGES = [2**63 - 1, 2**63 - 3, 2**62, -2**63, -2**63 + 2, -5, 0, 3]


@given(st.lists(st.sampled_from(_INT64_EDGES) | st.integers(-2**63, 2**63 - 1),
                min_size=1, max_size=6), st.sampled_from([1, 2, 3, -1, 2**40]))
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_int64_overflow_wraps_and_what_follows_sees_the_wrap(values, c):
    # numba emits signed int64 + - * as no-signed-wrap: LLVM folded `x + 4 < 0` to
    # `x < -4`, so after a wrap numba said False where numpy says True
    x = np.array(values, np.int64)
    n = x.shape[0]
    _same_everywhere(_after_int64_wrap, lambda: (x.copy(), c, np.zeros(n, np.int64),
                                                 np.zeros(n, bool), np.zeros(n, np.int64),
                                                 np.zeros(n, np.int16)))


def test_int64_sums_and_atomic_adds_that_wrap_are_compared_after_the_wrap():
    x = np.array([2**62, 2**62, 2**62 - 1], np.int64)         # sums to 2**63 - 1 + 2**62
    t = np.array([2**63 - 5, 0], np.int64)
    _, ref = _same_everywhere(_int64_sum_then_sign, lambda: (x.copy(), t.copy(),
                                                              np.zeros(2, np.int64)))
    assert bool(ref) is True                                  # both wrapped below zero


@lo.kernel
def _neighbours(x, out):
    for i in lo.grid(x.shape[0] - 1):
        out[i] = x[i + 1] + x[x.shape[0] - 1 - i] + i * 3


def test_int64_arithmetic_that_may_overflow_is_marked_and_index_arithmetic_is_not():
    x = np.arange(4, dtype=np.int64)
    _after_int64_wrap(x, 2, x.copy(), x > 0, x.copy(), x.astype(np.int16))
    _neighbours(x, x.copy())
    assert "(x[i] +% 4)" in _after_int64_wrap.ir and "(x[i] *% c)" in _after_int64_wrap.ir
    ir_text = _neighbours.ir.splitlines()[-1]      # indices and shapes are below 2^48
    assert "x[(i + 1)]" in ir_text and "(i * 3)" in ir_text, ir_text


@lo.kernel
def _two_grids_one_name(x, t):
    acc = x[0] * 0
    for i in lo.grid(x.shape[0]):
        acc += x[i]
    for i in lo.grid(t.shape[0]):
        t[i] = acc + i
    i = t.shape[0] - 1                       # and once more outside any grid
    return acc + t[i]


def test_grids_that_reuse_a_loop_variable_name():
    # numba renamed the variable inside each grid's body but not the loop's own variable
    x = np.arange(5, dtype=np.int64)
    _, ref = _same_everywhere(_two_grids_one_name, lambda: (x.copy(), np.zeros(3, np.int64)))
    assert ref == 10 + 12


@lo.kernel
def _bool_arithmetic(x, out):
    for i in lo.grid(x.shape[0]):
        out[i, 0] = (x[i] > 0) + (x[i] > 1)            # numpy bools: logical or
        out[i, 1] = (i > 0) + (i > 1)                  # Python bools: 0, 1 or 2
        out[i, 2] = (x[i] > 0) * (i > 0) + True        # and, then or
        out[i, 3] = (x[i] > 0) // (x[i] > -5)          # int8
        out[i, 4] = ((x[i] > 0) ** (i > 5)) * 100 * 2  # int8: wraps to -56


def test_arithmetic_on_bools_follows_numpys_loops():
    x = np.array([3.0, 0.5, -1.0])
    ref, _ = _same_everywhere(_bool_arithmetic, lambda: (x, np.zeros((3, 5), np.int64)))
    assert ref[1].tolist() == [[1, 0, 1, 1, -56], [1, 1, 1, 1, -56], [0, 2, 1, 0, -56]]

    @lo.kernel
    def subtract(x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = (x[i] > 0) - (x[i] > 1)
    with pytest.raises(KernelCompileError, match="numpy boolean subtract"):
        subtract.on("numpy")(x, np.zeros(3, np.int64))


@lo.kernel
def _grid_local_then_float(x, out):
    for i in lo.grid(out.shape[0]):
        t = x[i]                                 # private to the grid: an int64 here
        out[i] = t + 1
    t = 0.5                                      # another variable, as in Python
    return t


@lo.kernel
def _grid_local_then_bitwise(x0, out1):
    for i in lo.grid(out1.shape[0]):
        t3 = lo.int64(x0[i])
        out1[i] = ~t3
    t3 = 0.5
    return t3


def test_a_grids_private_local_is_not_retyped_by_a_later_assignment_of_its_name():
    # the typer joined every assignment of a name: t + 1 ran in fp64 and lost the low bits
    x = np.array([2**60 + 1, 7], np.int64)
    ref, r = _same_everywhere(_grid_local_then_float, lambda: (x, np.zeros(2, np.int64)))
    assert ref[1].tolist() == [2**60 + 2, 8] and r == 0.5
    ref, _ = _same_everywhere(_grid_local_then_bitwise,
                              lambda: (np.array([5, 6, 7], np.uint8), np.zeros(3, np.float32)))
    assert ref[1].tolist() == [-6.0, -7.0, -8.0]
