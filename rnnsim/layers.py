"""Keras-style layers: Embedding, SimpleRNN, LSTM, GRU, Bidirectional, Dense, Dropout.

Every layer has a forward pass that keeps what its backward pass needs, and a backward pass
that returns dL/d(input) and leaves dL/d(weights) in `layer.gradients` (same order as
`get_weights()`, Keras's order). The recurrent layers own no time loop: they validate, draw
dropout masks and hand the whole sequence to a cell from `rnnsim.cells` (Numba kernels).

Masks (B, T) bool flow as in Keras: Embedding(mask_zero=True) makes one (token id != 0);
recurrent layers consume it (a padded step carries the state over) and pass it on only with
return_sequences=True; Dense and Dropout pass it through.

Layers can also be called directly on arrays, `SimpleRNN(8)(x)`, which builds them on first use.

Device: `Sequential(device='cuda')` puts the recurrent layers (and Bidirectional's two) on the GPU
(`RNN.set_device`): device cells from rnnsim.cuda, weights resident in `device_weights`, weight
gradients left on the device; their inputs, outputs and dL/dx are host arrays, copied per batch.
The other layers always run on the host.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnsim import initializers
from rnnsim.cells import activations
from rnnsim.cells.embedding_lookup import TokenSequence
from rnnsim.errors import InputError
from rnnsim.sparse import SparseRows

FLOAT_DTYPES = ("float32", "float64")


def _positive_int(value, label):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise InputError(f"{label} must be a positive integer, got {value!r}")
    return int(value)


def _rate(value, label):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0.0 <= value < 1.0:
        raise InputError(f"{label} must be a number in [0, 1), got {value!r}")
    return float(value)


def _shape_text(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class Layer:
    """Base class.

    Args:
        name: the layer's name; default: chosen by the model ('dense', 'dense_1', ...).
        input_shape: shape of one sample, without the batch axis, e.g. (None, 14) (default None).
        trainable: default True.
        seed: seed for this layer's initializers and dropout (default None: derived from the model's seed).
    """

    default_name = "layer"
    has_weights = True
    needs_input_gradient = True  # the model sets False on its first layer: backward may skip dL/dx (and return None)

    def __init__(self, name=None, input_shape=None, trainable=True, seed=None, dtype=None, **kwargs):
        kwargs.pop("input_length", None)  # Keras 2's Embedding argument, implied by the data
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        if kwargs:
            raise InputError(f"{type(self).__name__} got unexpected arguments: {', '.join(sorted(kwargs))}")
        self.name = name
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        self.input_shape = None if input_shape is None else tuple(
            None if d is None else int(d) for d in (input_shape if isinstance(input_shape, (tuple, list))
                                                    else (input_shape,)))
        self.trainable = bool(trainable)
        self.seed = seed
        self.dtype = None if dtype is None else np.dtype(dtype).name
        self.built = False
        self.built_input_shape = None  # (None, ...) with the batch axis
        self.weights: list[np.ndarray] = []
        self.gradients: list = []
        self.init_rng = None
        self.dropout_rng = None
        self._cache = None

    # -- building --------------------------------------------------------------------------

    def attach_rngs(self, seed_entropy):
        """Give the layer its own generators: one for initial weights, one for dropout."""
        entropy = list(seed_entropy) if self.seed is None else [int(self.seed)]
        self.init_rng = np.random.default_rng(entropy + [0])
        self.dropout_rng = np.random.default_rng(entropy + [1])

    def build(self, input_shape, dtype="float32"):
        """Create the weights for inputs of `input_shape` (batch axis included, as None)."""
        if self.init_rng is None:
            self.attach_rngs([np.random.SeedSequence().entropy])
        self.dtype = self.dtype or np.dtype(dtype).name
        self.built_input_shape = tuple(input_shape)
        self._build(tuple(input_shape))
        self.built = True

    def _build(self, input_shape):
        pass

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, mask):
        return mask

    def compute_output_mask(self, inputs, mask):
        """The mask this layer hands downstream, given its inputs and the mask it received.

        Most layers pass a mask along (or drop it); Embedding(mask_zero=True) and Masking
        make one from their inputs.
        """
        return self.compute_mask(mask)

    def count_params(self) -> int:
        return int(sum(w.size for w in self.weights))

    # -- weights ---------------------------------------------------------------------------

    def weight_names(self) -> list[str]:
        return [f"weight_{i}" for i in range(len(self.weights))]

    def get_weights(self) -> list[np.ndarray]:
        return [w.copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Replace the weights (copied into the existing arrays) after checking count and shapes."""
        if not self.built:
            raise InputError(f"layer {self.name!r} is not built yet; call the model on data or give input_shape")
        weights = list(weights)
        if len(weights) != len(self.weights):
            raise InputError(
                f"layer {self.name!r} expects {len(self.weights)} weight arrays "
                f"({', '.join(self.weight_names())}), got {len(weights)}"
            )
        for target, new, label in zip(self.weights, weights, self.weight_names()):
            new = np.asarray(new)
            if new.shape != target.shape:
                raise InputError(
                    f"layer {self.name!r} weight {label!r} has shape {target.shape}, got {new.shape}"
                )
            if not np.all(np.isfinite(new)):
                raise InputError(f"layer {self.name!r} weight {label!r} contains NaN or infinity")
        for target, new in zip(self.weights, weights):
            target[...] = np.asarray(new)

    # -- passes ----------------------------------------------------------------------------

    def forward(self, x, mask=None, training=False, record_trace=False):
        raise NotImplementedError

    def backward(self, grad_output):
        raise NotImplementedError

    def traces(self) -> list:
        """Traces recorded by the last forward pass with record_trace=True (recurrent layers)."""
        return []

    def __call__(self, x, mask=None, training=False):
        x = np.asarray(x)
        if not self.built:
            self.build((None,) + x.shape[1:], dtype=x.dtype if x.dtype.name in FLOAT_DTYPES else "float32")
        return self.forward(x, mask=mask, training=training)

    # -- config ----------------------------------------------------------------------------

    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable, "seed": self.seed,
                "input_shape": None if self.input_shape is None else list(self.input_shape)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


