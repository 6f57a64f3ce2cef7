"""Triton target lowering: typed IR -> the host program and its device kernels.

The Triton renderer (:mod:`.triton_render`, :mod:`.triton_emit`) only writes
text; every decision about structure is made here, on IR:

* **The host-program split.** A kernel's top-level statements become a short
  host program (run by :mod:`.triton_launch`): statements that touch no tensor
  element (``acc = 0.0``, ``n = x.shape[0]``, the final ``return``) run on the
  host with the numpy reference's semantics; each ``lo.grid`` becomes one
  *grid kernel*; runs of statements outside grids that load or store tensor
  elements (a sequential scan, ``return x[0]``) become one single-lane
  *serial kernel* whose assigned scalars are written back to the host.
* **Lane planning.** Inside a device kernel everything is SPMD, mirroring the
  reference (:mod:`.numpy_ref`): every scalar is a ``[BLOCK]`` vector of lanes
  unless it is the same in every lane (host values, shapes, the induction
  variable of a ``range`` every lane runs alike, which stays a real ``for``).
  Other loops run while any lane is active.
* **Loop exits as flags.** ``break`` and ``continue`` become boolean flag
  locals (``brk = True``) and the statements after them are guarded by
  ``if not (brk or cont)``; a ``while`` tests ``not brk`` first, and a lane
  leaves a ``range`` loop once its break flag is set (such a loop is never
  uniform). The renderer sees no exits.
* **Serial atomics** (one lane) become a load, the update and a store
  (:mod:`..passes.lower_atomics`); in grids the emitter uses Triton's atomics, or a
  compare-and-swap loop where they are not exact (float max/min, cas).
* **Reductions** keep one accumulator per lane for the whole grid-stride loop,
  reduced per program into a partials buffer that the host combines with the
  value from before the grid exactly as the reference does.
* **fp32 shadows**: atomics into fp16/bf16 update an fp32 copy of the tensor
  (the launcher makes and rounds it), as the reference does.
* Integer-to-half casts arrive lowered by the shared pipeline
  (:mod:`..passes.lower_half_casts`); :mod:`..passes.lower_intrinsics` runs first.

What Triton cannot express is a :class:`~langone.errors.KernelCompileError`
at the user's line: an atomic inside ``lo.grid`` on 8/16-bit integer tensors
(GPUs have 32/64-bit integer atomics only).
"""

from __future__ import annotations

import itertools
import linecache
from dataclasses import dataclass, field, replace

from ...dtypes import DType, bool_, fp32
from ...errors import KernelCompileError
from .. import ir
from ..passes import lower_atomics
from ..passes.lower_intrinsics import lower_intrinsics
from .triton_lib import is_half, pointer_signature, scalar_signature


# --- the lowered program ---------------------------------------------------------------------

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
    """One ``@triton.jit`` function: its lowered body, lane plan, and launch."""

    name: str
    kind: str                              # "grid" | "serial"
    loc: ir.Loc
    tensors: tuple = ()                    # of TensorArg
    scalars: tuple = ()                    # ((name, DType), ...) host values passed in
    outputs: tuple = ()                    # ((name, DType), ...) serial: written back
    reductions: tuple = ()                 # ((var, op, DType), ...) grid
    grid: ir.Grid | None = None
    checks: tuple = ()                     # ((loc, tensor, axis), ...) per checked access
    #                                        (tensor None: a checked exponent)
    params: tuple = ()                     # ((arg name, signature type), ...) incl. BLOCK
    body: tuple = ()                       # the lowered statements
    lanes: frozenset = frozenset()         # names held as [BLOCK] lane vectors
    uniform_loops: frozenset = frozenset()  # ids of For nodes every lane runs alike
    loop_breaks: dict = field(default_factory=dict)   # id(For) -> its break flag
    read_only: frozenset = frozenset()     # host scalars the kernel only reads

    @property
    def signature(self) -> dict:
        return dict(self.params)


@dataclass
class HostStep:
    """Statements the host runs with the reference's semantics."""

    stmts: tuple


