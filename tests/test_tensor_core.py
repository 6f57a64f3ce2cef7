"""Tensor basics: attributes, views sharing storage, indexing, conversions, repr, protocols."""

import copy
import importlib
import pickle

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import langone
from langone import dtypes
from langone.errors import DeviceNotFound, InvalidOperation, UnsupportedPrecision
from langone.tensor.devices import Device

lt = importlib.import_module("langone.tensor")
tensor_mod = importlib.import_module("langone.tensor.tensor")


def fake_cuda(arr):
    """A tensor that claims to live on cuda:0 (its data is host memory): enough to
    exercise device checks on a machine without a GPU."""
    return tensor_mod.wrap(np.asarray(arr), None, Device("cuda:0"))


# --- attributes ---------------------------------------------------------------------------

def test_attributes():
    t = lt.zeros((2, 3, 4), dtype="fp16")
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.size == 24
    assert t.dtype is dtypes.fp16 and t.itemsize == 2 and t.nbytes == 48
    assert t.strides == (24, 8, 2)                 # bytes, like numpy
    assert t.device == "cpu" and str(t.device) == "cpu"
    assert t.is_contiguous and not t.T.is_contiguous
    assert t.T.shape == (4, 3, 2) and t.mT.shape == (2, 4, 3)
    assert t.data_ptr() == t.numpy().ctypes.data
    assert t.data_ptr() % 64 == 0                  # pool blocks are 64-byte aligned
    assert len(t) == 2 and [s.shape for s in t] == [(3, 4), (3, 4)]


def test_zero_d_tensor_behaves_like_a_scalar():
    s = lt.asarray(3, dtype="int32")
    assert s.shape == () and int(s) == 3 and float(s) == 3.0 and bool(s)
    assert [10, 20, 30, 40][s] == 40               # __index__
    assert f"{lt.asarray(3.14159):.2f}" == "3.14"
    with pytest.raises(TypeError, match="0-d"):
        len(s)
    with pytest.raises(TypeError, match="0-d"):
        iter(s)
    with pytest.raises(TypeError, match="integer"):
        [1, 2][lt.asarray(1.0)]
    with pytest.raises(ValueError, match="ambiguous"):
        bool(lt.ones(2))
    with pytest.raises(ValueError, match="one element"):
        lt.ones(2).item()


def test_mT_needs_two_dimensions():
    with pytest.raises(lt.ShapeMismatch, match=r"at least 2 dimensions.*\(3,\)"):
        lt.ones(3).mT


# --- views share storage ---------------------------------------------------------------------

def test_basic_indexing_returns_views_that_write_through():
    base = lt.zeros((4, 5))
    view = base[1:3, ::2]
    view[...] = 7
    assert base.numpy()[1:3, ::2].tolist() == [[7.0] * 3] * 2
    assert base[0, 0].shape == ()                   # a 0-d view, not a numpy scalar
    base[3][4] = 9                                  # chained indexing writes through
    assert base.numpy()[3, 4] == 9
    row = base[2]
    row[0] = -1
    assert base.numpy()[2, 0] == -1


@pytest.mark.parametrize("key", [
    (slice(None, None, -1),), (Ellipsis, 1), (None, slice(1, 3)), (slice(3, 0, -2), None),
    (1, Ellipsis, None), (slice(-2, None),), (-1, slice(None, None, 3)),
])
def test_basic_indexing_matches_numpy(key):
    a = np.arange(60.0).reshape(4, 15)
    t = lt.asarray(a)
    got = t[key]
    assert got.tolist() == a[key].tolist()
    assert np.shares_memory(got.numpy(), a)


def test_views_of_views_and_strided_tensors():
    base = lt.arange(24, dtype="int32").reshape(2, 3, 4)
    v = base.permute_dims((2, 0, 1))[::2, :, 1:]
    assert v.shape == (2, 2, 2) and not v.is_contiguous
    assert v.strides == (8, 48, 16)
    v[...] = 0
    assert base.numpy()[:, 1:, ::2].sum() == 0
    assert base.numpy().sum() == sum(range(24)) - (4 + 6 + 8 + 10 + 16 + 18 + 20 + 22)


