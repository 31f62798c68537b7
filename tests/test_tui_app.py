"""The terminal app, driven by Textual's Pilot at 80x24 with a fake (instant) training session."""

from __future__ import annotations

import asyncio
import time

from test_inspect import make_trace

from tui.app import RnnsimApp
from tui.session import BatchEvent, DoneEvent, EpochEvent, ProbeEvent, Settings, TaskInfo


class FakeSession:
    """Yields a few batches, epochs and probes built from NumPy traces; no Numba, no model API."""

    def __init__(self, settings: Settings):
        self.settings = settings.validated()

    def prepare(self) -> TaskInfo:
        return TaskInfo(
            name=self.settings.task,
            loss="mse",
            metrics=["mae"],
            baseline={"name": "predict 1", "metric": "mse", "value": 0.167, "description": "always 1"},
        )

    def events(self, should_stop=lambda: False):
        s = self.settings
        for epoch in range(2):
            for batch in range(5):
                yield BatchEvent(
                    epoch, batch, epoch * 5 + batch + 1, 1.0 / (1 + epoch * 5 + batch), {"mae": 0.5}
                )
                if should_stop():
                    yield DoneEvent("stopped")
                    return
                time.sleep(0.005)
            trace = make_trace(s.cell, batch=3, steps=s.seq_len, units=s.units, seed=epoch)
            yield ProbeEvent(epoch, 4, (epoch + 1) * 5, 0.5, [trace], tokens=None, cell=s.cell)
            yield EpochEvent(epoch, 0.3, 0.35, {"mae": 0.4}, {"mae": 0.45})
        yield DoneEvent("finished")


def make_app(**settings) -> RnnsimApp:
    base = dict(cell="lstm", units=6, seq_len=24, epochs=2)
    base.update(settings)
    return RnnsimApp(Settings(**base), session_factory=FakeSession)


async def wait_for(pilot, condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


def test_training_runs_and_fills_curves_gates_and_gradient():
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            await pilot.press("s")
            await wait_for(pilot, lambda: screen.state == "finished")
            loss = screen.query_one("#loss-curve")
            assert len(loss.train) == 10 and len(loss.val) == 2
            assert loss.baseline == ("predict 1", 0.167)
            assert screen.trace is not None and screen.trace.cell == "lstm"
            gradient = screen.query_one("#gradient")
            assert len(gradient.series) == 1
            await pilot.press("2")
            await pilot.press("right", "right", "down")
            assert (screen.t, screen.unit) == (2, 1)
            inspector = screen.query_one("#inspector")
            text = str(inspector.render())
            assert "t=2/23" in text and "unit 1/5" in text
            assert "c_t = f·c_{t-1} + i·c~" in text

    asyncio.run(scenario())
