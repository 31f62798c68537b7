"""GRU: one state, and an update gate that interpolates between keeping it and replacing it.

The equations are declared once, in `rnnsim.cells.spec`, and end `GRUCell`'s docstring. In the
kernel's terms (Keras 3 layout; gate blocks z, r, h; sigma = recurrent_activation, sigmoid by
default; tanh = activation), two products make the blocks' parts. With reset_after=True (Keras's
default, cuDNN-compatible) the bias is (2, 3U), row 0 for the input projection, row 1 for the
recurrent one, and hh_t below is the candidate h~_t:

    x_z, x_r, x_h = x_t W + b_in                     (3U,)  W (D, 3U), b_in = bias[0]
    m_z, m_r, m_h = h_{t-1} U + b_rec                (3U,)  U (U, 3U), b_rec = bias[1]
    z_t = sigma(x_z + m_z),  r_t = sigma(x_r + m_r),  hh_t = tanh(x_h + r_t * m_h)

With reset_after=False (the original GRU; bias (3U,)) the reset gate acts before the product,
hh_t = tanh(x_h + (r_t * h_{t-1}) U_h) with U_h = U[:, 2U:3U].

Backpropagation through time, with dh_t the total gradient reaching h_t:

    dz     = dh_t * (h_{t-1} - hh_t),   dhh = dh_t * (1 - z_t)
    da_h   = dhh * (1 - hh^2)                        dL/d(x_h + ...)
    after:  dm_h = da_h * r,  dr = da_h * m_h
    before: d(r h) = da_h U_h^T,  dr = d(r h) * h_{t-1}
    dh_{t-1} = dh_t * z_t  +  [dz', dr', dm_h] U^T    <- the first term is the GRU's memory path

Recurrent dropout multiplies h_{t-1} by a per-sequence mask where it enters the products
with U (all three blocks), not in the interpolation z * h_{t-1}; this is Keras's per-gate
formulation (implementation=1) with the three masks tied.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnsim.cells import kernel_parts
from rnnsim.cells.activations import SIGMOID, TANH, activate, derivative_scalar
from rnnsim.cells.base import RecurrentCell, column_sums, trace_buffer
from rnnsim.cells.kernel_parts import (
    FALSE,
    FASTMATH,
    ONE,
    TRUE,
    ZERO,
    chunk_bounds,
    copy_into,
    copy_rows,
    set_recurrent_input,
    take_output_gradient,
)
from rnnsim.cells.simd import matmul_packed_into, pack_columns
from rnnsim.cells.spec import GRU as GRU_SPEC
from rnnsim.cells.threads import matmul, run_chunks
from rnnsim.errors import InputError

# -- forward -----------------------------------------------------------------------------
# Buffers are time-major (T, B, ...). Each thread owns a chunk of batch rows for the whole time
# loop; per step its rows of every buffer are one contiguous block. Per step: the recurrent
# product of the chunk (`matmul_packed_into`; with reset_after=False a second one, which needs r_t
# first), then the gates row by row. Row buffers (h_prev, h_in, m, rh) are indexed by r; batch
# row b = start + r. `gates` is the x_proj buffer itself, overwritten with the activated gates.


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _gru_forward_gate_rows(
    start, t, m, z_slab, recurrent_bias, reset_after, step_mask, recurrent_act, fast, record, h_in, rh,
    recurrent_candidate, preactivations,
):
    """z_t and r_t of the chunk's rows, in place in z_slab[:, :2U]; r_t * h_in for reset_after=False."""
    units = h_in.shape[1]
    for r in range(h_in.shape[0]):
        b = start + r
        if step_mask[t, b] == 0:
            if not reset_after:
                rh[r, :] = 0.0
            continue
        row = z_slab[r]  # (3U,) x_t W + b_in on entry
        m_row = m[r]
        for j in range(2 * units):  # x_z + m_z + b_rec_z, x_r + m_r + b_rec_r
            row[j] += m_row[j] + recurrent_bias[j]
        if record:
            copy_into(preactivations[t, b, : 2 * units], row[: 2 * units])
        activate(recurrent_act, fast, row, ZERO, 2 * units)  # z, r
        if not reset_after:
            reset_gate, h_in_row, rh_row = row[units : 2 * units], h_in[r], rh[r]
            candidate_row = recurrent_candidate[t, b]
            for k in range(units):
                rh_row[k] = reset_gate[k] * h_in_row[k]
            copy_into(candidate_row, rh_row)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _gru_forward_state_rows(
    start, t, m, z_slab, recurrent_bias, reset_after, step_mask, recurrent_drop, use_recurrent_drop, act, fast,
    record, h_prev, h_in, hidden, recurrent_candidate, preactivations,
):
    """The candidate and h_t = z * h_{t-1} + (1 - z) * hh of the chunk's rows."""
    units = h_prev.shape[1]
    width = 3 * units
    for r in range(h_prev.shape[0]):
        b = start + r
        row, h_row, hidden_row, candidate_row = z_slab[r], h_prev[r], hidden[t, b], recurrent_candidate[t, b]
        if step_mask[t, b] == 0:  # carry the state over
            copy_into(hidden_row, h_row)
            row[:] = 0.0
            candidate_row[:] = 0.0
            if record:
                preactivations[t, b, :] = 0.0
            continue
        m_h = m[r, 2 * units :]
        update_gate, reset_gate, candidate = row[:units], row[units : 2 * units], row[2 * units :]
        if reset_after:
            bias_h = recurrent_bias[2 * units :]
            for u in range(units):  # x_h + r * (h_in U_h + b_rec_h)
                product = m_h[u] + bias_h[u]
                candidate_row[u] = product
                candidate[u] += reset_gate[u] * product
        else:
            for u in range(units):  # x_h + (r * h_in) U_h
                candidate[u] += m_h[u]
        if record:
            copy_into(preactivations[t, b, 2 * units :], candidate)
        activate(act, fast, row, 2 * units, width)  # hh
        for u in range(units):  # h_t = z * h_{t-1} + (1 - z) * hh
            z = update_gate[u]
            h = z * h_row[u] + (ONE - z) * candidate[u]
            h_row[u] = h
            hidden_row[u] = h
        set_recurrent_input(h_in[r], h_row, recurrent_drop, b, use_recurrent_drop)


