"""The kernel IR: a small, structured, typed tree that keeps source positions.

Every backend sees only this IR; the numpy reference backend
(:mod:`langone.kernels.backends.numpy_ref`) is its executable definition.

Shape of a kernel::

    Kernel(name, params, body, kind)      kind: "loop" or "elementwise"
      body: statements run once (sequential "host" code), which may contain
            Grid(...) parallel loops at the top level.

Semantics that every backend must follow (the reference implements them):

* Types are *logical* dtypes (:mod:`langone.dtypes`). fp16/bf16 values are
  computed in fp32 and rounded only when stored to a tensor or returned.
* Integer arithmetic wraps at the type's width (as numpy); ``//`` and ``%``
  follow Python on negative operands; ``/`` on integers gives fp64 (or fp32
  for narrow float mixes, per NEP 50).
* Grid iterations are independent; a grid may carry reductions: variables
  defined before it and only updated inside it by ``op`` (sum, prod, min,
  max). Their combined value is visible after the grid.
* Expressions have no side effects. After the ``lower_index`` pass every
  index is non-negative and in range: proven (launch guards, see
  ``passes/guards.py``) or range-checked at run time (the access's ``checks``
  axes raise :class:`~langone.errors.KernelIndexError`). After ``lower_pow``
  an integer ``**`` whose exponent may be negative is ``checked`` (it raises
  :class:`~langone.errors.KernelRuntimeError`, as numpy's ValueError).

Nodes are frozen dataclasses; passes build new trees (``dataclasses.replace``),
so each compiler stage's output can be kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, Iterator

from ..dtypes import DType


@dataclass(frozen=True)
class Loc:
    """A source position: 1-based ``line`` in the file, 0-based ``col``."""

    line: int = 0
    col: int = 0

    def __repr__(self) -> str:
        return f"{self.line}:{self.col + 1}"


NOLOC = Loc()


# --- types -------------------------------------------------------------------

@dataclass(frozen=True)
class TensorType:
    """A tensor argument: element dtype, rank, and whether it is C-contiguous."""

    dtype: DType
    ndim: int
    contiguous: bool = True

    def __str__(self) -> str:
        return f"{self.dtype.name}[{','.join(':' * self.ndim) or '()'}]" + \
            ("" if self.contiguous else "~")


# A scalar's type is just its DType; ``None`` while untyped. Weak scalars
# (Python literals) are typed ``Weak(kind)`` until promotion fixes them.
@dataclass(frozen=True)
class Weak:
    """The type of a Python literal before promotion: kind "b", "i", "f" or "c"."""

    kind: str

    def __str__(self) -> str:
        return {"b": "bool", "i": "int", "f": "float", "c": "complex"}[self.kind] + "?"


# --- expressions ---------------------------------------------------------------

@dataclass(frozen=True)
class Expr:
    loc: Loc = field(default=NOLOC, compare=False, repr=False)
    type: Any = field(default=None, compare=True)


@dataclass(frozen=True)
class Const(Expr):
    value: Any = None


@dataclass(frozen=True)
class Name(Expr):
    """A scalar local or scalar parameter."""

    id: str = ""


@dataclass(frozen=True)
class BinOp(Expr):
    """``left op right``; ``checked`` (integer ``**`` only): the exponent is
    checked at run time, a negative one raises (decided by the ``lower_pow``
    pass; every other integer exponent is proven non-negative). ``wraps``
    (int64 ``+ - *`` only): the result may overflow and wraps, as numpy's
    (decided by the ``lower_wrap`` pass; every other int64 result is proven in
    range, so a backend may let its compiler assume no overflow)."""

    op: str = "+"          # + - * / // % ** & | ^ << >>
    left: Expr = None
    right: Expr = None
    checked: bool = False
    wraps: bool = False


@dataclass(frozen=True)
class UnaryOp(Expr):
    op: str = "-"          # - + not ~
    operand: Expr = None


@dataclass(frozen=True)
class Compare(Expr):
    op: str = "<"          # == != < <= > >=
    left: Expr = None
    right: Expr = None


@dataclass(frozen=True)
class BoolOp(Expr):
    op: str = "and"        # and / or, on booleans
    values: tuple = ()


@dataclass(frozen=True)
class Select(Expr):
    """``a if cond else b`` and ``lo.where(cond, a, b)``.

    ``strong``: lo.where (a numpy function) gives a strong type even when both
    choices are Python literals; the conditional expression keeps them weak.
    """

    cond: Expr = None
    a: Expr = None
    b: Expr = None
    strong: bool = False


@dataclass(frozen=True)
class Call(Expr):
    """A math intrinsic: see :data:`INTRINSICS`."""

    fn: str = ""
    args: tuple = ()


@dataclass(frozen=True)
class Cast(Expr):
    """Convert ``value`` to ``type`` (a DType): numpy's conversion rules."""

    value: Expr = None


