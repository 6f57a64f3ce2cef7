"""Indices, bounds, conversions and arguments: the same meaning on every backend.

Exception 6 of the kernel language: out of range is an error, never memory
corruption, and negative indices count from the end. Exception 5: float to
int converts like numpy's ``astype`` on x86-64. Launch arguments that cannot
be written or represented are refused before anything runs.
"""

from __future__ import annotations

import platform

import ml_dtypes
import numpy as np
import pytest

import langone as lo
from langone import dtypes
from langone.errors import KernelArgumentError, KernelIndexError
from langone.kernels import backends
from langone.kernels.passes.lower_casts import convert

pytestmark = pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning")

BACKENDS = [b for b in ("numpy", "numba", "lua", "triton") if b in backends.usable()]


def _line(k, offset: int) -> int:
    return k.__wrapped__.__code__.co_firstlineno + offset


@lo.kernel
def shift_right(x, out):
    for i in lo.grid(x.shape[0]):
        out[i + 1] = x[i]


@lo.kernel
def previous(x, out):
    for i in lo.grid(out.shape[0]):
        out[i] = x[i - 1]


@lo.kernel
def gather(x, idx, out):
    for i in lo.grid(out.shape[0]):
        out[i] = x[idx[i]]


@lo.kernel
def scatter(x, idx, out):
    for i in lo.grid(x.shape[0]):
        out[idx[i]] = x[i]


@lo.kernel
def add_k(x, k, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i] + k


@lo.kernel
def to_int(x, out):
    for i in lo.grid(x.shape[0]):
        out[i] = x[i]                      # the store converts


