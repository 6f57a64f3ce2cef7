"""Typed IR -> a Triton module (SPMD source) plus the host program that drives it.

Example:
    >>> import numpy as np, langone as lo
    >>> @lo.kernel
    ... def total(x):
    ...     acc = 0.0
    ...     for i in lo.grid(x.shape[0]):
    ...         acc += x[i]
    ...     return acc
    >>> from langone.kernels.backends.triton_render import render_program
    >>> program = render_program(total.stages(np.ones(4, np.float32)).final, {})
    >>> [type(s).__name__ for s in program.steps]
    ['HostStep', 'LaunchStep', 'HostStep']

A kernel's top-level statements become a short *host program* (run by
:mod:`.triton_launch`):

* statements that touch no tensor element (``acc = 0.0``, ``n = x.shape[0]``,
  the final ``return``) run on the host with the numpy reference's semantics;
* each ``lo.grid`` becomes one ``@triton.jit`` *grid kernel*;
* runs of statements outside grids that load or store tensor elements (a
  sequential scan, ``return x[0]``) become one single-lane *serial kernel*
  whose assigned scalars are written back to the host.

Inside a device kernel everything is SPMD, mirroring the reference
(:mod:`.numpy_ref`): every scalar of the kernel body is a ``[BLOCK]`` vector of
lanes; the grid is flattened to one dimension (``i = lin // n1``, ...) and
walked by a grid-stride loop over ``BLOCK``-wide chunks; branches become lane
masks (``tl.where`` and masked loads/stores); sequential loops stay loops --
a real ``for`` over a scalar trip count when every lane runs the same
iterations, else a ``while`` that runs while any lane is active --; ``break``
and ``continue`` retire lanes (see :mod:`.triton_emit`). Reductions keep one
accumulator per lane, reduce it per program (``tl.reduce``, NaN-propagating
for min/max) into a partials buffer, and the host combines the partials with
the value from before the grid exactly as the reference does.

Exact semantics (see :mod:`langone.kernels.ir`): fp16/bf16 load as fp32 and
round on store and on casts; integers wrap (Triton ints are fixed-width);
``//`` and ``%`` floor like Python (Triton truncates, so helpers fix the
sign); fp32 division and square roots round like IEEE (``div_rn``,
``sqrt_rn``); shifts by out-of-range amounts and ``**`` with negative integer
exponents follow the reference; shapes and strides (in elements, any sign)
are kernel arguments. Transcendentals use libdevice on a GPU and Triton's core
math in the interpreter (which cannot call libdevice): the generated module
decides at import time through ``_INTERP``, so the text is the same for both
(helpers: :mod:`.triton_lib`).

What Triton cannot express is a :class:`~langone.errors.KernelCompileError`
at the user's line: ``lo.atomic_add`` inside ``lo.grid`` into 8/16-bit
integer or bool tensors (Triton has 32/64-bit integer atomics only; fp16/bf16
targets accumulate through an fp32 shadow, as the reference does).
"""

from __future__ import annotations

import linecache
from dataclasses import dataclass, field

from ...dtypes import DType, fp32
from ...errors import KernelCompileError
from .. import ir
from ..passes.lower_half_casts import lower_half_casts
from .triton_emit import (DeviceEmitter, assigned_names, has_load, read_names,
                          tensors_used, touches_tensors)
from .triton_lib import (MODULE_HEADER, helper_lines, identity_literal, is_half,
                         pointer_signature, scalar_signature, tl_type)

#: BLOCK the ahead-of-time compilation of grid kernels uses (serial kernels: 1).
AOT_BLOCK = 1024


# --- the program description ----------------------------------------------------------------

@dataclass
class TensorArg:
    """A tensor a device kernel touches: pointer, shapes and strides in elements."""

    name: str                     # IR name of the tensor parameter
    type: ir.TensorType
    shadow: bool = False          # an fp32 accumulation copy of a half tensor (atomics)

    @property
    def base(self) -> str:
        return f"t_{self.name}" + ("_acc" if self.shadow else "")

    @property
    def stride_axes(self) -> tuple:
        """Axes whose stride is passed (a contiguous tensor's last stride is 1)."""
        nd = self.type.ndim
        return tuple(range(nd - 1 if (self.type.contiguous or self.shadow) else nd))

    @property
    def element(self) -> DType:
        return fp32 if self.shadow else self.type.dtype