@dataclass
class LaunchStep:
    kernel: DeviceKernel


@dataclass(frozen=True)
class Launch(ir.Stmt):
    """Inside a host step's ``range``/``while``/``if``: launch ``kernel`` here (a
    time step). The host interpreter (:mod:`.triton_launch`) runs it in order."""

    kernel: DeviceKernel = field(default=None, compare=False)


@dataclass
class LoweredProgram:
    kernel: ir.Kernel
    steps: tuple
    kernels: tuple
    types: dict = field(default_factory=dict)   # every scalar name -> DType


# --- errors ----------------------------------------------------------------------------------

def compile_error(k: ir.Kernel, loc: ir.Loc, message: str, hint: str | None = None
                  ) -> KernelCompileError:
    """A KernelCompileError pointing at the user's line of kernel ``k``."""
    line = linecache.getline(k.filename, loc.line) if loc.line else ""
    return KernelCompileError(message, filename=k.filename, lineno=loc.line or None,
                              col=loc.col if loc.line else None,
                              source_line=line or None, hint=hint, kernel=k.name)


_ATOMIC_OK = ("fp16", "bf16", "fp32", "fp64", "int32", "int64", "uint32", "uint64")


def check_expressible(k: ir.Kernel) -> None:
    """Raise KernelCompileError for constructs Triton cannot express."""
    tensors = {p.name: p.type for p in k.params if p.is_tensor}
    for s in (n for n in ir.walk(k) if isinstance(n, ir.Grid)):
        for node in ir.walk(s):
            if isinstance(node, ir.Atomic) and \
                    tensors[node.tensor].dtype.name not in _ATOMIC_OK:
                dt = tensors[node.tensor].dtype.name
                raise compile_error(
                    k, node.loc, f"the Triton backend cannot lo.atomic_{node.op} into "
                    f"{node.tensor!r}, a {dt} tensor: GPUs have no {dt} atomics",
                    hint="accumulate into an int32 or int64 (or fp32) tensor and cast "
                         "afterwards, or run this kernel on the numba backend")


# --- IR queries ------------------------------------------------------------------------------

def touches_tensors(s: ir.Stmt) -> bool:
    return any(isinstance(n, (ir.Load, ir.Store, ir.Atomic)) for n in ir.walk(s))


def tensors_used(stmts) -> set:
    return {n.tensor for n in ir.walk_stmts(stmts)
            if isinstance(n, (ir.Load, ir.Store, ir.Atomic, ir.Shape))}


def contains_grid(s: ir.Stmt) -> bool:
    """A host statement (loop or if) with a ``lo.grid`` inside: a time step."""
    return not isinstance(s, ir.Grid) and any(isinstance(n, ir.Grid) for n in ir.walk(s))


def _escapes(stmts) -> bool:
    """Whether a ``break``/``continue`` among ``stmts`` leaves them (targets an outer loop)."""
    def visit(s, in_loop: bool) -> bool:
        if isinstance(s, (ir.Break, ir.Continue)):
            return not in_loop
        inner = in_loop or isinstance(s, (ir.For, ir.While))
        return any(visit(c, inner) for f in ("body", "orelse") for c in getattr(s, f, ()))
    return any(visit(s, False) for s in stmts)


def has_load(e: ir.Expr) -> bool:
    return any(isinstance(n, ir.Load) for n in ir.walk(e))


def needs_mask(e: ir.Expr) -> bool:
    """Whether ``e`` must run only in the lanes that evaluate it: it loads, or
    it may raise (a checked exponent would report lanes that never ran it)."""
    return any(isinstance(n, ir.Load) or ir.may_raise(n) for n in ir.walk(e))


def loop_exits(stmts) -> tuple[bool, bool]:
    """(has break, has continue) that target the loop whose body is ``stmts``."""
    brk = cont = False
    for s in stmts:
        brk, cont = brk or isinstance(s, ir.Break), cont or isinstance(s, ir.Continue)
        if isinstance(s, ir.If):
            b, c = loop_exits(s.body + s.orelse)
            brk, cont = brk or b, cont or c
    return brk, cont


