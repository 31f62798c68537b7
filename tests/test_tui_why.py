"""The app's "why" tabs (Gain, Inputs, Saturation, What-if), the notes and the Gates tab's room, driven by Pilot
at 80x24 and 120x40 with a fake session built on NumPy traces (no Numba, no model)."""

from __future__ import annotations

import asyncio
import io
import re
import time

import numpy as np
import pytest
from helpers import make_trace, started_app, wait_for
from rich.console import Console

from rnnsim.analysis import WhatIf, gain_profile, saturation_record
from rnnsim.annotations import StepAnnotations
from rnnsim.render.lineplot import mean_gradient_norm
from tui.app import RnnsimApp
from tui.session import BatchEvent, DoneEvent, EpochEvent, ProbeEvent, Settings, TaskInfo
from tui.widgets.notes import NoteView

SIZES = [(80, 24), (120, 40)]


class Report:
    def __init__(self, traces, loss):
        self.traces, self.loss = traces, loss


class FakeSource:
    """A ProbeSource stand-in: the edited copy's forget gate is the trained one's, scaled down."""

    def __init__(self, trace):
        self.trace = trace
        self.edits = []

    def what_if(self, edit):
        self.edits.append(edit)
        edited = make_trace(self.trace.cell, batch=self.trace.batch_size, steps=self.trace.timesteps,
                            units=self.trace.units, seed=7)
        for name in edited.gates:
            if name != "candidate":
                edited.gates[name] = edited.gates[name] * 0.5
        edited.grad_hidden_norm = self.trace.grad_hidden_norm * 0.5 ** np.arange(self.trace.timesteps)[::-1]
        return WhatIf(edit=edit, before=Report([self.trace], 0.01), after=Report([edited], 0.2),
                      layers=[self.trace.layer_name], trained=1.0)


