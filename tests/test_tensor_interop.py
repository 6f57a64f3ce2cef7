"""Interop and lifetime: DLPack with numpy/torch (bf16 too), pooled storage, no leaks,
and a CPU path that never imports cupy."""

import gc
import importlib
import json
import subprocess
import sys
import weakref

import numpy as np
import pytest

from langone import dtypes

lt = importlib.import_module("langone.tensor")
memory = importlib.import_module("langone.tensor.memory")


def owning_block(t):
    """The pool Block at the root of a tensor's base chain."""
    base = t.numpy()
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return base


# --- DLPack ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["fp16", "bf16", "fp32", "fp64", "int8", "uint8", "int64",
                                   "bool"])
def test_dlpack_round_trip_through_numpy_shares_memory(dtype):
    t = lt.arange(6).reshape(2, 3).astype(dtype)
    if dtype == "bf16":       # numpy cannot import bf16; LangOne's own import can
        back = lt.from_dlpack(t)
    else:
        arr = np.from_dlpack(t)
        assert np.shares_memory(arr, t.numpy())
        back = lt.from_dlpack(arr)
    assert back.dtype is t.dtype and back.tolist() == t.tolist()
    assert np.shares_memory(back.numpy(), t.numpy())


@pytest.mark.parametrize("max_version", [None, (1, 0)])
def test_bf16_dlpack_capsules_legacy_and_versioned(max_version):
    """Both capsule layouts (dltensor at offset 0 / 32) are retagged correctly."""
    dl = importlib.import_module("langone.tensor._dlpack")
    t = lt.asarray([1.5, -2.0, 3.0]).astype("bf16")
    capsule = t.__dlpack__(max_version=max_version)
    arr = dl.to_numpy(dl._Capsule(capsule, t.__dlpack_device__()))
    assert arr.dtype == dtypes.bf16.numpy and arr.astype(np.float32).tolist() == [1.5, -2.0, 3.0]
    assert np.shares_memory(arr, t.numpy())


def test_dlpack_copy_request_copies():
    t = lt.arange(4, dtype="int32")
    assert not np.shares_memory(np.from_dlpack(t, copy=True), t.numpy())


def test_dlpack_of_a_strided_view():
    t = lt.arange(12, dtype="fp32").reshape(3, 4)[::2, 1::2]
    arr = np.from_dlpack(t)
    assert arr.tolist() == t.tolist() and arr.strides == t.strides


def test_dlpack_keeps_pool_memory_alive():
    t = lt.arange(1000, dtype="fp32")
    arr = np.from_dlpack(t)
    del t
    gc.collect()
    assert arr[999] == 999.0            # the capsule holds the block


@pytest.mark.parametrize("dtype", ["fp16", "bf16", "fp32", "int32", "uint8", "bool"])
def test_dlpack_round_trip_with_torch(dtype):
    torch = pytest.importorskip("torch")
    t = lt.arange(8).astype(dtype)
    tt = torch.from_dlpack(t)
    assert str(tt.dtype).endswith({"fp16": "float16", "bf16": "bfloat16", "fp32": "float32",
                                   "int32": "int32", "uint8": "uint8", "bool": "bool"}[dtype])
    assert tt.data_ptr() == t.data_ptr()
    tt[0] = 1                           # torch writes through to the tensor's memory
    assert t.tolist()[0] == 1
    back = lt.from_dlpack(tt)
    assert back.data_ptr() == t.data_ptr() and back.dtype is t.dtype
    assert lt.asarray(torch.ones(2, dtype=torch.bfloat16)).dtype is dtypes.bf16


# --- lifetime and pooling ----------------------------------------------------------------------

def test_results_live_in_pool_blocks():
    x = lt.ones(1000, dtype="fp32")
    for t in (x, x + 1, lt.exp(x), x.sum(), x.reshape(10, 100).T.copy(), x.astype("fp16"),
              lt.concat([x, x]), lt.where(x > 0, x, 0), x @ x):
        assert isinstance(owning_block(t), memory.Block), type(owning_block(t))


def test_views_keep_the_block_alive_and_dropping_all_frees_it():
    t = lt.zeros((100, 100))
    view = t[10:20, ::3].T
    block = weakref.ref(owning_block(t))
    del t
    gc.collect()
    assert block() is not None and view.shape == (34, 10)
    del view
    gc.collect()
    assert block() is None


def test_no_leak_after_many_tensors():
    if not hasattr(memory, "get_pool"):
        pytest.skip("langone.tensor.memory.get_pool is not there yet (placeholder pool); "
                    "the weakref test above covers block release meanwhile")
    pool = memory.get_pool("cpu")
    gc.collect()
    start = pool.stats().in_use
    for i in range(300):
        x = lt.arange(i + 1, dtype="fp32")
        y = (x * 2 + 1).reshape(-1, 1)
        z = lt.concat([y, y.T.reshape(-1, 1)], axis=1).sum(axis=0)
        w = x[::2].copy()
        del x, y, z, w
    gc.collect()
    assert pool.stats().in_use == start


# --- the CPU path stays light ----------------------------------------------------------------------

def test_cpu_operations_never_import_gpu_libraries():
    code = """
import importlib, json, sys
lt = importlib.import_module("langone.tensor")
x = lt.arange(10, dtype="fp32").reshape(2, 5)
y = (x @ x.T + 1).sum(axis=0)
q = lt.quantize(x)
b = x.astype("bf16") * 2.0
print(repr(y), x.to("cpu"), lt.from_dlpack(x).shape, b.tolist())
print(json.dumps([m for m in ("cupy", "torch", "numba", "triton") if m in sys.modules]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_import_does_not_load_ml_dtypes():
    out = subprocess.run([sys.executable, "-c",
                          "import sys, importlib; importlib.import_module('langone.tensor'); "
                          "print('ml_dtypes' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
