"""Type inference: untyped IR + a call signature -> fully typed IR with explicit casts.

Rules (the reference backend and every other backend follow them):

* Promotion is NumPy 2's (NEP 50): Python literals and Python-scalar
  arguments are *weak* and take the other operand's type.
* A local's type is the promotion of every value assigned to it (iterated to
  a fixed point over loops). A local assigned only weak values holds a Python
  number, so it stays weak in promotion (``c = 0.1; x[i] * c`` is fp32 for an
  fp32 ``x``, as in Python); it is stored as int64 / fp64 / bool. Loop
  variables and ``x.shape[k]`` are Python ints: weak too.
* Accumulators (grid reductions, and ``acc = acc op e`` updates directly in a
  sequential loop's body: the one recognizer, :func:`ir.accumulation`) are
  widened: floats to at least fp32, integer sums and products to int64 (a
  uint64 one stays uint64: ``dtypes.accumulator_type``).
* ``and``/``or`` in a value context give one of their operands, as in Python:
  the operands must share one type after promotion (else a compile error).
* ``/`` of integers gives fp64. Arithmetic on two Python bools gives a Python
  int (``True + True == 2``); with a numpy bool it takes numpy's loops:
  ``+``/``*`` are logical or/and, ``//``, ``%``, ``**`` int8, ``-`` an error.
* After this pass every expression has a concrete DType and operands already
  have their operation's type: backends never promote.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ... import dtypes
from ...dtypes import DType, bool_, fp32, fp64, int64
from ...errors import KernelCompileError
from .. import ir
from ..ir import TensorType, Weak
from . import lower_casts

_ARITH = ("+", "-", "*", "//", "%", "**")
_PYINT = Weak("i")                 # loop variables and shapes are Python ints
_BITS = ("&", "|", "^", "<<", ">>")
_BOOL_ARITHMETIC = {"+": "|", "*": "&"}      # numpy's add / multiply loops for bools


def _index_example(ndim: int) -> str:
    """``"i, j"`` for 2-D; ``"()"`` for a 0-d tensor, whose value is ``a[()]``."""
    names = ["i", "j", "k"] + [f"i{n}" for n in range(3, ndim)]
    return ", ".join(names[:ndim]) or "()"


def _default(t: Any) -> DType:
    if isinstance(t, Weak):
        return {"b": bool_, "i": int64, "f": fp64, "c": dtypes.complex128}[t.kind]
    return t


def join(a: Any, b: Any) -> Any:
    """Promote two scalar types, weak or strong (None is the identity)."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, Weak) and isinstance(b, Weak):
        order = "bifc"
        return a if order.index(a.kind) >= order.index(b.kind) else b
    if isinstance(a, Weak):
        a, b = b, a
    if isinstance(b, Weak):
        return dtypes.result_type(a, {"b": True, "i": 0, "f": 0.0, "c": 0j}[b.kind])
    return dtypes.result_type(a, b)


def float_for(t: DType) -> DType:
    """The float type numpy computes ``exp(x)`` or ``x / y`` in for a non-float ``t``:
    the smallest float that holds it safely (int8 -> fp16, int16 -> fp32, ...)."""
    if t.is_floating or t.is_complex:
        return t
    for f in (dtypes.fp16, fp32, fp64):
        if dtypes.can_cast(t, f):
            return f
    return fp64


def _negative_const(e: ir.Expr) -> bool:
    if isinstance(e, ir.UnaryOp) and e.op == "-" and isinstance(e.operand, ir.Const):
        return e.operand.value > 0
    return isinstance(e, ir.Const) and not isinstance(e.value, bool) and e.value < 0


def _rank(kind: str) -> int:
    """bool < int < float, for Python-number operands of ``and``/``or``."""
    return {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}.get(kind, 4)


def kind_of(t: Any) -> str:
    return t.kind if isinstance(t, Weak) else t.kind


