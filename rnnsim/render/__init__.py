"""Drawing, with rich only: gate heatmaps, line plots, the gradient by timestep, equations with numbers.

Everything here reads a `rnnsim.cells.trace.Trace` (or plain arrays) and returns rich renderables
(mostly `rich.text.Text`), so the same pictures serve `rnnsim inspect` (printed once), notes pasted
from a terminal (plain characters when the console has no colour) and the terminal app (`tui/`, which
wraps these functions in widgets). This package never imports a model, a data set or textual: opening
a saved model to get a trace is `rnnsim.checkpoint`'s job.

    colours.py     the two colour scales, plain-text ramps, series colours and markers, the colour bar
    heatmap.py     units x timesteps heatmaps and their time axis
    lineplot.py    braille line plots (loss curves, ||dL/dh_t|| by timestep) and their smoothing
    equations.py   what a trace holds, headings, each cell's equations with the recorded numbers
    timeline.py    the task's annotations under a time axis: input values, markers, windows, padding
    gain.py        the per-step gradient gain with the line g = 1 and the measured product
    connectivity.py  ||dy/dx_t|| as bars under the time axis, lined up with the markers
    textview.py    text read downwards: a word per line, a gate's units and its connectivity beside it
    saturation.py  gate saturation, one dot per unit (Karpathy et al. 2015), and by epoch
    whatif.py      an edited copy of a model beside the model as trained
    trace_view.py  a whole trace as `rnnsim inspect` prints it, view by view
"""

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
from rnnsim.render.trace_view import VIEWS, render_trace, render_views

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
    "VIEWS",
    "Smoother",
    "bin_columns",
    "char_for",
    "colour_for",
    "ema",
    "equations",
    "gradient_plot",
    "heatmap",
    "legend",
    "line_plot",
    "log_span",
    "mean_gradient_norm",
    "quantities",
    "quantity",
    "render_trace",
    "render_views",
    "scale_for",
    "time_axis",
    "title_of",
    "value_range",
]
