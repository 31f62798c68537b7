"""The Numba cells against the plain-NumPy reference, against finite differences, and against
numbers worked out by hand from the equations."""

import math

import numpy as np
import pytest
from helpers import CELL_VARIANTS, FEATURES, OPTIONS, UNITS, make_case, run_reference

from rnnsim import reference
from rnnsim.cells import GRUCell, LSTMCell, SimpleRNNCell, make_cell
from rnnsim.errors import InputError


@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("variant", list(CELL_VARIANTS))
def test_kernels_match_reference_float64(variant, option):
    cell = CELL_VARIANTS[variant]()
    weights, x, kwargs, grad_outputs, grad_final = make_case(cell, OPTIONS[option])
    result = cell.forward(x, weights, record_trace=True, **kwargs)
    grads = cell.backward(result, grad_outputs=grad_outputs, grad_final_states=grad_final)
    forward, backward = run_reference(cell, weights, x, kwargs, grad_outputs, grad_final)

    tol = dict(rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(result.trace.hidden, forward["hidden"], **tol)
    expected_outputs = forward["hidden"][:, ::-1] if kwargs["go_backwards"] else forward["hidden"]
    np.testing.assert_allclose(result.outputs, expected_outputs, **tol)
    for name, value in forward["gates"].items():
        np.testing.assert_allclose(result.trace.gates[name], value, err_msg=name, **tol)
    stacked_pre = np.concatenate([result.trace.preactivations[n] for n in result.trace.gate_names], axis=2)
    np.testing.assert_allclose(stacked_pre, forward["preactivation"], **tol)
    if cell.name == "lstm":
        np.testing.assert_allclose(result.trace.cell_state, forward["cell"], **tol)

    for key in weights:
        np.testing.assert_allclose(grads.weights[key], backward[key], err_msg=key, **tol)
    np.testing.assert_allclose(grads.inputs, backward["inputs"], **tol)
    for ours, theirs in zip(grads.initial_state, backward["states"], strict=True):
        np.testing.assert_allclose(ours, theirs, **tol)
    np.testing.assert_allclose(grads.grad_hidden_norm, backward["grad_hidden_norm"], **tol)
    np.testing.assert_allclose(result.trace.grad_hidden_norm, backward["grad_hidden_norm"], **tol)
    if cell.name == "lstm":
        np.testing.assert_allclose(grads.grad_cell_norm, backward["grad_cell_norm"], **tol)


@pytest.mark.parametrize("variant", list(CELL_VARIANTS))
def test_kernels_match_reference_float32(variant):
    """float32 runs the fast rational tanh/sigmoid: agreement at float32 precision."""
    cell = CELL_VARIANTS[variant]()
    weights64, x64, kwargs64, grad_outputs, grad_final = make_case(cell, OPTIONS["everything"])
    to32 = lambda a: None if a is None else a.astype(np.float32)  # noqa: E731
    weights = {k: to32(v) for k, v in weights64.items()}
    kwargs = {k: (tuple(map(to32, v)) if isinstance(v, tuple) else to32(v) if isinstance(v, np.ndarray)
                  and v.dtype != bool else v) for k, v in kwargs64.items()}
    result = cell.forward(to32(x64), weights, **kwargs)
    assert result.outputs.dtype == np.float32
    grads = cell.backward(result, grad_outputs=to32(grad_outputs), grad_final_states=tuple(map(to32, grad_final)))
    forward, backward = run_reference(cell, weights64, x64, kwargs64, grad_outputs, grad_final)
    expected_outputs = forward["hidden"][:, ::-1] if kwargs["go_backwards"] else forward["hidden"]
    np.testing.assert_allclose(result.outputs, expected_outputs, rtol=1e-4, atol=2e-6)
    for key in weights:
        np.testing.assert_allclose(grads.weights[key], backward[key], rtol=1e-4, atol=2e-5, err_msg=key)
    np.testing.assert_allclose(grads.inputs, backward["inputs"], rtol=1e-4, atol=2e-5)


def _loss(cell, weights, x, kwargs, grad_outputs, grad_final):
    """A scalar loss whose gradient is (grad_outputs, grad_final): L = sum(G * outputs) + sum(g * states)."""
    result = cell.forward(x, weights, **kwargs)
    loss = 0.0 if grad_outputs is None else float(np.sum(grad_outputs * result.outputs))
    for g, state in zip(grad_final, result.final_states, strict=True):
        loss += float(np.sum(g * state))
    return loss


@pytest.mark.parametrize("option", ["plain", "everything"])
@pytest.mark.parametrize("variant", list(CELL_VARIANTS))
def test_gradients_match_central_differences(variant, option):
    cell = CELL_VARIANTS[variant]()
    weights, x, kwargs, grad_outputs, grad_final = make_case(cell, OPTIONS[option], seed=3)
    result = cell.forward(x, weights, **kwargs)
    grads = cell.backward(result, grad_outputs=grad_outputs, grad_final_states=grad_final)
    eps = 1e-6
    rng = np.random.default_rng(1)
    targets = {**{key: weights[key] for key in weights}, "inputs": x}
    for key, array in targets.items():
        analytic = grads.inputs if key == "inputs" else grads.weights[key]
        # every entry of small arrays, a random 40 of larger ones
        flat_indices = range(array.size) if array.size <= 60 else rng.choice(array.size, 40, replace=False)
        for flat in flat_indices:
            index = np.unravel_index(flat, array.shape)
            saved = array[index]
            array[index] = saved + eps
            plus = _loss(cell, weights, x, kwargs, grad_outputs, grad_final)
            array[index] = saved - eps
            minus = _loss(cell, weights, x, kwargs, grad_outputs, grad_final)
            array[index] = saved
            numeric = (plus - minus) / (2 * eps)
            assert analytic[index] == pytest.approx(numeric, rel=1e-6, abs=1e-8), (key, index)


def test_initial_state_gradient_matches_central_differences():
    cell = LSTMCell(3)
    rng = np.random.default_rng(5)
    weights = cell.init_weights(2, rng, np.float64)
    x = rng.normal(size=(2, 4, 2))
    h0, c0 = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    grad_out = rng.normal(size=(2, 4, 3))
    result = cell.forward(x, weights, initial_state=(h0, c0))
    grads = cell.backward(result, grad_outputs=grad_out)
    for which, state in enumerate((h0, c0)):
        for index in np.ndindex(state.shape):
            saved = state[index]
            state[index] = saved + 1e-6
            plus = np.sum(grad_out * cell.forward(x, weights, initial_state=(h0, c0)).outputs)
            state[index] = saved - 1e-6
            minus = np.sum(grad_out * cell.forward(x, weights, initial_state=(h0, c0)).outputs)
            state[index] = saved
            assert grads.initial_state[which][index] == pytest.approx((plus - minus) / 2e-6, rel=1e-6, abs=1e-9)


# ---------------------------------------------------------------------------------------
# Golden values: constant weights, numbers worked out from the equations by hand.


def test_simple_rnn_golden_values():
    # One unit, one feature, W = 0.5, U = 0.25, b = 0.1, x = [1, 2]:
    #   h1 = tanh(0.5 + 0 + 0.1) = tanh(0.6)
    #   h2 = tanh(1.0 + 0.25 h1 + 0.1)
    cell = SimpleRNNCell(1)
    weights = {"kernel": np.array([[0.5]]), "recurrent_kernel": np.array([[0.25]]), "bias": np.array([0.1])}
    result = cell.forward(np.array([[[1.0], [2.0]]]), weights)
    h1 = math.tanh(0.6)
    h2 = math.tanh(1.1 + 0.25 * h1)
    assert result.outputs[0, :, 0] == pytest.approx([0.5370495669980353, h2], abs=1e-15)
    assert h1 == pytest.approx(0.5370495669980353, abs=1e-15)
    assert h2 == pytest.approx(0.843811243576277, abs=1e-12)  # tanh(1.23426239...)
    # dL/dh2 = 1: the gradient reaching h1 is 0.25 * (1 - h2^2)
    grads = cell.backward(result, grad_final_states=(np.array([[1.0]]),))
    assert grads.grad_hidden_norm[0] == pytest.approx([0.25 * (1 - h2**2), 1.0], abs=1e-15)


def test_lstm_golden_values():
    # One unit, one feature, all kernel weights 0.5, recurrent 0, bias 0 (f bias 1), x = [1]:
    #   z = [0.5, 1.5, 0.5, 0.5];  i = o = sigmoid(0.5), f = sigmoid(1.5), g = tanh(0.5)
    #   c = i g,  h = o tanh(c)
    cell = LSTMCell(1)
    weights = {
        "kernel": np.full((1, 4), 0.5),
        "recurrent_kernel": np.zeros((1, 4)),
        "bias": np.array([0.0, 1.0, 0.0, 0.0]),
    }
    result = cell.forward(np.array([[[1.0]]]), weights, record_trace=True)
    trace = result.trace
    assert trace.gates["input"][0, 0, 0] == pytest.approx(0.6224593312018546, abs=1e-15)
    assert trace.gates["forget"][0, 0, 0] == pytest.approx(0.8175744761936437, abs=1e-15)
    assert trace.gates["candidate"][0, 0, 0] == pytest.approx(0.46211715726000974, abs=1e-15)
    assert trace.cell_state[0, 0, 0] == pytest.approx(0.6224593312018546 * 0.46211715726000974, abs=1e-15)
    cell_value = 0.6224593312018546 * 0.46211715726000974
    assert result.outputs[0, 0, 0] == pytest.approx(0.6224593312018546 * math.tanh(cell_value), abs=1e-15)


def test_gru_golden_values():
    # One unit, reset_after: kernel [0.5, 0.5, 0.5], recurrent [1, 1, 1], biases 0, h0 = 0.5, x = 1:
    #   z = r = sigmoid(0.5 + 0.5) = sigmoid(1);  hh = tanh(0.5 + r * 0.5);  h = z 0.5 + (1 - z) hh
    cell = GRUCell(1)
    weights = {"kernel": np.full((1, 3), 0.5), "recurrent_kernel": np.ones((1, 3)), "bias": np.zeros((2, 3))}
    result = cell.forward(np.array([[[1.0]]]), weights, initial_state=(np.array([[0.5]]),))
    z = 1 / (1 + math.exp(-1.0))
    hh = math.tanh(0.5 + z * 0.5)
    assert z == pytest.approx(0.7310585786300049, abs=1e-15)
    assert result.outputs[0, 0, 0] == pytest.approx(z * 0.5 + (1 - z) * hh, abs=1e-15)
    # reset_before: hh = tanh(0.5 + (r * 0.5) * 1): the same number here, since U_h = 1 and no bias
    before = GRUCell(1, reset_after=False)
    weights_before = {**weights, "bias": np.zeros(3)}
    result = before.forward(np.array([[[1.0]]]), weights_before, initial_state=(np.array([[0.5]]),))
    assert result.outputs[0, 0, 0] == pytest.approx(z * 0.5 + (1 - z) * hh, abs=1e-15)


def test_masked_step_carries_state_and_gradient():
    cell = LSTMCell(2)
    rng = np.random.default_rng(0)
    weights = cell.init_weights(3, rng, np.float64)
    x = rng.normal(size=(1, 4, 3))
    mask = np.array([[True, True, False, True]])
    result = cell.forward(x, weights, mask=mask, record_trace=True)
    np.testing.assert_array_equal(result.outputs[0, 2], result.outputs[0, 1])
    np.testing.assert_array_equal(result.trace.cell_state[0, 2], result.trace.cell_state[0, 1])
    grads = cell.backward(result, grad_final_states=(np.ones((1, 2)), None))
    # h_2 = h_1, so the gradient reaching h_2 reaches h_1 unchanged (no output gradient at step 1)
    assert grads.grad_hidden_norm[0, 1] == grads.grad_hidden_norm[0, 2]
    assert np.all(grads.inputs[0, 2] == 0.0)  # a masked input has no influence


def test_simple_rnn_gradient_vanishes_where_gated_memory_keeps_it():
    """The lesson in numbers, over 60 steps: a SimpleRNN's dL/dh_t shrinks by orders of magnitude,
    while an LSTM whose forget gate is open (f ~ 0.993) or a GRU whose update gate keeps the
    state (z ~ 0.993) carries it back almost whole. (Untrained gates at Keras's defaults forget
    too: f ~ 0.73, z ~ 0.5; training is what opens them, and the app shows that happening.)"""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (8, 60, 2))
    ratios = {}
    for name in ("rnn", "lstm", "gru"):
        cell = make_cell(name, 16)
        weights = cell.init_weights(2, np.random.default_rng(1), np.float64)
        if name == "lstm":
            weights["bias"][16:32] = 5.0  # forget gate open
        if name == "gru":
            weights["bias"][:, :16] = 2.5  # update gate keeps the state (two bias rows add up)
        result = cell.forward(x, weights)
        grad = np.zeros((8, 16))
        grad[:, 0] = 1.0
        finals = (grad,) + (None,) * (len(cell.state_names) - 1)
        grads = cell.backward(result, grad_final_states=finals)
        norms = grads.grad_cell_norm if name == "lstm" else grads.grad_hidden_norm
        ratios[name] = norms.mean(axis=0)[0] / norms.mean(axis=0)[-1]
    assert ratios["rnn"] < 1e-2
    assert ratios["lstm"] > 0.3
    assert ratios["gru"] > 0.3


