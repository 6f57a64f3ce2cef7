"""Autotuning of grid kernels on the GPU: BLOCK and num_warps, chosen once.

On the first launch of a grid kernel for a (kernel, signature, device, size
class) the launcher times every candidate configuration with CUDA events (on
copies of the tensors the kernel writes, restored after each trial) and keeps
the fastest. The choice is cached in memory and in a JSON file under
``langone.config.cache_dir() / "triton" / "autotune.json"``, so later
processes skip the search. The file is rewritten atomically (merged with what
other processes wrote meanwhile); a damaged file is ignored and replaced.

Example:
    >>> from langone.kernels.backends.triton_autotune import Autotuner
    >>> tuner = Autotuner(path=None)                  # memory only
    >>> tuner.choose("k", lambda cfg: 1.0 / cfg["BLOCK"])["BLOCK"]
    2048
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Callable

from ... import config

#: Candidate (BLOCK, num_warps) pairs: wide blocks for streaming kernels,
#: narrow ones for kernels whose lanes run long loops.
CANDIDATES = tuple({"BLOCK": b, "num_warps": w}
                   for b in (128, 256, 512, 1024, 2048) for w in (4, 8) if b >= 32 * w)


def size_class(total: int) -> int:
    """Grids within a factor of 4 of each other share a tuned configuration."""
    return max(0, int(total).bit_length() - 1) // 2


def default_path() -> Path | None:
    """Where choices persist (None with ``LANGONE_DISABLE_CACHE=1``: memory only)."""
    if not config.disk_cache_enabled():
        return None
    return config.cache_dir() / "triton" / "autotune.json"


class Autotuner:
    """Chooses and remembers the fastest configuration per key."""

    def __init__(self, path: Path | None | str = "default", candidates=CANDIDATES):
        self.path = default_path() if path == "default" else (Path(path) if path else None)
        self.candidates = tuple(candidates)
        self.memory: dict[str, dict] = {}
        self._disk: dict | None = None
        self._lock = threading.Lock()

    def key(self, *parts) -> str:
        return "|".join(str(p) for p in parts)

    def lookup(self, key: str) -> dict | None:
        hit = self.memory.get(key)
        if hit is None and self.path is not None:
            hit = self._load().get(key)
            if hit is not None:
                self.memory[key] = hit
        return hit

    def choose(self, key: str, trial: Callable[[dict], float]) -> dict:
        """The cached configuration for ``key``, or the one ``trial`` (a function
        config -> milliseconds) finds fastest. Candidates that fail are skipped."""
        hit = self.lookup(key)
        if hit is not None:
            return hit
        best, best_ms, errors = None, float("inf"), []
        for cfg in self.candidates:
            try:
                ms = float(trial(cfg))
            except Exception as exc:           # e.g. out of registers for this config
                errors.append(f"{cfg}: {exc}")
                continue
            if ms < best_ms:
                best, best_ms = cfg, ms
        if best is None:
            raise RuntimeError("every autotuning configuration failed: " + "; ".join(errors))
        chosen = dict(best, ms=best_ms)
        with self._lock:
            self.memory[key] = chosen
            self._save(key, chosen)
        return chosen

    # -- the JSON file -----------------------------------------------------------------------
    def _load(self) -> dict:
        if self._disk is None:
            self._disk = self._read()
        return self._disk

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items()
                if isinstance(v, dict) and isinstance(v.get("BLOCK"), int)}

    def _save(self, key: str, chosen: dict) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            data = self._read()                  # merge what other processes wrote
            data[key] = chosen
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".autotune-")
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
            self._disk = data
        except OSError:
            pass                                 # a read-only cache costs only re-tuning


__all__ = ["Autotuner", "CANDIDATES", "default_path", "size_class"]
