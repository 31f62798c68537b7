"""rnnsim.analysis: per-step gains, saturation, connectivity through predict, what-if edits (float64)."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from helpers import make_trace

from rnnsim.analysis import (
    Edit,
    apply_edit,
    clone_model,
    connectivity,
    gain_profile,
    parse_edit,
    saturation,
    saturation_record,
    what_if,
)
from rnnsim.analysis.connectivity import marker_ranks
from rnnsim.cells import GRUCell, LSTMCell, SimpleRNNCell
from rnnsim.datasets.synthetic import adding_problem
from rnnsim.errors import InputError
from rnnsim.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN
from rnnsim.models import Sequential
from rnnsim.render.lineplot import mean_gradient_norm

CELLS = {"simple_rnn": SimpleRNNCell, "lstm": LSTMCell, "gru": GRUCell}
LAYERS = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}


def _probed_trace(cell_name, go_backwards=False, mask=None, steps=30, seed=0):
    """A real cell's trace after backward with the loss L = sum(h_T * w)."""
    rng = np.random.default_rng(seed)
    cell = CELLS[cell_name](5)
    weights = cell.init_weights(2, rng, np.float64)
    x = rng.normal(0, 1, (4, steps, 2))
    result = cell.forward(x, weights, record_trace=True, go_backwards=go_backwards, mask=mask)
    cell.backward(result, grad_final_states=(rng.normal(size=(4, 5)),))
    return result.trace, weights


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_the_product_of_the_gains_is_the_ratio_of_the_gradient_curve_ends(cell):
    trace, _ = _probed_trace(cell)
    profile = gain_profile(trace)
    curve = mean_gradient_norm(trace)  # what the Compare tab plots and prints the ratio of
    assert np.isnan(profile.gain[0]) and profile.first == 0 and profile.last == 29
    assert np.prod(profile.gain[1:]) == pytest.approx(curve[0] / curve[-1], rel=1e-9)
    assert profile.total == pytest.approx(curve[0] / curve[-1], rel=1e-9)
    assert profile.geometric_mean == pytest.approx((curve[0] / curve[-1]) ** (1 / 29), rel=1e-9)
    one = gain_profile(trace, sample=2)
    norms = trace.grad_hidden_norm[2]
    np.testing.assert_allclose(one.gain[1:], norms[:-1] / norms[1:], rtol=1e-12)


def test_a_layer_reading_backwards_steps_back_towards_the_end():
    trace, _ = _probed_trace("gru", go_backwards=True)
    profile = gain_profile(trace, sample=0)
    norms = trace.grad_hidden_norm[0]
    assert (profile.first, profile.last) == (29, 0) and np.isnan(profile.gain[29])
    np.testing.assert_allclose(profile.gain[:-1], norms[1:] / norms[:-1], rtol=1e-12)
    assert profile.total == pytest.approx(norms[29] / norms[0], rel=1e-12)


def test_simple_rnn_factors_multiply_to_the_gain_and_an_orthogonal_u_keeps_the_norm():
    trace, weights = _probed_trace("simple_rnn")
    profile = gain_profile(trace, recurrent_kernel=weights["recurrent_kernel"])
    np.testing.assert_allclose(profile.tanh_factor[1:] * profile.recurrent_factor[1:], profile.gain[1:], rtol=1e-12)
    # Keras's orthogonal U keeps every vector's length, so all the shrinking is tanh'(a_t)'s:
    np.testing.assert_allclose(profile.recurrent_factor[1:], 1.0, rtol=1e-10)
    assert profile.recurrent_norm == pytest.approx(1.0, rel=1e-10)
    assert np.all(profile.tanh_factor[1:] <= 1.0)
    # tanh' is |dL/dh_t * (1 - h_t^2)| / |dL/dh_t|: at most the largest 1 - h^2 of the step, at least the smallest
    slope = 1.0 - trace.hidden**2
    assert np.all(profile.tanh_factor[1:] <= np.exp(np.log(slope.max(axis=2)).mean(axis=0))[1:] + 1e-12)
    text = profile.sentence()
    assert "from t=29 back to t=0 the gradient is multiplied by" in text and "tanh' contributes" in text


def test_simple_rnn_factors_are_one_where_the_state_is_carried_over():
    mask = np.ones((4, 30), bool)
    mask[:, 10:14] = False
    trace, _ = _probed_trace("simple_rnn", mask=mask)
    profile = gain_profile(trace)
    np.testing.assert_allclose(profile.gain[10:14], 1.0, rtol=1e-12)
    np.testing.assert_allclose(profile.tanh_factor[10:14], 1.0)
    np.testing.assert_allclose(profile.recurrent_factor[10:14], 1.0, rtol=1e-12)


def test_lstm_cell_path_gain_beside_the_forget_gate():
    trace, _ = _probed_trace("lstm")
    profile = gain_profile(trace, sample=1)
    cell_norms = trace.grad_cell_norm[1]
    np.testing.assert_allclose(profile.cell_gain[1:], cell_norms[:-1] / cell_norms[1:], rtol=1e-12)
    np.testing.assert_allclose(profile.forget_mean, trace.gates["forget"][1].mean(axis=1))
    assert profile.cell_total == pytest.approx(cell_norms[0] / cell_norms[-1], rel=1e-9)
    assert "along the cell state c" in profile.sentence()


