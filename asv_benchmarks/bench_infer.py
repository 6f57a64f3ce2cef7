"""``lo.infer`` / ``m(x)`` / ``m.map`` against raw OpenVINO on the same compiled model.

Two models built in memory: *tiny* (MLP 16-16-4, batch 1: the per-call overhead
dominates) and *medium* (MLP 256-1024-1024-1024-10, batch 32: ~1.5 ms of
compute). Both sides use the same device (CPU) and the same compile config
(``INFERENCE_PRECISION_HINT=f32``); LangOne's model is compiled by
``load_model`` and the raw side calls that very ``openvino.CompiledModel``.

- sync: ``compiled_model(x)`` (OpenVINO's documented one-call API, which copies
  outputs like LangOne does) against ``m(x)`` and ``lo.infer(model, x)``; the
  C++ ``InferRequest.infer`` with a shared input tensor is shown as the floor.
  Calls cycle through 8 input arrays; "same buffer" passes one array every time
  (a refilled input buffer), where LangOne reuses its shared tensor.
- batched: an ``AsyncInferQueue`` with the same number of requests and a
  callback copying each output, against ``m.map(items)`` (which runs a plain
  loop when one inference is under 150 us) and ``m.map(items, pipeline=True)``
  (always the queue).

Goals (DESIGN.md): >= 0.97x raw throughput, <= 2 us added per call.
Run directly for a table: ``python asv_benchmarks/bench_infer.py``.
"""

import itertools
import statistics
import timeit

import numpy as np

_SIZES = {"tiny": (1, [16, 16, 4]), "medium": (32, [256, 1024, 1024, 1024, 10])}
_ITEMS = {"tiny": 1000, "medium": 16}


def build_mlp(batch, widths, seed=0):
    """An ``openvino.Model`` MLP with ReLU between layers."""
    import openvino as ov
    import openvino.opset16 as ops
    rng = np.random.default_rng(seed)
    x = ops.parameter([batch, widths[0]], np.float32, name="x")
    h = x
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        w = (rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32)
        h = ops.matmul(h, ops.constant(w), False, False)
        if i < len(widths) - 2:
            h = ops.relu(h)
    return ov.Model([h], [x], f"mlp{len(widths) - 1}")


