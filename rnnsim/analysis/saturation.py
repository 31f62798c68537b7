"""Gate saturation: how often each gate of each unit is nearly shut (< 0.1) or wide open (> 0.9).

Karpathy, Johnson and Fei-Fei (2015), "Visualizing and understanding recurrent networks", plot one
dot per unit: x = the fraction of timesteps its gate is left-saturated (< 0.1), y = the fraction it is
right-saturated (> 0.9). A forget gate in the top-left corner keeps its cell state almost always: a
long-memory unit. A gate in the middle of the triangle is never decided. Computed over every sample
and every real (unmasked) step of a trace; only the sigmoid gates (not the tanh candidate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOW, HIGH = 0.1, 0.9  # the thresholds of the paper


@dataclass
class GateSaturation:
    """One gate's saturation, per unit."""

    gate: str  # e.g. 'forget'
    low: np.ndarray  # (U,) fraction of steps with activation < 0.1
    high: np.ndarray  # (U,) fraction of steps with activation > 0.9
    steps: int  # how many (sample, step) pairs were counted

    @property
    def middle(self) -> np.ndarray:
        """(U,) the fraction of steps the gate spends undecided, between the thresholds."""
        return 1.0 - self.low - self.high


def sigmoid_gates(trace) -> list[str]:
    """The trace's gates squashed by a sigmoid: every gate but the candidate (rnnsim.cells.spec)."""
    return [name for name in trace.gate_names if name != "candidate"]


def saturation(trace, low: float = LOW, high: float = HIGH, sample: int | None = None) -> dict[str, GateSaturation]:
    """Per sigmoid gate, the fraction of real steps of each unit below `low` and above `high`.

    Args:
        trace: a `rnnsim.cells.trace.Trace`.
        low, high: the thresholds (default 0.1 and 0.9, as in the paper).
        sample: count one sample only (default None: every sample of the trace).
    Returns:
        {gate name: GateSaturation}, in the cell's gate order; {} for a SimpleRNN (it has no gate).
    """
    real = np.ones((trace.batch_size, trace.timesteps), bool) if trace.mask is None else np.asarray(trace.mask, bool)
    if sample is not None:
        real = real[sample : sample + 1]
    count = int(real.sum())
    result = {}
    for name in sigmoid_gates(trace):
        values = np.asarray(trace.gates[name], dtype=np.float64)
        if sample is not None:
            values = values[sample : sample + 1]
        weights = real[:, :, None]
        result[name] = GateSaturation(
            gate=name,
            low=((values < low) & weights).sum(axis=(0, 1)) / max(count, 1),
            high=((values > high) & weights).sum(axis=(0, 1)) / max(count, 1),
            steps=count,
        )
    return result


def saturation_record(trace, epoch: int | None = None) -> dict:
    """The saturation of a trace as JSON-ready data, one entry of `history.json`'s "saturation" list.

    {"epoch": 3, "layer": "lstm", "cell": "lstm", "steps": 6400,
     "gates": {"forget": {"low": [per unit], "high": [per unit]}, ...}}
    """
    record = {"layer": trace.layer_name or trace.cell, "cell": trace.cell}
    if epoch is not None:
        record = {"epoch": int(epoch), **record}
    gates = saturation(trace)
    record["steps"] = next(iter(gates.values())).steps if gates else 0
    record["gates"] = {
        name: {"low": [round(float(v), 4) for v in entry.low], "high": [round(float(v), 4) for v in entry.high]}
        for name, entry in gates.items()
    }
    return record
