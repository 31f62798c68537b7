"""Heatmaps (units x timesteps) of every gate and state of the probe sample, with a cursor.

The view fills the room it has: every unit and the whole time axis when they fit, else windows around
the cursor (left/right = timestep, up/down = unit) whose position the last line names; as many
quantities as fit, `g` brings the next. Under the panels, the task's marks line up with the columns:
each step's input value, the markers (▲), windows and padding (greyed in the heatmaps too).
"""

from __future__ import annotations

import math

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from rnnsim.annotations import StepAnnotations
from rnnsim.cells.trace import Trace
from rnnsim.render.colours import legend, scale_for
from rnnsim.render.equations import quantities, quantity, title_of
from rnnsim.render.heatmap import heatmap
from rnnsim.render.timeline import timeline_rows

GUTTER = 5  # unit labels on the left of each heatmap


def window(centre: int, size: int, total: int) -> int:
    """The first index of a `size`-long window over `total` items that keeps `centre` visible."""
    if size >= total:
        return 0
    return max(0, min(total - size, centre - size // 2))


class GatesView(Widget, can_focus=True):
    """Heatmaps of one layer's trace for one sample, with the selected timestep, unit and quantity."""

    # The colour scales are drawn for a dark canvas: viridis ends in a pale yellow, so on a light theme
    # an open gate (the value that matters most) would vanish into the background. On a light theme the
    # heatmaps keep a dark panel of their own, like a picture on the page.
    DEFAULT_CSS = """
    GatesView { height: 1fr; }
    GatesView.-canvas { background: #1e1e1e; color: #e0e0e0; }
    """
    version = reactive(0, layout=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trace: Trace | None = None
        self.sample = 0
        self.t = 0
        self.unit = 0
        self.selected = 0  # index into quantities(trace)
        self.annotations: StepAnnotations | None = None  # the shown sample's markers, windows, padding

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._follow_theme, init=True)

    def _follow_theme(self, _theme: str | None = None) -> None:
        self.set_class(not self.app.current_theme.dark, "-canvas")

    def set_trace(self, trace: Trace | None) -> None:
        self.trace = trace
        if trace is not None:
            self.sample = min(self.sample, trace.batch_size - 1)
            self.t = min(self.t, trace.timesteps - 1)
            self.unit = min(self.unit, trace.units - 1)
            self.selected = min(self.selected, len(quantities(trace)) - 1)
        self.version += 1

    def set_cursor(self, t: int, unit: int, selected: int, sample: int) -> None:
        self.t, self.unit, self.selected, self.sample = t, unit, selected, sample
        self.version += 1

    def set_annotations(self, annotations: StepAnnotations | None) -> None:
        """What each step of the shown sample is (markers, windows, padding), drawn under the time axes."""
        self.annotations = annotations
        self.version += 1

    def footer_rows(self) -> int:
        """Rows under the panels for the task's marks: the input value row and the mark row."""
        annotations = self.annotations
        return 0 if annotations is None else (annotations.values is not None) + 1

    def layout_plan(self, width: int, height: int) -> tuple[list[str], int, int, int]:
        """Which quantities to show, in how many columns, how many unit rows and timestep columns each.

        Every unit and the whole time axis are shown when they fit; otherwise windows around the cursor,
        whose position the last line names. Quantities that do not fit are a `g` away, starting at the
        selected one.
        """
        trace = self.trace
        names = quantities(trace)
        steps, units = trace.timesteps, trace.units
        full_rows = math.ceil(units / 2)
        columns = max(1, min(len(names), width // (min(steps, 100) + GUTTER + 2)))
        panel_width = width // columns - 1
        time_columns = max(4, min(steps, panel_width - GUTTER - 1))
        room = max(4, height - self.footer_rows())
        panel_rows = room // (full_rows + 3)  # heading, cursor row, units, axis
        if panel_rows >= math.ceil(len(names) / columns) and time_columns >= steps:
            return names, columns, full_rows, time_columns
        room -= 1  # something is windowed: a line says where the windows are
        panel_rows = room // (full_rows + 3)
        if panel_rows >= math.ceil(len(names) / columns):
            return names, columns, full_rows, time_columns
        if panel_rows >= 1:
            count = min(len(names), panel_rows * columns)
            unit_rows = full_rows
        else:  # not even one panel of every unit: one row of panels, units in a window around the cursor
            count = min(len(names), columns)
            unit_rows = max(1, room - 3)
        shown = [names[(self.selected + k) % len(names)] for k in range(count)]
        return shown, columns, unit_rows, time_columns

    def position_line(self, shown: list[str], units_shown: int, unit_start: int, t_start: int,
                      time_columns: int) -> Text:
        """Where the windows are: 'gates 2-3 of 6 (g) · units 0-11 of 16 (↑↓) · t 26-99 of 100 (←→)'."""
        trace = self.trace
        names = quantities(trace)
        parts = []
        if len(shown) < len(names):
            parts.append(f"showing {', '.join(title_of(n, trace.cell).split(' ')[-1] for n in shown)} of "
                         f"{len(names)} (g: next)")
        if units_shown < trace.units:
            parts.append(f"units {unit_start}-{unit_start + units_shown - 1} of {trace.units} (↑↓)")
        if time_columns < trace.timesteps:
            parts.append(f"t {t_start}-{t_start + time_columns - 1} of {trace.timesteps} (←→)")
        return Text(" · ".join(parts) if parts else f"all {trace.units} units, all {trace.timesteps} steps",
                    style="dim", no_wrap=True, overflow="ellipsis")

    def render(self):
        trace = self.trace
        if trace is None:
            return Text(
                "No trace yet: start training (s), run compare (c) or open a checkpoint (o).", style="dim"
            )
        width, height = self.size
        names_all = quantities(trace)
        shown, columns, unit_rows, time_columns = self.layout_plan(width, height)
        units_shown = min(trace.units, unit_rows * 2)
        unit_start = window(self.unit, units_shown, trace.units)
        unit_start -= unit_start % 2
        t_start = window(self.t, time_columns, trace.timesteps)
        annotations = self.annotations
        greyed = None
        if annotations is not None:
            grey = annotations.greyed()[t_start : t_start + time_columns]
            greyed = grey if grey.any() else None
        panels = []
        for name in shown:
            values = quantity(trace, name)[self.sample].T.astype(np.float64)  # (U, T)
            block = values[unit_start : unit_start + units_shown, t_start : t_start + time_columns]
            scale = scale_for(name)
            is_selected = names_all.index(name) == self.selected
            # Only the title is reversed when selected: the colour legend beside it keeps its colours.
            heading = Text(no_wrap=True, overflow="crop")
            heading.append(title_of(name, trace.cell), style="reverse bold" if is_selected else "bold")
            heading.append("  ")
            heading.append_text(legend(scale, width=7))
            heading.append(f" {float(values[self.unit, self.t]):+.2f}", style="bold" if is_selected else "")
            panels.append(
                Group(
                    heading,
                    heatmap(
                        block,
                        scale,
                        start=t_start,
                        cursor=(self.t - t_start, self.unit - unit_start),
                        first_unit=unit_start,
                        greyed=greyed,
                    ),
                )
            )
        grid = Table.grid(padding=(0, 1))
        for _ in range(columns):
            grid.add_column(no_wrap=True)
        for row in range(0, len(panels), columns):
            cells = panels[row : row + columns]
            grid.add_row(*(cells + [""] * (columns - len(cells))))
        marks = timeline_rows(annotations, t_start, min(time_columns, trace.timesteps - t_start))
        if marks:
            grid.add_row(*([Group(*marks)] * min(columns, len(panels))))
        if len(shown) == len(names_all) and units_shown == trace.units and time_columns >= trace.timesteps:
            return grid
        return Group(grid, self.position_line(shown, units_shown, unit_start, t_start, time_columns))
