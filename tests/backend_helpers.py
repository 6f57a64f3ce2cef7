"""Helpers shared by the per-backend test files (numba, triton, lua)."""

from __future__ import annotations

import numpy as np


def reference_pair(backend: str):
    """``both(kern, *args)``: run on the reference and on ``backend`` with copies.

    Returns ((ref_args, ref_result), (backend_args, backend_result)).
    """
    def both(kern, *args):
        ref_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        b_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        return ((ref_args, kern.on("numpy")(*ref_args)), (b_args, kern.on(backend)(*b_args)))
    return both


def assert_same(got, want, rtol=0.0):
    """Same dtype, and equal (or within ``rtol``, NaNs matching)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if rtol:
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64),
                                   rtol=rtol, atol=1e-30, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)