# ---------------------------------------------------------------------------------------
# Parameter counts and initialisation, as Keras.


def test_parameter_counts_match_keras():
    assert SimpleRNNCell(32).count_params(32) == 2080
    assert LSTMCell(32).count_params(32) == 8320
    assert GRUCell(32).count_params(14) == 4608
    assert GRUCell(32, reset_after=False).count_params(14) == 4512
    assert GRUCell(32).weight_shapes(14) == {"kernel": (14, 96), "recurrent_kernel": (32, 96), "bias": (2, 96)}
    assert "bias" not in LSTMCell(4, use_bias=False).weight_shapes(3)


def test_initializers_follow_keras_defaults():
    cell = LSTMCell(8)
    weights = cell.init_weights(5, np.random.default_rng(0))
    assert weights["kernel"].dtype == np.float32
    limit = math.sqrt(6 / (5 + 32))
    assert np.abs(weights["kernel"]).max() <= limit
    np.testing.assert_array_equal(weights["bias"], np.r_[np.zeros(8), np.ones(8), np.zeros(16)])
    recurrent = weights["recurrent_kernel"].astype(np.float64)
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(8), atol=1e-5)  # orthonormal rows


@pytest.mark.parametrize("activation", ["relu", "hard_sigmoid", "linear"])
def test_alternative_activations_match_reference(activation):
    cell = SimpleRNNCell(UNITS, activation=activation)
    weights, x, kwargs, grad_outputs, grad_final = make_case(cell, OPTIONS["plain"])
    result = cell.forward(x, weights)
    forward = reference.simple_rnn_forward(x, weights["kernel"], weights["recurrent_kernel"], weights["bias"],
                                           activation=activation)
    np.testing.assert_allclose(result.outputs, forward["hidden"], rtol=1e-12, atol=1e-12)
    lstm = LSTMCell(UNITS, recurrent_activation="hard_sigmoid" if activation != "hard_sigmoid" else "sigmoid",
                    activation=activation)
    weights, x, kwargs, grad_outputs, grad_final = make_case(lstm, OPTIONS["plain"])
    result = lstm.forward(x, weights)
    grads = lstm.backward(result, grad_outputs=grad_outputs)
    back = reference.lstm_backward(x, weights["kernel"], weights["recurrent_kernel"], weights["bias"], grad_outputs,
                                   activation=lstm.activation, recurrent_activation=lstm.recurrent_activation)
    np.testing.assert_allclose(grads.weights["kernel"], back["kernel"], rtol=1e-10, atol=1e-11)


