"""Many inferences, pipelined through OpenVINO's ``AsyncInferQueue``.

While a request runs (OpenVINO releases the GIL), Python prepares the next
input; with several requests in flight a device with several streams runs them
in parallel (load the model with ``performance_hint="THROUGHPUT"`` for that).
Outputs are copied out of each request in its completion callback, before the
request is reused; results come back in the order of the items.

Pipelining is not free: each item costs a thread hand-off and the GIL for its
callback. By default the first items run synchronously and are timed; when one
inference takes less than :data:`PIPELINE_MIN_S` the rest run as a plain loop
of ``m(x)`` (measured on 2 cores: a 15 us model ran at 20 us per item in a loop
and 65 us pipelined; models of 0.7-1.2 ms compiled with two streams,
``performance_hint="THROUGHPUT"``, ran 1.4-1.7x faster pipelined than in a loop).

Items of a new shape go to the compiled model of that shape: the queue of the
previous shape is drained first, so order and memory stay right.

Example:
    >>> ys = lo.load_model("mlp.xml").map(batches, progress=True)   # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import time
from typing import Any, Iterable

import numpy as np

from ..tensor.tensor import Tensor
from .errors import InferenceInputError, ov_reason


# Below this time per inference, the async handoff (a thread wake-up and the GIL
# for the callback: 40-100 us per item on the 2-core machine this was tuned on)
# costs more than pipelining hides, and a synchronous loop has the throughput.
PIPELINE_MIN_S = 150e-6
_PROBES = 2                  # items run synchronously to time one inference


def run_many(model: Any, items: Iterable[Any], *, progress: bool | None = None,
             jobs: int | None = None, pipeline: bool | None = None) -> list:
    """``[model(x) for x in items]``, pipelined; see :meth:`LoadedModel.map`."""
    total = len(items) if hasattr(items, "__len__") else None
    bar = _ProgressBar(progress, total)
    it = iter(items)
    done: list = []
    try:
        if pipeline is None:           # time the first items, then choose
            fastest = float("inf")
            for x in itertools.islice(it, _PROBES):
                t0 = time.perf_counter()
                done.append(_call(model, x, len(done)))
                fastest = min(fastest, time.perf_counter() - t0)
                bar.step()
            pipeline = fastest >= PIPELINE_MIN_S
        if not pipeline:
            for x in it:
                done.append(_call(model, x, len(done)))
                bar.step()
            return done
        return done + _pipelined(model, it, len(done), bar, jobs)
    finally:
        bar.close()


def _call(model: Any, x: Any, idx: int) -> Any:
    try:
        return model(x)
    except InferenceInputError as exc:
        raise InferenceInputError(f"item {idx}: {exc}") from None


def _pipelined(model: Any, items: Iterable[Any], first: int, bar: "_ProgressBar",
               jobs: int | None) -> list:
    """Results of ``items`` (numbered from ``first``) through an ``AsyncInferQueue``."""
    from openvino._pyopenvino import Tensor as OVTensor
    results: list = []
    pads: dict[int, int] = {}
    errors: list = []
    n_out = len(model.outputs)
    # Inputs stay referenced until their request completes: a shared-memory
    # openvino.Tensor does not keep its array alive in C++ (see CompiledEntry).
    inflight: dict[int, Any] = {}

    def on_done(request: Any, idx: int) -> None:
        inflight.pop(idx, None)
        try:
            if n_out == 1:
                results[idx] = request.get_output_tensor(0).data.copy()
            else:
                results[idx] = [request.get_output_tensor(i).data.copy() for i in range(n_out)]
        except BaseException as exc:      # raised again in the caller's thread
            errors.append(exc)

    pipe = _Pipeline(on_done, jobs)
    shape = dtype = entry = None
    try:
        for idx, item in enumerate(items):
            arr = item._data if item.__class__ is Tensor else item
            feed = None
            if arr.__class__ is np.ndarray and arr.shape == shape and arr.dtype is dtype:
                try:
                    feed = OVTensor(arr, shared_memory=True)
                except (ValueError, RuntimeError):
                    pass
            if feed is None:       # the checked path: validate, convert, pick the shape
                try:
                    entry, feed, n_valid, arrays = model._prepare((item,), {})
                except InferenceInputError as exc:
                    raise InferenceInputError(f"item {first + idx}: {exc}") from None
                if n_valid is not None:
                    pads[idx] = n_valid
                single = len(arrays) == 1 and arrays[0].__class__ is np.ndarray
                shape, dtype = (arrays[0].shape, arrays[0].dtype) if single and \
                    n_valid is None else (None, None)
            results.append(None)
            inflight[idx] = feed
            pipe.submit(entry, feed, idx)
            bar.step()
        pipe.close()
    finally:
        pipe.release()
    if errors:
        raise InferenceInputError(f"inference failed: {ov_reason(errors[0])}") from errors[0]
    return [model._results([r] if n_out == 1 else r, pads.get(i))
            for i, r in enumerate(results)]


class _Pipeline:
    """The queue of the current compiled entry; switches (draining) on a new entry."""

    def __init__(self, on_done: Any, jobs: int | None):
        self.on_done = on_done
        self.jobs = jobs
        self.entry: Any = None
        self.queue: Any = None

    def submit(self, entry: Any, feed: Any, idx: int) -> None:
        if entry is not self.entry:
            self.close()
            self.release()
            entry.queue_lock.acquire()     # one map() at a time per compiled model
            self.entry = entry
            self.queue = entry.queue(self._jobs(entry))
            self.queue.set_callback(self.on_done)
        try:
            self.queue.start_async(feed, idx)
        except RuntimeError as exc:
            raise InferenceInputError(f"OpenVINO rejected item {idx}: {ov_reason(exc)}") \
                from None

    def _jobs(self, entry: Any) -> int:
        if self.jobs is not None:
            return max(int(self.jobs), 1)
        try:
            best = int(entry.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        except RuntimeError:
            best = 1
        return max(best, 2)                # overlap preparing the next input with inference

    def close(self) -> None:
        if self.queue is not None:
            self.queue.wait_all()

    def release(self) -> None:
        if self.entry is not None:
            self.queue.wait_all()
            self.entry.queue_lock.release()
            self.entry = self.queue = None


class _ProgressBar:
    """A tqdm bar updated in adaptive steps (each tqdm update costs ~0.3 us).

    ``progress=None`` shows the bar only if the run lasts more than a second.
    """

    def __init__(self, progress: bool | None, total: int | None):
        self.bar = None
        self.pending = 0
        self.every = 1
        self.last = time.perf_counter()
        if progress is False:
            return
        try:
            from tqdm import tqdm
        except ImportError:            # tqdm is optional: no bar, the work still runs
            return
        self.bar = tqdm(total=total, unit="inference", delay=0.0 if progress else 1.0,
                        dynamic_ncols=True)

    def step(self) -> None:
        if self.bar is None:
            return
        self.pending += 1
        if self.pending >= self.every:
            self.bar.update(self.pending)
            self.pending = 0
            now = time.perf_counter()
            if now - self.last < 0.01:     # fast items: update less often
                self.every *= 2
            self.last = now

    def close(self) -> None:
        if self.bar is not None:
            if self.pending:
                self.bar.update(self.pending)
            self.bar.close()
