"""Many inputs (map, lo.infer on iterables), shape buckets, and concurrent callers."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

ov = pytest.importorskip("openvino")
pytest.importorskip("onnx")

import langone.infer as li  # noqa: E402
from langone.errors import InvalidOperation  # noqa: E402
from langone.infer import InferenceInputError, Outputs  # noqa: E402
from langone.tensor.tensor import Tensor, wrap  # noqa: E402
from test_infer_models import (mlp_reference, mlp_weights, onnx_mlp, ov_batch_sum,  # noqa: E402
                               ov_mlp, ov_two_io)

W = mlp_weights()


def batch(n, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 16)).astype(np.float32)


def check(results, inputs, rtol=1e-5):
    assert len(results) == len(inputs)
    for y, x in zip(results, inputs):
        y = y.numpy() if isinstance(y, Tensor) else y
        np.testing.assert_allclose(y, mlp_reference(x, W), rtol=rtol, atol=rtol)


@pytest.fixture(scope="module")
def static():
    return li.load_model(ov_mlp(batch=2, weights=W), device="CPU")


@pytest.fixture(scope="module")
def dynamic():
    return li.load_model(onnx_mlp(W).SerializeToString(), device="CPU")


# --- map ---------------------------------------------------------------------------------------

PIPELINES = pytest.mark.parametrize("pipeline", [True, False, None])


@PIPELINES
def test_map_matches_single_calls_in_order(static, pipeline):
    xs = [batch(2, seed=i) for i in range(40)]
    ys = static.map(xs, pipeline=pipeline)
    check(ys, xs)
    assert all(isinstance(y, Tensor) for y in ys)


@pytest.mark.parametrize("jobs", [1, 2, 5])
def test_map_any_number_of_jobs(static, jobs):
    xs = [batch(2, seed=i) for i in range(9)]
    check(static.map(xs, jobs=jobs, pipeline=True), xs)


@PIPELINES
def test_map_accepts_generators_tensors_and_mixed_shapes(static, dynamic, pipeline):
    xs = [batch(2, 1), batch(2, 2), batch(3, 3), batch(1, 4), batch(3, 5), batch(2, 6)]
    check(static.map((wrap(x) for x in xs), pipeline=pipeline), xs)   # new shapes reshape
    check(dynamic.map(iter(xs), pipeline=pipeline), xs)
    assert static.map([], pipeline=pipeline) == []


@PIPELINES
def test_map_multi_output_and_dict_items(pipeline):
    m = li.load_model(ov_two_io())
    items = [{"a": np.full((2, 3), i, np.float32), "b": np.ones((2, 3), np.float32),
              "k": np.array([1, 2, 3])} for i in range(5)]
    outs = m.map(items, pipeline=pipeline)
    assert all(isinstance(o, Outputs) for o in outs)
    for i, out in enumerate(outs):
        np.testing.assert_array_equal(out["sum"].numpy(), np.full((2, 3), i + 1.0))
        np.testing.assert_array_equal(out[1].numpy(), i * np.array([[1, 2, 3]] * 2))


@PIPELINES
def test_map_bad_item_names_its_index(static, pipeline):
    with pytest.raises(InferenceInputError, match=r"item 3: input 'x' has shape \(16,\)"):
        static.map([batch(2), batch(2), batch(2), batch(1)[0]], pipeline=pipeline)


@PIPELINES
def test_map_progress_bar(static, capsys, pipeline):
    xs = [batch(2, seed=i) for i in range(20)]
    static.map(xs, progress=True, pipeline=pipeline)
    assert "20/20" in capsys.readouterr().err
    static.map(xs, progress=False, pipeline=pipeline)
    static.map(xs, pipeline=pipeline)                    # auto: a short run shows no bar
    assert capsys.readouterr().err == ""


def test_map_chooses_pipelining_by_the_time_of_one_inference(monkeypatch):
    from langone.infer import batch as batch_mod
    xs = [batch(2, seed=i) for i in range(6)]
    for threshold, pipelined in ((float("inf"), False), (0.0, True)):
        m = li.load_model(ov_mlp(batch=2, weights=mlp_weights(seed=9)), device="CPU",
                          inference_num_threads=1 if pipelined else 2)
        monkeypatch.setattr(batch_mod, "PIPELINE_MIN_S", threshold)
        ys = m.map(xs)
        assert bool(m._current.queues) is pipelined
        np.testing.assert_allclose(ys[5].numpy(), m(xs[5]).numpy())


def test_map_as_numpy(tmp_path):
    m = li.load_model(ov_mlp(batch=2, weights=W), as_numpy=True)
    ys = m.map([batch(2)] * 3)
    assert all(type(y) is np.ndarray for y in ys)


# --- lo.infer on many inputs -------------------------------------------------------------------

def test_infer_runs_iterators_and_lists_of_dicts_as_many_calls():
    model = ov_mlp(batch=2, weights=W)
    xs = [batch(2, seed=i) for i in range(6)]
    check(li.infer(model, iter(xs)), xs)
    check(li.infer(model, ({"x": x} for x in xs), progress=False, jobs=3, pipeline=True), xs)
    check(li.infer(model, [{"x": x} for x in xs]), xs)
    single = li.infer(model, xs[0])                      # an array is one call
    assert isinstance(single, Tensor)


# --- shape buckets ------------------------------------------------------------------------------

def test_pow2_buckets_pad_and_slice(dynamic):
    m = li.load_model(onnx_mlp(W).SerializeToString(), buckets="pow2")
    for n in (3, 4, 1, 5):
        x = batch(n, seed=n)
        y = m(x)
        assert y.shape == (n, 4)
        check([y], [x])
    assert sorted(b[0][0] for b in m._entries if b != "model") == [1, 4, 8]


def test_explicit_buckets_and_map(dynamic):
    m = li.load_model(onnx_mlp(W).SerializeToString(), buckets=(2, 8))
    xs = [batch(n, seed=n) for n in (1, 2, 5, 8, 9)]
    check(m.map(xs, pipeline=True), xs)
    check(m.map(xs, pipeline=False), xs)
    assert sorted(b[0][0] for b in m._entries if b != "model") == [2, 8, 9]


def test_buckets_refuse_models_without_a_batch_dimension():
    m = li.load_model(ov_batch_sum(batch=4), buckets="pow2")
    with pytest.raises(InvalidOperation, match=r"output .* does not keep a batch of 4 in "
                                               r"dimension 0; load the model without buckets"):
        m(np.ones((3, 3), np.float32))
    with pytest.raises(InvalidOperation, match="buckets="):
        li.load_model(ov_batch_sum(), buckets="sometimes")


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=6))
def test_property_buckets_give_the_unpadded_results(sizes):
    m = li.load_model(onnx_mlp(W).SerializeToString(), buckets="pow2")
    xs = [batch(n, seed=i) for i, n in enumerate(sizes)]
    check(m.map(xs, pipeline=True), xs)
    check([m(x) for x in xs], xs)


# --- threads -------------------------------------------------------------------------------------

def test_concurrent_callers_get_their_own_results(static):
    xs = [batch(2, seed=i) for i in range(8)]
    results: dict = {}

    def worker(i):
        for _ in range(30):
            results[i] = static(xs[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check([results[i] for i in range(len(xs))], xs)


def test_map_and_calls_interleave(static):
    xs = [batch(2, seed=i) for i in range(5)]
    first = static(xs[0])
    check(static.map(xs, pipeline=True), xs)
    check([first, static(xs[1])], xs[:2])
