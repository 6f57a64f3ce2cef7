"""The atomics (``lo.atomic_add/sub/max/min/exchange/cas``) on every backend.

Each returns the element's old value: ``old = t[i]; t[i] = op(old, v); return old``
(``cas``: ``if old == compare: t[i] = v``), with ``max``/``min`` numpy's
NaN-propagating ``maximum``/``minimum``. Where several grid iterations update one
element the order is unspecified (exception 1), so these tests compare what does
not depend on it: final elements of add/sub (integers), max and min; and that the
old values returned form one serial order of the updates (:func:`_serial_order`).
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import langone as lo
from langone.errors import KernelCompileError, KernelIndexError
from langone.kernels import backends
from langone.kernels.language import atomic_update

pytestmark = pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning")

OTHERS = [b for b in backends.usable() if b != "python"]
OPS = ["add", "sub", "max", "min", "exchange", "cas"]
DTYPES = ["int8", "int32", "int64", "float32", "float64", "float16"]


@lo.kernel
def k_add(t, idx, v, c, old):
    for i in lo.grid(v.shape[0]):
        old[i] = lo.atomic_add(t, idx[i], v[i])


@lo.kernel
def k_sub(t, idx, v, c, old):
    for i in lo.grid(v.shape[0]):
        old[i] = lo.atomic_sub(t, idx[i], v[i])


@lo.kernel
def k_max(t, idx, v, c, old):
    for i in lo.grid(v.shape[0]):
        old[i] = lo.atomic_max(t, idx[i], v[i])


@lo.kernel
def k_min(t, idx, v, c, old):
    for i in lo.grid(v.shape[0]):
        old[i] = lo.atomic_min(t, idx[i], v[i])


@lo.kernel
def k_exchange(t, idx, v, c, old):
    for i in lo.grid(v.shape[0]):
        old[i] = lo.atomic_exchange(t, idx[i], v[i])


@lo.kernel
def k_cas(t, idx, v, c, old):
    for i in lo.grid(v.shape[0]):
        old[i] = lo.atomic_cas(t, idx[i], c[i], v[i])


@lo.kernel
def k_max_bare(t, idx, v):
    for i in lo.grid(v.shape[0]):
        lo.atomic_max(t, idx[i], v[i])


@lo.kernel
def k_min_bare(t, idx, v):
    for i in lo.grid(v.shape[0]):
        lo.atomic_min(t, idx[i], v[i])


@lo.kernel
def k_sub_bare(t, idx, v):
    for i in lo.grid(v.shape[0]):
        lo.atomic_sub(t, idx[i], v[i])


KERNELS = {"add": k_add, "sub": k_sub, "max": k_max, "min": k_min,
           "exchange": k_exchange, "cas": k_cas}


def _held(dtype) -> np.dtype:
    """The old values' dtype: the tensor's, fp32 for a half (exception 3)."""
    dt = np.dtype(dtype)
    return np.dtype(np.float32) if dt.itemsize == 2 and dt.kind not in "iu" else dt


def _values(rng, dtype, n):
    if np.dtype(dtype).kind == "i":
        return rng.integers(-40, 40, n).astype(dtype)
    return (rng.integers(-64, 64, n) / 4.0 + 0.125).astype(dtype)   # no zeros: no ±0 ties


def _args(op, dtype, idx, rng, m):
    """Arguments of ``KERNELS[op]``: a tensor of ``m`` elements updated at ``idx``."""
    n = len(idx)
    t = _values(rng, dtype, m)
    v = _values(rng, dtype, n)
    # cas: about half the compares hit the element's initial value.
    c = np.where(rng.random(n) < 0.5, t[idx], _values(rng, dtype, n)).astype(_held(dtype))
    return [t, np.asarray(idx, np.int64), v, c, np.zeros(n, _held(dtype))]


def _run(kern, backend, args):
    got = copy.deepcopy(args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        kern.on(backend)(*got)
    return got


def _same(got, want, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (what, got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want, err_msg=what)   # NaNs match NaNs


def _triton_refuses(backend, dtype) -> bool:
    return backend == "triton" and np.dtype(dtype).itemsize == 1


# --- distinct indices: every result is determined ----------------------------------------

@pytest.mark.parametrize("backend", OTHERS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OPS)
def test_distinct_indices_match_python(backend, op, dtype):
    rng = np.random.default_rng(OPS.index(op) * 10 + DTYPES.index(dtype))
    args = _args(op, dtype, rng.permutation(12), rng, 12)
    if _triton_refuses(backend, dtype):
        with pytest.raises(KernelCompileError,
                           match=rf"cannot lo.atomic_{op} into 't', a {dtype} tensor"):
            _run(KERNELS[op], backend, args)
        return
    want = _run(KERNELS[op], "python", args)
    got = _run(KERNELS[op], backend, args)
    _same(got[0], want[0], f"{op} {dtype} on {backend}: tensor")
    _same(got[4], want[4], f"{op} {dtype} on {backend}: old values")


def test_python_backend_is_the_plain_meaning():
    rng = np.random.default_rng(5)
    for op in OPS:
        args = _args(op, "int32", rng.permutation(6), rng, 6)
        t, idx, v, c, _ = copy.deepcopy(args)
        got = _run(KERNELS[op], "python", args)
        np.testing.assert_array_equal(got[4], t[idx])                # the old values
        new = [atomic_update(op, t[j], v[i]) for i, j in enumerate(idx)]
        swapped = np.ones(6, bool) if op != "cas" else t[idx] == c
        t[idx] = np.where(swapped, new, t[idx])
        np.testing.assert_array_equal(got[0], t, err_msg=op)


# --- collisions: final state and one serial order ----------------------------------------

def _same_number(a, b) -> bool:
    return bool(a == b) or bool(np.isnan(a) and np.isnan(b)) if np.dtype(
        type(a)).kind == "f" else bool(a == b)


def _serial_order(op, init, final, lanes) -> bool:
    """Whether the lanes' ``(old, value, compare)`` of one element can be ordered so
    that each saw the value the ones before left, starting from ``init`` and ending
    at ``final``: the old values are consistent with one serial order."""
    seen = set()

    def search(cur, left):
        key = (repr(cur), left)
        if key in seen:
            return False
        seen.add(key)
        if not left:
            return _same_number(cur, final)
        for j in left:
            old, v, c = lanes[j]
            if _same_number(old, cur):
                nxt = cur if op == "cas" and not cur == c else atomic_update(op, cur, v)
                if search(nxt, left - {j}):
                    return True
        return False

    with np.errstate(over="ignore", invalid="ignore"):
        return search(init, frozenset(range(len(lanes))))


def _check_serial(op, args, got):
    t0, idx, v, c, _ = args
    held = _held(t0.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for j in range(len(t0)):
            lanes = [(got[4][i], v[i].astype(held), c[i]) for i in np.flatnonzero(idx == j)]
            init, final = t0[j].astype(held), got[0][j].astype(held)
            if held != t0.dtype:         # a half: the order's end, rounded once
                ends = _half_finals(op, init, lanes, got[0][j])
                ok = any(_serial_order(op, init, f, lanes) for f in ends)
            else:
                ok = _serial_order(op, init, final, lanes)
            assert ok, (op, j, init, final, lanes)


def _half_finals(op, init, lanes, final_half):
    """fp32 ends of the order (the shadow's value) that round to the final half."""
    ends = [init] + [atomic_update(op, o, v) if op != "cas" or o == c else o
                     for o, v, c in lanes]
    return [e for e in ends if _same_number(np.float32(e).astype(final_half.dtype), final_half)]


@st.composite
def collisions(draw):
    m = draw(st.integers(1, 4))
    n = draw(st.integers(1, 14))
    idx = draw(st.lists(st.integers(-m, m - 1), min_size=n, max_size=n))  # negatives: from the end
    return m, idx, draw(st.integers(0, 2 ** 32 - 1))


ORDER_FREE = {"add": "int32", "sub": "int64", "max": "float32", "min": "float64"}


def _collide(backend, op, dtype, case):
    m, idx, seed = case
    rng = np.random.default_rng(seed)
    args = _args(op, dtype, np.asarray(idx) % m, rng, m)
    args[1] = np.asarray(idx, np.int64)
    got = _run(KERNELS[op], backend, args)
    args[1] = args[1] % m
    _check_serial(op, args, got)
    return got


@pytest.mark.parametrize("backend", ["python", *OTHERS])
@pytest.mark.parametrize("op", OPS)
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(case=collisions())
def test_colliding_updates_follow_one_serial_order(backend, op, case):
    dtype = ORDER_FREE.get(op, "int32")
    got = _collide(backend, op, dtype, case)
    if op in ORDER_FREE:           # the final elements do not depend on the order
        m, idx, seed = case
        rng = np.random.default_rng(seed)
        args = _args(op, dtype, np.asarray(idx) % m, rng, m)
        args[1] = np.asarray(idx, np.int64)
        _same(got[0], _run(KERNELS[op], "python", args)[0], f"{op} on {backend}")


@pytest.mark.parametrize("backend", OTHERS)
@pytest.mark.parametrize("kern,dtype", [(k_max_bare, "int32"), (k_min_bare, "float32"),
                                        (k_sub_bare, "int64"), (k_max_bare, "float16")])
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(case=collisions())
def test_bare_statements_reach_the_same_final_state(backend, kern, dtype, case):
    m, idx, seed = case
    rng = np.random.default_rng(seed)
    args = [_values(rng, dtype, m), np.asarray(idx, np.int64), _values(rng, dtype, len(idx))]
    _same(_run(kern, backend, args)[0], _run(kern, "python", args)[0], f"{kern} on {backend}")


@pytest.mark.parametrize("backend", ["python", *OTHERS])
@pytest.mark.parametrize("op", ["add", "max", "exchange", "cas"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_targets_update_in_fp32_within_a_grid(backend, op, dtype):
    """A half tensor atomically updated in a grid is held in fp32 there (exception
    3): old values are fp32 and the element rounds once, when the grid ends."""
    dt = np.dtype(np.float16) if dtype == "float16" else lo.bf16.numpy
    idx = np.array([0, 1, 0, 1, 0, 0, 1, 1], np.int64)
    t = np.array([2048.0, 1.0], dt)
    v = np.full(8, 1.0, dt) if op != "max" else np.array([1, 2049, 3, 2, 5, 6, 7, 8], dt)
    c = np.array([2048.0] * 8, np.float32)
    args = [t, idx, v, c, np.zeros(8, np.float32)]
    got = _run(KERNELS[op], backend, args)
    _check_serial(op, args, got)
    if op == "add":                           # 2048 + 4 in fp32, rounded once
        want = [2052.0 if dtype == "float16" else 2048.0, 5.0]
        assert got[0].astype(np.float32).tolist() == want
        assert sorted(got[4][idx == 0].tolist()) == [2048.0, 2049.0, 2050.0, 2051.0]


@lo.kernel
def exchange_twice(t, v, w, old):
    for i in lo.grid(v.shape[0]):
        lo.atomic_exchange(t, i, v[i])
        old[i] = lo.atomic_exchange(t, i, w[i])


@pytest.mark.parametrize("backend", ["python", *OTHERS])
def test_half_values_are_not_rounded_before_the_update(backend):
    """In the grid the fp32 copy holds v unrounded; the second exchange returns it."""
    v = np.array([1 / 3, 2 / 3, 0.1], np.float32)
    t, old = np.zeros(3, np.float16), np.zeros(3, np.float32)
    exchange_twice.on(backend)(t, v, np.array([1, 2, 3], np.float32), old)
    assert old.tolist() == v.tolist() and t.tolist() == [1.0, 2.0, 3.0]


# --- patterns that use the old value -----------------------------------------------------

@lo.kernel
def tickets(counter, out):
    for i in lo.grid(out.shape[0]):
        out[i] = lo.atomic_add(counter, 0, 1)


@lo.kernel
def compact(x, count, out):
    for i in lo.grid(x.shape[0]):
        if x[i] > 0:
            slot = lo.atomic_add(count, 0, 1)       # a per-iteration slot: no race
            out[slot] = x[i]


@lo.kernel
def claim(want, owner, wins):
    for i in lo.grid(want.shape[0]):
        prev = lo.atomic_cas(owner, want[i], -1, i)
        if prev == -1:
            wins[i] = 1


@lo.kernel
def in_expressions(t, flags, out):
    for i in lo.grid(out.shape[0]):
        # Python's order: the first update, then the second; the cas only where i is odd.
        out[i] = lo.atomic_add(t, i, 1) * 10 + lo.atomic_add(t, i, 1)
        if i % 2 == 1 and lo.atomic_cas(flags, i, 0, 7) == 0:
            flags[i] = flags[i] + 1
        done = lo.atomic_max(flags, i, 3) if i > 2 else -1
        out[i] += done


@pytest.mark.parametrize("backend", ["python", *OTHERS])
def test_atomics_inside_expressions_run_in_python_order(backend):
    t, flags, out = np.arange(6, dtype=np.int64), np.zeros(6, np.int64), np.zeros(6, np.int64)
    in_expressions.on(backend)(t, flags, out)
    assert t.tolist() == [2, 3, 4, 5, 6, 7]
    assert flags.tolist() == [0, 8, 0, 8, 3, 8]
    assert out.tolist() == [1 - 1, 12 - 1, 23 - 1, 34 + 8, 45 + 0, 56 + 8]


@pytest.mark.parametrize("backend", ["python", *OTHERS])
def test_tickets_are_unique(backend):
    counter, out = np.array([5], np.int64), np.zeros(40, np.int64)
    tickets.on(backend)(counter, out)
    assert counter[0] == 45
    assert sorted(out.tolist()) == list(range(5, 45))


@pytest.mark.parametrize("backend", ["python", *OTHERS])
def test_stream_compaction(backend):
    x = np.random.default_rng(3).normal(size=50).astype(np.float32)
    count, out = np.zeros(1, np.int32), np.zeros(50, np.float32)
    compact.on(backend)(x, count, out)
    assert count[0] == (x > 0).sum()
    assert sorted(out[:count[0]].tolist()) == sorted(x[x > 0].tolist())


@pytest.mark.parametrize("backend", ["python", *OTHERS])
def test_cas_claims_each_slot_once(backend):
    want = np.random.default_rng(4).integers(0, 6, 30).astype(np.int32)
    owner, wins = np.full(8, -1, np.int32), np.zeros(30, np.int32)
    claim.on(backend)(want, owner, wins)
    for slot in range(8):
        claimed = np.flatnonzero(want == slot)
        if len(claimed) == 0:
            assert owner[slot] == -1
            continue
        assert owner[slot] in claimed
        assert wins[claimed].sum() == 1 and wins[owner[slot]] == 1


# --- NaN: max/min propagate it, whatever its sign or the order ---------------------------

@pytest.mark.parametrize("backend", OTHERS)
@pytest.mark.parametrize("kern", [k_max, k_min])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_min_propagate_nan(backend, kern, dtype):
    neg_nan = -np.abs(np.array(np.nan, dtype))             # sign bit set (x86's default NaN)
    t = np.array([1.0, np.nan, 3.0, neg_nan, 5.0], dtype)
    idx = np.array([0, 0, 1, 2, 2, 3, 4], np.int64)
    v = np.array([2.0, neg_nan, 7.0, 9.0, -np.inf, 1.0, 4.0], dtype)
    args = [t, idx, v, v.copy(), np.zeros(7, dtype)]
    got = _run(kern, backend, args)
    assert np.isnan(got[0][[0, 1, 3]]).all()
    assert got[0][2] == (9.0 if kern is k_max else -np.inf)
    assert got[0][4] == (5.0 if kern is k_max else 4.0)
    _check_serial("max" if kern is k_max else "min", args, got)


# --- outside grids, in device functions, bounds ------------------------------------------

@lo.kernel
def serial_atomics(t, out):
    out[0] = lo.atomic_max(t, 1, 5.0)
    out[1] = lo.atomic_cas(t, 0, 1.0, 2.5)
    out[2] = lo.atomic_exchange(t, -1, out[0])
    old: lo.fp32 = lo.atomic_sub(t, 2, 0.5)
    out[3] = old
    lo.atomic_min(t, 2, -1.0)


@lo.func
def bump(t, i):
    return lo.atomic_add(t, i, 1)


@lo.kernel
def through_a_function(t, out):
    for i in lo.grid(out.shape[0]):
        out[i] = bump(t, i) + bump(t, i)


@pytest.mark.parametrize("backend", OTHERS)
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_atomics_outside_grids_and_in_device_functions(backend, dtype):
    for kern, t, out in [(serial_atomics, np.array([1.0, 2.0, 3.0, 4.0], dtype),
                          np.zeros(4, dtype)),
                         (through_a_function, np.arange(5, dtype=dtype), np.zeros(5, dtype))]:
        want = _run(kern, "python", [t, out])
        got = _run(kern, backend, [t, out])
        _same(got[0], want[0], f"{kern} on {backend}")
        _same(got[1], want[1], f"{kern} on {backend}: old values")
    assert want[1].tolist() == [1, 3, 5, 7, 9]          # t[i] + (t[i] + 1), in order


@pytest.mark.parametrize("backend", ["python", *OTHERS])
@pytest.mark.parametrize("op", ["max", "cas"])
def test_out_of_range_is_an_index_error(backend, op):
    t = np.zeros(4, np.int32)
    args = [t, np.array([0, 4], np.int64), np.ones(2, np.int32), np.zeros(2, np.int32),
            np.zeros(2, np.int32)]
    with pytest.raises((KernelIndexError, IndexError),
                       match="index 4 is out of bounds for axis 0 of 't'"):
        _run(KERNELS[op], backend, args)
    args[1] = np.array([0, -4], np.int64)                # negative: from the end
    got = _run(KERNELS[op], backend, args)
    assert got[0].tolist() == [1, 0, 0, 0]


# --- misuse: clear errors at the user's line ---------------------------------------------

def _compile_error(src: str, *args):
    """Compile (and run on the numpy backend) the kernel ``f`` defined by ``src``."""
    from kernel_factory import load_function
    k = lo.kernel(load_function("import langone as lo\n" + src, "f"))
    with pytest.raises(KernelCompileError) as info:
        k.on("numpy")(*args)
    return str(info.value)


F1 = np.zeros(3, np.float32)


@pytest.mark.parametrize("src,args,message", [
    ("def f(t):\n    lo.atomic_max(t, 0)\n", (F1,),
     r"lo.atomic_max takes \(tensor, index, value\), got 2 argument"),
    ("def f(t):\n    lo.atomic_cas(t, 0, 1.0)\n", (F1,),
     r"lo.atomic_cas takes \(tensor, index, compare, value\), got 3"),
    ("def f(t):\n    lo.atomic_min(t, 0, value=1.0)\n", (F1,), r"lo.atomic_min takes"),
    ("def f(t, s):\n    lo.atomic_exchange(s, 0, 1.0)\n", (F1, 2.0),
     r"lo.atomic_exchange's first argument must be a tensor parameter, not 's'"),
    ("def f(t):\n    lo.atomic_sub(t[0], 0, 1.0)\n", (F1,),
     r"first argument must be a tensor parameter, not 't\[0\]'"),
    ("def f(t):\n    lo.atomic_max(t, 0, True)\n", (np.zeros(3, bool),),
     r"lo.atomic_max needs a numeric tensor, not bool \('t'\)"),
    ("def f(t, out):\n    out[0] = t[0] + lo.atomic_max(t, 0, 1.0)\n", (F1, F1.copy()),
     r"lo.atomic_max on 't' inside an expression that also reads 't': the order of the "
     r"read and the update would be lost"),
    ("def f(t, v):\n    for i in lo.grid(v.shape[0]):\n        lo.atomic_max(t, 0, v[i])\n",
     (np.zeros(3, np.int8), np.zeros(3, np.int64)),
     r"lo.atomic_max on 't' \(int8\) with a value of type int64 compares in int64 in "
     r"Python, but atomics compare in int8"),
    ("def f(t):\n    lo.atomic_cas(t, 0, 0.5, 1)\n", (np.zeros(3, np.int32),),
     r"lo.atomic_cas on 't' \(int32\) with a compare of type fp64 compares in fp64"),
    ("def f(t, v):\n    lo.atomic_sub(t, 0, v[0])\n", (F1, np.zeros(2)),
     r"lo.atomic_sub into 't' \(fp32\) with a value of type fp64 subtracts in fp64"),
])
def test_misuse_is_a_compile_error(src, args, message):
    import re
    msg = _compile_error(src, *args)
    assert re.search(message, msg), msg


def test_exchange_converts_like_a_store():
    @lo.kernel
    def put(t, v, old):
        for i in lo.grid(v.shape[0]):
            old[i] = lo.atomic_exchange(t, i, v[i])
    for b in ["python", *OTHERS]:
        t, old = np.array([1, 2], np.int32), np.zeros(2, np.int32)
        put.on(b)(t, np.array([3.75, -2.5]), old)
        assert t.tolist() == [3, -2] and old.tolist() == [1, 2], b
