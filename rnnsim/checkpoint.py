"""Open a saved model and probe some samples of its task: the one bridge from drawing to models and data.

`probe_checkpoint(path)` loads a model written by `model.save` (or `rnnsim train`), rebuilds the task
it was trained on from the metadata saved with it, and runs the model forward and backward on a few
validation samples with traces switched on. What comes back (`CheckpointProbe`) is plain data, traces
and decoded inputs, for `rnnsim.render` to draw: `rnnsim inspect` prints it, the app shows it.
Models and data sets are imported inside the functions, so importing this module stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnsim.annotations import StepAnnotations
from rnnsim.cells.trace import Trace
from rnnsim.errors import InputError
from rnnsim.runs import MODEL_FILE  # what `rnnsim train` writes into its run folder


@dataclass
class CheckpointProbe:
    """A saved model run forward and backward (with traces) on some samples of its task."""

    cell: str  # the first recurrent layer's cell
    task_name: str
    task: object  # the rnnsim.datasets Task the samples came from
    traces: list[Trace]  # one per recurrent layer, batch = the samples, gradient norms filled in
    tokens: list[list[str]] | None  # per sample, per timestep: the decoded input (words for text) of traces[0]
    # the same for every recurrent layer, by the model layer's name (a Bidirectional's, for both of its
    # traces): a functional model's layers may read different inputs (an encoder the question, a decoder
    # the answer so far)
    tokens_by_layer: dict[str, list[list[str]] | None] = field(default_factory=dict)
    model: object = None  # the loaded model (for connectivity and what-ifs, which run it again)
    samples: list[int] = field(default_factory=list)  # the validation indices probed, in batch order
    annotations: list[StepAnnotations] | None = None  # per sample: markers, windows, padding (rnnsim.annotations)

    @property
    def x(self):
        """The probed samples' inputs."""
        return self.task.x_val[self.samples]

    @property
    def y(self):
        """The probed samples' targets."""
        return self.task.y_val[self.samples]

    def tokens_for(self, trace: Trace) -> list[list[str]] | None:
        """The decoded inputs under the timesteps of `trace` (one of `traces`)."""
        return self.tokens_by_layer.get(model_layer_name(trace), self.tokens)


def model_file(model_path) -> Path:
    """The model's .npz: `model_path` itself, or `model.npz` in the run folder it names.

    Raises:
        InputError: nothing there, or a folder without model.npz.
    """
    path = Path(model_path).expanduser()
    if path.is_dir():
        if (path / MODEL_FILE).is_file():
            return path / MODEL_FILE
        raise InputError(f"{path} is a folder without {MODEL_FILE}; give a run folder written by rnnsim train "
                         f"(--out) or a model's .npz file")
    if not path.is_file():
        raise InputError(
            f"model file {path} does not exist; give a run folder or a .npz written by rnnsim train or model.save"
        )
    return path


