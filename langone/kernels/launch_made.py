"""The launcher's part of made tensors and several results (``passes/made.py``).

Before each call it computes the made tensors' shapes from the arguments (a
small Python function generated once per specialization), takes them from the
memory pool on the arguments' device (so budgets count them) and fills them;
after it, it assembles what the kernel returns: made tensors and tensor
arguments as Tensors, scalars as 0-d Tensors (as a single reduction's is),
several as a tuple.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import KernelRuntimeError
from ..tensor._backend import empty_buffer
from ..tensor.tensor import wrap
from . import ir


def wrap_launch(fn, k: ir.Kernel, dev, plain: bool):
    """``fn(args)`` with ``k``'s made tensors appended to ``args`` and its results
    assembled. ``plain``: ``fn`` runs the kernel's own function (the python
    backend), which hands back every scalar result itself."""
    shapes = _shape_function(k)
    made_types = [k.param(m.name).type.dtype for m in k.made]
    position = {p.name: i for i, p in enumerate(k.params)}
    first_made = len(k.params) - len(k.made)
    results = k.results or ((("scalar", "", k.return_type),) if k.return_type else ())
    single = not k.results

    def run(args: list) -> Any:
        made = []
        for (shape, fill), m, dt in zip(shapes(args), k.made, made_types):
            made.append(_allocate(shape, fill, dt, dev, m, k))
        r = fn(args + made)
        if not results:
            return None
        out = []
        for i, item in enumerate(results):
            if item[0] == "tensor":
                p = position[item[1]]
                arr = made[p - first_made] if p >= first_made else args[p]
                out.append(wrap(arr, k.params[p].type.dtype, dev))
            elif item[1] and not plain:                   # a result slot
                out.append(wrap(made[position[item[1]] - first_made].reshape(()), item[2], dev))
            else:
                out.append(_scalar(r[i] if plain and not single else r, item[2], dev))
        return out[0] if single or len(out) == 1 else tuple(out)
    return run


def _scalar(v, dtype, dev):
    if isinstance(v, (np.generic, int, float, bool)):
        v = np.asarray(v, dtype.numpy)
    return wrap(v, dtype, dev)


def _allocate(shape: tuple, fill, dtype, dev, m: ir.Made, k: ir.Kernel):
    if any(n < 0 for n in shape):
        raise KernelRuntimeError(f"{k.filename}:{m.loc.line}: ValueError: negative "
                                 f"dimensions are not allowed (shape {shape} of {m.name!r}, "
                                 f"in kernel {k.name!r})")
    arr = empty_buffer(shape, dtype.numpy, dev)
    if fill is not None:
        arr.fill(fill)
    return arr


def _shape_function(k: ir.Kernel):
    """``shapes(args) -> [(shape, fill), ...]`` for ``k.made``, as Python source."""
    position = {p.name: i for i, p in enumerate(k.params)}

    def py(e: ir.Expr) -> str:
        if isinstance(e, ir.Const):
            return repr(e.value)
        if isinstance(e, ir.Name):
            return f"args[{position[e.id]}]"
        if isinstance(e, ir.Shape):
            return f"args[{position[e.tensor]}].shape[{e.axis}]"
        if isinstance(e, ir.BinOp):
            return f"({py(e.left)} {e.op} {py(e.right)})"
        if isinstance(e, ir.UnaryOp):
            return f"({e.op}{py(e.operand)})"
        if isinstance(e, ir.Call):
            return f"{e.fn}({', '.join(py(a) for a in e.args)})"
        if isinstance(e, ir.Cast):
            return py(e.value)
        raise TypeError(f"not a shape expression: {e!r}")        # bind_made let it through

    items = ", ".join(
        f"((int({'),int('.join(py(x) for x in m.shape)}),), "
        f"{py(m.fill) if m.fill is not None else None})" if m.shape else f"((), "
        f"{py(m.fill) if m.fill is not None else None})" for m in k.made)
    scope: dict = {}
    exec(f"def shapes(args):\n    return [{items}]\n", scope)
    return scope["shapes"]
