"""Math functions written with the language's own operations.

``isfinite``, ``sign``, ``clip`` and ``round`` are exact compositions of
comparisons, selects, ``floor``, ``minimum`` and ``maximum``, so every backend
has them with numpy's meaning and no new renderer code:

* ``isfinite(x)``: ``not (isnan(x) or isinf(x))`` (integers are finite);
* ``sign(x)``: ``1 if x > 0 else -1 if x < 0 else 0 if x == 0 else x`` (NaN stays
  NaN, and ``sign(-0.0)`` is ``0.0``, as numpy's);
* ``clip(x, low, high)``: ``minimum(maximum(x, low), high)``, numpy's own
  definition (NaN propagates; a tie returns the bound);
* ``np.round(x)`` / ``lo.round(x)``: half to even, in ``x``'s float type
  (integers are returned as they are); Python's ``round(x)`` is that, as a
  Python int (weak in promotion), converted like ``int(x)`` (exception 5).

``math.isfinite`` computes in double and gives a Python bool.

Example:
    >>> import numpy as np, langone as lo
    >>> @lo.kernel
    ... def rounded(x, out):
    ...     for i in lo.grid(x.shape[0]):
    ...         out[i] = round(x[i]) + lo.clip(x[i], -1.0, 1.0)
    >>> out = np.zeros(3)
    >>> rounded.on("numpy")(np.array([0.5, 1.5, -2.5]), out)
    >>> out.tolist()
    [0.5, 3.0, -3.0]
"""

from __future__ import annotations

from ..dtypes import bool_, int64
from . import ir

#: name -> number of arguments
ARITY = {"isfinite": 1, "sign": 1, "clip": 3, "rint": 1, "round": 1, "math_isfinite": 1}


def build(name: str, args: list, loc: ir.Loc) -> ir.Expr:
    """The expression ``name(*args)`` means (``args`` are IR expressions)."""
    return globals()["_" + name](loc, *args)


def _c(loc, value) -> ir.Const:
    kind = "b" if isinstance(value, bool) else "i" if isinstance(value, int) else "f"
    return ir.Const(loc, ir.Weak(kind), value)


def _isfinite(loc, x):
    bad = ir.BoolOp(loc, None, "or", (ir.Call(loc, None, "isnan", (x,)),
                                      ir.Call(loc, None, "isinf", (x,))))
    return ir.UnaryOp(loc, None, "not", bad)


def _math_isfinite(loc, x):
    return ir.Cast(loc, ir.Weak("b"), ir.Cast(loc, bool_, _isfinite(loc, x)))


def _sign(loc, x):
    def cmp(op):
        return ir.Compare(loc, None, op, x, _c(loc, 0))
    zero_or_nan = ir.Select(loc, None, cmp("=="), _c(loc, 0), x)
    return ir.Select(loc, None, cmp(">"), _c(loc, 1),
                     ir.Select(loc, None, cmp("<"), _c(loc, -1), zero_or_nan))


def _clip(loc, x, low, high):
    return ir.Call(loc, None, "minimum", (ir.Call(loc, None, "maximum", (x, low)), high))


def _rint(loc, x):
    """numpy's ``round(x)``: half to even, in ``x``'s type (``passes/lower_rint``)."""
    return ir.Call(loc, None, "rint", (x,))


def _round(loc, x):
    """Python's ``round(x)``: half to even, as a Python int."""
    return ir.Cast(loc, ir.Weak("i"), ir.Cast(loc, int64, _rint(loc, x)))
