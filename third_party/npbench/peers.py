"""NPBench's floyd_warshall and nbody: inputs, numpy versions and numba versions.

Not part of the langone package, and not under LangOne's Apache-2.0 license: this
file reproduces third-party code under its own licenses (below); NPBench's nbody
derives from GPL-3.0 code, so it stays here, in the source checkout, and
:func:`langone.bench.npbench` loads it from there.

The peers of the ``floyd_warshall`` and ``nbody`` cases of :mod:`langone.bench`,
reproduced as faithfully as possible from NPBench (https://github.com/spcl/npbench,
BSD 3-Clause License, Copyright (c) 2021, SPCL / ETH Zurich and the NPBench
authors); each function names the file it comes from. NPBench's nbody files say
they are adapted from Philip Mocz's nbody-python
(https://github.com/pmocz/nbody-python, GPL-3.0, "TODO: Add GPL-3.0 License" in
NPBench's headers).

NPBench's numba variants differ only in their ``numba.jit`` options:

* ``numba_n``: ``nopython=True, parallel=False``;
* ``numba_np``: ``nopython=True, parallel=True`` (numba parallelizes array expressions);
* ``numba_npr``: as ``numba_np``, the row loop an explicit ``prange``;
* ``numba_o``: object mode (``forceobj=True``), ``parallel=False``;
* ``numba_op``: object mode, ``parallel=True``.

(nbody's ``numba_n`` needs scipy: numba compiles ``@`` with scipy's BLAS.)

Every one of them passes ``fastmath=True``. numba is imported, and each variant
compiled, on first use only (:func:`numba_variant`), so that importing this module
stays as light as ``import langone``.
"""

from __future__ import annotations

import warnings

import numpy as np

#: NPBench's preset sizes (bench_info/floyd_warshall.json, bench_info/nbody.json).
FLOYD_WARSHALL_PRESETS = {"S": {"N": 200}, "M": {"N": 400}, "L": {"N": 850},
                          "paper": {"N": 2800}}
NBODY_PRESETS = {
    "S": {"N": 25, "tEnd": 2.0, "dt": 0.05, "softening": 0.1, "G": 1.0},
    "M": {"N": 50, "tEnd": 5.0, "dt": 0.02, "softening": 0.1, "G": 1.0},
    "L": {"N": 100, "tEnd": 9.0, "dt": 0.01, "softening": 0.1, "G": 1.0},
    "paper": {"N": 100, "tEnd": 10.0, "dt": 0.01, "softening": 0.1, "G": 1.0},
}

#: The numba variants NPBench has for each benchmark.
VARIANTS = {"floyd_warshall": ("numba_n", "numba_np", "numba_npr", "numba_o", "numba_op"),
            "nbody": ("numba_n", "numba_o", "numba_op")}


# --- inputs ----------------------------------------------------------------------------------

def floyd_warshall_initialize(N, datatype=np.int32):
    """The input graph (npbench/benchmarks/polybench/floyd_warshall/floyd_warshall.py).

    Args:
        N: number of vertices.
        datatype: the dtype of the path lengths.

    Returns:
        The ``(N, N)`` path-length matrix.
    """
    path = np.fromfunction(lambda i, j: i * j % 7 + 1, (N, N), dtype=datatype)
    for i in range(N):
        for j in range(N):
            if (i + j) % 13 == 0 or (i + j) % 7 == 0 or (i + j) % 11 == 0:
                path[i, j] = 999
    return path


def nbody_initialize(N, tEnd, dt):
    """The particles (npbench/benchmarks/nbody/nbody.py).

    Args:
        N: number of particles.
        tEnd: simulated time.
        dt: time step.

    Returns:
        ``(mass, pos, vel, Nt)``: masses ``(N, 1)``, positions and velocities
        ``(N, 3)``, and the number of time steps.
    """
    from numpy.random import default_rng
    rng = default_rng(42)
    mass = 20.0 * np.ones((N, 1)) / N  # total mass of particles is 20
    pos = rng.random((N, 3))  # randomly selected positions and velocities
    vel = rng.random((N, 3))
    Nt = int(np.ceil(tEnd / dt))
    return mass, pos, vel, Nt


# --- numpy versions --------------------------------------------------------------------------

def floyd_warshall_numpy(path):
    """npbench/benchmarks/polybench/floyd_warshall/floyd_warshall_numpy.py (in place)."""
    for k in range(path.shape[0]):
        path[:] = np.minimum(path[:], np.add.outer(path[:, k], path[k, :]))


