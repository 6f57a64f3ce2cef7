"""Affine value ranges of index expressions: what the bounds analysis reasons with.

An :class:`Affine` is ``const + sum(coef * symbol)`` over launch-time
*symbols* named by parameter: a tensor extent ``("shape", name, axis)``
(never negative) or an integer scalar parameter ``("scalar", name)`` that the kernel never assigns
(any sign). A grid or ``range`` variable is an interval ``[lo, hi]`` of such
affines, so ``i + 1`` for ``i in lo.grid(x.shape[0])`` spans
``[1, x.shape[0]]``. Anything else (a loaded value, a product of variables,
``//``) has no range: its accesses are checked at run time.

Example:
    >>> n = Affine.symbol(("shape", "x", 0))
    >>> str((n - 1) + 2)
    '1 + x.shape[0]'
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import ir


@dataclass(frozen=True)
class Affine:
    """``const + sum(coef * symbol)``; ``terms`` is sorted and has no zero coefs."""

    const: int = 0
    terms: tuple = ()

    @staticmethod
    def symbol(spec: tuple) -> "Affine":
        return Affine(0, ((spec, 1),))

    def __add__(self, other) -> "Affine":
        other = other if isinstance(other, Affine) else Affine(int(other))
        acc = dict(self.terms)
        for spec, c in other.terms:
            acc[spec] = acc.get(spec, 0) + c
        return Affine(self.const + other.const,
                      tuple(sorted((s, c) for s, c in acc.items() if c)))

    def __neg__(self) -> "Affine":
        return self.scale(-1)

    def __sub__(self, other) -> "Affine":
        other = other if isinstance(other, Affine) else Affine(int(other))
        return self + (-other)

    def scale(self, k: int) -> "Affine":
        if k == 0:
            return Affine(0)
        return Affine(self.const * k, tuple((s, c * k) for s, c in self.terms))

    def nonneg(self) -> bool:
        """Provably >= 0: extents are, scalars may be anything."""
        return self.const >= 0 and all(s[0] == "shape" and c > 0 for s, c in self.terms)

    def nonpos(self) -> bool:
        return (-self).nonneg()

    def python(self, position: dict) -> str:
        """A Python expression of the value over the launch's ``args`` list;
        ``position`` maps parameter names to their index in it."""
        parts = [str(self.const)] if self.const or not self.terms else []
        for spec, c in self.terms:
            p = position[spec[1]]
            v = f"args[{p}].shape[{spec[2]}]" if spec[0] == "shape" else f"int(args[{p}])"
            parts.append(v if c == 1 else f"{c} * {v}")
        return " + ".join(parts)

    def __str__(self) -> str:
        parts = [str(self.const)] if self.const or not self.terms else []
        for spec, c in self.terms:
            name = f"{spec[1]}.shape[{spec[2]}]" if spec[0] == "shape" else spec[1]
            parts.append(name if c == 1 else f"{c}*{name}")
        return " + ".join(parts)


@dataclass(frozen=True)
class Interval:
    """``lo <= value <= hi``, both affine."""

    lo: Affine
    hi: Affine

    @staticmethod
    def point(a: Affine) -> "Interval":
        return Interval(a, a)

    def __add__(self, o: "Interval") -> "Interval":
        return Interval(self.lo + o.lo, self.hi + o.hi)

    def __neg__(self) -> "Interval":
        return Interval(-self.hi, -self.lo)

    def scale(self, k: int) -> "Interval":
        a, b = self.lo.scale(k), self.hi.scale(k)
        return Interval(a, b) if k >= 0 else Interval(b, a)

    @property
    def is_point(self) -> bool:
        return self.lo == self.hi


#: Integer types whose every value an int64 index holds unchanged.
_EXACT_INTS = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"}


def interval(e: ir.Expr, env: dict) -> Interval | None:
    """The range of integer expression ``e``; ``env`` maps names to intervals."""
    if isinstance(e, ir.Const):
        if isinstance(e.value, bool) or not isinstance(e.value, int):
            return None
        return Interval.point(Affine(e.value))
    if isinstance(e, ir.Name):
        return env.get(e.id)
    if isinstance(e, ir.Shape):
        return Interval.point(Affine.symbol(("shape", e.tensor, e.axis)))
    if isinstance(e, ir.Cast):               # only int64 holds every value unchanged
        src, dst = getattr(e.value.type, "name", None), getattr(e.type, "name", None)
        return interval(e.value, env) if src in _EXACT_INTS and dst == "int64" else None
    if isinstance(e, (ir.UnaryOp, ir.BinOp)) and getattr(e.type, "name", "int64") != "int64":
        return None                          # narrow arithmetic may wrap
    if isinstance(e, ir.UnaryOp) and e.op in ("-", "+"):
        v = interval(e.operand, env)
        return v if v is None or e.op == "+" else -v
    if isinstance(e, ir.BinOp) and e.op in ("+", "-", "*"):
        a, b = interval(e.left, env), interval(e.right, env)
        if a is None or b is None:
            return None
        if e.op == "+":
            return a + b
        if e.op == "-":
            return a + (-b)
        for x, k in ((a, b), (b, a)):           # only a constant factor stays affine
            if k.is_point and not k.lo.terms:
                return x.scale(k.lo.const)
    return None


def at_most(need: Affine, size: Affine, given: tuple = ()) -> bool:
    """Whether ``need <= size`` holds for every launch where each affine in
    ``given`` is >= 1 (the loops around the access run)."""
    d = need - size
    return d.nonpos() or any((d + g - 1).nonpos() for g in given)
