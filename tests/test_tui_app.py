"""The terminal app, driven by Textual's Pilot at 80x24 with a fake (instant) training session."""

from __future__ import annotations

import asyncio
import io
import time

import pytest
from helpers import make_trace, started_app, wait_for
from rich.console import Console

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


def render_plain(renderable, width=80) -> str:
    console = Console(width=width, force_terminal=False, file=io.StringIO())
    console.print(renderable)
    return console.file.getvalue()


def test_training_runs_and_fills_curves_gates_and_gradient():
    async def scenario():
        app = make_app()
        async with started_app(app, size=(80, 24)) as (pilot, screen):
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


def test_status_says_what_the_wait_for_the_first_batch_is():
    import threading

    first_batch = threading.Event()

    class CompilingSession(FakeSession):  # a first run: the first batch waits for the kernels to compile
        def events(self, should_stop=lambda: False):
            first_batch.wait(10)
            yield from super().events(should_stop)

    async def scenario():
        app = RnnsimApp(Settings(units=4, seq_len=10), session_factory=CompilingSession)
        async with app.run_test(size=(160, 24)) as pilot:
            screen = app.screen
            status = screen.query_one("#status")
            await pilot.press("s")
            await wait_for(pilot, lambda: screen.state == "training")
            assert "first batch… (a first run compiles the kernels" in str(status.render())
            first_batch.set()
            await wait_for(pilot, lambda: screen.step > 0)
            assert "first batch" not in str(status.render()) and "step" in str(status.render())

    asyncio.run(scenario())


def test_pause_holds_the_worker_and_stop_ends_it():
    class SlowSession(FakeSession):
        def events(self, should_stop=lambda: False):
            for step in range(1, 10_000):
                yield BatchEvent(0, step - 1, step, 1.0 / step)
                if should_stop():
                    yield DoneEvent("stopped")
                    return
                time.sleep(0.002)

    async def scenario():
        app = RnnsimApp(Settings(units=4, seq_len=10), session_factory=SlowSession)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            await pilot.press("s")
            await wait_for(pilot, lambda: screen.step > 5)
            await pilot.press("p")
            assert screen.state == "paused"
            await pilot.pause(0.2)
            held = screen.step
            await pilot.pause(0.3)
            assert screen.step <= held + 1  # at most the event in flight when pause was pressed
            await pilot.press("p")
            assert screen.state == "training"
            await wait_for(pilot, lambda: screen.step > held + 5)
            await pilot.press("x")
            assert screen.state == "stopped"
            await pilot.pause(0.2)
            stopped_at = screen.step
            await pilot.pause(0.3)
            assert screen.step == stopped_at
            assert "stopped" in str(screen.query_one("#status").render())

    asyncio.run(scenario())


def test_switching_cells_trains_the_new_cell_and_shows_its_gates():
    async def scenario():
        app = make_app(cell="simple_rnn")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            await pilot.press("n")  # simple_rnn -> lstm
            await pilot.press("n")  # lstm -> gru
            assert screen.settings.cell == "gru"
            assert screen.query_one("#cell").value == "gru"
            await pilot.press("s")
            await wait_for(pilot, lambda: screen.state == "finished")
            assert screen.trace.cell == "gru"
            await pilot.press("2", "g", "right")
            gates = screen.query_one("#gates-view")
            assert gates.selected == 1 and gates.t == 1
            rendered = str(screen.query_one("#inspector").render())
            assert "h_t = z·h_{t-1} + (1-z)·h~" in rendered
            # At 80x24 with 24 steps and 6 units, all four GRU quantities fit, two panels a row.
            shown, columns, unit_rows, time_columns = gates.layout_plan(*gates.size)
            assert shown == ["update", "reset", "candidate", "hidden"] and columns == 2
            text = render_plain(gates.render(), width=gates.size.width)
            for heading in ("update gate z", "reset gate r", "candidate h~", "hidden state h"):
                assert heading in text

    asyncio.run(scenario())


def test_gate_heatmaps_keep_a_dark_canvas_on_a_light_theme():
    # viridis ends in a pale yellow: on a light background an open gate would not show.
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            gates = app.screen.query_one("#gates-view")
            app.theme = "textual-light"
            await pilot.pause()
            assert gates.has_class("-canvas")
            assert gates.styles.background.brightness < 0.2
            app.theme = "textual-dark"
            await pilot.pause()
            assert not gates.has_class("-canvas")

    asyncio.run(scenario())


