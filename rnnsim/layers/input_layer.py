"""`Input`, the symbolic tensors a functional model is written with, and the graph nodes they record.

    inputs = Input(shape=(None, 4))           # a SymbolicTensor (Keras: KerasTensor), shape (None, None, 4)
    hidden = LSTM(16)(inputs)                  # a layer called on one records a Node and returns its output
    outputs = Dense(1)(hidden)
    model = rnnsim.Model(inputs, outputs)      # rnnsim/models/functional.py walks the nodes back

A symbolic tensor holds a shape (batch axis None), a dtype and the node that made it, no values.
Calling a layer on one builds the layer at once for that shape, as Keras does, so an incompatible
shape fails right there, with the layer's name and the shapes. This lives in the layers package,
not beside `Model`, because every layer's `__call__` hands symbolic inputs here (through the
tensor's `connect`), and layers import no model.

Names: a layer called unnamed is named as Keras names it, 'lstm', 'lstm_1', ... counting over the
session (`rnnsim.backend.clear_session()` starts again). Seeds: a layer without a seed of its own
draws the next entropy of the global seed's stream (`rnnsim.utils.set_random_seed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnsim.errors import InputError
from rnnsim.layers.base import FLOAT_DTYPES, Layer, find_symbolic, shape_text
from rnnsim.utils import random as global_random

_names_used: dict[str, int] = {}  # base name -> how many automatic names it has given this session


def unique_name(base: str) -> str:
    """'base' the first time, then 'base_1', 'base_2', ... (Keras's automatic names)."""
    count = _names_used.get(base, 0)
    _names_used[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def reset_names() -> None:
    """Automatic names start again ('lstm', 'dense', ...): see rnnsim.backend.clear_session."""
    _names_used.clear()


class SymbolicTensor:
    """A placeholder for a batch of values in a functional model: a shape, a dtype, the node that made it.

    Keras calls it KerasTensor (`KerasTensor` is an alias). Layers called on it record a `Node`.

    Args:
        shape: the shape with the batch axis, None where open, e.g. (None, None, 4).
        dtype: 'float32', 'float64' or an integer dtype for token ids.
        node: the Node whose output this is (None only while the Node is being made).
        index: which of the node's outputs it is (LSTM(return_state=True) makes three).
    """

    is_symbolic_tensor = True  # how a layer's __call__ recognises it (rnnsim.layers.base.find_symbolic)

    def __init__(self, shape, dtype, node=None, index=0):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype).name
        self.node = node
        self.index = index

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def name(self) -> str:
        """'layer_name' for a layer's only output, 'layer_name:k' for its k-th."""
        layer = self.node.layer.name if self.node is not None else "?"
        return layer if self.node is None or len(self.node.outputs) <= 1 else f"{layer}:{self.index}"

    def connect(self, layer, inputs, mask=None, training=False, initial_state=None):
        """`layer(inputs)` on symbolic tensors: build the layer, record a Node, return its output(s)."""
        return connect(layer, inputs, mask=mask, training=training, initial_state=initial_state)

    def __array__(self, dtype=None, copy=None):
        raise InputError(f"{self!r} holds no values: it is a placeholder of a functional model; build "
                         "rnnsim.Model(inputs, outputs) and call the model on arrays")

    def __repr__(self):
        return f"<SymbolicTensor shape={shape_text(self.shape)}, dtype={self.dtype}, name={self.name}>"


KerasTensor = SymbolicTensor


@dataclass(eq=False)
class Node:
    """One call of a layer in a functional model's graph."""

    layer: Layer
    inputs: list  # the positional input tensors: one, or a merge layer's list
    initial_state: list  # tensors given as initial_state= (recurrent layers, Bidirectional), else empty
    takes_list: bool  # the layer was called on a list (merge layers)
    outputs: list = field(default_factory=list)  # SymbolicTensors, in the layer's output order

    @property
    def parents(self) -> list:
        """Every input tensor, positional first, then the initial states (Keras's order)."""
        return list(self.inputs) + list(self.initial_state)


class InputLayer(Layer):
    """What `Input` makes: the start of a functional model, one per model input (no weights).

    Args:
        shape: the shape of one sample, without the batch axis, e.g. (None, 4).
        dtype: default 'float32'; an integer dtype (e.g. 'int64') for token ids fed to an Embedding.
        name: default 'input_layer', 'input_layer_1', ...
    """

    default_name = "input_layer"
    has_weights = False

    def __init__(self, shape=None, dtype="float32", name=None, **kwargs):
        shape = kwargs.pop("input_shape", shape)
        super().__init__(name=name or unique_name(self.default_name), **kwargs)
        if shape is None:
            raise InputError("Input needs a shape, e.g. Input(shape=(None, 4)) for sequences of 4 features")
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        for size in shape:
            if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0):
                raise InputError(f"Input shape entries must be positive integers or None, got {tuple(shape)}")
        try:
            self.input_dtype = np.dtype(dtype).name
        except TypeError:
            raise InputError(f"Input dtype {dtype!r} is not a numpy dtype; use 'float32' or 'int64'") from None
        if np.dtype(self.input_dtype).kind not in "iuf":
            raise InputError(f"Input dtype must be a float or integer type, got {self.input_dtype}")
        self.sample_shape = tuple(None if d is None else int(d) for d in shape)
        self.built = True
        self.built_input_shape = (None,) + self.sample_shape
        node = Node(self, inputs=[], initial_state=[], takes_list=False)
        node.outputs = [SymbolicTensor(self.built_input_shape, self.input_dtype, node, 0)]
        self.output = node.outputs[0]

    def forward(self, x, mask=None, training=False, record_trace=False):
        return x

    def backward(self, grad_output):
        return grad_output

    def get_config(self):
        return {"name": self.name, "shape": list(self.sample_shape), "dtype": self.input_dtype}


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None):  # noqa: N802 (Keras's name)
    """A symbolic input of a functional model, as keras.Input.

    Args:
        shape: the shape of one sample, without the batch axis: (None, 4) for sequences of any length
            with 4 features, (None,) for token ids of any length.
        batch_size: ignored beyond a check (rnnsim's batches may be of any size), default None.
        dtype: default None ('float32'); 'int64' (or another integer type) for token ids.
        name: the input's name, which also keys it when x is a dict (default 'input_layer', ...).
        batch_shape: (batch, *shape) instead of shape (default None).
    """
    if batch_shape is not None:
        if shape is not None:
            raise InputError("give Input either shape or batch_shape, not both")
        shape = tuple(batch_shape)[1:]
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or batch_size <= 0):
        raise InputError(f"Input batch_size must be a positive integer or None, got {batch_size!r}")
    return InputLayer(shape=shape, dtype=dtype or "float32", name=name).output


