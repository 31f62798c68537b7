"""The app's headless side: the three-cell comparison runs without textual or any screen."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tui.session import (
    CELL_ORDER,
    BatchEvent,
    DoneEvent,
    EpochEvent,
    ProbeEvent,
    ReadyEvent,
    Settings,
    TaskInfo,
    compare_cells,
)


class ScriptedSession:
    """A session that yields `batches` batches, a probe after every second one; it records what it was given."""

    made: list[ScriptedSession] = []
    batches = 5

    def __init__(self, settings: Settings):
        self.settings = settings.validated()
        self.task = None
        self.closed = False
        self.stop_checks = 0
        ScriptedSession.made.append(self)

    def prepare(self) -> TaskInfo:
        if self.task is None:
            self.task = {"loaded by": self.settings.cell}
        return TaskInfo(name=self.settings.task, loss=f"loss of {self.settings.cell}")

    def events(self, should_stop=lambda: False):
        cell = self.settings.cell
        try:
            for step in range(1, self.batches + 1):
                yield BatchEvent(0, step - 1, step, loss=CELL_ORDER.index(cell) + step / 100)
                if step % 2 == 0:
                    yield ProbeEvent(0, step - 1, step, 0.5, traces=[], cell="as the session says")
                self.stop_checks += 1
                if should_stop():
                    yield DoneEvent("stopped")
                    return
            yield EpochEvent(0, 0.3)
            yield DoneEvent("finished")
        finally:
            self.closed = True


def describe(event) -> tuple:
    """An event in a few words: ('ready', cell), ('batch', cell index, step), ('probe', cell, step), ..."""
    if isinstance(event, ReadyEvent):
        return ("ready", event.cell, event.info.loss)
    if isinstance(event, BatchEvent):
        return ("batch", int(event.loss), event.step)
    if isinstance(event, ProbeEvent):
        return ("probe", event.cell, event.step)
    if isinstance(event, EpochEvent):
        return ("epoch",)
    return ("done", event.reason)


def run(settings: Settings, **options) -> list[tuple]:
    ScriptedSession.made = []
    return [describe(event) for event in compare_cells(settings, ScriptedSession, **options)]


SMALL = Settings(task="adding", batch_size=16, n_samples=32, compare_batches=3)


def test_compare_takes_one_batch_of_each_cell_in_turn_and_labels_the_probes():
    events = run(SMALL)
    assert events == [
        ("ready", "simple_rnn", "loss of simple_rnn"),
        ("ready", "lstm", "loss of lstm"),
        ("ready", "gru", "loss of gru"),
        ("batch", 0, 1), ("batch", 1, 1), ("batch", 2, 1),
        ("batch", 0, 2), ("batch", 1, 2), ("batch", 2, 2),
        ("probe", "simple_rnn", 2), ("batch", 0, 3), ("probe", "lstm", 2), ("batch", 1, 3),
        ("probe", "gru", 2), ("batch", 2, 3),
        ("done", "finished"),
    ]
    sessions = ScriptedSession.made
    assert [session.settings.cell for session in sessions] == list(CELL_ORDER)
    # 3 rounds of 16 on 32 samples: 2 epochs; about 30 probes over the run, at least one per batch.
    assert {(session.settings.epochs, session.settings.probe_every) for session in sessions} == {(2, 1)}
    # The first cell loads the task; the other two train on the very same one.
    assert all(session.task is sessions[0].task for session in sessions)
    assert sessions[0].task == {"loaded by": "simple_rnn"}
    assert all(session.closed for session in sessions)  # the streams cut short after 3 rounds are closed


def test_a_cell_that_runs_out_of_batches_drops_out_and_the_others_go_on():
    class ShortSimpleRNN(ScriptedSession):
        @property
        def batches(self):
            return 1 if self.settings.cell == "simple_rnn" else 5

    ScriptedSession.made = []
    events = [describe(event) for event in compare_cells(SMALL, ShortSimpleRNN)]
    batches = [event[1:] for event in events if event[0] == "batch"]
    assert batches == [(0, 1), (1, 1), (2, 1), (1, 2), (2, 2), (1, 3), (2, 3)]
    assert ("epoch",) in events and events[-1] == ("done", "finished")


# should_stop is asked after each cell's batch by the compare loop (calls 1-3 in the first round), and
# by each session when it resumes (call 4: the simple_rnn session, before its second batch).
@pytest.mark.parametrize(
    "answers_false, batches",
    [(3, [(0, 1), (1, 1), (2, 1)]), (4, [(0, 1), (1, 1), (2, 1), (0, 2)])],
    ids=["a session stops", "the compare loop stops"],
)
def test_should_stop_ends_the_run_after_the_current_batch_and_closes_every_stream(answers_false, batches):
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > answers_false

    events = run(Settings(task="adding", batch_size=16, n_samples=32, compare_batches=100), should_stop=should_stop)
    assert events[-1] == ("done", "stopped") and events.count(("done", "stopped")) == 1
    assert [event[1:] for event in events if event[0] == "batch"] == batches
    assert len(calls) == answers_false + 1  # nothing is asked once the answer was stop
    assert all(session.closed for session in ScriptedSession.made)
    assert [session.stop_checks for session in ScriptedSession.made] == [1, 0, 0]  # simple_rnn asked once


def test_compare_on_the_real_model_api_runs_headless_without_textual():
    code = """
import json, sys
from tui.session import BatchEvent, DoneEvent, ProbeEvent, ReadyEvent, Settings, compare_cells
settings = Settings(task="adding", units=4, seq_len=10, batch_size=16, n_samples=64, compare_batches=4)
summary = []
for event in compare_cells(settings):
    if isinstance(event, ReadyEvent):
        summary.append(["ready", event.cell, event.info.loss])
    elif isinstance(event, BatchEvent):
        summary.append(["batch", event.step])
    elif isinstance(event, ProbeEvent):
        trace = event.traces[0]
        summary.append(["probe", event.cell, trace.cell, list(trace.grad_hidden_norm.shape)])
    elif isinstance(event, DoneEvent):
        summary.append(["done", event.reason])
assert "textual" not in sys.modules, "textual was imported"
print(json.dumps(summary))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary[:3] == [["ready", cell, "mse"] for cell in CELL_ORDER]
    steps = [item[1] for item in summary if item[0] == "batch"]
    assert steps == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]  # one batch of each cell per round, 4 rounds
    probes = [item for item in summary if item[0] == "probe"]
    assert {item[1] for item in probes} == set(CELL_ORDER)
    assert all(item[1] == item[2] and item[3] == [8, 10] for item in probes)  # each cell's own trace
    assert summary[-1] == ["done", "finished"]
