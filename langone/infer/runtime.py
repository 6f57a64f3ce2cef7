"""OpenVINO's Core, devices, precisions and compile options, resolved once.

Everything here imports ``openvino`` lazily: ``import langone`` never pays for it.
One :class:`openvino.Core` serves the whole process (OpenVINO recommends a
single Core: each one loads its own device plugins).

Example:
    >>> from langone.infer.runtime import ov_devices, resolve_device
    >>> "CPU" in ov_devices()
    True
    >>> resolve_device("cpu")
    'CPU'
"""

from __future__ import annotations

import difflib
import os
import threading
from typing import Any

from ..errors import DeviceNotFound, InvalidOperation, UnsupportedPrecision
from .errors import OpenVINOUnavailable

_CORE: Any = None
_CORE_LOCK = threading.Lock()

#: LangOne precision name -> OpenVINO ``INFERENCE_PRECISION_HINT`` value.
PRECISION_HINTS = {"fp32": "f32", "fp16": "f16", "bf16": "bf16"}
#: Every precision ``load_model`` accepts ("int8" compresses weights with NNCF).
PRECISIONS = ("fp32", "fp16", "bf16", "int8")
_PRECISION_ALIASES = {"f32": "fp32", "float32": "fp32", "float": "fp32", "f16": "fp16",
                      "float16": "fp16", "half": "fp16", "bfloat16": "bf16", "i8": "int8"}
# Device selectors that are not hardware: they take a device list after ':'.
_VIRTUAL = ("AUTO", "MULTI", "HETERO", "BATCH")
# Properties of the Core itself, valid with every device's compile_model.
_CORE_PROPERTIES = frozenset({"CACHE_DIR", "CACHE_MODE", "ENABLE_MMAP", "ALLOW_AUTO_BATCHING",
                              "AUTO_BATCH_TIMEOUT", "WEIGHTS_PATH", "MODEL_PRIORITY"})


def openvino():
    """The ``openvino`` module, imported on first use."""
    try:
        import openvino as ov
    except ImportError as exc:
        raise OpenVINOUnavailable(
            f"LangOne's inference needs OpenVINO, which is not installed ({exc}); "
            "install it with: pip install 'langone[openvino]' (or pip install openvino)"
        ) from None
    return ov


def core():
    """The process-wide :class:`openvino.Core` (created on first use)."""
    global _CORE
    if _CORE is None:
        with _CORE_LOCK:
            if _CORE is None:
                _CORE = openvino().Core()
    return _CORE


def ov_devices() -> list[str]:
    """The OpenVINO devices of this machine, e.g. ``['CPU']`` or ``['CPU', 'GPU.0', 'NPU']``.

    Only hardware is listed; the selectors ``AUTO``, ``MULTI``, ``HETERO`` and
    ``BATCH`` are accepted by :func:`langone.infer.load_model` besides these.
    Without OpenVINO installed the list is empty (so ``lo.devices()`` can show it
    unconditionally); loading a model then says how to install it.

    Example:
        >>> from langone.infer import ov_devices
        >>> ov_devices()[0]
        'CPU'
    """
    try:
        return list(core().available_devices)
    except OpenVINOUnavailable:
        return []


def ov_device_info() -> dict[str, str]:
    """``{device: full name}`` for every OpenVINO device, e.g. ``{'CPU': 'AMD EPYC ...'}``."""
    info = {}
    for name in ov_devices():
        try:
            info[name] = str(core().get_property(name, "FULL_DEVICE_NAME"))
        except RuntimeError:          # a plugin that cannot describe itself still counts
            info[name] = name
    return info


