"""SimpleRNN: the plainest recurrent cell, and the one whose gradient vanishes.

The equations are declared once, in `rnnsim.cells.spec`, and end `SimpleRNNCell`'s docstring.
In the kernel's terms (Keras 3 layout; x_t is (D,), h_t is (U,)), with a_t the pre-activation:

    a_t = x_t W + h_{t-1} U + b          W (D, U), U (U, U), b (U,);   h_t = tanh(a_t)

Backpropagation through time, for a loss L, with dh_t the total gradient reaching h_t
(from the output at t, and from step t+1):

    da_t     = dh_t * (1 - h_t^2)        tanh'(a) written with its output
    dh_{t-1} = da_t U^T                  the only path back in time
    dW = sum_t x_t^T da_t,  dU = sum_t h_{t-1}^T da_t,  db = sum_t da_t,  dx_t = da_t W^T

Why it forgets: dh_{t-1} = (dh_t * tanh'(a_t)) U^T multiplies, at every step back, by a
Jacobian whose norm is usually below one (tanh' <= 1, an orthogonal U has norm 1), so
||dL/dh_t|| shrinks geometrically with the distance to the loss. The trace's
`grad_hidden_norm` shows exactly this curve.

Options, as Keras: masked (padded) steps carry h over unchanged; go_backwards reads the
sequence last-to-first; input dropout multiplies x_t by a per-sequence mask; recurrent
dropout multiplies h_{t-1} by a per-sequence mask where it enters h_{t-1} U.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnsim.cells import kernel_parts
from rnnsim.cells.activations import TANH, activate, derivative_scalar
from rnnsim.cells.base import RecurrentCell, trace_buffer
from rnnsim.cells.kernel_parts import (
    FALSE,
    FASTMATH,
    ONE,
    TRUE,
    ZERO,
    carry_hidden_gradient,
    chunk_bounds,
    copy_into,
    copy_rows,
    set_recurrent_input,
    take_output_gradient,
)
from rnnsim.cells.simd import matmul_packed_into, pack_columns
from rnnsim.cells.spec import SIMPLE_RNN as SIMPLE_RNN_SPEC
from rnnsim.cells.threads import run_chunks


@njit(nogil=True, cache=True, error_model="numpy", fastmath=FASTMATH)
def _simple_rnn_forward(
    chunk,  # which chunk of batch rows this call does (run_chunks: one per thread)
    n_chunks,  # how many chunks the batch is cut into
    recurrent_kernel,  # (U, U) as simd.pack_columns strips
    h0,  # (B, U)
    step_mask,  # (T, B) uint8, 0 = carry the state over
    recurrent_drop,  # (B, U) or a (1, 1) dummy
    use_recurrent_drop,
    go_backwards,
    act,
    fast,
    record,
    hidden,  # in: x_t W + b for every step (T, B, U); out: h_t, written in place
    preactivations,  # out (T, B, U) when record, else a dummy
):
    timesteps, batch, units = hidden.shape
    start, stop = chunk_bounds(batch, n_chunks, chunk)
    rows = stop - start
    if rows <= 0:
        return
    h_prev = h0[start:stop].copy()  # (R, U)
    h_in = h_prev.copy()  # h_{t-1} as it enters the recurrent product
    if use_recurrent_drop:
        h_in *= recurrent_drop[start:stop]
    for s in range(timesteps):
        t = timesteps - 1 - s if go_backwards else s
        a = hidden[t, start:stop]  # (R, U): x_t W + b on entry, h_t on exit
        matmul_packed_into(h_in, recurrent_kernel, a, ZERO, rows, TRUE)  # a_t = x_t W + b + h_{t-1} U
        for r in range(rows):
            b = start + r
            a_row, h_row = a[r], h_prev[r]
            if step_mask[t, b] == 0:
                copy_into(a_row, h_row)
                if record:
                    preactivations[t, b, :] = 0.0
                continue
            if record:
                copy_into(preactivations[t, b], a_row)
            activate(act, fast, a_row, ZERO, units)
            copy_into(h_row, a_row)
            set_recurrent_input(h_in[r], a_row, recurrent_drop, b, use_recurrent_drop)


@njit(nogil=True, cache=True, error_model="numpy", fastmath=FASTMATH)
def _simple_rnn_backward(
    chunk,  # which chunk of batch rows this call does (run_chunks: one per thread)
    n_chunks,  # how many chunks the batch is cut into
    recurrent_kernel_t,  # (U, U) U^T, packed
    step_mask,  # (T, B)
    recurrent_drop,
    use_recurrent_drop,
    go_backwards,
    act,
    hidden,  # (T, B, U) from the forward pass
    grad_hidden_seq,  # (T, B, U) dL/dh_t from the outputs, or a dummy
    has_grad_seq,
    grad_h_final,  # (B, U)
    grad_preact,  # out (T, B, U) dL/da_t
    grad_h0,  # out (B, U)
    grad_hidden_norm,  # out (B, T)
):
    timesteps, batch, units = hidden.shape
    start, stop = chunk_bounds(batch, n_chunks, chunk)
    rows = stop - start
    if rows <= 0:
        return
    dh = grad_h_final[start:stop].copy()  # (R, U) dL/dh_t
    dh_product = np.empty((rows, units), hidden.dtype)  # (R, U) da_t U^T
    for s in range(timesteps - 1, -1, -1):
        t = timesteps - 1 - s if go_backwards else s
        da = grad_preact[t, start:stop]  # (R, U) dL/da_t, zero on masked rows
        for r in range(rows):
            b = start + r
            dh_row, da_row = dh[r], da[r]
            take_output_gradient(dh_row, grad_hidden_seq, has_grad_seq, t, b, grad_hidden_norm)
            if step_mask[t, b] == 0:  # h was carried over: the gradient passes straight through
                da_row[:] = 0.0
                continue
            hidden_row = hidden[t, b]
            if act == TANH:  # the default, derivative written out: no branch in the loop, so it vectorizes
                for u in range(units):
                    da_row[u] = dh_row[u] * (ONE - hidden_row[u] * hidden_row[u])
            else:
                for u in range(units):
                    da_row[u] = dh_row[u] * derivative_scalar(act, hidden_row[u])
        matmul_packed_into(da, recurrent_kernel_t, dh_product, ZERO, rows, FALSE)  # dh_{t-1} = da_t U^T
        carry_hidden_gradient(0, rows, start, t, step_mask, recurrent_drop, use_recurrent_drop, dh_product, dh)
    copy_rows(grad_h0, dh, start)


class SimpleRNNCell(RecurrentCell):
    """Keras's SimpleRNN cell: h_t = activation(x_t W + h_{t-1} U + b).

    Args:
        units: U, the size of the hidden state.
        activation: default 'tanh'.
        use_bias: default True.
    """

    spec = SIMPLE_RNN_SPEC  # its gates and equations, declared once
    name = spec.key
    n_blocks = 1
    state_names = ("hidden",)

    def __init__(self, units, activation="tanh", use_bias=True):
        super().__init__(units, activation=activation, recurrent_activation=None, use_bias=use_bias)

    def _run_forward(self, x_proj, cache, record_trace):
        timesteps, batch, units = x_proj.shape
        dtype = cache["dtype"]
        hidden = x_proj  # overwritten in place: x_t W + b in, h_t out (one (T, B, U) array, not two)
        preactivations = trace_buffer(record_trace, (timesteps, batch, units), dtype)
        n_chunks = kernel_parts.thread_chunks(batch)
        run_chunks(
            _simple_rnn_forward,
            n_chunks,
            pack_columns(cache["weights"]["recurrent_kernel"]),
            cache["states"][0],
            cache["step_mask"],
            cache["recurrent_drop_arg"],
            cache["recurrent_drop"] is not None,
            cache["go_backwards"],
            self.activation_code,
            cache["fast"],
            record_trace,
            hidden,
            preactivations,
        )
        # For a SimpleRNN the one "gate" is the candidate, which is h_t itself.
        return {"hidden": hidden, "gates": hidden, "preactivations": preactivations}

    def _run_backward(self, cache, grad_hidden_seq, has_grad_seq, final_grads):
        hidden = cache["hidden"]
        timesteps, batch, units = hidden.shape
        dtype = cache["dtype"]
        grad_preact = self._scratch_buffer((timesteps, batch, units), dtype)  # (T, B, U), reused
        grad_h0 = np.empty((batch, units), dtype)
        grad_hidden_norm = np.empty((batch, timesteps), dtype)
        n_chunks = kernel_parts.thread_chunks(batch)
        run_chunks(
            _simple_rnn_backward,
            n_chunks,
            pack_columns(cache["weights"]["recurrent_kernel"].T),
            cache["step_mask"],
            cache["recurrent_drop_arg"],
            cache["recurrent_drop"] is not None,
            cache["go_backwards"],
            self.activation_code,
            hidden,
            grad_hidden_seq,
            has_grad_seq,
            final_grads[0],
            grad_preact,
            grad_h0,
            grad_hidden_norm,
        )
        return {
            "grad_input_preact": grad_preact,
            "grad_recurrent_preact": grad_preact,
            "initial_state": (grad_h0,),
            "grad_hidden_norm": grad_hidden_norm,
        }
