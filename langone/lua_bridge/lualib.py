"""The Lua helper library of generated modules: the prelude and the helpers.

Every helper is a small piece of LuaJIT code that uses only the ``ffi`` and
``bit`` libraries; :func:`helper_text` returns the ones a kernel uses (with
their dependencies, in a valid order), so each generated module carries only
what it needs and stays self-contained for standalone ``require``. The
renderer only selects helpers (:data:`DEFINED_BY` maps each function a
lowered ``Call`` may name to the helper that defines it); what they compute
is documented here, next to their code.

Example:
    >>> helper_order(["wrap8"])
    ['wrap8']
    >>> DEFINED_BY["ffloordiv32"]
    'fdivmod32'
"""

from __future__ import annotations

import re

#: Names the module prelude defines; user names that collide get renamed.
PRELUDE_NAMES = frozenset("""ffi bit math tonumber tostring type error select
tobit band bor bxor bnot lshift rshift arshift floor ceil abs huge exp log sqrt sin cos
tanh fmod M KERNEL SITES self _ENV _G""".split())

PRELUDE = """\
local ffi = require("ffi")
local bit = require("bit")
local tobit, band, bor, bxor, bnot = bit.tobit, bit.band, bit.bor, bit.bxor, bit.bnot
local lshift, rshift, arshift = bit.lshift, bit.rshift, bit.arshift
local floor, ceil, abs, huge = math.floor, math.ceil, math.abs, math.huge
local exp, log, sqrt, sin, cos, tanh, fmod = math.exp, math.log, math.sqrt, math.sin,
  math.cos, math.tanh, math.fmod
local tonumber, tostring, error = tonumber, tostring, error"""



