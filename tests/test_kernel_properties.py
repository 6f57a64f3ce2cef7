"""Property tests: random elementwise expressions over random shapes and dtypes.

1. The numpy reference agrees with plain numpy on values AND result dtype
   (NEP 50 promotion, Python scalars weak).
2. Every other usable backend agrees with the reference.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from langone.kernels import backends

from kernel_factory import load_function

DTYPES = ["float32", "float64", "float16", "int32", "int8", "int64"]
UNARY = ["lo.exp", "lo.tanh", "abs", "lo.sin", "lo.sigmoid", "-"]
BINARY = ["+", "-", "*", "/", "lo.minimum", "lo.maximum"]

NP_LO = types.SimpleNamespace(exp=np.exp, tanh=np.tanh, sin=np.sin, minimum=np.minimum,
                              maximum=np.maximum, where=np.where, pi=np.pi,
                              sigmoid=lambda x: 1 / (1 + np.exp(-x)))


def _expr(depth: int):
    leaf = st.one_of(st.sampled_from(["a", "b"]),
                     st.sampled_from(["2", "3", "0.5", "1.25"]))
    if depth == 0:
        return leaf

    def build(sub):
        return st.one_of(
            st.tuples(st.sampled_from(UNARY), sub).map(
                lambda t: f"(-{t[1]})" if t[0] == "-" else f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(BINARY), sub, sub).map(
                lambda t: f"{t[0]}({t[1]}, {t[2]})" if t[0].startswith("lo.")
                else f"({t[1]} {t[0]} {t[2]})"),
            st.tuples(sub, sub, sub).map(lambda t: f"lo.where({t[0]} > {t[1]}, {t[1]}, {t[2]})"))
    return st.recursive(leaf, build, max_leaves=2 ** depth)


@st.composite
def shapes_pair(draw):
    shape = draw(st.lists(st.integers(1, 5), min_size=0, max_size=3))
    other = [1 if draw(st.booleans()) else s for s in shape]
    drop = draw(st.integers(0, len(other)))
    return tuple(shape), tuple(other[drop:])


@st.composite
def problems(draw):
    expr = draw(_expr(3))
    assume("a" in expr)
    sa, sb = draw(shapes_pair())
    if draw(st.booleans()):
        sa, sb = sb, sa
    da, db = draw(st.sampled_from(DTYPES)), draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    a = (rng.uniform(-2, 2, sa) if da.startswith("f") else rng.integers(-5, 6, sa)).astype(da)
    b = (rng.uniform(-2, 2, sb) if db.startswith("f") else rng.integers(-5, 6, sb)).astype(db)
    if len(sa) >= 2 and draw(st.booleans()):
        a = np.asfortranarray(a)                       # a non-contiguous layout
    return expr, a, b


_KERNELS: dict[str, object] = {}


def kernel_for(expr: str):
    if expr not in _KERNELS:
        import langone as lo
        fn = load_function(f"def k(a, b):\n    return {expr}\n", "k")
        _KERNELS[expr] = lo.kernel(fn)
    return _KERNELS[expr]


def _tolerance(dtype: np.dtype) -> float:
    return {2: 2e-2, 4: 1e-5}.get(dtype.itemsize, 1e-12) if dtype.kind == "f" else 0


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(problems())
def test_reference_matches_numpy_values_and_dtype(problem):
    expr, a, b = problem
    with np.errstate(all="ignore"):
        want = np.asarray(eval(expr, {"lo": NP_LO, "a": a, "b": b}))
    got = kernel_for(expr).on("numpy")(a, b).numpy()
    assert got.dtype == want.dtype, f"{expr}: dtype {got.dtype} != numpy's {want.dtype}"
    assert got.shape == want.shape
    finite = np.isfinite(want.astype(np.float64)) & (np.abs(want.astype(np.float64)) < 1e4)
    # Half-precision values (fp16 inputs, or exp of int8 which numpy computes in
    # fp16) compute in fp32 here, where numpy rounds every step to fp16.
    halves = any(x.dtype in (np.float16, np.int8) for x in (a, b, want))
    tol = _tolerance(np.dtype(np.float16) if halves else want.dtype)
    np.testing.assert_allclose(got.astype(np.float64)[finite], want.astype(np.float64)[finite],
                               rtol=tol, atol=tol, err_msg=expr)


OTHER = [b for b in backends.usable() if b != "numpy"]


@pytest.mark.skipif(not OTHER, reason="no compiled backend usable here")
@pytest.mark.parametrize("backend", OTHER)
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(problem=problems())
def test_backends_match_reference_on_random_expressions(backend, problem):
    expr, a, b = problem
    k = kernel_for(expr)
    want = k.on("numpy")(a, b).numpy()
    got = k.on(backend)(a, b).numpy()
    assert got.dtype == want.dtype and got.shape == want.shape
    tol = max(_tolerance(want.dtype), 1e-6 if want.dtype.kind == "f" else 0)
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64),
                               rtol=tol, atol=tol, equal_nan=True, err_msg=expr)
