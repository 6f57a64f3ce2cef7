"""Number formatting shared by the device-info reports."""

from __future__ import annotations

from ...errors import format_bytes


def rate(value: float | None, unit: str) -> str:
    if value is None:
        return "unknown"
    for prefix in ("", "K", "M", "G", "T", "P"):
        if value < 1000 or prefix == "P":
            return f"{value:.3g} {prefix}{unit}"
        value /= 1000
    raise AssertionError("unreachable")


def memory_line(total: int, available: int | None) -> str:
    avail = "unknown" if available is None else format_bytes(available)
    return f"{format_bytes(total)} total, {avail} available"
