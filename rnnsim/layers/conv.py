"""1-D convolution and pooling: the chapters' convolutional baselines, in NumPy with hand-written backward passes.

    Conv1D(filters, kernel_size, strides=1, padding='valid', dilation_rate=1, activation=None)
    MaxPooling1D(pool_size=2), AveragePooling1D(pool_size=2)
    GlobalMaxPooling1D(), GlobalAveragePooling1D()

Inputs are (batch, steps, channels) (Keras's 'channels_last'). Keras 3's length arithmetic, for a
window of `w` taps spread `d` apart (reach d (w - 1) + 1) moved `s` steps at a time over L steps:

    padding='valid'    out = floor((L - d (w - 1) - 1) / s) + 1          no padding
    padding='same'     out = floor((L - 1) / s) + 1                       pad max((out - 1) s + d (w - 1) + 1 - L, 0)
                                                                          steps, the odd one after (as TensorFlow)
    padding='causal'   out = floor((L - 1) / s) + 1                       d (w - 1) steps before, none after

Average pooling with 'same' padding divides by the number of real (unpadded) steps in each window,
as Keras does on every backend. These layers are baselines, not simulated cells: they record no
traces. A mask reaching them is dropped (as in Keras, where they do not support masking), except
that GlobalAveragePooling1D averages over the unmasked steps only.
"""

from __future__ import annotations

import numpy as np

from rnnsim import initializers
from rnnsim.cells import activations
from rnnsim.errors import InputError
from rnnsim.layers.base import Layer, check_positive_int, shape_text

PADDINGS = ("valid", "same", "causal")


