"""`SparseRows`: the gradient of an embedding table, only the rows a batch used.

The Embedding layer (or a cell that folded the lookup into its input projection) makes one, and
the optimizer consumes it. Neither owns the type: it is a plain value passed between them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SparseRows:
    """The gradient of a (V, D) table in which only some rows are non-zero.

    `rows` holds distinct row indices; `values[k]` is the gradient of row `rows[k]`.
    """

    rows: np.ndarray  # (K,) int64, distinct
    values: np.ndarray  # (K, D)
    shape: tuple  # the full table's shape, (V, D)

    def to_dense(self) -> np.ndarray:
        """The dense (V, D) gradient; for tests and gradient checks only."""
        dense = np.zeros(self.shape, dtype=self.values.dtype)
        dense[self.rows] = self.values
        return dense
