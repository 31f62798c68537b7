"""The headless side of the app: settings, a training session and the comparisons, as plain events.

Nothing here imports textual: a `TrainingSession` wraps the model API (`rnnsim.models`) and turns
its reports into the few event records the app draws (`BatchEvent`, `EpochEvent`, `ProbeEvent`).
A probe event carries what the "why" views need: the traces, the samples' annotations, their input
connectivity, and a `ProbeSource` (the weights of that moment) for what-ifs; an epoch event the
gate saturation of its last probe. `compare_cells` trains SimpleRNN, LSTM and GRU in turn,
`compare_forget_bias` one LSTM from b_f = 0 and from b_f = 1, and both report the same events.
The app runs `session.events()` or `compare_cells(...)` in a worker thread; tests can drive both
without any app.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from rnnsim.analysis import ConnectivityProbe, Edit, WhatIf, apply_edit, saturation_record, what_if
from rnnsim.annotations import StepAnnotations
from rnnsim.cells.trace import Trace
from rnnsim.datasets.tasks import TASK_NAMES
from rnnsim.errors import InputError
from rnnsim.inspection import saturation_history
from rnnsim.registry import CELL_KEYS, LAYER_NAMES, resolve_cell

# The app's menus, from the one registry of cells (rnnsim.registry) and the one of tasks (rnnsim.datasets).
CELLS = dict(LAYER_NAMES)  # cell key -> the name the app shows: 'simple_rnn' -> 'SimpleRNN'
TASKS = TASK_NAMES
CELL_ORDER = CELL_KEYS  # simple_rnn, lstm, gru: the compare run's turns, and the order `n` steps through


def normalise_cell(name: str) -> str:
    """'SimpleRNN', 'simple_rnn', 'rnn' -> 'simple_rnn'; raises InputError for anything else."""
    return resolve_cell(name, choices=CELLS.values())  # the message offers the menu's names


@dataclass
class Settings:
    """What the user chose in the setup panel (or on the command line)."""

    cell: str = "lstm"  # 'simple_rnn' | 'lstm' | 'gru'
    task: str = "adding"  # a rnnsim.datasets task name
    units: int = 16  # recurrent units
    seq_len: int = 100  # timesteps per sequence
    learning_rate: float = 1e-2
    seed: int = 0
    epochs: int = 20
    batch_size: int = 32
    n_samples: int = 4096  # training sequences generated or loaded
    probe_every: int = 5  # batches between two probes (traces + gradient norms of the probe sample)
    # Batches each cell trains for in "compare". On the adding problem at 100 steps (16 units,
    # lr 1e-2) an LSTM or GRU typically opens its memory after 500-1000 batches; a SimpleRNN never does.
    compare_batches: int = 1200
    # The LSTM's forget-gate bias at the start of training; None: Keras's unit_forget_bias (1). The
    # forget-bias compare trains 0 against 1 (Jozefowicz et al. 2015).
    forget_bias: float | None = None

    def validated(self) -> Settings:
        """A copy with the cell name normalised; raises InputError naming the first bad field."""
        cell = normalise_cell(self.cell)
        if self.task not in TASKS:
            raise InputError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        for name in ("units", "seq_len", "epochs", "batch_size", "n_samples", "probe_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InputError(
                    f"{name.replace('_', ' ')} must be a whole number of at least 1, not {value!r}"
                )
        if not (
            isinstance(self.learning_rate, float)
            and math.isfinite(self.learning_rate)
            and self.learning_rate > 0
        ):
            raise InputError(f"learning rate must be a positive number, not {self.learning_rate!r}")
        return replace(self, cell=cell)


@dataclass
class TaskInfo:
    """What the app shows about the task before training starts."""

    name: str
    description: str = ""
    loss: str = "loss"
    metrics: list[str] = field(default_factory=list)
    baseline: dict | None = None  # dict(name, metric, value, description)


@dataclass
class BatchEvent:
    epoch: int
    batch: int
    step: int
    loss: float
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class EpochEvent:
    epoch: int
    loss: float
    val_loss: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    val_metrics: dict[str, float] = field(default_factory=dict)
    # gate saturation of the epoch's last probe, one record per gated layer (rnnsim.analysis.saturation_record)
    saturation: list[dict] = field(default_factory=list)


@dataclass
class ProbeSource:
    """A model's weights at one moment and the samples probed with them: enough to ask a what-if later."""

    model: object  # the model (only its config is read again: the weights are the copies below)
    weights: list | None  # copies taken between two batches; None: the model's own (a checkpoint's)
    x: np.ndarray  # the probe samples
    y: np.ndarray

    def what_if(self, edit: Edit) -> WhatIf:
        """These samples through the model with these weights and through a copy with `edit` made."""
        return what_if(self.model, self.x, self.y, edit, weights=self.weights)


