"""The per-step gradient gain of the probe samples: the factor whose product is the vanishing gradient."""

from __future__ import annotations

import textwrap

from rich.console import Group
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from rnnsim.analysis.gain import gain_profile
from rnnsim.cells.trace import Trace
from rnnsim.render.gain import gain_plot

TITLE = "per-step gain g_t = ||dL/dh_{t-1}|| / ||dL/dh_t|| (log)"


class GainView(Widget):
    """g_t by timestep with the line g = 1, the cell's own factors beside it, and the measured product."""

    DEFAULT_CSS = "GainView { height: 1fr; }"
    version = reactive(0, layout=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trace: Trace | None = None
        self.cursor: int | None = None
        self.recurrent_kernel = None  # a SimpleRNN's U, for its largest singular value
        self.profile = None

    def show(self, trace: Trace | None, cursor: int | None = None, recurrent_kernel=None) -> None:
        """What to draw. The profile is computed once per trace (and U), when the view is drawn: a cursor
        key moves only the cursor, and a hidden tab computes nothing."""
        if trace is not self.trace or recurrent_kernel is not self.recurrent_kernel:
            self.profile = None
        self.trace, self.cursor, self.recurrent_kernel = trace, cursor, recurrent_kernel
        self.version += 1

    def current_profile(self):
        """The gain profile of the shown trace (None without one), computed on first use."""
        if self.profile is None and self.trace is not None:
            self.profile = gain_profile(self.trace, recurrent_kernel=self.recurrent_kernel)
        return self.profile

    def render(self):
        profile = self.current_profile()
        if profile is None:
            return Text(f"{TITLE}\nThe gain appears at the first probe: start training (s), compare (c) or "
                        "open a checkpoint (o).", style="dim")
        width, height = self.size
        title = Text(TITLE, style="bold")
        title.append(f"  geometric mean of {profile.samples} probe samples", style="dim")
        sentence = Text(profile.sentence())
        # the rows the wrapped title and sentence take; the plot gets the rest (axis, ticks, legend: 3)
        words = sum(len(textwrap.wrap(part.plain, max(20, width))) for part in (title, sentence))
        plot_rows = max(3, height - 3 - words)
        plot = gain_plot(profile, width=max(10, width - 8), height=plot_rows, cursor=self.cursor)
        return Group(title, plot, sentence)
