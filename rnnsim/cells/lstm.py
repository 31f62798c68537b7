"""LSTM: a cell state that the gradient can travel along, guarded by three gates.

The equations are declared once, in `rnnsim.cells.spec`, and end `LSTMCell`'s docstring. In the
kernel's terms (Keras 3 layout; gate blocks in the order i, f, c, o; sigma = recurrent_activation,
sigmoid by default; tanh = activation), one product makes every block's pre-activation:

    z_t = x_t W + h_{t-1} U + b                      (4U,)   W (D, 4U), U (U, 4U), b (4U,)
    i, f, g, o = sigma(z_t[0:U]), sigma(z_t[U:2U]), tanh(z_t[2U:3U]), sigma(z_t[3U:4U])

unit_forget_bias=True (Keras's default) starts b[U:2U] at 1, so f starts near sigma(1) = 0.73.

Backpropagation through time, with dh_t and dc_t the total gradients reaching h_t and c_t:

    dc_t    += dh_t * o_t * (1 - tanh(c_t)^2)
    do_t     = dh_t * tanh(c_t)
    di_t     = dc_t * g_t,   dg_t = dc_t * i_t,   df_t = dc_t * c_{t-1}
    dc_{t-1} = dc_t * f_t                          <- the additive path: no squashing, no U
    dz_t     = [di * i(1-i), df * f(1-f), dg * (1-g^2), do * o(1-o)]
    dh_{t-1} = dz_t U^T

The trace's `grad_cell_norm` shows the gradient travelling along c.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnsim.cells import kernel_parts
from rnnsim.cells.activations import SIGMOID, TANH, activate, derivative_scalar, fast_sigmoid, fast_tanh
from rnnsim.cells.base import RecurrentCell, trace_buffer
from rnnsim.cells.checks import nonfinite_input, pending_check, sum_of_zeros
from rnnsim.cells.embedding_lookup import TokenSequence, gather_step, token_steps
from rnnsim.cells.kernel_parts import (
    FALSE,
    FASTMATH,
    ONE,
    ZERO,
    carry_hidden_gradient,
    chunk_bounds,
    copy_into,
    copy_rows,
    norm_of,
    set_recurrent_input,
    take_output_gradient,
)
from rnnsim.cells.simd import matmul_joined_into, matmul_packed_into
from rnnsim.cells.spec import LSTM as LSTM_SPEC
from rnnsim.cells.threads import run_chunks

# -- forward -----------------------------------------------------------------------------
# Buffers are time-major (T, B, ...). Row buffers (h_prev, c_prev, h_in, product) are indexed by r;
# batch row b = offset + r; the fused kernel passes one thread's chunk (offset = its first row).
# `gates` is the x_proj buffer itself: at step t the rows add the chunk's recurrent product into
# gates[t] (making z_t) and overwrite it with the activated gates, so the forward keeps one
# (T, B, 4U) array, not two. The product goes into a small buffer that stays in cache rather than
# straight into gates[t]: at large U a tile accumulating into gates[t] would start with cache misses
# one row of gates apart.


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _lstm_forward_rows(
    r0,
    r1,
    offset,
    t,
    gates,  # (T, B, 4U): out, the activated i, f, g, o
    product,  # (R, 4U) [x_t, h_{t-1}] [W; U] of the chunk's rows; + b makes z_t in gates[t]
    input_bias,  # (4U,) b
    step_mask,  # (T, B) uint8, 0 = carry the state over
    recurrent_drop,  # (B, U) or a (1, 1) dummy
    use_recurrent_drop,
    act,
    recurrent_act,
    fast,
    record,
    h_prev,  # (R, U) state, updated
    c_prev,  # (R, U) state, updated
    h_in,  # (R, U) h_t as it enters the next recurrent product, updated
    tanh_buf,  # (U,) scratch
    hidden,  # out (T, B, U)
    cell_state,  # out (T, B, U)
    preactivations,  # out (T, B, 4U) when record, else a dummy
):
    units = h_prev.shape[1]
    # Loops run over 1-D views indexed from 0 (see activations.activate: that is what vectorizes).
    for r in range(r0, r1):
        b = offset + r
        z = gates[t, b]  # (4U,)
        h_row, c_row, h_in_row = h_prev[r], c_prev[r], h_in[r]
        hidden_row, cell_row = hidden[t, b], cell_state[t, b]
        if step_mask[t, b] == 0:
            copy_into(hidden_row, h_row)
            copy_into(cell_row, c_row)
            z[:] = 0.0
            if record:
                preactivations[t, b, :] = 0.0
            continue
        product_row = product[r]
        for j in range(z.shape[0]):  # z_t = (x_t W + h_{t-1} U) + b
            z[j] = product_row[j] + input_bias[j]
        if record:
            copy_into(preactivations[t, b], z)
        input_gate, forget_gate = z[:units], z[units : 2 * units]
        candidate, output_gate = z[2 * units : 3 * units], z[3 * units :]
        if fast and act == TANH and recurrent_act == SIGMOID:  # the defaults in float32: one fused loop
            for u in range(units):
                i = fast_sigmoid(input_gate[u])
                f = fast_sigmoid(forget_gate[u])
                g = fast_tanh(candidate[u])
                o = fast_sigmoid(output_gate[u])
                c = f * c_row[u] + i * g  # c_t = f * c_{t-1} + i * g
                input_gate[u], forget_gate[u], candidate[u], output_gate[u] = i, f, g, o
                c_row[u] = c
                cell_row[u] = c
                hidden_row[u] = o * fast_tanh(c)  # h_t = o * tanh(c_t)
        else:
            activate(recurrent_act, fast, z, ZERO, 2 * units)  # i, f
            activate(act, fast, z, 2 * units, 3 * units)  # g
            activate(recurrent_act, fast, z, 3 * units, 4 * units)  # o
            for u in range(units):  # c_t = f * c_{t-1} + i * g
                c = forget_gate[u] * c_row[u] + input_gate[u] * candidate[u]
                c_row[u] = c
                cell_row[u] = c
                tanh_buf[u] = c
            activate(act, fast, tanh_buf, ZERO, units)
            for u in range(units):  # h_t = o * tanh(c_t)
                hidden_row[u] = output_gate[u] * tanh_buf[u]
        copy_into(h_row, hidden_row)
        set_recurrent_input(h_in_row, hidden_row, recurrent_drop, b, use_recurrent_drop)


@njit(nogil=True, cache=True, error_model="numpy", fastmath=FASTMATH)
def _lstm_forward_fused(
    chunk,  # which chunk of batch rows this call does (run_chunks: one per thread)
    n_chunks,  # how many chunks the batch is cut into
    kernel,  # [W; U] (D + U, 4U) as simd.pack_stacked strips
    h0,  # (B, U)
    c0,  # (B, U)
    step_mask,
    recurrent_drop,
    use_recurrent_drop,
    go_backwards,
    act,
    recurrent_act,
    fast,
    record,
    gates,  # out (T, B, 4U)
    hidden,  # out (T, B, U)
    cell_state,  # out (T, B, U)
    preactivations,  # out (T, B, 4U) when record, else a dummy
    x_steps,  # (T, B, D) inputs, or a dummy; x_t W + b is computed here, step by step, from these or:
    input_bias,  # (4U,) b (zeros without one)
    from_tokens,  # x_t = table[token_ids[t]] instead of x_steps[t]
    token_ids,  # (T, B) ids, or a dummy
    table,  # (V, D) embeddings, or a dummy
):
    timesteps, batch, width = gates.shape
    units = width // 4
    start, stop = chunk_bounds(batch, n_chunks, chunk)
    rows = stop - start
    if rows <= 0:
        return
    h_prev = h0[start:stop].copy()  # (R, U)
    c_prev = c0[start:stop].copy()
    h_in = h_prev.copy()
    if use_recurrent_drop:
        h_in *= recurrent_drop[start:stop]
    tanh_buf = np.empty(units, gates.dtype)
    product = np.empty((rows, width), gates.dtype)  # (R, 4U), stays in cache
    x_rows = np.empty((rows if from_tokens else 0, table.shape[1]), gates.dtype)  # x_t looked up
    for s in range(timesteps):
        t = timesteps - 1 - s if go_backwards else s
        # [x_t, h_{t-1}] [W; U]: one product, which never leaves the cache
        if from_tokens:
            gather_step(table, token_ids[t, start:stop], x_rows)
            matmul_joined_into(x_rows, h_in, kernel, product, ZERO, rows, FALSE)
        else:
            matmul_joined_into(x_steps[t, start:stop], h_in, kernel, product, ZERO, rows, FALSE)
        _lstm_forward_rows(0, rows, start, t, gates, product, input_bias, step_mask, recurrent_drop,
                           use_recurrent_drop, act, recurrent_act, fast, record, h_prev, c_prev, h_in, tanh_buf,
                           hidden, cell_state, preactivations)


# -- forward for predict: nothing kept for backward ---------------------------------------
# The same arithmetic as the forward above, in the same order (the same bits: tested), but the gates are
# activated in the cache-resident product buffer and never written out, the cell states stay in the
# chunk's (R, U) buffer, and h_t is written out only when the layer returns sequences. At LSTM(512),
# B64 T100, that is 65 MB less written per pass. Inputs are read where they lie: x (B, T, D) batch-major,
# or time-major (T, B, D) memory such as a previous layer's outputs, with no copy.


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _lstm_predict_rows(r0, r1, offset, t, product, input_bias, step_mask, act, recurrent_act, fast, h_prev, c_prev,
                       tanh_buf, hidden, store_sequence):
    units = h_prev.shape[1]
    bias_i, bias_f = input_bias[:units], input_bias[units : 2 * units]
    bias_g, bias_o = input_bias[2 * units : 3 * units], input_bias[3 * units :]
    for r in range(r0, r1):
        b = offset + r
        h_row, c_row = h_prev[r], c_prev[r]
        if step_mask[t, b] != 0:
            if fast and act == TANH and recurrent_act == SIGMOID:
                # z_t = (x_t W + h_{t-1} U) + b read and activated in one pass, indexed in 2-D: no 1-D view of
                # each row (their set-up, and the checks that they do not overlap, were a third of the loop
                # at U = 32); the same arithmetic, so the same bits
                for u in range(units):
                    i = fast_sigmoid(product[r, u] + bias_i[u])
                    f = fast_sigmoid(product[r, units + u] + bias_f[u])
                    g = fast_tanh(product[r, 2 * units + u] + bias_g[u])
                    o = fast_sigmoid(product[r, 3 * units + u] + bias_o[u])
                    c = f * c_prev[r, u] + i * g
                    c_prev[r, u] = c
                    h_prev[r, u] = o * fast_tanh(c)
            else:
                z = product[r]  # (4U,): becomes z_t, then the activated gates
                for j in range(z.shape[0]):  # z_t = (x_t W + h_{t-1} U) + b
                    z[j] = z[j] + input_bias[j]
                input_gate, forget_gate = z[:units], z[units : 2 * units]
                candidate, output_gate = z[2 * units : 3 * units], z[3 * units :]
                activate(recurrent_act, fast, z, ZERO, 2 * units)
                activate(act, fast, z, 2 * units, 3 * units)
                activate(recurrent_act, fast, z, 3 * units, 4 * units)
                for u in range(units):
                    c = forget_gate[u] * c_row[u] + input_gate[u] * candidate[u]
                    c_row[u] = c
                    tanh_buf[u] = c
                activate(act, fast, tanh_buf, ZERO, units)
                for u in range(units):
                    h_row[u] = output_gate[u] * tanh_buf[u]
        if store_sequence:
            copy_into(hidden[t, b], h_row)


@njit(nogil=True, cache=True, error_model="numpy", fastmath=FASTMATH)
def _lstm_predict_fused(
    chunk,
    n_chunks,
    kernel,  # [W; U] (D + U, 4U) as simd.pack_stacked strips
    h0,  # (B, U)
    c0,  # (B, U)
    step_mask,  # (T, B) uint8
    go_backwards,
    act,
    recurrent_act,
    fast,
    x_batch,  # (B, T, D) inputs, batch-major, or a dummy
    x_time,  # (T, B, D) inputs, time-major, or a dummy
    time_major,  # which of the two holds the inputs
    from_tokens,  # neither: x_t = table[token_ids[t]]
    token_ids,  # (T, B) ids, or a dummy
    table,  # (V, D) embeddings, or a dummy
    input_bias,  # (4U,) b (zeros without one)
    hidden,  # out (T, B, U) when store_sequence, else a dummy
    store_sequence,
    h_final,  # out (B, U)
    c_final,  # out (B, U)
    check_inputs,  # check the dense inputs for NaN and infinity on the way (checks.checked_in_pass)
    nonfinite,  # out (n_chunks,): the sum of x * 0 over the chunk's inputs, 0 when all are finite
):
    timesteps = step_mask.shape[0]
    batch, units = h0.shape
    start, stop = chunk_bounds(batch, n_chunks, chunk)
    rows = stop - start
    if rows <= 0:
        return
    h_prev = h0[start:stop].copy()  # (R, U)
    c_prev = c0[start:stop].copy()
    tanh_buf = np.empty(units, h0.dtype)
    product = np.empty((rows, 4 * units), h0.dtype)  # (R, 4U), stays in cache
    x_rows = np.empty((rows if from_tokens else 0, table.shape[1]), h0.dtype)  # x_t looked up
    zeros_sum = h0.dtype.type(0)  # x * 0 summed: NaN once one x is NaN or infinite
    for s in range(timesteps):
        t = timesteps - 1 - s if go_backwards else s
        # [x_t, h_{t-1}] [W; U]: one product
        if from_tokens:
            gather_step(table, token_ids[t, start:stop], x_rows)
            matmul_joined_into(x_rows, h_prev, kernel, product, ZERO, rows, FALSE)
        else:
            x_t = x_time[t, start:stop] if time_major else x_batch[start:stop, t]
            if check_inputs:  # the rows the product reads next, from cache
                zeros_sum += sum_of_zeros(x_t)
            matmul_joined_into(x_t, h_prev, kernel, product, ZERO, rows, FALSE)
        _lstm_predict_rows(0, rows, start, t, product, input_bias, step_mask, act, recurrent_act, fast, h_prev,
                           c_prev, tanh_buf, hidden, store_sequence)
    copy_rows(h_final, h_prev, start)
    copy_rows(c_final, c_prev, start)
    nonfinite[chunk] = zeros_sum


# -- backward ----------------------------------------------------------------------------


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _lstm_backward_rows(
    r0,
    r1,
    offset,
    s,  # processing step (0 = first read)
    t,  # input position
    go_backwards,
    act,
    recurrent_act,
    fast,
    c0,  # (B, U)
    step_mask,  # (T, B)
    cell_state,  # (T, B, U) from the forward pass
    gates,  # (T, B, 4U)
    grad_hidden_seq,  # (T, B, U) or a dummy
    has_grad_seq,
    dh,  # (R, U) dL/dh_t, updated with the output gradient at t
    dc,  # (R, U) dL/dc_t, becomes dL/dc_{t-1}
    tanh_buf,  # (U,) scratch
    dc_buf,  # (U,) scratch
    grad_preact,  # out (T, B, 4U) dL/dz_t (zeros on masked rows)
    grad_hidden_norm,  # out (B, T)
    grad_cell_norm,  # out (B, T)
):
    units = dh.shape[1]
    previous = t + 1 if go_backwards else t - 1
    for r in range(r0, r1):
        b = offset + r
        dh_row, dc_row, dz = dh[r], dc[r], grad_preact[t, b]
        take_output_gradient(dh_row, grad_hidden_seq, has_grad_seq, t, b, grad_hidden_norm)
        if step_mask[t, b] == 0:  # state carried over: gradients pass straight through
            grad_cell_norm[b, t] = norm_of(dc_row)
            dz[:] = 0.0
            continue
        c_prev_row = c0[b] if s == 0 else cell_state[previous, b]
        if fast and act == TANH and recurrent_act == SIGMOID:
            # the defaults in float32: dc_t and the gate gradients in one pass, indexed in 2-D (as
            # _lstm_predict_rows); tanh(c_t) recomputed with the forward's function; the same arithmetic
            # as the loops below, so the same bits
            for u in range(units):
                tanh_c = fast_tanh(cell_state[t, b, u])
                i = gates[t, b, u]
                f = gates[t, b, units + u]
                g = gates[t, b, 2 * units + u]
                o = gates[t, b, 3 * units + u]
                dc_u = dc[r, u] + dh[r, u] * o * (ONE - tanh_c * tanh_c)
                dc_buf[u] = dc_u
                grad_preact[t, b, u] = dc_u * g * (i * (ONE - i))
                grad_preact[t, b, units + u] = dc_u * c_prev_row[u] * (f * (ONE - f))
                grad_preact[t, b, 2 * units + u] = dc_u * i * (ONE - g * g)
                grad_preact[t, b, 3 * units + u] = dh[r, u] * tanh_c * (o * (ONE - o))
                dc[r, u] = dc_u * f  # the cell-state path back in time
            grad_cell_norm[b, t] = norm_of(dc_buf)
            continue
        copy_into(tanh_buf, cell_state[t, b])
        activate(act, fast, tanh_buf, ZERO, units)
        gate_row = gates[t, b]
        # dc_t in dc_buf first (its norm is a separate, vectorized sum), then the gate gradients
        if act == TANH:  # the default, derivative written out: no branch in the loop, so it vectorizes
            for u in range(units):
                tanh_c = tanh_buf[u]
                dc_buf[u] = dc_row[u] + dh_row[u] * gate_row[3 * units + u] * (ONE - tanh_c * tanh_c)
        else:
            for u in range(units):
                dc_buf[u] = dc_row[u] + dh_row[u] * gate_row[3 * units + u] * derivative_scalar(act, tanh_buf[u])
        grad_cell_norm[b, t] = norm_of(dc_buf)
        if act == TANH and recurrent_act == SIGMOID:  # the defaults, written out (same arithmetic)
            for u in range(units):
                i = gate_row[u]
                f = gate_row[units + u]
                g = gate_row[2 * units + u]
                o = gate_row[3 * units + u]
                dc_u = dc_buf[u]
                dz[u] = dc_u * g * (i * (ONE - i))
                dz[units + u] = dc_u * c_prev_row[u] * (f * (ONE - f))
                dz[2 * units + u] = dc_u * i * (ONE - g * g)
                dz[3 * units + u] = dh_row[u] * tanh_buf[u] * (o * (ONE - o))
                dc_row[u] = dc_u * f  # the cell-state path back in time
        else:
            for u in range(units):
                i = gate_row[u]
                f = gate_row[units + u]
                g = gate_row[2 * units + u]
                o = gate_row[3 * units + u]
                dc_u = dc_buf[u]
                dz[u] = dc_u * g * derivative_scalar(recurrent_act, i)
                dz[units + u] = dc_u * c_prev_row[u] * derivative_scalar(recurrent_act, f)
                dz[2 * units + u] = dc_u * i * derivative_scalar(act, g)
                dz[3 * units + u] = dh_row[u] * tanh_buf[u] * derivative_scalar(recurrent_act, o)
                dc_row[u] = dc_u * f  # the cell-state path back in time


@njit(nogil=True, cache=True, error_model="numpy", fastmath=FASTMATH)
def _lstm_backward_fused(
    chunk,  # which chunk of batch rows this call does (run_chunks: one per thread)
    n_chunks,  # how many chunks the batch is cut into
    recurrent_kernel_t,  # (4U, U) U^T as simd.pack_columns strips
    c0,
    step_mask,
    recurrent_drop,
    use_recurrent_drop,
    go_backwards,
    act,
    recurrent_act,
    fast,
    cell_state,  # (T, B, U) from the forward pass
    gates,  # (T, B, 4U)
    grad_hidden_seq,  # (T, B, U) or a dummy
    has_grad_seq,
    grad_h_final,  # (B, U)
    grad_c_final,  # (B, U)
    grad_preact,  # out (T, B, 4U) dL/dz_t
    grad_h0,  # out (B, U)
    grad_c0,  # out (B, U)
    grad_hidden_norm,  # out (B, T)
    grad_cell_norm,  # out (B, T)
):
    timesteps, batch, units = cell_state.shape
    start, stop = chunk_bounds(batch, n_chunks, chunk)
    rows = stop - start
    if rows <= 0:
        return
    dh = grad_h_final[start:stop].copy()  # (R, U)
    dc = grad_c_final[start:stop].copy()
    dh_product = np.empty((rows, units), cell_state.dtype)
    tanh_buf = np.empty(units, cell_state.dtype)
    dc_buf = np.empty(units, cell_state.dtype)
    for s in range(timesteps - 1, -1, -1):
        t = timesteps - 1 - s if go_backwards else s
        _lstm_backward_rows(0, rows, start, s, t, go_backwards, act, recurrent_act, fast, c0, step_mask,
                            cell_state, gates, grad_hidden_seq, has_grad_seq, dh, dc, tanh_buf, dc_buf, grad_preact,
                            grad_hidden_norm, grad_cell_norm)
        # dh_{t-1} = dz_t U^T
        matmul_packed_into(grad_preact[t, start:stop], recurrent_kernel_t, dh_product, ZERO, rows, FALSE)
        carry_hidden_gradient(0, rows, start, t, step_mask, recurrent_drop, use_recurrent_drop, dh_product, dh)
    copy_rows(grad_h0, dh, start)
    copy_rows(grad_c0, dc, start)


def _token_args(tokens, token_ids, dtype):
    """The kernels' (from_tokens, token_ids (T, B), table (V, D)) for a TokenSequence, or dummies for none."""
    if tokens is None:
        return False, np.empty((1, 1), np.intp), np.empty((1, 1), dtype)
    return True, token_ids, tokens.embeddings


