"""The errors of :mod:`langone.infer`, and the cleaning of OpenVINO's messages.

OpenVINO reports failures as ``RuntimeError`` whose text starts with lines such
as ``Exception from src/inference/src/cpp/core.cpp:84:`` and ``Check '...'
failed at ...``: where the check lives in OpenVINO's C++ sources, which tells a
user nothing. :func:`ov_reason` keeps only the sentences about the model.

Example:
    >>> from langone.infer.errors import ov_reason
    >>> ov_reason(RuntimeError("Exception from src/core.cpp:84:\\n"
    ...                        "Check 'x' failed at src/a.cpp:9:\\n"
    ...                        "Incorrect weights in bin file!\\n"))
    'Incorrect weights in bin file!'
"""

from __future__ import annotations

from ..errors import LangOneError


class ModelLoadError(LangOneError, ValueError):
    """A model that cannot be read or compiled: missing, truncated, corrupt, unknown format.

    The message names the file (or says the model came as bytes), the format
    LangOne detected from its content, and what OpenVINO found wrong.
    """


class InferenceInputError(LangOneError, ValueError):
    """Inputs that do not fit the model: count, names, shape, dtype or device.

    The message lists every input the model expects, e.g. ``x: f32[1,16]``.
    """


class OpenVINOUnavailable(LangOneError, ImportError):
    """The ``openvino`` package is not installed."""


_NOISE = ("Exception from ", "Check '", "FrontEnd API failed with GeneralFailure")


def ov_reason(exc: BaseException) -> str:
    """The meaningful part of an OpenVINO exception's text, on one line."""
    lines = [ln.strip() for ln in str(exc).splitlines()]
    kept = [ln for ln in lines if ln and not ln.startswith(_NOISE)]
    return " ".join(kept) if kept else " ".join(ln for ln in lines if ln)
