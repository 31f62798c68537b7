"""The forward pass for predict (`keep_for_backward=False`, the LSTM's lean kernel): the same numbers to
the last bit as the ordinary forward, in every case it takes; nothing kept, so backward refuses; and a
model's predict and evaluate use it while training does not."""

import numpy as np
import pytest

from rnnsim.cells import make_cell
from rnnsim.cells.embedding_lookup import TokenSequence
from rnnsim.errors import InputError
from rnnsim.layers import LSTM, Bidirectional, Dense, Embedding
from rnnsim.layers.base import in_inference, inference_only
from rnnsim.models import Sequential


def _same(full, lean, sequences=True):
    if sequences:
        np.testing.assert_array_equal(lean.outputs, full.outputs)
    else:
        assert lean.outputs is None
    for ours, theirs in zip(lean.final_states, full.final_states, strict=True):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activations", [("tanh", "sigmoid"), ("relu", "hard_sigmoid")])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_the_lean_forward_gives_the_ordinary_forwards_bits(dtype, activations, go_backwards, masked):
    rng = np.random.default_rng(4)
    cell = make_cell("lstm", 37, activation=activations[0], recurrent_activation=activations[1])
    weights = cell.init_weights(5, rng, dtype=dtype)
    x = rng.normal(size=(13, 9, 5)).astype(dtype)
    mask = rng.random((13, 9)) > 0.3 if masked else None
    states = tuple(rng.normal(size=(13, 37)).astype(dtype) for _ in range(2))
    full = cell.forward(x, weights, initial_state=states, mask=mask, go_backwards=go_backwards)
    lean = cell.forward(x, weights, initial_state=states, mask=mask, go_backwards=go_backwards,
                        keep_for_backward=False)
    _same(full, lean)
    assert lean.cache == {"lean": True} and lean.trace is None
    # inputs in time-major memory (a previous layer's outputs) are read in place
    time_major = np.ascontiguousarray(x.transpose(1, 0, 2)).transpose(1, 0, 2)
    _same(full, cell.forward(time_major, weights, initial_state=states, mask=mask, go_backwards=go_backwards,
                             keep_for_backward=False, return_sequences=False), sequences=False)
    # token input (an Embedding folded into the input projection)
    ids, table = rng.integers(0, 20, size=(13, 9)), rng.normal(size=(20, 5)).astype(dtype)
    _same(cell.forward(TokenSequence(ids, table), weights, mask=mask, go_backwards=go_backwards),
          cell.forward(TokenSequence(ids, table), weights, mask=mask, go_backwards=go_backwards,
                       keep_for_backward=False))


@pytest.mark.parametrize("units, threads", [(256, 2), (300, 3)])
def test_the_lean_forward_at_large_sizes_on_several_threads(units, threads, monkeypatch):
    from rnnsim import threads as rnnsim_threads

    monkeypatch.setattr(rnnsim_threads, "_threads", threads)
    rng = np.random.default_rng(5)
    cell = make_cell("lstm", units)
    weights = cell.init_weights(40, rng)
    x = rng.normal(size=(27, 6, 40)).astype(np.float32)
    _same(cell.forward(x, weights), cell.forward(x, weights, keep_for_backward=False))


def test_backward_refuses_a_lean_result_in_one_line():
    rng = np.random.default_rng(6)
    cell = make_cell("lstm", 4)
    weights = cell.init_weights(3, rng)
    result = cell.forward(rng.normal(size=(2, 5, 3)).astype(np.float32), weights, keep_for_backward=False)
    with pytest.raises(InputError, match="kept nothing for backward"):
        cell.backward(result)


def test_traces_and_dropout_masks_take_the_ordinary_forward():
    rng = np.random.default_rng(7)
    cell = make_cell("lstm", 4)
    weights = cell.init_weights(3, rng)
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    traced = cell.forward(x, weights, record_trace=True, keep_for_backward=False)
    assert traced.trace is not None and "gates" in traced.cache
    dropped = cell.forward(x, weights, recurrent_dropout_mask=np.ones((2, 4), np.float32), keep_for_backward=False)
    assert "gates" in dropped.cache
    gru = make_cell("gru", 4)  # cells without a lean forward run the ordinary one
    assert "gates" in gru.forward(x, gru.init_weights(3, rng), keep_for_backward=False).cache


def test_inference_only_is_a_block_that_nests_and_ends():
    assert not in_inference()
    with inference_only():
        with inference_only():
            assert in_inference()
        assert in_inference()
    assert not in_inference()


def _model(layers):
    model = Sequential(seed=0)
    for layer in layers:
        model.add(layer)
    model.compile(optimizer="rmsprop", loss="mse")
    return model


