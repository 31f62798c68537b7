"""Token input (rnnsim/cells/tokens.py): an Embedding lookup folded into the recurrent cell's input
projection must give the numbers of the plain path, embedded array in, dL/dx out, to float64 rounding."""

import numpy as np
import pytest

from rnnsim.cells import GRUCell, LSTMCell, SimpleRNNCell
from rnnsim.cells.tokens import TokenSequence
from rnnsim.errors import InputError
from rnnsim.layers import GRU, LSTM, Dense, Embedding, SimpleRNN
from rnnsim.models import Sequential

CELLS = {
    "simple_rnn": lambda: SimpleRNNCell(5),
    "lstm": lambda: LSTMCell(4),
    "gru": lambda: GRUCell(3),
    "gru_before": lambda: GRUCell(3, reset_after=False),
}


def _case(seed=0, vocab=11, dim=6, batch=5, timesteps=7):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, (batch, timesteps))
    ids[0, :] = 3  # a repeated token: its gradient rows must add up
    table = rng.normal(size=(vocab, dim))
    return rng, ids, table


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("variant", list(CELLS))
def test_token_input_matches_the_embedded_array(variant, go_backwards):
    cell = CELLS[variant]()
    rng, ids, table = _case()
    weights = cell.init_weights(table.shape[1], rng, np.float64)
    if "bias" in weights:
        weights["bias"] = rng.normal(size=weights["bias"].shape)
    mask = ids != 5
    dense = cell.forward(table[ids], weights, mask=mask, go_backwards=go_backwards, record_trace=True)
    fused = cell.forward(TokenSequence(ids, table), weights, mask=mask, go_backwards=go_backwards,
                         record_trace=True)
    np.testing.assert_allclose(fused.outputs, dense.outputs, rtol=1e-12, atol=1e-13)
    for name in dense.trace.gate_names:
        np.testing.assert_allclose(fused.trace.preactivations[name], dense.trace.preactivations[name],
                                   rtol=1e-12, atol=1e-13)
    grad_outputs = rng.normal(size=dense.outputs.shape)
    g_dense = cell.backward(dense, grad_outputs=grad_outputs)
    g_fused = cell.backward(fused, grad_outputs=grad_outputs)
    for key in weights:
        np.testing.assert_allclose(g_fused.weights[key], g_dense.weights[key], rtol=1e-11, atol=1e-12, err_msg=key)
    # dL/dE[v] is the sum of dL/dx over every step that read token v; rows only for tokens the batch used
    expected = np.zeros_like(table)
    np.add.at(expected, ids, g_dense.inputs)
    assert sorted(g_fused.inputs.rows.tolist()) == sorted(set(ids.ravel().tolist()))
    np.testing.assert_allclose(g_fused.inputs.to_dense(), expected, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(g_fused.grad_hidden_norm, g_dense.grad_hidden_norm, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("units, threads", [(4, 1), (37, 2), (260, 3)])
def test_the_lstm_looks_its_tokens_up_in_the_loop_and_gives_the_embedded_arrays_bits(dtype, units, threads,
                                                                                     monkeypatch):
    # the LSTM's kernels take x_t = table[ids[:, t]] step by step into [x_t, h_{t-1}] [W; U], as they read
    # an embedded x: the same products in the same order, so the same bits, predict and training alike
    from rnnsim import threads as rnnsim_threads

    monkeypatch.setattr(rnnsim_threads, "_threads", threads)
    rng, ids, table = _case(seed=3, vocab=50, dim=9, batch=11, timesteps=6)
    table = table.astype(dtype)
    cell = LSTMCell(units)
    weights = cell.init_weights(table.shape[1], rng, dtype)
    weights["bias"] = rng.normal(size=weights["bias"].shape).astype(dtype)
    mask = ids != 5
    for keep in (True, False):
        dense = cell.forward(table[ids], weights, mask=mask, keep_for_backward=keep)
        fused = cell.forward(TokenSequence(ids.astype(np.int32), table), weights, mask=mask, keep_for_backward=keep)
        np.testing.assert_array_equal(fused.outputs, dense.outputs)
        for ours, theirs in zip(fused.final_states, dense.final_states, strict=True):
            np.testing.assert_array_equal(ours, theirs)
    assert fused.cache == {"lean": True}
    traced = cell.forward(TokenSequence(ids, table), weights, mask=mask, record_trace=True)
    np.testing.assert_array_equal(traced.outputs, dense.outputs)
    assert traced.cache["token_ids"].dtype == np.intp and traced.cache["token_ids"].shape == ids.T.shape


def test_token_input_rejects_bad_ids_and_input_dropout():
    cell = LSTMCell(4)
    rng, ids, table = _case()
    weights = cell.init_weights(table.shape[1], rng, np.float64)
    with pytest.raises(InputError, match="token ids must lie in"):
        cell.forward(TokenSequence(ids + 20, table), weights)
    with pytest.raises(InputError, match="integer ids"):
        cell.forward(TokenSequence(ids.astype(float), table), weights)
    with pytest.raises(InputError, match="no input dropout"):
        cell.forward(TokenSequence(ids, table), weights, input_dropout_mask=np.ones((ids.shape[0], table.shape[1])))
    bad = table.copy()
    bad[2, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        cell.forward(TokenSequence(ids, bad), weights)


def _model(layer, seed):
    model = Sequential(seed=seed)
    model.add(Embedding(50, 8, input_shape=(12,)))
    model.add(layer)
    model.add(Dense(1, activation="sigmoid"))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("make_layer", [lambda: SimpleRNN(6), lambda: LSTM(5), lambda: GRU(4)])
def test_sequential_folds_the_embedding_and_trains_to_the_same_weights(make_layer, monkeypatch):
    # Sequential hands an Embedding's output to a following recurrent layer as a TokenSequence. Training
    # that way must end where the plain path (the lookup refused) ends, up to float32 rounding.
    rng = np.random.default_rng(1)
    x = rng.integers(0, 50, (32, 12))
    y = (x[:, :3].sum(axis=1) > 75).astype(np.float32)[:, None]
    folded = _model(make_layer(), seed=3)
    calls = []
    original = Embedding.forward_tokens
    monkeypatch.setattr(Embedding, "forward_tokens", lambda self, ids: calls.append(1) or original(self, ids))
    folded.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert calls, "the Embedding was not folded into the recurrent layer"
    plain = _model(make_layer(), seed=3)
    for layer in plain.layers:
        if hasattr(layer, "accepts_tokens"):
            monkeypatch.setattr(layer, "accepts_tokens", lambda training: False)
    calls.clear()
    plain.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert not calls
    for a, b in zip(folded.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(folded.predict(x), plain.predict(x), rtol=1e-4, atol=1e-5)


def test_recurrent_layer_with_input_dropout_is_not_folded_while_training():
    layer = LSTM(4, dropout=0.5)
    model = _model(layer, seed=0)
    model.predict(np.zeros((2, 12), int))
    assert layer.accepts_tokens(training=False) and not layer.accepts_tokens(training=True)