def _scalar_loop_var_ok(k_body: tuple, var: str) -> bool:
    """A ``for var in range`` may keep ``var`` as a scalar when nothing outside
    such loops reads it, nothing assigns it, and such loops do not nest."""
    ok = True

    def visit(stmts, inside: bool):
        nonlocal ok
        for s in stmts:
            if isinstance(s, ir.Assign) and s.target == var:
                ok = False
            if isinstance(s, ir.For) and s.var == var:
                ok = ok and not inside
                for e in (s.start, s.stop, s.step):
                    visit_expr(e, inside)
                visit(s.body, True)
                continue
            for c in ir.children(s):
                if isinstance(c, ir.Expr):
                    visit_expr(c, inside)
            for f in ("body", "orelse"):
                if hasattr(s, f):
                    visit(getattr(s, f), inside)

    def visit_expr(e, inside):
        nonlocal ok
        if not inside and any(isinstance(n, ir.Name) and n.id == var for n in ir.walk(e)):
            ok = False
    visit(k_body, False)
    return ok


def is_vec(e: ir.Expr, lanes, scalars=()) -> bool:
    """Whether ``e`` differs between lanes; ``scalars``: lane names shadowed by scalars."""
    return any(isinstance(n, ir.Load) or (isinstance(n, ir.Name) and n.id in lanes and
                                          n.id not in scalars) for n in ir.walk(e))


def plan_lanes(k_body: tuple, stmts: tuple, fixed_lanes: set, breaks=()
               ) -> tuple[frozenset, frozenset]:
    """(lane names, ids of uniform For loops): a loop is uniform when its bounds are the
    same in every lane; its variable stays a scalar when nothing else needs it in lanes."""
    nodes = list(ir.walk_stmts(stmts))
    lanes = set(fixed_lanes) | ir.assigned_names(stmts)
    fors = [n for n in nodes if isinstance(n, ir.For)]
    changed = True
    while changed:
        changed = False
        uniform = {id(f) for f in fors if id(f) not in breaks and
                   not any(is_vec(e, lanes) for e in (f.start, f.stop, f.step))}
        for f in fors:
            if (id(f) not in uniform or not _scalar_loop_var_ok(k_body, f.var)) and \
                    f.var not in lanes:
                lanes.add(f.var)
                changed = True
    return frozenset(lanes), frozenset(uniform)


# --- IR rewrites for SPMD lanes ----------------------------------------------------------------

class _ExitLowering:
    """``break``/``continue`` as flag locals and guards (see the module docstring)."""

    def __init__(self, types: dict, internal: set):
        self.types = types
        self.internal = internal
        self.counter = itertools.count()
        self.flags: list[tuple] = []            # (brk name | None, cont name | None)
        self.loop_breaks: dict = {}             # id(For) -> its break flag

    def flag(self, kind: str) -> str:
        """A fresh boolean local the host never sees (not written back)."""
        name = f"lo_{kind}{next(self.counter)}_"
        self.types[name] = bool_
        self.internal.add(name)
        return name

    def block(self, stmts: tuple) -> tuple:
        out: list = []
        for i, s in enumerate(stmts):
            out += self.stmt(s)
            if self.flags and i + 1 < len(stmts) and self.exits(s):
                rest = self.block(stmts[i + 1:])
                names = [n for n in self.flags[-1] if n]
                left = [ir.Name(s.loc, bool_, n) for n in names]
                cond = left[0] if len(left) == 1 else ir.BoolOp(s.loc, bool_, "or", tuple(left))
                out.append(ir.If(s.loc, ir.UnaryOp(s.loc, bool_, "not", cond), rest, ()))
                break
        return tuple(out)

    @staticmethod
    def exits(s: ir.Stmt) -> bool:
        return isinstance(s, (ir.Break, ir.Continue)) or \
            (isinstance(s, ir.If) and any(loop_exits(s.body + s.orelse)))

    def stmt(self, s: ir.Stmt) -> list:
        if isinstance(s, (ir.Break, ir.Continue)):
            name = self.flags[-1][0 if isinstance(s, ir.Break) else 1]
            return [ir.Assign(s.loc, name, ir.Const(s.loc, bool_, True))]
        if isinstance(s, ir.If):
            return [replace(s, body=self.block(s.body), orelse=self.block(s.orelse))]
        if isinstance(s, (ir.For, ir.While)):
            return self.loop(s)
        return [s]

    def loop(self, s) -> list:
        brk, cont = loop_exits(s.body)
        if not (brk or cont):
            return [replace(s, body=self.with_flags((None, None), s.body))]
        flags = (self.flag("brk") if brk else None, self.flag("cont") if cont else None)
        false = ir.Const(s.loc, bool_, False)
        body = self.with_flags(flags, s.body)
        if cont:
            body = (ir.Assign(s.loc, flags[1], false),) + body
        if not brk:
            return [replace(s, body=body)]
        init = ir.Assign(s.loc, flags[0], false)
        if isinstance(s, ir.While):
            not_brk = ir.UnaryOp(s.loc, bool_, "not", ir.Name(s.loc, bool_, flags[0]))
            return [init, ir.While(s.loc, ir.BoolOp(s.loc, bool_, "and", (not_brk, s.cond)),
                                   body)]
        loop = replace(s, body=body)
        self.loop_breaks[id(loop)] = flags[0]       # the renderer's lanes leave on it
        return [init, loop]

    def with_flags(self, flags: tuple, body: tuple) -> tuple:
        self.flags.append(flags)
        try:
            return self.block(body)
        finally:
            self.flags.pop()


