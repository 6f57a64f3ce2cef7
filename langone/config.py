"""Process-wide settings, read from ``LANGONE_*`` environment variables.

``LANGONE_CACHE_DIR``   where compiled kernels are cached (default: the user
                        cache directory, ``~/.cache/langone``)
``LANGONE_VERIFY=1``    run the IR verifier after every compiler pass
``LANGONE_DEBUG=1``     debug mode: bounds checks in kernels, guard bytes in pools
``LANGONE_DISABLE_CACHE=1``  never read or write the on-disk kernel cache
"""

from __future__ import annotations

import os
from pathlib import Path


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def cache_dir() -> Path:
    """Root of LangOne's on-disk caches (created on demand by its users)."""
    env = os.environ.get("LANGONE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "langone"


def verify_ir() -> bool:
    return _flag("LANGONE_VERIFY")


def debug() -> bool:
    return _flag("LANGONE_DEBUG")


def disk_cache_enabled() -> bool:
    return not _flag("LANGONE_DISABLE_CACHE")
