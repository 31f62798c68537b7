"""`Sequential`: a linear stack of layers with Keras's API.

    model = Sequential()
    model.add(Embedding(10000, 32))
    model.add(SimpleRNN(32))
    model.add(Dense(1, activation='sigmoid'))
    model.compile(optimizer='rmsprop', loss='binary_crossentropy', metrics=['acc'])
    history = model.fit(x, y, epochs=10, batch_size=128, validation_split=0.2)

This module holds what is particular to a stack: adding and building layers, shapes, weights,
the summary, the input check, the forward pass in order and the backward pass in reverse, and
the config. The training loop is `Trainer` (training.py), device placement `DevicePlacement`
(device.py), the file format saving.py.

Determinism: a model's randomness (initial weights, dropout masks, shuffling) comes from
numpy Generators derived from one seed: `Sequential(seed=...)`, else the global seed set by
`set_seed(n)`, else fresh entropy, which is recorded so a saved model resumes exactly (seeding.py).
"""

from __future__ import annotations

import numpy as np

from rnnsim.cells.checks import known_finite
from rnnsim.errors import InputError
from rnnsim.layers import Dense, Embedding, InputLayer, Layer, SymbolicTensor, layer_from_config, serialize
from rnnsim.layers.base import shape_text
from rnnsim.models.device import DevicePlacement, runs_on_device
from rnnsim.models.saving import register_model_class, save_model
from rnnsim.models.seeding import resolve_seed, shuffle_generator
from rnnsim.models.training import Trainer, check_input_values
from rnnsim.sparse import SparseRows


