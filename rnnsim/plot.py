"""Pictures of what a recurrent network did, for notebooks and slides (matplotlib, an optional extra).

    pip install -e ".[plot]"            # or: pip install matplotlib

    from rnnsim import plot
    plot.gate_heatmaps(trace, sample=0, labels=words)   # one heatmap per gate: units x timesteps
    plot.gradient_by_timestep(trace)                    # ||dL/dh_t|| by timestep, log scale
    plot.compare_gradients({"SimpleRNN": rnn, "LSTM": lstm, "GRU": gru})    # the three cells, one plot
    plot.step_gain(trace)                               # g_t = ||dL/dh_{t-1}|| / ||dL/dh_t||
    plot.input_connectivity(norms, labels=words)        # ||dy/dx_t|| by input position
    plot.training_history(history)                      # the book's two plots: accuracy and loss

These are the views `rnnsim inspect` and the terminal app draw with characters, drawn with
matplotlib. Each function returns the matplotlib `Figure`: a notebook shows it once, as the
cell's value, and `fig.savefig("gates.svg")` makes a slide. Functions with one panel take
`ax=` to draw into a figure of your own (the figure is then yours: it is returned, not closed);
the multi-panel ones take `axes=`. A figure made here is detached from pyplot's list of open
figures, so it is not drawn twice in a notebook and not kept alive by pyplot.

They read a `Trace` (rnnsim.cells.trace), plain arrays or a training history; never a model or
a data set. `import rnnsim` does not import matplotlib; this module imports it on first use,
and says how to install it when it is missing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from rnnsim.analysis.gain import gain_profile, mean_norms
from rnnsim.errors import InputError

INSTALL_HINT = 'pip install "rnnsim[plot]" (in a clone: pip install -e ".[plot]")'
# Sigmoid gates live in [0, 1] and tanh values in [-1, 1]: fixed colour ranges keep two pictures comparable.
SIGMOID_COLOURS = "viridis"
SIGNED_COLOURS = "RdBu_r"
MASKED_COLOUR = "#d9d9d9"  # padded steps (Trace.mask False)
SAVE_FORMATS = ("svg", "png", "pdf")  # what `save` (and `rnnsim inspect --save`) writes
MAX_WORD_TICKS = 40  # more word labels than this on one axis overlap; every n-th is shown
CELL_TITLES = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}  # a Trace's cell key -> Keras's name


def _pyplot():
    """matplotlib.pyplot, or an InputError that says how to install it."""
    try:
        import matplotlib.pyplot as pyplot
    except ImportError:
        raise InputError(f"rnnsim.plot needs matplotlib, which is not installed: {INSTALL_HINT}") from None
    return pyplot


def use_file_backend() -> None:
    """Draw without a window (matplotlib's Agg), for writing files; left alone where pyplot is in use (a notebook).

    Raises:
        InputError: matplotlib is not installed (the message says how to install it).
    """
    try:
        import matplotlib
    except ImportError:
        raise InputError(f"rnnsim.plot needs matplotlib, which is not installed: {INSTALL_HINT}") from None
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")


def _figure(rows: int, width: float, height: float, sharex: bool = True):
    """A new figure with `rows` panels in one column, detached from pyplot (see the module docstring)."""
    pyplot = _pyplot()
    # pyplot (not Figure()) so that a notebook's inline backend is set up and shows the figure; closing it
    # here means the notebook shows it once, as the returned value, instead of once more at the cell's end.
    figure, axes = pyplot.subplots(rows, 1, figsize=(width, height), squeeze=False, sharex=sharex,
                                   layout="constrained")
    pyplot.close(figure)
    return figure, list(axes[:, 0])


def _one_axes(ax, width: float = 8.0, height: float = 3.6):
    if ax is not None:
        return ax.figure, ax
    figure, axes = _figure(1, width, height)
    return figure, axes[0]


def _panel_axes(axes, count: int, width: float, height_each: float):
    if axes is None:
        return _figure(count, width, 0.9 + height_each * count)
    axes = list(np.ravel(axes)) if not isinstance(axes, Sequence) else list(axes)
    if len(axes) != count:
        raise InputError(f"axes holds {len(axes)} Axes but the picture has {count} panels; pass {count}")
    return axes[0].figure, axes


# ----------------------------------------------------------------------------------------- inputs


def _is_trace(source) -> bool:
    return hasattr(source, "grad_hidden_norm") and hasattr(source, "gates")


def _norms(source, what: str) -> np.ndarray:
    """A Trace's ||dL/dh_t|| (B, T), or the (T,) / (B, T) array given, as float64."""
    if _is_trace(source):
        if source.grad_hidden_norm is None:
            raise InputError("the trace has no gradients yet: run the backward pass on it (cell.backward, or "
                             "a probe with gradients) before plotting them")
        source = source.grad_hidden_norm
    values = np.asarray(source, dtype=np.float64)
    if values.ndim not in (1, 2) or values.shape[-1] < 1:
        raise InputError(f"{what} must be a (timesteps,) or (batch, timesteps) array (or a Trace), "
                         f"got shape {values.shape}")
    return values


def _pick_sample(values: np.ndarray, sample: int | None, mean: str = "arithmetic") -> tuple[np.ndarray, str]:
    """One sample's row of a (B, T) array, or the mean over the batch; and words for the legend.

    `mean`: 'arithmetic'; 'ratios' (gains: the mean of their logarithms); 'norms' (gradient norms, as the
    app averages them, `analysis.gain.mean_norms`: geometric, 0 counted as 1e-38, so that a notebook's
    curve and the app's are the same numbers)."""
    if values.ndim == 1:
        return values, ""
    if sample is not None:
        _check_sample(sample, values.shape[0])
        return values[sample], f"sample {sample}"
    if values.shape[0] == 1:
        return values[0], ""
    if mean == "norms":
        return mean_norms(values), f"geometric mean of {values.shape[0]} samples"
    if mean == "ratios":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.exp(np.nanmean(np.log(values), axis=0)), f"geometric mean of {values.shape[0]} samples"
    return values.mean(axis=0), f"mean of {values.shape[0]} samples"


def _check_sample(sample, batch: int) -> None:
    if not isinstance(sample, (int, np.integer)) or not 0 <= sample < batch:
        raise InputError(f"sample must be an int in 0..{batch - 1} (the batch has {batch}), got {sample!r}")


def _label_time_axis(ax, timesteps: int, labels: Sequence[str] | None, first: int = 0) -> None:
    """Word (or value) labels under the timesteps `first`..; every n-th when there are too many."""
    if labels is None:
        return
    labels = [str(label) for label in labels]
    if len(labels) != timesteps:
        raise InputError(f"labels has {len(labels)} entries but there are {timesteps} timesteps; pass one per "
                         f"timestep")
    every = max(1, -(-len(labels) // MAX_WORD_TICKS))
    positions = list(range(0, len(labels), every))
    ax.set_xticks([first + position for position in positions])
    ax.set_xticklabels([labels[position] for position in positions], rotation=90, fontsize=8)


def _draw_marks(ax, marks: Sequence[int] | None, colour: str = "black") -> None:
    """Vertical lines at the timesteps a task points out (the adding problem's markers, a delimiter, ...)."""
    for position in [] if marks is None else np.ravel(marks):
        ax.axvline(float(position), color=colour, linestyle="--", linewidth=1.0, alpha=0.8)


def _shade_masked(ax, mask: np.ndarray | None) -> None:
    """Grey bands over padded steps (mask False), so a flat gradient there reads as padding."""
    if mask is None:
        return
    for t in np.flatnonzero(~np.asarray(mask, dtype=bool)):
        ax.axvspan(t - 0.5, t + 0.5, color=MASKED_COLOUR, alpha=0.6, linewidth=0)


def _log_axis(ax) -> None:
    ax.set_yscale("log", nonpositive="mask")  # a zero gradient (a padded step) leaves a gap, not an error
    ax.grid(True, which="major", alpha=0.3)


# ----------------------------------------------------------------------------------------- gates


def _time_window(steps, timesteps: int) -> range:
    """The timesteps a heatmap shows: all of them, or a range (or slice) of consecutive ones."""
    if steps is None:
        return range(timesteps)
    window = range(timesteps)[steps] if isinstance(steps, slice) else steps
    if not isinstance(window, range) or len(window) == 0 or window.step != 1 or window.start < 0 \
            or window.stop > timesteps:
        raise InputError(f"steps must be a range of consecutive timesteps within 0..{timesteps - 1}, got {steps!r}")
    return window


def _panel_values(trace, name: str, sample: int) -> tuple[np.ndarray, str, str, float, float]:
    """(values (T, U), title, colour map, vmin, vmax) of one panel: a gate, the hidden or the cell state."""
    if name == "hidden":
        return trace.hidden[sample], "hidden state h_t", SIGNED_COLOURS, -1.0, 1.0
    if name == "cell_state":
        if trace.cell_state is None:
            raise InputError(f"a {trace.cell} trace has no cell state (only an LSTM's has)")
        values = trace.cell_state[sample]
        reach = max(float(np.nanmax(np.abs(values))), 1e-12)
        return values, "cell state c_t", SIGNED_COLOURS, -reach, reach
    if name not in trace.gates:
        raise InputError(f"a {trace.cell} trace has no gate {name!r}; its gates are "
                         f"{', '.join(trace.gate_names)} (or 'hidden', 'cell_state')")
    symbol = trace.spec.symbol(name)
    if name == "candidate":
        return trace.gates[name][sample], f"candidate {symbol}_t (tanh)", SIGNED_COLOURS, -1.0, 1.0
    return trace.gates[name][sample], f"{name} gate {symbol}_t", SIGMOID_COLOURS, 0.0, 1.0


def gate_heatmaps(trace, sample: int = 0, *, gates: Sequence[str] | None = None, units: Sequence[int] | None = None,
                  labels: Sequence[str] | None = None, marks: Sequence[int] | None = None, title: str | None = None,
                  steps: range | slice | None = None, axes=None):
    """One heatmap per gate of one sample: units down, timesteps across.

    Args:
        trace: a `Trace` (from `cell.forward(..., record_trace=True)`, a layer or a model's probe).
        sample: which sample of the batch. Default 0.
        gates: the panels, by name: any of the trace's gates ('forget', 'update', 'candidate', ...) and
            'hidden' or 'cell_state'. Default None: every gate, in Keras's block order.
        units: the units to show, e.g. range(8). Default None: all.
        labels: one label per timestep under the time axis (the words of a review, a task's `decode`):
            one per timestep of the trace, or one per step shown. Default None: timestep numbers.
        marks: timesteps to mark with a dashed line (e.g. the adding problem's markers). Default None.
        title: the figure's title. Default None: the cell, its layer and the sample.
        steps: the timesteps to show, e.g. range(440, 500) for a review's last 60 words; the axis keeps
            their numbers. Default None: all.
        axes: one Axes per panel to draw into. Default None: a new figure.

    Returns:
        The Figure. Sigmoid gates are coloured on [0, 1], tanh values on [-1, 1]; padded steps are grey.
    """
    if not _is_trace(trace):
        raise InputError(f"gate_heatmaps needs a Trace (record_trace=True), got {type(trace).__name__}")
    _check_sample(sample, trace.batch_size)
    names = list(trace.gate_names if gates is None else ([gates] if isinstance(gates, str) else gates))
    if not names:
        raise InputError("gates is empty; name at least one gate (or leave it None for all)")
    chosen = np.arange(trace.units) if units is None else np.asarray(list(units), dtype=np.int64)
    if chosen.size == 0 or chosen.min() < 0 or chosen.max() >= trace.units:
        raise InputError(f"units must be indices in 0..{trace.units - 1}, got {list(chosen)}")
    window = _time_window(steps, trace.timesteps)
    time = slice(window.start, window.stop)
    if labels is not None and len(labels) == trace.timesteps:
        labels = list(labels)[time]
    figure, axes = _panel_axes(axes, len(names), 10.0, 1.3 + 0.04 * len(chosen))
    mask = None if trace.mask is None else np.asarray(trace.mask[sample], dtype=bool)[time]
    pyplot = _pyplot()
    from matplotlib.ticker import MaxNLocator

    extent = (window.start - 0.5, window.stop - 0.5, len(chosen) - 0.5, -0.5)  # the x axis counts timesteps
    for ax, name in zip(axes, names):
        values, heading, colours, low, high = _panel_values(trace, name, sample)
        image = np.array(values[time][:, chosen].T, dtype=np.float64)  # (U, T): units down, timesteps across
        if mask is not None:
            image[:, ~mask] = np.nan  # padded steps carry the state over: shown grey, not as values
        colour_map = pyplot.get_cmap(colours).with_extremes(bad=MASKED_COLOUR)
        shown = ax.imshow(image, aspect="auto", interpolation="nearest", cmap=colour_map, vmin=low, vmax=high,
                          extent=extent)
        ax.set_title(heading, loc="left", fontsize=10)
        ax.set_ylabel("unit")
        if len(chosen) <= 16:
            ax.set_yticks(range(len(chosen)), [str(unit) for unit in chosen], fontsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # timesteps are whole numbers
        _draw_marks(ax, marks, colour="white" if colours == SIGMOID_COLOURS else "black")
        figure.colorbar(shown, ax=ax, pad=0.01, fraction=0.04)
    axes[-1].set_xlabel("timestep t")
    _label_time_axis(axes[-1], len(window), labels, first=window.start)
    layer = f" ({trace.layer_name})" if trace.layer_name else ""
    cell = CELL_TITLES.get(trace.cell, trace.cell)
    shown = f"steps {window.start}-{window.stop - 1} of {trace.timesteps}" if len(window) < trace.timesteps else (
        f"{trace.timesteps} steps")
    figure.suptitle(title or f"{cell}{layer}: gates of sample {sample}, {shown}", fontsize=11)
    return figure


# ----------------------------------------------------------------------------------------- gradients


def gradient_by_timestep(source, *, sample: int | None = None, labels: Sequence[str] | None = None,
                         marks: Sequence[int] | None = None, label: str | None = None, ax=None):
    """||dL/dh_t||, the gradient reaching each timestep, on a log scale: the vanishing gradient.

    Args:
        source: a `Trace` after its backward pass (an LSTM's ||dL/dc_t|| is drawn too, dashed), or an
            array of norms, (timesteps,) or (batch, timesteps).
        sample: which sample of a batch. Default None: the geometric mean over the batch (as the app shows
            it; a norm of 0, underflowed, counts as 1e-38).
        labels: one label per timestep under the time axis. Default None: timestep numbers.
        marks: timesteps to mark with a dashed line. Default None.
        label: the legend entry of the line. Default None: '||dL/dh_t||' (and the sample or the mean).
        ax: an Axes to draw into. Default None: a new figure.

    Returns:
        The Figure. Padded steps of a masked Trace are shaded grey.
    """
    norms, how = _pick_sample(_norms(source, "the gradient norms"), sample, mean="norms")
    figure, ax = _one_axes(ax)
    steps = np.arange(len(norms))
    legend = label or ("||dL/dh_t||" + (f" ({how})" if how else ""))
    ax.plot(steps, norms, marker="o", markersize=2.5, linewidth=1.4, label=legend)
    if _is_trace(source):
        if source.grad_cell_norm is not None:
            cell_norms, _ = _pick_sample(np.asarray(source.grad_cell_norm, dtype=np.float64), sample, mean="norms")
            ax.plot(steps, cell_norms, linestyle="--", linewidth=1.2, label="||dL/dc_t|| (cell state)")
        if source.mask is not None and (sample is not None or source.batch_size == 1):
            _shade_masked(ax, source.mask[sample or 0])
    _log_axis(ax)
    _draw_marks(ax, marks)
    ax.set_xlabel("timestep t")
    ax.set_ylabel("gradient norm")
    ax.set_title("Gradient reaching each timestep (the loss is at the last)")
    _label_time_axis(ax, len(norms), labels)
    ax.legend(loc="best", fontsize=8)
    return figure


def compare_gradients(curves: Mapping[str, object], *, relative: bool = False, ax=None):
    """Several cells' ||dL/dh_t|| curves on one log-scale plot: SimpleRNN vs LSTM vs GRU.

    Args:
        curves: {name: a Trace or an array of norms, (timesteps,) or (batch, timesteps)}, e.g.
            {"SimpleRNN": rnn_trace, "LSTM": lstm_trace, "GRU": gru_trace}. A batch is averaged geometrically,
            as in the app.
        relative: divide each curve by its last step's value, where the loss enters, so that curves of
            different sizes compare as "how much of the gradient is left t steps back". Default False.
        ax: an Axes to draw into. Default None: a new figure.

    Returns:
        The Figure, one line per entry, in the order given.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise InputError("compare_gradients needs a dict {name: trace or norms}, e.g. {'LSTM': trace}")
    figure, ax = _one_axes(ax)
    for name, source in curves.items():
        norms, _ = _pick_sample(_norms(source, f"the curve {name!r}"), None, mean="norms")
        if relative:
            last = norms[-1]
            if not last > 0:
                raise InputError(f"the curve {name!r} is zero at its last step; plot it with relative=False")
            norms = norms / last
        ax.plot(np.arange(len(norms)), norms, linewidth=1.6, label=str(name))
    _log_axis(ax)
    ax.set_xlabel("timestep t")
    ax.set_ylabel("||dL/dh_t|| / ||dL/dh_T||" if relative else "||dL/dh_t||")
    ax.set_title("Gradient by timestep: " + " vs ".join(str(name) for name in curves))
    ax.legend(loc="best", fontsize=8)
    return figure


def per_step_gain(norms) -> np.ndarray:
    """g_t = ||dL/dh_{t-1}|| / ||dL/dh_t|| for t = 1 .. T-1: how much one step back multiplies the gradient.

    Args:
        norms: ||dL/dh_t||, (timesteps,) or (batch, timesteps), or a Trace after its backward pass.

    Returns:
        (..., T-1) float64; entry t-1 is g_t. Below 1 the gradient shrinks going back; a run of gains
        below 1 is the vanishing gradient. 0/0 (padded steps) gives nan.
    """
    values = _norms(norms, "norms")
    if values.shape[-1] < 2:
        raise InputError("a per-step gain needs at least 2 timesteps")
    with np.errstate(divide="ignore", invalid="ignore"):
        return values[..., :-1] / values[..., 1:]


def step_gain(source, *, sample: int | None = None, labels: Sequence[str] | None = None, ax=None):
    """The per-step gain g_t = ||dL/dh_{t-1}|| / ||dL/dh_t||, on a log scale around 1.

    Args:
        source: a Trace after its backward pass, or norms (timesteps,) or (batch, timesteps).
        sample: which sample of a batch. Default None: the geometric mean of the samples' gains.
        labels: one label per timestep (T of them; the gain g_t sits at timestep t). Default None.
        ax: an Axes to draw into. Default None: a new figure.

    Returns:
        The Figure: the gains at t = 1 .. T-1 and a line at 1 (the gradient keeps its size).
    """
    if _is_trace(source):  # the analysis' own gains: a layer that reads backwards steps back the other way
        _norms(source, "source")  # one line when its backward pass has not run
        if sample is not None:
            _check_sample(sample, source.batch_size)
        profile = gain_profile(source, sample)
        gains, steps = profile.gain, np.arange(source.timesteps)  # NaN at the first step processed
        how = f"sample {sample}" if sample is not None else (
            f"geometric mean of {profile.samples} samples" if profile.samples > 1 else "")
    else:
        gains, how = _pick_sample(per_step_gain(source), sample, mean="ratios")
        steps = np.arange(1, len(gains) + 1)
    figure, ax = _one_axes(ax)
    ax.plot(steps, gains, marker="o", markersize=2.5, linewidth=1.4,
            label="g_t" + (f" ({how})" if how else ""))
    ax.axhline(1.0, color="grey", linestyle=":", linewidth=1.2, label="gain 1: the gradient keeps its size")
    _log_axis(ax)
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda value, _position: f"{value:g}")  # 0.8, not 8 x 10^-1: gains sit near 1
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.set_xlabel("timestep t")
    ax.set_ylabel("g_t = ||dL/dh_{t-1}|| / ||dL/dh_t||")
    ax.set_title("Per-step gain of the gradient (below 1: it shrinks going back)")
    if labels is not None:
        _label_time_axis(ax, int(steps[-1]) + 1, labels)
    ax.legend(loc="best", fontsize=8)
    return figure


def input_connectivity(values, *, sample: int | None = None, labels: Sequence[str] | None = None,
                       marks: Sequence[int] | None = None, ax=None):
    """||dy/dx_t||: how strongly the output depends on each input position, on a log scale.

    Args:
        values: (timesteps,) or (batch, timesteps) norms of the output's gradient with respect to each input.
        sample: which sample of a batch. Default None: the mean over the batch.
        labels: one label per input position (the words). Default None: position numbers.
        marks: positions to mark with a dashed line (e.g. where the task's answer is). Default None.
        ax: an Axes to draw into. Default None: a new figure.

    Returns:
        The Figure.
    """
    if _is_trace(values):
        raise InputError("input_connectivity needs the array of ||dy/dx_t||, not a Trace (a Trace holds "
                         "||dL/dh_t||: plot that with gradient_by_timestep)")
    norms, how = _pick_sample(_norms(values, "the connectivity values"), sample)
    figure, ax = _one_axes(ax)
    positions = np.arange(len(norms))
    ax.plot(positions, norms, marker="o", markersize=3, linewidth=1.2,
            label="||dy/dx_t||" + (f" ({how})" if how else ""))
    _log_axis(ax)
    _draw_marks(ax, marks)
    ax.set_xlabel("input position t")
    ax.set_ylabel("||dy/dx_t||")
    ax.set_title("Input connectivity: how much the output depends on each input")
    _label_time_axis(ax, len(norms), labels)
    ax.legend(loc="best", fontsize=8)
    return figure


def inspection(trace, sample: int = 0, *, gates: Sequence[str] | None = None, labels: Sequence[str] | None = None,
               marks: Sequence[int] | None = None, title: str | None = None):
    """What `rnnsim inspect` prints, as one figure: the gate heatmaps, then ||dL/dh_t|| by timestep.

    Args:
        trace: a Trace after its backward pass.
        sample: which sample of the batch. Default 0.
        gates: the heatmap panels (see `gate_heatmaps`). Default None: every gate and the hidden state.
        labels: one label per timestep. Default None.
        marks: timesteps to mark. Default None.
        title: the figure's title. Default None: the cell, its layer and the sample.

    Returns:
        The Figure: one heatmap per gate, and under them the gradient of that sample on a log scale.
    """
    if not _is_trace(trace):
        raise InputError(f"inspection needs a Trace (record_trace=True), got {type(trace).__name__}")
    names = list(trace.gate_names) + ["hidden"] if gates is None else ([gates] if isinstance(gates, str) else gates)
    figure, axes = _figure(len(names) + 1, 10.0, 1.2 + 1.5 * (len(names) + 1), sharex=False)
    gate_heatmaps(trace, sample, gates=names, labels=None, marks=marks, title=title, axes=axes[:-1])
    if trace.grad_hidden_norm is not None:
        gradient_by_timestep(trace, sample=sample, labels=labels, marks=marks, label="||dL/dh_t||", ax=axes[-1])
        axes[-1].set_xlim(-0.5, trace.timesteps - 0.5)  # the heatmaps' columns: t lines up with t above
    else:
        axes[-1].set_axis_off()
    for ax in axes[:-1]:
        ax.set_xlabel("")
    return figure


def save(figure, path: str | os.PathLike, dpi: int = 150) -> Path:
    """Write a figure to `path` (.svg, .png or .pdf, by its ending), atomically: a temporary name, then a rename.

    Args:
        figure: a Figure from this module (or any matplotlib Figure).
        path: the file to write; its folder must exist.
        dpi: pixels per inch for a .png. Default 150 (a slide-sized picture).

    Returns:
        The path written.

    Raises:
        InputError: an ending matplotlib cannot write here, or a folder that is missing or read-only.
    """
    from rnnsim.atomic import atomic_write

    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in SAVE_FORMATS:
        raise InputError(f"cannot save a picture as {path.name!r}: name a .svg, .png or .pdf file")
    try:
        with atomic_write(path) as stream:
            figure.savefig(stream, format=kind, dpi=dpi)
    except FileNotFoundError:
        raise InputError(f"cannot save {path}: the folder {path.parent} does not exist") from None
    except PermissionError:
        raise InputError(f"cannot save {path}: the folder {path.parent} is not writable") from None
    return path


# ----------------------------------------------------------------------------------------- history


def _history_dict(history) -> dict[str, list[float]]:
    """{key: per-epoch values} from a History, its .history dict, or a run folder's history.json payload."""
    if hasattr(history, "history") and isinstance(history.history, Mapping):
        history = history.history
    elif isinstance(history, Mapping) and isinstance(history.get("history"), Mapping):
        history = history["history"]  # history.json as `rnnsim train` writes it
    if not isinstance(history, Mapping):
        raise InputError(f"training_history needs a History (model.fit's result) or a dict of per-epoch "
                         f"lists, got {type(history).__name__}")
    values = {str(key): [float(value) for value in series] for key, series in history.items()
              if isinstance(series, Sequence | np.ndarray) and not isinstance(series, str)}
    if not any(values.values()):
        raise InputError("the history holds no per-epoch values; train for at least one epoch first")
    return values


def _metric_title(key: str) -> str:
    names = {"acc": "accuracy", "accuracy": "accuracy", "mae": "MAE", "mse": "MSE"}
    return names.get(key, key.replace("_", " "))


def training_history(history, *, metric: str | None = None, axes=None):
    """The book's two plots of a training run: the metric and the loss, training (dots) and validation (line).

    The same picture as the Keras tutorial's `plt.plot(epochs, acc, 'bo', ...)` code, which also works
    unchanged on rnnsim's `history.history`.

    Args:
        history: what `model.fit` returned (a History), its `.history` dict, or a run's history.json
            loaded as a dict.
        metric: the metric of the first panel, e.g. 'acc' or 'mae'. Default None: the first key that is
            neither 'loss' nor a 'val_' key; no metric panel if there is none.
        axes: one Axes per panel (two, or one without a metric). Default None: a new figure.

    Returns:
        The Figure: panels titled 'Training and validation accuracy' (or the metric's name) and
        'Training and validation loss'.
    """
    values = _history_dict(history)
    if metric is None:
        metric = next((key for key in values if key != "loss" and not key.startswith("val_")), None)
    elif metric not in values:
        raise InputError(f"the history has no {metric!r}; it has {', '.join(values)}")
    panels = [key for key in (metric, "loss") if key is not None and key in values]
    if not panels:
        raise InputError(f"the history has neither a loss nor a metric to plot (keys: {', '.join(values)})")
    figure, axes = _panel_axes(axes, len(panels), 6.4, 3.0)
    for ax, key in zip(axes, panels):
        title = _metric_title(key)
        epochs = range(1, len(values[key]) + 1)
        ax.plot(epochs, values[key], "bo", label=f"Training {key}")
        if values.get(f"val_{key}"):
            ax.plot(range(1, len(values[f"val_{key}"]) + 1), values[f"val_{key}"], "b", label=f"Validation {key}")
        ax.set_title(f"Training and validation {title}")
        ax.set_ylabel(key)
        ax.legend(fontsize=8)
    from matplotlib.ticker import MaxNLocator

    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    axes[-1].set_xlabel("epoch")
    return figure