def annotations_for(steps, samples, seed=0):
    rng = np.random.default_rng(seed)
    result = []
    for _ in range(samples):
        markers = np.zeros(steps, bool)
        markers[[rng.integers(0, steps // 2), rng.integers(steps // 2, steps)]] = True
        values = rng.uniform(0, 1, steps)
        result.append(StepAnnotations(labels=[f"{v:.2f}" for v in values], values=values, markers=markers,
                                      marker_name="marked value"))
    return result


class WhySession:
    """Two epochs of batches; each probe carries annotations, connectivity peaking at the markers, a source."""

    made: list[WhySession] = []

    def __init__(self, settings: Settings):
        self.settings = settings.validated()
        WhySession.made.append(self)

    def prepare(self) -> TaskInfo:
        return TaskInfo(name="adding", loss="mse", metrics=["mae"])

    def events(self, should_stop=lambda: False):
        s = self.settings
        annotations = annotations_for(s.seq_len, 4)
        for epoch in range(2):
            for batch in range(3):
                yield BatchEvent(epoch, batch, epoch * 3 + batch + 1, 0.1)
                if should_stop():
                    yield DoneEvent("stopped")
                    return
                time.sleep(0.002)
            trace = make_trace(s.cell, batch=4, steps=s.seq_len, units=s.units, seed=epoch)
            connectivity = np.full((4, s.seq_len), 1e-3)
            for index, item in enumerate(annotations):
                connectivity[index, item.marked_steps] = [0.02, 0.05]
            label = getattr(s, "forget_bias", None)
            yield ProbeEvent(epoch, 2, (epoch + 1) * 3, 0.1, [trace], cell=s.cell, annotations=annotations,
                             connectivity=connectivity, source=FakeSource(trace))
            yield EpochEvent(epoch, 0.1, 0.1, saturation=[saturation_record(trace, epoch=epoch + 1)]
                             if label is None and trace.cell != "simple_rnn" else [])
        yield DoneEvent("finished")


def make_app(**settings) -> RnnsimApp:
    base = dict(cell="lstm", units=16, seq_len=100, epochs=2)
    base.update(settings)
    return RnnsimApp(Settings(**base), session_factory=WhySession)


def plain(renderable, width) -> str:
    console = Console(width=width, force_terminal=False, file=io.StringIO())
    console.print(renderable)
    return console.file.getvalue()


@pytest.mark.parametrize("size", SIZES)
def test_the_why_tabs_fill_from_the_probe(size):
    async def scenario():
        app = make_app()
        async with started_app(app, size=size) as (pilot, screen):
            await pilot.press("5")
            gain = screen.query_one("#gain-view")
            text = plain(gain.render(), gain.size.width)
            assert "per-step gain" in text and "╌ g = 1" in text
            assert "from t=99 back to t=0 the gradient is multiplied by 0.049" in text  # 0.97 ** 99
            await pilot.press("6")
            inputs = screen.query_one("#inputs-view")
            text = plain(inputs.render(), inputs.size.width)
            assert "largest at t=" in text and "(marked) and t=" in text and "▲ marked value" in text
            assert "the two marked steps are the top two in 4" in text
            assert ("every probe sample" in text) == (size == (120, 40))  # only where there is room
            await pilot.press("7")
            saturation = screen.query_one("#saturation-view")
            text = plain(saturation.render(), saturation.size.width)
            assert "gate saturation of the 4 probe samples" in text and "forget gate f: shut" in text
            assert "by epoch" in text and "ep 1" in text
            assert screen.saturation_history[-1]["epoch"] == 2

    asyncio.run(scenario())


WHAT_IF = {  # cell -> (the first edit's line, its gate panel, the second value)
    "lstm": ("what if: forget-gate bias b_f = 0 (as trained: 1): probe loss 0.01 -> 0.2", "forget gate f", 1.0),
    "simple_rnn": ("what if: recurrent matrix U x 0.5 (as trained: x 1): probe loss 0.01 -> 0.2", "candidate h",
                   0.9),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("cell", sorted(WHAT_IF))
def test_what_if_recomputes_in_a_worker_and_cycles_through_the_model_as_trained(size, cell):
    line, panel, second = WHAT_IF[cell]

    async def scenario():
        app = make_app(cell=cell)
        async with started_app(app, size=size) as (pilot, screen):
            await pilot.press("e")
            assert screen.query_one("#tabs").active == "whatif"
            await wait_for(pilot, lambda: screen.whatif_result is not None)
            view = screen.query_one("#whatif-view")
            text = plain(view.render(), view.size.width)
            assert line in text
            assert "||dL/dh_t|| (log)" in text and "gradient reaching t=0 from t=99: x " in text
            if size == (120, 40):  # the gate heatmaps as trained and edited, beside each other
                assert f"as trained: {panel}" in text and f"edited: {panel}" in text
            else:  # 80x24: the numbers and the gradient, and where to find the rest
                assert "a terminal of 100 x 40 or more" in text
            await pilot.press("e")
            await wait_for(pilot, lambda: screen.whatif_result is not None
                           and screen.whatif_result.edit.value == second)
            await pilot.press("E", "E")  # back past the first value to the model as trained
            assert screen.whatif_result is None
            assert "model as trained" in view.status
            first = screen.source.edits[0].value
            assert [edit.value for edit in screen.source.edits] == [first, second, first]

    asyncio.run(scenario())


class WordSession(WhySession):
    """Probes whose samples are words, some of them padding."""

    def events(self, should_stop=lambda: False):
        words = ["<pad>"] * 10 + ["this", "film", "was", "a", "terrible", "waste"] * 15
        for event in super().events(should_stop):
            if isinstance(event, ProbeEvent):
                steps = event.traces[0].timesteps
                labels = words[:steps]
                event.annotations = [StepAnnotations(labels=labels, kind="words",
                                                     padding=np.array([w == "<pad>" for w in labels]))] * 4
            yield event


@pytest.mark.parametrize("size", SIZES)
def test_text_is_read_downwards_in_the_inputs_tab(size):
    async def scenario():
        app = RnnsimApp(Settings(cell="gru", units=8, seq_len=100, epochs=2), session_factory=WordSession)
        async with started_app(app, size=size) as (pilot, screen):
            await pilot.press("2", *(["right"] * 14), "6")
            inputs = screen.query_one("#inputs-view")
            lines = plain(inputs.render(), inputs.size.width).splitlines()
            assert lines[0].startswith("word by word, down: update gate z, units 0-7 of 8")
            cursor = next(line for line in lines if line.startswith("▶"))
            assert cursor.split()[1:3] == ["14", "terrible"]  # the cursor's word, on its own line
            assert sum(1 for line in lines if re.match(r"[ ▶]\s*\d+ ", line)) >= 5

    asyncio.run(scenario())


def test_notes_toggle_on_every_tab_with_the_cells_own_sentence():
    async def scenario():
        app = make_app()
        async with started_app(app, size=(120, 40)) as (pilot, screen):
            notes = list(screen.query(NoteView))
            assert {note.id for note in notes} == {f"note-{tab}" for tab in
                                                   ("train", "gates", "compare", "gain", "inputs", "saturation",
                                                    "whatif")}
            assert not any(note.display for note in notes)
            await pilot.press("5", "i")
            await pilot.pause()
            note = screen.query_one("#note-gain", NoteView)
            assert note.display and note.region.height > 2
            assert "Cell path: along c the gradient is multiplied by the forget gate" in str(note.render())
            await pilot.press("i")
            await pilot.pause()
            assert not note.display

    asyncio.run(scenario())


def test_gates_at_120x40_show_every_unit_and_step_with_the_legend_in_colour():
    async def scenario():
        app = make_app()
        async with started_app(app, size=(120, 40)) as (pilot, screen):
            await pilot.press("2")
            gates = screen.query_one("#gates-view")
            shown, columns, unit_rows, time_columns = gates.layout_plan(*gates.size)
            assert unit_rows * 2 >= 16 and time_columns == 100  # all 16 units, all 100 steps
            text = gates.render()
            rendered = plain(text, gates.size.width)
            assert f"showing {', '.join(shown_symbol(n) for n in shown)} of 6 (g: next)" in rendered
            assert "mark " in rendered and "▲" in rendered  # the probe sample's markers under the axis
            # The selected panel's title is reversed, its colour legend is not.
            console = Console(width=gates.size.width, color_system="truecolor", file=io.StringIO())
            lines = console.render_lines(text, console.options)
            heading = lines[0]
            reversed_text = "".join(seg.text for seg in heading if seg.style and seg.style.reverse)
            legend = [seg for seg in heading if seg.text == "█"]
            assert reversed_text == "input gate i" and legend and not any(seg.style.reverse for seg in legend)

    asyncio.run(scenario())


def shown_symbol(name):
    return {"input": "i", "forget": "f", "candidate": "c~", "output": "o", "cell_state": "c", "hidden": "h"}[name]


def test_gates_at_80x24_window_the_units_and_say_where_the_window_is():
    async def scenario():
        app = make_app()
        async with started_app(app, size=(80, 24)) as (pilot, screen):
            await pilot.press("2", *(["down"] * 15), *(["shift+right"] * 9))  # t+10 a press: to t=90
            gates = screen.query_one("#gates-view")
            rendered = plain(gates.render(), gates.size.width)
            found = re.search(r"units (\d+)-(\d+) of 16 \(↑↓\) · t (\d+)-(\d+) of 100 \(←→\)", rendered)
            assert found, rendered
            first_unit, last_unit, first_t, last_t = map(int, found.groups())
            assert first_unit <= 15 <= last_unit and first_t <= 90 <= last_t and last_t == 99

    asyncio.run(scenario())


def test_the_product_of_the_gains_is_the_ratio_the_compare_tab_prints():
    async def scenario():
        app = make_app(units=6, seq_len=40)
        async with started_app(app, size=(120, 40), key="c", state="compared") as (pilot, screen):
            compare = screen.query_one("#compare-view").render().plain
            for cell, label in (("simple_rnn", "SimpleRNN"), ("lstm", "LSTM"), ("gru", "GRU")):
                traces, _tokens = screen.compare_traces[cell]
                printed = float(re.search(rf"{label}: \|\|dL/dh_0\|\| / \|\|dL/dh_39\|\| = (\S+)", compare).group(1))
                product = float(np.prod(gain_profile(traces[0]).gain[1:]))
                curve = mean_gradient_norm(traces[0])
                assert product == pytest.approx(curve[0] / curve[-1], rel=1e-9)
                assert product == pytest.approx(printed, rel=0.05)  # printed to two digits

    asyncio.run(scenario())


def test_the_forget_bias_compare_trains_an_lstm_from_zero_and_from_one():
    async def scenario():
        WhySession.made.clear()
        app = make_app(cell="gru", units=6, seq_len=20)
        async with started_app(app, size=(80, 24), key="f", state="compared") as (pilot, screen):
            view = screen.query_one("#compare-view")
            assert list(view.series) == ["LSTM b_f=0", "LSTM b_f=1"]
            assert "forget bias b_f = 0 and b_f = 1" in view.title
            assert [(made.settings.cell, made.settings.forget_bias) for made in WhySession.made] == [
                ("lstm", 0.0), ("lstm", 1.0)]

    asyncio.run(scenario())


def test_a_screenshot_of_the_inputs_tab(tmp_path):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: app.screen.state == "finished")
            await pilot.press("6")
            await pilot.pause()
            path = app.save_screenshot(filename="inputs.svg", path=str(tmp_path))
        svg = (tmp_path / "inputs.svg").read_text()
        assert path.endswith("inputs.svg") and "input connectivity" in svg.replace("&#160;", " ")

    asyncio.run(scenario())


def test_the_gain_and_saturation_views_compute_once_per_probe_not_at_each_cursor_key(monkeypatch):
    # A cursor key re-shows every why-tab; the profile and the saturation belong to the trace, so they are
    # computed when the view is first drawn after a new trace, and a hidden tab computes nothing.
    import tui.widgets.gain as gain_widget
    import tui.widgets.saturation as saturation_widget

    calls = {"gain": 0, "saturation": 0}

    def counting(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(gain_widget, "gain_profile", counting("gain", gain_widget.gain_profile))
    monkeypatch.setattr(saturation_widget, "saturation", counting("saturation", saturation_widget.saturation))
    trace = make_trace("lstm", batch=3, steps=12, units=4)
    other = make_trace("lstm", batch=3, steps=12, units=4, seed=2)
    gain, saturated = gain_widget.GainView(), saturation_widget.SaturationView()
    for t in range(6):
        gain.show(trace, cursor=t)
        saturated.show(trace, [])
    assert calls == {"gain": 0, "saturation": 0}  # not drawn yet: nothing computed
    for t in range(6):
        gain.show(trace, cursor=t)
        assert gain.current_profile().cell == "lstm" and gain.cursor == t
        saturated.show(trace, [])
        assert saturated.current_saturations()
    assert calls == {"gain": 1, "saturation": 1}
    gain.show(other, cursor=0)
    saturated.show(other, [])
    assert gain.current_profile() is not None and saturated.current_saturations()
    assert calls == {"gain": 2, "saturation": 2}  # a new probe's trace: computed again
    np.testing.assert_allclose(gain.current_profile().gain, gain_profile(other).gain)


def test_the_simple_rnns_kernel_for_the_gain_tab_is_looked_up_once_per_probe(monkeypatch):
    # A checkpoint's source has no weight snapshot: each lookup copies the model's weights (get_weights),
    # and a new U object would make the gain view compute its profile again at every cursor key.
    import tui.screens.why as why

    calls = []

    def lookup(model, weights):
        calls.append(model)
        return {"simple_rnn": {"recurrent_kernel": np.eye(4)}}

    monkeypatch.setattr(why, "recurrent_weights", lookup)

    screen = why.WhyTabs()
    screen.init_why()

    class Source:
        model, weights = object(), None

    trace = make_trace("simple_rnn", batch=2, steps=6, units=4)
    trace.layer_name = "simple_rnn"
    screen.trace, screen.source = trace, Source()
    kernels = [screen.recurrent_kernel() for _ in range(5)]  # five cursor keys
    assert len(calls) == 1 and all(k is kernels[0] for k in kernels)
    np.testing.assert_array_equal(kernels[0], np.eye(4))
    screen.source = Source()  # the next probe
    assert screen.recurrent_kernel() is not kernels[0] and len(calls) == 2
    screen.trace = make_trace("lstm", batch=2, steps=6, units=4)
    assert screen.recurrent_kernel() is None and len(calls) == 2  # an LSTM needs no U
