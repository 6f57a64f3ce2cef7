"""Lua target lowering: the final typed IR -> the IR :mod:`.render` prints.

Every decision about how LuaJIT computes a kernel's meaning (DESIGN.md section 2)
is made here, on IR; the renderer then maps each node to one Lua construct. How
the IR's numpy semantics (:mod:`langone.kernels.ir`) map onto LuaJIT:

* **fp64** is a Lua number.
* **fp32** values live in doubles and every fp32 operation's result is fp32,
  as numpy's: one operation on fp32 values computed in double and rounded once
  is the correctly rounded fp32 result, so a value is rounded (``r32``) before
  it feeds another operation, and when assigned, cast or compared (loads,
  constants and variables are already fp32: no rounding; stores and returns
  round in the ffi conversion). The results are bit-identical to the python
  backend. ``fastmath=True`` skips the rounding of intermediate values,
  variables and comparisons (pure double).
* **fp16/bf16** compute as fp32; tensors are ``uint16_t`` bits converted on
  load and rounded to nearest even on store (``h2f``/``f2h``, ``bf2f``/``f2bf``).
* **int8/16/32, uint8/16/32** are Lua numbers wrapped after every operation
  (``bit.tobit``, sign-extending shifts, masks, ``u32``: modulo 2^32); int32
  and uint32 products that could exceed 2^52 use an exact split multiply
  (``imul32``); uint32 ``>>`` is logical (``ushr32``).
* **uint64** is always a ``uint64_t`` cdata (``U64``): LuaJIT's 64-bit unsigned
  arithmetic wraps like numpy; ``//``, ``%`` and shifts go through helpers with
  numpy's results for zero divisors and wide shifts (``udiv64`` ...).
* **int64** is a Lua number where :mod:`.intrange` proves the value stays
  below 2^52 (indices, shapes, loop counters bounded by them) and an
  ``int64_t`` cdata elsewhere (int64 data, accumulators), whose arithmetic
  wraps like numpy. Subscripts, loop bounds and extents are converted to
  numbers once, after any int64_t arithmetic (a hash ``(k * 2654435761) % n``
  wraps at 64 bits before it lands in bounds). An int64 number that may be
  -0.0 (``0 * -3`` in doubles) gets ``+ 0`` where it becomes a float.
* ``//`` and ``%`` follow Python on negative operands; integer ``x // 0`` and
  ``x % 0`` give 0, shifts outside ``[0, bits)`` and negative ``**`` exponents
  give numpy's results (as :func:`langone.kernels.backends.numpy_ref.binop`);
  a ``checked`` power's exponent goes through ``chkpow`` (raises if negative).
* fp32 ``exp``/``tanh``/``sigmoid`` use an inline table + polynomial ``exp``
  (a gelu chain ran 2.2x faster than with libm); fp64 math calls libm through
  ``math.*``; ``erf`` is pure Lua (no libm symbol needed by exported modules).
* Grids are sequential loops. A reduction variable's updates go straight into
  a double (or int64) total when the body only accumulates into it, else into
  a per-iteration lane folded into the total (min/max lanes NaN-propagating);
  the total is merged with the value from before the grid as the reference
  does. Atomics are plain read-modify-writes; fp16/bf16 tensors
  are updated in an fp32 shadow (an :class:`~langone.kernels.ir.Alloc`) inside
  a grid, rounded once at its end.

The lowered IR: a ``Call``'s ``fn`` is the Lua function to call (prelude or
:mod:`.lualib`; ``I64`` of an integer constant is an ``int64_t`` literal);
``BinOp`` is ``+ - * / **`` on numbers or cdata; a ``Const`` whose type is
None is a message (a string); no ``Cast`` is left; a ``Load``
reads the raw element (bool 0/1, half bits); a ``Store``'s value and an
``Atomic``'s value (the element's new value, where a ``Load`` of the same
element is its old value) are raw too. A grid's ``reductions`` name the totals
its iterations update; every other variable it assigns is iteration-private.

Example:
    >>> import numpy as np, langone as lo
    >>> @lo.kernel
    ... def twice(x, out):
    ...     for i in lo.grid(x.shape[0]):
    ...         out[i] = x[i] * 2.0 + 1.0
    >>> typed = twice.specialization(np.ones(2, np.float32), np.ones(2, np.float32),
    ...                              backend="numpy").stages.final
    >>> print(ir.fmt_stmts(lower(typed, {}).body[-1].body)[0].strip())
    out[i] = (r32((x[i] * 2.0)) + 1.0)
"""

from __future__ import annotations

from dataclasses import replace

from ..dtypes import DType, bf16, bool_, fp16, fp32, fp64, int32, int64, uint8, uint64
from ..kernels import ir
from ..kernels.passes import lower_atomics, lower_pow
from .intrange import NUM_BITS, WIDE, IntRanges


