"""``load_model`` and :class:`LoadedModel`: an OpenVINO model ready to call.

The hot path of ``m(x)`` (one array or Tensor, the shape and dtype of the call
before) does no validation and builds no dict: it wraps the array's memory in
an ``openvino.Tensor`` (no copy), runs the cached infer request through the C++
``infer`` directly (skipping the Python dispatcher ``compiled_model(x)`` goes
through) and wraps the output array as a Tensor. Anything else (a new shape, a
dict, several inputs, a cast) takes the checked path, which also remembers the
new shape so that the next call of that shape is fast again.

Outputs are fresh arrays the caller owns: OpenVINO copies them out of the
request's buffers (as ``compiled_model(x)`` does), because the next call
overwrites those buffers. Inputs are shared, not copied: do not modify an input
array from another thread while a call that uses it runs.

Shapes: a static model given another shape is reshaped and compiled for it
(once per shape; ``reshape=False`` makes that an error); a model with dynamic
dimensions runs as it is. ``buckets="pow2"`` (or a list of sizes) pads the batch
dimension up to the next bucket instead, so that N different batch sizes need
only log2(N) compiles; it is right only for models whose samples are
independent along dimension 0, which is the case for nearly every network.

Example:
    >>> import numpy as np, langone as lo                        # doctest: +SKIP
    >>> m = lo.load_model("mlp.xml", device="CPU")               # doctest: +SKIP
    >>> y = m(np.ones((1, 16), np.float32))                      # a Tensor  # doctest: +SKIP
    >>> ys = m.map(batches)                                      # pipelined  # doctest: +SKIP
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable

import numpy as np

from ..errors import InvalidOperation, UnsupportedPrecision
from ..tensor._backend import CPU as _CPU
from ..tensor.tensor import Tensor
from . import cache, inputs as _in
from .errors import InferenceInputError, ModelLoadError, ov_reason
from .outputs import Outputs
from .runtime import core, openvino
from .shapes import bucket_size, check_batch_outputs, check_buckets, pad_batch
from .sources import ModelSource

_CASTINGS = ("no", "equiv", "safe", "same_kind", "unsafe")
_MAX_SHAPES = 16            # compiled shapes a LoadedModel keeps (LRU)
_new = object.__new__


class LoadedModel:
    """A model compiled for a device and precision; call it like a function.

    Create one with :func:`load_model`. ``m(x)`` runs one inference,
    ``m.map(items)`` runs many through a pipeline of asynchronous requests.

    Attributes:
        name: the model's name.
        device: the OpenVINO device it runs on (``"AUTO"`` resolved where possible).
        precision: the precision asked for: ``"fp32"``, ``"fp16"``, ``"bf16"`` or ``"int8"``.
        inputs, outputs: :class:`~langone.infer.inputs.PortSpec` per port, in order.
    """

    def __init__(self, source: ModelSource, device: str, precision: str, config: dict,
                 *, as_numpy: bool = False, buckets: Any = None, reshape: bool = True,
                 casting: str = "same_kind"):
        self._source = source
        self.device = device
        self.precision = precision
        self._config = config
        self._config_key = tuple(sorted((k, repr(v)) for k, v in config.items()))
        self._as_numpy = bool(as_numpy)
        self._buckets = check_buckets(buckets)
        self._reshape = bool(reshape)
        if casting not in _CASTINGS:
            raise InvalidOperation(f"casting={casting!r} is not one of {', '.join(_CASTINGS)}")
        self._casting = casting
        self._model = _weights_for(source, precision)
        self.name = source.name
        self.inputs = [_in.PortSpec(i, p) for i, p in enumerate(self._model.inputs)]
        self.outputs = [_in.PortSpec(i, p) for i, p in enumerate(self._model.outputs)]
        self._out_names = [s.names for s in self.outputs]
        self._out_dtypes = [cache.langone_dtype(s) for s in self.outputs]
        self._entries: "OrderedDict[Any, cache.CompiledEntry]" = OrderedDict()
        self._current = self._entry("model")
        # Fast-path state: (shape, dtype, entry) of the last plain call, one tuple so
        # that a thread never pairs a shape with another shape's compiled model.
        self._fast: tuple = (None, None, self._current)
        self._plain_out = (len(self.outputs) == 1 and self._out_dtypes[0] is not None
                           and self.outputs[0].type_name != "bf16")
        self._out_dtype0 = self._out_dtypes[0] if self.outputs else None
        if len(self.inputs) == 1 and self.inputs[0].is_static and self._buckets is None:
            self._fast = (self.inputs[0].shape, self.inputs[0].dtype, self._current)

    # --- calling ----------------------------------------------------------------------
    def __call__(self, *args: Any, **named: Any) -> Any:
        """Run one inference.

        Args:
            *args: one value per input (an array, a Tensor, anything numpy reads),
                or a single list/tuple of them, or a single dict by input name.
            **named: inputs by name, instead of positional ones.

        Returns:
            A Tensor (a numpy array with ``as_numpy=True``) for a single-output
            model, else :class:`Outputs` (a tuple that also takes output names).

        Raises:
            InferenceInputError: wrong input count, names, rank, shape or dtype.
        """
        if len(args) == 1 and not named:
            x = args[0]
            arr = x._data if x.__class__ is Tensor else x
            fast = self._fast
            if arr.__class__ is np.ndarray and arr.shape == fast[0] and arr.dtype is fast[1]:
                entry = fast[2]
                last = entry.last
                if last[0] is arr:               # the same buffer again: same shared tensor
                    t = last[1]
                else:
                    try:
                        t = _OVTensor(arr, shared_memory=True)
                    except (ValueError, RuntimeError):   # read-only or strided memory
                        t = None
                if t is not None:
                    lock = entry.lock
                    if lock.acquire(False):
                        try:
                            entry.last = (arr, t)      # keeps arr alive: see CompiledEntry
                            res = _binfer(entry.request, t, False, True)
                        finally:
                            lock.release()
                    else:
                        res = entry.run(t)
                    if self._plain_out:
                        out = res[entry.out0]
                        if self._as_numpy:
                            return out
                        y = _new(Tensor)             # langone.tensor.tensor.wrap, inlined
                        y._data = out
                        y._dtype = self._out_dtype0
                        y._device = _CPU
                        return y
                    return self._finish(res, entry, None)
        return self._call_checked(args, named)

    def _call_checked(self, args: tuple, named: dict) -> Any:
        entry, feed, n_valid, arrays = self._prepare(args, named)
        try:
            res = entry.run(feed)
        except RuntimeError as exc:
            raise InferenceInputError(
                f"OpenVINO rejected the inputs: {ov_reason(exc)}; "
                f"{_in.describe_all(entry.inputs, self.name)}") from None
        if len(arrays) == 1 and n_valid is None and arrays[0].__class__ is np.ndarray:
            self._fast = (arrays[0].shape, arrays[0].dtype, entry)  # next call: fast
        self._current = entry
        return self._finish(res, entry, n_valid)

    def _prepare(self, args: tuple, named: dict) -> tuple:
        """Check and convert one call's inputs: (entry, feed, n_valid, arrays)."""
        values = _in.collect(self.inputs, args, named, self.name)
        arrays = [self._array(v, spec) for v, spec in zip(values, self.inputs)]
        entry, arrays, n_valid = self._select(arrays)
        tensors = [_in.ov_tensor(a) for a in arrays]
        feed = tensors[0] if len(tensors) == 1 else dict(enumerate(tensors))
        return entry, feed, n_valid, arrays

    def _array(self, value: Any, spec: _in.PortSpec) -> Any:
        arr = _in.to_array(value, spec, self._casting, self.name, self.inputs)
        if isinstance(arr, _OVTensor) and arr.get_element_type() != spec.ov_type:
            got = arr.get_element_type().get_type_name()
            raise InferenceInputError(
                f"input {spec.name!r} is an openvino.Tensor of {got}, but the model expects "
                f"{spec.type_name}; {_in.describe_all(self.inputs, self.name)}")
        return arr

    def _finish(self, res: dict, entry: cache.CompiledEntry, n_valid: int | None) -> Any:
        return self._results([res[p] for p in entry.out_ports], n_valid)

    def _results(self, arrays: list, n_valid: int | None) -> Any:
        """What a call returns, from the output arrays in output order."""
        values = [self._output(a, i, n_valid) for i, a in enumerate(arrays)]
        if len(values) == 1:
            return values[0]
        return Outputs(values, self._out_names)

    def _output(self, arr: np.ndarray, i: int, n_valid: int | None) -> Any:
        spec = self.outputs[i]
        if spec.type_name == "bf16" and arr.dtype != spec.dtype:
            arr = arr.view(spec.dtype)        # OpenVINO labels bf16 data as float16
        if n_valid is not None:
            arr = arr[:n_valid]               # drop the rows that padded the bucket
        dt = self._out_dtypes[i]
        return arr if self._as_numpy or dt is None else _wrap(arr, dt)

    # --- shapes and compiled entries -------------------------------------------------
    def _select(self, arrays: list) -> tuple:
        """The compiled entry for these inputs: (entry, arrays (maybe padded), n_valid)."""
        if self._buckets is not None:
            return self._bucketed(arrays)
        fits = all([_in.check_shape(a, s, self.name, self.inputs)
                    for a, s in zip(arrays, self.inputs)])
        if fits and not self.device.startswith("NPU"):
            return self._entry("model"), arrays, None
        shapes = tuple(tuple(a.shape) for a in arrays)
        if not fits and not self._reshape:
            got = ", ".join(f"{s.name}{list(sh)}" for s, sh in zip(self.inputs, shapes))
            raise InferenceInputError(
                f"input shapes {got} do not match: {_in.describe_all(self.inputs, self.name)}; "
                f"this model was loaded with reshape=False (load it with reshape=True to "
                f"compile it for new shapes)")
        return self._entry(shapes), arrays, None

    def _bucketed(self, arrays: list) -> tuple:
        for a, s in zip(arrays, self.inputs):
            _in.check_shape(a, s, self.name, self.inputs)
        sizes = {tuple(a.shape)[0] if len(a.shape) else None for a in arrays}
        if len(sizes) != 1 or None in sizes:
            raise InferenceInputError(
                f"buckets pad the batch (dimension 0), so every input needs the same batch "
                f"size; got shapes {[tuple(a.shape) for a in arrays]}")
        (n,) = sizes
        size = bucket_size(n, self._buckets)
        if size != n:
            arrays = [pad_batch(a, size) for a in arrays]
        entry = self._entry(tuple(tuple(a.shape) for a in arrays))
        return entry, arrays, (n if size != n else None)

    def _entry(self, bucket: Any) -> cache.CompiledEntry:
        entry = self._entries.get(bucket)
        if entry is not None:
            self._entries.move_to_end(bucket)
            return entry
        key = (self._source.key, self.precision, self.device, self._config_key, bucket)
        entry = cache.compiled_entry(key, lambda: self._compile(bucket))
        if self._buckets is not None and bucket != "model":
            check_batch_outputs(entry, bucket[0][0], self.name)
        self._entries[bucket] = entry
        if len(self._entries) > _MAX_SHAPES:
            self._entries.popitem(last=False)
        return entry

    def _compile(self, bucket: Any) -> Any:
        model = self._model
        if bucket != "model":
            model = model.clone()
            try:
                model.reshape({i: list(shape) for i, shape in enumerate(bucket)})
            except RuntimeError as exc:
                got = ", ".join(f"{s.name}{list(sh)}" for s, sh in zip(self.inputs, bucket))
                raise InferenceInputError(
                    f"cannot run the model with input shapes {got}: "
                    f"{_in.describe_all(self.inputs, self.name)}, and reshaping it failed: "
                    f"{ov_reason(exc)}") from None
        try:
            return core().compile_model(model, self.device, self._config)
        except RuntimeError as exc:
            raise ModelLoadError(
                f"cannot compile model {self._source.label} for device {self.device} "
                f"(precision {self.precision}): {ov_reason(exc)}") from None

    # --- many inputs -----------------------------------------------------------------
    def map(self, items: Iterable[Any], *, progress: bool | None = None,
            jobs: int | None = None, pipeline: bool | None = None) -> list:
        """Run one inference per item, pipelined through asynchronous requests.

        Args:
            items: an iterable of what ``m(x)`` takes (arrays, Tensors, dicts, lists).
            progress: a tqdm progress bar: ``True`` always, ``False`` never, ``None``
                (default) only when the run lasts more than a second.
            jobs: requests in flight; default: OpenVINO's optimal number, at least 2
                so that preparing the next input overlaps the running inference.
            pipeline: ``True`` always pipelines through an ``AsyncInferQueue``,
                ``False`` runs a loop of synchronous calls, ``None`` (default) times
                the first items and pipelines when an inference takes 150 us or more
                (below that the asynchronous hand-off costs more than it hides).

        Returns:
            One result per item, in order, as ``m(x)`` would return it.

        Example:
            >>> ys = m.map(np.split(data, 100))         # doctest: +SKIP
        """
        from .batch import run_many
        return run_many(self, items, progress=progress, jobs=jobs, pipeline=pipeline)

    # --- information --------------------------------------------------------------------
    @property
    def compiled_model(self) -> Any:
        """The ``openvino.CompiledModel`` of the latest shape (an escape hatch)."""
        return self._current.compiled

    @property
    def ov_model(self) -> Any:
        """The ``openvino.Model`` this was compiled from (after int8 compression)."""
        return self._model

    @property
    def effective_precision(self) -> str | None:
        """The precision the device reports it computes in (``None`` if it does not say).

        A CPU without native fp16 runs ``precision="fp16"`` in bf16, for instance.
        """
        try:
            hint = self._current.compiled.get_property("INFERENCE_PRECISION_HINT")
        except RuntimeError:
            return None
        name = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
        return {"f32": "fp32", "f16": "fp16", "bf16": "bf16"}.get(name, name)

    def __repr__(self) -> str:
        ins = ", ".join(s.describe() for s in self.inputs)
        outs = ", ".join(s.describe() for s in self.outputs)
        return (f"LoadedModel({self.name!r}, device={self.device!r}, "
                f"precision={self.precision!r}, inputs=[{ins}], outputs=[{outs}])")


