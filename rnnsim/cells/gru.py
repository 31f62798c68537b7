"""GRU: one state, and an update gate that interpolates between keeping it and replacing it.

Equations (Keras 3 layout; gate blocks z, r, h; sigma = recurrent_activation, sigmoid by
default; tanh = activation). With reset_after=True (Keras's default, cuDNN-compatible) the
bias has shape (2, 3U): row 0 for the input projection, row 1 for the recurrent one:

    x_z, x_r, x_h = x_t W + b_in                     (3U,)  W (D, 3U), b_in = bias[0]
    m_z, m_r, m_h = h_{t-1} U + b_rec                (3U,)  U (U, 3U), b_rec = bias[1]
    z_t  = sigma(x_z + m_z)                          update gate: how much of h_{t-1} to keep
    r_t  = sigma(x_r + m_r)                          reset gate: how much of h_{t-1} the candidate sees
    hh_t = tanh(x_h + r_t * m_h)                     candidate (the trace calls it 'candidate')
    h_t  = z_t * h_{t-1} + (1 - z_t) * hh_t

With reset_after=False (the original GRU; bias (3U,)) the reset gate acts before the product:

    hh_t = tanh(x_h + (r_t * h_{t-1}) U_h)           U_h = U[:, 2U:3U]

Backpropagation through time, with dh_t the total gradient reaching h_t:

    dz     = dh_t * (h_{t-1} - hh_t),   dhh = dh_t * (1 - z_t)
    da_h   = dhh * (1 - hh^2)                        dL/d(x_h + ...)
    after:  dm_h = da_h * r,  dr = da_h * m_h
    before: d(r h) = da_h U_h^T,  dr = d(r h) * h_{t-1}
    dh_{t-1} = dh_t * z_t  +  [dz', dr', dm_h] U^T    <- the first term is the GRU's memory path

Why it remembers: where z_t is near 1, h_{t-1} passes to h_t (and dh_t back to dh_{t-1})
almost unchanged: a leak-free path like the LSTM's cell state.

Recurrent dropout multiplies h_{t-1} by a per-sequence mask where it enters the products
with U (all three blocks), not in the interpolation z * h_{t-1}; this is Keras's per-gate
formulation (implementation=1) with the three masks tied.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from rnnsim.activations import SIGMOID, TANH, activate, derivative_scalar
from rnnsim.cells.base import RecurrentCell, trace_buffer
from rnnsim.cells.blocks import FASTMATH, copy_into
from rnnsim.errors import InputError


@njit(parallel=True, cache=True, error_model="numpy", fastmath=FASTMATH)
def _gru_forward(
    x_proj,  # (T, B, 3U) x_t W + b_in for every step
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
    fast,
    record,
    hidden,  # out (T, B, U)
    gates,  # out (T, B, 3U): z, r, hh after activations
    recurrent_candidate,  # out (T, B, U): m_h (after) or (r*h) (before), needed by backward
    preactivations,  # out (T, B, 3U) when record
):
    timesteps, batch, width = x_proj.shape
    units = width // 3
    for b in prange(batch):
        h_prev = h0[b].copy()
        h_in = np.empty(units, x_proj.dtype)  # h_{t-1} as it enters the products with U
        a = np.empty(width, x_proj.dtype)  # pre-activations
        m = np.empty(width, x_proj.dtype)  # recurrent products
        for s in range(timesteps):
            t = timesteps - 1 - s if go_backwards else s
            if step_mask[t, b] == 0:
                copy_into(hidden[t, b], h_prev)
                gates[t, b, :] = 0.0
                recurrent_candidate[t, b, :] = 0.0
                if record:
                    preactivations[t, b, :] = 0.0
                continue
            for k in range(units):
                h_in[k] = h_prev[k] * recurrent_drop[b, k] if use_recurrent_drop else h_prev[k]
            recurrent_width = width if reset_after else 2 * units
            copy_into(m, recurrent_bias)
            for k in range(units):  # m = h_in U (+ b_rec)
                h_k = h_in[k]
                for j in range(recurrent_width):
                    m[j] += h_k * recurrent_kernel[k, j]
            for j in range(2 * units):
                a[j] = x_proj[t, b, j] + m[j]
            activate(recurrent_act, fast, a, 0, 2 * units)  # z, r
            if reset_after:
                for u in range(units):
                    recurrent_candidate[t, b, u] = m[2 * units + u]
                    a[2 * units + u] = x_proj[t, b, 2 * units + u] + a[units + u] * m[2 * units + u]
            else:
                for u in range(units):
                    m[2 * units + u] = 0.0
                for k in range(units):  # (r * h_in) U_h
                    rh_k = a[units + k] * h_in[k]
                    recurrent_candidate[t, b, k] = rh_k
                    for u in range(units):
                        m[2 * units + u] += rh_k * recurrent_kernel[k, 2 * units + u]
                for u in range(units):
                    a[2 * units + u] = x_proj[t, b, 2 * units + u] + m[2 * units + u]
            if record:
                for j in range(2 * units):  # z and r were activated in place: undo by recomputing
                    preactivations[t, b, j] = x_proj[t, b, j] + m[j]
                for u in range(units):
                    preactivations[t, b, 2 * units + u] = a[2 * units + u]
            activate(act, fast, a, 2 * units, width)  # hh
            copy_into(gates[t, b], a)
            for u in range(units):
                z = a[u]
                h = z * h_prev[u] + (1.0 - z) * a[2 * units + u]
                h_prev[u] = h
                hidden[t, b, u] = h


@njit(parallel=True, cache=True, error_model="numpy", fastmath=FASTMATH)
def _gru_backward(
    recurrent_kernel_t,  # (3U, U)
    reset_after,
    h0,
    step_mask,
    recurrent_drop,
    use_recurrent_drop,
    go_backwards,
    act,
    recurrent_act,
    hidden,  # (T, B, U)
    gates,  # (T, B, 3U)
    recurrent_candidate,  # (T, B, U)
    grad_hidden_seq,
    has_grad_seq,
    grad_h_final,
    grad_input_preact,  # out (T, B, 3U) dL/d(x W + b_in)
    grad_recurrent_preact,  # out (T, B, 3U) dL/d(h_in U + b_rec) (after) / d(h_in U_zr), d((r h) U_h) (before)
    grad_h0,  # out (B, U)
    grad_hidden_norm,  # out (B, T)
):
    timesteps, batch, units = hidden.shape
    width = 3 * units
    for b in prange(batch):
        dh = grad_h_final[b].copy()
        d_in = np.empty(width, hidden.dtype)
        d_rec = np.empty(width, hidden.dtype)
        dh_in = np.empty(units, hidden.dtype)  # dL/d(h_in)
        d_rh = np.empty(units, hidden.dtype)  # dL/d(r * h_in), reset_after=False
        for s in range(timesteps - 1, -1, -1):
            t = timesteps - 1 - s if go_backwards else s
            if has_grad_seq:
                for u in range(units):
                    dh[u] += grad_hidden_seq[t, b, u]
            norm = 0.0
            for u in range(units):
                norm += dh[u] * dh[u]
            grad_hidden_norm[b, t] = math.sqrt(norm)
            if step_mask[t, b] == 0:
                grad_input_preact[t, b, :] = 0.0
                grad_recurrent_preact[t, b, :] = 0.0
                continue
            previous = t + 1 if go_backwards else t - 1
            h_prev_row = h0[b] if s == 0 else hidden[previous, b]  # (U,)
            gate_row = gates[t, b]  # (3U,) z, r, hh
            z_gate, r_gate, candidate = gate_row[:units], gate_row[units : 2 * units], gate_row[2 * units :]
            d_z, d_r, d_h = d_in[:units], d_in[units : 2 * units], d_in[2 * units :]
            if act == TANH and recurrent_act == SIGMOID:  # the defaults, derivatives written out: no branch
                for u in range(units):  # in the loop, so it vectorizes (same arithmetic as derivative_scalar)
                    z = z_gate[u]
                    hh = candidate[u]
                    d_z[u] = dh[u] * (h_prev_row[u] - hh) * (z * (1.0 - z))
                    d_h[u] = dh[u] * (1.0 - z) * (1.0 - hh * hh)
            else:
                for u in range(units):
                    z = z_gate[u]
                    hh = candidate[u]
                    d_z[u] = dh[u] * (h_prev_row[u] - hh) * derivative_scalar(recurrent_act, z)
                    d_h[u] = dh[u] * (1.0 - z) * derivative_scalar(act, hh)
            copy_into(d_rec[:units], d_z)
            if reset_after:
                candidate_product = recurrent_candidate[t, b]  # (U,) m_h
                d_rec_r, d_rec_h = d_rec[units : 2 * units], d_rec[2 * units :]
                if recurrent_act == SIGMOID:
                    for u in range(units):
                        r = r_gate[u]
                        d_rec_h[u] = d_h[u] * r
                        d_r[u] = d_h[u] * candidate_product[u] * (r * (1.0 - r))
                else:
                    for u in range(units):
                        r = r_gate[u]
                        d_rec_h[u] = d_h[u] * r
                        d_r[u] = d_h[u] * candidate_product[u] * derivative_scalar(recurrent_act, r)
                copy_into(d_rec_r, d_r)
                dh_in[:] = 0.0
                for j in range(width):  # dh_in = d_rec U^T
                    d_j = d_rec[j]
                    for k in range(units):
                        dh_in[k] += d_j * recurrent_kernel_t[j, k]
            else:
                for u in range(units):
                    d_rec[2 * units + u] = d_in[2 * units + u]
                d_rh[:] = 0.0
                for j in range(2 * units, width):  # d(r h) = da_h U_h^T
                    d_j = d_rec[j]
                    for k in range(units):
                        d_rh[k] += d_j * recurrent_kernel_t[j, k]
                for u in range(units):
                    r = gates[t, b, units + u]
                    h_in_u = h0[b, u] if s == 0 else hidden[previous, b, u]
                    if use_recurrent_drop:
                        h_in_u *= recurrent_drop[b, u]
                    dr = d_rh[u] * h_in_u * derivative_scalar(recurrent_act, r)
                    d_in[units + u] = dr
                    d_rec[units + u] = dr
                    dh_in[u] = d_rh[u] * r
                for j in range(2 * units):  # dh_in += [dz, dr] U_zr^T
                    d_j = d_rec[j]
                    for k in range(units):
                        dh_in[k] += d_j * recurrent_kernel_t[j, k]
            copy_into(grad_input_preact[t, b], d_in)
            copy_into(grad_recurrent_preact[t, b], d_rec)
            for k in range(units):  # the direct path z * h_{t-1}, then the path through the products
                z = gates[t, b, k]
                drop = recurrent_drop[b, k] if use_recurrent_drop else 1.0
                dh[k] = dh[k] * z + dh_in[k] * drop
        grad_h0[b, :] = dh


class GRUCell(RecurrentCell):
    """Keras's GRU cell (gate order z, r, h).

    Args:
        units: U, the size of the hidden state.
        activation: for the candidate; default 'tanh'.
        recurrent_activation: for the gates; default 'sigmoid'.
        use_bias: default True.
        reset_after: apply the reset gate after the recurrent product (default True, Keras 3
            and cuDNN); False gives the original GRU with a (3U,) bias.
    """

    name = "gru"
    n_blocks = 3
    state_names = ("hidden",)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True, reset_after=True):
        super().__init__(units, activation, recurrent_activation, use_bias)
        if not isinstance(reset_after, (bool, np.bool_)):
            raise InputError(f"reset_after must be True or False, got {reset_after!r}")
        self.reset_after = bool(reset_after)

    def weight_shapes(self, input_dim):
        shapes = super().weight_shapes(input_dim)
        if self.use_bias and self.reset_after:
            shapes["bias"] = (2, 3 * self.units)  # input bias row, recurrent bias row
        return shapes

    def _add_input_bias(self, x_proj, weights):
        if self.use_bias:
            x_proj += weights["bias"][0] if self.reset_after else weights["bias"]

    def _run_forward(self, x_proj, cache, record_trace):
        timesteps, batch, width = x_proj.shape
        units = self.units
        dtype = cache["dtype"]
        weights = cache["weights"]
        if self.use_bias and self.reset_after:
            recurrent_bias = np.ascontiguousarray(weights["bias"][1])
        else:
            recurrent_bias = np.zeros(width, dtype)
        hidden = np.empty((timesteps, batch, units), dtype)
        gates = np.empty((timesteps, batch, width), dtype)
        recurrent_candidate = np.empty((timesteps, batch, units), dtype)
        preactivations = trace_buffer(record_trace, (timesteps, batch, width), dtype)
        _gru_forward(
            x_proj,
            weights["recurrent_kernel"],
            recurrent_bias,
            self.reset_after,
            cache["states"][0],
            cache["step_mask"],
            cache["recurrent_drop_arg"],
            cache["recurrent_drop"] is not None,
            cache["go_backwards"],
            self.activation_code,
            self.recurrent_activation_code,
            cache["fast"],
            record_trace,
            hidden,
            gates,
            recurrent_candidate,
            preactivations,
        )
        return {
            "hidden": hidden,
            "gates": gates,
            "recurrent_candidate": recurrent_candidate,
            "preactivations": preactivations,
        }

    def _run_backward(self, cache, grad_hidden_seq, has_grad_seq, final_grads):
        hidden = cache["hidden"]
        timesteps, batch, units = hidden.shape
        dtype = cache["dtype"]
        grad_input_preact = self._scratch_buffer((timesteps, batch, 3 * units), dtype)  # (T, B, 3U), reused
        grad_recurrent_preact = self._scratch_buffer((timesteps, batch, 3 * units), dtype)
        grad_h0 = np.empty((batch, units), dtype)
        grad_hidden_norm = np.empty((batch, timesteps), dtype)
        _gru_backward(
            np.ascontiguousarray(cache["weights"]["recurrent_kernel"].T),
            self.reset_after,
            cache["states"][0],
            cache["step_mask"],
            cache["recurrent_drop_arg"],
            cache["recurrent_drop"] is not None,
            cache["go_backwards"],
            self.activation_code,
            self.recurrent_activation_code,
            hidden,
            cache["gates"],
            cache["recurrent_candidate"],
            grad_hidden_seq,
            has_grad_seq,
            final_grads[0],
            grad_input_preact,
            grad_recurrent_preact,
            grad_h0,
            grad_hidden_norm,
        )
        return {
            "grad_input_preact": grad_input_preact,
            "grad_recurrent_preact": grad_recurrent_preact,
            "initial_state": (grad_h0,),
            "grad_hidden_norm": grad_hidden_norm,
        }

    def _adjust_weight_gradients(self, cache, out, grads, grad_rec):
        units = self.units
        if not self.reset_after:
            # The candidate block of U multiplies r * h_{t-1}, not h_{t-1}.
            rh = cache["recurrent_candidate"].reshape(-1, units)  # (B*T, U)
            grads["recurrent_kernel"][:, 2 * units :] = rh.T @ grad_rec[:, 2 * units :]
        if self.use_bias and self.reset_after:
            # grads["bias"] is already the input row, sum of grad_input_preact. The recurrent row's z and r
            # blocks are the same numbers (dz, dr enter x W and h U alike): only its candidate block differs.
            input_row = grads["bias"]
            recurrent_row = np.concatenate([input_row[: 2 * units], grad_rec[:, 2 * units :].sum(axis=0)])
            grads["bias"] = np.stack([input_row, recurrent_row])  # (2, 3U)
