"""Live loss and metric curves: per-batch values as a faint band under their moving average,
validation points per epoch, and the task's baseline as a dashed horizontal line."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from rnnsim.render.colours import BASELINE_COLOUR, SERIES_COLOURS, SERIES_MARKERS
from rnnsim.render.lineplot import BAND_SYMBOL, Smoother, line_plot, log_span

SMOOTHING = 0.9  # weight of the moving average over per-batch values (TensorBoard's slider, 0..1)
AUTO_LOG_DECADES = 1.5  # a log y axis is chosen by itself when the positive values span more than this


class CurvesView(Widget):
    """Training (per batch) and validation (per epoch) values of one quantity against steps.

    With `log_option`, the y axis turns logarithmic by itself when the values span more than
    AUTO_LOG_DECADES decades (a loss that fell from 2 to 0.01 is then not a flat line after the first
    batches); `toggle_log` fixes it to linear or log by hand.
    """

    DEFAULT_CSS = "CurvesView { height: 1fr; }"
    version = reactive(0, layout=False)

    def __init__(self, title: str, *, log_option: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.log_option = log_option
        self.log_y: bool | None = None  # None: automatic; True / False: chosen with the l key
        self.train: list[float] = []
        self.smoothed: list[float] = []  # the moving average of `train`, one per batch
        self.smoother = Smoother(SMOOTHING)
        self.val: list[tuple[int, float]] = []  # (batch count at the end of the epoch, value)
        self.baseline: tuple[str, float] | None = None

    def reset(self, title: str | None = None, baseline: tuple[str, float] | None = None) -> None:
        """Clear the curves for a new run (the log / linear choice made by hand is kept)."""
        if title is not None:
            self.title = title
        self.train, self.smoothed, self.val, self.baseline = [], [], [], baseline
        self.smoother = Smoother(SMOOTHING)
        self.version += 1

    def add_train(self, value: float) -> None:
        self.train.append(float(value))
        self.smoothed.append(self.smoother.add(value))

    def add_val(self, value: float) -> None:
        self.val.append((max(0, len(self.train) - 1), float(value)))

    def changed(self) -> None:
        self.version += 1

    def uses_log(self) -> bool:
        """Whether the y axis is logarithmic now: the choice made by hand, else by the values' span."""
        if not self.log_option:
            return False
        if self.log_y is not None:
            return self.log_y
        # The smoothed values, not the raw ones: one lucky batch should not flip the axis.
        return log_span(self.smoothed + [value for _, value in self.val]) > AUTO_LOG_DECADES

    def toggle_log(self) -> bool:
        """Switch between a linear and a log y axis (from automatic to the other one); returns log or not."""
        if self.log_option:
            self.log_y = not self.uses_log()
            self.version += 1
        return self.uses_log()

    def legend(self, width: int) -> Text:
        """The title and, for each symbol of the plot, its latest value; in short words when narrow."""
        title = Text(self.title, style="bold")
        if self.log_option:
            title.append(f" · {'log' if self.uses_log() else 'linear'} y" + (" auto" if self.log_y is None else ""))
        train_colour, val_colour = SERIES_COLOURS[0], SERIES_COLOURS[1]
        for short in (False, True):
            text = title.copy()
            if self.train:
                batch, smoothed = ("", "") if short else (" batch", " smoothed")
                text.append(f"  {BAND_SYMBOL}{batch} {self.train[-1]:.3g}", style="dim " + train_colour)
                text.append(f"  {SERIES_MARKERS[0]}{smoothed} {self.smoothed[-1]:.3g}", style=train_colour)
            if self.val:
                text.append(f"  {SERIES_MARKERS[1]} val {self.val[-1][1]:.3g}", style=val_colour)
            if self.baseline and self.train:
                name = "" if short else f" {self.baseline[0]}"
                text.append(f"  ╌{name} {self.baseline[1]:.3g}", style=BASELINE_COLOUR)
            if text.cell_len <= width:
                break
        return text

    def render(self) -> Text:
        # The title line doubles as the legend: each symbol of the plot beside its latest value.
        text = Text(no_wrap=True, overflow="crop")
        text.append_text(self.legend(self.size.width))
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
        series = {"smoothed": self.smoothed}
        if self.val:
            series["val"] = val_series
        hlines = {self.baseline[0]: self.baseline[1]} if self.baseline else None
        width, height = self.size
        text.append_text(
            line_plot(
                series,
                bands={"smoothed": self.train},
                width=max(10, width - 8),
                height=max(3, height - 3),  # title, x axis, tick labels
                log_y=self.uses_log(),
                hlines=hlines,
                x_label="batch",
                legend_line=False,
            )
        )
        return text
