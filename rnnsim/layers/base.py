"""The base `Layer` and the argument checks the layer families share.

Every layer has a forward pass that keeps what its backward pass needs, and a backward pass
that returns dL/d(input) and leaves dL/d(weights) in `layer.gradients` (same order as
`get_weights()`, Keras's order). `release_cache()` drops what the forward pass kept.

Masks (B, T) bool flow as in Keras: Embedding(mask_zero=True) and Masking make one; recurrent
layers consume it (a padded step carries the state over) and pass it on only with
return_sequences=True; Dense and Dropout pass it through.

Inside `inference_only()` (a model's predict and evaluate) a forward pass keeps only what its
outputs need.

Layers can also be called directly on arrays, `SimpleRNN(8)(x)`, which builds them on first use,
or on the symbolic tensors of `rnnsim.Input`, which records a node of a functional model's graph
(rnnsim/models/functional.py; the tensor itself knows how, so this module imports no model).
"""

from __future__ import annotations

import contextlib
import contextvars

import numpy as np

from rnnsim.errors import InputError

FLOAT_DTYPES = ("float32", "float64")

_INFERENCE = contextvars.ContextVar("rnnsim_inference", default=False)


@contextlib.contextmanager
def inference_only():
    """Forward passes inside the block are read for their outputs only, never backward (a model's
    predict and evaluate): recurrent layers may then keep nothing for backward (the LSTM's lean
    forward, cells/lstm.py), and their `backward` is an error until the next ordinary pass."""
    token = _INFERENCE.set(True)
    try:
        yield
    finally:
        _INFERENCE.reset(token)


def in_inference() -> bool:
    """Inside `inference_only()`?"""
    return _INFERENCE.get()


def check_positive_int(value, label) -> int:
    """`value` as an int, or InputError naming `label` unless it is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise InputError(f"{label} must be a positive integer, got {value!r}")
    return int(value)


def check_rate(value, label) -> float:
    """`value` as a float, or InputError naming `label` unless it lies in [0, 1) (a dropout rate)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0.0 <= value < 1.0:
        raise InputError(f"{label} must be a number in [0, 1), got {value!r}")
    return float(value)


def shape_text(shape) -> str:
    """A shape as Keras prints it: (None, 14), (3,); '?' when unknown."""
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def find_symbolic(*values):
    """The first symbolic tensor (`rnnsim.Input` and what layers make of it) among `values` and the
    lists in them, or None: a layer called on one records a graph node instead of computing."""
    for value in values:
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if getattr(item, "is_symbolic_tensor", False):
                return item
    return None


class Layer:
    """Base class.

    Args:
        name: the layer's name; default: chosen by the model ('dense', 'dense_1', ...).
        input_shape: shape of one sample, without the batch axis, e.g. (None, 14) (default None).
        trainable: default True.
        seed: seed for this layer's initializers and dropout (default None: derived from the model's seed).
        dtype: 'float32' or 'float64' (default None: the model's, or the first input's when called directly).
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

    def release_cache(self) -> None:
        """Drop what the last forward pass kept for backward (and any traces it recorded).

        The model calls it after a probe, so recorded traces do not stay alive until the next pass.
        """
        self._cache = None

    def traces(self) -> list:
        """Traces recorded by the last forward pass with record_trace=True (recurrent layers)."""
        return []

    def __call__(self, x, mask=None, training=False):
        symbolic = find_symbolic(x)
        if symbolic is not None:
            return symbolic.connect(self, x, mask=mask, training=training)
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

