"""Device names: :class:`Device`, :func:`device` and the ``cpu`` constant.

Constructing a Device never touches a driver. What a device *is* comes from
:mod:`.discovery` (which GPUs exist) and :mod:`.gpu_info` / :mod:`.host`;
Device's methods import those when called, because they import this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import DeviceNotFound

if TYPE_CHECKING:
    from .host import CPUDeviceInfo
    from .gpu_info import GPUDeviceInfo

_ACCEPTED = ("'cpu', 'cuda' (the same as 'cuda:0'), 'cuda:N' with N = 0, 1, ..., "
             "a Device, or an object with a .device attribute (a Tensor, a numpy, "
             "CuPy or torch array)")


# --- names -------------------------------------------------------------------

def _parse_name(spec: str) -> tuple[str, int]:
    """``"cuda:1"`` -> ``("cuda", 1)``; whitespace and case are ignored."""
    kind, sep, idx = spec.strip().lower().partition(":")
    if kind == "cpu" and (not sep or idx == "0"):
        return "cpu", 0
    if kind == "cuda" and not sep:
        return "cuda", 0
    if kind == "cuda" and idx.isascii() and idx.isdigit():
        return "cuda", int(idx)
    if kind == "cpu":
        raise DeviceNotFound(f"unknown device {spec!r}: LangOne has a single CPU device, "
                             f"'cpu' (its threads are not separate devices)")
    raise DeviceNotFound(f"unknown device {spec!r}: use {_ACCEPTED}")


class Device:
    """A place where tensors live: ``cpu`` or ``cuda:N``.

    Devices are immutable and hashable, compare equal to their names
    (``Device("cuda") == "cuda:0"``) and hash like their canonical name, so
    ``{Device("cpu"): 1}["cpu"]`` works.

    Args:
        spec: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, another Device, or anything
            :func:`device` accepts.

    Raises:
        DeviceNotFound: the name does not parse. Naming a GPU this machine lacks
            is allowed; :meth:`info` and :meth:`require_available` then raise.

    Example:
        >>> d = Device("CUDA:1")
        >>> d.type, d.index, str(d)
        ('cuda', 1, 'cuda:1')
    """

    __slots__ = ("type", "index", "_name")

    def __init__(self, spec: "str | Device" = "cpu"):
        if isinstance(spec, str):
            kind, index = _parse_name(spec)
        else:
            other = spec if isinstance(spec, Device) else device(spec)
            kind, index = other.type, other.index
        setattr_ = object.__setattr__          # instances are immutable: see __setattr__
        setattr_(self, "type", kind)
        setattr_(self, "index", index)
        setattr_(self, "_name", "cpu" if kind == "cpu" else f"cuda:{index}")

    def __setattr__(self, name, value):
        # Devices are dict keys (pools per device, caches per device): mutating one
        # would silently corrupt those tables.
        raise AttributeError(f"Device is immutable: cannot set {name!r}; make another "
                             f"one instead, e.g. Device('cuda:1')")

    def __reduce__(self):
        return (Device, (self._name,))

    def __str__(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"Device('{self._name}')"

    def __eq__(self, other) -> bool:
        if isinstance(other, Device):
            return self._name == other._name
        if isinstance(other, str):
            try:
                return self._name == device(other)._name
            except DeviceNotFound:
                return False
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._name)

    def is_available(self, refresh: bool = False) -> bool:
        """Whether this machine has this device (the CPU always; GPUs if found)."""
        from .discovery import _discover
        return self.type == "cpu" or self.index < len(_discover(refresh).gpus)

    def require_available(self, refresh: bool = False) -> "Device":
        """Return ``self`` if this machine has the device, else raise.

        Raises:
            DeviceNotFound: with the list of devices that do exist and why no
                GPU was found (e.g. "no CUDA device found (checked NVML, CuPy, torch)").
        """
        if not self.is_available(refresh):
            from .discovery import _discover, _missing_device_message
            raise DeviceNotFound(_missing_device_message(self, _discover()))
        return self

    def info(self, refresh: bool = False) -> "CPUDeviceInfo | GPUDeviceInfo":
        """What the hardware behind this device is and can do.

        Static facts are cached; available memory is read live on every call.
        ``refresh=True`` re-runs discovery (after a driver install, say).

        Example:
            >>> print(Device("cpu").info())          # doctest: +SKIP
            cpu  AMD EPYC (x86_64, AuthenticAMD, under a hypervisor)
              cores       2 physical, 2 logical at 2.60 GHz
              ...
        """
        from .host import cpu_info
        from .discovery import _discover, _missing_device_message
        from .gpu_info import _build_gpu_info
        if self.type == "cpu":
            return cpu_info(refresh)
        found = _discover(refresh)
        if self.index >= len(found.gpus):
            raise DeviceNotFound(_missing_device_message(self, found))
        return _build_gpu_info(self, found.gpus[self.index])


cpu = Device("cpu")

# Parsed names, so that device("cuda:0") on the hot path is one dict lookup.
# Only valid names get in, and at most _MAX_NAMES of them.
_BY_NAME: dict[str, Device] = {"cpu": cpu, "cuda": Device("cuda:0")}
_BY_NAME["cuda:0"] = _BY_NAME["cuda"]
_MAX_NAMES = 256


def device(obj=None) -> Device:
    """Interpret ``obj`` as a :class:`Device`.

    Args:
        obj: ``None`` (the CPU), a name (``"cpu"``, ``"cuda:1"``), a Device, a
            ``torch.device`` or ``cupy.cuda.Device``, or any object with a
            ``.device`` attribute (a Tensor, a numpy 2 / CuPy / torch array).

    Raises:
        DeviceNotFound: ``obj`` names no device; the message lists the accepted forms.

    Example:
        >>> device(), device("cuda"), device(Device("cpu"))
        (Device('cpu'), Device('cuda:0'), Device('cpu'))
    """
    if obj is None:
        return cpu
    cls = type(obj)
    if cls is str:                                   # the hot path: device="cpu"
        found = _BY_NAME.get(obj)
        return found if found is not None else _remember(obj)
    if cls is Device:
        return obj
    return _from_object(obj)


def _remember(name: str) -> Device:
    dev = Device(name)
    if len(_BY_NAME) < _MAX_NAMES:
        _BY_NAME[name] = dev
    return dev


def _from_object(obj, depth: int = 0) -> Device:
    """Devices of other libraries and of objects that carry one."""
    if isinstance(obj, Device):
        return obj
    if isinstance(obj, str):
        return device(str(obj))
    kind = getattr(obj, "type", None)
    if isinstance(kind, str) and hasattr(obj, "index"):            # torch.device
        if kind in ("cpu", "cuda"):
            return device(kind if obj.index is None else f"{kind}:{obj.index}")
        raise DeviceNotFound(f"device type {kind!r} ({obj!r}) is not supported: "
                             f"LangOne places tensors on {_ACCEPTED}")
    ident = getattr(obj, "id", None)
    if isinstance(ident, int) and type(obj).__module__.startswith("cupy"):   # cupy.cuda.Device
        return device(f"cuda:{ident}")
    inner = getattr(obj, "device", None)
    if inner is not None and inner is not obj and depth < 2:
        return _from_object(inner, depth + 1)
    text = repr(obj)
    text = text if len(text) <= 60 else text[:57] + "..."
    raise DeviceNotFound(f"cannot use {type(obj).__name__} {text} as a device: use {_ACCEPTED}")
