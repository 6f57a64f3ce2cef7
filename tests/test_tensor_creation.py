"""Tensor creation: every creation function, copy/sharing semantics, defaults, errors."""

import importlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from langone import dtypes
from langone.errors import DeviceNotFound, UnsupportedPrecision

lt = importlib.import_module("langone.tensor")   # `langone.tensor` may be a function


def shares(t, arr) -> bool:
    return np.shares_memory(t.numpy(), arr)


# --- from data --------------------------------------------------------------------------

def test_tensor_from_list_uses_numpy_defaults():
    assert lt.tensor([1.0, 2.0]).dtype is dtypes.fp64
    assert lt.tensor([1, 2]).dtype is dtypes.int64
    assert lt.tensor([True, False]).dtype is dtypes.bool_
    assert lt.tensor([[1, 2], [3, 4]], dtype="fp16").tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_tensor_copies_numpy_data_into_the_pool():
    a = np.arange(4, dtype=np.float32)
    t = lt.tensor(a)
    assert not shares(t, a)
    t[0] = 9
    assert a[0] == 0
    assert t.dtype is dtypes.fp32 and t.is_contiguous


def test_tensor_copy_false_shares_or_refuses():
    a = np.arange(4, dtype=np.float32)
    assert shares(lt.tensor(a, copy=False), a)
    with pytest.raises(ValueError, match="copy=False"):
        lt.tensor(a, dtype="fp16", copy=False)


def test_asarray_shares_when_possible_and_copies_when_needed():
    a = np.arange(6.0).reshape(2, 3)
    t = lt.asarray(a)
    assert shares(t, a)
    t[1, 1] = -1
    assert a[1, 1] == -1
    assert not shares(lt.asarray(a, copy=True), a)
    converted = lt.asarray(a, dtype="fp32")
    assert converted.dtype is dtypes.fp32 and not shares(converted, a)
    with pytest.raises(ValueError, match="cannot become a fp32 tensor"):
        lt.asarray(a, dtype="fp32", copy=False)
    with pytest.raises(ValueError, match="copy=False"):
        lt.asarray([1, 2], copy=False)


def test_asarray_of_a_tensor():
    t = lt.arange(3)
    assert lt.asarray(t) is t
    assert lt.asarray(t, copy=True) is not t
    assert lt.asarray(t, dtype="fp32").dtype is dtypes.fp32
    with pytest.raises(ValueError, match="needs a copy"):
        lt.asarray(t, dtype="int8", copy=False)


def test_asarray_accepts_scalars_nested_tensors_and_array_objects():
    assert lt.asarray(3.5).shape == () and lt.asarray(3.5).item() == 3.5
    assert lt.asarray(np.float32(2)).dtype is dtypes.fp32
    assert lt.asarray([lt.ones(2), lt.zeros(2)]).tolist() == [[1.0, 1.0], [0.0, 0.0]]

    class HasArray:
        def __array__(self, dtype=None, copy=None):
            return np.arange(3, dtype=np.int16)
    assert lt.asarray(HasArray()).dtype is dtypes.int16


def test_unsupported_data_types_raise_unsupported_precision():
    with pytest.raises(UnsupportedPrecision, match=r"M8\[s\].*LangOne supports"):
        lt.asarray(np.ones(2, "datetime64[s]"))
    with pytest.raises(UnsupportedPrecision, match="LangOne supports"):
        lt.tensor([1, 2], dtype="float8")
    with pytest.raises(UnsupportedPrecision):
        lt.zeros(3, dtype="complex32")


def test_tensor_constructor_is_asarray():
    t = lt.Tensor([1, 2, 3], dtype="int8")
    assert isinstance(t, lt.Tensor) and t.dtype is dtypes.int8


def test_from_numpy_shares_memory_without_copy():
    a = np.arange(3.0)
    t = lt.from_numpy(a)
    t[1] = 7
    assert a.tolist() == [0.0, 7.0, 2.0]
    assert t.numpy() is a
    strided = lt.from_numpy(a[::2])
    assert strided.shape == (2,) and not strided.is_contiguous
    with pytest.raises(TypeError, match="numpy.ndarray"):
        lt.from_numpy([1, 2])
    with pytest.raises(UnsupportedPrecision, match="byte-swapped"):
        lt.from_numpy(np.arange(3, dtype=">i4"))


def test_from_dlpack_numpy_round_trip_shares_memory():
    a = np.arange(5, dtype=np.int32)
    t = lt.from_dlpack(a)
    assert shares(t, a) and t.dtype is dtypes.int32
    back = np.from_dlpack(t)
    assert np.shares_memory(back, a)
    with pytest.raises(TypeError, match="__dlpack__"):
        lt.from_dlpack([1, 2])


