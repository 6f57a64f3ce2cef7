"""In-process caches: models read from their sources, and compiled models.

A compiled model is keyed by the model's content identity, the device, the
precision, the compile options and the *shape bucket* (``"model"`` for the
model's own shapes, or the static input shapes it was reshaped to). Two
``load_model`` calls on the same file share compiled models. Both caches are
LRUs; a :class:`~langone.infer.model.LoadedModel` also holds its own entries,
so eviction never slows a model someone holds. OpenVINO's on-disk cache
(``cache_dir=``) is separate: it spares the compile in a new process.

Example:
    >>> from langone.infer.cache import cache_info
    >>> sorted(cache_info())
    ['compiled', 'hits', 'max_compiled', 'max_models', 'misses', 'models']
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable

from ..tensor.tensor import dtype_of
from .inputs import PortSpec

MAX_COMPILED = 32
MAX_MODELS = 16

_LOCK = threading.RLock()
_COMPILED: "OrderedDict[tuple, CompiledEntry]" = OrderedDict()
_MODELS: "OrderedDict[tuple, Any]" = OrderedDict()
_STATS = {"hits": 0, "misses": 0}


class CompiledEntry:
    """A compiled model with its ready infer request and resolved ports.

    ``request`` serves synchronous calls under ``lock``; a caller that finds it
    busy (another thread is inferring) takes a spare request instead of waiting.

    ``last`` is ``(array, openvino.Tensor)`` of the request's latest input. It
    keeps the input alive: a Tensor made with ``shared_memory=True`` points at
    the array's memory, only its Python object keeps the array alive, and the
    request goes on pointing at that memory (OpenVINO's own wrapper keeps
    ``request._inputs_data`` for this). The hot path also reuses the Tensor when
    the same array comes again (a refilled input buffer), saving ~1.3 us.
    One tuple, so that a reader on another thread never pairs an array with
    another array's Tensor.
    """

    __slots__ = ("compiled", "request", "lock", "inputs", "outputs", "out_ports",
                 "out0", "last", "_spares", "queues", "queue_lock", "_binfer")

    def __init__(self, compiled: Any):
        from openvino._pyopenvino import InferRequest
        self._binfer = InferRequest.infer      # the C++ call, without Python dispatch
        self.compiled = compiled
        self.request = compiled.create_infer_request()
        self.lock = threading.Lock()
        self.inputs = [PortSpec(i, p) for i, p in enumerate(compiled.inputs)]
        self.outputs = [PortSpec(i, p) for i, p in enumerate(compiled.outputs)]
        self.out_ports = list(compiled.outputs)
        self.out0 = self.out_ports[0] if self.out_ports else None   # the hot path's port
        self.last: tuple = (None, None)
        self._spares: list = []            # [request, its last inputs]
        self.queues: dict[int, Any] = {}
        self.queue_lock = threading.Lock()

    def run(self, inputs: Any) -> dict:
        """Infer synchronously; ``inputs`` is an ``openvino.Tensor`` or ``{index: Tensor}``.

        Returns OpenVINO's ``{port: numpy array}``; the arrays are copies the
        caller owns (the request's buffers are reused by the next call).
        """
        if self.lock.acquire(False):
            try:
                self.last = (None, inputs)
                return self._binfer(self.request, inputs, False, True)
            finally:
                self.lock.release()
        spare = self._spares.pop() if self._spares else [self.compiled.create_infer_request(),
                                                          None]
        try:
            spare[1] = inputs
            return self._binfer(spare[0], inputs, False, True)
        finally:
            self._spares.append(spare)

    def queue(self, jobs: int) -> Any:
        """An ``AsyncInferQueue`` of ``jobs`` requests (0: OpenVINO's optimal number)."""
        q = self.queues.get(jobs)
        if q is None:
            from openvino._pyopenvino import AsyncInferQueue
            q = self.queues[jobs] = AsyncInferQueue(self.compiled, jobs)
        return q


def langone_dtype(spec: PortSpec) -> Any:
    """The LangOne DType of an output, or ``None`` when LangOne has no such dtype."""
    try:
        return dtype_of(spec.dtype)
    except Exception:      # e.g. uint32 or strings: such outputs stay numpy arrays
        return None


def compiled_entry(key: tuple, build: Callable[[], Any]) -> CompiledEntry:
    """The cached entry for ``key``, compiling with ``build()`` on a miss."""
    with _LOCK:
        entry = _COMPILED.get(key)
        if entry is not None:
            _COMPILED.move_to_end(key)
            _STATS["hits"] += 1
            return entry
        _STATS["misses"] += 1
        entry = CompiledEntry(build())
        _COMPILED[key] = entry
        while len(_COMPILED) > MAX_COMPILED:
            _COMPILED.popitem(last=False)
        return entry


def cached_model(key: tuple, read: Callable[[], Any]) -> Any:
    """A model read from a source (or derived from one), cached by content key."""
    with _LOCK:
        found = _MODELS.get(key)
        if found is not None:
            _MODELS.move_to_end(key)
            return found
    found = read()
    with _LOCK:
        _MODELS[key] = found
        while len(_MODELS) > MAX_MODELS:
            _MODELS.popitem(last=False)
    return found


def cache_info() -> dict[str, int]:
    """Sizes and hit counts of the in-process caches.

    Example:
        >>> from langone.infer import cache_info
        >>> cache_info()["max_compiled"]
        32
    """
    with _LOCK:
        return {"compiled": len(_COMPILED), "models": len(_MODELS), **_STATS,
                "max_compiled": MAX_COMPILED, "max_models": MAX_MODELS}


def clear_cache() -> None:
    """Forget every cached model and compiled model (models held elsewhere stay usable)."""
    with _LOCK:
        _COMPILED.clear()
        _MODELS.clear()
        _STATS.update(hits=0, misses=0)
