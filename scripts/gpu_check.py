"""``make gpu-check``: everything that needs a real GPU, in one short run that prints one table.

GPU time is scarce where it is lent, so this runs first time and stays inside its budget
(``--budget`` seconds, 420 by default; each stage has its own share and stops at it):

1. **environment**: the GPU, driver, Triton, torch, CuPy and numpy versions;
2. **tests** (in parallel with 3): the GPU tests and every Triton test of the suite, the
   kernel corpus on the Triton backend (compiled for the GPU, not interpreted), the
   reference kernels' own checks;
3. **fuzz**: generated whole kernels (``tests/kernel_gen.py``) on the Triton backend against
   the python backend, a fixed count of seeds split over worker processes;
4. **bench**: LangOne's Triton code against the tutorial-style kernels of
   ``asv_benchmarks/triton_tutorial.py`` on the same data (results checked first), cuBLAS
   (``torch.matmul``) for matmul, and device bandwidth (a large device-to-device copy) for
   the streaming kernels; times are medians of ``triton.testing.do_bench`` (CUDA events).

Everything is also written under ``--out`` (``$OUT`` when set): ``gpu_check.json``,
``tests.log``, ``fuzz.txt``. ``--smoke`` runs every stage at toy sizes in Triton's interpreter
on a machine without a GPU (``tests/test_gpu_check.py`` does, so the script cannot rot).

Usage: ``make gpu-check`` or ``python scripts/gpu_check.py [--budget S] [--fuzz N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
# children see the checkout first, then whatever PYTHONPATH already held (carried wheels)
PYTHONPATH = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

GPU_TESTS = ["tests/test_triton_backend.py", "tests/test_kernel_corpus.py",
             "tests/test_triton_tutorial.py", "tests/test_memory.py"]
# the ahead-of-time tests need no GPU and run in CI: left out to save GPU time
GPU_TEST_FILTER = "(triton or gpu or cuda or tutorial) and not ahead_of_time and not aot"


# --- 1. environment ----------------------------------------------------------------------

def environment() -> dict:
    env = {"python": platform.python_version(), "cpus": os.cpu_count()}
    for mod in ("numpy", "triton", "torch", "cupy", "numba"):
        try:
            env[mod] = __import__(mod).__version__
        except Exception as exc:              # a missing library is a row, not a failure
            env[mod] = f"missing ({type(exc).__name__})"
    try:
        q = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                            "--format=csv,noheader"], capture_output=True, text=True,
                           timeout=30)
        env["gpu"] = q.stdout.strip() or q.stderr.strip()
    except Exception as exc:
        env["gpu"] = f"no nvidia-smi ({type(exc).__name__})"
    return env


# --- 2. tests ------------------------------------------------------------------------------

def start_tests(out: pathlib.Path, cache: pathlib.Path, budget: float, smoke: bool,
                workers: int):
    files = ["tests/test_triton_tutorial.py"] if smoke else GPU_TESTS
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE",
           "--timeout", "300", "-k", GPU_TEST_FILTER, *files]
    if workers > 1:
        cmd += ["-n", str(workers)]
    env = dict(os.environ, PYTHONPATH=PYTHONPATH, LANGONE_CACHE_DIR=str(cache / "tests"))
    log = open(out / "tests.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, log, time.monotonic() + budget


def finish_tests(proc, log, deadline: float, out: pathlib.Path) -> dict:
    try:
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    text = (out / "tests.log").read_text(errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    summary = next((ln for ln in reversed(lines) if " in " in ln and
                    ("passed" in ln or "failed" in ln or "error" in ln)), "no summary")
    failed = [ln for ln in lines if ln.startswith(("FAILED", "ERROR"))]
    return {"returncode": proc.returncode, "summary": summary.strip("= "), "failed": failed[:40]}


# --- 3. fuzz -----------------------------------------------------------------------------

def fuzz_worker(seeds: list, deadline: float, progress: pathlib.Path) -> None:
    """Runs in a child process: one line per seed to ``progress`` (started, then its result),
    so a kernel that hangs the GPU is named by the last line when the parent kills it."""
    import kernel_gen as kg
    with open(progress, "a") as fh:
        for seed in seeds:
            if time.time() > deadline:
                break
            fh.write(json.dumps({"start": seed}) + "\n")
            fh.flush()
            gk = kg.generate(seed)
            try:
                probs = kg.fuzz_one(gk, ["triton"], "python", plain=False)
            except Exception:                 # the harness itself failed: report, go on
                probs = ["harness: " + traceback.format_exc(limit=3)]
            fh.write(json.dumps({"seed": seed, "problems": [p[:800] for p in probs],
                                 "source": gk.source if probs else ""}) + "\n")
            fh.flush()


def fuzz(out: pathlib.Path, cache: pathlib.Path, count: int, seed0: int, budget: float,
         workers: int) -> dict:
    deadline = time.time() + budget
    procs = []
    for w in range(workers):
        seeds = list(range(seed0 + w, seed0 + count, workers))
        if not seeds:
            continue
        progress = cache / f"fuzz{w}.jsonl"
        env = dict(os.environ, LANGONE_CACHE_DIR=str(cache / f"fuzz{w}"),
                   PYTHONPATH=PYTHONPATH)
        code = (f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]; "
                f"from scripts.gpu_check import fuzz_worker; import pathlib; "
                f"fuzz_worker({seeds!r}, {deadline!r}, pathlib.Path({str(progress)!r}))")
        procs.append((subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE),
                      progress))
    done, found = 0, []
    for proc, progress in procs:
        try:
            _, err = proc.communicate(timeout=max(1.0, deadline + 45 - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        records = [json.loads(ln) for ln in progress.read_text().splitlines()] \
            if progress.exists() else []
        finished = {r["seed"] for r in records if "seed" in r}
        hung = [r["start"] for r in records if "start" in r and r["start"] not in finished]
        for seed in hung:
            found.append((seed, "", [f"did not finish (killed at the deadline: a hang?) "
                                     f"rc={proc.returncode}"]))
        if proc.returncode not in (0, None) and not hung:
            found.append((-1, "", [f"worker exited {proc.returncode}: "
                                   f"{err.decode(errors='replace')[-1500:]}"]))
        done += len(finished)
        found += [(r["seed"], r["source"], r["problems"]) for r in records
                  if r.get("problems")]
    with open(out / "fuzz.txt", "w") as fh:
        for seed, src, probs in sorted(found, key=lambda f: f[0]):
            fh.write(f"--- seed {seed}\n{src}\n" + "\n".join("    " + p for p in probs) + "\n")
    return {"kernels": done, "of": count, "seed0": seed0, "disagree": len(found),
            "seeds": sorted(s for s, _, _ in found)[:40]}


# --- 4. bench ------------------------------------------------------------------------------

def sizes(smoke: bool) -> dict:
    if smoke:
        return {"saxpy": 4096, "softmax": (16, 200), "matmul": 32, "total": 10000,
                "histogram": 8192, "stencil": (40, 70), "launch": 16}
    return {"saxpy": 1 << 26, "softmax": (8192, 1024), "matmul": 2048, "total": 100_000_000,
            "histogram": 1 << 24, "stencil": (8192, 8192), "launch": 16}


class Bench:
    """Times and checks each LangOne kernel against its tutorial-style peer."""

    def __init__(self, smoke: bool):
        import numpy as np
        import torch
        import langone as lo
        from asv_benchmarks import triton_tutorial as tut
        self.np, self.torch, self.lo, self.tut, self.smoke = np, torch, lo, tut, smoke
        self.dev = "cpu" if smoke else "cuda"
        self.size = sizes(smoke)
        self.rng = np.random.default_rng(0)

    # -- plumbing ---------------------------------------------------------------------------
    def lo_t(self, a):
        return a.copy() if self.smoke else self.lo.tensor(a, device="cuda")

    def torch_t(self, a):
        return self.torch.from_numpy(self.np.ascontiguousarray(a).copy()).to(self.dev)

    def host(self, t):
        if isinstance(t, self.np.ndarray):
            return t
        return t.cpu().numpy()

    def ms(self, fn) -> float:
        """Median milliseconds of one call (CUDA events on a GPU)."""
        if self.smoke:
            fn()
            ts = []
            for _ in range(3):
                t = time.perf_counter()
                fn()
                ts.append((time.perf_counter() - t) * 1e3)
            return statistics.median(ts)
        from triton.testing import do_bench
        return float(do_bench(fn, warmup=25, rep=100, return_mode="median"))

    def kernel_ms(self, call) -> float | None:
        """CUDA-event milliseconds of the device kernels of one LangOne call (no launcher)."""
        if self.smoke:
            return None
        from asv_benchmarks.bench_triton import gpu_ms_of
        return gpu_ms_of(call) or None

    def copy_gbs(self) -> float:
        """Device bandwidth: a 1 GiB device-to-device copy, bytes read plus written."""
        n = (1 << 28) if not self.smoke else 4096
        a = self.torch.empty(n, dtype=self.torch.float32, device=self.dev).uniform_()
        b = self.torch.empty_like(a)
        return 2 * 4 * n / (self.ms(lambda: b.copy_(a)) * 1e-3) / 1e9

    # -- the cases: each returns a row ------------------------------------------------------
    def row(self, name, lo_call, ref_call, check, bytes_moved=None, flops=None, extra=None):
        check()
        t_lo, t_ref = self.ms(lo_call), self.ms(ref_call)
        r = {"case": name, "langone_ms": t_lo, "tutorial_ms": t_ref, "ratio": t_ref / t_lo,
             "langone_kernel_ms": self.kernel_ms(lo_call)}
        if bytes_moved:
            r["langone_gbs"] = bytes_moved / (t_lo * 1e-3) / 1e9
            r["tutorial_gbs"] = bytes_moved / (t_ref * 1e-3) / 1e9
        if flops:
            r["langone_tflops"] = flops / (t_lo * 1e-3) / 1e12
        r.update(extra or {})
        return r

    def close(self, got, want, rtol, atol, what):
        np = self.np
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        if not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
            err = np.nanmax(np.abs(got - want))
            raise AssertionError(f"{what}: LangOne and the tutorial kernel disagree "
                                 f"(max abs difference {err:.3g})")

    def saxpy(self):
        np, n = self.np, self.size["saxpy"]
        x, y = (self.rng.standard_normal(n, np.float32) for _ in range(2))
        lx, ly, lout = self.lo_t(x), self.lo_t(y), self.lo_t(np.full_like(x, np.nan))
        tx, ty, tout = self.torch_t(x), self.torch_t(y), self.torch_t(np.full_like(x, np.nan))
        k = self.tut.lo_saxpy.on("triton")

        def lo_call():
            k(2.0, lx, ly, lout)

        def ref_call():
            self.tut.saxpy(2.0, tx, ty, tout)

        def check():
            lo_call(), ref_call()
            self.close(self.host(lout), self.host(tout), 1e-6, 0, "saxpy")
        return self.row("saxpy", lo_call, ref_call, check, bytes_moved=12 * n)

    def softmax(self):
        np, shape = self.np, self.size["softmax"]
        x = self.rng.standard_normal(shape).astype(np.float32)
        lx, lout = self.lo_t(x), self.lo_t(np.full_like(x, np.nan))
        tx, tout = self.torch_t(x), self.torch_t(np.full_like(x, np.nan))
        k = self.tut.lo_softmax.on("triton")

        def lo_call():
            k(lx, lout)

        def ref_call():
            self.tut.softmax(tx, tout)

        def check():
            lo_call(), ref_call()
            self.close(self.host(lout), self.host(tout), 1e-5, 1e-7, "softmax")
        name = f"softmax {shape[0]}x{shape[1]}"
        return self.row(name, lo_call, ref_call, check, bytes_moved=8 * x.size)

    def matmul(self):
        np, n = self.np, self.size["matmul"]
        a, b = (self.rng.standard_normal((n, n)).astype(np.float16) for _ in range(2))
        la, lb, lout = self.lo_t(a), self.lo_t(b), self.lo_t(np.zeros((n, n), np.float16))
        ta, tb, tout = self.torch_t(a), self.torch_t(b), self.torch_t(np.zeros((n, n), np.float16))
        k = self.tut.lo_matmul.on("triton")
        cfg = {"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 16, "GROUP_M": 2} if self.smoke else None

        def lo_call():
            k(la, lb, lout)

        def ref_call():
            self.tut.matmul(ta, tb, tout, config=cfg)

        def check():
            lo_call(), ref_call()
            self.close(self.host(lout), self.host(tout), 2e-2, 2e-2, "matmul fp16")
        extra = {}
        if not self.smoke:
            torch = self.torch
            t_blas = self.ms(lambda: torch.matmul(ta, tb, out=tout))
            extra = {"cublas_ms": t_blas}
        r = self.row(f"matmul fp16 {n}^3", lo_call, ref_call, check, flops=2 * n ** 3,
                     extra=extra)
        if "cublas_ms" in r:
            r["vs_cublas"] = r["cublas_ms"] / r["langone_ms"]
        return r

    def total(self):
        np, n = self.np, self.size["total"]
        x = self.rng.random(n, np.float32)
        lx, tx = self.lo_t(x), self.torch_t(x)
        tout = self.torch.zeros(1, dtype=self.torch.float32, device=self.dev)
        k = self.tut.lo_total.on("triton")
        got = {}

        def lo_call():
            got["lo"] = k(lx)

        def ref_call():
            self.tut.total(tx, tout)

        def check():
            lo_call(), ref_call()
            self.close(float(got["lo"]), float(tout[0]), 1e-4, 0, "sum")
        return self.row(f"sum {n:.0e}", lo_call, ref_call, check, bytes_moved=4 * n)

    def histogram(self):
        np, n = self.np, self.size["histogram"]
        v = self.rng.integers(0, 16, n).astype(np.int32)
        lv, lh = self.lo_t(v), self.lo_t(np.zeros(16, np.int32))
        tv, th = self.torch_t(v), self.torch.zeros(16, dtype=self.torch.int32, device=self.dev)
        k = self.tut.lo_histogram.on("triton")

        def lo_call():
            k(lv, lh)

        def ref_call():
            self.tut.histogram(tv, th)

        def check():
            lo_call(), ref_call()
            self.close(self.host(lh), self.host(th), 0, 0, "histogram")
        return self.row(f"histogram 16 bins {n:.0e}", lo_call, ref_call, check,
                        bytes_moved=4 * n)

    def stencil(self):
        np, shape = self.np, self.size["stencil"]
        x = self.rng.standard_normal(shape).astype(np.float32)
        lx, lout = self.lo_t(x), self.lo_t(np.full_like(x, np.nan))
        tx, tout = self.torch_t(x), self.torch_t(np.full_like(x, np.nan))
        k = self.tut.lo_stencil.on("triton")

        def lo_call():
            k(lx, lout)

        def ref_call():
            self.tut.stencil(tx, tout)

        def check():
            lo_call(), ref_call()
            self.close(self.host(lout), self.host(tout), 1e-5, 1e-6, "stencil")
        return self.row(f"stencil {shape[0]}x{shape[1]}", lo_call, ref_call, check,
                        bytes_moved=8 * x.size)

    def launch(self):
        """Per-call cost at 16 elements: LangOne's launcher against a tutorial call site."""
        np, n = self.np, self.size["launch"]
        x = self.rng.standard_normal(n, np.float32)
        lx, lout = self.lo_t(x), self.lo_t(x)
        tx, tout = self.torch_t(x), self.torch_t(x)
        k = self.tut.lo_saxpy.on("triton")

        def wall_us(fn, reps=2000 if not self.smoke else 5):
            fn()
            t = time.perf_counter()
            for _ in range(reps):
                fn()
            self.sync()
            return (time.perf_counter() - t) / reps * 1e6
        lo_us = wall_us(lambda: k(2.0, lx, lx, lout))
        ref_us = wall_us(lambda: self.tut.saxpy(2.0, tx, tx, tout))
        return {"case": "launch, 16 elements", "langone_us": lo_us, "tutorial_us": ref_us,
                "ratio": ref_us / lo_us}

    def sync(self):
        if not self.smoke:
            self.torch.cuda.synchronize()
            import cupy
            cupy.cuda.Device().synchronize()

    CASES = ("saxpy", "softmax", "total", "stencil", "histogram", "matmul", "launch")


