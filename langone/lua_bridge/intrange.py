"""Which int64 values can live in Lua numbers (doubles) and which need ``int64_t``.

LuaJIT numbers are doubles: integers are exact only below 2^53. int64 in the IR
covers both loop indices and shapes (which must be fast, plain numbers) and
user data that may use all 64 bits and must wrap like numpy. The magnitude
bounds of :mod:`langone.kernels.passes.int_bits` decide: values that provably
stay below 2^:data:`NUM_BITS` are plain Lua numbers ("num"), every other int64
value is an ``int64_t`` cdata ("wide"), whose arithmetic wraps at 64 bits
exactly like numpy. Here int64 scalar arguments are bounded by :data:`NUM_BITS`
(the launcher rejects larger ones) and so are ``range`` variables (a Lua
``for`` variable is a number).
"""

from __future__ import annotations

from .. import dtypes
from ..kernels import ir
from ..kernels.passes import int_bits
from ..kernels.passes.int_bits import INDEX_BITS, WIDE  # noqa: F401  (re-exported)

#: int64 values with at most this many magnitude bits are plain Lua numbers.
#: 52 (not 53) leaves room for ``floor(a / b) * b`` inside Lua's ``%``.
NUM_BITS = 52


class IntRanges(int_bits.IntRanges):
    """The bounds with Lua's assumptions, and which int64 values are cdata."""

    @classmethod
    def of(cls, k: ir.Kernel) -> "IntRanges":
        return super().of(k, scalar_bits=NUM_BITS, loop_var_cap=NUM_BITS)

    def wide(self, e: ir.Expr) -> bool:
        """Whether ``e`` (of type int64) is rendered as an ``int64_t`` cdata."""
        return e.type is dtypes.int64 and self.bits(e) > NUM_BITS
