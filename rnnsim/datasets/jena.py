"""The Jena climate series (MPI-BGC weather station, 2009-2016), as used in Deep Learning with Python, ch. 6.3.

The original file `jena_climate_2009_2016.csv` (or the Keras download `jena_climate_2009_2016.csv.zip`)
has a header of 15 quoted names, `"Date Time","p (mbar)","T (degC)",...,"wd (deg)"`, dates written
`dd.mm.yyyy HH:MM:SS`, and one row every 10 minutes (420,551 rows). Columns are chosen by name, so
files with fewer columns (a re-saved subset, say) load too.

    from rnnsim.datasets import jena
    series = jena.load_jena("~/Downloads/jena_climate_2009_2016.csv.zip")
    splits = jena.tutorial_splits(series)           # lookback 1440, step 6, delay 144, as in the book
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnsim.datasets import registry
from rnnsim.datasets.timeseries import ForecastSplits, forecast_splits, read_csv_columns, read_csv_header
from rnnsim.errors import InputError

DATE_COLUMN = "Date Time"
COLUMNS = (
    "p (mbar)", "T (degC)", "Tpot (K)", "Tdew (degC)", "rh (%)", "VPmax (mbar)", "VPact (mbar)",
    "VPdef (mbar)", "sh (g/kg)", "H2OC (mmol/mol)", "rho (g/m**3)", "wv (m/s)", "max. wv (m/s)", "wd (deg)",
)
TARGET = "T (degC)"
FULL_ROWS = 420_551
# The tutorial's split: rows 0..200,000 train, up to 300,000 validation, the rest test.
TUTORIAL_TRAIN_END = 200_000
TUTORIAL_VAL_END = 300_000
_DATE_PATTERN = re.compile(r"^\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2}$")


@dataclass
class JenaSeries:
    """The Jena series: timestamps and numeric columns."""

    times: np.ndarray  # (rows,) datetime64[s]
    values: np.ndarray  # (rows, columns) float64
    columns: list[str]  # names of values' columns
    source: Path  # the file read


def find_file(path: str | os.PathLike | None = None) -> Path:
    """The full Jena file in the data folder (`jena/jena_climate_2009_2016.csv.zip` or `.csv`).

    Raises:
        InputError: absent; the message gives the download address.
    """
    return registry.find_file("jena", registry.get_info("jena").files[0], path)


def parse_dates(texts: Sequence[str], source: str = "the file") -> np.ndarray:
    """'dd.mm.yyyy HH:MM:SS' strings to datetime64[s].

    Raises:
        InputError: a string in another format (the message names the first one).
    """
    bad = next((text for text in texts if not _DATE_PATTERN.match(text)), None)
    if bad is not None:
        raise InputError(f"date {bad!r} in {source} is not dd.mm.yyyy HH:MM:SS; is this the Jena climate file?")
    iso = [f"{t[6:10]}-{t[3:5]}-{t[0:2]}T{t[11:19]}" for t in texts]
    try:
        return np.array(iso, dtype="datetime64[s]")
    except ValueError as error:
        raise InputError(f"{source} holds an impossible date ({error}); check the file") from None


def load_jena(file: str | os.PathLike | None = None, columns: Sequence[str] | None = None,
              path: str | os.PathLike | None = None, missing: str = "error") -> JenaSeries:
    """Read a Jena climate CSV (or its .zip).

    Args:
        file: the .csv or .zip to read. Default None: the full file in the data folder.
        columns: the numeric columns to load, by name. Default None: every column the file has except
            "Date Time", in file order.
        path: the data folder, used when `file` is None. Default None: `data_dir()`.
        missing: the missing-value choice of `load_csv_series`. Default 'error' (the file has no gaps).

    Returns:
        A JenaSeries.

    Raises:
        InputError: the file is missing (with the download address), has no "Date Time" column, a
            column is absent or non-numeric, or a date is malformed.
    """
    source = Path(file).expanduser() if file is not None else find_file(path)
    header = read_csv_header(source)
    if DATE_COLUMN not in header:
        raise InputError(f"{source.name} has no {DATE_COLUMN!r} column (columns: {', '.join(header)}); "
                         f"pass the Jena climate CSV")
    # Streamed: the dates are parsed chunk by chunk, never held as 420,551 strings.
    table, texts = read_csv_columns(source, columns, missing,
                                    converters={DATE_COLUMN: lambda chunk: parse_dates(chunk, source.name)})
    return JenaSeries(times=texts[DATE_COLUMN], values=table.values, columns=table.columns, source=source)


def tutorial_splits(series: JenaSeries, lookback: int = 1440, step: int = 6, delay: int = 144,
                    target: str = TARGET) -> ForecastSplits:
    """The book's set-up: 10 days back (1440 rows), one row per hour (step 6), target 24 hours on (144).

    Args:
        series: from `load_jena`.
        lookback: rows a window reaches back. Default 1440 (10 days).
        step: rows between kept window rows. Default 6 (hourly).
        delay: rows from the window's current row to the target. Default 144 (24 hours).
        target: the predicted column. Default "T (degC)".

    Returns:
        ForecastSplits. The full file is split as in the book (train rows < 200,000, validation
        < 300,000, test the rest); a shorter file is split 50 % / 25 % / 25 %.
    """
    rows = len(series.values)
    if rows >= FULL_ROWS:
        train_end, val_end = TUTORIAL_TRAIN_END, TUTORIAL_VAL_END
    else:
        train_end, val_end = rows // 2, (3 * rows) // 4
    return forecast_splits(series.values, series.columns, target, lookback, delay, step, train_end, val_end)
