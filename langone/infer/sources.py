"""Model sources: paths, bytes, file objects and ``openvino.Model`` objects.

The format is detected from the content, not the name: an OpenVINO IR is XML
(``<?xml`` or ``<net``), an ONNX model is a protobuf whose first field is its
``ir_version`` (byte ``0x08`` then a small number), a TensorFlow Lite model has
``TFL3`` at byte 4. The detected format goes into error messages; reading is
OpenVINO's ``read_model``, which reads whatever its frontends know (IR, ONNX,
TFLite, TensorFlow, PaddlePaddle).

Each source gets a ``key`` that identifies its content for the compiled-model
cache: the resolved path with its size and modification time, a BLAKE2 digest
of bytes, or the identity of an ``openvino.Model`` object (after changing such
an object in place, call :func:`langone.infer.clear_cache` and load it again).

Example:
    >>> from langone.infer.sources import sniff_format
    >>> sniff_format(b'<?xml version="1.0"?><net name="m">')
    'ir'
    >>> sniff_format(bytes([8, 9, 18, 4]))
    'onnx'
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import format_bytes
from .cache import cached_model
from .errors import ModelLoadError, ov_reason
from .runtime import core, openvino

FORMAT_NAMES = {"ir": "OpenVINO IR", "onnx": "ONNX", "tflite": "TensorFlow Lite",
                "tf": "TensorFlow", "paddle": "PaddlePaddle", "ov.Model": "openvino.Model",
                "unknown": "unknown format"}
_SUFFIXES = {".xml": "ir", ".onnx": "onnx", ".tflite": "tflite", ".pb": "tf",
             ".pdmodel": "paddle"}
_WHAT_IS_READ = ("OpenVINO IR starts with '<?xml' or '<net', ONNX is a protobuf starting "
                 "with byte 0x08, TensorFlow Lite has 'TFL3' at byte 4")


@dataclass(frozen=True)
class ModelSource:
    """A model read into memory, with what identifies it and how to name it."""

    model: Any          # openvino.Model
    key: tuple          # content identity, for the compiled-model cache
    label: str          # for messages: "'m.xml' (OpenVINO IR)"
    format: str         # a key of FORMAT_NAMES
    stem: str = ""      # the file name without suffix, for sources that are files

    @property
    def name(self) -> str:
        """The model's name; frontends that have none say ``onnx_Frontend_IR``: use the file's."""
        name = self.model.get_friendly_name()
        return self.stem if self.stem and name.endswith("_Frontend_IR") else name


def sniff_format(head: bytes, suffix: str = "") -> str:
    """The format of a model from its first bytes (and, failing that, its suffix)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"<?xml", b"<net")):
        return "ir"
    if head[4:8] == b"TFL3":
        return "tflite"
    if len(head) > 1 and head[0] == 0x08 and 0 < head[1] < 32:
        return "onnx"   # ModelProto field 1 (ir_version) as a varint: 08 <version>
    return _SUFFIXES.get(suffix.lower(), "unknown")


def load_source(model: Any, weights: Any = None) -> ModelSource:
    """:func:`read_source`, through the in-process cache of models read before.

    A path is re-read when its size or modification time changed.
    """
    key = source_key(model, weights)
    if key is None:
        return read_source(model, weights)
    return cached_model(key, lambda: read_source(model, weights, key))


def source_key(model: Any, weights: Any = None) -> tuple | None:
    """The content identity of a source, or ``None`` for a stream (read it to know)."""
    ov = openvino()
    if isinstance(model, ov.Model):
        # The object itself is in the key: it stays alive while cached, so its id
        # cannot be reused by another model.
        return ("ov.Model", id(model), model)
    if isinstance(model, (bytes, bytearray, memoryview)):
        return ("bytes", _digest(bytes(model)), _digest(_weight_bytes(weights)))
    if isinstance(model, (str, os.PathLike)):
        path = Path(model).expanduser()
        if not path.is_file():
            return None                   # missing (read_source explains) or a directory
        bin_path = Path(weights) if weights is not None else path.with_suffix(".bin")
        key = ("path", *path_key(path))
        return key + ("weights", *path_key(bin_path)) if bin_path.is_file() else key
    return None


