"""Ahead-of-time compilation of generated Triton kernels for real GPU targets.

``triton.compile(ASTSource(fn, signature, constexprs), target=GPUTarget(...))``
runs Triton's whole pipeline (TTIR -> TTGIR -> LLVM IR -> PTX/cubin, or AMDGCN
/hsaco) without a GPU: the wheel ships ``ptxas`` and the AMD backend. Machines
without a GPU (CI) thereby check that every kernel would compile for the GPU,
although nothing runs there.

Compiled artifacts go to Triton's cache under ``langone.config.cache_dir() /
"triton" / "aot"`` (a temporary directory when the disk cache is disabled), so a
second run over the same kernels costs milliseconds.

Example:
    >>> from langone.kernels.backends import triton_aot
    >>> [t.name for t in triton_aot.TARGETS]
    ['sm_80', 'sm_90', 'gfx942']
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from typing import Any

from ... import config
from ...errors import KernelCompileError
from .. import cache, ir
from . import triton_lower, triton_render
from .triton_render import AOT_BLOCK, Program


@dataclass(frozen=True)
class Target:
    """A GPU to compile for: Triton's (backend, arch, warp size) and a short name."""

    name: str
    backend: str
    arch: Any
    warp_size: int

    def gpu_target(self):
        from triton.backends.compiler import GPUTarget
        return GPUTarget(self.backend, self.arch, self.warp_size)


SM80 = Target("sm_80", "cuda", 80, 32)
SM90 = Target("sm_90", "cuda", 90, 32)
GFX942 = Target("gfx942", "hip", "gfx942", 64)
TARGETS = (SM80, SM90, GFX942)


def target_supported(target: Target) -> bool:
    """Whether this Triton wheel carries the compiler backend for ``target``."""
    try:
        from triton.backends import backends
    except Exception:
        return False
    b = backends.get("nvidia" if target.backend == "cuda" else "amd")
    if b is None:
        return False
    try:
        return bool(b.compiler.supports_target(target.gpu_target()))
    except Exception:
        return False


@dataclass
class Compiled:
    """One device kernel compiled for one target: its binary and assembly names."""

    kernel: str
    target: str
    asm: dict                       # stage name -> text/bytes ("ptx", "cubin", "amdgcn", ...)

    @property
    def binary(self) -> bytes:
        return self.asm.get("cubin") or self.asm.get("hsaco") or b""


def compile_program(program: Program, targets=(SM80, SM90), options: dict | None = None
                    ) -> list[Compiled]:
    """Compile every device kernel of ``program`` for each target.

    Raises:
        KernelCompileError: Triton rejected a kernel; the error points at the
            user's line that produced the failing code.
    """
    import triton
    from triton.compiler import ASTSource

    from .triton_gpu import load_module
    options = dict(options or {})
    module = load_module(program, options, interpret=False)
    out = []
    cache_dir = str(config.cache_dir() / "triton" / "aot") if cache.enabled(options) else \
        tempfile.mkdtemp(prefix="langone-triton-aot-")
    with triton.knobs.cache.scope():
        triton.knobs.cache.dir = cache_dir
        for dk in program.kernels:
            fn = getattr(module, dk.name)
            block = AOT_BLOCK if dk.kind == "grid" else 1
            src = ASTSource(fn, signature={n: s for n, s in dk.params},
                            constexprs={"BLOCK": block})
            for t in targets:
                opts = {"num_warps": 4 if dk.kind == "grid" else 1,
                        "enable_fp_fusion": bool(options.get("fastmath"))}
                try:
                    ck = triton.compile(src, target=t.gpu_target(), options=opts)
                except Exception as exc:
                    raise _user_error(program, exc, t) from None
                out.append(Compiled(dk.name, t.name, dict(ck.asm)))
    return out


def compile_kernel(kernel_ir: ir.Kernel, targets=(SM80, SM90), options: dict | None = None
                   ) -> list[Compiled]:
    """Render and compile a typed kernel (see :func:`compile_program`)."""
    program = triton_render.render_program(kernel_ir, dict(options or {}))
    return compile_program(program, targets, options)


def _user_error(program: Program, exc: Exception, target: Target) -> KernelCompileError:
    """Map a Triton compile error in generated code back to the kernel's source line."""
    text = str(exc)
    line = getattr(exc, "lineno", None)
    if line is None:
        m = re.search(r"\.py:(\d+):", text)
        line = int(m.group(1)) if m else None
    loc = program.user_loc(line) if line else None
    first = text.strip().splitlines()[-1] if text.strip() else type(exc).__name__
    return triton_lower.compile_error(
        program.kernel, loc or ir.Loc(), f"Triton cannot compile this kernel for "
        f"{target.name}: {first}",
        hint="this construct has no Triton lowering; run the kernel on the numba "
             "backend, and please report it")


__all__ = ["Compiled", "GFX942", "SM80", "SM90", "TARGETS", "Target", "compile_kernel",
           "compile_program", "target_supported"]
