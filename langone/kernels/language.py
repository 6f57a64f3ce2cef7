"""The kernel language's own names: ``lo.grid``, ``lo.atomic_add``, math, constants.

Inside a ``@lo.kernel`` these are compiled; outside one they run as plain
Python/numpy, so ``kernel.py_func(...)`` executes the kernel as ordinary
(slow) Python — handy for debugging.

Example:
    >>> import langone as lo
    >>> [i for i in lo.grid(3)]
    [0, 1, 2]
    >>> list(lo.grid(2, 2))
    [(0, 0), (0, 1), (1, 0), (1, 1)]
"""

from __future__ import annotations

import builtins
import itertools
import math

import numpy as np

inf = math.inf
nan = math.nan
pi = math.pi


def grid(*extents: int):
    """Parallel loop over one or more dimensions: ``for i, j in lo.grid(n, m)``.

    Iterations are independent: a kernel must not depend on their order.
    """
    if not extents:
        raise ValueError("lo.grid takes at least one extent")
    if len(extents) == 1:
        return iter(builtins.range(int(extents[0])))
    return itertools.product(*(builtins.range(int(e)) for e in extents))


def range(*args: int, reassociate: bool = False):  # noqa: A001  (lo.range)
    """A sequential loop, ``range(*args)``, whose accumulations may be reassociated.

    ``for c in lo.range(n, reassociate=True): s += x[r, c]`` lets a backend sum
    in any order (vectorized, within rounding), as it may a grid reduction;
    a plain ``range`` loop keeps Python's order, bit for bit. As plain Python
    (and on the python backend) it is the builtin ``range``.

    Example:
        >>> import langone as lo
        >>> list(lo.range(2, 8, 3, reassociate=True))
        [2, 5]
    """
    return builtins.range(*args)


def atomic_add(tensor, index, value) -> None:
    """``tensor[index] += value`` as one indivisible update (scatter-add)."""
    tensor[index] += value


def sigmoid(x):
    """The logistic function ``1 / (1 + exp(-x))``."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x)))


def erf(x):
    """The error function (vectorized ``math.erf``)."""
    arr = np.asarray(x)
    out = np.vectorize(math.erf, otypes=[np.float64])(arr)
    return out.astype(arr.dtype) if arr.dtype.kind == "f" else out


def fmod(x, y):
    """C's remainder ``x - trunc(x / y) * y``, exact, with the sign of ``x``
    (numpy's ``fmod``; an integer ``fmod(x, 0)`` is 0, a float one NaN).

    Example:
        >>> import langone as lo
        >>> float(lo.fmod(-7.0, 3.0)), int(lo.fmod(-7, 3))
        (-1.0, -1)
    """
    return np.fmod(x, y)


# Elementwise math for use outside kernels when the Tensor namespace lacks them.
exp, log, sqrt, sin, cos, tanh = np.exp, np.log, np.sqrt, np.sin, np.cos, np.tanh
floor, ceil, minimum, maximum, where = np.floor, np.ceil, np.minimum, np.maximum, np.where
isnan, isinf = np.isnan, np.isinf

__all__ = ["grid", "range", "atomic_add", "sigmoid", "erf", "fmod", "inf", "nan", "pi"]
