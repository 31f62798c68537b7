"""Text read downwards: one line per word, the chosen gate's units beside it, its connectivity as a bar.

LSTMVis's text view (Strobelt et al. 2018), in a terminal. Time runs down the page, so a review reads
as a review, and each line lines up the word with what the cell did when it read it:

       t  word         forget gate f, units 0-15      ||dy/dx_t||
     487  film         ████████████████               ▍ 2.1e-04
     488  was          ████████████████               ▏ 6.3e-05
     489  terrible     ████████████████               ██████▋ 4.0e-02

Each unit is one coloured cell (without colour: a character of the scale's ramp); padding words are
dimmed; the bar is on a log scale over the `decades` below the sample's largest connectivity.
"""

from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text

from rnnsim.annotations import StepAnnotations
from rnnsim.render.colours import char_for, colour_for, legend, scale_for
from rnnsim.render.equations import quantity, resolve_quantity, title_of
from rnnsim.render.timeline import MARKER, MARKER_COLOUR, blend

BAR_EIGHTHS = " ▏▎▍▌▋▊▉"


def _bar(level: float, width: int) -> str:
    """A horizontal bar of `level` in [0, 1] of `width` characters, in eighths."""
    eighths = int(round(max(0.0, min(1.0, level)) * width * 8))
    full, rest = divmod(eighths, 8)
    return ("█" * full + (BAR_EIGHTHS[rest] if rest else "")).ljust(width)


def text_view(trace, *, sample: int = 0, gate: str = "forget", annotations: StepAnnotations | None = None,
              connectivity: np.ndarray | None = None, start: int = 0, rows: int | None = None, width: int = 80,
              colour: bool = True, cursor: int | None = None, decades: float = 4.0, first_unit: int = 0) -> Text:
    """The words of one sample down the page with one gate's units and their connectivity.

    Args:
        trace: the layer's Trace; `sample` indexes its batch.
        gate: a gate or state name (as `rnnsim.render.equations.quantity` takes it).
        annotations: the sample's annotations (words, padding); default None: steps are numbered only.
        connectivity: (T,) ||dy/dx_t|| of the sample (default None: no bar column).
        start, rows: the first step and how many lines (default: from start to the end).
        width: characters per line; the unit cells get what the word and bar columns leave.
        cursor: a step to mark with ▶.
        first_unit: the first unit shown when not all fit.
    """
    gate = resolve_quantity(trace, gate)
    values = np.asarray(quantity(trace, gate)[sample], dtype=np.float64)  # (T, U)
    steps, units = values.shape
    stop = steps if rows is None else min(steps, start + rows)
    labels = annotations.labels if annotations is not None else [""] * steps
    word_width = max(6, min(14, max((len(labels[t]) for t in range(start, stop)), default=6)))
    bar_width = 12 if connectivity is not None else 0
    room = width - 6 - word_width - 2 - (bar_width + 10 if bar_width else 0)
    shown = max(1, min(units - first_unit, room))
    scale = scale_for(gate)
    greyed = annotations.greyed() if annotations is not None else np.zeros(steps, bool)
    markers = annotations.markers if annotations is not None and annotations.markers is not None else None
    levels = top = None
    if connectivity is not None:
        conn = np.asarray(connectivity, dtype=np.float64)
        positive = conn[np.isfinite(conn) & (conn > 0)]
        top = float(positive.max()) if positive.size else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(conn > 0, np.log10(np.where(conn > 0, conn, 1.0)), -np.inf)
        levels = np.clip((logs - (math.log10(top) - decades)) / decades, 0, 1) if top > 0 else np.zeros(steps)

    text = Text(no_wrap=True, overflow="crop")
    what = "word" if annotations is not None and annotations.kind == "words" else "input"
    text.append(f"{what} by {what}, down: {title_of(gate, trace.cell)}, units {first_unit}-"
                f"{first_unit + shown - 1} of {units}", style="bold")
    if bar_width:
        text.append("; bar ||dy/dx_t||", style="bold")
    text.append("\n")
    for t in range(start, stop):
        dim = bool(greyed[t])
        pointer = "▶" if cursor == t else " "
        text.append(f"{pointer}{t:>4} ", style="bold" if cursor == t else "dim")
        label = labels[t][:word_width]
        marked = markers is not None and bool(markers[t])
        text.append(f"{label:<{word_width}}", style="dim" if dim else ("bold" if marked else None))
        text.append(MARKER if marked else " ", style=f"bold {MARKER_COLOUR}" if marked else None)
        text.append(" ")
        for unit in range(first_unit, first_unit + shown):
            value = values[t, unit]
            if colour:
                rgb = colour_for(value, scale)
                text.append("█", style=Style(color=blend(rgb) if dim else rgb))
            else:
                text.append(char_for(value, scale), style="dim" if dim else None)
        if levels is not None:
            text.append("  ")
            text.append(_bar(float(levels[t]), bar_width), style="dim" if dim else ("#1b77d1" if colour else None))
            text.append(f" {connectivity[t]:.1e}", style="dim")
        if t < stop - 1:
            text.append("\n")
    return text


def text_view_legend(gate: str, colour: bool = True) -> Text:
    """The colour bar of the gate's scale, for under the text view."""
    text = Text("cells: ", style="dim")
    text.append_text(legend(scale_for(gate), colour=colour, width=11))
    text.append("   bar: ||dy/dx_t||, log scale over 4 decades   ▲ marked step   dim: padding", style="dim")
    return text
