"""Device functions (@lo.func), tuples, len(): the same result on every backend as
the kernel's own Python function, and clear errors at the user's line."""

from __future__ import annotations

import copy
import functools
import inspect
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import langone as lo
from langone.errors import KernelCompileError
from langone.kernels import backends

pytestmark = pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning")

EVERY = backends.usable()


def same_everywhere(kern, *args, close=()):
    """Outputs and result of ``kern`` on every backend, equal to the python backend's
    (the arguments at positions ``close``: within 1e-6, as transcendental math is)."""
    ref_args = copy.deepcopy(list(args))
    ref = kern.on("python")(*ref_args)
    for b in EVERY:
        got_args = copy.deepcopy(list(args))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            got = kern.on(b)(*got_args)
        for n, (want, have) in enumerate(zip(ref_args, got_args)):
            if isinstance(want, np.ndarray):
                assert have.dtype == want.dtype, b
                check = np.testing.assert_array_equal if n not in close else \
                    functools.partial(np.testing.assert_allclose, rtol=1e-6)
                check(have, want, err_msg=f"{kern.__name__} on {b}")
        if ref is not None:
            np.testing.assert_array_equal(np.asarray(got), np.asarray(ref), err_msg=b)
            assert np.asarray(got).dtype == np.asarray(ref).dtype, b
    return ref_args, ref


def line_of(fn, needle: str) -> int:
    fn = getattr(fn, "py_func", fn)
    lines, first = inspect.getsourcelines(fn)
    return first + next(n for n, text in enumerate(lines) if needle in text)


# --- device functions ---------------------------------------------------------------------

@lo.func
def clamp(v, low, high=1.0):
    if v < low:
        return low
    return min(v, high)


@lo.func
def sum_and_product(a, b):
    return a + b, a * b


@lo.func
def put(out, i, j, v):               # a procedure: stores, returns nothing
    out[i, j] = v


@lo.func
def row_sum(x, i):
    s = 0
    for j in range(x.shape[1]):
        s += x[i, j]
    return s


@lo.func
def softplus(v):
    return lo.log(1.0 + lo.exp(v))


@lo.func
def softplus_sum(a, b):               # device functions call each other
    return softplus(a) + softplus(b)


@lo.kernel
def scale_shift(v, s):                # an elementwise kernel: a device function on scalars
    return v * s + 1


@lo.kernel
def uses_functions(x, r, out, sums, soft):
    n, m = x.shape
    for i in lo.grid(n):
        s, p = sum_and_product(lo.fp32(x[i, 0]), r[i])
        out[i, 0] = clamp(s, 0.0, high=3.0)
        out[i, 1] = clamp(p, low=-1.0)
        put(out, i, 2, scale_shift(s, 2.0))
        sums[i] = row_sum(x, i) + len(x) + m
        soft[i] = softplus_sum(r[i], -r[i])


@given(st.lists(st.integers(-128, 127), min_size=3, max_size=3),
       st.lists(st.floats(-4, 4, width=32), min_size=3, max_size=3))
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_device_functions_give_the_python_backends_result_everywhere(row, r):
    x = np.array([row] * 3, np.int8) + np.arange(3, dtype=np.int8)[:, None]
    r = np.array(r, np.float32)
    out = np.zeros((3, 3), np.float32)
    ref_args, _ = same_everywhere(uses_functions, x, r, out, np.zeros(3, np.int64),
                                  np.zeros(3, np.float32), close=(4,))
    # int8 rows summed in the device function's loop accumulator: widened to int64
    assert ref_args[3].tolist() == [int(x[i].astype(np.int64).sum()) + 6 for i in range(3)]


def test_device_functions_are_plain_python_outside_kernels():
    assert clamp(7, 0, 5) == 5 and clamp(-3, 0) == 0
    assert sum_and_product(2, 3) == (5, 6)
    assert "lo.func" in repr(clamp) and clamp.__name__ == "clamp"


@lo.func
def guarded(x, i):
    return x[i] > 0


@lo.kernel
def lazy_operands(x, n, out):
    for i in lo.grid(out.shape[0]):
        ok = i < n and guarded(x, i)          # x has n elements: x[i] only when i < n
        v = guarded(x, i) if i < n else False
        k = 0
        while k < n and guarded(x, k):        # re-evaluated before every test
            k += 1
        out[i] = ok + v + k


def test_calls_in_lazy_operands_run_only_when_python_evaluates_them():
    x = np.array([3.0, 1.0, -1.0])
    ref_args, _ = same_everywhere(lazy_operands, x, 3, np.zeros(5, np.int64))
    # numpy bools add as logical or: True + True is True (1), plus k = 2
    assert ref_args[2].tolist() == [3, 3, 2, 2, 2]


# --- tuples and len -----------------------------------------------------------------------

@lo.kernel
def swaps(x, out):
    a, b = x[0], x[1]
    a, b = b, a
    for i in lo.grid(out.shape[0]):
        out[i], out[(i + 1) % out.shape[0]] = a, b   # elements as unpacking targets
    return a - b


def test_unpacking_evaluates_every_value_before_assigning():
    _, r = same_everywhere(swaps, np.array([1.5, 4.0]), np.zeros(1))
    assert r == 2.5


@lo.kernel
def unpack_shape(x, out):
    n, m = x.shape
    for i, j in lo.grid(n, m):
        out[i, j] = i * m + j + len(x)


