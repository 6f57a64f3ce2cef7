"""Fuzzing the frontend and type inference: mutated corpus kernels and random
source must produce either a compiled kernel or a LangOne error, nothing else.
What compiles is also executed (numpy_ref; numba on a fixed, seeded sample) on the
original corpus case's inputs: only LangOne errors may escape."""

from __future__ import annotations

import ast
import copy
import inspect
import random
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import langone as lo
from langone.errors import LangOneError

from kernel_corpus import CASES
from kernel_factory import load_function

_JUNK_EXPRS = ["'text'", "None", "[1, 2]", "x[1:2]", "lambda q: q", "{1: 2}", "x.T",
               "x.shape", "np.zeros(3)", "print", "(1, 2)", "1j", "x[...]", "x[None]",
               "undefined_name", "lo.grid(3)", "range(3)", "lo.atomic_add(x, 0, 1)",
               "x @ x", "-True", "~1.5", "not_a_kernel()", "lo", "x.foo", "1 if x else 2",
               "lo.fp16", "max()", "min(1)", "lo.exp(1, 2)", "lo.where(1, 2)"]
_JUNK_STMTS = ["pass", "break", "continue", "return 1", "x = 1", "del x", "global g",
               "import os", "assert x", "raise ValueError()", "try:\n    pass\nexcept:\n    pass",
               "with x:\n    pass", "for a, b in range(3):\n    pass",
               "for i in lo.grid(2):\n    pass", "while True:\n    break",
               "a = b = 1", "a, b = 1, 2", "x[0] += 1", "x.shape = 3", "q: lo.fp32 = 1.0",
               "lo.atomic_add(x, 0)", "yield 1", "for i in lo.grid(1, 2, 3, 4):\n    pass",
               "for i in range(0, 10, 0):\n    pass", "for i in x:\n    pass"]


def _mutate(tree: ast.AST, rng: random.Random) -> None:
    nodes = [n for n in ast.walk(tree) if not isinstance(n, ast.Module)]
    kind = rng.randrange(6)
    if kind == 0:                                           # replace an expression
        exprs = [n for n in nodes if isinstance(n, ast.expr) and hasattr(n, "lineno")]
        if not exprs:
            return
        parents = {c: p for p in nodes for c in ast.iter_child_nodes(p)}
        target = rng.choice(exprs)
        parent = parents.get(target)
        junk = ast.parse(rng.choice(_JUNK_EXPRS), mode="eval").body
        if parent is not None:
            for field, value in ast.iter_fields(parent):
                if value is target:
                    setattr(parent, field, junk)
                elif isinstance(value, list) and target in value:
                    value[value.index(target)] = junk
    elif kind == 1:                                         # insert a statement
        bodies = [n.body for n in nodes if hasattr(n, "body") and isinstance(n.body, list)]
        if not bodies:
            return
        body = rng.choice(bodies)
        body.insert(rng.randrange(len(body) + 1), ast.parse(rng.choice(_JUNK_STMTS)).body[0])
    elif kind == 2:                                         # delete a statement
        bodies = [n.body for n in nodes if hasattr(n, "body") and isinstance(n.body, list)
                  and len(n.body) > 1]
        if bodies:
            body = rng.choice(bodies)
            body.pop(rng.randrange(len(body)))
    elif kind == 3:                                         # swap an operator
        ops = [n for n in nodes if isinstance(n, ast.BinOp)]
        if ops:
            rng.choice(ops).op = rng.choice([ast.Add(), ast.Div(), ast.FloorDiv(), ast.Mod(),
                                             ast.Pow(), ast.BitAnd(), ast.LShift(),
                                             ast.MatMult()])
    elif kind == 4:                                         # rename a variable
        names = [n for n in nodes if isinstance(n, ast.Name)]
        if names:
            rng.choice(names).id = rng.choice(["i", "x", "out", "zz", "lo", "range", "acc"])
    else:                                                   # change a constant
        consts = [n for n in nodes if isinstance(n, ast.Constant)]
        if consts:
            rng.choice(consts).value = rng.choice([0, -1, 2**70, 1e308, "s", None, True])


_SOURCES = []
for _case in CASES:
    _src = textwrap.dedent(inspect.getsource(_case.kernel.py_func))
    _tree = ast.parse(_src)
    _tree.body[0].decorator_list = []
    _SOURCES.append((_case, _tree))


def _mutant(index, seed, n_mutations):
    """(case, source) of a mutated corpus kernel, or None when Python cannot print it."""
    case, tree = _SOURCES[index]
    tree = copy.deepcopy(tree)
    rng = random.Random(seed)
    for _ in range(n_mutations):
        _mutate(tree, rng)
    try:
        return case, ast.unparse(ast.fix_missing_locations(tree)), tree
    except Exception:
        return None                              # the mutation made an unprintable tree


