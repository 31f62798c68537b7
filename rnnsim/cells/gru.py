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
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

from rnnsim.activations import SIGMOID, TANH, activate, derivative_scalar
from rnnsim.cells import blocks
from rnnsim.cells.base import RecurrentCell, trace_buffer
from rnnsim.cells.blocks import FASTMATH, chunk_bounds
from rnnsim.cells.simd import matmul_into
from rnnsim.errors import InputError

# -- shared ------------------------------------------------------------------------------
# Both kernels cut the batch into one chunk of rows per thread (`n_chunks`, read in Python by
# blocks.thread_chunks); each thread walks its chunk in groups of GROUP_ROWS rows, and each
# group goes through the whole time loop before the next starts. Per step, a group's recurrent
# product is one `matmul_into` call (two with reset_after=False, whose second product needs r_t
# first); the gates are row loops. Row buffers (m, h_prev, h_in, rh, dh, d_rec, ...) hold one
# group and are indexed by r; batch row b = offset + r.
#
# Why groups of 4 rows and not the whole chunk at once: at these sizes the time loop is bound by
# memory as much as by arithmetic. The (B, T, ...) buffers put a row's step t next to its step
# t+1 and the next row T steps further on, so per step a group reads and writes a few hundred
# bytes in each of its rows of each buffer. One row at a time is a handful of sequential streams
# that the hardware prefetcher follows; a 64-row chunk per step is hundreds of short strided
# accesses it does not, and every step waits on memory (measured here: the forward's loads and
# stores alone, B128 T500 U32, ~4 ms in groups of 1 or 4 rows, 10-15 ms in groups of 8 to 128;
# the whole chunked kernels ran no faster than the per-row ones they replaced). 4 rows are the
# micro-kernel's tile height, so its speed stays (~70 GFLOP/s at (4, 32) @ (32, 96), ~20 for one
# row), and `_prefetch_rows` requests each group's rows PREFETCH_STEPS steps before their use
# (a further ~15% off the backward, whose 4 rows x 5 buffers are more streams than the hardware
# tracks).
#
# The row loops are written for LLVM's vectorizer: each loop writes one array (with several,
# the runtime alias checks between them exceed its limit and the loop stays scalar), and the
# constants are float32 (`ONE`), so float32 arithmetic is not widened to float64.

GROUP_ROWS = 4  # rows that go through the time loop together (the micro-kernel's tile height)
PREFETCH_STEPS = 2  # how many steps ahead `_prefetch_rows` fetches
ONE = np.float32(1.0)  # a float32 1: float32 arithmetic stays float32, float64 is unchanged


def _make_prefetch(write):
    """An intrinsic `prefetch(array, b, t, byte)`: hint the cache line at byte `byte` of array[b, t, :]."""

    @intrinsic
    def prefetch(typingctx, array, b, t, byte):
        if not isinstance(array, types.Array) or array.ndim != 3:
            raise TypingError("prefetch takes a 3-D array")
        sig = types.void(array, types.intp, types.intp, types.intp)

        def codegen(context, builder, signature, args):
            array_val, b_val, t_val, byte_val = args
            ary = context.make_array(signature.args[0])(context, builder, array_val)
            strides = cgutils.unpack_tuple(builder, ary.strides, 3)
            offset = builder.add(builder.add(builder.mul(b_val, strides[0]), builder.mul(t_val, strides[1])), byte_val)
            byte_ptr = ir.IntType(8).as_pointer()
            address = builder.gep(builder.bitcast(ary.data, byte_ptr), [offset])
            i32 = ir.IntType(32)
            llvm_prefetch = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32]), "llvm.prefetch.p0i8"
            )  # (address, 0 read / 1 write, locality 3 = keep in all cache levels, 1 = data)
            flags = [ir.Constant(i32, int(write)), ir.Constant(i32, 3), ir.Constant(i32, 1)]
            builder.call(llvm_prefetch, [address, *flags])
            return context.get_dummy_value()

        return sig, codegen

    return prefetch


