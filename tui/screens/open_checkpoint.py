"""Ask for the path of a saved model (`o`)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class OpenCheckpointScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="open-box"):
            yield Static(
                "Open a run folder of `rnnsim train`, or a model saved by model.save (.npz); Enter opens, Esc cancels."
            )
            yield Input(placeholder="runs/gru-adding or path/to/model.npz", id="open-path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
