"""The cells' own threads: `rnnsim.threads.run_chunks` and the thread count."""

import threading

import numpy as np
import pytest

from rnnsim import threads
from rnnsim.cells import make_cell, spin
from rnnsim.errors import InputError


@pytest.fixture(autouse=True)
def restore_thread_count(monkeypatch):
    monkeypatch.setattr(threads, "_threads", None)


def test_run_chunks_runs_each_chunk_once_each_on_its_own_thread():
    seen, barrier = [], threading.Barrier(3, timeout=10)

    def kernel(chunk, n_chunks, out):
        assert n_chunks == 3
        barrier.wait()  # all three at once: only possible if each chunk has its own thread
        out.append((chunk, threading.get_ident()))

    threads.run_chunks(kernel, 3, seen)
    assert sorted(chunk for chunk, _ in seen) == [0, 1, 2]
    assert len({ident for _, ident in seen}) == 3
    assert dict(seen)[0] == threading.get_ident()  # chunk 0 runs on the caller's thread


def test_run_chunks_with_one_chunk_stays_on_the_calling_thread():
    seen = []
    threads.run_chunks(lambda chunk, n_chunks, out: out.append((chunk, n_chunks, threading.get_ident())), 1, seen)
    assert seen == [(0, 1, threading.get_ident())]


def test_run_chunks_raises_a_workers_error_after_every_chunk_finished():
    done = []

    def kernel(chunk, n_chunks):
        if chunk == 1:
            raise ValueError("chunk 1 failed")
        done.append(chunk)

    with pytest.raises(ValueError, match="chunk 1 failed"):
        threads.run_chunks(kernel, 3)
    assert sorted(done) == [0, 2]


def test_thread_count_comes_from_numba_num_threads_or_set_num_threads(monkeypatch):
    monkeypatch.setenv("NUMBA_NUM_THREADS", "3")
    assert threads.get_num_threads() == 3
    threads.set_num_threads(5)
    assert threads.get_num_threads() == 5


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_rejects_what_is_not_a_positive_integer(bad):
    with pytest.raises(ValueError, match="positive integer"):
        threads.set_num_threads(bad)


@pytest.mark.parametrize("name", ["simple_rnn", "lstm", "gru"])
def test_a_cell_gives_the_same_numbers_on_one_thread_and_on_three(name):
    # Big enough that the input projection is split by rows and dW, dU by partial sums.
    rng = np.random.default_rng(4)
    cell = make_cell(name, 48)
    weights = cell.init_weights(40, rng)
    x = rng.normal(size=(67, 50, 40)).astype(np.float32)
    grads = (np.ones((67, 48), np.float32),) + (None,) * (len(cell.state_names) - 1)
    runs = []
    for count in (1, 3):
        threads.set_num_threads(count)
        result = cell.forward(x, weights)
        backward = cell.backward(result, grad_final_states=grads)
        runs.append((result.outputs.copy(), backward.inputs.copy(), backward.weights["recurrent_kernel"].copy()))
    for one, three in zip(*runs):
        np.testing.assert_array_equal(one, three)  # each row is computed by the same code on any thread


@pytest.mark.parametrize("shape", [(600, 40, 50), (10, 5000, 12), (3, 2, 4), (1, 900, 3000), (40, 700, 900)])
@pytest.mark.parametrize("count", [1, 2, 3])
def test_matmul_on_the_cells_threads_equals_numpy(shape, count, monkeypatch):
    # Big enough to be split (along the rows, the columns (40, 700, 900), or the inner dimension for a
    # long sum with a small result), except (3, 2, 4), which runs as one call; the result must not depend
    # on the split.
    monkeypatch.setattr(threads, "SPLIT_MIN_MACS", 1000)
    threads.set_num_threads(count)
    rows, depth, width = shape
    rng = np.random.default_rng(rows + depth)
    a, b = rng.normal(size=(rows, depth)), rng.normal(size=(depth, width))
    np.testing.assert_allclose(threads.matmul(a, b), a @ b, rtol=1e-12, atol=1e-12)
    out = np.full((rows, width), np.nan)
    assert threads.matmul(a.T.copy().T, b, out=out) is out  # a strided (Fortran-order) left operand
    np.testing.assert_allclose(out, a @ b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(1000, 14, 96), (8, 5000, 8), (3, 2, 4), (40, 700, 900)])