@njit(nogil=True, cache=True, error_model="numpy", fastmath=FASTMATH)
def _gru_forward(
    chunk,  # which chunk of batch rows this call does (run_chunks: one per thread)
    n_chunks,  # how many chunks the batch is cut into
    kernel_zr,  # U_zr (U, 2U) as simd.pack_columns strips
    kernel_h,  # U_h (U, U), packed
    recurrent_bias,  # (3U,) b_rec (zeros when reset_after=False or no bias)
    reset_after,
    h0,  # (B, U)
    step_mask,  # (T, B)
    recurrent_drop,
    use_recurrent_drop,
    go_backwards,
    act,
    recurrent_act,
    fast,
    record,
    gates,  # in: x_proj (T, B, 3U) x_t W + b_in; out: z, r, hh after activations
    hidden,  # out (T, B, U)
    recurrent_candidate,  # out (T, B, U): m_h (after) or (r*h) (before), needed by backward
    preactivations,  # out (T, B, 3U) when record
):
    timesteps, batch, width = gates.shape
    units = width // 3
    start, stop = chunk_bounds(batch, n_chunks, chunk)
    rows = stop - start
    if rows <= 0:
        return
    h_prev = h0[start:stop].copy()  # (R, U)
    h_in = h_prev.copy()  # h_{t-1} as it enters the products with U
    if use_recurrent_drop:
        h_in *= recurrent_drop[start:stop]
    m = np.empty((rows, width), gates.dtype)  # (R, 3U) recurrent products
    rh = np.empty((rows, units), gates.dtype)  # r * h_in (reset_after=False)
    for s in range(timesteps):
        t = timesteps - 1 - s if go_backwards else s
        z_slab = gates[t, start:stop]  # (R, 3U)
        matmul_packed_into(h_in, kernel_zr, m[:, : 2 * units], ZERO, rows, FALSE)  # h_in U_zr
        if reset_after:
            matmul_packed_into(h_in, kernel_h, m[:, 2 * units :], ZERO, rows, FALSE)  # h_in U_h
        _gru_forward_gate_rows(start, t, m, z_slab, recurrent_bias, reset_after, step_mask, recurrent_act, fast,
                               record, h_in, rh, recurrent_candidate, preactivations)
        if not reset_after:
            matmul_packed_into(rh, kernel_h, m[:, 2 * units :], ZERO, rows, FALSE)  # (r * h_in) U_h
        _gru_forward_state_rows(start, t, m, z_slab, recurrent_bias, reset_after, step_mask, recurrent_drop,
                                use_recurrent_drop, act, fast, record, h_prev, h_in, hidden, recurrent_candidate,
                                preactivations)


