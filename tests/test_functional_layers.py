"""The layers functional models brought: the merges, and Bidirectional's states, initial states and masks.

Values are compared with plain NumPy (rnnsim.reference for the recurrent halves) and gradients with
central differences in float64; the masking rules are Keras 3's (keras/src/layers/merging/).
"""

from __future__ import annotations

import numpy as np
import pytest

import rnnsim
from rnnsim import layers, reference
from rnnsim.errors import InputError
from rnnsim.models import Input, Model, Sequential


@pytest.fixture(autouse=True)
def fresh_names():
    rnnsim.backend.clear_session()


def numeric_gradient(function, array, epsilon=1e-6):
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + epsilon
        plus = function()
        array[index] = saved - epsilon
        minus = function()
        array[index] = saved
        grad[index] = (plus - minus) / (2 * epsilon)
    return grad


# ---------------------------------------------------------------------------------------
# Merge layers


MERGES = {
    "add": (layers.Add, lambda a, b, c: a + b + c),
    "multiply": (layers.Multiply, lambda a, b, c: a * b * c),
    "average": (layers.Average, lambda a, b, c: (a + b + c) / 3),
    "concatenate": (layers.Concatenate, lambda a, b, c: np.concatenate([a, b, c], axis=-1)),
}


@pytest.mark.parametrize("kind", list(MERGES))
def test_merge_values_and_gradients(kind):
    make, expected = MERGES[kind]
    rng = np.random.default_rng(0)
    inputs = [rng.normal(0, 1, (2, 3, 4)) for _ in range(3)]
    layer = make()
    output = layer(inputs)
    np.testing.assert_allclose(output, expected(*inputs), rtol=1e-12)
    weights = rng.normal(0, 1, output.shape)  # loss = sum(weights * output)
    grads = layer.backward(weights)
    for array, grad in zip(inputs, grads):
        numeric = numeric_gradient(lambda: float(np.sum(weights * layer.forward(inputs))), array)
        np.testing.assert_allclose(grad, numeric, atol=1e-8)


def test_subtract_takes_exactly_two():
    a, b = np.ones((2, 3)), np.full((2, 3), 3.0)
    layer = layers.Subtract()
    np.testing.assert_array_equal(layer([a, b]), a - b)
    np.testing.assert_array_equal(layer.backward(np.ones((2, 3)))[1], -np.ones((2, 3)))
    with pytest.raises(InputError, match="takes exactly 2 inputs, got 3"):
        layers.subtract([Input((3,)), Input((3,)), Input((3,))])


def test_concatenate_along_time_and_its_shapes():
    first, second = Input((None, 4)), Input((7, 4))
    assert layers.concatenate([first, second], axis=1).shape == (None, None, 4)
    assert layers.concatenate([Input((5, 4)), second], axis=1).shape == (None, 12, 4)
    assert layers.concatenate([Input((5, 4)), Input((5, 2))]).shape == (None, 5, 6)
    with pytest.raises(InputError, match="cannot join along axis 0"):
        layers.Concatenate(axis=0)([Input((3,)), Input((3,))])


def test_merge_masks_follow_keras_3():
    inputs = [np.zeros((2, 3, 4)), np.zeros((2, 3, 4))]
    left = np.array([[True, True, False], [True, False, False]])
    right = np.array([[True, False, False], [True, True, False]])
    add = layers.Add()
    assert add.compute_merge_mask(inputs, [left, None]) is None  # Keras: any unmasked input, no mask
    np.testing.assert_array_equal(add.compute_merge_mask(inputs, [left, right]), left | right)
    concatenate = layers.Concatenate()
    assert concatenate.compute_merge_mask(inputs, [None, None]) is None
    np.testing.assert_array_equal(concatenate.compute_merge_mask(inputs, [left, right]), left | right)
    # Keras: an unmasked input counts as all True, so joining features keeps every step
    np.testing.assert_array_equal(concatenate.compute_merge_mask(inputs, [left, None]), np.ones((2, 3), bool))
    along_time = layers.Concatenate(axis=1)
    np.testing.assert_array_equal(along_time.compute_merge_mask(inputs, [left, right]),
                                  np.concatenate([left, right], axis=1))


def test_a_merge_passes_its_mask_to_the_recurrent_layer_after_it():
    tokens = Input((None,), dtype="int64")
    first = layers.Embedding(6, 3, mask_zero=True)(tokens)
    second = layers.Embedding(6, 3, mask_zero=True)(tokens)
    summed = layers.GRU(2, return_sequences=True)(layers.Add()([first, second]))
    model = Model(tokens, summed)
    ids = np.array([[3, 4, 0, 0]])
    output = model.predict(ids)
    np.testing.assert_array_equal(output[0, 2], output[0, 1])  # a padded step carries the state over
    np.testing.assert_array_equal(output[0, 3], output[0, 1])


# ---------------------------------------------------------------------------------------
# Bidirectional


def _halves(layer, x, mask=None, h0=(None, None)):
    """The NumPy reference of both directions: (forward hidden, backward hidden), each in input order."""
    halves = []
    for part, start in zip((layer.forward_layer, layer.backward_layer), h0):
        kernel, recurrent, bias = part.get_weights()
        run = reference.gru_forward if isinstance(part, layers.GRU) else reference.lstm_forward
        options = {"h0": start} if start is not None else {}
        halves.append(run(x, kernel, recurrent, bias, mask=mask, go_backwards=part.go_backwards, **options))
    return halves


