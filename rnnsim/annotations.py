"""What each timestep of one sample *is*, for the time axes of every view: words, markers, windows, padding.

A `StepAnnotations` is plain data: the tasks make them (`rnnsim.datasets.tasks.Task.annotate`), the
drawing reads them (`rnnsim.render.timeline`), and neither imports the other. The adding problem
marks its two marked steps, the copy task its write and recall windows and its delimiter, text its
words and padding, a masked sequence (vowels) its padded steps, where the layer carries its state over.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class StepAnnotations:
    """Per-step annotations of one sample of T steps."""

    labels: list[str]  # (T,) what the step's input is, as shown: '0.42*', a word, a symbol
    kind: str = "values"  # 'values' (numbers), 'words' (text: drawn one word per line) or 'symbols'
    values: np.ndarray | None = None  # (T,) the step's main input value in [0, 1] for a colour row, if any
    markers: np.ndarray | None = None  # (T,) bool: the steps the task marks as the ones that matter
    marker_name: str = "marker"  # what a marker is, e.g. 'marked value'
    windows: list[tuple[int, int, str]] = field(default_factory=list)  # (start, stop, name): [start, stop)
    padding: np.ndarray | None = None  # (T,) bool: padded steps (pad tokens or zero frames)
    frozen: np.ndarray | None = None  # (T,) bool: masked steps, where the layer carried its state over

    @property
    def steps(self) -> int:
        return len(self.labels)

    @property
    def marked_steps(self) -> list[int]:
        return [] if self.markers is None else [int(t) for t in np.flatnonzero(self.markers)]

    def greyed(self) -> np.ndarray:
        """(T,) bool: steps to grey out on a time axis (padding or frozen)."""
        grey = np.zeros(self.steps, bool)
        for part in (self.padding, self.frozen):
            if part is not None:
                grey |= np.asarray(part, bool)
        return grey

    def with_mask(self, mask) -> StepAnnotations:
        """A copy whose frozen steps are where `mask` (T,) is False (a trace's mask for this sample)."""
        if mask is None:
            return self
        frozen = ~np.asarray(mask, bool)
        return StepAnnotations(labels=self.labels, kind=self.kind, values=self.values, markers=self.markers,
                               marker_name=self.marker_name, windows=list(self.windows), padding=self.padding,
                               frozen=frozen)

    def window_at(self, t: int) -> str:
        """The names of the windows step t is in, e.g. 'recall', or ''."""
        return ", ".join(name for start, stop, name in self.windows if start <= t < stop)

    def marks_at(self, t: int) -> list[str]:
        """What the task says about step t beyond its label: ['marked value'], ['in the recall window'], ..."""
        parts = []
        if self.markers is not None and self.markers[t]:
            parts.append(self.marker_name)
        window = self.window_at(t)
        if window:
            parts.append(f"in the {window} window")
        if self.frozen is not None and self.frozen[t]:
            parts.append("padding, masked: the state is carried over")
        elif self.padding is not None and self.padding[t]:
            parts.append("padding")
        return parts


def plain_annotations(labels) -> StepAnnotations:
    """Annotations that only label the steps (a task with nothing to mark)."""
    return StepAnnotations(labels=[str(label) for label in labels])