def test_shape_unpacking_and_len():
    same_everywhere(unpack_shape, np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(KernelCompileError) as info:
        unpack_shape.on("numpy")(np.zeros((2, 3, 4)), np.zeros((2, 3)))
    assert "too many values to unpack (expected 2)" in str(info.value)
    assert info.value.lineno == line_of(unpack_shape, "n, m = x.shape")
    with pytest.raises(KernelCompileError, match=r"not enough values to unpack "
                                                 r"\(expected 2, got 1\)"):
        unpack_shape.on("numpy")(np.zeros(3), np.zeros((2, 3)))


# --- errors -------------------------------------------------------------------------------

@lo.func
def ping(v):
    return pong(v) + 1


@lo.func
def pong(v):
    return ping(v - 1)


def undecorated(v):
    return v + 1


@lo.func
def with_grid(x):
    for i in lo.grid(x.shape[0]):
        x[i] = 0.0
    return 0.0


@lo.func
def return_in_loop(x):
    for j in range(x.shape[0]):
        if x[j] > 0:
            return j
    return -1


@lo.func
def sometimes_nothing(v):
    if v > 0:
        return v


def _calling(fn, whole_tensor: bool):
    if whole_tensor:
        @lo.kernel
        def caller(x, out):
            for i in lo.grid(x.shape[0]):
                out[i] = fn(x)
    else:
        @lo.kernel
        def caller(x, out):
            for i in lo.grid(x.shape[0]):
                out[i] = fn(x[i])
    return caller


@pytest.mark.parametrize("fn, message, where", [
    (ping, "recursion is not supported in kernels: ping -> pong -> ping", "return ping(v - 1)"),
    (undecorated, "'fn' is a plain Python function; kernels can only call device "
                  "functions", "out[i] = fn(x[i])"),
    (with_grid, "lo.grid cannot be used inside a device function", "lo.grid(x.shape[0])"),
    (return_in_loop, "return inside a loop of a device function", "return j"),
    (sometimes_nothing, "returns nothing or 1 value on different paths", "return v"),
])
def test_misused_device_functions_are_compile_errors_at_the_right_line(fn, message, where):
    k = _calling(fn, fn in (with_grid, return_in_loop))
    with pytest.raises(KernelCompileError) as info:
        k.on("numpy")(np.ones(2), np.zeros(2))
    assert message in str(info.value)
    target = {undecorated: k, ping: pong}.get(fn, fn)
    assert info.value.lineno == line_of(target, where), str(info.value)
    assert "in kernel 'caller'" in str(info.value)
    if fn is undecorated:
        assert "@lo.func" in str(info.value)


def test_binding_errors_use_pythons_wording():
    @lo.kernel
    def too_many(x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = clamp(x[i], 0.0, 1.0, 2.0)

    @lo.kernel
    def unknown_keyword(x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = clamp(x[i], 0.0, top=2.0)

    for k, text in ((too_many, "too many positional arguments"),
                    (unknown_keyword, "got an unexpected keyword argument 'top'")):
        with pytest.raises(KernelCompileError, match=text):
            k.on("numpy")(np.ones(2), np.zeros(2))


def test_a_tuple_result_must_be_unpacked():
    @lo.kernel
    def not_unpacked(x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = sum_and_product(x[i], 2.0)

    with pytest.raises(KernelCompileError, match="returns 2 values, not one") as info:
        not_unpacked.on("numpy")(np.ones(2), np.zeros(2))
    assert "a, b = f(x)" in str(info.value)


# --- continue in a grid -------------------------------------------------------------------

@lo.kernel
def skips(x, out):
    acc = 0.0
    for i in lo.grid(x.shape[0]):
        out[i] = -1.0
        if x[i] < 0:
            continue                      # ends this grid iteration
        v = x[i] * 2
        for j in range(3):
            if j == 1:
                continue                  # this one belongs to the range loop
            v += j
        if v > 5:
            out[i] = 100.0
            continue
        elif v > 4:
            if x[i] > 1.2:
                continue
            v = 0.0
        out[i] = v
        acc += v
    return acc


def test_continue_ends_a_grid_iteration_on_every_backend():
    x = np.array([-1.0, 0.5, 1.0, 1.3, 1.1, 3.0])
    ref_args, ref = same_everywhere(skips, x, np.zeros(6))
    assert ref_args[1].tolist() == [-1.0, 3.0, 4.0, -1.0, 0.0, 100.0] and ref == 7.0


def test_break_in_a_grid_is_still_an_error_with_advice():
    @lo.kernel
    def breaks(x, out):
        for i in lo.grid(x.shape[0]):
            if x[i] < 0:
                break
            out[i] = x[i]
    with pytest.raises(KernelCompileError, match="'break' outside a sequential loop") as info:
        breaks.on("numpy")(np.ones(2), np.zeros(2))
    assert "`continue` ends a grid iteration" in str(info.value)


@lo.kernel
def sizes(x, y, out):
    for i in lo.grid(x.size):                       # a grid over every element
        out[i] = x.size * 1000 + y.size + x.ndim + i * (x.size - 1 > 3)


def test_size_is_the_product_of_the_shape_as_a_python_int():
    ref_args, _ = same_everywhere(sizes, np.zeros((3, 4)), np.zeros((2, 0, 5)), np.zeros(12))
    assert ref_args[2].tolist() == [12002.0 + i for i in range(12)]


@lo.func
def maybe(v):
    if v > 0:
        t = v
    return t


def test_an_unbound_local_in_a_device_function_is_named_as_the_user_wrote_it():
    @lo.kernel
    def calls_maybe(x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = maybe(x[i])
    with pytest.raises(KernelCompileError, match="'t' may be used before assignment") as info:
        calls_maybe.on("numpy")(np.ones(2), np.zeros(2))
    assert info.value.lineno == line_of(maybe, "return t")
