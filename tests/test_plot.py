"""rnnsim.plot: the figures' panels, titles, labels and data (not pixels), and the optional-extra rules."""

import ast
import io
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no window, the same on every machine

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rnnsim import plot  # noqa: E402
from rnnsim.callbacks import History  # noqa: E402
from rnnsim.cells.trace import Trace  # noqa: E402
from rnnsim.errors import InputError  # noqa: E402
from rnnsim.render.lineplot import mean_gradient_norm  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
B, T, U = 3, 12, 4


def lstm_trace(mask=None) -> Trace:
    """A hand-made LSTM trace: no kernels run, every array known."""
    rng = np.random.default_rng(0)
    gates = {name: rng.uniform(0, 1, (B, T, U)) for name in ("input", "forget", "output")}
    gates["candidate"] = rng.uniform(-1, 1, (B, T, U))
    gates = {name: gates[name] for name in ("input", "forget", "candidate", "output")}
    grad_hidden = np.geomspace(1e-6, 1.0, T)[None, :] * np.array([[1.0], [2.0], [4.0]])  # (B, T)
    return Trace(cell="lstm", gates=gates, preactivations={name: g * 2 for name, g in gates.items()},
                 hidden=rng.uniform(-1, 1, (B, T, U)), cell_state=rng.normal(0, 2, (B, T, U)), mask=mask,
                 grad_hidden_norm=grad_hidden, grad_cell_norm=grad_hidden * 3, layer_name="lstm_1")


def line(ax, label):
    found = [candidate for candidate in ax.get_lines() if candidate.get_label() == label]
    assert len(found) == 1, [candidate.get_label() for candidate in ax.get_lines()]
    return found[0]


def test_gate_heatmaps_draw_one_panel_per_gate_with_units_down_and_time_across():
    trace = lstm_trace()
    figure = plot.gate_heatmaps(trace, sample=1)
    panels = [ax for ax in figure.axes if ax.images]
    assert [ax.get_title(loc="left") for ax in panels] == [
        "input gate i_t", "forget gate f_t", "candidate c~_t (tanh)", "output gate o_t"]
    for ax, name in zip(panels, trace.gate_names):
        image = ax.images[0]
        np.testing.assert_array_equal(image.get_array(), trace.gates[name][1].T)  # (U, T)
        assert image.get_clim() == ((-1.0, 1.0) if name == "candidate" else (0.0, 1.0))
        assert ax.get_ylabel() == "unit"
    assert panels[-1].get_xlabel() == "timestep t"
    assert figure._suptitle.get_text() == "LSTM (lstm_1): gates of sample 1, 12 steps"
    assert len(figure.axes) == 8  # four panels, four colour bars


def test_gate_heatmaps_put_words_and_marks_on_the_time_axis_and_grey_out_padding():
    mask = np.ones((B, T), dtype=bool)
    mask[0, :3] = False  # padded in front, as pad_sequences does
    words = [f"word{t}" for t in range(T)]
    figure = plot.gate_heatmaps(lstm_trace(mask), gates=["forget", "cell_state", "hidden"], units=[0, 2],
                                labels=words, marks=[4, 9])
    forget, cell, hidden = [ax for ax in figure.axes if ax.images]
    assert [t.get_text() for t in hidden.get_xticklabels()] == words
    image = forget.images[0].get_array()
    assert image.shape == (2, T) and np.ma.is_masked(image) and image.mask[:, :3].all() and not image.mask[:, 3:].any()
    assert cell.get_title(loc="left") == "cell state c_t" and hidden.get_title(loc="left") == "hidden state h_t"
    low, high = cell.images[0].get_clim()
    assert high > 0 and low == -high  # a signed scale centred on 0
    marks = [ln.get_xdata()[0] for ln in forget.get_lines() if ln.get_linestyle() == "--"]
    assert marks == [4.0, 9.0]


