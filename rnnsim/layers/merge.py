"""Merge layers, which take a list of tensors: Concatenate, Add, Subtract, Multiply, Average.

They join the branches of a functional model (`rnnsim.Model`), e.g. two recurrent encoders:

    merged = Concatenate()([lstm_branch, gru_branch])      # or rnnsim.layers.concatenate([...])

They can also be called directly on a list of arrays. Masks follow Keras 3: Concatenate's
output mask is True where any input's is (an unmasked input counts as all True); the others
pass a mask on only when every input has one, True where any input's is.
"""

from __future__ import annotations

import numpy as np

from rnnsim.errors import InputError
from rnnsim.layers.base import FLOAT_DTYPES, Layer, find_symbolic, shape_text


class Merge(Layer):
    """Base of the merge layers: a list of inputs in, one output out, no weights.

    Args:
        **kwargs: see `Layer` (name, ...).
    """

    default_name = "merge"
    has_weights = False
    takes_list = True  # a functional model hands it the list of its input tensors
    minimum_inputs = 2

    def _label(self) -> str:
        return f"layer {self.name!r} ({type(self).__name__})" if self.name else type(self).__name__

    def _check_inputs(self, shapes) -> None:
        """InputError naming the layer unless `shapes` (batch axis included) can be merged element-wise."""
        shapes = [tuple(shape) for shape in shapes]
        if len(shapes) < self.minimum_inputs:
            raise InputError(f"{self._label()} needs a list of at least {self.minimum_inputs} inputs, "
                             f"got {len(shapes)}")
        first = shapes[0]
        for shape in shapes[1:]:
            if len(shape) != len(first) or any(a is not None and b is not None and a != b
                                               for a, b in zip(first[1:], shape[1:])):
                raise InputError(f"{self._label()} needs inputs of one shape, got "
                                 f"{', '.join(shape_text(s) for s in shapes)}")

    def build(self, input_shape, dtype="float32"):
        if not isinstance(input_shape, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise InputError(f"{self._label()} takes a list of inputs")
        self._check_inputs(input_shape)
        super().build(tuple(tuple(shape) for shape in input_shape), dtype)

    def compute_output_shape(self, input_shape):
        shapes = [tuple(shape) for shape in input_shape]
        return tuple(next((shape[axis] for shape in shapes if shape[axis] is not None), None)
                     for axis in range(len(shapes[0])))

    def compute_merge_mask(self, inputs, masks):
        """The mask handed downstream: None unless every input has one; then True where any is."""
        if masks is None or any(mask is None for mask in masks):
            return None
        merged = masks[0]
        for mask in masks[1:]:
            merged = merged | mask
        return merged

    def _merge(self, inputs):
        raise NotImplementedError

    def _input_gradients(self, grad_output) -> list:
        raise NotImplementedError

    def forward(self, inputs, mask=None, training=False, record_trace=False):
        inputs = [np.asarray(value, dtype=self.dtype) for value in inputs]
        self._cache = inputs
        return self._merge(inputs)

    def backward(self, grad_output):
        """dL/d(each input), a list in the inputs' order."""
        return self._input_gradients(np.asarray(grad_output))

    def __call__(self, inputs, mask=None, training=False):
        symbolic = find_symbolic(inputs)
        if symbolic is not None:  # a node of a functional model (rnnsim.Input)
            return symbolic.connect(self, inputs, mask=mask, training=training)
        if not isinstance(inputs, (list, tuple)):
            raise InputError(f"{type(self).__name__} takes a list of arrays, got {type(inputs).__name__}")
        arrays = [np.asarray(value) for value in inputs]
        if not self.built:
            dtype = next((a.dtype.name for a in arrays if a.dtype.name in FLOAT_DTYPES), "float32")
            self.build([(None,) + a.shape[1:] for a in arrays], dtype=dtype)
        else:
            self._check_inputs([(None,) + a.shape[1:] for a in arrays])
        return self.forward(arrays, mask=mask, training=training)


class Add(Merge):
    """The element-wise sum of its inputs (all of one shape), as keras.layers.Add."""

    default_name = "add"

    def _merge(self, inputs):
        total = inputs[0].copy()
        for value in inputs[1:]:
            total += value
        return total

    def _input_gradients(self, grad_output):
        return [grad_output for _ in self._cache]


class Subtract(Merge):
    """inputs[0] - inputs[1] (exactly two inputs of one shape), as keras.layers.Subtract."""

    default_name = "subtract"

    def _check_inputs(self, shapes):
        if len(shapes) != 2:
            raise InputError(f"{self._label()} takes exactly 2 inputs, got {len(shapes)}")
        super()._check_inputs(shapes)

    def _merge(self, inputs):
        return inputs[0] - inputs[1]

    def _input_gradients(self, grad_output):
        return [grad_output, -grad_output]


class Multiply(Merge):
    """The element-wise product of its inputs, as keras.layers.Multiply."""

    default_name = "multiply"

    def _merge(self, inputs):
        product = inputs[0].copy()
        for value in inputs[1:]:
            product *= value
        return product

    def _input_gradients(self, grad_output):
        grads = []
        for index in range(len(self._cache)):
            others = grad_output.copy()
            for position, value in enumerate(self._cache):
                if position != index:
                    others *= value
            grads.append(others)
        return grads


class Average(Merge):
    """The element-wise mean of its inputs, as keras.layers.Average."""

    default_name = "average"

    def _merge(self, inputs):
        return Add._merge(self, inputs) / len(inputs)

    def _input_gradients(self, grad_output):
        share = grad_output / len(self._cache)
        return [share for _ in self._cache]


class Concatenate(Merge):
    """Joins its inputs along `axis`; every other axis must agree, as keras.layers.Concatenate.

    Args:
        axis: the axis to join along (default -1, the features); the batch axis cannot be joined.
        **kwargs: see `Layer`.
    """

    default_name = "concatenate"

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise InputError(f"Concatenate axis must be an integer, got {axis!r}")
        self.axis = int(axis)

    def _axis(self, rank) -> int:
        axis = self.axis % rank if -rank <= self.axis < rank else None
        if axis is None or axis == 0:
            raise InputError(f"{self._label()} cannot join along axis {self.axis} of inputs with {rank} axes "
                             "(the batch axis, 0, neither)")
        return axis

    def _check_inputs(self, shapes):
        shapes = [tuple(shape) for shape in shapes]
        if len(shapes) < 2:
            raise InputError(f"{self._label()} needs a list of at least 2 inputs, got {len(shapes)}")
        axis = self._axis(len(shapes[0]))
        for shape in shapes[1:]:
            if len(shape) != len(shapes[0]) or any(
                    a is not None and b is not None and a != b
                    for k, (a, b) in enumerate(zip(shapes[0], shape)) if k not in (0, axis)):
                raise InputError(f"{self._label()} needs inputs that agree on every axis but {self.axis}, got "
                                 f"{', '.join(shape_text(s) for s in shapes)}")

    def compute_output_shape(self, input_shape):
        shapes = [tuple(shape) for shape in input_shape]
        axis = self._axis(len(shapes[0]))
        output = list(Merge.compute_output_shape(self, shapes))
        sizes = [shape[axis] for shape in shapes]
        output[axis] = None if any(size is None for size in sizes) else int(sum(sizes))
        return tuple(output)

    def compute_merge_mask(self, inputs, masks):
        """Keras 3: None if no input has a mask; else each mask (an unmasked input: all True) spread over
        its input's shape, joined along `axis`, and True where any entry of the last axis is."""
        if masks is None or all(mask is None for mask in masks):
            return None
        spread = []
        for value, mask in zip(inputs, masks):
            value = np.asarray(value)
            if mask is None:
                spread.append(np.ones(value.shape, dtype=bool))
            elif mask.ndim < value.ndim:
                spread.append(np.broadcast_to(mask[..., None], value.shape))
            else:
                spread.append(mask)
        return np.concatenate(spread, axis=self._axis(np.ndim(inputs[0]))).any(axis=-1)

    def _merge(self, inputs):
        return np.concatenate(inputs, axis=self._axis(inputs[0].ndim))

    def _input_gradients(self, grad_output):
        axis = self._axis(grad_output.ndim)
        edges = np.cumsum([value.shape[axis] for value in self._cache])[:-1]
        return [np.ascontiguousarray(part) for part in np.split(grad_output, edges, axis=axis)]

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def concatenate(inputs, axis=-1, **kwargs):
    """keras.layers.concatenate: `Concatenate(axis=axis, **kwargs)(inputs)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def add(inputs, **kwargs):
    """keras.layers.add: `Add(**kwargs)(inputs)`."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """keras.layers.subtract: `Subtract(**kwargs)(inputs)`."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """keras.layers.multiply: `Multiply(**kwargs)(inputs)`."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """keras.layers.average: `Average(**kwargs)(inputs)`."""
    return Average(**kwargs)(inputs)


LAYERS = (Concatenate, Add, Subtract, Multiply, Average)
