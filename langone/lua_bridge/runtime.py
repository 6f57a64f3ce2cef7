"""The in-process LuaJIT: one sandboxed lupa runtime that loads kernel modules.

lupa's default ``LuaRuntime`` is PUC Lua without a JIT; kernels need
``lupa.luajit21`` (LuaJIT 2.1). The runtime is created on first use with
``register_eval=False``, ``register_builtins=False`` and an attribute filter
that refuses every Python attribute, and its ``python`` global is removed.

Kernel modules are loaded by a small trusted Lua loader with ``load(source,
name, "t", env)``: text only (no bytecode), and ``env`` is a fresh table per
module holding only copies of ``math`` and ``bit``, pure builtins
(``tonumber``, ``tostring``, ``type``, ``error``, ``assert``, ``select``,
``pairs``, ``ipairs``, ``next``, ``unpack``) and a ``require`` that knows only
``"ffi"`` and ``"bit"``. Kernel code therefore cannot reach ``io``, ``os``,
``load``/``loadstring``/``dofile``, ``package``, ``debug``, ``jit``,
``getfenv``/``setfenv``, ``string.dump`` or the global table.

The boundary, stated honestly: the ``ffi`` a kernel gets is a wrapper
exposing ``typeof``, ``cast``, ``new``, ``sizeof``, ``istype``, ``copy`` and
``fill``, and only for C types spelled without parentheses -- so no function
or function-pointer types, no ``ffi.C``, ``ffi.load``, ``ffi.cdef`` or
``ffi.metatype``: kernel code cannot call a C function. It can, as any
pointer kernel must, read and write memory at addresses it is given (or
invents). The sandbox keeps generated code away from the file system and
the OS; it is not a defense against deliberately hostile Lua that corrupts
the process's memory.

Example:
    >>> from langone.lua_bridge import runtime
    >>> runtime.run_sandboxed("return math.sqrt(16)")
    4
"""

from __future__ import annotations

import threading

from ..errors import KernelError, KernelRuntimeError

_LOADER = r"""
local ffi, bit = require("ffi"), require("bit")
local load, type, pairs, error, tostring, setmetatable = load, type, pairs, error, tostring,
  setmetatable
local math, tonumber, select, assert, ipairs, next, unpack = math, tonumber, select, assert,
  ipairs, next, unpack

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- ctypes made through the wrapper (weak keys: they may be collected).
local approved = setmetatable({}, {__mode = "k"})

local function checked(ct)
  if type(ct) == "string" then
    if ct:find("[^%w_%s%*%[%]%?;{}]") then
      error("langone lua sandbox: C type '" .. ct .. "' is not allowed in kernels " ..
            "(no function types: only names, pointers, arrays, structs and unions)", 3)
    end
    local t = ffi.typeof(ct)
    approved[t] = true
    return t
  end
  if approved[ct] then return ct end
  error("langone lua sandbox: only C types made by ffi.typeof(\"...\") in this kernel " ..
        "are allowed", 3)
end

local function safe_ffi()
  return {
    typeof = function(ct) return checked(ct) end,
    cast = function(ct, v) return ffi.cast(checked(ct), v) end,
    new = function(ct, ...) return ffi.new(checked(ct), ...) end,
    sizeof = function(ct, n) return ffi.sizeof(checked(ct), n) end,
    istype = function(ct, v) return ffi.istype(checked(ct), v) end,
    copy = ffi.copy, fill = ffi.fill, abi = ffi.abi, os = ffi.os, arch = ffi.arch,
  }
end

local function kernel_env()
  local env = {
    math = copy(math), bit = copy(bit),
    tonumber = tonumber, tostring = tostring, type = type, error = error, assert = assert,
    select = select, pairs = pairs, ipairs = ipairs, next = next, unpack = unpack,
  }
  local libs = {ffi = safe_ffi(), bit = env.bit}
  env.require = function(name)
    local lib = libs[name]
    if lib == nil then
      error("langone lua sandbox: require('" .. tostring(name) .. "') is not available " ..
            "to kernels; only 'ffi' and 'bit' are", 2)
    end
    return lib
  end
  return env
end

local function load_sandboxed(source, name)
  if type(source) ~= "string" then error("source must be a string", 2) end
  local chunk, err = load(source, "=" .. tostring(name), "t", kernel_env())
  if not chunk then error(err, 0) end
  return chunk()
end

-- int64_t results cross into Python as (signed high word, low word); uint64_t ones
-- as the same bits (the launcher takes them modulo 2^64).
local U64_CT = ffi.typeof("uint64_t")
local function split_int64(fn)
  return function(...)
    local r = fn(...)
    if type(r) == "cdata" then
      if ffi.istype(U64_CT, r) then r = ffi.cast("int64_t", r) end
      return tonumber(bit.arshift(r, 32)), tonumber(bit.band(r, 0xffffffff))
    end
    return r
  end
end

-- A float result of -0.0 crosses as (0, true): lupa turns integral numbers, -0.0 among
-- them, into Python ints, which have no sign.
local function signed_float(fn)
  return function(...)
    local r = fn(...)
    if r == 0 and 1 / r < 0 then return r, true end
    return r
  end
end

return load_sandboxed, split_int64, signed_float
"""


