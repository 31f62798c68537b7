"""The main screen's training worker: a thread that runs a headless session (or the comparison of the
three cells, or of the forget-gate biases) and hands its events to the UI thread.

A mixin of `MainScreen` (kept apart so that each file stays short), for a screen with `_buffer`,
`_buffer_lock`, `_run_id`, `_resume`, `_stop`, `session_factory` and `compare_kind`. Events are appended
to the buffer; one `ProgressAvailable` message is posted when it goes from empty to non-empty, and the UI
thread drains it whole.
"""

from __future__ import annotations

import contextlib

from textual import work
from textual.worker import get_current_worker

from rnnsim.errors import InputError
from tui.messages import ProgressAvailable, SessionReady, TrainingFinished, WorkerFailed
from tui.session import DoneEvent, ReadyEvent, Settings, compare_cells, compare_forget_bias


class TrainingWorker:
    """Runs training in a worker thread and buffers what it reports (see the module's docstring)."""

    def push_event(self, event, run_id: int) -> None:
        """Called in the worker thread: buffer the event, post a message if none is pending."""
        with self._buffer_lock:
            if run_id != self._run_id:  # a run that was stopped or replaced: drop what it still says
                return
            was_empty = not self._buffer
            self._buffer.append(event)
        if was_empty:
            self.post_message(ProgressAvailable())

    def wait_if_paused(self) -> bool:
        """In the worker: block while paused; True when the run should stop."""
        worker = get_current_worker()
        while not self._resume.wait(0.05):
            if self._stop.is_set() or worker.is_cancelled:
                return True
        return self._stop.is_set() or worker.is_cancelled

    @work(thread=True, exclusive=True, group="train")
    def train_worker(self, settings: Settings, compare: bool, run_id: int) -> None:
        try:
            if compare:
                finished = self._compare_cells(settings, run_id)
            else:
                finished = self._train_one(settings, run_id)
            self.post_message(TrainingFinished("finished" if finished else "stopped", compare, run_id))
        except InputError as error:
            self.post_message(WorkerFailed(str(error)))
        except FileNotFoundError as error:
            self.post_message(WorkerFailed(f"file not found: {error}"))
        except Exception as error:  # an internal bug: say so in one line, keep the app alive
            self.post_message(WorkerFailed(f"internal error while training: {type(error).__name__}: {error}"))

    def _train_one(self, settings: Settings, run_id: int) -> bool:
        """In the worker: train the chosen cell; False when stopped."""
        session = self.session_factory(settings)
        info = session.prepare()
        self.post_message(SessionReady(info, settings.cell, False, run_id))
        for event in session.events(self.wait_if_paused):
            if isinstance(event, DoneEvent):
                return event.reason != "stopped"
            self.push_event(event, run_id)
            if self.wait_if_paused():
                return False
        return True

    def _compare_cells(self, settings: Settings, run_id: int) -> bool:
        """In the worker: pass on what the headless compare run (`tui.session.compare_cells`) reports.

        False when stopped.
        """
        run = compare_forget_bias if self.compare_kind == "forget_bias" else compare_cells
        with contextlib.closing(run(settings, self.session_factory, self.wait_if_paused)) as events:
            for event in events:
                if isinstance(event, ReadyEvent):
                    self.post_message(SessionReady(event.info, event.cell, True, run_id))
                elif isinstance(event, DoneEvent):
                    return event.reason != "stopped"
                else:
                    self.push_event(event, run_id)
        return True
