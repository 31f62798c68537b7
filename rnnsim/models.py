"""The Keras-style model: `Sequential`, its training engine, and `load_model`.

    model = Sequential()
    model.add(Embedding(10000, 32))
    model.add(SimpleRNN(32))
    model.add(Dense(1, activation='sigmoid'))
    model.compile(optimizer='rmsprop', loss='binary_crossentropy', metrics=['acc'])
    history = model.fit(x, y, epochs=10, batch_size=128, validation_split=0.2)

The engine is headless. `fit_iter(...)` is a generator that trains and yields a report after
every batch, probe and epoch (`rnnsim.reports`); `fit(...)` simply runs it to the end. A UI
drives `fit_iter` from a worker thread and stops training by closing the generator. Callbacks
(`rnnsim.callbacks`) see the same events through Keras's hooks.

Determinism: a model's randomness (initial weights, dropout masks, shuffling) comes from
numpy Generators derived from one seed: `Sequential(seed=...)`, else the global seed set by
`set_seed(n)`, else fresh entropy, which is recorded so a saved model resumes exactly.
"""

from __future__ import annotations

import math
import time

import numpy as np

from rnnsim import losses as losses_module
from rnnsim import metrics as metrics_module
from rnnsim import optimizers as optimizers_module
from rnnsim.callbacks import Callback, CallbackList, History, Observer, ProgressBar
from rnnsim.errors import InputError
from rnnsim.layers import RNN, Bidirectional, Dense, Embedding, Layer, layer_from_config, serialize
from rnnsim.reports import BatchReport, EpochReport, ProbeReport
from rnnsim.sparse import SparseRows

_GLOBAL_SEED: int | None = None


def set_seed(seed: int | None) -> None:
    """Seed every model created afterwards that is not given its own seed (like keras.utils.set_random_seed).

    Args:
        seed: a non-negative integer, or None to go back to fresh entropy.
    """
    global _GLOBAL_SEED
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise InputError(f"seed must be a non-negative integer or None, got {seed!r}")
    _GLOBAL_SEED = None if seed is None else int(seed)


def _check_device(device) -> str:
    """'cpu' or 'cuda'; for 'cuda', require_cuda() first (one-line InputError when unusable)."""
    if device not in ("cpu", "cuda"):
        raise InputError(f"unknown device {device!r}; choose 'cpu' or 'cuda'")
    if device == "cuda":
        from rnnsim.cuda import require_cuda

        require_cuda()
    return device


def _host_copy(array):
    """A host copy of a NumPy or device array."""
    return array.copy_to_host() if hasattr(array, "copy_to_host") else array.copy()


