"""On-disk cache of generated kernel modules (source text only, never pickles).

Each generated module is a real ``.py`` file under
``langone.config.cache_dir() / <backend>`` named by a content hash of:
LangOne's ``__version__``, a hash of LangOne's own ``kernels`` package source
(so any compiler change invalidates everything), the IR hash, the backend,
the options and the generated text itself. Files are written atomically
(temporary file + ``os.replace``) and imported as registered modules, so
numba's ``cache=True`` (which keys on the defining file) works across
processes: a second process reuses both the file and numba's machine code.

A corrupt or unimportable entry is removed and rebuilt; a cache directory
that cannot be written falls back to a private temporary directory. With
``LANGONE_DISABLE_CACHE=1`` (or a kernel's ``cache=False``) modules are built
in a temporary directory and nothing is reused across processes.

Example:
    >>> from langone.kernels import cache
    >>> sorted(cache.info())
    ['bytes', 'entries', 'path']
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import threading
from pathlib import Path
from types import ModuleType

from .. import config

_lock = threading.Lock()
_loaded: dict[str, ModuleType] = {}          # key -> module, this process
_package_hash: str | None = None
_private_dir: Path | None = None


def package_hash() -> str:
    """sha256 of LangOne's ``kernels`` package sources (computed once)."""
    global _package_hash
    if _package_hash is None:
        root = Path(__file__).resolve().parent
        h = hashlib.sha256()
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
        _package_hash = h.hexdigest()[:16]
    return _package_hash


def cache_key(backend: str, ir_hash: str, options: dict, source: str, extra: str = "") -> str:
    """The content hash naming one cache entry."""
    from .. import __version__
    h = hashlib.sha256()
    for part in (__version__, package_hash(), backend, ir_hash, extra,
                 repr(sorted((k, repr(v)) for k, v in options.items())), source):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


def enabled(options: dict | None = None) -> bool:
    """Whether the disk cache is used (env ``LANGONE_DISABLE_CACHE``, option ``cache``)."""
    if options is not None and options.get("cache") is False:
        return False
    return config.disk_cache_enabled()


def backend_dir(backend: str) -> Path:
    return config.cache_dir() / backend


def _private() -> Path:
    """A per-process temporary directory for uncached modules."""
    global _private_dir
    if _private_dir is None:
        import tempfile
        _private_dir = Path(tempfile.mkdtemp(prefix="langone-kernels-"))
    return _private_dir


def load_module(backend: str, stem: str, key: str, source: str, *,
                persistent: bool = True) -> ModuleType:
    """Import the module for ``source`` (writing it first when missing or stale).

    Args:
        backend: subdirectory of the cache ("numba").
        stem: readable file-name prefix (the kernel's name).
        key: :func:`cache_key` of the entry.
        source: the module text; a file whose text differs is rewritten.
        persistent: False builds it in a private temporary directory.
    """
    with _lock:
        mod = _loaded.get(key)
        if mod is not None:
            return mod
        modname = module_name(backend, stem, key)
        directory = backend_dir(backend) if persistent else _private()
        try:
            path = _ensure_file(directory, f"{modname}.py", source)
        except OSError:                      # read-only cache dir: still work
            path = _ensure_file(_private(), f"{modname}.py", source)
        try:
            mod = _import(modname, path)
        except Exception:                    # corrupt despite the text check: rebuild once
            _remove_entry(path)
            path = _ensure_file(path.parent, path.name, source)
            mod = _import(modname, path)
        _loaded[key] = mod
        return mod


def module_name(backend: str, stem: str, key: str) -> str:
    """The import name (and file stem) of a generated module."""
    return f"langone_kcache_{backend}_{stem}_{key}"


def write_module(backend: str, stem: str, key: str, source: str) -> Path:
    """Write the module for ``source`` into the cache (if missing or stale), not importing it.

    Returns its path. Raises OSError when the cache directory cannot be written.
    """
    with _lock:
        return _ensure_file(backend_dir(backend), f"{module_name(backend, stem, key)}.py",
                            source)


def _ensure_file(directory: Path, name: str, source: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    try:
        if path.read_text() == source:
            return path
        _remove_entry(path)                  # garbage or a stale write: start over
    except (OSError, UnicodeDecodeError, ValueError):
        pass
    import tempfile
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".py")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(source)
        os.replace(tmp, path)
    except BaseException:
        with _suppress():
            os.unlink(tmp)
        raise
    return path


def _import(modname: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    return mod


def _remove_entry(path: Path) -> None:
    """Delete a module file and the compiled artifacts derived from it."""
    with _suppress():
        path.unlink()
    pycache = path.parent / "__pycache__"
    if pycache.is_dir():
        for f in pycache.glob(path.stem + ".*"):
            with _suppress():
                f.unlink()


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return exc_type is not None and issubclass(exc_type, OSError)


def info(backend: str = "numba") -> dict:
    """Where the cache lives, how many generated modules it holds, and their size.

    Example:
        >>> from langone.kernels import cache
        >>> cache.info()["entries"] >= 0
        True
    """
    d = backend_dir(backend)
    entries = list(d.glob("*.py")) if d.is_dir() else []
    total = sum(f.stat().st_size for f in d.rglob("*") if f.is_file()) if d.is_dir() else 0
    return {"path": str(d), "entries": len(entries), "bytes": total}


def clear(backend: str = "numba") -> int:
    """Delete the backend's cache directory (modules and numba's machine code).

    Returns the number of generated modules removed. Kernels already loaded in
    this process keep working; new processes recompile.
    """
    import shutil
    d = backend_dir(backend)
    n = len(list(d.glob("*.py"))) if d.is_dir() else 0
    shutil.rmtree(d, ignore_errors=True)
    with _lock:
        _loaded.clear()
    return n
