"""The LSTM's step on a run of units, and the kernels that split each step by units (large U).

`step_units` and `backward_units` are the LSTM's equations (lstm.py's docstring) for one batch row
and a contiguous run of units, given as 1-D views of each gate's block: the kernels in lstm.py call
them on whole rows, the ones here on a piece of the units. One function for both keeps the numbers
the same to the last bit, whichever kernel ran.

Why split by units: lstm.py's kernels give each thread a chunk of batch rows, so every thread reads
the whole recurrent kernel at every step. At U = 512 that is (512, 2048) float32, 4 MB, more than a
core's L2 cache: each thread streams all of it from L3 at every step, and the product waits on
memory. Here the units are cut into UNIT_PIECES pieces, each with its columns of the four gate
blocks packed on their own, and each thread owns some pieces for the whole pass: it computes its
units of h_t for every batch row, reading only its part of the kernel. The threads need all of h_t
for the next product, so they meet at a barrier once per step (step_barrier.py); in the backward
pass the gradient norms, sums over all units, are taken after it from a shared row.

The pieces are fixed, not one per thread, so every element is computed by the same code on any
thread count.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit

from rnnsim.cells import threads
from rnnsim.cells.activations import SIGMOID, TANH, activate, derivative_scalar, fast_sigmoid, fast_tanh
from rnnsim.cells.kernel_parts import FALSE, FASTMATH, ONE, ZERO, chunk_bounds, copy_into, norm_of
from rnnsim.cells.simd import matmul_packed_into, pack_columns, wide_vectors
from rnnsim.cells.step_barrier import new_counter, wait_for_all

UNIT_PIECES = 4  # the units are cut into this many pieces, whatever the thread count
# Split by units when the packed recurrent kernel is at least this big: smaller, it stays in each
# core's L2 and the batch split (no barrier) is as fast (BENCHMARKS.md, round 5).
SPLIT_MIN_BYTES = 2 << 20


def splits_by_units(units: int, dtype) -> bool:
    """Whether the LSTM runs its time loops split by units (else by batch rows, lstm.py)."""
    return units >= 8 * UNIT_PIECES and units * 4 * units * np.dtype(dtype).itemsize >= SPLIT_MIN_BYTES


# -- the equations on a run of units -----------------------------------------------------------


@njit(inline="always", error_model="numpy", fastmath=FASTMATH)
def step_units(input_gate, forget_gate, candidate, output_gate, c_row, cell_row, hidden_row, tanh_buf, act,
               recurrent_act, fast):
    """One row's step for n units: the gates (pre-activations on entry) activated in place, c_t into
    c_row (the state) and cell_row, h_t into hidden_row. All 1-D views of length n; tanh_buf scratch."""
    n = c_row.shape[0]
    if fast and act == TANH and recurrent_act == SIGMOID:  # the defaults in float32: one fused loop
        for u in range(n):
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
        activate(recurrent_act, fast, input_gate, ZERO, n)
        activate(recurrent_act, fast, forget_gate, ZERO, n)
        activate(act, fast, candidate, ZERO, n)
        activate(recurrent_act, fast, output_gate, ZERO, n)
        for u in range(n):  # c_t = f * c_{t-1} + i * g
            c = forget_gate[u] * c_row[u] + input_gate[u] * candidate[u]
            c_row[u] = c
            cell_row[u] = c
            tanh_buf[u] = c
        activate(act, fast, tanh_buf, ZERO, n)
        for u in range(n):  # h_t = o * tanh(c_t)
            hidden_row[u] = output_gate[u] * tanh_buf[u]


@njit(inline="always", error_model="numpy", fastmath=FASTMATH)
def backward_units(input_gate, forget_gate, candidate, output_gate, c_now, c_before, dh_row, dc_row, tanh_buf,
                   dc_buf, d_input, d_forget, d_candidate, d_output, act, recurrent_act, fast):
    """One row's gate gradients for n units: dc_t (total) into dc_buf, dz into the four d_ views, and
    dc_row becomes dL/dc_{t-1}. c_now = c_t, c_before = c_{t-1}; all 1-D views of length n."""
    n = dc_row.shape[0]
    copy_into(tanh_buf, c_now)
    activate(act, fast, tanh_buf, ZERO, n)
    if act == TANH:  # the default, derivative written out: no branch in the loop, so it vectorizes
        for u in range(n):
            tanh_c = tanh_buf[u]
            dc_buf[u] = dc_row[u] + dh_row[u] * output_gate[u] * (ONE - tanh_c * tanh_c)
    else:
        for u in range(n):
            dc_buf[u] = dc_row[u] + dh_row[u] * output_gate[u] * derivative_scalar(act, tanh_buf[u])
    if act == TANH and recurrent_act == SIGMOID:  # the defaults, written out (same arithmetic)
        for u in range(n):
            i, f, g, o = input_gate[u], forget_gate[u], candidate[u], output_gate[u]
            dc_u = dc_buf[u]
            d_input[u] = dc_u * g * (i * (ONE - i))
            d_forget[u] = dc_u * c_before[u] * (f * (ONE - f))
            d_candidate[u] = dc_u * i * (ONE - g * g)
            d_output[u] = dh_row[u] * tanh_buf[u] * (o * (ONE - o))
            dc_row[u] = dc_u * f  # the cell-state path back in time
    else:
        for u in range(n):
            i, f, g, o = input_gate[u], forget_gate[u], candidate[u], output_gate[u]
            dc_u = dc_buf[u]
            d_input[u] = dc_u * g * derivative_scalar(recurrent_act, i)
            d_forget[u] = dc_u * c_before[u] * derivative_scalar(recurrent_act, f)
            d_candidate[u] = dc_u * i * derivative_scalar(act, g)
            d_output[u] = dh_row[u] * tanh_buf[u] * derivative_scalar(recurrent_act, o)
            dc_row[u] = dc_u * f  # the cell-state path back in time


# -- the kernels split by units ----------------------------------------------------------------


@njit(nogil=True, cache=True, error_model="numpy", fastmath=FASTMATH)
def _forward_by_units(
    thread,  # this thread's number (run_chunks); it owns pieces thread, thread + n_threads, ...
    n_threads,
    kernel_pieces,  # (P, S, U, 2W): piece p's columns of the four gate blocks of U, packed
    strips,  # (P,) strips in use per piece
    h_state,  # (B, U) h_{t-1}, updated (each thread its pieces' columns)
    c_state,  # (B, U) c_{t-1}, likewise
    h_in,  # (2, B, U) h as it enters the product; steps read one and write the other
    step_mask,
    recurrent_drop,
    use_recurrent_drop,
    go_backwards,
    act,
    recurrent_act,
    fast,
    record,
    gates,  # in: x_proj (T, B, 4U); out: gates
    hidden,  # out (T, B, U)
    cell_state,  # out (T, B, U)
    preactivations,  # out (T, B, 4U) when record, else a dummy
    counter,  # the barrier's
):
    wide_vectors()
    timesteps, batch, width = gates.shape
    units = width // 4
    pieces = kernel_pieces.shape[0]
    most = (units + pieces - 1) // pieces
    product = np.empty((batch, 4 * most), gates.dtype)
    tanh_buf = np.empty(most, gates.dtype)
    for s in range(timesteps):
        t = timesteps - 1 - s if go_backwards else s
        read, write = h_in[s % 2], h_in[(s + 1) % 2]
        for p in range(thread, pieces, n_threads):
            u0, u1 = chunk_bounds(units, pieces, p)
            n = u1 - u0
            piece_product = product[:, : 4 * n]
            matmul_packed_into(read, kernel_pieces[p, : strips[p]], piece_product, ZERO, batch, FALSE)
            for b in range(batch):
                z = gates[t, b]
                z_i, z_f = z[u0:u1], z[units + u0 : units + u1]
                z_g, z_o = z[2 * units + u0 : 2 * units + u1], z[3 * units + u0 : 3 * units + u1]
                h_row, c_row = h_state[b, u0:u1], c_state[b, u0:u1]
                hidden_row, cell_row = hidden[t, b, u0:u1], cell_state[t, b, u0:u1]
                if step_mask[t, b] == 0:
                    copy_into(hidden_row, h_row)
                    copy_into(cell_row, c_row)
                    copy_into(write[b, u0:u1], read[b, u0:u1])
                    for block in (z_i, z_f, z_g, z_o):
                        block[:] = 0.0
                    if record:
                        for g in range(4):
                            preactivations[t, b, g * units + u0 : g * units + u1] = 0.0
                    continue
                product_row = piece_product[b]
                for k in range(n):
                    z_i[k] += product_row[k]
                    z_f[k] += product_row[n + k]
                    z_g[k] += product_row[2 * n + k]
                    z_o[k] += product_row[3 * n + k]
                if record:
                    for g in range(4):
                        start = g * units + u0
                        copy_into(preactivations[t, b, start : start + n], z[start : start + n])
                step_units(z_i, z_f, z_g, z_o, c_row, cell_row, hidden_row, tanh_buf[:n], act, recurrent_act, fast)
                copy_into(h_row, hidden_row)
                entering = write[b, u0:u1]
                if use_recurrent_drop:
                    drop_row = recurrent_drop[b, u0:u1]
                    for k in range(n):
                        entering[k] = hidden_row[k] * drop_row[k]
                else:
                    copy_into(entering, hidden_row)
        wait_for_all(counter, n_threads, s + 1)  # all of h_t written before anyone's next product


@njit(nogil=True, cache=True, error_model="numpy", fastmath=FASTMATH)
def _backward_by_units(
    thread,
    n_threads,
    kernel_t_pieces,  # (P, S, 4U, 2W): piece p's columns of U^T, packed
    strips,  # (P,)
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
    dh,  # (B, U) dL/dh_t: grad_h_final in, grad_h0 out (each thread its pieces' columns)
    dc,  # (B, U) dL/dc_t: grad_c_final in, grad_c0 out
    full_dh,  # (2, B, U) the whole dh_t row for its norm, by step parity
    full_dc,  # (2, B, U) the whole dc_t row
    grad_preact,  # out (T, B, 4U)
    grad_hidden_norm,  # out (B, T)
    grad_cell_norm,  # out (B, T)
    counter,
):
    wide_vectors()
    timesteps, batch, units = cell_state.shape
    pieces = kernel_t_pieces.shape[0]
    most = (units + pieces - 1) // pieces
    dh_product = np.empty((batch, most), cell_state.dtype)
    tanh_buf = np.empty(most, cell_state.dtype)
    dc_buf = np.empty(most, cell_state.dtype)
    norm_start, norm_stop = chunk_bounds(batch, n_threads, thread)
    for s in range(timesteps - 1, -1, -1):
        t = timesteps - 1 - s if go_backwards else s
        previous = t + 1 if go_backwards else t - 1
        step = timesteps - 1 - s
        whole_dh, whole_dc = full_dh[step % 2], full_dc[step % 2]
        for p in range(thread, pieces, n_threads):
            u0, u1 = chunk_bounds(units, pieces, p)
            n = u1 - u0
            for b in range(batch):
                dh_row, dc_row = dh[b, u0:u1], dc[b, u0:u1]
                if has_grad_seq:
                    seq_row = grad_hidden_seq[t, b, u0:u1]
                    for k in range(n):
                        dh_row[k] += seq_row[k]
                copy_into(whole_dh[b, u0:u1], dh_row)
                dz = grad_preact[t, b]
                d_i, d_f = dz[u0:u1], dz[units + u0 : units + u1]
                d_g, d_o = dz[2 * units + u0 : 2 * units + u1], dz[3 * units + u0 : 3 * units + u1]
                if step_mask[t, b] == 0:  # state carried over: gradients pass straight through
                    copy_into(whole_dc[b, u0:u1], dc_row)
                    for block in (d_i, d_f, d_g, d_o):
                        block[:] = 0.0
                    continue
                z = gates[t, b]
                c_before = c0[b, u0:u1] if s == 0 else cell_state[previous, b, u0:u1]
                backward_units(z[u0:u1], z[units + u0 : units + u1], z[2 * units + u0 : 2 * units + u1],
                               z[3 * units + u0 : 3 * units + u1], cell_state[t, b, u0:u1], c_before, dh_row, dc_row,
                               tanh_buf[:n], dc_buf[:n], d_i, d_f, d_g, d_o, act, recurrent_act, fast)
                copy_into(whole_dc[b, u0:u1], dc_buf[:n])
        wait_for_all(counter, n_threads, step + 1)  # all of dz_t (and the whole dh_t, dc_t rows) written
        for b in range(norm_start, norm_stop):
            grad_hidden_norm[b, t] = norm_of(whole_dh[b])
            grad_cell_norm[b, t] = norm_of(whole_dc[b])
        for p in range(thread, pieces, n_threads):  # dh_{t-1} = dz_t U^T, this thread's columns
            u0, u1 = chunk_bounds(units, pieces, p)
            n = u1 - u0
            piece_product = dh_product[:, :n]
            matmul_packed_into(grad_preact[t], kernel_t_pieces[p, : strips[p]], piece_product, ZERO, batch, FALSE)
            for b in range(batch):
                if step_mask[t, b] == 0:
                    continue  # the gradient was carried over with the state
                dh_row, product_row = dh[b, u0:u1], piece_product[b]
                if use_recurrent_drop:
                    drop_row = recurrent_drop[b, u0:u1]
                    for k in range(n):
                        dh_row[k] = product_row[k] * drop_row[k]
                else:
                    copy_into(dh_row, product_row)


# -- the Python around them --------------------------------------------------------------------

# One split pass at a time: its threads wait for each other, so two passes sharing the pool's workers
# could each hold a worker that waits for a part queued behind the other's.
_PASS_LOCK = threading.Lock()


def _pack_pieces(blocks_of_piece):
    """Pack each piece's (K, n) block; stack them as (P, S, K, 2W), zero strips where a piece has fewer."""
    packed = [pack_columns(np.ascontiguousarray(block)) for block in blocks_of_piece]
    strips = np.array([p.shape[0] for p in packed], np.int64)
    out = np.zeros((len(packed), strips.max()) + packed[0].shape[1:], packed[0].dtype)
    for k, p in enumerate(packed):
        out[k, : p.shape[0]] = p
    return out, strips


