"""Gate saturation of the probe samples (one dot per unit) and its mean, epoch by epoch."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from rnnsim.analysis.saturation import saturation
from rnnsim.cells.trace import Trace
from rnnsim.render.saturation import saturation_history_plot, saturation_scatter


class SaturationView(Widget):
    """Karpathy, Johnson and Fei-Fei's saturation plot, live; beside it (or below) the per-epoch fractions."""

    DEFAULT_CSS = "SaturationView { height: 1fr; }"
    version = reactive(0, layout=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trace: Trace | None = None
        self.history: list[dict] = []
        self._saturations = None  # of self.trace, computed at its first drawing

    def show(self, trace: Trace | None, history: list[dict]) -> None:
        if trace is not self.trace:
            self._saturations = None
        self.trace, self.history = trace, list(history)
        self.version += 1

    def current_saturations(self):
        """`analysis.saturation` of the shown trace, computed once per trace (not at every redraw)."""
        if self._saturations is None and self.trace is not None:
            self._saturations = saturation(self.trace)
        return self._saturations

    def render(self):
        trace = self.trace
        if trace is None:
            return Text("gate saturation: appears at the first probe", style="dim")
        saturations = self.current_saturations()
        if not saturations:
            return Text("a SimpleRNN has no gate to saturate: switch cell (n) to see an LSTM's or a GRU's",
                        style="dim")
        width, height = self.size
        title = Text(f"gate saturation of the {trace.batch_size} probe samples: one dot per unit", style="bold")
        layer = trace.layer_name or trace.cell
        records = [record for record in self.history if record.get("layer") == layer]
        wide = width >= 100
        legend_rows = 3 + len(saturations)  # x axis, its labels, the axis names, one line per gate
        if wide:
            scatter_height = max(5, min(21, height - 2 - legend_rows))
        else:
            scatter_height = max(5, (height - 2 - legend_rows) // 2)
        column = width // 2 if wide else width
        scatter = saturation_scatter(saturations, width=min(2 * scatter_height + 1, max(11, column - 6)),
                                     height=scatter_height, cell=trace.cell)
        history_title = Text("mean fraction open (> .9) / shut (< .1), by epoch", style="bold")
        history_height = scatter_height + legend_rows - 4 if wide else height - scatter_height - legend_rows - 6
        history = saturation_history_plot(records, width=max(10, column - 10), height=max(3, history_height))
        if wide:
            grid = Table.grid(padding=(0, 3), expand=True)
            grid.add_column(ratio=1, no_wrap=True, overflow="crop")
            grid.add_column(ratio=1, no_wrap=True, overflow="crop")
            grid.add_row(scatter, Group(history_title, history))
            return Group(title, grid)
        return Group(title, scatter, history_title, history)
