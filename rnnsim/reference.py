"""Plain-NumPy reference of each cell's step and of its backpropagation through time.

Written to be read, not to be fast: one Python loop over time, the equations line by line,
shapes in the comments. The tests use these functions as the oracle for the Numba kernels.
B = batch, T = timesteps, D = input features, U = units.

Every function takes the same options as the cells:
    mask (B, T) bool            False = padded step: the state is carried over (Keras)
    go_backwards                read the sequence last-to-first
    input_drop (B, D)           inverted-dropout mask on x_t, the same at every step
    recurrent_drop (B, U)       inverted-dropout mask on h_{t-1} where it meets U
and returns, for the forward pass, a dict with the hidden states by input position and the
gate activations; the backward functions return the weight and input gradients and the
per-timestep norms of dL/dh_t (and dL/dc_t).
"""

from __future__ import annotations

import numpy as np

from rnnsim.cells.activations import apply as act
from rnnsim.cells.activations import derivative_from_output as dact


def _order(timesteps, go_backwards):
    """Input positions in the order the cell reads them."""
    return list(range(timesteps - 1, -1, -1)) if go_backwards else list(range(timesteps))


def _options(x, units, mask, input_drop, recurrent_drop):
    batch, timesteps, features = x.shape
    mask = np.ones((batch, timesteps), bool) if mask is None else np.asarray(mask, bool)
    input_drop = np.ones((batch, features), x.dtype) if input_drop is None else input_drop
    recurrent_drop = np.ones((batch, units), x.dtype) if recurrent_drop is None else recurrent_drop
    return mask, input_drop, recurrent_drop


# =======================================================================================
# SimpleRNN:  h_t = tanh(x_t W + h_{t-1} U + b)


def simple_rnn_forward(x, kernel, recurrent_kernel, bias, h0=None, mask=None, go_backwards=False,
                       input_drop=None, recurrent_drop=None, activation="tanh"):
    batch, timesteps, _ = x.shape
    units = recurrent_kernel.shape[0]
    mask, input_drop, recurrent_drop = _options(x, units, mask, input_drop, recurrent_drop)
    bias = np.zeros(units, x.dtype) if bias is None else bias
    h = np.zeros((batch, units), x.dtype) if h0 is None else h0.copy()  # (B, U)
    hidden = np.zeros((batch, timesteps, units), x.dtype)
    pre = np.zeros((batch, timesteps, units), x.dtype)
    for t in _order(timesteps, go_backwards):
        x_t = x[:, t] * input_drop  # (B, D)
        a = x_t @ kernel + (h * recurrent_drop) @ recurrent_kernel + bias  # (B, U)
        h_new = act(activation, a)
        keep = mask[:, t][:, None]  # (B, 1)
        h = np.where(keep, h_new, h)  # masked: carry over
        hidden[:, t] = h
        pre[:, t] = np.where(keep, a, 0.0)
    return {"hidden": hidden, "preactivation": pre}


def simple_rnn_backward(x, kernel, recurrent_kernel, bias, grad_hidden, grad_h_final=None, h0=None,
                        mask=None, go_backwards=False, input_drop=None, recurrent_drop=None,
                        activation="tanh"):
    """grad_hidden: (B, T, U) dL/dh_t from the outputs, by input position."""
    batch, timesteps, features = x.shape
    units = recurrent_kernel.shape[0]
    forward = simple_rnn_forward(x, kernel, recurrent_kernel, bias, h0, mask, go_backwards,
                                 input_drop, recurrent_drop, activation)
    mask, input_drop, recurrent_drop = _options(x, units, mask, input_drop, recurrent_drop)
    hidden = forward["hidden"]
    h0 = np.zeros((batch, units), x.dtype) if h0 is None else h0
    order = _order(timesteps, go_backwards)

    d_kernel = np.zeros_like(kernel)
    d_recurrent = np.zeros_like(recurrent_kernel)
    d_bias = np.zeros(units, x.dtype)
    d_x = np.zeros_like(x)
    norms = np.zeros((batch, timesteps), x.dtype)
    dh = np.zeros((batch, units), x.dtype) if grad_h_final is None else grad_h_final.copy()
    for step in range(timesteps - 1, -1, -1):
        t = order[step]
        h_prev = h0 if step == 0 else hidden[:, order[step - 1]]  # (B, U)
        dh = dh + grad_hidden[:, t]
        norms[:, t] = np.linalg.norm(dh, axis=1)
        keep = mask[:, t][:, None]
        da = np.where(keep, dh * dact(activation, hidden[:, t]), 0.0)  # (B, U)
        x_t = x[:, t] * input_drop
        d_kernel += x_t.T @ da
        d_recurrent += (h_prev * recurrent_drop).T @ da
        d_bias += da.sum(axis=0)
        d_x[:, t] = (da @ kernel.T) * input_drop
        dh = np.where(keep, (da @ recurrent_kernel.T) * recurrent_drop, dh)  # masked: pass through
    return {"kernel": d_kernel, "recurrent_kernel": d_recurrent, "bias": d_bias, "inputs": d_x,
            "h0": dh, "grad_hidden_norm": norms}


