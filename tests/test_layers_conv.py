"""Conv1D and the 1-D poolings: Keras's length arithmetic, values Keras computes, gradients, models.

The pinned values in the `*_keras_values` tests were computed by Keras 3.15 (torch backend) for the
same weights and inputs; the loop references spell out Keras's formulas one output at a time.
"""

import numpy as np
import pytest
from helpers import layer_gradient_errors

from rnnsim.errors import InputError
from rnnsim.layers import (
    AveragePooling1D,
    Conv1D,
    Dense,
    Embedding,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    MaxPooling1D,
)
from rnnsim.models import Sequential, load_model


def built(layer, input_shape, dtype="float64", weights=None):
    layer.attach_rngs([0, 0])
    layer.build(input_shape, dtype)
    if weights is not None:
        layer.set_weights(weights)
    return layer


def conv_by_loops(x, kernel, bias, strides, padding, dilation):
    """Keras's Conv1D one output at a time: pad, then out[t] = sum_j x_pad[t s + j d] @ kernel[j] + bias."""
    length, taps = x.shape[1], kernel.shape[0]
    reach = dilation * (taps - 1) + 1
    if padding == "valid":
        count, before = (length - reach) // strides + 1, 0
    else:
        count = (length - 1) // strides + 1
        total = max((count - 1) * strides + reach - length, 0)
        before = reach - 1 if padding == "causal" else total // 2
    padded = np.zeros((x.shape[0], before + length + reach + strides, x.shape[2]))
    padded[:, before:before + length] = x
    out = np.zeros((x.shape[0], count, kernel.shape[2]))
    for t in range(count):
        for j in range(taps):
            out[:, t] += padded[:, t * strides + j * dilation] @ kernel[j]
    return out + bias


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
@pytest.mark.parametrize("taps,strides,dilation,length", [(3, 1, 1, 9), (4, 2, 1, 9), (5, 3, 1, 11), (3, 1, 2, 9),
                                                          (4, 1, 3, 12), (2, 4, 1, 10), (1, 1, 1, 5)])
def test_conv1d_equals_the_loop_over_keras_formula(padding, taps, strides, dilation, length):
    rng = np.random.default_rng(taps * 100 + strides * 10 + dilation)
    x = rng.normal(size=(2, length, 3))
    layer = built(Conv1D(4, taps, strides=strides, dilation_rate=dilation, padding=padding), (None, length, 3))
    kernel, bias = layer.get_weights()[0], rng.normal(size=4)
    layer.set_weights([kernel, bias])
    expected = conv_by_loops(x, kernel, bias, strides, padding, dilation)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)
    assert layer.compute_output_shape((None, length, 3)) == (None, expected.shape[1], 4)


def test_conv1d_keras_values():
    x = np.arange(1, 8, dtype=np.float32).reshape(1, 7, 1)
    kernel = np.array([[[1, -1]], [[2, 0.5]], [[-1, 1]]], np.float32)  # (3, 1, 2)
    same_dilated = built(Conv1D(2, 3, padding="same", dilation_rate=2), (None, 7, 1), "float32",
                         [kernel, np.array([0.5, -0.5], np.float32)])
    np.testing.assert_allclose(same_dilated.forward(x)[0], [[-0.5, 3.0], [0.5, 4.5], [2.5, 5.0], [4.5, 5.5],
                                                             [6.5, 6.0], [16.5, -1.5], [19.5, -2.0]])
    x2 = np.array([[[1, 2], [3, -1], [0, 4], [2, 2], [-3, 1]]], np.float32)
    causal_strided = built(Conv1D(1, 2, strides=2, padding="causal"), (None, 5, 2), "float32",
                           [np.array([[[1], [0.5]], [[-1], [2]]], np.float32), np.array([0.25], np.float32)])
    np.testing.assert_allclose(causal_strided.forward(x2)[0, :, 0], [3.25, 10.75, 8.25])
    second_difference = built(Conv1D(1, 3, activation="relu"), (None, 7, 1), "float32",
                              [np.array([[[1]], [[-2]], [[1]]], np.float32), np.array([1], np.float32)])
    np.testing.assert_array_equal(second_difference.forward(x)[0, :, 0], [1, 1, 1, 1, 1])


