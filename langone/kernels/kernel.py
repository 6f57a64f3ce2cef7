"""``@lo.kernel``: the kernel object — specialize per call signature, cache, launch.

Example:
    >>> import numpy as np, langone as lo
    >>> @lo.kernel
    ... def saxpy(a, x, y, out):
    ...     for i in lo.grid(x.shape[0]):
    ...         out[i] = a * x[i] + y[i]
    >>> x = np.arange(4, dtype=np.float32); out = np.empty_like(x)
    >>> saxpy.on("numpy")(2.0, x, x, out); out
    array([0., 3., 6., 9.], dtype=float32)
"""

from __future__ import annotations

import functools
import inspect
import linecache
import sys
import threading
from typing import Any

import numpy as np

from .. import events
from ..events import _listeners  # mutated in place, never rebound: one truth test per call
from ..errors import (BackendUnavailable, KernelArgumentError, KernelCompileError, KernelError,
                      LangOneError, ResultMismatch)
from ..tensor._backend import empty_buffer
from ..tensor.devices import device as parse_device
from ..tensor.tensor import wrap
from . import backends, ir, launch_checks, launch_made
from .frontend import SourceInfo, get_source, parse_kernel
from .passes import Stages, lower_complex, run_pipeline
from .signature import array_of, arg_key, device_of, host_array, param_type, unwrap

_DEVICE_BACKENDS = {"cpu": ("numba", "numpy"), "cuda": ("triton",)}


def _returning_tensor(fn, dtype, dev):
    """``fn`` whose returned value (a reduction's) becomes a 0-d Tensor on the
    arguments' device, the one rule on every backend. A device backend may
    return a device 0-d array: it is wrapped as is, so nothing syncs until
    the value is read (``float(t)``, ``t.item()``)."""
    npdt = dtype.numpy

    def run(args):
        r = fn(args)
        if isinstance(r, (np.generic, int, float, bool)):
            r = np.asarray(r, npdt)
        return wrap(r, dtype, dev)
    return run


def _expanding(fn, expand):
    def run(args):
        return fn(expand(args))
    return run


class Specialization:
    """One compiled (signature, backend) pair and how to launch it."""

    __slots__ = ("kernel", "stages", "backend", "fn", "out_dtype", "elementwise",
                 "source", "device", "_out")

    def __init__(self, kernel: "Kernel", stages: Stages, backend_name: str):
        self.kernel = kernel
        self.stages = stages
        self.backend = backend_name
        b = backends.get(backend_name)
        options = kernel.options
        if getattr(b, "wants_function", False):      # the python backend runs the function
            options = {**options, "function": kernel.py_func}
            final, expand = stages.final, None
        else:
            final, expand = stages.for_backends(), lower_complex.split_args(stages.final)
        self.source = b.render(final, options)
        fn = b.compile(final, options)
        if expand is not None:                       # complex arguments as their parts
            fn = _expanding(fn, expand)
        self.fn = launch_checks.wrap(fn, stages, kernel.__name__)
        self.elementwise = stages.final.kind == "elementwise"
        self.out_dtype = stages.final.params[-1].type.dtype if self.elementwise else None
        self.device = None               # set by place() (the key fixes it)
        self._out = None                 # (numpy dtype, Device) of an elementwise result

    @property
    def ir(self) -> ir.Kernel:
        return self.stages.final

    def place(self, device: str) -> None:
        """Fix the device this specialization runs on (and its results live on)."""
        self.device = device
        final = self.stages.final
        if self.elementwise:
            self._out = (self.out_dtype.numpy, parse_device(device))
        elif final.made or final.results:
            plain = getattr(backends.get(self.backend), "wants_function", False)
            self.fn = launch_made.wrap_launch(self.fn, final, parse_device(device), plain)
        elif final.return_type is not None:
            self.fn = _returning_tensor(self.fn, self.stages.final.return_type,
                                        parse_device(device))

    def new_output(self, shape: tuple):
        """An uninitialized result tensor of ``shape`` from the pool (elementwise
        kernels): the dtype and device are fixed by the specialization, so this
        skips the argument parsing of ``lo.empty``."""
        npdt, dev = self._out
        return wrap(empty_buffer(shape, npdt, dev), self.out_dtype, dev)


