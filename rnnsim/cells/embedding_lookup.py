"""Token input: an Embedding lookup folded into a recurrent cell's input projection.

An Embedding followed by a recurrent layer computes x_t W + b with x_t = E[id_t], one
(B*T, D) @ (D, G*U) product over every timestep. But x can take only V different values, the
rows of E, so the same numbers come from the projected table P = E W + b, (V, G*U), and a row
lookup P[id]: for IMDB (V = 10,000, B*T = 64,000) that is a sixth of the multiply-adds, and
the (B, T, D) embedded array is never made. Backward runs the same trick in reverse. With
dz_t = dL/d(x_t W + b) and S[v] = the sum of dz_t over every (t, b) that read token v:

    dW = sum over (t, b) of E[id]^T dz = E^T S          (D, G*U)
    db = sum over (t, b) of dz         = sum over v of S[v]
    dE[v] = S[v] W^T                                    only for the tokens the batch used

The results are the same sums as the plain path's, grouped differently (float32 rounding of
the last bits differs). `Sequential` uses this when an Embedding feeds a recurrent layer
directly (no input dropout in between): see `RNN.accepts_tokens`.

The LSTM's forward kernels take the input product inside their time loop, [x_t, h_{t-1}] [W; U]
as one product (lstm.py): there the lookup happens step by step instead (`gather_step`, x_t =
E[id_t] into a (R, D) buffer), which writes no (T, B, 4U) array of x_t W + b (32 MB at IMDB
size) and gives the embedded array's bits exactly. Its backward still groups by token.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from rnnsim.cells.kernel_parts import chunk_bounds, copy_into


@dataclass(frozen=True)
class TokenSequence:
    """A batch of token ids standing for the embedded sequences embeddings[ids], (B, T, D)."""

    ids: np.ndarray  # (B, T) integer ids in [0, V)
    embeddings: np.ndarray  # (V, D)

    @property
    def shape(self) -> tuple:
        return self.ids.shape + (self.embeddings.shape[1],)

    @property
    def ndim(self) -> int:
        return 3

    @property
    def dtype(self):
        return self.embeddings.dtype


def token_steps(tokens) -> np.ndarray:
    """A TokenSequence's ids as a time-major (T, B) array of np.intp, the kernels' one type of index."""
    return np.ascontiguousarray(np.asarray(tokens.ids).T, dtype=np.intp)


@njit(nogil=True, cache=True, inline="always")
def gather_step(table, ids, out):
    """out[r] = table[ids[r]] for one timestep's (R,) ids into an (R, D) buffer: the LSTM's x_t, looked up
    inside its time loop (lstm.py), so that [x_t, h_{t-1}] [W; U] is one product as for embedded inputs."""
    width = table.shape[1]
    for r in range(ids.shape[0]):
        row, source = out[r], table[ids[r]]
        for k in range(width):
            row[k] = source[k]


@njit(nogil=True, cache=True)
def gather_rows(chunk, n_chunks, table, ids_tm, out):
    """out[t, b] = table[ids_tm[t, b]] for (T, B) ids into a (T, B, W) buffer; this chunk's timesteps."""
    timesteps, batch = ids_tm.shape
    t0, t1 = chunk_bounds(timesteps, n_chunks, chunk)
    for t in range(t0, t1):
        for b in range(batch):
            copy_into(out[t, b], table[ids_tm[t, b]])


@njit(nogil=True, cache=True, error_model="numpy")
def scatter_add_rows(chunk, n_chunks, ids, values, out):
    """out[ids[n]] += values[n] for every n; out (V, W) is zeroed by the caller.

    The columns are cut into one block per thread, so no two threads ever add into the same
    element (repeated ids are the rule: every review uses 'the').
    """
    width = values.shape[1]
    c0, c1 = chunk_bounds(width, n_chunks, chunk)
    for n in range(ids.shape[0]):
        dst = out[ids[n], c0:c1]
        src = values[n, c0:c1]
        for k in range(dst.shape[0]):
            dst[k] += src[k]