def test_gain_of_a_trace_without_backward_is_none():
    trace, _ = _probed_trace("lstm")
    trace.grad_hidden_norm = None
    assert gain_profile(trace) is None


def test_saturation_counts_real_steps_below_and_above_the_thresholds():
    trace = make_trace("lstm", batch=2, steps=10, units=3)
    forget = np.full((2, 10, 3), 0.5)
    forget[:, :, 0] = 0.95  # unit 0: always open
    forget[:, :4, 1] = 0.05  # unit 1: shut for 4 of 10 steps
    forget[0, :, 2] = 0.99  # unit 2: open in sample 0 only
    trace.gates["forget"] = forget
    result = saturation(trace)
    assert list(result) == ["input", "forget", "output"]  # the sigmoid gates, not the candidate
    np.testing.assert_allclose(result["forget"].high, [1.0, 0.0, 0.5])
    np.testing.assert_allclose(result["forget"].low, [0.0, 0.4, 0.0])
    trace.mask = np.ones((2, 10), bool)
    trace.mask[:, :4] = False  # the shut steps were padding: they do not count
    masked = saturation(trace)["forget"]
    np.testing.assert_allclose(masked.low, [0.0, 0.0, 0.0])
    assert masked.steps == 12
    record = saturation_record(trace, epoch=3)
    assert record["epoch"] == 3 and record["gates"]["forget"]["high"] == [1.0, 0.0, 0.5]
    assert saturation(make_trace("simple_rnn")) == {}


def _model(cell, seed=1, **layer_options):
    model = Sequential([LAYERS[cell](4, input_shape=(None, 2), **layer_options), Dense(1)], dtype="float64",
                       seed=seed)
    model.compile(loss="mse")
    return model


def _central_differences(model, x, output=lambda y: y[:, 0], eps=1e-6):
    grad = np.zeros(x.shape)
    for t in range(x.shape[1]):
        for d in range(x.shape[2]):
            up, down = x.copy(), x.copy()
            up[:, t, d] += eps
            down[:, t, d] -= eps
            grad[:, t, d] = (output(model.predict(up)) - output(model.predict(down))) / (2 * eps)
    return np.linalg.norm(grad, axis=2)


@pytest.mark.parametrize("cell", sorted(LAYERS))
def test_connectivity_matches_central_differences_through_predict(cell):
    x = adding_problem(5, 12, seed=3)[0].astype(np.float64)
    model = _model(cell)
    before = [w.copy() for w in model.get_weights()]
    measured = connectivity(model, x, batch_size=2)  # several probes: the rows must line up
    np.testing.assert_allclose(measured, _central_differences(model, x), rtol=1e-6, atol=1e-10)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # the model is untouched


def test_connectivity_of_text_is_the_gradient_at_each_word_embedding():
    rng = np.random.default_rng(0)
    model = Sequential([Embedding(20, 3), LSTM(4), Dense(1, activation="sigmoid")], dtype="float64", seed=2)
    model.compile(loss="binary_crossentropy")
    ids = rng.integers(0, 20, (3, 7))
    measured = connectivity(model, ids)
    # The same weights without the Embedding, fed the embedded words: differences on the embedding vectors.
    dense = Sequential([LSTM(4, input_shape=(None, 3)), Dense(1, activation="sigmoid")], dtype="float64")
    dense.set_weights(model.get_weights()[1:])
    dense.compile(loss="mse")
    embedded = model.layers[0].get_weights()[0][ids]
    np.testing.assert_allclose(measured, _central_differences(dense, embedded), rtol=1e-6, atol=1e-10)


def test_connectivity_of_a_sequence_output_reads_the_chosen_step_and_class():
    rng = np.random.default_rng(4)
    model = Sequential([GRU(4, input_shape=(None, 3), return_sequences=True), Dense(3, activation="softmax")],
                       dtype="float64", seed=5)
    model.compile(loss="sparse_categorical_crossentropy")
    x = rng.normal(size=(2, 6, 3))
    measured = connectivity(model, x, unit=2, step=3)
    expected = _central_differences(model, x, output=lambda y: y[:, 3, 2])
    np.testing.assert_allclose(measured, expected, rtol=1e-6, atol=1e-10)
    assert np.all(measured[:, 4:] < 1e-12)  # steps after the output step cannot have moved it


def test_connectivity_refuses_what_it_cannot_measure():
    bidirectional = Sequential([Bidirectional(LSTM(3), input_shape=(None, 2)), Dense(1)])
    bidirectional.compile(loss="mse")
    with pytest.raises(InputError, match="Bidirectional"):
        connectivity(bidirectional, np.zeros((1, 4, 2)))
    dense_first = Sequential([Dense(3, input_shape=(None, 2)), LSTM(3), Dense(1)])
    dense_first.compile(loss="mse")
    with pytest.raises(InputError, match="comes before it"):
        connectivity(dense_first, np.zeros((1, 4, 2)))


