"""Errors specific to tensors (kept here, next to the code that raises them).

Example:
    >>> import langone as lo
    >>> lo.ones((2, 3)) + lo.ones((4,))
    Traceback (most recent call last):
    ...
    langone.tensor._errors.ShapeMismatch: shapes (2, 3) and (4,) cannot be broadcast together: ...
"""

from __future__ import annotations

from ..errors import LangOneError


class ShapeMismatch(LangOneError, ValueError):
    """Operand shapes that do not broadcast, or that an operation cannot combine."""


class DeviceMismatch(LangOneError, ValueError):
    """Operands on different devices, or data asked for on the wrong device."""


def shape_mismatch(*shapes: tuple, what: str = "broadcast together") -> ShapeMismatch:
    """Build the broadcasting error that names every shape involved."""
    listed = " and ".join(str(tuple(s)) for s in shapes)
    return ShapeMismatch(
        f"shapes {listed} cannot be {what}: each dimension, aligned from the right, "
        f"must be equal or 1; reshape or expand_dims the operands to match")


def device_mismatch(a, b, what: str = "operands") -> DeviceMismatch:
    """Build the error for mixing devices; suggests the explicit transfer."""
    return DeviceMismatch(
        f"{what} are on different devices ({a} and {b}); move one explicitly, "
        f"e.g. y.to('{a}'), before combining them")
