"""Integer powers: an exponent that may be negative is checked at run time.

numpy raises ``ValueError: Integers to negative integer powers are not
allowed`` for ``np.int64(2) ** np.int64(-1)``, so the kernel's own function
(the python backend) raises :class:`~langone.errors.KernelRuntimeError`. A
negative literal exponent is a compile error (:mod:`.types`). This pass marks
every other integer ``**`` whose exponent it cannot prove non-negative as
:attr:`~langone.kernels.ir.BinOp.checked`; backends check exactly those
(raising with :func:`message`) and compute the others with no check.

Proven non-negative (:func:`nonneg`): the integer ranges of the bounds
analysis (:mod:`.index_ranges`: constants, shapes, grid variables, ``range``
variables with a non-negative start, and sums of them), unsigned and bool
values, values cast from those to a wider type, ``v % c`` for a constant ``c > 0``
(Python's sign: the divisor's), ``v // c`` with ``v`` proven, ``v & w`` and
``v >> w`` with ``v`` proven, ``max`` of one proven value, ``min`` and
selects of proven values, and ``abs`` of a value with a range. ``abs`` of any
other value is checked: ``abs`` of the type's minimum wraps to itself
(``np.abs(np.int64(-2**63)) < 0``).

Example:
    >>> import numpy as np, langone as lo
    >>> @lo.kernel
    ... def pw(x, e, out):
    ...     for i in lo.grid(x.shape[0]):
    ...         out[i] = x[i] ** e[i] + x[i] ** i
    >>> a = np.ones(2, np.int64)
    >>> pw.on("numpy")(a, a, a.copy())
    >>> print(pw.ir.splitlines()[-1].strip())     # the checked exponent is marked !
    out[i] = ((x[i] ** e[i]!) +% (x[i] ** i))
"""

from __future__ import annotations

from ...dtypes import DType
from .. import ir
from .guards import _Walker          # the bounds analysis's walk: variable ranges in scope
from .index_ranges import interval

#: What numpy says, lower-cased; every backend's message contains it.
NEGATIVE_POWER = "integers to negative integer powers are not allowed"


def message(filename: str, line: int, kernel: str, exponent) -> str:
    """The error of a negative exponent at ``filename:line`` of ``kernel``
    (``exponent`` may be a placeholder that a backend fills in at run time)."""
    return f"{filename}:{line}: {NEGATIVE_POWER} (exponent {exponent}) (in kernel {kernel!r})"


def lower_pow(k: ir.Kernel) -> ir.Kernel:
    """``k`` with every integer ``**`` not proven non-negative marked ``checked``."""
    w = _Exponents(k)
    w.stmts(k.body, w.base_env(), (), (), False)
    return ir.mark(k, w.checked, checked=True)


class _Exponents(_Walker):
    """The bounds analysis's walk, recording the integer powers to check
    (``checked``: their ids) instead of planning accesses."""

    def __init__(self, k: ir.Kernel):
        super().__init__(k, boundscheck=True, debug=False)
        self.checked: set = set()

    def access(self, node, env, when, ctx, cond) -> None:
        for ix in node.index:
            self.expr(ix, env, when, ctx, cond)

    def expr(self, e: ir.Expr, env, when, ctx, cond) -> None:
        if isinstance(e, ir.BinOp) and e.op == "**" and _is_int(e.type) and \
                not nonneg(e.right, env):
            self.checked.add(id(e))
        super().expr(e, env, when, ctx, cond)


def _is_int(t) -> bool:
    return isinstance(t, DType) and t.is_integer


def nonneg(e: ir.Expr, env: dict) -> bool:
    """Whether integer ``e`` is >= 0 for every launch (see the module doc);
    ``env`` maps names to their :func:`.index_ranges.interval`."""
    t = e.type
    if isinstance(t, DType) and (t.is_bool or t.kind == "u"):
        return True
    iv = interval(e, env)
    if iv is not None:
        return iv.lo.nonneg()
    if isinstance(e, ir.Cast):
        s = e.value.type
        return isinstance(s, DType) and (s.is_bool or s.is_integer and (
            s.bits < t.bits or s.bits == t.bits and s.kind == t.kind)) and nonneg(e.value, env)
    if isinstance(e, ir.BinOp):
        return _nonneg_binop(e, env)
    if isinstance(e, ir.Select):
        return nonneg(e.a, env) and nonneg(e.b, env)
    if isinstance(e, ir.Call) and e.fn == "abs":
        return interval(e.args[0], env) is not None      # a range: never the type's minimum
    if isinstance(e, ir.Call) and e.fn in ("max", "maximum"):
        return any(nonneg(a, env) for a in e.args)
    if isinstance(e, ir.Call) and e.fn in ("min", "minimum"):
        return all(nonneg(a, env) for a in e.args)
    return False


def _positive_const(e: ir.Expr) -> bool:
    return isinstance(e, ir.Const) and not isinstance(e.value, bool) and \
        isinstance(e.value, int) and e.value > 0


def _nonneg_binop(e: ir.BinOp, env: dict) -> bool:
    """``%`` takes the divisor's sign (Python); ``//`` by a positive constant
    keeps a proven dividend's; ``&`` with, and ``>>`` of, a proven value."""
    if e.op == "%":
        return _positive_const(e.right)
    if e.op == "//":
        return _positive_const(e.right) and nonneg(e.left, env)
    if e.op == "&":
        return nonneg(e.left, env) or nonneg(e.right, env)
    if e.op == ">>":
        return nonneg(e.left, env)
    return False