@dataclass(frozen=True)
class Load(Expr):
    """``tensor[index]``; ``checks``: the axes whose index is range-checked at
    run time (decided by the ``lower_index`` pass; the rest are proven in range)."""

    tensor: str = ""
    index: tuple = ()
    checks: tuple = ()


@dataclass(frozen=True)
class Shape(Expr):
    """``tensor.shape[axis]`` (``axis`` None: ``tensor.ndim``; ``"size"``:
    ``tensor.size``, the product of the shape). ``unpack``: from ``a, b = x.shape``,
    the number of names, which the tensor's ndim must equal. Binding the
    parameters resolves ``ndim``, ``size`` and ``unpack``."""

    tensor: str = ""
    axis: Any = 0
    unpack: int = 0


# --- statements ----------------------------------------------------------------

@dataclass(frozen=True)
class Stmt:
    loc: Loc = field(default=NOLOC, compare=False, repr=False)


@dataclass(frozen=True)
class Assign(Stmt):
    target: str = ""
    value: Expr = None


@dataclass(frozen=True)
class Store(Stmt):
    tensor: str = ""
    index: tuple = ()
    value: Expr = None
    checks: tuple = ()          # as Load.checks


@dataclass(frozen=True)
class Atomic(Stmt):
    """``target = lo.atomic_<op>(tensor, index, [compare,] value)``: one indivisible
    read-modify-write of ``tensor[index]`` whose old value goes to the local
    ``target`` ("" when unused). ``op`` is one of :data:`ATOMIC_OPS`; ``compare``
    is ``atomic_cas``'s (None otherwise). ``max``/``min`` propagate NaN, as numpy's
    ``maximum``/``minimum``."""
    tensor: str = ""
    index: tuple = ()
    value: Expr = None
    checks: tuple = ()          # as Load.checks
    op: str = "add"
    compare: Expr = None
    target: str = ""
    reduction: bool = False     # the user's acc[j] += v across grid iterations (an
    #                             array reduction, passes/array_reductions.py)


#: ``lo.atomic_<op>`` -> the Python meaning of the new element from ``old`` and
#: ``value`` (``cas`` stores ``value`` only where ``old == compare``).
ATOMIC_OPS = {"add": "old + value", "sub": "old - value", "max": "maximum(old, value)",
              "min": "minimum(old, value)", "exchange": "value",
              "cas": "value if old == compare else old"}


@dataclass(frozen=True)
class If(Stmt):
    cond: Expr = None
    body: tuple = ()
    orelse: tuple = ()


@dataclass(frozen=True)
class For(Stmt):
    """Sequential ``for var in range(start, stop, step)``.

    ``reassociate``: the loop was written ``lo.range(..., reassociate=True)``,
    so its accumulations may be reassociated (vectorized) like a grid
    reduction's; otherwise they keep Python's order.
    ``checked_step``: the step may be zero at run time (passes/lower_range), where
    Python raises on reaching the loop; backends check exactly these loops.
    """

    var: str = ""
    start: Expr = None
    stop: Expr = None
    step: Expr = None
    body: tuple = ()
    reassociate: bool = False
    checked_step: bool = False


@dataclass(frozen=True)
class While(Stmt):
    cond: Expr = None
    body: tuple = ()


@dataclass(frozen=True)
class Break(Stmt):
    pass


@dataclass(frozen=True)
class Continue(Stmt):
    pass


@dataclass(frozen=True)
class Reduction:
    """``var`` is combined across grid iterations with ``op``: a key of
    :data:`REDUCTION_MERGE` (sum, prod, Python's min/max, numpy's minimum/maximum)."""

    var: str
    op: str


