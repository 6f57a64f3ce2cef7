"""What a model takes and gives (ports), and turning user inputs into OpenVINO tensors.

A call may give its inputs as one array or Tensor (single-input models),
several positional values, a list or tuple with one value per input, a dict by
input name (or index), or keywords by name. Values are numpy arrays, LangOne
Tensors (their memory is shared, not copied), ``openvino.Tensor`` objects, or
anything ``numpy.asarray`` takes.

Every problem is an :class:`InferenceInputError` whose message lists what the
model expects, e.g. ``model 'mlp' expects 1 input: x: f32[1,16]``.

Example:
    >>> from langone.infer.inputs import format_shape
    >>> format_shape((None, 16)), format_shape(None)
    ('[?,16]', '[...]')
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..tensor.tensor import Tensor
from .errors import InferenceInputError
from .runtime import openvino


class PortSpec:
    """One input or output of a model: name, element type and (partial) shape.

    ``shape`` is a tuple whose entries are an ``int`` (static), ``None``
    (dynamic) or a ``(min, max)`` pair (bounded); ``None`` for a dynamic rank.
    """

    __slots__ = ("index", "name", "names", "ov_type", "dtype", "shape")

    def __init__(self, index: int, port: Any):
        self.index = index
        names = sorted(port.get_names())
        self.names = frozenset(names)
        self.name = port.get_any_name() if names else f"#{index}"
        self.ov_type = port.get_element_type()
        self.dtype = numpy_dtype(self.ov_type)
        self.shape = _dims(port.get_partial_shape())

    @property
    def type_name(self) -> str:
        return self.ov_type.get_type_name()

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(type(d) is int for d in self.shape)

    def describe(self) -> str:
        return f"{self.name}: {self.type_name}{format_shape(self.shape)}"

    def __repr__(self) -> str:
        return f"PortSpec({self.describe()})"


def _dims(pshape: Any) -> tuple | None:
    if pshape.rank.is_dynamic:
        return None
    dims: list = []
    for d in pshape:
        if d.is_static:
            dims.append(d.get_length())
        elif d.get_max_length() < 0 and d.get_min_length() <= 0:
            dims.append(None)
        else:
            dims.append((d.get_min_length(), d.get_max_length()))
    return tuple(dims)


def format_shape(shape: tuple | None) -> str:
    if shape is None:
        return "[...]"
    parts = ["?" if d is None else f"{d[0]}..{d[1] if d[1] >= 0 else ''}"
             if isinstance(d, tuple) else str(d) for d in shape]
    return "[" + ",".join(parts) + "]"


def numpy_dtype(ov_type: Any) -> np.dtype:
    """The numpy dtype of an OpenVINO element type (bf16 through ml_dtypes)."""
    if ov_type.get_type_name() == "bf16":
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(ov_type.to_dtype())


def describe_all(specs: Sequence[PortSpec], model_name: str) -> str:
    n = len(specs)
    return (f"model {model_name!r} expects {n} input{'s' if n != 1 else ''}: "
            + ", ".join(s.describe() for s in specs))


# --- collecting values in input order ------------------------------------------

def collect(specs: Sequence[PortSpec], args: tuple, named: dict, model_name: str) -> list:
    """The values of one call, one per input, in the model's input order."""
    if named:
        if args:
            raise InferenceInputError(
                f"give inputs either positionally or by name, not both; "
                f"{describe_all(specs, model_name)}")
        return _by_name(specs, named, model_name)
    if len(args) == 1:
        (x,) = args
        if isinstance(x, dict):
            return _by_name(specs, x, model_name)
        if isinstance(x, (list, tuple)) and _is_per_input(x, specs):
            args = tuple(x)
    if len(args) != len(specs):
        raise InferenceInputError(
            f"wrong number of inputs: got {len(args)}, but {describe_all(specs, model_name)}. "
            f"Pass one value per input (positionally, as a list, or a dict by name); "
            f"for many inference calls use model.map(items) or lo.infer(model, iter(items))")
    return list(args)


