"""The "why" views' drawing on NumPy traces (helpers.make_trace): marks under the time axis, gain, connectivity
bars, text read downwards, saturation, gate names as shown on screen."""

from __future__ import annotations

import io

import numpy as np
import pytest
from helpers import make_trace
from rich.console import Console

from rnnsim.analysis import GateSaturation, gain_profile
from rnnsim.annotations import StepAnnotations
from rnnsim.errors import InputError
from rnnsim.notes import NOTES, note
from rnnsim.render.colours import SEQUENTIAL, colour_for
from rnnsim.render.connectivity import connectivity_bars, connectivity_summary, connectivity_view
from rnnsim.render.equations import resolve_quantity
from rnnsim.render.gain import gain_plot, gain_view
from rnnsim.render.heatmap import heatmap
from rnnsim.render.saturation import saturation_history_plot, saturation_scatter
from rnnsim.render.textview import text_view
from rnnsim.render.timeline import GREY, mark_row, timeline_rows
from rnnsim.render.trace_view import render_trace, render_views


def plain(renderable, width=100) -> str:
    console = Console(width=width, force_terminal=False, file=io.StringIO())
    console.print(renderable)
    return console.file.getvalue()


def adding_annotations(steps=12, marked=(2, 9)) -> StepAnnotations:
    markers = np.zeros(steps, bool)
    markers[list(marked)] = True
    values = np.linspace(0, 1, steps)
    return StepAnnotations(labels=[f"{v:.2f}" for v in values], values=values, markers=markers,
                           marker_name="marked value")


def test_markers_sit_under_their_columns_and_survive_binning():
    annotations = adding_annotations(12, (2, 9))
    assert mark_row(annotations, 0, 12).plain == "  ▲      ▲  "
    assert mark_row(annotations, 0, 6, per_column=2).plain == " ▲  ▲ "  # columns of steps 2-3 and 8-9
    assert mark_row(annotations, 4, 6).plain == "     ▲"  # a window from t=4 shows the second only


def test_windows_are_named_and_padding_is_shaded():
    copy = StepAnnotations(labels=["_"] * 30, windows=[(0, 10, "write"), (20, 30, "recall")])
    assert mark_row(copy, 0, 30).plain == " write━━━━" + " " * 10 + " recall━━━"
    words = StepAnnotations(labels=["<pad>"] * 3 + ["good"] * 2, kind="words",
                            padding=np.array([True, True, True, False, False]))
    assert mark_row(words, 0, 5).plain == "░░░  "


def test_timeline_rows_line_up_with_the_heatmap_gutter():
    annotations = adding_annotations(12)
    rows = timeline_rows(annotations, 0, 12, colour=False)
    assert [row.plain[:5] for row in rows] == ["x    ", "mark "]
    assert rows[1].plain.index("▲") == 5 + 2
    lines = heatmap(np.zeros((2, 12)), SEQUENTIAL, colour=False).plain.split("\n")
    assert len(lines[0]) == len(rows[1].plain)  # gutter + one character per column, like the rows above


def test_greyed_heatmap_columns_fade_towards_grey():
    values = np.ones((2, 3))
    text = heatmap(values, SEQUENTIAL, axis=False, unit_labels=False, greyed=np.array([False, True, False]))
    console = Console()
    bright = text.get_style_at_offset(console, 0).color.triplet
    faded = text.get_style_at_offset(console, 1).color.triplet
    assert tuple(bright) == colour_for(1.0, SEQUENTIAL).triplet
    assert tuple(faded) == tuple(round(0.7 * g + 0.3 * c) for c, g in zip(bright, GREY))


def test_connectivity_bars_use_a_log_scale_under_the_largest_value():
    values = np.array([1e-1, 1e-2, 1e-3, 1e-5, 0.0])
    bars = connectivity_bars(values, height=1, decades=4, colour=False, gutter=5, label="dy/dx").plain
    assert bars == "dy/dx█▆▄  "
    tall = connectivity_bars(values, height=2, decades=4, colour=False).plain.split("\n")
    assert tall[0].startswith("1e-1 ") and tall[1].startswith("1e-5 ")
    assert tall[0][5:] == "█▄   " and tall[1][5:] == "███  "


def test_connectivity_summary_names_the_marked_peaks():
    annotations = adding_annotations(12, (2, 9))
    values = np.full(12, 1e-3)
    values[2], values[9] = 0.02, 0.05
    assert connectivity_summary(values, annotations) == (
        "largest at t=2 (marked) and t=9 (marked); at the first marker 0.4 x the second")
    out = plain(connectivity_view(values, annotations, width=60))
    assert "▲ marked value (t=2, 9)" in out


