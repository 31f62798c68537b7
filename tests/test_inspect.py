"""Tests of the drawing behind `rnnsim inspect` (through the old rnnsim.inspect names), on traces from
`helpers.make_trace`: a small NumPy forward pass (no Numba, no model)."""

from __future__ import annotations

import io  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np
from helpers import make_trace
from rich.console import Console  # noqa: E402

from rnnsim.inspect import (  # noqa: E402
    DIVERGING,
    SEQUENTIAL,
    Smoother,
    char_for,
    colour_for,
    ema,
    equations,
    gradient_plot,
    heatmap,
    inspect_command,
    legend,
    line_plot,
    log_span,
    render_trace,
    scale_for,
)
from rnnsim.trace import Trace


def test_sigmoid_gates_use_the_sequential_scale_and_tanh_values_the_diverging_one():
    assert [scale_for(name) for name in ("input", "forget", "output", "update", "reset")] == [SEQUENTIAL] * 5
    assert [scale_for(name) for name in ("candidate", "cell_state", "hidden")] == [DIVERGING] * 3


def test_plain_characters_pin_the_ends_and_the_middle_of_each_scale():
    assert [char_for(v, SEQUENTIAL) for v in (0.0, 0.3, 0.5, 0.7, 1.0)] == [" ", "░", "▒", "▓", "█"]
    assert [char_for(v, DIVERGING) for v in (-1.0, -0.5, 0.0, 0.5, 1.0)] == ["≡", "-", " ", "+", "#"]
    # Out-of-range values (a cell state of 3) clip to the ends; NaN is drawn as zero.
    assert char_for(3.0, DIVERGING) == "#" and char_for(float("nan"), DIVERGING) == " "


def test_colours_interpolate_between_the_anchors():
    assert colour_for(0.0, SEQUENTIAL).triplet == (68, 1, 84)
    assert colour_for(1.0, SEQUENTIAL).triplet == (253, 231, 37)
    assert colour_for(0.0, DIVERGING).triplet == (150, 150, 150)
    assert colour_for(-1.0, DIVERGING).triplet == (33, 102, 172)


def test_plain_heatmap_has_one_row_per_unit_and_a_time_axis():
    values = np.array([[-1.0, 0.0, 1.0], [0.5, -0.5, 0.2]])
    assert heatmap(values, DIVERGING, colour=False).plain == "  0  ≡ #\n  1  +-·\n     0"


def test_colour_heatmap_packs_two_units_into_one_half_block_row():
    values = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    text = heatmap(values, SEQUENTIAL, colour=True, axis=False, unit_labels=False)
    assert text.plain == "▀▀\n▀▀"
    first = text.get_style_at_offset(Console(), 0)
    assert first.color.triplet == (68, 1, 84) and first.bgcolor.triplet == (253, 231, 37)


def test_heatmap_marks_the_cursor_column_and_unit():
    values = np.zeros((2, 4))
    lines = heatmap(values, SEQUENTIAL, colour=False, cursor=(2, 1)).plain.split("\n")
    assert lines[0] == "       ▼"
    assert lines[2].startswith("  1▶ ")


def test_legend_shows_the_range():
    assert legend(DIVERGING, colour=False, width=5).plain == "-1 ≡- +# +1"
    assert legend(SEQUENTIAL, colour=False, width=5).plain == "0  ░▒▓█ 1"


def test_log_gradient_plot_puts_each_decade_on_its_own_row():
    plot = line_plot({"g": [1e-3, 1e-2, 1e-1, 1.0]}, width=8, height=4, log_y=True, colour=False)
    # Four points in eight columns: a marker on each, joined by braille dots.
    assert plot.plain == (
        " 1e0┤      ⡠●\n"
        "    │    ⡠●  \n"
        "1e-2┤  ●⠊    \n"
        "1e-3┤●⠊      \n"
        "    └────────\n"
        "     0 1  2 3"
    )


def test_gradient_plot_overlays_cells_with_distinct_markers_and_a_legend():
    norms = {"SimpleRNN": 0.5 ** np.arange(30)[::-1], "LSTM": 0.97 ** np.arange(30)[::-1]}
    plot = gradient_plot(norms, width=40, height=8, colour=False).plain
    assert "● SimpleRNN" in plot and "▲ LSTM" in plot
    assert "1e0┤" in plot and "1e-9" in plot  # 0.5**29 = 1.9e-9: nine decades shown


