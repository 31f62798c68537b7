"""The cells' threads: one batch chunk of a time loop per thread, and the large products split over
them.

The cells do all their work on a small pool of Python threads (`run_chunks`): the Numba kernels
release the GIL, and so does numpy inside BLAS. numpy's BLAS itself is kept on one thread around the
cells (`single_threaded_blas`). OpenBLAS's own threads spin for a while after each call, and on a
2-core machine a spinning or waiting BLAS thread holds the core the cells' next kernel needs
(BENCHMARKS.md has what that cost). The large products over all timesteps are cut into pieces on the
same threads instead (`matmul`).

How many threads: `set_num_threads(n)`, else NUMBA_NUM_THREADS, else every CPU this process may use.
The work is cut the same way on any count, so the numbers do not depend on it.
"""

from __future__ import annotations

import contextlib
import os
import threading

import numpy as np

from rnnsim.cells import floating_point, spin
from rnnsim.errors import InputError

_controller = None


def _blas():
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency; degrade, don't fail
            _controller = False
        else:
            _controller = ThreadpoolController().select(user_api="blas")
    return _controller


@contextlib.contextmanager
def single_threaded_blas():
    """numpy's BLAS on one thread inside the block, its thread counts as they were after it.

    The libraries' own calls, not threadpoolctl's `limit`: that gathers every library's version and
    configuration each time, 60-200 us at every cell pass (a GRU(32) train step is 16 ms); this takes
    2-10 us, and nothing when a library is on one thread already.
    """
    blas = _blas()
    if not blas:
        yield
        return
    changed = []
    try:
        for library in blas.lib_controllers:
            count = library.get_num_threads()
            if count != 1:
                library.set_num_threads(1)
                changed.append((library, count))
        yield
    finally:
        for library, count in changed:
            library.set_num_threads(count)


# ---------------------------------------------------------------------------------------------
# The cells' own threads: one chunk of batch rows per thread, for a whole time loop.
#
# A fused kernel's chunks are independent for the whole pass (each owns its rows at every step),
# so they need no synchronisation inside the loop: the kernels are serial Numba functions that
# release the GIL (`nogil=True`), and `run_chunks` hands one call per chunk to a small pool of
# Python threads and waits for them. Numba's `parallel=True` would do the same with OpenMP, but
# its parfor lowering was most of a cell's first compile.
#
# The pool's threads wait for work, and the caller for their results, in a compiled spin loop
# (`cells.spin`) for up to SPIN_SECONDS before they sleep: a thread that sleeps costs a wake-up,
# and on a virtual machine one that slept more than 50 microseconds costs 60-100 more to wake
# (its virtual CPU halted), at the start and again at the end of every hand-off. Spinning, a
# hand-off takes a few microseconds (BENCHMARKS.md, round 8).

SPIN_SECONDS = 2e-3  # how long a worker polls for its next chunk, and the caller for a worker, before sleeping
# (RNNSIM_WAIT_POLICY=passive: not at all, see `_polling`)
GRACE_SECONDS = 5e-6  # how long a thread that saw the other's signal polls on, while the other lets go of the GIL

_threads = None  # set by set_num_threads; None: NUMBA_NUM_THREADS, or the CPUs this process may use
_pool = None


def _polling(n_threads) -> bool:
    """Do the pool's threads poll before they sleep? Not with RNNSIM_WAIT_POLICY=passive (as OpenMP's
    OMP_WAIT_POLICY: for a process where other work wants the cores between the cells' passes), nor with
    more threads than CPUs, where a polling thread would take the time of one that has work."""
    policy = os.environ.get("RNNSIM_WAIT_POLICY", "active").strip().lower()
    if policy not in ("active", "passive", ""):
        raise InputError(f"RNNSIM_WAIT_POLICY must be 'active' or 'passive', not {policy!r}")
    return policy != "passive" and n_threads <= _cpus()


def _cpus() -> int:
    """The CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _default_threads() -> int:
    configured = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return _cpus()


def chunk_bounds(size, n_chunks, chunk):
    """Items [start, stop) of chunk number `chunk` when `size` items are cut into `n_chunks` (the last may be
    short or empty). The kernels use the same function compiled (`cells.kernel_parts.chunk_bounds`)."""
    step = (size + n_chunks - 1) // n_chunks
    start = min(size, chunk * step)
    return start, min(size, start + step)


def get_num_threads() -> int:
    """How many threads the cells' kernels use (one batch chunk each)."""
    return _threads if _threads is not None else _default_threads()


def set_num_threads(n: int) -> None:
    """Use `n` threads in the cells' kernels (default: NUMBA_NUM_THREADS, or every CPU this process may use)."""
    global _threads
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"the number of threads must be a positive integer, not {n!r}")
    _threads = n


