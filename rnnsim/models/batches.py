"""Where a model's batches come from when they are not arrays: generators, Sequences, datasets, lists.

`fit`, `evaluate` and `predict` take, in place of x (and y):

- a generator or iterator of (x, y) batches: it cannot be rewound, so a step count is required
  (`steps_per_epoch`, `validation_steps`, `steps`);
- a Keras-Sequence-like object (`__getitem__` and `__len__`): one epoch is `len(data)` batches;
- a finite re-iterable dataset (`__iter__` and `__len__`, such as `rnnsim.utils.Dataset` from
  `timeseries_dataset_from_array` or `text_dataset_from_directory`): one epoch is one full pass,
  and every pass starts afresh (a shuffled dataset reshuffles);
- a plain list of (x, y) batches, read like a dataset.

As in Keras 3, a step count with a dataset caps each epoch at that many batches and the next epoch
continues the same pass where the last one stopped; an epoch that reaches the end of the pass stops
there (Keras also warns), and the epoch after it starts a new pass.
"""

from __future__ import annotations

import numpy as np

from rnnsim.errors import InputError


def _is_list_of_batches(data) -> bool:
    """A list or tuple whose every item is an (x, y) or (x, y, weights) pair with x an array."""
    return len(data) > 0 and all(
        isinstance(batch, (tuple, list)) and 2 <= len(batch) <= 3 and isinstance(batch[0], np.ndarray)
        for batch in data
    )


def is_batch_source(data) -> bool:
    """True when `data` is a source of batches (see the module docstring), False for array-like data."""
    if data is None or isinstance(data, (np.ndarray, str, bytes, dict)) or hasattr(data, "__array__"):
        return False
    if getattr(data, "is_array_group", False):  # a functional model's inputs, one array per input
        return False
    if isinstance(data, (list, tuple)):
        return _is_list_of_batches(data)
    return (hasattr(data, "__next__") or hasattr(data, "__iter__")
            or (hasattr(data, "__getitem__") and hasattr(data, "__len__")))


class BatchStream:
    """Batches from one source, one epoch at a time.

    Args:
        data: a generator, Sequence-like object, re-iterable dataset or list of batches.
        steps: batches per epoch; None: the source's length (required for a generator).
        label: the source as messages name it: 'x' or 'validation'.
        steps_argument: the argument that gives `steps`, as messages name it ('steps_per_epoch',
            'validation_steps', 'steps').
    """

    def __init__(self, data, steps, label, steps_argument):
        self.data = data
        self.label = label
        if hasattr(data, "__next__"):
            self.kind = "generator"
        elif isinstance(data, (list, tuple)) or (
                hasattr(data, "__getitem__") and hasattr(data, "__len__") and not hasattr(data, "__iter__")):
            self.kind = "sequence"
        else:
            self.kind = "dataset"
        if steps is None:
            if self.kind == "generator":
                raise InputError(f"{label} is a generator, which cannot be rewound: give {steps_argument}")
            if not hasattr(data, "__len__"):
                raise InputError(f"{label} has no len(), so its number of batches is unknown: give {steps_argument}")
            if len(data) == 0:
                raise InputError(f"{label} holds no batches")
        elif isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0:
            raise InputError(f"{steps_argument} must be a positive integer, got {steps!r}")
        self.whole_passes = steps is None  # each epoch is one full pass over a dataset
        self.steps = int(steps) if steps is not None else len(data)
        self._position = 0  # next index into a Sequence
        self._iterator = None  # the pass in progress over a dataset
        self._peeked = None

    def _new_pass(self):
        self._iterator = iter(self.data)

    def _next_raw(self):
        """The next batch; None at the end of a dataset's pass."""
        if self._peeked is not None:
            batch, self._peeked = self._peeked, None
            return batch
        if self.kind == "sequence":
            batch = self.data[self._position % len(self.data)]
            self._position += 1
            return batch
        if self.kind == "generator":
            try:
                return next(self.data)
            except StopIteration:
                raise InputError(f"the {self.label} generator ran out of batches; it must yield at least "
                                 f"{self.steps} batches per epoch (or lower the step count)") from None
        if self._iterator is None:
            self._new_pass()
        try:
            return next(self._iterator)
        except StopIteration:
            self._iterator = None  # the next call starts a new pass
            return None

    def peek(self):
        """The next batch, left in place for the first epoch (the model builds from it)."""
        if self._peeked is None:
            self._peeked = self._next_raw()
            if self._peeked is None:
                raise InputError(f"{self.label} yielded no batches")
        return self._peeked

    def first_pair(self):
        """The first (x, y) pair, left in place for the first epoch (the model builds from it)."""
        return self._pair(self.peek())

    def _pair(self, batch):
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise InputError(f"{self.label} must yield (inputs, targets) pairs")
        if len(batch) > 2 and batch[2] is not None:
            raise InputError("sample weights (a third element in each batch) are not supported")
        return batch[0], batch[1]

    def _raw_batches(self):
        if self.whole_passes and self.kind == "dataset":
            while (batch := self._next_raw()) is not None:
                yield batch
            return
        for _ in range(self.steps):
            batch = self._next_raw()
            if batch is None:  # the pass ran out: the epoch ends with it
                return
            yield batch

    def batches(self):
        """One epoch of (x, y) pairs."""
        for batch in self._raw_batches():
            yield self._pair(batch)

    def inputs(self):
        """One epoch of inputs: x alone, or the first item of each (x, y) pair (as Keras's predict)."""
        for batch in self._raw_batches():
            yield batch[0] if isinstance(batch, (tuple, list)) else batch


def array_batches(x, y, batch_size):
    """(x, y) slices of `batch_size` samples in order (y may be None: then x slices alone)."""
    for start in range(0, x.shape[0], batch_size):
        if y is None:
            yield x[start:start + batch_size]
        else:
            yield x[start:start + batch_size], y[start:start + batch_size]