# -- calling a layer on symbolic tensors ---------------------------------------------------


def _as_tensor_list(value, label, layer) -> list:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if not getattr(item, "is_symbolic_tensor", False):
            raise InputError(f"layer {layer.name!r} ({type(layer).__name__}) was called on symbolic tensors "
                             f"and on a {type(item).__name__} in {label}; in a functional model every input "
                             "must come from rnnsim.Input or another layer")
    return items


def _label(layer) -> str:
    return f"layer {layer.name!r} ({type(layer).__name__})"


def _check_call(layer, inputs, mask, training, initial_state):
    """The tensors of one symbolic call, checked: (positional inputs, initial states, takes_list)."""
    if mask is not None:
        raise InputError(f"{_label(layer)}: pass no mask= in a functional model; masks flow from "
                         "Embedding(mask_zero=True) and Masking by themselves")
    if training:
        raise InputError(f"{_label(layer)}: training=True cannot be fixed in a functional model; "
                         "fit() trains and predict() infers")
    takes_list = bool(getattr(layer, "takes_list", False))
    if takes_list and not isinstance(inputs, (list, tuple)):
        raise InputError(f"{_label(layer)} takes a list of tensors, got one")
    if not takes_list and isinstance(inputs, (list, tuple)):
        if len(inputs) != 1:
            raise InputError(f"{_label(layer)} takes one tensor, got a list of {len(inputs)}; "
                             "join branches with Concatenate or Add first")
        inputs = inputs[0]
    tensors = _as_tensor_list(inputs, "its inputs", layer)
    states = []
    if initial_state is not None:
        if not hasattr(layer, "n_states"):
            raise InputError(f"{_label(layer)} takes no initial_state")
        states = _as_tensor_list(initial_state, "initial_state", layer)
        if len(states) != layer.n_states:
            raise InputError(f"{_label(layer)} needs {layer.n_states} initial state tensors, got {len(states)}")
    return tensors, states, takes_list


