"""`import langone` stays light: only numpy; heavy libraries load on first use."""

import json
import subprocess
import sys

HEAVY = ("numba", "llvmlite", "triton", "torch", "lupa", "openvino", "dask", "cupy",
         "psutil", "ml_dtypes", "pynvml", "onnx", "hypothesis")


def _modules_after(code: str) -> list[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_loads_no_heavy_library():
    mods = _modules_after("import langone")
    loaded = [m for m in HEAVY if m in mods]
    assert loaded == [], f"import langone pulled in {loaded}"


def test_public_names_resolve_lazily():
    mods = _modules_after("import langone as lo\nlo.kernel\nlo.Device('cpu')\nlo.grid(2)")
    assert "numba" not in mods


def test_dir_lists_lazy_names():
    import langone as lo
    names = dir(lo)
    for n in ("kernel", "tensor", "Device", "grid", "fp16", "result_type"):
        assert n in names, n
