"""Weight initializers, by Keras name, drawing from a numpy `Generator`.

Keras 3 defaults for recurrent layers: kernel `glorot_uniform`, recurrent kernel `orthogonal`,
bias `zeros`. Every function takes `(shape, rng, dtype)` and returns a new array.
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
    """An initializer by Keras name, or the function itself if one is given."""
    if callable(name_or_function):
        return name_or_function
    key = str(name_or_function).lower()
    if key not in INITIALIZERS:
        raise InputError(
            f"unknown initializer {name_or_function!r}; choose one of {', '.join(sorted(INITIALIZERS))}"
        )
    return INITIALIZERS[key]
