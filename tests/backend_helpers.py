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
        wide = np.complex128 if want.dtype.kind == "c" else np.float64
        np.testing.assert_allclose(got.astype(wide), want.astype(wide),
                                   rtol=rtol, atol=1e-30, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


def same_everywhere(kern, *args, rtol=0.0):
    """Run ``kern`` on the python backend, then on every usable backend, each on its
    own copies of ``args``: the arrays after the call and the results (one, or each of
    a tuple) must equal the python backend's, dtype included (within ``rtol`` for
    floats when given). Returns (the python backend's arguments after, its result)."""
    import copy
    import warnings

    from langone.kernels import backends
    ref_args = copy.deepcopy(list(args))
    ref = kern.on("python")(*ref_args)
    for b in backends.usable():
        got_args = copy.deepcopy(list(args))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            got = kern.on(b)(*got_args)
        where = f"{kern.__name__} on {b}"
        for have, want in zip(got_args, ref_args):
            if isinstance(want, np.ndarray):
                assert_same(have, want, rtol), where
        assert type(got) is type(ref), where
        for have, want in zip(*((r if isinstance(r, tuple) else (r,)) for r in (got, ref))):
            if want is not None:
                assert_same(np.asarray(have), np.asarray(want), rtol), where
    return ref_args, ref