class TypeInference:
    """Infers local types to a fixed point, then rewrites with explicit casts."""

    def __init__(self, kernel: ir.Kernel, info):
        self.k = kernel
        self.info = info
        self.tensors = {p.name: p.type for p in kernel.params if p.is_tensor}
        self.tensors.update({n.name: TensorType(n.dtype, len(n.shape), True)   # local arrays
                             for n in ir.walk(kernel) if isinstance(n, ir.Alloc)})
        self.scalars = {p.name: p.type for p in kernel.params if not p.is_tensor}
        self.locals: dict[str, Any] = {}
        self.reductions: dict[str, str] = {}
        for node in ir.walk(kernel):
            if isinstance(node, ir.Grid):
                for r in node.reductions:
                    self.reductions[r.var] = r.op
                for v in node.vars:
                    self.locals[v] = _PYINT
            if isinstance(node, (ir.For, ir.While)):
                for st in node.body:
                    update = ir.accumulation(st)
                    if update is not None and st.target not in self.reductions:
                        self.reductions[st.target] = ir.ACCUMULATION_REDUCTION[update[0]]

    def err(self, loc, msg: str, hint: str | None = None) -> KernelCompileError:
        return self.info.error(loc, msg, hint)

    # -- phase 1: infer local types ---------------------------------------------
    def infer(self) -> None:
        for _ in range(20):
            before = dict(self.locals)
            self.scan(self.k.body)
            for name, op in self.reductions.items():
                t = self.locals.get(name)
                if t is None:
                    continue
                t = _default(t)
                if t.is_complex:
                    pass                             # complex sums keep their type
                elif t.is_floating:
                    t = dtypes.result_type(t, fp32)
                elif op in ("sum", "prod"):
                    t = dtypes.accumulator_type(t)      # int64; uint64 stays uint64
                self.locals[name] = t
            if self.locals == before:
                break

    def scan(self, stmts: tuple) -> None:
        for s in stmts:
            if isinstance(s, ir.Assign):
                t = self.typeof(s.value)
                self.locals[s.target] = join(self.locals.get(s.target), t)
            elif isinstance(s, ir.For):
                for e in (s.start, s.stop, s.step):
                    self.require_int(e, "range() bounds")
                self.locals[s.var] = _PYINT
                self.scan(s.body)
            elif isinstance(s, (ir.If, ir.While)):
                self.truth_typeof(s.cond)
                self.scan(s.body)
                self.scan(getattr(s, "orelse", ()))
            elif isinstance(s, ir.Grid):
                for e in s.extents:
                    self.require_int(e, "lo.grid extents")
                self.scan(s.body)
            elif isinstance(s, (ir.Store, ir.Atomic)):
                if isinstance(s, ir.Atomic) and s.tensor not in self.tensors:
                    raise self.err(s.loc, f"lo.atomic_{s.op}'s first argument must be a "
                                          f"tensor parameter, not {s.tensor!r} (a scalar)")
                self.typeof(ir.Load(s.loc, None, s.tensor, s.index))
                self.typeof(s.value)
                if isinstance(s, ir.Atomic) and s.compare is not None:
                    self.typeof(s.compare)
                if isinstance(s, ir.Atomic) and s.target:
                    self.locals[s.target] = join(self.locals.get(s.target),
                                                 _atomic_held(self.tensors[s.tensor].dtype))
            elif isinstance(s, ir.Return):
                for v in s.items or ((s.value,) if s.value is not None else ()):
                    self.typeof(v)

    def require_int(self, e: ir.Expr, what: str) -> None:
        t = self.typeof(e)
        if kind_of(t) not in "iub":
            raise self.err(e.loc, f"{what} must be integers, got {_default(t).name}",
                           hint="convert with int(v) or lo.int64(v)")

    def typeof(self, e: ir.Expr) -> Any:
        """The (possibly weak) type of an expression under the current locals."""
        m = getattr(self, "t_" + type(e).__name__)
        return m(e)

    def t_Const(self, e):
        return e.type

    def t_Name(self, e):
        if e.id in self.tensors:
            raise self.err(e.loc, f"{e.id!r} is a tensor; index it ({e.id}[i]) to get a "
                                  f"number", hint="or write an elementwise kernel: "
                                                  "no lo.grid, return an expression")
        if e.id in self.scalars:
            return self.scalars[e.id]
        if e.id in self.locals:
            return self.locals[e.id]
        return None                       # not yet assigned in this scan

    def t_BinOp(self, e):
        lt, rt = self.typeof(e.left), self.typeof(e.right)
        if lt is None or rt is None:
            return lt or rt
        if "c" in (kind_of(lt), kind_of(rt)):
            return self.complex_binop_type(e, lt, rt)
        if e.op in _BITS:
            for side, t in (("left", lt), ("right", rt)):
                if kind_of(t) == "f":
                    raise self.err(e.loc, f"operator {e.op} needs integers, the {side} "
                                          f"operand is {_default(t).name}",
                                   hint="convert with lo.int32(v) first")
            if e.op in ("<<", ">>") and kind_of(lt) == "b" and kind_of(rt) == "b":
                return int64
            t = join(lt, rt)
            if kind_of(t) == "f":            # uint64 with a signed integer: fp64
                raise self.err(e.loc, f"operator {e.op} on {_default(lt).name} and "
                                      f"{_default(rt).name}: numpy has no integer type that "
                                      f"holds both (it raises TypeError)",
                               hint="convert one operand first: lo.uint64(v) or lo.int64(v)")
            return t
        t = join(lt, rt)
        if kind_of(t) == "b":
            if isinstance(t, Weak):                  # Python: True + True == 2
                t = Weak("i")
            else:
                t = self.numpy_bool_arithmetic(e)
            if t is bool_:
                return t
        if e.op == "**" and kind_of(t) in "iu" and _negative_const(e.right):
            raise self.err(e.loc, "integers to negative integer powers are not allowed "
                                  "(numpy raises ValueError)",
                           hint="for a float result write x ** -1.0 or 1.0 / x")
        if e.op == "/" and kind_of(t) in "iu":
            return Weak("f") if isinstance(t, Weak) else fp64   # numpy: int / int -> fp64
        return t

    def complex_binop_type(self, e, lt, rt) -> Any:
        """Complex operands take ``+ - * /`` (what passes/lower_complex writes out)."""
        if e.op in ("+", "-", "*", "/"):
            return join(lt, rt)
        what = {"//": "floor division", "%": "remainder", "**": "powers"}.get(e.op, "bit operations")
        raise self.err(e.loc, f"complex values support + - * / in kernels, not {what} "
                              f"(operator {e.op})",
                       hint="multiply powers out (z * z), or work on z.real and z.imag"
                       if e.op == "**" else "work on z.real and z.imag")

    def numpy_bool_arithmetic(self, e) -> Any:
        """numpy's loops for arithmetic on a numpy bool: ``+`` is logical or and
        ``*`` logical and (bool results), ``//``, ``%`` and ``**`` compute in
        int8, ``/`` in float64, and ``-`` is a TypeError."""
        if e.op == "-":
            raise self.err(e.loc, "numpy boolean subtract, the `-` operator, is not "
                                  "supported", hint="use the `^` operator (xor), or convert "
                                                    "first: lo.int64(a) - lo.int64(b)")
        if e.op in ("+", "*"):
            return bool_
        return dtypes.int8 if e.op in ("//", "%", "**") else int64

    def t_UnaryOp(self, e):
        t = self.typeof(e.operand)
        if e.op == "not":
            return bool_
        if t is None:
            return None
        if e.op == "-" and kind_of(t) == "b":
            raise self.err(e.loc, "cannot negate a bool", hint="use `not v`")
        if e.op == "~" and kind_of(t) in "fc":
            raise self.err(e.loc, f"operator ~ needs an integer, got {_default(t).name}")
        return t

    def t_Compare(self, e):
        lt, rt = self.typeof(e.left), self.typeof(e.right)
        if e.op not in ("==", "!=") and isinstance(lt, Weak) and isinstance(rt, Weak) \
                and "c" in (lt.kind, rt.kind):
            raise self.err(e.loc, f"Python complex numbers have no order ({e.op})",
                           hint="compare their abs() or .real")
        # Comparing two Python numbers gives a Python bool: weak (True + True == 2)
        return Weak("b") if isinstance(lt, Weak) and isinstance(rt, Weak) else bool_

    def truth_typeof(self, e: ir.Expr) -> Any:
        """Type a condition: only the truth of ``and``/``or`` operands matters."""
        if isinstance(e, ir.BoolOp):
            for v in e.values:
                self.truth_typeof(v)
            return bool_
        return self.typeof(e)

    def t_BoolOp(self, e):
        ts = [self.typeof(v) for v in e.values]
        if any(t is None for t in ts):
            return next((t for t in ts if t is not None), None)
        if all(kind_of(t) == "b" for t in ts):
            return bool_ if any(not isinstance(t, Weak) for t in ts) else Weak("b")
        t = ts[0]
        for other in ts[1:]:
            t = join(t, other)
        return t

    def boolop_value_type(self, e: ir.BoolOp) -> Any:
        """The one type an ``and``/``or`` value has, or a compile error when
        Python could give operands of different types: at most one strong
        type, and Python numbers of no higher kind (bool < int < float)."""
        ts = [self.typeof(v) for v in e.values]
        strong = {t for t in ts if not isinstance(t, Weak)}
        weak_ranks = {_rank(t.kind) for t in ts if isinstance(t, Weak)}
        if len(strong) > 1:
            ok = False
        elif strong:
            ok = all(r <= _rank(next(iter(strong)).kind) for r in weak_ranks)
        else:
            ok = len(weak_ranks) == 1
        if not ok:
            names = ", ".join(f"{t} (a Python number)".replace("?", "") if isinstance(t, Weak)
                              else t.name for t in ts)
            raise self.err(e.loc, f"`{e.op}` gives one of its operands, and these have "
                                  f"different types: {names}",
                           hint="make the operands one type (lo.float32(v), ...), or "
                                "write lo.where(cond, a, b)")
        return _default(self.t_BoolOp(e))

    def t_Select(self, e):
        self.typeof(e.cond)
        t = join(self.typeof(e.a), self.typeof(e.b))
        return _default(t) if e.strong and isinstance(t, Weak) else t

    def t_Call(self, e):
        ts = [self.typeof(a) for a in e.args]
        if any(t is None for t in ts):
            return next((t for t in ts if t is not None), None)
        rule = ir.INTRINSICS[e.fn][1]
        if any(kind_of(t) == "c" for t in ts):
            return self.complex_call_type(e, ts[0])
        if rule == "bool":
            return bool_
        if rule == "part":
            return ts[0]                         # a real value's real part: itself
        t = ts[0]
        for other in ts[1:]:
            t = join(t, other)
        if rule in ("float", "floatkeep"):
            if isinstance(t, Weak):
                return fp64                      # numpy: exp(2) is a strong float64
            return float_for(t)
        if rule == "numpy":
            return self.numpy_function_type(e, t)
        if e.fn in ("minimum", "maximum") and isinstance(t, Weak):
            return _default(t)                   # numpy functions return strong scalars
        if e.fn == "abs" and kind_of(t) == "b":
            return int64
        return t

    def complex_call_type(self, e, t) -> Any:
        if e.fn not in ir.COMPLEX_INTRINSICS:
            raise self.err(e.loc, f"{e.fn}() of a complex value is not supported in kernels",
                           hint="complex values support + - * /, abs, lo.exp, .real, .imag, "
                                "lo.conj, lo.isnan and lo.isinf")
        if e.fn in ("isnan", "isinf"):
            return bool_
        if e.fn in ("abs", "real", "imag"):
            return Weak("f") if isinstance(t, Weak) else t.real
        return _default(t)                       # exp, conj: numpy's strong complex

    def numpy_function_type(self, e, t) -> DType:
        """``np.fmod``/``np.power`` of operands promoted to ``t``: Python numbers
        alone are numpy's default types (strong), bools compute in int8."""
        t = _default(t)
        if t is bool_:
            t = dtypes.int8
        if e.fn == "pow" and t.is_integer and _negative_const(e.args[1]):
            raise self.err(e.loc, "integers to negative integer powers are not allowed "
                                  "(numpy raises ValueError)",
                           hint="for a float result write lo.pow(x, -1.0) or 1.0 / x")
        return t

    def t_Cast(self, e):
        self.typeof(e.value)
        return e.type

    def t_Load(self, e):
        tt = self.tensors.get(e.tensor)
        if tt is None:
            raise self.err(e.loc, f"{e.tensor!r} is a scalar and cannot be indexed")
        if len(e.index) != tt.ndim:
            raise self.err(e.loc, f"{e.tensor!r} has {tt.ndim} dimension(s) but is indexed "
                                  f"with {len(e.index)} index(es)",
                           hint=f"write {e.tensor}[{_index_example(tt.ndim)}]")
        for ix in e.index:
            t = self.typeof(ix)
            if t is not None and kind_of(t) not in "iub":
                raise self.err(ix.loc, f"tensor indices must be integers, got "
                                       f"{_default(t).name}",
                               hint="convert with int(v)")
        return tt.dtype

    def t_Shape(self, e):
        return _PYINT

    # -- phase 2: rewrite with concrete types and explicit casts -----------------
    def rewrite(self) -> ir.Kernel:
        body = self.stmts(self.k.body)
        ret_t = None
        last = body[-1] if body else None
        if isinstance(last, ir.Return) and last.value is not None:
            ret_t = last.value.type
        params = tuple(replace(p, type=_default(p.type)) if not p.is_tensor else p
                       for p in self.k.params)
        return replace(self.k, params=params, body=body, return_type=ret_t,
                       locals=tuple(sorted((n, _default(t)) for n, t in self.locals.items())))

    def stmts(self, stmts: tuple) -> tuple:
        return tuple(self.stmt(s) for s in stmts)

    def stmt(self, s: ir.Stmt) -> ir.Stmt:
        if isinstance(s, ir.Assign):
            return replace(s, value=self.expr(s.value, _default(self.locals[s.target])))
        if isinstance(s, (ir.Store, ir.Atomic)):
            dt = self.tensors[s.tensor].dtype
            self.typeof(ir.Load(s.loc, None, s.tensor, s.index))
            if isinstance(s, ir.Atomic) and dt.is_complex and not s.reduction:
                raise self.err(s.loc, f"lo.atomic_{s.op} on a complex tensor ({s.tensor!r}) "
                                      f"is not supported",
                               hint="accumulate into it with acc[j] += v in the grid, or "
                                    "update the real and imaginary parts as real tensors")
            if isinstance(s, ir.Atomic) and dt.is_bool:
                raise self.err(s.loc, f"lo.atomic_{s.op} needs a numeric tensor, not bool "
                                      f"({s.tensor!r})")
            if isinstance(s, ir.Atomic) and s.reduction:
                pass                                # an array reduction's terms convert
            elif isinstance(s, ir.Atomic) and s.op in ("add", "sub"):
                self.check_atomic_sum_type(s, dt)
            elif isinstance(s, ir.Atomic) and s.op != "exchange":
                self.check_atomic_exact_type(s, dt)
            if isinstance(s, ir.Store):
                return replace(s, index=self.indices(s.index), value=self.expr(s.value, dt))
            # An atomic works in the element's held type: a half's value is not rounded
            # to the half before it updates the fp32 copy (exception 3).
            held = _atomic_held(dt)
            return replace(s, index=self.indices(s.index), value=self.expr(s.value, held),
                           compare=None if s.compare is None else self.expr(s.compare, held))
        if isinstance(s, ir.If):
            return replace(s, cond=self.cond(s.cond), body=self.stmts(s.body),
                           orelse=self.stmts(s.orelse))
        if isinstance(s, ir.While):
            return replace(s, cond=self.cond(s.cond), body=self.stmts(s.body))
        if isinstance(s, ir.For):
            return replace(s, start=self.index_expr(s.start), stop=self.index_expr(s.stop),
                           step=self.index_expr(s.step), body=self.stmts(s.body))
        if isinstance(s, ir.Grid):
            for r in s.reductions:
                t = self.locals.get(r.var)
                if t is not None and kind_of(t) == "c" and r.op != "sum":
                    raise self.err(s.loc, f"a complex grid reduction must be a sum; "
                                          f"{r.var!r} is reduced by {r.op}",
                                   hint="sum into it (acc += v), or reduce its parts")
            return replace(s, extents=tuple(self.index_expr(x) for x in s.extents),
                           body=self.stmts(s.body))
        if isinstance(s, ir.Return):
            if s.items:
                return replace(s, items=tuple(self.expr(v, _default(self.typeof(v)))
                                              for v in s.items))
            if s.value is None:
                return s
            return replace(s, value=self.expr(s.value, _default(self.typeof(s.value))))
        return s

    def check_atomic_sum_type(self, s: ir.Atomic, dt: DType) -> None:
        """``lo.atomic_add(t, i, v)`` means ``t[i] = t[i] + v``: Python adds in the promoted
        type and rounds once at the store. Atomics add in the element's type (fp32 for a
        half, exception 3), which is the same only where the promoted type is that type,
        or where both are integers (wrapping sums agree modulo 2**bits)."""
        held = _atomic_held(dt)
        summed = _default(join(held, self.typeof(s.value)))
        if summed == held or (summed.kind in "iu" and held.kind in "iu"):
            return
        v = _default(self.typeof(s.value))
        word = "adds" if s.op == "add" else "subtracts"
        raise self.err(s.loc, f"lo.atomic_{s.op} into {s.tensor!r} ({dt.name}) with a value "
                              f"of type {v.name} {word} in {summed.name} in Python (the "
                              f"element {'plus' if s.op == 'add' else 'minus'} the value, "
                              f"rounded once at the store), but atomics {word[:-1]} "
                              f"in {held.name}",
                       hint=f"convert the value first, lo.atomic_{s.op}({s.tensor}, ..., "
                            f"lo.{held.name}(v)), or accumulate into a {summed.name} tensor")

    def check_atomic_exact_type(self, s: ir.Atomic, dt: DType) -> None:
        """``lo.atomic_max``/``min`` compare the element with the value, ``lo.atomic_cas``
        with ``compare``, in their promoted type in Python; atomics compare in the
        element's type (fp32 for a half). Only where promoting gives that type do the
        two agree (an int8 element against 300 differs from against 300 wrapped to 44)."""
        held = _atomic_held(dt)
        operand = s.compare if s.op == "cas" else s.value
        joined = _default(join(held, self.typeof(operand)))
        if joined == held:
            return
        what = "compare" if s.op == "cas" else "value"
        v = _default(self.typeof(operand))
        raise self.err(s.loc, f"lo.atomic_{s.op} on {s.tensor!r} ({dt.name}) with a {what} "
                              f"of type {v.name} compares in {joined.name} in Python, but "
                              f"atomics compare in {held.name}",
                       hint=f"convert the {what} first (lo.{held.name}(...)), or use a "
                            f"{joined.name} tensor")

    def indices(self, index: tuple) -> tuple:
        return tuple(self.index_expr(i) for i in index)

    def index_expr(self, e: ir.Expr) -> ir.Expr:
        """An index, range bound or grid extent as int64. A uint64 at or above 2**63
        would wrap negative (counting from the end): it is clamped to 2**62 instead,
        still out of bounds of every array, as it is in numpy."""
        out = self.expr(e)
        if out.type is not dtypes.uint64:
            return to_type(out, int64) if out.type is not int64 else out
        cap = 2 ** 62
        big = ir.Compare(e.loc, bool_, ">", out, ir.Const(e.loc, dtypes.uint64, cap))
        return ir.Select(e.loc, int64, big, ir.Const(e.loc, int64, cap),
                         ir.Cast(e.loc, int64, out), True)

    def cond(self, e: ir.Expr) -> ir.Expr:
        if isinstance(e, ir.BoolOp):                   # truth context: operands' truth
            return replace(e, type=bool_, values=tuple(self.cond(v) for v in e.values))
        return self.expr(e, bool_)

    def expr(self, e: ir.Expr, want: DType | None = None) -> ir.Expr:
        """Typed copy of ``e``; converted to ``want`` when given."""
        out = getattr(self, "r_" + type(e).__name__)(e)
        if want is not None and out.type is not want:
            out = to_type(out, want)
        return out

    def r_Const(self, e):
        return replace(e, type=_default(e.type))

    def r_Name(self, e):
        t = self.typeof(e)
        return replace(e, type=_default(t))

    def r_BinOp(self, e):
        t = _default(self.typeof(e))
        op = e.op
        if op != "/":
            self.check_literals(e, (e.left, e.right), t)
        if t is bool_ and op in _BOOL_ARITHMETIC:       # numpy: or / and on bools
            op = _BOOL_ARITHMETIC[op]
        return replace(e, type=t, op=op, left=self.expr(e.left, t), right=self.expr(e.right, t))

    def check_literals(self, e, operands, t) -> None:
        """NumPy 2 raises OverflowError for a Python int literal outside the other
        operand's integer type (``uint16 + -1``, ``int8 * 300``); backends would wrap it."""
        if not (isinstance(t, DType) and t.is_integer):
            return
        for o in operands:
            v = weak_int_value(o)
            if v is not None and not _fits(v, t):
                what = f"{e.fn}()" if isinstance(e, ir.Call) else f"operator {e.op}"
                raise self.err(o.loc, f"Python integer {v} is out of bounds for {t.name} in "
                                      f"{what} (NumPy 2 raises OverflowError)",
                               hint=f"write a value in {t.name}'s range (x - 1, not "
                                    f"x + -1), or convert the other operand (lo.int64(x))")

    def r_UnaryOp(self, e):
        if e.op == "not":
            return replace(e, type=bool_, operand=self.cond(e.operand))
        t = _default(self.typeof(e))
        return replace(e, type=t, operand=self.expr(e.operand, t))

    def r_Compare(self, e):
        lt, rt = self.typeof(e.left), self.typeof(e.right)
        ct = _default(join(lt, rt))
        if kind_of(lt) in "iu" and kind_of(rt) in "iu" and not (
                isinstance(lt, Weak) and isinstance(rt, Weak)):
            return self.integer_compare(e, lt, rt, ct)
        return replace(e, type=bool_, left=self.expr(e.left, ct), right=self.expr(e.right, ct))

    def integer_compare(self, e, lt, rt, ct):
        """NumPy 2 compares integers by value: a Python int outside the other
        operand's range, and uint64 against a signed integer (whose promotion is
        fp64), compare exactly, not in the promoted (wrapped or rounded) type."""
        for const, other, ot, flip in ((e.right, e.left, lt, False),
                                       (e.left, e.right, rt, True)):
            v = weak_int_value(const)
            if v is not None and not isinstance(ot, Weak) and not _fits(v, ot):
                return _outside_compare(e, flip, v, self.expr(other, ot))
        literal = weak_int_value(e.left) is not None or weak_int_value(e.right) is not None
        if (isinstance(lt, Weak) or isinstance(rt, Weak)) and not literal:
            ct = ct if ct is int64 or ct is dtypes.uint64 else int64   # a Python int variable
        if ct.is_integer and (ct is not dtypes.uint64 or literal):
            return replace(e, type=bool_, left=self.expr(e.left, ct),
                           right=self.expr(e.right, ct))
        left, right = self.expr(e.left), self.expr(e.right)
        if left.type.kind == right.type.kind:               # both unsigned: uint64
            return replace(e, type=bool_, left=to_type(left, ct), right=to_type(right, ct))
        if left.type.kind == "u":
            return mixed_compare(e.loc, e.op, left, to_type(right, int64))
        return mixed_compare(e.loc, _FLIPPED[e.op], right, to_type(left, int64))

    def r_BoolOp(self, e):
        t = self.boolop_value_type(e)
        if t is bool_:
            return replace(e, type=bool_, values=tuple(self.cond(v) for v in e.values))
        # Python's value semantics: `a or b` is a if a else b; `a and b` is b if a else a.
        vals = [self.expr(v, t) for v in e.values]
        out = vals[-1]
        for v in reversed(vals[:-1]):
            test = to_type(v, bool_)
            out = ir.Select(e.loc, t, test, v, out) if e.op == "or" else \
                ir.Select(e.loc, t, test, out, v)
        return out

    def r_Select(self, e):
        t = _default(self.typeof(e))
        return replace(e, type=t, cond=self.cond(e.cond), a=self.expr(e.a, t),
                       b=self.expr(e.b, t))

    def r_Call(self, e):
        t = _default(self.typeof(e))
        rule = ir.INTRINSICS[e.fn][1]
        if e.fn in ("min", "max", "minimum", "maximum", "fmod", "pow", "clip"):
            self.check_literals(e, e.args, t)
        if e.fn in ("min", "max") and t.is_floating and \
                all(kind_of(self.typeof(a)) in "iu" for a in e.args):
            names = " and ".join(_default(self.typeof(a)).name for a in e.args)
            raise self.err(e.loc, f"{e.fn}() of {names} gives one of them, whose type "
                                  f"depends on which is chosen (numpy promotes the pair to "
                                  f"fp64)", hint=f"convert first ({e.fn}(lo.int64(a), b)), or "
                                                 f"use lo.{e.fn}imum for numpy's fp64 result")
        if rule in ("bool", "part") or e.fn == "abs" and t.is_floating:
            at = _default(self.typeof(e.args[0]))       # a complex argument stays complex
            if not (rule == "bool" or at.is_complex):
                at = t
            arg = self.expr(e.args[0], at)
            if rule == "part" and not at.is_complex:    # a real value's parts: it, 0
                return arg if e.fn == "real" else ir.Const(e.loc, t, 0)
            return replace(e, type=t, args=(arg,))
        argt = t if rule != "same" or e.fn != "abs" or t is not int64 else t
        args = tuple(self.expr(a, argt) for a in e.args)
        if e.fn == "conj" and not t.is_complex:      # a real value's conjugate: itself
            return args[0]
        if e.fn == "pow":                   # np.power is `**` on operands of its type
            return ir.BinOp(e.loc, t, "**", *args)
        return replace(e, type=t, args=args)

    def r_Cast(self, e):
        inner = self.expr(e.value)
        if isinstance(e.type, Weak):         # int(v), math.exp(v): a Python number, whose
            return inner                     # weakness only mattered for promotion
        if inner.type.is_complex and not e.type.is_complex:
            return to_type(inner, e.type)
        return replace(e, value=inner)

    def r_Load(self, e):
        dt = self.typeof(e)
        return replace(e, type=dt, index=self.indices(e.index))

    def r_Shape(self, e):
        return replace(e, type=int64)


