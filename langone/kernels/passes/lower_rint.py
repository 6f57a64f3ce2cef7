"""``rint`` (numpy's ``round``, half to even) written with other operations.

Integers round to themselves. For floats, ``f = floor(x)`` and the exact
fraction ``x - f`` decide: above one half ``f + 1``, below it ``f``, at it the
even one of the two; a zero result takes ``x``'s sign. ``x - floor(x)`` and
``floor(x) + 1`` are exact wherever ``x`` has a fraction, so this equals
``np.rint`` bit for bit (NaN and inf pass through ``floor``). Renderers never see ``rint``.

Example:
    >>> import numpy as np, langone as lo
    >>> @lo.kernel
    ... def r(x, out):
    ...     for i in lo.grid(x.shape[0]):
    ...         out[i] = np.round(x[i])
    >>> out = np.zeros(4, np.float32)
    >>> r.on("numpy")(np.array([0.5, 1.5, -2.5, 2.6], np.float32), out)
    >>> out.tolist()
    [0.0, 2.0, -2.0, 3.0]
"""

from __future__ import annotations

from dataclasses import replace

from ...dtypes import DType, bool_
from .. import ir


def lower_rint(k: ir.Kernel) -> ir.Kernel:
    """``k`` with every ``rint`` call written out."""
    return replace(k, body=ir.map_exprs(k.body, _lower))


def _lower(e: ir.Expr) -> ir.Expr:
    if not (isinstance(e, ir.Call) and e.fn == "rint"):
        return e
    x, t, loc = e.args[0], e.type, e.loc
    if not (isinstance(t, DType) and t.is_floating):
        return x if x.type is t else ir.Cast(loc, t, x)

    def c(v: float) -> ir.Const:
        return ir.Const(loc, t, v)
    f = ir.Call(loc, t, "floor", (x,))
    frac = ir.BinOp(loc, t, "-", x, f)
    up = ir.BinOp(loc, t, "+", f, c(1.0))
    even = ir.Compare(loc, bool_, "==", ir.BinOp(loc, t, "%", f, c(2.0)), c(0.0))
    r = ir.Select(loc, t, ir.Compare(loc, bool_, ">", frac, c(0.5)), up,
                  ir.Select(loc, t, ir.Compare(loc, bool_, "<", frac, c(0.5)), f,
                            ir.Select(loc, t, even, f, up)))
    # A zero result keeps x's sign (rint(-0.4) is -0.0): x * 0.0 has it.
    return ir.Select(loc, t, ir.Compare(loc, bool_, "==", r, c(0.0)),
                     ir.BinOp(loc, t, "*", x, c(0.0)), r)
