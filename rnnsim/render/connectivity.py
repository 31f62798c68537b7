"""Input connectivity ||dy/dx_t|| as bars under the time axis, lined up with the task's markers.

    3e-2 ▁        █                                    ▇
    1e-4 █▁▁▁▁▁▁▁▁█▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁█▁▁▁
         0         10        20 ...
    mark          ▲                                    ▲

The bars are on a log scale spanning `decades` decades below the largest value, because connectivity,
like the gradient it is made of, varies over many orders of magnitude. The columns use the same gutter,
`start` and `per_column` as the heatmaps (rnnsim.render.heatmap), so bars, markers and gates line up.
"""

from __future__ import annotations

import math

import numpy as np
from rich.console import Group
from rich.text import Text

from rnnsim.annotations import StepAnnotations
from rnnsim.render.heatmap import time_axis
from rnnsim.render.timeline import legend_line, timeline_rows

EIGHTHS = " ▁▂▃▄▅▆▇█"
BAR_COLOUR = "#1b77d1"  # the second series colour (rnnsim.render.colours): blue, unlike the red markers


def _levels(values: np.ndarray, decades: float | None) -> tuple[np.ndarray, float]:
    """Each value's height in [0, 1] on a log scale from max / 10**decades to max (linear from 0 to max
    when `decades` is None); and the max."""
    values = np.asarray(values, dtype=np.float64)
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size == 0:
        return np.zeros(values.shape), 0.0
    top = float(positive.max())
    if decades is None:
        return np.clip(np.nan_to_num(values) / top, 0.0, 1.0), top
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), -np.inf)
    return np.clip((logs - (math.log10(top) - decades)) / decades, 0.0, 1.0), top


def binned_max(values: np.ndarray, start: int, columns: int, per_column: int) -> np.ndarray:
    """The largest value of each column's steps (a peak must not vanish when steps are binned)."""
    values = np.asarray(values, dtype=np.float64)
    out = np.full(columns, np.nan)
    for column in range(columns):
        chunk = values[start + column * per_column : start + (column + 1) * per_column]
        if chunk.size:
            out[column] = np.nanmax(chunk)
    return out


def connectivity_bars(values: np.ndarray, *, start: int = 0, columns: int | None = None, per_column: int = 1,
                      height: int = 3, decades: float | None = 4.0, gutter: int = 5, colour: bool = True,
                      label: str | None = None) -> Text:
    """Vertical bars, one column per step (or per `per_column` steps: their largest), `height` rows high.

    Args:
        values: (T,) ||dy/dx_t||.
        start, columns, per_column: the window of steps shown, as for a heatmap.
        height: rows of bars; each row holds 8 levels.
        decades: the log range shown below the largest value; None: a linear scale from 0 to the largest.
        gutter: width of the labels on the left.
        label: the left label of a one-row bar (default: the largest value on top, the floor at the bottom).
    """
    values = np.asarray(values, dtype=np.float64)
    if columns is None:
        columns = math.ceil((len(values) - start) / per_column)
    levels, top = _levels(binned_max(values, start, columns, per_column), decades)
    eighths = np.round(levels * height * 8).astype(int)
    text = Text(no_wrap=True, overflow="crop")
    style = BAR_COLOUR if colour else None
    for row in range(height):
        floor = (height - 1 - row) * 8
        if label is not None and row == height - 1:
            left = label
        elif row == 0 and top > 0:
            left = f"{top:.0e}".replace("e-0", "e-").replace("e+0", "e")
        elif row == height - 1 and top > 0 and height > 1 and decades is not None:
            left = f"{top / 10 ** decades:.0e}".replace("e-0", "e-").replace("e+0", "e")
        else:
            left = ""
        text.append(f"{left:<{gutter}}"[:gutter], style="dim")
        for column in range(columns):
            amount = int(np.clip(eighths[column] - floor, 0, 8))
            text.append(EIGHTHS[amount], style=style)
        if row < height - 1:
            text.append("\n")
    return text


def top_steps(values: np.ndarray, count: int = 2) -> list[int]:
    """The `count` steps with the largest connectivity, in time order."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=-np.inf)
    return sorted(int(t) for t in np.argsort(values)[-count:])


def connectivity_summary(values: np.ndarray, annotations: StepAnnotations | None = None) -> str:
    """'largest at t=12 (marked) and t=71 (marked); at the first marker 0.93 x the second'."""
    values = np.asarray(values, dtype=np.float64)
    marked = set(annotations.marked_steps) if annotations is not None else set()
    count = 2 if len(marked) >= 2 or not marked else len(marked)
    parts = []
    for t in top_steps(values, count):
        label = f"t={t}"
        if annotations is not None and annotations.kind == "words":
            label += f' "{annotations.labels[t]}"'
        if t in marked:
            label += " (marked)"
        parts.append(label)
    text = "largest at " + " and ".join(parts)
    positions = sorted(marked)
    if len(positions) == 2 and values[positions[1]] > 0:
        text += f"; at the first marker {values[positions[0]] / values[positions[1]]:.2g} x the second"
    return text


def connectivity_view(values: np.ndarray, annotations: StepAnnotations | None = None, *, width: int = 80,
                      height: int = 4, colour: bool = True, title: str = "", cursor: int | None = None) -> Group:
    """Bars of ||dy/dx_t|| over the whole sequence (binned to fit), the time axis, the marks and a summary."""
    from rnnsim.render.heatmap import bin_columns

    values = np.asarray(values, dtype=np.float64)
    gutter = 5
    _, per_column = bin_columns(values[None, :], max(10, width - gutter - 1))
    columns = math.ceil(len(values) / per_column)
    heading = Text(title or "input connectivity ||dy/dx_t|| (log scale, 4 decades)", style="bold")
    if per_column > 1:
        heading.append(f"  (each column = the largest of {per_column} steps)", style="dim")
    cursor_column = None if cursor is None else cursor // per_column
    parts = [heading, connectivity_bars(values, columns=columns, per_column=per_column, height=height,
                                        gutter=gutter, colour=colour)]
    parts.append(Text(" " * gutter + time_axis(columns, 0, per_column, cursor_column), style="dim", no_wrap=True))
    parts += timeline_rows(annotations, 0, columns, per_column, gutter=gutter, colour=colour)
    legend = legend_line(annotations)
    if legend is not None:
        parts.append(legend)
    parts.append(Text(connectivity_summary(values, annotations)))
    return Group(*parts)