_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def weak_int_value(e: ir.Expr) -> int | None:
    """The value of a Python int literal (``3``, ``-3``), else None."""
    if isinstance(e, ir.UnaryOp) and e.op == "-":
        v = weak_int_value(e.operand)
        return None if v is None else -v
    if isinstance(e, ir.Const) and e.type == Weak("i"):
        return int(e.value)
    return None


def _fits(v: int, t: Any) -> bool:
    if not (isinstance(t, DType) and t.is_integer):
        return True
    import numpy as np
    info = np.iinfo(t.numpy)
    return int(info.min) <= v <= int(info.max)


def _outside_compare(e: ir.Compare, flip: bool, v: int, x: ir.Expr) -> ir.Expr:
    """``x op v`` for a Python int ``v`` outside ``x``'s type: its truth is known,
    written as an always-true or always-false test of ``x`` (``x`` is still read)."""
    import numpy as np
    op = _FLIPPED[e.op] if flip else e.op
    info = np.iinfo(x.type.numpy)
    above = v > int(info.max)
    true = op == "!=" or (op in ("<", "<=") if above else op in (">", ">="))
    edge = ir.Const(e.loc, x.type, int(info.max if above else info.min))
    test = ("<=" if true else ">") if above else (">=" if true else "<")
    return ir.Compare(e.loc, bool_, test, x, edge)


