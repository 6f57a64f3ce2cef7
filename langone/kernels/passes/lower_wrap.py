"""int64 overflow: arithmetic that may wrap is marked, so no backend assumes it won't.

numpy's int64 ``+ - *`` wrap modulo 2^64, so the kernel's own function does.
Some targets let their compiler assume that signed arithmetic never overflows
(numba emits LLVM ``add nsw``), which is what lets index arithmetic vectorize,
but it also lets LLVM fold what follows a wrap as if none happened: for
``x = 2**63 - 1``, ``x + 4 < 0`` is True in numpy and was False in numba. This
pass marks every int64 ``+ - *`` whose magnitude bound (:mod:`.int_bits`)
exceeds 63 bits as :attr:`~langone.kernels.ir.BinOp.wraps`; backends compute
those with wrapping arithmetic, and may keep the no-overflow form for the rest
(indices and shapes: sums and products of values below 2^48).

Example:
    >>> import numpy as np, langone as lo
    >>> @lo.kernel
    ... def shift(x, out):
    ...     for i in lo.grid(x.shape[0] - 1):
    ...         out[i] = x[i + 1] + 4
    >>> a = np.arange(3)
    >>> shift.on("numpy")(a, a.copy())
    >>> print(shift.ir.splitlines()[-1].strip())    # data may wrap, the index cannot
    out[i] = (x[(i + 1)] +% 4)
"""

from __future__ import annotations

from ...dtypes import int64
from .. import ir
from .int_bits import IntRanges

#: int64 results whose magnitude bound is at most this many bits cannot overflow.
SAFE_BITS = 63


def lower_wrap(k: ir.Kernel) -> ir.Kernel:
    """``k`` with every int64 ``+ - *`` that may overflow marked ``wraps``."""
    ranges = IntRanges.of(k)
    ids = {id(n) for n in ir.walk(k)
           if isinstance(n, ir.BinOp) and n.type is int64 and n.op in ("+", "-", "*")
           and ranges.bits(n) > SAFE_BITS}
    return ir.mark(k, ids, wraps=True)