def _one_length(value, label) -> int:
    """An int or a 1-tuple (Keras accepts both for 1-D layers), as a positive int."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise InputError(f"{label} must be one integer for a 1-D layer, got {value!r}")
        value = value[0]
    return check_positive_int(value, label)


def _check_padding(padding, allowed, layer_name) -> str:
    padding = str(padding).lower()
    if padding not in allowed:
        raise InputError(f"{layer_name} padding must be one of {', '.join(map(repr, allowed))}, got {padding!r}")
    return padding


def _check_channels_last(data_format, layer_name) -> None:
    if data_format not in (None, "channels_last"):
        raise InputError(f"{layer_name} supports data_format='channels_last' only (batch, steps, channels), "
                         f"got {data_format!r}")


def output_length(length, reach, padding, stride):
    """Steps out of a window reaching `reach` steps moved `stride` at a time over `length` (None: unknown)."""
    if length is None:
        return None
    if padding == "valid":
        return (length - reach) // stride + 1
    return (length - 1) // stride + 1


def padding_amounts(length, reach, padding, stride) -> tuple[int, int]:
    """(steps before, steps after) to pad for `padding` (see the module docstring)."""
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return reach - 1, 0
    total = max((output_length(length, reach, padding, stride) - 1) * stride + reach - length, 0)
    return total // 2, total - total // 2


def _window_starts(count, stride):
    return np.arange(count) * stride  # (out,)


def _scatter_taps(grad_windows, padded_length, taps, stride):
    """The adjoint of gathering windows: dL/d(padded input) from dL/d(windows) (B, out, taps, C)."""
    batch, count, _, channels = grad_windows.shape
    grad_padded = np.zeros((batch, padded_length, channels), dtype=grad_windows.dtype)
    for tap, offset in enumerate(taps):
        # The windows' copies of one tap sit `stride` apart: a strided slice, no index collisions.
        grad_padded[:, offset:offset + stride * (count - 1) + 1:stride] += grad_windows[:, :, tap]
    return grad_padded


def _check_steps_input(layer, x) -> np.ndarray:
    x = np.asarray(x, dtype=layer.dtype)
    if x.ndim != 3:
        raise InputError(f"{type(layer).__name__} expects input (batch, steps, channels), got shape {x.shape}")
    return x


class Conv1D(Layer):
    """1-D convolution over time: out[b, t, f] = act(sum_{j, c} x_pad[b, t s + j d, c] kernel[j, c, f] + bias[f]).

    Like Keras (and TensorFlow), this is a cross-correlation: the kernel is not flipped.

    Args:
        filters: output channels F.
        kernel_size: taps w (an int, or a 1-tuple).
        strides: steps between windows, default 1.
        padding: 'valid' (default), 'same' or 'causal' (see the module docstring).
        data_format: None or 'channels_last' (default); 'channels_first' is not supported.
        dilation_rate: steps between taps, default 1; as in Keras, not together with strides > 1.
        groups: must be 1 (grouped convolution is not supported).
        activation: None (linear, default), 'relu', 'tanh', 'sigmoid' or 'hard_sigmoid'.
        use_bias: default True.
        kernel_initializer: default 'glorot_uniform' (fans from the (w, C, F) kernel, as Keras).
        bias_initializer: default 'zeros'.
        **kwargs: see `Layer`.

    Weights: kernel (w, C, F), bias (F,), Keras's layout; w C F + F parameters.
    """

    default_name = "conv1d"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.filters = check_positive_int(filters, "Conv1D filters")
        self.kernel_size = _one_length(kernel_size, "Conv1D kernel_size")
        self.strides = _one_length(strides, "Conv1D strides")
        self.dilation_rate = _one_length(dilation_rate, "Conv1D dilation_rate")
        if self.strides > 1 and self.dilation_rate > 1:
            raise InputError("Conv1D: strides > 1 together with dilation_rate > 1 is not supported (nor in Keras)")
        self.padding = _check_padding(padding, PADDINGS, "Conv1D")
        _check_channels_last(data_format, "Conv1D")
        if groups != 1:
            raise InputError(f"Conv1D groups={groups!r} is not supported; use groups=1")
        self.activation = None if activation in (None, "linear") else str(activation).lower()
        activations.code(self.activation)
        self.use_bias = bool(use_bias)
        initializers.get(kernel_initializer)
        initializers.get(bias_initializer)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer

    @property
    def reach(self) -> int:
        """Steps one window spans: d (w - 1) + 1."""
        return self.dilation_rate * (self.kernel_size - 1) + 1

    def _build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise InputError(f"Conv1D expects input (batch, steps, channels) with known channels, "
                             f"got {shape_text(input_shape)}")
        self.compute_output_shape(input_shape)  # a window longer than the input fails here, at build time
        kernel_shape = (self.kernel_size, input_shape[-1], self.filters)
        self.weights = [np.ascontiguousarray(
            initializers.get(self.kernel_initializer)(kernel_shape, self.init_rng, self.dtype))]
        if self.use_bias:
            self.weights.append(initializers.get(self.bias_initializer)((self.filters,), self.init_rng, self.dtype))

    def weight_names(self):
        return ["kernel", "bias"][: len(self.weights)]

    def compute_output_shape(self, input_shape):
        steps = output_length(input_shape[1], self.reach, self.padding, self.strides)
        if steps is not None and steps <= 0:
            raise InputError(
                f"Conv1D: the input has {input_shape[1]} steps, fewer than the kernel's reach of {self.reach} "
                f"(kernel_size {self.kernel_size}, dilation_rate {self.dilation_rate}); use longer inputs, a smaller "
                f"kernel or padding='same'")
        return (input_shape[0], steps, self.filters)

    def compute_mask(self, mask):
        return None

    def forward(self, x, mask=None, training=False, record_trace=False):
        x = _check_steps_input(self, x)  # (B, L, C)
        batch, length, channels = x.shape
        kernel = self.weights[0]
        if channels != kernel.shape[1]:
            raise InputError(f"Conv1D {self.name!r} was built for {kernel.shape[1]} channels, got {channels}")
        count = self.compute_output_shape((None, length, channels))[1]
        before, after = padding_amounts(length, self.reach, self.padding, self.strides)
        padded = np.pad(x, ((0, 0), (before, after), (0, 0))) if before or after else x  # (B, Lp, C)
        taps = np.arange(self.kernel_size) * self.dilation_rate  # (w,)
        windows = padded[:, _window_starts(count, self.strides)[:, None] + taps[None, :], :]  # (B, out, w, C)
        columns = windows.reshape(batch * count, self.kernel_size * channels)  # (B out, w C)
        logits = columns @ kernel.reshape(-1, self.filters)  # (B out, F)
        if self.use_bias:
            logits += self.weights[1]
        output = activations.apply(self.activation, logits).reshape(batch, count, self.filters)  # (B, out, F)
        self._cache = (columns, output, length, padded.shape[1], before, taps)
        return output

    def backward(self, grad_output):
        columns, output, length, padded_length, before, taps = self._cache
        kernel = self.weights[0]
        grad_logits = (grad_output * activations.derivative_from_output(self.activation, output)).astype(
            kernel.dtype, copy=False).reshape(-1, self.filters)  # (B out, F)
        self.gradients = [(columns.T @ grad_logits).reshape(kernel.shape)]  # (w, C, F)
        if self.use_bias:
            self.gradients.append(grad_logits.sum(axis=0))  # (F,)
        if not self.needs_input_gradient:
            return None
        batch, count = output.shape[:2]
        grad_windows = (grad_logits @ kernel.reshape(-1, self.filters).T).reshape(
            batch, count, self.kernel_size, kernel.shape[1])  # (B, out, w, C)
        return _scatter_taps(grad_windows, padded_length, taps, self.strides)[:, before:before + length]

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "dilation_rate": self.dilation_rate,
                "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class _Pooling1D(Layer):
    """Shared by MaxPooling1D and AveragePooling1D: windows of `pool_size` steps, `strides` apart."""

    has_weights = False

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        label = type(self).__name__
        self.pool_size = _one_length(pool_size, f"{label} pool_size")
        self.strides = self.pool_size if strides is None else _one_length(strides, f"{label} strides")
        self.padding = _check_padding(padding, ("valid", "same"), label)
        _check_channels_last(data_format, label)

    def _build(self, input_shape):
        if len(input_shape) != 3:
            raise InputError(f"{type(self).__name__} expects input (batch, steps, channels), "
                             f"got {shape_text(input_shape)}")
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        steps = output_length(input_shape[1], self.pool_size, self.padding, self.strides)
        if steps is not None and steps <= 0:
            raise InputError(f"{type(self).__name__}: the input has {input_shape[1]} steps, fewer than "
                             f"pool_size={self.pool_size}; use padding='same' or a smaller pool")
        return (input_shape[0], steps, input_shape[2])

    def compute_mask(self, mask):
        return None

    def _windows(self, x, fill):
        """(windows (B, out, p, C), steps before, padded length) for input x (B, L, C)."""
        length = x.shape[1]
        count = self.compute_output_shape((None, length, x.shape[2]))[1]
        before, after = padding_amounts(length, self.pool_size, self.padding, self.strides)
        padded = np.pad(x, ((0, 0), (before, after), (0, 0)), constant_values=fill) if before or after else x
        index = _window_starts(count, self.strides)[:, None] + np.arange(self.pool_size)[None, :]  # (out, p)
        return padded[:, index, :], before, padded.shape[1]

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding}


class MaxPooling1D(_Pooling1D):
    """The largest value in each window of `pool_size` steps, per channel.

    Args:
        pool_size: steps per window, default 2.
        strides: steps between windows, default None (pool_size).
        padding: 'valid' (default) or 'same' (padded steps never win).
        data_format: None or 'channels_last' (default).
        **kwargs: see `Layer`.
    """

    default_name = "max_pooling1d"

    def forward(self, x, mask=None, training=False, record_trace=False):
        x = _check_steps_input(self, x)
        windows, before, padded_length = self._windows(x, -np.inf)  # (B, out, p, C)
        winner = windows.argmax(axis=2)  # (B, out, C): the tap that holds each maximum
        output = np.take_along_axis(windows, winner[:, :, None, :], axis=2)[:, :, 0, :]  # (B, out, C)
        self._cache = (winner, x.shape[1], before, padded_length)
        return output

    def backward(self, grad_output):
        winner, length, before, padded_length = self._cache
        taps = np.arange(self.pool_size)
        grad_windows = np.where(winner[:, :, None, :] == taps[None, None, :, None],
                                grad_output[:, :, None, :], 0.0).astype(grad_output.dtype)  # (B, out, p, C)
        return _scatter_taps(grad_windows, padded_length, taps, self.strides)[:, before:before + length]


class AveragePooling1D(_Pooling1D):
    """The mean of each window of `pool_size` steps, per channel (with 'same', of its real steps only).

    Args:
        pool_size: steps per window, default 2.
        strides: steps between windows, default None (pool_size).
        padding: 'valid' (default) or 'same'.
        data_format: None or 'channels_last' (default).
        **kwargs: see `Layer`.
    """

    default_name = "average_pooling1d"

    def forward(self, x, mask=None, training=False, record_trace=False):
        x = _check_steps_input(self, x)
        windows, before, padded_length = self._windows(x, 0.0)  # (B, out, p, C)
        real = self._windows(np.ones((1, x.shape[1], 1), dtype=x.dtype), 0.0)[0]  # (1, out, p, 1)
        counts = real.sum(axis=2)  # (1, out, 1): real steps per window
        self._cache = (counts, x.shape[1], before, padded_length)
        return windows.sum(axis=2) / counts  # (B, out, C)

    def backward(self, grad_output):
        counts, length, before, padded_length = self._cache
        share = grad_output / counts  # (B, out, C)
        grad_windows = np.repeat(share[:, :, None, :], self.pool_size, axis=2)  # (B, out, p, C)
        taps = np.arange(self.pool_size)
        return _scatter_taps(grad_windows, padded_length, taps, self.strides)[:, before:before + length]


class _GlobalPooling1D(Layer):
    """Shared by the global poolings: one value per channel over all steps."""

    has_weights = False

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        _check_channels_last(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def _build(self, input_shape):
        if len(input_shape) != 3:
            raise InputError(f"{type(self).__name__} expects input (batch, steps, channels), "
                             f"got {shape_text(input_shape)}")

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            return (input_shape[0], 1, input_shape[2])
        return (input_shape[0], input_shape[2])

    def compute_mask(self, mask):
        return None

    def _shaped(self, pooled):
        return pooled[:, None, :] if self.keepdims else pooled

    def _unshaped(self, grad_output):
        return grad_output[:, 0, :] if self.keepdims else grad_output  # (B, C)

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


class GlobalMaxPooling1D(_GlobalPooling1D):
    """The largest value over all steps, per channel: (B, L, C) -> (B, C). Ignores masks, as Keras 3 does.

    Args:
        data_format: None or 'channels_last' (default).
        keepdims: keep the steps axis, (B, 1, C) (default False).
        **kwargs: see `Layer`.
    """

    default_name = "global_max_pooling1d"

    def forward(self, x, mask=None, training=False, record_trace=False):
        x = _check_steps_input(self, x)
        winner = x.argmax(axis=1)  # (B, C)
        self._cache = (winner, x.shape[1])
        return self._shaped(np.take_along_axis(x, winner[:, None, :], axis=1)[:, 0, :])

    def backward(self, grad_output):
        winner, length = self._cache
        grad = self._unshaped(grad_output)  # (B, C)
        steps = np.arange(length)[None, :, None]
        return np.where(steps == winner[:, None, :], grad[:, None, :], 0.0).astype(grad.dtype)  # (B, L, C)


class GlobalAveragePooling1D(_GlobalPooling1D):
    """The mean over all steps, per channel: (B, L, C) -> (B, C); with a mask, over the unmasked steps.

    A sample whose every step is masked averages to 0 here (Keras divides 0 by 0 and gives NaN).

    Args:
        data_format: None or 'channels_last' (default).
        keepdims: keep the steps axis, (B, 1, C) (default False).
        **kwargs: see `Layer`.
    """

    default_name = "global_average_pooling1d"

    def forward(self, x, mask=None, training=False, record_trace=False):
        x = _check_steps_input(self, x)
        if mask is None:
            weights = np.full((1, x.shape[1], 1), 1.0 / x.shape[1], dtype=x.dtype)  # (1, L, 1)
        else:
            kept = np.asarray(mask, dtype=x.dtype)[:, :, None]  # (B, L, 1)
            weights = kept / np.maximum(kept.sum(axis=1, keepdims=True), 1.0)
        self._cache = weights
        return self._shaped((x * weights).sum(axis=1))

    def backward(self, grad_output):
        return self._unshaped(grad_output)[:, None, :] * self._cache  # (B, L, C)


LAYERS = (Conv1D, MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D, GlobalAveragePooling1D)
