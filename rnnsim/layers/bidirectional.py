"""Bidirectional: a recurrent layer run forwards and a copy run backwards, outputs merged."""

from __future__ import annotations

import numpy as np

from rnnsim.errors import InputError
from rnnsim.layers.base import Layer
from rnnsim.layers.recurrent import RNN
from rnnsim.layers.registry import layer_from_config


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy backwards, and merges the two outputs.

    The backward copy has go_backwards flipped; with return_sequences its output is reversed
    back to input order before merging, so step t of both halves refers to input step t (Keras).
    Weights: the forward layer's, then the backward layer's.

    Args:
        layer: a SimpleRNN, LSTM or GRU (not yet built).
        merge_mode: 'concat' (default), 'sum', 'ave' or 'mul'.
        **kwargs: see `Layer`.
    """

    default_name = "bidirectional"
    MERGE_MODES = ("concat", "sum", "ave", "mul")

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        if isinstance(layer, dict):  # from_config
            layer = layer_from_config(layer)
        if not isinstance(layer, RNN):
            raise InputError(f"Bidirectional wraps a SimpleRNN, LSTM or GRU layer, got {type(layer).__name__}")
        if merge_mode not in self.MERGE_MODES:
            raise InputError(f"merge_mode must be one of {', '.join(self.MERGE_MODES)}, got {merge_mode!r}")
        if layer.return_state:
            raise InputError("Bidirectional with return_state=True is not supported")
        if "input_shape" not in kwargs and layer.input_shape is not None:
            kwargs["input_shape"] = layer.input_shape
        super().__init__(**kwargs)
        self.merge_mode = merge_mode
        inner = layer.get_config()
        inner["input_shape"] = None
        self.forward_layer = type(layer)(**{**inner, "name": "forward_" + (layer.name or layer.default_name)})
        if backward_layer is None:
            backward_config = {**inner, "go_backwards": not layer.go_backwards,
                               "name": "backward_" + (layer.name or layer.default_name)}
            if backward_config.get("seed") is not None:
                backward_config["seed"] = int(backward_config["seed"]) + 1
            self.backward_layer = type(layer)(**backward_config)
        else:
            self.backward_layer = backward_layer
        self.return_sequences = self.forward_layer.return_sequences

    def attach_rngs(self, seed_entropy):
        entropy = list(seed_entropy) if self.seed is None else [int(self.seed)]
        super().attach_rngs(entropy)
        self.forward_layer.attach_rngs(entropy + [2])
        self.backward_layer.attach_rngs(entropy + [3])

    def _build(self, input_shape):
        self.forward_layer.build(input_shape, self.dtype)
        self.backward_layer.build(input_shape, self.dtype)
        self.weights = self.forward_layer.weights + self.backward_layer.weights

    @property
    def device(self):
        return self.forward_layer.device

    @property
    def device_weights(self):
        """The two layers' device weights (forward's, then backward's), or None on the CPU."""
        if self.forward_layer.device_weights is None:
            return None
        return self.forward_layer.device_weights + self.backward_layer.device_weights

    def set_device(self, device) -> None:
        """Both directions on 'cpu' or 'cuda' (see RNN.set_device); the merge stays on the host."""
        self.forward_layer.set_device(device)
        self.backward_layer.set_device(device)

    def mark_host_stale(self) -> None:
        self.forward_layer.mark_host_stale()
        self.backward_layer.mark_host_stale()

    def sync_to_host(self) -> None:
        self.forward_layer.sync_to_host()
        self.backward_layer.sync_to_host()

    def get_weights(self):
        self.sync_to_host()
        return super().get_weights()

    def set_weights(self, weights) -> None:
        super().set_weights(weights)  # writes into the two layers' host arrays
        for layer in (self.forward_layer, self.backward_layer):
            layer.push_to_device()

    def weight_names(self):
        return ([f"forward/{n}" for n in self.forward_layer.weight_names()]
                + [f"backward/{n}" for n in self.backward_layer.weight_names()])

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(input_shape)
        if self.merge_mode == "concat":
            return shape[:-1] + (2 * shape[-1],)
        return shape

    def compute_mask(self, mask):
        return mask if self.return_sequences else None

    def forward(self, x, mask=None, training=False, record_trace=False):
        forward_out = self.forward_layer.forward(x, mask, training, record_trace)
        backward_out = self.backward_layer.forward(x, mask, training, record_trace)
        if self.return_sequences:
            backward_out = backward_out[:, ::-1]  # processing order -> input order
        self._cache = (forward_out, backward_out)
        if self.merge_mode == "concat":
            return np.concatenate([forward_out, backward_out], axis=-1)  # (..., 2U)
        if self.merge_mode == "sum":
            return forward_out + backward_out
        if self.merge_mode == "ave":
            return (forward_out + backward_out) * 0.5
        return forward_out * backward_out

    def backward(self, grad_output):
        forward_out, backward_out = self._cache
        units = forward_out.shape[-1]
        if self.merge_mode == "concat":
            grad_forward, grad_backward = grad_output[..., :units], grad_output[..., units:]
        elif self.merge_mode == "sum":
            grad_forward = grad_backward = grad_output
        elif self.merge_mode == "ave":
            grad_forward = grad_backward = grad_output * 0.5
        else:
            grad_forward, grad_backward = grad_output * backward_out, grad_output * forward_out
        if self.return_sequences:
            grad_backward = grad_backward[:, ::-1]  # input order -> the backward layer's processing order
        grad_input = self.forward_layer.backward(np.ascontiguousarray(grad_forward))
        grad_input = grad_input + self.backward_layer.backward(np.ascontiguousarray(grad_backward))
        self.gradients = self.forward_layer.gradients + self.backward_layer.gradients
        return grad_input

    def release_cache(self) -> None:
        """Drop the merge's cache and both directions' results (their traces too)."""
        super().release_cache()
        self.forward_layer.release_cache()
        self.backward_layer.release_cache()

    def traces(self):
        found = self.forward_layer.traces() + self.backward_layer.traces()
        for trace in found:
            if self.name and not trace.layer_name.startswith(self.name + "/"):
                trace.layer_name = f"{self.name}/{trace.layer_name}"
        return found

    def get_config(self):
        inner = self.forward_layer.get_config()
        inner["name"] = inner["name"].removeprefix("forward_")
        return {**super().get_config(), "layer": {"class_name": type(self.forward_layer).__name__,
                                                  "config": inner},
                "merge_mode": self.merge_mode}


LAYERS = (Bidirectional,)