def test_matmul_adds_a_row_vector_to_every_row(shape, monkeypatch):
    # The input projection x W + b: the bias goes in block by block (row split), after the partial sums
    # (a long inner dimension) or after the one call (small).
    monkeypatch.setattr(threads, "SPLIT_MIN_MACS", 1000)
    monkeypatch.setattr(threads, "BLOCK_ELEMENTS", 100 * 96)  # several blocks per piece
    threads.set_num_threads(2)
    rows, depth, width = shape
    rng = np.random.default_rng(rows)
    a, b, bias = rng.normal(size=(rows, depth)), rng.normal(size=(depth, width)), rng.normal(size=width)
    np.testing.assert_allclose(threads.matmul(a, b, add=bias), a @ b + bias, rtol=1e-12, atol=1e-12)


def test_matmul_splits_a_long_sum_into_partial_sums(monkeypatch):
    calls = []
    monkeypatch.setattr(threads, "run_chunks", lambda kernel, n, *args: calls.append((kernel.__name__, n)))
    threads.set_num_threads(2)
    threads.matmul(np.ones((8, 100_000)), np.ones((100_000, 8)))  # dW = x^T dz: a long sum, a small result
    threads.matmul(np.ones((100_000, 8)), np.ones((8, 8)))  # the input projection: many rows
    assert calls == [("_matmul_inner_chunk", 2), ("_matmul_row_chunk", 2)]


@pytest.mark.parametrize("shape, split", [
    ((512, 6400, 2048), "columns"),  # LSTM(512)'s h^T dz: the (T*B, 4U) gradients read once
    ((128, 6400, 2048), "columns"),  # its x^T dz
    ((14, 30720, 96), "inner"),  # the Jena GRU's x^T dz: a long sum, a small result
    ((32, 30720, 96), "inner"),
    ((6400, 128, 2048), "rows"),  # the input projection: many rows, a small B
    ((64000, 32, 128), "rows"),
    ((30720, 96, 14), "rows"),  # dx = dz W^T
])
def test_matmul_takes_the_split_that_moves_the_fewest_elements(shape, split):
    assert threads._split(*shape) == split


def test_a_column_split_gives_the_same_bits_on_any_thread_count(monkeypatch):
    monkeypatch.setattr(threads, "SPLIT_MIN_MACS", 1000)
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(30, 500)).astype(np.float32), rng.normal(size=(500, 700)).astype(np.float32)
    bias = rng.normal(size=700).astype(np.float32)
    assert threads._split(30, 500, 700) == "columns"
    results = []
    for count in (1, 2, 3, 5):
        threads.set_num_threads(count)
        results.append(threads.matmul(a.T.copy().T, b, add=bias))
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])
    np.testing.assert_allclose(results[0], a @ b + bias, rtol=1e-4, atol=1e-3)


def test_matmul_adds_the_same_partial_sums_on_any_thread_count():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(8, 40_000)).astype(np.float32), rng.normal(size=(40_000, 8)).astype(np.float32)
    results = []
    for count in (1, 2, 3, 4, 7):
        threads.set_num_threads(count)
        results.append(threads.matmul(a, b))
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])


def test_a_forked_child_runs_chunks_on_threads_of_its_own(tmp_path):
    import multiprocessing

    threads.run_chunks(lambda chunk, n_chunks: None, 2)  # the parent's pool exists before the fork
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_run_two_chunks, args=(str(tmp_path / "done"),))
    child.start()
    child.join(timeout=30)
    if child.is_alive():  # hung: its chunk was queued to a thread that does not exist in the child
        child.kill()
    assert child.exitcode == 0 and (tmp_path / "done").read_text() == "0,1"


def _run_two_chunks(path):
    seen = []
    threads.run_chunks(lambda chunk, n_chunks: seen.append(chunk), 2)
    with open(path, "w") as handle:
        handle.write(",".join(map(str, sorted(seen))))