# ---------------------------------------------------------------------------------------


@njit(cache=True)
def _sum_rows(token_ids, grad_flat, row_slot, rows_out, values_out):
    """Sum the gradients of repeated token ids: rows_out[:count] distinct ids, values_out their sums.

    `row_slot` (V,) must be all -1 on entry; it is restored before returning.
    """
    count = 0
    for n in range(token_ids.shape[0]):
        token = token_ids[n]
        slot = row_slot[token]
        if slot < 0:
            slot = count
            row_slot[token] = slot
            rows_out[slot] = token
            count += 1
        for k in range(grad_flat.shape[1]):
            values_out[slot, k] += grad_flat[n, k]
    for i in range(count):
        row_slot[rows_out[i]] = -1
    return count


class Embedding(Layer):
    """Turns token ids into dense vectors: output[b, t] = embeddings[x[b, t]].

    Its gradient is a `SparseRows` (only the rows the batch used), never a dense (V, D) array.

    Args:
        input_dim: vocabulary size V (ids 0 .. V-1).
        output_dim: vector size D.
        embeddings_initializer: default 'uniform' (Keras's U(-0.05, 0.05)).
        mask_zero: id 0 is padding and masks its timestep downstream (default False).
        **kwargs: see `Layer` (name, input_shape, seed, ...); Keras 2's input_length is accepted.
    """

    default_name = "embedding"

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = _positive_int(input_dim, "Embedding input_dim")
        self.output_dim = _positive_int(output_dim, "Embedding output_dim")
        initializers.get(embeddings_initializer)
        self.embeddings_initializer = embeddings_initializer
        self.mask_zero = bool(mask_zero)
        self._row_slot = None

    def _build(self, input_shape):
        if len(input_shape) != 2:
            raise InputError(
                f"Embedding expects token ids of shape (batch, timesteps), got {len(input_shape)} dimensions"
            )
        init = initializers.get(self.embeddings_initializer)
        self.weights = [np.ascontiguousarray(init((self.input_dim, self.output_dim), self.init_rng, self.dtype))]

    def weight_names(self):
        return ["embeddings"]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask_from_ids(self, token_ids):
        return (token_ids != 0) if self.mask_zero else None

    def compute_output_mask(self, inputs, mask):
        return self.compute_mask_from_ids(inputs)

    def forward(self, x, mask=None, training=False, record_trace=False):
        token_ids = self._token_ids(x)
        self._cache = token_ids
        # Gathered time-major, (T, B, D) in memory, and returned as its (B, T, D) view: the recurrent
        # layers work time-major, so they take this without a copy (see rnnsim/cells/base.py).
        return self.weights[0][token_ids.T].transpose(1, 0, 2)  # (B, T, D)

    def forward_tokens(self, x):
        """The output as a `TokenSequence` (ids + table) for a recurrent layer that folds the lookup
        into its input projection (see rnnsim/cells/embedding_lookup.py); `backward` then takes its `SparseRows`."""
        token_ids = self._token_ids(x)
        self._cache = token_ids
        return TokenSequence(token_ids, self.weights[0])

    def _token_ids(self, x):
        token_ids = np.asarray(x)
        if token_ids.dtype.kind == "f":
            if not np.all(np.isfinite(token_ids)) or np.any(token_ids != np.floor(token_ids)):
                raise InputError("Embedding input must be whole token ids, found NaN or fractional values")
            token_ids = token_ids.astype(np.int64)
        elif token_ids.dtype.kind not in "iub":
            raise InputError(f"Embedding input must be integer token ids, got dtype {token_ids.dtype}")
        if token_ids.size and (token_ids.min() < 0 or token_ids.max() >= self.input_dim):
            raise InputError(
                f"token ids must lie in [0, {self.input_dim - 1}] for Embedding({self.input_dim}, ...), "
                f"got {token_ids.min()}..{token_ids.max()}"
            )
        return token_ids

    def backward(self, grad_output):
        if isinstance(grad_output, SparseRows):  # from a recurrent layer that took forward_tokens' output
            self.gradients = [grad_output]
            return None
        token_ids = np.ascontiguousarray(self._cache.T).reshape(-1)  # (T*B,), time-major like the gradient
        grad_steps = np.ascontiguousarray(grad_output.transpose(1, 0, 2))  # (T, B, D): free from a recurrent layer
        grad_flat = grad_steps.reshape(token_ids.shape[0], self.output_dim)  # (T*B, D)
        if self._row_slot is None:
            self._row_slot = np.full(self.input_dim, -1, dtype=np.int64)
        rows = np.empty(token_ids.shape[0], dtype=np.int64)
        values = np.zeros_like(grad_flat)
        count = _sum_rows(token_ids.astype(np.int64), grad_flat, self._row_slot, rows, values)
        self.gradients = [SparseRows(rows[:count], values[:count], self.weights[0].shape)]
        return None  # token ids have no gradient

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": self.embeddings_initializer, "mask_zero": self.mask_zero}


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
        self.units = _positive_int(units, "Dense units")
        self.activation = None if activation in (None, "linear") else str(activation).lower()
        if self.activation != "softmax":
            activations.code(self.activation)
        self.use_bias = bool(use_bias)
        initializers.get(kernel_initializer)
        initializers.get(bias_initializer)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer

    def _build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise InputError(f"Dense needs a known last input dimension, got input shape {_shape_text(input_shape)}")
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
        if self.activation == "softmax":
            shifted = np.exp(z - z.max(axis=-1, keepdims=True))
            return shifted / shifted.sum(axis=-1, keepdims=True)
        if self.activation is None:
            return z
        return activations.apply(self.activation, z)

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
        if self.activation == "softmax":
            grad_logits = output * (grad_output - (grad_output * output).sum(axis=-1, keepdims=True))
        elif self.activation is None:
            grad_logits = grad_output
        else:
            grad_logits = grad_output * activations.derivative_from_output(self.activation, output)
        return self.backward_from_logits(grad_logits)

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
                "use_bias": self.use_bias, "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer}


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
        self.rate = _rate(rate, "Dropout rate")

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