def bench(budget: float, smoke: bool, out: pathlib.Path) -> dict:
    deadline = time.monotonic() + budget
    b = Bench(smoke)
    rows, errors = [], []
    copy = None
    try:
        copy = b.copy_gbs()
    except Exception as exc:
        errors.append(f"copy: {type(exc).__name__}: {exc}")
    for name in Bench.CASES:
        if time.monotonic() > deadline:
            errors.append(f"{name}: skipped, the bench budget is spent")
            continue
        try:
            r = getattr(b, name)()
        except Exception as exc:              # one broken case must not hide the others
            errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:400]}")
            continue
        if copy and "langone_gbs" in r:
            r["of_bandwidth"] = r["langone_gbs"] / copy
        rows.append(r)
        print("bench:", json.dumps(r, default=str), flush=True)
        b.sync()
    with open(out / "sources.txt", "w") as fh:      # the generated code, to read off the GPU
        for lo_kernel, _ in b.tut.PAIRS.values():
            try:
                fh.write(f"=== {lo_kernel.__name__}\n{lo_kernel.source('triton')}\n")
            except Exception as exc:
                fh.write(f"=== {lo_kernel.__name__}: {type(exc).__name__}: {exc}\n")
    return {"copy_gbs": copy, "rows": rows, "errors": errors}


