"""The kernel language's own names: ``lo.grid``, the atomics, math, constants.

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


def atomic_update(op: str, old, value):
    """The new element of ``lo.atomic_<op>`` from the ``old`` one (``cas``: its
    ``value``, stored only where ``old == compare``). ``max``/``min`` are numpy's
    NaN-propagating ``maximum``/``minimum``: the final element is then the same
    whatever order the updates come in.

    Example:
        >>> import numpy as np
        >>> from langone.kernels.language import atomic_update
        >>> atomic_update("max", np.float32(1.0), np.float32(np.nan))
        np.float32(nan)
    """
    if op == "add":
        return old + value
    if op == "sub":
        return old - value
    if op == "max":
        return np.maximum(old, value)
    if op == "min":
        return np.minimum(old, value)
    if op in ("exchange", "cas"):
        return value
    raise ValueError(f"unknown atomic operation {op!r}")


def _atomic(op: str, tensor, index, value, compare=None):
    old = tensor[index]
    if op != "cas" or old == compare:
        tensor[index] = atomic_update(op, old, value)
    return old


def atomic_add(tensor, index, value):
    """``tensor[index] += value`` as one indivisible update (scatter-add).

    Returns the element's old value (``old = t[index]`` as a numpy scalar of the
    tensor's dtype; a bare ``lo.atomic_add(...)`` statement drops it).

    Example:
        >>> import numpy as np
        >>> import langone as lo
        >>> @lo.kernel
        ... def histogram(v, bins):
        ...     for i in lo.grid(v.shape[0]):
        ...         lo.atomic_add(bins, v[i] % 3, 1)
        >>> bins = np.zeros(3, np.int32)
        >>> histogram(np.arange(7, dtype=np.int32), bins); bins
        array([3, 2, 2], dtype=int32)
    """
    return _atomic("add", tensor, index, value)


def atomic_sub(tensor, index, value):
    """``tensor[index] -= value`` as one indivisible update; returns the old value.

    Example:
        >>> import numpy as np
        >>> import langone as lo
        >>> @lo.kernel
        ... def take(stock, orders, before):
        ...     for i in lo.grid(orders.shape[0]):
        ...         before[i] = lo.atomic_sub(stock, i, orders[i])
        >>> stock, before = np.array([5, 9], np.int64), np.zeros(2, np.int64)
        >>> take(stock, np.array([2, 4], np.int64), before); stock, before
        (array([3, 5]), array([5, 9]))
    """
    return _atomic("sub", tensor, index, value)


def atomic_max(tensor, index, value):
    """``tensor[index] = maximum(tensor[index], value)`` as one indivisible update;
    returns the old value. NaN propagates, as with numpy's ``maximum``.

    Example:
        >>> import numpy as np
        >>> import langone as lo
        >>> @lo.kernel
        ... def peak(v, top):
        ...     for i in lo.grid(v.shape[0]):
        ...         lo.atomic_max(top, 0, v[i])
        >>> top = np.full(1, -np.inf, np.float32)
        >>> peak(np.array([2, 7, 3], np.float32), top); top
        array([7.], dtype=float32)
    """
    return _atomic("max", tensor, index, value)


def atomic_min(tensor, index, value):
    """``tensor[index] = minimum(tensor[index], value)`` as one indivisible update;
    returns the old value. NaN propagates, as with numpy's ``minimum``.

    Example:
        >>> import numpy as np
        >>> import langone as lo
        >>> @lo.kernel
        ... def low(v, bottom):
        ...     for i in lo.grid(v.shape[0]):
        ...         lo.atomic_min(bottom, v[i] % 2, v[i])
        >>> bottom = np.full(2, 99, np.int32)
        >>> low(np.array([4, 7, 2, 9], np.int32), bottom); bottom
        array([2, 7], dtype=int32)
    """
    return _atomic("min", tensor, index, value)


def atomic_exchange(tensor, index, value):
    """``old = tensor[index]; tensor[index] = value`` as one indivisible update;
    returns the old value. The value converts as a store does (``astype``).

    Example:
        >>> import numpy as np
        >>> import langone as lo
        >>> @lo.kernel
        ... def swap_in(new, slots, old):
        ...     for i in lo.grid(new.shape[0]):
        ...         old[i] = lo.atomic_exchange(slots, i, new[i])
        >>> slots, old = np.array([1.5, 2.5]), np.zeros(2)
        >>> swap_in(np.array([7.0, 8.0]), slots, old); slots, old
        (array([7., 8.]), array([1.5, 2.5]))
    """
    return _atomic("exchange", tensor, index, value)


def atomic_cas(tensor, index, compare, value):
    """Compare and swap: ``old = tensor[index]; if old == compare: tensor[index] =
    value``, as one indivisible update; returns ``old`` (so the swap happened
    exactly where ``old == compare``).

    Example:
        >>> import numpy as np
        >>> import langone as lo
        >>> @lo.kernel
        ... def claim(want, owner, won):
        ...     for i in lo.grid(want.shape[0]):
        ...         won[i] = lo.atomic_cas(owner, want[i], -1, i) == -1
        >>> owner, won = np.full(3, -1, np.int32), np.zeros(3, bool)
        >>> claim(np.array([2, 0, 2], np.int32), owner, won)
        >>> owner[:2], int(won.sum())          # slot 2: one of its claims won
        (array([ 1, -1], dtype=int32), 2)
    """
    return _atomic("cas", tensor, index, value, compare)


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


def conj(z):
    """The complex conjugate (a real value's is itself), numpy's ``conj``.

    Example:
        >>> import langone as lo
        >>> complex(lo.conj(1 + 2j))
        (1-2j)
    """
    return np.conj(z)


def real(z):
    """A complex value's real part (a real value itself), numpy's ``real``."""
    return np.real(z)


def imag(z):
    """A complex value's imaginary part (0 for a real value), numpy's ``imag``."""
    return np.imag(z)


# Elementwise math for use outside kernels when the Tensor namespace lacks them.
exp, log, sqrt, sin, cos, tanh = np.exp, np.log, np.sqrt, np.sin, np.cos, np.tanh
floor, ceil, minimum, maximum, where = np.floor, np.ceil, np.minimum, np.maximum, np.where
isnan, isinf = np.isnan, np.isinf

__all__ = ["grid", "range", "atomic_add", "atomic_sub", "atomic_max", "atomic_min",
           "atomic_exchange", "atomic_cas", "sigmoid", "erf", "fmod", "conj", "real", "imag", "inf", "nan", "pi"]
