"""The numba CPU backend: typed IR -> ``@njit`` Python source -> machine code.

``render`` gives the generated module: the kernel lowered for numba
(:mod:`.numba_lower`), then spelled as Python (:mod:`.numba_render`);
``compile`` writes it to the on-disk cache (:mod:`langone.kernels.cache`),
imports it and returns a small launcher. numba compiles each function lazily
on its first call and keeps the machine code in its own cache next to the
generated file, so a new process with a warm cache skips compilation.

The launcher picks the serial function for small inputs (a parallel region
costs microseconds to enter) and the ``parallel=True`` one otherwise: by one
comparison of the largest tensor argument's size with
:func:`parallel_threshold`. In the parallel function each grid launch then
decides for itself (also a grid inside a time-step loop, launched once per
step): it runs as a ``prange`` when its estimated work, from the run-time
extents and inner-loop trip counts (:func:`.numba_lower.grid_work`), reaches
:data:`PARALLEL_WORK_NS`, which the launcher passes as an argument, and as the
serial loops otherwise. Kernels with atomics (``lo.atomic_add``...) always run
serially (numba's ``prange`` has no atomics), where an atomic is its Python meaning, a
load and a store; ``debug=True`` kernels too.

AOT tier (:mod:`langone.kernels.aot`): a new process pays ~0.5 s to import
numba and load even a cached function. So once a signature is JIT-built, its
serial function is compiled ahead of time in the background into an extension
module in the cache; ``compile`` looks for that extension *before* importing
the generated module, and when it exists the launcher runs it for launches
below the threshold and imports numba only for the first parallel launch.
Rendering and the cache key never import numba.

Threads: this module is imported on first use of the backend and, before
numba loads, defaults ``NUMBA_THREADING_LAYER_PRIORITY`` to OpenMP first and
``OMP_WAIT_POLICY`` to ``PASSIVE``: idle OpenMP workers that spin take the
cores from OpenBLAS's pool (numpy matmul right after a numba parallel call
ran several times slower here). Set either variable yourself to override.

Example:
    >>> import numpy as np, langone as lo
    >>> @lo.kernel
    ... def scale(x, out):
    ...     for i in lo.grid(x.shape[0]):
    ...         out[i] = 2 * x[i]
    >>> x = np.arange(3, dtype=np.float32); out = np.empty_like(x)
    >>> scale.on("numba")(x, out); out
    array([0., 2., 4.], dtype=float32)
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_THREADING_LAYER_PRIORITY", "omp workqueue tbb")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import importlib.util  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from .. import aot, cache, ir  # noqa: E402
from . import numba_lower, numba_render  # noqa: E402
from .numba_lower import is_half  # noqa: E402

#: Estimated serial work (ns) below which a launch, or one grid launch of the
#: parallel function, stays on one thread. With passive waiting, entering a
#: parallel region cost 20-50 us here.
PARALLEL_WORK_NS = 40_000.0
#: Only for tests: force a fixed element threshold instead of the cost model; the
#: parallel function then runs every grid as a ``prange`` (unless ``GRID_WORK_NS``).
PARALLEL_THRESHOLD: int | None = None
#: Only for tests: the work from which the parallel function's grids run as a
#: ``prange`` (``math.inf``: each grid as its serial loops).
GRID_WORK_NS: float | None = None


def parallel_work_ns() -> float:
    """The work (ns) from which the parallel function runs a grid launch as a ``prange``
    (read when a launcher is made, like :func:`parallel_threshold`)."""
    if GRID_WORK_NS is not None:
        return float(GRID_WORK_NS)
    return PARALLEL_WORK_NS if PARALLEL_THRESHOLD is None else 0.0


def parallel_threshold(k: ir.Kernel) -> int:
    """Elements of the largest tensor above which the parallel variant pays off.

    A small cost model, fitted on these machines (serial, vectorized loops):
    ~0.01 ns per byte moved, ~0.6 ns per transcendental, ~0.05 ns per flop, per
    element. Measured crossovers: saxpy ~500K elements, gelu ~70K.
    """
    if PARALLEL_THRESHOLD is not None:
        return PARALLEL_THRESHOLD
    from ..passes.resources import estimate
    grids = estimate(k).grids
    if not grids:
        return 0
    ns = max(0.01 * (g.bytes_loaded + g.bytes_stored) + 0.6 * g.transcendentals
             + 0.05 * g.flops for g in grids)
    if any(g.has_inner_loops for g in grids):
        ns *= 8                       # an inner loop does several elements' work per lane
    return max(1024, int(PARALLEL_WORK_NS / max(ns, 1e-3)))


def _return_type(k: ir.Kernel):
    """Converter from numba's boxed result to a numpy scalar of the return type."""
    t = k.return_type
    if t is None:
        return None
    return t.numpy.type


