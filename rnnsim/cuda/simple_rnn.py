"""SimpleRNN on the device: the forward and BPTT time loops as numba.cuda kernels.

The equations and their derivation are in `rnnsim/cells/simple_rnn.py`; these kernels compute
exactly the buffers of the CPU kernels there (`_simple_rnn_forward`, `_simple_rnn_backward`).

Layout: one thread block per batch row; its threads stride over the U columns; the time loop
runs inside the kernel, with `cuda.syncthreads()` between the phases of a step. h_{t-1} lives in
shared memory (dynamic, sized by the launch), so every thread reads the whole previous state from
there for its column's dot product a_j = x_proj[t, j] + sum_k h_in[k] U[k, j].
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32, float64

from rnnsim.cuda.kernels import activate, derivative


def _make_forward(dtype):
    @cuda.jit
    def simple_rnn_forward(
        x_proj,  # (B, T, U) x_t W + b
        recurrent_kernel,  # (U, U)
        h0,  # (B, U)
        step_mask,  # (B, T) uint8, 0 = carry the state over
        recurrent_drop,  # (B, U) or a placeholder
        use_recurrent_drop,
        go_backwards,
        act,
        record,
        hidden,  # out (B, T, U)
        preactivations,  # out (B, T, U) when record
    ):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nthreads = cuda.blockDim.x
        timesteps = x_proj.shape[1]
        units = x_proj.shape[2]
        shared = cuda.shared.array(0, dtype)
        h_prev = shared[0:units]  # (U,) h_{t-1}
        h_in = shared[units : 2 * units]  # (U,) h_{t-1} * recurrent dropout, as it meets U
        for u in range(tid, units, nthreads):
            h_prev[u] = h0[b, u]
            h_in[u] = h0[b, u] * recurrent_drop[b, u] if use_recurrent_drop else h0[b, u]
        cuda.syncthreads()
        for s in range(timesteps):
            t = timesteps - 1 - s if go_backwards else s
            keep = step_mask[b, t] != 0
            for j in range(tid, units, nthreads):
                if keep:
                    a = x_proj[b, t, j]
                    for k in range(units):
                        a += h_in[k] * recurrent_kernel[k, j]
                    if record:
                        preactivations[b, t, j] = a
                    hidden[b, t, j] = activate(act, a)
                else:
                    hidden[b, t, j] = h_prev[j]
                    if record:
                        preactivations[b, t, j] = 0.0
            cuda.syncthreads()  # every thread has read h_in: now it may change
            for u in range(tid, units, nthreads):
                h = hidden[b, t, u]
                h_prev[u] = h
                h_in[u] = h * recurrent_drop[b, u] if use_recurrent_drop else h
            cuda.syncthreads()

    return simple_rnn_forward


def _make_backward(dtype):
    @cuda.jit
    def simple_rnn_backward(
        recurrent_kernel_t,  # (U, U) U^T, so that thread k reads along a row of memory
        step_mask,
        recurrent_drop,
        use_recurrent_drop,
        go_backwards,
        act,
        hidden,  # (B, T, U)
        grad_hidden_seq,  # (B, T, U) or a placeholder
        has_grad_seq,
        grad_h_final,  # (B, U)
        grad_preact,  # out (B, T, U) dL/da_t
        grad_h0,  # out (B, U)
        grad_hidden_norm,  # out (B, T)
    ):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nthreads = cuda.blockDim.x
        timesteps = hidden.shape[1]
        units = hidden.shape[2]
        shared = cuda.shared.array(0, dtype)
        dh = shared[0:units]  # (U,) dL/dh_t, total
        for u in range(tid, units, nthreads):
            dh[u] = grad_h_final[b, u]
        cuda.syncthreads()
        for s in range(timesteps - 1, -1, -1):
            t = timesteps - 1 - s if go_backwards else s
            if has_grad_seq:
                for u in range(tid, units, nthreads):
                    dh[u] += grad_hidden_seq[b, t, u]
            cuda.syncthreads()
            if tid == 0:
                norm = 0.0
                for u in range(units):
                    norm += dh[u] * dh[u]
                grad_hidden_norm[b, t] = math.sqrt(norm)
            if step_mask[b, t] == 0:  # h was carried over: the gradient passes straight through
                for j in range(tid, units, nthreads):
                    grad_preact[b, t, j] = 0.0
            else:
                for j in range(tid, units, nthreads):
                    grad_preact[b, t, j] = dh[j] * derivative(act, hidden[b, t, j])
                cuda.syncthreads()  # da complete, and thread 0 is done reading dh
                for k in range(tid, units, nthreads):  # dh_{t-1} = da U^T (* recurrent dropout)
                    acc = 0.0
                    for j in range(units):
                        acc += grad_preact[b, t, j] * recurrent_kernel_t[j, k]
                    dh[k] = acc * recurrent_drop[b, k] if use_recurrent_drop else acc
            cuda.syncthreads()
        for u in range(tid, units, nthreads):
            grad_h0[b, u] = dh[u]

    return simple_rnn_backward


FORWARD = {np.dtype(np.float32): _make_forward(float32), np.dtype(np.float64): _make_forward(float64)}
BACKWARD = {np.dtype(np.float32): _make_backward(float32), np.dtype(np.float64): _make_backward(float64)}
SHARED_FORWARD = 2  # shared-memory vectors of length U per block
SHARED_BACKWARD = 1