class Kernel:
    """A compiled-on-demand kernel. Create with :func:`kernel` / ``@lo.kernel``."""

    __langone_kernel__ = True

    def __init__(self, fn, *, backend: str | None = None, precision: str | None = None,
                 cache: bool = True, debug: bool = False, check: bool = False,
                 fastmath: bool = False, boundscheck: bool = True,
                 _shared: dict | None = None):
        if _shared is None:               # .on() views reuse an already checked function
            _check_kernel_function(fn)
        self.py_func = fn
        self.__name__ = getattr(fn, "__name__", "kernel")
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__wrapped__ = fn
        self.backend = backend
        self.options = {"precision": precision, "cache": cache, "debug": debug,
                        "check": check, "fastmath": fastmath, "boundscheck": boundscheck}
        # Shared between a kernel and its .on(...) views: one frontend, one typing.
        self._shared = _shared if _shared is not None else {
            "untyped": None, "info": None, "typed": {}, "lock": threading.RLock(),
            "last": None}
        self._entries: dict = {}
        self._elementwise = False         # set after the first specialization
        self._flat_plans: dict = {}       # elementwise: arg key -> (entry, tensor positions)
        self._check = check
        # Keyword-only parameters: Python must bind every call (a positional call
        # that fills them is an error, not a cache hit).
        self._keyword_only = bool(getattr(getattr(fn, "__code__", None),
                                          "co_kwonlyargcount", 0))

    # -- the untyped IR, parsed once ------------------------------------------
    def _untyped(self) -> tuple[ir.Kernel, SourceInfo]:
        sh = self._shared
        if sh["untyped"] is None:
            _, info = get_source(self.py_func)
            sh["untyped"] = parse_kernel(self.py_func)
            sh["info"] = info
        return sh["untyped"], sh["info"]

    def _used_names(self) -> frozenset:
        sh = self._shared
        if "used" not in sh:
            sh["used"] = frozenset(n.id for n in ir.walk(self._untyped()[0])
                                   if isinstance(n, ir.Name))
        return sh["used"]

    @property
    def params(self) -> tuple[str, ...]:
        """The parameter names, in launch order (keyword-only ones last)."""
        code = self.py_func.__code__
        return code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]

    # -- calling ------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if kwargs or self._keyword_only:  # one truth test: the hot path stays cheap
            args = self._bind(args, kwargs)
        if self._elementwise:
            return self._call_elementwise(args)
        key = tuple(map(arg_key, args))
        entry = self._entries.get(key)
        if entry is None:
            if len(args) != len(self.params):     # defaults (or a binding error)
                return self(*self._bind(args, {}))
            entry = self._specialize(args, key)
            if entry.elementwise:
                self._elementwise = True
                return self._call_elementwise(args)
        if self._check and entry.backend != "numpy":
            return self._checked_call(entry, args)
        if _listeners and events.has_listeners("launch"):
            events.emit("launch", kernel=self.__name__, backend=entry.backend)
        return entry.fn(list(map(unwrap, args)))

    def _bind(self, args: tuple, kwargs: dict) -> tuple:
        """Every argument, in parameter order, bound by Python's rules (keywords,
        defaults); a binding error is a KernelArgumentError in Python's words."""
        binder = self._shared.get("binder")
        if binder is None:
            binder = self._shared["binder"] = _binder(self.py_func)
        try:
            return binder(*args, **kwargs)
        except TypeError as exc:
            raise KernelArgumentError(str(exc)) from None

    def _choose_backend(self, args: tuple) -> str:
        if self.backend is not None:
            return self.backend
        dev = device_of(args).partition(":")[0]
        for name in _DEVICE_BACKENDS.get(dev, ()):
            try:                  # probe only this device's backends, in preference order
                backends.get(name)
            except BackendUnavailable:
                continue
            return name
        raise KernelError(f"no backend can run kernel {self.__name__!r} on {dev}; "
                          f"usable backends: {', '.join(backends.usable())}")

    def _signature(self, args: tuple) -> tuple:
        names = self.params
        if len(args) != len(names):
            raise KernelArgumentError(
                f"{self.__name__}() takes {len(names)} argument(s) ({', '.join(names)}) "
                f"but {len(args)} were given")
        return tuple(param_type(a, n, self.__name__) for a, n in zip(args, names))

    def _specialize(self, args: tuple, key: tuple) -> Specialization:
        try:
            return self._specialize_uncaught(args, key)
        except KernelCompileError as exc:
            # Errors point at the user's line; the compiler's frames are noise.
            raise exc.with_traceback(None) from None
        except LangOneError:
            raise
        except Exception as exc:          # a compiler bug: say so, keep its traceback
            raise KernelCompileError(
                f"internal compiler error ({type(exc).__name__}: {exc})",
                hint="this is a LangOne bug: please report it with the kernel's source "
                     "and its arguments' dtypes and shapes", kernel=self.__name__) from exc

    def _specialize_uncaught(self, args: tuple, key: tuple) -> Specialization:
        sig = self._signature(args)
        untyped, info = self._untyped()
        if untyped.kind == "elementwise":
            sig = _elementwise_signature(sig, args, self)
        backend = self._choose_backend(args)
        sh = self._shared
        with sh["lock"]:
            entry = self._entries.get(key)
            if entry is not None:
                return entry
            stages = sh["typed"].get(sig)
            if stages is None:
                stages = run_pipeline(untyped, sig, info, self.options)
                sh["typed"][sig] = stages
            entry = Specialization(self, stages, backend)
            entry.place(device_of(args))
            events.emit("compile", kernel=self.__name__, backend=backend,
                        signature=str(sig))
            self._entries[key] = entry
            sh["last"] = sig
        return entry

    def _call_elementwise(self, args: tuple):
        key = tuple(map(arg_key, args))
        plan = self._flat_plans.get(key)
        if plan is not None:
            out = self._call_flat(plan, args)
            if out is not None:
                return out
        if len(args) != len(self.params):         # defaults (or a binding error)
            return self._call_elementwise(self._bind(args, {}))
        return self._call_broadcast(args, key)

    def _call_flat(self, plan: tuple, args: tuple):
        """The common case on one screen: every tensor the expression uses is
        C-contiguous (the key says so) and, checked here, of one shape; the
        kernel then runs over flat 1-D views. None: not the case this time."""
        entry, tensors = plan
        vals = list(map(unwrap, args))
        shape = vals[tensors[0]].shape
        for p in tensors:
            if vals[p].shape != shape:
                return None
        if len(shape) != 1:
            if not shape:
                return None
            for p in tensors:
                vals[p] = vals[p].reshape(-1)
        out = entry.new_output(shape)
        vals.append(out._data if len(shape) == 1 else out._data.reshape(-1))
        if _listeners and events.has_listeners("launch"):
            events.emit("launch", kernel=self.__name__, backend=entry.backend)
        entry.fn(vals)
        return out

    def _call_broadcast(self, args: tuple, key: tuple):
        views, out_shape, nd = _broadcast_views(args, self)
        entry = self._entries.get(key + (nd,))
        if entry is None:
            entry = self._specialize(args, key + (nd,))
        if nd == 1 and key not in self._flat_plans and not self._check \
                and entry.device == "cpu":
            self._remember_flat(entry, args, key)
        out = entry.new_output(out_shape)
        out_view = out._data.reshape(-1) if nd == 1 else out._data
        if _listeners and events.has_listeners("launch"):
            events.emit("launch", kernel=self.__name__, backend=entry.backend)
        entry.fn(views + [out_view])
        if self._check and entry.backend != "numpy":
            expected = self.on("numpy")(*args)
            _compare(self.__name__, entry.backend, "result", out._data, expected._data)
        return out

    def _remember_flat(self, entry: Specialization, args: tuple, key: tuple) -> None:
        """Let later calls with this key take :meth:`_call_flat`, if it can apply."""
        arrays = _ew_arrays(args, self)
        tensors = tuple(i for i, a in enumerate(arrays) if a is not None)
        if tensors and all(arrays[i].flags.c_contiguous for i in tensors):
            self._flat_plans[key] = (entry, tensors)

    # -- views on the same kernel --------------------------------------------------
    def on(self, backend: str) -> "Kernel":
        """The same kernel bound to ``backend`` ("numpy", "numba", ...)."""
        backends.get(backend)                       # unknown/unusable: clear error now
        k = Kernel(self.py_func, backend=backend, _shared=self._shared, **self.options)
        return k

    def specialization(self, *args, backend: str | None = None) -> Specialization:
        """The compiled entry for these example arguments (compiling if needed)."""
        k = self.on(backend) if backend else self
        key = tuple(map(arg_key, args))
        if self._untyped()[0].kind == "elementwise":
            key = key + (_broadcast_views(args, self)[2],)
        return k._entries.get(key) or k._specialize(args, key)

    @property
    def ir(self) -> str:
        """Printable IR: the typed IR of the latest specialization, else untyped."""
        sh = self._shared
        if sh["last"] is not None:
            return ir.format_kernel(sh["typed"][sh["last"]].final)
        return ir.format_kernel(self._untyped()[0])

    def stages(self, *args) -> Stages:
        """Every compiler stage's output for the signature of ``args``."""
        return self.specialization(*args, backend="numpy").stages

    def source(self, backend: str | None = None, *args) -> str:
        """Generated code for ``backend`` (default: this kernel's) and ``args``'
        signature; without args, for the latest signature the kernel ran with."""
        name = backend or self.backend or "numba"
        if args:
            return self.specialization(*args, backend=name).source
        sh = self._shared
        if sh["last"] is None:
            raise KernelError(f"{self.__name__} has not been called yet, so it has no "
                              f"signature; pass example arguments: "
                              f"{self.__name__}.source({name!r}, *args)")
        stages = sh["typed"][sh["last"]]
        b = backends.get(name)
        plain = getattr(b, "wants_function", False)
        return b.render(stages.final if plain else stages.for_backends(), self.options)

    def __repr__(self) -> str:
        return f"<langone kernel {self.__name__}" + \
            (f" on {self.backend}>" if self.backend else ">")

    # -- check mode ------------------------------------------------------------------
    def _checked_call(self, entry: Specialization, args: tuple) -> Any:
        """Run the reference on copies first, then the backend; compare everything."""
        import copy
        ref_args = [copy.deepcopy(unwrap(a)) for a in args]
        expected = self.on("numpy")(*ref_args)
        result = entry.fn([unwrap(a) for a in args])
        for name, a, r in zip(self.params, args, ref_args):
            arr = host_array(a)
            if arr is not None:
                _compare(self.__name__, entry.backend, f"argument {name!r}", arr, r)
        if isinstance(expected, tuple):
            for n, (got, want) in enumerate(zip(result, expected)):
                _compare(self.__name__, entry.backend, f"return value {n}", got, want)
        elif expected is not None:
            _compare(self.__name__, entry.backend, "return value", result, expected)
        return result


