"""Tensors a kernel makes: ``out = lo.empty((n, m), x.dtype)`` at its top level.

The frontend half of item 6 of the kernel language: it reads an allocation
call (``lo.empty``, ``zeros``, ``ones``, ``full``, their ``*_like`` forms, and
numpy's spellings) into an :class:`ir.NewTensor`. The ``bind_made`` pass then
makes it a parameter that the launcher allocates from the pool once per
launch, from shapes computed from the arguments (``passes/made.py``,
``launch_made.py``).

Example:
    >>> import numpy as np, langone as lo
    >>> @lo.kernel
    ... def doubled(x):
    ...     out = lo.empty_like(x)
    ...     for i in lo.grid(x.shape[0]):
    ...         out[i] = 2 * x[i]
    ...     return out
    >>> doubled.on("numpy")(np.arange(3.0)).tolist()
    [0.0, 2.0, 4.0]
"""

from __future__ import annotations

import ast
from typing import Any

from .. import dtypes
from ..dtypes import int64
from . import ir

#: The allocation functions a kernel may call (``lo.<name>`` and ``np.<name>``).
SPELLINGS = ("empty", "zeros", "ones", "full", "empty_like", "zeros_like", "ones_like",
             "full_like")
_FILL = {"zeros": 0, "ones": 1}
_WHERE = "make tensors at the kernel's top level (out = lo.empty((n, m), x.dtype)), " \
         "outside lo.grid, loops and ifs, and return them"


def spelling(fe, node: ast.expr) -> str | None:
    """``"zeros"`` when ``node`` calls an allocation function, else None."""
    if not isinstance(node, ast.Call):
        return None
    from .frontend import intrinsic_table
    entry = intrinsic_table().get(id(fe.resolve(node.func)))
    return entry[1] if entry is not None and entry[0] == "alloc" else None


def misplaced(fe, call: ast.Call):
    """The error for an allocation call anywhere but ``name = ...``."""
    fname = ast.unparse(call.func)
    return fe.err(call, f"{fname}() makes a tensor: assign it to a name", hint=_WHERE)


def new_tensor(fe, target: ast.expr, call: ast.Call, top: bool) -> ir.NewTensor:
    """``target = <allocation call>`` as a NewTensor (the frontend ``fe`` checks
    placement and names; errors point at the user's line)."""
    fname = ast.unparse(call.func)
    if fe.results is not None:
        raise fe.err(call, f"{fname}() in a device function: only kernels make tensors",
                     hint="make the tensor in the kernel and pass it to the function")
    if not isinstance(target, ast.Name):
        raise fe.err(target, f"assign {fname}() to a name", hint=_WHERE)
    if fe.in_grid:
        return _local_array(fe, target.id, call, fname)
    if not top or fe.loop_depth:
        raise fe.err(call, f"{fname}() inside a loop or an if", hint=_WHERE)
    name = target.id
    if name in fe.params or name in fe.top_defined or name in fe.made:
        raise fe.err(target, f"{name!r} already has a value; a made tensor needs a new name")
    kind = spelling(fe, call)
    shape, shape_of, fill, dtype = _arguments(fe, call, kind, fname)
    fe.made.add(name)
    fe.params.append(name)          # indexed and measured like a tensor parameter
    like, dt = (dtype[1], None) if isinstance(dtype, tuple) else ("", dtype)
    return ir.NewTensor(fe.loc(call), name, shape, dt, like, fill, fname, shape_of)


def _local_array(fe, name: str, call: ast.Call, fname: str) -> ir.NewTensor:
    """``w = lo.zeros((K,), lo.fp32)`` inside a grid: each iteration's own array, of a
    shape fixed when the kernel compiles (in registers or on the stack)."""
    if fe.loop_depth or fe.branch_depth:
        raise fe.err(call, f"{fname}() inside a loop or an if in lo.grid",
                     hint="make local arrays at the top of the grid's body; refill one "
                          "with a loop to reuse it")
    if name in fe.params or name in fe.top_defined or name in fe.grid_locals:
        raise fe.err(call, f"{name!r} already has a value; a local array needs a new name")
    shape, shape_of, fill, dtype = _arguments(fe, call, spelling(fe, call), fname)
    if shape_of or any(not (isinstance(d, ir.Const) and type(d.value) is int and d.value >= 0)
                       for d in shape):
        raise fe.err(call, f"the shape of a local array must be known when the kernel "
                           f"compiles: {ast.unparse(call.args[0]) if call.args else '?'}",
                     hint="use literals or global constants: w = lo.zeros((4, K), lo.fp32) "
                          "with K = 4 at module level")
    shape = tuple(ir.Const(d.loc, int64, d.value) for d in shape)
    fe.grid_locals.add(name)
    fe.grid_arrays.add(name)
    fe.params.append(name)          # indexed like a tensor, until the grid ends
    like, dt = (dtype[1], None) if isinstance(dtype, tuple) else ("", dtype)
    return ir.NewTensor(fe.loc(call), name, shape, dt, like, fill, fname, "", local=True)


