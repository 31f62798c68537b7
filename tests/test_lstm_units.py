"""The LSTM's time loops split by units (rnnsim/cells/lstm_units.py) against the plain-NumPy reference and
against the batch split: the same numbers to the last bit, on any thread count, for every option."""

import numpy as np
import pytest
from helpers import OPTIONS, make_case, run_reference

from rnnsim import threads
from rnnsim.cells import LSTMCell, blocks, lstm_units


@pytest.fixture(autouse=True)
def restore_thread_count(monkeypatch):
    monkeypatch.setattr(threads, "_threads", None)


def _run(cell, case, record=True):
    weights, x, kwargs, grad_outputs, grad_final = case
    result = cell.forward(x, weights, record_trace=record, **kwargs)
    grads = cell.backward(result, grad_outputs=grad_outputs, grad_final_states=grad_final)
    return result, grads


def _case(monkeypatch, units, batch, option, dtype=np.float64):
    import helpers as base_case

    monkeypatch.setattr(base_case, "UNITS", units)
    monkeypatch.setattr(base_case, "BATCH", batch)
    cell = LSTMCell(units)
    return cell, make_case(cell, OPTIONS[option], dtype=dtype, seed=units + batch)


@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("units", [5, 13, 40])
def test_the_split_by_units_matches_reference(units, option, monkeypatch):
    # 5 and 13 units cut into pieces of 2,1,1,1 and 4,3,3,3: ragged strips in every piece.
    monkeypatch.setattr(lstm_units, "splits_by_units", lambda units, dtype: True)
    threads.set_num_threads(2)
    cell, case = _case(monkeypatch, units, 9, option)
    result, grads = _run(cell, case)
    forward, backward = run_reference(cell, *case)
    tol = dict(rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(result.trace.hidden, forward["hidden"], **tol)
    np.testing.assert_allclose(result.trace.cell_state, forward["cell"], **tol)
    for name, value in forward["gates"].items():
        np.testing.assert_allclose(result.trace.gates[name], value, err_msg=name, **tol)
    stacked_pre = np.concatenate([result.trace.preactivations[n] for n in result.trace.gate_names], axis=2)
    np.testing.assert_allclose(stacked_pre, forward["preactivation"], **tol)
    for key in case[0]:
        np.testing.assert_allclose(grads.weights[key], backward[key], err_msg=key, **tol)
    np.testing.assert_allclose(grads.inputs, backward["inputs"], **tol)
    for ours, theirs in zip(grads.initial_state, backward["states"], strict=True):
        np.testing.assert_allclose(ours, theirs, **tol)
    np.testing.assert_allclose(grads.grad_hidden_norm, backward["grad_hidden_norm"], **tol)
    np.testing.assert_allclose(grads.grad_cell_norm, backward["grad_cell_norm"], **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("option", ["plain", "everything", "last_only"])
def test_the_split_by_units_gives_the_batch_splits_numbers_to_the_last_bit(option, dtype, monkeypatch):
    cell, case = _case(monkeypatch, 37, 11, option, dtype)
    runs = []
    for split, count in ((False, 1), (False, 2), (True, 1), (True, 2), (True, 3), (True, 5)):
        monkeypatch.setattr(lstm_units, "splits_by_units", lambda units, dtype, split=split: split)
        monkeypatch.setattr(blocks, "thread_chunks", lambda batch, count=count: min(batch, count))
        threads.set_num_threads(count)
        result, grads = _run(cell, case)
        trace = result.trace
        runs.append([trace.hidden, trace.cell_state, *trace.gates.values(), *trace.preactivations.values(),
                     *grads.weights.values(), grads.inputs, *grads.initial_state, grads.grad_hidden_norm,
                     grads.grad_cell_norm])
    for run in runs[1:]:
        for ours, theirs in zip(run, runs[0], strict=True):
            np.testing.assert_array_equal(ours, theirs)


def test_large_lstms_split_by_units_and_small_ones_by_batch_rows():
    assert not lstm_units.splits_by_units(32, np.float32)
    assert not lstm_units.splits_by_units(256, np.float32)  # (256, 1024) float32, 1 MB: it stays in L2
    assert lstm_units.splits_by_units(512, np.float32)  # 4 MB
    assert lstm_units.splits_by_units(256, np.float64)  # 2 MB


def test_each_piece_packs_its_columns_of_the_four_gate_blocks():
    units = 10
    kernel = np.arange(units * 4 * units, dtype=np.float64).reshape(units, 4 * units)
    pieces, strips = lstm_units.pack_forward_pieces(kernel)
    bounds = [threads.chunk_bounds(units, lstm_units.UNIT_PIECES, p) for p in range(lstm_units.UNIT_PIECES)]
    for p, (u0, u1) in enumerate(bounds):
        columns = np.concatenate([kernel[:, g * units + u0 : g * units + u1] for g in range(4)], axis=1)
        unpacked = pieces[p, : strips[p]].transpose(1, 0, 2).reshape(units, -1)[:, : columns.shape[1]]
        np.testing.assert_array_equal(unpacked, columns)
    backward, back_strips = lstm_units.pack_backward_pieces(kernel)
    for p, (u0, u1) in enumerate(bounds):
        unpacked = backward[p, : back_strips[p]].transpose(1, 0, 2).reshape(4 * units, -1)[:, : u1 - u0]
        np.testing.assert_array_equal(unpacked, kernel.T[:, u0:u1])