def test_pooling_keras_values():
    x = np.array([3, 1, 4, 1, 5, 9, 2], np.float64).reshape(1, 7, 1)
    np.testing.assert_array_equal(MaxPooling1D(3, 2, padding="same")(x)[0, :, 0], [3, 4, 9, 9])
    np.testing.assert_allclose(AveragePooling1D(3, 2)(x)[0, :, 0], [8 / 3, 10 / 3, 16 / 3])
    np.testing.assert_array_equal(MaxPooling1D()(x)[0, :, 0], [3, 4, 9])  # pool 2, strides 2, the 7th step dropped


def test_average_pooling_same_divides_by_the_real_steps_only():
    # L=8, pool 5, stride 2: 4 windows, 3 padded steps, 1 before and 2 after (TensorFlow's split).
    x = np.arange(8, dtype=np.float64).reshape(1, 8, 1)
    np.testing.assert_allclose(AveragePooling1D(5, 2, padding="same")(x)[0, :, 0],
                               [np.mean([0, 1, 2, 3]), np.mean([1, 2, 3, 4, 5]), np.mean([3, 4, 5, 6, 7]),
                                np.mean([5, 6, 7])])


@pytest.mark.parametrize("length,taps,strides,dilation,padding,expected", [
    (120, 24, 1, 1, "valid", 97), (48, 12, 1, 1, "valid", 37), (18, 6, 1, 1, "valid", 13),  # the book's stack
    (10, 3, 3, 1, "valid", 3), (10, 3, 3, 1, "same", 4), (10, 3, 3, 1, "causal", 4),
    (10, 3, 1, 4, "valid", 2), (10, 3, 1, 4, "same", 10), (5, 5, 1, 1, "valid", 1),
])
def test_conv1d_output_lengths_follow_keras(length, taps, strides, dilation, padding, expected):
    layer = Conv1D(2, taps, strides=strides, dilation_rate=dilation, padding=padding)
    assert layer.compute_output_shape((None, length, 3)) == (None, expected, 2)
    assert layer.compute_output_shape((None, None, 3)) == (None, None, 2)


@pytest.mark.parametrize("length,pool,strides,padding,expected", [
    (97, 2, None, "valid", 48), (37, 2, None, "valid", 18), (7, 3, 1, "valid", 5), (7, 3, 2, "same", 4),
    (8, 2, 3, "valid", 3), (8, 2, 3, "same", 3), (11, 5, 2, "same", 6),
])
def test_pooling_output_lengths_follow_keras(length, pool, strides, padding, expected):
    for kind in (MaxPooling1D, AveragePooling1D):
        layer = kind(pool, strides, padding=padding)
        assert layer.compute_output_shape((None, length, 3)) == (None, expected, 3)
        x = np.random.default_rng(0).normal(size=(2, length, 3))
        assert built(layer, (None, length, 3)).forward(x).shape == (2, expected, 3)


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
@pytest.mark.parametrize("strides,dilation,activation", [(1, 1, "tanh"), (2, 1, "relu"), (1, 2, None),
                                                         (3, 1, "sigmoid")])
def test_conv1d_gradients_match_central_differences(padding, strides, dilation, activation):
    rng = np.random.default_rng(strides + 10 * dilation)
    x = rng.normal(size=(2, 10, 3))
    layer = built(Conv1D(4, 3, strides=strides, dilation_rate=dilation, padding=padding, activation=activation),
                  (None, 10, 3))
    layer.set_weights([layer.weights[0], rng.normal(size=4)])
    input_error, weight_errors = layer_gradient_errors(layer, x)
    assert input_error < 1e-6 and max(weight_errors) < 1e-6, (input_error, weight_errors)


