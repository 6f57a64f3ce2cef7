"""Standalone export: a kernel and a signature -> a Lua module for embedded LuaJIT.

The file is the module ``kernel.source("lua")`` shows for that signature: it
needs only LuaJIT's ``ffi`` and ``bit``, and its header states the signature,
the calling convention, the memory layout and an example.

Signatures are comma-separated parameter types, in the kernel's order:

* tensors: ``f32[:]``, ``i32[:,:]``, ``bf16[:,:,:]``; a trailing ``~``
  (``f32[:,:]~``) marks a strided tensor, which then takes strides (in
  elements) after its sizes;
* scalars: a dtype name (``f32``, ``f64``, ``i64``, ``u8``, ``bool``, ...), or
  ``float`` / ``int`` for a Python number (weak in promotion, NEP 50: ``a * x``
  with ``a: float`` and ``x: f32[:]`` computes in fp32, as a Python float does
  when the kernel is called from Python).

Elementwise kernels (no ``lo.grid``) get one more parameter, the output
``__out``, of the broadcast shape; exported, their inputs must already have
that shape.

Example:
    >>> import langone as lo
    >>> @lo.kernel
    ... def axpy(a, x, y):
    ...     for i in lo.grid(x.shape[0]):
    ...         y[i] += a * x[i]
    >>> src = export(axpy, "float, f32[:], f32[:]")
    >>> src.splitlines()[4]
    '-- Signature: axpy(a: fp64, x: fp32[:], y: fp32[:])'
"""

from __future__ import annotations

import inspect
import os
import re
import tempfile
from pathlib import Path

from .. import dtypes
from ..errors import KernelArgumentError, KernelCompileError, UnsupportedPrecision
from ..kernels import ir
from .backend import lua_module

_TENSOR = re.compile(r"^(?P<dtype>[A-Za-z_][A-Za-z0-9_]*)\s*\[(?P<dims>[^\]]*)\]\s*"
                     r"(?P<strided>~?)$")
_WEAK = {"float": ir.Weak("f"), "int": ir.Weak("i")}


