"""Live what-ifs: copy a model, change one thing, and probe both on the same samples. No retraining.

    edit = Edit("forget_bias", 0.0)                 # LSTM: every unit's forget-gate bias b_f set to 0
    result = what_if(model, x_probe, y_probe, edit)  # result.before, result.after: ProbeReports
    gain_profile(result.traces()[1]).total           # how much gradient now survives 100 steps

The edits, one per cell, each the knob the cell's memory turns on:

    forget_bias      LSTM: b_f, the forget gate's bias (Keras starts it at 1, unit_forget_bias=True;
                     Jozefowicz et al. 2015 found 1 much better than 0). f = σ(... + b_f)
    update_bias      GRU: b_z, the update gate's bias (input and recurrent parts together):
                     z near 1 keeps h_{t-1}
    recurrent_scale  SimpleRNN: U multiplied by a number; its singular values scale with it, and
                     with them every step's gain (below 1 it vanishes faster, far above 1 it explodes)

The edit is made on a copy built from the model's config and weights (`clone_model`); the model
itself, and any file it was loaded from, are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnsim.errors import InputError
from rnnsim.registry import layer_name, layer_phrase

EDITS = {  # edit kind -> (the cell it applies to, what it is in words)
    "forget_bias": ("lstm", "forget-gate bias b_f"),
    "update_bias": ("gru", "update-gate bias b_z"),
    "recurrent_scale": ("simple_rnn", "scale of the recurrent matrix U"),
}
EDIT_FOR_CELL = {cell: kind for kind, (cell, _words) in EDITS.items()}
# The values the app steps through, per edit (the trained model's own value is always shown beside them).
EDIT_VALUES = {"forget_bias": (0.0, 1.0, 2.0, -2.0), "update_bias": (0.0, 2.0, -2.0),
               "recurrent_scale": (0.5, 0.9, 1.1, 1.5)}
_ALIASES = {"forget_bias": "forget_bias", "bf": "forget_bias", "b_f": "forget_bias", "forget": "forget_bias",
            "update_bias": "update_bias", "bz": "update_bias", "b_z": "update_bias", "update": "update_bias",
            "recurrent_scale": "recurrent_scale", "u": "recurrent_scale", "scale": "recurrent_scale"}


@dataclass(frozen=True)
class Edit:
    """One change to a recurrent layer's weights."""

    kind: str  # 'forget_bias' | 'update_bias' | 'recurrent_scale'
    value: float  # the bias to set, or the factor U is multiplied by

    @property
    def cell(self) -> str:
        return EDITS[self.kind][0]

    def describe(self) -> str:
        """'forget-gate bias b_f = 0' or 'recurrent matrix U x 0.5'."""
        if self.kind == "recurrent_scale":
            return f"recurrent matrix U x {self.value:g}"
        return f"{EDITS[self.kind][1]} = {self.value:g}"


def default_edit(cell: str, value: float | None = None) -> Edit:
    """The edit a cell's what-if changes, at `value` (default the first of EDIT_VALUES)."""
    if cell not in EDIT_FOR_CELL:
        raise InputError(f"no what-if for a {cell} layer; there are edits for {', '.join(EDIT_FOR_CELL)}")
    kind = EDIT_FOR_CELL[cell]
    return Edit(kind, EDIT_VALUES[kind][0] if value is None else float(value))


def parse_edit(text: str) -> Edit:
    """'forget_bias=0', 'b_f=2', 'update_bias=-1', 'recurrent_scale=0.5' -> Edit; InputError otherwise."""
    name, sep, value = str(text).partition("=")
    kind = _ALIASES.get(name.strip().lower())
    if not sep or kind is None:
        raise InputError(f"what-if {text!r} is not NAME=VALUE with NAME one of {', '.join(EDITS)} "
                         "(e.g. forget_bias=0)")
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"what-if {text!r}: {value!r} is not a number") from None
    if not np.isfinite(number):
        raise InputError(f"what-if {text!r}: the value must be a finite number")
    return Edit(kind, number)


def recurrent_layers(model) -> list:
    """The model's recurrent layers in order, a Bidirectional wrapper counting as its two inner layers."""
    found = []
    for layer in model.layers:
        if getattr(layer, "cell_kind", ""):
            found.append(layer)
        elif getattr(layer, "forward_layer", None) is not None:
            found += [layer.forward_layer, layer.backward_layer]
    return found


def recurrent_weights(model, weights=None) -> dict[str, dict[str, np.ndarray]]:
    """Each recurrent layer's weights by name, e.g. {'lstm': {'kernel': ..., 'recurrent_kernel': ..., 'bias': ...}}.

    Args:
        model: the model.
        weights: a list in the model's get_weights order to read instead of its own (e.g. a snapshot).
    """
    weights = model.get_weights() if weights is None else list(weights)
    found, position = {}, 0
    for layer in model.layers:
        if getattr(layer, "cell_kind", ""):
            inner = [layer]
        elif getattr(layer, "forward_layer", None) is not None:  # its weights: the forward layer's, then the backward's
            inner = [layer.forward_layer, layer.backward_layer]
        else:
            position += len(layer.weights)
            continue
        for item in inner:
            names = item.weight_names()
            found[item.name] = dict(zip(names, weights[position : position + len(names)]))
            position += len(names)
    return found


