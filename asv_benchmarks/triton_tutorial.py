"""Reference Triton kernels, written the way Triton's tutorials write them.

They are the peers of LangOne's Triton backend in ``make gpu-check`` and in
``bench_triton.py``: each takes the same data as the LangOne kernel beside it
(:data:`LANGONE`) and computes the same thing, so the ratio of the two times
says how far the generated code is from hand-written Triton.

* ``saxpy``      tutorial 01 (vector add), with the scalar ``a``;
* ``softmax``    tutorial 02 (fused softmax): one program per row, the row in one block;
* ``matmul``     tutorial 03: grouped tiles, ``tl.dot``, fp32 accumulation, autotuned;
* ``total``      a ``tl.sum`` per block, finished with one ``tl.atomic_add``;
* ``histogram``  ``tl.histogram`` per block, merged with vector atomics;
* ``stencil``    a 5-point stencil over 2-D tiles.

Host wrappers take torch tensors (on the GPU, or on the CPU under
``TRITON_INTERPRET=1``, where ``tests/test_triton_tutorial.py`` checks them
against numpy) and return the output tensor. Importing this module imports
triton; it is only imported where triton is installed.
"""

from __future__ import annotations

import triton
import triton.language as tl

import langone as lo
from langone.bench import matmul as matmul_kernel, saxpy as saxpy_kernel, softmax_rows, \
    total as total_kernel


def next_pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


# --- 01: vector add (saxpy) ------------------------------------------------------------------

@triton.jit
def _saxpy_kernel(a, x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, a * x + y, mask=mask)


def saxpy(a, x, y, out, BLOCK=1024):
    n = x.numel()
    _saxpy_kernel[(triton.cdiv(n, BLOCK),)](a, x, y, out, n, BLOCK=BLOCK)
    return out


# --- 02: fused softmax -----------------------------------------------------------------------

@triton.jit
def _softmax_kernel(out_ptr, in_ptr, in_stride, out_stride, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(in_ptr + row * in_stride + cols, mask=mask, other=-float("inf"))
    z = x - tl.max(x, axis=0)
    num = tl.exp(z)
    tl.store(out_ptr + row * out_stride + cols, num / tl.sum(num, axis=0), mask=mask)


def softmax(x, out):
    n_rows, n_cols = x.shape
    block = next_pow2(n_cols)
    warps = 4 if block < 2048 else 8 if block < 4096 else 16
    _softmax_kernel[(n_rows,)](out, x, x.stride(0), out.stride(0), n_cols, BLOCK=block,
                               num_warps=warps)
    return out


# --- 03: matrix multiplication ---------------------------------------------------------------

@triton.jit
def _matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K, stride_am, stride_ak, stride_bk, stride_bn,
                   stride_cm, stride_cn, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                   BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr):
    pid = tl.program_id(0)
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    num_pid_in_group = GROUP_M * num_pid_n
    first_pid_m = (pid // num_pid_in_group) * GROUP_M
    group_size_m = tl.minimum(num_pid_m - first_pid_m, GROUP_M)
    pid_m = first_pid_m + ((pid % num_pid_in_group) % group_size_m)
    pid_n = (pid % num_pid_in_group) // group_size_m
    offs_am = (pid_m * BLOCK_M + tl.arange(0, BLOCK_M)) % M
    offs_bn = (pid_n * BLOCK_N + tl.arange(0, BLOCK_N)) % N
    offs_k = tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + (offs_am[:, None] * stride_am + offs_k[None, :] * stride_ak)
    b_ptrs = b_ptr + (offs_k[:, None] * stride_bk + offs_bn[None, :] * stride_bn)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        a = tl.load(a_ptrs, mask=offs_k[None, :] < K - k0, other=0.0)
        b = tl.load(b_ptrs, mask=offs_k[:, None] < K - k0, other=0.0)
        acc = tl.dot(a, b, acc)
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk
    offs_cm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_cn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    c_ptrs = c_ptr + stride_cm * offs_cm[:, None] + stride_cn * offs_cn[None, :]
    c_mask = (offs_cm[:, None] < M) & (offs_cn[None, :] < N)
    tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=c_mask)


def _mm_config(bm, bn, bk, stages, warps):
    return triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": 8},
                         num_stages=stages, num_warps=warps)


#: The tutorial's CUDA configurations.
MATMUL_CONFIGS = [_mm_config(128, 256, 64, 3, 8), _mm_config(64, 256, 32, 4, 4),
                  _mm_config(128, 128, 32, 4, 4), _mm_config(128, 64, 32, 4, 4),
                  _mm_config(64, 128, 32, 4, 4), _mm_config(128, 32, 32, 4, 4),
                  _mm_config(64, 32, 32, 5, 2), _mm_config(32, 64, 32, 5, 2)]

