"""Gate traces: a plain record of what every gate of every unit did at every timestep.

A `Trace` is produced by a recurrent cell's forward pass when `record_trace=True`, and
completed by its backward pass with the per-timestep gradient norms: ||dL/dh_t|| (and ||dL/dc_t||
for the LSTM), ||dL/dx_t|| at the layer's input and ||dL/da_t|| at the pre-activations. Every array is
batch-major and indexed by *input position* t (the t-th element of the input sequence),
also for `go_backwards=True`, so that a trace lines up with the words or values it read.

The gate names of each cell, in Keras's block order in the weights, are declared with its
equations in `rnnsim.cells.spec` (simple_rnn: candidate; lstm: input, forget, candidate,
output; gru: update, reset, candidate).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnsim.cells.spec import SPECS, CellSpec, spec_for

# Gate names by cell, in Keras's block order, and their symbols: from the cells' declarations.
GATE_NAMES = {key: spec.gate_names for key, spec in SPECS.items()}

# One symbol per gate name, for short labels; a candidate's symbol depends on the cell (c~, h~, h):
# `spec_for(cell).symbol(name)` gives the cell's own.
GATE_SYMBOLS = {gate.name: gate.symbol for key in ("simple_rnn", "gru", "lstm") for gate in SPECS[key].gates}


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
    # ||dL/dx_t||, (B, T): the gradient reaching the layer's input at step t (for text: the word's
    # embedding vector), the raw material of the input-connectivity view; from the backward pass
    grad_input_norm: np.ndarray | None = None
    # ||dL/da_t||, (B, T): the gradient of all pre-activations at step t, after the activations'
    # derivatives and before the recurrent matrix; for a SimpleRNN ||dL/da_t|| / ||dL/dh_t|| is the
    # factor tanh'(a_t) takes out of the per-step gain; from the backward pass
    grad_preact_norm: np.ndarray | None = None
    layer_name: str = ""  # set by the layer that owns the cell
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # cell options the display needs (GRU: reset_after)

    @property
    def gate_names(self) -> tuple[str, ...]:
        return GATE_NAMES[self.cell]

    @property
    def spec(self) -> CellSpec:
        """The cell's declaration: its gates and equations (rnnsim.cells.spec)."""
        return spec_for(self.cell)

    @property
    def options(self) -> dict[str, bool]:
        """The cell options that change its equations, e.g. {'reset_after': False} for a GRU."""
        return {name: bool(np.asarray(value).any()) for name, value in self.extra.items()}

    @property
    def batch_size(self) -> int:
        return self.hidden.shape[0]

    @property
    def timesteps(self) -> int:
        return self.hidden.shape[1]

    @property
    def units(self) -> int:
        return self.hidden.shape[2]
