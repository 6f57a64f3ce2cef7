"""A generator of random, well-typed LangOne kernels for differential fuzzing.

In the spirit of Csmith / YARPGen / NNSmith: every generated kernel is a plain
Python function that the kernel language defines (DESIGN.md section 1), so each
backend must give what the function computes as plain Python over numpy arrays
(with the declared exceptions). The generator never produces what the language
leaves unspecified:

* each grid iteration stores only at exactly its own grid point (``out[i, j]``),
  reads outputs only there, and never reads what another iteration writes;
* about 30% of kernels have a second (rarely a third) top-level grid, drawn from a stream of
  their own (the first grid stays as it was): it reuses the loop variables ``i, j, k`` half the
  time, may cover only the first axes (``range`` loops over the rest: rows), reads what the
  grids before it wrote at any point (they have finished) but never a tensor it stores
  itself, reads scalars computed between the grids (the reduction so far, locals named like
  the grid before's private ones), and may reduce again (the same accumulator, ``acc``
  anew, or a new one: the kernel returns the last);
* about 25% of kernels (a stream of their own: the others are drawn as before) use ``@lo.func``
  device functions defined before the kernel in the same module (so ``inspect`` finds them):
  scalar expressions, returns on both branches of an if, tuples the kernel unpacks,
  procedures storing at the grid point (perhaps returning the value, then called lazily),
  keyword defaults passed or not, calls between them, readers of a tensor at ``g + 1`` called
  only under the guard ``g + 1 < n`` (the lazy operand of ``and``/``or``, a conditional
  expression or a ``while`` test), sums along the last axis; their parameters get exactly the
  types the generator drew (weak Python numbers included), and may be assigned inside; also
  tuple assignments, swaps ``a, b = b, a`` of same-typed locals, ``n, m = x.shape`` and
  ``len(x)``; flags device_func, func_<kind>, func_procedure, func_lazy, func_tuple,
  tuple_swap, shape_unpack (the func flags are read back from the kernel's text);
* indices are grid variables or ``range`` variables bounded by a shape, never
  out of range, never data-dependent;
* atomic targets are tensors of their own, each updated by one of ``lo.atomic_add``,
  ``sub``, ``max``, ``min`` (at any index: the final state does not depend on the order),
  ``exchange`` or ``cas`` (at the iteration's own point only; their old values may become
  locals); never stored to or read with a plain load in the grid; their indices (own grid
  point, constants, negative, affine ``% n`` or data-dependent ``e % n``) stay in range,
  and their values have a type whose sum with (max/min: whose maximum with) the element
  Python computes in the element's type (or, rarely and on purpose, a wider one for add:
  then every backend must refuse the kernel);
* about 15% of kernels (a stream of their own) end with a grid of complex arithmetic over a
  complex input ``zin`` and real inputs: ``+ - * /``, conjugates in three spellings, complex
  literals, ``lo.exp`` (inexact), a complex local updated under a condition on exact values,
  stored into a complex output and, perhaps, its real part, imaginary part or ``abs`` into a
  real one; flags complex, complex_exp;
* integer ``//`` and ``%`` divide by a positive value; ``**`` takes a small
  non-negative literal exponent; float-to-int conversions see bounded values;
* values that may differ by ulps between backends (transcendental results) never
  reach a discontinuous operation (comparisons, ``floor``/``ceil``, ``//``, ``%``,
  int casts), so a kernel either compares bitwise or within a tolerance.

Integer overflow wraps (defined); float edge values (NaN, a NaN with a payload, +-inf,
-0.0) and the integer extremes appear in the data.

``generate(seed)`` is deterministic: it returns a :class:`GenKernel` with the
source text, the feature flags it used and ``make_args()`` that rebuilds fresh,
identical arguments (including their strided, transposed and negative-stride
views) every time it is called.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import ml_dtypes
import numpy as np

import langone as lo

BF16 = ml_dtypes.bfloat16

# --- known open bugs --------------------------------------------------------------------------
# Feature combinations the generator avoids while the bug is open (the in-suite fuzz must stay
# green). Remove a flag once the bug is fixed; `make fuzz` can run with
# LANGONE_FUZZ_KNOWN=none to generate them anyway. Findings: /tmp/w/fuzz_findings.md.
# Fixed in fd86051 and no longer avoided (the generator still knows how, should they come
# back): "loopvar_weak" (loop variables and shapes typed int64 instead of weak Python
# ints; while set, loop variables are wrapped in lo.int64(...)), "seq_float_accum_reassoc"
# (numba reassociated sequential float sums; while set, those compare within the
# tolerance), "nan_lo_minmax_reduction" (lo.maximum/lo.minimum grid reductions dropped
# NaN; while set, their float terms are made NaN-free), "triton_float_mod_int".
# Fixed later: "triton_int_to_bf16" (integer -> bf16 raised or gave 0.0 on Triton),
# "triton_size1_negative_stride" (a size-1 reversed view reached torch.from_numpy),
# "triton_float_pow_odd" (float ** odd literal raised on Triton).
#
# Found by the lo.atomic_add generator, fixed in d9cd90a, 3e2af6c, 97b35b6 and faac1d9 and no
# longer avoided (SKIP_BACKEND / ZERO_SIGN_RELAXED still know them):
# "triton_half_atomic_transposed" (the fp32 shadow of a transposed fp16/bf16 atomic target
# came back scrambled), "lua_index_parens" (x[i, x.shape[1] - 1]: a negative-index select
# joined unparenthesized, LuaJIT raised "attempt to perform arithmetic on a boolean
# value"), "numba_minmax_zero_sign" (lo.minimum(-0.0, 0.0) gave -0.0, numpy's is 0.0, the
# second operand of a tie), and the python backend rounding a half atomic target at every
# add (100 adds of 1.0 into fp16 2048 gave 2048, elsewhere 2148).
# Fixed later: "lua_return_negative_zero" (a float result of -0.0 came back as 0.0: lupa
# hands an integral Lua number to Python as an int; while set, lua's zero signs are not
# compared in kernels that return a float), "numba_int64_wrap" (numba emitted signed int64
# + - * as no-signed-wrap LLVM arithmetic, so what followed an overflow was folded as if it
# had not wrapped: for x = 2**63 - 1, (x + 4) < 0 gave False; while set, int64 data holds
# int32's extremes instead of int64's).
#
# Found by the device-function generator and fixed in 02e0072 (the generator still knows how
# to avoid it, should it come back):
# "local_retyped_later": a local assigned in a grid and assigned again later in the kernel
# with another type (``t = x[i]`` in the grid, ``t = 0.5`` after it) gets one type for the
# whole kernel on every backend but python: numpy_ref, numba, lua and triton compute the
# grid's ``t + 1`` in float64 (int64 2**60 + 1 gives 2**60 there, 2**60 + 2 in Python), and
# int-only operators on it (``~t``) are a KernelCompileError everywhere ("needs an integer,
# got fp64"). While set, a later grid or the serial code between grids reuses a name of the
# grid before only for a value of the same type.
KNOWN_BUGS: set[str] = set()          # none open

# backend -> [(known bug, does this kernel hit it?)]: zero signs are not compared there.
ZERO_SIGN_RELAXED = {
    "numba": [
        ("numba_minmax_zero_sign", lambda gk: "lo.minimum(" in gk.source
         or "lo.maximum(" in gk.source),
    ],
    "lua": [
        ("lua_return_negative_zero",
         lambda gk: any(f.startswith("reduction_float") for f in gk.flags)),
    ],
}

# backend -> [(known bug, does this kernel hit it?)]: the runner skips that backend there.
SKIP_BACKEND = {
    "triton": [
        ("triton_int_to_bf16",
         lambda gk: "dtype_bfloat16" in gk.flags or "lo.bf16(" in gk.source),
        ("triton_float_mod_int", lambda gk: "float_mod_int" in gk.flags),
        ("triton_float_pow_odd", lambda gk: "float_pow_odd" in gk.flags),
        ("triton_size1_negative_stride",
         lambda gk: "layout_reversed" in gk.flags and 1 in gk.shape),
        ("triton_half_atomic_transposed", lambda gk: "atomic_half_transposed" in gk.flags),
    ],
    "lua": [
        ("lua_index_parens", lambda gk: "index_inner_sign_unknown" in gk.flags),
    ],
}


# backend -> [(documented limitation, does this kernel hit it?)]: not bugs; the backend must
# refuse the kernel there with a KernelCompileError at the user's line, and the runner checks
# that it does (instead of comparing its outputs).
REFUSED = {
    # GPUs have 32/64-bit integer atomics only: lo.atomic_add into int8/int16/uint8 inside a
    # grid (outside one it is a plain add) -- tests/test_triton_backend.py,
    # test_atomic_add_into_int8_is_a_compile_error_at_the_users_line.
    "triton": [("triton_narrow_int_atomics",
                lambda gk: "atomic_narrow_int_in_grid" in gk.flags)],
}


def refused(gk, backend: str) -> list:
    """The documented limitations for which ``backend`` must refuse this kernel."""
    return [why for why, hit in REFUSED.get(backend, []) if hit(gk)]


def skipped(gk, backend: str, known: set | None = None) -> list:
    """The known bugs for which ``backend`` is skipped on this kernel."""
    known = known_bugs() if known is None else known
    return [bug for bug, hit in SKIP_BACKEND.get(backend, []) if bug in known and hit(gk)]

FLOAT_TYPES = ["float16", "bfloat16", "float32", "float64"]
# The types drawn from (kernels that use no wider unsigned type are drawn as before);
# uint16/32/64 come from a stream of their own (_Gen.ur), in about a quarter of the kernels.
BASE_INT_TYPES = ["int8", "int16", "int32", "int64", "uint8"]
UNSIGNED_TYPES = ["uint16", "uint32", "uint64"]
INT_TYPES = BASE_INT_TYPES + UNSIGNED_TYPES
BASE_TYPES = BASE_INT_TYPES + FLOAT_TYPES
ALL_TYPES = INT_TYPES + FLOAT_TYPES
COMPLEX_TYPES = ["complex64", "complex128"]
CAST_NAME = {"int8": "lo.int8", "int16": "lo.int16", "int32": "lo.int32", "int64": "lo.int64",
             "uint8": "lo.uint8", "uint16": "lo.uint16", "uint32": "lo.uint32",
             "uint64": "lo.uint64", "float16": "lo.float16", "bfloat16": "lo.bf16",
             "float32": "lo.float32", "float64": "lo.float64"}
TRANSCENDENTAL = ["lo.exp", "lo.log", "lo.sqrt", "lo.sin", "lo.cos", "lo.tanh", "lo.log1p",
                  "lo.expm1"]
# Two-argument math: the inexact ones (a math library's, within the tolerance) and the
# exact ones (bitwise on every backend). lo.pow only of floats (an integer one may raise).
TRANSCENDENTAL2 = ["lo.atan2", "lo.hypot", "lo.pow"]
EXACT2 = ["lo.copysign", "lo.fmod", "np.fmod", "np.copysign"]
# lo.atomic_add targets (every numeric dtype; bool targets are a compile error) and weights
ATOMIC_TYPES = ["int32", "int64", "float32", "float64", "float16", "bfloat16", "int8", "int16",
                "uint8"]
ATOMIC_WEIGHTS = [3, 3, 4, 3, 1, 1, 1, 1, 1]
# the atomic each target gets (lo.atomic_<op>) and weights
ATOMIC_OPS = ["add", "sub", "max", "min", "exchange", "cas"]
ATOMIC_OP_WEIGHTS = [6, 1, 2, 2, 2, 2]


def np_dtype(name: str):
    return np.dtype(BF16) if name == "bfloat16" else np.dtype(name)


def is_int(t: str) -> bool:
    return t in INT_TYPES or t == "wi"


def is_float(t: str) -> bool:
    return t in FLOAT_TYPES or t == "wf"


def _sample(t: str):
    if t == "wi":
        return 1
    if t == "wf":
        return 1.5
    if t == "bool":
        return np.True_
    return np_dtype(t).type(1)


_TYPE_CACHE: dict = {}


def result_type(template: str, *types: str) -> str:
    """The type plain Python/numpy gives ``template`` (``{0} + {1}``) for operand types."""
    key = (template, types)
    if key not in _TYPE_CACHE:
        env = {"lo": lo, "np": np}
        names = []
        for n, t in enumerate(types):
            env[f"_a{n}"] = _sample(t)
            names.append(f"_a{n}")
        with np.errstate(all="ignore"):
            try:
                v = eval(template.format(*names), env)
            except TypeError:          # no numpy loop (uint64 | int64): no type
                _TYPE_CACHE[key] = "none"
                return "none"
        if isinstance(v, (bool, np.bool_)) or (isinstance(v, np.ndarray) and v.dtype == bool):
            out = "bool"
        elif isinstance(v, int):
            out = "wi"
        elif isinstance(v, float) and not isinstance(v, np.floating):   # np.float64 is a float
            out = "wf"
        else:
            dt = np.asarray(v).dtype
            out = "bfloat16" if dt == np.dtype(BF16) else dt.name
        _TYPE_CACHE[key] = out
    return _TYPE_CACHE[key]


def widen(t: str) -> str:
    """Declared exception 4: loop accumulators are int64 (uint64 stays) / at least float32."""
    if t == "uint64":
        return t
    if is_int(t) or t == "bool":
        return "int64"
    if t in ("float16", "bfloat16"):
        return "float32"
    if t == "wf":
        return "float64"
    return t


@dataclass
class E:
    text: str
    t: str                      # a dtype name, "wi"/"wf" (weak Python scalar) or "bool"
    inexact: bool = False       # may differ by ulps across backends (transcendentals)
    bound: int = 0              # for "wi": an upper bound of the (non-negative) value


@dataclass
class TensorArg:
    name: str
    dtype: str
    layout: str                 # contiguous | strided | transposed | reversed
    is_output: bool
    edge_p: float               # probability of an edge value per element
    init: str = "random"        # outputs: zeros | random
    int64_extremes: bool = True  # int64 data may hold int64's min and max (else int32's)


@dataclass
class GenKernel:
    seed: int
    name: str
    source: str
    shape: tuple
    tensors: list
    scalars: list               # (name, value) of scalar parameters
    params: list
    flags: set = field(default_factory=set)
    # float lo.atomic_add targets: the grid adds into them in an unspecified order, so they
    # compare within the tolerance, like float grid reductions
    atomic_float: tuple = ()
    # what a kernel returns as a tuple (made tensors, "acc", "ret_shape"), if it does
    returns: tuple = ()

    def make_args(self):
        """Fresh arguments (same values, same views every call) and the base arrays."""
        rng = np.random.default_rng(self.seed)
        args, bases = [], []
        by_name = {}
        for t in self.tensors:
            view, base = _make_tensor(rng, t, self.shape)
            by_name[t.name] = view
            bases.append((t.name, base))
        for name, value in self.scalars:
            by_name[name] = value
        for p in self.params:
            args.append(by_name[p])
        return args, bases


# --- device functions (@lo.func) ----------------------------------------------------------------
# Parameter names: some are the kernel's own names (loop variables, the accumulator, tensors,
# locals): the inliner must rename them apart.
PARAM_NAMES = ["a", "b", "v", "w", "u", "i", "j", "n", "acc", "t1", "x0", "s0", "k", "q"]
PARAM_TYPES = ["wi", "wf", "int8", "int16", "int32", "int64", "uint8", "float32", "float64",
               "float16", "bfloat16"]
PARAM_WEIGHTS = [4, 2, 1, 1, 2, 2, 1, 2, 3, 1, 1]
# expr: return <expression>; branch: return on both branches of an if; tuple: return two values,
# unpacked by the caller; proc: store into a tensor at given indices (perhaps returning the value);
# kw: a defaulted parameter, passed or not; nested: calls an earlier device function; guarded:
# reads a tensor at an index the caller guards (called only in lazy operands); loop: a
# sequential accumulation over a tensor's last axis
FUNC_KINDS = ["expr", "branch", "tuple", "proc", "kw", "nested", "guarded", "loop"]
FUNC_WEIGHTS = [3, 3, 3, 4, 2, 2, 3, 2]
VALUE_KINDS = ("expr", "branch", "kw", "nested")    # scalar parameters, one scalar result


@dataclass
class DevFunc:
    name: str
    kind: str
    params: list                # (name, type): a dtype, "wi"/"wf" (weak) or "tensor"
    ret: list = field(default_factory=list)   # E of each result (scalar-parameter kinds)
    default: str = ""           # kw: the defaulted parameter
    template: str = ""          # guarded: the result as a template of the element
    axis: int = 0               # guarded: the axis whose index the caller guards
    init: tuple = ()            # loop: the accumulator's (text, type)
    returns_value: bool = False  # proc: also returns the value it stores
    assigns_param: bool = False  # assigns one of its (scalar) parameters


# a negative NaN with a payload (LuaJIT once read such NaNs from tensors as objects)
_PAYLOAD_NAN = np.array([0xfffc000000000123], np.uint64).view(np.float64)[0]


def _values(rng, dtype: str, n: int, edge_p: float, int64_extremes: bool = True) -> np.ndarray:
    dt = np_dtype(dtype)
    if dt.kind == "c":                  # parts drawn as the floats are
        part = "float32" if dtype == "complex64" else "float64"
        re = _values(rng, part, n, edge_p)
        return (re + 1j * _values(rng, part, n, edge_p)).astype(dt)
    if dtype == "uint64":          # its maximum does not fit the int64 staging below
        vals = rng.integers(0, 40, n).astype(np.uint64)
        edges = np.array([0, 1, 2 ** 63, 2 ** 64 - 1], np.uint64)
        mask = rng.random(n) < edge_p
        vals[mask] = edges[rng.integers(0, len(edges), int(mask.sum()))]
        return vals
    if dtype in INT_TYPES:
        info = np.iinfo(np.int32 if dtype == "int64" and not int64_extremes else dt)
        lo_, hi_ = (0, 40) if dtype.startswith("uint") else (-20, 21)
        vals = rng.integers(lo_, hi_, n).astype(np.int64)
        edges = np.array(sorted({0, 1, int(info.min), int(info.max), max(int(info.min), -1)}),
                         dtype=np.int64)
        mask = rng.random(n) < edge_p
        vals[mask] = edges[rng.integers(0, len(edges), int(mask.sum()))]
        return vals.astype(dt)
    # dyadic values k/8 in [-8, 8]: exact in every float type, sums exact in any order
    vals = rng.integers(-64, 65, n).astype(np.float64) / 8.0
    edges = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, _PAYLOAD_NAN])
    mask = rng.random(n) < edge_p
    vals[mask] = edges[rng.integers(0, len(edges), int(mask.sum()))]
    return vals.astype(dt)


def _make_tensor(rng, t: TensorArg, shape: tuple):
    nd = len(shape)
    if t.layout == "strided":
        base_shape = (shape[0] * 2,) + shape[1:]
    elif t.layout == "transposed":
        base_shape = shape[::-1]
    else:
        base_shape = shape
    size = int(np.prod(base_shape))
    if t.is_output and t.init == "zeros":
        base = np.zeros(base_shape, np_dtype(t.dtype))
    else:
        base = _values(rng, t.dtype, size, t.edge_p, t.int64_extremes).reshape(base_shape)
    if t.layout == "strided":
        view = base[::2]
    elif t.layout == "transposed":
        view = base.T
    elif t.layout == "reversed":
        view = base[::-1] if nd == 1 or rng.random() < 0.5 else base[:, ::-1]
    else:
        view = base
    assert view.shape == shape
    return view, base


class _Gen:
    def __init__(self, seed: int, known: set):
        self.rng = random.Random(seed)
        self.seed = seed
        self.known = known
        self.flags: set = set()
        self.lines: list = []
        self.local_arrays: list = []      # (name, dtype, size) readable in the first grid
        self.ar = random.Random(seed * 1000003 + 61)   # atomics written as acc[j] += v
        self.ur = random.Random(seed * 1000003 + 67)   # uint16/32/64 values
        self.unsigned = self.ur.random() < 0.25
        self.counter = 0
        self.scopes: list = []          # list of dict name -> type
        self.loop_index = {}            # grid axis -> index expression currently usable
        self.grid_vars: list = []
        self.range_vars: list = []      # (name, axis) of range variables usable as index
        self.counters: list = []        # while counters (values only)
        self.later = False              # in a grid after the first (see later_grid)
        self.frozen: set = set()        # top-level locals a grid reads but never assigns
        self.reusable: list = []        # names of the grid before's private locals
        self.reusable_types: dict = {}  # ... and their types
        self.acc_name = None            # the accumulator the kernel returns
        # device functions, tuples, len (see def_funcs): a stream of their own
        self.fr = random.Random(seed * 1000003 + 41)
        self.extras = False             # this kernel uses them at all
        self.funcs: list = []           # DevFunc, in definition order
        self.func_lines: list = []      # their source, emitted before the kernel
        self.in_func = False            # generating a device function's body
        self.serial = False             # between grids (no procedure calls there)
        self.calls_left = 0             # call sites still to place (numba compile time)
        self.swaps = False

    # --- helpers ------------------------------------------------------------------------
    def fresh(self, prefix="t"):
        self.counter += 1
        return f"{prefix}{self.counter}"

    def emit(self, depth, text):
        for line in text.split("\n"):
            self.lines.append("    " * depth + line)

    def locals(self):
        out = {}
        for s in self.scopes:
            out.update(s)
        return out

    def chance(self, p):
        return self.rng.random() < p

    # --- expressions --------------------------------------------------------------------
    def loopvar(self, name, bound):
        if "loopvar_weak" in self.known:
            return E(f"lo.int64({name})", "int64", bound=bound)
        self.flags.add("loopvar_weak")
        return E(name, "wi", bound=bound)

    def index(self, tensor, replace=None):
        idx = list(self.grid_vars)
        if replace is not None:
            axis, var = replace
            idx[axis] = var
        return f"{tensor.name}[{', '.join(idx)}]"

    def leaf(self, want=None):
        """want: None, 'int', 'float', 'num' (int or float, no bool)."""
        r = self.rng
        opts = []
        ins = [t for t in self.inputs if want is None or want == "num"
               or (want == "int") == (t.dtype in INT_TYPES)]
        for t in ins:
            opts += [("read", t)] * 4
        if self.range_vars:
            for t in ins:
                opts += [("rread", t)] * 4
        if self.later:                  # an earlier grid has finished: any element
            opts += [("aread", t) for t in ins for _ in range(2)]
        for name, t in self.locals().items():
            if t != "bool" and (want in (None, "num") or (want == "int") == is_int(t)):
                opts.append(("local", (name, t)))
        for name, t in self.scalar_types.items():
            if want in (None, "num") or (want == "int") == is_int(t):
                opts.append(("local", (name, t)))
        for name, t, size in [] if self.in_func else self.local_arrays:
            if want in (None, "num") or (want == "int") == is_int(t):
                opts += [("larray", (name, t, size))] * 2
        if want != "float":
            opts += [("lit_i", None)] + ([] if self.in_func else [("gridvar", None)])
            if r.random() < 0.3 and not self.in_func:
                opts.append(("shape", None))
            if self.range_vars:
                opts.append(("rangevar", None))
        if want != "int":
            opts.append(("lit_f", None))
        kind, arg = r.choice(opts)
        inexact = arg.name in self.inexact_outputs if kind.endswith("read") else False
        if kind == "read":
            return E(self.index(arg), arg.dtype, inexact)
        if kind == "rread":
            var, axis = r.choice(self.range_vars)
            return E(self.index(arg, (axis, var)), arg.dtype, inexact)
        if kind == "aread":
            return E(self.any_index(arg), arg.dtype, inexact)
        if kind == "local":
            name, t = arg
            return E(name, t, inexact=name in self.inexact_locals, bound=5)
        if kind == "larray":
            name, t, size = arg
            return E(f"{name}[{self.local_index(size, r)}]", t,
                     inexact=name in self.inexact_locals)
        if kind == "lit_i":
            v = r.randrange(0, 8)
            return E(str(v), "wi", bound=v)
        if kind == "lit_f":
            return E(r.choice(["0.5", "2.0", "1.5", "-0.25", "3.0", "-2.0", "0.0"]), "wf")
        if kind == "gridvar":
            return self.loopvar(r.choice(self.grid_vars), 5)
        if kind == "rangevar":
            return self.loopvar(r.choice(self.range_vars)[0], 5)
        # shape
        t = r.choice(self.tensors)
        axis = r.randrange(len(self.shape))
        if axis == 0 and self.extras and self.fr.random() < 0.5:
            self.flags.add("len")
            return E(f"len({t.name})", "wi", bound=5)
        return E(f"{t.name}.shape[{axis}]", "wi", bound=5)

    def any_index(self, t: TensorArg) -> str:
        """``t`` at another in-range point: only for tensors no iteration of this grid
        writes (an earlier grid wrote them, or nothing does)."""
        idx = []
        for a, g in enumerate(self.grid_vars):
            n = f"{t.name}.shape[{a}]"
            form = self.rng.choice([g, f"{n} - 1 - {g}", f"({g} + 1) % {n}", f"-1 - {g}"])
            idx.append(self.inner_sign(a, form) if form != g else g)
        self.flags.add("read_other_point")
        return f"{t.name}[{', '.join(idx)}]"

    def cast(self, e: E, to: str) -> E:
        """Convert e to type ``to`` without leaving the well-defined territory."""
        if e.t == to:
            return e
        if is_float(e.t) and to in INT_TYPES:
            if e.inexact:
                return E(f"{CAST_NAME[to]}(0)", to)
            self.flags.add("float_to_int_cast")
            inner = f"lo.where(abs({e.text}) < 100.0, {e.text}, 0.0)"
            return E(f"{CAST_NAME[to]}({inner})", to)
        if e.t == "bool" and to in FLOAT_TYPES + INT_TYPES:
            return E(f"{CAST_NAME[to]}({e.text})", to)
        return E(f"{CAST_NAME[to]}({e.text})", to, e.inexact)

    def strong(self, e: E) -> E:
        if e.t == "wi":
            return E(f"lo.int32({e.text})", "int32", e.inexact)
        if e.t == "wf":
            return E(f"lo.float64({e.text})", "float64", e.inexact)
        return e

    def expr(self, depth=0, want=None, exact=False) -> E:
        r = self.rng
        if self.calls_left and not self.in_func and self.fr.random() < 0.08:
            e = self.call_expr(depth, want, exact)
            if e is not None:
                return e
        if depth >= self.max_depth or r.random() < 0.3:
            e = self.leaf(want)
            if exact and e.inexact:
                return self.leaf("int") if want != "float" else E("1.0", "wf")
            return e
        kind = r.choices(["arith", "div", "floordiv", "pow", "bit", "shift", "unary", "math",
                          "minmax", "where", "ifexp", "cast"],
                         [8, 2, 2, 1, 2, 1, 2, 3, 2, 1, 1, 2])[0]
        if kind == "arith":
            a = self.expr(depth + 1, want, exact)
            b = self.expr(depth + 1, want, exact)
            op = r.choice(["+", "-", "*"])
            if a.t == "wi" and b.t == "wi":
                if op == "-" or a.bound * max(b.bound, 1) > 60:
                    op = "+"
                bound = a.bound + b.bound if op == "+" else a.bound * b.bound
                return E(f"({a.text} {op} {b.text})", "wi", bound=bound)
            if a.t in ("wi", "wf") and b.t in ("wi", "wf"):
                a = self.strong(a)
            if op == "-" and b.t == "wi" and a.t == "uint8":
                pass                         # uint8 - small weak int: wraps, defined
            t = result_type("{} %s {}" % op, a.t, b.t)
            return self.check(E(f"({a.text} {op} {b.text})", t, a.inexact or b.inexact), want)
        if kind == "div" and want != "int":
            a = self.expr(depth + 1, "num", exact)
            b = self.strong(self.expr(depth + 1, "num", exact))
            t = result_type("{} / {}", a.t, b.t)
            return self.check(E(f"({a.text} / {b.text})", t, a.inexact or b.inexact), want)
        if kind == "floordiv":
            op = r.choice(["//", "%"])
            a = self.expr(depth + 1, want or "num", True)
            if is_int(a.t) and want != "float":
                if r.random() < 0.5:
                    b = E(str(r.randrange(1, 8)), "wi")
                else:
                    inner = self.expr(depth + 1, "int", True)
                    b = E(f"({inner.text} % 5 + 1)", result_type("{} % 5 + 1", inner.t))
            else:
                a = self.strong(a) if a.t in ("wi", "wf") else a
                b = self.expr(depth + 1, "num", True)
            if op == "%" and is_float(a.t) and is_int(b.t):
                self.flags.add("float_mod_int")
            t = result_type("{} %s {}" % op, a.t, b.t)
            return self.check(E(f"({a.text} {op} {b.text})", t), want)
        if kind == "pow":
            a = self.strong(self.expr(depth + 1, want or "num", exact))
            n = r.randrange(0, 4)
            t = result_type("{} ** %d" % n, a.t)
            if is_float(t) and n % 2:
                self.flags.add("float_pow_odd")
            return self.check(E(f"({a.text} ** {n})", t, a.inexact), want)
        if kind in ("bit", "shift") and want != "float":
            a = self.strong(self.expr(depth + 1, "int", True))
            if kind == "shift":
                op = r.choice(["<<", ">>"])
                b = E(str(r.randrange(0, 4)), "wi")
            else:
                op = r.choice(["&", "|", "^"])
                b = self.expr(depth + 1, "int", True)
                if not is_int(result_type("{} | {}", a.t, b.t)):
                    b = self.cast(b, a.t)      # uint64 with a signed int: numpy has no loop
            if r.random() < 0.2:
                return E(f"(~{a.text})", a.t)
            t = result_type("{} %s {}" % op, a.t, b.t)
            return E(f"({a.text} {op} {b.text})", t)
        if kind == "unary":
            a = self.strong(self.expr(depth + 1, want or "num", exact))
            fn = r.choice(["-", "abs", "lo.abs"])
            template = "(-{})" if fn == "-" else fn + "({})"    # (leaves "b", "l" are in "abs")
            return self.check(E(template.format(a.text), result_type(template, a.t),
                                a.inexact), want)
        if kind == "math" and want != "int":
            a = self.expr(depth + 1, "num", exact)
            if is_int(a.t) and "math_on_small_int" in self.known:
                a = self.cast(a, r.choice(["float32", "float64"]))
            elif is_int(a.t):
                self.flags.add("math_on_small_int")
                if a.t in ("int8", "uint8", "bool"):
                    self.flags.add("half")           # an fp16 temporary: exception 3
            a = self.strong(a)
            if r.random() < 0.35:
                return self.check(self.math2(a, depth, exact), want)
            if exact or a.inexact and r.random() < 0.5:
                fn = r.choice(["lo.floor", "lo.ceil", "lo.abs"]) if not a.inexact else "lo.abs"
            else:
                fn = r.choice(TRANSCENDENTAL + ["lo.floor", "lo.ceil"])
            if fn in ("lo.floor", "lo.ceil") and is_int(a.t):
                fn = "lo.abs"
            inexact = a.inexact or fn in TRANSCENDENTAL
            if fn in TRANSCENDENTAL:
                self.flags.add("transcendental")
            return self.check(E(f"{fn}({a.text})", result_type(fn + "({})", a.t), inexact), want)
        if kind == "minmax":
            a = self.strong(self.expr(depth + 1, want or "num", exact))
            b = self.cast(self.expr(depth + 1, want or "num", exact), a.t)
            fn = r.choice(["min", "max", "lo.minimum", "lo.maximum"])
            t = result_type(fn + "({}, {})", a.t, b.t)
            return self.check(E(f"{fn}({a.text}, {b.text})", t, a.inexact or b.inexact), want)
        if kind == "where":
            c = self.cond(depth + 1)
            a = self.strong(self.expr(depth + 1, want or "num", exact))
            b = self.cast(self.expr(depth + 1, want or "num", exact), a.t)
            return self.check(E(f"lo.where({c.text}, {a.text}, {b.text})", a.t,
                                a.inexact or b.inexact), want)
        if kind == "ifexp":
            c = self.cond(depth + 1)
            a = self.strong(self.expr(depth + 1, want or "num", exact))
            b = self.cast(self.expr(depth + 1, want or "num", exact), a.t)
            return E(f"({a.text} if {c.text} else {b.text})", a.t, a.inexact or b.inexact)
        if kind == "cast":
            a = self.expr(depth + 1, "num", exact)
            if want == "int":
                to = r.choice(BASE_INT_TYPES)
            elif want == "float":
                to = r.choice(FLOAT_TYPES)
            else:
                to = r.choice(BASE_TYPES)
            if self.unsigned and to in INT_TYPES and self.ur.random() < 0.4:
                to = self.ur.choice(UNSIGNED_TYPES)
            if to in ("float16", "bfloat16"):
                self.flags.add("half")
            return self.cast(a, to)
        return self.leaf(want)

    def math2(self, a: E, depth: int, exact: bool) -> E:
        """A two-argument math call on ``a`` and a value of ``a``'s type."""
        r = self.rng
        b = self.cast(self.expr(depth + 1, "num", exact), a.t)
        fns = EXACT2 if exact else EXACT2 + TRANSCENDENTAL2
        fn = r.choice([f for f in fns if f != "lo.pow" or is_float(a.t)])
        inexact = a.inexact or b.inexact or fn in TRANSCENDENTAL2
        self.flags.add("math2")
        if fn in TRANSCENDENTAL2:
            self.flags.add("transcendental")
        return E(f"{fn}({a.text}, {b.text})", result_type(fn + "({}, {})", a.t, b.t), inexact)

    def check(self, e: E, want) -> E:
        """Keep the requested kind (a float where an int is wanted gets a safe cast)."""
        if want == "int" and not is_int(e.t):
            return self.cast(e, "int32")
        if want == "float" and not is_float(e.t):
            return self.cast(e, "float32")
        return e

    def cond(self, depth=0) -> E:
        r = self.rng
        if self.calls_left and not self.in_func and self.fr.random() < 0.2:
            e = self.call_cond(depth)
            if e is not None:
                return e
        k = r.random()
        if depth < self.max_depth and k < 0.25:
            a, b = self.cond(depth + 1), self.cond(depth + 1)
            op = r.choice(["and", "or"])
            return E(f"({a.text} {op} {b.text})", "bool")
        if depth < self.max_depth and k < 0.35:
            return E(f"(not {self.cond(depth + 1).text})", "bool")
        a = self.expr(depth + 1, "num", True)
        b = self.expr(depth + 1, "num", True)
        op = r.choice(["<", "<=", ">", ">=", "==", "!="])
        if r.random() < 0.15:
            # a device function call after a chain's first comparison is a compile error
            # ("assign the call to a local first"): none there
            calls, self.calls_left = self.calls_left, 0
            c = self.expr(depth + 1, "num", True)
            self.calls_left = calls
            op2 = r.choice(["<", "<="])
            return E(f"({a.text} {op} {b.text} {op2} {c.text})", "bool")
        return E(f"({a.text} {op} {b.text})", "bool")

    # --- statements ---------------------------------------------------------------------
    def store(self, depth, e: E | None = None):
        out = self.rng.choice(self.outputs)
        e = self.store_value(out, e)
        procs = [f for f in self.funcs if f.kind == "proc"]
        if procs and not self.serial and self.fr.random() < 0.5:
            self.emit(depth, self.proc_call(self.fr.choice(procs), out, e))
        else:
            self.emit(depth, f"{self.index(out)} = {e.text}")
        if e.inexact:
            self.inexact_outputs.add(out.name)

    def store_value(self, out, e: E | None = None, exact=False) -> E:
        """The value a store into ``out`` at the grid point takes (converted as the rules
        allow)."""
        want = "int" if out.dtype in INT_TYPES else "num"
        e = self.expr(0, want, exact) if e is None else self.check(e, want)
        if e.t == "bool":
            e = self.cast(e, "int32")
        if out.dtype in INT_TYPES and e.t != out.dtype and e.t != "wi":
            if self.chance(0.7):                    # an explicit cast wraps in plain Python too
                e = self.cast(e, out.dtype)
            else:
                self.flags.add("narrowing_int_store")  # exception 5: plain numpy would raise
        return e

    def new_local(self, depth):
        e = self.expr(0, self.rng.choice([None, "int", "float"]))
        if e.t in ("wi", "wf"):
            e = self.strong(e)
        name = self.reused_name(e.t) if self.reusable and self.chance(0.5) else None
        name = name or self.fresh()
        self.emit(depth, f"{name} = {e.text}")
        self.scopes[-1][name] = e.t
        if e.inexact:
            self.inexact_locals.add(name)

    def reassign(self, depth):
        locs = [(n, t) for n, t in self.locals().items() if t in ALL_TYPES
                and n not in self.frozen]
        if not locs:
            return self.new_local(depth)
        name, t = self.rng.choice(locs)
        e = self.expr(0, "int" if t in INT_TYPES else "num")
        if self.rng.random() < 0.4 and result_type("{} + {}", t, e.t) == t:
            op = self.rng.choice(["+=", "-=", "*="])
            self.emit(depth, f"{name} {op} {e.text}")
        else:
            e = self.cast(e, t)
            self.emit(depth, f"{name} = {e.text}")
        if e.inexact:
            self.inexact_locals.add(name)

    def block(self, depth, n, nest):
        self.scopes.append({})
        for _ in range(n):
            self.stmt(depth, nest)
        self.scopes.pop()

    def if_stmt(self, depth, nest):
        self.flags.add("if")
        self.emit(depth, f"if {self.cond().text}:")
        self.block(depth + 1, self.rng.randint(1, 2), nest + 1)
        for _ in range(self.rng.randrange(0, 2)):
            self.flags.add("elif")
            self.emit(depth, f"elif {self.cond().text}:")
            self.block(depth + 1, self.rng.randint(1, 2), nest + 1)
        if self.chance(0.5):
            self.emit(depth, "else:")
            self.block(depth + 1, self.rng.randint(1, 2), nest + 1)

    def acc_update(self, name, t, op, term: E):
        if op == "+=":
            return f"{name} += {term.text}"
        if op == "*=":
            return f"{name} *= {term.text}"
        return f"{name} = {op}({name}, {term.text})"

    def range_loop(self, depth, nest):
        r = self.rng
        axis = r.randrange(len(self.shape))
        t = r.choice(self.tensors)
        n = f"{t.name}.shape[{axis}]"
        form = r.randrange(5)
        rng_text = [f"range({n})", f"range({r.randint(1, 2)}, {n})", f"range({n} - 1, -1, -1)",
                    f"range(0, {n}, 2)", f"range({n} - 1, 0, -2)"][form]
        self.flags.add("range")
        kind = r.choice(["float", "int"])
        term = self.term_for_loop(kind, axis, r)
        op = r.choice(["+=", "+=", "*=", "max", "min", "lo.maximum", "lo.minimum"])
        if op in ("max", "min"):
            self.flags.add("seq_builtin_minmax")   # plain Python keeps the term's type
        acc = self.fresh("s")
        init = self.init_for(op, kind)
        acc_t = widen(result_type("{} + {}", init[1], term.t))
        self.emit(depth, f"{acc} = {init[0]}")
        if kind == "float":
            self.flags.add("seq_float_accum")
        self.emit(depth, f"for {term.var} in {rng_text}:")
        body = depth + 1
        if r.random() < 0.4:
            self.flags.add("continue")
            self.emit(body, f"if {self.cond_in_loop(term.var, axis).text}:")
            self.emit(body + 1, "continue")
        if self.atomics and r.random() < 0.4:
            self.atomic(body)                   # may index with the range variable
        self.emit(body, self.acc_update(acc, acc_t, op, term))
        if r.random() < 0.3:
            self.flags.add("break")
            self.emit(body, f"if {self.cond_in_loop(term.var, axis).text}:")
            self.emit(body + 1, "break")
        self.range_vars.pop()
        self.scopes[-1][acc] = acc_t
        if term.inexact:
            self.inexact_locals.add(acc)

    def term_for_loop(self, kind, axis, r):
        var = self.fresh("r")
        self.range_vars.append((var, axis))
        e = self.expr(1, kind)
        if e.t in ("wi", "wf"):
            e = self.strong(e)
        if e.t == "bool":
            e = self.cast(e, "int64")
        e.var = var
        return e

    def cond_in_loop(self, var, axis):
        return self.cond(1)

    def init_for(self, op, kind):
        if self.chance(0.7):
            # a strong init already of the widened type: plain Python then computes
            # exactly what the rule (exception 4) says, so the plain check applies
            if kind == "int":
                v = "1" if op == "*=" else "0"
                return f"lo.int64({v})", "int64"
            ft = self.rng.choice(["float32", "float64"])
            v = {"*=": "1.0", "max": "-lo.inf", "lo.maximum": "-lo.inf", "min": "lo.inf",
                 "lo.minimum": "lo.inf"}.get(op, "0.0")
            return f"{CAST_NAME[ft]}({v})", ft
        self.flags.add("weak_acc_init")
        if op == "*=":
            return ("1", "wi") if kind == "int" else ("1.0", "wf")
        if op in ("max", "lo.maximum") and kind == "float":
            return ("-lo.inf", "wf") if self.chance(0.7) else ("0.0", "wf")
        if op in ("min", "lo.minimum") and kind == "float":
            return ("lo.inf", "wf") if self.chance(0.7) else ("0.0", "wf")
        return ("0", "wi") if kind == "int" else ("0.0", "wf")

    def while_loop(self, depth, nest):
        r = self.rng
        self.flags.add("while")
        c = self.fresh("c")
        w = self.fresh("w")
        kind = r.choice(["int", "float"])
        bound = r.randint(1, 5)
        self.emit(depth, f"{c} = 0")
        init = self.init_for("+=", kind)
        self.emit(depth, f"{w} = {init[0]}")
        head = f"{c} < {bound}"
        guarded = [f for f in self.funcs if f.kind == "guarded"]
        if self.calls_left and self.fr.random() < 0.5:
            if guarded:
                lazy = self.guarded_cond(self.fr.choice(guarded), 1, index=c)
            else:
                lazy = getattr(self.call_cond(1), "text", None)
            if lazy is not None:               # re-evaluated (and called) before each test
                head += f" and {lazy}"
        self.emit(depth, f"while {head}:")
        self.emit(depth + 1, f"{c} += 1")
        term = self.expr(1, kind)
        if term.t in ("wi", "wf"):
            term = self.strong(term)
        if r.random() < 0.4:
            self.flags.add("continue")
            self.emit(depth + 1, f"if {self.cond(1).text}:")
            self.emit(depth + 2, "continue")
        self.emit(depth + 1, f"{w} += {term.text}")
        if self.atomics and r.random() < 0.3:
            self.atomic(depth + 1)
        if r.random() < 0.4:
            self.flags.add("break")
            self.emit(depth + 1, f"if {self.cond(1).text}:")
            self.emit(depth + 2, "break")
        if kind == "float":
            self.flags.add("seq_float_accum")
        self.scopes[-1][w] = widen(result_type("{} + {}", init[1], term.t))
        if term.inexact:
            self.inexact_locals.add(w)

    def reduction_update(self, depth):
        term = self.expr(0, self.red_kind)
        if term.t in ("wi", "wf"):
            term = self.strong(term)
        if term.t == "bool":
            term = self.cast(term, "int64")
        if self.red_kind == "float" and self.red_op in ("lo.minimum", "lo.maximum") \
                and "nan_lo_minmax_reduction" in self.known:
            tmp = self.fresh("m")
            self.emit(depth, f"{tmp} = {term.text}")
            term = E(f"lo.where({tmp} == {tmp}, {tmp}, 0.0)", term.t, term.inexact)
        self.emit(depth, self.acc_update(self.acc_name, self.red_t, self.red_op, term))
        self.red_terms.append(term)

    # --- lo.atomic_add -------------------------------------------------------------------
    def atomic_sum_ok(self, target: str, vt: str) -> bool:
        """Python's ``t[i] + v`` is computed in the element's type (fp32 for halves, held
        there: exception 3), or both are integers (wrapping sums agree modulo 2**bits)."""
        held = "float32" if target in ("float16", "bfloat16") else target
        summed = result_type("{} + {}", held, vt)
        return summed == held or (is_int(summed) and held in INT_TYPES)

    def atomic_index(self, t: TensorArg, axis: int) -> str:
        """An in-range index of ``t`` along ``axis`` (all tensors have the grid's shape)."""
        r = self.rng
        n = f"{t.name}.shape[{axis}]"
        g = self.grid_vars[axis]
        ranges = [v for v, a in self.range_vars]
        kind = r.choices(["own", "const", "neg", "affine", "data", "range"],
                         [3, 1, 1, 2, 3, 2 if ranges else 0])[0]
        self.flags.add(f"atomic_index_{kind}")
        if kind == "own":
            return g
        if kind == "const":
            return self.inner_sign(axis, r.choice(["0", f"{n} - 1", f"{n} // 2"]))
        if kind == "neg":
            return self.inner_sign(axis, r.choice(["-1", f"-{n}", f"{g} - {n}", f"-1 - {g}"]))
        if kind == "affine":
            g2 = r.choice(self.grid_vars)
            return self.inner_sign(axis, r.choice([f"({g} + {r.randint(1, 3)}) % {n}",
                                                   f"({g} * {r.choice([2, 3, 7])} + {g2}) % {n}",
                                                   f"{g2} % {n}", f"({n} - 1 - {g})"]))
        if kind == "range":
            var, a = r.choice(self.range_vars)
            return var if a == axis else f"{var} % {n}"
        e = self.expr(1, "int", True)              # data-dependent (Python's %: in [0, n))
        text = f"({e.text}) % {n}"
        if r.random() < 0.25:                      # in [-n, 0), in a signed type (uint8 wraps)
            return f"lo.int64({text}) - {n}" if e.t == "uint8" else f"{text} - {n}"
        return text

    def inner_sign(self, axis: int, text: str) -> str:
        """Flags an index after the first axis whose sign only the shapes decide (``n - 1``,
        ``-n``, ``j - n``): the Lua backend's known bug "lua_index_parens"."""
        if axis > 0 and text not in ("0", "-1") and "%" not in text and "//" not in text:
            self.flags.add("index_inner_sign_unknown")
        return text

    def atomic_value(self, t: TensorArg) -> E:
        r = self.rng
        target = t.dtype
        if r.random() < 0.08:
            e = self.cond(1)                        # bool: True adds 1
            self.flags.add("atomic_bool_value")
        else:
            e = self.expr(0, "int" if target in INT_TYPES else r.choice(["float", "int", "num"]))
        if e.t == "wi" and e.bound > 100:           # a Python int must fit a narrow target
            e = self.strong(e)
        if target in INT_TYPES and e.t != "bool" and result_type("{} + {}", target, e.t) != \
                target and r.random() < 0.6:
            return self.cast(e, target)             # an explicit cast wraps in plain Python too
        if self.atomic_sum_ok(target, e.t):
            return e
        if target in INT_TYPES:
            return self.cast(e, r.choice(["int32", "int64", target]))
        halves = [target] if target in ("float16", "bfloat16") else []   # halves: not plain
        to = r.choice(["float32", "float32", "int16", "uint8", "int8"] + halves)
        return self.cast(e, to)

    def atomic_exact_ok(self, target: str, vt: str) -> bool:
        """max/min compare, and cas compares, in the element's type (fp32 for halves);
        Python in the promoted one: the two agree only where that is the element's."""
        held = "float32" if target in ("float16", "bfloat16") else target
        return result_type("{} + {}", held, vt) == held

    def atomic(self, depth, serial=False):
        """``lo.atomic_<op>(t, index, [compare,] value)``, ``op`` the target's own:
        ``t[index] = op(t[index], value)``, atomically; the old value of an exchange or
        a cas in the grid (at the iteration's own point: deterministic) may become a
        local that later statements read."""
        r = self.rng
        t = r.choice(self.atomics)
        op = self.atomic_ops.get(t.name, "add")
        nd = len(self.shape)
        compare = None
        if serial:                                  # after the grid: one plain update
            idx = [self.inner_sign(a, r.choice(["0", "-1", f"{t.name}.shape[{a}] - 1"]))
                   for a in range(nd)]
            opts = [E(str(r.randrange(0, 8)), "wi"), E(r.choice(["0.5", "-2.0"]), "wf")]
            opts += [E(name, ty) for name, ty in self.scalar_types.items()]
            if self.red_op and (t.dtype == "float64" or
                                (self.red_kind == "int" and t.dtype in INT_TYPES)):
                opts.append(E("acc", "int64" if self.red_kind == "int" else "float64"))
            ok = self.atomic_exact_ok if op in ("max", "min") else self.atomic_sum_ok
            value = r.choice([e for e in opts if ok(t.dtype, e.t)] or [E("1", "wi")])
            self.flags.add("atomic_serial")
        else:
            if op in ("exchange", "cas"):           # each element: its own iteration only
                idx = list(self.grid_vars[:nd])
                self.flags.add("atomic_index_own")
            else:
                idx = [self.atomic_index(t, a) for a in range(nd)]
            value = self.atomic_value(t)
            if op in ("max", "min") and not self.atomic_exact_ok(t.dtype, value.t):
                held = "float32" if t.dtype in ("float16", "bfloat16") else t.dtype
                value = self.cast(value, held)
            if self.wrong_atomic and op in ("add", "sub") and r.random() < 0.5:
                # on purpose: a value Python adds in a wider type (every backend refuses it)
                wide = "float32" if t.dtype in INT_TYPES else r.choice(["float64", "int32"])
                if not self.atomic_sum_ok(t.dtype, wide):
                    value = E(f"{CAST_NAME[wide]}({value.text})", wide, value.inexact)
                    self.flags.add("atomic_wider_value")
            if t.dtype in ("int8", "int16", "uint8"):
                self.flags.add("atomic_narrow_int_in_grid")
            if t.dtype in ("float16", "bfloat16") and t.layout == "transposed":
                self.flags.add("atomic_half_transposed")
        if op == "cas":                             # small numbers: the elements' values often
            compare = r.choice(["0", "1", "2"] + (["-1", "0.5"] if t.dtype in FLOAT_TYPES
                                                   else []))
        if len(idx) == 1 and r.random() < 0.7:
            index = idx[0]
        else:
            index = "(" + ", ".join(idx) + ("," if len(idx) == 1 else "") + ")"
        args = f"{t.name}, {index}, " + (f"{compare}, " if compare else "") + value.text
        call = f"lo.atomic_{op}({args})"
        if not serial and op in ("add", "sub") and "atomic_wider_value" not in self.flags \
                and t.dtype not in ("int8", "int16", "uint8") and self.ar.random() < 0.4:
            # the same update written as Python: an array reduction (or, at the
            # iteration's own point, a plain update)
            element = f"{t.name}[{', '.join(idx)}]"
            sign = "+" if op == "add" else "-"
            self.emit(depth, self.ar.choice([f"{element} {sign}= {value.text}",
                                             f"{element} = {element} {sign} ({value.text})"]))
            self.flags.add("array_reduction")
            self.flags.add("atomic")
            self.flags.add("atomic_" + ("int" if t.dtype in INT_TYPES else "float"))
            return
        if op in ("exchange", "cas") and not serial and r.random() < 0.5:
            name = self.fresh("old")                # deterministic: a local to read later
            self.emit(depth, f"{name} = {call}")
            self.scopes[-1][name] = "float32" if t.dtype in ("float16", "bfloat16") else t.dtype
            if value.inexact or t.name in self.inexact_outputs:
                self.inexact_locals.add(name)
            self.flags.add("atomic_old")
        else:
            self.emit(depth, call)
        self.flags.add("atomic")
        self.flags.add(f"atomic_{op}")
        self.flags.add("atomic_" + ("int" if t.dtype in INT_TYPES else "float"))
        if op in ("add", "sub", "exchange", "cas") and t.dtype in INT_TYPES and \
                result_type("{} + {}", t.dtype, value.t) != t.dtype:
            self.flags.add("narrowing_int_store")   # plain numpy raises where the rule wraps
        if value.inexact:
            self.inexact_outputs.add(t.name)

    def stmt(self, depth, nest):
        r = self.rng
        if self.extras and self.fr.random() < 0.2 and self.extra_stmt(depth):
            return
        choices = ["store", "local", "reassign"]
        weights = [4, 3, 2]
        if nest < 2:
            choices += ["if", "range", "while"]
            weights += [2, 2, 1]
        if self.red_op and nest < 2:
            choices.append("reduce")
            weights.append(2)
        if self.atomics:                # only then: other kernels draw exactly as before
            choices.append("atomic")
            weights.append(3)
        kind = r.choices(choices, weights)[0]
        if kind == "store":
            self.store(depth)
        elif kind == "local":
            self.new_local(depth)
        elif kind == "reassign":
            self.reassign(depth)
        elif kind == "if":
            self.if_stmt(depth, nest)
        elif kind == "range":
            self.range_loop(depth, nest)
        elif kind == "while":
            self.while_loop(depth, nest)
        elif kind == "atomic":
            self.atomic(depth)
        else:
            self.reduction_update(depth)

    # --- grids after the first -----------------------------------------------------------
    def reused_name(self, t=None):
        """A private local of the grid before, named again (once) here (for a value of type
        ``t``: while "local_retyped_later" is open, only a name that had that type)."""
        names = self.reusable
        if "local_retyped_later" in self.known:
            names = [n for n in names if self.reusable_types.get(n) == t]
            if not names:
                return None
        name = names[self.rng.randrange(len(names))]
        self.reusable.remove(name)
        self.flags.add("local_name_reuse")
        return name

    def later_grid(self, mr):
        """Another top-level grid after the ones before: it reads anything they wrote (at any
        point: they have finished) but no tensor that it stores itself, may read the scalars
        computed between the grids, and may reduce (into the accumulator again, or a new one)."""
        self.flags.add("multi_grid")
        prev = self.scopes.pop()                # the grid before: its locals are private
        self.reusable = [n for n in prev if n not in self.scopes[0]]
        self.reusable_types = dict(prev)
        written = mr.sample(self.all_outputs, 1 if mr.random() < 0.7 else
                            min(2, len(self.all_outputs)))
        readable = self.base_inputs + [t for t in self.all_outputs if t not in written]
        self.between_grids(mr, readable)
        self.later_reduction(mr)
        nd = len(self.shape)
        m = nd if mr.random() < 0.6 else mr.randint(1, nd)   # a grid over rows: range loops
        reuse = mr.random() < 0.5
        gvars = ["i", "j", "k", "l"][:m] if reuse else [self.fresh("g") for _ in range(m)]
        if reuse:
            self.flags.add("grid_var_reuse")
        if m < nd:
            self.flags.add("grid_over_rows")
        args = ", ".join(f"{mr.choice(self.tensors).name}.shape[{a}]" for a in range(m))
        top = 1
        if random.Random(self.seed * 1000003 + 53).random() < 0.3:   # time steps
            self.flags.add("grid_in_step_loop")
            self.emit(1, f"for {self.fresh('step')} in range(2):")
            top = 2
        self.emit(top, f"for {', '.join(gvars)} in lo.grid({args}):")
        depth = top + 1
        for a in range(m, nd):
            q = self.fresh("q")
            self.emit(depth, f"for {q} in range(out0.shape[{a}]):")
            gvars.append(q)
            depth += 1
        self.grid_body(mr, depth, gvars, readable, written)

    def grid_body(self, mr, depth, gvars, readable, written):
        self.grid_vars, self.inputs, self.outputs = gvars, readable, written
        self.scopes.append({})
        self.frozen, self.later = set(self.scopes[0]), True
        n_red, max_depth = len(self.red_terms), self.max_depth
        self.max_depth = 2                      # short: numba's compile time grows fast
        for _ in range(self.rng.randint(1, 2)):
            self.stmt(depth, 1)
        if self.red_op and len(self.red_terms) == n_red:
            self.reduction_update(depth)
        scaled = [(n, t) for n, t in self.scopes[0].items() if t in ALL_TYPES]
        if scaled and readable and mr.random() < 0.5:
            self.scaled_store(depth, *self.rng.choice(scaled))
        self.store(depth)
        self.frozen, self.later, self.max_depth = set(), False, max_depth

    def scaled_store(self, depth, name, t):
        """``out[i] = y[...] / s``: a tensor an earlier grid wrote, scaled by a scalar computed
        after it (a sum, then a normalisation)."""
        src = self.rng.choice(self.inputs)
        a = E(self.any_index(src), src.dtype, src.name in self.inexact_outputs)
        op = self.rng.choice(["/", "*", "-"])
        self.store(depth, E(f"({a.text} {op} {name})", result_type("{} %s {}" % op, a.t, t),
                            a.inexact or name in self.inexact_locals))

    def between_grids(self, mr, readable):
        """Serial statements at the top level: a scalar from the reduction so far, new or
        reassigned locals (perhaps named like the grid before's private ones), serial loops
        that read single elements."""
        if self.acc_name and mr.random() < 0.7:
            self.acc_local()
        saved = self.grid_vars, self.inputs, self.atomics
        nd = len(self.shape)
        last = ["0" if 0 in self.shape else f"(out0.shape[{a}] - 1)" for a in range(nd)]
        self.grid_vars = [mr.choice(["0", last[a]]) for a in range(nd)]   # single elements
        self.inputs = readable if 0 not in self.shape else []
        self.atomics = []
        self.serial = True
        for _ in range(mr.choice([0, 0, 1, 2])):
            self.flags.add("serial_between_grids")
            self.serial_stmt(mr)
        self.grid_vars, self.inputs, self.atomics = saved
        self.serial = False

    def serial_stmt(self, mr):
        kind = mr.choice(["local", "local", "reassign", "range", "while"])
        if kind == "local":
            self.new_local(1)
        elif kind == "reassign":
            self.reassign(1)
        elif kind == "range":
            self.range_loop(1, 1)
        else:
            self.while_loop(1, 1)

    def acc_local(self):
        """``a = lo.float64(acc)``: the reduction's result as a scalar the next grid reads;
        inexact where the reduction reassociates float terms."""
        kind, op, _ = self.acc_red
        t = "int64" if kind == "int" else "float64"
        name = self.reused_name(t) if self.reusable and self.chance(0.3) else None
        name = name or self.fresh("a")
        self.emit(1, f"{name} = {CAST_NAME[t]}({self.acc_name})")
        self.scopes[0][name] = t
        if any(e.inexact for e in self.red_terms) or kind == "float" and op in ("+=", "*="):
            self.inexact_locals.add(name)

    def later_reduction(self, mr):
        """This grid reduces into the accumulator again (same operator), into a new one
        (perhaps named ``acc`` again), or not at all (the accumulator keeps its value)."""
        k = mr.random()
        if self.acc_name and k < 0.25:
            self.flags.add("reduction_continued")
            self.red_kind, self.red_op, self.red_t = self.acc_red
            return
        if k > (0.6 if self.acc_name else 0.5):
            self.red_op = None                  # no reduction in this grid
            return
        self.red_kind = self.rng.choice(["int", "float"])
        self.red_op = self.rng.choice(["+=", "+=", "*=", "min", "max", "lo.minimum",
                                       "lo.maximum"])
        init, _ = self.init_for(self.red_op, self.red_kind)
        self.red_t = "int64" if self.red_kind == "int" else "float32"
        self.acc_red = self.red_kind, self.red_op, self.red_t
        if self.acc_name == "acc" and mr.random() < 0.5:
            self.flags.add("acc_name_reuse")
        else:
            self.acc_name = self.fresh("acc")
        self.flags.add("reduction")
        self.flags.add(f"reduction_{self.red_kind}_{self.red_op}")
        if self.red_op in ("min", "max"):
            self.flags.add("seq_builtin_minmax")
        self.emit(1, f"{self.acc_name} = {init}")

    # --- device functions (@lo.func), tuples, len -----------------------------------------
    def def_funcs(self):
        """About 25% of kernels get device functions (defined before the kernel, drawn from a
        stream of their own: other kernels are drawn exactly as before), tuple assignments and
        swaps, shape unpacking and len()."""
        fr = self.fr
        self.shape_unpack = False
        if fr.random() >= 0.25:
            return
        self.extras = True
        self.shape_unpack = fr.random() < 0.4
        self.swaps = fr.random() < 0.6
        if fr.random() < 0.15:                 # tuples, swaps and len only
            return
        self.calls_left = fr.randint(1, 3)
        for _ in range(1 if fr.random() < 0.5 else 2):
            kind = fr.choices(FUNC_KINDS, FUNC_WEIGHTS)[0]
            if kind == "nested" and not any(f.kind in VALUE_KINDS for f in self.funcs):
                self.def_func(fr.choice(["expr", "branch", "kw"]))   # its callee first
            self.def_func(kind)

    def def_func(self, kind):
        fr = self.fr
        nd = len(self.shape)
        name = f"fn{len(self.funcs) + 1}"
        f = DevFunc(name, kind, [])
        names = fr.sample(PARAM_NAMES, nd + 3)
        body = []
        if kind in VALUE_KINDS + ("tuple",):
            n = fr.randint(1, 2)
            f.params = [(p, fr.choices(PARAM_TYPES, PARAM_WEIGHTS)[0]) for p in names[:n]]
            if kind == "kw":
                dt = fr.choice(["wi", "wf"])
                f.default = names[n]
                f.params.append((f.default, dt))
                dv = str(fr.randint(1, 3)) if dt == "wi" else fr.choice(["0.5", "2.0", "-1.5"])
            if any(t in ("float16", "bfloat16") for _, t in f.params):
                self.flags.add("half")          # a half parameter: exception 3
            saved = self.enter_func(f.params)
            try:
                body = self.func_body(f, names[n + 1])
            finally:
                self.leave_func(saved)
            sig = ", ".join(p if p != f.default else f"{p}={dv}" for p, _ in f.params)
        elif kind == "proc":
            f.params = [(names[0], "tensor")] + [(p, "wi") for p in names[1:nd + 1]] + \
                [(names[nd + 1], "value")]
            idx = ", ".join(names[1:nd + 1])
            body = [f"{names[0]}[{idx}] = {names[nd + 1]}"]
            if fr.random() < 0.4:
                f.returns_value = True
                body.append(f"return {names[nd + 1]}")
            sig = ", ".join(p for p, _ in f.params)
        elif kind == "guarded":
            f.params = [(names[0], "tensor")] + [(p, "wi") for p in names[1:nd + 1]]
            f.axis = fr.randrange(nd)
            f.template = fr.choice(["{}", "{} * 2", "abs({})", "{} + 1", "-{}"])
            read = f"{names[0]}[{', '.join(names[1:nd + 1])}]"
            body = [f"return {f.template.format(read)}"]
            sig = ", ".join(p for p, _ in f.params)
        else:                                   # loop: over the last axis
            t, s, k = names[0], names[nd], names[nd + 1]
            f.params = [(t, "tensor")] + [(p, "wi") for p in names[1:nd]]
            f.init = (("lo.int64(0)", "int64"), ("lo.float64(0.0)", "float64"),
                      ("0", "wi"), ("0.0", "wf"))[fr.randrange(4)]
            idx = ", ".join(names[1:nd] + [k])
            body = [f"{s} = {f.init[0]}", f"for {k} in range({t}.shape[{nd - 1}]):",
                    f"    {s} += {t}[{idx}]", f"return {s}"]
            sig = ", ".join(p for p, _ in f.params)
        self.func_lines += ["@lo.func", f"def {name}({sig}):"] + \
            ["    " + line for line in body] + ["", ""]
        self.funcs.append(f)

    def enter_func(self, params):
        saved = (self.rng, self.scopes, self.inputs, self.grid_vars, self.range_vars,
                 self.scalar_types, self.inexact_locals, self.later, self.max_depth,
                 self.in_func)
        self.rng, self.scopes = self.fr, [{p: t for p, t in params}]
        self.inputs, self.grid_vars, self.range_vars, self.scalar_types = [], [], [], {}
        self.inexact_locals, self.later, self.max_depth, self.in_func = set(), False, 2, True
        return saved

    def leave_func(self, saved):
        (self.rng, self.scopes, self.inputs, self.grid_vars, self.range_vars,
         self.scalar_types, self.inexact_locals, self.later, self.max_depth,
         self.in_func) = saved

    def func_body(self, f, local) -> list:
        """The lines of a scalar device function's body; sets ``f.ret``."""
        r = self.rng
        lines = []
        if r.random() < 0.3:                    # a local of its own (renamed when inlined)
            e = self.strong(self.expr(1, r.choice([None, "int", "float"])))
            lines.append(f"{local} = {e.text}")
            self.scopes[-1][local] = e.t
            if e.inexact:
                self.inexact_locals.add(local)

        scalars = [(p, t) for p, t in f.params if p != f.default]
        if r.random() < 0.35:                   # a parameter assigned: the caller's local
            p, t = r.choice(scalars)            # passed to it keeps its value
            if t == "wi":
                lines.append(f"{p} += {r.randint(1, 3)}")
            elif t == "wf":
                lines.append(f"{p} = {p} * {r.choice(['0.5', '-2.0'])}")
            else:
                e = self.cast(self.expr(1, "int" if t in INT_TYPES else "num", True), t)
                lines.append(f"{p} = {e.text}")
            f.assigns_param = True

        def value(want=None):
            e = self.expr(0, want)
            return self.cast(e, "int32") if e.t == "bool" else e

        if f.kind == "tuple":
            a, b = value(), value()
            if r.random() < 0.5:                # else weak Python numbers, perhaps
                a, b = self.strong(a), self.strong(b)
            f.ret = [a, b]
            return lines + [f"return {a.text}, {b.text}"]
        if f.kind == "branch":
            c = self.cond(1)
            a = self.strong(value())
            b = self.cast(value(), a.t)
            f.ret = [E("", a.t, a.inexact or b.inexact)]
            if r.random() < 0.5:
                return lines + [f"if {c.text}:", f"    return {a.text}",
                                "else:", f"    return {b.text}"]
            return lines + [f"if {c.text}:", f"    return {a.text}", f"return {b.text}"]
        if f.kind == "kw":
            p, t = f.params[-1]
            e = self.arith(value("num"), E(p, t, bound=5))
        elif f.kind == "nested":
            g = r.choice([g for g in self.funcs if g.kind in VALUE_KINDS])
            e = self.arith(self.call_value(g, 1), value("num"))
        else:
            e = value(r.choice([None, "int", "float"]))
        f.ret = [e]
        return lines + [f"return {e.text}"]

    def arith(self, a: E, b: E) -> E:
        """``a op b`` (+ - *) by the generator's typing rules."""
        op = self.rng.choice(["+", "-", "*"])
        if a.t == "bool":
            a = self.cast(a, "int32")
        if b.t == "bool":
            b = self.cast(b, "int32")
        if a.t == "wi" and b.t == "wi":
            if op == "-" or a.bound * max(b.bound, 1) > 60:
                op = "+"
            bound = a.bound + b.bound if op == "+" else a.bound * b.bound
            return E(f"({a.text} {op} {b.text})", "wi", bound=bound)
        if a.t in ("wi", "wf") and b.t in ("wi", "wf"):
            a = self.strong(a)
        t = result_type("{} " + op + " {}", a.t, b.t)
        return E(f"({a.text} {op} {b.text})", t, a.inexact or b.inexact)

    # call sites
    def weak_names(self, t):
        return [n for n, ty in {**self.locals(), **self.scalar_types}.items() if ty == t]

    def arg_for(self, t, depth) -> str:
        """An argument of type ``t`` (exact: device functions may compare their parameters)."""
        r = self.rng
        if t == "wi":
            opts = [str(r.randrange(0, 6))] + self.weak_names("wi")
            if self.grid_vars and not self.in_func:
                g = self.loopvar(r.choice(self.grid_vars), 5)
                if g.t == "wi":
                    opts.append(g.text)
            return r.choice(opts)
        if t == "wf":
            return r.choice([r.choice(["0.5", "2.0", "-1.25", "0.0"])] + self.weak_names("wf"))
        same = [n for n in self.weak_names(t) if n not in self.inexact_locals]
        if same and r.random() < 0.4:
            return r.choice(same)
        e = self.expr(depth + 1, "int" if t in INT_TYPES else "num", True)
        return self.cast(e, t).text

    def call_text(self, f, args: list) -> str:
        """``f(...)`` with ``args`` [(param, text)]: the last ones by keyword now and then
        (in any order), a defaulted parameter left out or passed."""
        r = self.fr
        pos, kw = list(args), []
        if f.default and r.random() < 0.4:
            pos = [a for a in pos if a[0] != f.default]       # the default
            self.flags.add("func_default")
        if len(pos) > 1 and r.random() < 0.3:
            n = r.randint(1, len(pos))
            pos, kw = pos[:-n], pos[-n:]
            r.shuffle(kw)
            self.flags.add("func_kwarg")
        elif f.default and any(a[0] == f.default for a in pos) and r.random() < 0.5:
            kw = [pos.pop()]
            self.flags.add("func_kwarg")
        parts = [v for _, v in pos] + [f"{p}={v}" for p, v in kw]
        return f"{f.name}({', '.join(parts)})"

    def called(self, f):
        self.calls_left = max(0, self.calls_left - 1)
        self.flags.add("device_func")
        self.flags.add("func_procedure" if f.kind == "proc" else f"func_{f.kind}")

    def call_value(self, f, depth) -> E:
        """A call of a scalar device function."""
        args = [(p, self.arg_for(t, depth)) for p, t in f.params]
        if not self.in_func:
            self.called(f)
        e = f.ret[0]
        return E(self.call_text(f, args), e.t, e.inexact, e.bound)

    def readable(self, exact=False):
        return [t for t in self.inputs if not (exact and t.name in self.inexact_outputs)]

    def guarded_call(self, f, index=None, exact=False):
        """(call, guard, its negation): ``f(t, ..., g + 1, ...)`` reads ``t`` out of range
        unless the guard holds (``index``: instead of ``g + 1``, guarded the same way)."""
        ts = self.readable(exact)
        if not ts:
            return None
        t = self.rng.choice(ts)
        a = f.axis
        idx = list(self.grid_vars)
        idx[a] = index or f"{idx[a]} + 1"
        n = f"{t.name}.shape[{a}]"
        self.called(f)
        self.flags.add("func_lazy")
        call = E(f"{f.name}({t.name}, {', '.join(idx)})", result_type(f.template, t.dtype),
                 t.name in self.inexact_outputs)
        return call, f"{idx[a]} < {n}", f"{idx[a]} >= {n}"

    def guarded_cond(self, f, depth, index=None):
        got = self.guarded_call(f, index, exact=True)
        if got is None:
            return None
        call, guard, neg = got
        cmp = self.compare(call, depth)
        if self.fr.random() < 0.5:
            return f"({guard} and {cmp})"
        return f"({neg} or {cmp})"

    def loop_call(self, f, exact=False):
        """``f(t, i, ...)``: ``t`` summed along its last axis, into an accumulator whose
        kind (int or float) the element's matches (so its type never changes)."""
        ints = f.init[1] in ("int64", "wi")
        ts = [t for t in self.readable(exact) if (t.dtype in INT_TYPES) == ints]
        if not ts:
            return None
        t = self.rng.choice(ts)
        nd = len(self.shape)
        self.called(f)
        if is_float(t.dtype):
            self.flags.add("seq_float_accum")
        rt = widen(result_type("{} + {}", f.init[1], t.dtype))
        args = ", ".join([t.name] + list(self.grid_vars[:nd - 1]))
        return E(f"{f.name}({args})", rt, t.name in self.inexact_outputs)

    def compare(self, e: E, depth) -> str:
        b = self.expr(depth + 1, "num", True)
        return f"({e.text} {self.rng.choice(['<', '<=', '>', '>=', '==', '!='])} {b.text})"

    def call_expr(self, depth, want, exact):
        """A call in an expression: plain, or the lazy branch of a conditional expression."""
        fr = self.fr
        opts = [f for f in self.funcs if f.kind in VALUE_KINDS + ("guarded", "loop")
                and not (exact and f.ret and f.ret[0].inexact)]
        if not opts:
            return None
        f = fr.choice(opts)
        if f.kind == "guarded":
            got = self.guarded_call(f, exact=exact)
            if got is None:
                return None
            call, guard, _ = got
            alt = self.cast(self.expr(depth + 1, want or "num", exact), call.t)
            e = E(f"({call.text} if {guard} else {alt.text})", call.t,
                  call.inexact or alt.inexact)
            return self.check(e, want)
        e = self.loop_call(f, exact) if f.kind == "loop" else self.call_value(f, depth)
        if e is None:
            return None
        if fr.random() < 0.25:                  # an ordinary call as a lazy operand
            self.flags.add("func_lazy")
            e = self.strong(e)
            c = self.cond(depth + 1)
            alt = self.cast(self.expr(depth + 1, want or "num", exact), e.t)
            if fr.random() < 0.5:
                e = E(f"({e.text} if {c.text} else {alt.text})", e.t, e.inexact or alt.inexact)
            else:
                e = E(f"({alt.text} if {c.text} else {e.text})", e.t, e.inexact or alt.inexact)
        return self.check(e, want)

    def call_cond(self, depth):
        """A condition with a call: compared, perhaps a lazy operand of and/or (a guarded
        reader always is; a procedure that returns what it stored is, when it is one)."""
        fr = self.fr
        opts = [f for f in self.funcs if f.kind in ("guarded", "loop")
                or f.kind in VALUE_KINDS and not f.ret[0].inexact
                or f.kind == "proc" and f.returns_value and not self.serial]
        if not opts:
            return None
        f = fr.choice(opts)
        if f.kind == "guarded":
            text = self.guarded_cond(f, depth)
            return None if text is None else E(text, "bool")
        if f.kind == "proc":                    # stores only when Python evaluates it
            out = self.rng.choice(self.outputs)
            v = self.store_value(out, exact=True)
            call = self.proc_call(f, out, v)
            self.flags.add("func_lazy")
            self.flags.add("func_lazy_store")
            if v.inexact:
                self.inexact_outputs.add(out.name)
            c = self.cond(depth + 1)
            return E(f"({c.text} {fr.choice(['and', 'or'])} {self.compare(E(call, v.t), depth)})",
                     "bool")
        e = self.loop_call(f, True) if f.kind == "loop" else self.call_value(f, depth)
        if e is None:
            return None
        cmp = self.compare(e, depth)
        if fr.random() < 0.4:
            self.flags.add("func_lazy")
            c = self.cond(depth + 1)
            return E(f"({c.text} {fr.choice(['and', 'or'])} {cmp})", "bool")
        return E(cmp, "bool")

    def proc_call(self, f, out, e: E) -> str:
        self.called(f)
        args = [(f.params[0][0], out.name)] + \
            [(p, g) for (p, _), g in zip(f.params[1:-1], self.grid_vars)] + \
            [(f.params[-1][0], e.text)]
        return self.call_text(f, args)

    def func_stmt(self, depth, f):
        """A statement that calls ``f``."""
        if f.kind == "proc":
            out = self.rng.choice(self.outputs)
            e = self.store_value(out)
            self.emit(depth, self.proc_call(f, out, e))
            if e.inexact:
                self.inexact_outputs.add(out.name)
            return
        if f.kind == "tuple":
            names = [self.fresh() for _ in f.ret]
            args = [(p, self.arg_for(t, 0)) for p, t in f.params]
            self.called(f)
            self.emit(depth, f"{', '.join(names)} = {self.call_text(f, args)}")
            for n_, e in zip(names, f.ret):
                self.scopes[-1][n_] = e.t
                if e.inexact:
                    self.inexact_locals.add(n_)
            self.flags.add("func_tuple")
            return
        if f.kind == "guarded":
            got = self.guarded_call(f)
            if got is None:
                return self.store(depth)
            call, guard, _ = got
            alt = self.cast(self.expr(1, "num"), call.t)
            e = E(f"({call.text} if {guard} else {alt.text})", call.t,
                  call.inexact or alt.inexact)
        elif f.kind == "loop":
            e = self.loop_call(f)
            if e is None:
                return self.store(depth)
        else:
            e = self.call_value(f, 0)
        e = self.strong(e)
        name = self.fresh()
        self.emit(depth, f"{name} = {e.text}")
        self.scopes[-1][name] = e.t
        if e.inexact:
            self.inexact_locals.add(name)

    def call_flags(self, source: str):
        """The device-function flags, from the kernel's text: an expression the generator
        built may have been dropped (an inexact float cast to an int is a constant)."""
        import ast
        for fl in list(self.flags):
            if fl.startswith("func_") or fl == "device_func":
                self.flags.discard(fl)
        kinds = {f.name: f for f in self.funcs}
        tree = ast.parse(source)
        kern = next(n for n in tree.body if isinstance(n, ast.FunctionDef)
                    and n.name not in kinds)
        lazy = set()
        for n in ast.walk(kern):
            later = []
            if isinstance(n, ast.BoolOp):
                later = n.values[1:]
            elif isinstance(n, ast.IfExp):
                later = [n.body, n.orelse]
            elif isinstance(n, ast.While):
                later = [n.test]
                if any(isinstance(c, ast.Call) and getattr(c.func, "id", None) in kinds
                       for c in ast.walk(n.test)):
                    self.flags.add("func_while")
            for sub in later:
                lazy |= {id(c) for c in ast.walk(sub) if isinstance(c, ast.Call)}
            if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Tuple) and \
                    isinstance(n.value, ast.Call) and getattr(n.value.func, "id", "") in kinds:
                self.flags.add("func_tuple")
        for c in ast.walk(kern):
            f = kinds.get(getattr(c.func, "id", None)) if isinstance(c, ast.Call) else None
            if f is None:
                continue
            self.flags.add("device_func")
            self.flags.add("func_procedure" if f.kind == "proc" else f"func_{f.kind}")
            if c.keywords:
                self.flags.add("func_kwarg")
            if f.assigns_param:
                self.flags.add("func_param_assign")
            if f.default and len(c.args) + len(c.keywords) < len(f.params):
                self.flags.add("func_default")
            if f.kind == "loop" and f.init[1] in ("wi", "wf"):
                self.flags.add("weak_acc_init")   # exception 4: plain Python does not widen
            if id(c) in lazy:
                self.flags.add("func_lazy")
                if f.kind == "proc":
                    self.flags.add("func_lazy_store")

    def extra_stmt(self, depth, kind=None) -> bool:
        """A tuple-unpacking call, a swap ``a, b = b, a``, a tuple assignment or a shape
        unpacking."""
        fr = self.fr
        opts = ["tuple_assign", "shape"]
        tuples = [f for f in self.funcs if f.kind == "tuple"]
        if tuples and self.calls_left:
            opts += ["tuple"] * 3
        pairs = []
        if self.swaps:
            locs = [(n, t) for n, t in self.locals().items() if t in ALL_TYPES
                    and n not in self.frozen]
            pairs = [(a, b) for a in locs for b in locs if a[0] < b[0] and a[1] == b[1]]
            opts += ["swap"] * (4 if pairs else 0)
        kind = kind or fr.choice(opts)
        if kind == "swap" and not pairs:
            return False
        if kind == "tuple":
            self.func_stmt(depth, fr.choice(tuples))
        elif kind == "swap":
            (a, _), (b, _) = fr.choice(pairs)
            if fr.random() < 0.5:
                a, b = b, a
            self.emit(depth, f"{a}, {b} = {b}, {a}")
            if a in self.inexact_locals or b in self.inexact_locals:
                self.inexact_locals |= {a, b}
            self.flags.add("tuple_swap")
        elif kind == "tuple_assign":
            es = [self.strong(self.expr(1, fr.choice([None, "int", "float"])))
                  for _ in range(2)]
            es = [self.cast(e, "int32") if e.t == "bool" else e for e in es]
            if self.swaps:
                es[1] = self.cast(es[1], es[0].t)     # a pair to swap later
            names = [self.fresh() for _ in es]
            self.emit(depth, f"{', '.join(names)} = {', '.join(e.text for e in es)}")
            for n_, e in zip(names, es):
                self.scopes[-1][n_] = e.t
                if e.inexact:
                    self.inexact_locals.add(n_)
            self.flags.add("tuple_assign")
        else:
            t = self.rng.choice(self.tensors)
            nd = len(self.shape)
            names = [self.fresh("n") for _ in range(nd)]
            self.emit(depth, f"{', '.join(names)}{',' if nd == 1 else ''} = {t.name}.shape")
            for n_ in names:
                self.scopes[-1][n_] = "wi"
            self.flags.add("shape_unpack")
        return True

    # --- the whole kernel ---------------------------------------------------------------
    def generate(self) -> GenKernel:
        r = self.rng
        nd = r.choice([1, 1, 2, 2, 2, 3])
        shape = tuple(r.choice([1, 2, 3, 4, 5]) for _ in range(nd))
        if r.random() < 0.03:
            shape = (0,) + shape[1:]
        if nd == 3 and random.Random(self.seed * 1000003 + 43).random() < 0.25:
            shape, nd = shape + (2,), 4        # a 4-D grid (a stream of its own)
            self.flags.add("grid_4d")
        self.shape = shape
        self.max_depth = r.choice([2, 3, 3])
        layouts = ["contiguous", "strided", "reversed"] + (["transposed"] if nd >= 2 else [])
        edge_p = r.choice([0.0, 0.1, 0.25])
        types_pool = r.sample(BASE_TYPES, r.randint(2, 4))
        if self.unsigned:              # one unsigned type in place of one drawn (its own stream)
            types_pool[self.ur.randrange(len(types_pool))] = self.ur.choice(UNSIGNED_TYPES)
            self.flags.add("unsigned")
        self.inputs = [TensorArg(f"x{n}", r.choice(types_pool), r.choice(layouts), False,
                                 edge_p) for n in range(r.randint(1, 3))]
        self.outputs = [TensorArg(f"out{n}", r.choice(types_pool), r.choice(layouts), True,
                                  edge_p, r.choice(["zeros", "random"]))
                        for n in range(r.randint(1, 2))]
        # lo.atomic_add targets: tensors of their own, decided by a separate stream so that
        # kernels without atomics are drawn exactly as before
        ar = random.Random(self.seed * 1000003 + 17)
        self.atomics = []
        self.atomic_ops = {}
        self.wrong_atomic = False
        if ar.random() < 0.3:
            no = len(self.outputs)
            self.atomics = [TensorArg(f"out{no + n}", ar.choices(ATOMIC_TYPES, ATOMIC_WEIGHTS)[0],
                                      ar.choice(layouts), True, edge_p,
                                      ar.choice(["zeros", "zeros", "random"]))
                            for n in range(1 if ar.random() < 0.75 else 2)]
            self.wrong_atomic = ar.random() < 0.05
            self.serial_atomic = ar.random() < 0.2 and 0 not in shape
            # one operation per target, so that its final state does not depend on the
            # order of the grid's iterations (add and sub commute; so do max and min
            # apart, with NaN propagating; exchange and cas update only their own point)
            self.atomic_ops = {t.name: ar.choices(ATOMIC_OPS, ATOMIC_OP_WEIGHTS)[0]
                               for t in self.atomics}
        # several grids in sequence: a stream of their own too (kernels with one grid are
        # drawn exactly as before); a later grid may store into an output of its own
        mr = random.Random(self.seed * 1000003 + 29)
        n_later = 0 if mr.random() >= 0.3 else 1 if mr.random() < 0.85 else 2
        later_outputs = []
        if n_later and mr.random() < 0.7:
            later_outputs = [TensorArg(f"out{len(self.outputs) + len(self.atomics)}",
                                       mr.choice(types_pool), mr.choice(layouts), True, edge_p,
                                       mr.choice(["zeros", "random"]))]
        # an output the kernel makes itself (lo.zeros...) and returns: a stream of its own
        self.kr = random.Random(self.seed * 1000003 + 41)
        self.made = []
        if self.kr.random() < 0.2:
            self.made = [self.outputs[-1]]
            self.made[0].layout, self.made[0].init = "contiguous", "zeros"
        self.base_inputs, self.all_outputs = self.inputs, self.outputs + later_outputs
        self.tensors = self.inputs + self.outputs + self.atomics   # later_outputs: after grid 1
        if "numba_int64_wrap" in self.known:
            for t in self.tensors + later_outputs:
                t.int64_extremes = False
        for t in self.tensors + later_outputs:
            if t.layout != "contiguous":
                self.flags.add("layout_" + t.layout)
            self.flags.add("dtype_" + t.dtype)
            if t.dtype in ("float16", "bfloat16"):
                self.flags.add("half")
        scalars = []
        self.scalar_types = {}
        if r.random() < 0.4:
            kind = r.choice(["int", "float", "f32", "i16"])
            value = {"int": r.randrange(0, 6), "float": r.choice([0.5, -1.25, 2.0]),
                     "f32": np.float32(r.choice([0.5, -3.0])),
                     "i16": np.int16(r.choice([-7, 3]))}[kind]
            t = {"int": "wi", "float": "wf", "f32": "float32", "i16": "int16"}[kind]
            scalars.append(("s0", value))
            self.scalar_types["s0"] = t
        self.grid_vars = ["i", "j", "k", "l"][:nd]
        self.inexact_locals = set()
        self.inexact_outputs = set()
        self.red_terms = []
        self.red_op = None
        if r.random() < 0.5:
            self.red_kind = r.choice(["int", "float"])
            self.red_op = r.choice(["+=", "+=", "*=", "min", "max", "lo.minimum", "lo.maximum"])
            init, init_t = self.init_for(self.red_op, self.red_kind)
            self.red_t = "int64" if self.red_kind == "int" else "float32"
            self.flags.add("reduction")
            self.flags.add(f"reduction_{self.red_kind}_{self.red_op}")
            if self.red_op in ("min", "max"):  # Python's max returns an operand: its type
                self.flags.add("seq_builtin_minmax")
        self.def_funcs()
        self.scopes = [{}]
        self.complex_tensors = self.complex_args(layouts, edge_p)
        params = [t.name for t in self.tensors + later_outputs if t not in self.made] + \
            [t.name for t in self.complex_tensors] + [s[0] for s in scalars]
        name = f"fuzz_{self.seed}"
        self.emit(0, f"def {name}({', '.join(params)}):")
        for t in self.made:
            self.emit(1, f"{t.name} = {self.made_call(t)}")
        if self.red_op:
            self.emit(1, f"acc = {init}")
            self.acc_name, self.acc_red = "acc", (self.red_kind, self.red_op, self.red_t)
        grid_args = ", ".join(f"out0.shape[{a}]" for a in range(nd))
        if self.shape_unpack:                  # n1, m2 = x0.shape: weak Python ints
            t = self.fr.choice(self.tensors)
            names = [self.fresh("n") for _ in range(nd)]
            self.emit(1, f"{', '.join(names)}{',' if nd == 1 else ''} = {t.name}.shape")
            self.flags.add("shape_unpack")
            for n_ in names:
                self.scopes[0][n_] = "wi"
            if self.fr.random() < 0.5:
                grid_args = ", ".join(names)
        self.emit(1, f"for {', '.join(self.grid_vars)} in lo.grid({grid_args}):")
        self.scopes.append({})
        la = random.Random(self.seed * 1000003 + 47)     # local arrays: a stream of their own
        if la.random() < 0.2:
            self.local_array(2, la)
        for _ in range(r.randint(1, 5)):
            self.stmt(2, 0)
        if self.red_op and not self.red_terms:
            self.reduction_update(2)
        for f in self.funcs:                   # every device function is called
            if not any(f"{f.name}(" in line for line in self.lines):
                self.func_stmt(2, f)
        if self.swaps and "tuple_swap" not in self.flags:
            self.extra_stmt(2, "tuple_assign")
            self.extra_stmt(2, "swap")
        self.store(2)                          # every kernel stores something
        if self.atomics and "atomic" not in self.flags:
            self.atomic(2)                     # and updates its atomic targets
        if self.atomics and self.serial_atomic:
            self.atomic(1, serial=True)
        self.local_arrays = []                 # they end with the first grid
        self.tensors += later_outputs
        for _ in range(n_later):
            self.later_grid(mr)
        if self.complex_tensors:
            self.complex_grid()
            self.tensors += self.complex_tensors
        returns = self.returns()
        if returns:
            self.emit(1, f"return {', '.join(text for _, text in returns)}")
        elif self.acc_name:
            self.emit(1, f"return {self.acc_name}")
        if self.inexact_outputs or self.inexact_locals or any(t.inexact for t in self.red_terms):
            self.flags.add("inexact")
        if any(t.inexact for t in self.red_terms):
            self.flags.add("inexact_reduction")
        source = "\n".join(self.func_lines + self.lines) + "\n"
        if self.funcs:
            self.call_flags(source)
        atomic_float = tuple(t.name for t in self.atomics if t.dtype in FLOAT_TYPES)
        return GenKernel(self.seed, name, source, shape,
                         [t for t in self.tensors if t not in self.made], scalars, params,
                         self.flags, atomic_float, tuple(n for n, _ in returns))

    # --- complex values (a stream of their own: kernels without them are drawn as before) -----
    def complex_args(self, layouts, edge_p) -> list:
        """``zin`` (complex input), ``zout`` (complex output) and perhaps ``zre`` (a real
        output), for a last grid of complex arithmetic (:meth:`complex_grid`)."""
        self.cr = cr = random.Random(self.seed * 1000003 + 73)
        if cr.random() >= 0.15:
            return []
        no = len(self.outputs) + len(self.atomics) + 2
        ts = [TensorArg("zin", cr.choice(COMPLEX_TYPES), cr.choice(layouts), False, edge_p),
              TensorArg(f"out{no}", cr.choice(COMPLEX_TYPES), cr.choice(layouts), True, edge_p,
                        cr.choice(["zeros", "random"]))]
        if cr.random() < 0.6:
            ts.append(TensorArg(f"out{no + 1}", cr.choice(["float32", "float64"]),
                                cr.choice(layouts), True, edge_p))
        for t in ts:
            self.flags.add("dtype_" + t.dtype)
        self.flags.add("complex")
        return ts

    def complex_grid(self) -> None:
        """A grid of complex arithmetic over the kernel's shape, storing at its own point:
        ``+ - * /``, conj, parts, abs and exp (inexact), complex literals, real tensors of
        any type, comparisons (of exact values only) and a complex local updated in an if."""
        cr, g = self.cr, self.grid_vars
        here = ", ".join(g)
        zin, zout = self.complex_tensors[0].name, self.complex_tensors[1].name
        self.emit(1, f"for {here} in lo.grid({', '.join(f'{zin}.shape[{a}]' for a in range(len(g)))}):")
        c1 = self.cexpr(cr, here, 3)
        self.emit(2, f"c1 = {c1.text}")
        if cr.random() < 0.5:
            cond = self.ccond(cr, here, c1)
            if cond:
                self.emit(2, f"if {cond}:")
                c2 = self.cexpr(cr, here, 2)
                self.emit(3, f"c1 = c1 {cr.choice(['*', '+', '/', '-'])} ({c2.text})")
                c1 = E("c1", c1.t, c1.inexact or c2.inexact)
        self.emit(2, f"{zout}[{here}] = {cr.choice(['c1', 'lo.conj(c1)', 'c1 * 0.5j'])}")
        inexact = c1.inexact
        if len(self.complex_tensors) == 3:
            part = cr.choice([f"c1.real", f"c1.imag", f"abs(c1)", f"lo.real(c1) - {zin}[{here}].imag"])
            inexact |= part.startswith("abs")
            self.emit(2, f"{self.complex_tensors[2].name}[{here}] = {part}")
        if inexact:
            self.flags.add("inexact")

    def cexpr(self, cr, here: str, depth: int) -> E:
        zin = self.complex_tensors[0].name
        if depth == 0 or cr.random() < 0.3:
            kind = cr.choice(["z", "z", "x", "lit", "lit"])
            if kind == "z" or not self.base_inputs:
                return E(f"{zin}[{here}]", "c")
            if kind == "x":
                return E(f"{cr.choice(self.base_inputs).name}[{here}]", "c")
            return E(cr.choice(["2j", "(1.5-0.5j)", "0.25", "3", "(-1+2j)"]), "c")
        kind = cr.choice(["bin", "bin", "bin", "conj", "neg", "exp"])
        if kind == "bin":
            a, b = self.cexpr(cr, here, depth - 1), self.cexpr(cr, here, depth - 1)
            op = cr.choice(["+", "-", "*", "/"])
            return E(f"({a.text} {op} {b.text})", "c", a.inexact or b.inexact)
        a = self.cexpr(cr, here, depth - 1)
        if kind == "conj":
            return E(cr.choice([f"lo.conj({a.text})", f"({a.text}).conjugate()",
                                f"np.conj({a.text})"]), "c", a.inexact)
        if kind == "neg":
            return E(f"(-{a.text})", "c", a.inexact)
        self.flags.add("complex_exp")
        return E(f"lo.exp({zin}[{here}] * 0.125)", "c", True)

    def ccond(self, cr, here: str, c1: E) -> str:
        """A condition on exact values only (a ulp would flip it)."""
        if c1.inexact:
            return ""
        zin = self.complex_tensors[0].name
        return cr.choice([f"c1.real > {zin}[{here}].imag", f"c1 == {zin}[{here}]",
                          f"c1 != 0", f"c1.imag < 0 or c1.real >= 1.5"])

    def local_array(self, depth, la) -> None:
        """``la0 = lo.zeros((K,), "int32")`` at the top of the grid's body, a few stores
        into it (constant, negative and grid-variable indices); leaves then read it."""
        t = la.choice(["float64", "float32", "int64", "int32"])
        size = la.randint(1, 4)
        call = la.choice([f"np.zeros({size}, np.{t})", f"np.ones(({size},), dtype=np.{t})"]
                         if la.random() < 0.7 else
                         [f'lo.zeros(({size},), "{t}")', f"lo.full({size}, 1, lo.{t})"])
        self.emit(depth, f"la0 = {call}")
        if call.startswith("lo."):             # plain Python: a Tensor, whose items are Tensors
            self.flags.add("made_lo")
        arr = TensorArg("la0", t, "contiguous", True, 0.0)
        for _ in range(la.randint(1, 3)):
            e = self.store_value(arr)
            self.emit(depth, f"la0[{self.local_index(size, la)}] = {e.text}")
            if e.inexact:
                self.inexact_locals.add("la0")
        self.local_arrays = [("la0", t, size)]
        self.flags.add("local_array")

    def local_index(self, size: int, rng) -> str:
        return rng.choice([str(rng.randrange(size)), "-1", f"{self.grid_vars[0]} % {size}"])

    def made_call(self, t) -> str:
        """A call making output ``t`` (zeros, of the kernel's shape) in one of the spellings."""
        x, nd = self.inputs[0].name, len(self.shape)
        dims = ", ".join(f"{x}.shape[{a}]" for a in range(nd)) + ("," if nd == 1 else "")
        options = [f'lo.zeros({x}.shape, "{t.dtype}")', f"lo.zeros(({dims}), lo.{t.dtype})",
                   f'lo.full({x}.shape, 0, dtype="{t.dtype}")']
        numpy_options = [] if t.dtype == "bfloat16" else \
            [f"np.zeros(({dims}), np.{t.dtype})"] + \
            ([f"np.zeros_like({x})"] if self.inputs[0].dtype == t.dtype else [])
        # numpy's spellings keep the kernel comparable with plain Python: more of them
        call = self.kr.choice(numpy_options if numpy_options and self.kr.random() < 0.7
                              else options)
        self.flags.add("made_tensor")
        if call.startswith("lo."):        # plain Python: a Tensor, whose items are Tensors
            self.flags.add("made_lo")
        return call

    def returns(self) -> list:
        """(name, text) of a tuple return: made tensors, the accumulator, a shape."""
        kr = self.kr
        if not self.made and not (self.acc_name and kr.random() < 0.2):
            return []
        items = [(t.name, t.name) for t in self.made]
        if self.acc_name:
            items.append(("acc", self.acc_name))
        if kr.random() < 0.4 or len(items) == 1 and not self.made:
            items.append(("ret_shape", f"{self.inputs[0].name}.shape[0]"))
        kr.shuffle(items)
        self.flags.add("tuple_return")
        return items