def _is_per_input(x: list | tuple, specs: Sequence[PortSpec]) -> bool:
    """Whether a list holds one value per input (else it is one input's data)."""
    if len(specs) > 1:
        return True
    ov = openvino()
    return len(x) > 0 and all(isinstance(v, (np.ndarray, Tensor, ov.Tensor)) for v in x)


def _by_name(specs: Sequence[PortSpec], values: dict, model_name: str) -> list:
    out: list = [_MISSING] * len(specs)
    for key, value in values.items():
        spec = _find(specs, key)
        if spec is None:
            raise InferenceInputError(
                f"unknown input {key!r}; {describe_all(specs, model_name)}")
        out[spec.index] = value
    missing = [s.describe() for s, v in zip(specs, out) if v is _MISSING]
    if missing:
        raise InferenceInputError(
            f"missing input{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"{describe_all(specs, model_name)}")
    return out


def _find(specs: Sequence[PortSpec], key: Any) -> PortSpec | None:
    if isinstance(key, int) and not isinstance(key, bool):
        return specs[key] if 0 <= key < len(specs) else None
    for s in specs:
        if key == s.name or key in s.names:
            return s
    return None


_MISSING = object()


# --- values to arrays -----------------------------------------------------------

def to_array(value: Any, spec: PortSpec, casting: str, model_name: str, specs) -> Any:
    """A C-contiguous numpy array of the input's dtype (or an ``openvino.Tensor`` as is)."""
    ov = openvino()
    if isinstance(value, ov.Tensor):
        return value
    if isinstance(value, Tensor):
        if value._device.type != "cpu":
            raise InferenceInputError(
                f"input {spec.name!r} is a tensor on {value._device}; OpenVINO reads host "
                f"memory: move it with .to('cpu') first")
        arr = value._data
    elif isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise InferenceInputError(
                f"input {spec.name!r} cannot be read as an array ({exc}); "
                f"{describe_all(specs, model_name)}") from None
    if arr.dtype != spec.dtype:
        if arr.dtype.kind in "OSUV" or not np.can_cast(arr.dtype, spec.dtype, casting):
            raise InferenceInputError(
                f"input {spec.name!r} has dtype {arr.dtype}, but the model expects "
                f"{spec.type_name} ({spec.dtype}), which casting={casting!r} does not allow; "
                f"convert it (x.astype(np.{spec.dtype})) or load the model with "
                f"casting='unsafe'. {describe_all(specs, model_name)}")
        arr = arr.astype(spec.dtype)
    return np.ascontiguousarray(arr)


def check_shape(arr: Any, spec: PortSpec, model_name: str, specs) -> bool:
    """Whether the shape fits the input as it stands (``False``: it needs a reshape).

    Raises:
        InferenceInputError: the rank differs, or a bounded dimension is out of bounds.
    """
    shape = tuple(arr.shape)
    if spec.shape is None:
        return True
    if len(shape) != len(spec.shape):
        raise InferenceInputError(
            f"input {spec.name!r} has shape {shape} ({len(shape)} dimensions), but the model "
            f"expects {len(spec.shape)} dimensions: {describe_all(specs, model_name)}")
    fits = True
    for axis, (got, want) in enumerate(zip(shape, spec.shape)):
        if isinstance(want, tuple) and not (want[0] <= got and (want[1] < 0 or got <= want[1])):
            raise InferenceInputError(
                f"input {spec.name!r} has size {got} in dimension {axis}, outside the "
                f"model's bounds {want[0]}..{want[1]}: {describe_all(specs, model_name)}")
        if type(want) is int and want != got:
            fits = False
    return fits


def ov_tensor(arr: Any) -> Any:
    """An ``openvino.Tensor`` sharing ``arr``'s memory (copied only when it must be)."""
    ov = openvino()
    if isinstance(arr, ov.Tensor):
        return arr
    if arr.dtype.name == "bfloat16":   # numpy knows bf16 only through ml_dtypes
        return ov.Tensor(np.ascontiguousarray(arr).view(np.uint16), list(arr.shape),
                         ov.Type.bf16)
    try:
        return ov.Tensor(arr, shared_memory=True)
    except ValueError:                 # read-only memory cannot be shared
        return ov.Tensor(np.array(arr), shared_memory=True)
