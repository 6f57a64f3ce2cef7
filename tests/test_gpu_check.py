"""`make gpu-check` must run first time on a lent GPU: its every stage runs here at toy sizes in
Triton's interpreter (scripts/gpu_check.py --smoke), results checked the way the GPU run
checks them."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("triton")
pytest.importorskip("torch")

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.timeout(300)
def test_gpu_check_runs_every_stage_in_smoke_mode(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), LANGONE_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("OUT", None)
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--smoke",
                          "--fuzz", "4", "--workers", "2", "--budget", "200",
                          "--out", str(tmp_path)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=280)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    result = json.loads((tmp_path / "gpu_check.json").read_text())
    assert result["fuzz"] == {"kernels": 4, "of": 4, "seed0": 0, "disagree": 0, "seeds": []}
    assert "passed" in result["tests"]["summary"] and result["tests"]["returncode"] == 0
    cases = [r["case"].split()[0] for r in result["bench"]["rows"]]
    assert cases == ["saxpy", "softmax", "sum", "stencil", "histogram", "matmul", "launch,"]
    assert result["bench"]["errors"] == []
    assert all(r["ratio"] > 0 for r in result["bench"]["rows"])
    assert "ratio = tutorial time / LangOne time" in run.stdout       # the one table, last