def _prepare(layer, tensors, takes_list) -> None:
    """Name the layer, give it its generators and build it for the tensors' shapes (or check it fits them)."""
    if layer.name is None:
        layer.name = unique_name(layer.default_name)
    if layer.init_rng is None:
        layer.attach_rngs(global_random.next_layer_entropy())
    shapes = [tensor.shape for tensor in tensors]
    shape = shapes if takes_list else shapes[0]
    if not layer.built:
        floats = [t.dtype for t in tensors if t.dtype in FLOAT_DTYPES]
        dtype = layer.dtype or (floats[0] if floats else "float32")
        try:
            layer.build(shape, dtype)
        except InputError as error:
            got = ", ".join(shape_text(s) for s in shapes)
            raise InputError(f"{_label(layer)} cannot take input of shape {got}: {error}") from None
        return
    expected = layer.built_input_shape
    pairs = list(zip(expected, shape)) if takes_list else [(expected, shape)]
    for want, have in pairs:
        if len(want) != len(have) or (want[-1] is not None and have[-1] is not None and want[-1] != have[-1]):
            raise InputError(f"{_label(layer)} was built for input {shape_text(want)} and cannot take "
                             f"{shape_text(have)}")


def _check_states(layer, states) -> None:
    units = layer.forward_layer.units if hasattr(layer, "forward_layer") else layer.units
    for state in states:
        if state.ndim != 2 or (state.shape[-1] is not None and state.shape[-1] != units):
            raise InputError(f"{_label(layer)} has {units} units, so each initial state must have shape "
                             f"(None, {units}); got {shape_text(state.shape)}")


def _output_shapes(layer, tensors, takes_list) -> list:
    shapes = [tensor.shape for tensor in tensors]
    main = layer.compute_output_shape(shapes if takes_list else shapes[0])
    if getattr(layer, "return_state", False):
        units = layer.forward_layer.units if hasattr(layer, "forward_layer") else layer.units
        return [main] + [(None, units)] * layer.n_states
    return [main]


def connect(layer, inputs, mask=None, training=False, initial_state=None):
    """Record `layer(inputs, initial_state=...)` in the graph: a tensor, or a list of them when the layer
    returns several (return_state=True)."""
    tensors, states, takes_list = _check_call(layer, inputs, mask, training, initial_state)
    if isinstance(layer, InputLayer):
        raise InputError(f"{_label(layer)} cannot be called; Input(...) already made its tensor")
    _prepare(layer, tensors, takes_list)
    if states:
        _check_states(layer, states)
    node = Node(layer, inputs=tensors, initial_state=states, takes_list=takes_list)
    output_dtype = layer.dtype or "float32"
    node.outputs = [SymbolicTensor(shape, output_dtype, node, index)
                    for index, shape in enumerate(_output_shapes(layer, tensors, takes_list))]
    return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)


__all__ = ["Input", "InputLayer", "KerasTensor", "Node", "SymbolicTensor", "find_symbolic", "reset_names",
           "unique_name"]