def test_reshape_is_a_view_when_possible_and_a_copy_otherwise():
    x = lt.arange(6)
    v = x.reshape(2, 3)
    v[0, 0] = 100
    assert x.numpy()[0] == 100
    assert x.reshape((3, -1)).shape == (3, 2)
    t = v.T                                          # strides forbid a view
    flat = t.reshape(-1)
    assert flat.tolist() == [100, 3, 1, 4, 2, 5]
    assert not np.shares_memory(flat.numpy(), x.numpy()) and flat.is_contiguous
    with pytest.raises(ValueError, match="needs a copy"):
        lt.reshape(t, (6,), copy=False)
    assert not np.shares_memory(lt.reshape(x, (6,), copy=True).numpy(), x.numpy())
    with pytest.raises(lt.ShapeMismatch, match=r"shape \(6,\) \(6 elements\) into shape \(4, -1\)"):
        x.reshape(4, -1)
    with pytest.raises(lt.ShapeMismatch, match="into shape"):
        x.reshape(7)


def test_transpose_squeeze_expand_flatten_views():
    x = lt.zeros((1, 3, 1))
    assert x.squeeze().shape == (3,) and x.squeeze(0).shape == (3, 1)
    assert x.expand_dims(0).shape == (1, 1, 3, 1)
    assert lt.expand_dims(x, axis=(0, 4)).shape == (1, 1, 3, 1, 1)
    with pytest.raises(lt.ShapeMismatch, match="size 1"):
        x.squeeze(1)
    y = lt.arange(6).reshape(2, 3)
    assert y.transpose().shape == (3, 2) and y.transpose(1, 0).shape == (3, 2)
    assert lt.matrix_transpose(y).tolist() == [[0, 3], [1, 4], [2, 5]]
    f = y.flatten()
    f[5] = 50
    assert y.numpy()[1, 2] == 50                     # flatten is a view when it can be
    with pytest.raises(lt.ShapeMismatch, match="not a permutation"):
        lt.permute_dims(y, (0, 0))
    for view in (lt.flip(y, axis=1), lt.moveaxis(y, 0, 1), *lt.unstack(y)):
        assert np.shares_memory(view.numpy(), y.numpy())


def test_view_dtype_reinterprets_bytes():
    x = lt.ones(4, dtype="bf16")
    bits = x.view("uint8")
    assert bits.shape == (8,) and bits.tolist()[:2] == [128, 63]   # 0x3F80 little-endian
    with pytest.raises(lt.ShapeMismatch, match="cannot view"):
        lt.ones(3, dtype="uint8").view("fp32")


# --- advanced indexing and assignment ---------------------------------------------------------------

def test_advanced_indexing_returns_copies():
    a = np.arange(10.0)
    t = lt.asarray(a)
    picked = t[lt.asarray([1, 3, 3])]
    assert picked.tolist() == [1.0, 3.0, 3.0]
    picked[0] = -5
    assert a[1] == 1.0
    masked = t[t > 6]
    assert masked.tolist() == [7.0, 8.0, 9.0] and not np.shares_memory(masked.numpy(), a)
    assert t[[0, -1]].tolist() == [0.0, 9.0]
    m = lt.arange(12).reshape(3, 4)
    assert m[lt.asarray([2, 0]), 1:3].tolist() == [[9, 10], [1, 2]]


def test_setitem_broadcasts_casts_and_reports_shape_errors():
    t = lt.zeros((2, 3), dtype="int32")
    t[0] = lt.asarray([1, 2, 3])
    t[1, :] = 7
    t[t == 7] = 8
    t[:, 0] = np.array([5, 6])
    assert t.tolist() == [[5, 2, 3], [6, 8, 8]]
    with pytest.raises(lt.ShapeMismatch, match=r"\(4,\) and \(3,\)"):
        t[0] = lt.ones(4)
    ro = lt.broadcast_to(lt.ones(3), (2, 3))
    with pytest.raises(InvalidOperation, match="read-only"):
        ro[0, 0] = 1


@given(hnp.arrays(np.float32, hnp.array_shapes(max_dims=3, max_side=5),
                  elements=st.floats(-100, 100, width=32)), st.data())
@settings(max_examples=60, deadline=None)
def test_random_basic_indexing_matches_numpy(arr, data):
    key = data.draw(hnp.basic_indices(arr.shape, allow_newaxis=True))
    t = lt.asarray(arr)
    expected = arr[key]
    got = t[key]
    assert got.shape == np.shape(expected)
    np.testing.assert_array_equal(got.numpy(), expected)
    if isinstance(expected, np.ndarray) and expected.size:
        assert np.shares_memory(got.numpy(), arr)


# --- conversions -------------------------------------------------------------------------------

def test_numpy_and_array_protocol():
    t = lt.arange(4, dtype="fp32")
    assert np.shares_memory(t.numpy(), t.numpy())
    assert np.asarray(t) is t.numpy()
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert not np.shares_memory(np.array(t, copy=True), t.numpy())
    with pytest.raises(ValueError, match="copy=False"):
        t.__array__(dtype=np.float64, copy=False)


