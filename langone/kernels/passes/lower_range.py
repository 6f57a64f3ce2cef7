"""Range steps: a step that may be zero is checked at run time.

Python raises ``ValueError: range() arg 3 must not be zero`` when it reaches a
loop whose step is zero, so the kernel's own function (the python backend)
raises :class:`~langone.errors.KernelRuntimeError` there. A literal zero step
is a compile error (the frontend). This pass marks every other ``range`` loop
whose step it cannot prove non-zero as :attr:`~langone.kernels.ir.For.checked_step`;
backends check exactly those loops, raising with :func:`message` (or, in
parallel code, skipping the loop and raising after the launch), and render the
others with no check. Proven non-zero: constants, and steps whose integer range
(:mod:`.index_ranges`: shapes, grid variables, sums of them) excludes zero.

Example:
    >>> import numpy as np, langone as lo
    >>> @lo.kernel
    ... def every(x, s, out):
    ...     for i in lo.grid(x.shape[0]):
    ...         acc = 0.0
    ...         for j in range(0, x.shape[1], s):
    ...             acc += x[i, j]
    ...         out[i] = acc
    >>> x = np.ones((2, 4))
    >>> every.on("numpy")(x, 2, np.zeros(2))
    >>> print(every.ir.splitlines()[4].strip())     # the checked step is marked !
    for j in range(0, x.shape[1], s!):
"""

from __future__ import annotations

from .. import ir
from .guards import _Walker          # the bounds analysis's walk: variable ranges in scope
from .index_ranges import Affine, interval

#: What Python says; every backend's message contains it.
STEP_ZERO = "range() arg 3 must not be zero"


def message(filename: str, line: int, kernel: str) -> str:
    """The error of a zero step reached at ``filename:line`` of ``kernel``."""
    return f"{filename}:{line}: {STEP_ZERO} (in kernel {kernel!r})"


def lower_range(k: ir.Kernel) -> ir.Kernel:
    """``k`` with every loop whose step is not proven non-zero marked ``checked_step``."""
    w = _Steps(k)
    w.stmts(k.body, w.base_env(), (), (), False)
    return ir.mark(k, w.checked, checked_step=True)


class _Steps(_Walker):
    """The bounds analysis's walk, recording the loops to check (their ids)."""

    def __init__(self, k: ir.Kernel):
        super().__init__(k, boundscheck=True, debug=False)
        self.checked: set = set()

    def access(self, node, env, when, ctx, cond) -> None:
        pass

    def loop(self, s: ir.For, env, when, ctx, cond) -> None:
        if not nonzero(s.step, env):
            self.checked.add(id(s))
        super().loop(s, env, when, ctx, cond)


def nonzero(e: ir.Expr, env: dict) -> bool:
    """Whether integer ``e`` is non-zero for every launch."""
    if isinstance(e, ir.Const):
        return e.value != 0
    iv = interval(e, env)
    return iv is not None and ((iv.lo - Affine(1)).nonneg() or (iv.hi + Affine(1)).nonpos())
