"""`timeseries_dataset_from_array`: sliding windows over a series, as `keras.utils.timeseries_dataset_from_array`.

Keras 3's window arithmetic, exactly. With `data[start_index:end_index]` as the usable rows (the
defaults: all of them), the windows start at rows start_index + p for

    p = 0, sequence_stride, 2 sequence_stride, ...  while  p < num_windows
    num_windows = (end_index - start_index) - (sequence_length - 1) * sampling_rate,
                  capped at len(targets) (as Keras) and at len(targets) - start_index (where Keras's
                  gather would fail)

window p holds rows start_index + p + k sampling_rate for k = 0 .. sequence_length - 1, and its target
is targets[start_index + p]: the target of the window that STARTS at that row. So the book's

    timeseries_dataset_from_array(raw_data[:-delay], targets=temperature[delay:], ...)

pairs each window with the temperature `delay` rows after its first row. Batches hold `batch_size`
windows in order of p (the last batch may be smaller). With shuffle=True the windows are dealt out
in a new random order on every pass; the SET of windows is Keras's, the order is not tf.data's (its
shuffle buffer draws from TensorFlow's generator). Like Keras, seed=None draws a seed from NumPy's
global generator (`np.random.seed` makes it repeatable).
"""

from __future__ import annotations

import math

import numpy as np

from rnnsim.errors import InputError
from rnnsim.utils.dataset import Dataset


def _check_count(value, label, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{label} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def window_starts(rows, targets_length, sequence_length, sequence_stride, sampling_rate, start_index,
                  end_index) -> np.ndarray:
    """The windows' first rows, relative to start_index (Keras's `start_positions`), in order.

    Args:
        rows: len(data).
        targets_length: len(targets), or None without targets.
        sequence_length, sequence_stride, sampling_rate, start_index, end_index: as for
            `timeseries_dataset_from_array` (start_index and end_index already resolved to ints).

    Raises:
        InputError: a window is longer than the rows between start_index and end_index.
    """
    available = end_index - start_index
    span = (sequence_length - 1) * sampling_rate + 1
    count = available - (sequence_length - 1) * sampling_rate
    if targets_length is not None:
        count = min(count, targets_length, targets_length - start_index)
    if count <= 0:
        if span > available:
            raise InputError(
                f"a window of sequence_length={sequence_length} at sampling_rate={sampling_rate} spans {span} rows, "
                f"but only {available} rows lie between start_index={start_index} and end_index={end_index} "
                f"(of {rows}); use a shorter window or more data")
        raise InputError(f"targets has {targets_length} entries: none is left for the windows from "
                         f"start_index={start_index}")
    return np.arange(0, count, sequence_stride)


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                                  batch_size=128, shuffle=False, seed=None, start_index=None,
                                  end_index=None) -> Dataset:
    """A Dataset of sliding windows over `data` (axis 0 is time), with their targets (see the module docstring).

    Args:
        data: array-like (rows, ...) of consecutive, equally spaced time steps.
        targets: array-like; targets[i] belongs to the window starting at row i. None: batches of windows only.
        sequence_length: rows per window.
        sequence_stride: rows between the starts of consecutive windows, default 1.
        sampling_rate: rows between the steps of one window, default 1 (6 takes every 6th row).
        batch_size: windows per batch, default 128; None: one window at a time, no batch axis.
        shuffle: deal the windows out in a new random order on every pass, default False (in time order).
        seed: seed of the shuffling (default None: drawn from NumPy's global generator, as Keras).
        start_index: first row windows may use (default None: 0).
        end_index: rows from this one on are not used (exclusive; default None: len(data)).

    Returns:
        A Dataset of (windows (B, sequence_length, ...), targets (B, ...)) batches, or windows alone.

    Raises:
        InputError: a bad argument (Keras's checks, as one line each), or a window longer than the data.
    """
    try:
        data = np.asarray(data)
    except ValueError:
        raise InputError("data must be a rectangular array (rows, ...)") from None
    if data.ndim == 0 or len(data) == 0:
        raise InputError(f"data must be a non-empty array with time on axis 0, got shape {data.shape}")
    rows = len(data)
    if targets is not None:
        targets = np.asarray(targets)
        if targets.ndim == 0:
            raise InputError("targets must be an array with one entry per row (or None)")
    sequence_length = _check_count(sequence_length, "sequence_length")
    sampling_rate = _check_count(sampling_rate, "sampling_rate")
    sequence_stride = _check_count(sequence_stride, "sequence_stride")
    if sampling_rate >= rows:
        raise InputError(f"sampling_rate must be lower than the length of the data, got {sampling_rate} for "
                         f"{rows} rows")
    if sequence_stride >= rows:
        raise InputError(f"sequence_stride must be lower than the length of the data, got {sequence_stride} for "
                         f"{rows} rows")
    if batch_size is not None:
        batch_size = _check_count(batch_size, "batch_size")
    start = 0 if start_index is None else _check_count(start_index, "start_index", minimum=0)
    if start >= rows:
        raise InputError(f"start_index must be lower than the length of the data, got {start} for {rows} rows")
    if end_index is None:
        end = rows
    else:
        end = _check_count(end_index, "end_index")
        if end <= start:
            raise InputError(f"end_index must be higher than start_index, got start_index={start}, end_index={end}")
        if end >= rows:  # Keras's rule: to use every row, leave end_index None
            raise InputError(f"end_index must be lower than the length of the data, got {end} for {rows} rows "
                             f"(leave it None to use every row)")

    starts = window_starts(rows, None if targets is None else len(targets), sequence_length, sequence_stride,
                           sampling_rate, start, end)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1_000_000)
        np.random.RandomState(seed).shuffle(starts)  # Keras's one global shuffle of the start positions
        order_rng = np.random.default_rng(seed)  # each pass then draws its own order
    steps = np.arange(sequence_length) * sampling_rate  # (L,)
    window_data = data[start:end]
    window_targets = None if targets is None else targets[start:]
    per_batch = batch_size or 1
    count = math.ceil(len(starts) / per_batch)

    def make_pass():
        chosen = starts[order_rng.permutation(len(starts))] if shuffle else starts
        for first in range(0, len(chosen), per_batch):
            positions = chosen[first:first + per_batch]  # (B,)
            windows = window_data[positions[:, None] + steps[None, :]]  # (B, L, ...)
            batch_targets = None if window_targets is None else window_targets[positions]  # (B, ...)
            if batch_size is None:
                windows = windows[0]
                batch_targets = None if batch_targets is None else batch_targets[0]
            yield windows if batch_targets is None else (windows, batch_targets)

    sample = (sequence_length,) + data.shape[1:]
    description = f"windows of shape {sample}" + (" with targets" if targets is not None else "")
    return Dataset(make_pass, count, description)
