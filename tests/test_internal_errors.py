"""No internal error reaches the user: each case is a LangOne error (or a clean
command-line message) that says what was wrong and what to do."""

from __future__ import annotations

import inspect
import textwrap

import numpy as np
import pytest

import langone as lo
from langone.errors import KernelArgumentError, KernelCompileError
from langone.lua_bridge import cli

HERE = "test_internal_errors.py"


def this_line() -> int:
    """The caller's line number (to check where an error points)."""
    return inspect.currentframe().f_back.f_lineno


def add_one(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] + 1.0


# --- lo.kernel on what is not a function ---------------------------------------------------

@pytest.mark.parametrize("obj, shown", [
    (123, "got int 123"),
    ("f", "got str 'f'"),
    (np.add, "got ufunc"),
    (print, "got builtin_function_or_method"),
])
def test_kernel_of_a_non_function_fails_at_decoration(obj, shown):
    line = this_line() + 2
    with pytest.raises(KernelCompileError) as info:
        lo.kernel(obj)
    err = info.value
    assert "lo.kernel expects a Python function" in str(err) and shown in str(err)
    assert "decorate a def function" in err.hint
    assert err.filename.endswith(HERE) and err.lineno == line
    assert f"{HERE}:{line}:" in str(err)


def test_kernel_with_options_of_a_non_function_fails_at_decoration():
    with pytest.raises(KernelCompileError, match="expects a Python function, got int 7"):
        lo.kernel(backend="numpy")(7)


def test_decorating_a_kernel_twice_fails_at_decoration():
    line = this_line() + 2
    with pytest.raises(KernelCompileError) as info:
        lo.kernel(lo.kernel(add_one))
    err = info.value
    assert "'add_one' is already a kernel" in str(err) and "applied to it twice" in str(err)
    assert "apply @lo.kernel once" in err.hint and "kernel.on(backend)" in err.hint
    assert err.lineno == line and err.filename.endswith(HERE)


def test_stacked_kernel_decorators_point_at_the_outer_one():
    with pytest.raises(KernelCompileError) as info:
        line = this_line() + 1
        @lo.kernel
        @lo.kernel
        def twice(x):
            return x + 1
    assert info.value.lineno == line and "@lo.kernel" in info.value.source_line


def test_a_lambda_is_still_accepted_at_decoration():
    k = lo.kernel(lambda x: x + 1)        # its source is checked when it compiles
    assert k.__name__ == "<lambda>"


# --- keyword arguments at launch -------------------------------------------------------------

@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_keyword_arguments_at_launch_bind_like_python(backend):
    k = lo.kernel(add_one).on(backend)
    x, out = np.ones(4), np.zeros(4)
    k(x=x, out=out)
    np.testing.assert_array_equal(out, 2.0)
    k(x * 2, out=out)                                   # also once specialized
    np.testing.assert_array_equal(out, 3.0)
    for call, message in ((lambda: k(x, x=x), "add_one() got multiple values for argument 'x'"),
                          (lambda: k(x, out, out), "add_one() takes 2 positional arguments "
                                                        "but 3 were given"),
                          (lambda: k(x, output=out), "add_one() got an unexpected keyword "
                                                     "argument 'output'"),
                          (lambda: k(out=out), "add_one() missing 1 required positional "
                                               "argument: 'x'")):
        with pytest.raises(KernelArgumentError) as info:
            call()
        assert str(info.value) == message


def test_keyword_arguments_and_defaults_on_an_elementwise_kernel():
    @lo.kernel
    def scaled(x, s=2.0, *, shift=0.0):
        return s * x + shift
    x = np.ones(3)
    np.testing.assert_array_equal(np.asarray(scaled(x)), 2.0)
    np.testing.assert_array_equal(np.asarray(scaled(x=x, s=3.0)), 3.0)
    np.testing.assert_array_equal(np.asarray(scaled(x, shift=1.0)), 3.0)
    with pytest.raises(KernelArgumentError, match=r"scaled\(\) takes from 1 to 2 positional "
                                                  r"arguments but 3 were given"):
        scaled(x, 2.0, 1.0)                      # shift is keyword-only, as in Python


# --- langone lua-export: one line on stderr, exit status 2 ------------------------------------

KERNEL_FILE = textwrap.dedent("""\
    import langone as lo

    class NotAKernel:
        pass

    @lo.kernel
    def scale(a, x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = a * x[i]
""")
SIG = "f32, f32[:], f32[:]"


