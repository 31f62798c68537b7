"""Losses by Keras name, each with its gradient with respect to the model's output.

Every loss is a mean: first over the last axis (the per-sample loss Keras reports per element
of the batch), then over the batch (and over timesteps for sequence outputs). With a mask
(an output sequence from Embedding(mask_zero=True) and return_sequences) the mean is over the
unmasked timesteps only, as Keras 3 does.

Numerical care:
- Cross-entropies on probabilities clip them to [1e-7, 1 - 1e-7] as Keras does; the gradient
  is then zero where the clip is active (as it is in Keras).
- When the model's last layer is Dense(activation='sigmoid') with binary cross-entropy, or
  Dense(activation='softmax') with a categorical cross-entropy, the model fuses the two and
  calls `value_and_gradient_from_logits`: the loss is computed from the logits (softplus /
  log-sum-exp, exact for any logit) and the gradient is (p - y) / N, with no clip. This is
  what Keras's TensorFlow backend does (it reaches back to the sigmoid's logits).
"""

from __future__ import annotations

import numpy as np

from rnnsim.errors import InputError

EPSILON = 1e-7  # Keras's backend.epsilon()


def _weights(per_sample_shape, mask, dtype):
    """Weights for the mean over the per-sample losses: 1/N, or masked 1/N_valid."""
    if mask is not None and mask.shape == per_sample_shape:
        valid = mask.astype(dtype)
        count = valid.sum()
        return valid / max(count, 1.0)
    count = int(np.prod(per_sample_shape))
    return np.full(per_sample_shape, 1.0 / max(count, 1), dtype=dtype)


def _align_dense(y_true, y_pred, loss_name):
    """y_true reshaped to y_pred's shape, allowing Keras's (B,) for a (B, 1) output."""
    y_true = np.asarray(y_true)
    if y_true.shape == y_pred.shape:
        return y_true.astype(y_pred.dtype, copy=False)
    if y_pred.shape[-1] == 1 and y_true.shape == y_pred.shape[:-1]:
        return y_true.reshape(y_pred.shape).astype(y_pred.dtype, copy=False)
    raise InputError(
        f"{loss_name}: labels of shape {y_true.shape} do not match the model's output {y_pred.shape}"
    )


class Loss:
    """Base class: `__call__` gives the mean loss, `value_and_gradient` also dL/d(y_pred)."""

    name = "loss"
    fusable_activation: str | None = None  # activation whose logits this loss can use directly

    def __call__(self, y_true, y_pred, mask=None) -> float:
        return self.value_and_gradient(y_true, y_pred, mask)[0]

    def value_and_gradient(self, y_true, y_pred, mask=None):
        raise NotImplementedError

    def check_labels(self, y_true, output_shape) -> None:
        """Raise InputError when labels can never fit outputs of `output_shape` (batch axis excluded)."""


class MeanSquaredError(Loss):
    name = "mse"

    def value_and_gradient(self, y_true, y_pred, mask=None):
        y_true = _align_dense(y_true, y_pred, self.name)
        difference = y_pred - y_true
        width = y_pred.shape[-1]
        weights = _weights(y_pred.shape[:-1], mask, y_pred.dtype)[..., None]  # (B[, T], 1)
        value = float(np.sum(weights * difference * difference) / width)
        return value, (2.0 / width) * weights * difference


class MeanAbsoluteError(Loss):
    name = "mae"

    def value_and_gradient(self, y_true, y_pred, mask=None):
        y_true = _align_dense(y_true, y_pred, self.name)
        difference = y_pred - y_true
        width = y_pred.shape[-1]
        weights = _weights(y_pred.shape[:-1], mask, y_pred.dtype)[..., None]
        value = float(np.sum(weights * np.abs(difference)) / width)
        return value, weights * np.sign(difference) / width


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"
    fusable_activation = "sigmoid"

    def value_and_gradient(self, y_true, y_pred, mask=None):
        y_true = _align_dense(y_true, y_pred, self.name)
        width = y_pred.shape[-1]
        clipped = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
        elementwise = -(y_true * np.log(clipped) + (1.0 - y_true) * np.log(1.0 - clipped))
        weights = _weights(y_pred.shape[:-1], mask, y_pred.dtype)[..., None]
        value = float(np.sum(weights * elementwise) / width)
        inside = (y_pred >= EPSILON) & (y_pred <= 1.0 - EPSILON)
        gradient = weights / width * (clipped - y_true) / (clipped * (1.0 - clipped)) * inside
        return value, gradient.astype(y_pred.dtype, copy=False)

    def value_and_gradient_from_logits(self, y_true, logits, mask=None):
        y_true = _align_dense(y_true, logits, self.name)
        width = logits.shape[-1]
        # -[y log s(z) + (1-y) log(1-s(z))] = max(z, 0) - z y + log(1 + exp(-|z|)), exact for any z
        elementwise = np.maximum(logits, 0.0) - logits * y_true + np.log1p(np.exp(-np.abs(logits)))
        weights = _weights(logits.shape[:-1], mask, logits.dtype)[..., None]
        value = float(np.sum(weights * elementwise) / width)
        probability = 0.5 + 0.5 * np.tanh(0.5 * logits)  # sigmoid without overflow
        return value, (weights / width * (probability - y_true)).astype(logits.dtype, copy=False)