@pytest.mark.parametrize("kind", [MaxPooling1D, AveragePooling1D])
@pytest.mark.parametrize("pool,strides,padding", [(2, None, "valid"), (3, 1, "valid"), (3, 2, "same"),
                                                  (4, 3, "same"), (2, 3, "valid")])
def test_pooling_gradients_match_central_differences(kind, pool, strides, padding):
    x = np.random.default_rng(pool).normal(size=(2, 9, 3))  # distinct values: no ties for the maximum
    layer = built(kind(pool, strides, padding=padding), (None, 9, 3))
    input_error, _ = layer_gradient_errors(layer, x)
    assert input_error < 1e-6


@pytest.mark.parametrize("kind", [GlobalMaxPooling1D, GlobalAveragePooling1D])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_shapes_values_and_gradients(kind, keepdims):
    x = np.random.default_rng(3).normal(size=(3, 6, 4))
    layer = built(kind(keepdims=keepdims), (None, 6, 4))
    output = layer.forward(x)
    expected = x.max(axis=1) if kind is GlobalMaxPooling1D else x.mean(axis=1)
    np.testing.assert_allclose(output[:, 0] if keepdims else output, expected, rtol=1e-12)
    assert layer.compute_output_shape((None, 6, 4)) == ((None, 1, 4) if keepdims else (None, 4))
    assert layer_gradient_errors(layer, x)[0] < 1e-6


def test_global_average_pooling_averages_unmasked_steps_and_drops_the_mask():
    x = np.arange(2 * 4 * 1, dtype=np.float64).reshape(2, 4, 1)  # rows [0, 1, 2, 3] and [4, 5, 6, 7]
    mask = np.array([[False, True, True, True], [True, False, False, False]])
    layer = built(GlobalAveragePooling1D(), (None, 4, 1))
    np.testing.assert_allclose(layer.forward(x, mask=mask)[:, 0], [2.0, 4.0])
    assert layer.compute_output_mask(x, mask) is None
    assert layer_gradient_errors(layer, np.random.default_rng(0).normal(size=(2, 4, 3)), mask=mask)[0] < 1e-6
    assert built(GlobalAveragePooling1D(), (None, 4, 1)).forward(x, mask=np.zeros((2, 4), bool)).tolist() == \
        [[0.0], [0.0]]  # every step masked: 0 (Keras: NaN)


def test_conv_and_pooling_drop_a_mask_as_keras_does():
    mask = np.ones((1, 6), bool)
    for layer in (Conv1D(2, 3), MaxPooling1D(), AveragePooling1D(), GlobalMaxPooling1D()):
        assert layer.compute_output_mask(np.zeros((1, 6, 2)), mask) is None


def test_conv1d_parameters_and_summary_match_keras_for_the_books_stack():
    model = Sequential([Conv1D(8, 24, activation="relu", input_shape=(120, 14)), MaxPooling1D(2),
                        Conv1D(8, 12, activation="relu"), MaxPooling1D(2), Conv1D(8, 6, activation="relu"),
                        GlobalAveragePooling1D(), Dense(1)])
    lines = []
    model.summary(print_fn=lines.append)
    assert [layer.count_params() for layer in model.layers] == [2_696, 0, 776, 0, 392, 0, 9]
    assert model.output_shape == (None, 1)
    text = "\n".join(lines)
    for shape in ("(None, 97, 8)", "(None, 48, 8)", "(None, 37, 8)", "(None, 18, 8)", "(None, 13, 8)"):
        assert shape in text
    assert "Total params: 3,873" in text
    assert [w.shape for w in model.layers[0].get_weights()] == [(24, 14, 8), (8,)]


def test_conv1d_glorot_limit_uses_keras_fans():
    kernel = built(Conv1D(8, 24), (None, 120, 14), "float32").get_weights()[0]
    limit = np.sqrt(6.0 / (14 * 24 + 8 * 24))  # fan_in = channels x taps, fan_out = filters x taps
    assert kernel.dtype == np.float32 and np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.95 * limit


