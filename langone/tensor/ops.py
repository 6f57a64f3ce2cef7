"""The namespace-level operations of the Array API, gathered in one place.

``langone`` re-exports these names (``lo.exp``, ``lo.sum``, ``lo.matmul``...);
each lives in a small module by topic: ``_elementwise``, ``_reductions``,
``_linalg``, ``_manipulation``, ``_searching``.

Example:
    >>> import langone as lo
    >>> x = lo.linspace(0, 1, 5, dtype="fp32")
    >>> float(lo.sum(lo.where(x > 0.5, x, 0)))
    1.75
"""

from __future__ import annotations

from . import _elementwise, _linalg, _manipulation, _reductions, _searching
from ._elementwise import *  # noqa: F401,F403
from ._linalg import *  # noqa: F401,F403
from ._manipulation import *  # noqa: F401,F403
from ._reductions import *  # noqa: F401,F403
from ._searching import *  # noqa: F401,F403

__all__ = [*_elementwise.__all__, *_reductions.__all__, *_linalg.__all__,
           *_manipulation.__all__, *_searching.__all__]
