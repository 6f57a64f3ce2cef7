"""LangOne's data types: the precisions of the design and their NumPy 2 rules.

``lo.fp16 lo.bf16 lo.fp32 lo.fp64 lo.complex64 lo.complex128 lo.int8 lo.int16
lo.int32 lo.int64 lo.uint8 lo.uint16 lo.uint32 lo.uint64 lo.bool_`` are
:class:`DType` singletons. They convert to numpy dtypes (bf16
through ``ml_dtypes``, loaded on first use), promote like NumPy 2 (NEP 50:
Python scalars are *weak* and take the other operand's type) and, called on a
value, cast it (inside a kernel ``lo.fp16(v)`` is a cast too).

Example:
    >>> import langone as lo
    >>> lo.result_type(lo.int8, 3)          # a Python int is weak
    DType('int8')
    >>> lo.result_type(lo.fp16, lo.bf16)    # neither holds the other
    DType('fp32')
    >>> lo.dtype("f16").itemsize
    2
"""

from __future__ import annotations

import enum
from functools import lru_cache
from typing import Any

import numpy as np

from .errors import UnsupportedPrecision


class DataPrecision(enum.Enum):
    """The precisions LangOne computes in (the seed's ``DataPrecision``)."""

    FP16 = "fp16"
    BF16 = "bf16"
    FP32 = "fp32"
    FP64 = "fp64"
    INT8 = "int8"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    UINT8 = "uint8"
    UINT16 = "uint16"
    UINT32 = "uint32"
    UINT64 = "uint64"
    COMPLEX64 = "complex64"
    COMPLEX128 = "complex128"
    BOOL = "bool"

    @property
    def dtype(self) -> "DType":
        return _BY_NAME[self.value]


class DType:
    """One element type. Compare with ``==`` against DTypes, names, numpy dtypes."""

    __slots__ = ("name", "itemsize", "kind", "bits", "_np_name", "_np", "__weakref__")

    def __init__(self, name: str, itemsize: int, kind: str, np_name: str):
        self.name = name            # canonical LangOne name: "fp16", "int32", ...
        self.itemsize = itemsize
        self.kind = kind            # "b" bool, "i" signed, "u" unsigned, "f" float, "c" complex
        self.bits = itemsize * 8
        self._np_name = np_name
        self._np = None

    # -- numpy interop -------------------------------------------------------
    @property
    def numpy(self) -> np.dtype:
        """The numpy dtype (bf16 loads ``ml_dtypes`` on first use)."""
        if self._np is None:
            if self._np_name == "bfloat16":
                import ml_dtypes
                self._np = np.dtype(ml_dtypes.bfloat16)
            else:
                self._np = np.dtype(self._np_name)
        return self._np

    @property
    def type(self) -> type:
        """The numpy scalar type (``np.float32`` for fp32)."""
        return self.numpy.type

    @property
    def precision(self) -> DataPrecision:
        return DataPrecision(self.name)

    @property
    def is_floating(self) -> bool:
        return self.kind == "f"

    @property
    def is_integer(self) -> bool:
        return self.kind in "iu"

    @property
    def is_complex(self) -> bool:
        return self.kind == "c"

    @property
    def is_signed(self) -> bool:
        return self.kind in "ifc"

    @property
    def real(self) -> "DType":
        """The type of a part: fp32 for complex64, fp64 for complex128, else itself."""
        return {"complex64": fp32, "complex128": fp64}.get(self.name, self)

    @property
    def is_bool(self) -> bool:
        return self.kind == "b"

    def __call__(self, value: Any) -> Any:
        """Cast a scalar or array-like to this type (numpy's rules, wrapping ints)."""
        arr = np.asarray(value)
        if arr.ndim == 0:
            return arr.astype(self.numpy)[()]
        return arr.astype(self.numpy)

    # -- identity ------------------------------------------------------------
    def __repr__(self) -> str:
        return f"DType('{self.name}')"

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, DType):
            return other is self
        try:
            return dtype(other) is self
        except (UnsupportedPrecision, TypeError):
            return False

    def __hash__(self) -> int:
        return hash(("langone.dtype", self.name))

    def __reduce__(self):
        return (dtype, (self.name,))


fp16 = DType("fp16", 2, "f", "float16")
bf16 = DType("bf16", 2, "f", "bfloat16")
fp32 = DType("fp32", 4, "f", "float32")
fp64 = DType("fp64", 8, "f", "float64")
int8 = DType("int8", 1, "i", "int8")
int16 = DType("int16", 2, "i", "int16")
int32 = DType("int32", 4, "i", "int32")
int64 = DType("int64", 8, "i", "int64")
uint8 = DType("uint8", 1, "u", "uint8")
uint16 = DType("uint16", 2, "u", "uint16")
uint32 = DType("uint32", 4, "u", "uint32")
uint64 = DType("uint64", 8, "u", "uint64")
complex64 = DType("complex64", 8, "c", "complex64")
complex128 = DType("complex128", 16, "c", "complex128")
bool_ = DType("bool", 1, "b", "bool")