def generate(seed: int, known: set | None = None) -> GenKernel:
    """A random well-typed kernel, deterministic in ``seed``."""
    return _Gen(seed, known_bugs() if known is None else known).generate()


def known_bugs() -> set:
    """KNOWN_BUGS, less what LANGONE_FUZZ_KNOWN says: "none" (hunt them all) or a
    comma-separated list of flags to keep."""
    import os
    env = os.environ.get("LANGONE_FUZZ_KNOWN")
    if env is None:
        return set(KNOWN_BUGS)
    return set() if env.strip() in ("", "none") else set(env.split(",")) & KNOWN_BUGS


if __name__ == "__main__":                   # python tests/kernel_gen.py SEED
    import sys
    g = generate(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(g.source)
    print(sorted(g.flags))


# --- the differential runner ------------------------------------------------------------------
#
# Comparison rules (documented tolerance):
# * integer and bool arrays, and the dtype of a returned value: always exact;
# * float arrays of kernels without transcendental calls, float grid reductions or (while the
#   numba reassociation bug is open) sequential float accumulations: bitwise, NaN equal to NaN
#   whatever its payload, and the sign of zeros compared -- except float lo.atomic_add targets
#   (GenKernel.atomic_float), which the grid adds into in an unspecified order, as it
#   reassociates a float grid reduction: those within the tolerance, always;
# * otherwise within rtol = atol = TOLERANCE[the narrowest float type the kernel touches,
#   fp32 counted as touched by a reduction or a half cast, which computes in fp32]:
#   fp64 1e-9, fp32 1e-5 (a few ulps through a short chain of math calls), fp16 1e-2 and
#   bf16 4e-2 (declared exception 3: halves are computed in fp32 and rounded at stores, so a
#   one-ulp fp32 difference may round to the neighbouring half), NaN positions and infinities
#   matching exactly.
TOLERANCE = {"float64": 1e-9, "float32": 1e-5, "float16": 1e-2, "bfloat16": 4e-2}


def oracle_backend() -> str:
    """The python backend (the rule, executable) once it exists; numpy_ref until then."""
    import os
    forced = os.environ.get("LANGONE_FUZZ_ORACLE")
    if forced:
        return forced
    return "python" if "python" in lo.backends() else "numpy"


def load(gk: GenKernel):
    from kernel_factory import load_function
    fn = load_function(gk.source, gk.name)
    assert fn is not None, gk.source
    return lo.kernel(fn)


@dataclass
class Outcome:
    backend: str
    status: str                  # ok | error (a LangOne error) | crash (anything else)
    result: object = None
    arrays: dict = field(default_factory=dict)
    error: BaseException | None = None

    def describe(self) -> str:
        if self.status != "ok":
            return f"{self.status}: {type(self.error).__name__}: {str(self.error)[:300]}"
        parts = [f"{n}={a.tolist()!r}" for n, a in self.arrays.items()
                 if n.startswith("out")]
        if self.result is not None:
            parts.append(f"return={self.result!r}")
        return "; ".join(parts)


def _quiet():
    import contextlib
    import warnings
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    stack.enter_context(np.errstate(all="ignore"))
    return stack


def run_on(gk: GenKernel, kern, backend: str) -> Outcome:
    from langone.errors import LangOneError
    args, bases = gk.make_args()
    with _quiet():
        try:
            result = kern.on(backend)(*args)
        except LangOneError as exc:
            return Outcome(backend, "error", error=exc)
        except Exception as exc:                       # noqa: BLE001 - that is the finding
            return Outcome(backend, "crash", error=exc)
    arrays = {n: b.copy() for n, b in bases}
    if gk.returns:
        return Outcome(backend, "ok", _returned(gk, result, arrays), arrays)
    if hasattr(result, "numpy"):
        result = result.numpy()
    return Outcome(backend, "ok", result, arrays)


def _returned(gk: GenKernel, result, arrays: dict):
    """A tuple result: its tensors (and the shape) join ``arrays``; the accumulator
    is the result."""
    items = result if len(gk.returns) > 1 else (result,)
    if not isinstance(items, tuple) or len(items) != len(gk.returns):
        return ("malformed", repr(result)[:200])
    acc = None
    for name, item in zip(gk.returns, items):
        value = np.asarray(item.numpy() if hasattr(item, "numpy") else item)
        if name == "acc":
            acc = value
        else:
            arrays[name] = value
    return acc


def run_plain(gk: GenKernel, kern) -> Outcome:
    """The kernel's own function as plain Python (for the findings' write-ups)."""
    args, bases = gk.make_args()
    with _quiet():
        try:
            result = kern.py_func(*args)
        except Exception as exc:                       # noqa: BLE001
            return Outcome("plain", "crash", error=exc)
    arrays = {n: b.copy() for n, b in bases}
    if gk.returns:
        result = _returned(gk, result, arrays)
    return Outcome("plain", "ok", result, arrays)


def tolerance(gk: GenKernel, what: str) -> float:
    """0.0 for a bitwise comparison, else the relative (and absolute) tolerance."""
    f = gk.flags
    loose = "inexact" in f or what in gk.atomic_float   # float atomics: any order
    if what == "result":
        loose = loose or (f & {"reduction_float_+=", "reduction_float_*="}) != set() \
            or "inexact_reduction" in f
    if "seq_float_accum" in f and "seq_float_accum_reassoc" in known_bugs():
        loose = True
    if not loose:
        return 0.0
    for t in ("bfloat16", "float16", "float32"):
        # lo.float16(v) casts compute in fp32 (exception 3) even where every tensor is fp64
        if f"dtype_{t}" in f or (t == "float32" and f & {"reduction", "half", "dtype_complex64"}):
            return TOLERANCE[t]
    return TOLERANCE["float64"]


def _diff(got, want, rtol, zero_sign=True) -> str | None:
    got, want = np.asarray(got), np.asarray(want)
    if got.dtype != want.dtype:
        return f"dtype {got.dtype} != {want.dtype}"
    if got.shape != want.shape:
        return f"shape {got.shape} != {want.shape}"
    if want.dtype.kind == "c":                     # each part as a float
        return _diff(got.real, want.real, rtol, zero_sign) or \
            _diff(got.imag, want.imag, rtol, zero_sign)
    if want.dtype.kind not in "fV" and want.dtype != np.dtype(BF16):
        bad = got != want
    else:
        g, w = got.astype(np.float64), want.astype(np.float64)
        gn, wn = np.isnan(g), np.isnan(w)
        if rtol:
            with np.errstate(all="ignore"):
                close = (g == w) | (np.abs(g - w) <= rtol * (1 + np.abs(w)))
            bad = (gn != wn) | (~wn & ~close)
        else:
            bad = (gn != wn) | (~wn & (g != w))
            if zero_sign:
                bad |= ~wn & (np.signbit(g) != np.signbit(w))
    if np.any(bad):
        idx = np.argwhere(np.atleast_1d(bad))[:4].tolist()
        return (f"differs at {idx}: got {np.atleast_1d(got)[np.atleast_1d(bad)][:4].tolist()} "
                f"want {np.atleast_1d(want)[np.atleast_1d(bad)][:4].tolist()}")
    return None


def compare(gk: GenKernel, ref: Outcome, got: Outcome) -> list:
    """Problems of ``got`` against the oracle ``ref`` (empty: they agree)."""
    if got.status == "crash":
        return [f"{got.backend} raised a non-LangOne error: {got.describe()}"]
    if ref.status != got.status:
        return [f"{ref.backend}: {ref.describe()[:200]} but {got.backend}: "
                f"{got.describe()[:300]}"]
    if ref.status == "error":
        if not isinstance(got.error, type(ref.error)):   # a subclass (KernelBoundsError) is fine
            return [f"error classes differ: {ref.backend} {type(ref.error).__name__}, "
                    f"{got.backend} {type(got.error).__name__}: {got.error}"]
        return []
    problems = []
    zero_sign = not any(bug in known_bugs() and hit(gk)
                        for bug, hit in ZERO_SIGN_RELAXED.get(got.backend, []))
    for name, want in ref.arrays.items():
        d = _diff(got.arrays[name], want, tolerance(gk, name), zero_sign)
        if d:
            problems.append(f"{got.backend} {name}: {d}")
    if (ref.result is None) != (got.result is None):
        problems.append(f"{got.backend} returned {got.result!r}, {ref.backend} {ref.result!r}")
    elif ref.result is not None:
        d = _diff(got.result, ref.result, tolerance(gk, "result"), zero_sign)
        if d:
            problems.append(f"{got.backend} return value: {d}")
    return problems


# Features whose plain-Python run is not the rule itself (the declared exceptions 3-5, which the
# python backend emulates): halves computed in fp32, weakly initialized accumulators that the
# rule widens, builtin min/max accumulators (plain Python keeps the term's narrower type),
# narrowing integer stores and atomic adds (plain numpy raises OverflowError where the rule
# wraps), atomic adds of a value Python would add in a wider type (a compile error: plain
# Python just runs them). Other atomics are plain-comparable: lo.atomic_add runs as
# ``t[i] += v`` there, which the rule is (the python backend runs iterations in order).
NOT_PLAIN = {"half", "weak_acc_init", "seq_builtin_minmax", "narrowing_int_store",
             "atomic_wider_value", "made_lo"}


def plain_comparable(gk: GenKernel) -> bool:
    return not (gk.flags & NOT_PLAIN)


def compare_plain(gk: GenKernel, ref: Outcome, plain: Outcome) -> list:
    """The oracle against the kernel's own function run as plain Python (values only)."""
    if plain.status != "ok":
        if ref.status == "ok":
            return [f"plain Python raised {plain.describe()} but {ref.backend} ran"]
        return []
    if ref.status != "ok":
        return [f"{ref.backend}: {ref.describe()[:300]} but plain Python ran"]
    if ref.result is not None and plain.result is not None:
        want = np.asarray(ref.result)
        got = np.asarray(plain.result)
        if got.dtype != want.dtype and got.dtype.kind == want.dtype.kind:
            plain.result = got.astype(want.dtype)
    plain.backend = "plain Python"
    return compare(gk, plain, Outcome(ref.backend, ref.status, ref.result, ref.arrays))


def run_oracle(gk: GenKernel, oracle: str | None = None) -> tuple:
    """(kernel, the oracle's Outcome): reusable across backends through fuzz_one(pre=...)."""
    kern = load(gk)
    return kern, run_on(gk, kern, oracle or oracle_backend())


def fuzz_one(gk: GenKernel, backends: list, oracle: str | None = None,
             plain: bool = True, pre: tuple | None = None) -> list:
    """Run one generated kernel everywhere; the list of problems found (empty: all agree).

    Every backend is compared with the oracle (python, else numpy_ref); with ``plain``, the
    oracle is also compared with the function run as plain Python where that is the rule
    exactly (see NOT_PLAIN).
    """
    oracle = oracle or oracle_backend()
    kern, ref = pre if pre is not None else run_oracle(gk, oracle)
    if ref.status == "crash":
        return [f"oracle {oracle} raised a non-LangOne error: {ref.describe()}"]
    problems = []
    if plain and plain_comparable(gk):
        problems += compare_plain(gk, ref, run_plain(gk, kern))
    for b in backends:
        if b != oracle and not skipped(gk, b):
            got = run_on(gk, kern, b)
            problems += expect_refusal(gk, got) if refused(gk, b) else compare(gk, ref, got)
    return problems


def expect_refusal(gk: GenKernel, got: Outcome) -> list:
    """A documented limitation (REFUSED): the backend must raise a KernelCompileError."""
    from langone.errors import KernelCompileError
    if got.status == "error" and isinstance(got.error, KernelCompileError):
        return []
    return [f"{got.backend} should refuse this kernel ({', '.join(refused(gk, got.backend))})"
            f" with a KernelCompileError, but: {got.describe()[:300]}"]


# --- minimizing a finding ---------------------------------------------------------------------

def _signature(problems: list) -> str:
    import re
    return "|".join(sorted({re.sub(r"[-+]?\d[\d.e+-]*|\[.*", "#", p)[:70] for p in problems}))


def minimize(gk: GenKernel, backends: list, oracle: str | None = None, rounds: int = 3):
    """Greedy statement deletion keeping the same kind of problem (Csmith's C-Reduce, lite).

    Returns a GenKernel whose source is as small as this finds, with the same arguments.
    """
    import ast
    import dataclasses
    want = _signature(fuzz_one(gk, backends, oracle))
    if not want:
        return gk
    tree = ast.parse(gk.source)
    counter = [0]

    def attempt(candidate_tree):
        try:
            src = ast.unparse(ast.fix_missing_locations(candidate_tree)) + "\n"
        except Exception:                                 # noqa: BLE001
            return None
        counter[0] += 1
        cand = dataclasses.replace(gk, source=src.replace(f"def {gk.name}(",
                                                          f"def {gk.name}_m{counter[0]}("),
                                   name=f"{gk.name}_m{counter[0]}")
        try:
            got = _signature(fuzz_one(cand, backends, oracle))
        except Exception:                                 # noqa: BLE001
            return None
        return cand if got == want else None

    best = gk
    for _ in range(rounds):
        changed = False
        bodies = [n for n in ast.walk(tree) if hasattr(n, "body") and isinstance(n.body, list)]
        for node in bodies:
            for field_name in ("body", "orelse"):
                stmts = getattr(node, field_name, None)
                if not isinstance(stmts, list):
                    continue
                i = 0
                while i < len(stmts):
                    if isinstance(stmts[i], ast.Return) or isinstance(
                            stmts[i], ast.FunctionDef) and stmts[i].name == gk.name:
                        i += 1
                        continue
                    saved = stmts[i]
                    replaced = len(stmts) == 1
                    if replaced:
                        stmts[i] = ast.Pass()
                    else:
                        del stmts[i]
                    cand = attempt(tree)
                    if cand is not None:
                        best, changed = cand, True
                        if replaced:
                            i += 1
                        continue
                    if replaced:
                        stmts[i] = saved
                    else:
                        stmts.insert(i, saved)
                    i += 1
        if not changed:
            break
    return best