def test_gate_heatmaps_can_show_a_window_of_timesteps_with_their_numbers():
    trace = lstm_trace()
    words = [f"w{t}" for t in range(T)]
    figure = plot.gate_heatmaps(trace, gates=["forget"], steps=range(8, 12), labels=words, marks=[9])
    ax = figure.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), trace.gates["forget"][0, 8:12].T)
    assert ax.images[0].get_extent() == [7.5, 11.5, 3.5, -0.5]  # x counts the trace's timesteps
    assert [t.get_text() for t in ax.get_xticklabels()] == ["w8", "w9", "w10", "w11"]
    assert list(ax.get_xticks()) == [8, 9, 10, 11]
    assert figure._suptitle.get_text() == "LSTM (lstm_1): gates of sample 0, steps 8-11 of 12"
    sliced = plot.gate_heatmaps(trace, gates=["forget"], steps=slice(-3, None)).axes[0]
    assert sliced.images[0].get_array().shape == (U, 3)
    with pytest.raises(InputError, match=r"steps must be a range of consecutive timesteps within 0\.\.11"):
        plot.gate_heatmaps(trace, steps=range(10, 20))


def test_gate_heatmaps_refuse_bad_requests_with_one_line():
    trace = lstm_trace()
    for arguments, fragment in (
        ({"gates": ["update"]}, "has no gate 'update'; its gates are input, forget, candidate, output"),
        ({"sample": 3}, r"sample must be an int in 0\.\.2"),
        ({"labels": ["a", "b"]}, "labels has 2 entries but there are 12 timesteps"),
        ({"units": [7]}, r"units must be indices in 0\.\.3"),
    ):
        with pytest.raises(InputError, match=fragment):
            plot.gate_heatmaps(trace, **arguments)
    with pytest.raises(InputError, match="needs a Trace"):
        plot.gate_heatmaps(np.zeros((2, 3)))


def test_gradient_by_timestep_is_a_log_plot_of_the_batch_mean_or_one_sample():
    trace = lstm_trace()
    figure = plot.gradient_by_timestep(trace)
    ax = figure.axes[0]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "timestep t" and ax.get_ylabel() == "gradient norm"
    # the batch's curve is the geometric mean, as the app draws it (render.lineplot.mean_gradient_norm)
    hidden = line(ax, "||dL/dh_t|| (geometric mean of 3 samples)")
    np.testing.assert_allclose(hidden.get_ydata(), np.exp(np.log(trace.grad_hidden_norm).mean(axis=0)))
    np.testing.assert_allclose(hidden.get_ydata(), mean_gradient_norm(trace))
    np.testing.assert_array_equal(hidden.get_xdata(), np.arange(T))
    np.testing.assert_allclose(line(ax, "||dL/dc_t|| (cell state)").get_ydata(),
                               np.exp(np.log(trace.grad_cell_norm).mean(axis=0)))
    one = plot.gradient_by_timestep(trace, sample=2).axes[0]
    np.testing.assert_allclose(line(one, "||dL/dh_t|| (sample 2)").get_ydata(), trace.grad_hidden_norm[2])
    plain = plot.gradient_by_timestep([4.0, 2.0, 1.0], label="mine").axes[0]
    np.testing.assert_array_equal(line(plain, "mine").get_ydata(), [4.0, 2.0, 1.0])
    # a sample whose gradient underflowed to 0 counts as 1e-38 (the app's rule), not as a curve of zeros
    underflowed = plot.gradient_by_timestep([[1e-2, 1.0], [0.0, 1.0]]).axes[0]
    np.testing.assert_allclose(line(underflowed, "||dL/dh_t|| (geometric mean of 2 samples)").get_ydata(),
                               [1e-20, 1.0])
    curves = plot.compare_gradients({"LSTM": trace}).axes[0]
    np.testing.assert_allclose(line(curves, "LSTM").get_ydata(), mean_gradient_norm(trace))