# ---------------------------------------------------------------------------------------
# Bad input: one clear InputError, never a Numba typing dump.


def _weights(cell, features=FEATURES):
    return cell.init_weights(features, np.random.default_rng(0))


@pytest.mark.parametrize(
    "make_input, message",
    [
        (lambda: np.zeros((4, 3)), "expects input of shape (batch, timesteps, features)"),
        (lambda: np.zeros((2, 3, FEATURES + 1)), "features per timestep but the kernel expects"),
        (lambda: np.full((2, 3, FEATURES), np.nan), "NaN or infinite"),
        (lambda: np.zeros((0, 3, FEATURES)), "empty input"),
        (lambda: np.array([[["a"] * FEATURES]]), "must be numeric"),
    ],
)
def test_bad_input_is_a_clear_error(make_input, message):
    cell = LSTMCell(UNITS)
    with pytest.raises(InputError) as error:
        cell.forward(make_input(), _weights(cell))
    assert message in str(error.value)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_one_non_finite_value_anywhere_is_found_in_any_memory_order(bad, dtype):
    from rnnsim.cells.checks import all_finite

    x = np.random.default_rng(0).normal(size=(7, 30, 9)).astype(dtype) * 1e3
    assert all_finite(x) and all_finite(x.transpose(1, 0, 2)) and all_finite(x[:, ::3])
    assert all_finite(np.full((3, 4), np.finfo(dtype).max, dtype))  # the largest finite values times 0 are 0
    for index in [(0, 0, 0), (6, 29, 8), (3, 17, 4)]:
        y = x.copy()
        y[index] = bad
        assert not all_finite(y) and not all_finite(y.transpose(1, 0, 2).copy().transpose(1, 0, 2))
        assert not all_finite(np.asfortranarray(y))
        assert all_finite(np.delete(y, index[1], axis=1))  # the other timesteps
    assert all_finite(np.arange(6).reshape(2, 3)) and all_finite(np.zeros((0, 3), dtype))
    with pytest.raises(InputError, match="NaN or infinite"):
        LSTMCell(UNITS).forward(np.where(np.arange(2 * 3 * FEATURES).reshape(2, 3, FEATURES) == 5, bad, 0.0)
                                .astype(np.float32), _weights(LSTMCell(UNITS)))