# ---------------------------------------------------------------------------------------
# Recurrent layers


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
        return_state: also return the final states; only when calling the layer directly (default False).
        go_backwards: read the sequence last-to-first (default False).
        seed: seed for the initializers and dropout masks (default None: from the model's seed).
        **kwargs: see `Layer` (name, input_shape, ...).
    """

    cell_kind = ""

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False, **kwargs):
        super().__init__(**kwargs)
        if stateful:
            raise InputError(f"{type(self).__name__}: stateful=True is not supported")
        self.units = _positive_int(units, f"{type(self).__name__} units")
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
        self.dropout = _rate(dropout, "dropout")
        self.recurrent_dropout = _rate(recurrent_dropout, "recurrent_dropout")
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
        from rnnsim.cells import make_cell  # imported late: the cells are a separate, heavier module

        return make_cell(self.cell_kind, self.units, **self._cell_options())

    def _cell_options(self):
        return {"activation": self.activation, "use_bias": self.use_bias}

    def _init_options(self):
        return {}

    def _build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise InputError(
                f"{type(self).__name__} expects input of shape (batch, timesteps, features) with known "
                f"features, got {_shape_text(input_shape)}"
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
            from rnnsim.cuda import make_device_cell, to_device

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
        self._host_stale = False
        self.push_to_device()

    def push_to_device(self) -> None:
        """Copy the host arrays `weights` onto the device weights (after they were set on the host)."""
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
        result = self.cell.forward(
            x, self.weight_dict(), initial_state=initial_state, mask=mask, input_dropout_mask=input_mask,
            recurrent_dropout_mask=recurrent_mask, go_backwards=self.go_backwards, record_trace=record_trace,
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
        from rnnsim.cells.base import ForwardResult
        from rnnsim.cuda import to_device, to_host

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
        if self.device_weights is not None:
            return self._backward_on_device(grad_output)
        result = self._result
        wanted = self.needs_input_gradient
        if self.return_sequences:
            grads = self.cell.backward(result, grad_outputs=grad_output, input_gradient=wanted)
        else:
            grad_final = (grad_output,) + (None,) * (len(result.final_states) - 1)
            grads = self.cell.backward(result, grad_final_states=grad_final, input_gradient=wanted)
        self.gradients = [grads.weights[key] for key in self._weight_keys]
        return grads.inputs  # (B, T, D), or the embedding table's SparseRows after a TokenSequence

    def _backward_on_device(self, grad_output):
        """backward() on the device: the weight gradients stay there (device arrays); dL/dx comes back."""
        from rnnsim.cuda import to_device, to_host

        result = self._result
        grad = to_device(np.ascontiguousarray(grad_output, dtype=self.weights[0].dtype))
        if self.return_sequences:
            grads = self.cell.backward(result, grad_outputs=grad)
        else:
            grads = self.cell.backward(result, grad_final_states=(grad,) + (None,) * (len(result.final_states) - 1))
        self.gradients = [grads.weights[key] for key in self._weight_keys]
        return to_host(grads.inputs)  # (B, T, D)

    def traces(self):
        if self._result is None or self._result.trace is None:
            return []
        return [self._result.trace]

    def __call__(self, x, mask=None, training=False, initial_state=None):
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
            layer._host_stale = False
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


LAYER_CLASSES = {
    cls.__name__: cls for cls in (Embedding, Dense, Dropout, Masking, SimpleRNN, LSTM, GRU, Bidirectional)
}


def layer_from_config(entry: dict) -> Layer:
    """A layer from {'class_name': ..., 'config': {...}} (as written by `serialize`)."""
    class_name = entry.get("class_name")
    if class_name not in LAYER_CLASSES:
        raise InputError(f"unknown layer class {class_name!r} in the model config")
    return LAYER_CLASSES[class_name].from_config(dict(entry.get("config", {})))


def serialize(layer: Layer) -> dict:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}