def lower(k: ir.Kernel, options: dict | None = None) -> ir.Kernel:
    """``k`` (the pipeline's final IR) lowered for the Lua renderer."""
    return LuaLowering(k, options or {}).kernel()


def computes_in_fp32(t) -> bool:
    """fp32, fp16 and bf16 values are fp32 while computing (held in doubles)."""
    return isinstance(t, DType) and t.is_floating and t is not fp64


def is_half(t) -> bool:
    return isinstance(t, DType) and t in (fp16, bf16)


def call(fn: str, t, *args) -> ir.Call:
    return ir.Call(ir.NOLOC, t, fn, tuple(args))


def const(t, v) -> ir.Const:
    return ir.Const(ir.NOLOC, t, v)


def name(n: str, t=None) -> ir.Name:
    return ir.Name(ir.NOLOC, t, n)


def _stmts(body) -> list:
    return [n for n in ir.walk_stmts(body) if isinstance(n, ir.Stmt)]


def _reads(nodes, var: str) -> int:
    return sum(1 for node in nodes for n in ir.walk(node)
               if isinstance(n, ir.Name) and n.id == var)


# --- expressions ------------------------------------------------------------------------

class Expressions:
    """Value representations: rounding, wrapping, int64 numbers or cdata (a mixin)."""

    def wide(self, e: ir.Expr) -> bool:
        """Whether int64 ``e`` is an int64_t cdata (not provably below 2^52)."""
        return self.ranges.wide(e)

    def as_wide(self, e: ir.Expr) -> ir.Expr:
        """``e`` (an integer) as an int64_t cdata."""
        if self.ranges.wide(e):
            return self.ex(e)
        if isinstance(e, ir.Const):
            return call("I64", int64, e)
        return call("I64", int64, self.ex(e))

    def num(self, e: ir.Expr) -> ir.Expr:
        """``e`` (an integer) as a Lua number: computed as int64_t cdata (wrapping
        like numpy) where it may not fit 52 bits, converted once at the end."""
        if e.type is int64 and self.ranges.wide(e):
            return call("tonumber", int64, self.ex(e))
        return self.ex(e)

    def index_num(self, e: ir.Expr) -> ir.Expr:
        """An index, extent or range bound: always a Lua number. Its arithmetic is
        done in numbers only where :mod:`.intrange` proves every step fits 52 bits
        (an in-bounds result may come from wrapping int64 arithmetic, a hash)."""
        return self.num(e)

    def exact32(self, e: ir.Expr) -> bool:
        """Whether ``e``'s double is already an fp32 value (rounding is a no-op)."""
        if isinstance(e, (ir.Const, ir.Load)):
            return True
        if isinstance(e, ir.Name):
            return not self.fastmath              # variables are rounded on assignment
        if isinstance(e, ir.UnaryOp) and e.op in ("-", "+"):
            return self.exact32(e.operand)
        if isinstance(e, ir.Select):
            return self.exact32(e.a) and self.exact32(e.b)
        if isinstance(e, ir.Call) and e.fn in ("abs", "min", "max", "minimum", "maximum",
                                               "floor", "ceil"):
            return all(self.exact32(a) for a in e.args)
        if isinstance(e, ir.Cast):
            s = e.value.type
            return computes_in_fp32(e.type) or s.is_bool or s.name in ("int8", "uint8",
                                                                        "int16", "uint16")
        return False

    def rounded(self, e: ir.Expr, always: bool = False) -> ir.Expr:
        """``e`` rounded to fp32 when its type computes in fp32 and it may not be."""
        out = self.ex(e)
        if not computes_in_fp32(e.type) or self.exact32(e) or (self.fastmath and not always):
            return out
        return call("r32", fp32, out)

    @staticmethod
    def wrap(t: DType, e: ir.Expr) -> ir.Expr:
        """An integer result wrapped to ``t``'s width (numbers)."""
        fn = {"int32": "tobit", "int16": "wrap16", "int8": "wrap8", "uint32": "u32"}.get(t.name)
        if fn:
            return call(fn, t, e)
        mask = {"uint8": 255, "uint16": 65535}.get(t.name)
        return call("band", t, e, const(int32, mask)) if mask else e

    def may_be_negative_zero(self, e: ir.Expr) -> bool:
        """Whether an int64 held in a Lua number may be -0.0 (``0 * -3``, ``-0``,
        ``0 // -3`` in doubles); narrower integers are wrapped by bit operations,
        which never give -0.0."""
        if isinstance(e, ir.Name):
            return e.id not in self.grid_vars     # grid variables count up from 0
        return not isinstance(e, (ir.Const, ir.Load, ir.Shape, ir.Cast))

    # -- nodes ---------------------------------------------------------------------------
    def ex(self, e: ir.Expr) -> ir.Expr:
        return getattr(self, "e_" + type(e).__name__)(e)

    def e_Const(self, e: ir.Const) -> ir.Expr:
        if e.type is uint64:
            return call("U64", uint64, e)
        return call("I64", int64, e) if e.type is int64 and self.wide(e) else e

    def e_Name(self, e: ir.Name) -> ir.Expr:
        if e.type is uint64 and e.id in self.u64_params:   # arrives as a number
            return call("U64", uint64, e)
        return e

    e_Shape = e_Name

    def e_Load(self, e: ir.Load) -> ir.Expr:
        raw = replace(e, index=self.indices(e.index))
        t = self.tensor_types[e.tensor]
        if t is bool_:
            return ir.Compare(e.loc, bool_, "!=", raw, const(uint8, 0))
        if is_half(t):
            return call("h2f" if t is fp16 else "bf2f", fp32, raw)
        return raw

    def indices(self, index: tuple) -> tuple:
        return tuple(self.subscript(ix) for ix in index)

    def subscript(self, e: ir.Expr) -> ir.Expr:
        """A subscript as a Lua number. Like :meth:`index_num`, except that its last
        ``+``/``-`` (in each branch of a Select: the negative-index wrap) may add a
        number below 2^52 to a wide value converted to a number: a result in
        bounds (below 2^48) needs that value below 2^53, where the double
        arithmetic is exact (no int64 wrap can land in bounds either), and a
        result out of bounds stays out of bounds (the check raises)."""
        if e.type is not int64 or not self.ranges.wide(e):
            return self.num(e)
        if isinstance(e, ir.Select):
            return replace(e, cond=self.ex(e.cond), a=self.subscript(e.a),
                           b=self.subscript(e.b))
        if isinstance(e, ir.BinOp) and e.op in ("+", "-") and \
                self.ranges.wide(e.left) != self.ranges.wide(e.right):
            return replace(e, left=self.num(e.left), right=self.num(e.right))
        return self.num(e)

    def e_BinOp(self, e: ir.BinOp) -> ir.Expr:
        t = e.type
        if t.is_floating:
            return self.float_binop(e)
        if t.is_bool:
            a, b = self.ex(e.left), self.ex(e.right)
            if e.op in ("&", "|"):
                return ir.BoolOp(e.loc, t, "and" if e.op == "&" else "or", (a, b))
            return ir.Compare(e.loc, t, "!=", a, b)
        if t is int64:
            return self.int64_binop(e)
        if t is uint64:
            return self.uint64_binop(e)
        return self.narrow_binop(e)

    def uint64_binop(self, e: ir.BinOp) -> ir.Expr:
        """uint64 arithmetic on uint64_t cdata: + - * ** wrap in LuaJIT itself."""
        a, b = self.ex(e.left), self.ex(e.right)
        if e.op in ("+", "-", "*"):
            return replace(e, left=a, right=b)
        if e.op == "**":
            return replace(e, left=a, right=self.exponent(e, b))
        fn = {"//": "udiv64", "%": "umod64", "<<": "ushl64", ">>": "ushr64",
              "&": "band", "|": "bor", "^": "bxor"}[e.op]
        return call(fn, uint64, a, b)

    def float_binop(self, e: ir.BinOp) -> ir.Expr:
        if e.op in ("//", "%"):
            fn = "ffloordiv" if e.op == "//" else "fremainder"
            return call(fn if e.type is fp64 else fn + "32", e.type,
                        self.rounded(e.left, True), self.rounded(e.right, True))
        # numpy rounds every fp32 operation: an operand computed in double is
        # rounded first (one operation on fp32 values, done in double and
        # rounded once, is the correctly rounded fp32 result).
        return replace(e, left=self.rounded(e.left), right=self.rounded(e.right))

    def int64_binop(self, e: ir.BinOp) -> ir.Expr:
        op = e.op
        wide_operand = self.ranges.wide(e.left) or self.ranges.wide(e.right)
        if wide_operand and not self.wide(e):     # e.g. v % 2 of an int64_t v: small result
            return call("tonumber", int64, self.wide_binop(e))
        if self.wide(e) or op not in ("+", "-", "*", "//", "%"):
            return self.wide_binop(e)
        a, b = self.num(e.left), self.num(e.right)
        if op in ("+", "-", "*"):
            return replace(e, left=a, right=b)
        return call("idiv" if op == "//" else "imod", int64, a, b)

    def wide_binop(self, e: ir.BinOp) -> ir.Expr:
        """int64 arithmetic on int64_t cdata (wraps at 64 bits like numpy)."""
        a, b = self.as_wide(e.left), self.as_wide(e.right)
        if e.op in ("+", "-", "*"):
            return replace(e, left=a, right=b)
        fn = {"//": "idiv64", "%": "imod64", "**": "ipow64", "<<": "shl64", ">>": "shr64",
              "&": "band", "|": "bor", "^": "bxor"}[e.op]
        return call(fn, int64, a, self.exponent(e, b))

    def narrow_binop(self, e: ir.BinOp) -> ir.Expr:
        t, op = e.type, e.op
        a, b = self.ex(e.left), self.ex(e.right)
        bits = const(int32, t.bits)
        if op in ("+", "-"):
            return self.wrap(t, replace(e, left=a, right=b))
        if op == "*":
            exact = self.ranges.bits(e.left) + self.ranges.bits(e.right) <= 52
            if t.bits == 32 and not exact:           # int32 and uint32
                out = call("imul32", t, a, b)
                return out if t is int32 else self.wrap(t, out)
            return self.wrap(t, replace(e, left=a, right=b))
        if op == "//":
            return self.wrap(t, call("idiv", t, a, b))
        if op in ("**", "<<"):                      # int32 helpers wrap to 32 bits
            out = call("ipow32", t, a, self.exponent(e, b)) if op == "**" else \
                call("shl", t, a, b, bits)
            return out if t is int32 else self.wrap(t, out)
        if op == ">>":
            return call("ushr32" if t.kind == "u" else "shr", t, a, b, bits)
        out = call({"%": "imod", "&": "band", "|": "bor", "^": "bxor"}[op], t, a, b)
        return self.wrap(t, out) if t.name == "uint32" and op != "%" else out

    def exponent(self, e: ir.BinOp, b: ir.Expr) -> ir.Expr:
        """``b``, the exponent of ``e``; of a checked power (passes/lower_pow)
        through ``chkpow``, which raises with the message for a negative one."""
        if not e.checked:
            return b
        where = lower_pow.message(self.k.filename, e.loc.line, self.k.name, "{exponent}")
        return call("chkpow", b.type, b, ir.Const(e.loc, None, where))

    def e_UnaryOp(self, e: ir.UnaryOp) -> ir.Expr:
        t = e.type
        if e.op == "not" or (e.op == "~" and t.is_bool):
            return replace(e, op="not", operand=self.ex(e.operand))
        if e.op == "+":
            return self.ex(e.operand)
        if t is int64 and (self.wide(e) or e.op == "~"):
            a = self.as_wide(e.operand)
            return replace(e, operand=a) if e.op == "-" else call("bnot", t, a)
        if t is uint64:                                # cdata: wraps
            a = self.ex(e.operand)
            return replace(e, operand=a) if e.op == "-" else call("bnot", t, a)
        a = self.ex(e.operand)
        if e.op == "-":
            neg = replace(e, operand=a)
            return neg if t.is_floating or t is int64 else self.wrap(t, neg)
        out = call("bnot", t, a)                       # ~ on int8/16/32, uint8/16/32
        return self.wrap(t, out) if t.kind == "u" else out

    def e_Compare(self, e: ir.Compare) -> ir.Expr:
        ct = e.left.type
        if ct.is_bool and e.op not in ("==", "!="):
            a, b = self.bool_number(e.left), self.bool_number(e.right)
        elif computes_in_fp32(ct):
            a, b = self.rounded(e.left), self.rounded(e.right)
        else:
            a, b = self.ex(e.left), self.ex(e.right)
        return replace(e, left=a, right=b)

    def bool_number(self, e: ir.Expr) -> ir.Expr:
        return ir.Select(e.loc, uint8, self.ex(e), const(uint8, 1), const(uint8, 0))

    def e_BoolOp(self, e: ir.BoolOp) -> ir.Expr:
        return replace(e, values=tuple(self.ex(v) for v in e.values))

    def e_Select(self, e: ir.Select) -> ir.Expr:
        if e.type is int64 and self.wide(e):
            a, b = self.as_wide(e.a), self.as_wide(e.b)
        elif e.type is int64:
            a, b = self.num(e.a), self.num(e.b)
        else:
            a, b = self.ex(e.a), self.ex(e.b)
        return replace(e, cond=self.ex(e.cond), a=a, b=b)

    def e_Call(self, e: ir.Call) -> ir.Expr:
        fn, t, arg = e.fn, e.type, e.args[0]
        if fn in ("isnan", "isinf"):
            if not arg.type.is_floating:
                return const(bool_, False)
            return call(fn, t, self.ex(arg) if fn == "isnan" else self.rounded(arg, True))
        if fn in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "erf"):
            x = self.rounded(arg)
            if fn != "erf" and (t is fp64 or fn in ("log", "sqrt", "sin", "cos")):
                fn = "sigmoid64" if fn == "sigmoid" else fn
            elif fn != "erf":
                fn += "32"
            return call(fn, t, x)
        if fn in ("floor", "ceil"):
            return call(fn, t, self.rounded(arg, True))
        if fn in ("log1p", "expm1", "atan2", "hypot", "copysign", "fmod"):
            return self.call_math(e)
        if fn == "abs":
            return self.call_abs(e)
        return self.call_minmax(e)

    def call_math(self, e: ir.Call) -> ir.Expr:
        """log1p expm1 atan2 hypot copysign fmod: computed in double (an fp32
        result is rounded where it is used); integer fmod on integers."""
        fn, t = e.fn, e.type
        if fn == "fmod" and not t.is_floating:
            return self.integer_fmod(e)
        args = [self.rounded(a, fn in ("fmod", "copysign")) for a in e.args]
        return call(fn + "32" if fn == "hypot" and t is not fp64 else fn, t, *args)

    def integer_fmod(self, e: ir.Call) -> ir.Expr:
        a, b = e.args
        if e.type is uint64:                          # unsigned: C's remainder is %
            return call("umod64", uint64, self.ex(a), self.ex(b))
        if e.type is int64 and any(self.wide(v) for v in (e, a, b)):
            out = call("ifmod64", int64, self.as_wide(a), self.as_wide(b))
            return out if self.wide(e) else call("tonumber", int64, out)
        return call("ifmod", e.type, self.num(a), self.num(b))

    def call_abs(self, e: ir.Call) -> ir.Expr:
        t, arg = e.type, e.args[0]
        if t.is_floating:
            return call("abs", t, self.ex(arg))
        if t is int64:
            if self.wide(e):
                return call("abs64", t, self.as_wide(arg))
            return call("abs", t, self.num(arg))
        if t.kind == "u":
            return self.ex(arg)                       # unsigned: abs is the value
        out = call("abs", t, self.ex(arg))
        return out if t is uint8 else self.wrap(t, out)

    def call_minmax(self, e: ir.Call) -> ir.Expr:
        fn, t = e.fn, e.type
        if t.is_bool:
            return ir.BoolOp(e.loc, t, "and" if fn in ("min", "minimum") else "or",
                             tuple(self.ex(a) for a in e.args))
        if t.is_floating:
            args = [self.rounded(a) for a in e.args]
            helper = {"min": "pymin", "max": "pymax", "minimum": "fminimum",
                      "maximum": "fmaximum"}[fn]
        else:
            as_wide = t is int64 and self.wide(e)
            args = [self.as_wide(a) if as_wide else self.num(a) for a in e.args]
            helper = "pymin" if fn in ("min", "minimum") else "pymax"
        return call(helper, t, *args)

    def e_Cast(self, e: ir.Cast) -> ir.Expr:
        t, s = e.type, e.value.type
        if t.is_bool:
            return self.ex(e.value) if s.is_bool else \
                ir.Compare(e.loc, bool_, "!=", self.ex(e.value), const(int32, 0))
        if s.is_bool:
            out = self.bool_number(e.value)
            return call("U64", t, out) if t is uint64 else out
        if t.is_integer:
            return self.cast_to_int(e)
        return self.cast_to_float(e)

    def cast_to_int(self, e: ir.Cast) -> ir.Expr:
        t, s = e.type, e.value.type
        if s.is_floating:
            x = self.rounded(e.value, True)
            if t is int64:
                return call("I64", t, x)
            out = call("f2i32", int32, x)
            return out if t is int32 else self.wrap(t, out)
        if t is uint64:                                   # numbers and int64_t wrap
            return self.ex(e.value) if s is uint64 else call("U64", t, self.ex(e.value))
        if s is uint64 and t is int64:
            return call("S64", t, self.ex(e.value))
        if t is int64:
            return self.ex(e.value)                       # from a narrower integer
        v = self.ex(e.value)
        if s in (int64, uint64):                          # tobit wraps numbers and cdata
            v = call("tobit", int32, v)
            return v if t is int32 else self.wrap(t, v)
        return self.wrap(t, v)

    def cast_to_float(self, e: ir.Cast) -> ir.Expr:
        t, s = e.type, e.value.type
        if computes_in_fp32(s):                   # leaving fp32: the rounded value counts
            v = self.rounded(e.value, True)
            if not is_half(t):
                return v
        else:
            v = self.ex(e.value)
            if s is int64 and self.ranges.wide(e.value):    # int64_t: rounded once
                v = call("tonumber" if t is fp64 else "i64num", int64, v)
            elif s is uint64:
                v = call("tonumber" if t is fp64 else "u64num", fp64, v)
            elif s is int64 and self.may_be_negative_zero(e.value):
                v = ir.BinOp(e.loc, int64, "+", v, const(int64, 0))   # -0.0 + 0 is 0
            if t is fp64 or (s.is_integer and s.bits <= 16 and t is fp32):
                return v                          # exact
            if t is fp32:
                return call("r32", t, v)
        return call("rh16" if t is fp16 else "rbf16", t, v)