class NumbaBackend:
    """Backend protocol object (see :mod:`langone.kernels.backends`)."""

    name = "numba"
    devices = ("cpu",)

    def available(self) -> str | None:
        # Looked up, not imported: a kernel whose AOT module is built never
        # needs numba, and importing it costs a new process ~0.2 s.
        if importlib.util.find_spec("numba") is None:
            return "numba is not installed; pip install numba"
        return None

    def render(self, kernel: ir.Kernel, options: dict) -> str:
        """The generated module's source (what ``kernel.source("numba")`` shows)."""
        return _render(kernel, options)

    def compile(self, kernel: ir.Kernel, options: dict):
        """A launcher ``fn(args) -> result`` for the typed kernel.

        With an AOT module built (:mod:`langone.kernels.aot`) the launcher runs
        it and numba is imported only for the first parallel launch; else the
        JIT module is loaded and an AOT build is queued in the background.
        """
        source, key = module_key(kernel, options)
        use_aot = aot.enabled(options) and aot.unsupported(kernel, options) is None

        def load_jit():
            mod = cache.load_module(self.name, kernel.name, key, source,
                                    persistent=cache.enabled(options))
            serial_name, parallel_name = numba_lower.function_names(kernel)
            serial, parallel = getattr(mod, serial_name), getattr(mod, parallel_name)
            for dispatcher in (serial, parallel):
                _tolerate_corrupt_numba_cache(dispatcher)
            return mod, serial, parallel

        if use_aot:
            fast = aot.load(kernel.name, key)
            if fast is not None:
                parallel = None
                if numba_lower.has_parallel_variant(kernel, options):
                    parallel = aot.lazy(lambda: load_jit()[2])
                return make_launcher(kernel, fast, parallel, options)
        mod, serial, parallel = load_jit()
        if use_aot:
            path = Path(mod.__file__)
            if path.parent == cache.backend_dir(self.name):     # not a private temp dir
                aot.schedule(aot.request(kernel, options, key, path))
        return make_launcher(kernel, serial, parallel, options)


def _render(kernel: ir.Kernel, options: dict) -> str:
    lowered = numba_lower.lower_module(kernel, options)
    return numba_render.render_module(lowered, options, cache=cache.enabled(options))


def module_key(kernel: ir.Kernel, options: dict) -> tuple[str, str]:
    """The generated module's source and its cache key (imports no numba)."""
    source = _render(kernel, options)
    extra = ""
    if options.get("debug") or numba_lower.uses_checks(kernel):   # messages carry positions
        extra = repr([(type(n).__name__, n.loc) for n in ir.walk(kernel)
                      if isinstance(n, (ir.Load, ir.Store, ir.Atomic))])
    return source, cache.cache_key("numba", ir.ir_hash(kernel), options, source, extra)


def _tolerate_corrupt_numba_cache(dispatcher) -> None:
    """Make a damaged numba cache entry a cache miss instead of an error.

    numba raises from ``pickle.load`` when its index file is garbage, on
    every later call too. Wrapping the dispatcher's (private) cache loader
    once, at load time, costs nothing per call: on failure the entry is
    flushed and numba compiles afresh and saves a good one.
    """
    cache_obj = getattr(dispatcher, "_cache", None)
    load = getattr(cache_obj, "load_overload", None)
    if load is None:
        return

    def load_overload(*args, **kwargs):
        try:
            return load(*args, **kwargs)
        except Exception:
            try:
                cache_obj.flush()
            except Exception:
                pass
            return None
    cache_obj.load_overload = load_overload


def make_launcher(k: ir.Kernel, serial, parallel, options: dict):
    """The per-call wrapper: half views, serial/parallel choice, result type."""
    tensors = [i for i, p in enumerate(k.params) if p.is_tensor]
    halves = tuple(i for i in tensors if is_half(k.params[i].type.dtype))
    half_scalars = tuple(i for i, p in enumerate(k.params)
                         if not p.is_tensor and is_half(p.type))
    ret = _return_type(k)
    u16 = np.uint16
    f32 = np.float32
    first = tensors[0] if tensors else None
    threshold = parallel_threshold(k)
    pwork = parallel_work_ns()

    choose = None
    if parallel is not None and not tensors:
        if not numba_lower.uses_checks(k):   # a checked prange needs its error record:
            serial = _with_work(parallel, pwork)   # there, the serial function raises itself
        # no tensors: the grid size is unknown, use threads (each grid decides)
    elif parallel is not None and len(tensors) == 1:
        def choose(args):
            return args[first].size >= threshold
    elif parallel is not None:
        def choose(args):
            return max([args[i].size for i in tensors]) >= threshold
    if parallel is not None and choose is not None and numba_lower.uses_checks(k):
        parallel, choose = _checked_parallel(k, parallel, choose, tensors, options, pwork)
    elif parallel is not None:
        if not halves and not half_scalars and ret is None and choose is not None:
            def launch(args):          # the common case, kept minimal
                if choose(args):
                    return parallel(*args, pwork)
                return serial(*args)
            return launch
        parallel = _with_work(parallel, pwork)

    if not halves and not half_scalars and ret is None and choose is not None:
        def launch(args):
            if choose(args):
                return parallel(*args)
            return serial(*args)
        return launch

    def launch(args):
        for i in halves:
            args[i] = args[i].view(u16)
        for i in half_scalars:
            args[i] = f32(args[i])
        fn = parallel if choose is not None and choose(args) else serial
        r = fn(*args)
        return r if ret is None else ret(r)
    return launch


def _with_work(parallel, pwork: float):
    """The parallel function with its ``_k_pwork`` argument (see :data:`.numba_lower.PWORK`)."""
    def run(*args):
        return parallel(*args, pwork)
    run.__wrapped__ = parallel
    return run


def _checked_parallel(k: ir.Kernel, parallel, choose, tensors: list, options: dict,
                      pwork: float):
    """The parallel function with its ``_k_pwork`` argument and its error record
    (see ``numba_math.check_index_p``)."""
    from .numba_math import raise_recorded     # numba_math imports numba: only now
    sites = numba_lower.parallel_sites(k, options)
    zeros, i64 = np.zeros, np.int64

    def checked(*args):
        err = zeros(3, i64)
        r = parallel(*args, pwork, err)
        if err[0]:
            raise_recorded(err, sites)
        return r

    def choose_checked(args):   # a size-0 tensor has no element to stand in for a bad index
        return choose(args) and min([args[i].size for i in tensors]) > 0
    return checked, choose_checked


BACKEND = NumbaBackend()
