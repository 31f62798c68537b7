"""Keras-style callbacks, plus the observer hook through which UIs watch training.

Hooks (all optional, as in Keras): on_train_begin/end(logs), on_epoch_begin/end(epoch, logs),
on_train_batch_begin/end(batch, logs), on_test_begin/end(logs), on_test_batch_begin/end(batch, logs),
on_predict_begin/end(logs); and rnnsim's additions: on_report(report) for every BatchReport /
EpochReport / ProbeReport, and on_probe(report) for ProbeReports only.

A callback stops training by setting `self.model.stop_training = True`; the loop checks it
after every batch and every epoch.
"""

from __future__ import annotations

import math
import time

import numpy as np

from rnnsim.errors import InputError


class Callback:
    """Base class; `self.model` is set by the model before training starts."""

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_report(self, report): ...
    def on_probe(self, report): ...


class CallbackList:
    """Calls a hook on every callback in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise InputError(f"callbacks must be Callback instances, got {type(callback).__name__}")
            callback.set_model(model)
            callback.set_params(params)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args):
            for callback in self.callbacks:
                getattr(callback, hook)(*args)

        return call


class History(Callback):
    """Records each epoch's logs: `history.history['loss']`, ['val_loss'], ['acc'], ..."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


def _mode_op(monitor, mode):
    if mode not in ("auto", "min", "max"):
        raise InputError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    return mode


class EarlyStopping(Callback):
    """Stop when a monitored value has stopped improving (Keras 3 semantics).

    Args:
        monitor: the log entry to watch, default 'val_loss'.
        min_delta: smallest change that counts as an improvement, default 0.
        patience: epochs without improvement before stopping, default 0.
        verbose: 1 prints a line when stopping, default 0.
        mode: 'auto' (default: max for accuracies, min otherwise), 'min' or 'max'.
        baseline: a value the monitor must beat to reset patience, default None.
        restore_best_weights: at the end, put back the weights of the best epoch, default False.
        start_from_epoch: epochs to wait before watching, default 0.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.mode = _mode_op(monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)

    def _improved(self, value, reference):
        if reference is None:
            return True
        if self.mode == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            available = ", ".join(sorted(logs or {}))
            raise InputError(f"EarlyStopping monitors {self.monitor!r}, which is not logged; available: {available}")
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._improved(value, self.best):
            self.best = value
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite (Keras's `TerminateOnNaN`).

    As in Keras, the check reads `logs['loss']` after every training batch (the running mean over the
    epoch, so one bad batch is enough), prints `Batch N: Invalid loss, terminating training` and sets
    `model.stop_training`; the loop then ends the epoch as Keras does. rnnsim's additions: `verbose=0`
    silences the line, and where training stopped is kept for whoever reports it.

    Args:
        verbose: 1 (default) prints Keras's line, 0 prints nothing.

    Attributes:
        stopped_epoch: the 0-based epoch of the first non-finite loss, or None while all were finite.
        stopped_batch: its 0-based batch index within that epoch, or None.
        invalid_loss: the loss value seen there (nan, inf or -inf), or None.
    """

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose = verbose
        self.stopped_epoch = None
        self.stopped_batch = None
        self.invalid_loss = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.stopped_epoch = self.stopped_batch = self.invalid_loss = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        if self.stopped_epoch is None:
            self.stopped_epoch, self.stopped_batch, self.invalid_loss = self._epoch, batch, float(loss)
        if self.verbose:
            print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True


