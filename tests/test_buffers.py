"""The cells' reusable arrays (rnnsim/cells/buffers.py): a forward pass's large arrays are handed out
again only when nobody holds an earlier result, and reuse never changes a number."""

import copy

import numpy as np
import pytest

from rnnsim.cells import buffers, make_cell


def test_a_kept_array_is_handed_out_again_only_when_nobody_else_holds_it():
    pool = buffers.BufferPool()
    first = pool.kept((3, 4), np.float32)
    address = first.ctypes.data
    view = first[1:]  # a view holds its base
    del first
    second = pool.kept((3, 4), np.float32)
    assert second.ctypes.data != address  # the view still holds the first
    del view
    third = pool.kept((3, 4), np.float32)
    assert third.ctypes.data == address
    assert pool.kept((3, 4), np.float64).dtype == np.float64  # another dtype: another array
    assert pool.kept((4, 3), np.float32).shape == (4, 3)


def test_a_pool_keeps_at_most_max_kept_arrays():
    pool = buffers.BufferPool()
    held = [pool.kept((2,), np.float32) for _ in range(buffers.MAX_KEPT + 3)]
    assert len(pool._kept) == buffers.MAX_KEPT
    assert all(a.shape == (2,) for a in held)


def test_scratch_arrays_come_back_after_release():
    pool = buffers.BufferPool()
    a = pool.scratch((5,), np.float32)
    pool.release(a, a)  # named twice, kept once
    assert pool.scratch((5,), np.float32) is a
    assert pool.scratch((5,), np.float32) is not a


def test_a_copied_cell_gets_an_empty_pool():
    cell = make_cell("lstm", 4)
    cell.buffers.kept((2, 2), np.float32)
    clone = copy.deepcopy(cell)
    assert clone.buffers is not cell.buffers and clone.buffers._kept == []


@pytest.mark.parametrize("name", ["simple_rnn", "lstm", "gru"])
def test_a_second_forward_reuses_the_first_ones_arrays_and_leaves_held_results_alone(name):
    rng = np.random.default_rng(0)
    cell = make_cell(name, 8)
    weights = cell.init_weights(5, rng)
    x1 = rng.normal(size=(6, 7, 5)).astype(np.float32)
    x2 = rng.normal(size=(6, 7, 5)).astype(np.float32)
    first = cell.forward(x1, weights)
    outputs_before = first.outputs.copy()
    address = first.outputs.base.ctypes.data if first.outputs.base is not None else first.outputs.ctypes.data
    second = cell.forward(x2, weights)  # `first` is still held: its arrays must not be touched
    np.testing.assert_array_equal(first.outputs, outputs_before)
    del first
    third = cell.forward(x1, weights)  # nobody holds the first pass's arrays now
    np.testing.assert_array_equal(third.outputs, outputs_before)
    fresh = make_cell(name, 8).forward(x2, weights)
    np.testing.assert_array_equal(second.outputs, fresh.outputs)
    used = {id(b) for b in cell.buffers._kept}
    assert len(used) == len(cell.buffers._kept)
    assert any(b.ctypes.data == address for b in cell.buffers._kept)


def test_training_steps_reuse_the_forward_arrays_and_give_the_same_numbers():
    from rnnsim.layers import LSTM, Dense
    from rnnsim.models import Sequential

    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 12, 3)).astype(np.float32)
    y = rng.normal(size=(16, 1)).astype(np.float32)

    def trained(reuse):
        model = Sequential(seed=0)
        model.add(LSTM(6, input_shape=(12, 3)))
        model.add(Dense(1))
        model.compile(optimizer="rmsprop", loss="mse")
        cell = model.layers[0].cell
        if not reuse:
            cell.__dict__["_buffers"] = _NoReuse()
        losses = [model.train_on_batch(x, y) for _ in range(4)]
        return losses, model.get_weights(), cell

    losses, weights, cell = trained(True)
    assert 0 < len(cell.buffers._kept) <= 4  # x_proj/gates, hidden, cell state: reused, not piled up
    reference_losses, reference_weights, _ = trained(False)
    assert losses == reference_losses
    for ours, theirs in zip(weights, reference_weights, strict=True):
        np.testing.assert_array_equal(ours, theirs)


class _NoReuse(buffers.BufferPool):
    def kept(self, shape, dtype):
        return np.full(shape, np.nan, dtype)  # fresh (and poisoned: every element must be written)


def test_release_cache_lets_the_layer_give_its_arrays_back():
    from rnnsim.layers import LSTM

    layer = LSTM(5)
    layer(np.ones((3, 4, 2), np.float32))
    assert layer.cell.buffers._kept
    layer.release_cache()
    assert layer._result is None and not layer.cell.buffers._kept
