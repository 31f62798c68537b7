"""`Model(inputs, outputs)`: a functional model, the graph of layers called on `rnnsim.Input` tensors.

    question = Input(shape=(None,), dtype="int64", name="question")
    _, state_h, state_c = LSTM(64, return_state=True, name="encoder")(Embedding(14, 16)(question))
    answer_in = Input(shape=(None,), dtype="int64", name="answer_in")
    decoded = LSTM(64, return_sequences=True, name="decoder")(Embedding(14, 16)(answer_in),
                                                              initial_state=[state_h, state_c])
    model = Model([question, answer_in], Dense(14, activation="softmax")(decoded))

Every layer call recorded a node (rnnsim/layers/input_layer.py); the model walks them back from
the outputs and orders them as Keras does (by depth, so the inputs come first: graph.py). The forward pass
runs the nodes in that order, each layer keeping what its backward pass needs; the backward pass
runs them in reverse, summing the gradients of a tensor that feeds several layers, as micrograd's
`Value.backward` does for one scalar. Training, evaluation, prediction, probes and traces are the
same `Trainer` as Sequential's; summary, config and saving are in functional_config.py.

Differences from Keras, on purpose: a layer may appear once in a model's graph (it keeps one forward
cache for its backward pass), though it may be reused in another model, as Keras's seq2seq recipe
reuses the decoder for inference; models cannot be called as layers of other models.
"""

from __future__ import annotations

import numpy as np

from rnnsim import losses as losses_module
from rnnsim import metrics as metrics_module
from rnnsim.cells.checks import known_finite
from rnnsim.errors import InputError
from rnnsim.layers import Dense
from rnnsim.layers.base import find_symbolic, shape_text
from rnnsim.layers.input_layer import InputLayer, unique_name
from rnnsim.models import functional_config
from rnnsim.models.device import DevicePlacement, runs_on_device
from rnnsim.models.graph import check_graph, order_nodes, tensor_list, token_consumers
from rnnsim.models.saving import register_model_class, save_model
from rnnsim.models.seeding import resolve_seed, shuffle_generator
from rnnsim.models.training import Trainer, check_input_values
from rnnsim.sparse import SparseRows


class ArrayGroup:
    """Arrays indexed together, one per model input (or output): the training loop slices it like one array.

    `shape` is (samples,): all the loop reads of it.
    """

    is_array_group = True

    def __init__(self, arrays):
        self.arrays = list(arrays)
        self.shape = (int(self.arrays[0].shape[0]),)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, index):
        return ArrayGroup([array[index] for array in self.arrays])

    def copy(self):
        return ArrayGroup([array.copy() for array in self.arrays])

    def __array__(self, dtype=None, copy=None):
        raise InputError("these are the arrays of several model inputs or outputs, not one array")