@pytest.mark.parametrize("batch, count, chunks", [(128, 64, 32), (128, 2, 2), (8, 3, 2), (7, 3, 1), (3, 2, 1)])
def test_a_batch_is_cut_into_one_chunk_per_thread_of_at_least_one_row_tile(batch, count, chunks):
    from rnnsim.cells import blocks

    threads.set_num_threads(count)
    assert blocks.thread_chunks(batch) == chunks


# -- the pool's waiting: polls, then sleep (threads._Pool, cells/spin.py) ---------------------------------------


def test_a_poll_returns_the_new_value_written_by_another_thread_and_times_out_on_none():
    flags = np.zeros(16, np.int64)
    assert spin.wait_while_equal(flags, 8, 0, 1000, 0) == 0  # nothing written: the polls run out
    writer = threading.Timer(0.05, lambda: spin.store(flags, 8, 7))
    writer.start()
    assert spin.wait_while_equal(flags, 8, 0, spin.polls_for(10.0), 0) == 7  # the GIL was released meanwhile
    writer.join()
    flags[3] = 5  # written from Python, seen by the compiled poll
    assert spin.wait_while_equal(flags, 3, 0, 1, 0) == 5
    assert 1 <= spin.polls_for(1e-9) < spin.polls_for(1e-3)


def test_workers_that_slept_are_woken_for_the_next_chunk_and_the_caller_for_a_slow_worker(monkeypatch):
    import time

    monkeypatch.setattr(threads, "_pool", None)
    monkeypatch.setattr(threads, "_cpus", lambda: 64)  # polling, on any machine
    monkeypatch.setattr(threads, "SPIN_SECONDS", 1e-6)  # both sides sleep almost at once
    seen = []

    def kernel(chunk, n_chunks, out):
        if chunk == 1:
            time.sleep(0.05)  # the caller finishes first, polls briefly, then sleeps until this chunk is done
        out.append(chunk)

    for _ in range(3):
        time.sleep(0.02)  # the workers are asleep by now
        threads.run_chunks(kernel, 3, seen)
    assert sorted(seen) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert 0 < threads._pool.polls <= spin.polls_for(1e-5)


def test_two_threads_running_chunks_at_once_both_get_every_chunk_run():
    results, errors = {}, []

    def kernel(chunk, n_chunks, out, who):
        out[chunk] = who * 10 + chunk

    def caller(who):
        try:
            for _ in range(200):
                out = np.full(3, -1)
                threads.run_chunks(kernel, 3, out, who)
                assert out.tolist() == [who * 10, who * 10 + 1, who * 10 + 2]
            results[who] = True
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    callers = [threading.Thread(target=caller, args=(who,)) for who in (1, 2)]
    for thread in callers:
        thread.start()
    for thread in callers:
        thread.join(timeout=60)
    assert errors == [] and results == {1: True, 2: True}


def test_a_chunk_that_runs_chunks_itself_gets_them_run_on_its_own_thread():
    inner = []

    def inner_kernel(chunk, n_chunks, out):
        out.append((chunk, threading.get_ident()))

    def outer_kernel(chunk, n_chunks, out):
        if chunk == 1:  # the pool is busy with this run: the nested call runs its chunks here, in order
            threads.run_chunks(inner_kernel, 2, out)

    threads.run_chunks(outer_kernel, 2, inner)
    assert [chunk for chunk, _ in inner] == [0, 1] and len({ident for _, ident in inner}) == 1


def test_the_pool_grows_when_more_threads_are_asked_for_and_the_old_workers_end(monkeypatch):
    monkeypatch.setattr(threads, "_pool", None)
    threads.run_chunks(lambda chunk, n_chunks: None, 2)
    old = threads._pool
    seen, barrier = [], threading.Barrier(4, timeout=10)

    def kernel(chunk, n_chunks, out):
        barrier.wait()
        out.append(chunk)

    threads.run_chunks(kernel, 4, seen)
    assert sorted(seen) == [0, 1, 2, 3] and threads._pool is not old and old.stopping


