"""A what-if beside the model as trained: the edited gate, the per-step gain and ||dL/dh_t||, before and after.

Reads a `rnnsim.analysis.whatif.WhatIf` (two probe reports of the same samples). The two models'
curves share one plot each (● as trained, ▲ edited), so the change is read off one axis.
"""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from rnnsim.analysis.gain import gain_profile
from rnnsim.render.colours import legend, scale_for
from rnnsim.render.equations import quantity, title_of
from rnnsim.render.heatmap import bin_columns, heatmap
from rnnsim.render.lineplot import gradient_plot, line_plot, mean_gradient_norm

EDITED_GATE = {"forget_bias": "forget", "update_bias": "update", "recurrent_scale": "candidate"}


def whatif_curves(result, sample: int | None = None) -> dict[str, dict[str, np.ndarray]]:
    """{'gain': {...}, 'gradient': {...}}: the as-trained and edited curves of one sample or the batch mean."""
    before, after = result.traces()
    curves: dict[str, dict[str, np.ndarray]] = {"gain": {}, "gradient": {}}
    for label, trace in (("trained", before), ("edited", after)):
        profile = gain_profile(trace, sample=sample)
        if profile is not None:
            curves["gain"][f"{label} g_t"] = profile.gain
            if profile.cell_gain is not None:
                curves["gain"][f"{label} c"] = profile.cell_gain
        norms = mean_gradient_norm(trace, sample)
        if norms is not None:
            curves["gradient"]["as trained" if label == "trained" else label] = norms
    return curves


def survival_line(result, sample: int | None = None) -> str:
    """'gradient reaching t=0 from t=99: x 0.028 as trained, x 3.9e-09 edited' (and along c for an LSTM)."""
    parts = []
    for label, trace in zip(("as trained", "edited"), result.traces()):
        profile = gain_profile(trace, sample=sample)
        if profile is None:
            return ""
        text = f"x {profile.total:.2g} {label}"
        if profile.cell_total is not None:
            text += f" (along c x {profile.cell_total:.2g})"
        parts.append(text)
        first, last = profile.first, profile.last
    return f"gradient reaching t={first} from t={last}: " + ", ".join(parts)


def gate_panel(trace, gate: str, sample: int, width: int, colour: bool, title: str) -> Group:
    values = quantity(trace, gate)[sample].T.astype(np.float64)  # (U, T)
    binned, per_column = bin_columns(values, max(10, width - 6))
    heading = Text(f"{title}: {title_of(gate, trace.cell)}  ", style="bold")
    heading.append_text(legend(scale_for(gate), colour=colour, width=7))
    heading.append(f"  mean {values.mean():.2f}", style="dim")
    return Group(heading, heatmap(binned, scale_for(gate), colour=colour, per_column=per_column))


def whatif_view(result, *, sample: int = 0, width: int = 100, height: int = 8, colour: bool = True,
                sample_label: int | None = None) -> Group:
    """The edit in one line, the edited gate as trained and edited, then the gain and gradient plots."""
    gate = EDITED_GATE[result.edit.kind]
    shown = sample if sample_label is None else sample_label
    before, after = result.traces()
    parts: list = [Text(f"what if: {result.summary()}", style="bold")]
    side_by_side = width >= 2 * 60
    panel_width = width // 2 - 1 if side_by_side else width
    panels = [gate_panel(before, gate, sample, panel_width, colour, "as trained"),
              gate_panel(after, gate, sample, panel_width, colour, "edited")]
    if side_by_side:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_row(*panels)
        parts.append(grid)
    else:
        parts += panels
    curves = whatif_curves(result, sample)
    plot_width = max(20, width - 8)
    if curves["gain"]:
        parts += [Text(f"per-step gain g_t (log), sample {shown}", style="bold"),
                  line_plot(curves["gain"], width=plot_width, height=height, log_y=True, hlines={"g =": 1.0},
                            colour=colour, x_label="t")]
        for label, trace in (("as trained", before), ("edited", after)):
            profile = gain_profile(trace, sample=sample)
            parts.append(Text(f"{label}: {profile.sentence()}", style="dim"))
    if curves["gradient"]:
        parts += [Text(f"||dL/dh_t|| (log), sample {shown}", style="bold"),
                  gradient_plot(curves["gradient"], width=plot_width, height=height, colour=colour)]
    return Group(*parts)
