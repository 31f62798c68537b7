"""Numeric time series from CSV files, and the windowing of Chollet's Deep Learning with Python, ch. 6.3.

- `load_csv_series`: chosen numeric columns of a CSV (or a zipped CSV) as a float64 array, with an
  explicit choice of what to do with missing values.
- `normalize`: subtract the mean and divide by the standard deviation of the training rows only.
- `generator`: the tutorial's batch generator, unchanged in behaviour (including its quirks).
- `make_windows`: the same windows as arrays, built without copying (a strided view).
- `last_value_baseline_mae`: the tutorial's "common-sense" baseline: predict the window's last value.
- `forecast_splits`: normalise, split by time into train/val/test and window each part.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnsim.errors import InputError

MISSING_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none"})
MISSING_CHOICES = ("error", "drop", "interpolate", "ffill")


# --------------------------------------------------------------------------------------- CSV reading


def _open_text(path: Path) -> io.TextIOBase:
    """A text stream of a CSV, or of the first CSV inside a .zip (the Keras Jena download is zipped)."""
    if path.suffix.lower() == ".zip":
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as error:
            raise InputError(f"cannot open {path} as a zip file ({error}); download it again") from None
        members = [name for name in archive.namelist()
                   if name.lower().endswith(".csv") and not name.startswith("__MACOSX")]
        if not members:
            raise InputError(f"{path} holds no .csv file; pass the CSV itself or the original zip")
        return io.TextIOWrapper(archive.open(members[0]), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def read_csv_rows(path: str | os.PathLike) -> tuple[list[str], list[list[str]]]:
    """The header and data rows of a CSV (quoted or not, LF or CRLF); blank lines are skipped.

    Raises:
        InputError: the file is missing, empty, or a row has a different number of fields than the header.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} not found; pass the path of an existing CSV file")
    with _open_text(path) as stream:
        rows = [row for row in csv.reader(stream) if row]
    if not rows:
        raise InputError(f"{path} is empty; expected a header line and data rows")
    header, data_rows = [name.strip() for name in rows[0]], rows[1:]
    for line_number, row in enumerate(data_rows, start=2):
        if len(row) != len(header):
            raise InputError(f"{path.name} line {line_number} has {len(row)} fields, the header "
                             f"{len(header)}; fix or remove that line")
    return header, data_rows


def _column_position(header: list[str], name: str, source: str) -> int:
    try:
        return header.index(name)
    except ValueError:
        raise InputError(f"column {name!r} not in {source}; its columns are: {', '.join(header)}") from None


def _fill_missing(values: np.ndarray, missing: np.ndarray, how: str) -> np.ndarray:
    positions = np.arange(len(values))
    valid = ~missing
    if how == "interpolate":
        # Linear in the row number; np.interp holds the first/last valid value beyond the ends.
        return np.interp(positions, positions[valid], values[valid])
    # ffill: each missing value takes the last valid one before it; leading gaps take the first valid one.
    last_valid = np.maximum.accumulate(np.where(valid, positions, -1))
    last_valid[last_valid < 0] = np.flatnonzero(valid)[0]
    return values[last_valid]


@dataclass
class SeriesTable:
    """Numeric columns of a CSV file."""

    values: np.ndarray  # (rows, columns) float64, after the missing-value choice
    columns: list[str]  # names, in the order of values' columns
    missing_counts: dict[str, int] = field(default_factory=dict)  # missing values per column, before handling
    rows_dropped: int = 0  # rows removed by missing='drop'
    kept_rows: np.ndarray | None = None  # (rows,) the original data-row number of every kept row


def load_csv_series(path: str | os.PathLike, columns: Sequence[str], missing: str = "error") -> SeriesTable:
    """Load numeric columns of a CSV file, chosen by name.

    Args:
        path: a .csv file (or a .zip holding one). The first line is the header; fields may be quoted.
        columns: the names of the numeric columns to load, in the order wanted.
        missing: what to do with missing values (empty, NA, NaN, N/A, null, none; any case). Default
            'error': raise. 'drop': remove every row where a chosen column is missing. 'interpolate':
            linear in the row number (ends take the nearest valid value). 'ffill': carry the last valid
            value forward (leading gaps take the first valid value).

    Returns:
        A SeriesTable with values of shape (rows, len(columns)), float64.

    Raises:
        InputError: a missing file or column, a non-numeric column, missing values with missing='error',
            a column with no valid value at all, or an unknown `missing` choice.
    """
    if missing not in MISSING_CHOICES:
        raise InputError(f"missing={missing!r} not understood; use one of {', '.join(MISSING_CHOICES)}")
    if isinstance(columns, str) or not columns:
        raise InputError("columns must be a non-empty list of column names, e.g. ['TEMP', 'PRES']")
    path = Path(path)
    header, rows = read_csv_rows(path)
    return _numeric_columns(header, rows, columns, missing, path.name)


