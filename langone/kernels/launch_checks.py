"""Launch-time argument checks: what a compiled kernel may not be called with.

Before every call of a specialization, a small generated Python function checks:

* the shape guards of the bounds analysis (:mod:`.passes.guards`): an output
  too short for ``out[i + 1] = x[i]`` is refused instead of written past its end;
* outputs (tensors the kernel stores to or atomically updates) are writable
  and have no zero stride along an axis longer than one (``np.broadcast_to``
  views, frozen buffers): every element has one home;
* the same array is not passed as an output and as another tensor argument,
  unless the kernel only updates it in place at the grid's own index;
* Python ints fit every integer type they meet in the kernel (NEP 50 keeps
  them weak: ``x[i] + k`` with int32 ``x`` needs ``k`` in int32's range, and
  every one in int64's); a value that does not is refused, never wrapped or
  promoted to uint64.

The function is generated once per specialization, so a passing call costs a
few comparisons; failures raise :class:`~langone.errors.KernelArgumentError`
naming the argument, its shape or value, and for guards the kernel line.
"""

from __future__ import annotations

import numpy as np

from ..errors import KernelArgumentError
from . import ir
from .passes import aliases
from .passes.guards import ShapeGuard


def wrap(fn, stages, name: str):
    """``fn`` (called with the argument list) behind the launch checks of ``stages``."""
    k: ir.Kernel = stages.final
    position = {p.name: i for i, p in enumerate(k.params)}
    failures: list = []
    lines: list[str] = []

    def fail(make) -> str:
        failures.append(make)
        return f"raise _fail[{len(failures) - 1}](args)"

    for g in stages.findings.get("shape_guards", ()):
        size = f"args[{position[g.tensor]}].shape[{g.axis}]"
        runs = "".join(f" and {w.python(position)} >= 1" for w in g.when)
        lines.append(f"    if {size} < {g.need.python(position)}{runs}:")
        lines.append("        " + fail(_guard_failure(g, k, name, position)))
    # An elementwise kernel's one output is a fresh pool buffer: nothing to check.
    for pname in aliases.outputs(k) if k.kind != "elementwise" else ():
        p = position[pname]
        lines += ["    try:",
                  f"        if not args[{p}].flags.writeable:",
                  "            " + fail(_output_failure(name, pname, p, "read-only")),
                  "    except AttributeError:",          # device arrays: no such flag
                  "        pass"]
        if not k.params[p].type.contiguous:
            lines.append(f"    if _zero_stride(args[{p}]):")
            lines.append("        " + fail(_output_failure(name, pname, p, "zero-stride")))
    for w, r in aliases.pairs(k)[1]:
        lines.append(f"    if args[{position[w]}] is args[{position[r]}]:")
        lines.append("        " + fail(_alias_failure(name, w, r)))
    for pname, (lo, hi, meets) in _weak_int_ranges(stages).items():
        p = position[pname]
        lines.append(f"    if not {lo} <= args[{p}] <= {hi}:")
        lines.append("        " + fail(_scalar_failure(name, pname, p, lo, hi, meets)))
    if not lines:
        return fn
    src = "def run(args):\n" + "\n".join(lines) + "\n    return fn(args)\n"
    scope = {"fn": fn, "_fail": tuple(failures), "_zero_stride": _zero_stride}
    exec(compile(src, f"<launch checks of {name}>", "exec"), scope)
    return scope["run"]


def _alias_failure(name: str, w: str, r: str):
    def make(args) -> KernelArgumentError:
        return KernelArgumentError(
            f"kernel {name!r} got the same array for {r!r} and {w!r}, but it writes {w!r} "
            f"where other iterations read {r!r} (only an in-place update at the grid's "
            f"own index may share an array); pass a copy, e.g. {r}.copy()")
    return make


def _zero_stride(a) -> bool:
    return any(s == 0 and n > 1 for s, n in zip(a.strides, a.shape))


def _weak_int_ranges(stages) -> dict:
    """Python-int parameters -> (lo, hi, dtype names they meet)."""
    weak = {p.name for p in stages["bind_params"].params
            if isinstance(p.type, ir.Weak) and p.type.kind == "i"}
    if not weak:
        return {}
    meets: dict = {n: {"int64"} for n in weak}
    for node in ir.walk(stages.final):
        if isinstance(node, ir.Cast) and isinstance(node.value, ir.Name) and \
                node.value.id in weak and node.type.is_integer:
            meets[node.value.id].add(node.type.name)
    out = {}
    for n, names in meets.items():
        infos = [np.iinfo(t) for t in names]
        out[n] = (max(i.min for i in infos), min(i.max for i in infos), sorted(names))
    return out


def _guard_failure(g: ShapeGuard, k: ir.Kernel, name: str, position: dict):
    def make(args) -> KernelArgumentError:
        need = eval(g.need.python(position), {"args": args})          # noqa: S307 (ours)
        reach = eval(g.reach.python(position), {"args": args})        # noqa: S307
        shape = tuple(args[position[g.tensor]].shape)
        within = f" for {g.context}" if g.context else ""
        return KernelArgumentError(
            f"{k.filename}:{g.line}: kernel {name!r} indexes {g.text}{within}, which "
            f"reaches index {reach} of axis {g.axis}, but argument {g.tensor!r} has shape "
            f"{shape}; it needs {g.tensor}.shape[{g.axis}] >= {need} (pass a larger "
            f"array, or shrink the loop)")
    return make


def _output_failure(name: str, pname: str, p: int, why: str):
    def make(args) -> KernelArgumentError:
        a = args[p]
        detail = "read-only (a broadcast view or a frozen buffer)" if why == "read-only" \
            else f"a view with strides {tuple(a.strides)} that repeats elements"
        return KernelArgumentError(
            f"kernel {name!r} writes to {pname!r}, but that array of shape "
            f"{tuple(a.shape)} is {detail}; pass a writable array with its own "
            f"elements, e.g. np.array(a)")
    return make


def _scalar_failure(name: str, pname: str, p: int, lo: int, hi: int, meets: list):
    def make(args) -> KernelArgumentError:
        return KernelArgumentError(
            f"argument {pname!r} of kernel {name!r} is the Python int {args[p]}, which "
            f"does not fit the integer type(s) it meets in the kernel "
            f"({', '.join(meets)}: {lo}..{hi}); Python ints take the type they meet "
            f"(NumPy 2, NEP 50) and are never wrapped: pass a value in that range")
    return make