def test_a_models_input_is_checked_once_not_again_by_its_first_cell(monkeypatch):
    from rnnsim.cells import checks
    from rnnsim.layers import LSTM, Dense
    from rnnsim.models import Sequential

    model = Sequential([LSTM(4, input_shape=(3, FEATURES)), Dense(1)])
    model.compile(optimizer="rmsprop", loss="mse")
    x = np.random.default_rng(1).normal(size=(2, 3, FEATURES)).astype(np.float32)
    passes = []
    real = checks._sum_of_zeros
    monkeypatch.setattr(checks, "_sum_of_zeros", lambda flat: passes.append(flat.size) or real(flat))
    model.predict_on_batch(x)
    model.train_on_batch(x, np.zeros((2, 1), np.float32))
    # predict: no pass of its own, the LSTM's kernel checks x as it reads it (checks.checked_in_pass);
    # training: the model's check of x, and its LSTM cell knows x is the checked array
    assert passes == [x.size]
    with checks.known_finite(x):
        assert not checks.all_finite(np.where(x > 0, np.nan, x))  # another array is still looked at
    assert checks._known_finite.get() == ()  # only inside the block
    with pytest.raises(InputError, match="NaN or infinite"):  # a cell called directly checks its input
        LSTMCell(UNITS).forward(np.full((2, 3, FEATURES), np.inf, np.float32), _weights(LSTMCell(UNITS)))