def test_gradient_plot_clips_underflow_to_a_labelled_floor():
    norms = np.array([1e-40, 1e-30, 1e-5, 1.0])
    plot = gradient_plot(norms, width=8, height=6, colour=False).plain
    assert "≤1e-12" in plot


def test_baseline_is_drawn_as_a_dashed_line_with_its_value_in_the_legend():
    plot = line_plot({"train": [1.0, 0.5, 0.2]}, hlines={"baseline": 0.167}, width=10, height=5, colour=False)
    assert "╌╌╌" in plot.plain and "╌ baseline 0.167" in plot.plain


def plot_rows(plot) -> list[str]:
    """The plotting area of a plain line plot: each row without its y label and axis character."""
    rows = []
    for line in plot.plain.split("\n"):
        if "└" in line:
            break
        rows.append(line[min(i for i in (line.find("┤"), line.find("│")) if i >= 0) + 1 :])
    return rows


def test_a_jump_of_several_rows_is_joined_without_a_gap():
    # Ten points in forty columns: the step from 0 to 1 between points 4 and 5 climbs all eight rows.
    rows = plot_rows(line_plot({"step": [0.0] * 5 + [1.0] * 5}, width=40, height=8, colour=False))
    assert len(rows) == 8
    drawn = [{column for column, char in enumerate(row) if char != " "} for row in rows]
    assert all(drawn)  # every row between bottom and top is crossed
    for upper, lower in zip(drawn, drawn[1:]):  # and each row's dots touch the next row's
        assert min(abs(a - b) for a in upper for b in lower) <= 1
    assert rows[0].count("●") == 5 and rows[-1].count("●") == 5  # few points: a marker on each
    assert all(0x2800 <= ord(char) <= 0x28FF for row in rows[1:-1] for char in row.strip())


def test_a_column_with_many_points_shows_their_range_as_a_bar():
    # 80 points alternating 0 and 1 in 8 columns: ten per column, so every column spans bottom to top.
    plot = line_plot({"noisy": np.tile([0.0, 1.0], 40)}, width=8, height=4, colour=False)
    rows = plot_rows(plot)
    assert all(len(row) == 8 and " " not in row for row in rows)
    assert rows[1] == rows[2] == "⣿" * 8  # the middle rows: every dot of both dot columns


def test_braille_dots_follow_the_value_within_a_character():
    # One point per dot column at the bottom of the plot, then one dot row higher: the dot moves up
    # inside the same character row (the braille grid is 4 dots high).
    plot = line_plot({"low": [0.0, 0.0]}, hlines={"top": 3.0}, width=8, height=2, colour=False)
    assert plot_rows(plot)[-1] == "●⣀⣀⣀⣀⣀⣀●"


def test_several_dense_series_keep_their_markers_on_the_curves_without_colour():
    norms = {"SimpleRNN": 0.5 ** np.arange(100)[::-1], "LSTM": 0.97 ** np.arange(100)[::-1]}
    plot = gradient_plot(norms, width=60, height=8, colour=False)
    area = "".join(plot_rows(plot))
    assert area.count("●") >= 3 and area.count("▲") >= 3  # markers spread along each curve
    assert any(0x2800 < ord(char) <= 0x28FF for char in area)  # the lines between are braille
    assert plot.plain.splitlines()[-1].split() == ["●", "SimpleRNN", "▲", "LSTM"]


def test_baseline_and_cursor_lines_stay_under_the_curve():
    plot = line_plot(
        {"train": [1.0, 0.8, 0.6, 0.4, 0.2]}, hlines={"baseline": 0.5}, cursor=2, width=21, height=9, colour=False
    )
    rows = plot_rows(plot)
    baseline_rows = [row for row in rows if "╌" in row]
    assert len(baseline_rows) == 1 and baseline_rows[0].count("╌") >= 15
    cursor_column = 10  # x = 2 of 0..4 over 21 columns
    assert sum(row[cursor_column] == "│" for row in rows) >= 5  # the rows the curve leaves free
    assert "●" in (row[cursor_column] for row in rows)  # the point at x = 2 itself


