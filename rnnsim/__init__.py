"""rnnsim: an educational simulator of recurrent neural networks.

SimpleRNN, LSTM and GRU cells compiled with Numba that record every gate of every unit at
every timestep, backpropagation through time written out by hand that measures the gradient
reaching each timestep, and a Keras-style API to train them on real data.

`import rnnsim` is light: it compiles nothing and imports neither Numba nor textual. Its
submodules load on first use, so `import rnnsim as keras` then `keras.layers.LSTM`,
`keras.Input`, `keras.Model`, `keras.utils.set_random_seed` or `keras.backend.clear_session`
work as in Keras 3 (docs/keras.md says what of Keras is covered).
"""

import importlib

__version__ = "0.1.0"

# Submodules reachable as attributes (`rnnsim.layers`, `rnnsim.callbacks`, ...), imported on first use.
_SUBMODULES = (
    "backend",
    "callbacks",
    "cells",
    "checkpoint",
    "cuda",
    "datasets",
    "errors",
    "experiment",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "plot",
    "preprocessing",
    "reference",
    "registry",
    "render",
    "saving",
    "sparse",
    "utils",
)
# Keras's top-level names, from rnnsim.models on first use: keras.Input, keras.Model, keras.Sequential.
_MODEL_NAMES = ("Input", "Model", "Sequential")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"rnnsim.{name}")  # importing binds it on the package too
    if name in _MODEL_NAMES:
        return getattr(importlib.import_module("rnnsim.models"), name)
    raise AttributeError(f"module 'rnnsim' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES) | set(_MODEL_NAMES))


def set_seed(seed):
    """Seed every generator rnnsim draws from (weights, dropout, shuffling): same seed, same run."""
    from rnnsim.models import set_seed as _set_seed  # late: keep `import rnnsim` light

    _set_seed(seed)