@dataclass
class DeviceKernel:
    """One ``@triton.jit`` function and how the host launches it."""

    name: str
    kind: str                              # "grid" | "serial"
    loc: ir.Loc
    tensors: tuple = ()                    # of TensorArg
    scalars: tuple = ()                    # ((name, DType), ...) host values passed in
    outputs: tuple = ()                    # ((name, DType), ...) serial: written back
    reductions: tuple = ()                 # ((var, op, DType), ...) grid
    grid: ir.Grid | None = None
    checks: tuple = ()                     # debug: ((loc, tensor, axis), ...) per access
    params: tuple = ()                     # ((arg name, signature type), ...) incl. BLOCK

    @property
    def signature(self) -> dict:
        return {n: s for n, s in self.params}


@dataclass
class HostStep:
    """Statements the host runs with the reference's semantics."""

    stmts: tuple


@dataclass
class LaunchStep:
    kernel: DeviceKernel


@dataclass
class Program:
    """Everything rendering produced: the module text, the host plan, a line map."""

    kernel: ir.Kernel
    source: str
    steps: tuple
    kernels: tuple
    line_locs: dict = field(default_factory=dict)   # module line -> user Loc
    local_types: dict = field(default_factory=dict)

    def user_loc(self, module_line: int) -> ir.Loc | None:
        """The kernel-source position of a generated line (nearest statement above)."""
        best = None
        for line, loc in self.line_locs.items():
            if line <= module_line and (best is None or line > best[0]):
                best = (line, loc)
        return best[1] if best else None


# --- errors ----------------------------------------------------------------------------------

def compile_error(k: ir.Kernel, loc: ir.Loc, message: str, hint: str | None = None
                  ) -> KernelCompileError:
    """A KernelCompileError pointing at the user's line of kernel ``k``."""
    line = linecache.getline(k.filename, loc.line) if loc.line else ""
    return KernelCompileError(message, filename=k.filename, lineno=loc.line or None,
                              col=loc.col if loc.line else None,
                              source_line=line or None, hint=hint, kernel=k.name)


_ATOMIC_OK = ("fp16", "bf16", "fp32", "fp64", "int32", "int64")


def check_expressible(k: ir.Kernel) -> None:
    """Raise KernelCompileError for constructs Triton cannot express."""
    tensors = {p.name: p.type for p in k.params if p.is_tensor}
    for s in k.body:
        if not isinstance(s, ir.Grid):
            continue
        for node in ir.walk(s):
            if isinstance(node, ir.AtomicAdd) and \
                    tensors[node.tensor].dtype.name not in _ATOMIC_OK:
                dt = tensors[node.tensor].dtype.name
                raise compile_error(
                    k, node.loc, f"the Triton backend cannot lo.atomic_add into "
                    f"{node.tensor!r}, a {dt} tensor: GPUs have no {dt} atomics",
                    hint="accumulate into an int32 or int64 (or fp32) tensor and cast "
                         "afterwards, or run this kernel on the numba backend")


# --- kernel assembly ---------------------------------------------------------------------------

