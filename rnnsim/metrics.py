"""Metrics reported during training, by the name the user typed ('acc', 'accuracy', 'mae', ...).

Each metric is a function (y_true, y_pred, mask) -> (sum, count); the training loop keeps
running sums so an epoch's value is the mean over all its samples (and unmasked timesteps),
as Keras's stateful metrics are.

'acc' / 'accuracy' picks binary, categorical or sparse-categorical accuracy the way Keras 3
does (keras/src/trainers/compile_utils.py, `get_metric`), from the shapes alone, never from the
loss: an output whose last axis has size 1 gets binary accuracy; labels with fewer axes than
the output, or a last axis of 1 against several output units, sparse categorical; anything else
categorical. So a multi-label sigmoid output (B, 10) with 0/1 targets (B, 10) and
binary_crossentropy gets categorical accuracy, as in Keras 3; ask for 'binary_accuracy' by name.
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


def _key(name) -> str:
    if not isinstance(name, str):
        raise InputError(f"metrics must be given by name, got {name!r}")
    key = name.lower()
    if key not in ("acc", "accuracy") and key not in _BY_NAME:
        raise InputError(f"unknown metric {name!r}; choose from acc, accuracy, {', '.join(_BY_NAME)}")
    return key


def resolve(name: str, y_true_shape=None, y_pred_shape=None) -> Callable:
    """The metric function for `name`; 'acc' / 'accuracy' resolved from the shapes as Keras 3 does.

    Args:
        name: a metric name (see _BY_NAME), or 'acc' / 'accuracy'.
        y_true_shape: the targets' shape (needed for 'acc').
        y_pred_shape: the outputs' shape (needed for 'acc').
    Raises InputError for an unknown name.
    """
    key = _key(name)
    if key not in ("acc", "accuracy"):
        return _BY_NAME[key]
    y_true_shape, y_pred_shape = tuple(y_true_shape), tuple(y_pred_shape)
    if y_pred_shape[-1] == 1:
        return binary_accuracy
    true_last = y_true_shape[-1] if y_true_shape else 1
    if len(y_true_shape) < len(y_pred_shape) or (true_last == 1 and y_pred_shape[-1] > 1):
        return sparse_categorical_accuracy
    return categorical_accuracy


def check_name(name) -> None:
    """InputError unless `name` is a metric rnnsim knows."""
    _key(name)