# --- negative indices and launch guards ----------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_negative_index_counts_from_the_end(backend):
    x = np.arange(1, 6, dtype=np.float32)
    out = np.zeros(5, np.float32)
    previous.on(backend)(x, out)
    np.testing.assert_array_equal(out, np.roll(x, 1))          # x[-1] at i = 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_affine_store_past_the_end_is_refused_at_launch(backend):
    x = np.arange(8, dtype=np.float32)
    buf = np.full(10, -7, np.float32)
    line = _line(shift_right, 3)
    with pytest.raises(KernelArgumentError,
                       match=rf"test_kernel_bounds.py:{line}: kernel 'shift_right' indexes "
                             r"out\[\(i \+ 1\)\] for i in lo.grid\(x.shape\[0\]\), which "
                             r"reaches index 8 of axis 0, but argument 'out' has shape "
                             r"\(8,\); it needs out.shape\[0\] >= 9"):
        shift_right.on(backend)(x, buf[:8])
    assert (buf == -7).all()                                   # nothing written
    shift_right.on(backend)(x, buf[:9])
    np.testing.assert_array_equal(buf[1:9], x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_affine_negative_read_needs_one_element(backend):
    with pytest.raises(KernelArgumentError, match=r"reaches index -1 of axis 0, but "
                                                  r"argument 'x' has shape \(0,\)"):
        previous.on(backend)(np.zeros(0, np.float32), np.zeros(1, np.float32))
    previous.on(backend)(np.zeros(0, np.float32), np.zeros(0, np.float32))   # no iteration


# --- data-dependent indices: checked in the generated code -----------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad", [5, 99, -6])
def test_gather_out_of_range_is_an_index_error(backend, bad):
    x = np.arange(5, dtype=np.float64)
    idx = np.array([0, 4, -1, -5, bad])
    out = np.zeros(5)
    line = _line(gather, 3)
    with pytest.raises(KernelIndexError,
                       match=rf"test_kernel_bounds.py:{line}: index {bad} is out of bounds "
                             r"for axis 0 of 'x' with size 5 \(in kernel 'gather'\)"):
        gather.on(backend)(x, idx, out)
    idx[4] = 2
    gather.on(backend)(x, idx, out)
    np.testing.assert_array_equal(out, x[idx])                  # negatives count from the end


@pytest.mark.parametrize("backend", BACKENDS)
def test_scatter_out_of_range_is_an_index_error(backend):
    out = np.zeros(4)
    with pytest.raises(KernelIndexError, match="index 4 is out of bounds for axis 0 of 'out'"):
        scatter.on(backend)(np.ones(2), np.array([0, 4]), out)


def test_boundscheck_false_drops_checks_but_keeps_negative_indices():
    fast = lo.kernel(gather.py_func, boundscheck=False)
    x, idx, out = np.arange(5.0), np.array([-1, 0, 3]), np.zeros(3)
    for backend in BACKENDS:
        fast.on(backend)(x, idx, out)
        np.testing.assert_array_equal(out, x[idx])
    assert "check_index" not in fast.source("numba", x, idx, out)
    assert "check_index" in gather.source("numba", x, idx, out)
    assert "!" not in fast.ir and "x[" in fast.ir


def test_proven_accesses_have_no_run_time_check():
    x = np.zeros(4, np.float32)
    for k in (previous, shift_right):
        assert "check_index" not in k.source("numba", x, np.zeros(5, np.float32))


# --- arguments -------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_read_only_and_zero_stride_outputs_are_refused(backend):
    x = np.ones(4, np.float32)
    frozen = np.zeros(4, np.float32)
    frozen.flags.writeable = False
    for out in (np.broadcast_to(np.zeros(1, np.float32), (4,)), frozen):
        with pytest.raises(KernelArgumentError, match=r"kernel 'to_int' writes to 'out', "
                                                      r"but that array of shape \(4,\) is "
                                                      r"read-only"):
            to_int.on(backend)(x, out)
    base = np.zeros(1, np.float32)
    repeated = np.lib.stride_tricks.as_strided(base, (4,), (0,))
    with pytest.raises(KernelArgumentError, match=r"strides \(0,\) that repeats elements"):
        to_int.on(backend)(x, repeated)
    assert base[0] == 0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("k", [2**64 - 3, 2**63 + 5, 2**63, -2**63 - 1])
def test_python_int_outside_int64_is_refused(backend, k):
    x = np.zeros(3, np.int64)
    with pytest.raises(KernelArgumentError, match=rf"argument 'k' of kernel 'add_k' is the "
                                                  rf"Python int {k}, which does not fit"):
        add_k.on(backend)(x, k, np.zeros(3, np.int64))


@pytest.mark.parametrize("backend", BACKENDS)
def test_python_int_takes_the_type_it_meets(backend):
    x = np.zeros(3, np.int8)
    with pytest.raises(KernelArgumentError, match=r"int8: -128..127"):
        add_k.on(backend)(x, 300, np.zeros(3, np.int8))
    out = np.zeros(3, np.int64)
    add_k.on(backend)(np.zeros(3, np.int64), 2**40 + 1, out)
    assert (out == 2**40 + 1).all()


# --- float to int: one rule everywhere -----------------------------------------------------

EDGES = [np.nan, np.inf, -np.inf, 3e9, -3e9, 1e19, -1e19, 300.7, -300.7, 2.7, -2.7, -0.0,
         0.0, 70000.5, 2147483520.0, -2147483648.0]
X86 = platform.machine().lower() in ("x86_64", "amd64")
SOURCES = [np.float64, np.float32, np.float16, ml_dtypes.bfloat16]
TARGETS = [np.int8, np.int16, np.int32, np.int64, np.uint8]


def _expected(v: np.ndarray, t) -> np.ndarray:
    with np.errstate(all="ignore"):            # numpy's own astype is the definition here
        return v.astype(np.float64).astype(t) if v.dtype == ml_dtypes.bfloat16 \
            else v.astype(t)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("src", SOURCES, ids=lambda t: np.dtype(t).name)
def test_float_to_int_stores_agree_bitwise(backend, src):
    with np.errstate(all="ignore"):
        v = np.array(EDGES).astype(src)
    for t in TARGETS:
        out = np.full(len(v), 7, t)
        to_int.on(backend)(v, out)
        want = np.array([convert(float(e), dtypes.dtype(t)) for e in v]).astype(t)
        np.testing.assert_array_equal(out, want, err_msg=f"{np.dtype(src).name} -> "
                                                         f"{np.dtype(t).name}")
        if X86 and src is not ml_dtypes.bfloat16 and src is not np.float16:
            np.testing.assert_array_equal(out, _expected(v, t))


@pytest.mark.skipif(not X86, reason="the rule is numpy's behaviour on x86-64")
def test_convert_matches_numpy_on_this_machine():
    v = np.array(EDGES)
    for t in TARGETS:
        got = np.array([convert(float(e), dtypes.dtype(t)) for e in v]).astype(t)
        np.testing.assert_array_equal(got, _expected(v, t), err_msg=np.dtype(t).name)
