"""Which int64 values can live in Lua numbers (doubles) and which need ``int64_t``.

LuaJIT numbers are doubles: integers are exact only below 2^53. int64 in the IR
covers both loop indices and shapes (which must be fast, plain numbers) and
user data that may use all 64 bits and must wrap like numpy. This analysis
bounds the magnitude of every int64 expression by a bit count; values that
provably stay below 2^:data:`NUM_BITS` are plain Lua numbers ("num"), every
other int64 value is an ``int64_t`` cdata ("wide"), whose arithmetic wraps at
64 bits exactly like numpy.

Bounds (``|v| < 2**bits``): constants by their value; shapes and grid indices
48 bits (no array has 2^48 elements); ``range`` variables the larger of their
bounds; int64 scalar arguments :data:`NUM_BITS` (the launcher rejects larger
ones); ``a + b`` one more than the larger, ``a * b`` the sum, ``a // b`` that of
``a``, ``a % b`` that of ``b``; narrower integers their width; loads from
int64 tensors, casts from floats, shifts, bit operations and ``**`` 64.
A local takes the largest bound of all values assigned to it, found by
iterating to a fixed point (a counter growing in a loop widens to 64).

Example:
    >>> from langone.kernels import ir
    >>> from langone.dtypes import int64
    >>> r = IntRanges({}, {})
    >>> r.bits(ir.Const(type=int64, value=1000))
    10
"""

from __future__ import annotations

from .. import dtypes
from ..kernels import ir

#: int64 values with at most this many magnitude bits are plain Lua numbers.
#: 52 (not 53) leaves room for ``floor(a / b) * b`` inside Lua's ``%``.
NUM_BITS = 52
INDEX_BITS = 48
WIDE = 64

_WIDTH = {"int8": 8, "uint8": 8, "int16": 16, "int32": 32, "bool": 1}


class IntRanges:
    """Magnitude bounds of integer expressions of one typed kernel."""

    def __init__(self, locals_: dict, params: dict):
        self.local_bits: dict[str, int] = dict(locals_)
        self.params = params                       # scalar name -> DType

    @classmethod
    def of(cls, k: ir.Kernel) -> "IntRanges":
        params = {p.name: p.type for p in k.params if not p.is_tensor}
        self = cls({}, params)
        assigns: list[tuple[str, ir.Expr]] = []
        loops: list[ir.For] = []
        for node in ir.walk(k):
            if isinstance(node, ir.Assign):
                assigns.append((node.target, node.value))
            elif isinstance(node, ir.For):
                loops.append(node)
            elif isinstance(node, ir.Grid):
                for v in node.vars:
                    self.local_bits[v] = INDEX_BITS
        for n in range(200):                       # monotone, capped: terminates
            changed = False
            for f in loops:
                b = min(max(self.bits(f.start), self.bits(f.stop)), NUM_BITS)
                if b > self.local_bits.get(f.var, 0):   # a Lua for variable: a number
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
        self.local_bits[name] = WIDE if (b > NUM_BITS or widen) else b
        return True

    def wide(self, e: ir.Expr) -> bool:
        """Whether ``e`` (of type int64) is rendered as an ``int64_t`` cdata."""
        return e.type is dtypes.int64 and self.bits(e) > NUM_BITS

    def bits(self, e: ir.Expr) -> int:
        t = e.type
        if not isinstance(t, dtypes.DType) or t.is_floating:
            return WIDE
        if t.name in _WIDTH and not isinstance(e, ir.Const):
            return _WIDTH[t.name]
        return min(getattr(self, "b_" + type(e).__name__, self._wide)(e), WIDE)

    def _wide(self, e) -> int:
        return WIDE

    def b_Const(self, e: ir.Const) -> int:
        return max(1, abs(int(e.value)).bit_length())

    def b_Name(self, e: ir.Name) -> int:
        if e.id in self.params:            # kernels cannot assign to parameters
            t = self.params[e.id]
            return _WIDTH.get(getattr(t, "name", ""), NUM_BITS)
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
