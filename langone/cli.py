"""The ``langone`` command.

    langone info            devices, usable backends, cache location
    langone bench [--size]  the quick ratio table (LangOne vs numpy vs hand numba)
    langone cache clear     empty the on-disk kernel cache
    langone lua-export module.py:kernel --signature "f32[:],f32[:],f32" -o kernel.lua
"""

from __future__ import annotations

import argparse
import sys


def _info() -> int:
    import langone as lo
    from langone import config
    from langone.kernels import backends
    print(f"langone {lo.__version__}")
    print("devices:", ", ".join(str(d) for d in lo.devices()))
    print("backends usable here:", ", ".join(backends.usable()))
    print("kernel cache:", config.cache_dir())
    print(lo.devices()[0].info())
    return 0


def _cache(args) -> int:
    from langone.kernels import cache
    if args.action == "clear":
        cache.clear()
        print("kernel cache cleared")
    else:
        print(cache.info())
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "lua-export":
        from langone.lua_bridge import cli as lua_cli
        return lua_cli.main(argv[1:])
    if argv and argv[0] == "bench":
        from langone import bench
        return bench.main(argv[1:])
    ap = argparse.ArgumentParser(prog="langone", description="LangOne command line")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info", help="devices, backends and caches of this machine")
    sub.add_parser("bench", help="quick benchmark ratio table")
    sub.add_parser("lua-export", help="write a kernel as a standalone LuaJIT module "
                                      "(langone lua-export module.py:kernel --signature ... -o f.lua)")
    c = sub.add_parser("cache", help="inspect or clear the kernel cache")
    c.add_argument("action", choices=["info", "clear"])
    args = ap.parse_args(argv)
    if args.cmd == "info":
        return _info()
    return _cache(args)


if __name__ == "__main__":
    raise SystemExit(main())
