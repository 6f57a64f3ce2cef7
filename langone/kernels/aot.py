"""Ahead-of-time tier of the numba backend: a first call that never imports numba.

In a new process, ``import numba`` costs ~0.2 s and loading even a *cached*
numba function ~0.2-0.4 s more (numba refreshes its typing and target
registries). So after the numba backend JIT-builds a kernel signature, a
background worker compiles that kernel's **serial** function, for exactly that
signature, with ``numba.pycc`` into a small extension module stored next to
the generated module. A later process imports the extension instead -- it does
not import numba -- and runs it for launches below the parallel threshold; the
JIT module (and numba) is imported on the first launch above the threshold.

The worker is ``python -m langone.kernels.aot worker DIR``: detached, at low
priority, one per cache directory and Python version, building queued requests
one at a time (a program that compiles fifty kernels starts one compiler, not
fifty), its output appended to ``aot-worker.log``. Files in the numba cache
directory, named after the module's cache key and a tag of this CPU (the code
is compiled for the host CPU, as the JIT's is):

* ``langone_kaot_<kernel>_<key>_<cpu><ext suffix>``: the extension, written atomically;
* ``<same>.request``: a build the worker still has to do;
* ``<same>.lock``: held while building (``O_EXCL``; ignored after 10 minutes);
* ``<same>.failed``: the build failed and is not retried automatically; the
  reason is inside. The kernel keeps running on the JIT.

A corrupt or unimportable extension is deleted and rebuilt. Kernels compiled
with ``debug=True``, kernels whose launches always run in parallel (grids but
no tensor arguments) and parameter types pycc cannot express have no AOT tier.
``LANGONE_AOT=0``, ``LANGONE_DISABLE_CACHE=1`` or ``kernel(..., cache=False)``
turn it off.

Example:
    >>> import numpy as np, langone as lo
    >>> from langone.kernels import aot
    >>> @lo.kernel
    ... def scale(x, out):
    ...     for i in lo.grid(x.shape[0]):
    ...         out[i] = 2 * x[i]
    >>> x = np.ones(4, np.float32)
    >>> aot.build(scale, x, np.empty_like(x)).state   # doctest: +SKIP
    'built'
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from .. import config
from ..errors import KernelCompileError
from . import cache, ir
from .backends import numba_lower

#: A lock file older than this (seconds) belongs to a builder that died.
STALE_SECONDS = 600.0
#: The worker's log is started afresh when it grows past this many bytes.
LOG_LIMIT = 1 << 20

_SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]
_BACKEND = "numba"
_loaded: dict[str, Callable] = {}          # extension name -> its serial function
_load_lock = threading.Lock()
_cpu_tag: str | None = None


# --- when there is an AOT tier -----------------------------------------------------------

def enabled(options: dict | None = None) -> bool:
    """Whether AOT modules are built and used (env ``LANGONE_AOT``, the disk cache)."""
    if os.environ.get("LANGONE_AOT", "").strip().lower() in ("0", "false", "no", "off"):
        return False
    return cache.enabled(options)


_SCALARS = {"fp16": "float32", "bf16": "float32", "fp32": "float32", "fp64": "float64",
            "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64",
            "uint8": "uint8", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64",
            "bool": "boolean"}


def numba_type(t: Any) -> str | None:
    """pycc's type for what the numba launcher passes for a parameter of IR type ``t``.

    Half tensors travel as uint16 bit views and half scalars as float32 (see
    ``numba_cpu.make_launcher``); C-contiguous tensors are layout "C", others
    "A". None when there is no such type.
    """
    if isinstance(t, ir.TensorType):
        elem = "uint16" if numba_lower.is_half(t.dtype) else _SCALARS.get(t.dtype.name)
        if elem is None:
            return None
        return f"Array({elem}, {t.ndim}, '{'C' if t.contiguous else 'A'}')"
    return _SCALARS.get(getattr(t, "name", None))


def signature(k: ir.Kernel) -> str | None:
    """The argument types of ``k``'s serial function, as pycc parses them.

    The return type is left for numba to infer, as the JIT does; the launcher
    converts the result to ``k.return_type`` either way.
    """
    types = [numba_type(p.type) for p in k.params]
    if any(t is None for t in types):
        return None
    return "(" + "".join(f"{t}, " for t in types) + ")"


def unsupported(k: ir.Kernel, options: dict) -> str | None:
    """Why kernel ``k`` has no AOT tier, or None when it can have one."""
    if options.get("debug"):
        return "debug=True kernels raise from compiled code: JIT only"
    if any(getattr(n, "checked", False) for n in ir.walk(k)):
        return ("run-time checks of integer power exponents (numpy raises for negative "
                "ones) raise from compiled code: JIT only")
    if numba_lower.uses_checks(k):
        return ("run-time bounds checks (data-dependent indices) raise from compiled "
                "code: JIT only; boundscheck=False gives an AOT tier")
    if numba_lower.has_parallel_variant(k, options) and \
            not any(p.is_tensor for p in k.params):
        return "a kernel without tensor arguments always launches in parallel"
    if signature(k) is None:
        bad = [f"{p.name}: {p.type}" for p in k.params if numba_type(p.type) is None]
        return f"no pycc type for parameter(s) {', '.join(bad)}"
    return None


# --- names and files ---------------------------------------------------------------------

def cpu_tag() -> str:
    """A short hash naming this CPU (model and feature flags), computed once.

    Extensions are compiled for the host CPU; a cache directory moved to a
    machine with another CPU simply misses and rebuilds.
    """
    global _cpu_tag
    if _cpu_tag is None:
        import hashlib
        h = hashlib.sha256(_cpu_description())
        for var in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES"):    # numba honours both
            h.update(os.environ.get(var, "").encode() + b"\0")
        _cpu_tag = h.hexdigest()[:10]
    return _cpu_tag


def _cpu_description() -> bytes:
    """The first processor's model and flags from /proc/cpuinfo, else the platform's."""
    keep = (b"vendor_id", b"cpu family", b"model", b"flags", b"Features", b"CPU ")
    try:
        with open("/proc/cpuinfo", "rb") as f:
            lines = []
            for line in f:
                if not line.strip():
                    break
                if line.startswith(keep):
                    lines.append(line)
        if lines:
            return os.uname().machine.encode() + b"".join(lines)
    except (OSError, AttributeError):
        pass
    import platform
    return f"{platform.machine()}|{platform.processor()}|{platform.system()}".encode()


def extension_name(stem: str, key: str) -> str:
    """The import name of the AOT extension for the numba module ``key``."""
    if not (stem.isascii() and stem.isidentifier()):
        stem = "kernel"                      # PyInit_<name> needs an ASCII identifier
    return f"langone_kaot_{stem}_{key}_{cpu_tag()}"


def _directory() -> Path:
    return cache.backend_dir(_BACKEND)


def _file(name: str, ext: str) -> Path:
    return _directory() / (name + ext)


# --- using an extension ------------------------------------------------------------------

def load(stem: str, key: str) -> Callable | None:
    """The AOT serial function for numba module ``key``, or None when not built.

    Importing the extension does not import numba. One that cannot be
    imported is deleted (and so rebuilt after the next JIT compile).
    """
    name = extension_name(stem, key)
    fn = _loaded.get(name)
    if fn is not None:
        return fn
    path = _file(name, _SUFFIX)
    if not path.is_file():
        return None
    with _load_lock:
        fn = _loaded.get(name)
        if fn is None:
            try:
                fn = _import_extension(name, path).serial
            except Exception:                 # corrupt, truncated, wrong ABI
                _unlink(path)
                return None
            _loaded[name] = fn
    return fn


def _import_extension(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or not isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
        raise ImportError(f"{path} is not an extension module")
    mod = importlib.util.module_from_spec(spec)       # dlopen + PyInit
    spec.loader.exec_module(mod)
    return mod


def lazy(load_function: Callable[[], Callable]) -> Callable:
    """A function that calls ``load_function()``'s result, loading it on first use.

    The parallel JIT variant of an AOT-loaded kernel: numba is imported only
    when a launch first needs it.
    """
    fn = None

    def call(*args):
        nonlocal fn
        if fn is None:
            fn = load_function()
        return fn(*args)
    return call


# --- asking for a build ------------------------------------------------------------------

def request(k: ir.Kernel, options: dict, key: str, module_path: Path) -> dict:
    """What the builder needs to compile ``k``'s serial function from its module."""
    name = extension_name(k.name, key)
    return {"name": name, "module": str(module_path),
            "function": numba_lower.function_names(k)[0], "signature": signature(k),
            "fastmath": bool(options.get("fastmath")), "suffix": _SUFFIX,
            "kernel": k.name}