def test_marker_ranks_counts_the_samples_whose_top_two_are_the_markers():
    rows = np.array([[0.1, 5.0, 0.2, 4.0], [3.0, 0.1, 2.0, 0.5], [0.1, 1.0, 0.2, 4.0]])
    markers = np.array([[0, 1, 0, 1], [0, 1, 0, 1], [0, 1, 0, 1]], bool)
    ranks = marker_ranks(rows, markers)
    assert ranks["top_two"] == pytest.approx(2 / 3)
    assert ranks["first_over_second"] == pytest.approx(np.median([5 / 4, 0.1 / 0.5, 1 / 4]))


def test_what_if_edits_a_copy_and_never_the_model_or_its_file(tmp_path):
    x, y = adding_problem(4, 15, seed=1)
    model = _model("lstm")
    path = tmp_path / "model.npz"
    model.save(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    before = [w.copy() for w in model.get_weights()]
    result = what_if(model, x, y, Edit("forget_bias", -3.0))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert result.trained == pytest.approx(1.0)  # Keras's unit_forget_bias
    assert result.before.traces[0].gates["forget"].mean() > 0.6 > 0.1 > result.after.traces[0].gates["forget"].mean()
    # Forgetting at every step: much less gradient reaches t=0 than with the trained bias.
    assert gain_profile(result.after.traces[0]).total < 1e-3 * gain_profile(result.before.traces[0]).total
    assert "forget-gate bias b_f = -3 (as trained: 1)" in result.summary()


def test_edits_set_each_cells_bias_or_scale_u():
    lstm = clone_model(_model("lstm"))
    apply_edit(lstm, Edit("forget_bias", 2.0))
    bias = lstm.layers[0].get_weights()[2]
    assert np.all(bias[4:8] == 2.0) and np.all(bias[:4] == 0.0) and np.all(bias[8:] == 0.0)
    gru = clone_model(_model("gru"))
    apply_edit(gru, Edit("update_bias", -1.5))
    bias = gru.layers[0].get_weights()[2]  # reset_after: (2, 3U), input and recurrent parts
    assert np.all(bias[0, :4] == -1.5) and np.all(bias[1, :4] == 0.0)
    gru_before = clone_model(_model("gru", reset_after=False))
    apply_edit(gru_before, Edit("update_bias", 1.0))
    assert np.all(gru_before.layers[0].get_weights()[2][:4] == 1.0)
    simple = _model("simple_rnn")
    scaled = clone_model(simple)
    apply_edit(scaled, Edit("recurrent_scale", 0.5))
    np.testing.assert_array_equal(scaled.layers[0].get_weights()[1], 0.5 * simple.layers[0].get_weights()[1])
    with pytest.raises(InputError, match="changes an LSTM layer"):
        apply_edit(clone_model(simple), Edit("forget_bias", 0.0))


def test_a_smaller_recurrent_matrix_makes_the_simple_rnn_forget_faster():
    x, y = adding_problem(4, 20, seed=2)
    result = what_if(_model("simple_rnn"), x, y, Edit("recurrent_scale", 0.5))
    before, after = gain_profile(result.before.traces[0]), gain_profile(result.after.traces[0])
    assert after.geometric_mean < 0.6 * before.geometric_mean
    assert after.recurrent_factor[1:].max() <= 0.5 + 1e-9  # ||v (0.5 U)^T|| = 0.5 ||v|| for an orthogonal U


@pytest.mark.parametrize(
    "text, message",
    [("forget_bias", "NAME=VALUE"), ("colour=2", "NAME=VALUE"), ("b_f=abc", "not a number"),
     ("scale=inf", "finite")],
)
def test_a_bad_what_if_is_one_clear_error(text, message):
    with pytest.raises(InputError, match=message):
        parse_edit(text)


def test_what_if_names_parse_in_the_short_forms():
    assert parse_edit("b_f=0") == Edit("forget_bias", 0.0)
    assert parse_edit("update_bias=-1") == Edit("update_bias", -1.0)
    assert parse_edit("U=0.5").describe() == "recurrent matrix U x 0.5"


def test_a_what_if_shows_the_layer_it_edited_not_the_first_one():
    # a GRU, then an LSTM: forget_bias edits the LSTM, and its traces are the ones to show
    from rich.console import Console

    from rnnsim.render.whatif import whatif_view

    x, y = adding_problem(4, 12, seed=3)
    model = Sequential([GRU(4, return_sequences=True, input_shape=(None, 2)), LSTM(3), Dense(1)], dtype="float64",
                       seed=1)
    model.compile(loss="mse")
    result = what_if(model, x, y, Edit("forget_bias", -3.0))
    before, after = result.traces()
    assert before.cell == after.cell == "lstm" and result.layers == [model.layers[1].name]
    assert after.gates["forget"].mean() < before.gates["forget"].mean()  # sigma(z - 3): the edit shows
    console = Console(width=80, file=io.StringIO(), color_system=None)
    console.print(whatif_view(result, width=80))  # drawn from the LSTM's traces (the GRU has no forget gate)
    assert "edited: forget gate f" in console.file.getvalue()
