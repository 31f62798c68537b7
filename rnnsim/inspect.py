"""`rnnsim.inspect`: the old home of the trace drawings, kept for code written before the split.

It re-exports the old names from where each of its three jobs now lives:

- drawing (colour scales, heatmaps, line plots, equations, a whole trace): `rnnsim.render`
  (colours.py, heatmap.py, lineplot.py, equations.py, trace_view.py);
- opening a saved model and probing a sample (`CheckpointProbe`, `probe_checkpoint`): `rnnsim.checkpoint`;
- the `rnnsim inspect` command (`inspect_command`): `rnnsim.cli`, with every other command.

New code imports from those modules; nothing inside rnnsim/ or tui/ imports this one.
"""

from rnnsim.checkpoint import CheckpointProbe, probe_checkpoint
from rnnsim.cli import inspect_command
from rnnsim.render.colours import (
    BASELINE_COLOUR,
    CURSOR_COLOUR,
    DIVERGING,
    DIVERGING_RAMP,
    SEQUENTIAL,
    SEQUENTIAL_RAMP,
    SERIES_COLOURS,
    SERIES_MARKERS,
    SIGMOID_GATES,
    char_for,
    colour_for,
    legend,
    scale_for,
    value_range,
)
from rnnsim.render.equations import equations, quantities, quantity, title_of
from rnnsim.render.heatmap import bin_columns, heatmap, time_axis
from rnnsim.render.lineplot import (
    BAND_SYMBOL,
    BRAILLE_BLANK,
    Smoother,
    ema,
    gradient_plot,
    line_plot,
    log_span,
    mean_gradient_norm,
)
from rnnsim.render.trace_view import render_trace

__all__ = [
    "BAND_SYMBOL",
    "BASELINE_COLOUR",
    "BRAILLE_BLANK",
    "CURSOR_COLOUR",
    "DIVERGING",
    "DIVERGING_RAMP",
    "SEQUENTIAL",
    "SEQUENTIAL_RAMP",
    "SERIES_COLOURS",
    "SERIES_MARKERS",
    "SIGMOID_GATES",
    "CheckpointProbe",
    "Smoother",
    "bin_columns",
    "char_for",
    "colour_for",
    "ema",
    "equations",
    "gradient_plot",
    "heatmap",
    "inspect_command",
    "legend",
    "line_plot",
    "log_span",
    "mean_gradient_norm",
    "probe_checkpoint",
    "quantities",
    "quantity",
    "render_trace",
    "scale_for",
    "time_axis",
    "title_of",
    "value_range",
]
