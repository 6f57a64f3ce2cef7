"""The numpy reference backend: the executable definition of the IR.

It runs a kernel SPMD-style: inside ``lo.grid`` every scalar of the body is a
numpy vector over the grid's lanes (one lane per iteration); branches become
lane masks; loops whose trip counts differ between lanes run while any lane is
active; ``break``/``continue`` retire lanes. Code outside grids runs with one
lane. Every other backend is tested against this one.

Semantics implemented here (and documented in :mod:`langone.kernels.ir`):
fp16/bf16 compute in fp32 and round on store/return/cast; integers wrap;
``//`` and ``%`` floor like Python; ``min``/``max`` follow Python
(``b if b < a else a``) while ``minimum``/``maximum`` propagate NaN; every
tensor access is bounds-checked (an out-of-bounds access is a
:class:`~langone.errors.KernelIndexError` naming the kernel line); a
``checked`` integer power with a negative exponent is a
:class:`~langone.errors.KernelRuntimeError`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...dtypes import DType, fp32
from ...errors import KernelIndexError, KernelRuntimeError
from .. import ir, language
from ..passes import lower_pow, lower_range

#: Grid lanes evaluated at once; bounds the reference's memory on large grids.
CHUNK = 1 << 18


def compute_np(t: DType) -> np.dtype:
    """The numpy dtype a value of logical type ``t`` is held in while computing."""
    return fp32.numpy if t.is_floating and t.itemsize == 2 else t.numpy


def cast_array(v: np.ndarray, t: DType) -> np.ndarray:
    """Convert to logical type ``t`` (rounding through fp16/bf16), held in compute type."""
    if t.is_floating and t.itemsize == 2:
        return v.astype(t.numpy).astype(fp32.numpy)
    if t.is_bool:
        return v != 0
    return v.astype(t.numpy)


_ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide,
          "//": np.floor_divide, "%": np.remainder, "**": np.power,
          "&": np.bitwise_and, "|": np.bitwise_or, "^": np.bitwise_xor,
          "<<": np.left_shift, ">>": np.right_shift}
_CMP = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
        ">": np.greater, ">=": np.greater_equal}


def _erf(x: np.ndarray) -> np.ndarray:
    return np.frompyfunc(math.erf, 1, 1)(x.astype(np.float64)).astype(np.float64)


def binop(op: str, a: np.ndarray, b: np.ndarray, t: DType) -> np.ndarray:
    """``a op b`` for operands already of type ``t`` (the result's type)."""
    if op == "**" and t.is_integer:
        b = np.where(b < 0, 0, b)              # masked-off lanes hold anything: numpy raises
    out = _ARITH[op](a, b)
    if op in ("<<", ">>"):                     # the fill in out's type: uint64 stays
        fill = np.zeros((), out.dtype) if op == "<<" or t.kind == "u" else \
            np.where(a < 0, -1, 0).astype(out.dtype)
        out = np.where((b < 0) | (b >= t.bits), fill, out)
    return out.astype(compute_np(t), copy=False)


_BINARY_MATH = {"atan2": np.arctan2, "hypot": np.hypot, "copysign": np.copysign,
                "fmod": np.fmod}


def call(fn: str, args: list[np.ndarray], t: DType) -> np.ndarray:
    """A math intrinsic on arrays of its argument type, producing type ``t``."""
    a = args[0]
    if fn in ("exp", "log", "sqrt", "sin", "cos", "tanh", "floor", "ceil", "log1p", "expm1"):
        out = getattr(np, fn)(a)
    elif fn in _BINARY_MATH:
        with np.errstate(divide="ignore", invalid="ignore"):   # fmod(x, 0): 0 or NaN
            out = _BINARY_MATH[fn](a, args[1])
    elif fn == "erf":
        out = _erf(a)
    elif fn == "sigmoid":
        one = np.ones((), a.dtype)
        out = one / (one + np.exp(-a))
    elif fn == "abs":
        out = np.abs(a)
    elif fn in ("min", "max"):
        b = args[1]
        out = np.where(b < a, b, a) if fn == "min" else np.where(b > a, b, a)
    elif fn in ("minimum", "maximum"):
        out = getattr(np, fn)(a, args[1])
    elif fn in ("isnan", "isinf"):
        return getattr(np, fn)(a) if a.dtype.kind == "f" else np.zeros(a.shape, bool)
    else:
        raise NotImplementedError(fn)
    return np.asarray(out).astype(compute_np(t), copy=False)


class _Loop:
    """Lanes that left a loop (break) or its current iteration (continue)."""

    __slots__ = ("broken", "continued")

    def __init__(self, n: int):
        self.broken = np.zeros(n, bool)
        self.continued = np.zeros(n, bool)


class Interpreter:
    """Executes one typed, specialized kernel on numpy arrays."""

    def __init__(self, kernel: ir.Kernel, filename: str = "<unknown>"):
        self.k = kernel
        self.filename = filename
        self.local_types = kernel.local_types

    def bind(self, args: list[Any]) -> "Interpreter":
        """Bind arguments (arrays for tensors, numbers for scalars) to the parameters,
        ready to run the kernel's statements with one lane (:meth:`block`)."""
        self.tensors: dict[str, Any] = {}
        self.local: set = set()             # local arrays (s_Alloc): a row per lane
        self.env: dict[str, np.ndarray] = {}
        for p, a in zip(self.k.params, args):
            if p.is_tensor:
                self.tensors[p.name] = a
            else:
                self.env[p.name] = np.asarray([a]).astype(compute_np(p.type))
        self.n = 1
        self.loops: list[_Loop] = []
        self.shadows: dict[str, np.ndarray] = {}
        return self

    def run(self, args: list[Any]) -> Any:
        self.bind(args)
        with np.errstate(all="ignore"):
            return self.block(self.k.body, np.ones(1, bool))

    # -- statements -------------------------------------------------------------
    def live(self, mask: np.ndarray) -> np.ndarray:
        if not self.loops:
            return mask
        lp = self.loops[-1]
        return mask & ~lp.broken & ~lp.continued

    def block(self, stmts: tuple, mask: np.ndarray) -> Any:
        for s in stmts:
            m = self.live(mask)
            if not m.any():
                return None
            result = getattr(self, "s_" + type(s).__name__)(s, m)
            if isinstance(s, ir.Return):
                return result
        return None

    def s_Assign(self, s: ir.Assign, m):
        self.set_local(s.target, self.expr(s.value, m), m)

    def set_local(self, name: str, val: np.ndarray, m) -> None:
        old = self.env.get(name)
        if m.all() or old is None:
            self.env[name] = np.broadcast_to(val, (self.n,)).copy() \
                if val.shape[0] != self.n else val
        else:
            self.env[name] = np.where(m, val, old)

    def s_Alloc(self, s: ir.Alloc, m):
        """A local array: one row per lane (``[lane, *index]``), zeros to start with."""
        shape = (self.n,) + tuple(int(d.value) for d in s.shape)
        arr = self.tensors.get(s.name)
        if arr is None or arr.shape != shape:
            self.tensors[s.name] = np.zeros(shape, s.dtype.numpy)
            self.local.add(s.name)
        else:
            arr[m] = 0

    def indices(self, name: str, index: tuple, m, loc) -> tuple:
        arr = self.tensors[name]
        lanes = name in self.local
        idx = [np.nonzero(m)[0]] if lanes else []
        for axis, ix in enumerate(index):
            v = np.broadcast_to(self.expr(ix, m), (self.n,))[m]
            bad = (v < 0) | (v >= arr.shape[axis + lanes])
            if bad.any():
                first = int(v[bad][0])      # normalized (passes/lower_index): undo it
                raise KernelIndexError(
                    f"{self.filename}:{loc.line}: index "
                    f"{first - arr.shape[axis + lanes] if first < 0 else first} is out of bounds "
                    f"for axis {axis} of {name!r} with size {arr.shape[axis + lanes]} "
                    f"(in kernel {self.k.name!r})")
            idx.append(v)
        return tuple(idx)

    def s_Store(self, s: ir.Store, m):
        idx = self.indices(s.tensor, s.index, m, s.loc)
        val = np.broadcast_to(self.expr(s.value, m), (self.n,))[m]
        arr, idx = _lanes(self.tensors[s.tensor], idx, len(val))
        arr[idx] = val.astype(arr.dtype)

    def s_Atomic(self, s: ir.Atomic, m):
        idx = self.indices(s.tensor, s.index, m, s.loc)
        cmp = None if s.compare is None else \
            np.broadcast_to(self.expr(s.compare, m), (self.n,))[m]
        val = np.broadcast_to(self.expr(s.value, m), (self.n,))[m]
        shadow = self.shadows.get(s.tensor)          # a half's fp32 copy for the grid
        arr, idx = _lanes(self.tensors[s.tensor] if shadow is None else shadow, idx,
                          len(val))
        half = _is_half(arr.dtype)
        work = arr.astype(np.float32) if half else arr       # halves update in fp32
        val = val.astype(work.dtype)
        if s.target or s.op not in _ATOMIC_AT:
            old = _atomic_lanes(s.op, work, idx, val, cmp)
            full = np.zeros(self.n, work.dtype)
            full[m] = old
            self.set_local(s.target or "_", full, m)
        else:
            _ATOMIC_AT[s.op].at(work, idx, val)
        if half:
            arr[...] = work.astype(arr.dtype)

    def s_If(self, s: ir.If, m):
        c = np.broadcast_to(self.expr(s.cond, m), (self.n,))
        self.block(s.body, m & c)
        if s.orelse:
            self.block(s.orelse, m & ~c)

    def s_For(self, s: ir.For, m):
        start = np.broadcast_to(self.expr(s.start, m), (self.n,)).copy()
        stop = np.broadcast_to(self.expr(s.stop, m), (self.n,))
        step = np.broadcast_to(self.expr(s.step, m), (self.n,))
        if s.checked_step and (m & (step == 0)).any():      # decided by passes/lower_range
            raise KernelRuntimeError(lower_range.message(self.filename, s.loc.line,
                                                         self.k.name))
        var = start
        lp = _Loop(self.n)
        self.loops.append(lp)
        try:
            active = m.copy()
            while True:
                inside = np.where(step > 0, var < stop, var > stop)
                active &= inside & ~lp.broken
                if not active.any():
                    break
                old = self.env.get(s.var)
                self.env[s.var] = var if old is None else np.where(active, var, old)
                lp.continued[:] = False
                self.block(s.body, active)
                var = var + step
        finally:
            self.loops.pop()

    def s_While(self, s: ir.While, m):
        lp = _Loop(self.n)
        self.loops.append(lp)
        try:
            active = m.copy()
            while True:
                lp.continued[:] = False
                active &= ~lp.broken
                if not active.any():
                    break
                active &= np.broadcast_to(self.expr(s.cond, active), (self.n,))
                if not active.any():
                    break
                self.block(s.body, active)
        finally:
            self.loops.pop()

    def s_Break(self, s, m):
        self.loops[-1].broken |= m

    def s_Continue(self, s, m):
        self.loops[-1].continued |= m

    def s_Return(self, s: ir.Return, m):
        if s.value is None:
            return None
        v = self.expr(s.value, m)
        return s.value.type.numpy.type(v[0].astype(s.value.type.numpy))

    def s_Grid(self, g: ir.Grid, m):
        extents = [int(self.expr(e, m)[0]) for e in g.extents]
        total = int(np.prod(extents)) if extents else 0
        partials = {r.var: [] for r in g.reductions}
        # Half tensors the grid updates atomically are held in fp32 for the whole grid
        # and rounded once at its end (exception 3, as the python backend does).
        self.shadows = {n.tensor: self.tensors[n.tensor].astype(np.float32)
                        for n in ir.walk(g) if isinstance(n, ir.Atomic)
                        and _is_half(self.tensors[n.tensor].dtype)}
        outer_env, outer_n = self.env, self.n
        for lo in range(0, total, CHUNK):
            hi = min(total, lo + CHUNK)
            self.n = hi - lo
            flat = np.arange(lo, hi, dtype=np.int64)
            self.env = dict(outer_env)
            for v, coord in zip(g.vars, np.unravel_index(flat, extents)):
                self.env[v] = coord.astype(np.int64)
            for r in g.reductions:
                t = self.local_types[r.var]
                self.env[r.var] = np.full(self.n, reduction_identity(r.op, t), compute_np(t))
            self.block(g.body, np.ones(self.n, bool))
            for r in g.reductions:
                partials[r.var].append(reduce_lanes(r.op, self.env[r.var]))
        self.env, self.n = outer_env, outer_n
        for name, shadow in self.shadows.items():
            self.tensors[name][...] = shadow.astype(self.tensors[name].dtype)
        self.shadows = {}
        for r in g.reductions:
            t = self.local_types[r.var]
            vals = np.asarray(partials[r.var] or [reduction_identity(r.op, t)], compute_np(t))
            total_v = reduce_lanes(r.op, vals)
            init = self.env[r.var]
            self.env[r.var] = combine(r.op, init, np.asarray([total_v], compute_np(t)))

    # -- expressions ------------------------------------------------------------
    def expr(self, e: ir.Expr, m) -> np.ndarray:
        return getattr(self, "e_" + type(e).__name__)(e, m)

    def e_Const(self, e, m):
        return np.asarray([e.value]).astype(compute_np(e.type))

    def e_Name(self, e, m):
        return self.env[e.id]

    def e_BinOp(self, e, m):
        b = self.expr(e.right, m)
        if e.checked:                               # decided by passes/lower_pow
            self.check_exponent(e, b, m)
        return binop(e.op, self.expr(e.left, m), b, e.type)

    def check_exponent(self, e: ir.BinOp, b: np.ndarray, m) -> None:
        """Raise for the first live lane whose integer exponent is negative (numpy's
        ValueError); other lanes' values are stale, so only ``m`` counts."""
        bad = np.broadcast_to(b < 0, (self.n,)) & m
        if bad.any():
            first = np.broadcast_to(b, (self.n,))[bad][0]
            raise KernelRuntimeError(lower_pow.message(self.filename, e.loc.line,
                                                       self.k.name, int(first)))

    def e_UnaryOp(self, e, m):
        v = self.expr(e.operand, m)
        if e.op == "-":
            return np.negative(v).astype(compute_np(e.type), copy=False)
        if e.op == "not":
            return ~v
        if e.op == "~":
            return ~v
        return v

    def e_Compare(self, e, m):
        return _CMP[e.op](self.expr(e.left, m), self.expr(e.right, m))

    def e_BoolOp(self, e, m):
        # Short-circuit per lane: later operands only run where they matter.
        acc = np.broadcast_to(self.expr(e.values[0], m), (self.n,)).copy()
        for v in e.values[1:]:
            need = m & (acc if e.op == "and" else ~acc)
            if not need.any():
                continue
            val = np.broadcast_to(self.expr(v, need), (self.n,))
            acc = np.where(need, val, acc)
        return acc

    def e_Select(self, e, m):
        c = np.broadcast_to(self.expr(e.cond, m), (self.n,))
        a = self.expr(e.a, m & c) if (m & c).any() else None
        b = self.expr(e.b, m & ~c) if (m & ~c).any() else None
        if a is None:
            return b if b is not None else np.zeros(1, compute_np(e.type))
        if b is None:
            return a
        return np.where(c, a, b)

    def e_Call(self, e, m):
        return call(e.fn, [self.expr(a, m) for a in e.args], e.type)

    def e_Cast(self, e, m):
        return cast_array(self.expr(e.value, m), e.type)

    def e_Load(self, e, m):
        arr = self.tensors[e.tensor]
        out = np.zeros(self.n, compute_np(e.type))
        if m.any():
            idx = self.indices(e.tensor, e.index, m, e.loc)
            out[m] = arr[idx].astype(out.dtype)
        return out

    def e_Shape(self, e, m):
        return np.asarray([self.tensors[e.tensor].shape[e.axis]], np.int64)


def _is_half(dt: np.dtype) -> bool:
    return dt.itemsize == 2 and dt.kind not in "iub"             # fp16, bf16


#: Atomics whose old values are unused and whose final element does not depend on
#: the lanes' order: one numpy ``ufunc.at`` (NaN propagates through maximum/minimum).
_ATOMIC_AT = {"add": np.add, "max": np.maximum, "min": np.minimum}


def _atomic_lanes(op: str, work: np.ndarray, idx: tuple, val: np.ndarray,
                  cmp: np.ndarray | None) -> np.ndarray:
    """The lanes' atomics one at a time, in lane order (one serial order of the
    grid's iterations): each lane's old value, consistent with that order."""
    old = np.empty(len(val), work.dtype)
    with np.errstate(over="ignore"):                 # integers wrap
        for j in range(len(val)):
            at = tuple(int(ix[j]) for ix in idx)
            old[j] = o = work[at]
            if op != "cas" or o == cmp[j]:
                work[at] = language.atomic_update(op, o, val[j])
    return old


def _lanes(arr: np.ndarray, idx: tuple, count: int) -> tuple[np.ndarray, tuple]:
    """The array and index that ``count`` lanes write through. A 0-d tensor
    (``a[()] = v``) has no index arrays to carry the lanes, so its lanes all
    address the single element of a 1-element view."""
    if arr.ndim:
        return arr, idx
    return arr.reshape(1), (np.zeros(count, np.intp),)


def reduction_identity(op: str, t: DType):
    return ir.reduction_identity(op, t)


def reduce_lanes(op: str, v: np.ndarray):
    """Fold a reduction's lanes. Python ``max``/``min`` lanes never hold NaN
    (a NaN operand is skipped), so numpy's NaN-propagating fold serves both."""
    return {"sum": np.sum, "prod": np.prod, "min": np.min,
            "max": np.max}[ir.reduction_base(op)](v)


def combine(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Merge a grid's total ``b`` into the value ``a`` from before the grid."""
    if op == "sum":
        return (a + b).astype(a.dtype)
    if op == "prod":
        return (a * b).astype(a.dtype)
    if op in ("maximum", "minimum"):
        return getattr(np, op)(a, b)
    if op == "min":
        return np.where(b < a, b, a)
    return np.where(b > a, b, a)


class NumpyRefBackend:
    """Backend protocol: ``render`` (source text) and ``compile`` (a callable)."""

    name = "numpy"
    devices = ("cpu",)

    def available(self) -> str | None:
        return None                             # always usable

    def render(self, kernel: ir.Kernel, options: dict) -> str:
        return "# numpy reference backend: interprets the IR below\n" + \
            ir.format_kernel(kernel)

    def compile(self, kernel: ir.Kernel, options: dict):
        def run(args):                          # a fresh interpreter: thread-safe
            return Interpreter(kernel, kernel.filename).run(args)
        return run


BACKEND = NumpyRefBackend()
