"""Flatten, Reshape and the rest of the dense baseline: Dense on (B, T, D), Constant and a frozen Embedding."""

import numpy as np
import pytest
from helpers import layer_gradient_errors

from rnnsim import initializers
from rnnsim.errors import InputError
from rnnsim.layers import GRU, Dense, Embedding, Flatten, Reshape
from rnnsim.models import Sequential, load_model


def built(layer, input_shape, dtype="float64"):
    layer.attach_rngs([0, 0])
    layer.build(input_shape, dtype)
    return layer


def test_flatten_keeps_c_order_and_reshapes_the_gradient_back():
    x = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4)
    layer = built(Flatten(), (None, 3, 4))
    output = layer.forward(x)
    np.testing.assert_array_equal(output[1], np.arange(12, 24))  # step by step, features within a step
    grad = np.random.default_rng(0).normal(size=output.shape)
    np.testing.assert_array_equal(layer.backward(grad), grad.reshape(2, 3, 4))
    assert layer.compute_output_shape((None, 3, 4)) == (None, 12)
    assert layer.compute_output_shape((None, None, 4)) == (None, None)
    assert layer.compute_output_shape((None,)) == (None, 1)
    assert layer.compute_output_mask(x, np.ones((2, 3), bool)) is None


def test_reshape_infers_minus_one_and_checks_sizes():
    x = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    layer = built(Reshape((-1, 3)), (None, 3, 4))
    assert layer.compute_output_shape((None, 3, 4)) == (None, 4, 3)
    assert layer.compute_output_shape((None, None, 4)) == (None, None, 3)
    np.testing.assert_array_equal(layer.forward(x), x.reshape(2, 4, 3))
    assert layer_gradient_errors(layer, np.random.default_rng(1).normal(size=(2, 3, 4)))[0] < 1e-8
    assert Reshape(6).compute_output_shape((None, 2, 3)) == (None, 6)
    with pytest.raises(InputError, match="cannot turn samples of 12 values into shape"):
        built(Reshape((5, 2)), (None, 3, 4))
    with pytest.raises(InputError, match="not a multiple of 5"):
        built(Reshape((-1, 5)), (None, 3, 4))
    with pytest.raises(InputError, match="at most one -1"):
        Reshape((-1, -1))


def test_the_first_editions_dense_baseline_has_kerass_summary():
    # 6.3: Flatten(input_shape=(lookback // step, features)) -> Dense(32, relu) -> Dense(1); lookback 1440, step 6.
    model = Sequential()
    model.add(Flatten(input_shape=(240, 14)))
    model.add(Dense(32, activation="relu"))
    model.add(Dense(1))
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "(None, 3360)" in text and "107,552" in text and "Total params: 107,585" in text
    assert [w.shape for w in model.get_weights()] == [(3360, 32), (32,), (32, 1), (1,)]


def test_a_flatten_model_built_from_data_keeps_the_steps_and_refuses_other_lengths():
    model = Sequential([Flatten(), Dense(2)], seed=0)
    model.compile(loss="mse")
    x = np.random.default_rng(0).normal(size=(4, 5, 3))
    model.fit(x, np.zeros((4, 2)), epochs=1, verbose=0)
    assert model.input_shape == (None, 5, 3) and model.layers[1].weights[0].shape == (15, 2)
    with pytest.raises(InputError, match=r"expects input of shape \(None, 5, 3\)"):
        model.predict(np.zeros((2, 6, 3)))


def test_dense_on_sequences_is_applied_per_step_with_keras_shapes_and_gradients():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 4, 3))
    layer = built(Dense(5, activation="tanh"), (None, 4, 3))
    kernel, bias = layer.get_weights()
    expected = np.tanh(np.einsum("btd,du->btu", x, kernel) + bias)  # Keras 3: a dot over the last axis
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12)
    assert layer.compute_output_shape((None, 4, 3)) == (None, 4, 5) and layer.count_params() == 3 * 5 + 5
    input_error, weight_errors = layer_gradient_errors(layer, x)
    assert input_error < 1e-6 and max(weight_errors) < 1e-6


def test_a_sequence_to_sequence_dense_head_trains_on_every_step():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 6, 2)).astype(np.float32)
    y = 0.5 * x[:, :, :1] - 0.25 * x[:, :, 1:]  # one target per step
    model = Sequential([GRU(8, return_sequences=True, input_shape=(None, 2)), Dense(1)], seed=1)
    model.compile(optimizer="adam", loss="mse")
    lines = []
    model.summary(print_fn=lines.append)
    assert any("(None, None, 1)" in line for line in lines)
    before = model.evaluate(x, y)
    model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert model.predict(x[:3]).shape == (3, 6, 1)
    assert model.evaluate(x, y) < 0.5 * before


def test_constant_initializer_broadcasts_a_number_and_copies_an_array():
    np.testing.assert_array_equal(initializers.Constant(0.5)((2, 3), None, np.float32), np.full((2, 3), 0.5))
    matrix = np.arange(6.0).reshape(3, 2)
    constant = initializers.Constant(matrix)
    matrix[0, 0] = 99.0  # the initializer took a copy
    made = constant((3, 2), None, np.float32)
    assert made.dtype == np.float32 and made.tolist() == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(InputError, match=r"does not fit a weight of shape \(4, 2\)"):
        constant((4, 2), None, np.float32)
    with pytest.raises(InputError, match="NaN"):
        initializers.Constant([1.0, np.nan])
    assert initializers.get(initializers.serialize(initializers.Constant(0.25)))((1,), None).tolist() == [0.25]


def test_a_frozen_embedding_of_pretrained_vectors_keeps_them_through_training(tmp_path):
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(30, 4))
    embedding = Embedding(30, 4, embeddings_initializer=initializers.Constant(vectors), trainable=False,
                          mask_zero=True)
    model = Sequential([embedding, GRU(3), Dense(1, activation="sigmoid")], seed=0)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    ids = rng.integers(0, 30, size=(32, 7))
    labels = rng.integers(0, 2, size=32).astype(np.float32)
    np.testing.assert_array_equal(embedding.get_weights()[0], vectors.astype(np.float32))
    gru_before = model.layers[1].get_weights()[0]
    model.fit(ids, labels, epochs=2, batch_size=8, verbose=0)
    np.testing.assert_array_equal(embedding.get_weights()[0], vectors.astype(np.float32))
    assert not np.array_equal(model.layers[1].get_weights()[0], gru_before)  # the rest did train
    lines = []
    model.summary(print_fn=lines.append)
    assert " Non-trainable params: 120 (480.00 B)" in lines
    model.save(tmp_path / "frozen.npz")
    loaded = load_model(tmp_path / "frozen.npz")
    np.testing.assert_array_equal(loaded.layers[0].get_weights()[0], vectors.astype(np.float32))
    assert loaded.layers[0].trainable is False
    np.testing.assert_array_equal(loaded.predict(ids[:4]), model.predict(ids[:4]))


def test_an_embedding_constant_of_the_wrong_shape_is_one_input_error():
    layer = Embedding(10, 4, embeddings_initializer=initializers.Constant(np.zeros((9, 4))))
    with pytest.raises(InputError, match=r"shape \(9, 4\) does not fit a weight of shape \(10, 4\)"):
        built(layer, (None, None))
