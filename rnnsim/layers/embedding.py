"""The Embedding layer: token ids (B, T) to vectors (B, T, D), with a sparse gradient."""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnsim import initializers
from rnnsim.cells.embedding_lookup import TokenSequence
from rnnsim.errors import InputError
from rnnsim.layers.base import Layer, check_positive_int
from rnnsim.sparse import SparseRows


@njit(cache=True)
def _sum_rows(token_ids, grad_flat, row_slot, rows_out, values_out):
    """Sum the gradients of repeated token ids: rows_out[:count] distinct ids, values_out their sums.

    `row_slot` (V,) must be all -1 on entry; it is restored before returning.
    """
    count = 0
    for n in range(token_ids.shape[0]):
        token = token_ids[n]
        slot = row_slot[token]
        if slot < 0:
            slot = count
            row_slot[token] = slot
            rows_out[slot] = token
            count += 1
        for k in range(grad_flat.shape[1]):
            values_out[slot, k] += grad_flat[n, k]
    for i in range(count):
        row_slot[rows_out[i]] = -1
    return count


class Embedding(Layer):
    """Turns token ids into dense vectors: output[b, t] = embeddings[x[b, t]].

    Its gradient is a `SparseRows` (only the rows the batch used), never a dense (V, D) array.

    Pretrained vectors, frozen, as in the book's GloVe example:

        Embedding(max_tokens, 100, embeddings_initializer=initializers.Constant(matrix), trainable=False)

    Args:
        input_dim: vocabulary size V (ids 0 .. V-1).
        output_dim: vector size D.
        embeddings_initializer: default 'uniform' (Keras's U(-0.05, 0.05)); a name, a function or
            `initializers.Constant(value)` with a number or a (V, D) matrix.
        mask_zero: id 0 is padding and masks its timestep downstream (default False).
        **kwargs: see `Layer` (name, input_shape, seed, trainable, ...); Keras 2's input_length is accepted.
            With trainable=False the optimizer leaves the vectors as they are and summary() counts them
            as non-trainable.
    """

    default_name = "embedding"

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = check_positive_int(input_dim, "Embedding input_dim")
        self.output_dim = check_positive_int(output_dim, "Embedding output_dim")
        initializers.get(embeddings_initializer)
        self.embeddings_initializer = embeddings_initializer
        self.mask_zero = bool(mask_zero)
        self._row_slot = None

    def _build(self, input_shape):
        if len(input_shape) != 2:
            raise InputError(
                f"Embedding expects token ids of shape (batch, timesteps), got {len(input_shape)} dimensions"
            )
        init = initializers.get(self.embeddings_initializer)
        self.weights = [np.ascontiguousarray(init((self.input_dim, self.output_dim), self.init_rng, self.dtype))]

    def weight_names(self):
        return ["embeddings"]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask_from_ids(self, token_ids):
        return (token_ids != 0) if self.mask_zero else None

    def compute_output_mask(self, inputs, mask):
        return self.compute_mask_from_ids(inputs)

    def forward(self, x, mask=None, training=False, record_trace=False):
        token_ids = self._token_ids(x)
        self._cache = token_ids
        # Gathered time-major, (T, B, D) in memory, and returned as its (B, T, D) view: the recurrent
        # layers work time-major, so they take this without a copy (see rnnsim/cells/base.py).
        return self.weights[0][token_ids.T].transpose(1, 0, 2)  # (B, T, D)

    def forward_tokens(self, x):
        """The output as a `TokenSequence` (ids + table) for a recurrent layer that folds the lookup
        into its input projection (see rnnsim/cells/embedding_lookup.py); `backward` then takes its `SparseRows`."""
        token_ids = self._token_ids(x)
        self._cache = token_ids
        return TokenSequence(token_ids, self.weights[0])

    def _token_ids(self, x):
        token_ids = np.asarray(x)
        if token_ids.dtype.kind == "f":
            if not np.all(np.isfinite(token_ids)) or np.any(token_ids != np.floor(token_ids)):
                raise InputError("Embedding input must be whole token ids, found NaN or fractional values")
            token_ids = token_ids.astype(np.int64)
        elif token_ids.dtype.kind not in "iub":
            raise InputError(f"Embedding input must be integer token ids, got dtype {token_ids.dtype}")
        if token_ids.size and (token_ids.min() < 0 or token_ids.max() >= self.input_dim):
            raise InputError(
                f"token ids must lie in [0, {self.input_dim - 1}] for Embedding({self.input_dim}, ...), "
                f"got {token_ids.min()}..{token_ids.max()}"
            )
        return token_ids

    def backward(self, grad_output):
        if isinstance(grad_output, SparseRows):  # from a recurrent layer that took forward_tokens' output
            self.gradients = [grad_output]
            return None
        token_ids = np.ascontiguousarray(self._cache.T).reshape(-1)  # (T*B,), time-major like the gradient
        grad_steps = np.ascontiguousarray(grad_output.transpose(1, 0, 2))  # (T, B, D): free from a recurrent layer
        grad_flat = grad_steps.reshape(token_ids.shape[0], self.output_dim)  # (T*B, D)
        if self._row_slot is None:
            self._row_slot = np.full(self.input_dim, -1, dtype=np.int64)
        rows = np.empty(token_ids.shape[0], dtype=np.int64)
        values = np.zeros_like(grad_flat)
        count = _sum_rows(token_ids.astype(np.int64), grad_flat, self._row_slot, rows, values)
        self.gradients = [SparseRows(rows[:count], values[:count], self.weights[0].shape)]
        return None  # token ids have no gradient

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "mask_zero": self.mask_zero}


LAYERS = (Embedding,)
