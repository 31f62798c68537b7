"""The selected timestep in words and numbers: its input, every gate of the selected unit, the equations."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from rnnsim.annotations import StepAnnotations
from rnnsim.cells.trace import GATE_SYMBOLS, Trace
from rnnsim.render.equations import equations, quantities, quantity

SHORT = dict(GATE_SYMBOLS, cell_state="c", hidden="h")


def token_context(tokens: list[str], t: int, width: int) -> Text:
    """The inputs around t with t highlighted, e.g. `… movie was [great] and …`, cut to `width`."""
    text = Text()
    left = [tokens[k] for k in range(max(0, t - 6), t)]
    right = [tokens[k] for k in range(t + 1, min(len(tokens), t + 7))]
    middle = f"[{tokens[t]}]"
    room = max(0, width - len(middle) - 2)
    left_text = " ".join(left)[-(room // 2) :] if left else ""
    right_text = " ".join(right)[: room - len(left_text)] if right else ""
    text.append(left_text + " ", style="dim")
    text.append(middle, style="bold reverse")
    text.append(" " + right_text, style="dim")
    return text


class StepInspector(Widget):
    """What the cell computed at (sample, t, unit), with every number filled in."""

    DEFAULT_CSS = "StepInspector { height: auto; }"
    version = reactive(0, layout=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trace: Trace | None = None
        self.tokens: list[str] | None = None
        self.sample = self.t = self.unit = 0
        self.annotations: StepAnnotations | None = None

    def show(self, trace: Trace | None, tokens: list[str] | None, sample: int, t: int, unit: int,
             annotations: StepAnnotations | None = None) -> None:
        self.trace, self.tokens, self.annotations = trace, tokens, annotations
        self.sample, self.t, self.unit = sample, t, unit
        self.version += 1
        self.refresh(layout=True)

    def render(self) -> Text:
        trace = self.trace
        if trace is None:
            return Text("←/→ timestep  ↑/↓ unit  g gate  [ ] sample", style="dim")
        t, unit, sample = self.t, self.unit, self.sample
        text = Text()
        text.append(
            f"t={t}/{trace.timesteps - 1}  unit {unit}/{trace.units - 1}  sample {sample}", style="bold"
        )
        if self.tokens is not None and t < len(self.tokens):
            text.append(f"  input: {self.tokens[t]}")
        if self.annotations is not None and t < self.annotations.steps:
            marks = self.annotations.marks_at(t)  # the step's full input: value and what the task marks
            if marks:
                text.append(", " + ", ".join(marks), style="bold")
        text.append("\n")
        if self.tokens is not None and len(self.tokens) > 1 and any(len(tok) > 0 for tok in self.tokens):
            text.append_text(token_context(self.tokens, t, max(20, self.size.width - 2)))
            text.append("\n")
        for name in quantities(trace):
            text.append(f"{SHORT.get(name, name)}=", style="dim")
            text.append(f"{float(quantity(trace, name)[sample, t, unit]):+.3f}  ")
        text.append("\n")
        for line in equations(trace, t, unit, sample=sample):
            text.append(line + "\n")
        text.rstrip()
        return text