# name -> (dependencies, code). Order of definition follows dependencies.
HELPERS: dict[str, tuple[tuple[str, ...], str]] = {
    "r32": ((), """\
local F32 = ffi.typeof("float")
-- Round a double to the nearest fp32 (fp32 values live in doubles).
local function r32(x) return tonumber(F32(x)) end"""),
    "I64": ((), """\
local I64 = ffi.typeof("int64_t")"""),
    "U64": ((), """\
-- uint64_t values are cdata (their arithmetic wraps modulo 2^64 like numpy's);
-- a number or int64_t converts through int64_t (a negative number wraps).
local function U64(x) return ffi.cast("uint64_t", ffi.cast("int64_t", x)) end
local function S64(x) return ffi.cast("int64_t", x) end"""),
    "u32": ((), """\
-- uint32 values are numbers in [0, 2^32): results wrap with a floor modulo.
local function u32(x) return x % 4294967296 end
local function ushr32(a, b, bits)
  if b < 0 or b >= bits then return 0 end
  return rshift(a, b) % 4294967296
end"""),
    "u64ops": ((), """\
-- uint64_t division, modulo and shifts with numpy's results: x // 0 == x % 0 == 0,
-- shifts by the width or more give 0 (LuaJIT's own x / 0ULL is 2^63).
local function udiv64(a, b) if b == 0 then return 0ULL end return a / b end
local function umod64(a, b) if b == 0 then return 0ULL end return a % b end
local function ushl64(a, b) if b >= 64 then return 0ULL end return lshift(a, tonumber(b)) end
local function ushr64(a, b) if b >= 64 then return 0ULL end return rshift(a, tonumber(b)) end
-- uint64_t -> a number rounding to fp32 as the integer does (see i64num).
local function u64num(v)
  if v < 9007199254740992ULL then return tonumber(v) end
  local lo = band(v, 0x7FF)
  if lo == 0 then return tonumber(v) end
  return tonumber(v - lo + 1024)
end"""),
    "i64num": (("I64",), """\
-- int64_t -> a number that rounds to fp32/fp16/bf16 as the integer does (numpy
-- converts int64 to those in one step; via the nearest double would round twice):
-- exact below 2^53; above, the bits below 2^11 (far below any such rounding
-- point) become one sticky bit, which leaves at most 53 significant bits.
local function i64num(v)
  local d = tonumber(v)
  if d > -9007199254740992 and d < 9007199254740992 then return d end
  local lo = band(v, 0x7FF)
  if lo == 0 then return d end
  return tonumber(v - lo + 1024)
end"""),
    "wrap8": ((), """\
local function wrap8(x) return arshift(lshift(x, 24), 24) end"""),
    "wrap16": ((), """\
local function wrap16(x) return arshift(lshift(x, 16), 16) end"""),
    "imul32": ((), """\
-- int32 product modulo 2^32: b is split so every partial product is exact.
local function imul32(a, b)
  local lo = band(b, 0xffff)
  return tobit(tobit(a * ((b - lo) / 65536)) * 65536 + a * lo)
end"""),
    "idiv": ((), """\
-- Integer floor division and modulo with Python's signs; x // 0 == x % 0 == 0.
local function idiv(a, b) if b == 0 then return 0 end return floor(a / b) end"""),
    "imod": ((), """\
local function imod(a, b) if b == 0 then return 0 end return a % b end"""),
    "idiv64": (("I64",), """\
-- int64_t floor division / modulo (C truncates; Python floors); INT64_MIN // -1 wraps.
local function idiv64(a, b)
  if b == 0 then return 0LL end
  if b == -1 then return -a end
  local q = a / b
  if a % b ~= 0 and ((a < 0) ~= (b < 0)) then q = q - 1 end
  return q
end"""),
    "imod64": (("I64",), """\
local function imod64(a, b)
  if b == 0 or b == -1 then return 0LL end
  local r = a % b
  if r ~= 0 and ((r < 0) ~= (b < 0)) then r = r + b end
  return r
end"""),
    "ipow32": (("imul32",), """\
-- Integer power modulo 2^32 (narrower types wrap afterwards); b < 0 counts as 0.
local function ipow32(a, b)
  local r = 1
  while b > 0 do
    if b % 2 == 1 then r = imul32(r, a) end
    a = imul32(a, a)
    b = floor(b / 2)
  end
  return r
end"""),
    "ipow64": (("I64",), """\
local function ipow64(a, b)
  local r = 1LL
  a = I64(a)
  while b > 0 do
    if b % 2 == 1 then r = r * a end
    a = a * a
    b = b / 2
  end
  return r
end"""),
    "shl": ((), """\
-- Shifts by amounts outside [0, bits) give numpy's results: 0, or the sign fill.
local function shl(a, b, bits) if b < 0 or b >= bits then return 0 end return lshift(a, b) end"""),
    "shr": ((), """\
local function shr(a, b, bits)
  if b < 0 or b >= bits then return a < 0 and -1 or 0 end
  return arshift(a, b)
end"""),
    "shl64": (("I64",), """\
local function shl64(a, b)
  if b < 0 or b >= 64 then return 0LL end
  return lshift(I64(a), tonumber(b))
end"""),
    "shr64": (("I64",), """\
local function shr64(a, b)
  if b < 0 or b >= 64 then return a < 0 and -1LL or 0LL end
  return arshift(I64(a), tonumber(b))
end"""),
    "abs64": ((), """\
local function abs64(a) if a < 0 then return -a end return a end"""),
    "f2i32": ((), """\
-- float -> int32 as numpy on x86: truncate; NaN, inf and out of range -> INT32_MIN.
-- "+ 0" turns the -0.0 that truncating a value in (-1, 0] gives into 0: an integer
-- held in a Lua number must never be -0.0 (a later int -> float cast would show it).
local function f2i32(x)
  if not (x > -2147483649 and x < 2147483648) then return -2147483648 end
  return (x >= 0 and floor(x) or ceil(x)) + 0
end"""),
    "fdivmod": ((), """\
-- numpy's float floor_divide and remainder (npy_divmod), in double.
local function fdivmod(a, b)
  local mod = fmod(a, b)
  if b == 0 then return a / b, mod end
  local div = (a - mod) / b
  if mod ~= 0 then
    if (b < 0) ~= (mod < 0) then mod = mod + b; div = div - 1 end
  else
    mod = b < 0 and -0.0 or 0.0
  end
  local fd
  if div ~= 0 then
    fd = floor(div)
    if div - fd > 0.5 then fd = fd + 1 end
  else
    fd = 0.0 * (a / b)   -- copysign(0, a / b), as numpy: -0.0 // 3.0 is -0.0
  end
  return fd, mod
end
local function ffloordiv(a, b) local d, m = fdivmod(a, b) return d end
local function fremainder(a, b) local d, m = fdivmod(a, b) return m end"""),
    "fdivmod32": (("r32",), """\
-- The same in fp32: every step rounded as numpy's npy_divmodf rounds it.
local function fdivmod32(a, b)
  local mod = fmod(a, b)
  if b == 0 then return r32(a / b), mod end
  local div = r32(r32(a - mod) / b)
  if mod ~= 0 then
    if (b < 0) ~= (mod < 0) then mod = r32(mod + b); div = r32(div - 1) end
  else
    mod = b < 0 and -0.0 or 0.0
  end
  local fd
  if div ~= 0 then
    fd = floor(div)
    if r32(div - fd) > 0.5 then fd = r32(fd + 1) end
  else
    fd = 0.0 * (a / b)   -- copysign(0, a / b), as numpy: -0.0 // 3.0 is -0.0
  end
  return fd, mod
end
local function ffloordiv32(a, b) local d, m = fdivmod32(a, b) return d end
local function fremainder32(a, b) local d, m = fdivmod32(a, b) return m end"""),
    "fminimum": ((), """\
-- numpy minimum/maximum: a NaN operand wins.
local function fminimum(a, b) if a < b or a ~= a then return a end return b end"""),
    "fmaximum": ((), """\
local function fmaximum(a, b) if a > b or a ~= a then return a end return b end"""),
    "pymin": ((), """\
-- Python's min/max: b if b < a else a (a NaN b is skipped).
local function pymin(a, b) if b < a then return b end return a end"""),
    "pymax": ((), """\
local function pymax(a, b) if b > a then return b end return a end"""),
    "isinf": ((), """\
local function isinf(x) return x == huge or x == -huge end"""),
    "isnan": ((), """\
local function isnan(x) return x ~= x end"""),
    "ifmod": ((), """\
-- numpy's integer fmod on numbers: C's remainder (the dividend's sign), x fmod 0 is 0.
-- fmod is exact on doubles; "+ 0" turns its -0.0 (fmod(-4, 2)) into the integer 0.
local function ifmod(a, b) if b == 0 then return 0 end return fmod(a, b) + 0 end"""),
    "ifmod64": (("I64",), """\
-- The same on int64_t (whose % truncates, as C's); INT64_MIN fmod -1 is 0.
local function ifmod64(a, b)
  if b == 0 or b == -1 then return 0LL end
  return a % b
end"""),
    "log1p": ((), """\
-- log(1 + x) accurate near 0 (Goldberg): u = 1 + x rounded, and log(u) * x / (u - 1)
-- cancels u's rounding error (a few ulp, given log's). -0.0, NaN and inf pass through.
local function log1p(x)
  local u = 1.0 + x
  if u == 1.0 or u == huge then return x end
  return log(u) * (x / (u - 1.0))
end"""),
    "expm1": ((), """\
-- exp(x) - 1 accurate near 0 (Kahan): u = exp(x), then (u - 1) * x / log(u), whose
-- ratio cancels u's rounding error (a few ulp, given exp's and log's).
local function expm1(x)
  local u = exp(x)
  if u == 1.0 then return x end
  local um = u - 1.0
  if um == -1.0 then return -1.0 end
  if u == huge then return u end
  return um * (x / log(u))
end"""),
    "atan2": ((), """\
local atan2 = math.atan2"""),
    "hypot": ((), """\
-- sqrt(x^2 + y^2) without overflow or underflow; an infinite operand gives inf,
-- even with a NaN one (C's hypot). Within about 1 ulp.
local function hypot(x, y)
  x, y = abs(x), abs(y)
  if x == huge or y == huge then return huge end
  if x ~= x or y ~= y then return x + y end
  if x < y then x, y = y, x end
  if x < 1e150 and y > 1e-150 then return sqrt(x * x + y * y) end
  if x == 0 then return 0.0 end
  local r = y / x
  return x * sqrt(1.0 + r * r)
end"""),
    "hypot32": ((), """\
-- hypot of fp32 values: their squares and sum are exact or rounded once in double.
local function hypot32(x, y)
  if x == huge or x == -huge or y == huge or y == -huge then return huge end
  return sqrt(x * x + y * y)
end"""),
    "copysign": ((), """\
-- |x| with the sign bit of y (NaN's too), read through a union.
local CSU = ffi.new("union { double d; int32_t w[2]; }")
local CSHI = ffi.abi("le") and 1 or 0
local function copysign(x, y)
  CSU.d = y
  if CSU.w[CSHI] < 0 then return -abs(x) end
  return abs(x)
end"""),
    "P2": ((), """\
local P2 = ffi.new("double[301]")          -- P2[k] = 2^(k - 150)
for k = 0, 300 do P2[k] = 2 ^ (k - 150) end"""),
    "exp32": (("P2",), """\
local T64 = ffi.new("double[64]")          -- T64[j] = 2^(j/64)
for j = 0, 63 do T64[j] = 2 ^ (j / 64) end
-- exp for fp32 data, computed in double: x = (64q + j) ln2/64 + r with |r| <= ln2/128,
-- exp(r) by a degree-4 polynomial (relative error < 1e-13), 2^(j/64) and 2^q from
-- tables: far below fp32 rounding, and about twice as fast as libm's exp.
local function exp32(x)
  if not (x > -104 and x < 89) then           -- NaN, or beyond the fp32 range
    if x ~= x then return x end
    return x > 0 and huge or 0
  end
  local n = (x * 92.33248261689366 + 6755399441055744.0) - 6755399441055744.0
  local r = x - n * 0.010830424696249145
  local j = band(n, 63)
  local r2 = r * r
  local p = (1.0 + r) + r2 * (0.5 + r * 0.16666666666666666 + r2 * 0.041666666666666664)
  return p * T64[j] * P2[(n - j) * 0.015625 + 150]
end"""),
    "tanh32": (("exp32",), """\
local function tanh32(x)
  if x * x < 1e-8 then return x - x * x * x / 3 end
  return 1.0 - 2.0 / (exp32(x + x) + 1.0)
end"""),
    "sigmoid32": (("exp32",), """\
local function sigmoid32(x) return 1.0 / (1.0 + exp32(-x)) end"""),
    "sigmoid64": ((), """\
local function sigmoid64(x) return 1.0 / (1.0 + exp(-x)) end"""),
    "erf": ((), """\
-- erf: power series below 1.5, continued fraction for erfc above (accurate to
-- a few ulp of double; pure Lua, so exported modules need no libm symbol).
local function erf(x)
  if x ~= x then return x end
  local ax = abs(x)
  if ax < 1.5 then
    local x2, acc, fk = x * x, 0.0, 25.5
    for _ = 1, 25 do acc = 2.0 + x2 * acc / fk; fk = fk - 1.0 end
    return acc * x * exp(-x2) / 1.7724538509055160
  end
  local cf = 0.0
  if ax < 30.0 then
    local x2, a, da = ax * ax, 0.0, 0.5
    local p, p_last, q, q_last = 1.0, 0.0, da + x2, 1.0
    for _ = 1, 50 do
      a = a + da; da = da + 2.0
      local b = da + x2
      p, p_last = b * p - a * p_last, p
      q, q_last = b * q - a * q_last, q
    end
    cf = p / q * ax * exp(-x2) / 1.7724538509055160
  end
  if x > 0 then return 1.0 - cf end
  return cf - 1.0
end"""),
    "bits32": ((), """\
local HU = ffi.new("union { float f; int32_t i; }")   -- fp32 <-> bits
-- double -> fp32 bits rounded to odd, so that a second rounding (to fp16/bf16)
-- is as exact as one rounding from the double.
local function odd32(d)
  HU.f = d
  local b, f = HU.i, HU.f
  if f ~= d and f == f and band(b, 1) == 0 then
    if abs(f) > abs(d) then b = b - 1 else b = b + 1 end
  end
  return b
end"""),
    "h2f": (("P2",), """\
-- IEEE half bits (uint16) -> number, exact (a NaN keeps its sign: x86's 0/0 is -NaN).
local function h2f(h)
  local e, m = band(rshift(h, 10), 0x1f), band(h, 0x3ff)
  local v
  if e == 0 then v = m * 5.9604644775390625e-08
  elseif e == 31 then v = (m == 0) and huge or abs(0/0)
  else v = (1024 + m) * P2[e + 125] end
  if h >= 0x8000 then return -v end
  return v
end"""),
    "f2h": (("bits32",), """\
-- number -> IEEE half bits, round to nearest even (overflow -> inf, NaN stays NaN).
local function f2h(d)
  local b = odd32(d)
  local sign = band(rshift(b, 16), 0x8000)
  local a = band(b, 0x7fffffff)
  if a >= 0x47800000 then
    if a > 0x7f800000 then return bor(0x7e00, band(rshift(a, 13), 0x3ff), sign) end
    return bor(0x7c00, sign)
  end
  if a < 0x38800000 then        -- subnormal half: the fp32 adder aligns and rounds
    HU.i = a
    HU.f = HU.f + 0.5
    return bor(HU.i - 0x3f000000, sign)
  end
  return bor(rshift(a - 0x38000000 + 0xfff + band(rshift(a, 13), 1), 13), sign)
end"""),
    "bf2f": (("bits32",), """\
-- bfloat16 bits -> number; a NaN as LuaJIT's own (see ld64).
local function bf2f(h)
  if band(h, 0x7fff) > 0x7f80 then return band(h, 0x8000) ~= 0 and -abs(0/0) or abs(0/0) end
  HU.i = lshift(h, 16); return HU.f
end"""),
    "ld64": ((), """\
-- A double read from a tensor (p[k]; h[2 * k]: its high word), a NaN read as LuaJIT's own.
-- LuaJIT keeps type tags in NaN payloads: a NaN read with its payload could be taken
-- for an object, or become one when negated. The high word, a plain number, is tested
-- first (LuaJIT's FFI loads do not canonicalize NaNs).
local function ld64(p, h, k)
  local hi = h[2 * k]
  if band(hi, 0x7fffffff) > 0x7ff00000 then return hi < 0 and -abs(0/0) or abs(0/0) end
  return p[k]
end"""),
    "ld32": ((), """\
-- A float read from a tensor (p[k]; b[k]: its bits), any NaN read as LuaJIT's own (ld64:
-- converting a signaling NaN to a double quiets it, which may make it a tag).
local function ld32(p, b, k)
  local w = b[k]
  if band(w, 0x7fffffff) > 0x7f800000 then return w < 0 and -abs(0/0) or abs(0/0) end
  return p[k]
end"""),
    "f2bf": (("bits32",), """\
-- number -> bfloat16 bits, round to nearest even (NaN stays a quiet NaN).
local function f2bf(d)
  local b = odd32(d)
  if band(b, 0x7fffffff) > 0x7f800000 then return bor(rshift(b, 16), 0x40) end
  local u = b < 0 and b + 4294967296 or b
  return floor((u + 0x7fff + band(rshift(b, 16), 1)) / 65536)
end"""),
    "rh16": (("h2f", "f2h"), """\
local function rh16(x) return h2f(f2h(x)) end"""),
    "rbf16": (("bf2f", "f2bf"), """\
local function rbf16(x) return bf2f(f2bf(x)) end"""),
    "chkpow": ((), """\
-- A checked integer power's exponent (passes/lower_pow): e, or numpy's error;
-- where is the message with the kernel line, {exponent} to fill in.
local function chkpow(e, where)
  if e < 0 then
    local s = tostring(e):gsub("LL$", "")
    error((where:gsub("{exponent}", s)), 0)
  end
  return e
end"""),
    "chk": ((), """\
-- Bounds check: returns i, or raises naming the kernel line. i is normalized
-- (a negative i was i - n in the kernel).
local function chk(i, n, site)
  if i < 0 or i >= n then
    local s = SITES[site]
    if i < 0 then i = i - n end
    error(s[1] .. ": index " .. tostring(i) .. " is out of bounds for axis " .. s[2] ..
      " of " .. s[3] .. " with size " .. tostring(n) .. " (in kernel " .. KERNEL .. ")", 0)
  end
  return i
end"""),
}


