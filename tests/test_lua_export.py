"""Standalone Lua export: signature parsing, the written module, the CLI, and round
trips under the standalone ``luajit`` binary (skipped where it is not installed):
Python writes the inputs to files, a Lua driver loads them with ffi, calls the
exported module, writes the outputs back, and Python compares them with the
numpy reference."""

from __future__ import annotations

import math
import shutil
import subprocess
import textwrap

import numpy as np
import pytest

import langone as lo
from langone.errors import KernelArgumentError, KernelCompileError
from langone.kernels import ir
from langone.lua_bridge import cli
from langone.lua_bridge.standalone import export, parse_signature, parse_type

from kernel_corpus import CASES

LUAJIT = shutil.which("luajit")
needs_luajit = pytest.mark.skipif(LUAJIT is None, reason="the standalone luajit binary is "
                                  "not installed (Debian/Ubuntu: apt-get install luajit)")


@lo.kernel
def saxpy(a, x, y, out):
    for i in lo.grid(x.shape[0]):
        out[i] = a * x[i] + y[i]


@lo.kernel
def gelu(x):
    return 0.5 * x * (1.0 + lo.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))


# --- signatures -------------------------------------------------------------------------------

def test_signature_types_parse():
    assert parse_type("f32[:]") == ir.TensorType(lo.fp32, 1, True)
    assert parse_type(" i8[:, :, :] ") == ir.TensorType(lo.int8, 3, True)
    assert parse_type("bf16[:,:]~") == ir.TensorType(lo.bf16, 2, False)
    assert parse_type("float64") is lo.fp64 and parse_type("u8") is lo.uint8
    assert parse_type("float") == ir.Weak("f") and parse_type("int") == ir.Weak("i")
    sig = parse_signature("float, f32[:], f32[:], f32[:]", ("a", "x", "y", "out"), "saxpy")
    assert sig[0] == ir.Weak("f") and sig[3] == ir.TensorType(lo.fp32, 1, True)


@pytest.mark.parametrize("text, message", [
    ("f32[:], f32[:]", r"has 2 type\(s\) but kernel 'saxpy' takes 4 parameter\(s\) "
                       r"\(a, x, y, out\)"),
    ("f32, f33[:], f32[:], f32[:]", r"parameter 'x'.*'f33\[:\]' is not a type"),
    ("f32, f32[1:], f32[:], f32[:]", r"cannot read tensor type 'f32\[1:\]'.*one ':' per axis"),
    ("f32, f32[:,:,], f32[:], f32[:]", r"cannot read tensor type 'f32\[:,:,\]'"),
])
def test_signature_errors_say_what_to_write(text, message):
    with pytest.raises(KernelArgumentError, match=message):
        export(saxpy, text)


# --- the module -------------------------------------------------------------------------------

def test_export_writes_a_module_with_signature_layout_and_example(tmp_path):
    path = tmp_path / "axpy32.lua"
    src = export(saxpy, "float, f32[:], f32[:], f32[:]", path)
    assert path.read_text() == src
    assert "-- Signature: saxpy(a: fp64, x: fp32[:], y: fp32[:], out: fp32[:])" in src
    assert "-- Call: M.run(a, x, x_n0, y, y_n0, out, out_n0)" in src
    assert "-- Memory layout: row-major (C order)" in src
    assert 'local k = require("axpy32")' in src
    assert 'require("ffi")' in src and "python" not in src.lower().replace("# ", "")
    assert export(saxpy, "float, f32[:], f32[:], f32[:]", tmp_path) == \
        (tmp_path / "saxpy.lua").read_text()          # a directory: <kernel>.lua inside


def test_exported_text_runs_in_the_sandbox_too():
    pytest.importorskip("lupa.luajit21")
    from langone.lua_bridge import runtime
    mod = runtime.sandbox().module(export(saxpy, "f32, f32[:], f32[:], f32[:]"), "saxpy")
    x = np.arange(4, dtype=np.float32)
    out = np.zeros(4, np.float32)
    addr = lambda a: a.__array_interface__["data"][0]       # noqa: E731
    mod.run(2.0, addr(x), 4, addr(x), 4, addr(out), 4)
    np.testing.assert_array_equal(out, 3 * x)


# --- round trips under the standalone luajit --------------------------------------------------