def _get_acc_numpy(pos, mass, G, softening):
    """getAcc of npbench/benchmarks/nbody/nbody_numpy.py: the ``(N, 3)`` accelerations."""
    x = pos[:, 0:1]
    y = pos[:, 1:2]
    z = pos[:, 2:3]
    dx = x.T - x
    dy = y.T - y
    dz = z.T - z
    inv_r3 = (dx**2 + dy**2 + dz**2 + softening**2)
    inv_r3[inv_r3 > 0] = inv_r3[inv_r3 > 0]**(-1.5)
    ax = G * (dx * inv_r3) @ mass
    ay = G * (dy * inv_r3) @ mass
    az = G * (dz * inv_r3) @ mass
    return np.hstack((ax, ay, az))


def _get_energy_numpy(pos, vel, mass, G):
    """getEnergy of npbench/benchmarks/nbody/nbody_numpy.py: ``(KE, PE)``."""
    KE = 0.5 * np.sum(mass * vel**2)
    x = pos[:, 0:1]
    y = pos[:, 1:2]
    z = pos[:, 2:3]
    dx = x.T - x
    dy = y.T - y
    dz = z.T - z
    inv_r = np.sqrt(dx**2 + dy**2 + dz**2)
    inv_r[inv_r > 0] = 1.0 / inv_r[inv_r > 0]
    PE = G * np.sum(np.triu(-(mass * mass.T) * inv_r, 1))
    return KE, PE


def nbody_numpy(mass, pos, vel, N, Nt, dt, G, softening):
    """nbody of npbench/benchmarks/nbody/nbody_numpy.py: updates pos and vel in place.

    Returns:
        ``(KE, PE)``: the kinetic and potential energy before and after each step.
    """
    vel -= np.mean(mass * vel, axis=0) / np.mean(mass)
    acc = _get_acc_numpy(pos, mass, G, softening)
    KE = np.ndarray(Nt + 1, dtype=np.float64)
    PE = np.ndarray(Nt + 1, dtype=np.float64)
    KE[0], PE[0] = _get_energy_numpy(pos, vel, mass, G)
    t = 0.0
    for i in range(Nt):
        vel += acc * dt / 2.0
        pos += vel * dt
        acc = _get_acc_numpy(pos, mass, G, softening)
        vel += acc * dt / 2.0
        t += dt
        KE[i + 1], PE[i + 1] = _get_energy_numpy(pos, vel, mass, G)
    return KE, PE


# --- numba versions (built on first use) -----------------------------------------------------

_JIT_OPTIONS = {
    "numba_n": {"nopython": True, "parallel": False, "fastmath": True},
    "numba_np": {"nopython": True, "parallel": True, "fastmath": True},
    "numba_npr": {"nopython": True, "parallel": True, "fastmath": True},
    "numba_o": {"nopython": False, "forceobj": True, "parallel": False, "fastmath": True},
    "numba_op": {"nopython": False, "forceobj": True, "parallel": True, "fastmath": True},
}

_BUILT: dict = {}


def usable_variants(bench: str) -> list[str]:
    """The numba versions of ``bench`` that can run here: nbody's ``numba_n`` multiplies
    matrices with ``@``, which numba compiles only with scipy's BLAS installed."""
    import importlib.util
    return [v for v in VARIANTS[bench]
            if not (bench == "nbody" and v == "numba_n"
                    and importlib.util.find_spec("scipy") is None)]


def numba_variant(bench: str, variant: str):
    """NPBench's numba version ``variant`` of ``bench``, built (not yet compiled) once.

    Args:
        bench: ``"floyd_warshall"`` or ``"nbody"``.
        variant: one of ``VARIANTS[bench]``.

    Returns:
        The ``numba.jit`` dispatcher; it compiles on its first call.
    """
    if variant not in VARIANTS[bench]:
        raise KeyError(f"NPBench has no {variant} version of {bench}")
    key = (bench, variant)
    if key not in _BUILT:
        import numba as nb
        build = _floyd_warshall_numba if bench == "floyd_warshall" else _nbody_numba
        with warnings.catch_warnings():         # nopython=False is deprecated, and a no-op
            warnings.simplefilter("ignore", nb.NumbaWarning)
            _BUILT[key] = build(variant, nb.jit(**_JIT_OPTIONS[variant]), nb)
    return _BUILT[key]


def _floyd_warshall_numba(variant, jit, nb):
    """The kernels of npbench/benchmarks/polybench/floyd_warshall/floyd_warshall_<variant>.py."""
    if variant in ("numba_n", "numba_np"):      # floyd_warshall_numba_n.py, _numba_np.py
        @jit
        def kernel(path):
            for k in range(path.shape[0]):
                # path[:] = np.minimum(path[:], np.add.outer(path[:, k], path[k, :]))
                for i in range(path.shape[0]):
                    path[i, :] = np.minimum(path[i, :], path[i, k] + path[k, :])
    elif variant == "numba_npr":                 # floyd_warshall_numba_npr.py
        @jit
        def kernel(path):
            for k in range(path.shape[0]):
                # path[:] = np.minimum(path[:], np.add.outer(path[:, k], path[k, :]))
                for i in nb.prange(path.shape[0]):
                    path[i, :] = np.minimum(path[i, :], path[i, k] + path[k, :])
    else:                                        # floyd_warshall_numba_o.py, _numba_op.py
        @jit
        def kernel(path):
            for k in range(path.shape[0]):
                path[:] = np.minimum(path[:], np.add.outer(path[:, k], path[k, :]))
    return _quiet(kernel, nb)