def test_log_floor_row_holds_the_underflowing_points():
    norms = np.array([1e-40, 0.0, 1e-30, 1e-5, 1e-3, 1.0])
    rows = plot_rows(gradient_plot(norms, width=12, height=6, colour=False))
    assert rows[-1].startswith("●⣀●⣀●")  # 1e-40, an exact 0 and 1e-30, joined on the floor
    assert "≤1e-12" in gradient_plot(norms, width=12, height=6, colour=False).plain


def test_log_axis_fits_values_that_span_only_a_few_decades():
    plot = line_plot({"loss": [2.0, 0.5, 0.1, 0.02]}, width=20, height=7, log_y=True, colour=False)
    labels = [line.split("┤")[0].strip() for line in plot.plain.splitlines() if "┤" in line]
    assert labels == ["2.5", "0.47", "0.086", "0.016"]  # fitted to 2 .. 0.02 (whole decades: 1e1 .. 1e-2)
    decades = line_plot({"loss": [2.0, 0.5, 0.1, 0.02]}, width=20, height=7, log_y=True, whole_decades=True)
    assert decades.plain.startswith(" 1e1┤") and "1e-2┤" in decades.plain
    linear = line_plot({"loss": [2.0, 0.5, 0.1, 0.02]}, width=20, height=7, colour=False)
    assert "e" not in "".join(line.split("┤")[0] for line in linear.plain.splitlines() if "┤" in line)


def test_band_is_drawn_under_its_series_and_named_in_the_legend():
    raw = np.tile([0.0, 1.0], 40)
    plot = line_plot({"train": ema(raw, 0.9)}, bands={"train": raw}, band_label="per batch", width=20, height=6,
                     colour=True)
    assert plot.plain.splitlines()[-1].strip() == "● train ⣿ per batch"
    styles = {str(span.style) for span in plot.spans}
    assert "dim #de3130" in styles and "#de3130" in styles  # the band faint, the line in full colour


def test_moving_average_is_debiased_like_tensorboard():
    # s_k = 0.5 s_{k-1} + 0.5 x_k from s = 0, divided by 1 - 0.5**k: 1, 1.25/0.75, 2.125/0.875.
    assert ema([1.0, 2.0, 3.0], 0.5).tolist() == [1.0, 5 / 3, 17 / 7]
    assert ema([4.0, 4.0, 4.0], 0.9).tolist() == [4.0, 4.0, 4.0]  # no pull towards the zero start
    # A NaN is passed through and does not count: 3 comes after one value, as its second.
    smoothed = ema([1.0, float("nan"), 3.0], 0.5)
    assert smoothed[0] == 1.0 and np.isnan(smoothed[1]) and smoothed[2] == 1.75 / 0.75
    smoother = Smoother(0.9)
    values = [2.0, 1.0, 0.7, 0.9, 0.3]
    assert [smoother.add(v) for v in values] == ema(values, 0.9).tolist()


def test_log_span_counts_decades_of_positive_values():
    assert log_span([2.0, 0.02, 0.0, -1.0, float("nan")]) == 2.0
    assert log_span([5.0]) == 0.0


def lstm_step_trace() -> Trace:
    """Two LSTM steps, one unit, with round numbers: f=0.93, i=0.12, c~=-0.3 at t=1, c_0=0.41."""
    gates = {
        "input": np.array([[[0.5], [0.12]]]),
        "forget": np.array([[[0.5], [0.93]]]),
        "candidate": np.array([[[0.82], [-0.3]]]),
        "output": np.array([[[0.5], [0.6]]]),
    }
    pre = {name: np.log(v / (1 - v)) if name != "candidate" else np.arctanh(v) for name, v in gates.items()}
    c1 = 0.93 * 0.41 + 0.12 * -0.3
    return Trace(
        cell="lstm",
        gates=gates,
        preactivations=pre,
        hidden=np.array([[[0.5 * np.tanh(0.41)], [0.6 * np.tanh(c1)]]]),
        cell_state=np.array([[[0.41], [c1]]]),
        grad_hidden_norm=np.array([[0.25, 0.5]]),
    )


