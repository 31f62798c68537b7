"""Numba building blocks the three cells' kernels share: the batch split, the gradient carry, copies.

One way to run a time loop, for every hidden size: one Numba kernel owns the whole time loop; the
batch is cut into one chunk of rows per thread, outside the time loop (the kernel is serial and
releases the GIL; `threads.run_chunks` runs one call per chunk on its own thread). Per step, each
thread computes its rows' recurrent product with `simd.matmul_packed_into` (a register-blocked
micro-kernel on the packed recurrent kernel) straight into its block of the time-major (T, B, ...)
buffer, then the gates row by row, all in thread-local buffers: no allocation, no thread start-up
and no synchronisation inside the loop. The products over all timesteps around the loop (the input
projection, the weight gradients) are BLAS calls split over the same threads (`threads.matmul`).

The same path serves every hidden size: with the recurrent kernel packed (simd.py) the micro-kernel
is faster than a per-step BLAS call even at U = 512 (BENCHMARKS.md has the measurements).

`fastmath={"contract"}` lets LLVM fuse a*b + c into one FMA instruction (without it Numba emits
a multiply and an add); it changes results only by the rounding of the one product.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from rnnsim.cells import threads

FASTMATH = {"contract"}

# 1 as float32: `1.0 - z` with a Python float makes Numba compute a float32 z's expression in float64
# (half the vector width, and conversions). ONE - z stays float32, and is exact in float64 kernels too.
ONE = np.float32(1.0)

# Constants to pass to a compiled callee in place of literals. Numba compiles a callee once per literal
# argument (`activate(..., 0, n)` and `activate(..., 2 * n, 3 * n)` were two compilations of the whole
# function); a global numpy scalar is typed as a plain int64 or bool.
ZERO = np.int64(0)
TRUE = np.bool_(True)
FALSE = np.bool_(False)

MIN_CHUNK_ROWS = 4  # a 4-row tile of the micro-kernel (simd.py; AVX-512's 12-row tile has smaller ones for the rest)


def thread_chunks(batch: int) -> int:
    """How many row chunks the fused kernels split a batch into: one per thread (`threads.run_chunks`),
    but no more than leaves each chunk MIN_CHUNK_ROWS rows (a batch of 128 on 64 cores: 32 chunks)."""
    return max(1, min(batch // MIN_CHUNK_ROWS, threads.get_num_threads()))


chunk_bounds = njit(cache=True)(threads.chunk_bounds)  # rows [start, stop) of one chunk, inside the kernels


@njit(cache=True, error_model="numpy")
def carry_hidden_gradient(r0, r1, offset, t, step_mask, recurrent_drop, use_recurrent_drop, dh_product, dh):
    """dh <- dL/dh_{t-1}: the product (dz_t U^T, times the recurrent dropout mask) where step t ran,
    dh itself where t was a masked step (the state, and so its gradient, was carried over)."""
    units = dh.shape[1]
    for r in range(r0, r1):
        b = offset + r
        if step_mask[t, b] == 0:
            continue
        if use_recurrent_drop:
            for u in range(units):
                dh[r, u] = dh_product[r, u] * recurrent_drop[b, u]
        else:
            for u in range(units):
                dh[r, u] = dh_product[r, u]


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def norm_of(row):
    """sqrt(sum(row**2)) of a 1-D array, as a vectorized sum.

    A float sum vectorizes only if LLVM may reorder it (`reassoc`, allowed here and nowhere else):
    written inside a kernel's row loop it was a chain of dependent scalar adds, about 5% of a step.
    The norm is a diagnostic (the trace's gradient curve); reordering changes its last bits only.
    """
    total = row[0] * row[0]
    for k in range(1, row.shape[0]):
        total += row[k] * row[k]
    return math.sqrt(total)


@njit(inline="always")
def take_output_gradient(dh_row, grad_hidden_seq, has_grad_seq, t, b, grad_hidden_norm):
    """dh_row += dL/dh_t from the layer's outputs (when it returns sequences); record ||dL/dh_t||."""
    if has_grad_seq:
        seq_row = grad_hidden_seq[t, b]
        for u in range(dh_row.shape[0]):
            dh_row[u] += seq_row[u]
    grad_hidden_norm[b, t] = norm_of(dh_row)


@njit(inline="always")
def set_recurrent_input(dst, h_row, recurrent_drop, b, use_recurrent_drop):
    """dst = h_t as it enters the next recurrent product: times row b's recurrent dropout mask, or as is."""
    if use_recurrent_drop:
        drop_row = recurrent_drop[b]
        for u in range(dst.shape[0]):
            dst[u] = h_row[u] * drop_row[u]
    else:
        copy_into(dst, h_row)


@njit(inline="always")
def copy_into(dst, src):
    """dst[:] = src for 1-D arrays, as a plain loop: Numba's slice assignment between two arrays checks
    for overlap and may copy through a temporary (an allocation per call inside the time loop)."""
    for k in range(dst.shape[0]):
        dst[k] = src[k]


@njit(inline="always")
def copy_rows(dst, src, start):
    """dst[start:start + len(src)] = src for 2-D arrays, as loops. Numba's array-to-array slice assignment
    would also compile its shape-mismatch error message (string formatting), a large part of a first compile."""
    for r in range(src.shape[0]):
        copy_into(dst[start + r], src[r])
