"""UCI Beijing PM2.5 hourly weather (2010-2014): the offline stand-in for the Jena temperature task.

File `beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv`: 43,824 hourly rows, columns
`No, year, month, day, hour, pm2.5, DEWP, TEMP, PRES, cbwd, Iws, Is, Ir`, CRLF line ends, 2,067
`NA` values in pm2.5 only. The task mirrors the tutorial: predict TEMP 24 hours after the last hour
seen, from the last 5 days (120 hours), split by time 50 % / 25 % / 25 %, normalised by the training rows.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from rnnsim.datasets import registry
from rnnsim.datasets.timeseries import ForecastSplits, SeriesTable, forecast_splits, load_csv_series
from rnnsim.errors import InputError

# The numeric weather columns (cbwd, the wind direction, is text) and pm2.5, whose gaps are interpolated.
COLUMNS = ("DEWP", "TEMP", "PRES", "Iws", "Is", "Ir", "pm2.5")
TARGET = "TEMP"
ROWS = 43_824


def find_file(path: str | os.PathLike | None = None) -> Path:
    """The Beijing CSV in the data folder, or an InputError with its download address."""
    return registry.find_file("beijing", None, path)


def load_beijing(file: str | os.PathLike | None = None, columns: Sequence[str] = COLUMNS,
                 path: str | os.PathLike | None = None, missing: str = "interpolate") -> SeriesTable:
    """Read the Beijing hourly series.

    Args:
        file: the CSV to read. Default None: `beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv` in the data folder.
        columns: the columns to load. Default: DEWP, TEMP, PRES, Iws, Is, Ir, pm2.5.
        path: the data folder, used when `file` is None. Default None: `data_dir()`.
        missing: what to do with the NA values of pm2.5. Default 'interpolate' (linear in time, which
            keeps the hourly grid; 'drop' would break it).

    Returns:
        A SeriesTable (values (43,824, 7) float64 for the full file and default columns).
    """
    source = Path(file).expanduser() if file is not None else find_file(path)
    return load_csv_series(source, columns, missing=missing)


def temperature_splits(path: str | os.PathLike | None = None, lookback: int = 120, horizon: int = 24,
                       step: int = 1, train_fraction: float = 0.5, val_fraction: float = 0.25,
                       file: str | os.PathLike | None = None) -> ForecastSplits:
    """Windows for "TEMP `horizon` hours after the last hour seen", split by time, plus the baseline.

    In the tutorial's terms delay = horizon - step: the window's last row is r - step and the target row
    r + delay, so the common-sense baseline (the window's last temperature) is the temperature exactly
    `horizon` hours before the target.

    Args:
        path: the data folder. Default None: `data_dir()`.
        lookback: hours a window reaches back. Default 120 (5 days).
        horizon: hours from the last hour seen to the predicted one. Default 24.
        step: hours between kept window rows. Default 1.
        train_fraction: leading share of rows for training (and normalisation). Default 0.5.
        val_fraction: next share for validation; the rest is test. Default 0.25.
        file: read this CSV instead of the data folder's. Default None.

    Returns:
        ForecastSplits; baseline_mae_val is in normalised units, baseline_mae_val_units in degrees C.
    """
    if horizon < step:
        raise InputError(f"horizon={horizon} must be at least step={step} (the target lies after the window)")
    if not (0 < train_fraction and 0 < val_fraction and train_fraction + val_fraction < 1):
        raise InputError(f"need 0 < train_fraction, 0 < val_fraction and their sum < 1; got {train_fraction}, "
                         f"{val_fraction}")
    table = load_beijing(file=file, path=path)
    rows = len(table.values)
    train_end = int(rows * train_fraction)
    val_end = int(rows * (train_fraction + val_fraction))
    return forecast_splits(table.values, table.columns, TARGET, lookback, horizon - step, step,
                           train_end, val_end)