class ProgramBuilder:
    """Splits a typed kernel into host steps and device kernels and renders the module."""

    def __init__(self, k: ir.Kernel, options: dict):
        self.k = k
        self.options = options
        self.types = dict(k.local_types)
        for p in k.params:
            if not p.is_tensor:
                self.types[p.name] = p.type
        self.helpers: set = set()
        self.kernels: list[DeviceKernel] = []
        self.steps: list = []
        self.bodies: list[tuple[list, dict]] = []      # (lines, line_locs) per kernel

    def build(self) -> Program:
        check_expressible(self.k)
        available = {p.name for p in self.k.params if not p.is_tensor}
        group: list = []
        group_is_device = False

        def flush():
            nonlocal group
            if group:
                if group_is_device:
                    self.serial_kernel(tuple(group), set(available))
                else:
                    self.steps.append(HostStep(tuple(group)))
                for s in group:
                    available.update(assigned_names((s,)))
            group = []

        for s in self.k.body:
            if isinstance(s, ir.Return) and s.value is not None and has_load(s.value):
                s, ret = self.split_return(s)
                flush()
                group, group_is_device = [s], True
                flush()
                group, group_is_device = [ret], False
                continue
            if isinstance(s, ir.Grid):
                flush()
                self.grid_kernel(s, set(available))
                continue
            device = touches_tensors(s)
            if group and device != group_is_device:
                flush()
            group_is_device = device
            group.append(s)
        flush()
        return self.assemble()

    def split_return(self, s: ir.Return) -> tuple[ir.Stmt, ir.Stmt]:
        """``return <expr with loads>``: a serial kernel computes it, the host returns it."""
        name = "__ret"
        self.types[name] = s.value.type
        return (ir.Assign(s.loc, name, s.value),
                ir.Return(s.loc, ir.Name(s.loc, s.value.type, name)))

    def kernel_name(self, kind: str) -> str:
        return f"k_{self.k.name}_{kind}{len(self.kernels)}"

    def tensor_args(self, stmts: tuple, shadows: set) -> tuple:
        used = tensors_used(stmts)
        out = []
        for p in self.k.params:
            if p.is_tensor and p.name in used:
                out.append(TensorArg(p.name, p.type))
                if p.name in shadows:
                    out.append(TensorArg(p.name, p.type, shadow=True))
        return tuple(out)

    def serial_kernel(self, stmts: tuple, available: set) -> None:
        name = self.kernel_name("serial")
        em = DeviceEmitter(self.k, self.types, self.options, self.helpers, name, "serial",
                           stmts, available)
        written = assigned_names(stmts)
        em.plan_lanes(written)
        written = {w for w in written if w in em.lanes}
        inputs = (read_names(stmts) | written) & available
        outputs = tuple((w, self.types[w]) for w in sorted(written))
        em.put("_lin = tl.arange(0, BLOCK).to(tl.int64)")
        em.put("_gm = _lin < 1")
        em.put("_zl = tl.full([BLOCK], 0, tl.int64)")
        for w, t in outputs:
            if w in inputs:
                em.put(f"v_{w} = tl.full([BLOCK], v_{w}, {tl_type(t)})")
            else:
                em.put(f"v_{w} = tl.full([BLOCK], 0, {tl_type(t)})")
        em.block(stmts, "_gm")
        for w, t in outputs:
            em.put(f"tl.store(_out_{w} + _lin, v_{w}, mask=_gm)")
        scalars = tuple((n, self.types[n]) for n in sorted(inputs))
        dk = DeviceKernel(name, "serial", stmts[0].loc, self.tensor_args(stmts, set()),
                          scalars, outputs)
        self.finish(dk, em, read_only=inputs - written,
                    extra=[(f"_out_{w}", pointer_signature(_out_dtype(t))) for w, t in outputs])

    def grid_kernel(self, g: ir.Grid, available: set) -> None:
        name = self.kernel_name("grid")
        em = DeviceEmitter(self.k, self.types, self.options, self.helpers, name, "grid",
                           g.body, available)
        reds = tuple((r.var, r.op, self.types[r.var]) for r in g.reductions)
        red_vars = {r[0] for r in reds}
        em.plan_lanes(set(g.vars) | red_vars)
        inputs = (read_names(g.body) & available) - em.lanes      # host values, read-only
        em.put(f"# lo.grid{' at line ' + str(g.loc.line) if g.loc.line else ''}: " +
               ", ".join(f"{v} < {ir.fmt_expr(x)}" for v, x in zip(g.vars, g.extents)) +
               "".join(f"; reduce {op}({v})" for v, op, _ in reds), g.loc)
        em.put("_pid = tl.program_id(0).to(tl.int64)")
        em.put("_npg = tl.num_programs(0).to(tl.int64)")
        em.put("_lane = tl.arange(0, BLOCK).to(tl.int64)")
        em.put("_zl = tl.full([BLOCK], 0, tl.int64)")
        for v, op, t in reds:
            em.put(f"_acc_{v} = tl.full([BLOCK], {identity_literal(op, t)}, {tl_type(t)})")
        em.put("for _chunk in range(_pid, (_g_total + BLOCK - 1) // BLOCK, _npg):")
        em.depth += 1
        em.put("_lin = _chunk * BLOCK + _lane")
        em.put("_gm = _lin < _g_total")
        self.grid_indices(em, g)
        for n in sorted(em.lanes - set(g.vars)):
            t = self.types[n]
            init = identity_literal(dict((v, op) for v, op, _ in reds)[n], t) \
                if n in red_vars else "0"
            em.put(f"v_{n} = tl.full([BLOCK], {init}, {tl_type(t)})")
        em.block(g.body, "_gm")
        for v, op, t in reds:
            em.put(f"_acc_{v} = {self.lane_fold(op, t, f'_acc_{v}', f'v_{v}', em)}")
        em.depth -= 1
        for v, op, t in reds:
            em.put(f"tl.store(_part_{v} + _pid, {self.program_fold(op, t, f'_acc_{v}')})")
        scalars = tuple((n, self.types[n]) for n in sorted(inputs))
        dk = DeviceKernel(name, "grid", g.loc, self.tensor_args(g.body, em.shadowed),
                          scalars, (), reds, g)
        extra = [(f"_g_n{i}", "i64") for i in range(1, len(g.vars))] + [("_g_total", "i64")]
        extra += [(f"_part_{v}", pointer_signature(_out_dtype(t))) for v, _, t in reds]
        self.finish(dk, em, read_only=inputs, extra=extra)

    @staticmethod
    def grid_indices(em: DeviceEmitter, g: ir.Grid) -> None:
        """Recover the grid's indices from the flat lane number (C order)."""
        nd = len(g.vars)
        if nd == 1:
            em.put(f"v_{g.vars[0]} = _lin")
        elif nd == 2:
            em.put(f"v_{g.vars[0]} = _lin // _g_n1")
            em.put(f"v_{g.vars[1]} = _lin % _g_n1")
        else:
            em.put(f"v_{g.vars[0]} = _lin // (_g_n1 * _g_n2)")
            em.put(f"v_{g.vars[1]} = (_lin // _g_n2) % _g_n1")
            em.put(f"v_{g.vars[2]} = _lin % _g_n2")

    def lane_fold(self, op: str, t: DType, acc: str, lane: str, em: DeviceEmitter) -> str:
        ident = identity_literal(op, t)
        val = f"tl.where(_gm, {lane}, {ident})"
        if op == "sum":
            return f"{acc} + {val}"
        if op == "prod":
            return f"{acc} * {val}"
        base = ir.reduction_base(op)
        if t.is_bool:
            return f"{acc} & {val}" if base == "min" else f"{acc} | {val}"
        # Python max/min lanes never hold NaN (skipped): one NaN-propagating fold.
        nan = ", propagate_nan=tl.PropagateNan.ALL" if t.is_floating else ""
        return f"tl.{'minimum' if base == 'min' else 'maximum'}({acc}, {val}{nan})"

    def program_fold(self, op: str, t: DType, acc: str) -> str:
        self.helpers.add("reduce")
        name = {"sum": "rsum", "prod": "rprod", "min": "rmin",
                "max": "rmax"}[ir.reduction_base(op)]
        if t.is_bool:
            return f"(_lo_{name}({acc}.to(tl.int32)) != 0)"
        return f"_lo_{name}({acc})"

    def finish(self, dk: DeviceKernel, em: DeviceEmitter, read_only: set, extra: list) -> None:
        """Prepend the signature and the argument casts; record the kernel."""
        params: list = []
        for ta in dk.tensors:
            params.append((ta.base, pointer_signature(ta.element)))
            if not ta.shadow:
                params += [(f"t_{ta.name}_n{a}", "i64") for a in range(ta.type.ndim)]
            params += [(f"{ta.base}_s{a}", "i64") for a in ta.stride_axes]
        params += [(f"v_{n}", scalar_signature(t)) for n, t in dk.scalars]
        params += extra
        if em.checks:
            params.append(("_err", "*i64"))
        params.append(("BLOCK", "constexpr"))
        dk.params = tuple(params)
        dk.checks = tuple(em.checks)
        head = [f"def {dk.name}(" + ", ".join(_annotated(n, s) for n, s in params) + "):"]
        prologue = [line for line in em.used_args.values() if line]
        for n, t in dk.scalars:
            if n in read_only:
                prologue.append(f"v_{n} = tl.full([], v_{n}, {tl_type(t)})"
                                if not t.is_bool else f"v_{n} = v_{n} != 0")
        body = ["    " + line for line in prologue]
        offset = len(head) + len(body)
        self.bodies.append((head + body + em.lines,
                            {offset + i: loc for i, loc in em.line_locs.items()}))
        self.kernels.append(dk)
        self.steps.append(LaunchStep(dk))

    def assemble(self) -> Program:
        k = self.k
        out = [f"# LangOne kernel {k.name!r} for Triton, generated from its typed IR: "
               f"do not edit.", f"# source: {k.filename}", "#", "# Typed IR:"]
        out += ["#   " + line for line in ir.format_kernel(k).splitlines()]
        out += ["#", "# Host program (Python; scalar statements follow the numpy reference):"]
        for i, step in enumerate(self.steps):
            out += ["#   " + line for line in describe_step(i, step)]
        out += [""] + MODULE_HEADER + helper_lines(self.helpers)
        line_locs = {}
        for lines, locs in self.bodies:
            out += ["", "@triton.jit"]
            start = len(out) + 1                  # 1-based line of the def
            line_locs.update({start + i: loc for i, loc in locs.items()})
            out += lines
            out += [""]
        return Program(k, "\n".join(out).rstrip("\n") + "\n", tuple(self.steps),
                       tuple(self.kernels), line_locs, self.types)