ALL_DTYPES: tuple[DType, ...] = (bool_, uint8, uint16, uint32, uint64, int8, int16, int32,
                                 int64, fp16, bf16, fp32, fp64, complex64, complex128)
FLOAT_DTYPES = tuple(d for d in ALL_DTYPES if d.is_floating)
INT_DTYPES = tuple(d for d in ALL_DTYPES if d.is_integer)
COMPLEX_DTYPES = (complex64, complex128)

_BY_NAME = {d.name: d for d in ALL_DTYPES}
_ALIASES = {
    "float16": fp16, "f16": fp16, "half": fp16, "f2": fp16, "e": fp16,
    "bfloat16": bf16, "bf16": bf16,
    "float32": fp32, "f32": fp32, "single": fp32, "f4": fp32, "f": fp32,
    "float64": fp64, "f64": fp64, "double": fp64, "f8": fp64, "d": fp64, "float": fp64,
    "int8": int8, "i8": int8, "i1": int8, "b": int8,
    "int16": int16, "i16": int16, "i2": int16, "h": int16,
    "int32": int32, "i32": int32, "i4": int32,
    "int64": int64, "i64": int64, "int": int64, "i": int64, "l": int64,
    "uint8": uint8, "u8": uint8, "u1": uint8, "B": uint8,
    "uint16": uint16, "u16": uint16, "u2": uint16, "H": uint16,
    "uint32": uint32, "u32": uint32, "u4": uint32, "I": uint32,
    "uint64": uint64, "u64": uint64, "L": uint64,
    "complex64": complex64, "c64": complex64, "c8": complex64, "F": complex64,
    "complex128": complex128, "c128": complex128, "c16": complex128, "D": complex128,
    "complex": complex128,
    "bool": bool_, "bool_": bool_, "?": bool_,
}
_PY_TYPES = {bool: bool_, int: int64, float: fp64, complex: complex128}


def dtype(obj: Any) -> DType:
    """Parse anything that names a dtype into a :class:`DType`.

    Accepts DTypes, :class:`DataPrecision`, strings (``"fp16"``, ``"float16"``,
    ``"f16"``, ``"half"``, ``"bf16"``...), numpy dtypes and scalar types, Python
    ``bool/int/float``, ``ml_dtypes.bfloat16`` and torch dtypes (by name, without
    importing torch).

    Raises:
        UnsupportedPrecision: the object names no dtype LangOne supports.
    """
    if isinstance(obj, DType):
        return obj
    if isinstance(obj, DataPrecision):
        return _BY_NAME[obj.value]
    if isinstance(obj, str):
        key = obj.strip()
        key = key[6:] if key.startswith("torch.") else key
        low = key.lower()
        found = (_BY_NAME.get(key) or _ALIASES.get(key) or _BY_NAME.get(low)
                 or _ALIASES.get(low))
        if found is None:
            raise _unsupported(obj)
        return found
    if obj in _PY_TYPES:
        return _PY_TYPES[obj]
    mod = type(obj).__module__
    if mod == "torch":                      # torch.float16 etc., no import needed
        return dtype(str(obj))
    try:
        npd = np.dtype(obj)
    except TypeError:
        raise _unsupported(obj) from None
    return _from_numpy(npd)


@lru_cache(maxsize=64)
def _from_numpy(npd: np.dtype) -> DType:
    if npd.name == "bfloat16":
        return bf16
    if npd.byteorder not in "=|" and npd.byteorder != _NATIVE:
        raise UnsupportedPrecision(
            f"byte-swapped dtype {npd!r} is not supported; convert with "
            f"arr.astype(arr.dtype.newbyteorder('='))")
    found = _BY_NAME.get({"float16": "fp16", "float32": "fp32",
                          "float64": "fp64"}.get(npd.name, npd.name))
    if found is None:
        raise _unsupported(npd)
    return found


_NATIVE = "<" if np.little_endian else ">"


def _unsupported(obj: Any) -> UnsupportedPrecision:
    names = ", ".join(d.name for d in ALL_DTYPES)
    return UnsupportedPrecision(
        f"unsupported dtype {obj!r}; LangOne supports {names} "
        f"(aliases such as 'float16', 'f16', 'half', 'bfloat16' also work)")


# --- promotion (NEP 50) -------------------------------------------------------