def read_source(model: Any, weights: Any = None, key: tuple | None = None) -> ModelSource:
    """Read ``model`` (path, bytes, file object or ``openvino.Model``) with OpenVINO.

    Args:
        model: where the model is.
        weights: for an IR given as bytes, its ``.bin`` as bytes or a path; for an
            IR file whose weights are not beside it, the ``.bin`` path.
        key: the source's :func:`source_key`, when the caller has it already.

    Raises:
        ModelLoadError: the file is missing, empty, truncated, corrupt or not a model.
    """
    ov = openvino()
    if isinstance(model, ov.Model):
        name = model.get_friendly_name()
        return ModelSource(model, key or source_key(model), f"openvino.Model {name!r}",
                           "ov.Model")
    if isinstance(model, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(model), weights, key)
    if isinstance(model, io.IOBase) or hasattr(model, "read"):
        return _from_bytes(model.read(), weights, None)
    if isinstance(model, (str, os.PathLike)):
        return _from_path(Path(model).expanduser(), weights, key)
    raise ModelLoadError(
        f"cannot load a model from a {type(model).__name__}; pass a path (IR .xml, .onnx, "
        f".tflite, ...), the model's bytes, a file object, or an openvino.Model")


def path_key(path: Path) -> tuple:
    """Identity of a file's content for caches: resolved path, size, mtime."""
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _weight_bytes(weights: Any) -> bytes:
    if weights is None:
        return b""
    if isinstance(weights, (str, os.PathLike)):
        return Path(weights).read_bytes()
    return bytes(weights)


def _from_path(path: Path, weights: Any, key: tuple | None) -> ModelSource:
    if not path.exists():
        raise ModelLoadError(f"model file not found: '{path}' (absolute: '{path.absolute()}'); "
                             f"check the path, or pass the model's bytes")
    fmt = "tf" if path.is_dir() else sniff_format(_head(path), path.suffix)
    size = 0 if path.is_dir() else path.stat().st_size
    label = f"'{path}' ({FORMAT_NAMES[fmt]})"
    if size == 0 and not path.is_dir():
        raise ModelLoadError(f"cannot read model {label}: the file is empty (0 bytes); "
                             f"it was not written completely — export it again")
    bin_path = Path(weights) if weights is not None else path.with_suffix(".bin")
    key = key or source_key(path, weights) or ("path", str(path.resolve()))
    try:
        if weights is not None:
            model = core().read_model(str(path), str(bin_path))
        else:
            model = core().read_model(str(path))
    except Exception as exc:  # OpenVINO raises RuntimeError with C++ locations
        raise ModelLoadError(_read_failure(label, fmt, size, exc, bin_path)) from None
    return ModelSource(model, key, label, fmt, path.stem)


def _from_bytes(data: bytes, weights: Any, key: tuple | None) -> ModelSource:
    fmt = sniff_format(data[:64])
    label = f"<{FORMAT_NAMES[fmt]} model from {format_bytes(len(data))} of bytes>"
    if not data:
        raise ModelLoadError("cannot read a model from empty bytes (0 bytes)")
    wbytes = _weight_bytes(weights)
    key = key or ("bytes", _digest(data), _digest(wbytes))
    try:
        model = core().read_model(data, wbytes) if fmt == "ir" or weights is not None \
            else core().read_model(data)
    except Exception as exc:
        reason = ov_reason(exc)
        if fmt == "ir" and weights is None:
            reason += ("; an IR given as bytes needs its weights too: pass weights=<the "
                       ".bin file's bytes or path>")
        raise ModelLoadError(_read_failure(label, fmt, len(data), reason, None)) from None
    return ModelSource(model, key, label, fmt)


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(64)


def _read_failure(label: str, fmt: str, size: int, exc: Any, bin_path: Path | None) -> str:
    reason = exc if isinstance(exc, str) else ov_reason(exc)
    msg = f"cannot read model {label}, {format_bytes(size)}: {reason}"
    if fmt == "ir" and bin_path is not None:
        if not bin_path.exists():
            msg += (f". Its weights were expected at '{bin_path}', which does not exist: "
                    f"keep the .bin beside the .xml, or pass weights=<path>")
        else:
            msg += (f". Weights file '{bin_path}' has {format_bytes(bin_path.stat().st_size)}: "
                    f"if the XML or the .bin is truncated or they come from different "
                    f"exports, export the model again")
    elif fmt == "unknown":
        msg += f". The content is not a format LangOne recognizes ({_WHAT_IS_READ})"
    else:
        msg += (f". The {FORMAT_NAMES[fmt]} data is truncated or corrupt (or uses "
                f"operations OpenVINO does not support): export the model again")
    return msg