def _piece_bounds(units):
    return [threads.chunk_bounds(units, UNIT_PIECES, p) for p in range(UNIT_PIECES)]


def pack_forward_pieces(kernel):
    """U (U, 4U) -> each piece's columns of the i, f, c, o blocks side by side, packed."""
    units = kernel.shape[0]
    return _pack_pieces([np.concatenate([kernel[:, g * units + u0 : g * units + u1] for g in range(4)], axis=1)
                         for u0, u1 in _piece_bounds(units)])


def pack_backward_pieces(kernel):
    """U^T (4U, U) -> each piece's columns, packed."""
    kernel_t = kernel.T
    return _pack_pieces([kernel_t[:, u0:u1] for u0, u1 in _piece_bounds(kernel.shape[0])])


def _n_threads():
    return max(1, min(threads.get_num_threads(), UNIT_PIECES))


def run_forward(kernel, h0, c0, step_mask, drop, use_drop, go_backwards, codes, gates, hidden, cell_state,
                preactivations):
    """The forward time loop split by units (the arguments as lstm.py's batch-split kernel takes them)."""
    pieces, strips = pack_forward_pieces(kernel)
    h_in = np.empty((2,) + h0.shape, h0.dtype)
    h_in[0] = h0 * drop if use_drop else h0
    n_threads = _n_threads()
    with _PASS_LOCK:
        threads.run_chunks(_forward_by_units, n_threads, pieces, strips, h0.copy(), c0.copy(), h_in, step_mask, drop,
                   use_drop, go_backwards, *codes, gates, hidden, cell_state, preactivations, new_counter())


def run_backward(kernel, c0, step_mask, drop, use_drop, go_backwards, codes, cell_state, gates, grad_hidden_seq,
                 has_grad_seq, grad_h_final, grad_c_final, grad_preact, grad_hidden_norm, grad_cell_norm):
    """The backward time loop split by units; returns (grad_h0, grad_c0)."""
    pieces, strips = pack_backward_pieces(kernel)
    dh, dc = grad_h_final.copy(), grad_c_final.copy()
    full = np.empty((2, 2) + dh.shape, dh.dtype)
    n_threads = _n_threads()
    with _PASS_LOCK:
        threads.run_chunks(_backward_by_units, n_threads, pieces, strips, c0, step_mask, drop, use_drop, go_backwards,
                   *codes, cell_state, gates, grad_hidden_seq, has_grad_seq, dh, dc, full[0], full[1], grad_preact,
                   grad_hidden_norm, grad_cell_norm, new_counter())
    return dh, dc
