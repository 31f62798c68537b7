"""Keras's `keras.utils` for rnnsim: `set_random_seed`."""

from rnnsim.utils.random import set_random_seed

__all__ = ["set_random_seed"]