def _shape_text(shape):
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _memory_text(count_bytes):
    size = float(count_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"


def _is_batch_stream(data) -> bool:
    """True for a Python generator/iterator of batches or a Keras-Sequence-like object."""
    if data is None or isinstance(data, (np.ndarray, list, tuple)):
        return False
    return hasattr(data, "__next__") or (hasattr(data, "__getitem__") and hasattr(data, "__len__"))


class _Stream:
    """Batches from a generator (next()) or a Sequence-like object (indexing), `steps` at a time."""

    def __init__(self, data, steps, label):
        self.data = data
        self.label = label
        self.is_sequence = not hasattr(data, "__next__")
        if steps is None:
            if not self.is_sequence:
                needed = "steps_per_epoch" if label == "x" else label + "_steps"
                raise InputError(f"{label} is a generator: give {needed}")
            steps = len(data)
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0:
            raise InputError(f"the number of steps for {label} must be a positive integer, got {steps!r}")
        self.steps = int(steps)
        self._position = 0
        self._peeked = None

    def _next_raw(self):
        if self._peeked is not None:
            batch, self._peeked = self._peeked, None
            return batch
        if self.is_sequence:
            batch = self.data[self._position % len(self.data)]
            self._position += 1
            return batch
        try:
            return next(self.data)
        except StopIteration:
            raise InputError(
                f"the {self.label} generator ran out of batches; it must yield at least steps batches per epoch"
            ) from None

    def peek(self):
        if self._peeked is None:
            self._peeked = self._next_raw()
        return self._peeked

    def batches(self):
        for _ in range(self.steps):
            batch = self._next_raw()
            if not isinstance(batch, (tuple, list)) or len(batch) < 2:
                raise InputError(f"the {self.label} generator must yield (inputs, targets) pairs")
            if len(batch) > 2 and batch[2] is not None:
                raise InputError("sample weights (a third element in each batch) are not supported")
            yield batch[0], batch[1]


class Sequential:
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
        self.device = _check_device(device)
        self._device_slots = None  # on 'cuda': {variable index: {slot name: device array}}
        self._slots_host_stale = False  # the device slots moved on; optimizer.slots must be refreshed
        self.name = name
        self.dtype = np.dtype(dtype).name
        if seed is None:
            seed = _GLOBAL_SEED
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise InputError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = seed
        self.seed_entropy = int(seed) if seed is not None else int(np.random.SeedSequence().entropy)
        self.shuffle_rng = np.random.default_rng([self.seed_entropy, 104729])  # its own stream
        self.layers: list[Layer] = []
        self.built = False
        self.input_shape = None  # (None, ...) once built
        self.optimizer = None
        self.loss = None
        self.metric_names: list[str] = []
        self._metric_functions = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self.epochs_trained = 0
        self.metadata: dict = {}  # JSON values saved with the model, e.g. {'task': {...}} for `rnnsim inspect`
        for layer in layers or []:
            self.add(layer)

    # -- construction ----------------------------------------------------------------------

    def add(self, layer: Layer) -> None:
        """Append a layer; builds it at once when the input shape is known."""
        if not isinstance(layer, Layer):
            raise InputError(f"Sequential.add expects a layer (Dense, LSTM, ...), got {type(layer).__name__}")
        if isinstance(layer, RNN) and layer.return_state:
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
        if isinstance(layer, (RNN, Bidirectional)):
            layer.set_device(self.device)
        self.layers.append(layer)
        if self.built:
            layer.build(self._shapes()[-2], self.dtype)
        elif len(self.layers) == 1:
            if layer.input_shape is not None:
                self.build((None,) + tuple(layer.input_shape))
            elif isinstance(layer, Embedding):
                self.build((None, None))  # token ids: (batch, timesteps), both open

    def build(self, input_shape) -> None:
        """Create every layer's weights for inputs of `input_shape` (batch axis included)."""
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
                    f"layer {layer.name!r} was built for input {_shape_text(expected)}, got {_shape_text(got)}"
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

    # -- device ----------------------------------------------------------------------------

    def to_device(self, device) -> Sequential:
        """Move the recurrent layers, their weights and optimizer slots to 'cpu' or 'cuda'; returns self.

        See the `device` argument of `Sequential`. Raises InputError (one line) when CUDA is unusable.
        """
        device = _check_device(device)
        if device != self.device:
            self._sync_host()
            for layer in self.layers:
                if isinstance(layer, (RNN, Bidirectional)):
                    layer.set_device(device)
            self.device = device
            self._device_slots = None  # rebuilt from optimizer.slots at the next step
        return self

    def _sync_host(self) -> None:
        """Copy device weights and optimizer slots that moved on into their host arrays."""
        for layer in self.layers:
            if isinstance(layer, (RNN, Bidirectional)):
                layer.sync_to_host()
        if self._device_slots is not None and self._slots_host_stale:
            for index, slots in self._device_slots.items():
                for name, slot in slots.items():
                    slot.copy_to_host(self.optimizer.slots[index][name])
        self._slots_host_stale = False

    def _device_variables(self) -> list:
        """Parallel to `weights`: the device array holding each weight, or None for a host weight."""
        found = []
        for layer in self.layers:
            on_device = getattr(layer, "device_weights", None) if isinstance(layer, (RNN, Bidirectional)) else None
            found.extend(on_device if on_device is not None else [None] * len(layer.weights))
        return found

    def _apply_gradients_on_device(self, gradients) -> None:
        """One optimizer step with the recurrent weights on the device (Keras's rules, as the CPU's).

        Device weights are updated by rnnsim.cuda.optim's kernels with device slots; host weights
        (Embedding, Dense) by the CPU optimizer; both with the same iteration count, which then
        advances once. global_clipnorm is computed over all gradients, host and device together.
        """
        from rnnsim.cuda import optim, to_device

        opt = self.optimizer
        host_variables = [w for layer in self.layers for w in layer.weights]  # no sync: only shapes are used
        device_variables = self._device_variables()
        if opt.slots is None:
            opt.build(host_variables)
        if self._device_slots is None:  # from the host slots: zeros, or what load_model restored
            self._device_slots = {index: {name: to_device(slot) for name, slot in opt.slots[index].items()}
                                  for index, variable in enumerate(device_variables) if variable is not None}
        host_gradients = [None if variable is not None else gradient
                          for gradient, variable in zip(gradients, device_variables)]
        device_pairs = [(index, gradient) for index, (gradient, variable) in enumerate(zip(gradients, device_variables))
                        if variable is not None and gradient is not None]
        device_gradients = [gradient for _, gradient in device_pairs]
        if opt.global_clipnorm is not None:
            squares = sum(float(np.sum(np.square(g.values if isinstance(g, SparseRows) else g, dtype=np.float64)))
                          for g in host_gradients if g is not None)
            total = math.sqrt(squares + sum(optim.squared_norm(g) for g in device_gradients))
            if total > opt.global_clipnorm:
                factor = opt.global_clipnorm / total
                host_gradients = [None if g is None else SparseRows(g.rows, g.values * factor, g.shape)
                                  if isinstance(g, SparseRows) else g * factor for g in host_gradients]
                for g in device_gradients:
                    optim.scale_and_clip(g, factor)
        else:
            optim.clip_gradients(opt, device_gradients)  # clipvalue / clipnorm, per gradient
        for index, gradient in device_pairs:
            optim.apply_update(opt, device_variables[index], gradient, self._device_slots[index], opt.iterations)
        opt.apply_gradients(host_gradients, host_variables)  # host weights; iterations += 1
        for layer in self.layers:
            if isinstance(layer, (RNN, Bidirectional)):
                layer.mark_host_stale()
        self._slots_host_stale = True

    def count_params(self) -> int:
        return int(sum(layer.count_params() for layer in self.layers))

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights, layer by layer in Keras's order."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Replace all weights; raises InputError on a wrong count or shape."""
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
            print_fn(row((f"{layer.name} ({type(layer).__name__})", _shape_text(shapes[index + 1]), params), "│"))
            if index < len(self.layers) - 1:
                print_fn(rule("├", "─", "┼", "┤"))
        print_fn(rule("└", "─", "┴", "┘"))
        trainable = sum(layer.count_params() for layer in self.layers if layer.trainable)
        total = self.count_params()
        item_bytes = np.dtype(self.dtype).itemsize
        print_fn(f" Total params: {total:,} ({_memory_text(total * item_bytes)})")
        print_fn(f" Trainable params: {trainable:,} ({_memory_text(trainable * item_bytes)})")
        print_fn(f" Non-trainable params: {total - trainable:,} ({_memory_text((total - trainable) * item_bytes)})")

    # -- compile ---------------------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, metrics=None) -> None:
        """Choose the optimizer, loss and metrics.

        Args:
            optimizer: 'rmsprop' (default), 'adam', 'sgd' or an optimizer instance.
            loss: 'binary_crossentropy', 'categorical_crossentropy', 'sparse_categorical_crossentropy',
                'mse', 'mae' (or their long names), or a Loss instance. Required.
            metrics: list of names: 'acc' / 'accuracy', 'mae', 'mse' (default None).
        """
        if loss is None:
            raise InputError("compile needs a loss, e.g. loss='binary_crossentropy'")
        if self._device_slots is not None:  # the old optimizer's device slots back to its host slots
            self._sync_host()
            self._device_slots = None
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)
        if metrics is None:
            metrics = []
        if isinstance(metrics, str):
            metrics = [metrics]
        for name in metrics:
            metrics_module.check_name(name)
        self.metric_names = list(metrics)
        self._metric_functions = None
        self.compiled = True

    def _require_compiled(self):
        if not self.compiled:
            raise InputError("the model must be compiled first: model.compile(optimizer=..., loss=...)")

    # -- data checks -----------------------------------------------------------------------

    def _check_x(self, x) -> np.ndarray:
        try:
            x = np.asarray(x)
        except ValueError:
            raise InputError("x must be a rectangular array (pad sequences to one length first)") from None
        if x.dtype.kind not in "biuf":
            raise InputError(f"x must hold numbers, got dtype {x.dtype} (pad ragged sequences to one length)")
        if x.ndim < 2:
            raise InputError(f"x must have a batch axis and at least one more, got shape {x.shape}")
        if x.shape[0] == 0:
            raise InputError("x is empty")
        if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
            bad = int(np.argmax(~np.isfinite(x).reshape(x.shape[0], -1).all(axis=1)))
            raise InputError(f"x contains NaN or infinity (first in sample {bad}); clean or impute the data")
        if not self.built:
            if not self.layers:
                raise InputError("the model has no layers; add some first")
            shape = (None,) + tuple(x.shape[1:])
            if len(shape) == 3:
                shape = (None, None, shape[2])  # sequences: any length, as with input_shape=(None, D)
            self.build(shape)
        expected = self.input_shape
        if x.ndim != len(expected) or any(
                want is not None and want != have for want, have in zip(expected[1:], x.shape[1:])):
            raise InputError(
                f"the model expects input of shape {_shape_text(expected)}, got an array of shape {x.shape}"
            )
        if not isinstance(self.layers[0], Embedding) and x.dtype.name != self.dtype:
            x = x.astype(self.dtype)
        return x

    def _check_y(self, y, count) -> np.ndarray:
        try:
            y = np.asarray(y)
        except ValueError:
            raise InputError("y must be a rectangular array") from None
        if y.dtype.kind not in "biuf":
            raise InputError(f"y must hold numbers, got dtype {y.dtype}")
        if y.ndim == 0 or y.shape[0] != count:
            raise InputError(f"x has {count} samples but y has {y.shape[0] if y.ndim else 0} labels; they must match")
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise InputError("y contains NaN or infinity")
        return y

    # -- forward and backward --------------------------------------------------------------

    def _forward(self, x, training=False, record_trace=False):
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
            return self.loss.value_and_gradient_from_logits(y, self.layers[-1]._cache[1], mask)[0]
        return self.loss(y, output, mask)

    def _loss_and_backward(self, y, output, mask):
        """Loss value; fills every layer's `gradients`."""
        if self._fused():
            last = self.layers[-1]
            value, grad_logits = self.loss.value_and_gradient_from_logits(y, last._cache[1], mask)
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

    def _gradients(self) -> list:
        grads = []
        for layer in self.layers:
            if layer.trainable:
                grads.extend(layer.gradients)
            else:
                grads.extend([None] * len(layer.weights))
        return grads

    def _resolve_metrics(self, y, output):
        if self._metric_functions is None:
            self._metric_functions = [
                metrics_module.resolve(name, self.loss.name, output.shape[-1], np.ndim(y), output.ndim)
                for name in self.metric_names
            ]
        return self._metric_functions

    def _metric_sums(self, y, output, mask):
        return [function(y, output, mask) for function in self._resolve_metrics(y, output)]

    def _train_step(self, x, y):
        output, mask = self._forward(x, training=True)
        value = self._loss_and_backward(y, output, mask)
        if self.device == "cpu":
            self.optimizer.apply_gradients(self._gradients(), self.weights)
        else:
            self._apply_gradients_on_device(self._gradients())
        return value, self._metric_sums(y, output, mask)

    def loss_and_gradients(self, x, y, training=False):
        """(loss, gradients in get_weights order) for one batch, without updating anything.

        Embedding gradients come back dense here (for gradient checks); training never builds them.

        Args:
            x: inputs (B, ...).
            y: targets.
            training: run dropout as in training (default False).
        """
        self._require_compiled()
        x = self._check_x(x)
        y = self._check_y(y, x.shape[0])
        output, mask = self._forward(x, training=training)
        value = self._loss_and_backward(y, output, mask)
        grads = []
        for layer in self.layers:
            for gradient in layer.gradients if layer.gradients else [np.zeros_like(w) for w in layer.weights]:
                grads.append(gradient.to_dense() if isinstance(gradient, SparseRows) else _host_copy(gradient))
        return value, grads

    def probe(self, x, y, epoch=0, batch=0) -> ProbeReport:
        """Forward with traces and backward on (x, y), without touching weights, optimizer or random state."""
        self._require_compiled()
        x = self._check_x(x)
        y = self._check_y(y, x.shape[0])
        output, mask = self._forward(x, training=False, record_trace=True)
        value = self._loss_and_backward(y, output, mask)
        traces, names = [], []
        for layer in self.layers:
            for trace in layer.traces():
                traces.append(trace)
                names.append(trace.layer_name or layer.name)
        for layer in self.layers:  # drop the recorded traces so later passes do not keep them alive
            if isinstance(layer, RNN):
                layer._result = None
            elif isinstance(layer, Bidirectional):
                layer.forward_layer._result = layer.backward_layer._result = None
        step = self.optimizer.iterations if self.optimizer else 0
        return ProbeReport(epoch=epoch, batch=batch, step=step, loss=value, traces=traces, layer_names=names,
                           predictions=output.copy(), targets=np.asarray(y).copy())

    # -- batch-level API -------------------------------------------------------------------

    def _result(self, value, sums, return_dict=False):
        logs = {"loss": value}
        for name, (total, count) in zip(self.metric_names, sums):
            logs[name] = total / max(count, 1.0)
        if return_dict:
            return logs
        return value if not self.metric_names else list(logs.values())

    def train_on_batch(self, x, y, return_dict=False):
        """One optimizer step on (x, y); returns the loss (or [loss, *metrics])."""
        self._require_compiled()
        x = self._check_x(x)
        y = self._check_y(y, x.shape[0])
        value, sums = self._train_step(x, y)
        return self._result(value, sums, return_dict)

    def test_on_batch(self, x, y, return_dict=False):
        """Loss (and metrics) on (x, y) without training."""
        self._require_compiled()
        x = self._check_x(x)
        y = self._check_y(y, x.shape[0])
        output, mask = self._forward(x, training=False)
        value = self._loss_value(y, output, mask)
        return self._result(value, self._metric_sums(y, output, mask), return_dict)

    def predict_on_batch(self, x):
        return self._forward(self._check_x(x), training=False)[0]

    def __call__(self, x, training=False):
        return self._forward(self._check_x(x), training=training)[0]

    def predict(self, x, batch_size=32, verbose=0, steps=None):
        """The model's outputs for x, computed batch_size samples at a time.

        Args:
            x: inputs (N, ...), or a generator of input batches (or of (x, y) pairs) with `steps`.
            batch_size: default 32.
            verbose: ignored (kept for Keras compatibility), default 0.
            steps: batches to draw from a generator (default None).
        """
        if _is_batch_stream(x):
            if steps is None and hasattr(x, "__next__"):
                raise InputError("predict on a generator needs steps")
            outputs = []
            for _ in range(steps if steps is not None else len(x)):
                batch = next(x) if hasattr(x, "__next__") else x[len(outputs)]
                batch = batch[0] if isinstance(batch, (tuple, list)) else batch
                outputs.append(self.predict_on_batch(batch))
            return np.concatenate(outputs, axis=0)
        x = self._check_x(x)
        batch_size = self._check_batch_size(batch_size)
        return np.concatenate([self._forward(x[start:start + batch_size], training=False)[0]
                               for start in range(0, x.shape[0], batch_size)], axis=0)

    @staticmethod
    def _check_batch_size(batch_size):
        if batch_size is None:
            return 32
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
        return int(batch_size)

    def _evaluate_batches(self, batches):
        """Sample-weighted mean loss and metrics over an iterable of (x, y) batches."""
        loss_total, count = 0.0, 0
        metric_totals = [[0.0, 0.0] for _ in self.metric_names]
        for xb, yb in batches:
            xb = self._check_x(xb)
            yb = self._check_y(yb, xb.shape[0])
            output, mask = self._forward(xb, training=False)
            loss_total += self._loss_value(yb, output, mask) * xb.shape[0]
            count += xb.shape[0]
            for totals, (total, seen) in zip(metric_totals, self._metric_sums(yb, output, mask)):
                totals[0] += total
                totals[1] += seen
        logs = {"loss": loss_total / max(count, 1)}
        for name, (total, seen) in zip(self.metric_names, metric_totals):
            logs[name] = total / max(seen, 1.0)
        return logs

    def evaluate(self, x=None, y=None, batch_size=32, verbose=0, steps=None, return_dict=False, callbacks=None):
        """Loss (and metrics) over a data set, without training.

        Args:
            x, y: arrays, or x a generator of (x, y) batches (then `steps` is required).
            batch_size: default 32.
            verbose: ignored, default 0.
            steps: batches to draw from a generator (default None).
            return_dict: return {'loss': ..., 'acc': ...} instead of a scalar or list (default False).
            callbacks: callbacks receiving on_test_begin/end (default None).
        """
        self._require_compiled()
        hooks = CallbackList(callbacks or [], self, {})
        hooks.on_test_begin({})
        if _is_batch_stream(x):
            logs = self._evaluate_batches(_Stream(x, steps, "x").batches())
        else:
            x = self._check_x(x)
            y = self._check_y(y, x.shape[0])
            batch_size = self._check_batch_size(batch_size)
            logs = self._evaluate_batches(
                (x[s:s + batch_size], y[s:s + batch_size]) for s in range(0, x.shape[0], batch_size))
        hooks.on_test_end(logs)
        if return_dict:
            return logs
        return logs["loss"] if not self.metric_names else list(logs.values())

    evaluate_generator = evaluate

    def predict_generator(self, generator, steps=None, verbose=0):
        return self.predict(generator, steps=steps)

    # -- training --------------------------------------------------------------------------

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, probe=None, probe_every=None):
        """Train; returns a `History` whose `.history` maps 'loss', 'acc', 'val_loss', ... to per-epoch lists.

        Args:
            x: inputs (N, ...), or a generator / Sequence of (x, y) batches (then steps_per_epoch).
            y: targets (N, ...) (None with a generator).
            batch_size: default None (32).
            epochs: train until this epoch index (default 1).
            verbose: 0 silent, 1 a progress bar per epoch (default), 2 one line per epoch.
            callbacks: list of Callback (default None).
            validation_split: fraction of the samples, taken from the END before shuffling, held out for
                validation (default 0.0).
            validation_data: (x_val, y_val), or a generator of batches with validation_steps (default None).
            shuffle: reshuffle the training samples every epoch (default True).
            initial_epoch: epoch index to start from (default 0).
            steps_per_epoch: batches per epoch (required for generators; default None).
            validation_steps: batches to draw from a validation generator (default None).
            validation_batch_size: default None (batch_size).
            probe: (x_probe, y_probe): a fixed batch to trace (gates, gradient norms) during training.
            probe_every: probe after every this many batches (default None: once per epoch).
        """
        for _ in self.fit_iter(x, y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
                               validation_split=validation_split, validation_data=validation_data,
                               shuffle=shuffle, initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                               validation_steps=validation_steps, validation_batch_size=validation_batch_size,
                               probe=probe, probe_every=probe_every):
            pass
        return self.history

    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1, callbacks=None,
                      validation_data=None, validation_steps=None, initial_epoch=0, shuffle=True, **kwargs):
        """Keras 2's name for fit on a generator of (x, y) batches; same arguments as fit."""
        return self.fit(generator, None, epochs=epochs, verbose=verbose, callbacks=callbacks,
                        validation_data=validation_data, validation_steps=validation_steps,
                        initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch, shuffle=shuffle, **kwargs)

    def _training_batches(self, x, y, batch_size, shuffle, steps_per_epoch):
        """A function epoch -> iterable of (x, y) batches, and the number of steps per epoch."""
        if _is_batch_stream(x):
            if y is not None:
                raise InputError("when x is a generator of (x, y) batches, y must be None")
            stream = _Stream(x, steps_per_epoch, "x")
            first_x, first_y = stream.peek()[:2]
            self._check_x(first_x)  # builds the model and checks shapes before training starts
            return (lambda: stream.batches()), stream.steps
        count = x.shape[0]
        steps = math.ceil(count / batch_size)
        if steps_per_epoch is not None:
            steps = min(steps, int(steps_per_epoch))

        def batches():
            order = self.shuffle_rng.permutation(count) if shuffle else np.arange(count)
            for step in range(steps):
                chosen = order[step * batch_size:(step + 1) * batch_size]
                if not shuffle:
                    chosen = slice(step * batch_size, (step + 1) * batch_size)
                yield x[chosen], y[chosen]

        return batches, steps

    def _validation_batches(self, validation_data, validation_steps, batch_size):
        if validation_data is None:
            return None
        if _is_batch_stream(validation_data):
            stream = _Stream(validation_data, validation_steps, "validation")
            return lambda: stream.batches()
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise InputError("validation_data must be (x_val, y_val) or a generator of batches")
        x_val = self._check_x(validation_data[0])
        y_val = self._check_y(validation_data[1], x_val.shape[0])
        return lambda: ((x_val[s:s + batch_size], y_val[s:s + batch_size])
                        for s in range(0, x_val.shape[0], batch_size))

    def fit_iter(self, x=None, y=None, batch_size=None, epochs=1, verbose=0, callbacks=None, validation_split=0.0,
                 validation_data=None, shuffle=True, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
                 validation_batch_size=None, probe=None, probe_every=None):
        """Train, yielding a BatchReport after every batch, ProbeReports and an EpochReport per epoch.

        Same arguments as `fit` (but verbose defaults to 0). Closing the generator stops training
        cleanly after the current batch; `self.history` holds what was done.
        """
        self._require_compiled()
        batch_size = self._check_batch_size(batch_size)
        validation_batch_size = self._check_batch_size(validation_batch_size or batch_size)
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise InputError(f"epochs must be a non-negative integer, got {epochs!r}")
        if not 0.0 <= float(validation_split) < 1.0:
            raise InputError(f"validation_split must be in [0, 1), got {validation_split!r}")
        if verbose not in (0, 1, 2, True, False):
            raise InputError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        if not _is_batch_stream(x):
            if x is None or y is None:
                raise InputError("fit needs x and y (or a generator of (x, y) batches as x)")
            x = self._check_x(x)
            y = self._check_y(y, x.shape[0])
            if validation_split:
                if validation_data is not None:
                    raise InputError("give validation_split or validation_data, not both")
                split_at = int(x.shape[0] * (1.0 - validation_split))  # the LAST fraction, before shuffling
                if split_at == 0 or split_at == x.shape[0]:
                    raise InputError(f"validation_split={validation_split} leaves no training or validation samples")
                validation_data = (x[split_at:], y[split_at:])
                x, y = x[:split_at], y[:split_at]
        elif validation_split:
            raise InputError("validation_split needs array inputs; give validation_data with a generator")
        train_batches, steps = self._training_batches(x, y, batch_size, shuffle, steps_per_epoch)
        validation_batches = self._validation_batches(validation_data, validation_steps, validation_batch_size)

        probes = []  # (x, y, every, observer or None)
        if probe is not None:
            if not isinstance(probe, (tuple, list)) or len(probe) != 2:
                raise InputError("probe must be (x_probe, y_probe)")
            probes.append((probe[0], probe[1], probe_every, None))
        for callback in callbacks or []:
            if isinstance(callback, Observer) and callback.probe_x is not None:
                probes.append((callback.probe_x, callback.probe_y, callback.every, callback))
        for probe_x, probe_y, every, _ in probes:
            bad_every = isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every <= 0
            if every is not None and bad_every:
                raise InputError(f"probe_every must be a positive integer, got {every!r}")
            checked = self._check_x(probe_x)
            self._check_y(probe_y, checked.shape[0])

        self.history = History()
        hook_list = [self.history, *(callbacks or [])]
        if verbose:
            hook_list.append(ProgressBar(int(verbose)))
        hooks = CallbackList(hook_list, self, {"epochs": epochs, "steps": steps, "verbose": verbose})
        self.stop_training = False
        hooks.on_train_begin({})
        epoch_logs: dict = {}
        try:
            for epoch in range(initial_epoch, epochs):
                hooks.on_epoch_begin(epoch, {})
                started = time.perf_counter()
                loss_total, seen = 0.0, 0
                metric_totals = [[0.0, 0.0] for _ in self.metric_names]
                batches_done = 0
                for batch_index, (xb, yb) in enumerate(train_batches()):
                    xb = self._check_x(xb)
                    yb = self._check_y(yb, xb.shape[0])
                    hooks.on_train_batch_begin(batch_index, {})
                    value, sums = self._train_step(xb, yb)
                    batches_done += 1
                    loss_total += value * xb.shape[0]
                    seen += xb.shape[0]
                    for totals, (total, count) in zip(metric_totals, sums):
                        totals[0] += total
                        totals[1] += count
                    logs = {"loss": loss_total / seen}
                    for name, (total, count) in zip(self.metric_names, metric_totals):
                        logs[name] = total / max(count, 1.0)
                    hooks.on_train_batch_end(batch_index, logs)
                    report = BatchReport(epoch=epoch, batch=batch_index, step=self.optimizer.iterations,
                                         steps_in_epoch=steps, batch_size=int(xb.shape[0]), loss=value,
                                         logs=dict(logs), elapsed=time.perf_counter() - started)
                    hooks.on_report(report)
                    yield report
                    last_batch = batch_index == steps - 1
                    for probe_x, probe_y, every, observer in probes:
                        due = (self.optimizer.iterations % every == 0) if every else last_batch
                        if not due:
                            continue
                        probe_report = self.probe(probe_x, probe_y, epoch=epoch, batch=batch_index)
                        targets = [observer] if observer is not None else hooks.callbacks
                        for target in targets:
                            target.on_probe(probe_report)
                            target.on_report(probe_report)
                        yield probe_report
                    if self.stop_training:
                        break
                epoch_logs = {"loss": loss_total / max(seen, 1)}
                for name, (total, count) in zip(self.metric_names, metric_totals):
                    epoch_logs[name] = total / max(count, 1.0)
                if validation_batches is not None:
                    hooks.on_test_begin({})
                    validation_logs = self._evaluate_batches(validation_batches())
                    hooks.on_test_end(validation_logs)
                    for key, value in validation_logs.items():
                        epoch_logs["val_" + key] = value
                self.epochs_trained = epoch + 1
                hooks.on_epoch_end(epoch, epoch_logs)
                report = EpochReport(epoch=epoch, epochs=epochs, logs=dict(epoch_logs),
                                     elapsed=time.perf_counter() - started, steps=batches_done)
                hooks.on_report(report)
                yield report
                if self.stop_training:
                    break
        finally:
            hooks.on_train_end(epoch_logs)

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
        model.shuffle_rng = np.random.default_rng([model.seed_entropy, 104729])
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
        """Write the model (config, weights, optimizer state, random state) to ONE .npz file, atomically."""
        from rnnsim.saving import save_model

        if self.device != "cpu":
            self._sync_host()  # host arrays and host optimizer state are what the file holds
        save_model(self, filepath)


def load_model(filepath, device=None) -> Sequential:
    """Load a model written by `Sequential.save`; raises InputError for a damaged or mismatched file.

    Args:
        filepath: the .npz file.
        device: 'cpu' or 'cuda' (default None: the device the model was saved from).
    """
    from rnnsim.saving import load_model as _load

    return _load(filepath, device=device)


__all__ = ["Sequential", "load_model", "set_seed", "Callback"]
