"""Threads: the cells' own (one batch chunk each), and numpy's BLAS kept on one thread around them.

The cells' own loops run on the threads of `run_chunks` (below); around them sit a few matrix products through
numpy's BLAS (OpenBLAS here), which starts threads of its own. On a busy machine, a 2-thread
OpenBLAS call waits for a core that another program holds, and a small training step (adding
problem, 100 steps, 16 units) went from 2 ms to 90 ms while one other process ran. At the sizes
where the Numba kernels do the recurrent work (U < 128) these products are small, one BLAS
thread loses little on an idle machine (under 1 ms per step), and the step stays fast on a
busy one. The large-U path, where BLAS does the recurrent product itself, keeps all threads.
"""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

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
    """numpy's BLAS on one thread inside the block (about 10 microseconds to enter and leave)."""
    blas = _blas()
    if not blas:
        yield
        return
    with blas.limit(limits=1):
        yield


# ---------------------------------------------------------------------------------------------
# The cells' own threads: one chunk of batch rows per thread, for a whole time loop.
#
# A fused kernel's chunks are independent for the whole pass (each owns its rows at every step),
# so they need no synchronisation inside the loop: the kernels are serial Numba functions that
# release the GIL (`nogil=True`), and `run_chunks` starts one call per chunk on a small pool of
# Python threads and waits for them. Numba's `parallel=True` would do the same with OpenMP, but
# its parfor lowering was most of a cell's first compile (9-12 s of a GRU kernel's 15-18 s).

_threads = None  # set by set_num_threads; None: NUMBA_NUM_THREADS, or the CPUs this process may use
_pool = None


def _default_threads() -> int:
    configured = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """How many threads the cells' kernels use (one batch chunk each)."""
    return _threads if _threads is not None else _default_threads()


def set_num_threads(n: int) -> None:
    """Use `n` threads in the cells' kernels (default: NUMBA_NUM_THREADS, or every CPU this process may use)."""
    global _threads
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"the number of threads must be a positive integer, not {n!r}")
    _threads = n


def run_chunks(kernel, n_chunks: int, *args) -> None:
    """kernel(chunk, *args) for chunk = 0 .. n_chunks - 1, the first on this thread, and wait for all."""
    global _pool
    if n_chunks <= 1:
        kernel(0, *args)
        return
    if _pool is None or _pool._max_workers < n_chunks - 1:
        _pool = ThreadPoolExecutor(max_workers=n_chunks - 1, thread_name_prefix="rnnsim")
    futures = [_pool.submit(kernel, chunk, *args) for chunk in range(1, n_chunks)]
    try:
        kernel(0, *args)
    finally:
        for future in futures:
            future.result()
