"""The results of a multi-output model: a tuple that also answers to output names.

A single-output model returns its one Tensor (or numpy array) directly; a model
with several outputs returns :class:`Outputs`, which unpacks like a tuple and
indexes by position or by name.

Example:
    >>> from langone.infer.outputs import Outputs
    >>> out = Outputs([1, 2], [frozenset({"logits"}), frozenset({"probs", "p"})])
    >>> logits, probs = out
    >>> out["p"], out[0], out.names
    (2, 1, ('logits', 'p'))
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence


class Outputs(tuple):
    """The outputs of one inference, in the model's output order, also indexable by name."""

    def __new__(cls, values: Iterable[Any], names: Sequence[frozenset]):
        self = super().__new__(cls, values)
        self._names = list(names)
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """One name per output (the first in sort order where an output has several)."""
        return tuple(min(n) if n else f"#{i}" for i, n in enumerate(self._names))

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            for i, names in enumerate(self._names):
                if key in names:
                    return tuple.__getitem__(self, i)
            raise KeyError(f"no output named {key!r}; the outputs are "
                           f"{', '.join(self.names)}")
        return tuple.__getitem__(self, key)

    def to_dict(self) -> dict[str, Any]:
        """``{name: value}`` for every output."""
        return dict(zip(self.names, self))

    def __repr__(self) -> str:
        body = ", ".join(f"{n}={v!r}" for n, v in zip(self.names, self))
        return f"Outputs({body})"