def _split(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip() or parts:
        parts.append(cur.strip())
    return parts


def parse_type(text: str, where: str = "signature"):
    """One parameter type: a TensorType, a DType, or a weak Python scalar type.

    Example:
        >>> parse_type("f32[:,:]~")
        TensorType(dtype=DType('fp32'), ndim=2, contiguous=False)
    """
    text = text.strip()
    if text in _WEAK:
        return _WEAK[text]
    m = _TENSOR.match(text)
    name = m.group("dtype") if m else text
    try:
        dt = dtypes.dtype(name)
    except (UnsupportedPrecision, TypeError, ValueError) as exc:
        raise KernelArgumentError(f"{where}: {text!r} is not a type: {exc}; write a dtype "
                                  f"(f32, i64, bool, ...), float, int, or a tensor "
                                  f"like f32[:] / f32[:,:]~") from None
    if not m:
        if "[" in text:
            raise KernelArgumentError(f"{where}: cannot read tensor type {text!r}; write "
                                      f"one ':' per axis, as f32[:] or f32[:,:] (add ~ "
                                      f"for a strided tensor)")
        return dt
    dims = [d.strip() for d in m.group("dims").split(",")]
    if not all(d == ":" for d in dims):
        raise KernelArgumentError(f"{where}: cannot read tensor type {text!r}; write one "
                                  f"':' per axis, as f32[:] or f32[:,:]")
    return ir.TensorType(dt, len(dims), not m.group("strided"))


def parse_signature(signature, params: tuple, kernel_name: str) -> tuple:
    """The signature (a string, or a sequence of strings/types) as IR types."""
    entries = _split(signature) if isinstance(signature, str) else list(signature)
    if len(entries) != len(params):
        raise KernelArgumentError(
            f"signature {signature!r} has {len(entries)} type(s) but kernel "
            f"{kernel_name!r} takes {len(params)} parameter(s) ({', '.join(params)}); "
            f"give one type per parameter, e.g. \"f32, f32[:], f32[:]\"")
    out = []
    for name, entry in zip(params, entries):
        if isinstance(entry, str):
            entry = parse_type(entry, f"signature of {kernel_name!r}, parameter {name!r}")
        out.append(entry)
    return tuple(out)


def _as_kernel(kernel):
    if getattr(kernel, "__langone_kernel__", False):
        return kernel
    if inspect.isfunction(kernel):      # other callables: the error below, not lo.kernel's
        from ..kernels.kernel import kernel as make_kernel
        return make_kernel(kernel)
    raise KernelArgumentError(f"export() needs a @lo.kernel (or a plain function), "
                              f"got {type(kernel).__name__} {kernel!r:.60}")


def typed_kernel(kernel, signature, options: dict | None = None) -> ir.Kernel:
    """The kernel's final typed IR for ``signature`` (compile errors as usual).

    A standalone module has no launcher to check its arguments, so accesses
    that launch guards would prove in range are checked at run time instead.
    """
    from ..kernels.passes import run_pipeline
    k = _as_kernel(kernel)
    sig = parse_signature(signature, k.params, k.__name__)
    untyped, info = k._untyped()
    options = {**(options or {}), "launch_guards": False}
    try:
        final = run_pipeline(untyped, sig, info, options).final
    except KernelCompileError as exc:   # it points at the user's line: our frames are noise
        raise exc.with_traceback(None) from None
    if final.made or final.results:     # the launcher's work: a module has no launcher
        what = f"makes {final.made[0].name!r}" if final.made else "returns several values"
        raise KernelCompileError(
            f"export(): kernel {k.__name__!r} {what}; a standalone module has no launcher "
            f"to allocate tensors or collect several results",
            hint="pass the outputs as arguments and store the values into them",
            kernel=k.__name__)
    from ..kernels.passes.lower_complex import has_complex
    if has_complex(final):           # the module would take each part as an argument
        raise KernelCompileError(
            f"export(): kernel {k.__name__!r} computes with complex values, which "
            f"standalone modules do not take",
            hint="pass the real and imaginary parts as real tensors", kernel=k.__name__)
    return final


def _write_atomic(path: Path, text: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:      # name the user's file, not our temporary one
        raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def export(kernel, signature, path=None, *, debug: bool = False,
           fastmath: bool = False) -> str:
    """Write ``kernel`` specialized to ``signature`` as a standalone LuaJIT module.

    Args:
        kernel: a ``@lo.kernel`` (or a plain kernel function).
        signature: parameter types, e.g. ``"float, f32[:], f32[:], f32[:]"``
            (see the module doc), or a sequence of such strings / IR types.
        path: file to write (a directory: ``<kernel>.lua`` inside it); None
            writes nothing. The module is ``require``-able by the file's stem.
        debug: bounds-check every tensor access (errors name the kernel line).
        fastmath: compute fp32 entirely in double (see :mod:`.lower`).

    Returns:
        The module's source text.

    Example:
        >>> import langone as lo
        >>> @lo.kernel
        ... def dot(x, y):
        ...     acc = 0.0
        ...     for i in lo.grid(x.shape[0]):
        ...         acc += x[i] * y[i]
        ...     return acc
        >>> "function M.run(x, x_n0, y, y_n0)" in export(dot, "f32[:], f32[:]")
        True
    """
    typed = typed_kernel(kernel, signature, {"debug": debug, "fastmath": fastmath})
    target = None
    if path is not None:
        target = Path(path)
        if target.is_dir():
            target = target / f"{typed.name}.lua"
    stem = target.stem if target is not None else None
    source = lua_module(typed, {"debug": debug, "fastmath": fastmath}, stem)
    if target is not None:
        _write_atomic(target, source)
    return source
