"""Resource estimate (analysis only): work and traffic per grid iteration.

The analyzer issue builds budgets and advice on this; here we count, per grid
and per iteration, floating-point operations, transcendental calls and bytes
loaded/stored, so ``estimate.evaluate(extents)`` gives totals for a launch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import ir



@dataclass
class GridEstimate:
    loc: ir.Loc
    flops: int = 0                 # per iteration (loops counted once)
    transcendentals: int = 0
    bytes_loaded: int = 0
    bytes_stored: int = 0
    atomics: int = 0
    has_inner_loops: bool = False


@dataclass
class ResourceEstimate:
    grids: list = field(default_factory=list)

    def evaluate(self, iterations: list[int]) -> dict:
        """Totals for a launch whose grids run ``iterations[g]`` iterations."""
        tot = {"flops": 0, "transcendentals": 0, "bytes": 0}
        for g, n in zip(self.grids, iterations):
            tot["flops"] += g.flops * n
            tot["transcendentals"] += g.transcendentals * n
            tot["bytes"] += (g.bytes_loaded + g.bytes_stored) * n
        tot["intensity"] = tot["flops"] / tot["bytes"] if tot["bytes"] else float("inf")
        return tot


def estimate(k: ir.Kernel) -> ResourceEstimate:
    tensors = {p.name: p.type for p in k.params if p.is_tensor}
    est = ResourceEstimate()
    for s in k.body:
        if not isinstance(s, ir.Grid):
            continue
        g = GridEstimate(s.loc)
        for node in ir.walk(s):
            if isinstance(node, (ir.For, ir.While)):
                g.has_inner_loops = True
            elif isinstance(node, ir.BinOp) and node.type.is_floating:
                g.flops += 1
            elif isinstance(node, ir.Call):
                g.flops += 1
                g.transcendentals += node.fn in ir.TRANSCENDENTALS
            elif isinstance(node, (ir.Load, ir.Store)) and node.tensor not in tensors:
                continue                  # a local array: registers or stack, not memory
            elif isinstance(node, ir.Load):
                g.bytes_loaded += tensors[node.tensor].dtype.itemsize
            elif isinstance(node, ir.Store):
                g.bytes_stored += tensors[node.tensor].dtype.itemsize
            elif isinstance(node, ir.Atomic):
                g.atomics += 1
                g.bytes_stored += tensors[node.tensor].dtype.itemsize
        est.grids.append(g)
    return est