@dataclass(frozen=True)
class Grid(Stmt):
    """Parallel loop ``for vars in lo.grid(*extents)``: one or more dimensions."""

    vars: tuple = ()
    extents: tuple = ()
    body: tuple = ()
    reductions: tuple = ()      # of Reduction


@dataclass(frozen=True)
class Return(Stmt):
    """``return value``, or with ``items``, ``return a, b, ...`` (a tuple: until
    the ``lower_results`` pass, the kernel's scalar results; its tensors are in
    :attr:`Kernel.results`)."""

    value: Expr | None = None
    items: tuple = ()


@dataclass(frozen=True)
class NewTensor(Stmt):
    """``name = lo.empty(shape, dtype)`` (``zeros``, ``ones``, ``full``, the
    ``*_like`` forms) at a kernel's top level: a tensor the launcher takes from
    the pool, once per launch. ``dtype`` is a DType, or None for ``like``'s
    (a tensor parameter's name); ``fill`` the value it starts with (None:
    uninitialized); ``fn`` the spelling, for messages. The ``bind_made`` pass
    makes it a parameter (:class:`Made`)."""

    name: str = ""
    shape: tuple = ()
    dtype: Any = None
    like: str = ""
    fill: Expr | None = None
    fn: str = ""
    shape_of: str = ""          # lo.empty_like(x), lo.empty(x.shape): x's shape
    local: bool = False         # inside lo.grid: a local array (constant shape), an Alloc


@dataclass(frozen=True)
class Made:
    """A tensor the launcher allocates for a kernel (a :class:`NewTensor`, or a
    result slot): the parameter ``name``; ``shape`` expressions over parameters
    only; ``fill`` a constant or scalar parameter, or None."""

    name: str
    shape: tuple
    fill: Any = None
    loc: Loc = field(default=NOLOC, compare=False, repr=False)


@dataclass(frozen=True)
class Alloc(Stmt):
    """A local scratch array ``name`` of ``dtype`` and ``shape`` (expressions),
    uninitialized; Load/Store/Atomic reach it by name. Made only by target
    lowering (accumulator rows, reduction partials, fp32 shadows)."""

    name: str = ""
    dtype: Any = None
    shape: tuple = ()
    local: bool = False         # a kernel's own local array (lo.zeros(4) in a grid):
    #                             constant int64 shape, its dtype's meaning kept


@dataclass(frozen=True)
class Comment(Stmt):
    """A note for the reader of generated code; means nothing."""

    text: str = ""


# --- the kernel ------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    name: str
    type: Any = None            # TensorType, DType, Weak, or None (untyped)
    loc: Loc = field(default=NOLOC, compare=False, repr=False)

    @property
    def is_tensor(self) -> bool:
        return isinstance(self.type, TensorType)


@dataclass(frozen=True)
class Kernel:
    name: str
    params: tuple               # of Param
    body: tuple                 # of Stmt
    kind: str = "loop"          # "loop" | "elementwise"
    return_type: Any = None     # DType / None; for elementwise kernels the output dtype
    locals: tuple = ()          # ((name, DType), ...) after type inference
    filename: str = "<unknown>"
    # Device function call sites (frontend inlining): ((site path, ((callee name,
    # IR name), ...)), ...); a path is the (file, line, col) of each call from the
    # kernel down. Only the python backend, which runs the functions, reads it.
    inlined: tuple = ()
    # Tensors the launcher allocates (of Made; their params come last), and what
    # the kernel returns when that is more than one scalar: ("tensor", name) or
    # ("scalar", slot, DType) per item, a slot being the Made 1-element tensor
    # the value is stored into ("" while untyped, or for the one scalar the
    # backend itself returns).
    made: tuple = ()
    results: tuple = ()

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def local_types(self) -> dict:
        return dict(self.locals)