def _nbody_numba(variant, jit, nb):
    """The functions of npbench/benchmarks/nbody/nbody_<variant>.py (``nbody`` returned)."""
    if variant == "numba_n":
        get_acc, get_energy = _nbody_numba_n_parts(jit)

        @jit
        def nbody(mass, pos, vel, N, Nt, dt, G, softening):      # nbody_numba_n.py
            # Convert to Center-of-Mass frame
            # vel -= np.mean(mass * vel, axis=0) / np.mean(mass)
            vel -= (np.sum(mass * vel, axis=0) / vel.shape[0]) / np.mean(mass)
            acc = get_acc(pos, mass, G, softening)
            KE = np.empty(Nt + 1, dtype=np.float64)
            PE = np.empty(Nt + 1, dtype=np.float64)
            KE[0], PE[0] = get_energy(pos, vel, mass, G)
            t = 0.0
            for i in range(Nt):
                vel += acc * dt / 2.0
                pos += vel * dt
                acc = get_acc(pos, mass, G, softening)
                vel += acc * dt / 2.0
                t += dt
                KE[i + 1], PE[i + 1] = get_energy(pos, vel, mass, G)
            return KE, PE
        return _quiet(nbody, nb)

    get_acc = jit(_get_acc_numpy)               # nbody_numba_o.py / _op.py: numpy's bodies
    get_energy = jit(_get_energy_numpy)
    copy_vel = variant == "numba_op"            # nbody_numba_op.py copies vel first

    @jit
    def nbody(mass, pos, vel, N, Nt, dt, G, softening):          # nbody_numba_o.py, _op.py
        # Convert to Center-of-Mass frame
        if copy_vel:
            vel = vel.copy()
        vel -= np.mean(mass * vel, axis=0) / np.mean(mass)
        acc = get_acc(pos, mass, G, softening)
        KE = np.ndarray(Nt + 1, dtype=np.float64)
        PE = np.ndarray(Nt + 1, dtype=np.float64)
        KE[0], PE[0] = get_energy(pos, vel, mass, G)
        t = 0.0
        for i in range(Nt):
            vel += acc * dt / 2.0
            pos += vel * dt
            acc = get_acc(pos, mass, G, softening)
            vel += acc * dt / 2.0
            t += dt
            KE[i + 1], PE[i + 1] = get_energy(pos, vel, mass, G)
        return KE, PE
    return _quiet(nbody, nb)


def _nbody_numba_n_parts(jit):
    """getAcc and getEnergy of npbench/benchmarks/nbody/nbody_numba_n.py (nopython)."""
    @jit
    def getAcc(pos, mass, G, softening):
        x = pos[:, 0:1]
        y = pos[:, 1:2]
        z = pos[:, 2:3]
        dx = x.T - x
        dy = y.T - y
        dz = z.T - z
        inv_r3 = (dx**2 + dy**2 + dz**2 + softening**2)
        # inv_r3[inv_r3>0] = inv_r3[inv_r3>0]**(-1.5)
        I = inv_r3 > 0
        for i in range(I.shape[0]):
            for j in range(I.shape[1]):
                if I[i, j]:
                    inv_r3[i, j] **= -1.5
        ax = G * (dx * inv_r3) @ mass
        ay = G * (dy * inv_r3) @ mass
        az = G * (dz * inv_r3) @ mass
        a = np.hstack((ax, ay, az))
        return a

    @jit
    def getEnergy(pos, vel, mass, G):
        KE = 0.5 * np.sum(mass * vel**2)
        x = pos[:, 0:1]
        y = pos[:, 1:2]
        z = pos[:, 2:3]
        dx = x.T - x
        dy = y.T - y
        dz = z.T - z
        inv_r = np.sqrt(dx**2 + dy**2 + dz**2)
        # inv_r[inv_r>0] = 1.0/inv_r[inv_r>0]
        I = inv_r > 0
        for i in range(I.shape[0]):
            for j in range(I.shape[1]):
                if I[i, j]:
                    inv_r[i, j] = 1.0 / inv_r[i, j]
        PE = G * np.sum(np.triu(-(mass * mass.T) * inv_r, 1))
        return KE, PE
    return getAcc, getEnergy


def _quiet(dispatcher, nb):
    """``dispatcher`` with numba's warnings (object-mode fallbacks, parallel=True
    finding nothing to parallelize) silenced at every call, where they are raised."""
    def call(*args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", nb.NumbaWarning)
            return dispatcher(*args)
    call.dispatcher = dispatcher
    return call