def lower_serial_atomics(stmts: tuple, fresh, dtypes: dict) -> tuple:
    """In a one-lane kernel an atomic is its Python meaning: ``lo.atomic_add(t, i, v)``
    is ``t[i] = t[i] + v``; ``old = lo.atomic_max(t, i, v)`` is ``old = t[i];
    t[i] = maximum(old, v)``. ``fresh(type)``: a new local for an unused old value;
    ``dtypes``: tensor name -> element type."""
    def visit(s):
        if isinstance(s, ir.Atomic) and not lower_atomics.needs_plain(s):
            old = ir.Load(s.loc, dtypes[s.tensor], s.tensor, s.index, s.checks)
            new = ir.BinOp(s.loc, s.value.type, "+", old, s.value)
            return [ir.Store(s.loc, s.tensor, s.index, new, s.checks)]
        if isinstance(s, ir.Atomic):
            dt = dtypes[s.tensor]
            held = lower_atomics.held_type(dt)
            return lower_atomics.plain(s, s.target or fresh(held), dt, held)
        changes = {f: tuple(x for y in getattr(s, f) for x in visit(y))
                   for f in ("body", "orelse") if hasattr(s, f)}
        return [replace(s, **changes) if changes else s]
    return tuple(x for s in stmts for x in visit(s))


