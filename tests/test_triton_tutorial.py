"""The reference Triton kernels of ``make gpu-check`` (asv_benchmarks/triton_tutorial.py) are
right: each runs in Triton's interpreter on small inputs and is compared with numpy and with
the LangOne kernel it is the peer of, so a GPU run measures two programs that agree.

Triton's ``tl.sum``/``tl.max`` are jit code its interpreter runs only when ``TRITON_INTERPRET``
was set before triton was imported, so the checks run in a child pytest with it set.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("triton")
torch = pytest.importorskip("torch")

import langone as lo  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHILD = os.environ.get("TRITON_INTERPRET") == "1"
child_only = pytest.mark.skipif(not CHILD, reason="runs in the child of test_in_the_interpreter")
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.mark.skipif(CHILD, reason="this is the child")
@pytest.mark.timeout(300)
def test_in_the_interpreter():
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=path)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                          "-p", "no:xdist", __file__], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=280)
    assert run.returncode == 0 and ("6 passed" in run.stdout or "5 passed" in run.stdout and
                                    "runtime bound" in run.stdout), run.stdout[-4000:] + run.stderr


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _langone(kernel, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return kernel.on("python")(*args)


@pytest.fixture(scope="module")
def tut():
    sys.path.insert(0, str(ROOT))
    from asv_benchmarks import triton_tutorial
    return triton_tutorial


@child_only
def test_saxpy(tut):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(3000, np.float32), rng.standard_normal(3000, np.float32)
    out = tut.saxpy(2.5, _t(x), _t(y), _t(np.full(3000, np.nan, np.float32))).numpy()
    want = np.full_like(x, np.nan)
    _langone(tut.lo_saxpy, np.float32(2.5), x, y, want)
    np.testing.assert_allclose(out, want, rtol=1e-6)


@child_only
def test_softmax(tut):
    x = np.random.default_rng(1).standard_normal((37, 300)).astype(np.float32)
    out = tut.softmax(_t(x), _t(np.full_like(x, np.nan))).numpy()
    want = np.full_like(x, np.nan)
    _langone(tut.lo_softmax, x, want)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-7)


@child_only
def test_matmul_fp16_accumulates_in_fp32(tut):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((40, 70)).astype(np.float16)
    b = rng.standard_normal((70, 24)).astype(np.float16)
    cfg = {"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 16, "GROUP_M": 2}
    try:
        out = tut.matmul(_t(a), _t(b), _t(np.full((40, 24), np.nan, np.float16)), config=cfg)
    except Exception as exc:
        if "0-dimensional arrays" not in str(exc):
            raise
        pytest.skip("this Triton's interpreter cannot loop to a runtime bound under numpy >= 2.4 "
                    "(Triton 3.6; 3.9 can)")
    want = np.full((40, 24), np.nan, np.float16)
    _langone(tut.lo_matmul, a, b, want)
    np.testing.assert_allclose(out.numpy().astype(np.float32), want.astype(np.float32),
                               rtol=2e-3, atol=2e-3)


@child_only
def test_total(tut):
    x = np.random.default_rng(3).random(20001).astype(np.float32)
    got = tut.total(_t(x), torch.full((1,), np.nan), BLOCK=1024)
    want = _langone(tut.lo_total, x)
    np.testing.assert_allclose(float(got[0]), float(want), rtol=1e-5)


@child_only
def test_histogram_counts_only_the_real_elements(tut):
    v = np.random.default_rng(4).integers(0, 16, 10000).astype(np.int32)
    h = tut.histogram(_t(v), torch.zeros(16, dtype=torch.int32), BLOCK=1024).numpy()
    want = np.zeros(16, np.int32)
    _langone(tut.lo_histogram, v, want)
    np.testing.assert_array_equal(h, want)
    assert h.sum() == v.size


@child_only
def test_stencil_writes_the_interior_only(tut):
    x = np.random.default_rng(5).standard_normal((50, 70)).astype(np.float32)
    out = tut.stencil(_t(x), _t(np.full_like(x, np.nan)), BR=16, BC=32).numpy()
    want = np.full_like(x, np.nan)
    _langone(tut.lo_stencil, x, want)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)       # NaN borders equal