# -- backward ----------------------------------------------------------------------------


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _gru_backward_gate_rows(
    start, s, t, reset_after, go_backwards, act, recurrent_act, h0, step_mask, hidden, gates, recurrent_candidate,
    grad_hidden_seq, has_grad_seq, dh, d_in, d_rec, grad_hidden_norm,
):
    """dz, da_h (and dr when reset_after) of the chunk's rows, into d_in and d_rec (zero rows where masked)."""
    units = dh.shape[1]
    previous = t + 1 if go_backwards else t - 1
    for r in range(dh.shape[0]):
        b = start + r
        dh_row, in_row, rec_row = dh[r], d_in[r], d_rec[r]
        take_output_gradient(dh_row, grad_hidden_seq, has_grad_seq, t, b, grad_hidden_norm)
        if step_mask[t, b] == 0:  # h was carried over: the gradient passes straight through
            in_row[:] = 0.0
            rec_row[:] = 0.0
            continue
        h_prev_row = h0[b] if s == 0 else hidden[previous, b]  # (U,)
        gate_row = gates[t, b]  # (3U,) z, r, hh
        z_gate, r_gate, candidate = gate_row[:units], gate_row[units : 2 * units], gate_row[2 * units :]
        d_z, d_r, d_h = in_row[:units], in_row[units : 2 * units], in_row[2 * units :]
        if act == TANH and recurrent_act == SIGMOID:  # the defaults, derivatives written out: no branch
            for u in range(units):  # in the loop, so it vectorizes (same arithmetic as derivative_scalar)
                z = z_gate[u]
                hh = candidate[u]
                d_z[u] = dh_row[u] * (h_prev_row[u] - hh) * (z * (ONE - z))
                d_h[u] = dh_row[u] * (ONE - z) * (ONE - hh * hh)
        else:
            for u in range(units):
                z = z_gate[u]
                hh = candidate[u]
                d_z[u] = dh_row[u] * (h_prev_row[u] - hh) * derivative_scalar(recurrent_act, z)
                d_h[u] = dh_row[u] * (ONE - z) * derivative_scalar(act, hh)
        copy_into(rec_row[:units], d_z)
        if reset_after:
            candidate_product = recurrent_candidate[t, b]  # (U,) m_h
            d_rec_r, d_rec_h = rec_row[units : 2 * units], rec_row[2 * units :]
            if recurrent_act == SIGMOID:
                for u in range(units):
                    r_u = r_gate[u]
                    d_rec_h[u] = d_h[u] * r_u
                    d_r[u] = d_h[u] * candidate_product[u] * (r_u * (ONE - r_u))
            else:
                for u in range(units):
                    r_u = r_gate[u]
                    d_rec_h[u] = d_h[u] * r_u
                    d_r[u] = d_h[u] * candidate_product[u] * derivative_scalar(recurrent_act, r_u)
            copy_into(d_rec_r, d_r)
        else:
            copy_into(rec_row[2 * units :], d_h)  # dr waits for d(r h) = da_h U_h^T


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _gru_backward_reset_rows(
    start, s, t, go_backwards, recurrent_act, h0, step_mask, recurrent_drop, use_recurrent_drop, hidden, gates,
    d_rh, d_in, d_rec, dh_in,
):
    """reset_after=False: dr = d(r h) * h_in * r', and dh_in starts as d(r h) * r."""
    units = d_rh.shape[1]
    previous = t + 1 if go_backwards else t - 1
    for r in range(d_rh.shape[0]):
        b = start + r
        if step_mask[t, b] == 0:
            continue
        h_prev_row = h0[b] if s == 0 else hidden[previous, b]
        r_gate = gates[t, b, units : 2 * units]
        d_rh_row, in_row, rec_row, dh_in_row = d_rh[r], d_in[r], d_rec[r], dh_in[r]
        for u in range(units):
            r_u = r_gate[u]
            h_in_u = h_prev_row[u] * recurrent_drop[b, u] if use_recurrent_drop else h_prev_row[u]
            dr = d_rh_row[u] * h_in_u * derivative_scalar(recurrent_act, r_u)
            in_row[units + u] = dr
            rec_row[units + u] = dr
            dh_in_row[u] = d_rh_row[u] * r_u


