"""Magnitude bounds of integer expressions, as bit counts.

``bits(e) = b`` means ``|e| < 2**b`` on every launch, so an int64 operation
whose bound stays at or below 63 bits cannot overflow. Bounds: constants by
their value; shapes and grid indices :data:`INDEX_BITS` (no array has 2^48
elements); ``range`` variables the larger of their bounds; int64 scalar
arguments ``scalar_bits`` (what the launcher admits: all 64 bits unless a
backend's launcher rejects more); ``a + b`` one more than the larger, ``a * b``
the sum, ``a // b`` that of ``a`` plus one, ``a % b`` that of ``b``; narrower
integers their width; loads from int64 tensors, casts from floats, shifts, bit
operations and ``**`` 64. A local takes the largest bound of all values
assigned to it, found by iterating to a fixed point (a counter growing in a
loop widens to 64).

Used by :mod:`.lower_wrap` (which int64 arithmetic may wrap) and by the Lua
backend (which int64 values fit a double).

Example:
    >>> from langone.kernels import ir
    >>> from langone.dtypes import int64
    >>> r = IntRanges({}, {})
    >>> r.bits(ir.Const(type=int64, value=1000))
    10
"""

from __future__ import annotations

from ... import dtypes
from .. import ir

INDEX_BITS = 48
WIDE = 64

_WIDTH = {"int8": 8, "uint8": 8, "int16": 16, "uint16": 16, "int32": 32, "uint32": 32,
          "bool": 1}


class IntRanges:
    """Magnitude bounds of integer expressions of one typed kernel.

    Args:
        local_bits: known bounds of locals (the fixed point fills the rest).
        params: scalar parameter name -> its DType.
        scalar_bits: the bound of an int64 scalar argument.
    """

    def __init__(self, local_bits: dict, params: dict, scalar_bits: int = WIDE):
        self.local_bits: dict[str, int] = dict(local_bits)
        self.params = params
        self.scalar_bits = scalar_bits

    @classmethod
    def of(cls, k: ir.Kernel, scalar_bits: int = WIDE, loop_var_cap: int = WIDE):
        """The bounds of kernel ``k``'s locals; a ``range`` variable's bound is
        capped at ``loop_var_cap`` (a backend that checks its bounds may say so)."""
        params = {p.name: p.type for p in k.params if not p.is_tensor}
        self = cls({}, params, scalar_bits)
        assigns: list[tuple[str, ir.Expr]] = []
        loops: list[ir.For] = []
        for node in ir.walk(k):
            if isinstance(node, ir.Assign):
                assigns.append((node.target, node.value))
            elif isinstance(node, ir.Atomic) and node.target:   # the element's old value
                assigns.append((node.target, ir.Load(node.loc, node.value.type, node.tensor,
                                                     node.index)))
            elif isinstance(node, ir.For):
                loops.append(node)
            elif isinstance(node, ir.Grid):
                for v in node.vars:
                    self.local_bits[v] = INDEX_BITS
        for n in range(200):                       # monotone, capped: terminates
            changed = False
            for f in loops:
                b = min(max(self.bits(f.start), self.bits(f.stop)), loop_var_cap)
                if b > self.local_bits.get(f.var, 0):
                    self.local_bits[f.var] = b
                    changed = True
            for name, value in assigns:
                changed |= self._raise(name, self.bits(value), n >= 3)
            if not changed:
                break
        return self

    def _raise(self, name: str, b: int, widen: bool) -> bool:
        old = self.local_bits.get(name, 0)
        if b <= old:
            return False
        # A value still growing after a few passes is loop-carried (a counter, an
        # accumulator): widen it instead of iterating bit by bit.
        self.local_bits[name] = WIDE if (b > self.scalar_bits or widen) else b
        return True

    def bits(self, e: ir.Expr) -> int:
        t = e.type
        if not isinstance(t, dtypes.DType) or not t.is_integer and not t.is_bool:
            return WIDE
        if t.name in _WIDTH and not isinstance(e, ir.Const):
            return _WIDTH[t.name]
        if t is dtypes.uint64 and not isinstance(e, ir.Const):
            return WIDE                  # wraps modulo 2**64: 0 - 1 is the largest value
        return min(getattr(self, "b_" + type(e).__name__, self._wide)(e), WIDE)

    def _wide(self, e) -> int:
        return WIDE

    def b_Const(self, e: ir.Const) -> int:
        return max(1, abs(int(e.value)).bit_length())

    def b_Name(self, e: ir.Name) -> int:
        if e.id in self.params:            # kernels cannot assign to parameters
            t = self.params[e.id]
            return _WIDTH.get(getattr(t, "name", ""), self.scalar_bits)
        return self.local_bits.get(e.id, WIDE)

    def b_Shape(self, e) -> int:
        return INDEX_BITS

    def b_BinOp(self, e: ir.BinOp) -> int:
        a, b = self.bits(e.left), self.bits(e.right)
        if e.op in ("+", "-"):
            return max(a, b) + 1
        if e.op == "*":
            return a + b
        if e.op == "//":
            return a + 1                 # INT_MIN // -1 overflows by one bit
        if e.op == "%":
            return b
        return WIDE                      # ** << >> & | ^

    def b_UnaryOp(self, e: ir.UnaryOp) -> int:
        return self.bits(e.operand) + 1 if e.op == "-" else \
            WIDE if e.op == "~" else self.bits(e.operand)

    def b_Select(self, e: ir.Select) -> int:
        return max(self.bits(e.a), self.bits(e.b))

    def b_Call(self, e: ir.Call) -> int:
        if e.fn in ("abs", "min", "max", "minimum", "maximum"):
            return max(self.bits(a) for a in e.args) + (e.fn == "abs")
        if e.fn == "fmod":                           # |fmod(a, b)| <= |a|
            return self.bits(e.args[0])
        return WIDE

    def b_Cast(self, e: ir.Cast) -> int:
        s = e.value.type
        if s.is_bool:
            return 1
        if s.is_integer:
            return _WIDTH.get(s.name, self.bits(e.value))
        return WIDE

    def b_Load(self, e: ir.Load) -> int:
        return WIDE