_prefetch_read = _make_prefetch(False)
_prefetch_write = _make_prefetch(True)


@njit(cache=True, error_model="numpy")
def _prefetch_rows(array, offset, rows, t, write):
    """Hint array[b, t, :] for rows b = offset .. offset + rows - 1 into the cache (no effect on results)."""
    row_bytes = array.shape[2] * array.itemsize
    for b in range(offset, offset + rows):
        for byte in range(0, row_bytes, 64):
            if write:
                _prefetch_write(array, b, t, byte)
            else:
                _prefetch_read(array, b, t, byte)


# -- forward -----------------------------------------------------------------------------


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _gru_forward_gate_rows(
    m,  # (G, 3U): h_in U on entry (z, r blocks; all three when reset_after); z, r activated on exit
    rows,
    offset,
    t,
    gates,  # (B, T, 3U): x_t W + b_in at step t (read here, overwritten by `_gru_forward_state_rows`)
    recurrent_bias,  # (3U,)
    reset_after,
    step_mask,
    recurrent_act,
    fast,
    record,
    h_in,  # (G, U) h_{t-1} as it enters the products with U
    rh,  # out (G, U) r_t * h_in when reset_after=False (zeros on masked rows)
    recurrent_candidate,  # out (B, T, U): r_t * h_in when reset_after=False
    preactivations,  # out (B, T, 3U) when record
):
    """z_t and r_t of each row of the group, and before, r_t * h_in: the second product's input."""
    units = m.shape[1] // 3
    for r in range(rows):
        b = offset + r
        if step_mask[b, t] == 0:
            if not reset_after:
                for k in range(units):
                    rh[r, k] = 0.0
            continue
        for j in range(2 * units):  # x_z + m_z, x_r + m_r
            m[r, j] += gates[b, t, j] + recurrent_bias[j]
        if record:
            for j in range(2 * units):
                preactivations[b, t, j] = m[r, j]
        activate(recurrent_act, fast, m[r], 0, 2 * units)  # z, r
        if not reset_after:
            for k in range(units):
                rh[r, k] = m[r, units + k] * h_in[r, k]
            for k in range(units):
                recurrent_candidate[b, t, k] = rh[r, k]


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _gru_forward_state_rows(
    m,  # (G, 3U): activated z, r, and m_h = h_in U_h (after) or (r * h_in) U_h (before)
    rows,
    offset,
    t,
    recurrent_bias,
    reset_after,
    step_mask,
    recurrent_drop,
    use_recurrent_drop,
    act,
    fast,
    record,
    h_prev,  # (G, U) state, updated
    h_in,  # (G, U) h_t as it enters the next products with U, updated
    hidden,  # out (B, T, U)
    gates,  # (B, T, 3U): x_h read at step t, then the activated z, r, hh written over x_t W + b_in
    recurrent_candidate,  # out (B, T, U): m_h when reset_after
    preactivations,
):
    """The candidate and h_t = z * h_{t-1} + (1 - z) * hh of each row of the group."""
    width = m.shape[1]
    units = width // 3
    for r in range(rows):
        b = offset + r
        if step_mask[b, t] == 0:  # carry the state over
            for u in range(units):
                hidden[b, t, u] = h_prev[r, u]
            for j in range(width):
                gates[b, t, j] = 0.0
            for u in range(units):
                recurrent_candidate[b, t, u] = 0.0
            if record:
                for j in range(width):
                    preactivations[b, t, j] = 0.0
            continue
        if reset_after:
            for u in range(units):  # m_h = h_in U_h + b_rec_h
                recurrent_candidate[b, t, u] = m[r, 2 * units + u] + recurrent_bias[2 * units + u]
            for u in range(units):  # x_h + r * m_h
                m[r, 2 * units + u] = gates[b, t, 2 * units + u] + m[r, units + u] * recurrent_candidate[b, t, u]
        else:
            for u in range(units):  # x_h + (r * h_in) U_h
                m[r, 2 * units + u] += gates[b, t, 2 * units + u]
        if record:
            for u in range(units):
                preactivations[b, t, 2 * units + u] = m[r, 2 * units + u]
        activate(act, fast, m[r], 2 * units, width)  # hh
        for j in range(width):
            gates[b, t, j] = m[r, j]
        for u in range(units):  # h_t = z * h_{t-1} + (1 - z) * hh
            h_prev[r, u] = m[r, u] * h_prev[r, u] + (ONE - m[r, u]) * m[r, 2 * units + u]
        for u in range(units):
            hidden[b, t, u] = h_prev[r, u]
        if use_recurrent_drop:
            for u in range(units):
                h_in[r, u] = h_prev[r, u] * recurrent_drop[b, u]
        else:
            for u in range(units):
                h_in[r, u] = h_prev[r, u]