def _executable(tree) -> bool:
    """Whether running the mutant is sure to end and cannot corrupt memory through a
    known open bug, so that only its errors are in question:

    * no ``while`` (a deleted counter update loops forever) and no huge constant (a
      ``range(2**70)`` runs forever);
    * every subscript is a loop variable, a tuple of them, or a small literal: indices like
      ``x[i + 1]`` or ``x[idx[i]]`` are known open bugs on numba (writes past the end of a
      view, segfaults on data-dependent indices; issue 10 items 3-4), which would kill the
      test process instead of failing a test.
    """
    loop_vars = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.While):
            return False
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool) and abs(node.value) > 10_000:
            return False
        if isinstance(node, ast.For):
            loop_vars |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            for part in parts:
                if isinstance(part, ast.Name) and part.id in loop_vars:
                    continue
                if isinstance(part, ast.Constant) and isinstance(part.value, int) \
                        and not isinstance(part.value, bool) and 0 <= part.value < 4:
                    continue
                if isinstance(node.value, ast.Attribute) and node.value.attr == "shape":
                    continue                     # x.shape[k]
                return False
    return True


def _compile_and_run(index, seed, n_mutations, backends):
    made = _mutant(index, seed, n_mutations)
    if made is None:
        return
    case, source, tree = made
    fn = load_function(source, case.kernel.__name__)
    if fn is None:
        return                                   # Python rejected it before LangOne saw it
    args = case.make(np.random.default_rng(0))
    kern = lo.kernel(fn)
    try:
        kern.stages(*args)
    except LangOneError:
        return
    if not _executable(tree):
        return
    for backend in backends:
        run_args = copy.deepcopy(args)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                kern.on(backend)(*run_args)
            except LangOneError:
                pass


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)
@given(st.integers(0, len(_SOURCES) - 1), st.integers(0, 2**32), st.integers(1, 3))
def test_mutated_kernels_raise_only_langone_errors(index, seed, n_mutations):
    """Compiles to a kernel or a LangOne error; what compiles runs on numpy_ref."""
    _compile_and_run(index, seed, n_mutations, ["numpy"])


# A fixed, seeded sample also runs on numba (each numba compile costs about a second).
_NUMBA_SAMPLE = [(random.Random(n).randrange(len(_SOURCES)), n, 1 + n % 3) for n in range(80)]


@pytest.mark.skipif("numba" not in lo.backends(), reason="numba is not usable here")
@pytest.mark.parametrize("index, seed, n_mutations", _NUMBA_SAMPLE)
def test_mutated_kernels_run_on_numba_with_only_langone_errors(index, seed, n_mutations):
    _compile_and_run(index, seed, n_mutations, ["numpy", "numba"])


_ident = st.sampled_from(["x", "y", "n", "i", "acc", "out"])
_expr = st.recursive(
    st.one_of(_ident, st.integers(-3, 3).map(str), st.sampled_from(["1.5", "lo.pi", "True"]),
              _ident.map(lambda v: f"{v}[i]")),
    lambda sub: st.one_of(
        st.tuples(sub, st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "&", "<",
                                        "==", "and", "or", "if 1 else"]), sub)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["lo.exp", "abs", "max", "lo.int8", "float", "lo.where",
                                   "lo.sigmoid", "min"]), st.lists(sub, min_size=0, max_size=3))
        .map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        sub.map(lambda e: f"-{e}"), sub.map(lambda e: f"not {e}")),
    max_leaves=8)
_stmt = st.one_of(
    st.tuples(_ident, _expr).map(lambda t: f"{t[0]} = {t[1]}"),
    st.tuples(_ident, _expr).map(lambda t: f"{t[0]}[i] = {t[1]}"),
    st.tuples(_ident, _expr).map(lambda t: f"{t[0]} += {t[1]}"),
    _expr.map(lambda e: f"if {e}:\n        acc = 1"),
    st.just("break"), st.just("return acc"))


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_stmt, min_size=1, max_size=5), st.booleans())
def test_random_kernels_raise_only_langone_errors(stmts, in_grid):
    body = "\n".join(("    " if in_grid else "") + "    " + s.replace("\n", "\n    " +
                     ("    " if in_grid else "")) for s in stmts)
    head = "    acc = 0.0\n" + ("    for i in lo.grid(x.shape[0]):\n" if in_grid else "    i = 0\n")
    source = f"def k(x, y, n, out):\n{head}{body}\n"
    fn = load_function(source, "k")
    if fn is None:
        return
    args = (np.ones(4, np.float32), np.arange(4, dtype=np.int32), 3, np.zeros(4, np.float64))
    try:
        lo.kernel(fn).stages(*args)
    except LangOneError:
        pass
