"""Lowered IR -> a Triton module (SPMD source) plus the host program that drives it.

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

:mod:`.triton_lower` splits the kernel into host steps and device kernels and
plans their lanes; this module writes each device kernel around its body
(:mod:`.triton_emit`): a grid kernel walks the flattened grid
(``i = lin // n1``, ...) in ``BLOCK``-wide chunks, a serial kernel runs one
lane. Helpers, types and literals come from :mod:`.triton_lib`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import ir
from .triton_emit import DeviceEmitter
from .triton_lib import (MODULE_HEADER, helper_lines, identity_literal, tl_type)
from .triton_lower import DeviceKernel, describe_step, lower_program

#: BLOCK the ahead-of-time compilation of grid kernels uses (serial kernels: 1).
AOT_BLOCK = 1024


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


def render_program(k: ir.Kernel, options: dict) -> Program:
    """The Triton program for typed kernel ``k`` (raises KernelCompileError)."""
    lowered = lower_program(k)
    helpers: set = set()
    bodies = [render_kernel(lowered.kernel, dk, lowered.types, helpers)
              for dk in lowered.kernels]
    out = [f"# LangOne kernel {k.name!r} for Triton, generated from its typed IR: "
           f"do not edit.", f"# source: {k.filename}", "#", "# Typed IR:"]
    out += ["#   " + line for line in ir.format_kernel(lowered.kernel).splitlines()]
    out += ["#", "# Host program (Python; scalar statements follow the numpy reference):"]
    for i, step in enumerate(lowered.steps):
        out += ["#   " + line for line in describe_step(i, step)]
    out += [""] + MODULE_HEADER + helper_lines(helpers)
    line_locs = {}
    for lines, locs in bodies:
        out += ["", "@triton.jit"]
        line_locs.update({len(out) + 1 + i: loc for i, loc in locs.items()})
        out += lines + [""]
    return Program(k, "\n".join(out).rstrip("\n") + "\n", lowered.steps, lowered.kernels,
                   line_locs, lowered.types)


def render_kernel(k: ir.Kernel, dk: DeviceKernel, types: dict, helpers: set
                  ) -> tuple[list, dict]:
    """(lines, line -> user Loc) of one ``@triton.jit`` function; records its checks."""
    em = DeviceEmitter(k, types, helpers, dk)
    (grid_kernel if dk.kind == "grid" else serial_kernel)(em, dk)
    dk.checks = tuple(em.checks)
    head = [f"def {dk.name}(" + ", ".join(_annotated(n, s) for n, s in dk.params) + "):"]
    prologue = [line for line in em.used_args.values()]
    for n, t in dk.scalars:
        if n in dk.read_only:
            prologue.append(f"v_{n} = tl.full([], v_{n}, {tl_type(t)})"
                            if not t.is_bool else f"v_{n} = v_{n} != 0")
    offset = len(head) + len(prologue)
    return (head + ["    " + line for line in prologue] + em.lines,
            {offset + i: loc for i, loc in em.line_locs.items()})


def serial_kernel(em: DeviceEmitter, dk: DeviceKernel) -> None:
    """One program, one lane: host values in, assigned scalars written back."""
    inputs = {n for n, _ in dk.scalars}
    em.put("_lin = tl.arange(0, BLOCK).to(tl.int64)")
    em.put("_gm = _lin < 1")
    em.put("_zl = tl.full([BLOCK], 0, tl.int64)")
    for n in sorted(dk.lanes):
        em.put(f"v_{n} = tl.full([BLOCK], {f'v_{n}' if n in inputs else 0}, "
               f"{tl_type(em.types[n])})")
    em.block(dk.body, "_gm")
    for w, _ in dk.outputs:
        em.put(f"tl.store(_out_{w} + _lin, v_{w}, mask=_gm)")


def grid_kernel(em: DeviceEmitter, dk: DeviceKernel) -> None:
    """A grid-stride loop over BLOCK-lane chunks; each reduction keeps one accumulator
    per lane for the whole loop and stores the program's partial at the end."""
    g, reds = dk.grid, dk.reductions
    em.put(f"# lo.grid{' at line ' + str(g.loc.line) if g.loc.line else ''}: " +
           ", ".join(f"{v} < {ir.fmt_expr(x)}" for v, x in zip(g.vars, g.extents)) +
           "".join(f"; reduce {op}({v})" for v, op, _ in reds), g.loc)
    em.put("_pid = tl.program_id(0).to(tl.int64)")
    em.put("_npg = tl.num_programs(0).to(tl.int64)")
    em.put("_lane = tl.arange(0, BLOCK).to(tl.int64)")
    em.put("_zl = tl.full([BLOCK], 0, tl.int64)")
    for v, op, t in reds:
        em.put(f"v_{v} = tl.full([BLOCK], {identity_literal(op, t)}, {tl_type(t)})")
    em.put("for _chunk in range(_pid, (_g_total + BLOCK - 1) // BLOCK, _npg):")
    em.depth += 1
    em.put("_lin = _chunk * BLOCK + _lane")
    em.put("_gm = _lin < _g_total")
    for d, v in enumerate(g.vars):           # the grid's indices from the flat lane (C order)
        below = [f"_g_n{e}" for e in range(d + 1, len(g.vars))]
        index = f"_lin // {below[0] if len(below) == 1 else '(' + ' * '.join(below) + ')'}" \
            if below else "_lin"
        em.put(f"v_{v} = " + (f"({index}) % _g_n{d}" if d and below else
                              f"{index} % _g_n{d}" if d else index))
    for n in sorted(dk.lanes - set(g.vars) - {v for v, _, _ in reds}):
        em.put(f"v_{n} = tl.full([BLOCK], 0, {tl_type(em.types[n])})")
    em.block(dk.body, "_gm")
    em.depth -= 1
    for v, op, t in reds:
        em.put(f"tl.store(_part_{v} + _pid, {program_fold(em, op, t, f'v_{v}')})")


def program_fold(em: DeviceEmitter, op: str, t, acc: str) -> str:
    """The program's lanes reduced to one value (NaN-propagating min/max for floats)."""
    em.helpers.add("reduce")
    name = {"sum": "rsum", "prod": "rprod", "min": "rmin",
            "max": "rmax"}[ir.reduction_base(op)]
    if t.is_bool:
        return f"(_lo_{name}({acc}.to(tl.int32)) != 0)"
    return f"_lo_{name}({acc})"


def _annotated(name: str, sig: str) -> str:
    """Scalar parameters carry their type, so Triton neither guesses nor specializes it."""
    if sig == "constexpr":
        return f"{name}: tl.constexpr"
    if sig.startswith("*"):
        return name
    return f"{name}: tl.{'float64' if sig == 'fp64' else 'int64'}"


__all__ = ["AOT_BLOCK", "Program", "render_program"]
