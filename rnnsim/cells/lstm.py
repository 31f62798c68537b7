"""LSTM: a cell state that the gradient can travel along, guarded by three gates.

Equations (Keras 3 layout; gate blocks in the order i, f, c, o; sigma = recurrent_activation,
sigmoid by default; tanh = activation):

    z_t = x_t W + h_{t-1} U + b                      (4U,)   W (D, 4U), U (U, 4U), b (4U,)
    i_t = sigma(z_t[0:U])                            input gate: how much new to write
    f_t = sigma(z_t[U:2U])                           forget gate: how much old to keep
    g_t = tanh(z_t[2U:3U])                           candidate (the trace calls it 'candidate')
    o_t = sigma(z_t[3U:4U])                          output gate: how much to show
    c_t = f_t * c_{t-1} + i_t * g_t                  cell state
    h_t = o_t * tanh(c_t)                            hidden state = output

unit_forget_bias=True (Keras's default) starts b[U:2U] at 1, so f starts near sigma(1) = 0.73.

Backpropagation through time, with dh_t and dc_t the total gradients reaching h_t and c_t:

    dc_t    += dh_t * o_t * (1 - tanh(c_t)^2)
    do_t     = dh_t * tanh(c_t)
    di_t     = dc_t * g_t,   dg_t = dc_t * i_t,   df_t = dc_t * c_{t-1}
    dc_{t-1} = dc_t * f_t                          <- the additive path: no squashing, no U
    dz_t     = [di * i(1-i), df * f(1-f), dg * (1-g^2), do * o(1-o)]
    dh_{t-1} = dz_t U^T

Why it remembers: along c the gradient is only multiplied by f_t, and a forget gate near 1
passes it back almost unchanged for many steps; the trace's `grad_cell_norm` shows it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from rnnsim.activations import activate, activate_scalar, derivative_scalar
from rnnsim.cells.base import RecurrentCell, trace_buffer


@njit(parallel=True, cache=True, error_model="numpy")
def _lstm_forward(
    x_proj,  # (B, T, 4U) x_t W + b for every step
    recurrent_kernel,  # (U, 4U)
    h0,  # (B, U)
    c0,  # (B, U)
    step_mask,  # (B, T) uint8
    recurrent_drop,  # (B, U) or a (1, 1) dummy
    use_recurrent_drop,
    go_backwards,
    act,
    recurrent_act,
    fast,
    record,
    hidden,  # out (B, T, U)
    cell_state,  # out (B, T, U)
    gates,  # out (B, T, 4U): i, f, g, o after their activations
    preactivations,  # out (B, T, 4U) when record, else a dummy
):
    batch, timesteps, width = x_proj.shape
    units = width // 4
    for b in prange(batch):
        h_prev = h0[b].copy()
        c_prev = c0[b].copy()
        z = np.empty(width, x_proj.dtype)
        for s in range(timesteps):
            t = timesteps - 1 - s if go_backwards else s
            if step_mask[b, t] == 0:
                hidden[b, t, :] = h_prev
                cell_state[b, t, :] = c_prev
                gates[b, t, :] = 0.0
                if record:
                    preactivations[b, t, :] = 0.0
                continue
            z[:] = x_proj[b, t]
            for k in range(units):  # z += h_{t-1} U
                h_k = h_prev[k] * recurrent_drop[b, k] if use_recurrent_drop else h_prev[k]
                for j in range(width):
                    z[j] += h_k * recurrent_kernel[k, j]
            if record:
                preactivations[b, t, :] = z
            activate(recurrent_act, fast, z, 0, 2 * units)  # i, f
            activate(act, fast, z, 2 * units, 3 * units)  # g
            activate(recurrent_act, fast, z, 3 * units, width)  # o
            gates[b, t, :] = z
            for u in range(units):
                c = z[units + u] * c_prev[u] + z[u] * z[2 * units + u]
                c_prev[u] = c
                cell_state[b, t, u] = c
            for u in range(units):
                h = z[3 * units + u] * activate_scalar(act, fast, c_prev[u])
                h_prev[u] = h
                hidden[b, t, u] = h


@njit(parallel=True, cache=True, error_model="numpy")
def _lstm_backward(
    recurrent_kernel_t,  # (4U, U)
    h0,
    c0,
    step_mask,
    recurrent_drop,
    use_recurrent_drop,
    go_backwards,
    act,
    recurrent_act,
    fast,
    cell_state,  # (B, T, U) from the forward pass
    gates,  # (B, T, 4U)
    grad_hidden_seq,  # (B, T, U) or a dummy
    has_grad_seq,
    grad_h_final,  # (B, U)
    grad_c_final,  # (B, U)
    grad_preact,  # out (B, T, 4U) dL/dz_t
    grad_h0,  # out (B, U)
    grad_c0,  # out (B, U)
    grad_hidden_norm,  # out (B, T)
    grad_cell_norm,  # out (B, T)
):
    batch, timesteps, units = cell_state.shape
    width = 4 * units
    for b in prange(batch):
        dh = grad_h_final[b].copy()
        dc = grad_c_final[b].copy()
        dz = np.empty(width, cell_state.dtype)
        for s in range(timesteps - 1, -1, -1):
            t = timesteps - 1 - s if go_backwards else s
            if has_grad_seq:
                for u in range(units):
                    dh[u] += grad_hidden_seq[b, t, u]
            norm = 0.0
            for u in range(units):
                norm += dh[u] * dh[u]
            grad_hidden_norm[b, t] = math.sqrt(norm)
            if step_mask[b, t] == 0:  # state carried over: gradients pass straight through
                norm = 0.0
                for u in range(units):
                    norm += dc[u] * dc[u]
                grad_cell_norm[b, t] = math.sqrt(norm)
                grad_preact[b, t, :] = 0.0
                continue
            previous = t + 1 if go_backwards else t - 1
            norm = 0.0
            for u in range(units):
                i = gates[b, t, u]
                f = gates[b, t, units + u]
                g = gates[b, t, 2 * units + u]
                o = gates[b, t, 3 * units + u]
                c_prev = c0[b, u] if s == 0 else cell_state[b, previous, u]
                tanh_c = activate_scalar(act, fast, cell_state[b, t, u])
                dc_u = dc[u] + dh[u] * o * derivative_scalar(act, tanh_c)
                norm += dc_u * dc_u
                dz[u] = dc_u * g * derivative_scalar(recurrent_act, i)
                dz[units + u] = dc_u * c_prev * derivative_scalar(recurrent_act, f)
                dz[2 * units + u] = dc_u * i * derivative_scalar(act, g)
                dz[3 * units + u] = dh[u] * tanh_c * derivative_scalar(recurrent_act, o)
                dc[u] = dc_u * f  # the cell-state path back in time
            grad_cell_norm[b, t] = math.sqrt(norm)
            grad_preact[b, t, :] = dz
            dh[:] = 0.0
            for j in range(width):  # dh_{t-1} = dz U^T
                dz_j = dz[j]
                for k in range(units):
                    dh[k] += dz_j * recurrent_kernel_t[j, k]
            if use_recurrent_drop:
                for k in range(units):
                    dh[k] *= recurrent_drop[b, k]
        grad_h0[b, :] = dh
        grad_c0[b, :] = dc


class LSTMCell(RecurrentCell):
    """Keras's LSTM cell (gate order i, f, c, o).

    Args:
        units: U, the size of the hidden and cell states.
        activation: for the candidate and the cell output; default 'tanh'.
        recurrent_activation: for the gates; default 'sigmoid'.
        use_bias: default True.
    """

    name = "lstm"
    n_blocks = 4
    state_names = ("hidden", "cell")

    def init_weights(self, input_dim, rng, dtype=np.float32, kernel_initializer="glorot_uniform",
                     recurrent_initializer="orthogonal", bias_initializer="zeros", unit_forget_bias=True):
        weights = super().init_weights(
            input_dim, rng, dtype, kernel_initializer, recurrent_initializer, bias_initializer
        )
        if self.use_bias and unit_forget_bias:
            weights["bias"][self.units : 2 * self.units] = 1.0  # Keras: remember by default
        return weights

    def _run_forward(self, x_proj, cache, record_trace):
        batch, timesteps, width = x_proj.shape
        units = self.units
        dtype = cache["dtype"]
        hidden = np.empty((batch, timesteps, units), dtype)
        cell_state = np.empty((batch, timesteps, units), dtype)
        gates = np.empty((batch, timesteps, width), dtype)
        preactivations = trace_buffer(record_trace, (batch, timesteps, width), dtype)
        _lstm_forward(
            x_proj,
            cache["weights"]["recurrent_kernel"],
            cache["states"][0],
            cache["states"][1],
            cache["step_mask"],
            cache["recurrent_drop_arg"],
            cache["recurrent_drop"] is not None,
            cache["go_backwards"],
            self.activation_code,
            self.recurrent_activation_code,
            cache["fast"],
            record_trace,
            hidden,
            cell_state,
            gates,
            preactivations,
        )
        return {"hidden": hidden, "cell_state": cell_state, "gates": gates, "preactivations": preactivations}

    def _run_backward(self, cache, grad_hidden_seq, has_grad_seq, final_grads):
        cell_state = cache["cell_state"]
        batch, timesteps, units = cell_state.shape
        dtype = cache["dtype"]
        grad_preact = np.empty((batch, timesteps, 4 * units), dtype)
        grad_h0 = np.empty((batch, units), dtype)
        grad_c0 = np.empty((batch, units), dtype)
        grad_hidden_norm = np.empty((batch, timesteps), dtype)
        grad_cell_norm = np.empty((batch, timesteps), dtype)
        _lstm_backward(
            np.ascontiguousarray(cache["weights"]["recurrent_kernel"].T),
            cache["states"][0],
            cache["states"][1],
            cache["step_mask"],
            cache["recurrent_drop_arg"],
            cache["recurrent_drop"] is not None,
            cache["go_backwards"],
            self.activation_code,
            self.recurrent_activation_code,
            cache["fast"],
            cell_state,
            cache["gates"],
            grad_hidden_seq,
            has_grad_seq,
            final_grads[0],
            final_grads[1],
            grad_preact,
            grad_h0,
            grad_c0,
            grad_hidden_norm,
            grad_cell_norm,
        )
        return {
            "grad_input_preact": grad_preact,
            "grad_recurrent_preact": grad_preact,
            "initial_state": (grad_h0, grad_c0),
            "grad_hidden_norm": grad_hidden_norm,
            "grad_cell_norm": grad_cell_norm,
        }
