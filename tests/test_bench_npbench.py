"""NPBench's floyd_warshall and nbody (the ``langone.bench`` NPBench cases): the LangOne
kernels, each with its step loop inside, give NPBench's numpy results on every backend,
and NPBench's numba versions (their peers, ``third_party/npbench/peers.py``) do too."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from langone import bench
from langone.kernels import backends

bench_npbench = bench.npbench()

pytestmark = [pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")]

EVERY = backends.usable()


def _general_graph(n, seed=0):
    """Path lengths with negative entries, the diagonal too: there step ``k`` changes row
    and column ``k``, so only a kernel that reads the step's old values gives numpy's."""
    return np.random.default_rng(seed).integers(-3, 20, (n, n)).astype(np.int32)


@pytest.mark.parametrize("backend", EVERY)
@pytest.mark.parametrize("graph", ["npbench", "negative"])
def test_floyd_warshall_matches_npbench_numpy(backend, graph):
    path = (bench_npbench.floyd_warshall_initialize(17) if graph == "npbench"
            else _general_graph(9))
    want = path.copy()
    bench_npbench.floyd_warshall_numpy(want)
    got = path.copy()
    bench.floyd_warshall.on(backend)(got)
    np.testing.assert_array_equal(got, want)
    assert graph == "negative" or not np.array_equal(got, path)     # the input did change


def _particles(n=9, t_end=0.3, dt=0.05):
    mass, pos, vel, nt = bench_npbench.nbody_initialize(n, t_end, dt)
    return mass, pos, vel, nt, dt


def _nbody_numpy(mass, pos, vel, nt, dt, G, softening):
    """NPBench's numpy nbody on copies: ``(KE, PE, pos, vel)``."""
    pos, vel = pos.copy(), vel.copy()
    KE, PE = bench_npbench.nbody_numpy(mass, pos, vel, pos.shape[0], nt, dt, G, softening)
    return KE, PE, pos, vel


def _assert_nbody_close(got, want, rtol):
    for name, g, w in zip(("KE", "PE", "pos", "vel"), got, want):
        np.testing.assert_allclose(np.asarray(g), w, rtol=rtol, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("backend", EVERY)
def test_nbody_matches_npbench_numpy(backend):
    mass, pos, vel, nt, dt = _particles()
    want = _nbody_numpy(mass, pos, vel, nt, dt, 1.0, 0.1)
    pos_k, vel_k = pos.copy(), vel.copy()
    KE, PE = bench.nbody.on(backend)(mass, pos_k, vel_k, nt, dt, 1.0, 0.1)
    assert np.asarray(KE).shape == (nt + 1,)
    _assert_nbody_close((KE, PE, pos_k, vel_k), want, rtol=1e-9)


@pytest.mark.parametrize("backend", EVERY)
def test_nbody_coincident_particles_without_softening(backend):
    """Softening 0 and two particles at one place: their separation stays 0, and both
    versions skip it (``inv_r3 > 0`` is false), so nothing is NaN."""
    mass, pos, vel, nt, dt = _particles(n=5, t_end=0.1)
    pos[3] = pos[1]
    vel[3] = vel[1]
    want = _nbody_numpy(mass, pos, vel, nt, dt, 2.0, 0.0)
    pos_k, vel_k = pos.copy(), vel.copy()
    KE, PE = bench.nbody.on(backend)(mass, pos_k, vel_k, nt, dt, 2.0, 0.0)
    assert np.isfinite(np.asarray(PE)).all()
    _assert_nbody_close((KE, PE, pos_k, vel_k), want, rtol=1e-9)


def test_nbody_fastmath_matches_npbench_numpy():
    mass, pos, vel, nt, dt = _particles(n=12, t_end=0.5)
    want = _nbody_numpy(mass, pos, vel, nt, dt, 1.0, 0.1)
    pos_k, vel_k = pos.copy(), vel.copy()
    KE, PE = bench.nbody_fastmath.on("numba")(mass, pos_k, vel_k, nt, dt, 1.0, 0.1)
    _assert_nbody_close((KE, PE, pos_k, vel_k), want, rtol=1e-7)


@pytest.mark.parametrize("variant", bench_npbench.VARIANTS["floyd_warshall"])
def test_floyd_warshall_numba_peers_match_numpy(variant):
    path = bench_npbench.floyd_warshall_initialize(23)
    want = path.copy()
    bench_npbench.floyd_warshall_numpy(want)
    bench_npbench.numba_variant("floyd_warshall", variant)(path)
    np.testing.assert_array_equal(path, want)


@pytest.mark.parametrize("variant", bench_npbench.VARIANTS["nbody"])
def test_nbody_numba_peers_match_numpy(variant):
    if variant == "numba_n":
        pytest.importorskip("scipy", reason="numba's @ (NPBench's getAcc) needs scipy")
    mass, pos, vel, nt, dt = _particles()
    KE_w, PE_w, _, _ = _nbody_numpy(mass, pos, vel, nt, dt, 1.0, 0.1)
    KE, PE = bench_npbench.numba_variant("nbody", variant)(
        mass, pos.copy(), vel.copy(), pos.shape[0], nt, dt, 1.0, 0.1)
    np.testing.assert_allclose(KE, KE_w, rtol=1e-7)          # fastmath=True, as NPBench's
    np.testing.assert_allclose(PE, PE_w, rtol=1e-7)


def test_unknown_variant_is_refused():
    with pytest.raises(KeyError, match="no numba_np version of nbody"):
        bench_npbench.numba_variant("nbody", "numba_np")


def test_cases_name_every_peer():
    """Each NPBench case gives langone, numpy and one call per numba variant."""
    for name in bench.NPBENCH_CASES:
        calls = bench.case(name, "S")
        assert len(calls) == 2 + len(bench.numba_peer_names(name))


_NO_PROBE = {"cold": {"import_ms": 0, "first_call_ms": 0}, "aot": "built",
             "warm": {"import_ms": 0, "first_call_ms": 0, "numba_imported": False}}


def test_case_row_compares_with_the_fastest_variant():
    # langone, numpy, then floyd_warshall's numba_n, numba_np, numba_npr, numba_o, numba_op
    row = bench.case_row("floyd_warshall", [[1.0, 4.0, 3.0, 9.0, 0.5, 2.0, 2.5],
                                            [1.0, 5.0, 3.0, 9.0, 0.6, 2.0, 2.5]])
    assert row["numba_peer"] == "numba_npr"
    assert row["vs_hand_numba"] == 0.5
    assert row["vs_hand_numba_paired"] == pytest.approx(0.55)
    assert row["numba_variants"]["numba_op"]["vs"] == 2.5
    assert row["numba_skipped"] == []
    assert "numba_npr" in bench.format_table({"cases": [row], "first_call": _NO_PROBE})


def test_importing_the_peers_does_not_import_numba():
    probe = ("import sys, json\nimport langone.bench\nlangone.bench.npbench()\n"
             "print(json.dumps('numba' in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) is False


def test_without_the_peers_langone_bench_leaves_the_npbench_cases_out(monkeypatch):
    """An installed langone has no third_party/: ``langone bench`` still runs."""
    def missing():
        raise FileNotFoundError("not a source checkout")
    seen = []
    monkeypatch.setattr(bench, "npbench", missing)
    monkeypatch.setattr(bench, "run", lambda cases, preset: seen.extend(cases) or {})
    monkeypatch.setattr(bench, "format_table", lambda result: "")
    assert bench.main([]) == 0
    assert seen and not set(seen) & set(bench.NPBENCH_CASES)