def test_compare_overlays_the_three_cells():
    async def scenario():
        app = make_app()
        async with started_app(app, size=(80, 24), key="c", state="compared") as (pilot, screen):
            view = screen.query_one("#compare-view")
            assert list(view.series) == ["SimpleRNN", "LSTM", "GRU"]
            text = view.render().plain
            assert "● SimpleRNN" in text and "▲ LSTM" in text and "■ GRU" in text
            assert "SimpleRNN: ||dL/dh_0|| / ||dL/dh_23|| = " in text
            assert screen.query_one("#tabs").active == "compare"

    asyncio.run(scenario())


def test_arrow_keys_stop_at_the_edges():
    async def scenario():
        app = make_app(seq_len=5, units=3)
        async with started_app(app, size=(80, 24)) as (pilot, screen):
            await pilot.press("2", "left", "up")
            assert (screen.t, screen.unit) == (0, 0)
            await pilot.press(*(["right"] * 9), *(["down"] * 9))
            assert (screen.t, screen.unit) == (4, 2)
            await pilot.press("shift+left")
            assert screen.t == 0

    asyncio.run(scenario())


def test_help_screen_lists_the_keys_and_closes_with_escape():
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("question_mark")
            from tui.screens.help import HelpScreen

            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)

    asyncio.run(scenario())


def test_missing_checkpoint_shows_a_message_not_a_traceback(tmp_path):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("o")
            app.screen.query_one("#open-path").value = str(tmp_path / "nope.npz")
            await pilot.press("enter")
            from tui.screens.message import MessageScreen

            await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen))
            text = str(app.screen.query_one("#message-text").render())
            assert "nope.npz" in text and "does not exist" in text and "Traceback" not in text
            await pilot.press("enter")
            assert not isinstance(app.screen, MessageScreen)

    asyncio.run(scenario())


def test_bad_setup_value_is_a_notification():
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            await pilot.press("4")
            screen.query_one("#units").value = "0"
            await pilot.click("#start")
            await pilot.pause(0.1)
            assert screen.state == "idle"
            assert any("units must be" in n.message for n in app._notifications)

    asyncio.run(scenario())


def test_command_palette_offers_the_app_commands():
    from tui.commands import RnnsimCommands

    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            provider = RnnsimCommands(app.screen)
            hits = [hit async for hit in provider.search("compare")]
            assert any("Compare SimpleRNN, LSTM and GRU" in str(hit.match_display) for hit in hits)
            await pilot.press("ctrl+p")
            await pilot.pause(0.1)
            from textual.command import CommandPalette

            assert isinstance(app.screen, CommandPalette)
            assert RnnsimCommands in app.COMMANDS

    asyncio.run(scenario())


def test_the_footer_shows_whole_keys_at_80_columns_and_the_palette_hint_from_120():
    # At 80 columns the command palette's hint was drawn over the last keys ("^p paletter"); below 120 the
    # footer is compact and leaves the hint out (ctrl+p still opens the palette: the test above).
    from textual.widgets import Footer

    async def scenario():
        for size, wide in (((80, 24), False), ((100, 30), False), ((120, 40), True)):
            app = make_app()
            async with app.run_test(size=size) as pilot:
                await pilot.pause(0.1)
                footer = app.screen.query_one(Footer)
                assert footer.compact is not wide and footer.show_command_palette is wide, size

    asyncio.run(scenario())


