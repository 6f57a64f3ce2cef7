"""The kernel object: specialization, caching, views, stages, check mode, events."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import langone as lo
from langone import events
from langone.errors import KernelArgumentError, KernelError, ResultMismatch
from langone.kernels import backends
from langone.kernels.backends import numpy_ref

from kernel_corpus import CASES


@lo.kernel
def scale(a, x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = a * x[i]


def test_specializes_once_per_signature():
    k = lo.kernel(scale.py_func).on("numpy")
    x = np.arange(4, dtype=np.float32)
    for _ in range(3):
        k(2.0, x, np.empty_like(x))
    assert len(k._entries) == 1
    k(2, x, np.empty_like(x))                          # int scalar: a new signature
    k(2.0, x.astype(np.float64), np.empty(4))          # new dtypes
    k(2.0, x[::2], np.empty(2, np.float32))            # non-contiguous
    assert len(k._entries) == 4


def test_views_share_typed_ir_and_py_func_runs_plain_python():
    x = np.arange(5, dtype=np.float32)
    out = np.zeros_like(x)
    scale.py_func(3.0, x, out)                         # plain Python, lo.grid iterates
    np.testing.assert_array_equal(out, 3 * x)
    a, b = scale.on("numpy"), scale.on("numba")
    assert a._shared is b._shared and a.backend == "numpy" and b.backend == "numba"


def test_ir_and_source_and_stages():
    k = lo.kernel(scale.py_func)
    assert "kernel scale(a: ?, x: ?, out: ?)" in k.ir          # untyped before a call
    with pytest.raises(KernelError, match="has not been called yet"):
        k.source("numpy")
    x = np.ones(3, np.float32)
    k.on("numpy")(2.0, x, np.empty_like(x))
    assert "out[i] = ((fp32(a) * x[i]) + y[i])" not in k.ir
    assert "out[i] = (fp32(a) * x[i])" in k.ir
    stages = k.stages(2.0, x, np.empty_like(x))
    names = list(stages.outputs)          # other stages may come between these
    order = ["frontend", "bind_params", "lower_elementwise", "infer_types", "verify",
             "simplify", "resources", "shape_guards", "lower_index", "lower_casts"]
    assert [n for n in names if n in order] == order
    assert stages["resources"].grids[0].flops == 1
    assert "numpy reference backend" in k.source("numpy")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_verifier_accepts_every_stage_of_the_corpus(case, monkeypatch):
    monkeypatch.setenv("LANGONE_VERIFY", "1")
    k = lo.kernel(case.kernel.py_func)
    k.stages(*case.make(np.random.default_rng(0)))


class _BrokenBackend:
    """A backend that computes the right thing, then corrupts one element."""

    name = "broken"
    devices = ("cpu",)

    def available(self):
        return None

    def render(self, kernel, options):
        return "broken"

    def compile(self, kernel, options):
        run = numpy_ref.BACKEND.compile(kernel, options)

        def bad(args):
            result = run(args)
            for a in args:
                if isinstance(a, np.ndarray) and a.size and a.flags.writeable:
                    a.reshape(-1)[-1] += 1
            return result
        return bad


def test_check_mode_catches_a_wrong_backend(monkeypatch):
    backends.register("broken", "test_kernel_object:_BROKEN")
    try:
        k = lo.kernel(scale.py_func, check=True).on("broken")
        x = np.arange(6, dtype=np.float32)
        with pytest.raises(ResultMismatch, match=r"kernel 'scale' on broken differs from the "
                                                 r"numpy reference in argument 'x'.*index \(5,\)"):
            k(2.0, x, np.empty_like(x))
    finally:
        backends._REGISTRY.pop("broken", None)
        backends._loaded.pop("broken", None)


_BROKEN = _BrokenBackend()


def test_check_mode_passes_on_a_correct_backend():
    k = lo.kernel(scale.py_func, check=True).on("numba")
    x = np.arange(6, dtype=np.float32)
    out = np.empty_like(x)
    k(2.0, x, out)
    np.testing.assert_array_equal(out, 2 * x)


def test_compile_and_launch_events():
    seen = []
    unsub = events.subscribe("*", lambda ev: seen.append(ev.kind))
    try:
        k = lo.kernel(scale.py_func).on("numpy")
        x = np.ones(2, np.float32)
        k(1.0, x, np.empty_like(x))
        k(1.0, x, np.empty_like(x))
    finally:
        unsub()
    assert seen.count("compile") == 1 and seen.count("launch") == 2


def test_concurrent_first_calls_compile_once():
    k = lo.kernel(scale.py_func).on("numpy")
    x = np.ones(64, np.float32)
    compiles = []
    unsub = events.subscribe("compile", lambda ev: compiles.append(ev))
    errors = []

    def call():
        try:
            out = np.empty_like(x)
            k(2.0, x, out)
            assert (out == 2).all()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
    threads = [threading.Thread(target=call) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        unsub()
    assert not errors and len(compiles) == 1


def test_elementwise_returns_pooled_tensor_and_reductions_return_scalars():
    @lo.kernel
    def double(x):
        return x * 2

    @lo.kernel
    def total(x):
        s = 0
        for i in lo.grid(x.shape[0]):
            s += x[i]
        return s
    x = lo.arange(10, dtype=lo.int16)
    y = double(x)
    assert isinstance(y, lo.Tensor) and y.dtype == lo.int16
    np.testing.assert_array_equal(y.numpy(), np.arange(10) * 2)
    r = total(x)                          # the one rule: a 0-d Tensor on the device
    assert isinstance(r, lo.Tensor) and r.shape == () and r.dtype == lo.int64
    assert r.device == x.device and int(r) == 45 and r.item() == 45 and float(r) == 45.0


@lo.kernel
def affine_mix(x, y, a):
    return a * x + y


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_elementwise_same_key_with_new_shapes_and_layouts(backend):
    # The flat fast path is keyed by dtypes, ndims and contiguity, not shapes:
    # calls that share a key but not a shape (or later break contiguity) must
    # still broadcast, and every result must match plain numpy.
    k = affine_mix.on(backend)
    rng = np.random.default_rng(3)
    cases = [((4, 5), (4, 5)), ((4, 5), (4, 5)), ((4, 5), (1, 5)), ((3, 1), (1, 6)),
             ((2, 3), (2, 3)), ((0, 3), (0, 3)), ((6,), (6,))]
    for xs, ys in cases + cases[::-1]:
        x = rng.standard_normal(xs).astype(np.float32)
        y = rng.standard_normal(ys).astype(np.float32)
        for xx, yy in ((x, y), (lo.tensor(x), lo.tensor(y))):
            got = k(xx, yy, 2.0)
            assert got.shape == np.broadcast_shapes(xs, ys)
            np.testing.assert_allclose(got.numpy(), 2.0 * x + y, rtol=1e-6)
    big = rng.standard_normal((6, 8)).astype(np.float32)
    for x in (big[:, ::2], big.T[:4]):                   # non-contiguous, same ndim
        got = k(x, np.ones_like(x), 2.0)
        np.testing.assert_allclose(got.numpy(), 2.0 * x + 1, rtol=1e-6)


def test_elementwise_check_mode_still_compares_on_repeated_calls(monkeypatch):
    from langone.kernels import kernel as kernel_module
    seen = []
    real = kernel_module._compare
    monkeypatch.setattr(kernel_module, "_compare",
                        lambda *a: seen.append(a[0]) or real(*a))
    k = lo.kernel(affine_mix.py_func, check=True)
    x = np.ones((3, 4), np.float32)
    for _ in range(3):
        assert (k(x, x, 2.0).numpy() == 3).all()
    assert seen == ["affine_mix"] * 3


def test_lo_backends_lists_usable():
    assert {"numpy", "numba"} <= set(lo.backends())


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_shape_guard_stops_out_of_bounds_writes(backend):
    k = lo.kernel(scale.py_func).on(backend)
    x = np.arange(10, dtype=np.float32)
    out = np.zeros(11, np.float32)
    guard = np.float32(-7)
    out[10] = guard
    with pytest.raises(KernelArgumentError, match=r"kernel 'scale' indexes out\[i\] for "
                                                  r"i in lo.grid\(x.shape\[0\]\), which "
                                                  r"reaches index 9 of axis 0, but argument "
                                                  r"'out' has shape \(5,\); it needs "
                                                  r"out.shape\[0\] >= 10"):
        k(2.0, x, out[:5])
    assert (out[5:10] == 0).all() and out[10] == guard      # nothing written
    k(2.0, x, out[:10])                                    # a big enough output is fine
    np.testing.assert_array_equal(out[:10], 2 * x)


def test_guards_skip_conditional_accesses():
    @lo.kernel
    def guarded(x, out):
        for i in lo.grid(x.shape[0]):
            if i < out.shape[0]:
                out[i] = x[i]
    x = np.arange(6, dtype=np.float32)
    out = np.zeros(3, np.float32)
    guarded.on("numba")(x, out)
    np.testing.assert_array_equal(out, x[:3])
