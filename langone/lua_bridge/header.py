"""The comment header of a generated Lua module: signature, parameters, example.

It documents, for whoever ``require``\\ s an exported module, how to call
``M.run``: each parameter's Lua arguments (pointer, sizes, strides) and a
usage example, followed by the kernel's typed IR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..dtypes import bf16, bool_, fp16, int64
from ..kernels import ir
from . import luasrc

if TYPE_CHECKING:
    from .render import Emitter


def type_text(t: Any) -> str:
    if isinstance(t, ir.TensorType):
        return str(t)
    return getattr(t, "name", str(t))


def signature_text(k: ir.Kernel) -> str:
    ret = f" -> {type_text(k.return_type)}" if k.return_type is not None else ""
    return f"{k.name}(" + ", ".join(f"{p.name}: {type_text(p.type)}" for p in k.params) \
        + ")" + ret


def _param_doc(p: ir.Param, em: Emitter) -> list[str]:
    if not p.is_tensor:
        t = p.type
        what = "boolean" if t.is_bool else "number" + (
            " (an integer below 2^52 in magnitude)" if t is int64 else "")
        return [f"--   {em.names(p.name)}: {what} ({t.name} scalar)"]
    info = em.tensors[p.name]
    c = luasrc.CTYPE[info.dtype.name]
    bits = " holding fp16 bits" if info.dtype is fp16 else \
        " holding bfloat16 bits" if info.dtype is bf16 else \
        " holding 0/1" if info.dtype is bool_ else ""
    lines = [f"--   {info.ptr}: {c}* (cdata pointer or address){bits}; "
             f"{info.dtype.name} tensor, {info.ndim}-D, "
             + ("C-contiguous" if info.contiguous else "strided")]
    if info.shape:
        lines.append(f"--   {', '.join(info.shape)}: " + (
            "its size" if info.ndim == 1 else "its sizes, axis by axis"))
    if not info.contiguous:
        lines.append(f"--   {', '.join(info.strides)}: its strides, in ELEMENTS")
    return lines


def _example(k: ir.Kernel, em: Emitter) -> list[str]:
    args, decls = [], []
    for p in k.params:
        if not p.is_tensor:
            args.append("true" if p.type.is_bool else "2")
            continue
        info = em.tensors[p.name]
        c = luasrc.CTYPE[info.dtype.name]
        sizes = [str(4 + 2 * d) for d in range(info.ndim)]
        total = " * ".join(sizes) or "1"
        decls.append(f"--   local {info.ptr} = ffi.new(\"{c}[?]\", {total})")
        args += [info.ptr] + sizes
        if not info.contiguous:
            strides, acc = [], 1
            for s in reversed(sizes):
                strides.insert(0, str(acc))
                acc *= int(s)
            args += strides
    call = f"k.run({', '.join(args)})"
    mod = em.module_name
    return (["--   local ffi = require(\"ffi\")",
             f"--   local k = require(\"{mod}\")       -- this file, saved as {mod}.lua"]
            + decls + ["--   " + (f"local result = {call}" if k.return_type else call)])


def header(k: ir.Kernel, em: Emitter) -> str:
    ret = k.return_type
    lines = [
        f"-- LangOne kernel {k.name!r} as a LuaJIT module (generated from its typed IR; "
        "do not edit).",
        f"-- Source: {k.filename}",
        "-- Needs LuaJIT 2.1 and its ffi and bit libraries only; no LangOne runtime.",
        "--",
        f"-- Signature: {signature_text(k)}",
        "--   (T[:,:] is a 2-D tensor of element type T; '~' marks a strided one)",
        "--",
        f"-- Call: M.run({', '.join(em.run_params())})",
    ]
    for p in k.params:
        lines += _param_doc(p, em)
    lines += [
        "-- Returns: " + ("nothing (results are written into the tensors)" if ret is None
                          else f"the {ret.name} result as a "
                          + ("boolean" if ret.is_bool else
                             "number, or an int64_t cdata" if ret is int64 else "number")),
        "--",
        "-- Memory layout: row-major (C order). Element (i, j) of a contiguous 2-D tensor",
        "-- t is t[i * t_n1 + j]; a strided tensor's element is t[i * t_s0 + j * t_s1]",
        "-- with strides counted in elements, not bytes. fp16/bf16 are uint16_t bits,",
        "-- bool is uint8_t 0/1. Indices are checked here only where LangOne's launch-time"
        "\n-- shape guards cannot prove them in range"
        + (" (every access in this debug build)." if em.debug else
           " (e.g. x[idx[i]]); call it with shapes the guards accept."),
        "--",
        "-- Example:",
        *_example(k, em),
        "--",
        "-- Typed IR:",
        *("--   " + line for line in ir.format_kernel(k).splitlines()),
    ]
    return "\n".join(lines)
