"""Backend registry. Backends see only IR; they load their heavy library lazily.

A backend object has ``name``, ``devices`` (device types it runs on),
``available() -> None | str`` (None when usable, else why not),
``render(kernel_ir, options) -> str`` and
``compile(kernel_ir, options) -> callable(args) -> result``.
"""

from __future__ import annotations

import importlib

from ...errors import BackendUnavailable

#: name -> "module:attribute" of the backend object (imported on first use).
_REGISTRY: dict[str, str] = {
    "python": "langone.kernels.backends.python_ref:BACKEND",
    "numpy": "langone.kernels.backends.numpy_ref:BACKEND",
    "numba": "langone.kernels.backends.numba_cpu:BACKEND",
    "triton": "langone.kernels.backends.triton_gpu:BACKEND",
    "lua": "langone.lua_bridge.backend:BACKEND",
}
_ALIASES = {"ref": "numpy", "numpy_ref": "numpy", "cpu": "numba"}
_loaded: dict[str, object] = {}


def register(name: str, target: str) -> None:
    """Register a backend by ``"module:attribute"`` (later backends join here)."""
    _REGISTRY[name] = target
    _loaded.pop(name, None)


def names() -> list[str]:
    return list(_REGISTRY)


def get(name: str):
    """The backend object for ``name``; BackendUnavailable names the usable ones."""
    key = _ALIASES.get(name, name)
    if key in _loaded:
        return _loaded[key]
    target = _REGISTRY.get(key)
    if target is None:
        raise BackendUnavailable(f"unknown backend {name!r}; usable here: "
                                 f"{', '.join(usable())} (known: {', '.join(names())})")
    mod, _, attr = target.partition(":")
    try:
        backend = getattr(importlib.import_module(mod), attr)
    except ImportError as exc:
        raise BackendUnavailable(f"backend {name!r} cannot load: {exc}; usable here: "
                                 f"{', '.join(usable())}") from None
    why = backend.available()
    if why:
        raise BackendUnavailable(f"backend {name!r} is not usable on this machine: {why}; "
                                 f"usable here: {', '.join(usable())}")
    _loaded[key] = backend
    return backend


def usable() -> list[str]:
    """Backends that can run on this machine."""
    out = []
    for name, target in _REGISTRY.items():
        if name in _loaded:
            out.append(name)
            continue
        mod, _, attr = target.partition(":")
        try:
            backend = getattr(importlib.import_module(mod), attr)
        except ImportError:
            continue
        if not backend.available():
            out.append(name)
    return out