def test_bidirectional_outputs_zeros_at_masked_steps_as_keras():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (3, 6, 2))
    mask = np.ones((3, 6), bool)
    mask[0, 4:] = False  # padded at the end
    mask[1, :2] = False  # padded in front
    layer = layers.Bidirectional(layers.GRU(4, return_sequences=True), merge_mode="concat")
    layer.build((None, 6, 2), "float64")
    output = layer.forward(x, mask=mask)
    forward, backward = _halves(layer, x, mask)
    keep = mask[..., None]
    np.testing.assert_allclose(output, np.concatenate([forward["hidden"] * keep, backward["hidden"] * keep], -1),
                               atol=1e-12)
    assert np.all(output[0, 4:] == 0.0) and np.all(output[1, :2] == 0.0)
    # a plain GRU carries its last output over the padding (Keras's zero_output_for_mask=False)
    plain = layers.GRU(4, return_sequences=True)
    plain.build((None, 6, 2), "float64")
    carried = plain.forward(x, mask=mask)
    np.testing.assert_array_equal(carried[0, 5], carried[0, 3])


def test_bidirectional_masked_gradients_match_central_differences():
    tokens = Input((5,), dtype="int64")
    embedded = layers.Embedding(7, 3, mask_zero=True, dtype="float64", seed=1)(tokens)
    both = layers.Bidirectional(layers.LSTM(2, return_sequences=True, seed=2), merge_mode="mul")(embedded)
    model = Model(tokens, layers.Dense(1, seed=3)(both))
    model.compile(optimizer="sgd", loss="mse")
    ids = np.array([[1, 2, 3, 0, 0], [0, 4, 5, 6, 1]])
    targets = np.random.default_rng(0).normal(0, 1, (2, 5, 1))
    _, grads = model.loss_and_gradients(ids, targets)
    for weight, grad in zip(model.weights, grads):
        numeric = numeric_gradient(lambda: model.loss_and_gradients(ids, targets)[0], weight)
        np.testing.assert_allclose(grad, numeric, atol=1e-7)


def test_bidirectional_return_state_gives_keras_order_forward_then_backward():
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, (2, 5, 3))
    lstm = layers.Bidirectional(layers.LSTM(3, return_state=True))
    lstm.build((None, 5, 3), "float64")
    output, forward_h, forward_c, backward_h, backward_c = lstm(x)
    forward, backward = _halves(lstm, x)
    np.testing.assert_allclose(forward_h, forward["hidden"][:, -1], atol=1e-12)
    np.testing.assert_allclose(forward_c, forward["cell"][:, -1], atol=1e-12)
    np.testing.assert_allclose(backward_h, backward["hidden"][:, 0], atol=1e-12)  # the backward pass ends at t=0
    np.testing.assert_allclose(backward_c, backward["cell"][:, 0], atol=1e-12)
    np.testing.assert_allclose(output, np.concatenate([forward_h, backward_h], -1), atol=1e-12)
    gru = layers.Bidirectional(layers.GRU(2, return_state=True, return_sequences=True), merge_mode="sum")
    sequence, h_forward, h_backward = gru(Input((5, 3)))
    assert (sequence.shape, h_forward.shape, h_backward.shape) == ((None, 5, 2), (None, 2), (None, 2))


def test_bidirectional_initial_state_starts_each_direction_and_passes_gradients_back():
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (2, 4, 3))
    starts = [rng.normal(0, 0.5, (2, 2)), rng.normal(0, 0.5, (2, 2))]
    layer = layers.Bidirectional(layers.GRU(2, return_sequences=True))
    layer.build((None, 4, 3), "float64")
    output = layer(x, initial_state=starts)
    forward, backward = _halves(layer, x, h0=starts)
    np.testing.assert_allclose(output, np.concatenate([forward["hidden"], backward["hidden"]], -1), atol=1e-12)
    weights = rng.normal(0, 1, output.shape)
    layer.run(x, initial_state=starts)
    _, grad_starts = layer.backward_with_states(weights)
    for start, grad in zip(starts, grad_starts):
        def loss():
            return float(np.sum(weights * layer.run(x, initial_state=starts)[0]))
        np.testing.assert_allclose(grad, numeric_gradient(loss, start), atol=1e-8)
    with pytest.raises(InputError, match="needs 2 initial states"):
        layer(x, initial_state=starts[:1])


def test_sequential_refuses_return_state_for_bidirectional_too():
    with pytest.raises(InputError, match="return_state=True needs the layer called directly"):
        Sequential([layers.Bidirectional(layers.LSTM(2, return_state=True), input_shape=(4, 3))])


def test_bidirectional_with_return_state_saves_and_loads(tmp_path):
    source = Input((None, 3))
    sequence, *states = layers.Bidirectional(layers.LSTM(2, return_state=True, return_sequences=True))(source)
    model = Model(source, [sequence, layers.Concatenate()(states)])
    model.save(tmp_path / "bidir.npz")
    loaded = rnnsim.models.load_model(tmp_path / "bidir.npz")
    x = np.random.default_rng(0).normal(0, 1, (2, 4, 3)).astype(np.float32)
    for ours, theirs in zip(loaded.predict(x), model.predict(x)):
        np.testing.assert_array_equal(ours, theirs)
