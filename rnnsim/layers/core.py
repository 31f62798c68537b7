"""The core layers that run on the host for every device: Dense, Activation, Dropout, Masking."""

from __future__ import annotations

import numpy as np

from rnnsim import initializers
from rnnsim.cells import activations
from rnnsim.errors import InputError
from rnnsim.layers.base import Layer, check_positive_int, check_rate, shape_text


def _check_activation(activation):
    """The activation's name as the layers keep it (None for linear), or InputError."""
    name = None if activation in (None, "linear") else str(activation).lower()
    if name != "softmax":
        activations.code(name)
    return name


def _activate(name, z):
    """activation(z) for Dense and Activation; softmax over the last axis."""
    if name == "softmax":
        shifted = np.exp(z - z.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)
    if name is None:
        return z
    return activations.apply(name, z)


def _activation_backward(name, output, grad_output):
    """dL/dz from dL/d(activation(z)), written in terms of the output."""
    if name == "softmax":
        return output * (grad_output - (grad_output * output).sum(axis=-1, keepdims=True))
    if name is None:
        return grad_output
    return grad_output * activations.derivative_from_output(name, output)


class Dense(Layer):
    """y = activation(x W + b); on (B, T, D) input it applies to every timestep, as Keras.

    Args:
        units: output size U.
        activation: None (linear, default), 'tanh', 'sigmoid', 'relu', 'hard_sigmoid' or 'softmax'.
        use_bias: default True.
        kernel_initializer: default 'glorot_uniform'.
        bias_initializer: default 'zeros'.
        **kwargs: see `Layer`.
    """

    default_name = "dense"

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "Dense units")
        self.activation = _check_activation(activation)
        self.use_bias = bool(use_bias)
        initializers.get(kernel_initializer)
        initializers.get(bias_initializer)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer

    def _build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise InputError(f"Dense needs a known last input dimension, got input shape {shape_text(input_shape)}")
        features = input_shape[-1]
        self.weights = [np.ascontiguousarray(
            initializers.get(self.kernel_initializer)((features, self.units), self.init_rng, self.dtype))]
        if self.use_bias:
            self.weights.append(initializers.get(self.bias_initializer)((self.units,), self.init_rng, self.dtype))

    def weight_names(self):
        return ["kernel", "bias"][: len(self.weights)]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def _activate(self, z):
        return _activate(self.activation, z)

    def forward(self, x, mask=None, training=False, record_trace=False):
        x = np.asarray(x, dtype=self.weights[0].dtype)
        logits = x @ self.weights[0]  # (..., U)
        if self.use_bias:
            logits += self.weights[1]
        output = self._activate(logits)
        self._cache = (x, logits, output)
        return output

    def backward(self, grad_output):
        _, _, output = self._cache
        return self.backward_from_logits(_activation_backward(self.activation, output, grad_output))

    def last_logits(self) -> np.ndarray:
        """x W + b from the last forward pass (..., U): what a loss fused with the activation reads."""
        return self._cache[1]

    def backward_from_logits(self, grad_logits):
        """Backward from dL/d(x W + b); the model uses it when the loss is fused with the activation."""
        x = self._cache[0]
        x_rows = x.reshape(-1, x.shape[-1])  # (N, D)
        grad_rows = grad_logits.reshape(-1, self.units).astype(x.dtype, copy=False)  # (N, U)
        self.gradients = [x_rows.T @ grad_rows]  # (D, U)
        if self.use_bias:
            self.gradients.append(grad_rows.sum(axis=0))  # (U,)
        return grad_logits.astype(x.dtype, copy=False) @ self.weights[0].T  # (..., D)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class Activation(Layer):
    """y = activation(x), element by element (softmax: over the last axis), as keras.layers.Activation.

    Args:
        activation: 'linear' (None), 'tanh', 'sigmoid', 'relu', 'hard_sigmoid' or 'softmax'.
        **kwargs: see `Layer`.
    """

    default_name = "activation"
    has_weights = False

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = _check_activation(activation)

    def forward(self, x, mask=None, training=False, record_trace=False):
        output = _activate(self.activation, np.asarray(x, dtype=self.dtype))
        self._cache = output
        return output

    def backward(self, grad_output):
        return _activation_backward(self.activation, self._cache, np.asarray(grad_output))

    def get_config(self):
        return {**super().get_config(), "activation": self.activation or "linear"}


class Dropout(Layer):
    """Inverted dropout during training (kept values scaled by 1/(1-rate)); identity otherwise.

    Args:
        rate: fraction of inputs to drop, in [0, 1).
        **kwargs: see `Layer`.
    """

    default_name = "dropout"
    has_weights = False

    def __init__(self, rate, noise_shape=None, **kwargs):
        super().__init__(**kwargs)
        if noise_shape is not None:
            raise InputError("Dropout noise_shape is not supported; use rate only")
        self.rate = check_rate(rate, "Dropout rate")

    def forward(self, x, mask=None, training=False, record_trace=False):
        x = np.asarray(x, dtype=self.dtype)
        if not training or self.rate == 0.0:
            self._cache = None
            return x
        keep = (self.dropout_rng.random(x.shape) >= self.rate).astype(x.dtype) / (1.0 - self.rate)
        self._cache = keep
        return x * keep

    def backward(self, grad_output):
        return grad_output if self._cache is None else grad_output * self._cache

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


class Masking(Layer):
    """Marks timesteps whose features all equal `mask_value` as padding for the layers after it.

    The recurrent layers then carry their state over those steps (Keras semantics). Use it for
    float sequences padded to a common length, e.g. the Japanese vowels.

    Args:
        mask_value: the padding value (default 0.0).
        **kwargs: see `Layer`.
    """

    default_name = "masking"
    has_weights = False

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def compute_output_mask(self, inputs, mask):
        keep = np.any(np.asarray(inputs) != self.mask_value, axis=-1)  # (B, T)
        return keep if mask is None else keep & mask

    def forward(self, x, mask=None, training=False, record_trace=False):
        x = np.asarray(x, dtype=self.dtype)
        keep = self.compute_output_mask(x, mask)
        self._cache = keep
        return x * keep[..., None]  # as Keras: masked steps are zeroed

    def backward(self, grad_output):
        return grad_output * self._cache[..., None]

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


LAYERS = (Dense, Activation, Dropout, Masking)
