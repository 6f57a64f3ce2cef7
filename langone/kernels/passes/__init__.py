"""The compile pipeline: an ordered list of named stages, every output kept.

Like Triton's ``compiler.py`` stages and numba's named passes, each
:class:`Pass` declares whether it only analyses (returns its finding, leaves
the IR alone) or transforms. With ``LANGONE_VERIFY=1`` the IR verifier runs
after every transforming pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ... import config
from .. import ir
from . import (array_reductions, definite, guards, hoist_loads, lower_boolops, lower_casts,
               lower_complex, lower_half_casts, lower_index, lower_pow, lower_range, lower_rint, lower_wrap,
               made, races, resources, simplify, specialize, types, verify)


@dataclass(frozen=True)
class Pass:
    name: str
    run: Callable[..., Any]        # (kernel, ctx) -> kernel (or a finding if analysis_only)
    analysis_only: bool = False


@dataclass
class CompileContext:
    signature: tuple
    info: Any                      # frontend.SourceInfo, for errors at the user's line
    findings: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)   # the kernel's (boundscheck, debug, ...)


def _definite(k, ctx):
    return definite.check(k, ctx.info)


def _races(k, ctx):
    return races.check(k, ctx.info)


def _bind(k, ctx):
    return specialize.bind_params(k, ctx.signature, ctx.info)


def _bind_made(k, ctx):
    return made.bind_made(k, ctx.info)


def _lower_results(k, ctx):
    return made.lower_results(k)


def _lower_elementwise(k, ctx):
    if k.kind != "elementwise":
        return k
    scalar = types.infer_types(specialize.elementwise_as_scalar_kernel(k), ctx.info)
    out_dtype = scalar.return_type
    used = {n.id for n in ir.walk(k) if isinstance(n, ir.Name)}
    ndims = [p.type.ndim for p in k.params
             if isinstance(p.type, ir.TensorType) and p.name in used]
    return specialize.lower_elementwise(k, out_dtype, max(ndims, default=1) or 1)


def _infer(k, ctx):
    return types.infer_types(k, ctx.info)


def _verify(k, ctx):
    verify.verify(k, "infer_types")
    return "ok"


def _simplify(k, ctx):
    return simplify.simplify(k)


def _resources(k, ctx):
    return resources.estimate(k)


def _guards(k, ctx):
    return guards.shape_guards(k, ctx.options)


def _lower_index(k, ctx):
    return lower_index.lower_index(k, ctx.options)


def _lower_pow(k, ctx):
    return lower_pow.lower_pow(k)


def _lower_range(k, ctx):
    return lower_range.lower_range(k)


def _lower_rint(k, ctx):
    return lower_rint.lower_rint(k)


def _lower_wrap(k, ctx):
    return lower_wrap.lower_wrap(k)


def _lower_half_casts(k, ctx):
    return lower_half_casts.lower_half_casts(k)


def _unchecked(ctx) -> bool:
    """``boundscheck=False``: an access without a run-time check is then not
    proven in range, so no pass may read what the program would not."""
    return ctx.options.get("boundscheck", True) is False


def _lower_boolops(k, ctx):
    return k if _unchecked(ctx) else lower_boolops.lower_boolops(k)


def _hoist_loads(k, ctx):
    return k if _unchecked(ctx) else hoist_loads.hoist_loads(k)


def _lower_casts(k, ctx):
    return lower_casts.lower_casts(k)


def _array_reductions(k, ctx):
    return array_reductions.array_reductions(k)


PIPELINE: tuple[Pass, ...] = (
    Pass("array_reductions", _array_reductions),
    Pass("definite_assignment", _definite, analysis_only=True),
    Pass("grid_races", _races, analysis_only=True),
    Pass("bind_params", _bind),
    Pass("bind_made", _bind_made),
    Pass("lower_elementwise", _lower_elementwise),
    Pass("infer_types", _infer),
    Pass("lower_results", _lower_results),
    Pass("verify", _verify, analysis_only=True),
    Pass("lower_rint", _lower_rint),
    Pass("simplify", _simplify),
    Pass("resources", _resources, analysis_only=True),
    Pass("shape_guards", _guards, analysis_only=True),
    Pass("lower_index", _lower_index),
    Pass("lower_pow", _lower_pow),
    Pass("lower_range", _lower_range),
    Pass("lower_casts", _lower_casts),
    Pass("lower_half_casts", _lower_half_casts),
    Pass("lower_boolops", _lower_boolops),
    Pass("hoist_loads", _hoist_loads),
    Pass("lower_wrap", _lower_wrap),
)


@dataclass
class Stages:
    """Every stage's output, in order: ``stages["infer_types"]`` is typed IR."""

    outputs: dict
    final: ir.Kernel
    findings: dict

    def __getitem__(self, name: str):
        return self.outputs[name]

    def for_backends(self) -> ir.Kernel:
        """The final IR as the backends that render it take it: complex values as
        pairs of reals (``lower_complex``; the python backend runs the function on
        ``final`` itself). Kept as the stage ``lower_complex``."""
        k = self.outputs.get("lower_complex")
        if k is None:
            k = self.outputs["lower_complex"] = lower_complex.lower_complex(self.final)
            if k is not self.final and config.verify_ir():
                verify.verify(k, "lower_complex")
        return k


def run_pipeline(untyped: ir.Kernel, signature: tuple, info,
                 options: dict | None = None) -> Stages:
    ctx = CompileContext(signature, info, options=dict(options or {}))
    outputs: dict = {"frontend": untyped}
    k = untyped
    check_all = config.verify_ir()
    for p in PIPELINE:
        result = p.run(k, ctx)
        if p.analysis_only:
            ctx.findings[p.name] = result
            outputs[p.name] = result
            continue
        k = result
        outputs[p.name] = k
        if check_all and p.name not in ("array_reductions", "bind_params", "bind_made",
                                        "lower_elementwise"):
            verify.verify(k, p.name)
    return Stages(outputs, k, ctx.findings)
