"""Input connectivity ||dy/dx_t|| of the probe sample, lined up with the task's marks; text read downwards.

For numbers (the adding problem, the copy task) a row of bars under the time axis, the markers
under it, and how often the markers are the two largest over all probe samples. For words, the text
view: one line per word around the cursor, the cell's memory gate beside it, the connectivity as a bar.
"""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from rnnsim.analysis.connectivity import marker_ranks
from rnnsim.annotations import StepAnnotations
from rnnsim.cells.trace import Trace
from rnnsim.render.connectivity import connectivity_bars, connectivity_view
from rnnsim.render.textview import text_view, text_view_legend
from rnnsim.render.timeline import timeline_rows
from rnnsim.render.trace_view import MEMORY_GATE  # the gate the text view colours: the one each cell remembers with


def across_samples(connectivity: np.ndarray, annotations: list[StepAnnotations] | None) -> str:
    """'over 8 probe samples the two marked steps are the top two in 7; first / second marker: median 0.93'."""
    if annotations is None or len(annotations) != len(connectivity):
        return ""
    markers = [a.markers for a in annotations]
    if any(m is None or int(np.sum(m)) != 2 for m in markers):
        return ""
    ranks = marker_ranks(connectivity, np.stack(markers))
    hits = round(ranks["top_two"] * len(connectivity))
    return (f"over {len(connectivity)} probe samples the two marked steps are the top two in {hits}; "
            f"connectivity at the first marker / at the second: median {ranks['first_over_second']:.2g}")


class InputsView(Widget):
    """What the output depends on, step by step, for the selected probe sample ([ ] change it)."""

    DEFAULT_CSS = "InputsView { height: 1fr; }"
    version = reactive(0, layout=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trace: Trace | None = None
        self.sample = 0
        self.cursor = 0
        self.annotations: list[StepAnnotations] | None = None
        self.connectivity: np.ndarray | None = None  # (S, T)

    def show(self, trace, sample, cursor, annotations, connectivity) -> None:
        self.trace, self.sample, self.cursor = trace, sample, cursor
        self.annotations, self.connectivity = annotations, connectivity
        self.version += 1

    @property
    def sample_annotations(self) -> StepAnnotations | None:
        if self.annotations is None or self.sample >= len(self.annotations):
            return None
        annotations = self.annotations[self.sample]
        if self.trace is not None and self.trace.mask is not None:
            annotations = annotations.with_mask(self.trace.mask[self.sample])
        return annotations

    def render(self):
        trace, connectivity = self.trace, self.connectivity
        if trace is None or connectivity is None or self.sample >= len(connectivity):
            return Text("input connectivity ||dy/dx_t||: measured at each probe (start training, compare or "
                        "open a checkpoint); not available through a Bidirectional first layer", style="dim")
        width, height = self.size
        annotations = self.sample_annotations
        values = connectivity[self.sample]
        if annotations is not None and annotations.kind == "words":
            rows = max(3, height - 2)
            start = int(np.clip(self.cursor - rows // 2, 0, max(0, trace.timesteps - rows)))
            gate = MEMORY_GATE.get(trace.cell, "hidden")
            return Group(text_view(trace, sample=self.sample, gate=gate, annotations=annotations,
                                   connectivity=values, start=start, rows=rows, width=width, cursor=self.cursor),
                         text_view_legend(gate))
        summary = across_samples(connectivity, self.annotations)
        samples = len(connectivity)
        every_sample = height >= 8 + 6 + 2 * samples + 2  # room for a row pair per sample below the main view
        bars = max(2, min(8, height - 8 - (1 if summary else 0) - (2 * samples + 1 if every_sample else 0)))
        parts = [connectivity_view(values, annotations, width=width, height=bars, cursor=self.cursor,
                                   title=f"input connectivity ||dy/dx_t|| of probe sample {self.sample} "
                                         "(log, 4 decades; [ ] other samples)")]
        if summary:
            parts.append(Text(summary, style="dim"))
        if every_sample:
            parts.append(Text("every probe sample: its connectivity (linear, 0 to its largest), its marks under it",
                              style="bold"))
            parts += self.sample_rows(width)
        return Group(*parts)

    def sample_rows(self, width: int) -> list[Text]:
        """Two rows per probe sample: its connectivity bars (one row) and its marks, binned like the main view."""
        steps = self.connectivity.shape[1]
        per_column = max(1, -(-steps // max(10, width - 6)))
        columns = -(-steps // per_column)
        rows = []
        for index, values in enumerate(self.connectivity):
            label = f"{'▶' if index == self.sample else ' '}s{index}"
            rows.append(connectivity_bars(values, columns=columns, per_column=per_column, height=1, label=label,
                                          decades=None))
            if self.annotations is not None and index < len(self.annotations):
                rows += timeline_rows(self.annotations[index], 0, columns, per_column)[-1:]
        return rows
