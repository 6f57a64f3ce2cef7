"""Which tensor arguments may be the same array (analysis).

One array may be passed as an input and an output only for an in-place
elementwise update: every access to either is at the same index, the grid's
own variables, so each element is read only by the iteration that writes it.
The launch checks refuse the same array for every other (output, tensor) pair
(:mod:`langone.kernels.launch_checks`); optimizations must assume the allowed
pairs may alias (:mod:`.hoist_loads`). Distinct views that overlap are
unspecified (DESIGN.md).
"""

from __future__ import annotations

from .. import ir


def _accesses(k: ir.Kernel) -> dict:
    """tensor -> {(grid id, index names) of an in-place-compatible access, or None}."""
    access: dict = {}
    for s in k.body:
        grid_vars = tuple(s.vars) if isinstance(s, ir.Grid) else None
        for n in ir.walk(s):
            if isinstance(n, (ir.Load, ir.Store, ir.Atomic)):
                names = tuple(getattr(i, "id", None) for i in n.index)
                ok = grid_vars is not None and names == grid_vars and \
                    not isinstance(n, ir.Atomic)
                access.setdefault(n.tensor, set()).add((id(s), names) if ok else None)
    return access


def outputs(k: ir.Kernel) -> list[str]:
    """Tensor parameters the kernel stores to or atomically updates."""
    written = {n.tensor for n in ir.walk(k) if isinstance(n, (ir.Store, ir.Atomic))}
    return [p.name for p in k.params if p.name in written and p.is_tensor]


def pairs(k: ir.Kernel) -> tuple[list, list]:
    """``(allowed, refused)``: unordered (output, tensor) pairs that may, and
    may not, be the same array."""
    access = _accesses(k)
    allowed, refused, seen = [], [], set()
    for w in outputs(k):
        for p in k.params:
            key = frozenset((w, p.name))
            if not p.is_tensor or p.name == w or p.name not in access or key in seen:
                continue
            seen.add(key)
            both = access[w] | access[p.name]
            (refused if None in both or len(both) > 1 else allowed).append((w, p.name))
    return allowed, refused
