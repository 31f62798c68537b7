"""End-to-end central-difference gradient checks in float64 through whole models.

Each check perturbs every weight of the model by +-h, and compares (L(w+h) - L(w-h)) / 2h with
the gradient from `model.loss_and_gradients` (the layers' and cells' hand-written backward).
"""

import numpy as np
import pytest

from rnnsim.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN
from rnnsim.models import Sequential


def padded_token_ids(rng, batch, timesteps, vocabulary):
    """Token ids with zero padding at the start of some rows (as pad_sequences makes them)."""
    ids = rng.integers(1, vocabulary, size=(batch, timesteps))
    for row in range(batch):
        ids[row, : rng.integers(0, timesteps - 2)] = 0
    return ids


def assert_gradients_match(model, x, y, step=1e-5, tolerance=1e-5):
    _, analytic = model.loss_and_gradients(x, y)

    def loss_only():  # forward pass only: the checks below run it twice per weight
        output, mask = model._forward(x, training=False)
        return model._loss_value(y, output, mask)

    worst = 0.0
    for index, weight in enumerate(model.weights):  # the live arrays, perturbed in place
        numeric = np.zeros_like(weight)
        for position in np.ndindex(weight.shape):
            saved = weight[position]
            weight[position] = saved + step
            plus = loss_only()
            weight[position] = saved - step
            minus = loss_only()
            weight[position] = saved
            numeric[position] = (plus - minus) / (2 * step)
        scale = np.maximum(np.abs(numeric) + np.abs(analytic[index]), 1e-3)
        worst = max(worst, float(np.max(np.abs(numeric - analytic[index]) / scale)))
    assert worst < tolerance, f"relative gradient error {worst:.2e}"


def test_embedding_masked_stacked_recurrent_dense_gradients():
    rng = np.random.default_rng(0)
    model = Sequential(seed=1, dtype="float64")
    model.add(Embedding(7, 3, mask_zero=True))
    model.add(LSTM(3, return_sequences=True))
    model.add(GRU(3, return_sequences=True, go_backwards=True))
    model.add(SimpleRNN(2))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    x = padded_token_ids(rng, 4, 6, 7)
    y = rng.integers(0, 2, size=4).astype(float)
    assert_gradients_match(model, x, y)


def test_gru_reset_before_and_lstm_go_backwards_on_real_valued_input():
    rng = np.random.default_rng(1)
    model = Sequential(seed=2, dtype="float64")
    model.add(GRU(3, reset_after=False, return_sequences=True, input_shape=(None, 2)))
    model.add(LSTM(2, go_backwards=True))
    model.add(Dense(2))
    model.compile(optimizer="adam", loss="mse")
    x = rng.normal(size=(3, 5, 2))
    y = rng.normal(size=(3, 2))
    assert_gradients_match(model, x, y)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul"])
def test_bidirectional_gradients_for_each_merge_mode(merge_mode):
    rng = np.random.default_rng(2)
    model = Sequential(seed=3, dtype="float64")
    model.add(Embedding(6, 2, mask_zero=True))
    model.add(Bidirectional(SimpleRNN(2, return_sequences=True), merge_mode=merge_mode))
    model.add(Bidirectional(GRU(2), merge_mode=merge_mode))
    model.add(Dense(1))
    model.compile(optimizer="sgd", loss="mae" if merge_mode == "mul" else "mse")
    x = padded_token_ids(rng, 3, 5, 6)
    y = rng.normal(size=(3, 1))
    assert_gradients_match(model, x, y)


def test_per_timestep_softmax_with_masked_sparse_crossentropy():
    rng = np.random.default_rng(3)
    model = Sequential(seed=4, dtype="float64")
    model.add(Embedding(5, 3, mask_zero=True))
    model.add(LSTM(3, return_sequences=True))
    model.add(Dense(3, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = padded_token_ids(rng, 3, 5, 5)
    y = rng.integers(0, 3, size=(3, 5))
    assert_gradients_match(model, x, y)
