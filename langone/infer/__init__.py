"""OpenVINO inference in one call: ``lo.infer(model, x)`` and ``lo.load_model(model)``.

Models come from OpenVINO IR (.xml/.bin), ONNX, TFLite (anything OpenVINO's
``read_model`` reads), ``openvino.Model`` objects, or bytes; the format is read
from the content. Compiled models are cached in the process per model, device,
precision and shape, and on disk with ``cache_dir=``. Inputs are numpy arrays,
LangOne Tensors (shared, not copied), dicts by input name, or lists; outputs are
Tensors (numpy with ``as_numpy=True``). Many inputs run pipelined.

``openvino`` is imported on first use, not with this package. The package
itself is callable (``langone.infer(model, x)`` is :func:`infer`), so
``lo.infer`` works whether it names this module or the function.

Example:
    >>> import numpy as np, langone as lo                               # doctest: +SKIP
    >>> y = lo.infer("mlp.xml", np.ones((1, 16), np.float32))           # doctest: +SKIP
    >>> m = lo.load_model("mlp.onnx", device="CPU", precision="bf16")   # doctest: +SKIP
    >>> ys = m.map(batches)                                             # doctest: +SKIP
"""

from __future__ import annotations

import sys
import types

from .cache import cache_info, clear_cache
from .errors import InferenceInputError, ModelLoadError, OpenVINOUnavailable
from .inputs import PortSpec
from .api import clear_loaded, infer, load_model
from .model import LoadedModel, compress_int8
from .outputs import Outputs
from .runtime import PRECISIONS, ov_device_info, ov_devices
from .sources import sniff_format

__all__ = ["infer", "load_model", "LoadedModel", "Outputs", "PortSpec", "ov_devices",
           "ov_device_info",
           "cache_info", "clear_cache", "clear_loaded", "compress_int8", "sniff_format",
           "ModelLoadError", "InferenceInputError", "OpenVINOUnavailable", "PRECISIONS"]


class _CallableModule(types.ModuleType):
    """This package, callable as :func:`infer` (``import langone.infer`` rebinds
    ``langone.infer`` to the package, which must then still run inference)."""

    __call__ = staticmethod(infer)     # no extra Python frame per call


sys.modules[__name__].__class__ = _CallableModule