def test_cli_options_are_checked_before_the_app_starts(tmp_path, capsys):
    from tui.app import main

    assert main(["--cell", "transformer"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "rnnsim tui: error: unknown cell 'transformer'; choose one of SimpleRNN, LSTM, GRU"
    assert main(["--checkpoint", str(tmp_path / "none.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["--dataset", "mnist"]) == 2
    assert "unknown task 'mnist'" in capsys.readouterr().err


class DecadesSession(FakeSession):
    """A loss that falls from 1 to 1e-3 over ten batches: three decades, so the axis turns log."""

    def events(self, should_stop=lambda: False):
        for step in range(10):
            yield BatchEvent(0, step, step + 1, 10 ** (-step / 3), {"mae": 0.5 - 0.01 * step})
        yield EpochEvent(0, 0.002, 0.003, {"mae": 0.4}, {"mae": 0.45})
        yield DoneEvent("finished")


def y_labels(view) -> list[str]:
    return [line.split("┤")[0].strip() for line in view.render().plain.splitlines() if "┤" in line]


def test_loss_axis_turns_log_by_itself_and_l_toggles_it():
    async def scenario():
        app = RnnsimApp(Settings(units=4, seq_len=10), session_factory=DecadesSession)
        async with started_app(app, size=(80, 24)) as (pilot, screen):
            loss = screen.query_one("#loss-curve")
            assert loss.uses_log()  # and the legend says so, in short words at 80 columns:
            assert loss.render().plain.startswith("loss (mse) · log y auto  ⣿ 0.001  ● 0.123")
            log_labels = y_labels(loss)
            assert log_labels[0] == "1e0" and log_labels[-1] == "1e-3"  # three decades: whole ones
            await pilot.press("l")
            assert not loss.uses_log() and loss.render().plain.startswith("loss (mse) · linear y  ⣿")
            linear_labels = y_labels(loss)
            assert float(linear_labels[0]) == 1.0 and linear_labels[-1] == "0"  # round values, as a y axis has them
            await pilot.press("l")
            assert loss.uses_log() and y_labels(loss) == log_labels
            # The metric's axis stays linear, and l leaves it alone.
            assert not screen.query_one("#metric-curve").uses_log()

    asyncio.run(scenario())


def test_loss_curve_is_smoothed_over_the_raw_batches_and_keeps_val_and_baseline():
    from rnnsim.inspect import ema
    from tui.widgets.curves import SMOOTHING

    async def scenario():
        app = make_app()
        async with started_app(app, size=(100, 30)) as (pilot, screen):
            loss = screen.query_one("#loss-curve")
            assert loss.train == [1.0 / (1 + k) for k in range(10)]
            assert loss.smoothed == ema(loss.train, SMOOTHING).tolist()
            # Batch 2: s = 0.9 * (0.1 * 1) + 0.1 * 0.5 = 0.14, debiased by 1 - 0.9**2 = 0.19.
            assert loss.smoothed[:2] == [1.0, pytest.approx(14 / 19, rel=1e-12)]
            assert not loss.uses_log()  # 1 to 0.1: one decade, linear
            text = loss.render().plain
            title = text.splitlines()[0]  # the legend: each symbol with its latest value
            assert title == "loss (mse) · linear y auto  ⣿ batch 0.1  ● smoothed 0.235  ▲ val 0.35  ╌ predict 1 0.167"
            assert text.count("▲") == 1 + 2  # the title and the two epochs' validation points
            assert "╌╌╌" in text  # the baseline 0.167
            assert screen.query_one("#metric-curve").render().plain.startswith("mae  ⣿ batch 0.5  ● smoothed 0.5")

    asyncio.run(scenario())


def test_log_key_is_in_the_footer_and_the_help():
    from tui.screens.help import HELP

    async def scenario():
        app = make_app()
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert "l" in app.screen.active_bindings
            assert app.screen.active_bindings["l"].binding.description == "Log y"
            assert "| `l` | loss curve: linear / log y axis" in HELP

    asyncio.run(scenario())


def test_setup_form_offers_every_task_of_the_registry_including_jena():
    from rnnsim.datasets.tasks import TASK_NAMES
    from tui.widgets.setup_form import SetupForm

    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            await pilot.press("4")
            form = screen.query_one(SetupForm)
            for name in TASK_NAMES:  # a Select refuses a value it does not offer
                screen.query_one("#task").value = name
                assert form.read().task == name
            form.write(Settings(cell="gru", task="jena", units=8, seq_len=240))  # e.g. an opened checkpoint
            await pilot.pause()
            assert form.read().task == "jena" and form.read().seq_len == 240
            task = screen.query_one("#task")
            await pilot.click("#task")  # the menu shows every task, within 80x24
            await pilot.pause()
            assert task.expanded
            overlay = task.query_one("SelectOverlay")
            assert overlay.option_count == len(TASK_NAMES)
            assert overlay.region.bottom <= 24 and overlay.max_scroll_y == 0  # all eight at once

    asyncio.run(scenario())


def test_the_app_checks_its_settings_before_textual_starts():
    from rnnsim.errors import InputError

    assert RnnsimApp(Settings(cell="rnn"), session_factory=FakeSession).settings.cell == "simple_rnn"
    assert RnnsimApp(Settings(cell="GRU"), session_factory=FakeSession).settings.cell == "gru"
    with pytest.raises(InputError, match="unknown cell 'gur'"):
        RnnsimApp(Settings(cell="gur"), session_factory=FakeSession)
    with pytest.raises(InputError, match="units must be a whole number"):
        RnnsimApp(Settings(units=0), session_factory=FakeSession)
