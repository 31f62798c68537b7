"""`rnnsim inspect`'s printed views: which to print, and printing them for one sample of a saved model.

The command line (`rnnsim.cli`) parses the flags and handles errors; this module probes the model
(`rnnsim.checkpoint`), measures what the chosen views need (`rnnsim.analysis`: connectivity,
saturation, a what-if) and prints them (`rnnsim.render.trace_view.render_views`). Everything heavy is
imported inside the functions, so that `rnnsim --help` stays quick.
"""

from __future__ import annotations

from pathlib import Path

from rnnsim.errors import InputError


def choose_views(views, what_if, annotations, width: int = 80) -> list[str]:
    """The views to print, from --view (repeatable, comma-separated, 'all'); InputError for an unknown one."""
    from rnnsim.render.trace_view import VIEWS

    chosen = [name.strip().lower() for entry in (views or []) for name in entry.split(",") if name.strip()]
    if "all" in chosen:
        chosen = [view for view in VIEWS if view != "what-if" or what_if]
    for name in chosen:
        if name not in VIEWS:
            raise InputError(f"unknown view {name!r}; choose from {', '.join(VIEWS)} or all")
    if not chosen:  # the default: the heatmaps, and text read downwards when it is longer than a line
        words = annotations is not None and annotations.kind == "words"
        long_text = words and len(" ".join(label for label in annotations.labels if label)) > width
        chosen = ["gates"] + (["text"] if long_text else [])
    if what_if and "what-if" not in chosen:
        chosen.append("what-if")
    return list(dict.fromkeys(chosen))


def print_inspection(model_path, sample=0, layer=None, gate=None, data=None, console=None, data_path=None,
                     views=None, what_if=None, notes=False, saturation_samples=64) -> int:
    """Probe validation sample `sample` of a saved model and print the chosen views; raises InputError."""
    from rich.console import Console
    from rich.text import Text

    from rnnsim import analysis
    from rnnsim.annotations import plain_annotations
    from rnnsim.checkpoint import choose_layer, model_file, probe_checkpoint
    from rnnsim.render.trace_view import render_views

    console = console or Console()
    edit = analysis.parse_edit(what_if) if what_if else None  # a bad edit fails before the model loads
    probe = probe_checkpoint(model_path, samples=[sample], data=data, data_path=data_path)
    trace = choose_layer(probe.traces, layer)
    if gate:
        from rnnsim.render.equations import resolve_quantity

        resolve_quantity(trace, gate)  # refuse an unknown gate before drawing anything
    # The task's marks belong to the first recurrent layer's input; a functional model's other layers may
    # read another input, and get its decoded tokens only.
    annotations = probe.annotations[0] if probe.annotations and trace is probe.traces[0] else None
    if annotations is None:
        layer_tokens = probe.tokens_for(trace)
        annotations = plain_annotations(layer_tokens[0]) if layer_tokens else None
    chosen = choose_views(views, what_if, annotations, console.width)
    connectivity = unavailable = None
    if trace is not probe.traces[0] or getattr(probe.x.dtype, "names", None):
        unavailable = "it is measured at the input of the model's first recurrent layer (layer 0), for one input"
    elif any(view in chosen for view in ("gates", "inputs", "text")):
        try:
            connectivity = analysis.connectivity(probe.model, probe.x)[0]
        except InputError as error:  # e.g. a Bidirectional first layer: the other views still stand
            unavailable = str(error)
    saturations = None
    count = min(saturation_samples, len(probe.task.x_val))
    if "saturation" in chosen:
        report = probe.model.probe(probe.task.x_val[:count], probe.task.y_val[:count])
        saturations = analysis.saturation(choose_layer(report.traces, layer))
        saturations = (saturations, saturation_history(model_path, trace.layer_name))
    result = analysis.what_if(probe.model, probe.x, probe.y, edit, layer=layer) if edit else None
    weights = analysis.recurrent_weights(probe.model).get(trace.layer_name, {})
    console.print(
        Text(f"{model_name(model_path, model_file(model_path))}: task {probe.task_name}, sample {sample}",
             style="bold"),
        render_views(trace, chosen, sample=0, sample_label=sample, gate=gate, width=console.width,
                     colour=console_has_colour(console), annotations=annotations, connectivity=connectivity,
                     saturations=saturations, saturation_samples=count, whatif=result,
                     recurrent_kernel=weights.get("recurrent_kernel") if trace.cell == "simple_rnn" else None,
                     notes=notes),
    )
    if unavailable and "inputs" in chosen:
        console.print(Text(f"input connectivity is not available: {unavailable}", style="dim"))
    return 0


def saturation_history(model_path, layer_name: str | None = None) -> list[dict]:
    """The per-epoch saturation `rnnsim train` wrote to history.json beside the model (a model file or its run
    folder; '~' allowed), for one layer or (layer_name None) every layer; [] without one."""
    import json

    path = Path(model_path).expanduser()
    history = (path if path.is_dir() else path.parent) / "history.json"
    try:
        records = json.loads(history.read_text(encoding="utf-8")).get("saturation", [])
    except (OSError, ValueError, AttributeError):  # no history (a model saved by model.save), or an unreadable
        return []  # one: only this plot is lost
    if not isinstance(records, list):
        return []
    return [record for record in records
            if isinstance(record, dict) and (layer_name is None or record.get("layer") == layer_name)]


def console_has_colour(console) -> bool:
    return console.color_system is not None and not console.no_color


def model_name(given, resolved: Path) -> str:
    """How the header names the model: 'model.npz', or 'gru-adding/model.npz' for a run folder."""
    return resolved.name if Path(given).expanduser() == resolved else f"{resolved.parent.name}/{resolved.name}"
