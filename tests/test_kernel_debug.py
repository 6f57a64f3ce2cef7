"""debug=True: every backend bounds-checks accesses and names the user's line."""

from __future__ import annotations

import numpy as np
import pytest

import langone as lo
from langone.errors import KernelIndexError
from langone.kernels import backends

pytestmark = pytest.mark.filterwarnings("ignore:no CUDA GPU was found:RuntimeWarning")


@lo.kernel(debug=True)
def shifted_copy(x, out, k):
    for i in lo.grid(out.shape[0]):
        out[i] = x[i + k]


@pytest.mark.parametrize("backend", backends.usable())
def test_debug_bounds_error_names_file_line_and_axis(backend):
    x = np.arange(10, dtype=np.float32)
    out = np.zeros(8, np.float32)
    shifted_copy.on(backend)(x, out, 2)
    np.testing.assert_array_equal(out, x[2:])
    line = shifted_copy.__wrapped__.__code__.co_firstlineno + 3
    with pytest.raises(KernelIndexError, match=rf"test_kernel_debug.py:{line}: index 10 is "
                                               r"out of bounds for axis 0 of 'x' with size 10"
                                               r" \(in kernel 'shifted_copy'\)"):
        shifted_copy.on(backend)(x, out, 3)
    shifted_copy.on(backend)(x, out, -1)             # negative: counts from the end
    np.testing.assert_array_equal(out, np.concatenate([x[-1:], x[:7]]))
    with pytest.raises(IndexError, match="index -11 is out of bounds"):
        shifted_copy.on(backend)(x, out, -11)        # the index as the kernel wrote it
