"""LangOne kernels as LuaJIT FFI code: in-process runs (lupa) and standalone export.

``kernel.on("lua")`` runs a kernel through LuaJIT in a sandbox;
``kernel.source("lua")`` shows the generated module; :func:`export` writes it
as a file that an embedded LuaJIT program can ``require`` without LangOne.
lupa is imported only when a kernel first runs here.

Example:
    >>> import langone as lo
    >>> @lo.kernel
    ... def saxpy(a, x, y, out):
    ...     for i in lo.grid(x.shape[0]):
    ...         out[i] = a * x[i] + y[i]
    >>> src = lo.lua_bridge.export(saxpy, "f32, f32[:], f32[:], f32[:]")
    >>> "function M.run(a, x, x_n0, y, y_n0, out, out_n0)" in src
    True
"""

from __future__ import annotations


def export(kernel, signature, path=None, *, debug: bool = False, fastmath: bool = False):
    """Write ``kernel`` specialized to ``signature`` as a standalone Lua module.

    See :func:`langone.lua_bridge.standalone.export`.
    """
    from .standalone import export as _export
    return _export(kernel, signature, path, debug=debug, fastmath=fastmath)


__all__ = ["export"]
