"""GRU on the device (reset_after True and False): forward and BPTT time loops as numba.cuda kernels.

The equations (gate order z, r, h; Keras's reset_after and the original GRU) and the BPTT
derivation are in `rnnsim/cells/gru.py`; these kernels compute exactly the buffers of the CPU
kernels there (`_gru_forward`, `_gru_backward`): hidden, the activated gates (B, T, 3U), the
recurrent candidate (m_h = h_in U_h + b_rec_h after, r * h_in before), the pre-activations when
recording; backward: dL/d(x W + b_in) and dL/d(recurrent products) (B, T, 3U), dL/dh_0, ||dL/dh_t||.

Layout: one thread block per batch row; threads stride over the gate columns (3U with
reset_after, else the 2U of z and r) and then over the U units; h_{t-1} lives in shared memory.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32, float64

from rnnsim.cuda.kernels import activate, derivative


def _make_forward(dtype):
    @cuda.jit
    def gru_forward(
        x_proj,  # (B, T, 3U) x_t W + b_in
        recurrent_kernel,  # (U, 3U)
        recurrent_bias,  # (3U,) b_rec (zeros when reset_after=False or no bias)
        reset_after,
        h0,  # (B, U)
        step_mask,
        recurrent_drop,
        use_recurrent_drop,
        go_backwards,
        act,
        recurrent_act,
        record,
        hidden,  # out (B, T, U)
        gates,  # out (B, T, 3U): z, r, hh after activations
        recurrent_candidate,  # out (B, T, U): m_h (after) or r * h_in (before)
        preactivations,  # out (B, T, 3U) when record
    ):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nthreads = cuda.blockDim.x
        timesteps = x_proj.shape[1]
        width = x_proj.shape[2]
        units = width // 3
        shared = cuda.shared.array(0, dtype)
        h_prev = shared[0:units]  # (U,)
        h_in = shared[units : 2 * units]  # (U,) h_{t-1} * recurrent dropout
        reset_hidden = shared[2 * units : 3 * units]  # (U,) r * h_in (reset_after=False)
        for u in range(tid, units, nthreads):
            h_prev[u] = h0[b, u]
            h_in[u] = h0[b, u] * recurrent_drop[b, u] if use_recurrent_drop else h0[b, u]
        cuda.syncthreads()
        product_width = width if reset_after else 2 * units
        for s in range(timesteps):
            t = timesteps - 1 - s if go_backwards else s
            keep = step_mask[b, t] != 0
            if keep:
                for j in range(tid, product_width, nthreads):  # phase 1: m_j = h_in U[:, j] + b_rec[j]
                    m = recurrent_bias[j]
                    for k in range(units):
                        m += h_in[k] * recurrent_kernel[k, j]
                    if j < 2 * units:  # z, r
                        a = x_proj[b, t, j] + m
                        if record:
                            preactivations[b, t, j] = a
                        gates[b, t, j] = activate(recurrent_act, a)
                    else:  # m_h, kept for the candidate and for backward
                        recurrent_candidate[b, t, j - 2 * units] = m
                cuda.syncthreads()
                if not reset_after:
                    for u in range(tid, units, nthreads):
                        rh = gates[b, t, units + u] * h_in[u]
                        reset_hidden[u] = rh
                        recurrent_candidate[b, t, u] = rh
                    cuda.syncthreads()
                for u in range(tid, units, nthreads):  # phase 2: candidate and new state per unit
                    if reset_after:
                        a_h = x_proj[b, t, 2 * units + u] + gates[b, t, units + u] * recurrent_candidate[b, t, u]
                    else:
                        m_h = 0.0
                        for k in range(units):  # (r * h_in) U_h
                            m_h += reset_hidden[k] * recurrent_kernel[k, 2 * units + u]
                        a_h = x_proj[b, t, 2 * units + u] + m_h
                    if record:
                        preactivations[b, t, 2 * units + u] = a_h
                    hh = activate(act, a_h)
                    gates[b, t, 2 * units + u] = hh
                    z = gates[b, t, u]
                    h = z * h_prev[u] + (1.0 - z) * hh
                    hidden[b, t, u] = h
                    h_prev[u] = h
                    h_in[u] = h * recurrent_drop[b, u] if use_recurrent_drop else h
            else:
                for j in range(tid, width, nthreads):
                    gates[b, t, j] = 0.0
                    if record:
                        preactivations[b, t, j] = 0.0
                for u in range(tid, units, nthreads):
                    hidden[b, t, u] = h_prev[u]
                    recurrent_candidate[b, t, u] = 0.0
            cuda.syncthreads()

    return gru_forward


def _make_backward(dtype):
    @cuda.jit
    def gru_backward(
        recurrent_kernel_t,  # (3U, U)
        reset_after,
        h0,  # (B, U)
        step_mask,
        recurrent_drop,
        use_recurrent_drop,
        go_backwards,
        act,
        recurrent_act,
        hidden,  # (B, T, U)
        gates,  # (B, T, 3U)
        recurrent_candidate,  # (B, T, U)
        grad_hidden_seq,
        has_grad_seq,
        grad_h_final,  # (B, U)
        grad_input_preact,  # out (B, T, 3U) dL/d(x W + b_in)
        grad_recurrent_preact,  # out (B, T, 3U) dL/d(h_in U + b_rec) (after); d(h_in U_zr), d((r h) U_h) (before)
        grad_h0,  # out (B, U)
        grad_hidden_norm,  # out (B, T)
    ):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nthreads = cuda.blockDim.x
        timesteps = hidden.shape[1]
        units = hidden.shape[2]
        width = 3 * units
        shared = cuda.shared.array(0, dtype)
        dh = shared[0:units]  # (U,) dL/dh_t
        dh_in = shared[units : 2 * units]  # (U,) dL/d(r * h_in) U_h-path part (reset_after=False)
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
            if step_mask[b, t] == 0:
                for j in range(tid, width, nthreads):
                    grad_input_preact[b, t, j] = 0.0
                    grad_recurrent_preact[b, t, j] = 0.0
            else:
                previous = t + 1 if go_backwards else t - 1
                for u in range(tid, units, nthreads):  # phase A: per unit
                    z = gates[b, t, u]
                    hh = gates[b, t, 2 * units + u]
                    h_prev = h0[b, u] if s == 0 else hidden[b, previous, u]
                    dz = dh[u] * (h_prev - hh) * derivative(recurrent_act, z)
                    da_h = dh[u] * (1.0 - z) * derivative(act, hh)
                    grad_input_preact[b, t, u] = dz
                    grad_recurrent_preact[b, t, u] = dz
                    grad_input_preact[b, t, 2 * units + u] = da_h
                    if reset_after:
                        r = gates[b, t, units + u]
                        grad_recurrent_preact[b, t, 2 * units + u] = da_h * r
                        dr = da_h * recurrent_candidate[b, t, u] * derivative(recurrent_act, r)
                        grad_input_preact[b, t, units + u] = dr
                        grad_recurrent_preact[b, t, units + u] = dr
                    else:
                        grad_recurrent_preact[b, t, 2 * units + u] = da_h
                cuda.syncthreads()
                if not reset_after:
                    for k in range(tid, units, nthreads):  # d(r h_in) = da_h U_h^T, then dr
                        d_rh = 0.0
                        for j in range(2 * units, width):
                            d_rh += grad_recurrent_preact[b, t, j] * recurrent_kernel_t[j, k]
                        r = gates[b, t, units + k]
                        h_in_k = h0[b, k] if s == 0 else hidden[b, previous, k]
                        if use_recurrent_drop:
                            h_in_k *= recurrent_drop[b, k]
                        dr = d_rh * h_in_k * derivative(recurrent_act, r)
                        grad_input_preact[b, t, units + k] = dr
                        grad_recurrent_preact[b, t, units + k] = dr
                        dh_in[k] = d_rh * r
                    cuda.syncthreads()
                product_width = width if reset_after else 2 * units
                for k in range(tid, units, nthreads):  # dh_{t-1} = dh z + (d_rec U^T [+ d(rh) r]) * drop
                    acc = 0.0 if reset_after else dh_in[k]
                    for j in range(product_width):
                        acc += grad_recurrent_preact[b, t, j] * recurrent_kernel_t[j, k]
                    drop = recurrent_drop[b, k] if use_recurrent_drop else 1.0
                    dh[k] = dh[k] * gates[b, t, k] + acc * drop
            cuda.syncthreads()
        for u in range(tid, units, nthreads):
            grad_h0[b, u] = dh[u]

    return gru_backward


FORWARD = {np.dtype(np.float32): _make_forward(float32), np.dtype(np.float64): _make_forward(float64)}
BACKWARD = {np.dtype(np.float32): _make_backward(float32), np.dtype(np.float64): _make_backward(float64)}
SHARED_FORWARD = 3  # shared-memory vectors of length U per block
SHARED_BACKWARD = 2