# --- module helpers ---------------------------------------------------------------------

_OVTensor: Any = None
_binfer: Any = None


def bind_openvino() -> None:
    """Bind the C++ entry points the hot path calls (after openvino is imported)."""
    global _OVTensor, _binfer
    if _OVTensor is None:
        ov = openvino()                    # raises OpenVINOUnavailable, with the fix
        from openvino._pyopenvino import InferRequest
        _binfer = InferRequest.infer
        _OVTensor = ov.Tensor


def _wrap(arr: np.ndarray, dt: Any) -> Tensor:
    """``langone.tensor.tensor.wrap`` without its dtype lookup (the hot path knows it)."""
    t = _new(Tensor)
    t._data = arr
    t._dtype = dt
    t._device = _CPU
    return t


def _weights_for(source: ModelSource, precision: str) -> Any:
    if precision != "int8":
        return source.model
    return cache.cached_model(source.key + ("int8",), lambda: compress_int8(source.model))


def compress_int8(model: Any) -> Any:
    """8-bit weight compression of an ``openvino.Model`` with NNCF (the model is copied).

    Raises:
        UnsupportedPrecision: NNCF is not installed.
    """
    try:
        import nncf
    except ImportError:
        raise UnsupportedPrecision(
            "precision='int8' compresses the model's weights to 8 bits with NNCF, which is "
            "not installed: pip install nncf (the 'openvino-int8' extra of langone), or use "
            "precision='fp16' or 'bf16'") from None
    return nncf.compress_weights(model.clone())
