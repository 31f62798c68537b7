"""The task's annotations under a time axis: the input value of each step, markers, windows, padding.

Rows line up with a heatmap's columns (same gutter, same `start` and `per_column`): one character
per column, so that a marker ▲ sits under the column of its step.

    x     ████████████████████████████  each step's input value (sequential scale), when it has one
    mark  ······▲···········▲·········  the task's markers; ━ write / recall windows; ░ padding
"""

from __future__ import annotations

import numpy as np
from rich.style import Style
from rich.text import Text

from rnnsim.annotations import StepAnnotations
from rnnsim.render.colours import SEQUENTIAL, char_for, colour_for

MARKER = "▲"
MARKER_COLOUR = "#de3130"  # the first series colour: readable on dark and light (rnnsim.render.colours)
WINDOW = "━"
PADDING = "░"
GREY = (58, 58, 58)  # what greyed (padded) heatmap cells are blended towards


def _bins(start: int, columns: int, per_column: int, steps: int) -> list[range]:
    return [range(start + c * per_column, min(steps, start + (c + 1) * per_column)) for c in range(columns)]


def mark_row(annotations: StepAnnotations, start: int, columns: int, per_column: int = 1) -> Text:
    """One character per column: ▲ marker, ━ window (its name written at its start when it fits), ░ padding."""
    steps = annotations.steps
    greyed = annotations.greyed()
    markers = annotations.markers if annotations.markers is not None else np.zeros(steps, bool)
    cells: list[tuple[str, str]] = []
    for span in _bins(start, columns, per_column, steps):
        if not len(span):
            cells.append((" ", ""))
        elif markers[span.start : span.stop].any():
            cells.append((MARKER, f"bold {MARKER_COLOUR}"))
        elif any(annotations.window_at(t) for t in span):
            cells.append((WINDOW, "bold"))
        elif greyed[span.start : span.stop].all():
            cells.append((PADDING, "dim"))
        else:
            cells.append((" ", ""))
    # Window names over their bars, where they fit inside them.
    for window_start, window_stop, name in annotations.windows:
        first = max(0, -(-(window_start - start) // per_column))
        last = min(columns, (window_stop - start) // per_column)
        if last - first >= len(name) + 2:
            for offset, char in enumerate(f" {name}"):
                cells[first + offset] = (char, "bold")
    text = Text(no_wrap=True, overflow="crop")
    for char, style in cells:
        text.append(char, style=style or None)
    return text


def value_row(annotations: StepAnnotations, start: int, columns: int, per_column: int = 1,
              colour: bool = True) -> Text | None:
    """Each column's input value on the sequential scale (mean of its steps), or None when there is none."""
    if annotations.values is None:
        return None
    values = np.asarray(annotations.values, dtype=np.float64)
    text = Text(no_wrap=True, overflow="crop")
    greyed = annotations.greyed()
    for span in _bins(start, columns, per_column, annotations.steps):
        if not len(span):
            text.append(" ")
            continue
        value = float(values[span.start : span.stop].mean())
        if not colour:
            text.append(char_for(value, SEQUENTIAL))
        else:
            rgb = colour_for(value, SEQUENTIAL)
            if greyed[span.start : span.stop].all():
                rgb = blend(rgb)
            text.append("█", style=Style(color=rgb))
    return text


def blend(colour, towards=GREY, weight: float = 0.7):
    """A colour faded towards grey: a padded step stays readable, but clearly not a real one."""
    from rich.color import Color

    red, green, blue = colour.get_truecolor()
    mixed = [round(weight * g + (1 - weight) * c) for c, g in zip((red, green, blue), towards)]
    return Color.from_rgb(*mixed)


def timeline_rows(annotations: StepAnnotations | None, start: int, columns: int, per_column: int = 1,
                  gutter: int = 5, colour: bool = True) -> list[Text]:
    """The rows under a heatmap: the input value row (when the task has one), then the mark row.

    Args:
        annotations: the sample's annotations (None: no rows).
        start: the timestep of the first column; per_column: steps per column (after binning).
        columns: how many columns the heatmap above has.
        gutter: width of the label column on the left (the heatmap's unit labels).
    """
    if annotations is None:
        return []
    rows = []
    values = value_row(annotations, start, columns, per_column, colour)
    if values is not None:
        line = Text(f"{'x':<{gutter}}", style="dim", no_wrap=True, overflow="crop")
        line.append_text(values)
        rows.append(line)
    marks = mark_row(annotations, start, columns, per_column)
    has_marks = annotations.markers is not None or annotations.windows or annotations.greyed().any()
    if has_marks:
        line = Text(f"{'mark':<{gutter}}", style="dim", no_wrap=True, overflow="crop")
        line.append_text(marks)
        rows.append(line)
    return rows


def legend_line(annotations: StepAnnotations | None) -> Text | None:
    """What the marks mean, e.g. '▲ marked value (t=12, 71)  ░ padding'."""
    if annotations is None:
        return None
    text = Text(no_wrap=True, overflow="ellipsis")
    marked = annotations.marked_steps
    if marked:
        where = ", ".join(str(t) for t in marked[:6]) + (" …" if len(marked) > 6 else "")
        text.append(MARKER, style=f"bold {MARKER_COLOUR}")
        text.append(f" {annotations.marker_name} (t={where})  ", style="dim")
    for window_start, window_stop, name in annotations.windows:
        text.append(WINDOW, style="bold")
        text.append(f" {name} t={window_start}-{window_stop - 1}  ", style="dim")
    if annotations.frozen is not None and annotations.frozen.any():
        text.append(PADDING, style="dim")
        text.append(f" masked: state carried over ({int(annotations.frozen.sum())} steps)  ", style="dim")
    elif annotations.padding is not None and annotations.padding.any():
        text.append(PADDING, style="dim")
        text.append(f" padding ({int(annotations.padding.sum())} steps)  ", style="dim")
    text.rstrip()
    return text if len(text) else None
