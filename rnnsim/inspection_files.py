"""`rnnsim inspect MODEL|RUN --save x.svg|x.png|folder/`: the views of one sample drawn with matplotlib
(the optional extra `[plot]`) into a file, or one file per view into a folder."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from rnnsim import plot
from rnnsim.checkpoint import choose_layer, model_file, probe_checkpoint
from rnnsim.errors import InputError
from rnnsim.inspection import model_name
from rnnsim.render.equations import resolve_quantity
from rnnsim.runs import read_json


def save_inspection(model_path, target, sample=0, layer=None, gate=None, data_path=None, file_format="svg",
                     console=None) -> int:
    """`rnnsim inspect --save`: the views of one sample drawn with matplotlib, into a file or a folder."""
    plot.use_file_backend()  # no window; or one line saying how to install matplotlib
    target = Path(target).expanduser()
    to_folder = target.is_dir() or str(target).endswith(("/", "\\")) or not target.suffix
    if not to_folder and target.suffix.lower().lstrip(".") not in plot.SAVE_FORMATS:
        raise InputError(f"--save {target}: name a .svg, .png or .pdf file, or a folder (one file per view)")
    probe = probe_checkpoint(model_path, samples=[sample], data_path=data_path)
    trace = choose_layer(probe.traces, layer)
    layer_tokens = probe.tokens_for(trace)  # a functional model's layers may read different inputs
    labels = layer_tokens[0] if layer_tokens else None
    gates = [resolve_quantity(trace, gate)] if gate else None  # 'f', 'forget gate f' -> 'forget', as without --save
    title = (f"{model_name(model_path, model_file(model_path))}: layer {trace.layer_name or trace.cell}, "
             f"task {probe.task_name}, sample {sample}")
    if not to_folder:
        written = [plot.save(plot.inspection(trace, 0, gates=gates, labels=labels, title=title), target)]
    else:
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"--save {target}: cannot create the folder ({error.strerror})") from None
        views = {
            "gates": plot.gate_heatmaps(trace, 0, gates=gates or [*trace.gate_names, "hidden"], labels=labels,
                                        title=title),
            "gradient": plot.gradient_by_timestep(trace, labels=labels, label=f"||dL/dh_t|| (sample {sample})"),
            "step_gain": plot.step_gain(trace, labels=labels),
        }
        history_file = model_file(model_path).parent / "history.json"
        if history_file.is_file():  # a run folder: its training history is a view too
            views["history"] = plot.training_history(read_json(history_file, "the run folder is incomplete"))
        written = [plot.save(figure, target / f"{name}.{file_format}") for name, figure in views.items()]
    console = console or Console()
    for path in written:
        console.print(f"saved {path}", soft_wrap=True)
    return 0
