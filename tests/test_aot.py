"""The numba backend's AOT tier: a first call in a new process without numba.

Builds take a few seconds each (numba.pycc + a C compiler), so one module-scoped
cache directory holds three kernels -- saxpy and dot built explicitly, an
elementwise kernel built by the automatic background worker -- and fresh
processes use it. The suite runs with ``LANGONE_AOT=0``; these tests turn it on.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("numba")

import langone as lo  # noqa: E402
from langone import dtypes  # noqa: E402
from langone.kernels import aot, ir  # noqa: E402

KERNELS = textwrap.dedent("""
    import langone as lo

    @lo.kernel(backend="numba")
    def saxpy(a, x, y, out):
        for i in lo.grid(x.shape[0]):
            out[i] = a * x[i] + y[i]

    @lo.kernel(backend="numba")
    def dot(x, y):
        s = 0.0
        for i in lo.grid(x.shape[0]):
            s += x[i] * y[i]
        return s

    @lo.kernel(backend="numba")
    def damp(x, k):
        return x * lo.exp(-k * x * x) + 1.0
""")

# Runs in a fresh process: small calls first (AOT), then large ones (parallel JIT).
CHILD = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    import numpy as np
    import langone as lo
    t1 = time.perf_counter()
    from langone.kernels.backends import numba_cpu
    numba_cpu.PARALLEL_THRESHOLD = 1000
    sys.path.insert(0, sys.argv[1])
    import aot_kernels as K
    x = np.linspace(-2, 2, 16, dtype=np.float32); y = np.arange(16, dtype=np.float32)
    out = np.zeros_like(x)
    t2 = time.perf_counter()
    K.saxpy(2.0, x, y, out)
    t3 = time.perf_counter()
    res = {"import_ms": (t1 - t0) * 1e3, "first_call_ms": (t3 - t2) * 1e3,
           "saxpy": out.tolist(), "dot": float(K.dot(x, y)),
           "dot_type": str(K.dot(x, y).dtype),
           "damp": K.damp(x, 0.5).numpy().tolist(),
           "numba_after_small": "numba" in sys.modules}
    if len(sys.argv) > 2 and sys.argv[2] == "large":
        n = 5000
        bx = np.linspace(-1, 1, n, dtype=np.float32); by = np.ones(n, np.float32)
        bout = np.zeros_like(bx)
        K.saxpy(2.0, bx, by, bout)
        res.update(big_saxpy=bout.tolist(), big_dot=float(K.dot(bx, by)),
                   numba_after_large="numba" in sys.modules)
        mod = [m for n_, m in sys.modules.items()
               if n_.startswith("langone_kcache_numba_saxpy_")][0]
        res.update(parallel_compiled=len(mod.saxpy_parallel.signatures),
                   serial_jit_compiled=len(mod.saxpy_serial.signatures))
    print(json.dumps(res))
""")


def _env(cache_dir, **extra):
    env = dict(os.environ, LANGONE_CACHE_DIR=str(cache_dir), LANGONE_AOT="1")
    env.pop("LANGONE_DISABLE_CACHE", None)
    env.update(extra)
    return env


