"""Heatmaps of units x timesteps, with a time axis; long sequences are binned to fit the width.

With colour, a heatmap packs two units into one text row with the upper half block "▀"
(foreground = upper unit, background = lower unit). Without colour, each unit gets its own
row and each value a character from a ramp (see `rnnsim.render.colours`).
"""

from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text

from rnnsim.render.colours import char_for, colour_for
from rnnsim.render.timeline import blend


def bin_columns(values: np.ndarray, max_columns: int) -> tuple[np.ndarray, int]:
    """Average groups of adjacent timesteps so that (U, T) values fit in `max_columns` columns.

    Returns the (U, ceil(T / k)) array and the number k of timesteps per column.
    """
    units, steps = values.shape
    per_column = max(1, math.ceil(steps / max(1, max_columns)))
    if per_column == 1:
        return values, 1
    columns = math.ceil(steps / per_column)
    padded = np.full((units, columns * per_column), np.nan)
    padded[:, :steps] = values
    with np.errstate(invalid="ignore"):
        return np.nanmean(padded.reshape(units, columns, per_column), axis=2), per_column


def heatmap(
    values: np.ndarray,
    scale: str,
    *,
    colour: bool = True,
    start: int = 0,
    per_column: int = 1,
    cursor: tuple[int, int] | None = None,
    unit_labels: bool = True,
    axis: bool = True,
    first_unit: int = 0,
    greyed: np.ndarray | None = None,
) -> Text:
    """A heatmap of `values` (units x timesteps): one column per timestep (or per `per_column` steps).

    Args:
        values: (U, C) array, rows = units, columns = timesteps (already windowed or binned).
        scale: SEQUENTIAL or DIVERGING.
        colour: True for colour half-blocks (two units per row), False for one character per value.
        start: the timestep of the first column, for the axis labels.
        per_column: timesteps per column (after `bin_columns`), for the axis labels.
        cursor: (column, unit) to mark with arrows on the axes, or None.
        unit_labels: write unit indices in a left gutter.
        axis: write a time axis below.
        first_unit: the index of the first row's unit, for the labels.
        greyed: (C,) bool, columns to fade towards grey (padded steps: the values still show, faintly).
    """
    units, columns = values.shape
    gutter = 5 if unit_labels else 0
    text = Text(no_wrap=True, overflow="crop")
    cursor_column, cursor_unit = cursor if cursor is not None else (None, None)
    if cursor_column is not None:
        text.append(" " * gutter + " " * cursor_column + "▼\n", style="bold")
    rows_per_line = 2 if colour else 1
    for top in range(0, units, rows_per_line):
        if unit_labels:
            marked = cursor_unit is not None and top <= cursor_unit < top + rows_per_line
            label = f"{first_unit + top:>3}" + ("▶" if marked else " ") + " "
            text.append(label, style="bold" if marked else "dim")
        for column in range(columns):
            upper = values[top, column]
            fade = blend if greyed is not None and greyed[column] else _same
            if not colour:
                text.append(char_for(upper, scale), style="dim" if fade is blend else None)
            elif top + 1 < units:
                lower = values[top + 1, column]
                text.append(
                    "▀", style=Style(color=fade(colour_for(upper, scale)), bgcolor=fade(colour_for(lower, scale)))
                )
            else:
                text.append("▀", style=Style(color=fade(colour_for(upper, scale))))
        text.append("\n")
    if axis:
        text.append(" " * gutter)
        text.append(time_axis(columns, start, per_column, cursor_column), style="dim")
        text.append("\n")
    text.rstrip()
    return text


def _same(colour):
    return colour


def time_axis(columns: int, start: int = 0, per_column: int = 1, cursor: int | None = None) -> str:
    """A line of timestep labels under `columns` columns: a label every 10 (or so) columns."""
    line = [" "] * columns
    step = 10 if columns >= 20 else 5
    for column in range(0, columns, step):
        label = str(start + column * per_column)
        if column + len(label) <= columns:
            line[column : column + len(label)] = label
    if cursor is not None and 0 <= cursor < columns:
        label = f"t={start + cursor * per_column}"
        # Only overwrite when the label fits; the ▼ above already marks the column.
        if cursor + len(label) <= columns:
            line[cursor : cursor + len(label)] = label
    return "".join(line)
