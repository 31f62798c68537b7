"""The cells' speed paths against the plain-NumPy reference: the BLAS path for large hidden sizes
(forced here on small cases by lowering the threshold), batch sizes that do not split evenly into
per-thread chunks or into the 4-row blocks of the recurrent product, and the blocked product itself."""

import numpy as np
import pytest

from rnnsim.cells import blocks
from tests.test_cells import CELL_VARIANTS, OPTIONS, make_case, run_reference


def _check_against_reference(cell, option):
    weights, x, kwargs, grad_outputs, grad_final = make_case(cell, OPTIONS[option])
    result = cell.forward(x, weights, record_trace=True, **kwargs)
    grads = cell.backward(result, grad_outputs=grad_outputs, grad_final_states=grad_final)
    forward, backward = run_reference(cell, weights, x, kwargs, grad_outputs, grad_final)
    tol = dict(rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(result.trace.hidden, forward["hidden"], **tol)
    for name, value in forward["gates"].items():
        np.testing.assert_allclose(result.trace.gates[name], value, err_msg=name, **tol)
    stacked_pre = np.concatenate([result.trace.preactivations[n] for n in result.trace.gate_names], axis=2)
    np.testing.assert_allclose(stacked_pre, forward["preactivation"], **tol)
    for key in weights:
        np.testing.assert_allclose(grads.weights[key], backward[key], err_msg=key, **tol)
    np.testing.assert_allclose(grads.inputs, backward["inputs"], **tol)
    for ours, theirs in zip(grads.initial_state, backward["states"], strict=True):
        np.testing.assert_allclose(ours, theirs, **tol)
    np.testing.assert_allclose(grads.grad_hidden_norm, backward["grad_hidden_norm"], **tol)
    if cell.name == "lstm":
        np.testing.assert_allclose(grads.grad_cell_norm, backward["grad_cell_norm"], **tol)


@pytest.mark.parametrize("option", ["plain", "mask", "go_backwards", "everything", "last_only"])
@pytest.mark.parametrize("variant", ["lstm"])  # the cells with a BLAS path for large hidden sizes
def test_blas_path_matches_reference(variant, option, monkeypatch):
    monkeypatch.setattr(blocks, "BLAS_MIN_UNITS", 1)
    _check_against_reference(CELL_VARIANTS[variant](), option)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("variant", list(CELL_VARIANTS))
def test_fused_path_with_uneven_thread_chunks_matches_reference(variant, threads, monkeypatch):
    monkeypatch.setattr(blocks, "thread_chunks", lambda batch: min(batch, threads))
    monkeypatch.setattr(blocks, "BLAS_MIN_UNITS", 10**9)
    _check_against_reference(CELL_VARIANTS[variant](), "everything")


@pytest.mark.parametrize("rows", [1, 3, 4, 7, 9])
def test_blocked_matmul_add_matches_numpy(rows):
    rng = np.random.default_rng(rows)
    src, weight = rng.normal(size=(rows, 6)), rng.normal(size=(6, 10))
    dst = rng.normal(size=(rows, 10))
    expected = dst + src @ weight
    blocks.matmul_add(src, weight, dst)
    np.testing.assert_allclose(dst, expected, rtol=1e-12, atol=1e-12)
