"""A short guided run of everything LangOne has so far (``make demo``).

Each step prints what it did and a measured figure where there is one.
"""

from __future__ import annotations

import time

import numpy as np

import langone as lo


def step(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 60 - len(title)))


def best(fn, repeat: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def tour_dtypes() -> None:
    step("1. dtypes and NumPy 2 promotion (NEP 50)")
    print("lo.result_type(lo.int8, 3)       ->", lo.result_type(lo.int8, 3))
    print("lo.result_type(lo.fp16, lo.bf16) ->", lo.result_type(lo.fp16, lo.bf16))
    print("lo.finfo(lo.bf16).eps            ->", lo.finfo(lo.bf16).eps)


def tour_devices() -> None:
    step("2. devices and platform profile")
    from langone.runtime.platform import default_config, detect_platform
    print("devices:", lo.devices())
    print(lo.devices()[0].info())
    profile = detect_platform()
    print("platform profile:", profile.value, "->", default_config(profile).pool)


def tour_tensor_and_pool() -> None:
    step("3. the Tensor over pooled memory")
    pool = lo.memory.get_pool("cpu")
    before = pool.stats().in_use
    x = lo.arange(12, dtype=lo.fp32).reshape(3, 4)
    print(x)
    print("x.T @ x ->", (x.T @ x).shape, " x[:, ::2].sum() ->", float(x[:, ::2].sum()))
    h = x.astype(lo.bf16)
    print("as bf16:", h.dtype, " int8 quantized:", lo.quantize(x, "int8").values.dtype)
    print("pool while x lives:", pool.stats())
    del x, h
    print(f"in use before {before} B, after the tensors died {pool.stats().in_use} B")
    with lo.memory.arena("8MB"):
        tmp = lo.empty((1024, 256), dtype=lo.fp32)
        tmp.fill(1.0)
        print("arena temporary:", tmp.shape, tmp.dtype)
        del tmp


def tour_kernels() -> None:
    step("4. kernels: one Python function, several backends")

    @lo.kernel
    def saxpy(a, x, y, out):
        for i in lo.grid(x.shape[0]):
            out[i] = a * x[i] + y[i]

    @lo.kernel
    def gelu(x):
        return 0.5 * x * (1.0 + lo.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))

    @lo.kernel
    def dot(x, y):
        acc = 0.0
        for i in lo.grid(x.shape[0]):
            acc += x[i] * y[i]
        return acc

    n = 2_000_000
    x = lo.tensor(np.random.default_rng(0).standard_normal(n).astype(np.float32))
    y, out = lo.ones_like(x), lo.empty_like(x)
    print("backends usable here:", lo.backends())
    saxpy(2.0, x, y, out)
    ref = out.numpy().copy()
    xs, ys, outs = x[:4096], y[:4096], out[:4096]
    # The rule: a kernel means what its own Python computes; the python backend runs it.
    saxpy.on("python")(2.0, xs, ys, outs)
    print("saxpy numba == the kernel run as plain Python:",
          np.array_equal(ref[:4096], outs.numpy()))
    saxpy.on("numpy")(2.0, x, y, out)
    print("saxpy numba == numpy reference:", np.allclose(ref, out.numpy()))
    for name in ("lua", "triton"):
        if name in lo.backends():
            saxpy.on(name)(2.0, xs, ys, outs)
            print(f"saxpy on {name:6} == reference:", np.allclose(ref[:4096], outs.numpy()))
    print("\nLuaJIT source (first lines):")
    print("\n".join(saxpy.source("lua").splitlines()[:12]))
    g = gelu(x)
    print("gelu(x) ->", g.dtype, g.shape, "  dot(x, y) =", float(dot(x, y)))
    t_k = best(lambda: gelu(x))
    xn = x.numpy()
    t_np = best(lambda: 0.5 * xn * (1.0 + np.tanh(0.7978845608 * (xn + 0.044715 * xn * xn * xn))))
    print(f"gelu on {n:,} fp32: langone {t_k * 1e3:.2f} ms, numpy {t_np * 1e3:.2f} ms "
          f"({t_np / t_k:.1f}x)")
    small = lo.ones(16, dtype=lo.fp32)
    t_call = best(lambda: saxpy(2.0, small, small, small), repeat=50)
    print(f"cached kernel call on 16 elements: {t_call * 1e6:.1f} us")
    tour_matmul()
    print("\ntyped IR of saxpy:\n" + saxpy.ir)
    print("\ngenerated numba source (first lines):")
    print("\n".join(saxpy.source("numba").splitlines()[:14]))


def tour_matmul() -> None:
    @lo.kernel
    def matmul(a, b, out):
        for i, j in lo.grid(a.shape[0], b.shape[1]):
            acc = 0.0
            for k in range(a.shape[1]):
                acc += a[i, k] * b[k, j]
            out[i, j] = acc

    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal((256, 256)).astype(np.float32) for _ in range(2))
    out, ref = np.empty_like(a), np.empty_like(a)
    matmul(a, b, out)
    matmul.on("numpy")(a, b, ref)
    interchanged = "# loop interchange" in matmul.source("numba", a, b, out)
    print(f"naive matmul 256x256: {best(lambda: matmul(a, b, out)) * 1e3:.2f} ms, "
          f"loop interchange applied: {interchanged}, equal to the reference bit for bit: "
          f"{np.array_equal(out, ref)}")


def tour_errors() -> None:
    step("5. errors point at your line")

    def bad(x, out):
        for i in lo.grid(x.shape[0]):
            out[i] = x[i:i + 2]
    try:
        lo.kernel(bad)(np.zeros(4, np.float32), np.zeros(4, np.float32))
    except lo.KernelCompileError as exc:
        print(exc)


def tour_inference() -> None:
    step("6. OpenVINO inference in one call")
    import tempfile

    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    w = rng.standard_normal((16, 4)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tempfile.mkdtemp() + "/tiny.onnx"
    onnx.save(model, path)
    x = rng.standard_normal((8, 16)).astype(np.float32)
    y = lo.infer(path, x)
    print(f"lo.infer('{path.rsplit('/', 1)[-1]}', x{x.shape}) ->", type(y).__name__, y.shape,
          " exact:", np.allclose(y.numpy(), np.maximum(x @ w, 0), atol=1e-5))
    m = lo.load_model(path, device="CPU")
    t_m = best(lambda: m(x), repeat=200)
    print(f"m(x) per call: {t_m * 1e6:.1f} us; devices: {lo.devices()}")


def main() -> None:
    print(f"LangOne {lo.__version__}: a guided tour")
    tour_dtypes()
    tour_devices()
    tour_tensor_and_pool()
    tour_kernels()
    tour_errors()
    tour_inference()
    print("\nDone. Next: `make test`, `langone bench`, and asv_benchmarks/.")


if __name__ == "__main__":
    main()