def test_gain_plot_draws_the_line_g_equals_one_and_states_the_product():
    trace = make_trace("simple_rnn", batch=2, steps=20)  # ||dL/dh_t|| = 0.5 ** (19 - t)
    profile = gain_profile(trace)
    np.testing.assert_allclose(profile.gain[1:], 0.5)
    out = plain(gain_view(trace, width=80))
    assert "╌ g = 1" in out
    assert "from t=19 back to t=0 the gradient is multiplied by 1.9e-06 (0.5 per step on average)" in out
    text = gain_plot(profile, width=40, height=6, colour=False).plain
    one_row = next(row for row in text.splitlines()  # the row labelled 1 (1e0, 1.0): the axis at g = 1
                   if "┤" in row and float(row.split("┤")[0]) == 1.0)
    assert set(one_row.split("┤", 1)[1]) == {"╌"}  # the dashed line g = 1 across the whole plot
    gains_row = next(row for row in text.splitlines() if "●" in row and "g_t" not in row)
    assert text.splitlines().index(gains_row) > text.splitlines().index(one_row)  # g = 0.5 is drawn below it


def test_gains_within_a_few_percent_of_one_get_the_plot_not_one_row():
    # a GRU's per-step gains: 0.97-1.03, the mean update gate about 0.87. On a whole decade around them
    # (round 7's axis) all of it sat on two rows; now the axis fits them, its labels as exact as they need
    from rnnsim.render.lineplot import line_plot

    steps = np.arange(100)
    series = {"g_t": 1 + 0.03 * np.sin(steps / 5), "mean z_t": 0.87 + 0.01 * np.cos(steps / 7)}
    text = line_plot(series, width=60, height=20, log_y=True, hlines={"g =": 1.0}, colour=False,
                     min_decades=0.1).plain
    lines = text.splitlines()[:20]
    labels = [line.split("┤")[0].strip() for line in lines if "┤" in line]
    assert labels == ["1.05", "1.00", "0.95", "0.90", "0.85"]  # round values, not 1e0 twice
    one_row = next(line for line in lines if line.startswith("1.00┤"))
    assert "╌" in one_row  # the label 1.00 is on the row of the line g = 1
    gain_rows = {i for i, line in enumerate(lines) if "●" in line}
    assert max(gain_rows) - min(gain_rows) >= 3  # the wave spans rows
    wide = line_plot(series, width=60, height=20, log_y=True, colour=False).plain  # the default: a decade at least
    assert float(wide.splitlines()[0].split("┤")[0]) > 3


def test_lstm_gain_view_shows_the_cell_path_and_the_forget_gate():
    trace = make_trace("lstm", batch=2, steps=16)
    trace.grad_cell_norm = 0.9 ** (15 - np.arange(16))[None, :].repeat(2, axis=0)
    out = plain(gain_view(trace, width=100), width=300)
    assert "▲ cell path" in out and "■ mean f_t" in out and "◆ largest f_t" in out
    assert "along the cell state c: 0.21 (0.9 per step" in out


def test_text_view_reads_down_one_word_per_line_with_its_bar():
    trace = make_trace("lstm", batch=1, steps=5, units=4)
    words = ["<pad>", "a", "truly", "awful", "film"]
    annotations = StepAnnotations(labels=words, kind="words", padding=np.array([True, False, False, False, False]))
    connectivity = np.array([1e-6, 1e-4, 1e-3, 1e-1, 1e-2])
    text = text_view(trace, gate="f", annotations=annotations, connectivity=connectivity, width=80, colour=False,
                     cursor=3)
    lines = text.plain.split("\n")
    assert lines[0].startswith("word by word, down: forget gate f, units 0-3 of 4")
    assert [line.split()[1] if not line.startswith("▶") else line.split()[2] for line in lines[1:]] == words
    bars = [line.count("█") for line in lines[1:]]
    assert bars[3] == max(bars) and bars[0] == 0  # the word the output depends on most has the longest bar
    assert lines[4].startswith("▶   3 awful")
    console = Console()
    assert text.get_style_at_offset(console, text.plain.index("<pad>")).dim  # padding is dimmed


def test_saturation_scatter_puts_an_always_open_unit_in_the_top_left_corner():
    saturations = {"forget": GateSaturation("forget", low=np.array([0.0, 1.0]), high=np.array([1.0, 0.0]),
                                            steps=100)}
    lines = saturation_scatter(saturations, width=11, height=5, colour=False).plain.split("\n")
    assert lines[0] == "  1┤●·" + " " * 9 and lines[4].endswith("●")  # the diagonal x + y = 1 in dots
    assert "forget gate f: shut 50%, open 50% (2 units)" in "\n".join(lines)


def test_saturation_by_epoch_plots_one_point_per_epoch():
    records = [{"epoch": e, "cell": "lstm", "gates": {"forget": {"low": [0.0, 0.0], "high": [0.1 * e, 0.3 * e]},
                                                      "input": {"low": [0.5], "high": [0.5]}}} for e in range(3)]
    text = saturation_history_plot(records, width=30, height=5, colour=False, gates=["forget"]).plain
    assert "● f > .9" in text and "▲ f < .1" in text and "ep 1" in text and "i > .9" not in text


