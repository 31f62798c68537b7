"""Where a model's randomness comes from: its own seed, else the global seed, else fresh entropy.

A model derives every numpy Generator it draws from (initial weights, dropout masks, shuffling)
from one integer, its `seed_entropy`, which is saved with it so that a loaded model resumes exactly.
"""

from __future__ import annotations

import numpy as np

from rnnsim.errors import InputError
from rnnsim.utils import random as global_random

_SHUFFLE_STREAM = 104729  # keeps the shuffling stream apart from the layers' ([entropy, layer index])


def set_seed(seed: int | None) -> None:
    """Seed every model created afterwards that is not given its own seed (like keras.utils.set_random_seed).

    Args:
        seed: a non-negative integer, or None to go back to fresh entropy.
    """
    global_random.set_global_seed(seed)  # the one global seed, which rnnsim.utils.set_random_seed sets too


def resolve_seed(seed) -> tuple[int | None, int]:
    """(seed, seed_entropy) for a new model given `seed` (None: the global seed, else fresh entropy).

    Args:
        seed: the model's own seed, a non-negative integer, or None.
    """
    if seed is None:
        seed = global_random.global_seed()
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    return seed, (int(seed) if seed is not None else int(np.random.SeedSequence().entropy))


def shuffle_generator(seed_entropy: int) -> np.random.Generator:
    """The Generator a model shuffles its training samples with, derived from its `seed_entropy`."""
    return np.random.default_rng([seed_entropy, _SHUFFLE_STREAM])
