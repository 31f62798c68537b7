"""The backward pass's new trace norms: ||dL/dx_t|| at the layer's input and ||dL/da_t|| at the pre-activations.

Checked against central differences of the loss in float64, for every cell variant and option, and
through the embedding lookup (a TokenSequence reads the same dL/dx_t as the embedded array).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import CELL_VARIANTS, OPTIONS, make_case

from rnnsim.cells.embedding_lookup import TokenSequence


def _loss(cell, weights, x, kwargs, grad_outputs, grad_final):
    """A scalar whose gradient with respect to the outputs and final states is (grad_outputs, grad_final)."""
    result = cell.forward(x, weights, **kwargs)
    value = sum(float(np.sum(state * weight)) for state, weight in zip(result.final_states, grad_final))
    if grad_outputs is not None:
        value += float(np.sum(result.outputs * grad_outputs))
    return value


def _input_gradient_by_differences(cell, weights, x, kwargs, grad_outputs, grad_final, eps=1e-6):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        shifted = x.copy()
        shifted[index] += eps
        up = _loss(cell, weights, shifted, kwargs, grad_outputs, grad_final)
        shifted[index] -= 2 * eps
        down = _loss(cell, weights, shifted, kwargs, grad_outputs, grad_final)
        grad[index] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("variant", sorted(CELL_VARIANTS))
@pytest.mark.parametrize("option", ["plain", "mask", "go_backwards", "dropout", "last_only"])
def test_input_gradient_norm_matches_central_differences(variant, option):
    cell = CELL_VARIANTS[variant]()
    weights, x, kwargs, grad_outputs, grad_final = make_case(cell, OPTIONS[option])
    expected = np.linalg.norm(
        _input_gradient_by_differences(cell, weights, x, kwargs, grad_outputs, grad_final), axis=2
    )
    for input_gradient in (True, False):  # a model's first layer skips dL/dx; the probe's trace still has it
        result = cell.forward(x, weights, record_trace=True, **kwargs)
        cell.backward(result, grad_outputs=grad_outputs, grad_final_states=grad_final, input_gradient=input_gradient)
        assert result.trace.grad_input_norm.shape == x.shape[:2]
        np.testing.assert_allclose(result.trace.grad_input_norm, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("variant", sorted(CELL_VARIANTS))
def test_preactivation_gradient_norm_is_the_input_gradient_when_the_kernel_is_the_identity(variant):
    # With D = G*U and W = I, x_t W = x_t, so dL/da_t (input side) and dL/dx_t are the same vector.
    cell = CELL_VARIANTS[variant]()
    weights, x, kwargs, grad_outputs, grad_final = make_case(cell, OPTIONS["mask"])
    width = weights["kernel"].shape[1]
    weights["kernel"] = np.eye(width)
    x = np.random.default_rng(3).normal(0, 0.5, (x.shape[0], x.shape[1], width))
    result = cell.forward(x, weights, record_trace=True, **kwargs)
    cell.backward(result, grad_outputs=grad_outputs, grad_final_states=grad_final)
    expected = np.linalg.norm(_input_gradient_by_differences(cell, weights, x, kwargs, grad_outputs, grad_final),
                              axis=2)
    np.testing.assert_allclose(result.trace.grad_preact_norm, expected, rtol=1e-6, atol=1e-9)
    assert not result.trace.mask[0, :2].any()
    assert np.all(result.trace.grad_preact_norm[0, :2] == 0.0)  # padded steps: no pre-activation, no gradient


@pytest.mark.parametrize("variant", ["simple_rnn", "lstm", "gru"])
def test_token_input_records_the_gradient_at_the_embedding_row_it_read(variant):
    cell = CELL_VARIANTS[variant]()
    rng = np.random.default_rng(1)
    weights, _x, _kwargs, _grad_outputs, grad_final = make_case(cell, OPTIONS["last_only"])
    table = rng.normal(size=(11, weights["kernel"].shape[0]))
    ids = rng.integers(0, 11, (3, 6))
    tokens = cell.forward(TokenSequence(ids, table), weights, record_trace=True)
    cell.backward(tokens, grad_final_states=grad_final)
    dense = cell.forward(table[ids], weights, record_trace=True)
    grads = cell.backward(dense, grad_final_states=grad_final)
    np.testing.assert_allclose(tokens.trace.grad_input_norm, np.linalg.norm(grads.inputs, axis=2), rtol=1e-12)


def test_training_passes_record_no_trace_and_so_pay_for_no_norms():
    cell = CELL_VARIANTS["lstm"]()
    weights, x, kwargs, grad_outputs, grad_final = make_case(cell, OPTIONS["plain"])
    result = cell.forward(x, weights, **kwargs)
    grads = cell.backward(result, grad_outputs=grad_outputs, grad_final_states=grad_final, input_gradient=False)
    assert result.trace is None and grads.inputs is None
