"""A tiny synchronous event bus: the core emits, the profiler and monitor listen.

The core (compiler, launcher, memory pool) never imports its listeners; it
calls :func:`emit`, which costs one dict lookup when nobody listens.

Example:
    >>> from langone import events
    >>> seen = []
    >>> unsubscribe = events.subscribe("alloc", lambda ev: seen.append(ev.nbytes))
    >>> events.emit("alloc", nbytes=64, device="cpu")
    >>> seen
    [64]
    >>> unsubscribe()
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

#: Event kinds the core emits. Listeners may subscribe to "*" for all of them.
KINDS = ("compile", "launch", "alloc", "free", "pool_miss", "budget", "warning")

_listeners: dict[str, tuple[Callable[["Event"], None], ...]] = {}
_lock = threading.Lock()


class Event:
    """One occurrence: ``kind``, a monotonic timestamp ``t`` (ns) and payload fields."""

    __slots__ = ("kind", "t", "data")

    def __init__(self, kind: str, t: int, data: dict[str, Any]):
        self.kind = kind
        self.t = t
        self.data = data

    def __getattr__(self, name: str) -> Any:
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.data.items())
        return f"Event({self.kind!r}, {fields})"


def subscribe(kind: str, callback: Callable[[Event], None]) -> Callable[[], None]:
    """Call ``callback(event)`` for every event of ``kind`` ("*" for all).

    Returns a function that removes the subscription.
    """
    with _lock:
        _listeners[kind] = _listeners.get(kind, ()) + (callback,)

    def unsubscribe() -> None:
        with _lock:
            cbs = tuple(c for c in _listeners.get(kind, ()) if c is not callback)
            if cbs:
                _listeners[kind] = cbs
            else:
                _listeners.pop(kind, None)
    return unsubscribe


def has_listeners(kind: str) -> bool:
    """Cheap check so hot paths can skip building an event nobody reads."""
    return bool(_listeners) and (kind in _listeners or "*" in _listeners)


def emit(kind: str, **data: Any) -> None:
    """Deliver an event to the listeners of ``kind`` and of "*".

    A listener that raises is removed from nothing and breaks nothing: its
    exception is swallowed so that monitoring can never fail a computation.
    """
    if not _listeners:
        return
    cbs = _listeners.get(kind, ()) + _listeners.get("*", ())
    if not cbs:
        return
    ev = Event(kind, time.perf_counter_ns(), data)
    for cb in cbs:
        try:
            cb(ev)
        except Exception:  # noqa: BLE001 - a listener must never break the core
            pass