def _child(cache_dir, kernels_dir, *args, **env):
    """Run CHILD with ``cache_dir`` as the cache and the kernels of ``kernels_dir``.

    Copies of the cache reuse the original kernel file: its path is part of
    every cache key.
    """
    r = subprocess.run([sys.executable, str(kernels_dir / "child.py"), str(kernels_dir),
                        *args], env=_env(cache_dir, **env), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _small_inputs():
    x = np.linspace(-2, 2, 16, dtype=np.float32)
    return x, np.arange(16, dtype=np.float32)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A cache directory whose three kernels have AOT modules; (dir, module)."""
    d = tmp_path_factory.mktemp("aotcache")
    (d / "aot_kernels.py").write_text(KERNELS)
    (d / "child.py").write_text(CHILD)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LANGONE_CACHE_DIR", str(d))
        mp.setenv("LANGONE_AOT", "1")
        mp.delenv("LANGONE_DISABLE_CACHE", raising=False)
        spec = importlib.util.spec_from_file_location("aot_kernels", d / "aot_kernels.py")
        K = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(K)
        x, y = _small_inputs()
        assert aot.status(K.saxpy, 2.0, x, y, x.copy()).state == "missing"
        t0 = time.perf_counter()
        saxpy = aot.build(K.saxpy, 2.0, x, y, x.copy())
        dot = aot.build(K.dot, x, y)
        build_s = time.perf_counter() - t0
        assert saxpy.built and dot.built, (saxpy, dot)
        # The automatic path: a JIT compile queues a background build.
        K.damp(x, 0.5)
        assert aot.status(K.damp, x, 0.5).state in ("building", "built")
        deadline = time.monotonic() + 240
        while not aot.status(K.damp, x, 0.5).built and time.monotonic() < deadline:
            time.sleep(0.25)
        st_damp = aot.status(K.damp, x, 0.5)
        assert st_damp.built, (st_damp, _log(d))
        # The worker removes its request, lock and scratch folder just after the
        # extension lands: wait for that (under load it is not instant).
        while _leftovers(d) and time.monotonic() < deadline:
            time.sleep(0.25)
        print(f"\nAOT builds: saxpy + dot {build_s:.1f} s (synchronous)")
        yield d, K


def _leftovers(d):
    return [p.name for p in (d / "numba").iterdir()
            if p.suffix in (".lock", ".request", ".failed") or p.name.startswith(".")]


def _log(d):
    p = d / "numba" / "aot-worker.log"
    return p.read_text()[-3000:] if p.exists() else ""


def _expected(x, y):
    x64 = x.astype(np.float64)
    return {"saxpy": (2.0 * x + y).astype(np.float32),
            "dot": np.dot(x64, y.astype(np.float64)),
            "damp": (x * np.exp(np.float32(-0.5) * x * x) + np.float32(1.0))}


def test_build_leaves_only_the_extension(built):
    d, K = built
    x, y = _small_inputs()
    st_ = aot.status(K.saxpy, 2.0, x, y, x.copy())
    assert st_.built and st_.path.is_file() and st_.path.parent == d / "numba"
    assert _leftovers(d) == []


def test_fresh_process_first_call_never_imports_numba(built):
    d, _ = built
    r = _child(d, d, "large")
    x, y = _small_inputs()
    want = _expected(x, y)
    assert r["numba_after_small"] is False
    np.testing.assert_array_equal(np.float32(r["saxpy"]), want["saxpy"])
    assert r["dot_type"] == "fp32"                 # a 0-d Tensor, as on every backend
    np.testing.assert_allclose(r["dot"], want["dot"], rtol=1e-6)
    np.testing.assert_allclose(np.float32(r["damp"]), want["damp"], rtol=1e-5, atol=1e-6)
    # Large inputs: numba loads, the parallel variant runs; the serial one stays AOT.
    bx = np.linspace(-1, 1, 5000, dtype=np.float32)
    assert r["numba_after_large"] is True
    assert r["parallel_compiled"] == 1 and r["serial_jit_compiled"] == 0
    np.testing.assert_array_equal(np.float32(r["big_saxpy"]),
                                  (2.0 * bx + 1).astype(np.float32))
    np.testing.assert_allclose(r["big_dot"], bx.astype(np.float64).sum(), atol=1e-3)
    print(f"\nnew process: import {r['import_ms']:.0f} ms, first call "
          f"{r['first_call_ms']:.1f} ms (AOT)")


def test_corrupt_extension_is_deleted_and_jit_used(built, tmp_path):
    d0, _ = built
    d = tmp_path / "copy"
    shutil.copytree(d0, d)
    (so,) = (d / "numba").glob("langone_kaot_saxpy_*")
    so.write_bytes(b"\x7fELF garbage")
    # A failure marker keeps the child from queueing a rebuild behind this test.
    so.with_name(so.name.split(".")[0] + ".failed").write_text("test")
    r = _child(d, d0)
    x, y = _small_inputs()
    np.testing.assert_array_equal(np.float32(r["saxpy"]), _expected(x, y)["saxpy"])
    assert r["numba_after_small"] is True
    assert not so.exists()


def test_env_switch_disables_the_tier(built, tmp_path):
    d = tmp_path / "copy"
    shutil.copytree(built[0], d)
    r = _child(d, built[0], LANGONE_AOT="0")
    assert r["numba_after_small"] is True
    assert not list((d / "numba").glob("*.request"))
    x, y = _small_inputs()
    np.testing.assert_array_equal(np.float32(r["saxpy"]), _expected(x, y)["saxpy"])


def test_cache_off_or_debug_means_no_aot(monkeypatch, tmp_path):
    monkeypatch.setenv("LANGONE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LANGONE_AOT", "1")

    def body(x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = x[i] + 1
    x = np.ones(4, np.float32)
    assert aot.status(lo.kernel(body), x, x).state == "missing"
    assert aot.status(lo.kernel(body, cache=False), x, x).state == "disabled"
    assert aot.build(lo.kernel(body, cache=False), x, x).state == "disabled"
    st_ = aot.status(lo.kernel(body, debug=True), x, x)
    assert st_.state == "unsupported" and "debug=True" in st_.reason
    monkeypatch.setenv("LANGONE_DISABLE_CACHE", "1")
    assert aot.status(lo.kernel(body), x, x).state == "disabled"
    monkeypatch.delenv("LANGONE_DISABLE_CACHE")
    monkeypatch.setenv("LANGONE_AOT", "0")
    assert not aot.enabled({"cache": True})


def test_grid_without_tensor_arguments_has_no_aot_tier(monkeypatch, tmp_path):
    monkeypatch.setenv("LANGONE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LANGONE_AOT", "1")

    @lo.kernel
    def count(n):
        s = 0
        for i in lo.grid(n):
            s += i
        return s
    st_ = aot.status(count, 10)
    assert st_.state == "unsupported" and "parallel" in st_.reason


def test_failed_build_is_marked_and_not_requeued(built, tmp_path, monkeypatch):
    d = tmp_path / "copy"
    shutil.copytree(built[0], d)
    monkeypatch.setenv("LANGONE_CACHE_DIR", str(d))
    (py,) = (d / "numba").glob("langone_kcache_numba_saxpy_*.py")
    req = {"name": "langone_kaot_broken_0_x", "module": str(py), "function": "saxpy_serial",
           "signature": "(float64,)", "fastmath": False, "suffix": aot._SUFFIX,
           "kernel": "saxpy"}                      # 1 type for 4 parameters: pycc fails
    path = d / "numba" / "langone_kaot_broken_0_x.request"
    path.write_text(json.dumps(req))
    r = subprocess.run([sys.executable, "-m", "langone.kernels.aot", "build", str(path)],
                       env=_env(d), capture_output=True, text=True, timeout=300)
    assert r.returncode == 1
    failed = d / "numba" / "langone_kaot_broken_0_x.failed"
    assert "AOT build of kernel 'saxpy' failed" in failed.read_text()
    assert not path.exists() and not (d / "numba" / "langone_kaot_broken_0_x.lock").exists()
    assert aot.schedule(req) is False and not path.exists()


def test_stale_lock_is_broken_and_fresh_lock_is_respected(tmp_path):
    lock = tmp_path / "k.lock"
    assert aot._acquire(lock)
    assert not aot._acquire(lock)                       # held and fresh
    old = time.time() - aot.STALE_SECONDS - 5
    os.utime(lock, (old, old))
    assert aot._acquire(lock)                           # a dead builder's lock
    assert not list(tmp_path.glob("*.stale-*"))


_DTYPES = [dtypes.fp16, dtypes.bf16, dtypes.fp32, dtypes.fp64, dtypes.int8, dtypes.int16,
           dtypes.int32, dtypes.int64, dtypes.uint8, dtypes.bool_]
_ELEM = {"fp16": "uint16", "bf16": "uint16", "bool": "boolean", "fp32": "float32",
         "fp64": "float64"}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(_DTYPES), st.integers(0, 3), st.booleans())
def test_pycc_types_mirror_what_the_launcher_passes(dt, ndim, contiguous):
    elem = _ELEM.get(dt.name, dt.name)
    t = aot.numba_type(ir.TensorType(dt, ndim, contiguous))
    assert t == f"Array({elem}, {ndim}, '{'C' if contiguous else 'A'}')"
    # Half scalars are passed as float32; the rest as themselves.
    scalar = aot.numba_type(dt)
    assert scalar == ("float32" if dt.name in ("fp16", "bf16") else _ELEM.get(dt.name, elem))


def test_elementwise_signature_includes_the_output(monkeypatch, tmp_path):
    monkeypatch.setenv("LANGONE_CACHE_DIR", str(tmp_path))

    @lo.kernel
    def half_affine(x, b):
        return x * b + 1
    x = np.ones((3, 4), np.float16)[:, ::2]                   # strided: 2-D, not flat
    final = half_affine.stages(x, 2.0).final
    assert [p.name for p in final.params] == ["x", "b", "__out"]
    # The output is allocated C-contiguous by the launcher; the strided input is not.
    assert aot.signature(final) == \
        "(Array(uint16, 2, 'A'), float64, Array(uint16, 2, 'C'), )"