def _join(a: DType, b: DType) -> DType:
    """Promotion of two *strong* dtypes, as NumPy 2 (bf16 as ml_dtypes does)."""
    if a is b:
        return a
    if bf16 in (a, b):
        other = b if a is bf16 else a
        if other.kind == "b" or other in (int8, uint8):
            return bf16
        if other in (fp16, int16):
            return fp32
        if other in (int32, int64, uint32, uint64):
            return fp64
        if other is uint16:
            return fp32
        return other if other.kind in "fc" else fp64    # fp32, fp64, complex
    return _from_numpy(np.promote_types(a.numpy, b.numpy))


def _weak_join(strong: DType, value: Any) -> DType:
    """A Python scalar takes the strong operand's type unless its kind is higher."""
    if isinstance(value, bool):
        return strong
    if isinstance(value, int):
        return strong if strong.kind in "iufc" else int64
    if isinstance(value, float):
        return strong if strong.kind in "fc" else fp64
    if isinstance(value, complex):
        if strong.is_complex:
            return strong
        return complex64 if strong in (fp16, bf16, fp32) else complex128
    raise UnsupportedPrecision(
        f"cannot promote {type(value).__name__} {value!r}: LangOne scalars are "
        f"bool, int, float or complex")


def is_weak_scalar(x: Any) -> bool:
    """Python ``bool``/``int``/``float``/``complex`` (not numpy scalars) are weakly typed."""
    return type(x) in (bool, int, float, complex)


def result_type(*args: Any) -> DType:
    """The NumPy 2 (NEP 50) result type of combining ``args``.

    ``args`` may be dtypes (anything :func:`dtype` accepts), arrays/tensors
    (anything with a ``.dtype``), numpy scalars (strong) or Python scalars
    (weak). Only weak scalars give the type of their kind's default.

    Raises:
        UnsupportedPrecision: no arguments, or an unsupported type among them.
    """
    strong: DType | None = None
    weak: list[Any] = []
    for a in args:
        if is_weak_scalar(a):
            weak.append(a)
            continue
        d = dtype(a.dtype) if hasattr(a, "dtype") else dtype(a)
        strong = d if strong is None else _join(strong, d)
    if strong is None:
        if not weak:
            raise UnsupportedPrecision("result_type() needs at least one argument")
        kinds = {type(w) for w in weak}
        return (complex128 if complex in kinds else fp64 if float in kinds
                else int64 if int in kinds else bool_)
    for w in weak:
        strong = _weak_join(strong, w)
    return strong


def can_cast(from_: Any, to: Any, casting: str = "safe") -> bool:
    """Whether ``from_`` converts to ``to`` without loss (numpy's ``can_cast``)."""
    a, b = dtype(from_), dtype(to)
    if casting == "safe" and (a is bf16 or b is bf16):
        return a is b or _join(a, b) is b
    return bool(np.can_cast(a.numpy, b.numpy, casting=casting))


def accumulator_type(d: Any) -> DType:
    """The type a reduction over ``d`` accumulates in: floats >= fp32, ints int64,
    complex as it is. uint64 stays uint64: int64 cannot hold it, and NumPy 2
    computes ``int64 + uint64`` in fp64 (its own ``sum`` of uint64 is uint64)."""
    d = dtype(d)
    if d.is_complex or d is uint64:
        return d
    if d.is_floating:
        return fp64 if d is fp64 else fp32
    return int64


# --- finfo / iinfo --------------------------------------------------------------

def finfo(d: Any):
    """Machine limits of a float dtype, or of a complex dtype's parts
    (``bits eps max min smallest_normal``)."""
    d = dtype(d).real
    if not d.is_floating:
        raise UnsupportedPrecision(f"finfo needs a floating dtype, got {d.name}; "
                                   f"use lo.iinfo for integers")
    if d is bf16:
        import ml_dtypes
        return ml_dtypes.finfo(ml_dtypes.bfloat16)
    return np.finfo(d.numpy)


def iinfo(d: Any) -> np.iinfo:
    """Machine limits of an integer dtype (``bits min max``)."""
    d = dtype(d)
    if not d.is_integer:
        raise UnsupportedPrecision(f"iinfo needs an integer dtype, got {d.name}; "
                                   f"use lo.finfo for floats")
    return np.iinfo(d.numpy)


# Array API / numpy spellings of the same singletons.
float16, bfloat16, float32, float64 = fp16, bf16, fp32, fp64

__all__ = ["DataPrecision", "DType", "dtype", "result_type", "can_cast",
           "accumulator_type", "finfo", "iinfo", "is_weak_scalar",
           "fp16", "bf16", "fp32", "fp64", "int8", "int16", "int32", "int64",
           "uint8", "uint16", "uint32", "uint64", "complex64", "complex128",
           "bool_", "float16", "bfloat16", "float32", "float64",
           "ALL_DTYPES", "FLOAT_DTYPES", "INT_DTYPES", "COMPLEX_DTYPES"]
