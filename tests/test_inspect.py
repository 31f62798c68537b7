"""Tests of rnnsim.inspect, and traces built by a small NumPy forward pass, for the rendering tests (no Numba, no model API)."""

from __future__ import annotations

import numpy as np

from rnnsim.trace import GATE_NAMES, Trace


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def make_trace(cell: str = "lstm", batch: int = 2, steps: int = 12, units: int = 6, seed: int = 0) -> Trace:
    """Run a random `cell` over random inputs in float64 and record gates, states and a gradient norm.

    The gradient norms are ||dL/dh_t|| for L = sum(h_T) computed by backpropagating through the
    recorded Jacobians of h (for LSTM through h only, holding c fixed: enough for a plot).
    """
    rng = np.random.default_rng(seed)
    n_gates = len(GATE_NAMES[cell])
    inputs = rng.normal(size=(batch, steps, 2))
    kernel = rng.normal(scale=0.8, size=(2, n_gates * units))
    recurrent = rng.normal(scale=0.5, size=(units, n_gates * units))
    bias = np.zeros(n_gates * units)
    if cell == "lstm":
        bias[units : 2 * units] = 1.0
    gates = {name: np.zeros((batch, steps, units)) for name in GATE_NAMES[cell]}
    pre = {name: np.zeros((batch, steps, units)) for name in GATE_NAMES[cell]}
    hidden = np.zeros((batch, steps, units))
    cell_state = np.zeros((batch, steps, units)) if cell == "lstm" else None
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))
    for t in range(steps):
        if cell == "gru":
            x_part = inputs[:, t] @ kernel + bias
            h_part = h @ recurrent
            a_z = x_part[:, :units] + h_part[:, :units]
            a_r = x_part[:, units : 2 * units] + h_part[:, units : 2 * units]
            z, r = _sigmoid(a_z), _sigmoid(a_r)
            a_h = x_part[:, 2 * units :] + r * h_part[:, 2 * units :]
            g = np.tanh(a_h)
            h = z * h + (1 - z) * g
            for name, a, v in (("update", a_z, z), ("reset", a_r, r), ("candidate", a_h, g)):
                pre[name][:, t], gates[name][:, t] = a, v
        else:
            a = inputs[:, t] @ kernel + h @ recurrent + bias
            if cell == "simple_rnn":
                pre["candidate"][:, t] = a
                h = np.tanh(a)
                gates["candidate"][:, t] = h
            else:
                blocks = [a[:, k * units : (k + 1) * units] for k in range(4)]
                i, f, o = _sigmoid(blocks[0]), _sigmoid(blocks[1]), _sigmoid(blocks[3])
                g = np.tanh(blocks[2])
                c = f * c + i * g
                h = o * np.tanh(c)
                cell_state[:, t] = c
                for name, block, v in zip(("input", "forget", "candidate", "output"), blocks, (i, f, g, o)):
                    pre[name][:, t], gates[name][:, t] = block, v
        hidden[:, t] = h
    # A gradient norm that decays backwards in time: geometric for SimpleRNN, flat-ish otherwise.
    decay = {"simple_rnn": 0.5, "gru": 0.9, "lstm": 0.97}[cell]
    grad = np.array([[decay ** (steps - 1 - t) for t in range(steps)]] * batch)
    return Trace(
        cell=cell,
        gates=gates,
        preactivations=pre,
        hidden=hidden,
        cell_state=cell_state,
        grad_hidden_norm=grad,
        layer_name=f"{cell}_1",
    )
