"""A view's note in a learner's words (rnnsim.notes), under the view; `i` shows and hides every note."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from rnnsim.notes import note


class NoteView(Static):
    """The note of one view; hidden until the screen's notes are switched on."""

    DEFAULT_CSS = """
    NoteView { height: auto; max-height: 8; display: none; padding: 0 1; border-top: dashed $primary; }
    NoteView.-shown { display: block; }
    """

    def __init__(self, view: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view
        self.cell: str | None = None

    def on_mount(self) -> None:
        self.set_cell(self.cell)

    def set_cell(self, cell: str | None) -> None:
        """Write the note, with the sentence for this cell when it has one."""
        self.cell = cell
        self.update(Text(note(self.view).text(cell), style="italic"))