def _pick_layers(model, cell: str, layer) -> list:
    candidates = recurrent_layers(model)
    if layer is not None:
        names = [item.name for item in candidates]
        if isinstance(layer, str) and not layer.lstrip("-").isdigit():
            if layer not in names:
                raise InputError(f"no recurrent layer named {layer!r}; the model has {', '.join(names)}")
            candidates = [candidates[names.index(layer)]]
        else:
            index = int(layer)
            if not 0 <= index < len(candidates):
                raise InputError(f"layer {index} is out of range: the model has {len(candidates)} recurrent layers")
            candidates = [candidates[index]]
    chosen = [item for item in candidates if item.cell_kind == cell]
    if not chosen:
        kinds = sorted({layer_name(item.cell_kind) for item in candidates}) or ["none"]
        raise InputError(f"this edit changes {layer_phrase(cell)}; the model's recurrent layers are "
                         f"{', '.join(kinds)}")
    return chosen[:1] if layer is None else chosen


def trained_value(model, kind: str, layer=None) -> float:
    """The unedited model's value of what `kind` edits: the mean bias over units, or 1 for the scale."""
    if kind == "recurrent_scale":
        return 1.0
    target = _pick_layers(model, EDITS[kind][0], layer)[0]
    weights = dict(zip(target.weight_names(), target.get_weights()))
    if "bias" not in weights:
        return 0.0
    return float(np.mean(_bias_block(target, weights["bias"])))


def _bias_block(layer, bias) -> np.ndarray:
    """The effective bias of the edited gate, per unit (a GRU's input and recurrent parts added)."""
    units = layer.units
    if layer.cell_kind == "lstm":
        return bias[units : 2 * units]
    if bias.ndim == 2:  # GRU reset_after: (2, 3U), input and recurrent biases
        return bias[0, :units] + bias[1, :units]
    return bias[:units]


def apply_edit(model, edit: Edit, layer=None) -> list[str]:
    """Make `edit` on `model`'s weights in place (on a copy: see `what_if`); the names of the layers changed.

    Args:
        model: a built model (usually `clone_model(...)`'s copy).
        edit: what to change.
        layer: the recurrent layer, by index or name (default None: the first one of the edit's cell).
    """
    changed = []
    for target in _pick_layers(model, edit.cell, layer):
        weights = dict(zip(target.weight_names(), target.get_weights()))
        if edit.kind == "recurrent_scale":
            recurrent = weights["recurrent_kernel"]
            weights["recurrent_kernel"] = recurrent * recurrent.dtype.type(edit.value)
        else:
            if "bias" not in weights:
                raise InputError(f"layer {target.name!r} has no bias (use_bias=False): nothing to set")
            bias = weights["bias"].copy()
            units = target.units
            if target.cell_kind == "lstm":
                bias[units : 2 * units] = edit.value
            elif bias.ndim == 2:  # GRU reset_after: the whole bias in the input part, none in the recurrent
                bias[0, :units] = edit.value
                bias[1, :units] = 0.0
            else:
                bias[:units] = edit.value
            weights["bias"] = bias
        target.set_weights([weights[name] for name in target.weight_names()])
        changed.append(target.name)
    return changed


def clone_model(model, weights=None, loss=None):
    """An independent copy of a model on the CPU: same config, copied weights, compiled with `loss`.

    Args:
        model: the model to copy (never changed).
        weights: the weights to give the copy (default None: the model's own, copied); e.g. a snapshot
            taken between two training batches while the model itself keeps training.
        loss: the copy's loss (default None: the model's).
    """
    copy = type(model).from_config(model.get_config(), device="cpu")
    copy.set_weights([np.array(w, copy=True) for w in (model.get_weights() if weights is None else weights)])
    copy.metadata = dict(getattr(model, "metadata", {}) or {})
    copy.compile(optimizer="sgd", loss=loss if loss is not None else model.loss)
    return copy


@dataclass
class WhatIf:
    """The same samples probed through the model as trained and through an edited copy."""

    edit: Edit
    before: object  # rnnsim.reports.ProbeReport of the model as trained
    after: object  # ProbeReport of the edited copy
    layers: list[str]  # the layers the edit changed
    trained: float  # the trained model's value of what the edit sets (mean over units)

    def traces(self) -> tuple:
        """(as trained, edited): the traces of the layer the edit changed (its first, if several)."""
        return _trace_of(self.before, self.layers[0]), _trace_of(self.after, self.layers[0])

    def summary(self) -> str:
        """'forget-gate bias b_f = 0 (trained: 1.3): probe loss 0.012 -> 0.160'."""
        trained = "x 1" if self.edit.kind == "recurrent_scale" else f"{self.trained:.3g}"
        return (f"{self.edit.describe()} (as trained: {trained}): probe loss {self.before.loss:.3g} -> "
                f"{self.after.loss:.3g}")


def _trace_of(report, name: str):
    """The trace of the layer called `name` in a probe report."""
    names = getattr(report, "layer_names", None) or [trace.layer_name for trace in report.traces]
    for trace, layer in zip(report.traces, names, strict=True):
        if name in (layer, trace.layer_name):
            return trace
    if len(report.traces) == 1:  # one recurrent layer: the edited one
        return report.traces[0]
    raise ValueError(f"the probe has no trace of layer {name!r}")  # apply_edit names only traced layers


def what_if(model, x, y, edit: Edit, layer=None, weights=None) -> WhatIf:
    """Probe (x, y) through the model and through a copy with `edit` made; the model is not touched.

    Args:
        model: a compiled model (e.g. `load_model(path)` or the app's live one).
        x, y: the probe samples and their targets.
        edit: the change (see `Edit`, `parse_edit`).
        layer: which recurrent layer to edit (default the first of the edit's cell).
        weights: the weights to start from (default the model's own).
    """
    original = clone_model(model, weights)
    edited = clone_model(model, weights)
    trained = trained_value(original, edit.kind, layer)
    layers = apply_edit(edited, edit, layer)
    return WhatIf(edit=edit, before=original.probe(x, y), after=edited.probe(x, y), layers=layers, trained=trained)
