"""Error messages: file:line:col, the source line with a caret, and advice."""

from __future__ import annotations

import re
import traceback

import numpy as np
import pytest

import langone as lo
from langone.errors import BackendUnavailable, KernelArgumentError, KernelCompileError

X1 = np.zeros(8, np.float32)
X2 = np.zeros((4, 4), np.float32)


def compile_error(fn, *args) -> KernelCompileError:
    k = lo.kernel(fn).on("numpy")
    with pytest.raises(KernelCompileError) as info:
        k(*args)
    return info.value


def line_of(fn, needle: str) -> int:
    import inspect
    lines, first = inspect.getsourcelines(fn)
    for off, text in enumerate(lines):
        if needle in text:
            return first + off
    raise AssertionError(needle)


def assert_points_at(err: KernelCompileError, fn, needle: str, col_text: str):
    line = line_of(fn, needle)
    assert err.lineno == line
    assert err.filename.endswith("test_kernel_errors.py")
    src = err.source_line
    assert src is not None and needle in src
    assert src[err.col:].startswith(col_text), (src, err.col)
    text = str(err)
    assert f"test_kernel_errors.py:{line}:{err.col + 1}" in text
    caret_line = text.splitlines()[2]
    shown = text.splitlines()[1]
    assert caret_line.strip() == "^"
    assert shown[len(caret_line) - 1:].startswith(col_text)


def test_slice_in_kernel():
    def k(x, out):
        for i in lo.grid(4):
            out[i] = x[1:3]
    e = compile_error(k, X1, X1)
    assert_points_at(e, k, "x[1:3]", "1:3")
    assert "slices are not supported" in str(e) and "hint:" in str(e)


def test_unknown_function():
    def k(x, out):
        for i in lo.grid(4):
            out[i] = print(x[i])
    e = compile_error(k, X1, X1)
    assert_points_at(e, k, "print(", "print")
    assert "'print' cannot be called in a kernel" in str(e)
    assert "lo.exp" in e.hint


def test_unsupported_statement():
    def k(x):
        with open("f") as fh:
            pass
    e = compile_error(k, X1)
    assert_points_at(e, k, "with open", "with")
    assert "With statements are not part of the kernel language" in str(e)


def test_assign_to_parameter():
    def k(x, n):
        n = 3
    e = compile_error(k, X1, 2)
    assert_points_at(e, k, "n = 3", "n")
    assert "cannot assign to the parameter 'n'" in str(e)


def test_nested_grid():
    def k(x):
        for i in lo.grid(4):
            for j in lo.grid(4):
                x[i, j] = 0
    e = compile_error(k, X2)
    assert_points_at(e, k, "for j in lo.grid", "lo.grid")
    assert "cannot be nested" in str(e) and "lo.grid(n, m)" in e.hint


def test_grid_inside_a_device_function():
    @lo.func
    def zero(x):
        for i in lo.grid(4):
            x[i] = 0

    def k(x):
        if x.shape[0] > 2:
            zero(x)
    e = compile_error(k, X1)
    assert "lo.grid cannot be used inside a device function" in str(e)


def test_break_out_of_grid():
    def k(x):
        for i in lo.grid(4):
            if x[i] > 0:
                break
    e = compile_error(k, X1)
    assert_points_at(e, k, "break", "break")
    assert "independent" in str(e)


def test_outer_variable_assigned_in_grid():
    def k(x):
        last = 0.0
        for i in lo.grid(x.shape[0]):
            last = x[i]
        return last
    e = compile_error(k, X1)
    assert_points_at(e, k, "last = x[i]", "last")
    assert "not as a reduction" in str(e) and "acc" not in str(e)


def test_reduction_read_inside_grid():
    def k(x, out):
        s = 0.0
        for i in lo.grid(x.shape[0]):
            s += x[i]
            out[i] = s
        return s
    e = compile_error(k, X1, X1)
    assert_points_at(e, k, "out[i] = s", "s")
    assert "reduction variable 's' is read inside lo.grid" in str(e)


def test_mixed_reduction_ops():
    def k(x):
        s = 0.0
        for i in lo.grid(x.shape[0]):
            s += x[i]
            s = max(s, x[i])
        return s
    e = compile_error(k, X1)
    assert "mixes sum and max" in str(e)


def test_return_not_last():
    def k(x):
        for i in range(3):
            return x[i]
    e = compile_error(k, X1)
    assert "last statement" in str(e)


def test_wrong_index_count():
    def k(x, out):
        for i in lo.grid(x.shape[0]):
            out[i, 0] = x[i]
    e = compile_error(k, X2, X2)
    assert_points_at(e, k, "out[i, 0] = x[i]", "x[i]")
    assert "'x' has 2 dimension(s) but is indexed with 1 index(es)" in str(e)


