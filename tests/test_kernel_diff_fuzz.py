"""Whole-kernel differential fuzzing (issue 10, item 6), in the spirit of Csmith and YARPGen.

tests/kernel_gen.py generates random, well-typed kernels (1-3-D grids, range/while loops with
break/continue, if/elif/else, grid reductions and sequential accumulations, math, casts, every
dtype from int8 to fp64 with fp16/bf16, strided/transposed/negative-stride views, NaN, +-inf,
-0.0 and the integer extremes, lo.atomic_add into targets of every numeric dtype at own,
constant, negative, affine and data-dependent indices, inside grids, loops and branches and
after the grid; @lo.func device functions called in expressions, conditions and lazy operands,
returning tuples, storing into tensors, with keyword and default arguments, calling each other;
tuple swaps, shape unpacking and len()). Float atomic targets compare within the tolerance (the grid adds into them in
any order); backends must refuse what they document they cannot do (kernel_gen.REFUSED). Each
kernel runs on every usable backend and is compared with the oracle: the python backend (the
rule, executable) once it is registered, numpy_ref until then; the oracle is also checked
against the function run as plain Python wherever that is the rule exactly. The budget is a
fixed number of kernels (LANGONE_FUZZ_COUNT, default 40; ~1.5 minutes, numba's compiles
dominate) from a fixed seed (LANGONE_FUZZ_SEED, default 0): deterministic, never flaky.
`make fuzz` runs thousands.

Known open bugs are avoided by the generator or skipped per backend: kernel_gen.KNOWN_BUGS
(LANGONE_FUZZ_KNOWN=none hunts them).
"""

from __future__ import annotations

import collections
import os

import pytest

import langone as lo
from langone.kernels import backends as _backends

import kernel_gen as kg

COUNT = int(os.environ.get("LANGONE_FUZZ_COUNT", "40"))
SEED0 = int(os.environ.get("LANGONE_FUZZ_SEED", "0"))
SEEDS = range(SEED0, SEED0 + COUNT)
ORACLE = kg.oracle_backend()
USABLE = set(_backends.usable())

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _param(name):
    return pytest.param(name, marks=pytest.mark.skipif(name not in USABLE,
                                                       reason=f"{name} is not usable here"))


# every backend but the oracle; triton (its interpreter on CPU) skips where it cannot run
OTHERS = [_param(b) for b in dict.fromkeys(_backends.names() + ["numba", "triton", "lua"])
          if b != ORACLE]


_ORACLE_RUNS: dict = {}


def _oracle(seed):
    """The generated kernel and the oracle's run, shared by the per-backend tests."""
    if seed not in _ORACLE_RUNS:
        gk = kg.generate(seed)
        _ORACLE_RUNS[seed] = gk, kg.run_oracle(gk, ORACLE)
    return _ORACLE_RUNS[seed]


def _report(problems):
    lines = []
    for seed, gk, probs in problems[:6]:
        lines.append(f"--- seed {seed} flags {sorted(gk.flags)}\n{gk.source}")
        lines += ["    " + p[:500] for p in probs]
    return (f"{len(problems)} of {COUNT} generated kernels disagree with {ORACLE}; "
            "reproduce with kernel_gen.generate(seed) / kernel_gen.minimize\n" + "\n".join(lines))


@pytest.mark.parametrize("backend", OTHERS)
def test_generated_kernels_match_the_oracle(backend):
    problems = []
    for seed in SEEDS:
        gk, pre = _oracle(seed)
        probs = kg.fuzz_one(gk, [backend], ORACLE, plain=False, pre=pre)
        if probs:
            problems.append((seed, gk, probs))
    assert not problems, _report(problems)


def test_oracle_matches_plain_python():
    """Where plain Python is the rule exactly (no halves, strong accumulator inits, no
    implicit narrowing stores), the oracle gives what the function computes by itself."""
    problems, checked = [], 0
    for seed in SEEDS:
        gk, pre = _oracle(seed)
        if kg.plain_comparable(gk):
            checked += 1
            probs = kg.fuzz_one(gk, [], ORACLE, plain=True, pre=pre)
            if probs:
                problems.append((seed, gk, probs))
    assert checked >= COUNT // 10        # about an eighth are plain-comparable (seeds 1000-1399: 47)
    assert not problems, _report(problems)


def test_generator_is_deterministic_and_covers_the_language():
    a, b = kg.generate(SEED0 + 7), kg.generate(SEED0 + 7)
    assert a.source == b.source and a.flags == b.flags
    (xa, _), (xb, _) = a.make_args(), b.make_args()
    for u, v in zip(xa, xb):
        if hasattr(u, "strides"):
            assert u.strides == v.strides and (u.tobytes() == v.tobytes())
    seen = collections.Counter()
    for seed in range(SEED0, SEED0 + max(COUNT, 200)):   # generating is cheap: rarer flags too
        seen.update(kg.generate(seed).flags)
    wanted = {"if", "elif", "range", "while", "break", "continue", "reduction", "transcendental",
              "math2",                # lo.atan2 hypot pow copysign fmod, np.fmod copysign
              "layout_strided", "layout_reversed", "layout_transposed", "half",
              # atomics into integer and float targets, at data-dependent indices; every
              # one of them, and old values that later statements read
              "atomic_add", "atomic_int", "atomic_float", "atomic_index_data", "atomic_sub",
              "atomic_max", "atomic_min", "atomic_exchange", "atomic_cas", "atomic_old",
              # several grids in sequence, reusing loop variable names, some in a step loop
              "multi_grid", "grid_var_reuse", "grid_in_step_loop",
              # @lo.func device functions: called, returning a tuple the kernel unpacks, storing
              # into a tensor, in lazy operands (and/or, conditional expressions); tuple swaps
              # and shape unpacking
              "device_func", "func_tuple", "func_procedure", "func_lazy", "tuple_swap",
              "shape_unpack",
              # a grid of complex arithmetic (exp, parts, literals, real tensors mixed in)
              "complex", "complex_exp"}
    wanted |= {f"dtype_{t}" for t in kg.ALL_TYPES + kg.COMPLEX_TYPES}
    assert wanted <= set(seen), sorted(wanted - set(seen))


def test_generated_kernels_compile_from_real_files():
    gk = kg.generate(SEED0)
    k = kg.load(gk)
    assert isinstance(k, lo.Kernel) if hasattr(lo, "Kernel") else callable(k)
    assert gk.name in k.py_func.__code__.co_filename or k.py_func.__name__ == gk.name
