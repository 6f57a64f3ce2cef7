"""The public entry points: ``load_model`` and ``infer`` (``lo.load_model``, ``lo.infer``).

``infer`` keeps the models it loaded, keyed by the model source, device,
precision and options, so that ``lo.infer(path, x)`` in a loop loads and
compiles once. Its own hot path compares the previous call's model, device and
precision by identity (no key to build, no dict lookup). A model given as a
path is re-checked (size and modification time) at most once a second, so an
exported-again file is picked up.

Example:
    >>> import numpy as np, langone as lo                          # doctest: +SKIP
    >>> y = lo.infer("mlp.xml", np.ones((1, 16), np.float32))      # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidOperation
from ..tensor.tensor import Tensor
from .errors import InferenceInputError
from .model import LoadedModel, bind_openvino
from .runtime import compile_config, normalize_precision, openvino, resolve_device
from .sources import load_source, path_key


def load_model(model: Any, device: str | None = None, precision: Any = None,
               cache_dir: str | os.PathLike | None = None, *, weights: Any = None,
               as_numpy: bool = False, buckets: Any = None, reshape: bool = True,
               casting: str = "same_kind", **options: Any) -> LoadedModel:
    """Read and compile a model for OpenVINO; the result is callable.

    Args:
        model: a path (OpenVINO IR ``.xml`` with its ``.bin``, ONNX, TFLite, ...: the
            format is read from the content), the model's bytes, a file object, or an
            ``openvino.Model``.
        device: ``"CPU"``, ``"GPU"``, ``"NPU"``, ``"AUTO"`` (default) or any OpenVINO
            device string. AUTO on a machine with a single device is that device.
        precision: ``"fp32"`` (default: exact results, even on CPUs whose OpenVINO
            default is bf16), ``"fp16"``, ``"bf16"`` (the inference precision hint),
            or ``"int8"`` (weights compressed to 8 bits by NNCF, if installed).
        cache_dir: OpenVINO's on-disk cache of compiled models (skips compiling in
            later processes).
        weights: an IR's ``.bin`` (bytes or path) when it is not beside the ``.xml``.
        as_numpy: return numpy arrays instead of LangOne Tensors.
        buckets: ``None``, ``"pow2"`` or batch sizes: pad dimension 0 up to a bucket
            so that many batch sizes share few compiled shapes.
        reshape: compile static models for new input shapes (else a shape mismatch
            is an error).
        casting: numpy casting rule for inputs of another dtype (``"same_kind"``
            casts float64 to float32 but refuses floats for an integer input).
        **options: OpenVINO properties by name, e.g. ``performance_hint="THROUGHPUT"``,
            ``inference_num_threads=1``.

    Raises:
        ModelLoadError: missing, truncated or corrupt model; compile failure.
        DeviceNotFound: a device this machine lacks.
        UnsupportedPrecision: an unknown precision, or int8 without NNCF.

    Example:
        >>> m = lo.load_model("model.onnx", device="CPU", precision="bf16")  # doctest: +SKIP
        >>> y = m(x)                                                          # doctest: +SKIP
    """
    _check_not_inputs(device, precision, "lo.load_model(model, device, precision)",
                      "call the loaded model with them: m(x1, x2)")
    bind_openvino()
    if isinstance(model, LoadedModel):
        if device is None and precision is None and cache_dir is None and not options:
            return model
        raise InvalidOperation(
            f"{model!r} is loaded already, for device {model.device} and precision "
            f"{model.precision}; to change them, load the original model source again")
    dev = resolve_device(device)
    prec = normalize_precision(precision)
    config = compile_config(dev, prec, cache_dir, options)
    source = load_source(model, weights)
    return LoadedModel(source, dev, prec, config, as_numpy=as_numpy, buckets=buckets,
                       reshape=reshape, casting=casting)


# lo.infer keeps the models it loaded: (model, device, precision, options) -> entry.
_LOADED: "OrderedDict[Any, list]" = OrderedDict()
_MAX_LOADED = 16
_RECHECK_S = 1.0            # how often lo.infer re-stats a model file for changes


def infer(model: Any, x: Any, device: str | None = None, precision: Any = None,
          **options: Any) -> Any:
    """Run a model on inputs in one call: load (cached), compile (cached), infer.

    Args:
        model: anything :func:`load_model` takes, or a :class:`LoadedModel`.
        x: the inputs of one call (as ``m(x)`` takes them), or many calls: an
            iterator or generator of such inputs, or a list of dicts; those run
            pipelined through :meth:`LoadedModel.map` and give a list of results.
        device, precision: as for :func:`load_model` (default ``"AUTO"``, ``"fp32"``).
        **options: :func:`load_model`'s options, and :meth:`LoadedModel.map`'s
            ``progress``, ``jobs`` and ``pipeline`` for many calls.

    Returns:
        A Tensor per output as ``m(x)`` returns them, or a list of such results.

    Example:
        >>> import numpy as np, langone as lo                          # doctest: +SKIP
        >>> y = lo.infer("mlp.xml", np.ones((1, 16), np.float32))      # doctest: +SKIP
    """
    memo = _MEMO                 # the previous call's model: no key, no dict lookup
    if (model is memo[0] and device is memo[1] and precision is memo[2] and not options
            and (memo[4] is None or time.monotonic() < memo[4])):
        m = memo[3]
        many = _NO_OPTIONS
    else:
        m, many = _resolve(model, device, precision, options)
    cls = x.__class__
    if cls is np.ndarray or cls is Tensor or not _is_many(x):
        return m(x)
    return m.map(x, **many)


_MEMO: tuple = (None, None, None, None, None)   # model, device, precision, loaded, check_at
_MAP_OPTIONS = ("progress", "jobs", "pipeline")
_NO_OPTIONS: dict = {}


def _resolve(model: Any, device: Any, precision: Any, options: dict) -> tuple:
    """(LoadedModel, options of map) for an ``infer`` call."""
    global _MEMO
    _check_not_inputs(device, precision, "lo.infer(model, x, device, precision)",
                      "pass them together as x: lo.infer(model, (x1, x2)) or a dict "
                      "by input name")
    many = {k: options.pop(k) for k in _MAP_OPTIONS if k in options}
    if model.__class__ is LoadedModel and device is None and precision is None \
            and not options:
        _MEMO = (model, None, None, model, None)
        return model, many
    key = (model, device, precision, tuple(sorted(options.items())))
    try:
        found = _LOADED.get(key)
    except TypeError:            # unhashable source or option values: load (caches still help)
        return load_model(model, device, precision, **options), many
    if found is None or not (found[1] is None or time.monotonic() < found[1]
                             or _unchanged(found[0])):
        m = load_model(model, device, precision, **options)
        is_path = isinstance(model, (str, os.PathLike))
        found = _LOADED[key] = [m, time.monotonic() + _RECHECK_S if is_path else None]
        while len(_LOADED) > _MAX_LOADED:
            _LOADED.popitem(last=False)
    if not options:
        _MEMO = (model, device, precision, found[0], found[1])
    return found[0], many


def _unchanged(m: LoadedModel) -> bool:
    """Whether the files behind ``m`` are as they were loaded (checked once a second)."""
    key = m._source.key
    try:
        same = key[0] == "path" and key[1:4] == path_key(Path(key[1]))
        if same and len(key) > 4:                           # an IR's weights file
            same = key[5:8] == path_key(Path(key[5]))
    except OSError:
        same = False
    if same:
        for entry in _LOADED.values():
            if entry[0] is m:
                entry[1] = time.monotonic() + _RECHECK_S
    return same


def _check_not_inputs(device: Any, precision: Any, signature: str, advice: str) -> None:
    """An input array passed where the device or precision goes (``lo.infer(path,
    x1, x2)``) is a mistake about inputs: say so instead of showing the array as a
    device name.

    Raises:
        InferenceInputError: ``device`` or ``precision`` holds data.
    """
    for role, value in (("device", device), ("precision", precision)):
        if isinstance(value, (np.ndarray, Tensor, list, tuple, dict)) or (
                not isinstance(value, (str, type)) and hasattr(value, "__array__")):
            raise InferenceInputError(
                f"{signature}: the {role} argument got {_describe(value)}, not a {role} "
                f"name ({'CPU, GPU, AUTO' if role == 'device' else 'fp32, fp16, bf16'}, ...)."
                f" To give the model several inputs, {advice}")


def _describe(value: Any) -> str:
    """``"a float32 ndarray of shape (1, 16)"``, ``"a list"``: what was passed."""
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    kind = type(value).__name__
    if shape is None:
        return f"a {kind}"
    return f"a {dtype} {kind} of shape {tuple(shape)}"


def _is_many(x: Any) -> bool:
    """Whether ``x`` holds the inputs of many calls (see :func:`infer`)."""
    if isinstance(x, (np.ndarray, Tensor, dict, str, bytes, int, float, complex)):
        return False
    if isinstance(x, (list, tuple)):
        return len(x) > 0 and all(isinstance(v, dict) for v in x)
    if isinstance(x, openvino().Tensor):
        return False
    return hasattr(x, "__iter__") or hasattr(x, "__next__")


def clear_loaded() -> None:
    """Forget the models :func:`infer` loaded (the compiled-model cache is separate)."""
    global _MEMO
    _MEMO = (None, None, None, None, None)
    _LOADED.clear()