@pytest.mark.parametrize("make,message", [
    (lambda: built(Conv1D(2, 8), (None, 5, 3)), "fewer than the kernel's reach of 8"),
    (lambda: built(Conv1D(2, 3, dilation_rate=3), (None, 6, 3)), "reach of 7"),
    (lambda: Conv1D(2, 3, strides=2, dilation_rate=2), "strides > 1 together with dilation_rate"),
    (lambda: Conv1D(2, 3, groups=2), "groups"),
    (lambda: Conv1D(2, 3, padding="full"), "padding must be one of"),
    (lambda: Conv1D(2, 3, data_format="channels_first"), "channels_last"),
    (lambda: Conv1D(0, 3), "filters must be a positive integer"),
    (lambda: Conv1D(2, (3, 3)), "one integer for a 1-D layer"),
    (lambda: Conv1D(2, 3, activation="swish"), "unknown activation"),
    (lambda: built(MaxPooling1D(4), (None, 3, 2)), "fewer than pool_size=4"),
    (lambda: MaxPooling1D(2, padding="causal"), "padding must be one of"),
    (lambda: built(GlobalMaxPooling1D(), (None, 8)), r"expects input \(batch, steps, channels\)"),
])
def test_bad_arguments_raise_one_input_error(make, message):
    with pytest.raises(InputError, match=message):
        make()


def test_a_conv1d_model_learns_a_moving_difference_and_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 20, 2)).astype(np.float32)
    y = (x[:, 1:, 0] - x[:, :-1, 1]).mean(axis=1, keepdims=True)  # a linear filter, then a mean over time
    model = Sequential(seed=3)
    model.add(Conv1D(4, 2, input_shape=(20, 2)))
    model.add(GlobalAveragePooling1D())
    model.add(Dense(1))
    model.compile(optimizer="rmsprop", loss="mse")
    before = model.evaluate(x, y)
    model.fit(x, y, epochs=100, batch_size=32, verbose=0)
    after = model.evaluate(x, y)
    assert after < 0.01 * y.var() < 0.01 * before, (before, after)  # predicting the mean scores y.var()
    model.save(tmp_path / "conv.npz")
    loaded = load_model(tmp_path / "conv.npz")
    np.testing.assert_array_equal(loaded.predict(x[:8]), model.predict(x[:8]))
    assert [type(layer).__name__ for layer in loaded.layers] == ["Conv1D", "GlobalAveragePooling1D", "Dense"]


def test_conv1d_after_a_masked_embedding_builds_and_trains_on_token_ids():
    rng = np.random.default_rng(1)
    ids = rng.integers(1, 20, size=(64, 12))
    labels = (ids[:, :6] < 10).mean(axis=1).round()
    model = Sequential([Embedding(20, 4, mask_zero=True), Conv1D(3, 3, padding="same", activation="relu"),
                        GlobalMaxPooling1D(), Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", metrics=["acc"])
    history = model.fit(ids, labels, epochs=3, batch_size=16, verbose=0)
    assert model.output_shape == (None, 1) and len(history.history["loss"]) == 3


def test_layers_chained_by_hand_forward_then_backward_in_reverse_give_the_chains_gradient():
    # What a functional model does with them: call each layer's forward in order, each backward in reverse.
    from rnnsim.layers import Flatten

    rng = np.random.default_rng(5)
    chain = [built(Conv1D(3, 3, padding="causal", activation="tanh"), (None, 8, 2)),
             built(AveragePooling1D(2, padding="same"), (None, 8, 3)), built(Flatten(), (None, 4, 3)),
             built(Dense(2), (None, 12))]
    x = rng.normal(size=(2, 8, 2))
    projection = rng.normal(size=(2, 2))

    def loss(values):
        for layer in chain:
            values = layer.forward(values)
        return float(np.sum(values * projection))

    loss(x)
    grad = projection
    for layer in reversed(chain):
        grad = layer.backward(grad)
    numeric = np.zeros_like(x)
    for position in np.ndindex(x.shape):
        shifted = x.copy()
        shifted[position] += 1e-6
        plus = loss(shifted)
        shifted[position] -= 2e-6
        numeric[position] = (plus - loss(shifted)) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