@register_model_class  # so that load_model can rebuild one from its config
class Model(Trainer, DevicePlacement):
    """A functional model: the layers between `inputs` and `outputs`, trained with Keras's API.

    Args:
        inputs: a tensor from `rnnsim.Input`, or a list of them (the order of x's arrays).
        outputs: a tensor made by layers from the inputs, or a list of them.
        name: shown by summary(), default 'functional', 'functional_1', ...
        seed: seed for shuffling (default None: the global seed, else fresh entropy). The layers drew
            their weights when they were called, from their own seeds or `rnnsim.utils.set_random_seed`.
        device: 'cpu' (default) or 'cuda' for the recurrent layers, as in `Sequential`.

    Inputs to fit/evaluate/predict: one array per input, as a list in `inputs` order, a dict keyed
    by the inputs' names, or a NumPy structured array with one field per input name. Targets: one
    array per output, as a list or a dict keyed by the output layers' names.
    """

    def __init__(self, inputs, outputs, name=None, seed=None, device="cpu"):
        self.inputs = tensor_list(inputs, "inputs")
        self.outputs = tensor_list(outputs, "outputs")
        self._single_input = not isinstance(inputs, (list, tuple))
        self._single_output = not isinstance(outputs, (list, tuple))
        self.nodes = check_graph(self.inputs, order_nodes(self.outputs))
        self.layers = [node.layer for node in self.nodes]
        self.name = name or unique_name("functional")
        dtypes = {layer.dtype for layer in self.layers if layer.has_weights and layer.dtype}
        if len(dtypes) > 1:
            raise InputError(f"the model's layers mix dtypes ({', '.join(sorted(dtypes))}); build them all "
                             "from float32 or all from float64 inputs")
        self.dtype = dtypes.pop() if dtypes else "float32"
        self._init_device(device)
        for layer in self.layers:
            if runs_on_device(layer):
                layer.set_device(self.device)
        self.seed, self.seed_entropy = resolve_seed(seed)
        self.shuffle_rng = shuffle_generator(self.seed_entropy)
        self.built = True
        self.metadata: dict = {}  # JSON values saved with the model, e.g. {'task': {...}} for `rnnsim inspect`
        self._init_training()
        self._losses, self._loss_weights, self._output_metrics = [], [], []
        self._output_losses: list = []
        self.compile_arguments: dict = {}
        self._token_consumer = token_consumers(self.nodes, self.outputs)

    # -- the graph -------------------------------------------------------------------------

    @property
    def input_names(self) -> list[str]:
        return [tensor.node.layer.name for tensor in self.inputs]

    @property
    def output_names(self) -> list[str]:
        """The names of the layers that make the outputs (as Keras's output_names), made unique."""
        names = []
        for tensor in self.outputs:
            name = tensor.node.layer.name
            names.append(name if name not in names else f"{name}_{len(names)}")
        return names

    @property
    def input_shape(self):
        shapes = [tensor.shape for tensor in self.inputs]
        return shapes[0] if self._single_input else shapes

    @property
    def output_shape(self):
        shapes = [tensor.shape for tensor in self.outputs]
        return shapes[0] if self._single_output else shapes

    def get_layer(self, name=None, index=None):
        """A layer by name or by its index in `layers` (as keras.Model.get_layer)."""
        if index is not None:
            if not -len(self.layers) <= int(index) < len(self.layers):
                raise InputError(f"layer index {index} is out of range: the model has {len(self.layers)} layers")
            return self.layers[int(index)]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise InputError(f"no layer named {name!r}; the model has {', '.join(layer.name for layer in self.layers)}")

    def input_of_layer(self, name) -> int | None:
        """Which model input feeds the timesteps of layer `name` (following first inputs back), or None."""
        node = next((node for node in self.nodes if node.layer.name == name), None)
        while node is not None and not isinstance(node.layer, InputLayer):
            node = node.inputs[0].node if node.inputs else None
        if node is None:
            return None
        return next(k for k, tensor in enumerate(self.inputs) if tensor.node is node)

    # -- weights ---------------------------------------------------------------------------

    @property
    def weights(self) -> list[np.ndarray]:
        """The live weight arrays, layer by layer in `layers` order (Keras's), as Sequential's."""
        if self.device != "cpu":
            self._sync_host()
        return [weight for layer in self.layers for weight in layer.weights]

    def count_params(self) -> int:
        return int(sum(layer.count_params() for layer in self.layers))

    def get_weights(self) -> list[np.ndarray]:
        return [weight.copy() for weight in self.weights]

    def set_weights(self, weights) -> None:
        """Replace all weights (get_weights order); InputError on a wrong count or shape, before changing any."""
        weights = list(weights)
        targets = [(layer, label, weight) for layer in self.layers
                   for label, weight in zip(layer.weight_names(), layer.weights)]
        if len(weights) != len(targets):
            raise InputError(f"the model has {len(targets)} weight arrays, got {len(weights)}")
        for position, ((layer, label, target), given) in enumerate(zip(targets, weights)):
            if np.shape(given) != target.shape:
                raise InputError(f"weight {position} ({layer.name}/{label}) has shape {np.shape(given)}, "
                                 f"expected {target.shape}")
        position = 0
        for layer in self.layers:
            count = len(layer.weights)
            if count:
                layer.set_weights(weights[position:position + count])
            position += count

    # -- compile ---------------------------------------------------------------------------

    def _per_output(self, value, label, default=None) -> list:
        """`value` spread over the outputs: one for all, a list with one per output, or a dict by name."""
        count, names = len(self.outputs), self.output_names
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(names))
            if unknown:
                raise InputError(f"{label} names {', '.join(map(repr, unknown))}, not among the outputs "
                                 f"{', '.join(names)}")
            return [value.get(name, default) for name in names]
        if isinstance(value, (list, tuple)) and (count > 1 or label == "metrics"):
            if count == 1:  # one output: every metric in the (possibly nested) list is its own, as Keras
                flat = []
                for entry in value:
                    flat.extend(entry if isinstance(entry, (list, tuple)) else [entry])
                return [flat]
            if len(value) != count:
                raise InputError(f"{label} has {len(value)} entries but the model has {count} outputs "
                                 f"({', '.join(names)}); give one per output or a dict by output name")
            return list(value)
        if isinstance(value, (list, tuple)):
            if len(value) != 1:
                raise InputError(f"{label} has {len(value)} entries but the model has one output")
            return list(value)
        return [value] * count

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None) -> None:
        """Choose the optimizer, the loss of each output, its weight and metrics, as keras.Model.compile.

        Args:
            optimizer: as `Sequential.compile` (default 'rmsprop').
            loss: one loss for every output, a list with one per output, or a dict by output name
                (an output without one is not trained). Required.
            metrics: for one output, a list of names; for several, a list with one entry (a name or a
                list of names) per output, or a dict by output name (default None).
            loss_weights: a number for every output, a list, or a dict by output name (default None: 1).
        The total loss is the weighted sum; with several outputs, each one's loss and metrics are
        reported too, as '<output>_loss' and '<output>_<metric>'.
        """
        losses = self._per_output(loss, "loss")
        if all(entry is None for entry in losses):
            raise InputError("compile needs a loss, e.g. loss='binary_crossentropy'")
        weights = self._per_output(1.0 if loss_weights is None else loss_weights, "loss_weights", 0.0)
        for weight in weights:
            if isinstance(weight, bool) or not isinstance(weight, (int, float, np.floating)) or weight < 0:
                raise InputError(f"loss_weights must be non-negative numbers, got {weight!r}")
        metrics = self._per_output(metrics or [], "metrics", []) if metrics else [[] for _ in self.outputs]
        metrics = [[] if entry is None else [entry] if isinstance(entry, str) else list(entry) for entry in metrics]
        first = next(entry for entry in losses if entry is not None)
        super().compile(optimizer=optimizer, loss=first, metrics=metrics[0] if len(self.outputs) == 1 else None)
        self._losses = [None if entry is None else losses_module.get(entry) for entry in losses]
        self._loss_weights = [float(weight) for weight in weights]
        self._output_metrics = metrics
        if len(self.outputs) > 1:
            for names in metrics:
                for name in names:
                    metrics_module.check_name(name)
            self.metric_names = [f"{output}_loss" for output, entry in zip(self.output_names, self._losses)
                                 if entry is not None]
            self.metric_names += [f"{output}_{name}" for output, names in zip(self.output_names, metrics)
                                  for name in names]
        loss_names = [None if entry is None else entry.name for entry in self._losses]
        if len(self.outputs) == 1:  # what saving writes and load_model passes back to compile
            self.compile_arguments = {"loss": loss_names[0], "loss_weights": self._loss_weights[0],
                                      "metrics": list(metrics[0])}
        else:
            self.compile_arguments = {"loss": loss_names, "loss_weights": list(self._loss_weights),
                                      "metrics": [list(names) for names in metrics]}

    # -- data checks -----------------------------------------------------------------------

    def _arrays_for(self, value, tensors, names, label) -> list:
        """One array per tensor from an array, a list, a dict by name or a structured array."""
        if isinstance(value, ArrayGroup):
            value = value.arrays
        if isinstance(value, np.ndarray) and value.dtype.names:
            missing = [name for name in names if name not in value.dtype.names]
            if missing:
                raise InputError(f"the structured array has fields {', '.join(value.dtype.names)} but the "
                                 f"model's {label} are named {', '.join(names)}")
            return [value[name] for name in names]
        if isinstance(value, dict):
            missing = [name for name in names if name not in value]
            unknown = sorted(set(value) - set(names))
            if missing or unknown:
                raise InputError(f"the model's {label} are named {', '.join(names)}; the dict has "
                                 f"{', '.join(map(str, value)) or 'no keys'}")
            return [value[name] for name in names]
        if len(tensors) == 1:
            if isinstance(value, (list, tuple)) and len(value) == 1 and hasattr(value[0], "shape"):
                return [value[0]]
            return [value]
        if not isinstance(value, (list, tuple)) or len(value) != len(tensors):
            got = f"a list of {len(value)}" if isinstance(value, (list, tuple)) else f"one {type(value).__name__}"
            raise InputError(f"the model has {len(tensors)} {label} ({', '.join(names)}): give a list of "
                             f"{len(tensors)} arrays or a dict by name, got {got}")
        return list(value)

    def _check_x(self, x, finite=True):
        """x as the model takes it: one checked array, or an ArrayGroup for several inputs. (Its forward pass
        never checks its inputs itself, so `finite` is always True here: see `Trainer._checks_inputs_in_pass`.)"""
        if find_symbolic(x if not isinstance(x, dict) else list(x.values())) is not None:
            raise InputError("calling a model on symbolic tensors (a model inside a model) is not supported; "
                             "call its layers instead")
        arrays = self._arrays_for(x, self.inputs, self.input_names, "inputs")
        checked = []
        for tensor, name, array in zip(self.inputs, self.input_names, arrays):
            array = check_input_values(array)
            expected = tensor.shape
            if array.ndim != len(expected) or any(want is not None and want != have
                                                  for want, have in zip(expected[1:], array.shape[1:])):
                raise InputError(f"input {name!r} expects arrays of shape {shape_text(expected)}, "
                                 f"got one of shape {array.shape}")
            if tensor.dtype in ("float32", "float64") and array.dtype.name != tensor.dtype:
                array = array.astype(tensor.dtype)
            checked.append(array)
        counts = {array.shape[0] for array in checked}
        if len(counts) > 1:
            sizes = ", ".join(f"{name}: {array.shape[0]}" for name, array in zip(self.input_names, checked))
            raise InputError(f"the model's inputs hold different numbers of samples ({sizes}); they must match")
        return checked[0] if len(checked) == 1 else ArrayGroup(checked)

    def _check_y(self, y, count):
        """y as checked targets for `count` samples: an array, or an ArrayGroup for several outputs."""
        if len(self.outputs) == 1:
            arrays = self._arrays_for(y, self.outputs, self.output_names, "outputs")
            return super()._check_y(arrays[0], count)
        arrays = self._arrays_for(y, self.outputs, self.output_names, "outputs")
        return ArrayGroup([super(Model, self)._check_y(array, count) for array in arrays])

    # -- forward and backward --------------------------------------------------------------

    def _forward(self, x, training=False, record_trace=False):
        """(output, mask) for x, or ([outputs], [masks]) with several outputs; every layer keeps its cache.

        x is as `_check_x` returns it (or a batch of such an x), so finite: the layers it enters need not check it.
        """
        arrays = x.arrays if isinstance(x, ArrayGroup) else [x]
        with known_finite(*arrays):
            return self._forward_checked(arrays, training, record_trace)

    def _forward_checked(self, arrays, training, record_trace):
        values = {id(tensor): (array, None) for tensor, array in zip(self.inputs, arrays)}  # tensor -> (value, mask)
        folded = set()  # Embedding outputs handed on as token sequences
        for node in self.nodes:
            layer = node.layer
            if isinstance(layer, InputLayer):
                continue
            if node.takes_list:
                inputs = [values[id(tensor)][0] for tensor in node.inputs]
                masks = [values[id(tensor)][1] for tensor in node.inputs]
                output = layer.forward(inputs, mask=masks, training=training, record_trace=record_trace)
                values[id(node.outputs[0])] = (output, layer.compute_merge_mask(inputs, masks))
                continue
            x_in, mask = values[id(node.inputs[0])]
            consumer = self._token_consumer.get(id(node))
            if consumer is not None and consumer.layer.accepts_tokens(training):
                output = layer.forward_tokens(x_in)  # the lookup happens inside the recurrent layer
                folded.add(id(node.outputs[0]))
                values[id(node.outputs[0])] = (output, layer.compute_output_mask(x_in, mask))
                continue
            if hasattr(layer, "backward_with_states"):  # recurrent layers and Bidirectional
                states = [values[id(tensor)][0] for tensor in node.initial_state] or None
                outputs = self._run_recurrent(layer, x_in, mask, training, record_trace, states)
                out_mask = layer.compute_mask(mask)
                for index, (tensor, output) in enumerate(zip(node.outputs, outputs)):
                    values[id(tensor)] = (output, out_mask if index == 0 else None)
                continue
            output = layer.forward(x_in, mask=mask, training=training, record_trace=record_trace)
            values[id(node.outputs[0])] = (output, layer.compute_output_mask(x_in, mask))
        results = [values[id(tensor)] for tensor in self.outputs]
        if len(results) == 1:
            return results[0]
        return [value for value, _ in results], [mask for _, mask in results]

    @staticmethod
    def _run_recurrent(layer, x, mask, training, record_trace, states) -> list:
        """[output, *final states] of a recurrent layer or Bidirectional."""
        if hasattr(layer, "forward_layer"):
            return layer.run(x, mask, training, record_trace, initial_state=states)
        if states is not None:
            states = [np.ascontiguousarray(state, dtype=layer.weights[0].dtype) for state in states]
        result = layer.run(x, mask, training, record_trace, initial_state=states)
        output = result.outputs if layer.return_sequences else result.final_states[0]
        return [output, *result.final_states]

    def _as_lists(self, y, output, mask):
        if len(self.outputs) == 1:
            return [y], [output], [mask]
        return (y.arrays if isinstance(y, ArrayGroup) else list(y)), list(output), list(mask)

    def _fused_dense(self, index, loss):
        """The Dense node whose logits output `index`'s loss can read (sigmoid/softmax + cross-entropy), or None."""
        tensor = self.outputs[index]
        node = tensor.node
        if not isinstance(node.layer, Dense) or loss.fusable_activation is None:
            return None
        if node.layer.activation != loss.fusable_activation:
            return None
        used_elsewhere = any(tensor is parent for other in self.nodes for parent in other.parents)
        listed_twice = sum(other is tensor for other in self.outputs) > 1
        return None if used_elsewhere or listed_twice else node

    def _loss_value(self, y, output, mask) -> float:
        """The weighted total loss without backward, computed as in training (fused where possible)."""
        total, self._output_losses = 0.0, []
        for index, (target, value, out_mask) in enumerate(zip(*self._as_lists(y, output, mask))):
            loss = self._losses[index]
            if loss is None:
                self._output_losses.append(None)
                continue
            dense = self._fused_dense(index, loss)
            if dense is not None:
                part = loss.value_and_gradient_from_logits(target, dense.layer.last_logits(), out_mask)[0]
            else:
                part = loss(target, value, out_mask)
            self._output_losses.append(part)
            total += self._loss_weights[index] * part
        return total

    def _loss_and_backward(self, y, output, mask):
        """The weighted total loss; fills every layer's `gradients` (empty where no gradient reached it)."""
        grads: dict[int, object] = {}  # tensor -> dL/d(tensor), summed over its consumers
        from_logits: dict[int, np.ndarray] = {}  # Dense node -> dL/d(logits), where the loss was fused
        total, self._output_losses = 0.0, []
        for index, (target, value, out_mask) in enumerate(zip(*self._as_lists(y, output, mask))):
            loss, weight = self._losses[index], self._loss_weights[index]
            if loss is None:
                self._output_losses.append(None)
                continue
            dense = self._fused_dense(index, loss)
            if dense is not None:
                part, grad = loss.value_and_gradient_from_logits(target, dense.layer.last_logits(), out_mask)
                from_logits[id(dense)] = grad if weight == 1.0 else grad * weight
            else:
                part, grad = loss.value_and_gradient(target, value, out_mask)
                self._send(grads, self.outputs[index], grad if weight == 1.0 else grad * weight)
            self._output_losses.append(part)
            total += weight * part
        for node in reversed(self.nodes):
            self._backward_node(node, grads, from_logits)
        return total

    def _send(self, grads, tensor, grad) -> None:
        """Add dL/d(tensor) from one consumer; an Input's gradient is nobody's business."""
        if grad is None or isinstance(tensor.node.layer, InputLayer):
            return
        if not isinstance(grad, SparseRows):
            grad = np.asarray(grad, dtype=self.dtype)
        known = grads.get(id(tensor))
        grads[id(tensor)] = grad if known is None else known + grad

    def _backward_node(self, node, grads, from_logits) -> None:
        layer = node.layer
        if isinstance(layer, InputLayer):
            return
        layer.needs_input_gradient = not all(isinstance(t.node.layer, InputLayer) for t in node.inputs)
        if id(node) in from_logits:
            self._send(grads, node.inputs[0], layer.backward_from_logits(from_logits[id(node)]))
            return
        output_grads = [grads.pop(id(tensor), None) for tensor in node.outputs]
        if all(grad is None for grad in output_grads):
            layer.gradients = []  # no loss depends on it: its weights get no update this step
            return
        if node.takes_list:
            for tensor, grad in zip(node.inputs, layer.backward(output_grads[0])):
                self._send(grads, tensor, grad)
        elif hasattr(layer, "backward_with_states"):
            grad_input, grad_states = layer.backward_with_states(output_grads[0], output_grads[1:])
            self._send(grads, node.inputs[0], grad_input)
            for tensor, grad in zip(node.initial_state, grad_states):
                self._send(grads, tensor, grad)
        else:
            self._send(grads, node.inputs[0], layer.backward(output_grads[0]))

    # -- metrics and results ---------------------------------------------------------------

    def _metric_sums(self, y, output, mask):
        if len(self.outputs) == 1:
            return super()._metric_sums(y, output, mask)
        targets, outputs, masks = self._as_lists(y, output, mask)
        if self._metric_functions is None:
            self._metric_functions = [
                [metrics_module.resolve(name, np.shape(target), np.shape(value)) for name in names]
                for names, target, value in zip(self._output_metrics, targets, outputs)]
        count = float(np.shape(targets[0])[0])
        sums = [(part * count, count) for part in self._output_losses if part is not None]
        for functions, target, value, out_mask in zip(self._metric_functions, targets, outputs, masks):
            sums += [function(target, value, out_mask) for function in functions]
        return sums

    def _join_batches(self, outputs):
        if len(self.outputs) == 1:
            return super()._join_batches(outputs)
        return [np.concatenate([batch[k] for batch in outputs], axis=0) for k in range(len(self.outputs))]

    def __call__(self, x, training=False):
        """The model's outputs for arrays x, all at once (dropout only with training=True)."""
        return self._forward(self._check_x(x), training=training)[0]

    # -- summary and persistence (functional_config.py) -------------------------------------

    def summary(self, line_length=None, print_fn=None) -> None:
        """Print the layers in Keras 3's table: output shapes, parameter counts and, for a graph that is
        not a chain, what each layer is connected to ('encoder[0][1]': the encoder's second output).

        Args:
            line_length: total width (default: Keras's, 88 for a chain and 108 for a graph, at most the
                terminal's width less 4).
            print_fn: called with the whole text (default print).
        """
        functional_config.print_summary(self, line_length, print_fn)

    def get_config(self) -> dict:
        return functional_config.model_config(self)

    @classmethod
    def from_config(cls, config: dict, device=None) -> Model:
        """A model from `get_config()`; device None means the saved one."""
        return functional_config.model_from_config(cls, config, device)

    def save(self, filepath) -> None:
        """Write the model (graph, weights, optimizer state, random state) to ONE .npz file, atomically.

        Args:
            filepath: the .npz file; its folder must exist. `load_model(filepath)` reads it back.
        """
        if self.device != "cpu":
            self._sync_host()
        save_model(self, filepath)


Functional = Model  # Keras 3's class of models built this way