#: Math intrinsics: name -> (arity, result rule). Rules: "float" (the promoted
#: argument type if it is a float, else the float numpy computes it in: int8 ->
#: fp16, int32 -> fp64; Python numbers alone -> fp64), "same" (the promoted
#: argument type), "numpy" (numpy's function of the promoted type: Python
#: numbers alone are numpy's default types, bools compute in int8), "bool".
INTRINSICS: dict[str, tuple[int, str]] = {
    "exp": (1, "float"), "log": (1, "float"), "sqrt": (1, "float"),
    "sin": (1, "float"), "cos": (1, "float"), "tanh": (1, "float"),
    "erf": (1, "float"), "sigmoid": (1, "float"), "floor": (1, "floatkeep"),
    "ceil": (1, "floatkeep"), "abs": (1, "same"), "minimum": (2, "same"),
    "maximum": (2, "same"), "min": (2, "same"), "max": (2, "same"),
    "isnan": (1, "bool"), "isinf": (1, "bool"),
    "rint": (1, "same"),        # numpy's round: written out by passes/lower_rint
    "log1p": (1, "float"), "expm1": (1, "float"), "atan2": (2, "float"),
    "hypot": (2, "float"), "copysign": (2, "float"),
    "fmod": (2, "numpy"),       # C's fmod: the dividend's sign; integer fmod by 0 is 0
    "pow": (2, "numpy"),        # np.power: becomes `**` when typed (passes/types)
    "real": (1, "part"), "imag": (1, "part"),     # a complex value's parts (a real's: it, 0)
    "conj": (1, "numpy"),
}

#: What complex values support in kernels (passes/lower_complex writes them out).
COMPLEX_INTRINSICS = frozenset({"exp", "abs", "real", "imag", "conj", "isnan", "isinf"})

#: Intrinsics computed by a math library (libm, polynomials): the ones a
#: tolerance applies to, and the work that pays for vectorizing a loop.
TRANSCENDENTALS = frozenset({"exp", "log", "sqrt", "sin", "cos", "tanh", "erf", "sigmoid",
                             "log1p", "expm1", "atan2", "hypot"})

#: Grid reduction operators -> the intrinsic (or operator) that merges two
#: values. ``max``/``min`` are Python's (``acc = max(acc, e)``: a NaN ``e`` is
#: skipped, a NaN ``acc`` stays); ``maximum``/``minimum`` are numpy's
#: NaN-propagating ``lo.maximum``/``lo.minimum``. The one definition every
#: backend follows (identities below, merges by :data:`INTRINSICS`' meaning).
REDUCTION_MERGE = {"sum": "+", "prod": "*", "max": "max", "min": "min",
                   "maximum": "maximum", "minimum": "minimum"}

#: What an accumulation update (:func:`accumulation`) reduces with.
ACCUMULATION_REDUCTION = {"+": "sum", "-": "sum", "*": "prod", "max": "max", "min": "min",
                          "maximum": "maximum", "minimum": "minimum"}


def reduction_base(op: str) -> str:
    """``sum``, ``prod``, ``min`` or ``max``: the operator without its NaN rule."""
    return {"maximum": "max", "minimum": "min"}.get(op, op)


def reduction_identity(op: str, t: DType):
    """The identity of reduction ``op`` in type ``t``, as a Python number."""
    base = reduction_base(op)
    if base in ("sum", "prod"):
        return 0 if base == "sum" else 1
    if t.is_floating:
        return float("inf") if base == "min" else float("-inf")
    if t.is_bool:
        return base == "min"
    import numpy as np
    info = np.iinfo(t.numpy)
    return int(info.max if base == "min" else info.min)


# --- traversal, printing, hashing --------------------------------------------------

def children(node: Any) -> Iterator[Any]:
    """Direct child nodes (expressions and statements) of ``node``."""
    for f in fields(node):
        if f.name in ("loc", "type"):
            continue
        v = getattr(node, f.name)
        if isinstance(v, (Expr, Stmt)):
            yield v
        elif isinstance(v, tuple):
            for item in v:
                if isinstance(item, (Expr, Stmt)):
                    yield item


def walk(node: Any) -> Iterator[Any]:
    """Pre-order walk over ``node`` and all nodes below it."""
    if isinstance(node, Kernel):
        for s in node.body:
            yield from walk(s)
        return
    yield node
    for c in children(node):
        yield from walk(c)


def walk_stmts(stmts) -> Iterator[Any]:
    """Pre-order walk over every node below a sequence of statements."""
    for s in stmts:
        yield from walk(s)


