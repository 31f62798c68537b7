"""Weight initializers, by Keras name, drawing from a numpy `Generator`.

Keras 3 defaults for recurrent layers: kernel `glorot_uniform`, recurrent kernel `orthogonal`,
bias `zeros`. Every function takes `(shape, rng, dtype)` and returns a new array; so does a
`Constant(value)` instance (e.g. pretrained word vectors for an Embedding).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnnsim.errors import InputError


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


def zeros(shape, rng, dtype=np.float32):
    return np.zeros(shape, dtype=dtype)


def ones(shape, rng, dtype=np.float32):
    return np.ones(shape, dtype=dtype)


def glorot_uniform(shape, rng, dtype=np.float32):
    """U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def glorot_normal(shape, rng, dtype=np.float32):
    """Truncated normal (at 2 standard deviations) with stddev sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    stddev = np.sqrt(2.0 / (fan_in + fan_out)) / 0.87962566103423978  # truncation correction
    return _truncated_normal(shape, rng, stddev).astype(dtype)


def he_uniform(shape, rng, dtype=np.float32):
    fan_in, _ = _fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def random_uniform(shape, rng, dtype=np.float32):
    """Keras's RandomUniform default: U(-0.05, 0.05) (also Embedding's default)."""
    return rng.uniform(-0.05, 0.05, size=shape).astype(dtype)


def random_normal(shape, rng, dtype=np.float32):
    return rng.normal(0.0, 0.05, size=shape).astype(dtype)


def orthogonal(shape, rng, dtype=np.float32):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian matrix (gain 1).

    For a (U, 4U) recurrent kernel the rows are orthonormal, as in Keras.
    """
    rows, cols = shape[0], int(np.prod(shape[1:]))
    flat = rng.normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # make the decomposition unique, so the draw is uniform
    if rows < cols:
        q = q.T
    return q.reshape(shape).astype(dtype)


def _truncated_normal(shape, rng, stddev):
    values = rng.normal(0.0, 1.0, size=shape)
    bad = np.abs(values) > 2.0
    while bad.any():
        values[bad] = rng.normal(0.0, 1.0, size=int(bad.sum()))
        bad = np.abs(values) > 2.0
    return values * stddev


class Constant:
    """Keras's `initializers.Constant(value)`: every weight set from `value`, broadcast to the weight's shape.

    `value` is a number or an array, e.g. an (input_dim, output_dim) matrix of pretrained word vectors for
    `Embedding(..., embeddings_initializer=Constant(matrix))`.

    Args:
        value: a finite number or array (default 0.0).
    """

    def __init__(self, value=0.0):
        try:
            value = np.array(value, dtype=np.float64)  # a copy: later changes to the caller's array do not leak in
        except (TypeError, ValueError):
            raise InputError(f"Constant value must be a number or a numeric array, "
                             f"got {type(value).__name__}") from None
        if not np.all(np.isfinite(value)):
            raise InputError("Constant value contains NaN or infinity")
        self.value = value

    def __call__(self, shape, rng=None, dtype=np.float32):
        shape = tuple(shape)
        try:
            return np.array(np.broadcast_to(self.value, shape), dtype=dtype)
        except ValueError:
            raise InputError(f"Constant value of shape {self.value.shape} does not fit a weight of shape {shape}; "
                             f"give a number or an array of shape {shape}") from None

    def get_config(self) -> dict:
        return {"value": float(self.value) if self.value.ndim == 0 else self.value.tolist()}

    def __repr__(self):
        return f"Constant({float(self.value)!r})" if self.value.ndim == 0 else f"Constant(array {self.value.shape})"


INITIALIZERS: dict[str, Callable] = {
    "zeros": zeros,
    "ones": ones,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "random_uniform": random_uniform,
    "uniform": random_uniform,
    "random_normal": random_normal,
    "orthogonal": orthogonal,
}


def get(name_or_function) -> Callable:
    """An initializer by Keras name, the function (or Constant) itself if one is given, or from `serialize`."""
    if callable(name_or_function):
        return name_or_function
    if isinstance(name_or_function, dict) and name_or_function.get("class_name") == "Constant":
        return Constant(**dict(name_or_function.get("config") or {}))
    key = str(name_or_function).lower()
    if key not in INITIALIZERS:
        raise InputError(
            f"unknown initializer {name_or_function!r}; choose one of {', '.join(sorted(INITIALIZERS))}"
        )
    return INITIALIZERS[key]


def serialize(initializer):
    """What a layer's config records for an initializer: its name, or {'class_name': 'Constant', ...}.

    A Constant holding an array (pretrained vectors) is recorded as 'zeros': the values live in the
    weights saved beside the config, which `load_model` puts back, and a config stays small.
    """
    if isinstance(initializer, Constant):
        if initializer.value.ndim == 0:
            return {"class_name": "Constant", "config": initializer.get_config()}
        return "zeros"
    if isinstance(initializer, (str, dict)):  # a name, or a Constant already serialized
        return initializer
    for name, function in INITIALIZERS.items():
        if function is initializer:
            return name
    raise InputError(f"the initializer {initializer!r} has no name to save; use a Keras name or Constant")
