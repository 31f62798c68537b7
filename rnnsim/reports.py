"""What the training loop reports, as plain records for observers (CLI progress bar, terminal app).

`Sequential.fit_iter` yields these as training goes, and every `Callback` receives them
through `on_report(report)` (and `on_probe(report)` for probe reports). They hold numbers and
arrays only, never references into the model, so a UI thread may keep them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnsim.cells.trace import Trace


@dataclass
class BatchReport:
    """One training step done."""

    epoch: int  # 0-based epoch index
    batch: int  # 0-based batch index within the epoch
    step: int  # optimizer steps done so far in this model's life (1 after the first batch)
    steps_in_epoch: int | None  # batches per epoch, None when unknown
    batch_size: int  # samples in this batch
    loss: float  # this batch's loss
    logs: dict[str, float]  # running means over the epoch so far: 'loss' and each metric
    elapsed: float  # seconds since the epoch began


@dataclass
class EpochReport:
    """One epoch done, validation included."""

    epoch: int  # 0-based epoch index
    epochs: int  # the `epochs` argument of fit (the last epoch index is epochs - 1)
    logs: dict[str, float]  # 'loss', metrics, and 'val_...' entries, as in History.history
    elapsed: float  # seconds the epoch took
    steps: int  # batches in this epoch


@dataclass
class ProbeReport:
    """Forward (with traces) and backward on a fixed probe batch, without any weight update."""

    epoch: int  # 0-based epoch index
    batch: int  # batch index after which the probe ran
    step: int  # optimizer steps done so far
    loss: float  # the probe batch's loss
    traces: list[Trace]  # one per recurrent layer (two for Bidirectional), grad norms filled in
    layer_names: list[str]  # the layer each trace belongs to, same order
    predictions: np.ndarray | None = None  # the model's output on the probe batch
    targets: np.ndarray | None = None  # the probe labels
    extra: dict = field(default_factory=dict)