class _Pool:
    """Worker threads that take one chunk each per `run`, waiting for it in a spin loop, then asleep.

    Worker w's chunk is posted in `tasks[w]` and announced by raising `posted[w * LINE]`; the worker
    runs it and sets `done[w * LINE]` to the same number. Both counters are int64s a cache line
    apart (so that two threads' polls do not share a line), read by the compiled polls and written
    from Python under the GIL. Whoever finds nothing after `polls` polls sleeps on `wake` with its
    `sleeping` flag up, and the other side, which checks that flag after its write, wakes it.
    """

    LINE = 8  # int64s per cache line

    def __init__(self, size):
        self.size = size
        self.pid = os.getpid()
        self.polls = spin.polls_for(SPIN_SECONDS) if _polling(size + 1) else 0
        self.posted = np.zeros(size * self.LINE, np.int64)
        self.done = np.zeros(size * self.LINE, np.int64)
        self.grace = spin.polls_for(GRACE_SECONDS)
        self.tasks = [None] * size
        self.errors = [None] * size
        self.sleeping = [False] * (size + 1)  # the workers', and the caller's (last)
        self.wake = threading.Condition()
        # one run at a time (a second caller runs its chunks itself), and no run once the pool is stopping:
        # `guard` orders the two, so a worker never ends while a run may still post it a chunk
        self.guard = threading.Lock()
        self.running = False
        self.stop_after_run = False
        self.stopping = False
        self.threads = [threading.Thread(target=self._work, args=(worker,), name=f"rnnsim-{worker + 1}", daemon=True)
                        for worker in range(size)]
        for thread in self.threads:
            thread.start()

    def run(self, kernel, n_chunks, args):
        with self.guard:
            serial = self.running or self.stopping
            if not serial:
                self.running = True
        if serial:  # another thread's run holds the workers, a chunk called run_chunks, or another thread
            for chunk in range(n_chunks):  # has replaced this pool: the same chunks, here, in order
                kernel(chunk, n_chunks, *args)
            return
        try:
            workers = range(n_chunks - 1)
            for worker in workers:
                number = int(self.posted[worker * self.LINE]) + 1
                self.tasks[worker] = (number, kernel, worker + 1, n_chunks, args)
                self.errors[worker] = None
                self.posted[worker * self.LINE] = number
            self._notify(workers)
            try:
                kernel(0, n_chunks, *args)
            finally:
                for worker in workers:
                    self._wait_for(worker)
            for worker in workers:
                error = self.errors[worker]
                if error is not None:
                    self.errors[worker] = None
                    raise error
        finally:
            with self.guard:
                self.running = False
                stop, self.stopping = self.stop_after_run, self.stopping or self.stop_after_run
            if stop:
                self._end_workers()

    def _notify(self, workers):
        if any(self.sleeping[worker] for worker in workers):
            with self.wake:
                self.wake.notify_all()

    def _wait_for(self, worker):
        slot, target = worker * self.LINE, self.posted[worker * self.LINE]
        if spin.wait_while_equal(self.done, slot, target - 1, self.polls, self.grace) == target:
            return
        with self.wake:
            self.sleeping[self.size] = True
            while self.done[slot] != target:
                self.wake.wait()
            self.sleeping[self.size] = False

    def _work(self, worker):
        floating_point.flush_this_thread()  # as the calling thread does during a cell's pass (floating_point.py)
        slot, seen = worker * self.LINE, 0
        while True:
            if spin.wait_while_equal(self.posted, slot, seen, self.polls, self.grace) == seen:
                with self.wake:
                    self.sleeping[worker] = True
                    while self.posted[slot] == seen and not self.stopping:
                        self.wake.wait()
                    self.sleeping[worker] = False
            if self.posted[slot] == seen:  # woken to stop: no run is in progress, and none will post again
                return
            seen = int(self.posted[slot])
            task, self.tasks[worker] = self.tasks[worker], None  # the pool keeps no chunk's arrays alive
            if task is not None and task[0] == seen:  # (not a run its caller left, interrupted, for a newer one)
                try:
                    task[1](*task[2:4], *task[4])
                except BaseException as error:  # raised again on the calling thread
                    self.errors[worker] = error
            del task
            spin.store(self.done, slot, seen)
            if self.sleeping[self.size]:
                with self.wake:
                    self.wake.notify_all()

    def stop(self):
        """Let the workers end (a larger pool replaces this one): now, or when the run in progress ends (its
        caller, on another thread, is waiting for them). A run that starts later runs its chunks itself."""
        with self.guard:
            if self.running:
                self.stop_after_run = True
                return
            self.stopping = True
        self._end_workers()

    def _end_workers(self):
        with self.wake:
            self.wake.notify_all()


def run_chunks(kernel, n_chunks: int, *args) -> None:
    """kernel(chunk, n_chunks, *args) for chunk = 0 .. n_chunks - 1, the first on this thread; waits for all.

    If another thread's call holds the pool (the app's probe while a model trains, say), this call runs
    its chunks one after another on its own thread: the same results, since the chunks are independent.
    """
    global _pool
    if n_chunks <= 1:
        kernel(0, 1, *args)
        return
    if _pool is None or _pool.size < n_chunks - 1 or _pool.pid != os.getpid():
        # a forked child inherits the pool object but not its threads: it makes its own
        if _pool is not None and _pool.pid == os.getpid():
            _pool.stop()
        _pool = _Pool(n_chunks - 1)
    _pool.run(kernel, n_chunks, args)