def test_astype_copy_and_to():
    t = lt.asarray([1.7, -1.7, 2.5])
    assert t.astype("int32").tolist() == [1, -1, 2]
    assert t.astype("fp64", copy=False) is t
    assert t.astype("fp64") is not t
    assert lt.astype(t, "fp16").dtype is dtypes.fp16
    c = t.copy()
    c[0] = 0
    assert t.numpy()[0] == 1.7
    assert copy.copy(t) is not t and copy.deepcopy(t).tolist() == t.tolist()
    assert t.to("cpu") is t and t.cpu() is t and t.to_device("cpu") is t
    assert t.to("cpu", copy=True) is not t
    assert t.to("fp32").dtype is dtypes.fp32 and t.to(dtype="bf16").dtype is dtypes.bf16
    with pytest.raises(UnsupportedPrecision):
        t.astype("complex32")
    assert t.astype("complex64").dtype is dtypes.complex64


def test_to_cuda_without_a_gpu_raises_device_not_found():
    with pytest.raises(DeviceNotFound, match="cuda:0 is not available"):
        lt.ones(2).to("cuda")
    with pytest.raises(DeviceNotFound):
        lt.ones(2).cuda()
    with pytest.raises(DeviceNotFound, match="gpu7"):
        lt.ones(2).to("gpu7")


def test_bf16_and_fp16_round_trip():
    values = [0.0, 1.0, -2.5, 1024.0, 3.140625]
    for name in ("fp16", "bf16"):
        t = lt.asarray(values).astype(name)
        assert t.dtype.name == name and t.itemsize == 2
        assert t.astype("fp64").tolist() == values     # all exactly representable
    assert lt.asarray([1.0 + 2 ** -10]).astype("bf16").tolist() == [1.0]  # bf16 has 8 bits


def test_tolist_item_and_pickle():
    t = lt.asarray([[1, 2], [3, 4]], dtype="int16")
    assert t.tolist() == [[1, 2], [3, 4]] and t[1, 0].item() == 3
    assert lt.ones(2, dtype="bf16").tolist() == [1.0, 1.0]
    back = pickle.loads(pickle.dumps(t))
    assert back.tolist() == t.tolist() and back.dtype is dtypes.int16


def test_iteration_yields_views():
    t = lt.zeros((3, 2))
    for i, row in enumerate(t):
        row[:] = i
    assert t.tolist() == [[0, 0], [1, 1], [2, 2]]


# --- repr ---------------------------------------------------------------------------------------

def test_repr():
    assert repr(lt.tensor([1.0, 2.0, 3.0], dtype="fp32")) == \
        "tensor([1., 2., 3.], dtype=fp32, device='cpu')"
    assert repr(lt.zeros((2, 2), dtype="int8")) == \
        "tensor([[0, 0],\n        [0, 0]], dtype=int8, device='cpu')"
    assert repr(lt.ones(2, dtype="bf16")) == "tensor([1., 1.], dtype=bf16, device='cpu')"
    assert repr(lt.asarray(True)) == "tensor(True, dtype=bool, device='cpu')"
    big = repr(lt.arange(5000))
    assert "..." in big and big.endswith("shape=(5000,), dtype=int64, device='cpu')")
    assert str(lt.ones(1)) == repr(lt.ones(1))


# --- protocols -------------------------------------------------------------------------------------

def test_array_namespace_is_langone():
    t = lt.ones(2)
    assert t.__array_namespace__() is langone
    assert t.__array_namespace__(api_version="2024.12") is langone
    with pytest.raises(ValueError, match="2024.12"):
        t.__array_namespace__(api_version="1999.01")


def test_dlpack_device():
    assert lt.ones(2).__dlpack_device__() == (1, 0)
    assert fake_cuda([1.0]).__dlpack_device__() == (2, 0)


def test_tensors_are_unhashable_like_numpy_arrays():
    with pytest.raises(TypeError):
        hash(lt.ones(2))


def test_device_mismatch_names_both_devices_and_suggests_to():
    gpu = fake_cuda(np.ones(3))
    with pytest.raises(lt.DeviceMismatch, match=r"cpu and cuda:0.*\.to\("):
        lt.ones(3) + gpu
    with pytest.raises(lt.DeviceMismatch, match=r"cuda:0.*\.cpu\(\)\.numpy\(\)"):
        gpu.numpy()
    with pytest.raises(lt.DeviceMismatch, match="cuda:0"):
        lt.ones(3)[fake_cuda(np.array([0]))]
