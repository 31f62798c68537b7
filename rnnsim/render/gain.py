"""The per-step gradient gain on a log axis with the line g = 1, and the sentence that multiplies it out.

Reads a `rnnsim.analysis.gain.GainProfile`. Beside the gain g_t: for the LSTM the cell path and the
mean forget gate, for the GRU the mean update gate, for the SimpleRNN the two factors of its Jacobian.
"""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text

from rnnsim.analysis.gain import GainProfile, gain_profile
from rnnsim.render.lineplot import line_plot


def gain_series(profile: GainProfile) -> dict[str, np.ndarray]:
    """The curves of a gain plot, by legend name, in drawing order."""
    series = {"g_t": profile.gain}  # the title says what it is: short names keep the legend in 80 columns
    if profile.cell_gain is not None:
        series["cell path"] = profile.cell_gain
    if profile.forget_mean is not None:
        series["mean f_t"] = profile.forget_mean
    if profile.forget_max is not None:
        series["largest f_t"] = profile.forget_max
    if profile.update_mean is not None:
        series["mean z_t"] = profile.update_mean
    if profile.tanh_factor is not None:
        series["tanh' factor"] = profile.tanh_factor
        series["U factor"] = profile.recurrent_factor
    return series


def gain_plot(profile: GainProfile, *, width: int = 60, height: int = 10, colour: bool = True,
              cursor: int | None = None, legend: bool = True) -> Text:
    """The gain curves on a log axis, with the dashed line g = 1 (steps below it shrink the gradient)."""
    hlines = {"g =": 1.0}  # the legend adds the value: "╌ g = 1"
    if profile.recurrent_norm is not None and abs(profile.recurrent_norm - 1.0) > 1e-3:
        hlines["max σ(U)"] = profile.recurrent_norm  # the largest singular value: no U factor exceeds it
    # a GRU's or a trained LSTM's gains lie within a few percent of 1: a span of a tenth of a decade (x1.26)
    # at least, not a whole one, or they would be a flat line on the row of g = 1
    return line_plot(gain_series(profile), width=width, height=height, log_y=True, hlines=hlines, colour=colour,
                     x_label="t", cursor=cursor, legend_line=legend, min_decades=0.1)


def gain_view(trace, *, sample: int | None = None, recurrent_kernel=None, width: int = 80, height: int = 10,
              colour: bool = True, cursor: int | None = None, sample_label: int | None = None) -> Group:
    """Title, gain plot and the measured product, for one layer's trace (one sample or the batch's mean).

    `sample_label` is the number shown for the sample (default `sample`).
    """
    profile = gain_profile(trace, sample=sample, recurrent_kernel=recurrent_kernel)
    if profile is None:
        return Group(Text("per-step gain: no gradient yet (the trace has not been through backward)", style="dim"))
    shown = sample if sample_label is None else sample_label
    who = f"sample {shown}" if sample is not None else f"geometric mean of {profile.samples} samples"
    title = Text("per-step gain g_t = ||dL/dh_{t-1}|| / ||dL/dh_t|| (log scale); cell path ||dL/dc_{t-1}|| / "
                 "||dL/dc_t||, " if profile.cell_gain is not None else
                 "per-step gain g_t = ||dL/dh_{t-1}|| / ||dL/dh_t|| (log scale), ", style="bold")
    title.append(who, style="dim")
    return Group(title, gain_plot(profile, width=max(20, width - 8), height=height, colour=colour, cursor=cursor),
                 Text(profile.sentence()))