def test_lstm_equations_show_every_factor_of_the_state_update():
    lines = equations(lstm_step_trace(), t=1, unit=0)
    assert lines[1] == "f_t = σ(x_t·W_f + h_{t-1}·U_f + b_f) = σ(2.59) = 0.93"
    assert lines[4] == "c_t = f·c_{t-1} + i·c~ = 0.93·0.41 + 0.12·(-0.30) = 0.35"
    assert lines[5] == "h_t = o·tanh(c_t) = 0.60·tanh(0.35) = 0.20"
    assert lines[6] == "||dL/dh_t|| = 0.5"


def test_first_step_reads_a_zero_previous_state():
    lines = equations(lstm_step_trace(), t=0, unit=0)
    assert lines[4] == "c_t = f·c_{t-1} + i·c~ = 0.50·0.00 + 0.50·0.82 = 0.41"


def test_gru_and_simple_rnn_equations_match_their_recorded_values():
    gru = make_trace("gru", batch=1, steps=3, units=2)
    lines = equations(gru, t=2, unit=1)
    z, g = gru.gates["update"][0, 2, 1], gru.gates["candidate"][0, 2, 1]
    h_prev, h = gru.hidden[0, 1, 1], gru.hidden[0, 2, 1]
    assert np.isclose(z * h_prev + (1 - z) * g, h)
    assert lines[3].startswith("h_t = z·h_{t-1} + (1-z)·h~ = ") and lines[3].endswith(f"= {h:.2f}")
    rnn = make_trace("simple_rnn", batch=1, steps=3, units=2)
    line = equations(rnn, t=1, unit=0)[0]
    assert line.startswith("h_t = tanh(x_t·W + h_{t-1}·U + b) = tanh(")
    assert line.endswith(f"= {rnn.hidden[0, 1, 0]:.2f}")


def test_render_trace_without_a_terminal_prints_plain_readable_characters():
    trace = make_trace("lstm", batch=2, steps=150, units=5)
    buffer = io.StringIO()
    console = Console(width=70, force_terminal=False, file=buffer)
    console.print(render_trace(trace, sample=1, width=70, colour=False))
    out = buffer.getvalue()
    assert "\x1b[" not in out
    for heading in ("input gate i", "forget gate f", "candidate c~", "output gate o", "cell state c",
                    "hidden state h", "||dL/dh_t|| by timestep (log scale)"):
        assert heading in out
    assert "(each column = mean of 3 steps)" in out  # 150 steps binned to fit 70 columns
    assert max(len(line) for line in out.splitlines()) <= 70


def test_render_trace_of_one_gate_only():
    trace = make_trace("gru", batch=1, steps=10, units=3)
    buffer = io.StringIO()
    console = Console(width=60, force_terminal=False, file=buffer)
    console.print(render_trace(trace, gate="reset", colour=False))
    out = buffer.getvalue()
    assert "reset gate r" in out and "update gate z" not in out


def test_inspect_command_reports_a_missing_model_in_one_line_and_returns_2(tmp_path, capsys):
    buffer = io.StringIO()
    status = inspect_command(tmp_path / "missing.npz", console=Console(file=buffer, width=100))
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing.npz" in err and "Traceback" not in err


def test_importing_the_core_does_not_import_textual():
    code = (
        "import sys, rnnsim, rnnsim.inspect, rnnsim.trace\n"
        "try:\n    import rnnsim.models\nexcept ImportError:\n    pass\n"
        "assert 'textual' not in sys.modules, sorted(m for m in sys.modules if m.startswith('textual'))\n"
        "assert 'tui' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_plot_colours_stay_readable_on_light_and_dark_backgrounds():
    from rnnsim.inspect import BASELINE_COLOUR, SERIES_COLOURS

    def luminance(hex_colour):
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    def contrast(a, b):
        high, low = sorted((luminance(a), luminance(b)), reverse=True)
        return (high + 0.05) / (low + 0.05)

    # textual-light's background, white, a dark terminal's grey, black: WCAG's 3:1 for graphics on each.
    for background in ("#e0e0e0", "#ffffff", "#1e1e1e", "#000000"):
        for colour in SERIES_COLOURS + [BASELINE_COLOUR]:
            assert contrast(colour, background) >= 3.0, (colour, background)


def test_colour_legend_frames_its_bar_so_the_light_end_shows_on_a_light_theme():
    assert legend(SEQUENTIAL, colour=True, width=5).plain == "0▕█████▏1"
