"""One line at the top: what is being trained, where it is, and what it is doing."""

from __future__ import annotations

from textual.widgets import Static


class StatusLine(Static):
    DEFAULT_CSS = "StatusLine { height: 1; }"
