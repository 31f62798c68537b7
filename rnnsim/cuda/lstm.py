"""LSTM on the device: the forward and BPTT time loops as numba.cuda kernels.

The equations (gate order i, f, c, o) and the BPTT derivation are in `rnnsim/cells/lstm.py`;
these kernels compute exactly the buffers of the CPU kernels there (`_lstm_forward`,
`_lstm_backward`): hidden, cell_state and the activated gates (B, T, 4U), the pre-activations
when recording; backward: dL/dz_t (B, T, 4U), dL/dh_0, dL/dc_0, ||dL/dh_t|| and ||dL/dc_t||.

Layout: one thread block per batch row, threads striding over the 4U gate columns in the first
phase of a step (z_j = x_proj[t, j] + h_in . U[:, j], then its activation into `gates`), over the
U units in the second (c_t, h_t); h_{t-1} and c_{t-1} live in shared memory.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32, float64

from rnnsim.cuda.kernels import activate, derivative


def _make_forward(dtype):
    @cuda.jit
    def lstm_forward(
        x_proj,  # (B, T, 4U) x_t W + b
        recurrent_kernel,  # (U, 4U)
        h0,  # (B, U)
        c0,  # (B, U)
        step_mask,  # (B, T) uint8
        recurrent_drop,  # (B, U) or a placeholder
        use_recurrent_drop,
        go_backwards,
        act,
        recurrent_act,
        record,
        hidden,  # out (B, T, U)
        cell_state,  # out (B, T, U)
        gates,  # out (B, T, 4U): i, f, g, o after their activations
        preactivations,  # out (B, T, 4U) when record
    ):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nthreads = cuda.blockDim.x
        timesteps = x_proj.shape[1]
        width = x_proj.shape[2]
        units = width // 4
        shared = cuda.shared.array(0, dtype)
        h_prev = shared[0:units]  # (U,)
        h_in = shared[units : 2 * units]  # (U,) h_{t-1} * recurrent dropout
        c_prev = shared[2 * units : 3 * units]  # (U,)
        for u in range(tid, units, nthreads):
            h_prev[u] = h0[b, u]
            h_in[u] = h0[b, u] * recurrent_drop[b, u] if use_recurrent_drop else h0[b, u]
            c_prev[u] = c0[b, u]
        cuda.syncthreads()
        for s in range(timesteps):
            t = timesteps - 1 - s if go_backwards else s
            keep = step_mask[b, t] != 0
            for j in range(tid, width, nthreads):  # phase 1: the 4U gate columns
                if keep:
                    z = x_proj[b, t, j]
                    for k in range(units):
                        z += h_in[k] * recurrent_kernel[k, j]
                    if record:
                        preactivations[b, t, j] = z
                    block = j // units  # 0 i, 1 f, 2 g, 3 o
                    gates[b, t, j] = activate(act, z) if block == 2 else activate(recurrent_act, z)
                else:
                    gates[b, t, j] = 0.0
                    if record:
                        preactivations[b, t, j] = 0.0
            cuda.syncthreads()
            for u in range(tid, units, nthreads):  # phase 2: the U units
                if keep:
                    c = gates[b, t, units + u] * c_prev[u] + gates[b, t, u] * gates[b, t, 2 * units + u]
                    h = gates[b, t, 3 * units + u] * activate(act, c)
                    c_prev[u] = c
                    h_prev[u] = h
                    h_in[u] = h * recurrent_drop[b, u] if use_recurrent_drop else h
                cell_state[b, t, u] = c_prev[u]
                hidden[b, t, u] = h_prev[u]
            cuda.syncthreads()

    return lstm_forward


def _make_backward(dtype):
    @cuda.jit
    def lstm_backward(
        recurrent_kernel_t,  # (4U, U)
        h0,  # (B, U) (unused: kept for the CPU kernel's signature)
        c0,  # (B, U)
        step_mask,
        recurrent_drop,
        use_recurrent_drop,
        go_backwards,
        act,
        recurrent_act,
        cell_state,  # (B, T, U)
        gates,  # (B, T, 4U)
        grad_hidden_seq,  # (B, T, U) or a placeholder
        has_grad_seq,
        grad_h_final,  # (B, U)
        grad_c_final,  # (B, U)
        grad_preact,  # out (B, T, 4U) dL/dz_t
        grad_h0,  # out (B, U)
        grad_c0,  # out (B, U)
        grad_hidden_norm,  # out (B, T)
        grad_cell_norm,  # out (B, T)
    ):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nthreads = cuda.blockDim.x
        timesteps = cell_state.shape[1]
        units = cell_state.shape[2]
        width = 4 * units
        shared = cuda.shared.array(0, dtype)
        dh = shared[0:units]  # (U,) dL/dh_t
        dc = shared[units : 2 * units]  # (U,) dL/dc_t from step t+1
        dc_total = shared[2 * units : 3 * units]  # (U,) dL/dc_t, all paths (for its norm)
        for u in range(tid, units, nthreads):
            dh[u] = grad_h_final[b, u]
            dc[u] = grad_c_final[b, u]
        cuda.syncthreads()
        for s in range(timesteps - 1, -1, -1):
            t = timesteps - 1 - s if go_backwards else s
            keep = step_mask[b, t] != 0
            if has_grad_seq:
                for u in range(tid, units, nthreads):
                    dh[u] += grad_hidden_seq[b, t, u]
            cuda.syncthreads()
            if tid == 0:
                norm = 0.0
                for u in range(units):
                    norm += dh[u] * dh[u]
                grad_hidden_norm[b, t] = math.sqrt(norm)
                if not keep:
                    norm = 0.0
                    for u in range(units):
                        norm += dc[u] * dc[u]
                    grad_cell_norm[b, t] = math.sqrt(norm)
            if not keep:  # state carried over: dh and dc pass straight through
                for j in range(tid, width, nthreads):
                    grad_preact[b, t, j] = 0.0
            else:
                previous = t + 1 if go_backwards else t - 1
                for u in range(tid, units, nthreads):
                    i = gates[b, t, u]
                    f = gates[b, t, units + u]
                    g = gates[b, t, 2 * units + u]
                    o = gates[b, t, 3 * units + u]
                    c_prev = c0[b, u] if s == 0 else cell_state[b, previous, u]
                    tanh_c = activate(act, cell_state[b, t, u])
                    dc_u = dc[u] + dh[u] * o * derivative(act, tanh_c)
                    dc_total[u] = dc_u
                    grad_preact[b, t, u] = dc_u * g * derivative(recurrent_act, i)
                    grad_preact[b, t, units + u] = dc_u * c_prev * derivative(recurrent_act, f)
                    grad_preact[b, t, 2 * units + u] = dc_u * i * derivative(act, g)
                    grad_preact[b, t, 3 * units + u] = dh[u] * tanh_c * derivative(recurrent_act, o)
                    dc[u] = dc_u * f  # the cell-state path back in time
                cuda.syncthreads()  # dz complete; thread 0 is done reading dh
                if tid == 0:
                    norm = 0.0
                    for u in range(units):
                        norm += dc_total[u] * dc_total[u]
                    grad_cell_norm[b, t] = math.sqrt(norm)
                for k in range(tid, units, nthreads):  # dh_{t-1} = dz U^T (* recurrent dropout)
                    acc = 0.0
                    for j in range(width):
                        acc += grad_preact[b, t, j] * recurrent_kernel_t[j, k]
                    dh[k] = acc * recurrent_drop[b, k] if use_recurrent_drop else acc
            cuda.syncthreads()
        for u in range(tid, units, nthreads):
            grad_h0[b, u] = dh[u]
            grad_c0[b, u] = dc[u]

    return lstm_backward


FORWARD = {np.dtype(np.float32): _make_forward(float32), np.dtype(np.float64): _make_forward(float64)}
BACKWARD = {np.dtype(np.float32): _make_backward(float32), np.dtype(np.float64): _make_backward(float64)}
SHARED_FORWARD = 3  # shared-memory vectors of length U per block
SHARED_BACKWARD = 3
