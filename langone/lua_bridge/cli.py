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
        finally:
            sys.path.remove(str(path.parent))
    else:
        module = importlib.import_module(where)
    obj = getattr(module, attr, None)
    if obj is None:
        found = sorted(n for n, v in vars(module).items()
                       if getattr(v, "__langone_kernel__", False))
        raise _TargetError(f"{where} has no {attr!r}; kernels it defines: "
                           f"{', '.join(found) or 'none'}")
    return obj


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
        source = export(kern, args.signature, out, debug=args.debug, fastmath=args.fastmath)
    except (_TargetError, LangOneError) as exc:
        print(f"langone lua-export: {exc}", file=sys.stderr)
        return 2
    if out.is_dir():
        out = out / f"{name}.lua"
    sig = next((ln[len("-- Signature: "):] for ln in source.splitlines()
                if ln.startswith("-- Signature: ")), "")
    print(f"wrote {out} ({len(source.splitlines())} lines): {sig}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