def test_predict_and_evaluate_run_lean_and_training_afterwards_is_unchanged():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(10, 7, 3)).astype(np.float32)
    y = rng.normal(size=(10, 1)).astype(np.float32)
    model = _model([LSTM(6, return_sequences=True, input_shape=(7, 3)), LSTM(5), Dense(1)])
    twin = _model([LSTM(6, return_sequences=True, input_shape=(7, 3)), LSTM(5), Dense(1)])
    with_backward = twin(x)  # __call__ keeps the ordinary forward
    np.testing.assert_array_equal(model.predict(x, batch_size=4), np.concatenate(
        [twin(x[i : i + 4]) for i in range(0, 10, 4)]))
    np.testing.assert_array_equal(model.predict_on_batch(x), with_backward)
    assert all(layer._result is None or layer._result.cache.get("lean") for layer in model.layers[:2])
    assert model.evaluate(x, y, batch_size=10) == twin.evaluate(x, y, batch_size=10)
    losses = [model.train_on_batch(x, y) for _ in range(3)]  # after lean passes, training runs as always
    assert losses == [twin.train_on_batch(x, y) for _ in range(3)]
    assert not in_inference()


def test_predict_of_an_embedding_and_a_bidirectional_lstm_matches_the_ordinary_forward():
    rng = np.random.default_rng(9)
    ids = rng.integers(1, 30, size=(6, 11))
    ids[:, 8:] = 0  # padding, masked
    layers = [Embedding(30, 4, mask_zero=True, input_shape=(11,)), Bidirectional(LSTM(5)), Dense(1)]
    model = _model(layers)
    lean = model.predict_on_batch(ids)
    ordinary = model(ids)
    np.testing.assert_array_equal(lean, ordinary)


def _lstm_model(dtype="float32", first=None):
    model = Sequential([first or LSTM(6, input_shape=(None, 3)), Dense(1)], dtype=dtype)
    model.compile(loss="mse")
    return model


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_an_lstm_first_model_checks_its_input_for_nan_inside_the_pass_with_the_models_message(
        threads, dtype, monkeypatch):
    from rnnsim import threads as rnnsim_threads
    from rnnsim.cells import checks

    monkeypatch.setattr(rnnsim_threads, "_threads", threads)
    model = _lstm_model(dtype)
    x = np.random.default_rng(0).standard_normal((7, 5, 3)).astype(dtype)
    assert model._checks_inputs_in_pass()
    clean = model.predict_on_batch(x)
    passes = []
    real = checks.all_finite
    monkeypatch.setattr("rnnsim.models.training.all_finite", lambda v: passes.append(v.shape) or real(v))
    np.testing.assert_array_equal(model.predict_on_batch(x), clean)
    assert passes == []  # the model read x for NaN in no pass of its own
    for sample, step, feature in ((0, 0, 0), (4, 2, 1), (6, 4, 2)):
        for value in (np.nan, np.inf, -np.inf):
            bad = x.copy()
            bad[sample, step, feature] = value
            with pytest.raises(InputError, match=rf"^x contains NaN or infinity \(first in sample {sample}\); "
                                                 "clean or impute the data$"):
                model.predict_on_batch(bad)
    bad = x.copy()
    bad[5, 1, 1] = np.nan
    with pytest.raises(InputError, match=r"first in sample 5\)"):  # numbered in x, not in its batch of 2
        model.predict(bad, batch_size=2)
    with pytest.raises(InputError, match=r"first in sample 5\)"):
        model.evaluate(bad, np.zeros((7, 1)), batch_size=2)


def test_when_no_kernel_checked_the_input_the_model_does_after_the_pass(monkeypatch):
    from rnnsim.cells import lstm

    model = _lstm_model()
    bad = np.random.default_rng(1).standard_normal((4, 5, 3)).astype(np.float32)
    bad[2, 3, 0] = np.nan
    monkeypatch.setattr(lstm, "pending_check", lambda array: None)  # as if the array had been copied on the way
    with pytest.raises(InputError, match=r"^x contains NaN or infinity \(first in sample 2\)"):
        model.predict_on_batch(bad)


def test_models_whose_first_layer_cannot_check_in_the_pass_check_before_it():
    from rnnsim.layers import GRU

    for first in (GRU(4, input_shape=(None, 3)), Bidirectional(LSTM(4), input_shape=(None, 3))):
        model = _lstm_model(first=first)
        assert not model._checks_inputs_in_pass()
        bad = np.zeros((3, 4, 3), np.float32)
        bad[1, 0, 2] = np.inf
        with pytest.raises(InputError, match=r"^x contains NaN or infinity \(first in sample 1\)"):
            model.predict_on_batch(bad)
