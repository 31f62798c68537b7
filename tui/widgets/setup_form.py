"""The setup panel: cell, task, units, sequence length, learning rate, seed, and the run buttons."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Select

from rnnsim.errors import InputError
from tui.session import CELLS, TASKS, Settings


class SetupForm(VerticalScroll):
    """Reads and writes a `Settings`; the buttons run the app's actions."""

    def __init__(self, settings: Settings, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.initial = settings

    def compose(self) -> ComposeResult:
        s = self.initial
        with Grid(id="fields"):
            yield Label("cell", classes="field-label")
            yield Select(
                [(label, key) for key, label in CELLS.items()], value=s.cell, allow_blank=False, id="cell"
            )
            yield Label("task", classes="field-label")
            yield Select([(name, name) for name in TASKS], value=s.task, allow_blank=False, id="task")
            for name, label, value, kind in (
                ("units", "units", s.units, "integer"),
                ("seq_len", "seq length", s.seq_len, "integer"),
                ("learning_rate", "learn rate", s.learning_rate, "number"),
                ("seed", "seed", s.seed, "integer"),
                ("epochs", "epochs", s.epochs, "integer"),
            ):
                yield Label(label, classes="field-label")
                yield Input(str(value), type=kind, id=name)
        with Horizontal(id="buttons"):
            yield Button("Start s", id="start", variant="success")
            yield Button("Pause p", id="pause")
            yield Button("Stop x", id="stop", variant="error")
            yield Button("Compare c", id="compare", variant="primary")

    def read(self) -> Settings:
        """The settings in the form; raises InputError naming the field that does not parse."""
        values = {}
        for name, convert in (
            ("units", int),
            ("seq_len", int),
            ("learning_rate", float),
            ("seed", int),
            ("epochs", int),
        ):
            raw = self.query_one(f"#{name}", Input).value.strip()
            try:
                values[name] = convert(raw)
            except ValueError:
                raise InputError(
                    f"{name.replace('_', ' ')}: {raw!r} is not a valid {convert.__name__}"
                ) from None
        settings = Settings(
            **{**self.initial.__dict__, **values},
        )
        settings.cell = str(self.query_one("#cell", Select).value)
        settings.task = str(self.query_one("#task", Select).value)
        return settings.validated()

    def write(self, settings: Settings) -> None:
        """Show `settings` in the fields (e.g. after opening a checkpoint)."""
        self.query_one("#cell", Select).value = settings.cell
        self.query_one("#task", Select).value = settings.task
        for name in ("units", "seq_len", "learning_rate", "seed", "epochs"):
            self.query_one(f"#{name}", Input).value = str(getattr(settings, name))

    def write_cell(self, cell: str) -> None:
        self.query_one("#cell", Select).value = cell

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        await self.screen.run_action(event.button.id)  # start, pause, stop, compare