# =======================================================================================
# LSTM:  i, f, g, o = sigma(.), sigma(.), tanh(.), sigma(.) of  x_t W + h_{t-1} U + b
#        c_t = f c_{t-1} + i g,   h_t = o tanh(c_t)


def lstm_forward(x, kernel, recurrent_kernel, bias, h0=None, c0=None, mask=None, go_backwards=False,
                 input_drop=None, recurrent_drop=None, activation="tanh", recurrent_activation="sigmoid"):
    batch, timesteps, _ = x.shape
    units = recurrent_kernel.shape[0]
    mask, input_drop, recurrent_drop = _options(x, units, mask, input_drop, recurrent_drop)
    bias = np.zeros(4 * units, x.dtype) if bias is None else bias
    h = np.zeros((batch, units), x.dtype) if h0 is None else h0.copy()
    c = np.zeros((batch, units), x.dtype) if c0 is None else c0.copy()
    out = {name: np.zeros((batch, timesteps, units), x.dtype)
           for name in ("hidden", "cell", "input", "forget", "candidate", "output")}
    out["preactivation"] = np.zeros((batch, timesteps, 4 * units), x.dtype)
    for t in _order(timesteps, go_backwards):
        z = (x[:, t] * input_drop) @ kernel + (h * recurrent_drop) @ recurrent_kernel + bias  # (B, 4U)
        i = act(recurrent_activation, z[:, 0 * units:1 * units])  # input gate
        f = act(recurrent_activation, z[:, 1 * units:2 * units])  # forget gate
        g = act(activation, z[:, 2 * units:3 * units])  # candidate
        o = act(recurrent_activation, z[:, 3 * units:4 * units])  # output gate
        c_new = f * c + i * g
        h_new = o * act(activation, c_new)
        keep = mask[:, t][:, None]
        c = np.where(keep, c_new, c)
        h = np.where(keep, h_new, h)
        out["hidden"][:, t], out["cell"][:, t] = h, c
        for name, value in (("input", i), ("forget", f), ("candidate", g), ("output", o)):
            out[name][:, t] = np.where(keep, value, 0.0)
        out["preactivation"][:, t] = np.where(keep, z, 0.0)
    return out


