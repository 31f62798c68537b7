"""Input connectivity ||dy/dx_t||: how strongly the model's output depends on each input step.

The view of the Distill article "Visualizing memorization in RNNs" (Madsen 2019): for each input step
t, the size of the gradient of the output y with respect to x_t. On the adding problem a model that
has learned the task depends on the two marked steps and hardly on any other; a SimpleRNN, whose
gradient vanishes, depends on the second marker (near the end) and has lost the first.

How it is computed: a copy of the model is compiled with a "loss" that is the chosen output itself
(`OutputLoss`), and probed; the backward pass then carries dy instead of dL, and the first recurrent
layer's trace records ||dy/dx_t|| (`Trace.grad_input_norm`). For text, x_t is the embedding vector of
the word at t (its row of the Embedding table), as in the article's word models. Layers before the
first recurrent layer must pass the input on unchanged (Embedding, Masking, Dropout at inference).
"""

from __future__ import annotations

import numpy as np

from rnnsim.analysis.whatif import clone_model
from rnnsim.errors import InputError
from rnnsim.losses import Loss

_PASS_THROUGH = {"Embedding", "Masking", "Dropout", "InputLayer"}


class OutputLoss(Loss):
    """A "loss" equal to the sum over the batch of one output of the model, so backward carries dy/d(.).

    Args:
        unit: the output unit y reads (default None: the predicted class, the largest output of each
            sample; unit 0 for a single output).
        step: for sequence outputs (B, T, K), the output step y reads (default -1, the last).
    """

    name = "output"

    def __init__(self, unit: int | None = None, step: int = -1):
        self.unit = unit
        self.step = step

    def value_and_gradient(self, y_true, y_pred, mask=None):
        y_pred = np.asarray(y_pred)
        grad = np.zeros_like(y_pred)
        picked = y_pred[:, self.step] if y_pred.ndim == 3 else y_pred  # (B, K)
        units = picked.shape[-1]
        if self.unit is None:
            chosen = np.argmax(picked, axis=-1) if units > 1 else np.zeros(len(picked), np.int64)
        else:
            if not 0 <= self.unit < units:
                raise InputError(f"output unit {self.unit} is out of range: the model has {units} outputs")
            chosen = np.full(len(picked), self.unit)
        rows = np.arange(len(picked))
        if y_pred.ndim == 3:
            grad[rows, self.step, chosen] = 1.0
        else:
            grad[rows, chosen] = 1.0
        return float(picked[rows, chosen].sum()), grad


def first_recurrent_trace(model, report):
    """The trace of the model's first recurrent layer in a probe report, checking it reads the model's input."""
    for layer in model.layers:
        if getattr(layer, "forward_layer", None) is not None:
            raise InputError("connectivity through a Bidirectional first layer is not available: the two "
                             "directions' gradients add as vectors, and the traces keep only their norms")
        if getattr(layer, "cell_kind", ""):
            return report.traces[report.layer_names.index(layer.name)] if layer.name in report.layer_names \
                else report.traces[0]
        if type(layer).__name__ not in _PASS_THROUGH:
            raise InputError(f"connectivity needs the first recurrent layer to read the model's input; "
                             f"{layer.name!r} ({type(layer).__name__}) comes before it")
    raise InputError("the model has no recurrent layer")


class ConnectivityProbe:
    """Measures connectivity again and again for a model that keeps training (the app, at every probe).

    One copy of the model is compiled with `OutputLoss` on first use; later calls only give it the
    current weights, so a probe every few batches costs a probe, not a model build.

    Args:
        model: the model to follow (never changed).
        unit, step: which output y is (see `OutputLoss`).
    """

    def __init__(self, model, unit: int | None = None, step: int = -1):
        self.model = model
        self.loss = OutputLoss(unit, step)
        self._copy = None

    def measure(self, x, weights=None, batch_size: int = 256) -> np.ndarray:
        """||dy/dx_t|| (N, T) of x under `weights` (default: the model's current weights)."""
        if self._copy is None:
            self._copy = clone_model(self.model, weights, loss=self.loss)
        else:
            source = self.model.get_weights() if weights is None else weights
            self._copy.set_weights([np.array(w, copy=True) for w in source])
        x = np.asarray(x)
        rows = []
        for start in range(0, len(x), batch_size):
            batch = x[start : start + batch_size]
            report = self._copy.probe(batch, np.zeros(len(batch), np.float32))
            rows.append(np.asarray(first_recurrent_trace(self._copy, report).grad_input_norm, dtype=np.float64))
        return np.concatenate(rows, axis=0)


def connectivity(model, x, unit: int | None = None, step: int = -1, batch_size: int = 256,
                 weights=None) -> np.ndarray:
    """||dy/dx_t|| for every sample and input step, (N, T).

    Args:
        model: a built model whose first recurrent layer reads the model's input (see the module doc).
        x: inputs (N, T, D), or token ids (N, T).
        unit: the output unit y is (default None: the predicted class; the only output of a regression).
        step: for a model with sequence outputs, which output step y is (default -1, the last).
        batch_size: samples per probe (default 256).
        weights: the weights to use instead of the model's own (e.g. a snapshot taken while training).
    """
    return ConnectivityProbe(model, unit, step).measure(x, weights, batch_size)


def marker_ranks(connectivity_rows: np.ndarray, markers: np.ndarray) -> dict[str, float]:
    """How well connectivity finds marked steps, over samples: the adding problem's test of a trained model.

    Args:
        connectivity_rows: (N, T) ||dy/dx_t||.
        markers: (N, T) bool, two marked steps per sample (first, second in time).
    Returns:
        {'top_two': fraction of samples whose two largest values are exactly the two marked steps,
         'first_over_second': median over samples of connectivity at the first marker / at the second}
    """
    connectivity_rows = np.asarray(connectivity_rows, dtype=np.float64)
    markers = np.asarray(markers, bool)
    if markers.shape != connectivity_rows.shape or np.any(markers.sum(axis=1) != 2):
        raise InputError("marker_ranks needs (N, T) markers with exactly two marked steps per sample")
    top_two = np.argsort(connectivity_rows, axis=1)[:, -2:]
    hits = np.take_along_axis(markers, top_two, axis=1).all(axis=1)
    positions = np.sort(np.argwhere(markers)[:, 1].reshape(-1, 2), axis=1)
    rows = np.arange(len(markers))
    ratio = connectivity_rows[rows, positions[:, 0]] / np.maximum(connectivity_rows[rows, positions[:, 1]], 1e-300)
    return {"top_two": float(hits.mean()), "first_over_second": float(np.median(ratio))}