@njit(parallel=True, cache=True, error_model="numpy", fastmath=FASTMATH)
def _gru_forward(
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
    n_chunks,  # one chunk of batch rows per thread
    group_rows,  # rows that go through the time loop together
    gates,  # in: x_proj (B, T, 3U) x_t W + b_in for every step; out: z, r, hh after activations
    hidden,  # out (B, T, U)
    recurrent_candidate,  # out (B, T, U): m_h (after) or (r*h) (before), needed by backward
    preactivations,  # out (B, T, 3U) when record
):
    batch, timesteps, width = gates.shape
    units = width // 3
    kernel_zr = recurrent_kernel[:, : 2 * units]  # (U, 2U)
    kernel_h = recurrent_kernel[:, 2 * units :]  # (U, U)
    for chunk in prange(n_chunks):
        start, stop = chunk_bounds(batch, n_chunks, chunk)
        if stop <= start:
            continue
        group = min(group_rows, stop - start)
        h_prev = np.empty((group, units), gates.dtype)
        h_in = np.empty((group, units), gates.dtype)
        m = np.empty((group, width), gates.dtype)  # recurrent products, then gates
        m_h = m[:, 2 * units :]
        rh = np.empty((group, units), gates.dtype)  # r * h_in (reset_after=False)
        for first in range(start, stop, group):
            rows = min(group, stop - first)
            for r in range(rows):
                for u in range(units):
                    h_prev[r, u] = h0[first + r, u]
                    h_in[r, u] = h0[first + r, u]
                    if use_recurrent_drop:
                        h_in[r, u] *= recurrent_drop[first + r, u]
            for s in range(timesteps):
                t = timesteps - 1 - s if go_backwards else s
                if s + PREFETCH_STEPS < timesteps:
                    ahead = t - PREFETCH_STEPS if go_backwards else t + PREFETCH_STEPS
                    _prefetch_rows(gates, first, rows, ahead, True)
                    _prefetch_rows(hidden, first, rows, ahead, True)
                    _prefetch_rows(recurrent_candidate, first, rows, ahead, True)
                    if record:
                        _prefetch_rows(preactivations, first, rows, ahead, True)
                if reset_after:
                    matmul_into(h_in, recurrent_kernel, m, 0, rows, False)  # h_in U, all three blocks
                else:
                    matmul_into(h_in, kernel_zr, m, 0, rows, False)  # h_in U_zr
                _gru_forward_gate_rows(m, rows, first, t, gates, recurrent_bias, reset_after, step_mask,
                                       recurrent_act, fast, record, h_in, rh, recurrent_candidate, preactivations)
                if not reset_after:
                    matmul_into(rh, kernel_h, m_h, 0, rows, False)  # (r * h_in) U_h
                _gru_forward_state_rows(m, rows, first, t, recurrent_bias, reset_after, step_mask, recurrent_drop,
                                        use_recurrent_drop, act, fast, record, h_prev, h_in, hidden, gates,
                                        recurrent_candidate, preactivations)


