"""The GRU's chunked CPU kernels against the plain-NumPy reference on batches large enough to use them.

tests/test_cells.py runs 3 sequences, so no thread chunk there reaches the micro-kernel's 4-row
tile. Here the batch of 11 is cut into 1-5 thread chunks (full tiles, ragged tiles, a short last
chunk), with hidden sizes whose gate widths are and are not whole SIMD tiles, for every option
of the kernels.
"""

import numpy as np
import pytest
from helpers import run_reference

from rnnsim.cells import GRUCell, blocks

BATCH, TIMESTEPS, FEATURES = 11, 7, 3


def _case(cell, rng, dtype, mask, dropout, initial_state, go_backwards, grad_seq):
    units = cell.units
    weights = cell.init_weights(FEATURES, rng, dtype)
    if "bias" in weights:
        weights["bias"] = rng.normal(0, 0.5, weights["bias"].shape).astype(dtype)
    weights["recurrent_kernel"] = (weights["recurrent_kernel"] * 1.5).astype(dtype)
    x = rng.normal(0, 1, (BATCH, TIMESTEPS, FEATURES)).astype(dtype)
    kwargs = {"go_backwards": go_backwards}
    if mask:
        step_mask = rng.random((BATCH, TIMESTEPS)) > 0.3
        step_mask[0] = False  # a row that never runs
        kwargs["mask"] = step_mask
    if dropout:
        kwargs["input_dropout_mask"] = ((rng.random((BATCH, FEATURES)) > 0.3) / 0.7).astype(dtype)
        kwargs["recurrent_dropout_mask"] = ((rng.random((BATCH, units)) > 0.3) / 0.7).astype(dtype)
    if initial_state:
        kwargs["initial_state"] = (rng.normal(0, 0.5, (BATCH, units)).astype(dtype),)
    grad_outputs = rng.normal(0, 1, (BATCH, TIMESTEPS, units)).astype(dtype) if grad_seq else None
    grad_final = (rng.normal(0, 1, (BATCH, units)).astype(dtype),)
    return weights, x, kwargs, grad_outputs, grad_final


def _check(cell, seed, dtype=np.float64, tol=None, **options):
    rng = np.random.default_rng(seed)
    weights, x, kwargs, grad_outputs, grad_final = _case(cell, rng, dtype, **options)
    result = cell.forward(x, weights, record_trace=True, **kwargs)
    grads = cell.backward(result, grad_outputs=grad_outputs, grad_final_states=grad_final)
    forward, backward = run_reference(cell, weights, x, kwargs, grad_outputs, grad_final)
    tol = tol or dict(rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(result.trace.hidden, forward["hidden"], **tol)
    for name in ("update", "reset", "candidate"):
        np.testing.assert_allclose(result.trace.gates[name], forward[name], err_msg=name, **tol)
    stacked_pre = np.concatenate([result.trace.preactivations[n] for n in result.trace.gate_names], axis=2)
    np.testing.assert_allclose(stacked_pre, forward["preactivation"], **tol)
    for key in weights:
        np.testing.assert_allclose(grads.weights[key], backward[key], err_msg=key, **tol)
    np.testing.assert_allclose(grads.inputs, backward["inputs"], **tol)
    np.testing.assert_allclose(grads.initial_state[0], backward["h0"], **tol)
    np.testing.assert_allclose(grads.grad_hidden_norm, backward["grad_hidden_norm"], **tol)


@pytest.mark.parametrize("options", [
    dict(mask=False, dropout=False, initial_state=False, go_backwards=False, grad_seq=True),
    dict(mask=True, dropout=True, initial_state=True, go_backwards=True, grad_seq=True),
    dict(mask=True, dropout=False, initial_state=True, go_backwards=False, grad_seq=False),
    dict(mask=False, dropout=True, initial_state=False, go_backwards=True, grad_seq=False),
], ids=["plain", "everything", "mask_last_only", "dropout_backwards"])
@pytest.mark.parametrize("chunks", [1, 2, 3, 5])
@pytest.mark.parametrize("units", [5, 8])
@pytest.mark.parametrize("reset_after", [True, False])
def test_chunked_kernels_match_reference(reset_after, units, chunks, options, monkeypatch):
    monkeypatch.setattr(blocks, "thread_chunks", lambda batch: min(batch, chunks))
    _check(GRUCell(units, reset_after=reset_after), seed=units * 10 + chunks, **options)


@pytest.mark.parametrize("activations", [("relu", "hard_sigmoid"), ("tanh", "hard_sigmoid"), ("linear", "sigmoid")])
@pytest.mark.parametrize("reset_after", [True, False])
def test_chunked_kernels_general_activation_branches(activations, reset_after, monkeypatch):
    monkeypatch.setattr(blocks, "thread_chunks", lambda batch: min(batch, 2))
    activation, recurrent_activation = activations
    cell = GRUCell(8, activation=activation, recurrent_activation=recurrent_activation, reset_after=reset_after)
    _check(cell, seed=3, mask=True, dropout=True, initial_state=True, go_backwards=False, grad_seq=True)


@pytest.mark.parametrize("reset_after", [True, False])
def test_chunked_kernels_float32_close_to_float64_reference(reset_after):
    # float32 runs the approximate vectorized tanh/sigmoid: agreement to float32 accuracy, not 1e-10.
    _check(GRUCell(32, reset_after=reset_after), seed=7, dtype=np.float32, tol=dict(rtol=2e-4, atol=2e-5),
           mask=True, dropout=True, initial_state=True, go_backwards=True, grad_seq=True)


def test_forward_leaves_no_alias_between_gates_and_other_results():
    # The forward writes the gates over its x W + b buffer: the inputs and weights stay untouched.
    cell = GRUCell(8)
    rng = np.random.default_rng(0)
    weights = cell.init_weights(FEATURES, rng, np.float64)
    x = rng.normal(size=(BATCH, TIMESTEPS, FEATURES))
    kept_x, kept_w = x.copy(), {k: v.copy() for k, v in weights.items()}
    first = cell.forward(x, weights, record_trace=True)
    second = cell.forward(x, weights, record_trace=True)
    np.testing.assert_array_equal(x, kept_x)
    for key in weights:
        np.testing.assert_array_equal(weights[key], kept_w[key])
    np.testing.assert_array_equal(first.trace.gates["update"], second.trace.gates["update"])