def _memory_text(count_bytes):
    size = float(count_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"


@register_model_class  # so that load_model can rebuild one from its config
class Sequential(Trainer, DevicePlacement):
    """A linear stack of layers, trained with Keras's API.

    Args:
        layers: layers to add in order (default None).
        name: shown by summary(), default 'sequential'.
        seed: seed for weights, dropout and shuffling (default None: the global seed, else fresh entropy).
        dtype: 'float32' (default) or 'float64' (used by the gradient checks).
        device: 'cpu' (default) or 'cuda': run the recurrent layers (SimpleRNN, LSTM, GRU, also inside
            Bidirectional) with rnnsim.cuda's kernels. Their weights and optimizer slots then stay on the
            GPU during training; Embedding, Dense, Masking, Dropout and the loss stay on the host, so each
            batch's activations and their gradients cross the bus at every recurrent layer. Traces,
            reports, `get_weights()` and `save()` come back as host arrays. Raises InputError (one line)
            at once when CUDA is unusable. `to_device()` moves a model later; `load_model(path, device=...)`.
    """

    def __init__(self, layers=None, name="sequential", seed=None, dtype="float32", device="cpu"):
        if np.dtype(dtype).name not in ("float32", "float64"):
            raise InputError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        self._init_device(device)
        self.name = name
        self.dtype = np.dtype(dtype).name
        self.seed, self.seed_entropy = resolve_seed(seed)
        self.shuffle_rng = shuffle_generator(self.seed_entropy)
        self.layers: list[Layer] = []
        self.built = False
        self.input_shape = None  # (None, ...) once built
        self._init_training()
        self.metadata: dict = {}  # JSON values saved with the model, e.g. {'task': {...}} for `rnnsim inspect`
        for layer in layers or []:
            self.add(layer)

    # -- construction ----------------------------------------------------------------------

    def add(self, layer: Layer) -> None:
        """Append a layer; builds it at once when the input shape is known.

        Args:
            layer: a Layer, not yet in this model; unnamed layers get 'dense', 'dense_1', ... Or, first,
                `Input(shape=...)` (or an InputLayer), as Keras 3 writes it: it gives the model its input
                shape and builds it, and is not one of `layers` (Keras 3 the same).
        """
        if isinstance(layer, SymbolicTensor) and isinstance(getattr(layer.node, "layer", None), InputLayer):
            layer = layer.node.layer  # Input(shape=...) is the InputLayer's output
        if isinstance(layer, InputLayer):
            self._add_input(layer)
            return
        if isinstance(layer, SymbolicTensor):
            raise InputError("Sequential takes layers (and Input(shape=...) first); a tensor from calling a layer "
                             "belongs in a functional model: rnnsim.Model(inputs, outputs)")
        if not isinstance(layer, Layer):
            raise InputError(f"Sequential.add expects a layer (Dense, LSTM, ...), got {type(layer).__name__}")
        if getattr(layer, "return_state", False):  # a recurrent layer, or Bidirectional over one
            raise InputError("return_state=True needs the layer called directly; Sequential passes one output on")
        if layer in self.layers:
            raise InputError(f"layer {layer.name!r} is already in this model")
        used = {existing.name for existing in self.layers}
        if layer.name is None:
            base, index = layer.default_name, 0
            layer.name = base
            while layer.name in used:
                index += 1
                layer.name = f"{base}_{index}"
        elif layer.name in used:
            raise InputError(f"layer name {layer.name!r} is used twice in the model")
        if layer.init_rng is None:
            layer.attach_rngs([self.seed_entropy, len(self.layers)])
        if runs_on_device(layer):
            layer.set_device(self.device)
        self.layers.append(layer)
        if self.built:
            layer.build(self._shapes()[-2], self.dtype)
        elif len(self.layers) == 1:
            if layer.input_shape is not None:
                self.build((None,) + tuple(layer.input_shape))
            elif isinstance(layer, Embedding):
                self.build((None, None))  # token ids: (batch, timesteps), both open

    def pop(self) -> Layer:
        """Remove the last layer and return it, as Keras's Sequential.pop: to put another head on a trained
        model, say (compile again before training it: the optimizer's state is per weight)."""
        if not self.layers:
            raise InputError("the model has no layers to pop")
        return self.layers.pop()

    def _add_input(self, input_layer: InputLayer) -> None:
        """Sequential([Input(shape=(None, 14)), GRU(32), ...]): the model built for that input shape."""
        shape = (None,) + tuple(input_layer.sample_shape)
        if self.layers:
            raise InputError(f"Input(shape={shape_text(shape[1:])}) goes first in a Sequential model, before its "
                             "layers: it gives the model its input shape")
        if self.built:
            raise InputError(f"this model already has the input shape {shape_text(self.input_shape)}; "
                             f"a second Input(shape={shape_text(shape[1:])}) cannot change it")
        self.build(shape)

    def build(self, input_shape) -> None:
        """Create every layer's weights for inputs of `input_shape`.

        Args:
            input_shape: the batch axis included, as None, e.g. (None, None, 14).
        """
        shape = tuple(input_shape)
        for layer in self.layers:
            if not layer.built:
                layer.build(shape, self.dtype)
            elif tuple(layer.built_input_shape[1:]) != tuple(shape[1:]) and layer.has_weights:
                self._check_compatible(layer.built_input_shape, shape, layer)
            shape = layer.compute_output_shape(shape)
        self.input_shape = tuple(input_shape)
        self.built = True

    @staticmethod
    def _check_compatible(expected, got, layer):
        for want, have in zip(expected[1:], got[1:]):
            if want is not None and have is not None and want != have:
                raise InputError(
                    f"layer {layer.name!r} was built for input {shape_text(expected)}, got {shape_text(got)}"
                )

    def _shapes(self):
        """Input shape followed by every layer's output shape."""
        shapes = [self.input_shape]
        for layer in self.layers:
            shapes.append(layer.compute_output_shape(shapes[-1]))
        return shapes

    @property
    def output_shape(self):
        return self._shapes()[-1] if self.built else None

    @property
    def weights(self) -> list[np.ndarray]:
        """The live weight arrays, in get_weights order (the optimizer updates these in place).

        On 'cuda' the recurrent layers' entries are their host copies, refreshed here from the device.
        """
        if self.device != "cpu":
            self._sync_host()
        return [w for layer in self.layers for w in layer.weights]

    def count_params(self) -> int:
        return int(sum(layer.count_params() for layer in self.layers))

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights, layer by layer in Keras's order."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Replace all weights; raises InputError on a wrong count, shape or a non-finite value, before
        changing any (Keras checks shapes layer by layer as it assigns; a model half-overwritten by a bad
        last array would be neither the old model nor the new one).

        Args:
            weights: arrays in get_weights order.
        """
        if not self.built:
            raise InputError("the model is not built yet; call it on data or give the first layer input_shape")
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self.layers)
        if len(weights) != expected:
            raise InputError(f"the model has {expected} weight arrays, got {len(weights)}")
        position = 0
        for layer in self.layers:  # check everything before changing anything
            for target, label in zip(layer.weights, layer.weight_names()):
                given = np.asarray(weights[position])
                if given.shape != target.shape:
                    raise InputError(
                        f"weight {position} ({layer.name}/{label}) has shape {given.shape}, expected {target.shape}"
                    )
                if given.dtype.kind not in "biuf":
                    raise InputError(f"weight {position} ({layer.name}/{label}) holds {given.dtype}, not numbers")
                if not np.all(np.isfinite(given)):
                    raise InputError(f"weight {position} ({layer.name}/{label}) contains NaN or infinity; "
                                     f"no weight was changed")
                position += 1
        position = 0
        for layer in self.layers:
            count = len(layer.weights)
            layer.set_weights(weights[position:position + count])
            position += count

    def summary(self, line_length=None, print_fn=None) -> None:
        """Print the layers, output shapes and parameter counts in Keras 3's table format.

        Args:
            line_length: total width (default None: 76 characters).
            print_fn: called with each line (default print).
        """
        print_fn = print_fn or print
        width = max(int(line_length or 76), 40)
        name_width = int((width - 4) * 0.46)
        shape_width = int((width - 4) * 0.33)
        param_width = width - 4 - name_width - shape_width
        widths = (name_width, shape_width, param_width)

        def rule(left, fill, middle, right):
            return left + middle.join(fill * w for w in widths) + right

        def row(cells, edge):
            name, shape, params = cells
            return (edge + " " + name.ljust(widths[0] - 2)[: widths[0] - 2] + " " + edge + " "
                    + shape.ljust(widths[1] - 2) + " " + edge + " " + params.rjust(widths[2] - 2) + " " + edge)

        print_fn(f'Model: "{self.name}"')
        print_fn(rule("┏", "━", "┳", "┓"))
        print_fn(row(("Layer (type)", "Output Shape", "Param #"), "┃"))
        print_fn(rule("┡", "━", "╇", "┩"))
        shapes = self._shapes() if self.built else [None] * (len(self.layers) + 1)
        for index, layer in enumerate(self.layers):
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            print_fn(row((f"{layer.name} ({type(layer).__name__})", shape_text(shapes[index + 1]), params), "│"))
            if index < len(self.layers) - 1:
                print_fn(rule("├", "─", "┼", "┤"))
        print_fn(rule("└", "─", "┴", "┘"))
        trainable = sum(layer.count_params() for layer in self.layers if layer.trainable)
        total = self.count_params()
        item_bytes = np.dtype(self.dtype).itemsize
        print_fn(f" Total params: {total:,} ({_memory_text(total * item_bytes)})")
        print_fn(f" Trainable params: {trainable:,} ({_memory_text(trainable * item_bytes)})")
        print_fn(f" Non-trainable params: {total - trainable:,} ({_memory_text((total - trainable) * item_bytes)})")

    # -- data checks -----------------------------------------------------------------------

    def _check_x(self, x, finite=True) -> np.ndarray:
        """x as a checked array the model can take; the first data builds an unbuilt model. finite=False leaves
        the check for NaN and infinity to the forward pass (`Trainer._infer`)."""
        x = check_input_values(x, finite)
        if not self.built:
            if not self.layers:
                raise InputError("the model has no layers; add some first")
            shape = (None,) + tuple(x.shape[1:])
            if len(shape) == 3 and not any(getattr(layer, "fixes_sample_shape", False) for layer in self.layers):
                shape = (None, None, shape[2])  # sequences: any length, as with input_shape=(None, D)
            self.build(shape)
        expected = self.input_shape
        if x.ndim != len(expected) or any(
                want is not None and want != have for want, have in zip(expected[1:], x.shape[1:])):
            raise InputError(
                f"the model expects input of shape {shape_text(expected)}, got an array of shape {x.shape}"
            )
        if not isinstance(self.layers[0], Embedding) and x.dtype.name != self.dtype:
            x = x.astype(self.dtype)
        return x

    def _checks_inputs_in_pass(self) -> bool:
        return bool(self.layers) and getattr(self.layers[0], "checks_inputs_in_pass", lambda: False)()

    # -- forward and backward --------------------------------------------------------------

    def _forward(self, x, training=False, record_trace=False):
        """(output, mask) of the stack for x, each layer keeping what its backward needs.

        x is as `_check_x` returns it (or a batch of such an x), so finite: the first layer need not check it.
        """
        with known_finite(x):
            return self._forward_checked(x, training, record_trace)

    def _forward_checked(self, x, training, record_trace):
        mask = None
        output = x
        for k, layer in enumerate(self.layers):
            following = self.layers[k + 1] if k + 1 < len(self.layers) else None
            if isinstance(layer, Embedding) and following is not None and \
                    getattr(following, "accepts_tokens", lambda training: False)(training):
                next_output = layer.forward_tokens(output)  # the lookup happens inside the recurrent layer
            else:
                next_output = layer.forward(output, mask=mask, training=training, record_trace=record_trace)
            mask = layer.compute_output_mask(output, mask)
            output = next_output
        return output, mask

    def _fused(self) -> bool:
        """Is the loss computed from the last Dense layer's logits (sigmoid/softmax + cross-entropy)?"""
        last = self.layers[-1]
        return (isinstance(last, Dense) and self.loss.fusable_activation is not None
                and last.activation == self.loss.fusable_activation)

    def _loss_value(self, y, output, mask) -> float:
        """The loss without backward, computed the same way as in training (fused where possible)."""
        if self._fused():
            return self.loss.value_and_gradient_from_logits(y, self.layers[-1].last_logits(), mask)[0]
        return self.loss(y, output, mask)

    def _loss_and_backward(self, y, output, mask):
        """Loss value; fills every layer's `gradients`."""
        if self._fused():
            last = self.layers[-1]
            value, grad_logits = self.loss.value_and_gradient_from_logits(y, last.last_logits(), mask)
            grad = last.backward_from_logits(grad_logits)
            remaining = self.layers[:-1]
        else:
            value, grad = self.loss.value_and_gradient(y, output, mask)
            remaining = self.layers
        for layer in reversed(remaining):
            if grad is None:
                break
            layer.needs_input_gradient = layer is not self.layers[0]  # nobody needs dL/d(data)
            grad = layer.backward(grad if isinstance(grad, SparseRows) else np.asarray(grad, dtype=self.dtype))
        return value

    # -- persistence -----------------------------------------------------------------------

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "seed": self.seed,
            "seed_entropy": str(self.seed_entropy),  # may exceed 64 bits: kept as text
            "dtype": self.dtype,
            "device": self.device,
            "build_input_shape": None if self.input_shape is None else list(self.input_shape),
            "layers": [serialize(layer) for layer in self.layers],
        }

    @classmethod
    def from_config(cls, config: dict, device=None) -> Sequential:
        """A model from `get_config()`; device None means the saved one ('cpu' in files without it)."""
        saved_device = config.get("device", "cpu")
        try:
            model = cls(name=config.get("name", "sequential"), seed=0, dtype=config.get("dtype", "float32"),
                        device=device or saved_device)
        except InputError as error:
            if device is None and saved_device == "cuda":
                raise InputError(f"it was saved on device 'cuda' ({error}); load it with device='cpu'") from None
            raise
        model.seed = config.get("seed")
        model.seed_entropy = int(config["seed_entropy"])
        model.shuffle_rng = shuffle_generator(model.seed_entropy)
        layers = [layer_from_config(entry) for entry in config.get("layers", [])]
        shape = config.get("build_input_shape")
        for layer in layers:
            layer.input_shape = None  # build once below, from the recorded input shape
        for layer in layers:
            model.add(layer)
        if shape is not None and not model.built:
            model.build(tuple(shape))
        elif shape is not None and tuple(shape) != model.input_shape:
            model.built = False
            model.build(tuple(shape))
        return model

    def save(self, filepath) -> None:
        """Write the model (config, weights, optimizer state, random state) to ONE .npz file, atomically.

        Args:
            filepath: the .npz file; its folder must exist. `load_model(filepath)` reads it back.
        """
        if self.device != "cpu":
            self._sync_host()  # host arrays and host optimizer state are what the file holds
        save_model(self, filepath)
