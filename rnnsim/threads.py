"""Keep numpy's BLAS on one thread around the small matrix products of the recurrent cells.

The cells' own loops run on Numba's threads; around them sit a few matrix products through
numpy's BLAS (OpenBLAS here), which starts threads of its own. On a busy machine, a 2-thread
OpenBLAS call waits for a core that another program holds, and a small training step (adding
problem, 100 steps, 16 units) went from 2 ms to 90 ms while one other process ran. At the sizes
where the Numba kernels do the recurrent work (U < 128) these products are small, one BLAS
thread loses little on an idle machine (under 1 ms per step), and the step stays fast on a
busy one. The large-U path, where BLAS does the recurrent product itself, keeps all threads.
"""

from __future__ import annotations

import contextlib

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
