"""Tensors: a device-placed, numpy-like array over pooled memory.

Everything in ``__all__`` is meant for re-export from ``langone``: the
:class:`Tensor` class, the creation functions, the Array API operations,
quantization, and the errors specific to tensors.

Example:
    >>> import langone as lo
    >>> x = lo.ones((2, 3), dtype="fp32")
    >>> (x * 2 + 1).sum().item()
    18.0
"""

from __future__ import annotations

# tensor.py first: it defines the class, then imports the operation modules,
# which import it back (see the end of tensor.py).
from .tensor import Tensor  # noqa: I001

from . import creation, ops, quantize as _quantize_module
from ._errors import DeviceMismatch, ShapeMismatch
from ._info import *  # noqa: F401,F403
from ._info import __all__ as _info_all
from .creation import *  # noqa: F401,F403
from .ops import *  # noqa: F401,F403
from .quantize import PrecisionReport, QuantizedTensor, optimize_precision, quantize

__all__ = ["Tensor", "ShapeMismatch", "DeviceMismatch", *creation.__all__, *ops.__all__,
           *_quantize_module.__all__, *_info_all]
