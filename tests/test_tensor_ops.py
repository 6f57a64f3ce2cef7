"""Operators and namespace functions against numpy: values, result dtypes, errors."""

import importlib
import operator
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from langone import dtypes
from langone.errors import InvalidOperation, UnsupportedPrecision

lt = importlib.import_module("langone.tensor")

NUMPY_DTYPES = [np.dtype(n) for n in
                ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
                 "float64")]
BINARY_OPS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
              operator.mod, operator.pow, operator.and_, operator.or_, operator.xor,
              operator.lshift, operator.rshift, operator.eq, operator.ne, operator.lt,
              operator.le, operator.gt, operator.ge]
INPLACE = {operator.add: operator.iadd, operator.sub: operator.isub,
           operator.mul: operator.imul, operator.truediv: operator.itruediv,
           operator.floordiv: operator.ifloordiv, operator.mod: operator.imod,
           operator.and_: operator.iand, operator.or_: operator.ior,
           operator.xor: operator.ixor}


def small_arrays(dtype, shape):
    if dtype.kind == "f":
        elements = st.floats(-8, 8, width=min(dtype.itemsize * 8, 64))
    elif dtype.kind == "b":
        elements = st.booleans()
    else:
        lo_ = 0 if dtype.kind == "u" else -8
        elements = st.integers(lo_, 8)
    return hnp.arrays(dtype, shape, elements=elements)


