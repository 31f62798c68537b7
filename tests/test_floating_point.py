"""Denormals flushed to zero during a cell's pass, on every thread that computes it (floating_point.py)."""

import threading

import numpy as np
import pytest

from rnnsim import threads
from rnnsim.cells import floating_point, make_cell

DENORMAL = np.float32(1e-39)  # below float32's smallest normal number, 1.18e-38
needs_x86 = pytest.mark.skipif(not floating_point.X86, reason="the flush bits are x86's MXCSR")


@pytest.fixture(autouse=True)
def fresh_pool_made_outside_a_pass(monkeypatch):
    # A new thread inherits its creator's control bits: a pool first made inside a cell's pass would
    # flush without being told to. Each test starts with workers made outside one.
    monkeypatch.setattr(threads, "_threads", None)
    monkeypatch.setattr(threads, "_pool", None)
    threads.run_chunks(lambda chunk, n_chunks: None, 4)


def _survives(value):
    return bool(np.array([value], np.float32)[0] * np.float32(1.0) != 0.0)


@needs_x86
def test_denormals_are_flushed_inside_the_block_and_kept_after_it():
    control = ~0x3F  # MXCSR's low 6 bits are sticky exception flags, which the arithmetic below sets
    assert _survives(DENORMAL)
    before = floating_point.control_word() & control
    with floating_point.denormals_flushed():
        assert floating_point.control_word() & floating_point.FLUSH_BITS == floating_point.FLUSH_BITS
        assert not _survives(DENORMAL)
        assert _survives(np.float32(1.2e-38))  # normal numbers are untouched
    assert floating_point.control_word() & control == before
    assert _survives(DENORMAL)


@needs_x86
def test_the_cells_worker_threads_flush_denormals():
    seen = {}
    barrier = threading.Barrier(3, timeout=10)

    def kernel(chunk, n_chunks):
        barrier.wait()  # three threads at once: chunks 1 and 2 run on the pool's workers
        seen[chunk] = _survives(DENORMAL)

    with floating_point.denormals_flushed():  # as a cell's pass does on the calling thread
        threads.run_chunks(kernel, 3)
    assert seen == {0: False, 1: False, 2: False}


@pytest.mark.parametrize("name", ["simple_rnn", "lstm", "gru"])
def test_a_gradient_that_vanishes_into_denormals_is_the_same_on_one_thread_and_on_three(name):
    # The output gradient starts near float32's smallest normal number, so its way back passes through
    # the denormals: the pass flushes them on every thread, or the chunks would disagree by thread count.
    rng = np.random.default_rng(2)
    cell = make_cell(name, 40)
    weights = cell.init_weights(24, rng)
    x = rng.normal(size=(37, 60, 24)).astype(np.float32)
    grads = (np.full((37, 40), 3e-36, np.float32),) + (None,) * (len(cell.state_names) - 1)
    runs = []
    for count in (1, 3):
        threads.set_num_threads(count)
        backward = cell.backward(cell.forward(x, weights), grad_final_states=grads)
        runs.append((backward.inputs.copy(), backward.weights["recurrent_kernel"].copy(),
                     backward.grad_hidden_norm.copy()))
    for one, three in zip(*runs):
        np.testing.assert_array_equal(one, three)
    if floating_point.X86:
        tiny = np.finfo(np.float32).tiny
        for array in runs[0]:
            assert not ((array != 0) & (np.abs(array) < tiny)).any()  # nothing denormal came out
