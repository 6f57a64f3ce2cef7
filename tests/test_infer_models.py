"""Models the inference tests build (OpenVINO opsets and onnx.helper), with numpy references.

Imported by ``test_infer.py`` and ``test_infer_batch.py``; the tests here check
the builders themselves against their numpy references, straight through
OpenVINO, so that a failure elsewhere points at LangOne, not at a builder.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

ov = pytest.importorskip("openvino")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def opset():
    """The newest complete ``openvino.opsetN`` (opset17 of 2026.4 holds only its new ops)."""
    for n in range(30, 15, -1):
        try:
            mod = importlib.import_module(f"openvino.opset{n}")
        except ImportError:
            continue
        if hasattr(mod, "parameter") and hasattr(mod, "matmul"):
            return mod
    raise RuntimeError("openvino has no complete opset >= 16")


def mlp_weights(n_in=16, hidden=32, n_out=4, seed=0):
    rng = np.random.default_rng(seed)
    return {"w1": (rng.standard_normal((n_in, hidden)) * 0.3).astype(np.float32),
            "b1": (rng.standard_normal(hidden) * 0.1).astype(np.float32),
            "w2": (rng.standard_normal((hidden, n_out)) * 0.3).astype(np.float32),
            "b2": (rng.standard_normal(n_out) * 0.1).astype(np.float32)}


def mlp_reference(x, w):
    h = np.maximum(x.astype(np.float64) @ w["w1"] + w["b1"], 0.0)
    return h @ w["w2"] + w["b2"]


def ov_mlp(batch=1, weights=None, name="mlp"):
    """An OpenVINO MLP ``y = relu(x @ w1 + b1) @ w2 + b2``; ``batch=None`` is dynamic."""
    ops = opset()
    w = weights or mlp_weights()
    shape = ov.PartialShape([-1 if batch is None else batch, w["w1"].shape[0]])
    x = ops.parameter(shape, np.float32, name="x")
    h = ops.relu(ops.add(ops.matmul(x, ops.constant(w["w1"]), False, False),
                         ops.constant(w["b1"])))
    y = ops.add(ops.matmul(h, ops.constant(w["w2"]), False, False), ops.constant(w["b2"]))
    y.output(0).get_tensor().set_names({"y"})
    return ov.Model([y], [x], name)


def onnx_mlp(weights=None, batch="N"):
    """The same MLP as an ONNX ModelProto (``batch`` a dim name: dynamic)."""
    w = weights or mlp_weights()
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["m1"]),
             helper.make_node("Add", ["m1", "b1"], ["a1"]),
             helper.make_node("Relu", ["a1"], ["h"]),
             helper.make_node("MatMul", ["h", "w2"], ["m2"]),
             helper.make_node("Add", ["m2", "b2"], ["y"])]
    inits = [numpy_helper.from_array(v, k) for k, v in w.items()]
    graph = helper.make_graph(
        nodes, "onnx_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, w["w1"].shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, w["w2"].shape[1]])],
        inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def ov_two_io():
    """Inputs a, b: f32[2,3] and k: i64[3]; outputs sum = a + b, scaled = a * b * k."""
    ops = opset()
    a = ops.parameter([2, 3], np.float32, name="a")
    b = ops.parameter([2, 3], np.float32, name="b")
    k = ops.parameter([3], np.int64, name="k")
    s = ops.add(a, b)
    s.output(0).get_tensor().set_names({"sum"})
    p = ops.multiply(ops.multiply(a, b), ops.convert(k, "f32"))
    p.output(0).get_tensor().set_names({"scaled", "product"})
    return ov.Model([s, p], [a, b, k], "two_io")


def ov_bf16_io():
    """Input h: bf16[2,3]; outputs twice (f32), twice_bf16 (bf16), count (u32: no LangOne dtype)."""
    ops = opset()
    h = ops.parameter([2, 3], ov.Type.bf16, name="h")
    twice = ops.multiply(ops.convert(h, "f32"), ops.constant(np.float32(2)))
    twice.output(0).get_tensor().set_names({"twice"})
    back = ops.convert(twice, ov.Type.bf16)
    back.output(0).get_tensor().set_names({"twice_bf16"})
    count = ops.convert(twice, ov.Type.u32)
    count.output(0).get_tensor().set_names({"count"})
    return ov.Model([twice, back, count], [h], "bf16_io")


def ov_batch_sum(batch=4):
    """Sums over the batch: an output that does not keep dimension 0 (wrong for buckets)."""
    ops = opset()
    x = ops.parameter([batch, 3], np.float32, name="x")
    y = ops.reduce_sum(x, ops.constant(np.array([0], np.int64)), keep_dims=False)
    return ov.Model([y], [x], "batch_sum")


def save_ir(model, path):
    ov.save_model(model, str(path), compress_to_fp16=False)
    return path


# --- the builders, checked straight through OpenVINO -------------------------------------

def _compile(model):
    return ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})


def test_ov_mlp_matches_its_reference():
    w = mlp_weights()
    x = np.random.default_rng(1).standard_normal((3, 16)).astype(np.float32)
    y = _compile(ov_mlp(batch=3, weights=w))(x)[0]
    np.testing.assert_allclose(y, mlp_reference(x, w), rtol=1e-5, atol=1e-5)


def test_onnx_mlp_matches_its_reference():
    w = mlp_weights()
    x = np.random.default_rng(2).standard_normal((5, 16)).astype(np.float32)
    model = ov.Core().read_model(onnx_mlp(w).SerializeToString())
    np.testing.assert_allclose(_compile(model)(x)[0], mlp_reference(x, w), rtol=1e-5,
                               atol=1e-5)


def test_two_io_computes_sum_and_scaled_product():
    a, b = np.ones((2, 3), np.float32), np.full((2, 3), 2.0, np.float32)
    k = np.array([1, 2, 3], np.int64)
    out = _compile(ov_two_io())({"a": a, "b": b, "k": k})
    np.testing.assert_array_equal(out["sum"], a + b)
    np.testing.assert_array_equal(out["scaled"], a * b * k)
