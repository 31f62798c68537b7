"""Gate traces: a plain record of what every gate of every unit did at every timestep.

A `Trace` is produced by a recurrent cell's forward pass when `record_trace=True`, and
completed by its backward pass with the per-timestep gradient norms. Every array is
batch-major and indexed by *input position* t (the t-th element of the input sequence),
also for `go_backwards=True`, so that a trace lines up with the words or values it read.

Gate names by cell (Keras's block order in the weights):

    simple_rnn: candidate                       (the new hidden state, tanh(x W + h U + b))
    lstm:       input, forget, candidate, output (i, f, c, o)
    gru:        update, reset, candidate         (z, r, h)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

GATE_NAMES = {
    "simple_rnn": ("candidate",),
    "lstm": ("input", "forget", "candidate", "output"),
    "gru": ("update", "reset", "candidate"),
}

# Short symbols as written in the equations, for plots and headings.
GATE_SYMBOLS = {
    "input": "i",
    "forget": "f",
    "candidate": "c~",
    "output": "o",
    "update": "z",
    "reset": "r",
}


@dataclass
class Trace:
    """Everything one recurrent layer did on one batch.

    Shapes: B samples, T timesteps, U units.
    """

    cell: str  # 'simple_rnn' | 'lstm' | 'gru'
    gates: dict[str, np.ndarray]  # gate name -> activation, (B, T, U)
    preactivations: dict[str, np.ndarray]  # gate name -> value before the activation, (B, T, U)
    hidden: np.ndarray  # h_t, (B, T, U)
    cell_state: np.ndarray | None = None  # c_t, (B, T, U); LSTM only
    mask: np.ndarray | None = None  # (B, T) bool, False where a padded step carried the state over
    go_backwards: bool = False  # True if the layer read the sequence last-to-first
    grad_hidden_norm: np.ndarray | None = None  # ||dL/dh_t||, (B, T); filled in by the backward pass
    grad_cell_norm: np.ndarray | None = None  # ||dL/dc_t||, (B, T); LSTM only, from the backward pass
    layer_name: str = ""  # set by the layer that owns the cell
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # cell-specific extras

    @property
    def gate_names(self) -> tuple[str, ...]:
        return GATE_NAMES[self.cell]

    @property
    def batch_size(self) -> int:
        return self.hidden.shape[0]

    @property
    def timesteps(self) -> int:
        return self.hidden.shape[1]

    @property
    def units(self) -> int:
        return self.hidden.shape[2]