DRIVER = textwrap.dedent("""\
    -- Test driver: load inputs written by Python, call the exported kernel, write outputs.
    local dir, manifest = arg[1], arg[2]
    package.path = dir .. "/?.lua;" .. package.path
    local ffi = require("ffi")
    local spec = dofile(manifest)
    local k = require(spec.module)
    local call, n, bufs = {}, 0, {}
    for _, a in ipairs(spec.args) do
      if a.file then
        local f = assert(io.open(a.file, "rb")); local data = f:read("*a"); f:close()
        local buf = ffi.new("uint8_t[?]", math.max(#data, 1))
        ffi.copy(buf, data, #data)
        bufs[#bufs + 1] = {buf = buf, size = #data, file = a.file .. ".out"}
        n = n + 1; call[n] = ffi.cast(a.ctype .. "*", buf) + a.offset
        for _, d in ipairs(a.dims) do n = n + 1; call[n] = d end
        for _, s in ipairs(a.strides) do n = n + 1; call[n] = s end
      else
        n = n + 1; call[n] = a.value
      end
    end
    local r = k.run(unpack(call, 1, n))
    for _, b in ipairs(bufs) do
      local f = assert(io.open(b.file, "wb")); f:write(ffi.string(b.buf, b.size)); f:close()
    end
    local f = assert(io.open(spec.result, "w"))
    f:write(type(r) == "number" and string.format("%.17g", r) or tostring(r))
    f:close()
""")

CTYPES = {"float32": "float", "float64": "double", "int8": "int8_t", "int16": "int16_t",
          "int32": "int32_t", "int64": "int64_t", "uint8": "uint8_t", "uint16": "uint16_t",
          "uint32": "uint32_t", "uint64": "uint64_t", "bool": "uint8_t",
          "float16": "uint16_t", "bfloat16": "uint16_t"}


