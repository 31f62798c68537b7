"""Render traces in the terminal with rich: gate heatmaps, the gradient-by-timestep plot, equations.

Everything here works on a `rnnsim.cells.trace.Trace` (or plain arrays) and returns `rich.text.Text`,
so the same pictures serve `rnnsim inspect` (printed once), notes pasted from a terminal
(plain characters when the console has no colour) and the terminal app (`tui/`, which wraps
these functions in widgets). This module may import rich, never textual.

Two colour scales:

- diverging, for tanh-range values in [-1, 1] (candidate, cell input, hidden state, cell state):
  blue for negative, grey for zero, orange-red for positive;
- sequential, for sigmoid-range values in [0, 1] (the gates i, f, o, z, r): dark purple to yellow.

With colour, a heatmap packs two units into one text row with the upper half block "▀"
(foreground = upper unit, background = lower unit). Without colour, each unit gets its own
row and each value a character from a ramp (`SEQUENTIAL_RAMP`, `DIVERGING_RAMP`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.color import Color
from rich.console import Console, Group
from rich.style import Style
from rich.text import Text

from rnnsim.cells.trace import GATE_SYMBOLS, Trace
from rnnsim.errors import InputError

SEQUENTIAL = "sequential"
DIVERGING = "diverging"

# Plain-text ramps, used when the console has no colour. Sequential: 0 -> 1.
SEQUENTIAL_RAMP = " ░▒▓█"
# Diverging: -1 -> +1, centre character for values near 0. Sign shows in the symbol, size in its weight.
DIVERGING_RAMP = "≡=-· ·+*#"

# Anchor colours (RGB). Chosen to stay visible on both dark and light backgrounds:
# no pure white or pure black anywhere on a scale.
_SEQUENTIAL_STOPS = [  # viridis, sampled
    (0.00, (68, 1, 84)),
    (0.25, (59, 82, 139)),
    (0.50, (33, 145, 140)),
    (0.75, (94, 201, 98)),
    (1.00, (253, 231, 37)),
]
_DIVERGING_STOPS = [  # blue - grey - red
    (0.00, (33, 102, 172)),
    (0.25, (103, 169, 207)),
    (0.50, (150, 150, 150)),
    (0.75, (239, 138, 98)),
    (1.00, (178, 24, 43)),
]

# Series colours and markers for line plots (distinct in colour and, without colour, in shape).
# Each colour has a relative luminance near 0.18, so it keeps a contrast of at least 3.4:1 on a light
# theme's grey (#e0e0e0) and on white as well as on a dark terminal (#1e1e1e, black): red, blue,
# green, ochre, purple, teal. (Brighter tints read well on dark only: #4c9be8 was 2.2:1 on #e0e0e0.)
SERIES_COLOURS = ["#de3130", "#1b77d1", "#44843d", "#8d730c", "#a35f90", "#19807f"]
SERIES_MARKERS = ["●", "▲", "■", "◆", "x", "+"]
BASELINE_COLOUR = "#757575"  # mid grey, 3.5:1 on #e0e0e0 and 3.6:1 on #1e1e1e
CURSOR_COLOUR = "bright_black"  # the terminal's (or Textual theme's) own grey

# Which scale each recorded quantity uses. Gates squashed by a sigmoid are in [0, 1].
SIGMOID_GATES = {"input", "forget", "output", "update", "reset"}


def scale_for(name: str) -> str:
    """The colour scale for a gate or state name: sequential for sigmoid gates, diverging otherwise."""
    return SEQUENTIAL if name in SIGMOID_GATES else DIVERGING


def value_range(scale: str) -> tuple[float, float]:
    return (0.0, 1.0) if scale == SEQUENTIAL else (-1.0, 1.0)


def _position(value: float, scale: str) -> float:
    """Map a value to [0, 1] along its scale, clipping out-of-range values (e.g. a cell state of 3)."""
    low, high = value_range(scale)
    if not math.isfinite(value):
        return 0.5 if scale == DIVERGING else 0.0
    return min(1.0, max(0.0, (value - low) / (high - low)))


def colour_for(value: float, scale: str) -> Color:
    """The rich colour of a value on a scale (linear interpolation between anchor colours)."""
    stops = _SEQUENTIAL_STOPS if scale == SEQUENTIAL else _DIVERGING_STOPS
    position = _position(float(value), scale)
    for (left, left_rgb), (right, right_rgb) in zip(stops, stops[1:]):
        if position <= right:
            weight = (position - left) / (right - left)
            rgb = tuple(round(a + (b - a) * weight) for a, b in zip(left_rgb, right_rgb))
            return Color.from_rgb(*rgb)
    return Color.from_rgb(*stops[-1][1])


def char_for(value: float, scale: str) -> str:
    """The plain-text character of a value on a scale."""
    ramp = SEQUENTIAL_RAMP if scale == SEQUENTIAL else DIVERGING_RAMP
    position = _position(float(value), scale)
    return ramp[min(len(ramp) - 1, int(position * len(ramp)))]


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
            if not colour:
                text.append(char_for(upper, scale))
            elif top + 1 < units:
                lower = values[top + 1, column]
                text.append(
                    "▀", style=Style(color=colour_for(upper, scale), bgcolor=colour_for(lower, scale))
                )
            else:
                text.append("▀", style=Style(color=colour_for(upper, scale)))
        text.append("\n")
    if axis:
        text.append(" " * gutter)
        text.append(time_axis(columns, start, per_column, cursor_column), style="dim")
        text.append("\n")
    text.rstrip()
    return text


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


def legend(scale: str, *, colour: bool = True, width: int = 21) -> Text:
    """A colour bar between its end values: `-1▕█████▏+1` framed in colour, `-1 ≡- +# +1` in plain characters."""
    low, high = value_range(scale)
    high_label = f"{high:+g}" if scale == DIVERGING else f"{high:g}"
    # With colour, thin edges in the text colour frame the bar: its light end (viridis yellow) is
    # hardly brighter than a light theme's background, its dark end than a dark one's.
    left_edge, right_edge = ("▕", "▏") if colour else (" ", " ")
    text = Text(no_wrap=True)
    text.append(f"{low:g}{left_edge}")
    for index in range(width):
        value = low + (high - low) * index / (width - 1)
        if colour:
            text.append("█", style=Style(color=colour_for(value, scale)))
        else:
            text.append(char_for(value, scale))
    text.append(f"{right_edge}{high_label}")
    return text


# ---------------------------------------------------------------------------------------------
# Line plots: loss curves and the gradient norm by timestep.


def _format_tick(value: float, log: bool, decimal: bool = True) -> str:
    """A y label; on a log axis `value` is the exponent, and `decimal` allows 0.092 for 9e-2."""
    if log:
        if abs(value - round(value)) < 0.05:
            return f"1e{int(round(value))}"
        if decimal and -2 <= value < 4:  # between decades, in a loss's usual range: 0.092, 2.5
            return f"{10**value:.2g}"
        return f"{10**value:.0e}".replace("e-0", "e-").replace("e+0", "e")
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100 or magnitude < 1e-3:
        return f"{value:.0e}"
    if magnitude < 0.01:
        return f"{value:.1g}"  # 0.003
    return f"{value:.2f}" if magnitude < 10 else f"{value:.1f}"


# A braille character (U+2800 + bits) is a 2 x 4 grid of dots: the bit of the dot in row r, column c.
BRAILLE_BLANK = 0x2800
_BRAILLE_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]])
BAND_SYMBOL = "⣿"  # the legend's sample of a band of raw values


@dataclass
class Smoother:
    """A running exponential moving average, debiased like TensorBoard's smoothing.

    `add(value)` returns `s / (1 - weight**n)` with `s = weight * s + (1 - weight) * value`, `s = 0`
    before the first value and n the number of finite values so far: the first point is the value
    itself, not a fraction of it. A non-finite value is returned as it is and leaves the average alone.
    `weight` 0 returns the values; towards 1, ever smoother.
    """

    weight: float = 0.6  # TensorBoard's default
    last: float = 0.0  # the biased average so far
    count: int = 0  # finite values seen

    def add(self, value: float) -> float:
        value = float(value)
        if not math.isfinite(value):
            return value
        self.last = self.weight * self.last + (1.0 - self.weight) * value
        self.count += 1
        return self.last / (1.0 - self.weight**self.count) if self.weight > 0 else value


def ema(values: Sequence[float] | np.ndarray, weight: float = 0.6) -> np.ndarray:
    """The debiased exponential moving average of `values` (see `Smoother`), one value per input."""
    smoother = Smoother(weight)
    return np.array([smoother.add(value) for value in np.asarray(values, dtype=np.float64)], dtype=np.float64)


def log_span(values: Sequence[float] | np.ndarray) -> float:
    """How many decades the positive finite values span (0 for fewer than two)."""
    values = np.asarray(values, dtype=np.float64)
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size < 2:
        return 0.0
    return float(np.log10(positive.max()) - np.log10(positive.min()))


def _trace_dots(canvas: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> None:
    """Set the dots of a curve through the points (xs, ys) on a boolean (rows, columns) dot canvas.

    Points are in increasing x. Each dot column gets a vertical bar from the lowest to the highest
    point that falls in it (so many points per column read as a band), and the last point of a
    column is joined to the first of the next by a straight run of dots (so a jump leaves no gap).
    The work is bounded by the canvas size, not by the number of points.
    """
    if xs.size == 0:
        return
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])  # first point of each dot column
    ends = np.r_[starts[1:], xs.size] - 1
    lows = np.minimum.reduceat(ys, starts)
    highs = np.maximum.reduceat(ys, starts)
    previous = None
    for start, end, low, high in zip(starts, ends, lows, highs):
        x = int(xs[start])
        canvas[low : high + 1, x] = True
        if previous is not None:
            x0, y0 = previous
            x1, y1 = x, int(ys[start])
            steps = max(abs(x1 - x0), abs(y1 - y0))
            for step in range(1, steps):
                canvas[y0 + round(step * (y1 - y0) / steps), x0 + round(step * (x1 - x0) / steps)] = True
        previous = (x, int(ys[end]))


def line_plot(
    series: dict[str, Sequence[float] | np.ndarray],
    *,
    width: int = 60,
    height: int = 12,
    log_y: bool = False,
    hlines: dict[str, float] | None = None,
    colour: bool = True,
    x_label: str = "",
    x_start: int = 0,
    cursor: int | None = None,
    max_decades: float = 12.0,
    legend_line: bool = True,
    bands: dict[str, Sequence[float] | np.ndarray] | None = None,
    band_label: str = "raw",
    whole_decades: bool = False,
) -> Text:
    """A plot of one or more series against their index: braille lines, y ticks and a legend.

    Each character cell holds 2 x 4 braille dots, so a curve is drawn at twice the columns and four
    times the rows of the plot. Consecutive points are joined (a jump of several rows is a vertical
    run of dots), and where several points share a column the column shows their range, min to max.
    Series are told apart by colour and, also without colour, by a marker (● ▲ ■ ...): on every
    point when a series has few points (at most one per two columns), else, when there are several
    series, on a few points spread along each curve; the legend pairs each marker with its name.

    Args:
        series: name -> values; x = index (+ x_start). NaN/inf/non-positive (log) values are skipped
            (the curve joins the points on either side).
        width, height: the size of the plotting area in characters (axes and legend come on top).
        log_y: logarithmic y axis: from whole decade to whole decade (labelled 1e-k) when the values span
            three decades or more or `whole_decades` is set, else fitted to the values.
        hlines: name -> y value, drawn as dashed horizontal lines (e.g. a task's baseline).
        cursor: an x index to mark with a vertical line.
        max_decades: on a log axis, values more than this many decades below the largest are drawn
            on the floor row (labelled "≤"), so one underflowing curve does not flatten the others.
        bands: series name -> raw values drawn faintly under that series, in its colour (e.g. the
            per-batch loss under its moving average); default none.
        band_label: the legend's word for a band (default "raw").
        whole_decades: on a log axis, always start and end at a power of ten (default False).
    """
    hlines = dict(hlines or {})
    bands = {name: values for name, values in (bands or {}).items() if name in series}
    width = max(8, width)
    height = max(3, height)
    dots_wide, dots_high = 2 * width, 4 * height

    def transform(array) -> np.ndarray:
        array = np.asarray(array, dtype=np.float64)
        if log_y:
            with np.errstate(divide="ignore", invalid="ignore"):
                array = np.where(array > 0, np.log10(np.where(array > 0, array, 1.0)), -np.inf)
        return array

    curves = {name: transform(values) for name, values in series.items()}
    raw_curves = {name: transform(values) for name, values in bands.items()}
    lines = {name: float(transform([value])[0]) for name, value in hlines.items()}
    finite = [a[np.isfinite(a)] for a in list(curves.values()) + list(raw_curves.values())] + [
        np.array([v]) for v in lines.values() if math.isfinite(v)
    ]
    finite = np.concatenate(finite) if finite else np.zeros(0)
    length = max((len(a) for a in list(curves.values()) + list(raw_curves.values())), default=0)
    floor_clipped = False
    decades = False  # a log axis from power of ten to power of ten
    if finite.size == 0:
        y_low, y_high = (0.0, 1.0)
    elif log_y and not whole_decades and finite.max() - finite.min() < 3:
        # Within a few decades (a loss from 2 to 0.01), whole decades would waste rows: fit the data.
        y_low, y_high = float(finite.min()), float(finite.max())
        if y_high - y_low < 1:  # at least one decade, so the row labels differ
            middle = (y_high + y_low) / 2
            y_low, y_high = middle - 0.5, middle + 0.5
        margin = 0.05 * (y_high - y_low)
        y_low, y_high = y_low - margin, y_high + margin
    elif log_y:
        decades = True
        y_high = math.ceil(finite.max())
        y_low = math.floor(finite.min())
        if y_high - y_low > max_decades:
            y_low = y_high - max_decades
            floor_clipped = True
        if y_high == y_low:
            y_low -= 1
    else:
        y_low, y_high = float(finite.min()), float(finite.max())
        if y_high - y_low < 1e-12:
            y_low, y_high = y_low - 0.5, y_high + 0.5
        margin = 0.05 * (y_high - y_low)
        y_low, y_high = y_low - margin, y_high + margin
        if finite.min() >= 0 and y_low < 0:
            y_low = 0.0

    def dot_rows(values: np.ndarray) -> np.ndarray:
        """The dot row (0 = top) of each value; -1 for a value that is not drawn."""
        with np.errstate(invalid="ignore"):
            position = (values - y_low) / (y_high - y_low)
        rows = np.full(values.shape, -1, dtype=np.int64)
        drawn = np.isfinite(position)
        rows[drawn] = np.clip(dots_high - 1 - np.round(position[drawn] * (dots_high - 1)), 0, dots_high - 1)
        if log_y and floor_clipped:  # below the floor (and exact zeros, -inf): on the floor row
            rows[(values == -np.inf) | (drawn & (position < 0))] = dots_high - 1
        return rows

    def dot_column(index) -> np.ndarray:
        if length <= 1:
            return np.zeros_like(np.asarray(index))
        return np.round(np.asarray(index) * (dots_wide - 1) / (length - 1)).astype(np.int64)

    def column_of(index: float) -> int:
        return int(dot_column(index)) // 2

    def row_of(value: float) -> int | None:
        row = int(dot_rows(np.array([value]))[0])
        return None if row < 0 else row // 4

    def points(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = dot_rows(values)
        kept = np.flatnonzero(rows >= 0)
        return dot_column(kept), rows[kept]

    # Cell-level background: the dashed baselines, then the cursor line where nothing else is.
    grid: list[list[tuple[str, str | None]]] = [[(" ", None)] * width for _ in range(height)]
    for value in lines.values():
        row = row_of(value)
        if row is not None:
            for column in range(width):
                grid[row][column] = ("╌", BASELINE_COLOUR)
    if cursor is not None and length:
        column = column_of(cursor - x_start)
        if 0 <= column < width:
            for row in range(height):
                if grid[row][column][0] == " ":
                    grid[row][column] = ("│", CURSOR_COLOUR)

    def cell_bits(canvas: np.ndarray) -> np.ndarray:
        """(height, width) braille bit patterns of a (dots_high, dots_wide) boolean canvas."""
        return (canvas.reshape(height, 4, width, 2) * _BRAILLE_BITS[None, :, None, :]).sum(axis=(1, 3))

    def series_colour(index: int) -> str:
        return SERIES_COLOURS[index % len(SERIES_COLOURS)]

    # Dots: bands first (faint), then the series; a cell where a series passes shows only the series.
    band_bits = np.zeros((height, width), dtype=np.int64)
    band_owner = np.full((height, width), -1)
    line_bits = np.zeros((height, width), dtype=np.int64)
    line_owner = np.full((height, width), -1)
    markers: dict[tuple[int, int], int] = {}
    names = list(curves)
    spacing = max(6, width // 5)
    for index, name in enumerate(names):
        if name in raw_curves:
            canvas = np.zeros((dots_high, dots_wide), dtype=bool)
            _trace_dots(canvas, *points(raw_curves[name]))
            bits = cell_bits(canvas)
            band_bits |= bits
            band_owner[bits > 0] = index
        canvas = np.zeros((dots_high, dots_wide), dtype=bool)
        xs, ys = points(curves[name])
        _trace_dots(canvas, xs, ys)
        bits = cell_bits(canvas)
        line_bits |= bits
        line_owner[bits > 0] = index
        if xs.size and xs.size <= width // 2:  # few points: a marker on each
            for x, y in zip(xs, ys):
                markers[(int(y) // 4, int(x) // 2)] = index
        elif xs.size and len(names) > 1:  # many points, several curves: a few markers to tell them apart
            offset = (spacing // 2 + index * spacing // len(names)) % spacing
            for column in range(offset, width, spacing):
                rows = np.flatnonzero(canvas[:, 2 * column : 2 * column + 2].any(axis=1))
                if rows.size:
                    markers[(int(np.median(rows)) // 4, column)] = index

    cells: list[list[tuple[str, str | None]]] = [list(row) for row in grid]
    for row in range(height):
        for column in range(width):
            if (row, column) in markers:
                index = markers[(row, column)]
                cells[row][column] = (SERIES_MARKERS[index % len(SERIES_MARKERS)], series_colour(index))
            elif line_bits[row, column]:
                owner = int(line_owner[row, column])
                cells[row][column] = (chr(BRAILLE_BLANK + int(line_bits[row, column])), series_colour(owner))
            elif band_bits[row, column]:
                owner = int(band_owner[row, column])
                band_char = chr(BRAILLE_BLANK + int(band_bits[row, column]))
                cells[row][column] = (band_char, "dim " + series_colour(owner))

    def value_at(row: int) -> float:
        return y_high - row * (y_high - y_low) / (height - 1)

    # Label the top, the bottom and a few rows between with the value each row stands for.
    label_rows = sorted({0, height - 1, (height - 1) // 2} | set(range(0, height, 3 if height > 8 else 2)))
    # On a whole-decade axis every label is a power-of-ten form (1e-2, 2e-5), not 0.014 beside 2e-5.
    decimal = not (log_y and decades)
    labels = {row: _format_tick(value_at(row), log_y, decimal) for row in label_rows}
    if log_y and floor_clipped:
        labels[height - 1] = "≤" + _format_tick(y_low, True)
    # Thin out labels so neighbours do not touch on short plots.
    kept, last = {}, -2
    for row in sorted(labels):
        if row - last >= 2 or row in (0, height - 1):
            kept[row] = labels[row]
            last = row
    gutter = max((len(label) for label in kept.values()), default=1) + 1

    text = Text(no_wrap=True, overflow="crop")
    for row in range(height):
        label = kept.get(row, "")
        text.append(f"{label:>{gutter - 1}}" + ("┤" if label else "│"), style="dim")
        for char, style in cells[row]:
            text.append(char, style=style if (colour and style) else None)
        text.append("\n")
    text.append(" " * (gutter - 1) + "└" + "─" * width + "\n", style="dim")
    axis = [" "] * width
    if length:
        step = max(1, (length - 1) // 4) if length > 1 else 1
        ticks = sorted(set(list(range(0, length, step)) + [length - 1]))
        for x in ticks:
            label = str(x + x_start)
            column = min(column_of(x), width - len(label))
            if all(c == " " for c in axis[max(0, column - 1) : column + len(label) + 1]):
                axis[column : column + len(label)] = label
    # The x label goes in the gutter (left of the first tick) when it fits, so no line grows wider.
    label = x_label if x_label and len(x_label) < gutter else ""
    text.append(f"{label:>{gutter - 1}} " + "".join(axis).rstrip(), style="dim")
    if legend_line and (len(curves) > 1 or hlines or raw_curves):
        text.append("\n" + " " * gutter)
        for index, name in enumerate(curves):
            style = series_colour(index) if colour else None
            text.append(SERIES_MARKERS[index % len(SERIES_MARKERS)] + " " + name, style=style)
            if name in raw_curves:
                text.append(" ")
                text.append(f"{BAND_SYMBOL} {band_label}", style=("dim " + series_colour(index)) if colour else None)
            text.append("  ")
        for name, value in hlines.items():
            text.append(f"╌ {name} {value:.3g}", style=BASELINE_COLOUR if colour else None)
            text.append("  ")
        text.rstrip()
    return text


def gradient_plot(
    norms: dict[str, np.ndarray] | np.ndarray,
    *,
    width: int = 60,
    height: int = 10,
    colour: bool = True,
    cursor: int | None = None,
) -> Text:
    """||dL/dh_t|| against timestep t on a log axis: one series per cell (or a single array)."""
    if not isinstance(norms, dict):
        norms = {"||dL/dh_t||": np.asarray(norms)}
    return line_plot(
        norms, width=width, height=height, log_y=True, whole_decades=True, colour=colour, x_label="t", cursor=cursor
    )


def mean_gradient_norm(trace: Trace, sample: int | None = None) -> np.ndarray | None:
    """||dL/dh_t|| of one sample, or averaged over the batch (geometric mean, fitting a log plot)."""
    if trace.grad_hidden_norm is None:
        return None
    norms = np.asarray(trace.grad_hidden_norm, dtype=np.float64)
    if sample is not None:
        return norms[sample]
    # A norm of exactly 0 has underflowed float32 (below ~1e-38): count it as 1e-38, not as -inf.
    logs = np.log(np.maximum(norms, 1e-38))
    return np.exp(logs.mean(axis=0))


# ---------------------------------------------------------------------------------------------
# Equations with numbers.


def quantities(trace: Trace) -> list[str]:
    """The names of what a trace holds, in display order: gates, then cell state (LSTM), hidden."""
    names = list(trace.gate_names)
    if trace.cell_state is not None:
        names.append("cell_state")
    names.append("hidden")
    return names


def quantity(trace: Trace, name: str) -> np.ndarray:
    """(B, T, U) values of a gate, 'cell_state' or 'hidden'."""
    if name == "hidden":
        return trace.hidden
    if name == "cell_state":
        if trace.cell_state is None:
            raise InputError(f"a {trace.cell} layer has no cell state; choose one of {quantities(trace)}")
        return trace.cell_state
    if name not in trace.gates:
        raise InputError(f"unknown gate {name!r} for a {trace.cell} layer; choose one of {quantities(trace)}")
    return trace.gates[name]


def title_of(name: str, cell: str) -> str:
    """A heading for a quantity, e.g. 'forget gate f', 'candidate c~', 'hidden state h'."""
    if name == "hidden":
        return "hidden state h"
    if name == "cell_state":
        return "cell state c"
    symbol = GATE_SYMBOLS.get(name, name)
    if name == "candidate":
        symbol = {"lstm": "c~", "gru": "h~", "simple_rnn": "h"}.get(cell, symbol)
        return f"candidate {symbol}"
    return f"{name} gate {symbol}"


def _previous_index(trace: Trace, t: int) -> int | None:
    """The input position read just before t (t-1, or t+1 for go_backwards); None at the start."""
    previous = t + 1 if trace.go_backwards else t - 1
    return previous if 0 <= previous < trace.timesteps else None


def _fmt(value: float) -> str:
    return f"{value:.2f}" if abs(value) < 100 else f"{value:.3g}"


def _paren(value: float) -> str:
    text = _fmt(value)
    return f"({text})" if value < 0 else text


def equations(trace: Trace, t: int, unit: int, sample: int = 0) -> list[str]:
    """The cell's equations at timestep t for one unit, with the recorded numbers filled in.

    Pre-activations are shown as the number they came to, e.g. `f_t = σ(x_t·W_f + h_{t-1}·U_f + b_f)
    = σ(2.10) = 0.89`; the state updates show every factor.
    """

    def value(array) -> float:
        return float(array[sample, t, unit])

    previous = _previous_index(trace, t)

    def previous_value(array) -> float:
        return 0.0 if previous is None else float(array[sample, previous, unit])

    lines = []
    if trace.mask is not None and not bool(trace.mask[sample, t]):
        lines.append(f"t={t} is padding (masked): the state is carried over unchanged.")
    h_prev = previous_value(trace.hidden)
    h = value(trace.hidden)
    pre = trace.preactivations
    if trace.cell == "simple_rnn":
        lines.append(
            f"h_t = tanh(x_t·W + h_{{t-1}}·U + b) = tanh({_fmt(value(pre['candidate']))}) = {_fmt(h)}"
        )
    elif trace.cell == "lstm":
        i, f, g, o = (value(trace.gates[name]) for name in ("input", "forget", "candidate", "output"))
        c_prev = previous_value(trace.cell_state)
        c = value(trace.cell_state)
        lines += [
            f"i_t = σ(x_t·W_i + h_{{t-1}}·U_i + b_i) = σ({_fmt(value(pre['input']))}) = {_fmt(i)}",
            f"f_t = σ(x_t·W_f + h_{{t-1}}·U_f + b_f) = σ({_fmt(value(pre['forget']))}) = {_fmt(f)}",
            f"c~_t = tanh(x_t·W_c + h_{{t-1}}·U_c + b_c) = tanh({_fmt(value(pre['candidate']))}) = {_fmt(g)}",
            f"o_t = σ(x_t·W_o + h_{{t-1}}·U_o + b_o) = σ({_fmt(value(pre['output']))}) = {_fmt(o)}",
            f"c_t = f·c_{{t-1}} + i·c~ = {_fmt(f)}·{_paren(c_prev)} + {_fmt(i)}·{_paren(g)} = {_fmt(c)}",
            f"h_t = o·tanh(c_t) = {_fmt(o)}·tanh({_fmt(c)}) = {_fmt(h)}",
        ]
    elif trace.cell == "gru":
        z, r, g = (value(trace.gates[name]) for name in ("update", "reset", "candidate"))
        reset_after = "reset_after" not in trace.extra or bool(np.asarray(trace.extra["reset_after"]).any())
        inner = (
            "x_t·W_h + b_in + r·(h_{t-1}·U_h + b_rec)" if reset_after else "x_t·W_h + (r·h_{t-1})·U_h + b_h"
        )
        lines += [
            f"z_t = σ(x_t·W_z + h_{{t-1}}·U_z + b_z) = σ({_fmt(value(pre['update']))}) = {_fmt(z)}",
            f"r_t = σ(x_t·W_r + h_{{t-1}}·U_r + b_r) = σ({_fmt(value(pre['reset']))}) = {_fmt(r)}",
            f"h~_t = tanh({inner}) = tanh({_fmt(value(pre['candidate']))}) = {_fmt(g)}",
            f"h_t = z·h_{{t-1}} + (1-z)·h~ = {_fmt(z)}·{_paren(h_prev)} + {_fmt(1 - z)}·{_paren(g)}"
            f" = {_fmt(h)}",
        ]
    else:
        raise InputError(f"unknown cell {trace.cell!r}")
    if trace.grad_hidden_norm is not None:
        lines.append(f"||dL/dh_t|| = {float(trace.grad_hidden_norm[sample, t]):.3g}")
    return lines


# ---------------------------------------------------------------------------------------------
# A whole trace, as printed by `rnnsim inspect`.


def render_trace(
    trace: Trace,
    *,
    sample: int = 0,
    gate: str | None = None,
    width: int = 80,
    colour: bool = True,
    tokens: Sequence[str] | None = None,
    sample_label: int | None = None,
) -> Group:
    """Heatmaps of every gate and state (or just `gate`) of one sample, and its gradient plot.

    `sample` indexes the trace's batch; `sample_label` is the number shown for it when the trace was
    recorded on a batch picked from a larger set (`rnnsim inspect --sample 7` probes sample 7 alone).
    """
    if not 0 <= sample < trace.batch_size:
        raise InputError(f"sample {sample} is out of range: the trace holds {trace.batch_size} samples")
    names = [gate] if gate else quantities(trace)
    parts: list = []
    title = trace.layer_name or trace.cell
    parts.append(
        Text(
            f"{title} ({trace.cell}, {trace.units} units, {trace.timesteps} timesteps), "
            f"sample {sample if sample_label is None else sample_label}",
            style="bold",
        )
    )
    available = max(10, width - 6)
    for name in names:
        values = quantity(trace, name)[sample].T.astype(np.float64)  # (U, T)
        binned, per_column = bin_columns(values, available)
        scale = scale_for(name)
        heading = Text(title_of(name, trace.cell), style="bold")
        if per_column > 1:
            heading.append(f"  (each column = mean of {per_column} steps)", style="dim")
        heading.append("   ")
        heading.append_text(legend(scale, colour=colour, width=11))
        parts += [Text(""), heading, heatmap(binned, scale, colour=colour, per_column=per_column)]
    if tokens is not None and len(tokens):
        parts += [Text(""), Text("inputs: " + " ".join(str(token) for token in tokens), style="dim")]
    norms = mean_gradient_norm(trace, sample)
    if norms is not None:
        parts += [
            Text(""),
            Text("||dL/dh_t|| by timestep (log scale)", style="bold"),
            gradient_plot(norms, width=max(20, width - 8), height=8, colour=colour),
        ]
    return Group(*parts)


def _console_has_colour(console: Console) -> bool:
    return console.color_system is not None and not console.no_color


def inspect_command(
    model_path: str | Path,
    sample: int = 0,
    layer: str | int | None = None,
    gate: str | None = None,
    data: str | None = None,
    console: Console | None = None,
) -> int:
    """`rnnsim inspect MODEL`: print the heatmaps and gradient plot of one sample. Returns the exit status.

    A user's mistake (missing file, unknown gate, sample out of range) prints one line and returns 2.
    """
    console = console or Console()
    try:
        probe = probe_checkpoint(model_path, samples=[sample], data=data)
        trace = _choose_layer(probe.traces, layer)
        tokens = probe.tokens[0] if probe.tokens else None
        console.print(
            Text(f"{Path(model_path).name}: task {probe.task_name}, sample {sample}", style="bold"),
            render_trace(
                trace,
                sample=0,
                gate=gate,
                width=console.width,
                colour=_console_has_colour(console),
                tokens=tokens,
                sample_label=sample,
            ),
        )
    except InputError as error:
        print(f"rnnsim: error: {error}", file=sys.stderr)  # one line on stderr, like every CLI mistake
        return 2
    return 0


def _choose_layer(traces: Sequence[Trace], layer: str | int | None) -> Trace:
    if not traces:
        raise InputError("the model has no recurrent layer to inspect")
    if layer is None:
        return traces[0]
    names = [trace.layer_name for trace in traces]
    if isinstance(layer, str) and not layer.lstrip("-").isdigit():
        if layer in names:
            return traces[names.index(layer)]
        raise InputError(f"no recurrent layer named {layer!r}; the model has {', '.join(names)}")
    index = int(layer)
    if not 0 <= index < len(traces):
        raise InputError(f"layer {index} is out of range: the model has {len(traces)} recurrent layers")
    return traces[index]


@dataclass
class CheckpointProbe:
    """A saved model run forward and backward (with traces) on some samples of its task."""

    cell: str  # the first recurrent layer's cell
    task_name: str
    task: object  # the rnnsim.datasets Task the samples came from
    traces: list[Trace]  # one per recurrent layer, batch = the samples, gradient norms filled in
    tokens: list[list[str]] | None  # per sample, per timestep: the decoded input (words for text)


def probe_checkpoint(
    model_path,
    samples: Sequence[int] | None = (0,),
    data: str | None = None,
    default_task: str | None = None,
    default_seq_len: int | None = None,
) -> CheckpointProbe:
    """Load a model saved by `model.save` and probe `samples` of the validation split of its task.

    Args:
        model_path: the .npz file.
        samples: indices into the task's validation inputs (default: the first; None: up to 8 first).
        data: a task name to take the samples from instead of the one saved with the model.
        default_task: the task to use when the file does not say (e.g. the app's current task).
        default_seq_len: the sequence length to use when neither the file nor the model fixes one.
    Raises InputError with one clear sentence for a missing, unreadable or foreign file.
    """
    path = Path(model_path)
    if not path.is_file():
        raise InputError(
            f"model file {path} does not exist; give a .npz written by rnnsim train or model.save"
        )
    try:
        from rnnsim.models import load_model
    except ImportError as error:  # pragma: no cover - only while the model API is missing
        raise InputError(f"this build of rnnsim cannot load models ({error})") from None
    try:
        model = load_model(path, device="cpu")  # one probe batch: the CPU is enough, and always there
    except InputError:
        raise
    except (OSError, ValueError, KeyError, EOFError) as error:
        raise InputError(f"{path} is not a model saved by rnnsim ({type(error).__name__}: {error})") from None
    config = _model_task_config(model)
    task_name = data or config.get("name") or default_task
    if not task_name:
        raise InputError(f"{path} does not say which task it was trained on; pass --data TASK")
    from rnnsim.datasets import load_task

    options = {key: config[key] for key in ("seq_len", "n_samples", "seed") if config.get(key) is not None}
    input_shape = getattr(model, "input_shape", None)
    if "seq_len" not in options and input_shape is not None and len(input_shape) >= 2 and input_shape[1]:
        options["seq_len"] = int(input_shape[1])  # the length the model was built for
    if "seq_len" not in options and default_seq_len:
        options["seq_len"] = int(default_seq_len)
    options.setdefault("n_samples", 64)  # only validation samples are needed: keep generation small
    task = load_task(task_name, **options)
    x_val, y_val = task.x_val, task.y_val
    samples = list(range(min(8, len(x_val)))) if samples is None else list(samples)
    for index in samples:
        if not 0 <= index < len(x_val):
            raise InputError(
                f"sample {index} is out of range: task {task_name} has {len(x_val)} validation samples"
            )
    report = model.probe(x_val[samples], y_val[samples])
    traces = list(report.traces)
    if not traces:
        raise InputError(f"{path} has no recurrent layer to inspect")
    return CheckpointProbe(
        cell=traces[0].cell,
        task_name=task_name,
        task=task,
        traces=traces,
        tokens=_decode(task, x_val, samples),
    )


def _model_task_config(model) -> dict:
    """The task the model was trained on, as `rnnsim train` saves it: {'name', 'seq_len', 'seed'}, or {}."""
    task = model.metadata.get("task")
    return dict(task) if isinstance(task, dict) else {}


def _decode(task, x, samples) -> list[list[str]] | None:
    """Each sample's inputs as display strings via the task's `decode(x[sample, t])`, or None."""
    decode = task.decode
    if decode is None:
        return None
    try:
        return [[str(decode(step)) for step in np.asarray(x[index])] for index in samples]
    except Exception:  # a decoder that cannot handle this input: show no words rather than fail
        return None