def _numeric_columns(header: list[str], rows: list[list[str]], columns: Sequence[str], missing: str,
                     source: str) -> SeriesTable:
    n_rows = len(rows)
    positions = [_column_position(header, name, source) for name in columns]
    values = np.empty((n_rows, len(columns)), dtype=np.float64)
    missing_masks = np.zeros((n_rows, len(columns)), dtype=bool)
    for out_column, (name, position) in enumerate(zip(columns, positions)):
        texts = [row[position].strip() for row in rows]
        is_missing = np.fromiter((text.lower() in MISSING_TOKENS for text in texts), dtype=bool, count=n_rows)
        # Missing markers become "nan" before the array is built, so its string width fits them.
        numeric_texts = ["nan" if gap else text for gap, text in zip(is_missing.tolist(), texts)]
        try:
            values[:, out_column] = np.array(numeric_texts, dtype=str).astype(np.float64)
        except ValueError:
            bad_row = next(i for i, text in enumerate(texts) if not is_missing[i] and not _is_number(text))
            raise InputError(f"column {name!r} of {source} is not numeric (data row {bad_row + 1}: "
                             f"{texts[bad_row]!r}); choose numeric columns only") from None
        missing_masks[:, out_column] = is_missing

    counts = {name: int(missing_masks[:, i].sum()) for i, name in enumerate(columns)}
    kept_rows = np.arange(n_rows)
    if missing_masks.any():
        if missing == "error":
            name, count = next((name, count) for name, count in counts.items() if count)
            raise InputError(f"column {name!r} of {source} has {count:,} missing values in {n_rows:,} rows; "
                             f"pass missing='drop', 'interpolate' or 'ffill'")
        if missing == "drop":
            keep = ~missing_masks.any(axis=1)
            values, kept_rows = values[keep], kept_rows[keep]
        else:
            for i, name in enumerate(columns):
                if missing_masks[:, i].all():
                    raise InputError(f"column {name!r} of {source} has no valid value; choose another column")
                if missing_masks[:, i].any():
                    values[:, i] = _fill_missing(values[:, i], missing_masks[:, i], missing)
    return SeriesTable(values=values, columns=list(columns), missing_counts=counts,
                       rows_dropped=n_rows - len(kept_rows), kept_rows=kept_rows)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------------------------ windows


