"""Metrics reported during training, by the name the user typed ('acc', 'accuracy', 'mae', ...).

Each metric is a function (y_true, y_pred, mask) -> (sum, count); the training loop keeps
running sums so an epoch's value is the mean over all its samples (and unmasked timesteps),
as Keras's stateful metrics are.

'acc' / 'accuracy' picks binary, categorical or sparse-categorical accuracy the way Keras 3
does: from the loss when it is a cross-entropy, else from the shapes (one output unit:
binary; labels with one axis fewer than the output: sparse; otherwise categorical).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnnsim.errors import InputError


def _reduce(values, mask):
    """(sum, count) of per-sample values, counting only unmasked entries."""
    if mask is not None and mask.shape == values.shape:
        return float(np.sum(values * mask)), float(np.sum(mask))
    return float(np.sum(values)), float(values.size)


def _dense_labels(y_true, y_pred):
    y_true = np.asarray(y_true)
    if y_true.shape != y_pred.shape and y_pred.shape[-1] == 1 and y_true.shape == y_pred.shape[:-1]:
        y_true = y_true.reshape(y_pred.shape)
    return y_true


def binary_accuracy(y_true, y_pred, mask=None):
    y_true = _dense_labels(y_true, y_pred)
    hits = ((y_pred > 0.5) == (y_true > 0.5)).mean(axis=-1)  # (B[, T])
    return _reduce(hits, mask)


def categorical_accuracy(y_true, y_pred, mask=None):
    hits = (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float64)
    return _reduce(hits, mask)


def sparse_categorical_accuracy(y_true, y_pred, mask=None):
    labels = np.asarray(y_true)
    if labels.shape == y_pred.shape[:-1] + (1,):
        labels = labels[..., 0]
    hits = (labels.astype(np.int64) == np.argmax(y_pred, axis=-1)).astype(np.float64)
    return _reduce(hits, mask)


def mean_absolute_error(y_true, y_pred, mask=None):
    y_true = _dense_labels(y_true, y_pred)
    return _reduce(np.abs(y_pred - y_true).mean(axis=-1), mask)


def mean_squared_error(y_true, y_pred, mask=None):
    y_true = _dense_labels(y_true, y_pred)
    return _reduce(np.square(y_pred - y_true).mean(axis=-1), mask)


_BY_NAME: dict[str, Callable] = {
    "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "mae": mean_absolute_error,
    "mean_absolute_error": mean_absolute_error,
    "mse": mean_squared_error,
    "mean_squared_error": mean_squared_error,
}


def resolve(name: str, loss_name: str | None, output_units: int | None, label_ndim=None, output_ndim=None):
    """The metric function for `name` ('acc' resolved as Keras 3 does); raises InputError if unknown."""
    if not isinstance(name, str):
        raise InputError(f"metrics must be given by name, got {name!r}")
    key = name.lower()
    if key in ("acc", "accuracy"):
        if loss_name == "binary_crossentropy":
            return binary_accuracy
        if loss_name == "sparse_categorical_crossentropy":
            return sparse_categorical_accuracy
        if loss_name == "categorical_crossentropy":
            return categorical_accuracy
        if output_units == 1:
            return binary_accuracy
        if label_ndim is not None and output_ndim is not None and label_ndim < output_ndim:
            return sparse_categorical_accuracy
        return categorical_accuracy
    if key in _BY_NAME:
        return _BY_NAME[key]
    raise InputError(f"unknown metric {name!r}; choose from acc, accuracy, {', '.join(_BY_NAME)}")


def check_name(name) -> None:
    resolve(name, "binary_crossentropy", 1)