def test_bad_weights_are_a_clear_error():
    cell = GRUCell(UNITS)
    weights = _weights(cell)
    weights["recurrent_kernel"] = np.zeros((UNITS, UNITS))
    with pytest.raises(InputError, match=r"recurrent_kernel has shape \(5, 5\), expected \(5, 15\)"):
        cell.forward(np.zeros((1, 2, FEATURES), np.float32), weights)
    weights = _weights(cell)
    del weights["bias"]
    with pytest.raises(InputError, match="missing bias"):
        cell.forward(np.zeros((1, 2, FEATURES), np.float32), weights)
    weights = {k: v.astype(np.int64) for k, v in _weights(cell).items()}
    with pytest.raises(InputError, match="float32 or float64"):
        cell.forward(np.zeros((1, 2, FEATURES)), weights)


def test_bad_options_are_a_clear_error():
    with pytest.raises(InputError, match="unknown activation 'swishy'"):
        LSTMCell(4, activation="swishy")
    with pytest.raises(InputError, match="units must be a positive integer"):
        GRUCell(0)
    with pytest.raises(InputError, match="unknown cell 'transformer'"):
        make_cell("transformer", 4)
    cell = SimpleRNNCell(UNITS)
    x = np.zeros((2, 3, FEATURES), np.float32)
    with pytest.raises(InputError, match=r"mask has shape \(2, 4\), expected \(2, 3\)"):
        cell.forward(x, _weights(cell), mask=np.ones((2, 4), bool))
    with pytest.raises(InputError, match="initial hidden state has shape"):
        cell.forward(x, _weights(cell), initial_state=(np.zeros((3, UNITS)),))
    with pytest.raises(InputError, match="recurrent dropout mask has shape"):
        cell.forward(x, _weights(cell), recurrent_dropout_mask=np.ones((2, 2)))
