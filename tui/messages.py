"""Messages the training workers post to the UI thread."""

from __future__ import annotations

from textual.message import Message

from tui.session import TaskInfo


class SessionReady(Message):
    """The task is loaded and the model built; training is about to start."""

    def __init__(self, info: TaskInfo, cell: str, compare: bool = False, run_id: int = 0) -> None:
        super().__init__()
        self.run_id = run_id
        self.info = info
        self.cell = cell
        self.compare = compare


class ProgressAvailable(Message):
    """New events wait in the worker's buffer. At most one is in the queue at a time (coalesced)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ProgressAvailable)


class WorkerFailed(Message):
    """A user-facing problem (bad option, missing data, unreadable checkpoint): one line to show."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class TrainingFinished(Message):
    """The worker of run `run_id` ended ('finished' or 'stopped'); messages of older runs are ignored."""

    def __init__(self, reason: str, compare: bool = False, run_id: int = 0) -> None:
        super().__init__()
        self.run_id = run_id
        self.reason = reason
        self.compare = compare
