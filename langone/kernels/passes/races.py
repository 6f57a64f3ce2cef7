"""Write races across grid iterations (analysis only).

``lo.grid`` iterations are independent and run in parallel, so two iterations
must never write the same element (a read-modify-write such as
``y[j] += x[i, j]`` over ``lo.grid(n, m)`` loses updates at random). A store
whose index does not depend on some grid variable -- and is not guarded by a
condition on it -- is written by every iteration along that variable: a
compile error that points to ``lo.atomic_add``. Dependence is followed through
locals (``k = 2 * i; out[k] = ...`` depends on ``i``) and through loads
(``out[idx[i]]``). Scatters whose index does depend on every grid variable
(``out[perm[i]]``) are accepted; if two iterations do hit one element, which
write wins is unspecified (the language's exception 1). Atomics are atomic writes,
never races; the old value one returns counts as depending on every grid variable
(``slot = lo.atomic_add(count, 0, 1); out[slot] = x[i]`` is a scatter).
"""

from __future__ import annotations

from .. import ir


def _depends(e: ir.Expr, deps: dict) -> set:
    """Grid variables ``e`` depends on, through locals (``deps``) and loads."""
    out: set = set()
    for n in ir.walk(e):
        if isinstance(n, ir.Name):
            out |= deps.get(n.id, set())
    return out


def _local_deps(g: ir.Grid) -> dict:
    """name -> grid variables its value may depend on (to a fixed point; a
    local assigned under a condition also depends on the condition)."""
    deps = {v: {v} for v in g.vars}
    while True:
        before = {k: set(v) for k, v in deps.items()}
        _scan(g.body, deps, set(), g.vars)
        if deps == before:
            return deps


def _scan(stmts: tuple, deps: dict, ctx: set, grid_vars: tuple) -> None:
    for s in stmts:
        if isinstance(s, ir.Assign):
            deps.setdefault(s.target, set()).update(_depends(s.value, deps) | ctx)
        elif isinstance(s, ir.Atomic) and s.target:
            # Atomics are atomic writes, never races. Each iteration's update is its own
            # step of one serial order, so its old value is per iteration (a claimed
            # slot, a ticket): a store indexed by it is a scatter, as out[perm[i]] is.
            deps.setdefault(s.target, set()).update(grid_vars)
        elif isinstance(s, ir.If):
            inner = ctx | _depends(s.cond, deps)
            _scan(s.body, deps, inner, grid_vars)
            _scan(s.orelse, deps, inner, grid_vars)
        elif isinstance(s, ir.While):
            _scan(s.body, deps, ctx | _depends(s.cond, deps), grid_vars)
        elif isinstance(s, ir.For):
            bound = set().union(*(_depends(e, deps) for e in (s.start, s.stop, s.step)))
            deps.setdefault(s.var, set()).update(bound | ctx)
            _scan(s.body, deps, ctx | bound, grid_vars)


def _stores(stmts: tuple, deps: dict, guard: set):
    """(store, grid variables its guarding conditions depend on)."""
    for s in stmts:
        if isinstance(s, ir.Store):
            yield s, guard
        elif isinstance(s, ir.If):
            inner = guard | _depends(s.cond, deps)
            yield from _stores(s.body, deps, inner)
            yield from _stores(s.orelse, deps, inner)
        elif isinstance(s, ir.While):
            yield from _stores(s.body, deps, guard | _depends(s.cond, deps))
        elif isinstance(s, ir.For):
            bounds = set().union(*(_depends(e, deps) for e in (s.start, s.stop, s.step)))
            yield from _stores(s.body, deps, guard | bounds)


def check(k: ir.Kernel, info) -> str:
    """Raise a KernelCompileError at the first store that races."""
    for g in (s for s in ir.walk(k) if isinstance(s, ir.Grid)):
        deps = _local_deps(g)
        private = {n.name for n in ir.walk_stmts(g.body)        # local arrays: per iteration
                   if isinstance(n, (ir.NewTensor, ir.Alloc))}
        for st, guard in _stores(g.body, deps, set()):
            if st.tensor in private:
                continue
            pinned = set().union(*(_depends(ix, deps) for ix in st.index)) | guard
            missing = [v for v in g.vars if v not in pinned]
            if missing:
                raise _race_error(info, st, missing)
    return "ok"


def _race_error(info, st: ir.Store, missing: list):
    idx = ", ".join(ir.fmt_expr(i) for i in st.index)
    vars_ = " and ".join(repr(v) for v in missing)
    value = ir.fmt_expr(st.value)
    return info.error(
        st.loc, f"grid iterations that differ only in {vars_} all write "
                f"{st.tensor}[{idx}]: a race (updates would be lost at random)",
        hint=f"accumulate with lo.atomic_add({st.tensor}, "
             f"{idx if len(st.index) == 1 else f'({idx})'}, v), or index the "
             f"store with every grid variable (the value stored is {value})")
