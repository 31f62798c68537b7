"""A whole trace, as printed by `rnnsim inspect`: a heatmap of every gate and state, then the gradient plot."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rich.console import Group
from rich.text import Text

from rnnsim.cells.trace import Trace
from rnnsim.errors import InputError
from rnnsim.render.colours import legend, scale_for
from rnnsim.render.equations import quantities, quantity, title_of
from rnnsim.render.heatmap import bin_columns, heatmap
from rnnsim.render.lineplot import gradient_plot, mean_gradient_norm


def render_trace(
    trace: Trace,
    *,
    sample: int = 0,
    gate: str | None = None,
    width: int = 80,
    colour: bool = True,
    tokens: Sequence[str] | None = None,
    sample_label: int | None = None,
) -> Group:
    """Heatmaps of every gate and state (or just `gate`) of one sample, and its gradient plot.

    `sample` indexes the trace's batch; `sample_label` is the number shown for it when the trace was
    recorded on a batch picked from a larger set (`rnnsim inspect --sample 7` probes sample 7 alone).
    """
    if not 0 <= sample < trace.batch_size:
        raise InputError(f"sample {sample} is out of range: the trace holds {trace.batch_size} samples")
    names = [gate] if gate else quantities(trace)
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
        parts += [Text(""), heading, heatmap(binned, scale, colour=colour, per_column=per_column)]
    if tokens is not None and len(tokens):
        parts += [Text(""), Text("inputs: " + " ".join(str(token) for token in tokens), style="dim")]
    norms = mean_gradient_norm(trace, sample)
    if norms is not None:
        parts += [
            Text(""),
            Text("||dL/dh_t|| by timestep (log scale)", style="bold"),
            gradient_plot(norms, width=max(20, width - 8), height=8, colour=colour),
        ]
    return Group(*parts)