def assigned_names(stmts) -> set:
    """Names the statements write: assignment targets, ``range`` loop variables and
    the locals that atomics return old values into."""
    return {n.var if isinstance(n, For) else n.target for n in walk_stmts(stmts)
            if isinstance(n, (Assign, For)) or isinstance(n, Atomic) and n.target}


def bound_names(stmts) -> set:
    """Names the statements bind: :func:`assigned_names` plus grid variables."""
    out = assigned_names(stmts)
    for n in walk_stmts(stmts):
        if isinstance(n, Grid):
            out.update(n.vars)
    return out


def read_names(stmts) -> set:
    """Names the statements read."""
    return {n.id for n in walk_stmts(stmts) if isinstance(n, Name)}


def accumulation(s: Stmt) -> tuple[str, bool, Expr] | None:
    """``(op, acc_first, e)`` when ``s`` is an accumulating update of its target
    ``acc``: ``acc = acc + e`` or ``* e`` (either order; ``acc_first`` False),
    ``acc = acc - e`` (``op`` "-": a sum of ``-e``),
    ``acc = max(acc, e)`` / ``min`` (Python's, whose NaN handling depends on
    the order: ``acc`` must come first), or ``lo.maximum`` / ``lo.minimum``
    with ``acc`` on either side; ``e`` does not read ``acc``. Else None.
    """
    if not isinstance(s, Assign):
        return None
    v, acc = s.value, s.target
    found = None
    if isinstance(v, BinOp) and v.op == "-" and isinstance(v.left, Name) and v.left.id == acc:
        found = ("-", True, v.right)                # acc = acc - e: a sum of -e
    elif isinstance(v, BinOp) and v.op in ("+", "*"):
        for a, b in ((v.left, v.right), (v.right, v.left)):
            if isinstance(a, Name) and a.id == acc:
                found = (v.op, False, b)
                break
    elif isinstance(v, Call) and v.fn in ("max", "min", "maximum", "minimum") \
            and len(v.args) == 2:
        a, b = v.args
        if isinstance(a, Name) and a.id == acc:
            found = (v.fn, True, b)
        elif isinstance(b, Name) and b.id == acc and v.fn in ("maximum", "minimum"):
            found = (v.fn, False, a)
    if found is None or any(isinstance(n, Name) and n.id == acc for n in walk(found[2])):
        return None
    return found


def may_raise(node: Any) -> bool:
    """Whether ``node`` itself is checked at run time: an access with ``checks``
    axes, a ``checked`` power (what makes evaluating an expression fallible), or a
    loop with a ``checked_step``."""
    return bool(getattr(node, "checks", ())) or bool(getattr(node, "checked", False)) or \
        bool(getattr(node, "checked_step", False))


def mark(k: "Kernel", ids: set, **flags) -> "Kernel":
    """``k`` with the nodes whose ``id`` is in ``ids`` (as an analysis saw them) given
    ``flags`` (``checked=True``...)."""
    if not ids:
        return k
    return replace(k, body=tuple(rebuild_by_id(
        s, lambda orig, new: replace(new, **flags) if id(orig) in ids else new) for s in k.body))


def rebuild_by_id(node: Any, fn) -> Any:
    """A copy of ``node`` rebuilt top-down, where ``fn(original, rebuilt)`` may
    replace each expression or statement. Analyses record findings by the
    ``id`` of the nodes they saw; this keeps those originals in reach (a
    bottom-up :func:`map_exprs` would only see new copies)."""
    changes = {}
    for f in fields(node):
        if f.name in ("loc", "type"):
            continue
        v = getattr(node, f.name)
        if isinstance(v, (Expr, Stmt)):
            nv = rebuild_by_id(v, fn)
        elif isinstance(v, tuple) and any(isinstance(x, (Expr, Stmt)) for x in v):
            nv = tuple(rebuild_by_id(x, fn) if isinstance(x, (Expr, Stmt)) else x for x in v)
            nv = v if all(a is b for a, b in zip(nv, v)) else nv
        else:
            continue
        if nv is not v:
            changes[f.name] = nv
    return fn(node, replace(node, **changes) if changes else node)


def unpack_mismatch(expected: int, got: int) -> str:
    """Python's words for unpacking ``got`` values into ``expected`` names."""
    if got > expected:
        return f"too many values to unpack (expected {expected})"
    return f"not enough values to unpack (expected {expected}, got {got})"