def schedule(req: dict) -> bool:
    """Queue a background build of ``req`` unless built, failed, or already queued.

    Starts the worker when none is running. Never raises: without an AOT
    module the kernel keeps running on the JIT. Returns whether a worker was started.
    """
    try:
        name = req["name"]
        if _file(name, _SUFFIX).exists() or _file(name, ".failed").exists():
            return False
        path = _file(name, ".request")
        if not path.exists():
            import json
            _write_atomic(path, json.dumps(req))
        return _ensure_worker()
    except Exception:
        return False


def _ensure_worker() -> bool:
    lock = _worker_lock(_directory())
    if _fresh(lock):
        return False
    import subprocess
    log = _open_log(_directory())
    try:
        proc = subprocess.Popen(
            _builder("worker", str(_directory())),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=_child_env(), cwd=_directory(), start_new_session=True, close_fds=True)
    finally:
        log.close()
    # Reap it when it exits (no zombie) without making this process wait for it.
    threading.Thread(target=proc.wait, name="langone-aot-reaper", daemon=True).start()
    return True


def _builder(*args: str) -> list[str]:
    """The command line of a builder process running ``main(args)``.

    It imports the same LangOne as this process (its directory goes first on
    ``sys.path`` unless already there) and runs in the cache directory: the
    working directory is on ``sys.path`` too, and a user's ``queue.py`` there
    would shadow the standard library's module (and run).
    """
    root = str(Path(__file__).resolve().parents[2])
    boot = (f"import sys; r = {root!r}; r in sys.path or sys.path.insert(0, r); "
            f"from langone.kernels.aot import main; sys.exit(main())")
    return [sys.executable, "-c", boot, *args]