_matmul_tuned = triton.autotune(configs=MATMUL_CONFIGS, key=["M", "N", "K"])(_matmul_kernel)


def matmul(a, b, c, config: dict | None = None):
    """``c = a @ b``; autotuned over :data:`MATMUL_CONFIGS` unless ``config`` names one."""
    M, K = a.shape
    N = b.shape[1]
    args = (a, b, c, M, N, K, a.stride(0), a.stride(1), b.stride(0), b.stride(1),
            c.stride(0), c.stride(1))
    if config is not None:
        grid = (triton.cdiv(M, config["BLOCK_M"]) * triton.cdiv(N, config["BLOCK_N"]),)
        _matmul_kernel[grid](*args, **config)
        return c

    def grid(meta):
        return (triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"]),)
    _matmul_tuned[grid](*args)
    return c


# --- a sum: tl.sum per block, one atomic per block -------------------------------------------

@triton.jit
def _sum_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs, mask=offs < n, other=0.0)
    tl.atomic_add(out_ptr, tl.sum(x.to(tl.float32), axis=0))


def total(x, out, BLOCK=8192):
    """``out[0] = x.sum()`` in fp32 (``out`` is zeroed here)."""
    out.zero_()
    n = x.numel()
    _sum_kernel[(triton.cdiv(n, BLOCK),)](x, out, n, BLOCK=BLOCK, num_warps=8)
    return out


# --- a histogram: tl.histogram per block -----------------------------------------------------

@triton.jit
def _histogram_kernel(v_ptr, h_ptr, n, BINS: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    v = tl.load(v_ptr + offs, mask=mask, other=0)
    h = tl.histogram(v, BINS)
    pad = BLOCK - tl.sum(mask.to(tl.int32), axis=0)        # masked lanes counted in bin 0
    h = h - tl.where(tl.arange(0, BINS) == 0, pad, 0)
    tl.atomic_add(h_ptr + tl.arange(0, BINS), h.to(h_ptr.dtype.element_ty))


def histogram(v, h, BLOCK=4096):
    """``h[b] += count(v == b)`` for values in ``[0, len(h))``; ``len(h)`` a power of two."""
    n, bins = v.numel(), h.numel()
    _histogram_kernel[(triton.cdiv(n, BLOCK),)](v, h, n, BINS=bins, BLOCK=BLOCK)
    return h


# --- a 5-point stencil over 2-D tiles --------------------------------------------------------

@triton.jit
def _stencil_kernel(x_ptr, out_ptr, rows, cols, sx, so, BR: tl.constexpr, BC: tl.constexpr):
    r = 1 + tl.program_id(0) * BR + tl.arange(0, BR)[:, None]
    c = 1 + tl.program_id(1) * BC + tl.arange(0, BC)[None, :]
    mask = (r < rows - 1) & (c < cols - 1)
    p = x_ptr + r.to(tl.int64) * sx + c
    up = tl.load(p - sx, mask=mask)
    down = tl.load(p + sx, mask=mask)
    left = tl.load(p - 1, mask=mask)
    right = tl.load(p + 1, mask=mask)
    mid = tl.load(p, mask=mask)
    tl.store(out_ptr + r.to(tl.int64) * so + c, 0.25 * (up + down + left + right) - mid,
             mask=mask)


def stencil(x, out, BR=16, BC=128):
    """The interior of ``out``: ``0.25 * (4 neighbours) - centre``."""
    rows, cols = x.shape
    grid = (triton.cdiv(rows - 2, BR), triton.cdiv(cols - 2, BC))
    _stencil_kernel[grid](x, out, rows, cols, x.stride(0), out.stride(0), BR=BR, BC=BC,
                          num_warps=4)
    return out


# --- the same loops as LangOne kernels -------------------------------------------------------

# saxpy, the row softmax, the matmul and the sum are langone.bench's own workloads.
lo_saxpy, lo_softmax = saxpy_kernel, softmax_rows
lo_matmul, lo_total = matmul_kernel, total_kernel


@lo.kernel
def lo_histogram(v, h):
    for i in lo.grid(v.shape[0]):
        lo.atomic_add(h, v[i], 1)


@lo.kernel
def lo_stencil(x, out):
    for i, j in lo.grid(x.shape[0] - 2, x.shape[1] - 2):
        out[i + 1, j + 1] = 0.25 * (x[i, j + 1] + x[i + 2, j + 1] + x[i + 1, j] +
                                    x[i + 1, j + 2]) - x[i + 1, j + 1]


#: name -> (LangOne kernel, reference host wrapper)
PAIRS = {"saxpy": (lo_saxpy, saxpy), "softmax": (lo_softmax, softmax),
         "matmul": (lo_matmul, matmul), "total": (lo_total, total),
         "histogram": (lo_histogram, histogram), "stencil": (lo_stencil, stencil)}