def test_gradient_plots_need_the_backward_pass():
    trace = lstm_trace()
    trace.grad_hidden_norm = None
    with pytest.raises(InputError, match="no gradients yet: run the backward pass"):
        plot.gradient_by_timestep(trace)
    with pytest.raises(InputError, match=r"must be a \(timesteps,\) or \(batch, timesteps\) array"):
        plot.gradient_by_timestep(np.zeros((2, 3, 4)))


def test_compare_gradients_overlays_the_cells_in_order_and_can_scale_by_the_last_step():
    curves = {"SimpleRNN": np.geomspace(1e-8, 1, 10), "LSTM": np.geomspace(1e-2, 2, 10),
              "GRU": np.tile(np.geomspace(1e-3, 4, 10), (5, 1))}
    ax = plot.compare_gradients(curves).axes[0]
    assert [ln.get_label() for ln in ax.get_lines()] == ["SimpleRNN", "LSTM", "GRU"]
    assert ax.get_title() == "Gradient by timestep: SimpleRNN vs LSTM vs GRU" and ax.get_yscale() == "log"
    np.testing.assert_allclose(line(ax, "GRU").get_ydata(), np.geomspace(1e-3, 4, 10))
    relative = plot.compare_gradients(curves, relative=True).axes[0]
    assert [ln.get_ydata()[-1] for ln in relative.get_lines()] == pytest.approx([1.0, 1.0, 1.0])
    assert relative.get_ylabel() == "||dL/dh_t|| / ||dL/dh_T||"
    with pytest.raises(InputError, match="needs a dict"):
        plot.compare_gradients([np.ones(3)])


def test_per_step_gain_is_the_ratio_of_consecutive_norms():
    np.testing.assert_allclose(plot.per_step_gain([8.0, 4.0, 2.0, 1.0]), [2.0, 2.0, 2.0])
    gains = plot.per_step_gain(np.array([[1.0, 2.0, 4.0], [0.0, 0.0, 1.0]]))
    np.testing.assert_allclose(gains, [[0.5, 0.5], [np.nan, 0.0]])
    with pytest.raises(InputError, match="at least 2 timesteps"):
        plot.per_step_gain([1.0])