@dataclass
class ProbeEvent:
    """Traces (with gradient norms) of the probe samples, after `step` optimizer steps."""

    epoch: int
    batch: int
    step: int
    loss: float
    traces: list[Trace]
    tokens: list[list[str]] | None = None  # decoded inputs per probe sample and timestep, when known
    cell: str = ""  # which cell produced it (the compare run trains several)
    annotations: list[StepAnnotations] | None = None  # per probe sample: markers, windows, padding
    connectivity: np.ndarray | None = None  # (S, T) ||dy/dx_t|| of the probe samples
    source: ProbeSource | None = None  # what a what-if needs: the model, these weights, the probe samples
    # the same per model layer name, where a functional model's layers read different inputs
    tokens_by_layer: dict = field(default_factory=dict)


@dataclass
class DoneEvent:
    reason: str  # 'finished' | 'stopped'


Event = BatchEvent | EpochEvent | ProbeEvent | DoneEvent


@dataclass
class ReadyEvent:
    """One cell of a compare run is prepared (task loaded, model built), before its first batch."""

    cell: str
    info: TaskInfo


CompareEvent = ReadyEvent | Event


def _float_dict(values) -> dict[str, float]:
    if not values:
        return {}
    return {str(key): float(value) for key, value in dict(values).items() if value is not None}


def convert_report(report, cell: str = "", tokens=None, tokens_by_layer=None, annotations=None) -> Event | None:
    """Turn a model report (rnnsim.reports BatchReport, EpochReport, ProbeReport) into an event."""
    kind = type(report).__name__
    logs = dict(getattr(report, "logs", None) or {})
    if kind == "ProbeReport":
        return ProbeEvent(
            epoch=int(report.epoch),
            batch=int(report.batch),
            step=int(report.step),
            loss=float(report.loss),
            traces=list(report.traces),
            tokens=tokens,
            cell=cell,
            annotations=annotations,
            tokens_by_layer=dict(tokens_by_layer or {}),
        )
    if kind == "EpochReport":
        return EpochEvent(
            epoch=int(report.epoch),
            loss=float(logs.get("loss", float("nan"))),
            val_loss=None if logs.get("val_loss") is None else float(logs["val_loss"]),
            metrics=_float_dict({k: v for k, v in logs.items() if not k.startswith("val_") and k != "loss"}),
            val_metrics=_float_dict(
                {k[4:]: v for k, v in logs.items() if k.startswith("val_") and k != "val_loss"}
            ),
        )
    if kind == "BatchReport":
        # logs hold running means over the epoch; the curve plots each batch's own loss.
        return BatchEvent(
            epoch=int(report.epoch),
            batch=int(report.batch),
            step=int(report.step),
            loss=float(report.loss),
            metrics=_float_dict({k: v for k, v in logs.items() if k != "loss"}),
        )
    return None


