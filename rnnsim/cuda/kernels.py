"""Device building blocks shared by the three cells: activations, launch sizes, and the plain
array kernels around the time loops (matrix products, column sums, masks, reorderings).

Everything here is `numba.cuda` code. The matrix products are a simple 16x16 shared-memory tiled
kernel of our own (no cupy, no cuBLAS): the projections x W + b and
the weight gradients dW = X^T dG, dU = H_prev^T dG, db = sum dG, dx = dG W^T are large products that
a GPU does well; only the time loops in the cell files are sequential.

Kernels that need a dtype at compile time (shared-memory arrays) are built once per dtype at
module level by a small factory; `numba.cuda.jit` compiles lazily, on first launch.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32, float64

from rnnsim.cells.activations import HARD_SIGMOID, RELU, SIGMOID, TANH
from rnnsim.cuda.device import simulator_enabled

# matmul tile edge: 16 x 16 threads and two (16, 16) shared tiles on a GPU; 4 x 4 in the simulator,
# which runs every thread as a Python thread (same arithmetic, 16x fewer threads to start)
TILE = 4 if simulator_enabled() else 16
MAX_THREADS = 256  # threads per block for the time-loop kernels (they stride over the gate columns)
NUMBA_DTYPES = {np.dtype(np.float32): float32, np.dtype(np.float64): float64}


def is_device_array(value) -> bool:
    """True for a numba.cuda device array (real or simulated)."""
    return hasattr(value, "copy_to_host") and hasattr(value, "shape")


def time_loop_threads(width: int) -> int:
    """Threads per block for a time-loop kernel that strides over `width` columns."""
    return max(1, min(int(width), MAX_THREADS))


# ---------------------------------------------------------------------------------------
# Activations on the device: exact libm math (math.tanh, math.exp) for float32 and float64 alike.
# The CPU float32 path uses a rational tanh (rnnsim.cells.activations.fast_tanh, |error| < 3e-7); the two
# agree to float32 precision. Derivatives are written in terms of the output, as on the CPU.


@cuda.jit(device=True)
def activate(act_code, x):
    if act_code == TANH:
        return math.tanh(x)
    if act_code == SIGMOID:
        return 1.0 / (1.0 + math.exp(-x))
    if act_code == HARD_SIGMOID:
        return min(max(x / 6.0 + 0.5, 0.0), 1.0)
    if act_code == RELU:
        return max(x, 0.0)
    return x


@cuda.jit(device=True)
def derivative(act_code, y):
    if act_code == TANH:
        return 1.0 - y * y
    if act_code == SIGMOID:
        return y * (1.0 - y)
    if act_code == HARD_SIGMOID:
        return 1.0 / 6.0 if (y > 0.0 and y < 1.0) else 0.0
    if act_code == RELU:
        return 1.0 if y > 0.0 else 0.0
    return 1.0


# ---------------------------------------------------------------------------------------
# Matrix products: out (+)= op(a) @ op(b), op = transpose or not, any strides (views are fine).


def _make_matmul(dtype):
    @cuda.jit
    def matmul_kernel(a, b, out, transpose_a, transpose_b, accumulate):
        tile_a = cuda.shared.array((TILE, TILE), dtype)
        tile_b = cuda.shared.array((TILE, TILE), dtype)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        row = cuda.blockIdx.y * TILE + ty  # of out
        col = cuda.blockIdx.x * TILE + tx
        rows = out.shape[0]
        cols = out.shape[1]
        inner = a.shape[0] if transpose_a else a.shape[1]
        acc = 0.0
        for start in range(0, inner, TILE):
            k_a = start + tx
            if row < rows and k_a < inner:
                tile_a[ty, tx] = a[k_a, row] if transpose_a else a[row, k_a]
            else:
                tile_a[ty, tx] = 0.0
            k_b = start + ty
            if col < cols and k_b < inner:
                tile_b[ty, tx] = b[col, k_b] if transpose_b else b[k_b, col]
            else:
                tile_b[ty, tx] = 0.0
            cuda.syncthreads()
            for k in range(TILE):
                acc += tile_a[ty, k] * tile_b[k, tx]
            cuda.syncthreads()
        if row < rows and col < cols:
            if accumulate:
                out[row, col] += acc
            else:
                out[row, col] = acc

    return matmul_kernel


_MATMUL = {np.dtype(np.float32): _make_matmul(float32), np.dtype(np.float64): _make_matmul(float64)}


@cuda.jit
def _matmul_simple(a, b, out, transpose_a, transpose_b, accumulate):
    """One thread per output element, no shared memory: the simulator's product (far fewer barriers)."""
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    rows, cols = out.shape
    inner = a.shape[0] if transpose_a else a.shape[1]
    for flat in range(start, rows * cols, stride):
        row = flat // cols
        col = flat % cols
        acc = 0.0
        for k in range(inner):
            acc += (a[k, row] if transpose_a else a[row, k]) * (b[col, k] if transpose_b else b[k, col])
        if accumulate:
            out[row, col] += acc
        else:
            out[row, col] = acc


