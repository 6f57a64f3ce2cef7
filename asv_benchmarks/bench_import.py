"""Footprint of ``import langone``: wall time and RSS above ``import numpy``.

Each measurement runs in a fresh interpreter (imports are cached per process).
Goals: <= 150 ms and <= 10 MB RSS above numpy.
"""

import json
import subprocess
import sys

_PROBE = r"""
import json, resource, sys, time
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096
import numpy
base = rss()
t0 = time.perf_counter()
import langone
dt = time.perf_counter() - t0
heavy = [m for m in ("numba", "triton", "torch", "lupa", "openvino", "dask", "cupy",
                     "psutil", "ml_dtypes") if m in sys.modules]
print(json.dumps({"seconds": dt, "rss": rss() - base, "heavy": heavy}))
"""


def probe() -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


class ImportLangone:
    timeout = 120
    number = 1
    repeat = 5

    def track_import_ms(self):
        return probe()["seconds"] * 1e3
    track_import_ms.unit = "ms"

    def track_import_rss_mb_above_numpy(self):
        return probe()["rss"] / 1e6
    track_import_rss_mb_above_numpy.unit = "MB"


if __name__ == "__main__":
    runs = [probe() for _ in range(5)]
    print(f"import langone: best {min(r['seconds'] for r in runs) * 1e3:.1f} ms, "
          f"RSS +{min(r['rss'] for r in runs) / 1e6:.2f} MB above numpy, "
          f"heavy modules loaded: {runs[0]['heavy']}")