class TrainingSession:
    """One model on one task, trained by the model API's `fit_iter` generator.

    `prepare()` loads the task and builds the model (slow: call it off the UI thread);
    `events(should_stop)` yields events until training ends or `should_stop()` returns True.
    """

    def __init__(self, settings: Settings, model=None, task=None):
        self.settings = settings.validated()
        self.model = model
        self.task = task
        self.probe_tokens: list[list[str]] | None = None
        self.probe_annotations: list[StepAnnotations] | None = None
        self.saturation_history: list[dict] = []  # one record per epoch and gated layer, as in history.json
        self._connectivity: ConnectivityProbe | None = None
        self.probe_tokens_by_layer: dict = {}  # a task with several inputs: each layer's own (see prepare)

    # -- set-up -------------------------------------------------------------------------------
    def prepare(self) -> TaskInfo:
        s = self.settings
        if self.task is None:
            from rnnsim.datasets import load_task

            self.task = load_task(s.task, seq_len=s.seq_len, n_samples=s.n_samples, seed=s.seed)
        if self.model is None:
            self.model = build_model(self.task, s)
        probe_x = self.probe_inputs()[0]
        if self.task.input_fields:  # x holds one field per model input: each layer shows the one it reads
            from rnnsim.checkpoint import input_under_layer

            self.probe_tokens_by_layer = {
                layer.name: decode_tokens(self.task, input_under_layer(self.model, probe_x, layer.name),
                                          sample_indices=range(len(probe_x)))
                for layer in self.model.layers if hasattr(layer, "n_states")}  # the recurrent layers
            probe_x = probe_x[self.task.input_fields[0]]
        self.probe_tokens = decode_tokens(self.task, probe_x, sample_indices=range(len(probe_x)))
        self.probe_annotations = annotate(self.task, probe_x, self.task.mask_val)
        self._connectivity = ConnectivityProbe(self.model)
        return task_info(self.task, s.task)

    def measure_connectivity(self, x) -> np.ndarray | None:
        """||dy/dx_t|| of the probe samples with the current weights (None where the model has no such view)."""
        if getattr(self.task, "input_fields", ()):  # several inputs: connectivity is drawn for a model with one
            return None
        try:
            return self._connectivity.measure(x)
        except InputError:  # e.g. a Bidirectional first layer: the other views go on without it
            return None

    def probe_inputs(self):
        return self.task.x_val[:8], self.task.y_val[:8]

    # -- training -----------------------------------------------------------------------------
    def events(self, should_stop: Callable[[], bool] = lambda: False) -> Iterator[Event]:
        s = self.settings
        task = self.task
        validation = (task.x_val, task.y_val)
        probe = self.probe_inputs()
        reports = self.model.fit_iter(
            task.x_train,
            task.y_train,
            epochs=s.epochs,
            batch_size=s.batch_size,
            validation_data=validation,
            probe=probe,
            probe_every=s.probe_every,
        )
        last_traces: list[Trace] = []
        try:
            for report in reports:
                event = convert_report(report, cell=s.cell, tokens=self.probe_tokens,
                                       tokens_by_layer=self.probe_tokens_by_layer,
                                       annotations=self.probe_annotations)
                if isinstance(event, ProbeEvent):  # between two batches: the weights hold still
                    event.connectivity = self.measure_connectivity(probe[0])
                    event.source = ProbeSource(self.model, self.model.get_weights(), probe[0], probe[1])
                    last_traces = event.traces
                elif isinstance(event, EpochEvent):
                    event.saturation = [record for trace in last_traces
                                        if (record := saturation_record(trace, epoch=event.epoch + 1))["gates"]]
                    self.saturation_history += event.saturation
                if event is not None:
                    yield event
                if should_stop():
                    yield DoneEvent("stopped")
                    return
        finally:
            close = getattr(reports, "close", None)
            if close is not None:
                close()
        yield DoneEvent("finished")