def _lua_number(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    v = float(v) if isinstance(v, (float, np.floating)) else int(v)
    if isinstance(v, float) and not math.isfinite(v):
        return "0/0" if v != v else ("math.huge" if v > 0 else "-math.huge")
    return repr(v)


def _storage(a: np.ndarray):
    """The contiguous buffer under ``a`` and ``a``'s element offset in it."""
    base = a
    while isinstance(base.base, np.ndarray):
        base = base.base
    assert base.flags.c_contiguous
    start = a.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return base, start // a.itemsize


def _copy_keep_layout(a):
    """A copy of ``a`` with the same strides (deepcopy would make views contiguous)."""
    if not isinstance(a, np.ndarray):
        return a
    base, offset = _storage(a)
    return _view(base.copy(), offset, a)


def _view(base, offset, like):
    """``like``'s shape and strides over ``base``, starting ``offset`` elements in."""
    return np.ndarray(like.shape, like.dtype, buffer=base, offset=offset * like.itemsize,
                      strides=like.strides)


def signature_of(args) -> str:
    parts = []
    for a in args:
        if isinstance(a, np.ndarray):
            t = lo.dtype(a.dtype).name
            parts.append(f"{t}[{','.join(':' * a.ndim)}]" + ("" if a.flags.c_contiguous
                                                              else "~"))
        elif type(a) in (bool, int, float):             # Python scalars (weak)
            parts.append({bool: "bool", int: "int", float: "float"}[type(a)])
        else:
            parts.append(lo.dtype(np.asarray(a).dtype).name)
    return ", ".join(parts)


def run_under_luajit(kernel, args, tmp_path, signature=None):
    """Export, run under ``luajit`` on copies of ``args``; (arrays after, result)."""
    name = f"exported_{kernel.__name__}"
    export(kernel, signature or signature_of(args), tmp_path / f"{name}.lua")
    (tmp_path / "driver.lua").write_text(DRIVER)
    run_args = [_copy_keep_layout(a) for a in args]
    entries, views = [], []
    for i, a in enumerate(run_args):
        if not isinstance(a, np.ndarray):
            entries.append(f"  {{value = {_lua_number(a)}}},")
            continue
        base, offset = _storage(a)
        f = tmp_path / f"arg{i}.bin"
        f.write_bytes(base.tobytes())
        strides = [] if a.flags.c_contiguous else [s // a.itemsize for s in a.strides]
        entries.append(f'  {{file = "{f}", ctype = "{CTYPES[a.dtype.name]}", '
                       f'offset = {offset}, dims = {{{", ".join(map(str, a.shape))}}}, '
                       f'strides = {{{", ".join(map(str, strides))}}}}},')
        views.append((i, a, base, offset, f))
    manifest = tmp_path / "manifest.lua"
    manifest.write_text(f'return {{module = "{name}", result = "{tmp_path / "result.txt"}", '
                        f'args = {{\n' + "\n".join(entries) + "\n}}\n")
    res = subprocess.run([LUAJIT, str(tmp_path / "driver.lua"), str(tmp_path), str(manifest)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    for i, a, base, offset, f in views:
        new_base = np.frombuffer((tmp_path / f"arg{i}.bin.out").read_bytes(),
                                 dtype=base.dtype).copy()
        run_args[i] = _view(new_base, offset, a)
    return run_args, _parse_result((tmp_path / "result.txt").read_text().strip())


def _parse_result(text: str):
    if text == "nil":
        return None
    if text in ("true", "false"):
        return text == "true"
    if text.endswith("LL"):                # int64_t 5LL, uint64_t 5ULL
        return int(text.rstrip("UL"))
    return float(text)


LOOP_CASES = [c for c in CASES if c.kernel._untyped()[0].kind == "loop"
              and c.name not in ("column_sums_total_max", "made_scratch_and_output")
              and not c.name.startswith("complex_")]       # refused: test_kernel_complex


def test_a_kernel_that_makes_tensors_is_not_exported():
    from kernel_corpus import column_sums_total_max, made_scratch_and_output
    with pytest.raises(KernelCompileError, match="makes 'sums'; a standalone module has no "
                                                 "launcher"):
        export(column_sums_total_max, "f32[:,:]")
    with pytest.raises(KernelCompileError, match="makes 'prefix'"):
        export(made_scratch_and_output, "f32[:], int")


@needs_luajit
@pytest.mark.parametrize("case", LOOP_CASES, ids=lambda c: c.name)
def test_exported_corpus_kernels_match_the_reference_under_luajit(case, tmp_path):
    args = case.make(np.random.default_rng(0))
    ref_args = [_copy_keep_layout(a) for a in args]
    want = case.kernel.on("numpy")(*ref_args)
    got_args, got = run_under_luajit(case.kernel, args, tmp_path)
    for name, a, b in zip(case.kernel.params, got_args, ref_args):
        if isinstance(b, np.ndarray):
            if b.dtype.kind in "biu":
                np.testing.assert_array_equal(a, b, err_msg=name)
            else:
                np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64),
                                           rtol=case.rtol, atol=case.atol, err_msg=name)
    if want is None:
        assert got is None
    else:
        np.testing.assert_allclose(float(got), float(want), rtol=case.rtol, atol=case.atol)


@needs_luajit
def test_exported_elementwise_kernel_writes_its_output(tmp_path):
    x = np.random.default_rng(1).standard_normal(1000).astype(np.float32)
    out = np.zeros_like(x)
    got_args, _ = run_under_luajit(gelu, [x, out], tmp_path, "f32[:]")   # + __out
    np.testing.assert_allclose(got_args[1], gelu.on("numpy")(x).numpy(), rtol=1e-5,
                               atol=1e-6)


@needs_luajit
@pytest.mark.parametrize("debug", [True, False])
def test_exported_module_reports_out_of_bounds(tmp_path, debug):
    # No launcher guards a standalone module: what a launch guard would prove in
    # range is checked at run time, debug or not.
    def oob(x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = x[i + 1]
    k = lo.kernel(oob)
    export(k, "f32[:], f32[:]", tmp_path / "oob.lua", debug=debug)
    script = tmp_path / "run.lua"
    script.write_text(textwrap.dedent(f"""\
        package.path = "{tmp_path}/?.lua;" .. package.path
        local ffi = require("ffi")
        local k = require("oob")
        local x, out = ffi.new("float[4]"), ffi.new("float[4]")
        local ok, err = pcall(k.run, x, 4, out, 4)
        io.write(tostring(ok), " ", err)
    """))
    res = subprocess.run([LUAJIT, str(script)], capture_output=True, text=True, timeout=60)
    assert res.stdout.startswith("false ")
    assert "index 4 is out of bounds for axis 0 of 'x' with size 4 (in kernel 'oob')" \
        in res.stdout


# --- the command line -------------------------------------------------------------------------

KERNEL_FILE = textwrap.dedent("""\
    import langone as lo

    @lo.kernel
    def scale(a, x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = a * x[i]
""")


def test_cli_writes_the_module(tmp_path, capsys):
    src = tmp_path / "kernels_mod.py"
    src.write_text(KERNEL_FILE)
    out = tmp_path / "scale.lua"
    assert cli.main([f"{src}:scale", "--signature", "f32, f32[:], f32[:]", "-o",
                     str(out)]) == 0
    assert "-- Signature: scale(a: fp32, x: fp32[:], out: fp32[:])" in out.read_text()
    assert f"wrote {out}" in capsys.readouterr().out


@pytest.mark.parametrize("target, message", [
    ("nofile.py:scale", "no such file"),
    ("{src}:missing", r"has no 'missing'; kernels it defines: scale"),
    ("{src}", "write module.py:kernel"),
])
def test_cli_errors_are_one_line_with_advice(tmp_path, capsys, target, message):
    src = tmp_path / "kernels_mod.py"
    src.write_text(KERNEL_FILE)
    assert cli.main([target.format(src=src), "-s", "f32, f32[:], f32[:]"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("langone lua-export: ")
    import re
    assert re.search(message, err), err


def test_cli_reports_signature_errors(tmp_path, capsys):
    src = tmp_path / "kernels_mod.py"
    src.write_text(KERNEL_FILE)
    assert cli.main([f"{src}:scale", "-s", "f32[:]", "-o", str(tmp_path / "k.lua")]) == 2
    assert "takes 3 parameter(s) (a, x, out)" in capsys.readouterr().err


def test_compile_errors_point_at_the_kernel_line():
    def bad(x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = x
    with pytest.raises(lo.KernelCompileError, match=r"test_lua_export.py:\d+:\d+.*'x' is a "
                                                     r"tensor"):
        export(lo.kernel(bad), "f32[:], f32[:]")