def test_step_gain_plots_g_t_at_t_with_a_line_at_one_and_averages_samples_geometrically():
    norms = np.array([[1.0, 2.0, 4.0, 8.0], [1.0, 8.0, 64.0, 512.0]])
    ax = plot.step_gain(norms).axes[0]
    gain = line(ax, "g_t (geometric mean of 2 samples)")
    np.testing.assert_array_equal(gain.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(gain.get_ydata(), [0.25, 0.25, 0.25])  # sqrt(0.5 * 0.125)
    assert line(ax, "gain 1: the gradient keeps its size").get_ydata()[0] == 1.0
    assert ax.get_ylabel() == "g_t = ||dL/dh_{t-1}|| / ||dL/dh_t||" and ax.get_yscale() == "log"
    one = plot.step_gain(norms, sample=1).axes[0]
    np.testing.assert_allclose(line(one, "g_t (sample 1)").get_ydata(), [0.125] * 3)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_step_gain_of_a_trace_is_the_analysis_gain_in_the_order_the_layer_read(go_backwards):
    # a layer that reads last-to-first steps back from t to t+1: its gains are not the forward ratios
    from rnnsim.analysis.gain import gain_profile
    from rnnsim.cells import make_cell

    rng = np.random.default_rng(2)
    cell = make_cell("gru", 5)
    weights = cell.init_weights(3, rng)
    result = cell.forward(rng.normal(size=(4, 9, 3)).astype(np.float32), weights, go_backwards=go_backwards,
                          record_trace=True)
    cell.backward(result, grad_final_states=(np.ones((4, 5), np.float32),))
    ax = plot.step_gain(result.trace).axes[0]
    gain = line(ax, "g_t (geometric mean of 4 samples)")
    np.testing.assert_array_equal(gain.get_xdata(), np.arange(9))
    np.testing.assert_allclose(gain.get_ydata(), gain_profile(result.trace).gain)  # NaN at the first step read
    assert np.isnan(gain.get_ydata()[8 if go_backwards else 0])
    one = line(plot.step_gain(result.trace, sample=2).axes[0], "g_t (sample 2)")
    np.testing.assert_allclose(one.get_ydata(), gain_profile(result.trace, 2).gain)


def test_input_connectivity_plots_dy_dx_by_position_with_the_words():
    values = np.array([0.01, 0.1, 1.0, 0.5])
    ax = plot.input_connectivity(values, labels=["the", "film", "was", "great"], marks=[2]).axes[0]
    np.testing.assert_array_equal(line(ax, "||dy/dx_t||").get_ydata(), values)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["the", "film", "was", "great"]
    assert ax.get_xlabel() == "input position t" and ax.get_ylabel() == "||dy/dx_t||"
    batch = plot.input_connectivity(np.stack([values, 3 * values])).axes[0]
    np.testing.assert_allclose(line(batch, "||dy/dx_t|| (mean of 2 samples)").get_ydata(), 2 * values)
    with pytest.raises(InputError, match="not a Trace"):
        plot.input_connectivity(lstm_trace())


HISTORY = {"loss": [0.69, 0.5, 0.4], "acc": [0.5, 0.7, 0.8], "val_loss": [0.6, 0.55, 0.58],
           "val_acc": [0.6, 0.72, 0.74]}


def test_training_history_draws_the_books_two_plots():
    figure = plot.training_history(HISTORY)
    accuracy, loss = figure.axes
    assert accuracy.get_title() == "Training and validation accuracy"
    assert loss.get_title() == "Training and validation loss" and loss.get_xlabel() == "epoch"
    training = line(accuracy, "Training acc")
    assert training.get_linestyle() == "None" and training.get_marker() == "o" and training.get_color() == "b"
    np.testing.assert_array_equal(training.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(line(accuracy, "Validation acc").get_ydata(), HISTORY["val_acc"])
    np.testing.assert_array_equal(line(loss, "Training loss").get_ydata(), HISTORY["loss"])


def test_training_history_reads_a_history_object_or_history_json_and_picks_the_metric():
    recorded = History()
    recorded.history = {"loss": [1.0, 0.5], "mae": [0.9, 0.4]}
    figure = plot.training_history(recorded)
    assert [ax.get_title() for ax in figure.axes] == ["Training and validation MAE", "Training and validation loss"]
    run_file = {"epochs_done": 3, "history": HISTORY}  # history.json as `rnnsim train` writes it
    assert len(plot.training_history(run_file, metric="val_loss").axes) == 2
    only_loss = plot.training_history({"loss": [1.0], "val_loss": [2.0]})
    assert [ax.get_title() for ax in only_loss.axes] == ["Training and validation loss"]
    with pytest.raises(InputError, match="the history has no 'auc'; it has loss, acc, val_loss, val_acc"):
        plot.training_history(HISTORY, metric="auc")
    with pytest.raises(InputError, match="no per-epoch values"):
        plot.training_history({"loss": []})
    with pytest.raises(InputError, match="needs a History"):
        plot.training_history([0.1, 0.2])


def test_the_books_plotting_code_runs_unchanged_on_rnnsims_history():
    from rnnsim.layers import Dense, Embedding, SimpleRNN
    from rnnsim.models import Sequential

    rng = np.random.default_rng(0)
    x_train = rng.integers(1, 50, (64, 10))
    y_train = (x_train[:, -1] > 25).astype(np.int64)
    model = Sequential()
    model.add(Embedding(50, 4))
    model.add(SimpleRNN(4))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    history = model.fit(x_train, y_train, epochs=2, batch_size=16, validation_split=0.2, verbose=0)

    plt.close("all")
    # Deep Learning with Python, listing 6.23, verbatim:
    acc = history.history['acc']
    val_acc = history.history['val_acc']
    loss = history.history['loss']
    val_loss = history.history['val_loss']
    epochs = range(1, len(acc) + 1)
    plt.plot(epochs, acc, 'bo', label='Training acc')
    plt.plot(epochs, val_acc, 'b', label='Validation acc')
    plt.title('Training and validation accuracy')
    plt.legend()
    plt.figure()
    plt.plot(epochs, loss, 'bo', label='Training loss')
    plt.plot(epochs, val_loss, 'b', label='Validation loss')
    plt.title('Training and validation loss')
    plt.legend()
    plt.show()

    first, second = (plt.figure(number).axes[0] for number in plt.get_fignums())
    np.testing.assert_allclose(line(first, "Validation acc").get_ydata(), history.history["val_acc"])
    np.testing.assert_allclose(line(second, "Training loss").get_ydata(), history.history["loss"])
    assert len(acc) == 2 and all(0.0 <= value <= 1.0 for value in acc + val_acc)
    plt.close("all")
    ours = plot.training_history(history)
    np.testing.assert_allclose(line(ours.axes[1], "Validation loss").get_ydata(), val_loss)


def test_figures_are_detached_from_pyplot_unless_drawn_into_your_own_axes():
    plt.close("all")
    figure = plot.gradient_by_timestep([3.0, 2.0, 1.0])
    assert plt.get_fignums() == []  # a notebook shows it once, as the returned value
    mine, ax = plt.subplots()
    assert plot.step_gain([3.0, 2.0, 1.0], ax=ax) is mine and plt.get_fignums() == [mine.number]
    assert figure.axes[0].get_lines()
    mine2, axes = plt.subplots(2, 1)
    assert plot.training_history(HISTORY, axes=axes) is mine2
    with pytest.raises(InputError, match="axes holds 1 Axes but the picture has 2 panels"):
        plot.training_history(HISTORY, axes=[ax])
    plt.close("all")


@pytest.mark.parametrize("kind, magic", [("png", b"\x89PNG\r\n\x1a\n"), ("svg", b"<?xml")])
def test_figures_save_as_png_and_svg(kind, magic):
    stream = io.BytesIO()
    plot.gate_heatmaps(lstm_trace(), labels=list("abcdefghijkl")).savefig(stream, format=kind)
    data = stream.getvalue()
    assert data.startswith(magic) and len(data) > 5_000
    if kind == "svg":
        assert b"<svg" in data[:1000] and b"forget gate" in data


def test_import_rnnsim_never_imports_matplotlib():
    code = ("import sys, rnnsim, rnnsim.datasets, rnnsim.callbacks, rnnsim.errors; "
            "print(sorted(name for name in sys.modules if name.split('.')[0] == 'matplotlib'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"


def test_only_rnnsim_plot_imports_matplotlib_and_it_imports_no_model_data_or_screen():
    offenders, plot_imports = [], set()
    for path in sorted((REPO / "rnnsim").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        if path == REPO / "rnnsim" / "plot.py":
            plot_imports = names
        elif any(name.split(".")[0] == "matplotlib" for name in names):
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
    assert "matplotlib.pyplot" in plot_imports
    forbidden = ("textual", "tui", "rnnsim.models", "rnnsim.layers", "rnnsim.datasets", "rnnsim.checkpoint")
    assert [name for name in plot_imports if name.startswith(forbidden)] == []


def test_without_matplotlib_the_plots_say_how_to_install_it_in_one_line():
    code = ("import sys; sys.modules['matplotlib'] = None; sys.modules['matplotlib.pyplot'] = None\n"
            "from rnnsim import plot\n"
            "from rnnsim.errors import InputError\n"
            "try:\n    plot.training_history({'loss': [1.0]})\n"
            "except InputError as error:\n    print(error)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.splitlines() == [
        'rnnsim.plot needs matplotlib, which is not installed: pip install "rnnsim[plot]" '
        '(in a clone: pip install -e ".[plot]")']