# --- the table -----------------------------------------------------------------------------

def _f(v, fmt):
    return format(v, fmt) if isinstance(v, (int, float)) else "-"


def table(result: dict) -> str:
    env, lines = result["environment"], []
    lines.append(f"GPU: {env.get('gpu')}  triton {env.get('triton')}  torch {env.get('torch')}"
                 f"  cupy {env.get('cupy')}  numpy {env.get('numpy')}")
    t = result.get("tests", {})
    lines.append(f"tests: {t.get('summary', '-')}")
    lines += ["  " + ln for ln in t.get("failed", [])[:12]]
    f = result.get("fuzz", {})
    lines.append(f"fuzz:  {f.get('kernels', 0)} of {f.get('of', 0)} generated kernels on "
                 f"triton, {f.get('disagree', '-')} disagree with python {f.get('seeds', '')}")
    bn = result.get("bench", {})
    lines.append(f"device copy bandwidth: {_f(bn.get('copy_gbs'), '.0f')} GB/s")
    lines.append(f"{'case':28s} {'langone ms':>11s} {'kernel ms':>10s} {'tutorial ms':>11s} "
                 f"{'ratio':>6s} {'GB/s':>7s} {'of bw':>6s}  other")
    for r in bn.get("rows", []):
        if "langone_us" in r:
            lines.append(f"{r['case']:28s} {r['langone_us']:9.1f}us {'':>10s} "
                         f"{r['tutorial_us']:9.1f}us {r['ratio']:6.2f}")
            continue
        other = ""
        if "cublas_ms" in r:
            other = (f"cuBLAS {r['cublas_ms']:.3f} ms, vs cuBLAS {r['vs_cublas']:.3f}, "
                     f"{r['langone_tflops']:.1f} TFLOP/s")
        lines.append(f"{r['case']:28s} {r['langone_ms']:11.3f} "
                     f"{_f(r.get('langone_kernel_ms'), '10.3f'):>10s} {r['tutorial_ms']:11.3f} "
                     f"{r['ratio']:6.3f} {_f(r.get('langone_gbs'), '7.0f'):>7s} "
                     f"{_f(r.get('of_bandwidth'), '6.2f'):>6s}  {other}")
    lines += ["  bench error: " + e for e in bn.get("errors", [])]
    lines.append("ratio = tutorial time / LangOne time (1.0: as fast as the tutorial kernel)")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.environ.get("OUT") or str(ROOT / "gpu-check-out"))
    ap.add_argument("--budget", type=float, default=420.0, help="seconds for the whole run")
    ap.add_argument("--fuzz", type=int, default=600, help="generated kernels to run")
    ap.add_argument("--fuzz-seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=max(1, min(8, (os.cpu_count() or 2) - 2)))
    ap.add_argument("--smoke", action="store_true",
                    help="toy sizes in Triton's interpreter (no GPU needed)")
    ap.add_argument("--skip", action="append", default=[],
                    choices=["tests", "fuzz", "bench"], help="leave out a stage")
    args = ap.parse_args(argv)
    if args.smoke:
        os.environ["LANGONE_TRITON_INTERPRET"] = "1"
        os.environ["TRITON_INTERPRET"] = "1"
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # caches stay out of --out: $OUT brings back only a few files
    cache = pathlib.Path(os.environ.get("LANGONE_CACHE_DIR") or tempfile.mkdtemp("-gpu-check"))
    cache.mkdir(parents=True, exist_ok=True)
    os.environ["LANGONE_CACHE_DIR"] = str(cache / "main")
    t0 = time.monotonic()
    result = {"environment": environment()}
    print("environment:", json.dumps(result["environment"]), flush=True)
    # tests and fuzz share the first ~55% of the budget (both mostly compile on the CPU);
    # the bench runs alone afterwards, so the GPU is quiet while it is timed.
    share = 0.55 * args.budget
    tests = None
    if "tests" not in args.skip:
        tests = start_tests(out, cache, share, args.smoke, max(1, args.workers // 2))
    if "fuzz" not in args.skip:
        try:
            result["fuzz"] = fuzz(out, cache, args.fuzz, args.fuzz_seed, share - 15,
                                  max(1, args.workers - (args.workers // 2 if tests else 0)))
        except Exception as exc:
            result["fuzz"] = {"error": f"{type(exc).__name__}: {exc}"}
        print("fuzz:", json.dumps(result["fuzz"]), flush=True)
    if tests is not None:
        result["tests"] = finish_tests(*tests, out)
        print("tests:", result["tests"]["summary"], flush=True)
    if "bench" not in args.skip:
        left = args.budget - (time.monotonic() - t0) - 10
        try:
            result["bench"] = bench(max(30.0, left), args.smoke, out)
        except Exception as exc:
            result["bench"] = {"errors": [f"bench: {traceback.format_exc(limit=6)}"]}
    result["seconds"] = time.monotonic() - t0
    (out / "gpu_check.json").write_text(json.dumps(result, indent=1, default=str))
    print(table(result), flush=True)
    print(f"({result['seconds']:.0f} s; details in {out})")
    bad = (result.get("fuzz", {}).get("disagree") or
           (result.get("tests") or {}).get("returncode") not in (0, None) or
           result.get("bench", {}).get("errors"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