class LuaKernelError(KernelRuntimeError):
    """Lua code failed: a runtime error in a kernel, or a sandbox refusal."""


def _deny_attributes(obj, name, is_setting):
    raise AttributeError(f"Lua code may not access Python attributes (tried {name!r})")


class Sandbox:
    """The process's LuaJIT state with the trusted loader; modules cached by source."""

    def __init__(self):
        import lupa.luajit21 as luajit
        self.lua = luajit.LuaRuntime(register_eval=False, register_builtins=False,
                                     unpack_returned_tuples=True,
                                     attribute_filter=_deny_attributes)
        self.LuaError = luajit.LuaError
        self._load, self._split_int64, self._signed_float = self.lua.execute(_LOADER)
        self.lua.execute("python = nil")       # lupa's bridge module: nothing in Lua needs it
        self._modules: dict[str, object] = {}
        self._lock = threading.Lock()

    def run(self, source: str, name: str = "chunk"):
        """Run ``source`` as a sandboxed chunk; its return value (LuaError on failure)."""
        return self._load(source, name)

    def module(self, source: str, name: str):
        """The table a generated kernel module returns (loaded once per source)."""
        with self._lock:
            mod = self._modules.get(source)
            if mod is None:
                try:
                    mod = self._load(source, f"langone kernel {name}")
                except self.LuaError as exc:
                    raise KernelError(
                        f"the lua backend produced a module LuaJIT rejects for kernel "
                        f"{name!r}: {exc}; this is a LangOne bug: please report it with "
                        f"kernel.source('lua')") from None
                self._modules[source] = mod
            return mod

    def entry(self, source: str, name: str, result: str | None = None):
        """The callable ``run`` of a module, its result wrapped for Python by kind.

        ``result`` is ``"int64"`` (split into two words), ``"float"`` (the sign of a
        zero kept) or ``None`` (passed as lupa converts it).
        """
        run = self.module(source, name).run
        if result == "int64":
            return self._split_int64(run)
        if result == "float":
            return self._signed_float(run)
        return run


_sandbox: Sandbox | None = None
_create_lock = threading.Lock()


def sandbox() -> Sandbox:
    """The process-wide sandboxed LuaJIT state (created on first use)."""
    global _sandbox
    if _sandbox is None:
        with _create_lock:
            if _sandbox is None:
                _sandbox = Sandbox()
    return _sandbox


def run_sandboxed(source: str, name: str = "chunk"):
    """Run Lua ``source`` under the kernel sandbox and return its result.

    Raises :class:`LuaKernelError` with Lua's message when the chunk fails --
    for instance when it reaches for ``io``, ``os`` or ``require("io")``.

    Example:
        >>> run_sandboxed("return io")          # not there for kernels
        >>> run_sandboxed("return bit.band(6, 3)")
        2
    """
    sb = sandbox()
    try:
        return sb.run(source, name)
    except sb.LuaError as exc:
        raise LuaKernelError(f"Lua chunk {name!r} failed in the kernel sandbox: {exc}") \
            from None
