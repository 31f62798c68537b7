"""The global seed: `set_random_seed(n)`, as keras.utils.set_random_seed.

Every model not given its own seed derives its randomness from it (rnnsim.models.seeding), and so
do the layers of a functional model, which draw their weights when first called on a symbolic
tensor, before any model exists: each such layer takes the next entry of one stream,
[seed, 0], [seed, 1], ... So a script that calls `set_random_seed(0)` and then builds its model
builds the same weights every time. Without a global seed each layer takes fresh entropy.
"""

from __future__ import annotations

import random

import numpy as np

from rnnsim.errors import InputError

_global_seed: int | None = None
_layers_seeded = 0  # how many layers have drawn from the global seed's stream since it was set


def _check_seed(seed, allow_none: bool) -> int | None:
    if seed is None and allow_none:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer{' or None' if allow_none else ''}, got {seed!r}")
    return int(seed)


def set_global_seed(seed: int | None) -> None:
    """rnnsim's own global seed only (what `rnnsim.set_seed` sets); None goes back to fresh entropy.

    Args:
        seed: a non-negative integer, or None.
    """
    global _global_seed, _layers_seeded
    _global_seed = _check_seed(seed, allow_none=True)
    _layers_seeded = 0


def set_random_seed(seed: int) -> None:
    """Seed Python's `random`, NumPy's global generator and rnnsim's global seed, as Keras 3 does.

    Models and layers created afterwards without a seed of their own then start from the same
    weights, dropout masks and shuffling on every run.

    Args:
        seed: a non-negative integer.
    """
    seed = _check_seed(seed, allow_none=False)
    random.seed(seed)
    np.random.seed(seed)
    set_global_seed(seed)


def global_seed() -> int | None:
    """The seed set by `set_random_seed` / `rnnsim.set_seed`, or None."""
    return _global_seed


def restart_layer_stream() -> None:
    """Layers seeded afterwards start again at [seed, 0] (rnnsim.backend.clear_session)."""
    global _layers_seeded
    _layers_seeded = 0


def next_layer_entropy() -> list[int]:
    """Entropy for a layer built outside any model: [seed, n] for the n-th such layer under a global seed,
    else fresh entropy."""
    global _layers_seeded
    if _global_seed is None:
        return [int(np.random.SeedSequence().entropy)]
    _layers_seeded += 1
    return [_global_seed, _layers_seeded - 1]