def mixed_compare(loc, op: str, u: ir.Expr, s: ir.Expr) -> ir.Expr:
    """``u op s`` by value for a uint64 ``u`` and an int64 ``s``: a negative ``s``
    is below every ``u``; otherwise both compare as uint64."""
    negative = ir.Compare(loc, bool_, "<", s, ir.Const(loc, int64, 0))
    as_u = ir.Compare(loc, bool_, op, u, ir.Cast(loc, dtypes.uint64, s))
    return ir.Select(loc, bool_, negative, ir.Const(loc, bool_, op in (">", ">=", "!=")),
                     as_u, True)


def _atomic_held(dt: DType) -> DType:
    """The type an atomic on a ``dt`` tensor works in and returns its old value as:
    the element's, fp32 for a half (exception 3: halves compute in fp32)."""
    return fp32 if dt.is_floating and dt.itemsize == 2 else dt


def to_type(e: ir.Expr, t: DType) -> ir.Expr:
    """Convert ``e`` to ``t``: a typed constant, a truth test for bools, or a Cast."""
    if isinstance(e, ir.Const):
        return ir.Const(e.loc, t, _convert_const(e.value, t))
    if t is bool_ and e.type is not bool_:
        zero = ir.Const(e.loc, e.type, 0j if e.type.is_complex else 0)
        return ir.Compare(e.loc, bool_, "!=", e, zero)
    if e.type.is_complex and not t.is_complex:        # numpy's astype: the real part
        e = ir.Call(e.loc, e.type.real, "real", (e,))
        if t is e.type:
            return e
    return ir.Cast(e.loc, t, e)


def _convert_const(v: Any, t: DType) -> Any:
    """A Python constant as type ``t`` would hold it (wrapping, rounding)."""
    import numpy as np
    if t.is_bool:
        return bool(v)
    if t.is_complex:
        return complex(np.array(v).astype(t.numpy))
    if isinstance(v, complex):                # numpy's astype: the real part
        v = v.real
    if t.is_integer:
        if isinstance(v, float):              # the one float-to-int rule (any host)
            return lower_casts.convert_const(v, t)
        info = np.iinfo(t.numpy)
        span = info.max - info.min + 1
        return int((int(v) - info.min) % span + info.min)
    return float(np.array(v, dtype=np.float64).astype(t.numpy))


def infer_types(kernel: ir.Kernel, info) -> ir.Kernel:
    ti = TypeInference(kernel, info)
    ti.infer()
    return ti.rewrite()