# -- backward ----------------------------------------------------------------------------


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _gru_backward_gate_rows(
    rows,
    offset,
    s,  # processing step (0 = first read)
    t,  # input position
    reset_after,
    go_backwards,
    act,
    recurrent_act,
    h0,
    step_mask,
    hidden,  # (B, T, U)
    gates,  # (B, T, 3U)
    recurrent_candidate,  # (B, T, U)
    grad_hidden_seq,
    has_grad_seq,
    dh,  # (G, U) dL/dh_t, updated with the output gradient at t
    d_rec,  # out (G, 3U) the rows multiplied by U^T: dz, dr, da_h * r (after) / da_h (before; dr later)
    grad_input_preact,  # out (B, T, 3U)
    grad_recurrent_preact,  # out (B, T, 3U)
    grad_hidden_norm,  # out (B, T)
):
    """dz, dr and da_h of each row of the group; with reset_after=False dr waits for d(r h)."""
    units = dh.shape[1]
    width = 3 * units
    previous = t + 1 if go_backwards else t - 1
    for r in range(rows):
        b = offset + r
        if has_grad_seq:
            for u in range(units):
                dh[r, u] += grad_hidden_seq[b, t, u]
        norm = 0.0
        for u in range(units):
            norm += dh[r, u] * dh[r, u]
        grad_hidden_norm[b, t] = math.sqrt(norm)
        if step_mask[b, t] == 0:  # state carried over: dh passes straight through, the product adds nothing
            for j in range(width):
                grad_input_preact[b, t, j] = 0.0
            for j in range(width):
                grad_recurrent_preact[b, t, j] = 0.0
            for j in range(width):
                d_rec[r, j] = 0.0
            continue
        h_prev_row = h0[b] if s == 0 else hidden[b, previous]  # (U,)
        if act == TANH and recurrent_act == SIGMOID:  # the defaults, derivatives written out: no branch
            for u in range(units):  # in the loop, so it vectorizes (same arithmetic as derivative_scalar)
                z = gates[b, t, u]
                d_rec[r, u] = dh[r, u] * (h_prev_row[u] - gates[b, t, 2 * units + u]) * (z * (ONE - z))  # dz
            for u in range(units):
                hh = gates[b, t, 2 * units + u]
                d_rec[r, 2 * units + u] = dh[r, u] * (ONE - gates[b, t, u]) * (ONE - hh * hh)  # da_h
        else:
            for u in range(units):
                z = gates[b, t, u]
                d_rec[r, u] = dh[r, u] * (h_prev_row[u] - gates[b, t, 2 * units + u]) * derivative_scalar(
                    recurrent_act, z)
            for u in range(units):
                hh = gates[b, t, 2 * units + u]
                d_rec[r, 2 * units + u] = dh[r, u] * (ONE - gates[b, t, u]) * derivative_scalar(act, hh)
        if reset_after:
            if recurrent_act == SIGMOID:  # dr = da_h * m_h * sigma'(r)
                for u in range(units):
                    r_u = gates[b, t, units + u]
                    d_rec[r, units + u] = d_rec[r, 2 * units + u] * recurrent_candidate[b, t, u] * (r_u * (ONE - r_u))
            else:
                for u in range(units):
                    r_u = gates[b, t, units + u]
                    d_rec[r, units + u] = (d_rec[r, 2 * units + u] * recurrent_candidate[b, t, u]
                                           * derivative_scalar(recurrent_act, r_u))
            for j in range(width):  # dz, dr, da_h
                grad_input_preact[b, t, j] = d_rec[r, j]
            for u in range(units):  # the product sees da_h * r
                d_rec[r, 2 * units + u] *= gates[b, t, units + u]
            for j in range(width):
                grad_recurrent_preact[b, t, j] = d_rec[r, j]


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _gru_backward_reset_rows(
    rows,
    offset,
    s,
    t,
    go_backwards,
    recurrent_act,
    h0,
    step_mask,
    recurrent_drop,
    use_recurrent_drop,
    hidden,
    gates,
    d_rh,  # (G, U) d(r h) = da_h U_h^T
    d_rec,  # (G, 3U): dr filled in here
    dh_in,  # out (G, U) d(r h) * r, the candidate's part of dL/dh_in
    grad_input_preact,
    grad_recurrent_preact,
):
    """reset_after=False: dr = d(r h) * h_in * sigma'(r), and the candidate's part of dL/dh_in."""
    units = d_rh.shape[1]
    width = 3 * units
    previous = t + 1 if go_backwards else t - 1
    for r in range(rows):
        b = offset + r
        if step_mask[b, t] == 0:
            continue
        h_prev_row = h0[b] if s == 0 else hidden[b, previous]
        if use_recurrent_drop:  # d_rh * h_in, h_in = h_{t-1} * drop
            for u in range(units):
                d_rec[r, units + u] = d_rh[r, u] * (h_prev_row[u] * recurrent_drop[b, u])
        else:
            for u in range(units):
                d_rec[r, units + u] = d_rh[r, u] * h_prev_row[u]
        if recurrent_act == SIGMOID:
            for u in range(units):
                r_u = gates[b, t, units + u]
                d_rec[r, units + u] *= r_u * (ONE - r_u)
        else:
            for u in range(units):
                d_rec[r, units + u] *= derivative_scalar(recurrent_act, gates[b, t, units + u])
        for u in range(units):
            dh_in[r, u] = d_rh[r, u] * gates[b, t, units + u]
        for j in range(width):  # before, the input and recurrent gradients are the same numbers
            grad_input_preact[b, t, j] = d_rec[r, j]
        for j in range(width):  # (GRUCell passes one array for both; the kernel takes any two)
            grad_recurrent_preact[b, t, j] = d_rec[r, j]


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _gru_carry_rows(rows, offset, t, step_mask, recurrent_drop, use_recurrent_drop, gates, dh_in, dh):
    """dh <- dL/dh_{t-1} = dh_t * z_t + dL/dh_in * drop where step t ran; unchanged where it was masked."""
    units = dh.shape[1]
    for r in range(rows):
        b = offset + r
        if step_mask[b, t] == 0:
            continue
        if use_recurrent_drop:  # the direct path z * h_{t-1}, then the path through the products
            for u in range(units):
                dh[r, u] = dh[r, u] * gates[b, t, u] + dh_in[r, u] * recurrent_drop[b, u]
        else:
            for u in range(units):
                dh[r, u] = dh[r, u] * gates[b, t, u] + dh_in[r, u]


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
    n_chunks,  # one chunk of batch rows per thread
    group_rows,  # rows that go through the time loop together
    hidden,  # (B, T, U)
    gates,  # (B, T, 3U)
    recurrent_candidate,  # (B, T, U)
    grad_hidden_seq,
    has_grad_seq,
    grad_h_final,
    grad_input_preact,  # out (B, T, 3U) dL/d(x W + b_in)
    grad_recurrent_preact,  # out (B, T, 3U) dL/d(h_in U + b_rec) (after) / d(h_in U_zr), d((r h) U_h) (before)
    grad_h0,  # out (B, U)
    grad_hidden_norm,  # out (B, T)
):
    batch, timesteps, units = hidden.shape
    width = 3 * units
    kernel_zr_t = recurrent_kernel_t[: 2 * units]  # (2U, U) U_zr^T
    kernel_h_t = recurrent_kernel_t[2 * units :]  # (U, U) U_h^T
    for chunk in prange(n_chunks):
        start, stop = chunk_bounds(batch, n_chunks, chunk)
        if stop <= start:
            continue
        group = min(group_rows, stop - start)
        dh = np.empty((group, units), hidden.dtype)  # dL/dh_t
        d_rec = np.empty((group, width), hidden.dtype)
        d_rec_zr = d_rec[:, : 2 * units]
        d_rec_h = d_rec[:, 2 * units :]
        dh_in = np.empty((group, units), hidden.dtype)  # dL/d(h_in)
        d_rh = np.empty((group, units), hidden.dtype)  # dL/d(r * h_in), reset_after=False
        for first in range(start, stop, group):
            rows = min(group, stop - first)
            for r in range(rows):
                for u in range(units):
                    dh[r, u] = grad_h_final[first + r, u]
            for s in range(timesteps - 1, -1, -1):
                t = timesteps - 1 - s if go_backwards else s
                if s >= PREFETCH_STEPS:
                    ahead = t + PREFETCH_STEPS if go_backwards else t - PREFETCH_STEPS
                    _prefetch_rows(gates, first, rows, ahead, False)
                    if reset_after:
                        _prefetch_rows(recurrent_candidate, first, rows, ahead, False)
                    _prefetch_rows(grad_input_preact, first, rows, ahead, True)
                    _prefetch_rows(grad_recurrent_preact, first, rows, ahead, True)
                    if s > PREFETCH_STEPS:  # h_{t-1} of that step
                        _prefetch_rows(hidden, first, rows, ahead + 1 if go_backwards else ahead - 1, False)
                    if has_grad_seq:
                        _prefetch_rows(grad_hidden_seq, first, rows, ahead, False)
                _gru_backward_gate_rows(rows, first, s, t, reset_after, go_backwards, act, recurrent_act, h0,
                                        step_mask, hidden, gates, recurrent_candidate, grad_hidden_seq, has_grad_seq,
                                        dh, d_rec, grad_input_preact, grad_recurrent_preact, grad_hidden_norm)
                if reset_after:
                    matmul_into(d_rec, recurrent_kernel_t, dh_in, 0, rows, False)  # dh_in = d_rec U^T
                else:
                    matmul_into(d_rec_h, kernel_h_t, d_rh, 0, rows, False)  # d(r h) = da_h U_h^T
                    _gru_backward_reset_rows(rows, first, s, t, go_backwards, recurrent_act, h0, step_mask,
                                             recurrent_drop, use_recurrent_drop, hidden, gates, d_rh, d_rec, dh_in,
                                             grad_input_preact, grad_recurrent_preact)
                    matmul_into(d_rec_zr, kernel_zr_t, dh_in, 0, rows, True)  # dh_in += [dz, dr] U_zr^T
                _gru_carry_rows(rows, first, t, step_mask, recurrent_drop, use_recurrent_drop, gates, dh_in, dh)
            for r in range(rows):
                for u in range(units):
                    grad_h0[first + r, u] = dh[r, u]


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
        batch, timesteps, width = x_proj.shape
        units = self.units
        dtype = cache["dtype"]
        weights = cache["weights"]
        if self.use_bias and self.reset_after:
            recurrent_bias = np.ascontiguousarray(weights["bias"][1])
        else:
            recurrent_bias = np.zeros(width, dtype)
        hidden = np.empty((batch, timesteps, units), dtype)
        gates = x_proj  # overwritten in place: x_t W + b_in in, activated gates out
        recurrent_candidate = np.empty((batch, timesteps, units), dtype)
        preactivations = trace_buffer(record_trace, (batch, timesteps, width), dtype)
        _gru_forward(
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
            blocks.thread_chunks(batch),
            GROUP_ROWS,
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
        batch, timesteps, units = hidden.shape
        dtype = cache["dtype"]
        grad_input_preact = self._scratch_buffer((batch, timesteps, 3 * units), dtype)  # (B, T, 3U), reused
        if self.reset_after:
            grad_recurrent_preact = self._scratch_buffer((batch, timesteps, 3 * units), dtype)
        else:  # dL/d(x W + b) and dL/d(the products) are the same numbers [dz, dr, da_h]: one array
            grad_recurrent_preact = grad_input_preact
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
            blocks.thread_chunks(batch),
            GROUP_ROWS,
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