def fresh_name(base: str, taken: set) -> str:
    """``base``, or ``base_2``, ``base_3``... : the first not in ``taken`` (then added)."""
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


_NAMED = {"id", "target", "var", "tensor", "name"}


def rename(node: Any, m: dict) -> Any:
    """``node`` (or a tuple of nodes) with every local, loop variable and tensor
    name mapped by ``m``."""
    if isinstance(node, tuple):
        return tuple(rename(x, m) for x in node)
    if not is_dataclass(node) or isinstance(node, (Loc, TensorType, Weak)):
        return node
    changes = {}
    for f in fields(node):
        v = getattr(node, f.name)
        if f.name in _NAMED and isinstance(v, str):
            nv = m.get(v, v)
        elif f.name == "vars":
            nv = tuple(m.get(x, x) for x in v)
        elif isinstance(v, tuple) or isinstance(v, (Expr, Stmt)):
            nv = rename(v, m)
        else:
            continue
        if nv != v:
            changes[f.name] = nv
    return replace(node, **changes) if changes else node


def map_exprs(node: Any, fn) -> Any:
    """Rebuild ``node`` bottom-up, applying ``fn`` to every expression."""
    if isinstance(node, tuple):
        return tuple(map_exprs(n, fn) for n in node)
    if not is_dataclass(node) or isinstance(node, (Loc, Param, Reduction,
                                                   TensorType, Weak, DType)):
        return node
    changes = {}
    for f in fields(node):
        if f.name in ("loc", "type"):
            continue
        v = getattr(node, f.name)
        if isinstance(v, (Expr, Stmt, tuple)):
            nv = map_exprs(v, fn)
            if nv is not v:
                changes[f.name] = nv
    new = replace(node, **changes) if changes else node
    return fn(new) if isinstance(new, Expr) else new


_PREC = {"or": 1, "and": 2, "not": 3, "cmp": 4, "|": 5, "^": 6, "&": 7, "<<": 8,
         ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "//": 10, "%": 10, "u": 11,
         "**": 12}


def fmt_expr(e: Expr) -> str:
    """Render an expression in Python-like syntax (types shown on casts)."""
    if isinstance(e, Const):
        return repr(e.value)
    if isinstance(e, Name):
        return e.id
    if isinstance(e, BinOp):          # a checked exponent is marked ``!``, as an index
        op = e.op + "%" if e.wraps else e.op     # a wrapping op as Zig writes it: +%
        return f"({fmt_expr(e.left)} {op} {fmt_expr(e.right)}{'!' if e.checked else ''})"
    if isinstance(e, UnaryOp):
        sep = " " if e.op == "not" else ""
        return f"({e.op}{sep}{fmt_expr(e.operand)})"
    if isinstance(e, Compare):
        return f"({fmt_expr(e.left)} {e.op} {fmt_expr(e.right)})"
    if isinstance(e, BoolOp):
        return "(" + f" {e.op} ".join(fmt_expr(v) for v in e.values) + ")"
    if isinstance(e, Select):
        return f"({fmt_expr(e.a)} if {fmt_expr(e.cond)} else {fmt_expr(e.b)})"
    if isinstance(e, Call):
        return f"{e.fn}({', '.join(fmt_expr(a) for a in e.args)})"
    if isinstance(e, Cast):
        return f"{getattr(e.type, 'name', e.type)}({fmt_expr(e.value)})"
    if isinstance(e, Load):
        return f"{e.tensor}[{fmt_index(e)}]"
    if isinstance(e, Shape):
        return f"{e.tensor}.ndim" if e.axis is None else f"{e.tensor}.size" \
            if e.axis == "size" else f"{e.tensor}.shape[{e.axis}]"
    raise TypeError(f"not an expression: {e!r}")


def fmt_index(access: Any) -> str:
    """The index of a Load/Store/Atomic; a run-time checked axis is marked ``!``."""
    return ", ".join(fmt_expr(i) + ("!" if axis in access.checks else "")
                     for axis, i in enumerate(access.index))


def _fmt_type(t: Any) -> str:
    if t is None:
        return "?"
    return getattr(t, "name", None) or str(t)


