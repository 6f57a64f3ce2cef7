"""The ``"lua"`` kernel backend: typed IR -> LuaJIT module -> sandboxed in-process runs.

``render`` gives the module text (:func:`lua_module`: the Lua target lowering
:mod:`.lower`, then :mod:`.render`); ``compile`` loads it once
into the sandboxed LuaJIT (:mod:`.runtime`) and returns a launcher made for
the call signature: it passes each tensor as the address of its buffer (no
copy), its sizes and, for strided tensors, its strides in elements; scalars
as Lua numbers or booleans. The launcher is generated Python code so a call
costs little more than lupa's own call (about 1-2 us with three tensors).

Addresses are read from the ndarray's ``data`` field (at ``object.__basicsize__``
in the object, checked against ``__array_interface__`` once); where that
check fails (an unusual CPython build) ``__array_interface__`` is used.

Example:
    >>> import numpy as np, langone as lo
    >>> @lo.kernel
    ... def scale(x, out):
    ...     for i in lo.grid(x.shape[0]):
    ...         out[i] = 2 * x[i]
    >>> x = np.arange(3, dtype=np.float32); out = np.empty_like(x)
    >>> scale.on("lua")(x, out); out
    array([0., 2., 4.], dtype=float32)
"""

from __future__ import annotations

import ctypes

import numpy as np

from ..errors import KernelArgumentError, KernelIndexError, KernelRuntimeError
from ..kernels import ir
from ..kernels.passes import lower_pow, lower_range
from . import lower, render, runtime
from .intrange import NUM_BITS

_UNSET = object()


def _address_reader():
    """A fast ``array -> data address`` function, verified on probe arrays."""
    offset = object.__basicsize__
    from_address = ctypes.c_void_p.from_address

    def fast(a):
        return from_address(id(a) + offset).value or 0

    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    probes = [base, base[1:, ::-2], base.T, np.zeros(0, np.int8), np.ones(3, np.bool_)]
    if all(fast(p) == p.__array_interface__["data"][0] for p in probes):
        return fast, True
    return (lambda a: a.__array_interface__["data"][0]), False


_ADDRESS, FAST_ADDRESSES = _address_reader()
_INT_LIMIT = 1 << NUM_BITS


def _int64_arg(v, kind: str = "int64") -> int:
    v = int(v)
    if -_INT_LIMIT < v < _INT_LIMIT:
        return v
    raise KernelArgumentError(
        f"{kind} argument {v} is too large for the lua backend: Lua numbers hold integers "
        f"exactly below 2^{NUM_BITS} ({_INT_LIMIT}); pass it as a one-element {kind} "
        f"tensor, or use another backend")


def _uint64_arg(v) -> int:
    return _int64_arg(v, "uint64")