def outcome(fn, *args):
    """(result, None) or (None, exception type): both libraries must agree on either."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return fn(*args), None
        except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
            return None, type(exc)


def assert_same(got, expected):
    assert got.dtype.numpy == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got.numpy(), expected)


@st.composite
def broadcastable_pairs(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
    d1, d2 = draw(st.sampled_from(NUMPY_DTYPES)), draw(st.sampled_from(NUMPY_DTYPES))
    a = draw(small_arrays(d1, shapes.input_shapes[0]))
    b = draw(small_arrays(d2, shapes.input_shapes[1]))
    return a, b


@given(broadcastable_pairs(), st.sampled_from(BINARY_OPS))
@settings(max_examples=300, deadline=None)
def test_binary_operators_match_numpy(pair, op):
    a, b = pair
    expected, np_error = outcome(op, a, b)
    got, lo_error = outcome(op, lt.asarray(a), lt.asarray(b))
    if np_error is not None:
        assert lo_error is not None and issubclass(lo_error, np_error) or \
            lo_error is np_error, (np_error, lo_error)
        return
    assert lo_error is None
    assert_same(got, expected)


@given(st.sampled_from(NUMPY_DTYPES), st.sampled_from(BINARY_OPS),
       st.one_of(st.booleans(), st.integers(-3, 3), st.floats(-4, 4)), st.booleans())
@settings(max_examples=300, deadline=None)
def test_python_scalars_are_weak(dtype, op, scalar, reflected):
    a = np.arange(-3, 4).astype(dtype) if dtype.kind != "u" else np.arange(7).astype(dtype)
    args_np = (scalar, a) if reflected else (a, scalar)
    args_lo = (scalar, lt.asarray(a)) if reflected else (lt.asarray(a), scalar)
    expected, np_error = outcome(op, *args_np)
    got, lo_error = outcome(op, *args_lo)
    if np_error is not None:
        assert lo_error is not None
        return
    assert lo_error is None, lo_error
    assert_same(got, expected)


def test_out_of_range_python_int_overflows_like_numpy():
    x = lt.asarray([1, 2], dtype="int8")
    with pytest.raises(OverflowError):
        x + 1000
    assert (x < 1000).tolist() == [True, True]
    assert (x * 2).dtype is dtypes.int8


@given(broadcastable_pairs(), st.sampled_from(sorted(INPLACE, key=str)))
@settings(max_examples=150, deadline=None)
def test_inplace_operators_write_into_the_left_operand(pair, op):
    a, b = pair
    assume(np.broadcast_shapes(a.shape, b.shape) == a.shape)
    expected, np_error = outcome(INPLACE[op], a.copy(), b)
    t = lt.asarray(a.copy())
    before = t.data_ptr()
    got, lo_error = outcome(INPLACE[op], t, lt.asarray(b))
    if np_error is not None:
        assert lo_error is not None
        return
    assert lo_error is None and got is t and t.data_ptr() == before
    assert_same(t, expected)


def test_inplace_errors_explain_the_fix():
    x = lt.zeros(3, dtype="int32")
    with pytest.raises(UnsupportedPrecision, match=r"in place into a int32.*x = x op y"):
        x += 1.5
    y = lt.zeros(3)
    with pytest.raises(lt.ShapeMismatch, match=r"does not fit the output of shape \(3,\)"):
        y += lt.ones((2, 3))


def test_unary_operators():
    a = np.array([-2, 0, 3], dtype=np.int16)
    t = lt.asarray(a)
    assert_same(-t, -a)
    assert_same(+t, +a)
    assert_same(abs(t), abs(a))
    assert_same(~t, ~a)
    assert_same(~lt.asarray([True, False]), np.array([False, True]))


def test_broadcast_error_states_both_shapes():
    with pytest.raises(lt.ShapeMismatch, match=r"shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        lt.ones((2, 3)) + lt.ones(4)
    with pytest.raises(ValueError):              # ShapeMismatch is a ValueError too
        lt.ones((2, 3)) * lt.ones((3, 2))


def test_no_loop_is_unsupported_precision():
    with pytest.raises(UnsupportedPrecision, match="subtract.*bool"):
        lt.asarray([True]) - lt.asarray([False])
    with pytest.raises(UnsupportedPrecision, match="bitwise_and"):
        lt.ones(2) & lt.ones(2)


def test_operators_with_numpy_arrays_and_lists():
    a = np.arange(3.0)
    t = lt.arange(3.0)
    for res in (t + a, a + t, t * [1, 2, 3], np.float32(2) * t):
        assert isinstance(res, lt.Tensor)
    assert (a + t).tolist() == [0.0, 2.0, 4.0]
    assert (t == None) is False                   # noqa: E711 -- falls back to identity
    assert t.__add__("text") is NotImplemented


# --- bf16: NEP 50, although ml_dtypes alone would give fp32 ------------------------------------------

def test_bf16_promotion_follows_nep50():
    b = lt.ones(3, dtype="bf16")
    assert (b + 1.0).dtype is dtypes.bf16
    assert (b * 2).dtype is dtypes.bf16
    assert (b + lt.ones(3, dtype="int8")).dtype is dtypes.bf16
    assert (b + lt.ones(3, dtype="fp16")).dtype is dtypes.fp32
    assert (b + np.float32(1)).dtype is dtypes.fp32
    assert (b < 2.0).dtype is dtypes.bool_
    b += 0.5
    assert b.dtype is dtypes.bf16 and b.tolist() == [1.5] * 3


@given(hnp.arrays(np.float32, st.integers(1, 20), elements=st.floats(-100, 100, width=32)),
       st.sampled_from([np.add, np.subtract, np.multiply, np.divide, np.maximum]))
@settings(max_examples=60, deadline=None)
def test_bf16_arithmetic_is_correctly_rounded_fp32_arithmetic(values, ufunc):
    import ml_dtypes
    bf = values.astype(ml_dtypes.bfloat16)
    with np.errstate(all="ignore"):
        got = ufunc(lt.asarray(bf), lt.asarray(bf[::-1].copy()))
        exact = ufunc(bf.astype(np.float32), bf[::-1].astype(np.float32))
    assert got.dtype is dtypes.bf16
    np.testing.assert_array_equal(got.numpy().astype(np.float32),
                                  exact.astype(ml_dtypes.bfloat16).astype(np.float32))


# --- elementwise functions ------------------------------------------------------------------------------------

UNARY = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos,
         "tanh": np.tanh, "abs": np.abs, "floor": np.floor, "ceil": np.ceil,
         "trunc": np.trunc, "sign": np.sign, "square": np.square, "expm1": np.expm1,
         "log1p": np.log1p, "isnan": np.isnan, "isfinite": np.isfinite, "negative": np.negative,
         "acos": np.arccos, "asinh": np.arcsinh, "log2": np.log2, "signbit": np.signbit}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int16"])
def test_unary_functions_match_numpy(name, dtype):
    a = np.linspace(0.1, 0.9, 7).astype(dtype) if dtype != "int16" else np.arange(1, 8, dtype=dtype)
    with np.errstate(all="ignore"):
        expected = UNARY[name](a)
        got = getattr(lt, name)(lt.asarray(a))
    assert_same(got, expected)


BINARY = {"maximum": np.maximum, "minimum": np.minimum, "atan2": np.arctan2,
          "hypot": np.hypot, "copysign": np.copysign, "logaddexp": np.logaddexp,
          "pow": np.power, "remainder": np.remainder, "divide": np.divide,
          "logical_and": np.logical_and, "nextafter": np.nextafter,
          "bitwise_left_shift": np.left_shift, "greater_equal": np.greater_equal}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_functions_match_numpy(name):
    a = np.arange(1, 7, dtype=np.int32).reshape(2, 3)
    b = np.array([3, 1, 2], dtype=np.int32)
    if name not in ("bitwise_left_shift", "logical_and", "remainder", "pow"):
        a, b = a.astype(np.float32) / 3, b.astype(np.float32) / 2
    assert_same(getattr(lt, name)(lt.asarray(a), lt.asarray(b)), BINARY[name](a, b))


def test_round_reciprocal_sigmoid_clip_where():
    assert lt.round(lt.asarray([0.5, 1.5, 2.5, -0.5])).tolist() == [0.0, 2.0, 2.0, -0.0]
    assert lt.round(lt.asarray([1.25, 2.35]), decimals=1).tolist() == np.round([1.25, 2.35], 1).tolist()
    ints = lt.asarray([1, 2], dtype="int8")
    assert lt.round(ints).dtype is dtypes.int8 and lt.round(ints).tolist() == [1, 2]
    assert lt.reciprocal(lt.asarray([2, 4])).tolist() == [0.5, 0.25]
    assert lt.reciprocal(lt.asarray([4.0], dtype="fp32")).dtype is dtypes.fp32
    s = lt.sigmoid(lt.asarray([-1000.0, 0.0, 1000.0], dtype="fp32"))
    assert s.tolist() == [0.0, 0.5, 1.0] and s.dtype is dtypes.fp32
    x = lt.asarray([-2, 0, 5], dtype="int16")
    assert lt.clip(x, 0, 3).tolist() == [0, 0, 3] and lt.clip(x, 0, 3).dtype is dtypes.int16
    assert lt.clip(x, max=1).tolist() == [-2, 0, 1] and x.clip().tolist() == [-2, 0, 5]
    assert lt.clip(lt.ones(2, dtype="bf16"), 0.0, 0.5).dtype is dtypes.bf16
    y = lt.asarray([-1.0, 2.0, -3.0])
    assert lt.where(y > 0, y, 0).tolist() == [0.0, 2.0, 0.0]
    assert lt.where(lt.asarray([True, False]), lt.ones(2, dtype="int8"), 5).dtype is dtypes.int8
    assert lt.where(lt.asarray([[True], [False]]), 1.0, lt.zeros(3)).shape == (2, 3)
    with pytest.raises(lt.ShapeMismatch, match=r"\(2,\).*\(3,\)"):
        lt.where(lt.asarray([True, False]), lt.ones(3), 0)


def test_numpy_ufuncs_on_tensors_return_tensors():
    t = lt.asarray([0.0, 1.0], dtype="fp32")
    e = np.exp(t)
    assert isinstance(e, lt.Tensor) and e.dtype is dtypes.fp32
    assert isinstance(np.add(np.ones(2), t), lt.Tensor)
    assert isinstance(np.ones(2, np.float32) * t, lt.Tensor)
    out = lt.empty(2, dtype="fp32")
    assert np.multiply(t, 2, out=out) is out and out.tolist() == [0.0, 2.0]
    assert int(np.add.reduce(lt.arange(5))) == 10
    assert np.maximum.accumulate(lt.asarray([1, 3, 2])).tolist() == [1, 3, 3]
    assert float(np.sum(lt.ones(4))) == 4.0 and float(np.mean(lt.arange(5.0))) == 2.0


# --- reductions ------------------------------------------------------------------------------------------------

REDUCTIONS = ["sum", "prod", "mean", "max", "min", "std", "var", "any", "all"]


@given(st.sampled_from([np.float32, np.float64, np.int32, np.int8, np.uint8]),
       hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
       st.sampled_from(REDUCTIONS), st.booleans(), st.data())
@settings(max_examples=200, deadline=None)
def test_reductions_match_numpy(dtype, shape, name, keepdims, data):
    arr = data.draw(small_arrays(np.dtype(dtype), shape))
    axis = data.draw(st.one_of(st.none(), st.integers(-arr.ndim, arr.ndim - 1),
                               st.just(tuple(range(arr.ndim)))))
    fn = getattr(np, name)
    with np.errstate(all="ignore"):
        expected = fn(arr, axis=axis, keepdims=keepdims)
        got = getattr(lt, name)(lt.asarray(arr), axis=axis, keepdims=keepdims)
    expected = np.asarray(expected)
    assert got.shape == expected.shape and got.dtype.numpy == expected.dtype
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)


def test_half_precision_reductions_accumulate_in_fp32():
    x = np.full(4096, 0.1, dtype=np.float16)
    got = lt.sum(lt.asarray(x))
    assert got.dtype is dtypes.fp16
    assert got.item() == np.float16(np.sum(x, dtype=np.float32))
    b = lt.asarray(np.ones(1000, np.float32)).astype("bf16")
    assert lt.sum(b).item() == 1000.0             # a bf16 accumulator would stop at 256
    assert lt.mean(b).item() == 1.0 and lt.mean(b).dtype is dtypes.bf16
    assert lt.var(lt.asarray([1.0, 3.0], dtype="fp16")).item() == 1.0
    assert lt.std(lt.asarray([1.0, 3.0]), correction=1).item() == pytest.approx(2 ** 0.5)
    assert lt.asarray([1.0, 3.0]).std(ddof=1).item() == pytest.approx(2 ** 0.5)


def test_reduction_dtypes_and_errors():
    assert lt.sum(lt.asarray([True, True])).dtype is dtypes.int64
    assert lt.mean(lt.asarray([1, 2])).dtype is dtypes.fp64
    assert lt.sum(lt.ones(3, dtype="int8"), dtype="fp32").dtype is dtypes.fp32
    with pytest.raises(InvalidOperation, match=r"max of an empty selection \(shape \(0,\)"):
        lt.max(lt.zeros(0))
    with pytest.raises(InvalidOperation, match="empty"):
        lt.argmin(lt.zeros((2, 0)), axis=1)
    out = lt.empty(3)
    assert lt.sum(lt.ones((2, 3)), axis=0, out=out) is out and out.tolist() == [2.0] * 3


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                  elements=st.floats(-5, 5)), st.booleans(), st.data())
@settings(max_examples=80, deadline=None)
def test_argmax_argmin_match_numpy(arr, keepdims, data):
    axis = data.draw(st.one_of(st.none(), st.integers(-arr.ndim, arr.ndim - 1)))
    for name in ("argmax", "argmin"):
        expected = np.asarray(getattr(np, name)(arr, axis=axis, keepdims=keepdims))
        got = getattr(lt.asarray(arr), name)(axis=axis, keepdims=keepdims)
        assert got.dtype is dtypes.int64 and got.tolist() == expected.tolist()


def test_scans_and_counts():
    x = lt.asarray([[1, 2], [3, 4]], dtype="int8")
    assert lt.cumulative_sum(x, axis=1).tolist() == [[1, 3], [3, 7]]
    assert lt.cumulative_sum(x, axis=0, include_initial=True).tolist() == [[0, 0], [1, 2], [4, 6]]
    assert lt.cumulative_sum(x, axis=1).dtype is dtypes.int64
    assert lt.cumulative_prod(lt.asarray([1.0, 2.0, 3.0])).tolist() == [1.0, 2.0, 6.0]
    assert x.cumsum().tolist() == [1, 3, 6, 10]
    with pytest.raises(ValueError, match="needs an axis"):
        lt.cumulative_sum(x)
    assert lt.count_nonzero(lt.asarray([0, 1, 2, 0])).item() == 2
    assert lt.asarray([0, 1]).any().item() and not lt.asarray([0, 1]).all().item()


# --- matmul and linear algebra -----------------------------------------------------------------------------------

@given(st.sampled_from([((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
                        ((5, 2, 3), (3, 4)), ((1, 2, 3), (4, 3, 2))]),
       st.sampled_from([np.float32, np.float64, np.int32, np.int8]))
@settings(max_examples=40, deadline=None)
def test_matmul_matches_numpy(shapes, dtype):
    rng = np.random.default_rng(0)
    a = rng.integers(-3, 4, shapes[0]).astype(dtype)
    b = rng.integers(-3, 4, shapes[1]).astype(dtype)
    assert_same(lt.asarray(a) @ lt.asarray(b), a @ b)
    assert_same(lt.matmul(a, lt.asarray(b)), a @ b)


def test_matmul_half_precision_and_errors():
    a = lt.ones((2, 64), dtype="fp16")
    assert (a @ a.T).dtype is dtypes.fp16 and (a @ a.T).tolist() == [[64.0, 64.0]] * 2
    bf = lt.ones((3, 300), dtype="bf16")
    assert (bf @ bf.mT).tolist()[0][0] == 300.0   # accumulated in fp32
    with pytest.raises(lt.ShapeMismatch, match=r"\(2, 3\) and \(4, 5\) are not aligned"):
        lt.ones((2, 3)) @ lt.ones((4, 5))
    with pytest.raises(lt.ShapeMismatch, match="at least 1 dimension"):
        lt.matmul(lt.asarray(2.0), lt.ones(2))
    m = lt.eye(2)
    m @= lt.asarray([[0.0, 1.0], [1.0, 0.0]])
    assert m.tolist() == [[0.0, 1.0], [1.0, 0.0]]
    with pytest.raises(lt.ShapeMismatch, match="a @= b"):
        m @= lt.ones((2, 3))


def test_tensordot_and_vecdot():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    assert_same(lt.tensordot(lt.asarray(a), lt.asarray(b), axes=1), np.tensordot(a, b, 1))
    assert lt.vecdot(lt.ones((2, 3)), lt.asarray([1.0, 2.0, 3.0])).tolist() == [6.0, 6.0]
    with pytest.raises(lt.ShapeMismatch, match="lengths 3 and 2"):
        lt.vecdot(lt.ones(3), lt.ones(2))


# --- manipulation, sorting, searching ------------------------------------------------------------------------------

def test_concat_stack_and_their_errors():
    a, b = lt.ones((2, 2), dtype="int8"), lt.zeros((1, 2), dtype="fp32")
    c = lt.concat([a, b])
    assert c.shape == (3, 2) and c.dtype is dtypes.fp32
    assert lt.concat([a, a], axis=None).shape == (8,)
    assert lt.stack([a, a], axis=-1).shape == (2, 2, 2)
    with pytest.raises(lt.ShapeMismatch, match=r"\[\(2, 2\), \(1, 3\)\]"):
        lt.concat([a, lt.ones((1, 3))])
    with pytest.raises(lt.ShapeMismatch, match="one shape"):
        lt.stack([a, b])


def test_broadcast_repeat_roll_tile_diff():
    x = lt.arange(3)
    assert lt.broadcast_to(x, (2, 3)).tolist() == [[0, 1, 2]] * 2
    with pytest.raises(lt.ShapeMismatch, match=r"\(3,\) and \(2, 4\)"):
        lt.broadcast_to(x, (2, 4))
    u, v = lt.broadcast_arrays(x, lt.ones((2, 1)))
    assert u.shape == v.shape == (2, 3)
    assert lt.repeat(x, 2).tolist() == [0, 0, 1, 1, 2, 2]
    assert lt.roll(x, 1).tolist() == [2, 0, 1]
    assert lt.tile(x, (2,)).tolist() == [0, 1, 2, 0, 1, 2]
    assert lt.diff(lt.asarray([1, 4, 9])).tolist() == [3, 5]


def test_sorting_searching_and_sets():
    x = lt.asarray([3, 1, 2, 1])
    assert lt.sort(x).tolist() == [1, 1, 2, 3]
    assert lt.sort(x, descending=True).tolist() == [3, 2, 1, 1]
    assert lt.argsort(x).tolist() == [1, 3, 2, 0]
    assert lt.argsort(x, descending=True).tolist() == [0, 2, 1, 3]   # stable ties
    y = x.copy()
    y.sort()
    assert y.tolist() == [1, 1, 2, 3]
    assert [i.tolist() for i in lt.nonzero(lt.asarray([[0, 1], [2, 0]]))] == [[0, 1], [1, 0]]
    assert lt.searchsorted(lt.asarray([1, 3, 5]), lt.asarray([0, 3, 6])).tolist() == [0, 1, 3]
    assert lt.take(x, lt.asarray([0, 3])).tolist() == [3, 1]
    m = lt.arange(6).reshape(2, 3)
    assert lt.take(m, lt.asarray([2, 0]), axis=-1).tolist() == [[2, 0], [5, 3]]
    assert lt.take_along_axis(m, lt.asarray([[1], [0]]), axis=1).tolist() == [[1], [3]]
    assert lt.unique_values(x).tolist() == [1, 2, 3]
    vals, counts = lt.unique_counts(x)
    assert counts.tolist() == [2, 1, 1]
    allv = lt.unique_all(x)
    assert allv.inverse_indices.tolist() == [2, 0, 1, 0] and allv.indices.tolist() == [1, 2, 0]
    assert lt.unique_inverse(x).values.tolist() == [1, 2, 3]


def test_isdtype_and_namespace_info():
    assert lt.isdtype(dtypes.fp16, "real floating")
    assert lt.isdtype(dtypes.uint8, ("unsigned integer", "bool"))
    assert not lt.isdtype(dtypes.int8, "real floating") and lt.isdtype("int8", dtypes.int8)
    with pytest.raises(ValueError, match="unknown dtype kind"):
        lt.isdtype(dtypes.int8, "whole")
    info = lt.__array_namespace_info__()
    assert info.default_dtypes()["real floating"] is dtypes.fp64
    assert "bf16" in info.dtypes(kind="real floating") and "int8" not in info.dtypes(kind="bool")
    assert info.default_device() == "cpu" and info.capabilities()["boolean indexing"]