def helper_order(names) -> list[str]:
    """``names`` plus their dependencies, each after what it needs."""
    out: list[str] = []

    def visit(n: str) -> None:
        if n in out:
            return
        for dep in HELPERS[n][0]:
            visit(dep)
        out.append(n)
    for n in sorted(names):
        visit(n)
    return out


def helper_text(names) -> str:
    """The Lua definitions of ``names`` and their dependencies."""
    return "\n".join(HELPERS[n][1] for n in helper_order(names))


def defined_names() -> frozenset:
    """Every local name the prelude and the helpers may define."""
    found = set(PRELUDE_NAMES)
    for _, code in HELPERS.values():
        found.update(re.findall(r"local function (\w+)", code))
        found.update(re.findall(r"^local (\w+)", code, re.M))
    found.update(("HU", "F32", "I64", "P2", "T64", "odd32", "CSU", "CSHI"))
    return frozenset(found)


def _defined_by() -> dict:
    """Function or value name -> the helper whose code defines it."""
    out = {}
    for key, (_, code) in HELPERS.items():
        for name in re.findall(r"local function (\w+)|^local (\w+)", code, re.M):
            out.setdefault(name[0] or name[1], key)
    return out


#: Name a lowered Call may use -> the helper to include for it.
DEFINED_BY = _defined_by()
