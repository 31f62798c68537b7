"""The large arrays of a cell's passes, handed out again instead of allocated afresh.

A fresh 10-80 MB array costs page faults and the kernel's zeroing of every page once the allocator
has given the memory back to the system, which it does for arrays this large: at LSTM(512), B64
T100, the forward pass's gates, hidden and cell states are 78 MB, and allocating them afresh made the
fused forward kernel 66 ms instead of 54 (BENCHMARKS.md, round 6). Two kinds of reuse:

- **scratch**: arrays that never leave a pass (backward's (T, B, G*U) gradients). The pass takes
  one (`scratch`) and gives it back when done (`release`).
- **kept**: arrays that leave the pass inside its result (the forward's gates, hidden and cell
  states, which backward, the outputs and the trace read). The pool keeps a reference to each one it
  made and hands it out again only when nobody else holds it: no result, output view or trace of
  an earlier pass (`sys.getrefcount` counts them; a numpy view holds its base). An array someone
  still holds is never overwritten; the pool makes another.

A pool belongs to one cell. It keeps at most a few arrays, dropping the oldest.
"""

from __future__ import annotations

import sys
import threading

import numpy as np

MAX_KEPT = 8  # arrays a pool keeps: a pass's 2-4 kinds, twice (stacked layers hold the previous one a while)
MAX_SCRATCH = 4  # a few shapes at most (training and probe batches)

_HAS_REFCOUNTS = hasattr(sys, "getrefcount")


def _free_refcount() -> int:
    """sys.getrefcount of an array held only by a list, as this interpreter counts it (the list and the
    call's argument: 2 on CPython 3.11; a later one may borrow the argument's reference)."""
    probe = [np.empty(1)]
    return sys.getrefcount(probe[0])


_FREE_REFCOUNT = _free_refcount() if _HAS_REFCOUNTS else 0


class BufferPool:
    """A cell's reusable arrays (see the module's docstring)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._kept: list[np.ndarray] = []
        self._scratch: list[np.ndarray] = []

    def __deepcopy__(self, memo):  # a copied cell (what-ifs edit a copy) starts with an empty pool
        return BufferPool()

    __copy__ = __deepcopy__

    def __reduce__(self):
        return BufferPool, ()

    def kept(self, shape, dtype) -> np.ndarray:
        """An uninitialized array of `shape` and `dtype` that no earlier result still holds."""
        shape, dtype = tuple(shape), np.dtype(dtype)
        if not _HAS_REFCOUNTS:  # pragma: no cover - CPython has them
            return np.empty(shape, dtype)
        with self._lock:
            for k in range(len(self._kept)):
                if (self._kept[k].shape == shape and self._kept[k].dtype == dtype
                        and sys.getrefcount(self._kept[k]) == _FREE_REFCOUNT):
                    array = self._kept.pop(k)
                    self._kept.append(array)  # the most recently used last
                    return array
            array = np.empty(shape, dtype)
            self._kept.append(array)
            if len(self._kept) > MAX_KEPT:
                del self._kept[0]  # the pool forgets it; whoever holds it keeps it
            return array

    def scratch(self, shape, dtype) -> np.ndarray:
        """An uninitialized array for use inside one pass; give it back with `release`."""
        shape = tuple(shape)
        with self._lock:
            for k, buffer in enumerate(self._scratch):
                if buffer.shape == shape and buffer.dtype == dtype:
                    return self._scratch.pop(k)
        return np.empty(shape, dtype)

    def release(self, *buffers) -> None:
        """Give scratch arrays back (each once, however often it is named)."""
        with self._lock:
            for buffer in {id(b): b for b in buffers}.values():
                self._scratch.append(buffer)
            del self._scratch[:-MAX_SCRATCH]

    def clear(self) -> None:
        """Forget every array (their holders keep theirs)."""
        with self._lock:
            self._kept.clear()
            self._scratch.clear()