def _child_env() -> dict:
    return dict(os.environ, LANGONE_CACHE_DIR=str(config.cache_dir()))


def _open_log(directory: Path):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "aot-worker.log"
    try:
        if path.stat().st_size > LOG_LIMIT:
            path.unlink()
    except OSError:
        pass
    return open(path, "ab")


# --- public API: status and explicit builds ------------------------------------------------

class AotStatus:
    """Where a kernel signature's AOT module stands.

    ``state`` is one of "built", "building" (queued or being compiled),
    "missing", "failed" (``reason`` holds the error), "unsupported" (this
    kernel has no AOT tier: ``reason`` says why) or "disabled"; ``path`` is
    the extension's file (or the failure marker's).
    """

    __slots__ = ("state", "path", "reason")

    def __init__(self, state: str, path: Path | None = None, reason: str = ""):
        self.state, self.path, self.reason = state, path, reason

    def __repr__(self) -> str:
        return f"AotStatus({self.state!r}, {str(self.path)!r}, {self.reason[-200:]!r})"

    @property
    def built(self) -> bool:
        return self.state == "built"


def _entry(kernel, args: tuple) -> tuple[ir.Kernel, dict, str, str]:
    from .backends import numba_cpu
    from .passes.lower_complex import has_complex
    final = kernel.stages(*args).final
    if has_complex(final):          # the compiled module would take the parts apart
        raise KernelCompileError(
            f"ahead-of-time modules of kernels with complex values are not supported "
            f"({kernel.__name__!r}); call the kernel itself (it compiles on first use)",
            kernel=kernel.__name__)
    source, key = numba_cpu.module_key(final, kernel.options)
    return final, kernel.options, source, key


def status(kernel, *args) -> AotStatus:
    """Whether the AOT module for ``kernel`` called with ``args`` exists.

    Example:
        >>> import numpy as np, langone as lo
        >>> from langone.kernels import aot
        >>> @lo.kernel
        ... def neg(x, out):
        ...     for i in lo.grid(x.shape[0]):
        ...         out[i] = -x[i]
        >>> x = np.ones(3, np.float32)
        >>> aot.status(neg, x, x).state in ("built", "missing", "building", "disabled")
        True
    """
    k, options, _, key = _entry(kernel, args)
    return _status(k, options, key)