def lstm_backward(x, kernel, recurrent_kernel, bias, grad_hidden, grad_h_final=None, grad_c_final=None,
                  h0=None, c0=None, mask=None, go_backwards=False, input_drop=None, recurrent_drop=None,
                  activation="tanh", recurrent_activation="sigmoid"):
    batch, timesteps, _ = x.shape
    units = recurrent_kernel.shape[0]
    fw = lstm_forward(x, kernel, recurrent_kernel, bias, h0, c0, mask, go_backwards, input_drop,
                      recurrent_drop, activation, recurrent_activation)
    mask, input_drop, recurrent_drop = _options(x, units, mask, input_drop, recurrent_drop)
    h0 = np.zeros((batch, units), x.dtype) if h0 is None else h0
    c0 = np.zeros((batch, units), x.dtype) if c0 is None else c0
    order = _order(timesteps, go_backwards)
    grads = {"kernel": np.zeros_like(kernel), "recurrent_kernel": np.zeros_like(recurrent_kernel),
             "bias": np.zeros(4 * units, x.dtype), "inputs": np.zeros_like(x)}
    norms_h = np.zeros((batch, timesteps), x.dtype)
    norms_c = np.zeros((batch, timesteps), x.dtype)
    dh = np.zeros((batch, units), x.dtype) if grad_h_final is None else grad_h_final.copy()
    dc = np.zeros((batch, units), x.dtype) if grad_c_final is None else grad_c_final.copy()
    for step in range(timesteps - 1, -1, -1):
        t = order[step]
        h_prev = h0 if step == 0 else fw["hidden"][:, order[step - 1]]
        c_prev = c0 if step == 0 else fw["cell"][:, order[step - 1]]
        i, f, g, o = (fw[name][:, t] for name in ("input", "forget", "candidate", "output"))
        keep = mask[:, t][:, None]
        dh = dh + grad_hidden[:, t]
        norms_h[:, t] = np.linalg.norm(dh, axis=1)
        tanh_c = act(activation, fw["cell"][:, t])
        dc_t = dc + dh * o * dact(activation, tanh_c)  # the cell state's total gradient
        norms_c[:, t] = np.linalg.norm(np.where(keep, dc_t, dc), axis=1)
        dz = np.concatenate([
            dc_t * g * dact(recurrent_activation, i),  # di
            dc_t * c_prev * dact(recurrent_activation, f),  # df
            dc_t * i * dact(activation, g),  # dg
            dh * tanh_c * dact(recurrent_activation, o),  # do
        ], axis=1)  # (B, 4U)
        dz = np.where(keep, dz, 0.0)
        grads["kernel"] += (x[:, t] * input_drop).T @ dz
        grads["recurrent_kernel"] += (h_prev * recurrent_drop).T @ dz
        grads["bias"] += dz.sum(axis=0)
        grads["inputs"][:, t] = (dz @ kernel.T) * input_drop
        dc = np.where(keep, dc_t * f, dc)
        dh = np.where(keep, (dz @ recurrent_kernel.T) * recurrent_drop, dh)
    grads.update(h0=dh, c0=dc, grad_hidden_norm=norms_h, grad_cell_norm=norms_c)
    return grads


# =======================================================================================
# GRU:  z = sigma(x W_z + h U_z + b), r = sigma(x W_r + h U_r + b)
#       reset_after:  hh = tanh(x W_h + b_in + r * (h U_h + b_rec))
#       otherwise:    hh = tanh(x W_h + b + (r * h) U_h)
#       h_t = z h_{t-1} + (1 - z) hh


def _gru_biases(bias, units, reset_after, dtype):
    if bias is None:
        return np.zeros(3 * units, dtype), np.zeros(3 * units, dtype)
    if reset_after:
        return bias[0], bias[1]
    return bias, np.zeros(3 * units, dtype)


def gru_forward(x, kernel, recurrent_kernel, bias, h0=None, mask=None, go_backwards=False, input_drop=None,
                recurrent_drop=None, reset_after=True, activation="tanh", recurrent_activation="sigmoid"):
    batch, timesteps, _ = x.shape
    units = recurrent_kernel.shape[0]
    mask, input_drop, recurrent_drop = _options(x, units, mask, input_drop, recurrent_drop)
    b_in, b_rec = _gru_biases(bias, units, reset_after, x.dtype)
    U_z, U_r, U_h = (recurrent_kernel[:, k * units:(k + 1) * units] for k in range(3))
    h = np.zeros((batch, units), x.dtype) if h0 is None else h0.copy()
    out = {name: np.zeros((batch, timesteps, units), x.dtype)
           for name in ("hidden", "update", "reset", "candidate", "recurrent_candidate")}
    out["preactivation"] = np.zeros((batch, timesteps, 3 * units), x.dtype)
    for t in _order(timesteps, go_backwards):
        x_proj = (x[:, t] * input_drop) @ kernel + b_in  # (B, 3U)
        x_z, x_r, x_h = x_proj[:, :units], x_proj[:, units:2 * units], x_proj[:, 2 * units:]
        h_in = h * recurrent_drop  # (B, U)
        a_z = x_z + h_in @ U_z + b_rec[:units]
        a_r = x_r + h_in @ U_r + b_rec[units:2 * units]
        z = act(recurrent_activation, a_z)  # update gate
        r = act(recurrent_activation, a_r)  # reset gate
        if reset_after:
            m_h = h_in @ U_h + b_rec[2 * units:]
            a_h = x_h + r * m_h
            recurrent_candidate = m_h
        else:
            a_h = x_h + (r * h_in) @ U_h
            recurrent_candidate = r * h_in
        hh = act(activation, a_h)  # candidate
        h_new = z * h + (1.0 - z) * hh
        keep = mask[:, t][:, None]
        h = np.where(keep, h_new, h)
        out["hidden"][:, t] = h
        for name, value in (("update", z), ("reset", r), ("candidate", hh),
                            ("recurrent_candidate", recurrent_candidate)):
            out[name][:, t] = np.where(keep, value, 0.0)
        out["preactivation"][:, t] = np.where(keep, np.concatenate([a_z, a_r, a_h], axis=1), 0.0)
    return out


