"""The recurrent layers: SimpleRNN, LSTM and GRU over the cells of `rnnsim.cells`.

They own no time loop (unlike Keras, which steps a cell object in Python): they validate, draw
the dropout masks and hand the whole sequence to one fused cell call, which is what keeps
traces cheap and training fast.

Device: `Sequential(device='cuda')` puts these layers (and Bidirectional's two) on the GPU
(`RNN.set_device`): device cells from rnnsim.cuda, weights resident in `device_weights`, weight
gradients left on the device; their inputs, outputs and dL/dx are host arrays, copied per batch.
The other layers always run on the host.
"""

from __future__ import annotations

import numpy as np

from rnnsim import initializers
from rnnsim.cells import ForwardResult, activations, make_cell
from rnnsim.cells.embedding_lookup import TokenSequence
from rnnsim.errors import InputError
from rnnsim.layers.base import (
    FLOAT_DTYPES,
    Layer,
    check_positive_int,
    check_rate,
    find_symbolic,
    in_inference,
    shape_text,
)


class RNN(Layer):
    """Base of SimpleRNN, LSTM and GRU: a cell from rnnsim.cells run over whole sequences.

    Args:
        units: size U of the hidden state.
        activation: default 'tanh'.
        recurrent_activation: gates' activation, default 'sigmoid' (LSTM, GRU).
        use_bias: default True.
        kernel_initializer: default 'glorot_uniform'.
        recurrent_initializer: default 'orthogonal'.
        bias_initializer: default 'zeros'.
        dropout: fraction of the inputs dropped, one mask per sequence (default 0.0).
        recurrent_dropout: fraction of h_{t-1} dropped where it enters the recurrent matmul (default 0.0).
        return_sequences: output every step's h (B, T, U) instead of the last (B, U) (default False).
        return_state: also return the final states, [output, h] or [output, h, c] for LSTM: when called
            directly or in a functional model, not in Sequential (default False).
        go_backwards: read the sequence last-to-first (default False).
        seed: seed for the initializers and dropout masks (default None: from the model's seed).
        **kwargs: see `Layer` (name, input_shape, ...).
    """

    cell_kind = ""
    n_states = 1  # final states it returns with return_state=True: (h,), or (h, c) for LSTM

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False, **kwargs):
        super().__init__(**kwargs)
        if stateful:
            raise InputError(f"{type(self).__name__}: stateful=True is not supported")
        self.units = check_positive_int(units, f"{type(self).__name__} units")
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        activations.code(activation)
        activations.code(recurrent_activation)
        for initializer in (kernel_initializer, recurrent_initializer, bias_initializer):
            initializers.get(initializer)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        self.dropout = check_rate(dropout, "dropout")
        self.recurrent_dropout = check_rate(recurrent_dropout, "recurrent_dropout")
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.cell = None
        self._weight_keys: list[str] = []
        self._result = None
        self.device = "cpu"  # 'cuda': set by Sequential(device='cuda'); see set_device
        self.device_weights = None  # on 'cuda': the live weights, device arrays in get_weights order
        self._host_stale = False  # True when the device weights moved on and `weights` (the host copy) did not

    def _make_cell(self):
        return make_cell(self.cell_kind, self.units, **self._cell_options())

    def _cell_options(self):
        return {"activation": self.activation, "use_bias": self.use_bias}

    def _init_options(self):
        return {}

    def _build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise InputError(
                f"{type(self).__name__} expects input of shape (batch, timesteps, features) with known "
                f"features, got {shape_text(input_shape)}"
            )
        self.cell = self._make_cell()
        features = input_shape[-1]
        weights = self.cell.init_weights(
            features, self.init_rng, dtype=np.dtype(self.dtype), kernel_initializer=self.kernel_initializer,
            recurrent_initializer=self.recurrent_initializer, bias_initializer=self.bias_initializer,
            **self._init_options(),
        )
        self._weight_keys = [key for key in ("kernel", "recurrent_kernel", "bias") if key in weights]
        self.weights = [np.ascontiguousarray(weights[key]) for key in self._weight_keys]
        if self.device != "cpu":
            self._place_on_device()

    def weight_names(self):
        return list(self._weight_keys)

    def weight_dict(self):
        if self.device_weights is not None:
            return dict(zip(self._weight_keys, self.device_weights))
        return dict(zip(self._weight_keys, self.weights))

    # -- device placement ------------------------------------------------------------------

    def set_device(self, device) -> None:
        """Run this layer on 'cpu' (Numba kernels) or 'cuda' (numba.cuda kernels, rnnsim.cuda).

        On 'cuda' the cell is its device twin (`make_device_cell`) and the weights live on the
        device (`device_weights`, updated there by the model's optimizer); `weights` is a host copy,
        refreshed by `sync_to_host()` (which `get_weights()` calls). Each batch's inputs and outputs
        cross the bus; the forward cache stays on the device for backward. Raises InputError with
        one line when CUDA is unusable.
        """
        if device not in ("cpu", "cuda"):
            raise InputError(f"unknown device {device!r}; choose 'cpu' or 'cuda'")
        if device == self.device:
            return
        if device == "cuda":
            from rnnsim.cuda import require_cuda

            require_cuda()
        self.sync_to_host()
        self.device = device
        self.device_weights = None
        self._result = None
        if self.built:
            self._place_on_device()

    def _place_on_device(self):
        """Cell and weights for `self.device` (the host `weights` are the source)."""
        if self.device == "cuda":
            from rnnsim.cuda import make_device_cell, to_device  # late: importing them imports numba.cuda

            self.cell = make_device_cell(self.cell)
            self.device_weights = [to_device(weight) for weight in self.weights]
        else:
            self.cell = self._make_cell()
            self.device_weights = None
        self._host_stale = False

    def mark_host_stale(self) -> None:
        """The optimizer changed `device_weights`: the host copy must be refreshed before it is read."""
        if self.device_weights is not None:
            self._host_stale = True

    def sync_to_host(self) -> None:
        """Copy the device weights into the host arrays `weights` (in place), if they moved on."""
        if self.device_weights is not None and self._host_stale:
            for device_weight, host_weight in zip(self.device_weights, self.weights):
                device_weight.copy_to_host(host_weight)
        self._host_stale = False

    def get_weights(self):
        self.sync_to_host()
        return super().get_weights()

    def set_weights(self, weights) -> None:
        super().set_weights(weights)
        self.push_to_device()

    def push_to_device(self) -> None:
        """Copy the host arrays `weights` onto the device weights (after they were set on the host).

        Afterwards the two agree, so the host copy is no longer stale.
        """
        self._host_stale = False
        if self.device_weights is not None:
            for device_weight, host_weight in zip(self.device_weights, self.weights):
                device_weight.copy_to_device(host_weight)

    def compute_output_shape(self, input_shape):
        if self.return_sequences:
            return (input_shape[0], input_shape[1], self.units)
        return (input_shape[0], self.units)

    def compute_mask(self, mask):
        return mask if self.return_sequences else None

    def _dropout_masks(self, batch, features, training):
        """Inverted-dropout masks drawn once per sequence: (B, D) and (B, U), or None."""
        dtype = self.weights[0].dtype
        input_mask = recurrent_mask = None
        if training and self.dropout > 0:
            input_mask = (self.dropout_rng.random((batch, features)) >= self.dropout).astype(dtype)
            input_mask /= dtype.type(1.0 - self.dropout)
        if training and self.recurrent_dropout > 0:
            recurrent_mask = (self.dropout_rng.random((batch, self.units)) >= self.recurrent_dropout).astype(dtype)
            recurrent_mask /= dtype.type(1.0 - self.recurrent_dropout)
        return input_mask, recurrent_mask

    def checks_inputs_in_pass(self) -> bool:
        """Does this layer's predict check its dense input for NaN and infinity as it reads it (the LSTM on the
        CPU: `cells.checks.checked_in_pass`), so that a model with it first need not read x for that first?"""
        return self.device_weights is None and getattr(self.cell, "checks_inputs_in_predict", False)

    def accepts_tokens(self, training) -> bool:
        """Can this layer take an Embedding's output as a `TokenSequence` (the lookup folded into its
        input projection)? Yes on the CPU, unless input dropout has to drop embedded values."""
        return self.device_weights is None and not (training and self.dropout > 0)

    def run(self, x, mask=None, training=False, record_trace=False, initial_state=None):
        """The cell's ForwardResult for x (B, T, D) or a `TokenSequence`; kept for backward."""
        if self.device_weights is not None:
            return self._run_on_device(x, mask, training, record_trace, initial_state)
        if not isinstance(x, TokenSequence):
            x = np.asarray(x, dtype=self.weights[0].dtype)
        input_mask, recurrent_mask = self._dropout_masks(x.shape[0], x.shape[2], training)
        self._result = None  # the last pass's arrays can then be reused by this one (cells/buffers.py)
        result = self.cell.forward(
            x, self.weight_dict(), initial_state=initial_state, mask=mask, input_dropout_mask=input_mask,
            recurrent_dropout_mask=recurrent_mask, go_backwards=self.go_backwards, record_trace=record_trace,
            keep_for_backward=not in_inference(), return_sequences=self.return_sequences,
        )
        if result.trace is not None:
            result.trace.layer_name = self.name or ""
        self._result = result
        return result

    def _run_on_device(self, x, mask, training, record_trace, initial_state):
        """run() on the device: x goes over, the outputs come back (host arrays), the cache stays there.

        The returned result's final states are host arrays, its outputs too when return_sequences
        (otherwise they stay on the device: nobody reads them); its trace is a host Trace.
        """
        from rnnsim.cuda import to_device, to_host  # late: importing them imports numba.cuda

        x = np.asarray(x, dtype=self.weights[0].dtype)
        input_mask, recurrent_mask = self._dropout_masks(x.shape[0], x.shape[2], training)  # host rng, as on the CPU
        result = self.cell.forward(
            to_device(x), self.weight_dict(), initial_state=initial_state, mask=mask,
            input_dropout_mask=input_mask, recurrent_dropout_mask=recurrent_mask, go_backwards=self.go_backwards,
            record_trace=record_trace,
        )
        outputs = to_host(result.outputs) if self.return_sequences else result.outputs
        result = ForwardResult(outputs=outputs, final_states=to_host(result.final_states), trace=result.trace,
                               cache=result.cache)
        if result.trace is not None:
            result.trace.layer_name = self.name or ""
        self._result = result
        return result

    def forward(self, x, mask=None, training=False, record_trace=False):
        result = self.run(x, mask, training, record_trace)
        return result.outputs if self.return_sequences else result.final_states[0]  # (B, T, U) or (B, U)

    def backward(self, grad_output):
        return self.backward_with_states(grad_output)[0]

    def backward_with_states(self, grad_output=None, grad_states=()):
        """Backward from dL/d(output) and dL/d(each final state): (dL/dx, dL/d(initial state)).

        What a functional model calls when the final states go on (return_state=True) or the initial
        state came from another layer; `backward` is this with no state gradients.

        Args:
            grad_output: dL/d(output), (B, T, U) with return_sequences, else (B, U); None when the output
                itself feeds nothing (an encoder whose states alone go on).
            grad_states: dL/d(final h) (and dL/d(final c)), entries may be None (default: none).
        """
        result = self._result
        n_states = len(result.final_states)
        finals = [None] * n_states
        for k, grad in enumerate(list(grad_states)[:n_states]):
            finals[k] = grad
        if grad_output is not None and not self.return_sequences:  # the output is the final h
            finals[0] = grad_output if finals[0] is None else finals[0] + grad_output
        sequence = grad_output if self.return_sequences else None
        if self.device_weights is not None:
            return self._backward_on_device(sequence, finals)
        grads = self.cell.backward(result, grad_outputs=sequence, grad_final_states=tuple(finals),
                                   input_gradient=self.needs_input_gradient)
        self.gradients = [grads.weights[key] for key in self._weight_keys]
        # dL/dx (B, T, D), or the embedding table's SparseRows after a TokenSequence; dL/d(initial states)
        return grads.inputs, grads.initial_state

    def _backward_on_device(self, grad_sequence, grad_finals):
        """backward on the device: the weight gradients stay there (device arrays); dL/dx comes back."""
        from rnnsim.cuda import to_device, to_host  # late: importing them imports numba.cuda

        dtype = self.weights[0].dtype
        sequence = None if grad_sequence is None else to_device(np.ascontiguousarray(grad_sequence, dtype=dtype))
        finals = tuple(None if grad is None else to_device(np.ascontiguousarray(grad, dtype=dtype))
                       for grad in grad_finals)
        grads = self.cell.backward(self._result, grad_outputs=sequence, grad_final_states=finals)
        self.gradients = [grads.weights[key] for key in self._weight_keys]
        return to_host(grads.inputs), tuple(to_host(grad) for grad in grads.initial_state)  # (B, T, D), (B, U)s

    def release_cache(self) -> None:
        """Drop the last forward pass's cell result (its cache for backward and its trace) and the arrays
        the cell keeps for reuse (cells/buffers.py)."""
        super().release_cache()
        self._result = None
        pool = getattr(self.cell, "buffers", None)
        if pool is not None:
            pool.clear()

    def traces(self):
        if self._result is None or self._result.trace is None:
            return []
        return [self._result.trace]

    def __call__(self, x, mask=None, training=False, initial_state=None):
        symbolic = find_symbolic(x, initial_state)
        if symbolic is not None:  # a node of a functional model (rnnsim.Input)
            return symbolic.connect(self, x, mask=mask, training=training, initial_state=initial_state)
        x = np.asarray(x)
        if not self.built:
            self.build((None,) + x.shape[1:], dtype=x.dtype if x.dtype.name in FLOAT_DTYPES else "float32")
        result = self.run(x, mask, training, initial_state=initial_state)
        output = result.outputs if self.return_sequences else result.final_states[0]
        if self.return_state:
            return [output, *result.final_states]
        return output

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": self.kernel_initializer,
                "recurrent_initializer": self.recurrent_initializer, "bias_initializer": self.bias_initializer,
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards}


