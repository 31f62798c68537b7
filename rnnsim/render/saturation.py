"""Gate saturation as Karpathy, Johnson and Fei-Fei (2015) plot it: one dot per unit, per gate.

Across: the fraction of steps the gate is below 0.1 (shut); up: the fraction above 0.9 (open). Every
dot lies under the diagonal x + y = 1 (drawn dim). Reads `rnnsim.analysis.saturation` results, and
for the per-epoch view the JSON records `history.json` keeps.
"""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text

from rnnsim.analysis.saturation import GateSaturation
from rnnsim.cells.spec import SPECS
from rnnsim.render.colours import SERIES_COLOURS, SERIES_MARKERS
from rnnsim.render.equations import title_of
from rnnsim.render.lineplot import line_plot


def saturation_scatter(saturations: dict[str, GateSaturation], *, width: int = 41, height: int = 13,
                       colour: bool = True, cell: str = "lstm") -> Text:
    """A scatter of every unit of every gate: x = fraction < 0.1, y = fraction > 0.9, both from 0 to 1."""
    width, height = max(11, width), max(5, height)
    grid: list[list[tuple[str, str | None]]] = [[(" ", None)] * width for _ in range(height)]
    for column in range(width):  # the diagonal x + y = 1, beyond which no unit can be
        row = round((column / (width - 1)) * (height - 1))
        grid[row][column] = ("·", "dim")
    counts: dict[tuple[int, int], int] = {}
    for index, entry in enumerate(saturations.values()):
        marker, style = SERIES_MARKERS[index % len(SERIES_MARKERS)], SERIES_COLOURS[index % len(SERIES_COLOURS)]
        for low, high in zip(entry.low, entry.high):
            column = int(round(float(low) * (width - 1)))
            row = int(round((1.0 - float(high)) * (height - 1)))
            counts[(row, column)] = counts.get((row, column), 0) + 1
            grid[row][column] = (marker, style)
    text = Text(no_wrap=True, overflow="crop")
    for row in range(height):
        label = {0: "1", height // 2: ".5", height - 1: "0"}.get(row, "")
        text.append(f"{label:>3}" + ("┤" if label else "│"), style="dim")
        for char, style in grid[row]:
            text.append(char, style=(style if colour or style == "dim" else None))
        text.append("\n")
    text.append("   └" + "─" * width + "\n", style="dim")
    axis = [" "] * width
    for position, label in ((0, "0"), (width // 2, ".5"), (width - 1, "1")):
        start = min(position, width - len(label))
        axis[start : start + len(label)] = label
    text.append("    " + "".join(axis) + "\n", style="dim")
    text.append("    fraction of steps < 0.1 (shut) →   ↑ fraction > 0.9 (open)\n", style="dim")
    for index, (name, entry) in enumerate(saturations.items()):
        marker, style = SERIES_MARKERS[index % len(SERIES_MARKERS)], SERIES_COLOURS[index % len(SERIES_COLOURS)]
        text.append(f"    {marker} {title_of(name, cell)}", style=style if colour else None)
        text.append(f": shut {float(np.mean(entry.low)):.0%}, open {float(np.mean(entry.high)):.0%} "
                    f"({len(entry.low)} units)\n", style="dim")  # their mean: short enough for half of 120 columns
    text.rstrip()
    return text


def saturation_view(saturations: dict[str, GateSaturation], *, width: int = 80, height: int = 13,
                    colour: bool = True, cell: str = "lstm", title: str = "") -> Group:
    """Title and scatter, or a line saying the cell has no gate."""
    heading = Text(title or "gate saturation (Karpathy, Johnson and Fei-Fei 2015): one dot per unit", style="bold")
    if not saturations:
        return Group(heading, Text("a SimpleRNN has no gate to saturate; its tanh units are in the Gates view",
                                   style="dim"))
    return Group(heading, saturation_scatter(saturations, width=max(11, min(61, width - 6)), height=height,
                                             colour=colour, cell=cell))


def saturation_history_series(records: list[dict]) -> dict[str, np.ndarray]:
    """From history.json's "saturation" records: per gate, the mean fraction open and shut, by epoch."""
    series: dict[str, list[float]] = {}
    for record in records:
        spec = SPECS.get(record.get("cell", ""))
        for name, entry in record.get("gates", {}).items():
            symbol = spec.symbol(name) if spec is not None and name in spec.gate_names else name
            series.setdefault(f"{symbol} > .9", []).append(float(np.mean(entry["high"])) if entry["high"] else 0.0)
            series.setdefault(f"{symbol} < .1", []).append(float(np.mean(entry["low"])) if entry["low"] else 0.0)
    return {name: np.asarray(values) for name, values in series.items()}


def saturation_history_plot(records: list[dict], *, width: int = 60, height: int = 8, colour: bool = True,
                            gates: list[str] | None = None) -> Text:
    """The mean fraction of steps each gate spends open and shut, epoch by epoch (x = epoch, from 1)."""
    series = saturation_history_series(records)
    if gates is not None:  # gate names or symbols
        cell = records[0].get("cell", "") if records else ""
        wanted = {SPECS[cell].symbol(g) if cell in SPECS and g in SPECS[cell].gate_names else g for g in gates}
        series = {name: values for name, values in series.items() if name.split(" ")[0] in wanted}
    if not series or max(len(values) for values in series.values()) == 0:
        return Text("saturation by epoch: none recorded yet (one point per epoch)", style="dim")
    return line_plot(series, width=width, height=height, colour=colour, x_label="ep", x_start=1)
