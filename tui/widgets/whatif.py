"""A what-if on the probe samples: the edited gate, the gain and ||dL/dh_t|| beside the model as trained."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from rnnsim.analysis.whatif import EDITS
from rnnsim.render.lineplot import gradient_plot, line_plot
from rnnsim.render.whatif import EDITED_GATE, gate_panel, survival_line, whatif_curves

KEYS = "e / E: next / previous value (the model as trained is one of them)"


class WhatIfView(Widget):
    """The result of the latest edit, recomputed whenever the edit or the probe changes."""

    DEFAULT_CSS = "WhatIfView { height: 1fr; }"
    version = reactive(0, layout=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.result = None
        self.sample = 0
        self.status = ""  # 'computing…', or why there is nothing to show

    def show(self, result, sample: int = 0, status: str = "") -> None:
        self.result, self.sample, self.status = result, sample, status
        self.version += 1

    def render(self):
        result = self.result
        if result is None:
            text = Text("What if? Change one weight of the trained model and see the gates and the gradient "
                        "recomputed at once, without retraining; the saved model is not touched.\n", style="bold")
            text.append("Press e: the LSTM's forget-gate bias (0, 1, 2, -2), the GRU's update-gate bias, or the "
                        "scale of the SimpleRNN's recurrent matrix U. " + KEYS, style="dim")
            if self.status:
                text.append("\n" + self.status, style="dim")
            return text
        width, height = self.size
        head = Text(f"what if: {result.summary()}", style="bold")
        if self.status:
            head.append(f"  {self.status}", style="dim")
        keys = Text(f"{EDITS[result.edit.kind][1]}: {KEYS}; sample {self.sample} ([ ])", style="dim")
        survival = Text(survival_line(result))
        gate = EDITED_GATE[result.edit.kind]
        before, after = result.traces()
        wide = width >= 100
        panel_width = width // 2 - 2 if wide else width
        panels = [gate_panel(before, gate, self.sample, panel_width, True, "as trained"),
                  gate_panel(after, gate, self.sample, panel_width, True, "edited")]
        curves = whatif_curves(result, None)
        rows_left = height - 3 - (before.units // 2 + 3) * (1 if wide else 2)
        plot_height = max(3, (rows_left - 6) // (1 if wide else 2))
        plot_width = max(10, (width // 2 if wide else width) - 10)
        gain = Group(Text("per-step gain g_t (log), mean of the probe samples", style="bold"),
                     line_plot(curves["gain"], width=plot_width, height=plot_height, log_y=True,
                               hlines={"g =": 1.0}, x_label="t"))
        gradient = Group(Text("||dL/dh_t|| (log)", style="bold"),
                         gradient_plot(curves["gradient"], width=plot_width, height=plot_height))
        if wide:  # two equal columns, each cropped to its half: a long legend must not push the other off
            top, bottom = Table.grid(padding=(0, 2), expand=True), Table.grid(padding=(0, 2), expand=True)
            for grid, cells in ((top, panels), (bottom, (gain, gradient))):
                grid.add_column(ratio=1, no_wrap=True, overflow="crop")
                grid.add_column(ratio=1, no_wrap=True, overflow="crop")
                grid.add_row(*cells)
            return Group(head, keys, top, bottom, survival)
        if height >= 2 * (before.units // 2 + 3) + 2 * (plot_height + 4) + 3:
            return Group(head, keys, *panels, gain, gradient, survival)
        # A short terminal: the numbers and the gradient first; the heatmaps and the gain need more room.
        plot_height = max(3, height - 8)
        gradient = Group(Text("||dL/dh_t|| (log)", style="bold"),
                         gradient_plot(curves["gradient"], width=plot_width, height=plot_height))
        hint = Text("(the edited gate and the gain beside it: a terminal of 100 x 40 or more)", style="dim")
        return Group(head, survival, gradient, hint)