class _Setup:
    params = ["tiny", "medium"]
    param_names = ["model"]

    def setup(self, size):
        import openvino as ov
        from openvino._pyopenvino import InferRequest, Tensor

        import langone.infer as li
        batch, widths = _SIZES[size]
        self.li = li
        self.ov_model = build_mlp(batch, widths)
        self.m = li.load_model(self.ov_model, device="CPU")
        self.cm = self.m.compiled_model              # the very same compiled model
        self.x = np.random.default_rng(1).standard_normal((batch, widths[0])).astype(np.float32)
        self.items = [self.x.copy() for _ in range(_ITEMS[size])]
        # Every call gets another array than the call before: LangOne reuses the shared
        # openvino.Tensor when the same array comes again, which would flatter it here.
        self.xs = itertools.cycle(self.items[:8])
        self.request = self.cm.create_infer_request()
        self.port = self.cm.output(0)
        self._infer, self._Tensor = InferRequest.infer, Tensor
        self.jobs = max(int(self.cm.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")), 2)
        self.queue = ov.AsyncInferQueue(self.cm, self.jobs)
        self.m(self.x)
        self.cm(self.x)


class InferSync(_Setup):
    def time_raw_compiled_model(self, size):
        self.cm(next(self.xs))[0]

    def time_floor_cpp_infer(self, size):
        self._infer(self.request, self._Tensor(next(self.xs), shared_memory=True), False,
                    True)[self.port]

    def time_lo_model_call(self, size):
        self.m(next(self.xs))

    def time_lo_model_call_same_buffer(self, size):
        self.m(self.x)

    def time_lo_infer(self, size):
        self.li.infer(self.ov_model, next(self.xs), device="CPU")


class InferBatched(_Setup):
    def time_raw_async_queue(self, size):
        results = [None] * len(self.items)

        def done(request, i):
            results[i] = request.get_output_tensor(0).data.copy()

        q = self.queue
        q.set_callback(done)
        for i, x in enumerate(self.items):
            q.start_async(x, i, share_inputs=True)
        q.wait_all()
        return results

    def time_lo_map(self, size):
        return self.m.map(self.items, progress=False, jobs=self.jobs)

    def time_lo_map_pipelined(self, size):
        return self.m.map(self.items, progress=False, jobs=self.jobs, pipeline=True)


def _measure(fns: dict, number: int, rounds: int) -> dict:
    """Per-call microseconds for each function, rounds interleaved (fair under noise)."""
    times: dict = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            times[k].append(timeit.timeit(fn, number=number) / number * 1e6)
    return times


def main(rounds: int = 25) -> None:
    print("Per call (batched: per item). Ratios are throughput against the raw call, "
          "from the best round and from the median round (this machine is shared: the "
          "best round is the least disturbed).")
    print(f"{'model':<7} {'mode':<8} {'call':<22} {'min us':>9} {'median us':>10} "
          f"{'x raw (min)':>12} {'x raw (median)':>15}")
    for size in _Setup.params:
        s = InferSync()
        s.setup(size)
        number = 1000 if size == "tiny" else 8     # short rounds: more chances of a quiet one
        sync = _measure({"raw compiled_model(x)": lambda: s.time_raw_compiled_model(size),
                         "floor C++ infer": lambda: s.time_floor_cpp_infer(size),
                         "m(x)": lambda: s.time_lo_model_call(size),
                         "m(x), same buffer": lambda: s.time_lo_model_call_same_buffer(size),
                         "lo.infer(model, x)": lambda: s.time_lo_infer(size)}, number, rounds)
        b = InferBatched()
        b.setup(size)
        n_items = len(b.items)
        batched = _measure({"raw AsyncInferQueue": lambda: b.time_raw_async_queue(size),
                            "m.map(items)": lambda: b.time_lo_map(size),
                            "m.map(pipeline=True)": lambda: b.time_lo_map_pipelined(size)},
                           1, rounds)
        for mode, times, base in (("sync", sync, "raw compiled_model(x)"),
                                  ("batched", batched, "raw AsyncInferQueue")):
            per = 1 if mode == "sync" else n_items
            best, med = min(times[base]), statistics.median(times[base])
            for name, t in times.items():
                print(f"{size:<7} {mode:<8} {name:<22} {min(t) / per:>9.2f} "
                      f"{statistics.median(t) / per:>10.2f} {best / min(t):>11.3f}x "
                      f"{med / statistics.median(t):>14.3f}x")
        floor = min(sync["floor C++ infer"])
        raw = min(sync["raw compiled_model(x)"])
        for name in ("m(x)", "lo.infer(model, x)"):
            t = min(sync[name])
            print(f"{size:<7} {name}: {t - raw:+.2f} us per call against compiled_model(x), "
                  f"{t - floor:+.2f} us against the C++ floor (best rounds)")


def python_overhead(rounds: int = 15, number: int = 20000) -> None:
    """LangOne's added cost per call with OpenVINO's inference stubbed out.

    The C++ ``infer`` is replaced by a function returning a ready result, on both
    sides, so the difference is LangOne's Python work alone: a figure of ~1 us
    that the 15-30 us noise of real inference on a shared machine would hide.
    """
    import langone.infer.model as model_mod
    s = InferSync()
    s.setup("tiny")
    out = {s.m._current.out0: np.zeros((1, 4), np.float32)}

    def stub(request, tensor, share_outputs, decode_strings):
        return out

    real = model_mod._binfer
    model_mod._binfer = stub
    try:
        port, Tensor, request = s.m._current.out0, s._Tensor, s.request
        times = _measure({
            "stub floor": lambda: stub(request, Tensor(next(s.xs), shared_memory=True),
                                       False, True)[port],
            "m(x)": lambda: s.m(next(s.xs)),
            "lo.infer(model, x)": lambda: s.li.infer(s.ov_model, next(s.xs), device="CPU"),
            "langone.infer module": lambda: s.li(s.ov_model, next(s.xs), device="CPU"),
        }, number, rounds)
    finally:
        model_mod._binfer = real
    floor = min(times["stub floor"])
    print("\nLangOne's Python work per call (OpenVINO's infer stubbed; best of "
          f"{rounds} rounds): stub floor {floor:.2f} us")
    for name, t in times.items():
        if name != "stub floor":
            print(f"  {name:<22} {min(t):.2f} us, {min(t) - floor:+.2f} us added")


if __name__ == "__main__":
    main()
    python_overhead()
