"""Bidirectional: a recurrent layer run forwards and a copy run backwards, outputs merged.

With a mask and return_sequences=True both halves output zeros at the padded steps, as Keras's
Bidirectional does (it sets `zero_output_for_mask` on both layers); a plain recurrent layer
carries its last output there instead. With return_state=True it returns, as Keras,
[output, *forward states, *backward states].
"""

from __future__ import annotations

import numpy as np

from rnnsim.errors import InputError
from rnnsim.layers.base import Layer, find_symbolic
from rnnsim.layers.recurrent import RNN
from rnnsim.layers.registry import layer_from_config


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy backwards, and merges the two outputs.

    The backward copy has go_backwards flipped; with return_sequences its output is reversed
    back to input order before merging, so step t of both halves refers to input step t (Keras).
    At masked steps (return_sequences=True) both halves output zeros (Keras's zero_output_for_mask).
    Weights: the forward layer's, then the backward layer's.

    Args:
        layer: a SimpleRNN, LSTM or GRU (not yet built). With return_state=True the layer returns
            [output, *forward states, *backward states] (h, or h and c for LSTM, per direction).
        merge_mode: 'concat' (default), 'sum', 'ave' or 'mul'.
        backward_layer: the layer to run backwards (default None: a copy of `layer`, go_backwards flipped).
        **kwargs: see `Layer`.

    Called with `initial_state=[...]` (directly or in a functional model), the first half of the
    states start the forward layer and the second half the backward layer, as in Keras.
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
        self.return_state = self.forward_layer.return_state
        self.n_states = 2 * self.forward_layer.n_states  # with return_state: forward's states, then backward's

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
        return self.run(x, mask, training, record_trace)[0]

    def run(self, x, mask=None, training=False, record_trace=False, initial_state=None) -> list:
        """[merged output, *forward final states, *backward final states] for x; kept for backward.

        Args:
            x: (B, T, D) inputs.
            mask: (B, T) bool, False at padded steps (default None).
            training: draw dropout masks (default False).
            record_trace: record both directions' traces (default False).
            initial_state: the two directions' initial states, forward's then backward's (default None: zeros).
        """
        forward_state = backward_state = None
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(states) != self.n_states:
                raise InputError(f"layer {self.name!r} needs {self.n_states} initial states (the forward "
                                 f"layer's, then the backward layer's), got {len(states)}")
            half = self.n_states // 2
            forward_state, backward_state = states[:half], states[half:]
        forward_result = self.forward_layer.run(x, mask, training, record_trace, initial_state=forward_state)
        backward_result = self.backward_layer.run(x, mask, training, record_trace, initial_state=backward_state)
        if self.return_sequences:
            forward_out = forward_result.outputs
            backward_out = backward_result.outputs[:, ::-1]  # processing order -> input order
            if mask is not None:  # Keras's zero_output_for_mask: padded steps output zeros
                keep = np.asarray(mask, dtype=forward_out.dtype)[..., None]  # (B, T, 1)
                forward_out, backward_out = forward_out * keep, backward_out * keep
        else:
            forward_out, backward_out = forward_result.final_states[0], backward_result.final_states[0]
            keep = None
        self._cache = (forward_out, backward_out, keep if self.return_sequences and mask is not None else None)
        if self.merge_mode == "concat":
            merged = np.concatenate([forward_out, backward_out], axis=-1)  # (..., 2U)
        elif self.merge_mode == "sum":
            merged = forward_out + backward_out
        elif self.merge_mode == "ave":
            merged = (forward_out + backward_out) * 0.5
        else:
            merged = forward_out * backward_out
        return [merged, *forward_result.final_states, *backward_result.final_states]

    def backward(self, grad_output):
        return self.backward_with_states(grad_output)[0]

    def backward_with_states(self, grad_output=None, grad_states=()):
        """(dL/dx, dL/d(initial states), forward's then backward's) from dL/d(merged output) and
        dL/d(each returned state); entries may be None (see RNN.backward_with_states)."""
        forward_out, backward_out, keep = self._cache
        grad_forward = grad_backward = None
        if grad_output is not None:
            units = forward_out.shape[-1]
            if self.merge_mode == "concat":
                grad_forward, grad_backward = grad_output[..., :units], grad_output[..., units:]
            elif self.merge_mode == "sum":
                grad_forward = grad_backward = grad_output
            elif self.merge_mode == "ave":
                grad_forward = grad_backward = grad_output * 0.5
            else:
                grad_forward, grad_backward = grad_output * backward_out, grad_output * forward_out
            if keep is not None:
                grad_forward, grad_backward = grad_forward * keep, grad_backward * keep
            if self.return_sequences:
                grad_backward = grad_backward[:, ::-1]  # input order -> the backward layer's processing order
            grad_forward, grad_backward = np.ascontiguousarray(grad_forward), np.ascontiguousarray(grad_backward)
        grad_states = list(grad_states) + [None] * (self.n_states - len(grad_states))
        half = self.n_states // 2
        for layer in (self.forward_layer, self.backward_layer):
            layer.needs_input_gradient = self.needs_input_gradient
        grad_input, forward_initial = self.forward_layer.backward_with_states(grad_forward, grad_states[:half])
        backward_input, backward_initial = self.backward_layer.backward_with_states(grad_backward,
                                                                                    grad_states[half:])
        if grad_input is not None:
            grad_input = grad_input + backward_input
        self.gradients = self.forward_layer.gradients + self.backward_layer.gradients
        return grad_input, (*forward_initial, *backward_initial)

    def __call__(self, x, mask=None, training=False, initial_state=None):
        symbolic = find_symbolic(x, initial_state)
        if symbolic is not None:  # a node of a functional model (rnnsim.Input)
            return symbolic.connect(self, x, mask=mask, training=training, initial_state=initial_state)
        x = np.asarray(x)
        if not self.built:
            self.build((None,) + x.shape[1:], dtype=x.dtype if x.dtype.name in ("float32", "float64") else "float32")
        outputs = self.run(x, mask, training, initial_state=initial_state)
        return outputs if self.return_state else outputs[0]

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