def _compare(kernel: str, backend: str, what: str, got: Any, want: Any) -> None:
    got, want = np.asarray(got), np.asarray(want)
    if got.dtype.kind in "biu":
        bad = got != want
    else:
        g, w = got.astype(np.float64), want.astype(np.float64)
        tol = 1e-2 if got.dtype.itemsize <= 2 else 1e-4 if got.dtype.itemsize == 4 else 1e-9
        bad = ~np.isclose(g, w, rtol=tol, atol=tol, equal_nan=True)
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0]) if got.ndim else ()
        raise ResultMismatch(
            f"check=True: kernel {kernel!r} on {backend} differs from the numpy reference "
            f"in {what}: {int(np.sum(bad))} element(s) differ; first at index {idx}: "
            f"got {got[idx].item()!r}, reference {want[idx].item()!r}")


def _ew_arrays(args: tuple, k: "Kernel") -> list:
    """Host arrays of the tensor arguments the expression uses (None elsewhere).

    Like a numpy expression, only the tensors that appear in it broadcast into
    the output's shape; an unused tensor argument is passed through untouched.
    """
    used = k._used_names()
    return [array_of(a) if n in used else None for a, n in zip(args, k.params)]


def _array_module(arr: Any):
    """numpy for host arrays, cupy for CUDA ones (imported only when one is seen)."""
    if isinstance(arr, np.ndarray):
        return np
    import importlib
    return importlib.import_module(type(arr).__module__.partition(".")[0])


