"""The numbers behind the "why" views: per-step gradient gain, input connectivity, gate saturation, what-ifs.

Headless and drawing-free: everything here reads a `Trace` (or a model, for the views that must run
one) and returns arrays and small records, which `rnnsim.render` draws, `rnnsim inspect` prints, the
app shows and a notebook can use directly.

    gain.py          g_t = ||dL/dh_{t-1}|| / ||dL/dh_t||, the factor whose product is the vanishing
                     gradient; the LSTM's cell path beside its forget gate; a SimpleRNN's two factors
    saturation.py    per gate and unit, the fraction of steps a gate spends below 0.1 and above 0.9
    connectivity.py  ||dy/dx_t||: how much the model's output depends on each input step
    whatif.py        a copy of a model with one edit (forget bias, update bias, recurrent scale),
                     probed beside the original; the original is never touched

The learner's notes for each view live in `rnnsim.notes`.
"""

from rnnsim.analysis.connectivity import ConnectivityProbe, connectivity, first_recurrent_trace, marker_ranks
from rnnsim.analysis.gain import GainProfile, gain_profile, recurrent_norm
from rnnsim.analysis.saturation import GateSaturation, saturation, saturation_record
from rnnsim.analysis.whatif import (
    Edit,
    WhatIf,
    apply_edit,
    clone_model,
    default_edit,
    parse_edit,
    recurrent_weights,
    what_if,
)

__all__ = [
    "ConnectivityProbe",
    "Edit",
    "GainProfile",
    "GateSaturation",
    "WhatIf",
    "apply_edit",
    "clone_model",
    "connectivity",
    "default_edit",
    "first_recurrent_trace",
    "gain_profile",
    "marker_ranks",
    "parse_edit",
    "recurrent_norm",
    "recurrent_weights",
    "saturation",
    "saturation_record",
    "what_if",
]