def normalize(data: np.ndarray, train_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre and scale every column by the mean and standard deviation of the first `train_rows` rows.

    Only the training rows are used, so that no statistic of the validation or test period leaks into
    training (as in the tutorial). A column constant over the training rows is divided by 1, not 0.

    Args:
        data: (rows, features) array.
        train_rows: how many leading rows are training data.

    Returns:
        (normalised data as float64, mean (features,), std (features,)).

    Raises:
        InputError: train_rows is not between 1 and len(data).
    """
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 2:
        raise InputError(f"normalize needs a (rows, features) array, got shape {data.shape}")
    if not 1 <= train_rows <= len(data):
        raise InputError(f"train_rows={train_rows} is outside 1..{len(data)} (the number of rows)")
    mean = data[:train_rows].mean(axis=0)
    std = data[:train_rows].std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (data - mean) / std, mean, std


def _check_window_arguments(data: np.ndarray, lookback: int, delay: int, step: int, min_index: int,
                            max_index: int, target_column: int) -> None:
    if data.ndim != 2:
        raise InputError(f"windowing needs a (rows, features) array, got shape {data.shape}")
    if lookback < 1 or step < 1 or delay < 0:
        raise InputError(f"need lookback >= 1, step >= 1 and delay >= 0; got {lookback}, {step}, {delay}")
    if lookback % step:
        raise InputError(f"lookback={lookback} is not a multiple of step={step}; windows would have "
                         f"uneven lengths (use e.g. lookback={lookback - lookback % step or step})")
    if not -data.shape[1] <= target_column < data.shape[1]:
        raise InputError(f"target_column={target_column} is outside the {data.shape[1]} columns")
    if min_index < 0 or max_index + delay > len(data):
        raise InputError(f"rows {min_index}..{max_index} with delay {delay} run past the {len(data)} "
                         f"rows of data; lower max_index")
    if min_index + lookback >= max_index:
        raise InputError(f"no window fits: min_index {min_index} + lookback {lookback} >= max_index "
                         f"{max_index}; use more rows or a smaller lookback (at most "
                         f"{max(0, (max_index - min_index - 1) // step * step)})", option="lookback")


def generator(data: np.ndarray, lookback: int, delay: int, min_index: int, max_index: int | None,
              shuffle: bool = False, batch_size: int = 128, step: int = 6, target_column: int = 1,
              rng: np.random.RandomState | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The tutorial's endless batch generator (Deep Learning with Python, listing 6.33).

    A sample for "current" row r is data[r - lookback : r : step] and its target data[r + delay,
    target_column]. Rows r run over [min_index + lookback, max_index). Kept from the tutorial: without
    shuffle, batches go in order and restart at the beginning as soon as a full batch no longer fits
    (so the last, partial batch of a pass is never yielded); with shuffle, rows are drawn with
    replacement.

    Args:
        data: (rows, features) array, normalised.
        lookback: how many rows back a window reaches.
        delay: how many rows after r the target is.
        min_index: first row a window may read.
        max_index: rows r stay below this. None: len(data) - delay - 1 (the tutorial's default).
        shuffle: draw rows at random. Default False.
        batch_size: samples per batch. Default 128.
        step: keep every step-th row of a window. Default 6 (one per hour in Jena's 10-minute data).
        target_column: the column predicted. Default 1 (T (degC) in the Jena file without its date column).
        rng: random source for shuffle. Default None: numpy's global generator, as in the tutorial.

    Yields:
        (samples (B, lookback // step, features), targets (B,)), float64.
    """
    data = np.asarray(data)
    if max_index is None:
        max_index = len(data) - delay - 1
    _check_window_arguments(data, lookback, delay, step, min_index, max_index, target_column)
    randint = (rng or np.random).randint
    i = min_index + lookback
    while True:
        if shuffle:
            rows = randint(min_index + lookback, max_index, size=batch_size)
        else:
            if i + batch_size >= max_index:
                i = min_index + lookback
            rows = np.arange(i, min(i + batch_size, max_index))
            i += len(rows)
        samples = np.zeros((len(rows), lookback // step, data.shape[-1]))
        targets = np.zeros((len(rows),))
        for j, row in enumerate(rows):
            indices = range(rows[j] - lookback, rows[j], step)
            samples[j] = data[indices]
            targets[j] = data[row + delay][target_column]
        yield samples, targets


def make_windows(data: np.ndarray, lookback: int, delay: int, step: int = 6, min_index: int = 0,
                 max_index: int | None = None, target_column: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Every window the tutorial's generator draws from, as arrays, in row order.

    The samples are a read-only strided *view* of `data` (no copy: Jena's 200,000 training windows of
    240 x 14 values would need 5 GB as a copy). Index it (x[batch_indices]) to get a normal array.

    Args:
        data: (rows, features) C-contiguous array (made contiguous if it is not).
        lookback, delay, step, min_index, target_column: as in `generator` (step default 6, min_index 0,
            target_column 1).
        max_index: rows r stay below this. Default None: len(data) - delay - 1, as in the generator.

    Returns:
        (samples (N, lookback // step, features) view, targets (N,) copy), N = max_index - min_index - lookback;
        sample n is the window of row r = min_index + lookback + n.
    """
    data = np.ascontiguousarray(data)
    if max_index is None:
        max_index = len(data) - delay - 1
    _check_window_arguments(data, lookback, delay, step, min_index, max_index, target_column)
    n_windows = max_index - min_index - lookback
    row_stride, column_stride = data.strides
    # Window n starts at row min_index + n and takes lookback // step rows, step apart.
    samples = np.lib.stride_tricks.as_strided(
        data[min_index:], shape=(n_windows, lookback // step, data.shape[1]),
        strides=(row_stride, step * row_stride, column_stride), writeable=False)  # (N, T, F)
    current_rows = np.arange(min_index + lookback, max_index)
    targets = data[current_rows + delay, target_column].copy()  # (N,)
    return samples, targets


def last_value_baseline_mae(samples: np.ndarray, targets: np.ndarray, target_column: int = 1) -> float:
    """The tutorial's common-sense baseline: predict the target column's last value in each window.

    Args:
        samples: (N, T, features) windows (from `make_windows` or the generator).
        targets: (N,) true targets.
        target_column: the column predicted. Default 1.

    Returns:
        mean |samples[:, -1, target_column] - targets|, in the units of `samples`.
    """
    return float(np.mean(np.abs(samples[:, -1, target_column] - targets)))


class NoWindowFits(InputError):
    """A split of a series is too short for one window: its fields let a caller word the advice in its own terms."""

    def __init__(self, split: str, split_rows: int, rows: int, lookback: int, step: int):
        self.split = split  # 'train', 'val' or 'test'
        self.split_rows = split_rows  # rows the window's current row may take in that split
        self.rows = rows  # rows of the whole series
        self.lookback = lookback  # rows a window reads
        self.longest = (split_rows - 1) // step * step  # the largest lookback that fits (a multiple of step)
        super().__init__(f"no window fits in the {split} rows ({split_rows:,} of the series' {rows:,}): a window "
                         f"reads lookback={lookback} rows; use a smaller lookback (at most {self.longest}) or a "
                         f"longer series", option="lookback")


@dataclass
class ForecastSplits:
    """A series normalised by its training rows, split by time, and windowed."""

    columns: list[str]  # feature names, in column order
    target_column: int  # which column is predicted
    lookback: int  # rows a window reaches back
    delay: int  # rows from the window's "current" row r to the target
    step: int  # rows between kept window rows
    mean: np.ndarray  # (features,) training-row mean used to normalise
    std: np.ndarray  # (features,) training-row standard deviation used to normalise
    bounds: dict[str, tuple[int, int]]  # split -> (min_index, max_index) rows
    x_train: np.ndarray  # (N, lookback // step, features) read-only view
    y_train: np.ndarray  # (N,)
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    baseline_mae_val: float  # last-value baseline on val, normalised units
    baseline_mae_val_units: float  # the same in the target's original units (e.g. degrees C)


def forecast_splits(values: np.ndarray, columns: Sequence[str], target: str, lookback: int, delay: int,
                    step: int, train_end: int, val_end: int, dtype=np.float32) -> ForecastSplits:
    """Normalise by the training rows, split by time into train/val/test, window each split.

    Rows [0, train_end) are training data, [train_end, val_end) validation and [val_end, end) test;
    each split's windows read only its own rows (their targets, `delay` rows ahead, may cross into the
    next split's first rows, as in the tutorial).

    Args:
        values: (rows, features) raw series.
        columns: feature names.
        target: the name of the predicted column.
        lookback, delay, step: as in `make_windows`.
        train_end, val_end: split boundaries (rows).
        dtype: dtype of the windows. Default float32 (training's default).
    """
    columns = list(columns)
    target_column = _column_position(columns, target, "the chosen columns")
    if not 0 < train_end < val_end < len(values):
        raise InputError(f"split rows must satisfy 0 < train_end ({train_end}) < val_end ({val_end}) < "
                         f"rows ({len(values)})")
    normalised, mean, std = normalize(values, train_end)
    bounds = {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, len(values) - delay)}
    shortest = min(bounds, key=lambda split: bounds[split][1] - bounds[split][0])
    span = bounds[shortest][1] - bounds[shortest][0]
    if step >= 1 and lookback >= max(span, 1):  # the shortest split bounds the lookback of every split
        raise NoWindowFits(shortest, max(0, span), len(values), lookback, step)
    # The baseline is computed in float64, so its value does not depend on the training dtype.
    baseline = last_value_baseline_mae(
        *make_windows(normalised, lookback, delay, step, *bounds["val"], target_column), target_column)
    normalised = normalised.astype(dtype)
    windows = {}
    for split, (low, high) in bounds.items():
        windows[split] = make_windows(normalised, lookback, delay, step, low, high, target_column)
    return ForecastSplits(
        columns=columns, target_column=target_column, lookback=lookback, delay=delay, step=step,
        mean=mean, std=std, bounds=bounds,
        x_train=windows["train"][0], y_train=windows["train"][1],
        x_val=windows["val"][0], y_val=windows["val"][1],
        x_test=windows["test"][0], y_test=windows["test"][1],
        baseline_mae_val=baseline, baseline_mae_val_units=baseline * float(std[target_column]),
    )
