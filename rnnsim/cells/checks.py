"""Checks of a cell's forward arguments: weights, inputs, states, mask and dropout masks.

Every problem is one `InputError` line naming the cell and the argument (ARCHITECTURE.md: how errors
reach users); what passes comes back converted to the weights' dtype and memory layout.
"""

from __future__ import annotations

import contextlib
import contextvars

import numpy as np
from numba import njit

from rnnsim.cells.embedding_lookup import TokenSequence
from rnnsim.errors import InputError

FLOAT_DTYPES = (np.float32, np.float64)


_known_finite = contextvars.ContextVar("rnnsim_known_finite", default=())


@contextlib.contextmanager
def known_finite(*arrays):
    """Inside the block, on this thread, `all_finite` of one of these very array objects is True at once.

    A model checks its input before its forward pass, and its first layer's cell would check the same
    array again: 0.1-0.3 ms of memory traffic for a (64, 100, 128) float32 batch, 1-2% of an LSTM(256)'s
    predict. The arrays are recognised by identity, and only for the length of the block.
    """
    token = _known_finite.set(_known_finite.get() + arrays)
    try:
        yield
    finally:
        _known_finite.reset(token)


class PendingCheck:
    """A model's input whose check for NaN and infinity is left to the pass that reads it (`checked_in_pass`)."""

    def __init__(self, array):
        self.array = array
        self.done = False  # a kernel read every value of `array` and found them finite


_pending = contextvars.ContextVar("rnnsim_pending_check", default=None)


@contextlib.contextmanager
def checked_in_pass(array):
    """Inside the block, on this thread, a kernel that reads every value of this very array anyway (the LSTM's
    predict) checks them on the way and marks the yielded `PendingCheck` done, or raises `nonfinite_input`.

    A model's predict uses it when its first layer says it can (`RNN.checks_inputs_in_pass`): the check
    then costs no pass of its own over x (0.4 ms of an LSTM(256)'s 22 ms predict at (64, 100, 128), x read
    from memory). The model checks x itself afterwards if no kernel did.
    """
    check = PendingCheck(array)
    token = _pending.set(check)
    try:
        yield check
    finally:
        _pending.reset(token)


def pending_check(array) -> PendingCheck | None:
    """The `PendingCheck` of this very array object inside `checked_in_pass`, else None."""
    check = _pending.get()
    return check if check is not None and check.array is array else None


def nonfinite_input(x) -> InputError:
    """The error for a model's input x that holds NaN or infinity, naming the first sample that does."""
    bad = int(np.argmax(~np.isfinite(x).reshape(x.shape[0], -1).all(axis=1)))
    return InputError(f"x contains NaN or infinity (first in sample {bad}); clean or impute the data")


def all_finite(values) -> bool:
    """`np.isfinite(values).all()` in one compiled pass and no temporary array of booleans (a (64, 100, 128)
    float32 batch: 0.13-0.16 ms against 0.20-0.28). Other dtypes go to numpy; integers are finite."""
    if any(values is known for known in _known_finite.get()):
        return True
    values = np.asarray(values)
    if values.dtype not in FLOAT_DTYPES:
        return values.dtype.kind not in "fc" or bool(np.isfinite(values).all())
    return bool(_sum_of_zeros(values.ravel(order="K")) == 0)  # ravel: a view when the memory is one block


def _sum_of_zeros(flat):
    """The sum of v * 0 over a 1-D array: 0 when every v is finite, NaN when one is NaN or infinite
    (`sum_of_zeros` of it as one row)."""
    return sum_of_zeros(flat.reshape(1, -1))


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def sum_of_zeros(rows):
    """The sum of v * 0 over a 2-D array whose rows may lie apart (a step's inputs x[:, t]): 0 when every v is
    finite, NaN when one is NaN or infinite (inf * 0 is NaN, and NaN stays NaN in any order of the sum:
    `reassoc` lets the loop vectorize, and keeps NaNs)."""
    total = rows.dtype.type(0)
    for r in range(rows.shape[0]):
        row = rows[r]
        for d in range(row.shape[0]):
            total += row[d] * rows.dtype.type(0)
    return total


def check_sequence_shape(cell, shape) -> tuple[int, int, int]:
    """(batch, timesteps, features) of an input's shape, or InputError (host and device cells alike)."""
    shape = tuple(shape)
    if len(shape) != 3:
        raise InputError(
            f"{cell.name} expects input of shape (batch, timesteps, features), got {len(shape)} dimensions {shape}"
        )
    if shape[0] == 0 or shape[1] == 0:
        raise InputError(f"{cell.name} got an empty input of shape {shape}")
    return shape