def _status(k: ir.Kernel, options: dict, key: str) -> AotStatus:
    if not enabled(options):
        return AotStatus("disabled", None, "LANGONE_AOT=0, LANGONE_DISABLE_CACHE=1 or "
                                           "cache=False")
    why = unsupported(k, options)
    if why:
        return AotStatus("unsupported", None, why)
    name = extension_name(k.name, key)
    so = _file(name, _SUFFIX)
    if so.is_file():
        return AotStatus("built", so)
    failed = _file(name, ".failed")
    if failed.exists():
        return AotStatus("failed", failed, _read(failed))
    if _fresh(_file(name, ".lock")) or _file(name, ".request").exists():
        return AotStatus("building", so)
    return AotStatus("missing", so)


def build(kernel, *args, wait: bool = True, timeout: float = STALE_SECONDS) -> AotStatus:
    """Build the AOT module for ``kernel`` called with ``args`` (e.g. in an image build).

    Args:
        kernel: a ``@lo.kernel``.
        *args: example arguments: the signature is built for their types.
        wait: True compiles now in a subprocess and returns when it is done
            (a previous failure is retried); False queues a background build.
        timeout: seconds to wait for a build of the same module that another
            process is running.

    Returns:
        The :class:`AotStatus` afterwards (``.built``, or ``.reason`` for a failure).

    Example:
        >>> import numpy as np, langone as lo
        >>> from langone.kernels import aot
        >>> @lo.kernel
        ... def inc(x):
        ...     for i in lo.grid(x.shape[0]):
        ...         x[i] = x[i] + 1
        >>> aot.build(inc, np.zeros(3, np.float32)).built   # doctest: +SKIP
        True
    """
    k, options, source, key = _entry(kernel, args)
    st = _status(k, options, key)
    if st.state in ("disabled", "unsupported", "built") or (st.state == "failed" and not wait):
        return st
    module_path = cache.write_module(_BACKEND, k.name, key, source)
    req = request(k, options, key, module_path)
    if not wait:
        schedule(req)
        return _status(k, options, key)
    import json
    import subprocess
    _unlink(_file(req["name"], ".failed"))          # an explicit build retries
    path = _file(req["name"], ".request")
    _write_atomic(path, json.dumps(req))
    log = _open_log(_directory())
    try:
        subprocess.run(_builder("build", str(path), "--timeout", str(timeout)),
                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                       env=_child_env(), cwd=_directory(), check=False)
    finally:
        log.close()
    return _status(k, options, key)


# --- locks and small file helpers --------------------------------------------------------

def _fresh(lock: Path) -> bool:
    """Whether ``lock`` exists and is younger than :data:`STALE_SECONDS`."""
    try:
        return time.time() - lock.stat().st_mtime < STALE_SECONDS
    except OSError:
        return False


def _acquire(lock: Path) -> bool:
    """Create ``lock`` exclusively; a stale one is broken first."""
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if _fresh(lock):
                return False
            # Rename before deleting: of two processes breaking it, one wins.
            stale = lock.with_name(f"{lock.name}.stale-{os.getpid()}")
            try:
                os.rename(lock, stale)
                os.unlink(stale)
            except OSError:
                return False
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()}\n")
        return True
    return False


def _worker_lock(directory: Path) -> Path:
    return directory / f"aot-worker-{sys.implementation.cache_tag}.lock"


def _write_atomic(path: Path, text: str) -> None:
    import tempfile
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        _unlink(Path(tmp))
        raise


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


# --- the builder (runs in its own process) --------------------------------------------------

def _compile_extension(req: dict, directory: Path) -> Path:
    """Compile ``req``'s serial function into ``directory`` (imports numba)."""
    import shutil
    import tempfile
    _patch_pycc(req["fastmath"])
    import warnings
    with warnings.catch_warnings():                  # pycc is pending deprecation
        warnings.simplefilter("ignore")
        from numba.pycc import CC
    name = req["name"]
    spec = importlib.util.spec_from_file_location(Path(req["module"]).stem, req["module"])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    func = getattr(mod, req["function"]).py_func
    tmp = tempfile.mkdtemp(dir=directory, prefix=".aot-build-")
    saved = tempfile.tempdir
    try:
        tempfile.tempdir = tmp                       # pycc's own scratch files too
        cc = CC(name, source_module=mod)
        cc.output_dir = tmp
        cc.output_file = name + _SUFFIX
        cc.target_cpu = "host"
        if sys.platform.startswith("linux"):        # drop symbol tables: 690 -> 270 KB
            extra = cc._get_extra_ldflags
            cc._get_extra_ldflags = lambda: extra() + ["-s"]
        cc.export("serial", req["signature"])(func)
        cc.compile()
        built = Path(tmp) / (name + _SUFFIX)
        _import_extension(name, built).serial       # it loads and exports the function
        final = directory / (name + _SUFFIX)
        os.replace(built, final)
        return final
    finally:
        tempfile.tempdir = saved
        shutil.rmtree(tmp, ignore_errors=True)


