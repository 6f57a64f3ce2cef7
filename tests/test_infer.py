"""lo.infer / load_model: sources, inputs and outputs, errors, caches, devices, precisions.

Every model is built here (test_infer_models) and saved both ways: OpenVINO IR
(.xml/.bin) and ONNX (file and bytes). Results are checked against numpy.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import types

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

ov = pytest.importorskip("openvino")
pytest.importorskip("onnx")

import langone as lo  # noqa: E402
import langone.infer as li  # noqa: E402
from langone.errors import DeviceNotFound, InvalidOperation, UnsupportedPrecision  # noqa: E402
from langone.infer import InferenceInputError, LoadedModel, ModelLoadError, Outputs  # noqa: E402
from langone.infer import api as api_mod  # noqa: E402
from langone.tensor.tensor import Tensor, wrap  # noqa: E402
from test_infer_models import (mlp_reference, mlp_weights, onnx_mlp, ov_bf16_io,  # noqa: E402
                               ov_mlp, ov_two_io, save_ir)

W = mlp_weights()
RNG = np.random.default_rng(7)
X1 = RNG.standard_normal((1, 16)).astype(np.float32)


def close(y, x, rtol=1e-5):
    y = y.numpy() if isinstance(y, Tensor) else y
    np.testing.assert_allclose(y, mlp_reference(x, W), rtol=rtol, atol=rtol)


@pytest.fixture(scope="module")
def ir_path(tmp_path_factory):
    return save_ir(ov_mlp(batch=1, weights=W), tmp_path_factory.mktemp("ir") / "mlp.xml")


@pytest.fixture(scope="module")
def onnx_bytes():
    return onnx_mlp(W).SerializeToString()


@pytest.fixture(scope="module")
def onnx_path(tmp_path_factory, onnx_bytes):
    path = tmp_path_factory.mktemp("onnx") / "mlp.onnx"
    path.write_bytes(onnx_bytes)
    return path


@pytest.fixture(scope="module")
def mlp(ir_path):
    return li.load_model(ir_path, device="CPU")


# --- sources -------------------------------------------------------------------------------------

def test_ir_file_loads_by_str_and_path_and_matches_numpy(ir_path):
    for source in (ir_path, str(ir_path)):
        m = li.load_model(source, device="CPU")
        close(m(X1), X1)
    assert li.load_model(ir_path).inputs[0].describe() == "x: f32[1,16]"


def test_onnx_file_and_bytes_load_and_run_any_batch(onnx_path, onnx_bytes):
    for source in (onnx_path, onnx_bytes, bytearray(onnx_bytes), io.BytesIO(onnx_bytes)):
        m = li.load_model(source)
        assert m.inputs[0].shape == (None, 16)
        assert m.name == ("mlp" if source is onnx_path else "onnx_mlp")
        for n in (1, 5):
            x = RNG.standard_normal((n, 16)).astype(np.float32)
            close(m(x), x)


def test_ov_model_object_is_a_source():
    m = li.load_model(ov_mlp(batch=2, weights=W))
    x = RNG.standard_normal((2, 16)).astype(np.float32)
    close(m(x), x)


def test_ir_bytes_need_their_weights(ir_path):
    xml, weights = ir_path.read_bytes(), ir_path.with_suffix(".bin").read_bytes()
    close(li.load_model(xml, weights=weights)(X1), X1)
    close(li.load_model(xml, weights=ir_path.with_suffix(".bin"))(X1), X1)
    with pytest.raises(ModelLoadError, match=r"OpenVINO IR model from .* bytes.*weights="):
        li.load_model(xml)


def test_format_comes_from_content_not_suffix(tmp_path, ir_path, onnx_bytes):
    disguised = tmp_path / "model.bin.dat"
    disguised.write_bytes(onnx_bytes)
    close(li.load_model(disguised)(X1), X1)
    ir_txt = tmp_path / "net.txt"
    ir_txt.write_bytes(ir_path.read_bytes())
    ir_txt.with_suffix(".bin").write_bytes(ir_path.with_suffix(".bin").read_bytes())
    close(li.load_model(ir_txt)(X1), X1)


@pytest.mark.parametrize("head, fmt", [
    (b'<?xml version="1.0"?>\n<net name="m">', "ir"), (b"  \n<net name='m'>", "ir"),
    (b"\xef\xbb\xbf<?xml", "ir"), (bytes([8, 7, 18, 3]) + b"pt", "onnx"),
    (b"\x1c\x00\x00\x00TFL3\x00", "tflite"), (b"\x00\x01\x02\x03\x04", "unknown")])
def test_sniff_format(head, fmt):
    assert li.sniff_format(head) == fmt


@given(st.binary(max_size=64))
def test_sniff_format_prefers_content_over_suffix(tail):
    assert li.sniff_format(b"<?xml" + tail, ".onnx") == "ir"
    fmt = li.sniff_format(tail, ".onnx")
    assert fmt in ("ir", "onnx", "tflite")     # content first, else the suffix says onnx


# --- load errors ---------------------------------------------------------------------------------

def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(ModelLoadError, match=r"model file not found: '.*nope\.xml'"):
        li.load_model(tmp_path / "nope.xml")


def test_empty_file(tmp_path):
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"empty\.onnx.*the file is empty \(0 bytes\)"):
        li.load_model(tmp_path / "empty.onnx")


def test_truncated_ir_xml(tmp_path, ir_path):
    xml = ir_path.read_bytes()
    (tmp_path / "cut.xml").write_bytes(xml[:len(xml) // 2])
    (tmp_path / "cut.bin").write_bytes(ir_path.with_suffix(".bin").read_bytes())
    with pytest.raises(ModelLoadError, match=r"cut\.xml' \(OpenVINO IR\), .*: Error parsing"):
        li.load_model(tmp_path / "cut.xml")


def test_truncated_weights_file(tmp_path, ir_path):
    (tmp_path / "w.xml").write_bytes(ir_path.read_bytes())
    weights = ir_path.with_suffix(".bin").read_bytes()
    (tmp_path / "w.bin").write_bytes(weights[:len(weights) // 3])
    with pytest.raises(ModelLoadError,
                       match=r"Incorrect weights in bin file.*w\.bin' has .*truncated"):
        li.load_model(tmp_path / "w.xml")


def test_missing_weights_file(tmp_path, ir_path):
    (tmp_path / "alone.xml").write_bytes(ir_path.read_bytes())
    with pytest.raises(ModelLoadError, match=r"expected at '.*alone\.bin', which does not"):
        li.load_model(tmp_path / "alone.xml")


def test_truncated_and_corrupt_onnx(tmp_path, onnx_bytes):
    (tmp_path / "cut.onnx").write_bytes(onnx_bytes[:len(onnx_bytes) // 2])
    with pytest.raises(ModelLoadError, match=r"cut\.onnx' \(ONNX\).*truncated or corrupt"):
        li.load_model(tmp_path / "cut.onnx")
    with pytest.raises(ModelLoadError, match=r"<ONNX model from .* bytes>.*truncated"):
        li.load_model(onnx_bytes[: len(onnx_bytes) // 2])


def test_not_a_model(tmp_path):
    (tmp_path / "notes.onnx").write_bytes(b"\x00\x01 definitely not a model")
    with pytest.raises(ModelLoadError, match=r"notes\.onnx' \(ONNX\)"):
        li.load_model(tmp_path / "notes.onnx")
    with pytest.raises(ModelLoadError, match=r"cannot load a model from a int"):
        li.load_model(42)


# --- inputs and outputs --------------------------------------------------------------------------

def test_tensor_input_is_shared_not_copied(mlp):
    x = lo.from_numpy(X1.copy())
    close(mlp(x), X1)
    held = mlp._current.request.get_input_tensor(0).data
    assert held.__array_interface__["data"][0] == x.data_ptr()


def test_numpy_input_is_shared_and_output_is_a_tensor(mlp):
    x = X1.copy()
    y = mlp(x)
    assert isinstance(y, Tensor) and y.dtype == lo.fp32 and y.shape == (1, 4)
    held = mlp._current.request.get_input_tensor(0).data
    assert held.__array_interface__["data"][0] == x.ctypes.data


def test_outputs_are_not_overwritten_by_the_next_call(mlp):
    x2 = X1 * 2
    y1, y2 = mlp(X1), mlp(x2)
    close(y1, X1)
    close(y2, x2)


def test_a_refilled_input_buffer_gives_fresh_results(mlp):
    buf = X1.copy()
    first = mlp(buf).numpy()
    for scale in (2.0, -1.0, 0.5):
        buf[:] = X1 * scale                       # the same array, new contents
        close(mlp(buf), X1 * scale)
    close(first, X1)


def test_a_loaded_model_cannot_be_reloaded_with_other_settings(mlp):
    assert li.load_model(mlp) is mlp
    with pytest.raises(InvalidOperation, match=r"loaded already, for device CPU and "
                                               r"precision fp32.*load the original"):
        li.load_model(mlp, precision="bf16")
    with pytest.raises(InvalidOperation, match="loaded already"):
        li.infer(mlp, X1, device="AUTO")


def test_as_numpy(ir_path):
    y = li.load_model(ir_path, as_numpy=True)(X1)
    assert type(y) is np.ndarray
    close(y, X1)


def test_strided_readonly_and_list_inputs_are_copied(mlp):
    wide = np.repeat(X1, 2, axis=1)[:, ::2]           # strided view
    assert not wide.flags.c_contiguous
    close(mlp(wide), X1)
    ro = X1.copy()
    ro.flags.writeable = False
    close(mlp(ro), X1)
    close(mlp(X1.tolist()), X1)
    close(mlp(X1.astype(np.float64)), X1)             # same_kind cast


def test_multi_input_forms_and_named_outputs():
    m = li.load_model(ov_two_io())
    a, b = np.ones((2, 3), np.float32), np.full((2, 3), 2.0, np.float32)
    k = np.array([1, 2, 3], np.int64)
    expected_sum, expected_scaled = a + b, a * b * k
    for out in (m(a, b, k), m([a, b, k]), m((a, wrap(b), k)), m({"a": a, "b": b, "k": k}),
                m(a=a, b=b, k=k), m({0: a, 1: b, 2: k})):
        assert isinstance(out, Outputs) and out.names == ("sum", "product")
        s, p = out
        np.testing.assert_array_equal(s.numpy(), expected_sum)
        np.testing.assert_array_equal(out["scaled"].numpy(), expected_scaled)
        assert set(out.to_dict()) == {"sum", "product"}
    with pytest.raises(KeyError, match="no output named 'nope'; the outputs are sum, product"):
        out["nope"]


def test_bf16_and_uint32_inputs_and_outputs():
    import ml_dtypes
    m = li.load_model(ov_bf16_io())
    h = np.arange(6, dtype=np.float32).reshape(2, 3)
    for x in (h.astype(ml_dtypes.bfloat16), h, lo.tensor(h, dtype="bf16")):
        twice, twice_bf16, count = m(x)
        assert twice.dtype == lo.fp32 and twice_bf16.dtype == lo.bf16
        np.testing.assert_array_equal(twice_bf16.numpy().astype(np.float32), 2 * h)
        assert count.dtype == lo.uint32
        np.testing.assert_array_equal(count.numpy(), 2 * h)
    as_np = li.load_model(ov_bf16_io(), as_numpy=True)(h)
    assert [type(v) for v in as_np] == [np.ndarray] * 3
    assert as_np[1].dtype == ml_dtypes.bfloat16


def test_openvino_tensor_input(mlp):
    close(mlp(ov.Tensor(X1.copy())), X1)
    with pytest.raises(InferenceInputError, match=r"openvino\.Tensor of .*i32.*expects f32"):
        mlp(ov.Tensor(np.ones((1, 16), np.int32)))


# --- input errors --------------------------------------------------------------------------------

EXPECTS_TWO_IO = r"model 'two_io' expects 3 inputs: a: f32\[2,3\], b: f32\[2,3\], k: i64\[3\]"


def test_wrong_input_count_lists_the_inputs():
    m = li.load_model(ov_two_io())
    a = np.ones((2, 3), np.float32)
    with pytest.raises(InferenceInputError, match=r"got 2, but " + EXPECTS_TWO_IO):
        m(a, a)
    with pytest.raises(InferenceInputError, match=r"missing input k: i64\[3\]"):
        m({"a": a, "b": a})
    with pytest.raises(InferenceInputError, match=r"unknown input 'c'; " + EXPECTS_TWO_IO):
        m(a=a, b=a, c=a)
    with pytest.raises(InferenceInputError, match="either positionally or by name"):
        m(a, b=a)


def test_a_list_of_arrays_for_a_single_input_model_says_use_map(mlp):
    with pytest.raises(InferenceInputError, match=r"got 2, but model 'mlp' expects 1 input: "
                                                  r"x: f32\[1,16\].*model\.map"):
        mlp([X1, X1])


def test_wrong_rank_and_dtype(mlp):
    with pytest.raises(InferenceInputError, match=r"shape \(16,\) \(1 dimensions\), but the "
                                                  r"model expects 2 dimensions"):
        mlp(X1[0])
    m = li.load_model(ov_two_io())
    a = np.ones((2, 3), np.float32)
    with pytest.raises(InferenceInputError, match=r"'k' has dtype float64, but the model "
                                                  r"expects i64 \(int64\).*casting='same_kind'"):
        m(a, a, np.ones(3))
    with pytest.raises(InferenceInputError, match=r"'x' has dtype float64.*casting='no'"):
        li.load_model(ov_mlp(weights=W), casting="no")(X1.astype(np.float64))
    with pytest.raises(InferenceInputError, match=r"'x' has dtype <U1"):
        mlp(np.full((1, 16), "a"))


def test_a_gpu_tensor_is_refused_with_advice(mlp):
    from langone.tensor.devices import Device

    class DeviceArray(np.ndarray):          # stands in for a CuPy array: not host numpy
        pass

    on_gpu = wrap(X1.copy().view(DeviceArray), dev=Device("cuda:0"))
    with pytest.raises(InferenceInputError, match=r"'x' is a tensor on cuda:0; OpenVINO "
                                                  r"reads host memory: .*\.to\('cpu'\)"):
        mlp(on_gpu)


def test_shape_that_cannot_be_reshaped_lists_the_inputs(mlp):
    with pytest.raises(InferenceInputError, match=r"input shapes x\[1, 17\]: model 'mlp' "
                                                  r"expects 1 input: x: f32\[1,16\], and "
                                                  r"reshaping it failed: .*MatMul"):
        mlp(np.ones((1, 17), np.float32))


def test_reshape_false_refuses_new_shapes(ir_path):
    m = li.load_model(ir_path, reshape=False)
    with pytest.raises(InferenceInputError, match=r"x\[3, 16\] do not match.*reshape=False"):
        m(np.ones((3, 16), np.float32))


def test_static_model_reshapes_for_a_new_batch(mlp):
    for n in (3, 1, 3):
        x = RNG.standard_normal((n, 16)).astype(np.float32)
        close(mlp(x), x)
    assert mlp.compiled_model.inputs[0].get_shape() == [3, 16]


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 6), st.sampled_from([np.float32, np.float64, np.float16]))
def test_property_any_batch_and_float_dtype_matches_numpy(n, dtype):
    m = li.load_model(onnx_mlp(W).SerializeToString())
    x = np.random.default_rng(n).standard_normal((n, 16)).astype(dtype)
    tol = 1e-2 if dtype == np.float16 else 1e-5
    close(m(x), x.astype(np.float32), rtol=tol)


# --- lo.infer ------------------------------------------------------------------------------------

def test_infer_one_call_all_sources(ir_path, onnx_path, onnx_bytes):
    for source in (ir_path, str(onnx_path), onnx_bytes, ov_mlp(weights=W)):
        close(li.infer(source, X1), X1)
    m = li.load_model(ir_path)
    assert li.infer(m, X1).shape == (1, 4)
    assert li(ir_path, X1, device="CPU").shape == (1, 4)    # the package is callable


def test_infer_reuses_the_loaded_model(ir_path):
    li.clear_loaded()
    li.infer(ir_path, X1)
    misses = li.cache_info()["misses"]
    for _ in range(3):
        li.infer(ir_path, X1)
    assert li.cache_info()["misses"] == misses


def test_infer_notices_a_rewritten_file(tmp_path, monkeypatch):
    monkeypatch.setattr(api_mod, "_RECHECK_S", 0.0)
    path = save_ir(ov_mlp(weights=W), tmp_path / "m.xml")
    close(li.infer(path, X1), X1)
    w2 = mlp_weights(seed=3)
    save_ir(ov_mlp(weights=w2), path)
    os.utime(path, ns=(1, 2))                     # a different mtime, whatever the clock
    np.testing.assert_allclose(li.infer(path, X1).numpy(), mlp_reference(X1, w2), rtol=1e-5,
                               atol=1e-5)


def test_infer_options_reach_load_model(ir_path):
    y = li.infer(ir_path, X1, as_numpy=True, performance_hint="LATENCY")
    assert type(y) is np.ndarray


# --- caches --------------------------------------------------------------------------------------

def test_same_file_shares_compiled_models(ir_path):
    a, b = li.load_model(ir_path), li.load_model(str(ir_path))
    assert a.compiled_model is b.compiled_model
    c = li.load_model(ir_path, precision="bf16")
    assert c.compiled_model is not a.compiled_model


def test_clear_cache_and_info(ir_path):
    li.clear_cache()
    assert li.cache_info()["compiled"] == 0
    li.load_model(ir_path)
    li.load_model(ir_path)
    info = li.cache_info()
    assert (info["compiled"], info["misses"], info["hits"], info["models"]) == (1, 1, 1, 1)


def test_disk_cache_dir(tmp_path, ir_path):
    cache = tmp_path / "ov_cache"
    m = li.load_model(ir_path, cache_dir=cache)
    assert m.compiled_model.get_property("LOADED_FROM_CACHE") is False
    assert any(f.suffix == ".blob" for f in cache.iterdir())
    li.clear_cache()
    again = li.load_model(ir_path, cache_dir=cache)
    assert again.compiled_model.get_property("LOADED_FROM_CACHE") is True
    close(again(X1), X1)


# --- devices -------------------------------------------------------------------------------------

def test_ov_devices_and_device_names(mlp):
    devices = li.ov_devices()
    assert "CPU" in devices
    info = li.ov_device_info()
    assert list(info) == devices and all(isinstance(v, str) and v for v in info.values())
    assert li.load_model(ov_mlp(weights=W), device="cpu").device == "CPU"
    auto = li.load_model(ov_mlp(weights=W), device="AUTO")
    assert auto.device == ("CPU" if len(devices) == 1 else "AUTO")
    close(li.load_model(ov_mlp(weights=W), device="AUTO:CPU")(X1), X1)


def test_unknown_device_lists_the_available_ones():
    with pytest.raises(DeviceNotFound, match=r"device 'TPU' is not available on this "
                                             r"machine; it has CPU"):
        li.load_model(ov_mlp(weights=W), device="TPU")
    if "GPU" not in " ".join(li.ov_devices()):
        with pytest.raises(DeviceNotFound, match=r"'GPU' is not available"):
            li.load_model(ov_mlp(weights=W), device="GPU")


def test_openvino_options_and_unknown_option(ir_path):
    m = li.load_model(ir_path, performance_hint="THROUGHPUT")
    assert str(m.compiled_model.get_property("PERFORMANCE_HINT")).endswith("THROUGHPUT")
    with pytest.raises(InvalidOperation, match=r"unknown option 'performance_hnt' for OpenVINO "
                                               r"device CPU; did you mean performance_hint"):
        li.load_model(ir_path, performance_hnt="THROUGHPUT")


# --- precisions ----------------------------------------------------------------------------------

def test_default_precision_is_exact_fp32(mlp):
    assert mlp.precision == "fp32" and mlp.effective_precision == "fp32"
    x = RNG.standard_normal((1, 16)).astype(np.float32)
    close(mlp(x), x, rtol=1e-5)


@pytest.mark.parametrize("precision", ["fp16", "bf16", lo.bf16, "float16"])
def test_reduced_precisions_within_tolerance(ir_path, precision):
    m = li.load_model(ir_path, precision=precision)
    assert m.precision in ("fp16", "bf16")
    assert m.effective_precision in ("fp16", "bf16")  # a CPU without fp16 runs bf16
    x = RNG.standard_normal((1, 16)).astype(np.float32)
    ref = mlp_reference(x, W)
    err = np.abs(m(x).numpy() - ref).max() / np.abs(ref).max()
    assert err < 3e-2


def test_unknown_precision():
    with pytest.raises(UnsupportedPrecision, match=r"'int4' is not supported; use one of "
                                                   r"fp32, fp16, bf16, int8"):
        li.load_model(ov_mlp(weights=W), precision="int4")


def test_int8_without_nncf_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "nncf", None)        # import nncf -> ImportError
    with pytest.raises(UnsupportedPrecision, match=r"NNCF, which is not installed: "
                                                   r"pip install nncf"):
        li.load_model(ov_mlp(weights=W, name="int8_missing"), precision="int8")


def test_int8_compresses_weights_through_nncf(monkeypatch):
    calls = []

    def compress_weights(model):          # stands in for nncf: records and returns the model
        calls.append(model)
        return model

    monkeypatch.setitem(sys.modules, "nncf", types.SimpleNamespace(
        compress_weights=compress_weights))
    original = ov_mlp(weights=W, name="int8_fake")
    m = li.load_model(original, precision="int8")
    assert len(calls) == 1 and calls[0] is not original       # a copy is compressed
    assert m.ov_model is calls[0] and m.effective_precision == "fp32"
    close(m(X1), X1)


# --- packaging -----------------------------------------------------------------------------------

def test_import_does_not_load_openvino():
    code = ("import sys, langone, langone.infer; "
            "assert 'openvino' not in sys.modules, 'openvino imported'; "
            "assert callable(langone.infer)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_openvino_devices_are_empty_and_loading_says_how_to_install():
    code = ("import sys; sys.modules['openvino'] = None\n"
            "import langone.infer as li\n"
            "assert li.ov_devices() == []\n"
            "try:\n"
            "    li.load_model('m.xml')\n"
            "except li.OpenVINOUnavailable as e:\n"
            "    assert \"pip install 'langone[openvino]'\" in str(e), e\n"
            "else:\n"
            "    raise AssertionError('no error')\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_repr(mlp):
    assert repr(mlp) == ("LoadedModel('mlp', device='CPU', precision='fp32', "
                         "inputs=[x: f32[1,16]], outputs=[y: f32[1,4]])")
    assert isinstance(mlp, LoadedModel)
