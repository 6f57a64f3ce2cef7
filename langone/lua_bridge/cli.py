"""``langone lua-export``: write a kernel as a standalone LuaJIT module.

    langone lua-export module.py:kernel --signature "f32[:],f32[:],f32" -o kernel.lua
    langone lua-export package.module:kernel -s "float, f32[:], f32[:], f32[:]"

Example:
    >>> main(["--help"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

from ..errors import LangOneError


class _TargetError(Exception):
    pass


def _import(name: str):
    """Import ``package.module``; a missing module is a one-line error."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise _TargetError(f"cannot import {name!r} ({exc}); check the name and "
                           f"sys.path, or pass a file: path/to/module.py:kernel") from None
    except SyntaxError as exc:
        raise _TargetError(f"{name} does not parse: {exc.msg} "
                           f"({exc.filename}:{exc.lineno})") from None


def load_target(spec: str):
    """The object named by ``path/to/module.py:name`` or ``package.module:name``."""
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr:
        raise _TargetError(f"cannot read {spec!r}: write module.py:kernel or "
                           f"package.module:kernel")
    if where.endswith(".py") or "/" in where or "\\" in where:
        path = Path(where).resolve()
        if not path.is_file():
            raise _TargetError(f"no such file: {where}")
        name = f"langone_lua_export_{abs(hash(str(path)))}"
        modspec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(modspec)
        sys.path.insert(0, str(path.parent))          # its sibling imports
        sys.modules[name] = module
        try:
            modspec.loader.exec_module(module)
        except SyntaxError as exc:     # the user's file does not parse: say where
            raise _TargetError(f"{where} does not parse: {exc.msg} "
                               f"({exc.filename}:{exc.lineno})") from None
        finally:
            sys.path.remove(str(path.parent))
    else:
        module = _import(where)
    obj = getattr(module, attr, None)
    if obj is None:
        found = sorted(n for n, v in vars(module).items()
                       if getattr(v, "__langone_kernel__", False))
        raise _TargetError(f"{where} has no {attr!r}; kernels it defines: "
                           f"{', '.join(found) or 'none'}")
    return obj


def _write_error(exc: OSError, out: Path) -> str:
    """One line saying why ``out`` could not be written and what to do."""
    reason = exc.strerror or str(exc)
    parent = out.parent if not out.is_dir() else out
    if not parent.is_dir():
        return (f"cannot write {out}: the directory {parent} does not exist; "
                f"create it first or pass another -o")
    return f"cannot write {out}: {reason}; pass -o a path you can write to"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``langone lua-export`` (returns the exit status)."""
    ap = argparse.ArgumentParser(
        prog="langone lua-export",
        description="Write a LangOne kernel as a LuaJIT module that an embedded LuaJIT "
                    "program can require (needs only LuaJIT's ffi and bit).")
    ap.add_argument("target", help="module.py:kernel or package.module:kernel")
    ap.add_argument("-s", "--signature", required=True,
                    help='parameter types in order, e.g. "float, f32[:], f32[:]"; '
                         "tensors T[:], T[:,:] (~ suffix: strided), scalars f32, i64, "
                         "bool, float, int")
    ap.add_argument("-o", "--output", help="output file (default: <kernel>.lua here)")
    ap.add_argument("--debug", action="store_true", help="bounds-check tensor accesses")
    ap.add_argument("--fastmath", action="store_true",
                    help="compute fp32 entirely in double")
    args = ap.parse_args(argv)
    from .standalone import export
    try:
        kern = load_target(args.target)
        name = getattr(kern, "__name__", "kernel")
        out = Path(args.output) if args.output else Path(f"{name}.lua")
        if args.output and args.output.endswith(("/", "\\")) and not out.is_dir():
            # Path() drops the trailing slash: "-o dir/" would write a file named dir
            raise _TargetError(f"cannot write into {args.output}: no such directory; "
                               f"create it first or pass another -o")
        source = export(kern, args.signature, out, debug=args.debug, fastmath=args.fastmath)
    except (_TargetError, LangOneError) as exc:
        print(f"langone lua-export: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"langone lua-export: {_write_error(exc, out)}", file=sys.stderr)
        return 2
    if out.is_dir():
        out = out / f"{name}.lua"
    sig = next((ln[len("-- Signature: "):] for ln in source.splitlines()
                if ln.startswith("-- Signature: ")), "")
    print(f"wrote {out} ({len(source.splitlines())} lines): {sig}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
