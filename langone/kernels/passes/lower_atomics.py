"""Atomics as plain read-modify-writes, for backends that run them one at a time.

A backend whose grids run sequentially (numba's serial kernels, LuaJIT, a
one-lane Triton program) needs no atomic instruction: ``old = lo.atomic_<op>(t,
i, [compare,] v)`` is exactly its Python meaning,

    old = t[i]
    t[i] = op(old, v)          # cas: if old == compare: t[i] = v

with ``max``/``min`` numpy's NaN-propagating ``maximum``/``minimum`` (the IR's
``maximum``/``minimum`` intrinsics, which every backend implements).
"""

from __future__ import annotations

from ...dtypes import DType, bool_, fp32
from .. import ir


def new_value(s: ir.Atomic, old: ir.Expr, held: DType) -> ir.Expr:
    """The element's new value from ``old`` (for ``cas``: where the swap happens)."""
    if s.op in ("add", "sub"):
        return ir.BinOp(s.loc, held, "+" if s.op == "add" else "-", old, s.value)
    if s.op in ("max", "min"):
        return ir.Call(s.loc, held, "maximum" if s.op == "max" else "minimum", (old, s.value))
    return s.value                                       # exchange, cas


def plain(s: ir.Atomic, old: str, load_type: DType, held: DType) -> list:
    """``s`` as ``old = t[i]`` then the store (under ``old == compare`` for cas).
    ``load_type`` is the Load's (the tensor's dtype: the shadow's for a half one
    updated through an fp32 shadow); ``held``, the old value's (fp32 for a half)."""
    load = ir.Load(s.loc, load_type, s.tensor, s.index, s.checks)
    name = ir.Name(s.loc, held, old)
    store = ir.Store(s.loc, s.tensor, s.index, new_value(s, name, held))
    if s.op != "cas":
        return [ir.Assign(s.loc, old, load), store]
    same = ir.Compare(s.loc, bool_, "==", name, s.compare)
    return [ir.Assign(s.loc, old, load), ir.If(s.loc, same, (store,), ())]


def held_type(t: DType) -> DType:
    """The type an atomic on a ``t`` tensor works in: fp32 for a half."""
    return fp32 if t.is_floating and t.itemsize == 2 else t


def needs_plain(s: ir.Stmt) -> bool:
    """An atomic other than a bare ``lo.atomic_add`` (which backends keep as it is)."""
    return isinstance(s, ir.Atomic) and (s.op != "add" or bool(s.target))