@njit(nogil=True, cache=True, error_model="numpy", fastmath=FASTMATH)
def _gru_backward(
    chunk,  # which chunk of batch rows this call does (run_chunks: one per thread)
    n_chunks,  # how many chunks the batch is cut into
    kernel_zr_t,  # U_zr^T (2U, U) as simd.pack_columns strips
    kernel_h_t,  # U_h^T (U, U), packed
    reset_after,
    h0,
    step_mask,  # (T, B)
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
    start, stop = chunk_bounds(batch, n_chunks, chunk)
    rows = stop - start
    if rows <= 0:
        return
    dh = grad_h_final[start:stop].copy()  # (R, U) dL/dh_t
    dh_in = np.empty((rows, units), hidden.dtype)  # dL/d(h_in)
    d_rh = np.empty((rows, units), hidden.dtype)  # dL/d(r * h_in), reset_after=False
    for s in range(timesteps - 1, -1, -1):
        t = timesteps - 1 - s if go_backwards else s
        d_in = grad_input_preact[t, start:stop]  # (R, 3U)
        d_rec = grad_recurrent_preact[t, start:stop]  # (R, 3U)
        _gru_backward_gate_rows(start, s, t, reset_after, go_backwards, act, recurrent_act, h0, step_mask, hidden,
                                gates, recurrent_candidate, grad_hidden_seq, has_grad_seq, dh, d_in, d_rec,
                                grad_hidden_norm)
        if reset_after:  # dh_in = d_rec U^T, as [dz, dr] U_zr^T + da_h U_h^T
            matmul_packed_into(d_rec[:, : 2 * units], kernel_zr_t, dh_in, ZERO, rows, FALSE)
            matmul_packed_into(d_rec[:, 2 * units :], kernel_h_t, dh_in, ZERO, rows, TRUE)
        else:
            matmul_packed_into(d_rec[:, 2 * units :], kernel_h_t, d_rh, ZERO, rows, FALSE)  # d(r h) = da_h U_h^T
            _gru_backward_reset_rows(start, s, t, go_backwards, recurrent_act, h0, step_mask, recurrent_drop,
                                     use_recurrent_drop, hidden, gates, d_rh, d_in, d_rec, dh_in)
            matmul_packed_into(d_rec[:, : 2 * units], kernel_zr_t, dh_in, ZERO, rows, TRUE)  # += [dz, dr] U_zr^T
        for r in range(rows):  # the direct path z * h_{t-1}, then the path through the products
            b = start + r
            if step_mask[t, b] == 0:
                continue
            dh_row, dh_in_row, z_gate = dh[r], dh_in[r], gates[t, b, :units]
            if use_recurrent_drop:
                drop_row = recurrent_drop[b]
                for k in range(units):
                    dh_row[k] = dh_row[k] * z_gate[k] + dh_in_row[k] * drop_row[k]
            else:
                for k in range(units):
                    dh_row[k] = dh_row[k] * z_gate[k] + dh_in_row[k]
    copy_rows(grad_h0, dh, start)


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

    spec = GRU_SPEC  # its gates and equations, declared once
    name = spec.key
    n_blocks = 3
    state_names = ("hidden",)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True, reset_after=True):
        super().__init__(units, activation, recurrent_activation, use_bias)
        if not isinstance(reset_after, (bool, np.bool_)):
            raise InputError(f"reset_after must be True or False, got {reset_after!r}")
        self.reset_after = bool(reset_after)

    def trace_options(self):
        return {"reset_after": np.array(self.reset_after)}

    def weight_shapes(self, input_dim):
        shapes = super().weight_shapes(input_dim)
        if self.use_bias and self.reset_after:
            shapes["bias"] = (2, 3 * self.units)  # input bias row, recurrent bias row
        return shapes

    def _input_bias(self, weights):
        if not self.use_bias:
            return None
        return weights["bias"][0] if self.reset_after else weights["bias"]  # the input row of (2, 3U)

    def _run_forward(self, x_proj, cache, record_trace):
        timesteps, batch, width = x_proj.shape
        units = self.units
        dtype = cache["dtype"]
        weights = cache["weights"]
        if self.use_bias and self.reset_after:
            recurrent_bias = np.ascontiguousarray(weights["bias"][1])
        else:
            recurrent_bias = np.zeros(width, dtype)
        hidden = self._kept_buffer((timesteps, batch, units), dtype)
        gates = x_proj  # overwritten in place: x_t W + b_in in, activated z, r, hh out
        recurrent_candidate = self._kept_buffer((timesteps, batch, units), dtype)
        preactivations = trace_buffer(record_trace, (timesteps, batch, width), dtype)
        n_chunks = kernel_parts.thread_chunks(batch)
        run_chunks(
            _gru_forward,
            n_chunks,
            pack_columns(weights["recurrent_kernel"][:, : 2 * units]),
            pack_columns(weights["recurrent_kernel"][:, 2 * units :]),
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
            gates,
            hidden,
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
        n_chunks = kernel_parts.thread_chunks(batch)
        run_chunks(
            _gru_backward,
            n_chunks,
            pack_columns(cache["weights"]["recurrent_kernel"][:, : 2 * units].T),
            pack_columns(cache["weights"]["recurrent_kernel"][:, 2 * units :].T),
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
            grads["recurrent_kernel"][:, 2 * units :] = matmul(rh.T, grad_rec[:, 2 * units :])
        if self.use_bias and self.reset_after:
            # grads["bias"] is already the input row, sum of grad_input_preact. The recurrent row's z and r
            # blocks are the same numbers (dz, dr enter x W and h U alike): only its candidate block differs.
            input_row = grads["bias"]
            recurrent_row = np.concatenate([input_row[: 2 * units], column_sums(grad_rec)[2 * units :]])
            grads["bias"] = np.stack([input_row, recurrent_row])  # (2, 3U)
