"""||dL/dh_t|| against timestep t on a log scale: one curve, or one per cell in the compare view."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from rnnsim.render.colours import SERIES_COLOURS, SERIES_MARKERS
from rnnsim.render.lineplot import gradient_plot


def vanishing_summary(norms: np.ndarray) -> str:
    """'||dL/dh_0|| / ||dL/dh_T-1|| = 3e-12': how much of the last step's gradient reaches the first."""
    norms = np.asarray(norms, dtype=np.float64)
    last, first = norms[-1], norms[0]
    if not last > 0:
        return "no gradient at the last step"
    ratio = first / last
    label = f"||dL/dh_0|| / ||dL/dh_{len(norms) - 1}||"
    if ratio < 1e-30:  # float32 has run out of range: the gradient is gone
        return f"{label} < 1e-30 (vanished)"
    return f"{label} = {ratio:.1e}"


class GradientView(Widget):
    """A log-scale plot of gradient norms by timestep, redrawn whenever `set_series` is called."""

    DEFAULT_CSS = "GradientView { height: 1fr; }"
    version = reactive(0, layout=False)

    def __init__(self, title: str, empty: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.empty = empty
        self.series: dict[str, np.ndarray] = {}
        self.note = ""
        self.cursor: int | None = None

    def set_series(self, series: dict[str, np.ndarray], note: str = "") -> None:
        self.series = {name: np.asarray(values, dtype=np.float64) for name, values in series.items()}
        self.note = note
        self.version += 1

    def set_cursor(self, t: int | None) -> None:
        if t != self.cursor:
            self.cursor = t
            self.version += 1

    def render(self) -> Text:
        text = Text(self.title, style="bold")
        if self.note:
            text.append(f"  {self.note}", style="dim")
        text.append("\n")
        if not self.series:
            text.append(self.empty, style="dim")
            return text
        many = len(self.series) > 1
        for index, (name, values) in enumerate(self.series.items()):
            if many:  # the marker doubles as the legend, which a short terminal may not have room for
                marker = SERIES_MARKERS[index % len(SERIES_MARKERS)]
                text.append(marker + " ", style=SERIES_COLOURS[index % len(SERIES_COLOURS)])
            text.append(f"{name}: {vanishing_summary(values)}\n", style="dim")
        width, height = self.size
        legend_rows = 1 if len(self.series) > 1 else 0
        text.append_text(
            gradient_plot(
                self.series,
                width=max(10, width - 8),
                height=max(3, height - 3 - len(self.series) - legend_rows),
                cursor=self.cursor,
            )
        )
        return text