class _Lowering:
    """Splits a typed kernel into host steps and device kernels."""

    def __init__(self, k: ir.Kernel):
        self.k = k
        self.types = dict(k.local_types)
        self.types.update({p.name: p.type for p in k.params if not p.is_tensor})
        self.internal: set = set()
        self.exits = _ExitLowering(self.types, self.internal)
        self.kernels: list[DeviceKernel] = []
        self.steps: list = []

    def run(self) -> LoweredProgram:
        check_expressible(self.k)
        available = {p.name for p in self.k.params if not p.is_tensor}
        group: list = []
        group_is_device = False

        def flush():
            nonlocal group
            if group:
                if group_is_device:
                    self.steps.append(LaunchStep(self.serial_kernel(tuple(group),
                                                                    set(available))))
                else:
                    self.steps.append(HostStep(tuple(group)))
                for s in group:
                    available.update(ir.assigned_names((s,)))
            group = []

        for s in self.k.body:
            if contains_grid(s):                  # time steps: host control, launches inside
                flush()
                self.steps.append(HostStep((self.host_control(s, set(available)),)))
                available.update(ir.assigned_names((s,)))
                continue
            if isinstance(s, ir.Return) and s.value is not None and has_load(s.value):
                s, ret = self.split_return(s)
                flush()
                group, group_is_device = [s], True
                flush()
                group, group_is_device = [ret], False
                continue
            if isinstance(s, ir.Grid):
                flush()
                self.steps.append(LaunchStep(self.grid_kernel(s, set(available))))
                continue
            device = touches_tensors(s)
            if group and device != group_is_device:
                flush()
            group_is_device = device
            group.append(s)
        flush()
        return LoweredProgram(self.k, tuple(self.steps), tuple(self.kernels), self.types)

    def host_control(self, s: ir.Stmt, available: set) -> ir.Stmt:
        """A ``range``/``while``/``if`` around grids, run by the host: its test and
        bounds on host values, its body split into host statements and launches
        (one launch per grid per step: each grid ends before the next statement)."""
        tests = [s.cond] if isinstance(s, (ir.If, ir.While)) else [s.start, s.stop, s.step]
        if any(has_load(e) for e in tests):
            raise compile_error(self.k, s.loc, "the Triton backend runs a loop or if around "
                                "lo.grid on the host: its condition and bounds cannot read "
                                "tensor elements", hint="read the value into a local before "
                                "the loop, or run this kernel on the numba backend")
        if isinstance(s, ir.For):
            available = available | {s.var}
        return replace(s, **{f: self.host_block(getattr(s, f), available)
                             for f in ("body", "orelse") if hasattr(s, f)})

    def host_block(self, stmts: tuple, available: set) -> tuple:
        out: list = []
        group: list = []

        def flush():
            if group:
                if _escapes(group):
                    raise compile_error(self.k, group[0].loc, "the Triton backend cannot "
                                        "break out of (or continue) a loop around lo.grid "
                                        "from statements that read tensor elements",
                                        hint="decide on a local computed before the test, "
                                             "or run this kernel on the numba backend")
                out.append(Launch(group[0].loc, self.serial_kernel(tuple(group),
                                                                   set(available))))
                available.update(ir.assigned_names(group))
                group.clear()
        for s in stmts:
            if isinstance(s, ir.Grid):
                flush()
                out.append(Launch(s.loc, self.grid_kernel(s, set(available))))
            elif contains_grid(s):
                flush()
                out.append(self.host_control(s, set(available)))
            elif touches_tensors(s):
                group.append(s)
                continue
            else:
                flush()
                out.append(s)
            available.update(ir.assigned_names((s,)))
        flush()
        return tuple(out)

    def internal_local(self, t: DType) -> str:
        """A new device-only local of type ``t`` (never copied back to the host)."""
        name = ir.fresh_name("_old", set(self.types))
        self.types[name] = t
        self.internal.add(name)
        return name

    def split_return(self, s: ir.Return) -> tuple[ir.Stmt, ir.Stmt]:
        """``return <expr with loads>``: a serial kernel computes it, the host returns it."""
        self.types["__ret"] = s.value.type
        return (ir.Assign(s.loc, "__ret", s.value),
                ir.Return(s.loc, ir.Name(s.loc, s.value.type, "__ret")))

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
        dtypes = {p.name: p.type.dtype for p in self.k.params if p.is_tensor}
        body = self.exits.block(lower_serial_atomics(stmts, self.internal_local, dtypes))
        written = ir.assigned_names(body)
        lanes, uniform = plan_lanes(self.k.body, body, written, self.exits.loop_breaks)
        written = {w for w in written if w in lanes and w not in self.internal}
        inputs = (ir.read_names(body) | written) & available
        outputs = tuple((w, self.types[w]) for w in sorted(written))
        dk = DeviceKernel(self.kernel_name("serial"), "serial", stmts[0].loc,
                          self.tensor_args(body, set()),
                          tuple((n, self.types[n]) for n in sorted(inputs)), outputs,
                          body=body, lanes=lanes, uniform_loops=uniform,
                          loop_breaks=self.exits.loop_breaks,
                          read_only=frozenset(inputs - written))
        extra = [(f"_out_{w}", pointer_signature(_out_dtype(t))) for w, t in outputs]
        return self.finish(dk, extra)

    def grid_kernel(self, g: ir.Grid, available: set) -> None:
        body = self.exits.block(g.body)
        reds = tuple((r.var, r.op, self.types[r.var]) for r in g.reductions)
        lanes, uniform = plan_lanes(self.k.body, body, set(g.vars) | {r[0] for r in reds},
                                    self.exits.loop_breaks)
        inputs = (ir.read_names(body) & available) - lanes     # host values, read-only
        shadows = {n.tensor for n in ir.walk_stmts(body) if isinstance(n, ir.Atomic)
                   and is_half(self.k.param(n.tensor).type.dtype)}
        dk = DeviceKernel(self.kernel_name("grid"), "grid", g.loc,
                          self.tensor_args(body, shadows),
                          tuple((n, self.types[n]) for n in sorted(inputs)), (), reds, g,
                          body=body, lanes=lanes, uniform_loops=uniform,
                          loop_breaks=self.exits.loop_breaks, read_only=frozenset(inputs))
        extra = [(f"_g_n{i}", "i64") for i in range(1, len(g.vars))] + [("_g_total", "i64")]
        extra += [(f"_part_{v}", pointer_signature(_out_dtype(t))) for v, _, t in reds]
        return self.finish(dk, extra)

    def kernel_name(self, kind: str) -> str:
        return f"k_{self.k.name}_{kind}{len(self.kernels)}"

    def finish(self, dk: DeviceKernel, extra: list) -> DeviceKernel:
        """The kernel's parameters: tensors (pointer, shapes, strides), scalars, extras."""
        params: list = []
        for ta in dk.tensors:
            params.append((ta.base, pointer_signature(ta.element)))
            if not ta.shadow:
                params += [(f"t_{ta.name}_n{a}", "i64") for a in range(ta.type.ndim)]
            params += [(f"{ta.base}_s{a}", "i64") for a in ta.stride_axes]
        params += [(f"v_{n}", scalar_signature(t)) for n, t in dk.scalars]
        params += extra
        if any(ir.may_raise(n) for n in ir.walk_stmts(dk.body)):
            params.append(("_err", "*i64"))
        dk.params = tuple(params) + (("BLOCK", "constexpr"),)
        self.kernels.append(dk)
        return dk


