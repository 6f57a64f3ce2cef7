"""The IR verifier: structural invariants every typed kernel satisfies.

Runs after type inference always, and after every pass with LANGONE_VERIFY=1.
A failure here is a LangOne bug, never the user's: the message says so.
"""

from __future__ import annotations

from ...dtypes import DType, bool_, fp32, int64
from ...errors import LangOneError
from .. import ir


class IRVerificationError(LangOneError, AssertionError):
    """The compiler produced invalid IR (a LangOne bug: please report it)."""


def _fail(node, msg: str, stage: str) -> IRVerificationError:
    loc = getattr(node, "loc", None)
    return IRVerificationError(f"invalid IR after stage {stage!r} at {loc}: {msg} "
                               f"(this is a LangOne bug; please report it)")


def verify(k: ir.Kernel, stage: str = "?") -> ir.Kernel:
    tensors = {p.name: p.type for p in k.params if p.is_tensor}
    tensors.update({n.name: ir.TensorType(n.dtype, len(n.shape), True)     # local arrays
                    for n in ir.walk(k) if isinstance(n, ir.Alloc)})
    for depth, s in _stmts_with_depth(k.body, 0):
        if isinstance(s, (ir.Store, ir.Atomic)):
            tt = tensors.get(s.tensor)
            if tt is None or len(s.index) != tt.ndim:
                raise _fail(s, f"bad store to {s.tensor}", stage)
            # an atomic's value is in the type it works in: fp32 for a half
            want = fp32 if isinstance(s, ir.Atomic) and tt.dtype.is_floating and \
                tt.dtype.itemsize == 2 else tt.dtype
            if s.value.type is not want:
                raise _fail(s, f"store of {s.value.type} into {tt.dtype} tensor", stage)
    for node in ir.walk(k):
        if isinstance(node, ir.Expr):
            if not isinstance(node.type, DType):
                raise _fail(node, f"untyped expression {ir.fmt_expr(node)}", stage)
            _check_expr(node, tensors, stage)
    return k


def _check_expr(e: ir.Expr, tensors: dict, stage: str) -> None:
    if isinstance(e, ir.BinOp) and not (e.left.type is e.right.type):
        raise _fail(e, f"operands {e.left.type} and {e.right.type} differ", stage)
    if isinstance(e, ir.BinOp) and e.op != "/" and e.left.type is not e.type:
        raise _fail(e, f"{e.op} of {e.left.type} typed {e.type}", stage)
    if isinstance(e, (ir.Compare, ir.BoolOp)) and e.type is not bool_:
        raise _fail(e, "comparison not bool", stage)
    if isinstance(e, ir.Compare) and e.left.type is not e.right.type:
        raise _fail(e, "comparison operands differ", stage)
    if isinstance(e, ir.Load):
        tt = tensors.get(e.tensor)
        if tt is None or len(e.index) != tt.ndim or e.type is not tt.dtype:
            raise _fail(e, f"bad load from {e.tensor}", stage)
        if any(i.type is not int64 for i in e.index):
            raise _fail(e, "index not int64", stage)
    if isinstance(e, ir.Select) and (e.cond.type is not bool_ or
                                     e.a.type is not e.type or e.b.type is not e.type):
        raise _fail(e, "select types", stage)


def _stmts_with_depth(stmts: tuple, depth: int):
    for s in stmts:
        yield depth, s
        for f in ("body", "orelse"):
            if hasattr(s, f):
                yield from _stmts_with_depth(getattr(s, f), depth + 1)