def resolve_device(device: str | None) -> str:
    """Canonical OpenVINO device name for ``device``; ``None`` means ``"AUTO"``.

    ``"AUTO"`` on a machine with a single device becomes that device: AUTO's
    dispatch adds about 20 us to every call and has nothing to choose from.

    Raises:
        DeviceNotFound: the device is not on this machine; the message lists those that are.
    """
    name = "AUTO" if device is None else str(device).strip()
    upper = name.upper()
    available = list(core().available_devices)
    if upper == "AUTO":
        return available[0] if len(available) == 1 else "AUTO"
    base, sep, rest = upper.partition(":")
    if base in _VIRTUAL:
        for part in filter(None, rest.split(",")):
            _check_physical(part, available, name)
        return base + sep + rest
    _check_physical(upper, available, name)
    return upper


def _check_physical(name: str, available: list[str], asked: str) -> None:
    kinds = {d.split(".")[0] for d in available}
    if name in available or name in kinds:
        return
    raise DeviceNotFound(
        f"OpenVINO device {asked!r} is not available on this machine; it has "
        f"{', '.join(available) or 'no devices'} (plus the selectors AUTO, MULTI:..., "
        f"HETERO:...). Use one of those, or device='AUTO' to let OpenVINO choose")


def normalize_precision(precision: Any) -> str:
    """``None`` -> ``"fp32"``; ``"f16"``, ``lo.fp16``, ``np.float16`` -> ``"fp16"``; ...

    Raises:
        UnsupportedPrecision: a precision inference does not offer; the message lists them.
    """
    if precision is None:
        return "fp32"
    name = getattr(precision, "name", None) if not isinstance(precision, str) else precision
    if name is None:
        try:
            import numpy as np
            name = np.dtype(precision).name
        except TypeError:
            name = str(precision)
    name = str(name).strip().lower()
    name = _PRECISION_ALIASES.get(name, name)
    if name not in PRECISIONS:
        raise UnsupportedPrecision(
            f"inference precision {precision!r} is not supported; use one of "
            f"{', '.join(PRECISIONS)} ('int8' compresses the weights with NNCF)")
    return name


def compile_config(device: str, precision: str, cache_dir: str | os.PathLike | None,
                   options: dict[str, Any]) -> dict[str, Any]:
    """The ``config`` dict for ``Core.compile_model``: the precision hint, the disk
    cache and every OpenVINO property given as a keyword (``performance_hint=...``).

    The precision hint is always set, fp32 included: on CPUs with AMX or
    AVX512-BF16 OpenVINO's default is bf16, and LangOne gives exact results
    unless the user asks for a faster precision.

    Raises:
        InvalidOperation: an option the device does not know; the message suggests names.
    """
    config: dict[str, Any] = {}
    for key, value in options.items():
        config[_property_name(key, device)] = value
    # int8 compresses weights; the activations stay fp32 (exact where possible).
    config.setdefault("INFERENCE_PRECISION_HINT", PRECISION_HINTS.get(precision, "f32"))
    if cache_dir is not None:
        config["CACHE_DIR"] = os.fspath(cache_dir)
    return config


def _property_name(key: str, device: str) -> str:
    name = key.upper()
    supported = _supported_properties(device)
    if supported is None or name in supported or name in _CORE_PROPERTIES:
        return name
    close = difflib.get_close_matches(name, sorted(supported), n=3)
    hint = f"; did you mean {', '.join(p.lower() for p in close)}?" if close else ""
    raise InvalidOperation(
        f"unknown option {key!r} for OpenVINO device {device}{hint} LangOne passes keyword "
        f"options to OpenVINO as properties (performance_hint='THROUGHPUT' -> "
        f"PERFORMANCE_HINT); {device} accepts: "
        f"{', '.join(sorted(p.lower() for p in supported))}")


_SUPPORTED: dict[str, frozenset | None] = {}


def _supported_properties(device: str) -> frozenset | None:
    """Writable properties of a hardware device; ``None`` (no check) for selectors."""
    if device not in _SUPPORTED:
        try:
            props = core().get_property(device, "SUPPORTED_PROPERTIES")
            found = frozenset(k for k, mode in props.items() if "W" in str(mode))
        except Exception:  # virtual devices (AUTO, MULTI:...) answer differently
            found = None
        _SUPPORTED[device] = found
    return _SUPPORTED[device]
