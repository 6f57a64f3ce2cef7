"""Lua text pieces for the renderer: keywords, element ctypes, literals, parentheses.

The helper library the generated code calls lives in :mod:`.lualib`.

Example:
    >>> print(lua_string("it's"))
    "it's"
    >>> lua_int(-3, True)
    '(-3LL)'
"""

from __future__ import annotations

import math

LUA_KEYWORDS = frozenset("""and break do else elseif end false for function goto if in
local nil not or repeat return then true until while""".split())

#: numpy-compatible C element types of tensor pointers (halves travel as bits).
CTYPE = {"fp32": "float", "fp64": "double", "int8": "int8_t", "int16": "int16_t",
         "int32": "int32_t", "int64": "int64_t", "uint8": "uint8_t", "uint16": "uint16_t",
         "uint32": "uint32_t", "uint64": "uint64_t", "bool": "uint8_t",
         "fp16": "uint16_t", "bf16": "uint16_t"}


def lua_string(s: str) -> str:
    """A double-quoted Lua string literal for ``s`` (UTF-8, escaped)."""
    out = []
    for byte in s.encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def lua_float(v: float) -> str:
    """A Lua numeric literal for a double (inf/nan as expressions)."""
    if v != v:
        return "(0/0)"
    if v == math.inf:
        return "huge"
    if v == -math.inf:
        return "(-huge)"
    text = repr(float(v))
    return f"({text})" if text.startswith("-") else text


def lua_int(v: int, wide: bool) -> str:
    """An integer literal: a Lua number, or an ``int64_t`` literal (``42LL``)."""
    v = int(v)
    if not wide:
        return f"({v})" if v < 0 else str(v)
    if v == -(1 << 63):
        return "(-0x7fffffffffffffffLL - 1LL)"
    return f"({v}LL)" if v < 0 else f"{v}LL"



# --- parentheses ---------------------------------------------------------------------

def paren(text: str) -> str:
    """``text`` as an operand: parenthesized unless it is one token or already wrapped."""
    simple = text.replace("_", "").replace(".", "").isalnum()
    return text if simple or (text.startswith("(") and balanced(text[1:-1])) else f"({text})"


def balanced(inner: str) -> bool:
    """Whether the parentheses of ``inner`` balance without going negative."""
    depth = 0
    for ch in inner:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return False
    return depth == 0


def strip(text: str) -> str:
    """``text`` without one pair of enclosing parentheses, if they enclose all of it."""
    return text[1:-1] if text.startswith("(") and text.endswith(")") and \
        balanced(text[1:-1]) else text