def gru_backward(x, kernel, recurrent_kernel, bias, grad_hidden, grad_h_final=None, h0=None, mask=None,
                 go_backwards=False, input_drop=None, recurrent_drop=None, reset_after=True,
                 activation="tanh", recurrent_activation="sigmoid"):
    batch, timesteps, _ = x.shape
    units = recurrent_kernel.shape[0]
    fw = gru_forward(x, kernel, recurrent_kernel, bias, h0, mask, go_backwards, input_drop, recurrent_drop,
                     reset_after, activation, recurrent_activation)
    mask, input_drop, recurrent_drop = _options(x, units, mask, input_drop, recurrent_drop)
    U_zr, U_h = recurrent_kernel[:, :2 * units], recurrent_kernel[:, 2 * units:]
    h0 = np.zeros((batch, units), x.dtype) if h0 is None else h0
    order = _order(timesteps, go_backwards)
    d_kernel = np.zeros_like(kernel)
    d_recurrent = np.zeros_like(recurrent_kernel)
    d_b_in = np.zeros(3 * units, x.dtype)
    d_b_rec = np.zeros(3 * units, x.dtype)
    d_x = np.zeros_like(x)
    norms = np.zeros((batch, timesteps), x.dtype)
    dh = np.zeros((batch, units), x.dtype) if grad_h_final is None else grad_h_final.copy()
    for step in range(timesteps - 1, -1, -1):
        t = order[step]
        h_prev = h0 if step == 0 else fw["hidden"][:, order[step - 1]]
        h_in = h_prev * recurrent_drop
        z, r, hh = fw["update"][:, t], fw["reset"][:, t], fw["candidate"][:, t]
        keep = mask[:, t][:, None]
        dh = dh + grad_hidden[:, t]
        norms[:, t] = np.linalg.norm(dh, axis=1)
        da_z = dh * (h_prev - hh) * dact(recurrent_activation, z)
        da_h = dh * (1.0 - z) * dact(activation, hh)
        if reset_after:
            m_h = fw["recurrent_candidate"][:, t]
            dm_h = da_h * r  # dL/d(h_in U_h + b_rec_h)
            da_r = da_h * m_h * dact(recurrent_activation, r)
            d_rec = np.concatenate([da_z, da_r, dm_h], axis=1)  # dL/d(h_in U + b_rec)
            dh_in = d_rec @ recurrent_kernel.T
        else:
            d_rh = da_h @ U_h.T  # dL/d(r * h_in)
            da_r = d_rh * h_in * dact(recurrent_activation, r)
            dh_in = np.concatenate([da_z, da_r], axis=1) @ U_zr.T + d_rh * r
            d_rec = np.concatenate([da_z, da_r, da_h], axis=1)  # dL/d(h_in U_zr), dL/d((r h_in) U_h)
        d_in = np.concatenate([da_z, da_r, da_h], axis=1)  # dL/d(x W + b_in)
        d_in = np.where(keep, d_in, 0.0)
        d_rec = np.where(keep, d_rec, 0.0)
        d_kernel += (x[:, t] * input_drop).T @ d_in
        if reset_after:
            d_recurrent += h_in.T @ d_rec
        else:  # the candidate block of U multiplies r * h_in
            d_recurrent[:, :2 * units] += h_in.T @ d_rec[:, :2 * units]
            d_recurrent[:, 2 * units:] += (r * h_in).T @ d_rec[:, 2 * units:]
        d_b_in += d_in.sum(axis=0)
        d_b_rec += d_rec.sum(axis=0)
        d_x[:, t] = (d_in @ kernel.T) * input_drop
        dh = np.where(keep, dh * z + dh_in * recurrent_drop, dh)
    if bias is None:
        d_bias = None
    elif reset_after:
        d_bias = np.stack([d_b_in, d_b_rec])
    else:
        d_bias = d_b_in
    return {"kernel": d_kernel, "recurrent_kernel": d_recurrent, "bias": d_bias, "inputs": d_x,
            "h0": dh, "grad_hidden_norm": norms}