def matmul(a, b, out=None, transpose_a=False, transpose_b=False, accumulate=False, tiled=None):
    """out (+)= op(a) @ op(b) on the device; a, b, out 2-D device arrays of one dtype. Returns out.

    tiled: the shared-memory tiled kernel (default on a GPU) or the one-thread-per-element kernel
    (default in the simulator, where every barrier costs a Python thread switch); the tests run both.
    """
    rows = a.shape[1] if transpose_a else a.shape[0]
    cols = b.shape[0] if transpose_b else b.shape[1]
    if out is None:
        out = cuda.device_array((rows, cols), dtype=a.dtype)
        accumulate = False
    if rows == 0 or cols == 0:
        return out
    if tiled is None:
        tiled = not simulator_enabled()
    if tiled:
        grid = ((cols + TILE - 1) // TILE, (rows + TILE - 1) // TILE)
        _MATMUL[np.dtype(a.dtype)][grid, (TILE, TILE)](a, b, out, bool(transpose_a), bool(transpose_b),
                                                       bool(accumulate))
    else:
        _matmul_simple[launch(rows * cols)](a, b, out, bool(transpose_a), bool(transpose_b), bool(accumulate))
    return out


# ---------------------------------------------------------------------------------------
# Elementwise and reordering kernels (one thread per element, grid-stride loops).


ELEMENTWISE_THREADS = 8 if simulator_enabled() else 128  # the simulator: few threads, grid-stride loops


def launch(n):
    """The launch configuration (blocks, threads) of an elementwise kernel over n elements.

    The kernels stride over the grid, so the block count is capped and any n is covered.
    """
    threads = ELEMENTWISE_THREADS
    return (max(1, min((n + threads - 1) // threads, 4096)), threads)


@cuda.jit
def _add_row_vector(matrix, vector):  # matrix (N, W) += vector (W,)
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    width = matrix.shape[1]
    for flat in range(start, matrix.shape[0] * width, stride):
        matrix[flat // width, flat % width] += vector[flat % width]


def add_row_vector(matrix, vector):
    _add_row_vector[launch(matrix.shape[0] * matrix.shape[1])](matrix, vector)


@cuda.jit
def _scale_by_sequence_mask(values, mask, out):  # out (B, T, W) = values (B, T, W) * mask (B, W)
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    batch, timesteps, width = values.shape
    for flat in range(start, batch * timesteps * width, stride):
        b = flat // (timesteps * width)
        t = (flat // width) % timesteps
        j = flat % width
        out[b, t, j] = values[b, t, j] * mask[b, j]


def scale_by_sequence_mask(values, mask, out=None):
    """values * mask[:, None, :]: a per-sequence dropout mask applied at every timestep."""
    if out is None:
        out = cuda.device_array(values.shape, dtype=values.dtype)
    _scale_by_sequence_mask[launch(values.size)](values, mask, out)
    return out


@cuda.jit
def _reverse_time(values, out):  # out[:, t] = values[:, T-1-t]
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    batch, timesteps, width = values.shape
    for flat in range(start, batch * timesteps * width, stride):
        b = flat // (timesteps * width)
        t = (flat // width) % timesteps
        j = flat % width
        out[b, t, j] = values[b, timesteps - 1 - t, j]


def reverse_time(values):
    """A copy with the time axis reversed, (B, T, W)."""
    out = cuda.device_array(values.shape, dtype=values.dtype)
    _reverse_time[launch(values.size)](values, out)
    return out


@cuda.jit
def _take_timestep(values, t, out):  # out (B, W) = values[:, t]
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    batch, _, width = values.shape
    for flat in range(start, batch * width, stride):
        out[flat // width, flat % width] = values[flat // width, t, flat % width]


def take_timestep(values, t):
    """A contiguous copy of values[:, t], (B, W)."""
    out = cuda.device_array((values.shape[0], values.shape[2]), dtype=values.dtype)
    _take_timestep[launch(out.size)](values, t, out)
    return out


@cuda.jit
def _previous_hidden(hidden, h0, recurrent_drop, use_recurrent_drop, go_backwards, out):
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    batch, timesteps, units = hidden.shape
    for flat in range(start, batch * timesteps * units, stride):
        b = flat // (timesteps * units)
        t = (flat // units) % timesteps
        u = flat % units
        first = t == timesteps - 1 if go_backwards else t == 0
        if first:
            value = h0[b, u]
        else:
            value = hidden[b, t + 1, u] if go_backwards else hidden[b, t - 1, u]
        if use_recurrent_drop:
            value *= recurrent_drop[b, u]
        out[b, t, u] = value


def previous_hidden(hidden, h0, recurrent_drop, go_backwards):
    """h_{t-1} as it entered the recurrent product at each input position t, (B, T, U)."""
    out = cuda.device_array(hidden.shape, dtype=hidden.dtype)
    use = recurrent_drop is not None
    drop = recurrent_drop if use else h0  # a placeholder the kernel never reads
    _previous_hidden[launch(hidden.size)](hidden, h0, drop, use, bool(go_backwards), out)
    return out


@cuda.jit
def _column_sum(matrix, out):  # out (W,) = matrix (N, W).sum(axis=0); one thread per column
    j = cuda.grid(1)
    if j < matrix.shape[1]:
        acc = 0.0
        for i in range(matrix.shape[0]):
            acc += matrix[i, j]
        out[j] = acc


def column_sum(matrix, out=None):
    if out is None:
        out = cuda.device_array(matrix.shape[1], dtype=matrix.dtype)
    threads = ELEMENTWISE_THREADS
    _column_sum[((matrix.shape[1] + threads - 1) // threads, threads)](matrix, out)
    return out


@cuda.jit
def _fill(values, value):  # values (N,) = value
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for i in range(start, values.shape[0], stride):
        values[i] = value


def zeros(shape, dtype):
    """A zero-filled device array."""
    out = cuda.device_array(shape, dtype=dtype)
    if out.size:
        _fill[launch(out.size)](out.reshape(out.size), 0.0)
    return out


@cuda.jit
def _transpose(matrix, out):  # out (M, N) = matrix (N, M)^T
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    rows, cols = matrix.shape
    for flat in range(start, rows * cols, stride):
        out[flat % cols, flat // cols] = matrix[flat // cols, flat % cols]


def transpose(matrix):
    """A contiguous copy of matrix^T."""
    out = cuda.device_array((matrix.shape[1], matrix.shape[0]), dtype=matrix.dtype)
    _transpose[launch(matrix.size)](matrix, out)
    return out