def fmt_stmts(stmts: tuple, indent: int = 1) -> list[str]:
    pad = "    " * indent
    out: list[str] = []
    for s in stmts:
        if isinstance(s, Assign):
            out.append(f"{pad}{s.target}: {_fmt_type(s.value.type)} = {fmt_expr(s.value)}")
        elif isinstance(s, (Store, Atomic)):
            idx = fmt_index(s)
            if isinstance(s, Store):
                out.append(f"{pad}{s.tensor}[{idx}] = {fmt_expr(s.value)}")
                continue
            args = ", ".join(fmt_expr(e) for e in (s.compare, s.value) if e is not None)
            out.append(f"{pad}{s.target + ' = ' if s.target else ''}"
                       f"atomic_{s.op}({s.tensor}[{idx}], {args})")
        elif isinstance(s, If):
            out.append(f"{pad}if {fmt_expr(s.cond)}:")
            out += fmt_stmts(s.body, indent + 1) or [pad + "    pass"]
            if s.orelse:
                out.append(f"{pad}else:")
                out += fmt_stmts(s.orelse, indent + 1)
        elif isinstance(s, For):
            out.append(f"{pad}for {s.var} in range({fmt_expr(s.start)}, "
                       f"{fmt_expr(s.stop)}, {fmt_expr(s.step)}{'!' if s.checked_step else ''})"
                       f"{' reassociate' if s.reassociate else ''}:")
            out += fmt_stmts(s.body, indent + 1) or [pad + "    pass"]
        elif isinstance(s, While):
            out.append(f"{pad}while {fmt_expr(s.cond)}:")
            out += fmt_stmts(s.body, indent + 1) or [pad + "    pass"]
        elif isinstance(s, Grid):
            red = "".join(f" reduce({r.op}: {r.var})" for r in s.reductions)
            out.append(f"{pad}parallel for {', '.join(s.vars)} in grid("
                       f"{', '.join(fmt_expr(x) for x in s.extents)}){red}:")
            out += fmt_stmts(s.body, indent + 1) or [pad + "    pass"]
        elif isinstance(s, Break):
            out.append(f"{pad}break")
        elif isinstance(s, Continue):
            out.append(f"{pad}continue")
        elif isinstance(s, Return):
            vals = s.items or ((s.value,) if s.value else ())
            out.append(f"{pad}return" + "".join(
                (", " if i else " ") + fmt_expr(v) for i, v in enumerate(vals)))
        elif isinstance(s, NewTensor):
            shape = f"{s.shape_of}.shape" if s.shape_of else \
                "(" + "".join(fmt_expr(x) + ", " for x in s.shape) + ")"
            out.append(f"{pad}{s.name} = {s.fn}({shape}, {s.like or _fmt_type(s.dtype)})")
        elif isinstance(s, Alloc):
            shape = ", ".join(fmt_expr(x) for x in s.shape)
            out.append(f"{pad}{s.name} = empty(({shape}), {_fmt_type(s.dtype)})")
        elif isinstance(s, Comment):
            out.append(f"{pad}# {s.text}")
        else:
            raise TypeError(f"not a statement: {s!r}")
    return out


def format_kernel(k: Kernel) -> str:
    """The printable IR of a kernel (what ``kernel.ir`` shows)."""
    params = ", ".join(f"{p.name}: {_fmt_type(p.type)}" for p in k.params)
    ret = f" -> {_fmt_type(k.return_type)}" if k.return_type is not None else ""
    lines = [f"kernel {k.name}({params}){ret}  [{k.kind}]"]
    for m in k.made:
        lines.append(f"    # made: {m.name} of shape ({', '.join(fmt_expr(x) for x in m.shape)},)"
                     + (f" filled with {fmt_expr(m.fill)}" if m.fill is not None else ""))
    if k.results:
        lines.append("    # returns: " + ", ".join(
            r[1] if r[0] == "tensor" else f"{r[1] or 'value'}: {_fmt_type(r[2])}"
            for r in k.results))
    if k.locals:
        lines.append("    # locals: " + ", ".join(f"{n}: {_fmt_type(t)}" for n, t in k.locals))
    lines += fmt_stmts(k.body)
    return "\n".join(lines)


def ir_hash(k: Kernel) -> str:
    """A stable content hash of the IR (positions excluded, types included)."""
    return hashlib.sha256(format_kernel(k).encode()).hexdigest()[:20]