def test_a_run_on_a_pool_that_another_thread_replaced_runs_its_chunks_itself(monkeypatch):
    # another thread may grow the pool (stop this one) while a caller still holds it: that caller's run must not
    # post chunks to workers that have ended, or it would wait for them forever (CI once hung here)
    monkeypatch.setattr(threads, "_cpus", lambda: 64)
    pool = threads._Pool(1)
    pool.run(lambda chunk, n_chunks: None, 2, ())  # the worker is polling now
    pool.stop()
    for thread in pool.threads:
        thread.join(timeout=10)
        assert not thread.is_alive()
    seen = []

    def kernel(chunk, n_chunks, out):
        out.append((chunk, threading.get_ident()))

    caller = threading.Thread(target=pool.run, args=(kernel, 2, (seen,)), daemon=True)
    caller.start()
    caller.join(timeout=10)
    assert not caller.is_alive() and [chunk for chunk, _ in seen] == [0, 1] and seen[0][1] == seen[1][1] == caller.ident


def test_a_pool_stopped_during_a_run_ends_its_workers_when_that_run_is_done(monkeypatch):
    monkeypatch.setattr(threads, "_cpus", lambda: 64)
    pool = threads._Pool(1)
    seen, barrier = [], threading.Barrier(2, timeout=10)

    def kernel(chunk, n_chunks, out):
        if chunk == 0:
            pool.stop()  # as another thread growing the pool would, while this run needs the worker
        barrier.wait()  # chunk 1 runs on the worker, after the stop
        out.append(chunk)

    pool.run(kernel, 2, (seen,))
    assert sorted(seen) == [0, 1] and pool.stopping and not pool.running
    for thread in pool.threads:
        thread.join(timeout=10)
        assert not thread.is_alive()


def test_with_more_threads_than_cpus_the_workers_sleep_instead_of_polling(monkeypatch):
    monkeypatch.setattr(threads, "_pool", None)
    monkeypatch.setattr(threads, "_cpus", lambda: 2)
    out = []
    threads.run_chunks(lambda chunk, n_chunks, o: o.append(chunk), 3, out)
    assert sorted(out) == [0, 1, 2] and threads._pool.polls == 0
    monkeypatch.setattr(threads, "_pool", None)
    threads.run_chunks(lambda chunk, n_chunks, o: o.append(chunk), 2, out)
    assert threads._pool.polls > 0


def test_rnnsim_wait_policy_passive_makes_the_workers_sleep_at_once(monkeypatch):
    monkeypatch.setattr(threads, "_cpus", lambda: 64)
    for policy, polling in (("passive", False), ("PASSIVE ", False), ("active", True), ("", True)):
        monkeypatch.setenv("RNNSIM_WAIT_POLICY", policy)
        monkeypatch.setattr(threads, "_pool", None)
        out = []
        threads.run_chunks(lambda chunk, n_chunks, o: o.append(chunk), 2, out)
        assert sorted(out) == [0, 1] and (threads._pool.polls > 0) == polling
    monkeypatch.setenv("RNNSIM_WAIT_POLICY", "busy")
    monkeypatch.setattr(threads, "_pool", None)
    with pytest.raises(InputError, match="RNNSIM_WAIT_POLICY must be 'active' or 'passive'"):
        threads.run_chunks(lambda chunk, n_chunks: None, 2)


def test_a_worker_error_leaves_the_pool_working():
    def failing(chunk, n_chunks):
        if chunk == 1:
            raise RuntimeError("boom")

    for _ in range(3):
        with pytest.raises(RuntimeError, match="boom"):
            threads.run_chunks(failing, 2)
    seen = []
    threads.run_chunks(lambda chunk, n_chunks, o: o.append(chunk), 2, seen)
    assert sorted(seen) == [0, 1]


def test_single_threaded_blas_puts_numpys_blas_on_one_thread_and_restores_it_after_an_error():
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]

    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        assert before and before == [2] * len(before)
        with pytest.raises(RuntimeError):
            with threads.single_threaded_blas():
                assert blas_threads() == [1] * len(before)
                with threads.single_threaded_blas():  # nested: still one, and the outer block restores
                    assert blas_threads() == [1] * len(before)
                assert blas_threads() == [1] * len(before)
                raise RuntimeError("inside")
        assert blas_threads() == before
