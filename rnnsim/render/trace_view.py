"""A whole trace, as printed by `rnnsim inspect`: each view `rnnsim inspect --view` can pick, one after another.

    gates         a heatmap of every gate and state (or one), each with the task's marks under its time
                  axis, then ||dL/dh_t|| by timestep
    gain          the per-step gradient gain and the sentence that multiplies it out
    inputs        the input connectivity ||dy/dx_t|| under the time axis, with the marks
    text          text read downwards: one line per word, a gate's units beside it, its connectivity
    saturation    gate saturation over the probed samples, one dot per unit
    what-if       the model as trained beside an edited copy

`render_trace` draws the first; `render_views` any of them from what `rnnsim inspect` measured.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rich.console import Group
from rich.text import Text

from rnnsim.annotations import StepAnnotations, plain_annotations
from rnnsim.cells.trace import Trace
from rnnsim.errors import InputError
from rnnsim.notes import note
from rnnsim.render.colours import legend, scale_for
from rnnsim.render.connectivity import connectivity_bars, connectivity_view
from rnnsim.render.equations import quantities, quantity, resolve_quantity, title_of
from rnnsim.render.gain import gain_view
from rnnsim.render.heatmap import bin_columns, heatmap
from rnnsim.render.lineplot import gradient_plot, mean_gradient_norm
from rnnsim.render.saturation import saturation_history_plot, saturation_view
from rnnsim.render.textview import text_view, text_view_legend
from rnnsim.render.timeline import legend_line, timeline_rows
from rnnsim.render.whatif import whatif_view

VIEWS = ("gates", "gain", "inputs", "text", "saturation", "what-if")
NOTE_OF_VIEW = {"gates": "gates", "gain": "gain", "inputs": "connectivity", "text": "text",
                "saturation": "saturation", "what-if": "what_if"}
# The gate the text view colours by default: the one each cell remembers with.
MEMORY_GATE = {"lstm": "forget", "gru": "update", "simple_rnn": "hidden"}


def _greyed_columns(annotations: StepAnnotations | None, start: int, columns: int, per_column: int):
    if annotations is None:
        return None
    greyed = annotations.greyed()
    if not greyed.any():
        return None
    return np.array([greyed[start + c * per_column : start + (c + 1) * per_column].all() for c in range(columns)])


def render_trace(
    trace: Trace,
    *,
    sample: int = 0,
    gate: str | None = None,
    width: int = 80,
    colour: bool = True,
    tokens: Sequence[str] | None = None,
    sample_label: int | None = None,
    annotations: StepAnnotations | None = None,
    connectivity: np.ndarray | None = None,
    inputs_line: bool = True,
) -> Group:
    """Heatmaps of every gate and state (or just `gate`) of one sample, and its gradient plot.

    Args:
        trace: the layer's trace; `sample` indexes its batch.
        gate: one gate or state, by any spelling `resolve_quantity` takes ('f', 'forget gate f'); default all.
        tokens: the inputs as labels, when there are no `annotations` (printed as one line).
        sample_label: the number shown for the sample (`rnnsim inspect --sample 7` probes sample 7 alone).
        annotations: the sample's annotations: drawn under every heatmap's time axis (markers, windows,
            padding greyed) and, for words, left to the text view.
        connectivity: (T,) ||dy/dx_t|| of the sample: a row of bars under the heatmaps.
        inputs_line: print the inputs' labels as one line under the heatmaps (default True; off where the
            text view prints them one per line).
    """
    if not 0 <= sample < trace.batch_size:
        raise InputError(f"sample {sample} is out of range: the trace holds {trace.batch_size} samples")
    names = [resolve_quantity(trace, gate)] if gate else quantities(trace)
    if annotations is not None and trace.mask is not None:
        annotations = annotations.with_mask(trace.mask[sample])
    parts: list = []
    title = trace.layer_name or trace.cell
    parts.append(
        Text(
            f"{title} ({trace.cell}, {trace.units} units, {trace.timesteps} timesteps), "
            f"sample {sample if sample_label is None else sample_label}",
            style="bold",
        )
    )
    available = max(10, width - 6)
    for name in names:
        values = quantity(trace, name)[sample].T.astype(np.float64)  # (U, T)
        binned, per_column = bin_columns(values, available)
        scale = scale_for(name)
        heading = Text(title_of(name, trace.cell), style="bold")
        if per_column > 1:
            heading.append(f"  (each column = mean of {per_column} steps)", style="dim")
        heading.append("   ")
        heading.append_text(legend(scale, colour=colour, width=11))
        columns = binned.shape[1]
        greyed = _greyed_columns(annotations, 0, columns, per_column)
        parts += [Text(""), heading, heatmap(binned, scale, colour=colour, per_column=per_column, greyed=greyed)]
        parts += timeline_rows(annotations, 0, columns, per_column, colour=colour)
    labels = annotations.labels if annotations is not None else tokens
    if inputs_line and labels is not None and len(labels) and any(str(label) for label in labels):
        parts += [Text(""), Text("inputs: " + " ".join(str(label) for label in labels), style="dim")]
    if annotations is not None:
        if connectivity is not None:
            _, per_column = bin_columns(np.zeros((1, trace.timesteps)), available)
            parts.append(connectivity_bars(connectivity, per_column=per_column, height=1, colour=colour,
                                           label="dy/dx"))
        marks = legend_line(annotations)
        if marks is not None:
            parts.append(marks)
    norms = mean_gradient_norm(trace, sample)
    if norms is not None:
        parts += [
            Text(""),
            Text("||dL/dh_t|| by timestep (log scale)", style="bold"),
            gradient_plot(norms, width=max(20, width - 8), height=8, colour=colour),
        ]
    return Group(*parts)


def _first_real_step(annotations: StepAnnotations | None) -> int:
    """The first step that is not padding ('pre' padding fills the front of a short review)."""
    if annotations is None:
        return 0
    greyed = annotations.greyed()
    real = np.flatnonzero(~greyed)
    return int(real[0]) if real.size else 0


def render_views(
    trace: Trace,
    views: Sequence[str] = ("gates",),
    *,
    sample: int = 0,
    sample_label: int | None = None,
    gate: str | None = None,
    width: int = 80,
    colour: bool = True,
    annotations: StepAnnotations | None = None,
    connectivity: np.ndarray | None = None,
    saturations: dict | None = None,
    saturation_samples: int | None = None,
    whatif=None,
    recurrent_kernel=None,
    notes: bool = False,
) -> Group:
    """The views `rnnsim inspect` prints, in order, from what it measured.

    Args:
        trace: the probed layer's trace; `sample` indexes its batch.
        views: names from VIEWS.
        gate: the gates view's one gate (default all) and the text view's gate (default the cell's memory gate).
        annotations, connectivity: the sample's annotations and ||dy/dx_t|| (T,), when known.
        saturations: `rnnsim.analysis.saturation` of the probed samples, for the saturation view; or a pair
            (that, the layer's per-epoch records from history.json) to add the by-epoch plot.
        saturation_samples: how many samples the saturation counts, for its title.
        whatif: a `rnnsim.analysis.whatif.WhatIf`, for the what-if view.
        recurrent_kernel: a SimpleRNN's U, for the largest singular value in the gain view.
        notes: print each view's note (rnnsim.notes) under it.
    """
    unknown = [view for view in views if view not in VIEWS]
    if unknown:
        raise InputError(f"unknown view {unknown[0]!r}; choose from {', '.join(VIEWS)} (or all)")
    if annotations is not None and trace.mask is not None:
        annotations = annotations.with_mask(trace.mask[sample])
    parts: list = []
    for view in views:
        if parts:
            parts.append(Text(""))
        if view == "gates":
            parts.append(render_trace(trace, sample=sample, gate=gate, width=width, colour=colour,
                                      sample_label=sample_label, annotations=annotations, connectivity=connectivity,
                                      inputs_line="text" not in views))
        elif view == "gain":
            parts.append(gain_view(trace, sample=sample, recurrent_kernel=recurrent_kernel, width=width,
                                   colour=colour, sample_label=sample_label))
        elif view == "inputs":
            if connectivity is None:
                parts.append(Text("input connectivity: not measured (it needs the model)", style="dim"))
            else:
                parts.append(connectivity_view(connectivity, annotations, width=width, colour=colour,
                                               title=f"input connectivity ||dy/dx_t|| of sample "
                                                     f"{sample if sample_label is None else sample_label} "
                                                     "(log scale, 4 decades)"))
        elif view == "text":
            chosen = resolve_quantity(trace, gate) if gate else MEMORY_GATE.get(trace.cell, "hidden")
            start = _first_real_step(annotations)
            if start:
                parts.append(Text(f"(steps 0-{start - 1} are padding, not shown)", style="dim"))
            parts += [text_view(trace, sample=sample, gate=chosen, annotations=annotations or plain_annotations(
                [str(t) for t in range(trace.timesteps)]), connectivity=None if connectivity is None else
                connectivity, start=start, width=width, colour=colour), text_view_legend(chosen, colour)]
        elif view == "saturation":
            count = f" over {saturation_samples} samples" if saturation_samples else ""
            current, by_epoch = saturations if isinstance(saturations, tuple) else (saturations, [])
            parts.append(saturation_view(current or {}, width=width, colour=colour, cell=trace.cell,
                                         title=f"gate saturation{count} (Karpathy, Johnson and Fei-Fei 2015): "
                                               "one dot per unit"))
            if by_epoch:
                parts += [Text("mean fraction of steps open (> 0.9) and shut (< 0.1), by epoch (history.json)",
                               style="bold"),
                          saturation_history_plot(by_epoch, width=max(20, width - 8), colour=colour)]
        elif view == "what-if":
            if whatif is None:
                parts.append(Text("what-if: give --what-if NAME=VALUE (e.g. forget_bias=0)", style="dim"))
            else:
                parts.append(whatif_view(whatif, sample=sample, width=width, colour=colour, sample_label=sample_label))
        if notes:
            parts.append(Text(note(NOTE_OF_VIEW[view]).text(trace.cell), style="italic"))
    return Group(*parts)
