"""Live loss and metric curves, with the task's baseline as a dashed horizontal line."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from rnnsim.inspect import line_plot


class CurvesView(Widget):
    """Training (per batch) and validation (per epoch) values of one quantity against steps."""

    DEFAULT_CSS = "CurvesView { height: 1fr; }"
    version = reactive(0, layout=False)

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.train: list[float] = []
        self.val: list[tuple[int, float]] = []  # (batch count at the end of the epoch, value)
        self.baseline: tuple[str, float] | None = None

    def reset(self, title: str | None = None, baseline: tuple[str, float] | None = None) -> None:
        if title is not None:
            self.title = title
        self.train, self.val, self.baseline = [], [], baseline
        self.version += 1

    def add_train(self, value: float) -> None:
        self.train.append(float(value))

    def add_val(self, value: float) -> None:
        self.val.append((max(0, len(self.train) - 1), float(value)))

    def changed(self) -> None:
        self.version += 1

    def render(self) -> Text:
        text = Text(self.title, style="bold")
        if self.train:
            text.append(f"  train {self.train[-1]:.4g}")
        if self.val:
            text.append(f"  val {self.val[-1][1]:.4g}")
        text.append("\n")
        if not self.train:
            text.append("No training yet: press s to start.", style="dim")
            if self.baseline:
                text.append(f"\nbaseline ({self.baseline[0]}): {self.baseline[1]:.4g}", style="dim")
            return text
        # Validation points sit at the batch where their epoch ended; NaN elsewhere.
        val_series = [float("nan")] * len(self.train)
        for index, value in self.val:
            val_series[min(index, len(val_series) - 1)] = value
        series = {"train": self.train}
        if self.val:
            series["val"] = val_series
        hlines = {f"baseline {self.baseline[0]}": self.baseline[1]} if self.baseline else None
        width, height = self.size
        legend_rows = 1 if (len(series) > 1 or hlines) else 0
        text.append_text(
            line_plot(
                series,
                width=max(10, width - 8),
                height=max(3, height - 3 - legend_rows),
                hlines=hlines,
                x_label="batch",
            )
        )
        return text