def test_float_index():
    def k(x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = x[i * 0.5]
    e = compile_error(k, X1, X1)
    assert "tensor indices must be integers, got fp64" in str(e)
    assert "int(v)" in e.hint


def test_bitwise_on_float():
    def k(x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = x[i] & 1
    e = compile_error(k, X1, X1)
    assert_points_at(e, k, "x[i] & 1", "x[i] & 1")
    assert "operator & needs integers, the left operand is fp32" in str(e)


def test_tensor_used_as_number_in_loop_kernel():
    def k(x, out):
        for i in lo.grid(4):
            out[i] = x + 1
    e = compile_error(k, X1, X1)
    assert "'x' is a tensor; index it (x[i])" in str(e)


def test_undefined_name():
    def k(x, out):
        for i in lo.grid(4):
            out[i] = undefined_thing * 2  # noqa: F821
    e = compile_error(k, X1, X1)
    assert "name 'undefined_thing' is not defined" in str(e)


def test_shape_axis_out_of_range():
    def k(x, out):
        for i in lo.grid(x.shape[1]):
            out[i] = 0
    e = compile_error(k, X1, X1)
    assert "x.shape[1] is out of range: 'x' has 1 dimension(s)" in str(e)


def test_kwargs_parameters():
    def k(x, *rest):
        pass
    e = compile_error(k, X1)
    assert "kernel parameters must be named: no *args or **kwargs" in str(e)


def test_compiler_frames_are_hidden():
    def k(x, out):
        for i in lo.grid(4):
            out[i] = x[1:2]
    kern = lo.kernel(k).on("numpy")
    with pytest.raises(KernelCompileError) as info:
        kern(X1, X1)
    files = [f.filename for f in traceback.extract_tb(info.tb)]
    assert not any(re.search(r"kernels[/\\](frontend|passes|backends)", f) for f in files), files


def test_wrong_arity():
    @lo.kernel
    def k(a, x, out):
        for i in lo.grid(4):
            out[i] = a * x[i]
    with pytest.raises(KernelArgumentError, match=r"k\(\) missing 1 required positional "
                                                  r"argument: 'out'"):
        k.on("numpy")(1.0, X1)
    with pytest.raises(KernelArgumentError, match=r"k\(\) takes 3 positional arguments but 4 "
                                                  r"were given"):
        k.on("numpy")(1.0, X1, X1, X1)


def test_bad_argument_type():
    @lo.kernel
    def k(a, x):
        for i in lo.grid(4):
            x[i] = a
    with pytest.raises(KernelArgumentError, match=r"argument 'x' of kernel 'k' is a list"):
        k.on("numpy")(1.0, [1, 2, 3])
    with pytest.raises(KernelArgumentError, match=r"argument 'x' of kernel 'k'.*M8\[s\]"):
        k.on("numpy")(1.0, np.zeros(3, "datetime64[s]"))


def test_unknown_backend_names_the_usable_ones():
    @lo.kernel
    def k(x):
        for i in lo.grid(4):
            x[i] = 0
    with pytest.raises(BackendUnavailable, match=r"unknown backend 'cuda-magic'; usable here: .*numpy"):
        k.on("cuda-magic")


def test_broadcast_mismatch_in_elementwise():
    @lo.kernel
    def add(a, b):
        return a + b
    with pytest.raises(KernelArgumentError, match=r"\(3,\), \(4,\) do not broadcast"):
        add.on("numpy")(np.zeros(3, np.float32), np.zeros(4, np.float32))


@pytest.mark.parametrize("tdt, vdt, summed", [(np.float32, np.float64, "fp64"),
                                              (np.float16, np.float64, "fp64"),
                                              (np.float32, np.int32, "fp64"),
                                              (np.int32, np.float32, "fp64"),
                                              (np.int64, np.float64, "fp64")])
def test_atomic_add_of_a_value_that_promotes_the_sum_is_refused(tdt, vdt, summed):
    # Python computes t[i] + v in the promoted type and rounds once; an atomic adds in the
    # element's type. The two differ, so the kernel is refused at the user's line.
    def k(t, v):
        for i in lo.grid(v.shape[0]):
            lo.atomic_add(t, i % 2, v[i])
    e = compile_error(k, np.zeros(2, tdt), np.ones(4, vdt))
    assert_points_at(e, k, "lo.atomic_add(t, i % 2, v[i])", "lo.atomic_add")
    assert f"adds in {summed} in Python" in str(e) and "convert the value first" in str(e)


@pytest.mark.parametrize("tdt, vdt", [(np.float16, np.float32), (np.float32, np.int16),
                                      (np.int32, np.int64), (np.uint8, np.int8),
                                      (np.float64, np.int64), (np.int8, np.bool_)])
def test_atomic_add_whose_sum_stays_in_the_elements_type_runs(tdt, vdt):
    @lo.kernel
    def k(t, v):
        for i in lo.grid(v.shape[0]):
            lo.atomic_add(t, i % 2, v[i])
    v = np.arange(7).astype(vdt)
    want, got = np.zeros(2, tdt), np.zeros(2, tdt)
    k.on("python")(want, v)
    k.on("numpy")(got, v)
    np.testing.assert_array_equal(got, want)