# --- from shapes -----------------------------------------------------------------------------

@pytest.mark.parametrize("fn,value", [(lt.zeros, 0), (lt.ones, 1)])
@pytest.mark.parametrize("dtype", ["fp16", "bf16", "fp32", "fp64", "int8", "uint8", "bool"])
def test_zeros_ones(fn, value, dtype):
    t = fn((2, 3), dtype=dtype)
    assert t.shape == (2, 3) and t.dtype is dtypes.dtype(dtype)
    assert (t.numpy().astype(np.float64) == value).all()


def test_empty_and_shape_spellings():
    assert lt.empty(4).shape == (4,)
    assert lt.empty((2, 0, 3)).size == 0
    assert lt.empty([2, 3], dtype="int32").dtype is dtypes.int32
    assert lt.empty(np.int64(3)).shape == (3,)
    assert lt.empty(()).shape == ()
    assert lt.empty(3).dtype is dtypes.fp64
    with pytest.raises(ValueError, match="negative dimension"):
        lt.empty((2, -1))
    with pytest.raises(TypeError, match="sequence of ints"):
        lt.empty((2.5,))


def test_full_infers_dtype_from_the_fill_value():
    assert lt.full(2, 7).dtype is dtypes.int64
    assert lt.full(2, 7.5).dtype is dtypes.fp64
    assert lt.full(2, True).dtype is dtypes.bool_
    assert lt.full((2, 2), 3, dtype="fp16").tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert lt.full(2, lt.asarray(4, dtype="int8")).dtype is dtypes.int8
    with pytest.raises(OverflowError):
        lt.full(2, 300, dtype="int8")


def test_like_functions_copy_shape_dtype_and_device():
    x = lt.ones((3, 2), dtype="fp16")
    for fn in (lt.empty_like, lt.zeros_like, lt.ones_like):
        y = fn(x)
        assert y.shape == x.shape and y.dtype is x.dtype and y.device == x.device
    assert lt.zeros_like(x, dtype="int8").dtype is dtypes.int8
    assert lt.full_like(x, 2.5).tolist() == [[2.5, 2.5]] * 3
    assert lt.ones_like(np.zeros(2, np.int16)).dtype is dtypes.int16


@given(start=st.integers(-50, 50), stop=st.integers(-50, 50), step=st.integers(-7, 7).filter(bool))
@settings(max_examples=40, deadline=None)
def test_arange_matches_numpy(start, stop, step):
    expected = np.arange(start, stop, step)
    got = lt.arange(start, stop, step)
    assert got.tolist() == expected.tolist() and got.dtype.numpy == expected.dtype


def test_arange_and_linspace_variants():
    assert lt.arange(4).tolist() == [0, 1, 2, 3]
    assert lt.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert lt.arange(3, dtype="fp32").dtype is dtypes.fp32
    assert lt.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert lt.linspace(0, 1, 4, endpoint=False).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert lt.linspace(0, 1, 3, dtype="bf16").dtype is dtypes.bf16


def test_eye_tril_triu_meshgrid():
    assert lt.eye(3, k=1).tolist() == np.eye(3, k=1).tolist()
    assert lt.eye(2, 4, k=-1, dtype="int8").tolist() == np.eye(2, 4, k=-1).tolist()
    assert lt.eye(2, k=5).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    m = np.arange(12.0).reshape(3, 4)
    assert lt.tril(lt.asarray(m), k=-1).tolist() == np.tril(m, k=-1).tolist()
    assert lt.triu(lt.asarray(m), k=1).tolist() == np.triu(m, k=1).tolist()
    batch = np.arange(18).reshape(2, 3, 3)
    assert lt.tril(lt.asarray(batch)).tolist() == np.tril(batch).tolist()
    gx, gy = lt.meshgrid(lt.arange(2), lt.arange(3))
    ex, ey = np.meshgrid(np.arange(2), np.arange(3))
    assert gx.tolist() == ex.tolist() and gy.tolist() == ey.tolist()
    gi, _ = lt.meshgrid(lt.arange(2), lt.arange(3), indexing="ij")
    assert gi.shape == (2, 3) and gi.is_contiguous


def test_cuda_device_without_a_gpu_raises_device_not_found():
    with pytest.raises(DeviceNotFound, match="cuda"):
        lt.zeros(3, device="cuda")
    with pytest.raises(DeviceNotFound, match="tpu"):
        lt.zeros(3, device="tpu")