def _elem_strides(a: np.ndarray, itemsize: int) -> tuple:
    st = a.strides
    if any(s % itemsize for s in st):
        raise KernelArgumentError(
            f"tensor strides {st} are not multiples of its item size {itemsize}; the lua "
            f"backend addresses elements, so pass np.ascontiguousarray(a) instead")
    return tuple(s // itemsize for s in st)


def _int64_result(r) -> np.int64:
    if type(r) is tuple:                    # (signed high word, low word) from Lua
        return np.int64((r[0] << 32) + r[1])
    return np.int64(r)


def _uint64_result(r) -> np.uint64:
    """A uint64 result crosses as its int64 bits (see runtime's split_int64)."""
    return np.uint64(int(_int64_result(r)) % (1 << 64))


def _translate(exc, name: str) -> Exception:
    msg = str(exc)
    if "is out of bounds for axis" in msg:       # raised by the debug bounds check
        return KernelIndexError(msg.split("\nstack traceback:")[0])
    if lower_pow.NEGATIVE_POWER in msg or lower_range.STEP_ZERO in msg:   # chkpow, zero steps
        return KernelRuntimeError(msg.split("\nstack traceback:")[0])
    return runtime.LuaKernelError(f"kernel {name!r} failed in LuaJIT: {msg}")


def _read_only(kernel: str, param: str) -> KernelArgumentError:
    return KernelArgumentError(
        f"kernel {kernel!r} writes to {param!r}, but that array is read-only (a broadcast "
        f"view or a frozen buffer); pass a writable array, e.g. np.array(a)")


def lua_module(k: ir.Kernel, options: dict | None = None,
               module_name: str | None = None) -> str:
    """The Lua module of the pipeline's final IR ``k``: lowered for LuaJIT, then rendered."""
    return render.render_module(lower.lower(k, options), options, module_name, typed=k)


def launcher_source(k: ir.Kernel) -> str:
    """Python source of the per-signature launcher (see :func:`make_launcher`)."""
    n = len(k.params)
    names = [f"a{i}" for i in range(n)]
    written = {s.tensor for s in ir.walk(k) if isinstance(s, (ir.Store, ir.Atomic))}
    lines = ["def launch(args):"]
    if n:
        lines.append(f"    {', '.join(names)}{',' if n == 1 else ''} = args")
    call = []
    for p, a in zip(k.params, names):
        t = p.type
        if isinstance(t, ir.TensorType):
            if p.name in written:          # LuaJIT would write into read-only memory
                lines.append(f"    if not {a}.flags.writeable:")
                lines.append(f"        raise _read_only(_name, {p.name!r})")
            call.append(f"_addr({a})")
            if t.ndim == 1:
                call.append(f"{a}.shape[0]")
            elif t.ndim:
                lines.append(f"    {a}_shape = {a}.shape")
                call += [f"{a}_shape[{d}]" for d in range(t.ndim)]
            if not t.contiguous and t.ndim:
                lines.append(f"    {a}_st = _strides({a}, {t.dtype.itemsize})")
                call += [f"{a}_st[{d}]" for d in range(t.ndim)]
        elif t.is_bool:
            call.append(f"bool({a})")
        elif t.is_floating:
            call.append(f"float({a})")
        elif t.name == "int64":
            call.append(f"_int64({a})")
        elif t.name == "uint64":
            call.append(f"_uint64({a})")
        else:
            call.append(f"int({a})")
    lines += ["    try:",
              f"        r = _run({', '.join(call)})",
              "    except _LuaError as exc:",
              "        raise _translate(exc, _name) from None"]
    ret = k.return_type
    if ret is None:
        lines.append("    return None")
    elif ret.name == "int64":
        lines.append("    return _int64_result(r)")
    elif ret.name == "uint64":
        lines.append("    return _uint64_result(r)")
    elif ret.is_floating:
        lines.append("    return _ret(-0.0) if r.__class__ is tuple else _ret(r)")
    else:
        lines.append("    return _ret(r)")
    return "\n".join(lines) + "\n"


def _result_kind(ret) -> str | None:
    """How a kernel's result crosses from Lua (see :meth:`runtime.Sandbox.entry`)."""
    if ret is None:
        return None
    if ret.name in ("int64", "uint64"):
        return "int64"
    return "float" if ret.is_floating else None


def make_launcher(k: ir.Kernel, run, lua_error):
    """``launch(args) -> result`` for one typed kernel and its Lua ``run``."""
    scope = {"_run": run, "_LuaError": lua_error, "_translate": _translate,
             "_name": k.name, "_addr": _ADDRESS, "_strides": _elem_strides,
             "_int64": _int64_arg, "_int64_result": _int64_result, "_read_only": _read_only,
             "_uint64": _uint64_arg, "_uint64_result": _uint64_result,
             "_ret": k.return_type.numpy.type if k.return_type is not None else None}
    exec(compile(launcher_source(k), f"<langone lua launcher {k.name}>", "exec"), scope)
    return scope["launch"]


class LuaBackend:
    """Backend protocol object (see :mod:`langone.kernels.backends`)."""

    name = "lua"
    devices = ("cpu",)

    def __init__(self):
        self._why = _UNSET

    def available(self) -> str | None:
        if self._why is _UNSET:
            try:
                import lupa.luajit21  # noqa: F401
            except ImportError as exc:
                self._why = (f"lupa with LuaJIT 2.1 is not importable ({exc}); "
                             f"pip install lupa")
            else:
                self._why = None
        return self._why

    def render(self, kernel: ir.Kernel, options: dict) -> str:
        """The generated Lua module (what ``kernel.source("lua")`` shows)."""
        return lua_module(kernel, options)

    def compile(self, kernel: ir.Kernel, options: dict):
        """A launcher ``fn(args) -> result`` running the kernel in the sandbox."""
        source = lua_module(kernel, options)
        sb = runtime.sandbox()
        ret = kernel.return_type
        run = sb.entry(source, kernel.name, result=_result_kind(ret))
        return make_launcher(kernel, run, sb.LuaError)


BACKEND = LuaBackend()