# Below this many multiply-adds a product runs as one call: handing work to a thread costs ~20-50 us.
SPLIT_MIN_MACS = 2_000_000
# A product is cut into this many pieces whatever the thread count (the threads share them out), and
# partial sums are added in a fixed order: the result is the same to the last bit on 1, 2 or 16
# threads. (OpenBLAS's result for a row depends on how many rows the call has.)
PIECES = 4
# Elements of the result per BLAS call within a piece (1 MB of float32): a block stays in cache for
# what comes next (`add`), and the calls stay large (256 rows at 1024 columns, 2730 at 96).
BLOCK_ELEMENTS = 1 << 18


def matmul(a, b, out=None, add=None):
    """a @ b for 2-D arrays on the cells' threads, each piece one single-threaded BLAS call.

    Call it with numpy's BLAS on one thread (the cells' passes run under `single_threaded_blas`):
    numpy releases the GIL inside BLAS, so the pieces run side by side on `run_chunks`' threads.
    BLAS's own threads are not used because they spin for a while after each call, and a spinning
    OpenBLAS thread takes the core the next kernel's chunk needs.

    The split, into PIECES shared out over the threads, is the one that moves the fewest elements
    through memory (`_split`): along the rows of the result, in blocks of about BLOCK_ELEMENTS (the
    input projection: many rows, a small B); along its columns (a weight gradient such as h^T dz at
    large U: B, the (T*B, G*U) gradients, is then read once, not once per piece); or along the inner
    dimension as partial sums added in order (a weight gradient with a small result). `add` (a row
    vector, such as a bias) is added to each block right after its product, while it is in cache.
    """
    rows, depth = a.shape
    width = b.shape[1]
    if out is None:
        out = np.empty((rows, width), np.result_type(a, b))
    n = get_num_threads()
    if rows * depth * width < SPLIT_MIN_MACS:  # (not on n == 1: the pieces keep the result the same)
        np.matmul(a, b, out=out)
        if add is not None:
            out += add
        return out
    split = _split(rows, depth, width)
    if split == "inner":
        partials = [out] + [np.empty_like(out) for _ in range(PIECES - 1)]
        n = min(n, PIECES)
        run_chunks(_matmul_inner_chunk, n, a, b, partials)
        for partial in partials[1:]:
            out += partial
        if add is not None:
            out += add
        return out
    if split == "columns":
        run_chunks(_matmul_column_chunk, min(n, PIECES), a, b, out, add)
        return out
    pieces = min(PIECES, max(1, rows // 8))
    n = min(n, pieces)
    run_chunks(_matmul_row_chunk, n, a, b, out, pieces, add)
    return out


def _split(rows, depth, width) -> str:
    """'rows', 'columns' or 'inner': the split of (rows, depth) @ (depth, width) into PIECES that reads
    and writes the fewest elements (each piece a whole BLAS call, so each reads its share of A and B):

        rows:    A once, B once per piece
        columns: A once per piece, B once
        inner:   A and B once, plus the partial results written and added (3 passes each but the first)

    Measured at LSTM(512)'s h^T dz, (512, 6400) @ (6400, 2048) on 2 threads: rows 58.9 ms, inner 47.4,
    columns 47.1; x^T dz (128, 6400) @ (6400, 2048): rows 23.6, columns 14.6 (BENCHMARKS.md round 6).
    """
    a_size, b_size, c_size = rows * depth, depth * width, rows * width
    by_rows = a_size + PIECES * b_size
    by_columns = PIECES * a_size + b_size
    inner = a_size + b_size + (3 * (PIECES - 1) + PIECES) * c_size
    if depth < 64 * PIECES:
        inner = by_rows + 1  # pieces of the sum too short to pay
    if inner < min(by_rows, by_columns):
        return "inner"
    if by_columns < by_rows and width >= 8 * PIECES:
        return "columns"
    return "rows"


def _matmul_column_chunk(chunk, n_chunks, a, b, out, add):
    for piece in range(chunk, PIECES, n_chunks):  # this thread's share of the pieces
        start, stop = chunk_bounds(b.shape[1], PIECES, piece)
        np.matmul(a, b[:, start:stop], out=out[:, start:stop])
        if add is not None:
            out[:, start:stop] += add[start:stop]


def _matmul_row_chunk(chunk, n_chunks, a, b, out, pieces, add):
    for piece in range(chunk, pieces, n_chunks):  # this thread's share of the pieces
        start, stop = chunk_bounds(a.shape[0], pieces, piece)
        block = max(8, BLOCK_ELEMENTS // out.shape[1])
        for row in range(start, stop, block):
            end = min(stop, row + block)
            np.matmul(a[row:end], b, out=out[row:end])
            if add is not None:
                out[row:end] += add


def _matmul_inner_chunk(chunk, n_chunks, a, b, partials):
    for piece in range(chunk, len(partials), n_chunks):
        start, stop = chunk_bounds(a.shape[1], len(partials), piece)
        np.matmul(a[:, start:stop], b[start:stop], out=partials[piece])