def _elementwise_signature(sig: tuple, args: tuple, k: "Kernel") -> tuple:
    """Used tensor params take the broadcast output's ndim (1 when flattened)."""
    arrays = _ew_arrays(args, k)
    nd = _flat_ndim(arrays, _out_shape(arrays, k))
    return tuple(ir.TensorType(t.dtype, nd, nd == 1) if arr is not None else t
                 for t, arr in zip(sig, arrays))


def _out_shape(arrays: list, k: "Kernel") -> tuple:
    shapes = [a.shape for a in arrays if a is not None]
    if shapes and shapes.count(shapes[0]) == len(shapes):
        return shapes[0]                 # all alike: np.broadcast_shapes costs ~1 us
    try:
        return np.broadcast_shapes(*shapes) if shapes else ()
    except ValueError:
        raise KernelArgumentError(
            f"{k.__name__}: argument shapes {', '.join(map(str, shapes))} do not "
            f"broadcast together") from None


def _flat_ndim(arrays: list, out_shape: tuple) -> int:
    if not out_shape:
        return 1
    if all(a is None or (a.shape == out_shape and a.flags.c_contiguous) for a in arrays):
        return 1
    return len(out_shape) if len(out_shape) <= 3 else 1


def _broadcast_views(args: tuple, k: Kernel) -> tuple[list, tuple, int]:
    arrays = _ew_arrays(args, k)
    out_shape = _out_shape(arrays, k)
    nd = _flat_ndim(arrays, out_shape)
    views = []
    for a, arr in zip(args, arrays):
        if arr is None:
            views.append(unwrap(a))
        elif nd == 1 and arr.shape == out_shape and arr.flags.c_contiguous:
            views.append(arr.reshape(-1))
        elif nd == 1:
            xp = _array_module(arr)
            views.append(xp.ascontiguousarray(xp.broadcast_to(arr, out_shape)).reshape(-1)
                         if out_shape else arr.reshape(1))
        else:
            views.append(_array_module(arr).broadcast_to(arr, out_shape))
    return views, out_shape, nd