_FASTMATH = [False]


def _patch_pycc(fastmath: bool) -> None:
    """Compile like the JIT does (this process only builds extensions).

    pycc compiles with default flags: error_model "python" would raise
    ZeroDivisionError where the JIT's "numpy" gives inf/nan, and a "host"
    CPU would get the CPU model's features rather than the ones this machine
    really has (a VM may hide some: the JIT asks, so must we).
    """
    _FASTMATH[0] = fastmath
    import numba.pycc.compiler as pcc
    if getattr(pcc.compile_extra, "_langone", False):
        return
    from numba.core import codegen, cpu
    original = pcc.compile_extra

    def compile_extra(typingctx, targetctx, func, args, return_type, flags, *a, **kw):
        flags.error_model = "numpy"
        flags.boundscheck = False
        flags.release_gil = True                     # the JIT's nogil=True
        if _FASTMATH[0]:
            flags.fastmath = cpu.FastMathOptions(True)
        return original(typingctx, targetctx, func, args, return_type, flags, *a, **kw)
    compile_extra._langone = True
    pcc.compile_extra = compile_extra
    codegen.AOTCPUCodegen._customize_tm_features = \
        lambda self: self._get_host_cpu_features()


def _build_one(path: Path, wait_s: float = 0.0) -> bool:
    """Build the request in file ``path``; False when another builder holds it."""
    import json
    try:
        req = json.loads(path.read_text())
    except (OSError, ValueError):
        _unlink(path)
        return True
    if req.get("suffix") != _SUFFIX:
        return False                                 # for another Python: not ours
    directory = path.parent
    name = req["name"]
    lock = directory / (name + ".lock")
    deadline = time.monotonic() + wait_s
    while not _acquire(lock):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    try:
        if not (directory / (name + _SUFFIX)).exists():
            t0 = time.perf_counter()
            try:
                _compile_extension(req, directory)
                print(f"[langone aot] built {name} ({req['kernel']}) in "
                      f"{time.perf_counter() - t0:.1f} s", flush=True)
            except Exception:
                import traceback
                text = (f"AOT build of kernel {req['kernel']!r} failed; it keeps "
                        f"running on the numba JIT.\n{traceback.format_exc()}")
                print(f"[langone aot] {text}", flush=True)
                _write_atomic(directory / (name + ".failed"), text)
        _unlink(path)
    finally:
        _unlink(lock)
    return True


def _worker(directory: Path) -> None:
    """Build every queued request in ``directory``, then exit."""
    try:
        os.nice(10)                                  # a compiler in the background
    except (OSError, AttributeError):
        pass
    lock = _worker_lock(directory)
    while _acquire(lock):
        try:
            skipped: set = set()
            while True:
                todo = sorted(set(directory.glob("*.request")) - skipped)
                if not todo:
                    break
                _build_one(todo[0])                   # busy or foreign: left queued
                skipped.add(todo[0])                  # each request once per pass
                os.utime(lock)                        # still alive: not stale
        finally:
            _unlink(lock)
        # A request queued while the lock was being released would be stranded.
        if not set(directory.glob("*.request")) - skipped:
            return


def main(argv: list[str] | None = None) -> int:
    """``python -m langone.kernels.aot worker DIR`` | ``build REQUEST [--timeout S]``."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m langone.kernels.aot",
                                 description="LangOne's AOT builder for numba kernels")
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("worker", help="build every queued request in a cache directory")
    w.add_argument("directory")
    b = sub.add_parser("build", help="build one request file now")
    b.add_argument("request")
    b.add_argument("--timeout", type=float, default=STALE_SECONDS)
    args = ap.parse_args(argv)
    if args.cmd == "worker":
        _worker(Path(args.directory))
        return 0
    path = Path(args.request)
    if not _build_one(path, args.timeout):
        print(f"[langone aot] {path.name}: another process is still building it after "
              f"{args.timeout:.0f} s", flush=True)
        return 1
    name = path.name[:-len(".request")]
    return 0 if (path.parent / (name + _SUFFIX)).exists() else 1


if __name__ == "__main__":
    sys.exit(main())
