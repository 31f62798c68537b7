"""`Dataset`: what rnnsim's dataset utilities return where Keras returns a `tf.data.Dataset`.

A finite, re-iterable sequence of batches backed by NumPy. Iterate it as often as you like: every
pass starts afresh, and a shuffled dataset draws a new order for each pass (as tf.data reshuffles
each iteration). `len()` is the number of batches in one pass, so `model.fit(dataset, epochs=10)`
needs no step count. `map` applies a function to every element, lazily, as tf.data's does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from rnnsim.errors import InputError


class Dataset:
    """A finite, re-iterable sequence of batches (each an array, or a tuple such as (inputs, targets)).

    Args:
        make_pass: a function of no arguments returning an iterator over one pass of batches.
        length: the number of batches in one pass.
        description: what one element holds, for repr (default '').
    """

    def __init__(self, make_pass: Callable[[], Iterator], length: int, description: str = ""):
        self._make_pass = make_pass
        self._length = int(length)
        self.description = description

    def __iter__(self) -> Iterator:
        return iter(self._make_pass())

    def __len__(self) -> int:
        return self._length

    def map(self, function: Callable, num_parallel_calls=None, deterministic=None) -> Dataset:
        """A new Dataset of function(element) (function(*element) for a tuple element, as tf.data unpacks it).

        Args:
            function: applied to each element of each pass.
            num_parallel_calls: ignored (kept for tf.data compatibility): elements are mapped in order.
            deterministic: ignored, as num_parallel_calls.
        """
        if not callable(function):
            raise InputError(f"Dataset.map needs a function, got {type(function).__name__}")

        def make_pass():
            for element in self:
                yield function(*element) if isinstance(element, tuple) else function(element)

        return Dataset(make_pass, self._length, "mapped " + self.description if self.description else "")

    def __repr__(self):
        return f"<Dataset: {self._length} batches{' of ' + self.description if self.description else ''}>"