# --- statements ---------------------------------------------------------------------------

class LuaLowering(Expressions):
    """Lowers one typed, specialized kernel (see the module docstring)."""

    def __init__(self, k: ir.Kernel, options: dict):
        self.k = k
        self.fastmath = bool(options.get("fastmath"))
        self.ranges = IntRanges.of(k)
        self.types = dict(k.local_types)
        self.tensor_types = {p.name: p.type.dtype for p in k.params if p.is_tensor}
        self.tensor_types.update({n.name: n.dtype for n in ir.walk(k)     # local arrays
                                  if isinstance(n, ir.Alloc)})
        self.grid_vars = {v for n in ir.walk(k) if isinstance(n, ir.Grid) for v in n.vars}
        self.u64_params = {p.name for p in k.params if not p.is_tensor and p.type is uint64}
        self.taken = {p.name for p in k.params} | set(self.types) | ir.bound_names(k.body)
        self.new_locals: list[tuple] = []
        self.folds: dict[str, tuple] = {}         # reduction var -> (op, total name)
        self.shadows: dict[str, str] = {}         # half tensor -> its fp32 shadow
        self.tails: list = [None]                 # a grid iteration's closing statements
        self.private_for = self._private_for_vars()

    def kernel(self) -> ir.Kernel:
        body = self.block(self.k.body)
        return replace(self.k, body=body, locals=self.k.locals + tuple(self.new_locals))

    def fresh(self, base: str, t=None, local: bool = True) -> str:
        out, n = base, 1
        while out in self.taken:
            n += 1
            out = f"{base}_{n}"
        self.taken.add(out)
        if local:
            self.new_locals.append((out, t))
        return out

    def block(self, stmts) -> tuple:
        return tuple(x for s in stmts for x in getattr(self, "s_" + type(s).__name__)(s))

    def nested(self, body) -> tuple:
        """A loop body inside a grid iteration: its ``continue`` is its own."""
        self.tails.append(None)
        try:
            return self.block(body)
        finally:
            self.tails.pop()

    def s_Assign(self, s: ir.Assign) -> list:
        fold = self.folds.get(s.target)
        if fold is not None:
            return [self.direct_fold(s, *fold)]
        return [replace(s, value=self.assigned(s.target, s.value))]

    def assigned(self, target: str, value: ir.Expr) -> ir.Expr:
        """``value`` converted to the representation of variable ``target``."""
        t = self.types.get(target)
        if computes_in_fp32(t):
            return self.rounded(value)
        if t is int64:
            local_wide = self.ranges.local_bits.get(target, NUM_BITS) > NUM_BITS
            return self.as_wide(value) if local_wide else self.num(value)
        return self.ex(value)

    def s_Store(self, s: ir.Store) -> list:
        t, e = self.tensor_types[s.tensor], s.value
        if t is bool_:
            v = const(uint8, int(bool(e.value))) if isinstance(e, ir.Const) else \
                self.bool_number(e)
        elif is_half(t):
            v = call("f2h" if t is fp16 else "f2bf", t, self.ex(e))
        else:
            v = self.ex(e)                       # ffi converts (floats round to nearest)
        return [replace(s, index=self.indices(s.index), value=v)]

    def s_Atomic(self, s: ir.Atomic) -> list:
        """A plain read-modify-write (grids run sequentially): the value becomes the
        element's new value, computed from its old one (a Load of the element)."""
        if lower_atomics.needs_plain(s):            # old = t[i]; t[i] = op(old, v)
            tensor = self.shadows.get(s.tensor, s.tensor)
            held = lower_atomics.held_type(self.tensor_types[s.tensor])
            old = s.target or self.fresh("old", held)
            self.types.setdefault(old, held)
            self.ranges.local_bits.setdefault(old, WIDE)    # any element: int64 cdata
            plain = lower_atomics.plain(replace(s, tensor=tensor), old,
                                        self.tensor_types[tensor], held)
            return list(self.block(plain))
        # An fp32 value is rounded before the add (numpy rounds every fp32 operation).
        t, v = self.tensor_types[s.tensor], self.rounded(s.value)
        tensor = self.shadows.get(s.tensor, s.tensor)   # a half tensor's fp32 shadow
        index = self.indices(s.index)
        old = ir.Load(s.loc, t, tensor, index)
        if tensor != s.tensor or (t.is_floating and not is_half(t)) or t in (int64, uint64):
            new = ir.BinOp(s.loc, t, "+", old, v)      # floats round on store; cdata wraps
        elif is_half(t):
            wide = ir.BinOp(s.loc, fp32, "+", call("h2f" if t is fp16 else "bf2f", fp32, old), v)
            if computes_in_fp32(s.value.type) and not self.fastmath:
                wide = call("r32", fp32, wide)         # half + half: an fp32 sum, then rounded
            new = call("f2h" if t is fp16 else "f2bf", t, wide)
        else:
            new = self.wrap(t, ir.BinOp(s.loc, t, "+", old, v))
        return [replace(s, tensor=tensor, index=index, value=new)]

    def s_If(self, s: ir.If) -> list:
        return [replace(s, cond=self.ex(s.cond), body=self.block(s.body),
                        orelse=self.block(s.orelse))]

    def s_For(self, s: ir.For) -> list:
        step = s.step if isinstance(s.step, ir.Const) else self.index_num(s.step)
        body = self.nested(s.body)
        var = s.var
        if s.var not in self.private_for:             # the variable outlives the loop
            var = self.fresh(f"{s.var}_it", local=False)
            wide = self.ranges.local_bits.get(s.var, 0) > NUM_BITS
            it = name(var, int64)
            body = (ir.Assign(s.loc, s.var, call("I64", int64, it) if wide else it), *body)
        return [replace(s, var=var, start=self.index_num(s.start),
                        stop=self.index_num(s.stop), step=step, body=body)]

    def _private_for_vars(self) -> set:
        """``range`` variables read only inside loops over them: Lua's own loop
        variable serves. Others are copied into the kernel-level variable."""
        fors = [n for n in ir.walk(self.k) if isinstance(n, ir.For)]
        out = set()
        for var in {f.var for f in fors}:
            inside = sum(_reads(f.body, var) for f in fors if f.var == var)
            assigned = any(isinstance(n, ir.Assign) and n.target == var
                           for n in ir.walk(self.k))
            nested = any(_reads(f.body, var) and any(
                isinstance(g, ir.For) and g.var == var for g in _stmts(f.body))
                for f in fors if f.var == var)
            if not assigned and not nested and inside == _reads(self.k.body, var):
                out.add(var)
        return out

    def s_While(self, s: ir.While) -> list:
        return [replace(s, cond=self.ex(s.cond), body=self.nested(s.body))]

    def s_Break(self, s) -> list:
        return [s]

    def s_Continue(self, s) -> list:
        return [*(self.tails[-1] or ()), s]       # a grid iteration folds its lanes first

    def s_Return(self, s: ir.Return) -> list:
        return [s if s.value is None else replace(s, value=self.ex(s.value))]

    def s_Alloc(self, s) -> list:               # a local array: rendered as a tensor
        return [s]

    def s_Comment(self, s) -> list:
        return [s]

    # -- grids ---------------------------------------------------------------------------
    def s_Grid(self, g: ir.Grid) -> list:
        where = f"line {g.loc.line}" if g.loc.line else "grid"
        out: list = [ir.Comment(g.loc, f"lo.grid ({where}): " + ", ".join(
            f"{v} < {ir.fmt_expr(x)}" for v, x in zip(g.vars, g.extents)) + "".join(
            f"; reduce {r.op}({r.var})" for r in g.reductions) + " -- sequential")]
        extents = tuple(self.index_num(x) for x in g.extents)
        totals = {r.var: self.fresh(f"{r.var}_total", self.types[r.var]) for r in g.reductions}
        out += [ir.Assign(g.loc, totals[r.var], self.identity(r)) for r in g.reductions]
        direct = {r.var: (r.op, totals[r.var]) for r in g.reductions if self.can_fold(g, r)}
        shadows = self.open_shadows(g, out)
        lanes = [r for r in g.reductions if r.var not in direct]
        tail = [ir.Assign(g.loc, totals[r.var], self.lane_fold(r, totals[r.var])) for r in lanes]
        saved, self.folds = self.folds, dict(self.folds, **direct)
        self.tails.append(tail)
        try:
            body = self.block(g.body)
        finally:
            self.folds = saved
            self.tails.pop()
        inits = [ir.Assign(g.loc, r.var, self.identity(r)) for r in lanes]
        red = tuple(ir.Reduction(totals[r.var], r.op) for r in g.reductions)
        out.append(replace(g, extents=extents, body=(*inits, *body, *tail),
                           reductions=red))
        out += [ir.Assign(g.loc, r.var, self.merge(r, totals[r.var])) for r in g.reductions]
        for tensor in shadows:
            out.append(self.copy_loops(tensor, tensor, self.shadows.pop(tensor), True))
        return out

    def red_wide(self, r: ir.Reduction) -> bool:
        return self.ranges.local_bits.get(r.var, NUM_BITS) > NUM_BITS

    def identity(self, r: ir.Reduction) -> ir.Expr:
        t = self.types[r.var]
        v = const(t, ir.reduction_identity(r.op, t))
        if t is uint64:
            return call("U64", t, v)
        return call("I64", t, v) if t is int64 and self.red_wide(r) else v

    def can_fold(self, g: ir.Grid, r: ir.Reduction) -> bool:
        """Whether every use of ``r.var`` in the grid is one accumulating update
        (``v = v + e``, ``v = v * e``, ``v = min(v, e)``, ...): then updates go
        straight into the total, with no per-iteration lane."""
        updates = [s for s in _stmts(g.body) if isinstance(s, ir.Assign) and s.target == r.var]
        if not updates or any(isinstance(s, ir.For) and s.var == r.var for s in _stmts(g.body)):
            return False
        if any(self.fold_operand(s, r.op) is None for s in updates):
            return False
        return _reads(g.body, r.var) == len(updates)

    @staticmethod
    def fold_operand(s: ir.Assign, op: str):
        """The operand ``e`` of an update of reduction ``op`` (the one recognizer,
        :func:`ir.accumulation`), else None."""
        found = ir.accumulation(s)
        if found is None or ir.ACCUMULATION_REDUCTION[found[0]] != op:
            return None
        return found[2]

    def direct_fold(self, s: ir.Assign, op: str, total: str) -> ir.Assign:
        e, t = self.fold_operand(s, op), self.types[s.target]
        if t is int64 and op in ("sum", "prod"):
            e = self.num(e) if not self.ranges.wide(e) else self.ex(e)
        else:
            e = self.ex(e) if op in ("sum", "prod") else self.rounded(e)
        if op in ("sum", "prod"):
            sign = "-" if isinstance(s.value, ir.BinOp) and s.value.op == "-" else "+"
            value = ir.BinOp(s.loc, t, sign if op == "sum" else "*", name(total, t), e)
        else:
            value = self.combine(op, t, name(total, t), e)
        return ir.Assign(s.loc, total, value)

    @staticmethod
    def combine(op: str, t, a: ir.Expr, b: ir.Expr) -> ir.Expr:
        """``a`` and ``b`` merged by min/max reduction ``op``: numpy's NaN-propagating
        rule for lo.minimum/maximum, else Python's."""
        base = ir.reduction_base(op)
        if t.is_bool:
            return ir.BoolOp(ir.NOLOC, t, "and" if base == "min" else "or", (a, b))
        fn = "f" + op if op in ("minimum", "maximum") and t.is_floating else "py" + base
        return call(fn, t, a, b)

    def lane_fold(self, r: ir.Reduction, total: str) -> ir.Expr:
        t = self.types[r.var]
        lane, acc = name(r.var, t), name(total, t)
        if r.op in ("sum", "prod"):
            return ir.BinOp(ir.NOLOC, t, "+" if r.op == "sum" else "*", acc, lane)
        if t.is_floating:      # NaN-propagating, like np.min over lanes (Python's skip NaN)
            fn = "fminimum" if ir.reduction_base(r.op) == "min" else "fmaximum"
            return call(fn, t, lane, acc)
        return self.combine(r.op, t, acc, lane)

    def merge(self, r: ir.Reduction, total: str) -> ir.Expr:
        """The grid's total combined with the value from before it (reference ``_combine``)."""
        t = self.types[r.var]
        var, tot = name(r.var, t), name(total, t)
        if r.op not in ("sum", "prod"):
            return self.combine(r.op, t, var, tot)
        op = "+" if r.op == "sum" else "*"
        if computes_in_fp32(t) and not self.fastmath:
            return call("r32", t, ir.BinOp(ir.NOLOC, t, op, var, call("r32", t, tot)))
        if t is int64 and self.red_wide(r):
            var = call("I64", t, var)
        return ir.BinOp(ir.NOLOC, t, op, var, tot)

    def open_shadows(self, g: ir.Grid, out: list) -> list:
        """fp32 copies of the fp16/bf16 tensors the grid atomically adds into."""
        opened = []
        for node in _stmts(g.body):
            if isinstance(node, ir.Atomic) and node.tensor not in self.shadows \
                    and is_half(self.tensor_types[node.tensor]):
                ndim = next(p.type.ndim for p in self.k.params if p.name == node.tensor)
                sh = self.fresh(f"{node.tensor}_f32", local=False)
                shape = tuple(ir.Shape(g.loc, int64, node.tensor, a) for a in range(ndim))
                out.append(ir.Alloc(g.loc, sh, fp32, shape))
                out.append(self.copy_loops(node.tensor, sh, node.tensor, False))
                self.shadows[node.tensor] = sh
                self.tensor_types[sh] = fp32
                opened.append(node.tensor)
        return opened

    def copy_loops(self, like: str, dst: str, src: str, to_half: bool) -> ir.Stmt:
        """Loops over ``like``'s shape copying ``src`` into ``dst``, converting
        half bits to fp32 or (``to_half``) back with one rounding."""
        t = self.tensor_types[like]
        ndim = next(p.type.ndim for p in self.k.params if p.name == like)
        idx = tuple(name(self.fresh(f"e{a}", local=False), int64) for a in range(ndim))
        value = ir.Load(ir.NOLOC, fp32, src, idx)
        if to_half:
            value = call("f2h" if t is fp16 else "f2bf", t, value)
        else:
            value = call("h2f" if t is fp16 else "bf2f", fp32, value)
        loop: ir.Stmt = ir.Store(ir.NOLOC, dst, idx, value)
        for a in range(ndim - 1, -1, -1):
            loop = ir.For(ir.NOLOC, idx[a].id, const(int64, 0),
                          ir.Shape(ir.NOLOC, int64, like, a), const(int64, 1), (loop,))
        return loop
