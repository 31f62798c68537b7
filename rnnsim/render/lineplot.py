"""Line plots in braille: loss curves and the gradient norm by timestep, with their smoothing helpers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rich.text import Text

from rnnsim.analysis.gain import mean_norms
from rnnsim.cells.trace import Trace
from rnnsim.render.colours import BASELINE_COLOUR, CURSOR_COLOUR, SERIES_COLOURS, SERIES_MARKERS


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


def _linear_ticks(low: float, high: float, height: int, log: bool = False) -> dict[int, str]:
    """Row -> label of round values a step of 1, 2, 2.5 or 5 times a power of ten apart on an axis from `low`
    (bottom row) to `high` (top row): about one label every three rows, each on the row nearest to it.

    With `log`, low and high are exponents (a log axis narrower than a decade): the round values are
    taken between 10**low and 10**high (0.98, 1, 1.02) and placed by their logarithm."""
    if log:
        axis_low, axis_high = low, high
        low, high = 10.0**low, 10.0**high
    span = high - low
    if not (span > 0 and math.isfinite(span)):
        return {0: _format_tick(high, False), height - 1: _format_tick(low, False)}
    wanted = max(2, height // 3 + 1)
    magnitude = 10.0 ** math.floor(math.log10(span / wanted))
    steps = [m * magnitude * scale for scale in (1.0, 0.1) for m in (10, 5, 2.5, 2, 1)]  # largest first
    # the finest step that gives at most `wanted` labels
    first = next(k for k in range(len(steps) - 1, -1, -1) if span / steps[k] <= wanted)
    for step in steps[first:]:  # then smaller, until at least two labels fall on different rows
        ticks = {}
        tick = math.ceil(low / step - 1e-9) * step
        while tick <= high + 1e-9 * span:
            where = ((axis_high - math.log10(tick)) / (axis_high - axis_low)) if log else (high - tick) / span
            ticks[int(round(where * (height - 1)))] = 0.0 if abs(tick) < 1e-9 * step else tick
            tick += step
        if len(ticks) >= 2:
            break
    mantissa = step / 10.0 ** math.floor(math.log10(step) + 1e-9)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9) + (1 if round(mantissa, 3) == 2.5 else 0))
    tiny = max(abs(value) for value in ticks.values()) < 1e-3  # 2.5e-05, not 0.000025
    huge = max(abs(value) for value in ticks.values()) >= 1e5
    labels = {}
    for row, value in ticks.items():
        if value == 0:
            labels[row] = "0"
        elif tiny or huge:
            labels[row] = f"{value:.2g}"
        else:
            labels[row] = f"{value:.{decimals}f}"
    return labels


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
    min_decades: float = 1.0,
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
        min_decades: on a fitted log axis, the least span shown, in decades (default 1). Below 1 (the gain
            plot: per-step factors near 1) the labels take the digits they need to differ (0.97, 1, 1.03).
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
        if y_high - y_low < min_decades:  # at least this span (one decade unless told otherwise)
            middle = (y_high + y_low) / 2
            y_low, y_high = middle - min_decades / 2, middle + min_decades / 2
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
    if not log_y:  # round values (0.02, 0.04, ...), evenly spaced, on the rows nearest to them
        labels = _linear_ticks(y_low, y_high, height)
    elif not decades and y_high - y_low < 1:  # a narrow log axis: round values, as on a linear one
        labels = _linear_ticks(y_low, y_high, height, log=True)
    else:  # on a whole-decade axis every label is a power-of-ten form (1e-2, 2e-5), not 0.014 beside 2e-5
        labels = {row: _format_tick(value_at(row), True, not decades) for row in label_rows}
    if log_y and floor_clipped:
        labels[height - 1] = "≤" + _format_tick(y_low, True)
    # Thin out labels so neighbours do not touch on short plots (a linear axis's round ticks are spaced
    # already: on a plot of 3 or 4 rows two of them may sit on neighbouring rows, and both are wanted).
    kept, last = {}, -2
    for row in sorted(labels):
        if row - last >= 2 or row in (0, height - 1) or not log_y:
            kept[row] = labels[row]
            last = row
    if log_y:  # one label twice (1e-3 on the bottom row and on the row at 1.3e-3): only on the row nearer to it
        for label in set(kept.values()):
            rows = [row for row, text in kept.items() if text == label]
            if len(rows) > 1 and label[0].isdigit():
                target = math.log10(float(label))
                nearest = min(rows, key=lambda row: abs(value_at(row) - target))
                for row in rows:
                    if row != nearest:
                        del kept[row]
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
    return mean_norms(norms)  # a norm of exactly 0 has underflowed float32: counted as 1e-38, not as -inf
