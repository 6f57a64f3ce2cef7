"""Devices: ``lo.Device("cpu")``, ``lo.Device("cuda:0")`` and discovery.

(Minimal version: the devices helper replaces this with full discovery and info.)
"""

from __future__ import annotations

from ..errors import DeviceNotFound


class Device:
    """A place where tensors live: ``cpu`` or ``cuda:N``."""

    __slots__ = ("type", "index")

    def __init__(self, spec: "str | Device" = "cpu"):
        if isinstance(spec, Device):
            self.type, self.index = spec.type, spec.index
            return
        s = str(spec).strip().lower()
        kind, _, idx = s.partition(":")
        if kind not in ("cpu", "cuda") or (idx and not idx.isdigit()):
            raise DeviceNotFound(f"cannot parse device {spec!r}; use 'cpu', 'cuda' or 'cuda:N'")
        self.type = kind
        self.index = int(idx) if idx else 0

    def __str__(self) -> str:
        return "cpu" if self.type == "cpu" else f"cuda:{self.index}"

    def __repr__(self) -> str:
        return f"Device('{self}')"

    def __eq__(self, other) -> bool:
        try:
            other = device(other)
        except DeviceNotFound:
            return False
        return self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))


cpu = Device("cpu")


def device(obj=None) -> Device:
    """Parse a device: ``None`` means the CPU."""
    if obj is None:
        return cpu
    if isinstance(obj, Device):
        return obj
    if isinstance(obj, str):
        return cpu if obj == "cpu" else Device(obj)
    raise DeviceNotFound(f"cannot interpret {obj!r} as a device; use 'cpu' or 'cuda:N'")


def devices() -> list[Device]:
    return [cpu]