def _binder(fn):
    """A function with ``fn``'s name, parameters and defaults that returns its
    arguments in launch order: Python itself binds them and words the errors."""
    sig = inspect.signature(fn)
    names = [p.name for p in sig.parameters.values()]
    defaults = {p.name: p.default for p in sig.parameters.values()
                if p.default is not inspect.Parameter.empty}
    bare = inspect.Parameter.empty                      # annotations are not needed
    params = str(sig.replace(parameters=[
        p.replace(annotation=bare, default=_DefaultRef(p.name) if p.name in defaults else bare)
        for p in sig.parameters.values()], return_annotation=bare))
    src = f"def {fn.__name__}{params}:\n    return ({', '.join(names)},)\n"
    scope = {f"_d_{n}": v for n, v in defaults.items()}
    exec(src, scope)
    return scope[fn.__name__]


class _DefaultRef:
    """Renders as the name of a default's value in the binder's scope."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"_d_{self.name}"


def _check_kernel_function(fn) -> None:
    """Refuse what cannot be a kernel when it is decorated, not at its first call.

    Raises:
        KernelCompileError: ``fn`` is already a kernel, or not a Python function;
            the error points at the user's line that called ``lo.kernel``.
    """
    if getattr(fn, "__langone_kernel__", False):
        name = getattr(fn, "__name__", "kernel")
        raise _decoration_error(
            f"{name!r} is already a kernel; lo.kernel was applied to it twice",
            "apply @lo.kernel once; use kernel.on(backend) for another backend", name)
    if not inspect.isfunction(fn):
        raise _decoration_error(
            f"lo.kernel expects a Python function, got {type(fn).__name__} {fn!r:.60}",
            "decorate a def function: @lo.kernel above 'def name(args): ...'")


def _decoration_error(message: str, hint: str, name: str | None = None
                      ) -> KernelCompileError:
    """A compile error at the first frame outside LangOne (the decorating line)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("langone"):
        frame = frame.f_back
    if frame is None:
        return KernelCompileError(message, hint=hint, kernel=name)
    filename, lineno = frame.f_code.co_filename, frame.f_lineno
    line = linecache.getline(filename, lineno) or None
    col = len(line) - len(line.lstrip()) if line else None
    exc = KernelCompileError(message, filename=filename, lineno=lineno, col=col,
                             source_line=line, hint=hint, kernel=name)
    return exc.with_traceback(None)


def kernel(fn=None, *, backend: str | None = None, precision: str | None = None,
           cache: bool = True, debug: bool = False, check: bool = False,
           fastmath: bool = False, boundscheck: bool = True):
    """Compile a Python function into a LangOne kernel (usable bare or with options).

    Args:
        fn: the kernel function (see the kernel language in DESIGN.md).
        backend: force a backend ("numpy", "numba", ...); default: from the
            arguments' device (cpu -> numba).
        precision: compute precision annotation (checked by the analyzer).
        cache: keep generated code in the on-disk cache (``LANGONE_CACHE_DIR``).
        debug: bounds-check every tensor access (IndexError naming the line).
        check: also run the numpy reference and raise on any mismatch.
        fastmath: let the backend reassociate floating-point math.
        boundscheck: range-check the accesses the launch-time guards cannot prove
            (data-dependent indices such as ``x[idx[i]]``); False skips those
            checks (an out-of-range index is then undefined behaviour). Negative
            indices count from the end either way.
    """
    def wrap(f):
        k = Kernel(f, backend=backend, precision=precision, cache=cache, debug=debug,
                   check=check, fastmath=fastmath, boundscheck=boundscheck)
        functools.update_wrapper(k, f, updated=())
        return k
    return wrap(fn) if fn is not None else wrap