def _annotated(name: str, sig: str) -> str:
    """Scalar parameters carry their type, so Triton neither guesses nor specializes it."""
    if sig == "constexpr":
        return f"{name}: tl.constexpr"
    if sig.startswith("*"):
        return name
    return f"{name}: tl.{'float64' if sig == 'fp64' else 'int64'}"


def _out_dtype(t: DType) -> DType:
    """Device buffers for host values hold the compute type (halves in fp32)."""
    return fp32 if is_half(t) else t


def describe_step(i: int, step) -> list[str]:
    if isinstance(step, HostStep):
        lines = ir.fmt_stmts(step.stmts, 0)
        return [f"{i}: host    {lines[0].strip()}"] + [f"           {x}" for x in lines[1:]]
    dk = step.kernel
    if dk.kind == "serial":
        outs = ", ".join(n for n, _ in dk.outputs) or "nothing"
        return [f"{i}: launch  {dk.name}[1 program, 1 lane]; read back {outs}"]
    g = dk.grid
    ext = ", ".join(ir.fmt_expr(x) for x in g.extents)
    red = "".join(f"; combine {op}({v}) from per-program partials" for v, op, _ in
                  dk.reductions)
    return [f"{i}: launch  {dk.name} over grid({ext}) in BLOCK-lane chunks{red}"]


def render_program(k: ir.Kernel, options: dict) -> Program:
    """The Triton program for typed kernel ``k`` (raises KernelCompileError)."""
    return ProgramBuilder(lower_half_casts(k), options).build()


__all__ = ["AOT_BLOCK", "DeviceKernel", "HostStep", "LaunchStep", "Program", "TensorArg",
           "check_expressible", "compile_error", "render_program"]