def check_weights(cell, weights, input_dim, convert=np.ascontiguousarray):
    """The weights in Keras's layout, each through `convert` (contiguous host arrays; the device cells pass
    their `to_device`), and their dtype; or InputError."""
    if not isinstance(weights, dict):
        raise InputError("weights must be a dict with 'kernel', 'recurrent_kernel' (and 'bias')")
    shapes = cell.weight_shapes(input_dim)
    missing = [key for key in shapes if key not in weights]
    if missing:
        raise InputError(f"{cell.name} weights are missing {', '.join(missing)}")
    kernel = weights["kernel"]
    dtype = np.dtype(kernel.dtype) if hasattr(kernel, "dtype") else np.asarray(kernel).dtype
    if dtype not in FLOAT_DTYPES:
        raise InputError(f"{cell.name} weights must be float32 or float64, got {dtype}")
    checked = {}
    for key, shape in shapes.items():
        value = convert(weights[key])
        if tuple(value.shape) != shape:
            raise InputError(
                f"{cell.name} {key} has shape {tuple(value.shape)}, expected {shape} "
                f"for {input_dim} input features and {cell.units} units"
            )
        if np.dtype(value.dtype) != dtype:
            raise InputError(f"{cell.name} weights mix dtypes: {key} is {value.dtype}, kernel is {dtype}")
        checked[key] = value
    return checked, dtype


def check_inputs(cell, x, weights, initial_state, mask, input_dropout_mask, recurrent_dropout_mask):
    """A forward pass's arguments checked and converted (one InputError line for anything wrong):
    (x, weights, dtype, states, step_mask (T, B) uint8, mask, input dropout mask, recurrent dropout mask)."""
    tokens = x if isinstance(x, TokenSequence) else None
    if tokens is not None:
        ids = np.asarray(tokens.ids)
        if ids.ndim != 2 or ids.dtype.kind not in "iu" or np.ndim(tokens.embeddings) != 2:
            raise InputError(f"{cell.name} token input needs (batch, timesteps) integer ids and a (V, D) table")
        if ids.size and (ids.min() < 0 or ids.max() >= tokens.embeddings.shape[0]):
            raise InputError(f"{cell.name} token ids must lie in [0, {tokens.embeddings.shape[0] - 1}]")
        if input_dropout_mask is not None:
            raise InputError(f"{cell.name} token input takes no input dropout mask (embed the tokens first)")
    else:
        x = np.asarray(x)
    batch, timesteps, features = check_sequence_shape(cell, x.shape)
    kernel = weights.get("kernel") if isinstance(weights, dict) else None
    if kernel is not None and np.ndim(kernel) == 2 and np.shape(kernel)[0] != features:
        raise InputError(
            f"{cell.name} input has {features} features per timestep but the kernel expects "
            f"{np.shape(kernel)[0]}"
        )
    weights, dtype = check_weights(cell, weights, features)
    if not np.issubdtype(x.dtype, np.number) or x.dtype == np.complex128:
        raise InputError(f"{cell.name} input must be numeric, got dtype {x.dtype}")
    if tokens is not None:
        x = TokenSequence(ids, np.ascontiguousarray(tokens.embeddings, dtype=dtype))
        values = x.embeddings
    else:
        x = np.asarray(x, dtype=dtype)  # any memory order: a previous layer's outputs are a time-major view
        values = x
    if not all_finite(values):
        raise InputError(f"{cell.name} input contains NaN or infinite values")

    states = []
    n_states = len(cell.state_names)
    if initial_state is None:
        states = [np.zeros((batch, cell.units), dtype) for _ in range(n_states)]
    else:
        if not isinstance(initial_state, (tuple, list)):
            initial_state = (initial_state,)
        if len(initial_state) != n_states:
            raise InputError(f"{cell.name} needs {n_states} initial state array(s), got {len(initial_state)}")
        for name, state in zip(cell.state_names, initial_state):
            state = np.ascontiguousarray(state, dtype=dtype)
            if state.shape != (batch, cell.units):
                raise InputError(
                    f"{cell.name} initial {name} state has shape {state.shape}, expected {(batch, cell.units)}"
                )
            states.append(state)

    if mask is None:
        step_mask = np.ones((timesteps, batch), np.uint8)
    else:
        mask = np.asarray(mask)
        if mask.shape != (batch, timesteps):
            raise InputError(f"{cell.name} mask has shape {mask.shape}, expected {(batch, timesteps)}")
        step_mask = np.ascontiguousarray(mask.astype(bool).T, dtype=np.uint8)  # (T, B), time-major

    def dropout(array, width, what):
        if array is None:
            return None
        array = np.ascontiguousarray(array, dtype=dtype)
        if array.shape != (batch, width):
            raise InputError(f"{cell.name} {what} mask has shape {array.shape}, expected {(batch, width)}")
        return array

    input_dropout_mask = dropout(input_dropout_mask, features, "input dropout")
    recurrent_dropout_mask = dropout(recurrent_dropout_mask, cell.units, "recurrent dropout")
    return x, weights, dtype, states, step_mask, mask, input_dropout_mask, recurrent_dropout_mask
