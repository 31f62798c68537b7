"""Masking: padded float sequences are skipped by the recurrent layers, as in Keras."""

import numpy as np

from rnnsim.layers import LSTM, Dense, Masking
from rnnsim.models import Sequential, load_model


def test_masking_makes_padding_invisible_to_the_recurrent_layer(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 4)).astype(np.float32)
    padded = np.concatenate([np.zeros((3, 2, 4), np.float32), x], axis=1)  # 'pre' padding, as pad_sequences
    model = Sequential([Masking(0.0), LSTM(6), Dense(1)], seed=1)
    unpadded = Sequential([LSTM(6), Dense(1)], seed=1)
    model.build((None, None, 4))
    unpadded.build((None, None, 4))
    unpadded.set_weights(model.get_weights())  # Masking has no weights: the lists line up
    np.testing.assert_allclose(model.predict(padded), unpadded.predict(x), rtol=1e-6, atol=1e-6)

    # a gradient step sees only the real steps as well
    model.compile("sgd", "mse")
    unpadded.compile("sgd", "mse")
    y = rng.normal(size=(3, 1)).astype(np.float32)
    model.train_on_batch(padded, y)
    unpadded.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), unpadded.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(load_model(tmp_path / "m.npz").predict(padded), model.predict(padded))
