"""int8 quantization properties and automatic precision selection."""

import importlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from langone import dtypes
from langone.errors import InvalidOperation, UnsupportedPrecision

lt = importlib.import_module("langone.tensor")

finite_floats = st.floats(-1e4, 1e4, allow_nan=False, width=32)
shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6)


def scale_per_element(q, shape):
    scale = q.scale.numpy()
    if q.axis is None:
        return np.broadcast_to(scale, shape)
    expand = [1] * len(shape)
    expand[q.axis] = shape[q.axis]
    return np.broadcast_to(scale.reshape(expand), shape)


@given(hnp.arrays(np.float32, shapes, elements=finite_floats), st.data(),
       st.sampled_from(["int8", "int16"]))
@settings(max_examples=120, deadline=None)
def test_error_is_at_most_half_a_scale_step(arr, data, qdtype):
    axis = data.draw(st.one_of(st.none(), st.integers(-arr.ndim, arr.ndim - 1)))
    q = lt.quantize(arr, dtype=qdtype, axis=axis)
    qmax = np.iinfo(qdtype).max
    assert q.values.dtype.name == qdtype and q.zero_point == 0
    assert np.abs(q.values.numpy().astype(np.int64)).max() <= qmax
    err = np.abs(arr.astype(np.float64) - q.dequantize("fp64").numpy())
    bound = scale_per_element(q, arr.shape) / 2
    # x / scale is rounded to fp32 before it is rounded to an integer: that can move a
    # value just past half a step by up to |x| * eps32 / 2 (int16's large quotients show
    # it: x = 5007.111 misses scale / 2 by 8e-5), plus fp32 rounding of q * scale.
    slack = np.abs(arr.astype(np.float64)) * np.finfo(np.float32).eps * 2
    assert (err <= bound * (1 + 1e-5) + slack + 1e-30).all()


@given(hnp.arrays(np.float64, shapes, elements=st.floats(-10, 10)))
@settings(max_examples=60, deadline=None)
def test_largest_magnitude_maps_to_qmax(arr):
    q = lt.quantize(arr)
    if np.abs(arr).max() > 0:
        assert np.abs(q.values.numpy()).max() == 127
        assert q.scale.item() == pytest.approx(np.abs(arr).max() / 127)


def test_per_channel_scales_follow_the_axis():
    w = np.array([[0.5, -1.0, 0.25], [20.0, 10.0, -5.0]], dtype=np.float32)
    q = lt.quantize(w, axis=0)
    assert q.scale.shape == (2,) and q.axis == 0
    assert q.scale.tolist() == pytest.approx([1.0 / 127, 20.0 / 127])
    assert q.values.tolist() == [[64, -127, 32], [127, 64, -32]]
    cols = lt.quantize(w, axis=-1)
    assert cols.axis == 1 and cols.scale.shape == (3,)
    assert q.dequantize().dtype is dtypes.fp32
    assert q.nbytes == 6 + 2 * 4
    assert "per-channel along axis 0" in repr(q)


def test_zero_channels_and_half_inputs():
    q = lt.quantize(np.zeros((2, 3)), axis=0)
    assert q.values.tolist() == [[0] * 3] * 2 and q.dequantize().tolist() == [[0.0] * 3] * 2
    h = lt.asarray([127.0, -64.0, 3.0], dtype="bf16")      # scale 1: exact
    qh = lt.quantize(h)
    assert qh.dequantize().dtype is dtypes.bf16 and qh.orig_dtype is dtypes.bf16
    assert qh.dequantize().tolist() == [127.0, -64.0, 3.0]


def test_quantize_errors():
    with pytest.raises(UnsupportedPrecision, match=r"int8 and int16, got fp16.*astype"):
        lt.quantize(lt.ones(3), dtype="fp16")
    with pytest.raises(InvalidOperation, match=r"2 non-finite value\(s\)"):
        lt.quantize(lt.asarray([1.0, np.nan, np.inf]))


def test_optimize_precision_picks_the_smallest_within_tolerance():
    rng = np.random.default_rng(1)
    x = lt.asarray(rng.normal(size=(64, 64)).astype(np.float32))
    q, report = lt.optimize_precision(x, tolerance=1e-2)
    assert report.chosen == "int8" and isinstance(q, lt.QuantizedTensor)
    assert report.within_tolerance and report.errors["int8"] <= 1e-2
    assert report.compression == pytest.approx(x.nbytes / (x.size + 4))
    h, report = lt.optimize_precision(x, tolerance=1e-3)
    assert report.chosen == "fp16" and h.dtype is dtypes.fp16  # fp16 beats bf16 on accuracy
    assert report.errors["fp16"] < report.errors["bf16"] <= 1e-2
    same, report = lt.optimize_precision(x, tolerance=0.0)
    assert report.chosen == "fp32" and same.dtype is dtypes.fp32
    text = str(report)
    assert "<- chosen" in text and "int8" in text


def test_optimize_precision_rejects_fp16_overflow_and_reports_failure():
    big = lt.asarray([1e6, -3e5, 1.0], dtype="fp32")
    out, report = lt.optimize_precision(big, tolerance=1e-2, candidates=("fp16", "bf16"))
    assert report.errors["fp16"] == float("inf") and report.chosen == "bf16"
    kept, report = lt.optimize_precision(big, tolerance=1e-9, candidates=("int8", "fp16"))
    assert kept is big and not report.within_tolerance and report.chosen == "fp32"
    assert "no candidate within max error 1e-09; kept fp32" in str(report)
    _, rms = lt.optimize_precision(big, candidates=("int8",), metric="rms")
    assert rms.metric == "rms"
    with pytest.raises(ValueError, match="'max' or 'rms'"):
        lt.optimize_precision(big, metric="mean")
    with pytest.raises(UnsupportedPrecision, match="candidates"):
        lt.optimize_precision(big, candidates=("uint8",))
