"""The app and `rnnsim inspect` on the real model API (Numba cells), at tiny sizes."""

from __future__ import annotations

import asyncio
import io

import pytest
from helpers import wait_for
from rich.console import Console

from rnnsim.inspect import inspect_command
from tui.app import RnnsimApp
from tui.session import BatchEvent, ProbeEvent, Settings, TrainingSession

TINY = dict(task="adding", units=4, seq_len=20, epochs=1, batch_size=16, n_samples=64, probe_every=2)


def test_training_session_yields_batches_and_probes_with_gradient_norms():
    session = TrainingSession(Settings(cell="simple_rnn", **TINY))
    info = session.prepare()
    assert info.loss == "mse" and info.baseline["metric"] == "mse"
    events = list(session.events())
    assert sum(isinstance(e, BatchEvent) for e in events) == 4
    probes = [e for e in events if isinstance(e, ProbeEvent)]
    assert probes and probes[-1].traces[0].grad_hidden_norm.shape == (8, 20)
    assert len(probes[-1].tokens[0]) == 20  # the task's decode of each timestep


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    session = TrainingSession(Settings(cell="lstm", **TINY))
    session.prepare()
    list(session.events())
    path = tmp_path_factory.mktemp("models") / "lstm.npz"
    session.model.save(path)
    return path


def test_app_trains_a_real_model_and_opens_a_checkpoint(saved_model):
    async def scenario():
        app = RnnsimApp(Settings(cell="gru", **TINY), checkpoint=str(saved_model))
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            await wait_for(pilot, lambda: screen.state == "checkpoint", timeout=30)
            assert screen.trace.cell == "lstm" and screen.trace.timesteps == 20
            assert screen.query_one("#tabs").active == "gates"
            await pilot.press("right")
            assert "input: " in str(screen.query_one("#inspector").render())
            await pilot.press("s")
            await wait_for(pilot, lambda: screen.state == "finished", timeout=30)
            assert screen.trace.cell == "lstm"  # the app adopted the checkpoint's cell
            assert len(screen.query_one("#loss-curve").train) == 4

    asyncio.run(scenario())


def test_inspect_command_prints_a_saved_model(saved_model):
    buffer = io.StringIO()
    status = inspect_command(
        saved_model, sample=1, data="adding", console=Console(file=buffer, width=80, force_terminal=False)
    )
    out = buffer.getvalue()
    assert status == 0, out
    assert "forget gate f" in out and "||dL/dh_t|| by timestep" in out
    # The inputs line up with the heatmaps' columns: the value row, the markers, the connectivity row.
    assert "\nx    " in out and "\nmark " in out and "\ndy/dx" in out and "▲ marked value (t=" in out
    assert "inputs: " in out


def test_inspect_command_rejects_an_unknown_gate_in_one_line(saved_model, capsys):
    buffer = io.StringIO()
    status = inspect_command(
        saved_model, gate="reset", data="adding", console=Console(file=buffer, width=200)
    )
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown gate 'reset' for an LSTM layer" in err
