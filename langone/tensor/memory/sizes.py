"""Byte sizes written by humans: ``parse_size("64MB") == 64_000_000``.

Decimal units (KB, MB, GB, TB) are powers of 1000 and binary units (KiB, MiB,
GiB, TiB) powers of 1024, as in the SI / IEC standards; units are
case-insensitive and may be separated from the number by spaces.

Example:
    >>> parse_size("64MB"), parse_size("64MiB"), parse_size("4 KiB"), parse_size(4096)
    (64000000, 67108864, 4096, 4096)
"""

from __future__ import annotations

import operator
import re

from ...errors import InvalidOperation

_UNITS = {
    "": 1, "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)
_ACCEPTED = ("a non-negative int, or a number with an optional unit: '4096', '512KB', "
             "'64MB', '1.5GB' (powers of 1000) or '4 KiB', '64MiB', '2GiB' (powers of 1024)")


class InvalidSize(InvalidOperation):
    """A byte size that :func:`parse_size` cannot read (a ``ValueError`` too)."""


def parse_size(size: int | str) -> int:
    """Convert ``size`` (an int or a string such as ``"64MB"``) to a number of bytes.

    Fractional sizes (``"1.5GB"``) are rounded to the nearest byte.

    Args:
        size: a non-negative int (returned as is) or a string: a number,
            optionally followed by B, KB, MB, GB, TB (x1000) or KiB, MiB, GiB,
            TiB (x1024), in any case, with or without a space.

    Raises:
        InvalidSize: ``size`` is negative, not a number of bytes, or has an
            unknown unit; the message lists the accepted forms.

    Example:
        >>> parse_size("1.5GB"), parse_size("512kb"), parse_size("2GiB")
        (1500000000, 512000, 2147483648)
    """
    if not isinstance(size, str):
        try:
            value = operator.index(size)          # int, numpy integers; not floats
        except TypeError:
            value = None
        if value is None or isinstance(size, bool) or value < 0:
            raise InvalidSize(f"cannot read {type(size).__name__} {size!r} as a byte "
                              f"size; use {_ACCEPTED}")
        return value
    match = _PATTERN.match(size)
    factor = _UNITS.get(match.group(2).lower()) if match else None
    if factor is None:
        raise InvalidSize(f"cannot read {size!r} as a byte size; use {_ACCEPTED}")
    number = match.group(1)
    if "." not in number:               # exact integer arithmetic for big sizes
        return int(number) * factor
    return round(float(number) * factor)
