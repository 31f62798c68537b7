"""Loss values and gradients: central differences, Keras's clipping, fused logits == unfused."""

import numpy as np
import pytest

from rnnsim.errors import InputError
from rnnsim.losses import get

CASES = {
    "mse": lambda rng: (rng.normal(size=(4, 3)), rng.normal(size=(4, 3))),
    "mae": lambda rng: (rng.normal(size=(4, 3)), rng.normal(size=(4, 3))),
    "binary_crossentropy": lambda rng: (rng.integers(0, 2, size=(4, 1)).astype(float), rng.uniform(0.1, 0.9, (4, 1))),
    "categorical_crossentropy": lambda rng: (np.eye(3)[rng.integers(0, 3, 4)], rng.dirichlet(np.ones(3), 4)),
    "sparse_categorical_crossentropy": lambda rng: (rng.integers(0, 3, 4), rng.dirichlet(np.ones(3), 4)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_gradient_matches_central_differences(name):
    rng = np.random.default_rng(0)
    y_true, y_pred = CASES[name](rng)
    loss = get(name)
    value, gradient = loss.value_and_gradient(y_true, y_pred)
    assert np.isfinite(value)
    numeric = np.zeros_like(y_pred)
    for position in np.ndindex(y_pred.shape):
        plus, minus = y_pred.copy(), y_pred.copy()
        plus[position] += 1e-6
        minus[position] -= 1e-6
        numeric[position] = (loss(y_true, plus) - loss(y_true, minus)) / 2e-6
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-7)


def test_losses_are_batch_means_with_keras_values():
    assert get("mse")(np.array([[1.0], [3.0]]), np.array([[0.0], [0.0]])) == pytest.approx(5.0)
    assert get("mae")(np.array([1.0, -3.0]), np.array([[0.0], [0.0]])) == pytest.approx(2.0)
    assert get("binary_crossentropy")(np.array([1.0]), np.array([[0.5]])) == pytest.approx(np.log(2))


def test_binary_crossentropy_clips_probabilities_like_keras():
    value = get("binary_crossentropy")(np.array([1.0]), np.array([[0.0]]))
    assert value == pytest.approx(-np.log(1e-7), rel=1e-6)


@pytest.mark.parametrize("name,activation", [("binary_crossentropy", "sigmoid"),
                                             ("categorical_crossentropy", "softmax"),
                                             ("sparse_categorical_crossentropy", "softmax")])
def test_fused_logits_agree_with_probabilities(name, activation):
    rng = np.random.default_rng(1)
    width = 1 if activation == "sigmoid" else 3
    logits = rng.normal(size=(5, width))
    if activation == "sigmoid":
        probability = 1 / (1 + np.exp(-logits))
        y_true = rng.integers(0, 2, size=(5, 1)).astype(float)
        grad_through = probability * (1 - probability)
    else:
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        probability = exp / exp.sum(axis=1, keepdims=True)
        labels = rng.integers(0, 3, 5)
        y_true = labels if name.startswith("sparse") else np.eye(3)[labels]
    loss = get(name)
    value, grad_probability = loss.value_and_gradient(y_true, probability)
    fused_value, grad_logits = loss.value_and_gradient_from_logits(y_true, logits)
    assert fused_value == pytest.approx(value, rel=1e-9)
    if activation == "sigmoid":
        np.testing.assert_allclose(grad_logits, grad_probability * grad_through, atol=1e-12)
    else:
        chained = probability * (grad_probability - (grad_probability * probability).sum(axis=1, keepdims=True))
        np.testing.assert_allclose(grad_logits, chained, atol=1e-12)


def test_fused_binary_crossentropy_is_exact_for_huge_logits():
    value, gradient = get("binary_crossentropy").value_and_gradient_from_logits(np.array([0.0]), np.array([[800.0]]))
    assert value == pytest.approx(800.0) and gradient[0, 0] == pytest.approx(1.0)


def test_masked_mean_counts_only_unmasked_timesteps():
    y_pred = np.zeros((1, 3, 1))
    y_true = np.array([[1.0, 1.0, 100.0]])
    mask = np.array([[True, True, False]])
    value, gradient = get("mse").value_and_gradient(y_true, y_pred, mask)
    assert value == pytest.approx(1.0)
    assert gradient[0, 2, 0] == 0.0


def test_bad_labels_and_names_raise_input_error():
    with pytest.raises(InputError, match="unknown loss"):
        get("hinge_loss_xyz")
    with pytest.raises(InputError, match="do not match"):
        get("mse")(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(InputError, match=r"\[0, 2\]"):
        get("sparse_categorical_crossentropy")(np.array([0, 3]), np.full((2, 3), 1 / 3))