def _arguments(fe, call: ast.Call, kind: str, fname: str) -> tuple:
    """``(shape, shape_of, fill, dtype)`` of the call; dtype is a DType, None
    (``full``'s: from the fill value) or ``("like", x)`` for ``x.dtype``."""
    is_like, is_full = kind.endswith("_like"), kind.startswith("full")
    names = ["x" if is_like else "shape"] + (["fill_value"] if is_full else []) + ["dtype"]
    given: dict[str, ast.expr] = {}
    if len(call.args) > len(names):
        raise fe.err(call, f"{fname}() takes at most {len(names)} arguments in kernels "
                           f"({', '.join(names)})")
    given.update(zip(names, call.args))
    for kw in call.keywords:
        if kw.arg not in names[1:] or kw.arg in given:
            raise fe.err(kw.value if kw.arg else call,
                         f"{fname}() does not take {kw.arg or '**'}= in kernels" + (
                             ": a made tensor lives on the arguments' device"
                             if kw.arg == "device" else ""),
                         hint=f"{fname}({', '.join(names)})")
        given[kw.arg] = kw.value
    for need in names[:len(names) - 1]:
        if need not in given:
            raise fe.err(call, f"{fname}() needs {need}")
    if is_like:
        shape, shape_of = (), _tensor_name(fe, given["x"], fname)
        default: Any = ("like", shape_of)
    else:
        shape, shape_of = _shape(fe, given["shape"])
        default = None if is_full else dtypes.fp64
    fill = fe.expr(given["fill_value"]) if is_full else \
        ir.Const(fe.loc(call), ir.Weak("i"), _FILL[kind.split("_")[0]]) \
        if kind.split("_")[0] in _FILL else None
    dtype = _dtype(fe, given["dtype"]) if "dtype" in given else default
    return shape, shape_of, fill, dtype


def _tensor_name(fe, node: ast.expr, fname: str) -> str:
    if isinstance(node, ast.Name) and node.id in fe.params:
        return node.id
    raise fe.err(node, f"{fname}() takes a tensor argument of the kernel, not "
                       f"{ast.unparse(node)!r}")


def _shape(fe, node: ast.expr) -> tuple[tuple, str]:
    """A shape: ``(n, m)``, ``n``, or ``x.shape``."""
    if isinstance(node, ast.Attribute) and node.attr == "shape" and \
            isinstance(node.value, ast.Name) and node.value.id in fe.params:
        return (), node.value.id
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(fe.expr(e) for e in node.elts), ""
    return (fe.expr(node),), ""


def _dtype(fe, node: ast.expr) -> Any:
    """A dtype argument: ``x.dtype``, a dtype object or a dtype name."""
    if isinstance(node, ast.Attribute) and node.attr == "dtype" and \
            isinstance(node.value, ast.Name) and node.value.id in fe.params:
        return ("like", node.value.id)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return dtypes.dtype(node.value)
        except Exception:
            raise fe.err(node, f"{node.value!r} is not a LangOne dtype") from None
    from .frontend import intrinsic_table
    entry = intrinsic_table().get(id(fe.resolve(node)))
    if entry is not None and entry[0] == "cast":
        return entry[1]
    if entry is not None and entry[0] == "pycast":        # float, int, bool: numpy's
        return entry[1][1]
    raise fe.err(node, f"{ast.unparse(node)!r} is not a dtype",
                 hint="give lo.fp32, np.float32, 'float32', or x.dtype of a tensor argument")