class LSTMCell(RecurrentCell):
    """Keras's LSTM cell (gate order i, f, c, o).

    Args:
        units: U, the size of the hidden and cell states.
        activation: for the candidate and the cell output; default 'tanh'.
        recurrent_activation: for the gates; default 'sigmoid'.
        use_bias: default True.
    """

    spec = LSTM_SPEC  # its gates and equations, declared once
    name = spec.key
    n_blocks = 4
    projects_inputs_in_loop = True
    checks_inputs_in_predict = True  # _lstm_predict_fused checks x for NaN as it reads it (checks.checked_in_pass)
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
        timesteps, batch, width = x_proj.shape
        units = self.units
        dtype = cache["dtype"]
        hidden = self._kept_buffer((timesteps, batch, units), dtype)
        cell_state = self._kept_buffer((timesteps, batch, units), dtype)
        gates = x_proj  # uninitialized (projects_inputs_in_loop): the activated gates come out in it
        preactivations = trace_buffer(record_trace, (timesteps, batch, width), dtype)
        weights = cache["weights"]
        h0, c0 = cache["states"]
        drop, use_drop = cache["recurrent_drop_arg"], cache["recurrent_drop"] is not None
        n_chunks = kernel_parts.thread_chunks(batch)
        common = (self.activation_code, self.recurrent_activation_code, cache["fast"], record_trace)
        x_steps, tokens = cache["x_steps"], cache["tokens"]
        inputs = (np.empty((1, 1, 1), dtype) if x_steps is None else x_steps, self._bias_or_zeros(weights, dtype),
                  *_token_args(tokens, cache["token_ids"], dtype))
        kernel = self._packed(weights["kernel"], weights["recurrent_kernel"])
        run_chunks(_lstm_forward_fused, n_chunks, kernel, h0, c0, cache["step_mask"], drop, use_drop,
                   cache["go_backwards"], *common, gates, hidden, cell_state, preactivations, *inputs)
        self._release_buffers(kernel)
        return {"hidden": hidden, "cell_state": cell_state, "gates": gates, "preactivations": preactivations}

    def _run_predict(self, x, x_proj, weights, states, step_mask, go_backwards, fast, return_sequences):
        """The forward pass for predict (see `_lstm_predict_fused`): (hidden (T, B, U) or None, (h, c)).

        x is the dense input or a TokenSequence; x_proj is never needed (projects_inputs_in_loop)."""
        batch, units = states[0].shape
        timesteps = step_mask.shape[0]
        dtype = states[0].dtype
        hidden = self._kept_buffer((timesteps, batch, units), dtype) if return_sequences else np.empty((1, 1, 1), dtype)
        h_final, c_final = np.empty((batch, units), dtype), np.empty((batch, units), dtype)
        dummy_x = np.empty((1, 1, 1), dtype)
        pending = None if isinstance(x, TokenSequence) else pending_check(x)  # the model left x's check to us
        if isinstance(x, TokenSequence):  # x_t looked up in the loop
            sources = (dummy_x, dummy_x, False, *_token_args(x, token_steps(x), dtype))
        else:  # x read where it lies
            time_major = not x.flags.c_contiguous and x.transpose(1, 0, 2).flags.c_contiguous
            if not time_major:
                x = np.ascontiguousarray(x)
            sources = (dummy_x if time_major else x, x.transpose(1, 0, 2) if time_major else dummy_x, time_major,
                       *_token_args(None, None, dtype))
        kernel = self._packed(weights["kernel"], weights["recurrent_kernel"])
        n_chunks = kernel_parts.thread_chunks(batch)
        nonfinite = np.zeros(n_chunks, dtype)
        run_chunks(_lstm_predict_fused, n_chunks, kernel, states[0], states[1], step_mask, go_backwards,
                   self.activation_code, self.recurrent_activation_code, fast, *sources,
                   self._bias_or_zeros(weights, dtype), hidden, return_sequences, h_final, c_final,
                   pending is not None, nonfinite)
        self._release_buffers(kernel)
        if pending is not None:
            if any(value != 0.0 for value in nonfinite.tolist()):  # NaN != 0 (a numpy reduction here costs
                # 0.1 ms, its code out of cache after the pass)
                raise nonfinite_input(pending.array)
            pending.done = True
        return (hidden if return_sequences else None), (h_final, c_final)

    def _bias_or_zeros(self, weights, dtype):
        return weights["bias"] if self.use_bias else np.zeros(4 * self.units, dtype)

    def _run_backward(self, cache, grad_hidden_seq, has_grad_seq, final_grads):
        cell_state = cache["cell_state"]
        timesteps, batch, units = cell_state.shape
        dtype = cache["dtype"]
        grad_preact = self._scratch_buffer((timesteps, batch, 4 * units), dtype)  # (T, B, 4U), reused
        grad_hidden_norm = np.empty((batch, timesteps), dtype)
        grad_cell_norm = np.empty((batch, timesteps), dtype)
        kernel_t = cache["weights"]["recurrent_kernel"].T  # (4U, U)
        c0 = cache["states"][1]
        step_mask, go_backwards = cache["step_mask"], cache["go_backwards"]
        drop, use_drop = cache["recurrent_drop_arg"], cache["recurrent_drop"] is not None
        n_chunks = kernel_parts.thread_chunks(batch)
        codes = (self.activation_code, self.recurrent_activation_code, cache["fast"])
        grad_h0 = np.empty((batch, units), dtype)
        grad_c0 = np.empty((batch, units), dtype)
        packed_t = self._packed(kernel_t)
        run_chunks(_lstm_backward_fused, n_chunks, packed_t, c0, step_mask, drop, use_drop, go_backwards,
                   *codes, cell_state, cache["gates"], grad_hidden_seq, has_grad_seq, final_grads[0],
                   final_grads[1], grad_preact, grad_h0, grad_c0, grad_hidden_norm, grad_cell_norm)
        self._release_buffers(packed_t)
        return {
            "grad_input_preact": grad_preact,
            "grad_recurrent_preact": grad_preact,
            "initial_state": (grad_h0, grad_c0),
            "grad_hidden_norm": grad_hidden_norm,
            "grad_cell_norm": grad_cell_norm,
        }
