"""Differential testing: every corpus kernel on every usable backend vs the
``python`` backend (the kernel's own function run as plain Python: the rule).

The python backend is additionally checked against plain-numpy expectations.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from langone.kernels import backends

from kernel_corpus import CASES

BACKENDS = [b for b in backends.names() if b in backends.usable()]


def _run(case, backend, seed=0):
    args = case.make(np.random.default_rng(seed))
    run_args = copy.deepcopy(args)
    result = case.kernel.on(backend)(*run_args)
    names = case.kernel.params
    outs = {n: a for n, a in zip(names, run_args) if isinstance(a, np.ndarray)}
    if isinstance(result, tuple):             # several results: each a Tensor
        result = tuple(r.numpy() for r in result)
    elif hasattr(result, "numpy"):
        result = result.numpy()
    return args, outs, result


def _close(got, want, case, what):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), what
        for n, (g, w) in enumerate(zip(got, want)):
            _close(g, w, case, f"{what} [{n}]")
            assert g.dtype == w.dtype, f"{what} [{n}]: {g.dtype} != {w.dtype}"
        return
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if got.dtype.kind in "biu" and want.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        wide = np.complex128 if "c" in (got.dtype.kind, want.dtype.kind) else np.float64
        np.testing.assert_allclose(got.astype(wide), want.astype(wide),
                                   rtol=case.rtol, atol=case.atol, err_msg=what)


def test_corpus_is_large_enough():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_reference_matches_numpy_expectation(case):
    if case.expect is None:
        pytest.skip("no closed-form numpy expectation")
    args, outs, result = _run(case, "python")
    want = case.expect(*copy.deepcopy(args))
    if isinstance(want, dict):
        for name, value in want.items():
            _close(outs[name], value, case, f"{case.name}: output {name}")
    else:
        _close(result, want, case, f"{case.name}: result")


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "python"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_backend_matches_reference(case, backend):
    _, ref_outs, ref_result = _run(case, "python")
    _, outs, result = _run(case, backend)
    for name in ref_outs:
        _close(outs[name], ref_outs[name], case, f"{case.name} on {backend}: {name}")
    if ref_result is None:
        assert result is None
    else:
        _close(result, ref_result, case, f"{case.name} on {backend}: result")
        if not isinstance(ref_result, tuple):
            assert np.asarray(result).dtype == np.asarray(ref_result).dtype