class ModelCheckpoint(Callback):
    """Save the model after each epoch (or only when the monitored value improves).

    Args:
        filepath: where to save; may hold `{epoch:02d}` and log entries like `{val_loss:.2f}`.
        monitor: the log entry for save_best_only, default 'val_loss'.
        verbose: 1 prints a line per save, default 0.
        save_best_only: save only when the monitored value improves, default False.
        mode: 'auto' (default), 'min' or 'max'.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, mode="auto"):
        super().__init__()
        self.filepath = str(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.mode = _mode_op(monitor, mode)
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as error:
            raise InputError(f"ModelCheckpoint filepath {self.filepath!r} cannot be filled in: {error}") from None
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                return
            better = self.best is None or (value < self.best if self.mode == "min" else value > self.best)
            if not better:
                return
            self.best = value
        self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved model to {path}")


class Observer(Callback):
    """Receives the training loop's reports; optionally asks for probes on a fixed batch.

    Subclass it and override `on_probe(report)` (and/or `on_report(report)`), or pass functions.

    Args:
        probe_x: the probe batch's inputs (default None: no probes from this observer).
        probe_y: the probe batch's labels.
        every: run the probe after every `every` training batches (default None: once per epoch).
        on_probe: a function called with each ProbeReport (default None).
        on_report: a function called with every report (default None).
    """

    def __init__(self, probe_x=None, probe_y=None, every=None, on_probe=None, on_report=None):
        super().__init__()
        if (probe_x is None) != (probe_y is None):
            raise InputError("Observer needs both probe_x and probe_y, or neither")
        if every is not None and (not isinstance(every, (int, np.integer)) or every <= 0):
            raise InputError(f"Observer every must be a positive integer, got {every!r}")
        self.probe_x = probe_x
        self.probe_y = probe_y
        self.every = every
        self._probe_function = on_probe
        self._report_function = on_report

    def on_probe(self, report):
        if self._probe_function is not None:
            self._probe_function(report)

    def on_report(self, report):
        if self._report_function is not None:
            self._report_function(report)


class SaturationHistory(Observer):
    """Gate saturation of a fixed probe batch at the end of every epoch (Karpathy, Johnson and Fei-Fei 2015).

    After each epoch's last batch the probe batch is traced, and `records` gets one JSON-ready entry per
    recurrent layer with gates: {'epoch': epochs done, 'layer', 'cell', 'steps', 'gates': {gate: {'low':
    [fraction of steps < 0.1 per unit], 'high': [> 0.9]}}} (rnnsim.analysis.saturation). `rnnsim train`
    writes them to history.json as "saturation"; a SimpleRNN has no gate and records nothing.

    Args:
        probe_x: the probe batch's inputs (e.g. the first 64 validation samples).
        probe_y: their targets.
        records: records to continue (a resumed run's), default none.
    """

    def __init__(self, probe_x, probe_y, records=None):
        super().__init__(probe_x=probe_x, probe_y=probe_y, every=None)
        self.records: list[dict] = list(records or [])

    def on_probe(self, report):
        from rnnsim.analysis.saturation import saturation_record

        for trace in report.traces:
            record = saturation_record(trace, epoch=report.epoch + 1)
            if record["gates"]:
                self.records.append(record)


def _format_logs(logs):
    return " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())


class ProgressBar(Callback):
    """Keras-style progress: verbose=1 a rich bar per epoch, verbose=2 one line per epoch."""

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose = verbose
        self._progress = None
        self._task = None
        self._epoch_start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        epochs = self.params.get("epochs")
        if self.verbose == 1:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            print(f"Epoch {epoch + 1}/{epochs}")
            self._progress = Progress(MofNCompleteColumn(), BarColumn(), TimeElapsedColumn(),
                                      TextColumn("{task.fields[logs]}"))
            self._progress.start()
            self._task = self._progress.add_task("train", total=self.params.get("steps"), logs="")

    def on_train_batch_end(self, batch, logs=None):
        if self._progress is not None:
            self._progress.update(self._task, advance=1, logs=_format_logs(logs or {}))

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self._epoch_start
        if self._progress is not None:
            self._progress.update(self._task, logs=_format_logs(logs or {}))
            self._progress.stop()
            self._progress = None
        elif self.verbose == 2:
            epochs = self.params.get("epochs")
            print(f"Epoch {epoch + 1}/{epochs} - {elapsed:.0f}s - {_format_logs(logs or {})}")

    def on_train_end(self, logs=None):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