class SimpleRNN(RNN):
    __doc__ = "A fully connected RNN: h_t = tanh(x_t W + h_{t-1} U + b).\n" + RNN.__doc__.split("\n", 1)[1]
    default_name = "simple_rnn"
    cell_kind = "simple_rnn"

    def __init__(self, units, activation="tanh", **kwargs):
        kwargs.pop("recurrent_activation", None)  # SimpleRNN has no gates
        super().__init__(units, activation=activation, **kwargs)

    def get_config(self):
        config = super().get_config()
        return config


class LSTM(RNN):
    __doc__ = ("Long short-term memory (gates i, f, c, o; Keras layout).\n"
               + RNN.__doc__.split("\n", 1)[1].rstrip()
               + "\n        unit_forget_bias: forget-gate bias starts at 1 (default True).\n")
    default_name = "lstm"
    cell_kind = "lstm"
    n_states = 2

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _cell_options(self):
        return {**super()._cell_options(), "recurrent_activation": self.recurrent_activation}

    def _init_options(self):
        return {"unit_forget_bias": self.unit_forget_bias}

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation,
                "unit_forget_bias": self.unit_forget_bias}


class GRU(RNN):
    __doc__ = ("Gated recurrent unit (gates z, r, h; Keras layout).\n"
               + RNN.__doc__.split("\n", 1)[1].rstrip()
               + "\n        reset_after: apply the reset gate after the recurrent matmul (Keras 3 default True).\n")
    default_name = "gru"
    cell_kind = "gru"

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def _cell_options(self):
        return {**super()._cell_options(), "recurrent_activation": self.recurrent_activation,
                "reset_after": self.reset_after}

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation,
                "reset_after": self.reset_after}


LAYERS = (SimpleRNN, LSTM, GRU)