@pytest.mark.parametrize(
    "cell, spelling, name",
    [("lstm", "f", "forget"), ("lstm", "forget gate f", "forget"), ("lstm", "Forget", "forget"),
     ("lstm", "c~", "candidate"), ("lstm", "c", "cell_state"), ("lstm", "cell state", "cell_state"),
     ("gru", "z", "update"), ("gru", "h~", "candidate"), ("gru", "reset gate", "reset"),
     ("simple_rnn", "h", "hidden"), ("simple_rnn", "candidate", "candidate")],
)
def test_gates_can_be_named_as_shown_on_screen(cell, spelling, name):
    assert resolve_quantity(make_trace(cell), spelling) == name


def test_an_unknown_gate_lists_every_choice_with_its_symbol():
    with pytest.raises(InputError, match=r"unknown gate 'q' for a GRU layer; choose one of update \(z\), "
                                         r"reset \(r\), candidate \(h~\), hidden \(h\)"):
        resolve_quantity(make_trace("gru"), "q")
    with pytest.raises(InputError, match="has no cell state"):
        resolve_quantity(make_trace("gru"), "c")


def test_render_trace_greys_masked_steps_and_marks_the_inputs():
    trace = make_trace("gru", batch=1, steps=12, units=4)
    trace.mask = np.ones((1, 12), bool)
    trace.mask[0, :3] = False
    out = plain(render_trace(trace, gate="z", annotations=adding_annotations(12), colour=False, width=60))
    assert "update gate z" in out and "reset gate" not in out
    assert "mark ░░▲      ▲" in out  # steps 0-1 masked, 2 marked (a marker wins over padding)
    assert "masked: state carried over (3 steps)" in out


def test_render_views_refuses_an_unknown_view():
    with pytest.raises(InputError, match="unknown view 'gian'"):
        render_views(make_trace("lstm"), ["gian"])


def test_every_view_has_a_note_and_notes_print_under_their_views():
    for key in ("gates", "gain", "connectivity", "text", "saturation", "what_if", "compare", "train"):
        assert note(key).look_for and note(key).meaning
    trace = make_trace("lstm", batch=1, steps=8)
    out = plain(render_views(trace, ["gain"], notes=True), width=200)
    assert NOTES["gain"].by_cell["lstm"] in out and "Look for: " in out


@pytest.mark.parametrize("low, high, height, expected", [
    (0.0, 0.135, 23, ["0.12", "0.10", "0.08", "0.06", "0.04", "0.02", "0"]),  # the saturation history's axis
    (0.17, 1.19, 16, ["1.0", "0.8", "0.6", "0.4", "0.2"]),
    (0.0, 1e-4, 10, ["0.0001", "7.5e-05", "5e-05", "2.5e-05", "0"]),
    (-0.5, 2.3, 10, ["2", "1", "0"]),
    (0.1, 0.35, 4, ["0.3", "0.2", "0.1"]),  # a short plot: a finer step rather than one label alone
])
def test_a_linear_axis_is_labelled_with_round_evenly_spaced_values(low, high, height, expected):
    from rnnsim.render.lineplot import _linear_ticks

    labels = _linear_ticks(low, high, height)
    assert [labels[row] for row in sorted(labels)] == expected
    rows = sorted(labels)
    steps = {b - a for a, b in zip(rows, rows[1:])}
    assert max(steps) - min(steps) <= 1  # as even as whole rows allow
    for row, label in labels.items():  # each on the row nearest to its value
        assert abs((high - float(label)) / (high - low) * (height - 1) - row) <= 0.5


@pytest.mark.parametrize("height", [20, 30, 32])
def test_a_log_axis_never_shows_one_label_twice(height):
    # 1e-3 on the bottom row and on the row at 1.3e-3 (both round to 1e-3): kept on the bottom one only
    from rnnsim.render.lineplot import line_plot

    text = line_plot({"g": np.geomspace(4e-3, 0.1, 60)}, width=40, height=height, log_y=True, colour=False,
                     whole_decades=True).plain
    rows = [line.split("┤")[0].strip() for line in text.splitlines() if "┤" in line]
    assert len(rows) == len(set(rows)) and rows[0] == "1e-1" and rows[-1] == "1e-3"
    assert text.splitlines()[height - 1].lstrip().startswith("1e-3┤")  # on its own row, the bottom one


def test_a_three_row_linear_plot_keeps_both_of_its_round_labels():
    # the Train tab's metric at 80x24: 1.0 and 0.5 on neighbouring rows, neither thinned away
    from rnnsim.render.lineplot import line_plot

    values = np.linspace(1.19, 0.34, 50)
    text = line_plot({"smoothed": values}, bands={"smoothed": values - 0.15 * np.abs(np.sin(np.arange(50)))},
                     width=60, height=3, colour=False).plain
    assert [line.split("┤")[0].strip() for line in text.splitlines() if "┤" in line] == ["1.0", "0.5"]
