"""Layers: Keras parameter counts and weight layout, Embedding's sparse gradient, dropout masks, masks."""

import numpy as np
import pytest

from rnnsim.errors import InputError
from rnnsim.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, SimpleRNN
from rnnsim.optimizers import SparseRows


def built(layer, input_shape):
    layer.attach_rngs([0, 0])
    layer.build(input_shape)
    return layer


@pytest.mark.parametrize("layer,input_shape,count,shapes", [
    (SimpleRNN(32), (None, None, 32), 2_080, [(32, 32), (32, 32), (32,)]),
    (LSTM(32), (None, None, 32), 8_320, [(32, 128), (32, 128), (128,)]),
    (GRU(32), (None, None, 14), 4_608, [(14, 96), (32, 96), (2, 96)]),
    (GRU(32, reset_after=False), (None, None, 14), 4_512, [(14, 96), (32, 96), (96,)]),
    (Embedding(10000, 32), (None, None), 320_000, [(10000, 32)]),
    (Dense(1), (None, 32), 33, [(32, 1), (1,)]),
    (Bidirectional(LSTM(32)), (None, None, 32), 16_640, [(32, 128), (32, 128), (128,)] * 2),
])
def test_parameter_counts_and_weight_order_equal_keras(layer, input_shape, count, shapes):
    built(layer, input_shape)
    assert layer.count_params() == count
    assert [w.shape for w in layer.get_weights()] == shapes


def test_lstm_forget_bias_starts_at_one_and_embedding_is_uniform_005():
    lstm = built(LSTM(4), (None, None, 3))
    np.testing.assert_array_equal(lstm.get_weights()[2], np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    table = built(Embedding(500, 8), (None, None)).get_weights()[0]
    assert table.dtype == np.float32 and np.abs(table).max() <= 0.05 and np.abs(table).max() > 0.04


def test_embedding_gradient_is_sparse_rows_summed_over_repeats():
    layer = built(Embedding(50, 2), (None, None))
    ids = np.array([[3, 7, 3], [0, 7, 7]])
    layer.forward(ids)
    layer.backward(np.ones((2, 3, 2), dtype=np.float32))
    gradient = layer.gradients[0]
    assert isinstance(gradient, SparseRows)
    as_dict = {int(r): v for r, v in zip(gradient.rows, gradient.values)}
    assert sorted(as_dict) == [0, 3, 7]
    np.testing.assert_array_equal(as_dict[7], [3.0, 3.0])
    np.testing.assert_array_equal(as_dict[3], [2.0, 2.0])


def test_embedding_rejects_out_of_range_ids():
    layer = built(Embedding(10, 2), (None, None))
    with pytest.raises(InputError, match=r"\[0, 9\]"):
        layer.forward(np.array([[1, 10]]))


def test_dense_applies_per_timestep_on_sequences():
    dense = built(Dense(3, activation="tanh"), (None, None, 4))
    x = np.random.default_rng(0).normal(size=(2, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(dense.forward(x)[1, 2], np.tanh(x[1, 2] @ dense.weights[0] + dense.weights[1]),
                               rtol=1e-6)


def test_recurrent_dropout_masks_are_per_sequence_inverted_and_only_in_training():
    layer = built(GRU(4, dropout=0.5, recurrent_dropout=0.25), (None, None, 6))
    input_mask, recurrent_mask = layer._dropout_masks(3, 6, training=True)
    assert input_mask.shape == (3, 6) and recurrent_mask.shape == (3, 4)
    assert set(np.unique(input_mask)) <= {0.0, 2.0}
    assert set(np.unique(recurrent_mask)) <= {0.0, np.float32(1 / 0.75)}
    assert layer._dropout_masks(3, 6, training=False) == (None, None)
    x = np.random.default_rng(0).normal(size=(3, 5, 6)).astype(np.float32)
    np.testing.assert_array_equal(layer.forward(x), layer.forward(x))  # inference: no dropout


def test_dropout_layer_scales_kept_values():
    layer = built(Dropout(0.5), (None, 100))
    out = layer.forward(np.ones((4, 100), dtype=np.float32), training=True)
    assert set(np.unique(out)) <= {0.0, 2.0} and 0 < (out == 0).mean() < 1
    np.testing.assert_array_equal(layer.forward(np.ones((4, 100), dtype=np.float32)), 1.0)


def test_bidirectional_reverses_the_backward_sequence_to_input_order():
    layer = built(Bidirectional(SimpleRNN(3, return_sequences=True)), (None, None, 2))
    x = np.random.default_rng(0).normal(size=(2, 4, 2)).astype(np.float32)
    merged = layer.forward(x)
    backward_alone = layer.backward_layer.forward(x)  # processing order: step 0 read x[:, -1]
    np.testing.assert_allclose(merged[:, :, 3:], backward_alone[:, ::-1], rtol=1e-6)
    assert layer.backward_layer.go_backwards and not layer.forward_layer.go_backwards


def test_return_state_when_called_directly():
    layer = LSTM(3, return_state=True)
    output, hidden, cell = layer(np.zeros((2, 4, 5), dtype=np.float32))
    assert output.shape == hidden.shape == cell.shape == (2, 3)


def test_bad_layer_arguments_raise_input_error():
    for make in (lambda: SimpleRNN(0), lambda: LSTM(4, dropout=1.5), lambda: Dense(2, activation="swishy"),
                 lambda: Bidirectional(Dense(2)), lambda: Bidirectional(GRU(2), merge_mode="max"),
                 lambda: Embedding(10, 2, embeddings_initializer="nope"), lambda: GRU(3, whatever=1)):
        with pytest.raises(InputError):
            make()
    layer = built(Dense(2), (None, 3))
    with pytest.raises(InputError, match="shape"):
        layer.set_weights([np.zeros((4, 2)), np.zeros(2)])