def probe_checkpoint(
    model_path,
    samples: Sequence[int] | None = (0,),
    data: str | None = None,
    default_task: str | None = None,
    default_seq_len: int | None = None,
    data_path: str | None = None,
) -> CheckpointProbe:
    """Load a model saved by `model.save` and probe `samples` of the validation split of its task.

    Args:
        model_path: the .npz file, or the run folder `rnnsim train` wrote it into.
        samples: indices into the task's validation inputs (default: the first; None: up to 8 first).
        data: a task name to take the samples from instead of the one saved with the model.
        default_task: the task to use when the file does not say (e.g. the app's current task).
        default_seq_len: the sequence length to use when neither the file nor the model fixes one.
        data_path: the data folder or file of a task with real data. Default None: the one the run was
            trained on (`rnnsim train --data`, saved with the model), else RNNSIM_DATA or the user cache.
    Raises InputError with one clear sentence for a missing, unreadable or foreign file.
    """
    path = model_file(model_path)
    try:
        from rnnsim.models import load_model
    except ImportError as error:  # pragma: no cover - only while the model API is missing
        raise InputError(f"this build of rnnsim cannot load models ({error})") from None
    try:
        model = load_model(path, device="cpu")  # one probe batch: the CPU is enough, and always there
    except InputError:
        raise
    except (OSError, ValueError, KeyError, EOFError) as error:
        raise InputError(f"{path} is not a model saved by rnnsim ({type(error).__name__}: {error})") from None
    config = _model_task_config(model)
    task_name = data or config.get("name") or default_task
    if not task_name:
        raise InputError(f"{path} does not say which task it was trained on; pass --data TASK")
    from rnnsim.datasets import load_task

    options = {key: config[key] for key in ("seq_len", "n_samples", "seed") if config.get(key) is not None}
    input_shape = getattr(model, "input_shape", None)  # a list of shapes for a model with several inputs
    if ("seq_len" not in options and isinstance(input_shape, tuple) and len(input_shape) >= 2
            and isinstance(input_shape[1], int)):
        options["seq_len"] = int(input_shape[1])  # the length the model was built for
    if "seq_len" not in options and default_seq_len:
        options["seq_len"] = int(default_seq_len)
    options.setdefault("n_samples", 64)  # only validation samples are needed: keep generation small
    run = model.metadata.get("run")
    if data_path is None and isinstance(run, dict) and run.get("dataset") == task_name:
        data_path = run.get("data")  # where `rnnsim train --data` read it
    task = load_task(task_name, data_path=data_path, **options)
    x_val, y_val = task.x_val, task.y_val
    samples = list(range(min(8, len(x_val)))) if samples is None else list(samples)
    for index in samples:
        if not 0 <= index < len(x_val):
            raise InputError(
                f"sample {index} is out of range: task {task_name} has {len(x_val)} validation samples"
            )
    report = model.probe(x_val[samples], y_val[samples])
    traces = list(report.traces)
    if not traces:
        raise InputError(f"{path} has no recurrent layer to inspect")
    by_layer = {model_layer_name(trace): _decode(task, input_under_layer(model, x_val, model_layer_name(trace)),
                                                 samples) for trace in traces}
    return CheckpointProbe(
        cell=traces[0].cell,
        task_name=task_name,
        task=task,
        traces=traces,
        tokens=by_layer[model_layer_name(traces[0])],
        tokens_by_layer=by_layer,
        model=model,
        samples=samples,
        annotations=annotate_samples(task, input_under_layer(model, x_val, model_layer_name(traces[0])), samples,
                                     task.mask_val),
    )


def annotate_samples(task, x, samples, mask=None) -> list[StepAnnotations] | None:
    """Each sample's annotations (the task's markers, windows, padding; see Task.annotate), or None."""
    annotate = getattr(task, "annotate", None)
    if annotate is None or getattr(getattr(x, "dtype", None), "names", None):
        return None
    return [annotate(x[index], None if mask is None else mask[index]) for index in samples]


def model_layer_name(trace: Trace) -> str:
    """The name of the model's layer that recorded `trace` ('bidirectional' for 'bidirectional/forward_lstm')."""
    return trace.layer_name.split("/")[0]


def input_under_layer(model, x, layer_name: str):
    """The array of x under the timesteps of the model's layer `layer_name`: x itself, or, for x with one
    field per model input (a task with several), the field of the input that feeds that layer."""
    fields = getattr(x, "dtype", None) is not None and x.dtype.names
    if not fields or not hasattr(model, "input_of_layer"):
        return x
    index = model.input_of_layer(layer_name)
    name = model.input_names[index] if index is not None else None
    return x[name] if name in x.dtype.names else x[x.dtype.names[0]]


def _model_task_config(model) -> dict:
    """The task the model was trained on, as `rnnsim train` saves it: {'name', 'seq_len', 'seed'}, or {}."""
    task = model.metadata.get("task")
    return dict(task) if isinstance(task, dict) else {}


def _decode(task, x, samples) -> list[list[str]] | None:
    """Each sample's inputs as display strings via the task's `decode(x[sample, t])`, or None."""
    decode = task.decode
    if decode is None:
        return None
    try:
        return [[str(decode(step)) for step in np.asarray(x[index])] for index in samples]
    except Exception:  # a decoder that cannot handle this input: show no words rather than fail
        return None


def choose_layer(traces: Sequence[Trace], layer: str | int | None) -> Trace:
    """The trace of one recurrent layer: by index (an int or its digits) or by name; default the first."""
    if not traces:
        raise InputError("the model has no recurrent layer to inspect")
    if layer is None:
        return traces[0]
    names = [trace.layer_name for trace in traces]
    if isinstance(layer, str) and not layer.lstrip("-").isdigit():
        if layer in names:
            return traces[names.index(layer)]
        raise InputError(f"no recurrent layer named {layer!r}; the model has {', '.join(names)}")
    index = int(layer)
    if not 0 <= index < len(traces):
        raise InputError(f"layer {index} is out of range: the model has {len(traces)} recurrent layers")
    return traces[index]