def _out_dtype(t: DType) -> DType:
    """Device buffers for host values hold the compute type (halves in fp32)."""
    return fp32 if is_half(t) else t


def lower_program(k: ir.Kernel) -> LoweredProgram:
    """The host program and device kernels of typed kernel ``k`` (KernelCompileError if
    Triton cannot express it)."""
    return _Lowering(lower_intrinsics(k)).run()


def describe_step(i: int, step) -> list[str]:
    """The host program's step ``i`` in words (the generated module's header)."""
    if isinstance(step, HostStep):
        lines = ir.fmt_stmts(_shown(step.stmts), 0)
        return [f"{i}: host    {lines[0].strip()}"] + [f"           {x}" for x in lines[1:]]
    dk = step.kernel
    if dk.kind == "serial":
        outs = ", ".join(n for n, _ in dk.outputs) or "nothing"
        return [f"{i}: launch  {dk.name}[1 program, 1 lane]; read back {outs}"]
    ext = ", ".join(ir.fmt_expr(x) for x in dk.grid.extents)
    red = "".join(f"; combine {op}({v}) from per-program partials" for v, op, _ in
                  dk.reductions)
    return [f"{i}: launch  {dk.name} over grid({ext}) in BLOCK-lane chunks{red}"]


def _shown(stmts: tuple) -> tuple:
    """Host statements for display: each launch inside as a comment naming it."""
    def show(s):
        if isinstance(s, Launch):
            return ir.Comment(s.loc, f"launch {s.kernel.name}")
        return replace(s, **{f: _shown(getattr(s, f)) for f in ("body", "orelse")
                             if hasattr(s, f)})
    return tuple(show(s) for s in stmts)
