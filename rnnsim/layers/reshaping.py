"""Layers that only rearrange values: Flatten, Reshape, RepeatVector (no weights; backward reshapes the gradient
back, or sums the copies).

Both need every dimension of one sample to be known when a layer with weights follows them (a Dense
after Flatten has one kernel row per input value), so a Sequential model built from data keeps the
data's number of steps for them instead of leaving it open (`fixes_sample_shape`). As in Keras, a
mask reaching them is dropped.
"""

from __future__ import annotations

import math

import numpy as np

from rnnsim.errors import InputError
from rnnsim.layers.base import Layer


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 d2 ...), values in C order, as Keras with 'channels_last'.

    Args:
        data_format: None or 'channels_last' (default); 'channels_first' is not supported.
        **kwargs: see `Layer` (input_shape, name, ...).
    """

    default_name = "flatten"
    has_weights = False
    fixes_sample_shape = True

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise InputError(f"Flatten supports data_format='channels_last' only, got {data_format!r}")

    def compute_output_shape(self, input_shape):
        sample = tuple(input_shape[1:])
        if any(d is None for d in sample):
            return (input_shape[0], None)
        return (input_shape[0], math.prod(sample))  # () -> 1, as Keras

    def compute_mask(self, mask):
        return None

    def forward(self, x, mask=None, training=False, record_trace=False):
        x = np.asarray(x, dtype=self.dtype)
        self._cache = x.shape
        return x.reshape(x.shape[0], -1)  # (B, d1 d2 ...)

    def backward(self, grad_output):
        return np.asarray(grad_output).reshape(self._cache)


class Reshape(Layer):
    """(batch, ...) -> (batch, *target_shape); one entry of target_shape may be -1 (inferred).

    Args:
        target_shape: the shape of one sample, without the batch axis, e.g. (4, 3) or (-1, 1).
        **kwargs: see `Layer`.
    """

    default_name = "reshape"
    has_weights = False
    fixes_sample_shape = True

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if isinstance(target_shape, (int, np.integer)):
            target_shape = (target_shape,)
        try:
            target = tuple(int(d) for d in target_shape)
        except (TypeError, ValueError):
            raise InputError(f"Reshape target_shape must be a tuple of integers, got {target_shape!r}") from None
        if any(d == 0 or d < -1 for d in target) or target.count(-1) > 1:
            raise InputError(f"Reshape target_shape must hold positive sizes and at most one -1, got {target}")
        self.target_shape = target

    def _resolved(self, sample_size):
        """target_shape with its -1 filled in for samples of `sample_size` values (None: unknown)."""
        if -1 not in self.target_shape:
            if sample_size is not None and sample_size != math.prod(self.target_shape):
                raise InputError(f"Reshape cannot turn samples of {sample_size} values into shape "
                                 f"{self.target_shape} ({math.prod(self.target_shape)} values)")
            return self.target_shape
        if sample_size is None:
            return tuple(None if d == -1 else d for d in self.target_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if sample_size % known:
            raise InputError(f"Reshape cannot turn samples of {sample_size} values into shape {self.target_shape}: "
                             f"{sample_size} is not a multiple of {known}")
        return tuple(sample_size // known if d == -1 else d for d in self.target_shape)

    def _build(self, input_shape):
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        sample = tuple(input_shape[1:])
        size = None if any(d is None for d in sample) else math.prod(sample)
        return (input_shape[0],) + self._resolved(size)

    def compute_mask(self, mask):
        return None

    def forward(self, x, mask=None, training=False, record_trace=False):
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim < 1:
            raise InputError(f"Reshape expects a batch axis, got shape {x.shape}")
        self._cache = x.shape
        return x.reshape((x.shape[0],) + self._resolved(math.prod(x.shape[1:])))

    def backward(self, grad_output):
        return np.asarray(grad_output).reshape(self._cache)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features): the input repeated n times, as keras.layers.RepeatVector
    (the encoder-decoder of Keras's addition example feeds an LSTM's final state to a decoder this way).

    Args:
        n: how many times.
        **kwargs: see `Layer`.
    """

    default_name = "repeat_vector"
    has_weights = False

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise InputError(f"RepeatVector n must be a positive integer, got {n!r}")
        self.n = int(n)

    def _build(self, input_shape):
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise InputError(f"RepeatVector takes (batch, features) input, got input shape {tuple(input_shape)}; "
                             "a recurrent layer before it returns its last output only (return_sequences=False)")
        return (input_shape[0], self.n, input_shape[1])

    def compute_mask(self, mask):
        return None

    def forward(self, x, mask=None, training=False, record_trace=False):
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 2:
            raise InputError(f"RepeatVector takes (batch, features) input, got an array of shape {x.shape}")
        return np.repeat(x[:, None, :], self.n, axis=1)

    def backward(self, grad_output):
        return np.asarray(grad_output).sum(axis=1)  # each copy's gradient reaches the one input

    def get_config(self):
        return {**super().get_config(), "n": self.n}


LAYERS = (Flatten, Reshape, RepeatVector)
