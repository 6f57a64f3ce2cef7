"""dtypes: parsing, numpy mapping, NEP 50 promotion against numpy, finfo/iinfo."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import langone as lo
from langone import dtypes
from langone.errors import UnsupportedPrecision

NUMPY_NATIVE = [d for d in dtypes.ALL_DTYPES if d is not lo.bf16]


@pytest.mark.parametrize("spelling,expected", [
    ("fp16", lo.fp16), ("float16", lo.fp16), ("f16", lo.fp16), ("half", lo.fp16),
    ("bf16", lo.bf16), ("bfloat16", lo.bf16), ("fp32", lo.fp32), ("float32", lo.fp32),
    ("f32", lo.fp32), ("FP64", lo.fp64), ("double", lo.fp64), ("int8", lo.int8),
    ("i16", lo.int16), ("int32", lo.int32), ("int64", lo.int64), ("uint8", lo.uint8),
    ("bool", lo.bool_), ("torch.float16", lo.fp16), (np.float32, lo.fp32),
    (np.dtype("int16"), lo.int16), (float, lo.fp64), (int, lo.int64), (bool, lo.bool_),
    (lo.DataPrecision.BF16, lo.bf16), (lo.fp16, lo.fp16), ("uint16", lo.uint16),
    ("u32", lo.uint32), (np.uint64, lo.uint64), ("complex64", lo.complex64), ("c128", lo.complex128),
    (complex, lo.complex128), (np.dtype("complex64"), lo.complex64),
])
def test_parse(spelling, expected):
    assert lo.dtype(spelling) is expected


def test_bf16_maps_through_ml_dtypes():
    import ml_dtypes
    assert lo.bf16.numpy == np.dtype(ml_dtypes.bfloat16)
    assert lo.dtype(ml_dtypes.bfloat16) is lo.bf16
    assert lo.dtype(np.zeros(2, ml_dtypes.bfloat16).dtype) is lo.bf16


@pytest.mark.parametrize("bad", ["float8", "complex32", np.str_, object, 3.5, "int4"])
def test_parse_rejects_with_the_supported_list(bad):
    with pytest.raises(UnsupportedPrecision, match=r"unsupported dtype .*supports bool.*fp16.*bf16"):
        lo.dtype(bad)


def test_byteswapped_is_refused_with_advice():
    with pytest.raises(UnsupportedPrecision, match="newbyteorder"):
        lo.dtype(np.dtype(">f4" if np.little_endian else "<f4"))


def test_itemsize_and_kinds():
    assert [d.itemsize for d in (lo.fp16, lo.bf16, lo.fp32, lo.fp64)] == [2, 2, 4, 8]
    assert [d.itemsize for d in (lo.int8, lo.int16, lo.int32, lo.int64)] == [1, 2, 4, 8]
    assert lo.fp16.is_floating and not lo.int8.is_floating and lo.uint8.is_integer
    assert not lo.uint8.is_signed and lo.int8.is_signed and lo.bool_.is_bool
    for d in NUMPY_NATIVE:
        assert d.numpy.itemsize == d.itemsize


def test_equality_with_names_and_numpy():
    assert lo.fp32 == "float32" and lo.fp32 == np.float32 and lo.fp32 != "fp16"
    assert lo.fp32 != "not a dtype"
    assert len({lo.fp32, lo.dtype("f32")}) == 1


def test_cast_by_calling():
    assert lo.int8(300) == np.int8(44)
    assert lo.fp16(1.0).dtype == np.float16


strong = st.sampled_from(NUMPY_NATIVE)
weak = st.one_of(st.booleans(), st.integers(-100, 100), st.floats(-1e3, 1e3, allow_nan=False),
                 st.complex_numbers(max_magnitude=1e3, allow_nan=False))


@given(strong, strong)
def test_promotion_of_two_dtypes_matches_numpy(a, b):
    assert lo.result_type(a, b).numpy == np.result_type(a.numpy, b.numpy)


@given(strong, weak)
def test_weak_python_scalars_match_numpy_nep50(a, w):
    expected = np.result_type(a.numpy, w)
    assert lo.result_type(a, w).numpy == expected


@given(st.lists(st.one_of(strong, weak), min_size=1, max_size=4))
def test_result_type_of_many_matches_numpy(args):
    np_args = [a.numpy if isinstance(a, lo.DType) else a for a in args]
    if not any(isinstance(a, lo.DType) for a in args):
        np_args = [np.asarray(a) for a in args]   # numpy: all-weak means default types
    assert lo.result_type(*args).numpy == np.result_type(*np_args)


def test_bf16_promotion_follows_ml_dtypes():
    import ml_dtypes
    bf = ml_dtypes.bfloat16
    for other in (lo.fp16, lo.fp32, lo.fp64, lo.int8, lo.uint8, lo.bool_, lo.int16,
                  lo.uint16, lo.uint32, lo.uint64, lo.int32, lo.int64, lo.complex64,
                  lo.complex128):
        got = lo.result_type(lo.bf16, other)
        expected = (np.zeros(1, bf) + np.zeros(1, other.numpy)).dtype
        assert got.numpy == expected, other
    assert lo.result_type(lo.bf16, 2.5) is lo.bf16 and lo.result_type(lo.bf16, 3) is lo.bf16


def test_result_type_needs_arguments():
    with pytest.raises(UnsupportedPrecision, match="at least one"):
        lo.result_type()


def test_accumulator_types():
    assert dtypes.accumulator_type(lo.fp16) is lo.fp32
    assert dtypes.accumulator_type(lo.bf16) is lo.fp32
    assert dtypes.accumulator_type(lo.fp64) is lo.fp64
    assert dtypes.accumulator_type(lo.int8) is lo.int64
    assert dtypes.accumulator_type(lo.uint32) is lo.int64
    assert dtypes.accumulator_type(lo.uint64) is lo.uint64    # int64 + uint64 is fp64
    assert dtypes.accumulator_type(lo.complex64) is lo.complex64


def test_complex_parts_and_kinds():
    assert lo.complex64.real is lo.fp32 and lo.complex128.real is lo.fp64
    assert lo.fp16.real is lo.fp16 and lo.complex64.is_complex and not lo.fp32.is_complex
    assert lo.finfo(lo.complex64).bits == 32 and lo.result_type(lo.fp32, 1j) is lo.complex64
    assert lo.result_type(lo.int8, 1j) is lo.complex128 and lo.result_type(1j, 2.0) is lo.complex128
    assert lo.uint16.is_integer and not lo.uint64.is_signed


def test_finfo_iinfo():
    assert lo.finfo(lo.fp16).bits == 16 and lo.finfo("bf16").bits == 16
    assert float(lo.finfo(lo.bf16).eps) == 2.0 ** -7
    assert lo.iinfo(lo.int8).min == -128 and lo.iinfo("int32").max == 2**31 - 1
    with pytest.raises(UnsupportedPrecision, match="lo.iinfo"):
        lo.finfo(lo.int8)
    with pytest.raises(UnsupportedPrecision, match="lo.finfo"):
        lo.iinfo(lo.fp32)


def test_can_cast():
    assert lo.can_cast(lo.int8, lo.fp16) and not lo.can_cast(lo.fp32, lo.fp16)
    assert lo.can_cast(lo.bf16, lo.fp32) and not lo.can_cast(lo.fp16, lo.bf16)