def lua_export(tmp_path, capsys, target: str, *extra: str) -> str:
    src = tmp_path / "kernels_mod.py"
    src.write_text(KERNEL_FILE)
    (tmp_path / "broken.py").write_text("def f(:\n")
    assert cli.main([target.format(src=src, dir=tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("langone lua-export: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_lua_export_into_a_missing_directory(tmp_path, capsys):
    out = tmp_path / "missing" / "dir" / "x.lua"
    err = lua_export(tmp_path, capsys, "{src}:scale", "-s", SIG, "-o", str(out))
    assert f"cannot write {out}: the directory {out.parent} does not exist" in err
    assert "create it first or pass another -o" in err
    assert not out.parent.exists()


def test_lua_export_into_a_missing_directory_with_a_slash(tmp_path, capsys):
    out = tmp_path / "newdir"
    err = lua_export(tmp_path, capsys, "{src}:scale", "-s", SIG, "-o", f"{out}/")
    assert "no such directory; create it first" in err
    assert not out.exists()                   # not written as a file named newdir


def test_lua_export_of_an_unknown_module(tmp_path, capsys):
    err = lua_export(tmp_path, capsys, "no_such_module_xyz:k", "-s", SIG)
    assert "cannot import 'no_such_module_xyz'" in err and "module.py:kernel" in err


def test_lua_export_of_a_file_that_does_not_parse(tmp_path, capsys):
    err = lua_export(tmp_path, capsys, "{dir}/broken.py:f", "-s", SIG)
    assert "broken.py does not parse: invalid syntax" in err and "broken.py:1" in err


def test_lua_export_of_something_that_is_not_a_kernel(tmp_path, capsys):
    err = lua_export(tmp_path, capsys, "{src}:NotAKernel", "-s", SIG)
    assert "needs a @lo.kernel (or a plain function), got type" in err


def test_export_names_the_users_file_not_a_temporary_one(tmp_path):
    from langone.lua_bridge.standalone import export
    out = tmp_path / "missing" / "k.lua"
    with pytest.raises(FileNotFoundError) as info:
        export(add_one, "f64[:], f64[:]", out)
    assert info.value.filename == str(out)


# --- lo.sort / lo.argsort with axis=None: numpy's meaning (the flattened tensor) -----------

@pytest.mark.parametrize("descending", [False, True])
def test_sort_axis_none_sorts_the_flattened_tensor(descending):
    a = np.array([[3.0, 1.0, np.nan], [2.0, 0.0, 1.0]], np.float32)
    for data in (a, a.T):                                  # contiguous and a transposed view
        got = lo.sort(lo.tensor(data), axis=None, descending=descending)
        want = np.sort(data, axis=None)
        if descending:
            want = want[::-1]
        assert got.shape == (6,) and got.dtype == lo.float32
        np.testing.assert_array_equal(got.numpy(), want)


def test_argsort_axis_none_indexes_the_flattened_tensor():
    a = np.array([[3, 1, 2], [2, 0, 1]], np.int64)
    np.testing.assert_array_equal(lo.argsort(lo.tensor(a), axis=None).numpy(),
                                  np.argsort(a, axis=None, kind="stable"))
    down = lo.argsort(lo.tensor(a), axis=None, descending=True).numpy()
    np.testing.assert_array_equal(a.reshape(-1)[down], [3, 2, 2, 1, 1, 0])
    assert down.tolist() == [0, 2, 3, 1, 5, 4]             # ties keep their order


def test_sort_axis_none_of_a_0d_tensor_is_1d():
    assert lo.sort(lo.tensor(np.array(5.0)), axis=None).tolist() == [5.0]


# --- lo.infer / lo.load_model: an input where the device or precision goes ----------------

X16 = np.ones((1, 16), np.float32)


@pytest.mark.parametrize("extra, role", [
    ((X16,), "device"),
    (("CPU", X16), "precision"),
    ((lo.tensor(X16),), "device"),
    (([X16],), "device"),
])
def test_infer_with_an_input_as_device_or_precision(extra, role):
    from langone.infer.errors import InferenceInputError
    with pytest.raises(InferenceInputError) as info:
        lo.infer("never-read.xml", X16, *extra)
    msg = str(info.value)
    assert f"the {role} argument got a" in msg and f"not a {role} name" in msg
    assert "[[1." not in msg                                   # no array as a name
    assert "lo.infer(model, (x1, x2))" in msg


def test_load_model_with_an_input_as_device():
    from langone.infer.errors import InferenceInputError
    with pytest.raises(InferenceInputError, match=r"float32 ndarray of shape \(1, 16\).*"
                                                  r"m\(x1, x2\)"):
        lo.load_model("never-read.xml", X16)


# --- Triton: float % by a constant or a scalar follows numpy.remainder ------------------------

@lo.kernel
def mod_three(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] % 3.0


@lo.kernel
def mod_minus(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] % -2.5


@lo.kernel
def mod_zero(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] % 0.0


@lo.kernel
def mod_scalar(x, b, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] % b


@lo.kernel
def floordiv_scalar(x, b, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] // b


EDGES = [7, -7, 0.0, -0.0, 5.5, -5.5, 2.9999, 3, -3, 1e30, -1e-30, np.inf, -np.inf, np.nan]


def usable(name: str) -> bool:
    return name in lo.backends()


def assert_bitwise(got, want):
    np.testing.assert_array_equal(got, want)                       # NaN == NaN here
    num = ~np.isnan(want)                                          # a NaN's sign is free
    np.testing.assert_array_equal(np.signbit(got[num]), np.signbit(want[num]))  # -0.0 too


@pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning")
@pytest.mark.parametrize("backend", ["numba", "lua", "triton"])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_float_mod_by_a_constant_matches_numpy(backend, dt):
    if not usable(backend):
        pytest.skip(f"the {backend} backend is not usable here")
    x = np.array(EDGES, dt)
    with np.errstate(all="ignore"):
        for k, divisor in ((mod_three, 3.0), (mod_minus, -2.5), (mod_zero, 0.0)):
            want = np.remainder(x, dt(divisor))
            ref = np.zeros_like(x)
            k.on("numpy")(x, ref)
            assert_bitwise(ref, want)
            got = np.zeros_like(x)
            k.on(backend)(x, got)
            assert_bitwise(got, want)


@pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning")
@pytest.mark.parametrize("backend", ["numpy", "numba", "lua", "triton"])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_float_mod_and_floordiv_by_a_scalar_argument_match_numpy(backend, dt):
    if not usable(backend):
        pytest.skip(f"the {backend} backend is not usable here")
    x = np.array(EDGES, dt)
    with np.errstate(all="ignore"):
        for b in (3.0, -2.5, 0.0, np.inf, -np.inf, np.nan):
            got = np.zeros_like(x)
            mod_scalar.on(backend)(x, b, got)
            assert_bitwise(got, np.remainder(x, b))
            got = np.zeros_like(x)
            floordiv_scalar.on(backend)(x, b, got)
            assert_bitwise(got, np.floor_divide(x, b))


# --- a 0-d tensor read and written as a[()] (plain Python's meaning) -------------------------

@lo.kernel
def scale_by_0d(a, x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] * a[()]


@lo.kernel
def serial_0d(a, out):
    out[()] = a[()] + 1.0


@lo.kernel
def sum_into_0d(x, out):
    for i in lo.grid(x.shape[0]):
        lo.atomic_add(out, (), x[i])


@lo.kernel
def index_by_0d(k, x, out):
    for i in lo.grid(out.shape[0]):
        out[i] = x[k[()]]


ALL_BACKENDS = ["numpy", "numba", "lua", "triton"]


@pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning")
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_0d_tensor_reads_and_writes(backend):
    if not usable(backend):
        pytest.skip(f"the {backend} backend is not usable here")
    a, x = np.array(2.5), np.arange(4.0)
    out = np.zeros(4)
    scale_by_0d.on(backend)(a, x, out)
    np.testing.assert_array_equal(out, x * 2.5)
    res = np.zeros(())
    serial_0d.on(backend)(a, res)
    assert res[()] == 3.5
    out = np.zeros(3)
    index_by_0d.on(backend)(np.array(2), x, out)
    np.testing.assert_array_equal(out, 2.0)


@pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning")
@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64])
def test_atomic_add_into_a_0d_tensor(backend, dt):
    if not usable(backend):
        pytest.skip(f"the {backend} backend is not usable here")
    out = np.full((), 1, dt)
    sum_into_0d.on(backend)(np.arange(5, dtype=dt), out)
    assert out.dtype == dt and out[()] == 11


def test_0d_index_count_is_checked():
    def k(a, out):
        for i in lo.grid(out.shape[0]):
            out[i] = a[i]
    with pytest.raises(KernelCompileError) as info:
        lo.kernel(k).on("numpy")(np.array(1.0), np.zeros(2))
    err = info.value
    assert err.filename.endswith(HERE) and "a[i]" in err.source_line
    assert "'a' has 0 dimension(s) but is indexed with 1 index(es)" in str(err)
    assert err.hint == "write a[()]"


def test_a_compiler_bug_is_a_langone_error_that_says_so(monkeypatch):
    from langone.kernels.passes import simplify

    def broken(k):
        raise AttributeError("'Pass' object has no attribute 'lineno'")
    monkeypatch.setattr(simplify, "simplify", broken)
    k = lo.kernel(add_one)
    with pytest.raises(KernelCompileError, match="internal compiler error") as info:
        k.on("numpy")(np.zeros(2), np.zeros(2))
    assert "this is a LangOne bug" in str(info.value)
    assert isinstance(info.value.__cause__, AttributeError)     # kept for the report