def compare_cells(
    settings: Settings,
    session_factory: Callable[[Settings], TrainingSession] = TrainingSession,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[CompareEvent]:
    """Train SimpleRNN, LSTM and GRU side by side, one batch each in turn, and yield what happens.

    The three see the very same data, seed and settings, and their gradient curves grow on the app's
    Compare tab together, so the moment a gated cell opens its memory (and the SimpleRNN does not)
    happens in front of the user. Runs `settings.compare_batches` rounds.

    Args:
        settings: the run's settings; each cell gets a copy with its own `cell`, enough epochs for the
            rounds, and about 30 probes over the run.
        session_factory: builds a `TrainingSession` (or anything with `prepare()` and `events(should_stop)`).
        should_stop: asked after each cell's batch, and passed to every session; it may block while
            the run is paused (the app's `wait_if_paused`). True stops the run.
    Yields:
        a `ReadyEvent` per cell once it is prepared; then, in turn, each cell's events up to and
        including its next `BatchEvent` (a `ProbeEvent.cell` names its cell); last a `DoneEvent`:
        'stopped' when `should_stop()` or a session said stop, else 'finished'.
    """
    variants = {cell: replace(settings, cell=cell) for cell in CELL_ORDER}
    yield from compare_variants(variants, session_factory, should_stop)


def forget_bias_label(bias: float) -> str:
    return f"LSTM b_f={bias:g}"


def compare_forget_bias(
    settings: Settings,
    session_factory: Callable[[Settings], TrainingSession] = TrainingSession,
    should_stop: Callable[[], bool] = lambda: False,
    biases: tuple[float, ...] = (0.0, 1.0),
) -> Iterator[CompareEvent]:
    """The same LSTM trained from forget-gate bias 0 and from 1, side by side (Jozefowicz et al. 2015).

    Same data, seed and initial weights but for b_f; the events name their run 'LSTM b_f=0', 'LSTM b_f=1'.
    Otherwise as `compare_cells`.
    """
    variants = {forget_bias_label(b): replace(settings, cell="lstm", forget_bias=float(b)) for b in biases}
    yield from compare_variants(variants, session_factory, should_stop)


def compare_variants(
    variants: dict[str, Settings],
    session_factory: Callable[[Settings], TrainingSession] = TrainingSession,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[CompareEvent]:
    """Train several settings side by side, one batch each in turn; the events are labelled by the keys.

    Every variant shares the first one's task (the same data) and runs `compare_batches` rounds of
    the first variant's settings, with about 30 probes over the run.
    """
    first = next(iter(variants.values()))
    rounds = first.compare_batches
    epochs = max(1, -(-rounds * first.batch_size // first.n_samples))
    streams: dict[str, Iterator[Event]] = {}
    try:
        shared_task = None
        for label, variant in variants.items():
            session = session_factory(replace(variant, epochs=epochs, probe_every=max(1, rounds // 30)))
            if shared_task is not None:
                session.task = shared_task
            info = session.prepare()
            shared_task = getattr(session, "task", None)
            streams[label] = iter(session.events(should_stop))
            yield ReadyEvent(label, info)
        finished = yield from _take_turns(streams, rounds, should_stop)
    finally:
        for stream in streams.values():
            close = getattr(stream, "close", None)
            if close is not None:
                close()
    yield DoneEvent("finished" if finished else "stopped")


def _take_turns(
    streams: dict[str, Iterator[Event]], rounds: int, should_stop: Callable[[], bool]
) -> Generator[Event, None, bool]:
    """Up to `rounds` rounds of one batch per cell; a finished cell drops out. Returns False when stopped."""
    for _ in range(rounds):
        for cell, stream in list(streams.items()):
            for event in stream:  # up to and including this cell's next batch
                if isinstance(event, DoneEvent):
                    if event.reason == "stopped":
                        return False
                    del streams[cell]
                    break
                if isinstance(event, ProbeEvent):
                    event.cell = cell
                yield event
                if isinstance(event, BatchEvent):
                    break
            if should_stop():
                return False
        if not streams:
            break
    return True


def build_model(task, settings: Settings):
    """The same model `rnnsim train` builds for `task` (one recurrent layer, RMSprop at the chosen rate)."""
    from rnnsim.experiment import RunConfig
    from rnnsim.experiment import build_model as build

    config = RunConfig(cell=settings.cell, dataset=task.name, units=settings.units, epochs=settings.epochs,
                       batch_size=settings.batch_size, lr=settings.learning_rate, seed=settings.seed,
                       seq_len=settings.seq_len, samples=settings.n_samples)
    model = build(task, config.validate())
    if settings.forget_bias is not None and settings.cell == "lstm":
        apply_edit(model, Edit("forget_bias", settings.forget_bias))  # Keras's initial 1 -> the chosen value
    return model


def annotate(task, x, mask=None) -> list[StepAnnotations] | None:
    """Each sample's annotations (Task.annotate: markers, windows, padding), or None for a task without."""
    if not hasattr(task, "annotate"):
        return None
    return [task.annotate(x[index], None if mask is None else mask[index]) for index in range(len(x))]


def task_info(task, name: str) -> TaskInfo:
    baseline = task.baseline
    loss = task.loss
    return TaskInfo(
        name=name,
        description=task.description,
        loss=loss if isinstance(loss, str) else getattr(loss, "name", "loss"),
        metrics=[
            m if isinstance(m, str) else getattr(m, "name", str(m)) for m in task.metrics
        ],
        baseline=dict(baseline) if baseline else None,
    )


def decode_tokens(task, x, sample_indices) -> list[list[str]] | None:
    """The inputs of some samples as short strings per timestep (words for text), or None.

    Uses the task's `decode(x[sample, t]) -> str` when it has one, else the numbers themselves.
    """
    decode = task.decode
    rows = []
    for index in sample_indices:
        steps = np.asarray(x[index])
        try:
            rows.append([str(decode(step)) if callable(decode) else _format_input(step) for step in steps])
        except Exception:  # a decoder that cannot handle this sample: fall back to numbers
            rows.append([_format_input(step) for step in steps])
    return rows


def _format_input(step) -> str:
    step = np.atleast_1d(np.asarray(step))
    if step.dtype.kind in "iu":
        return " ".join(str(int(v)) for v in step[:4])
    return " ".join(f"{float(v):.2f}" for v in step[:4])


@dataclass
class CheckpointView:
    """A saved model opened for inspection: its settings, task, and traces of some real samples."""

    settings: Settings
    info: TaskInfo
    traces: list[Trace]
    tokens: list[list[str]] | None
    annotations: list[StepAnnotations] | None = None
    connectivity: np.ndarray | None = None  # (S, T) ||dy/dx_t|| of the samples
    source: ProbeSource | None = None  # for what-ifs on the opened model
    saturation_history: list[dict] = field(default_factory=list)  # history.json's per-epoch saturation, if any
    tokens_by_layer: dict = field(default_factory=dict)  # per model layer name (see CheckpointProbe)


def load_checkpoint(
    path: str, default_task: str = "adding", default_seq_len: int | None = None
) -> CheckpointView:
    """Open a model saved by `model.save` and probe the first (up to 8) validation samples of its task.

    Raises InputError (one clear line) for a missing, unreadable or foreign file.
    """
    from rnnsim.checkpoint import probe_checkpoint

    probe = probe_checkpoint(path, samples=None, default_task=default_task, default_seq_len=default_seq_len)
    settings = Settings(
        cell=probe.cell,
        task=probe.task_name if probe.task_name in TASKS else "adding",
        units=probe.traces[0].units,
        seq_len=probe.traces[0].timesteps,
    )
    try:
        connectivity = ConnectivityProbe(probe.model).measure(probe.x)
    except InputError:
        connectivity = None
    return CheckpointView(
        settings=settings,
        info=task_info(probe.task, probe.task_name),
        traces=probe.traces,
        tokens=probe.tokens,
        annotations=probe.annotations,
        connectivity=connectivity,
        source=ProbeSource(probe.model, None, probe.x, probe.y),
        saturation_history=saturation_history(path),
        tokens_by_layer=dict(probe.tokens_by_layer),
    )
