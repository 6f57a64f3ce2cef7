"""The Triton backend: the kernel IR lowered to ``@triton.jit`` SPMD kernels.

Every kernel of the language runs on a GPU unchanged: :mod:`.triton_render`
lowers the typed IR (the same IR the numpy reference and numba run) to a
Triton module plus a small host program, :mod:`.triton_launch` runs it.
``kernel.source("triton")`` shows the module.

* On a machine with a CUDA GPU, tensors are CUDA arrays from LangOne's device
  pool; grid kernels are autotuned (BLOCK, num_warps) on first use and the
  choice is cached on disk per kernel, signature and device
  (:mod:`.triton_autotune`).
* Without a GPU the same kernels run in **Triton's interpreter** (numpy
  arrays in, via zero-copy torch CPU tensors), with a one-time
  ``RuntimeWarning``. ``LANGONE_TRITON_INTERPRET=1`` (or Triton's own
  ``TRITON_INTERPRET=1``) forces the interpreter on a GPU machine.
* :mod:`.triton_aot` compiles the generated kernels ahead of time for real
  GPU targets (sm_80, sm_90, AMD gfx942) on any machine, so the GPU code path
  is checked where no GPU exists.

Example:
    >>> import numpy as np, langone as lo
    >>> @lo.kernel
    ... def scale(x, out):
    ...     for i in lo.grid(x.shape[0]):
    ...         out[i] = 2 * x[i]
    >>> x = np.arange(3, dtype=np.float32); out = np.empty_like(x)
    >>> scale.on("triton")(x, out); out        # doctest: +SKIP
    array([0., 2., 4.], dtype=float32)
"""

from __future__ import annotations

import os
import sys
import threading
import warnings

from .. import cache, ir
from . import triton_render

INTERPRETER_WARNING = ("no CUDA GPU was found: Triton kernels run in Triton's interpreter "
                       "on the CPU (correct but slow; meant for testing). Use the 'numba' "
                       "backend for speed on the CPU")

_UNSET = object()


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _user_stacklevel() -> int:
    """The stacklevel of the first caller outside LangOne (warnings point at user code)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(root):
        frame, level = frame.f_back, level + 1
    return level


def _gpu_present() -> bool:
    """Whether a CUDA GPU can run Triton kernels here (cheap after the first call)."""
    from ...tensor import devices
    try:
        return len(devices.devices()) > 1
    except Exception:                    # discovery must never make the backend raise
        return False


def _interpreter_too_old() -> str | None:
    """Why this Triton's interpreter cannot run here, or None.

    Before Triton 3.7 the interpreter converts 1-element arrays with ``int()``, which
    numpy 2.4 refuses: every loop to a runtime bound failed with a TypeError.
    """
    import numpy
    import triton
    tv = tuple(int(p) for p in triton.__version__.split(".")[:2] if p.isdigit())
    nv = tuple(int(p) for p in numpy.__version__.split(".")[:2] if p.isdigit())
    if tv < (3, 7) and nv >= (2, 4):
        return (f"no CUDA GPU here, and the interpreter of triton {triton.__version__} cannot "
                f"run under numpy {numpy.__version__}; pip install 'triton>=3.7'")
    return None


class TritonBackend:
    """Backend protocol object (see :mod:`langone.kernels.backends`)."""

    name = "triton"
    devices = ("cuda",)

    def __init__(self):
        self._why = _UNSET
        self.interpret = True
        self._warned = False
        self._lock = threading.Lock()
        self._tuner = None

    # -- availability -----------------------------------------------------------------------
    def available(self) -> str | None:
        """None when usable (GPU or interpreter), else why not. Never raises."""
        if self._why is _UNSET:
            self._why = self._probe()
        return self._why

    def _probe(self) -> str | None:
        try:
            import triton  # noqa: F401
        except Exception as exc:          # ImportError, or a broken install
            return f"triton cannot be imported ({exc}); pip install triton"
        forced = _flag("LANGONE_TRITON_INTERPRET") or _flag("TRITON_INTERPRET")
        if not forced and _gpu_present():
            try:
                import cupy  # noqa: F401
            except ImportError as exc:
                return (f"a GPU is present but CuPy, which LangOne's CUDA tensors use, "
                        f"cannot be imported ({exc}); pip install cupy-cuda12x")
            self.interpret = False
            return None
        try:
            import torch  # noqa: F401
        except ImportError as exc:
            return (f"no CUDA GPU here, and Triton's interpreter needs torch ({exc}); "
                    f"pip install torch (the CPU wheel is enough)")
        old = _interpreter_too_old()
        if old:
            return old
        self.interpret = True
        return None

    def _warn_interpreter(self) -> None:
        if self.interpret and not self._warned:
            self._warned = True
            warnings.warn(INTERPRETER_WARNING, RuntimeWarning, stacklevel=_user_stacklevel())

    # -- protocol -----------------------------------------------------------------------------
    def program(self, kernel: ir.Kernel, options: dict) -> triton_render.Program:
        return triton_render.render_program(kernel, options)

    def render(self, kernel: ir.Kernel, options: dict) -> str:
        """The generated module (what ``kernel.source("triton")`` shows)."""
        return self.program(kernel, options).source

    def compile(self, kernel: ir.Kernel, options: dict):
        """A launcher ``fn(args) -> result`` for the typed kernel."""
        self.available()
        program = self.program(kernel, options)
        module = load_module(program, options, interpret=self.interpret)
        self._warn_interpreter()
        from . import triton_launch
        if self.interpret:
            arrays = triton_launch.InterpreterArrays()
            tuner = None
        else:
            arrays = triton_launch.GPUArrays()
            tuner = self.tuner()
        return triton_launch.Launcher(program, module, options, arrays, tuner)

    def tuner(self):
        with self._lock:
            if self._tuner is None:
                from .triton_autotune import Autotuner
                self._tuner = Autotuner()
            return self._tuner


def load_module(program: triton_render.Program, options: dict, *, interpret: bool):
    """Import the generated module with Triton's interpreter switched on or off.

    ``@triton.jit`` decides at decoration time whether it builds an
    interpreted or a compiled function, so each mode imports its own copy.
    """
    import triton
    extra = f"interpret={interpret}"
    key = cache.cache_key("triton", ir.ir_hash(program.kernel), options, program.source, extra)
    stem = f"{program.kernel.name}_{'interp' if interpret else 'jit'}"
    with triton.knobs.runtime.scope():
        triton.knobs.runtime.interpret = interpret
        return cache.load_module("triton", stem, key, program.source,
                                 persistent=cache.enabled(options))


BACKEND = TritonBackend()