def _log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"
    fusable_activation = "softmax"

    def _one_hot(self, y_true, y_pred):
        y_true = np.asarray(y_true)
        if y_true.shape != y_pred.shape:
            raise InputError(
                f"{self.name}: one-hot labels of shape {y_true.shape} do not match the output {y_pred.shape}; "
                "for integer labels use 'sparse_categorical_crossentropy'"
            )
        return y_true.astype(y_pred.dtype, copy=False)

    def value_and_gradient(self, y_true, y_pred, mask=None):
        target = self._one_hot(y_true, y_pred)
        # Keras: rescale so the probabilities sum to one, clip, then -sum(y log p)
        total = y_pred.sum(axis=-1, keepdims=True)
        scaled = y_pred / total
        clipped = np.clip(scaled, EPSILON, 1.0 - EPSILON)
        weights = _weights(y_pred.shape[:-1], mask, y_pred.dtype)[..., None]
        value = float(-np.sum(weights * target * np.log(clipped)))
        inside = (scaled >= EPSILON) & (scaled <= 1.0 - EPSILON)
        grad_scaled = -weights * target / clipped * inside
        # through p / sum(p): d/dp_j = (g_j - sum_k g_k p_k / S) / S
        gradient = (grad_scaled - (grad_scaled * scaled).sum(axis=-1, keepdims=True)) / total
        return value, gradient.astype(y_pred.dtype, copy=False)

    def value_and_gradient_from_logits(self, y_true, logits, mask=None):
        target = self._one_hot(y_true, logits)
        log_probability = _log_softmax(logits)
        weights = _weights(logits.shape[:-1], mask, logits.dtype)[..., None]
        value = float(-np.sum(weights * target * log_probability))
        probability = np.exp(log_probability)
        gradient = weights * (probability * target.sum(axis=-1, keepdims=True) - target)
        return value, gradient.astype(logits.dtype, copy=False)


class SparseCategoricalCrossentropy(Loss):
    name = "sparse_categorical_crossentropy"
    fusable_activation = "softmax"

    def _labels(self, y_true, y_pred):
        y_true = np.asarray(y_true)
        if y_true.shape == y_pred.shape[:-1] + (1,) and y_pred.shape[-1] != 1:
            y_true = y_true[..., 0]
        if y_true.shape != y_pred.shape[:-1]:
            raise InputError(
                f"{self.name}: integer labels of shape {y_true.shape} do not match the output {y_pred.shape} "
                f"(expected {y_pred.shape[:-1]})"
            )
        if y_true.dtype.kind == "f":
            if not np.all(np.isfinite(y_true)) or np.any(y_true != np.round(y_true)):
                raise InputError(f"{self.name}: labels must be whole class numbers")
        labels = y_true.astype(np.int64)
        classes = y_pred.shape[-1]
        if labels.size and (labels.min() < 0 or labels.max() >= classes):
            raise InputError(
                f"{self.name}: labels must lie in [0, {classes - 1}] for {classes} output classes, "
                f"got {labels.min()}..{labels.max()}"
            )
        return labels

    def value_and_gradient(self, y_true, y_pred, mask=None):
        labels = self._labels(y_true, y_pred)
        total = y_pred.sum(axis=-1, keepdims=True)
        scaled = y_pred / total
        picked = np.take_along_axis(scaled, labels[..., None], axis=-1)  # (B[, T], 1)
        clipped = np.clip(picked, EPSILON, 1.0 - EPSILON)
        weights = _weights(y_pred.shape[:-1], mask, y_pred.dtype)[..., None]
        value = float(-np.sum(weights * np.log(clipped)))
        inside = (picked >= EPSILON) & (picked <= 1.0 - EPSILON)
        grad_scaled = np.zeros_like(y_pred)
        np.put_along_axis(grad_scaled, labels[..., None], -weights / clipped * inside, axis=-1)
        gradient = (grad_scaled - (grad_scaled * scaled).sum(axis=-1, keepdims=True)) / total
        return value, gradient.astype(y_pred.dtype, copy=False)

    def value_and_gradient_from_logits(self, y_true, logits, mask=None):
        labels = self._labels(y_true, logits)
        log_probability = _log_softmax(logits)
        weights = _weights(logits.shape[:-1], mask, logits.dtype)[..., None]
        picked = np.take_along_axis(log_probability, labels[..., None], axis=-1)
        value = float(-np.sum(weights * picked))
        gradient = np.exp(log_probability)
        np.put_along_axis(gradient, labels[..., None],
                          np.take_along_axis(gradient, labels[..., None], axis=-1) - 1.0, axis=-1)
        return value, (weights * gradient).astype(logits.dtype, copy=False)


LOSSES = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def get(identifier) -> Loss:
    """A loss from its Keras name or an instance."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in LOSSES:
        loss = LOSSES[identifier.lower()]()
        loss.name = identifier.lower()
        return loss
    raise InputError(f"unknown loss {identifier!r}; choose one of {', '.join(LOSSES)}")
