"""The epoch loop of `rnnsim train`: a progress bar, a snapshot after every epoch, Ctrl-C and divergence.

`run_epochs` drives `model.fit_iter` and saves the run folder after each whole epoch (rnnsim.runs), so
that whatever stops the run, the folder holds the last whole epoch as one consistent snapshot:

- Ctrl-C (and SIGTERM alike): the first stops after the current batch, a second at once (never inside a snapshot being
  written). The interrupted epoch is trained again on `--resume`, as with Keras's BackupAndRestore,
  so a resumed run ends on exactly the weights of an uninterrupted one.
- a non-finite loss: TerminateOnNaN stops at that batch; the diverged weights are never saved.
- a failed save (a full disk): the snapshot goes to a rescue folder, and the run stops.

The caller (rnnsim.cli) turns the returned `RunResult` into its last lines and exit status.
"""

from __future__ import annotations

import contextlib
import signal
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class RunResult:
    """How `run_epochs` ended."""

    epochs_done: int  # whole epochs trained, counting the resumed ones
    saved_epoch: int  # the epoch the run folder holds (0: nothing saved by this run)
    last_logs: dict  # the last epoch's logs
    stopped: bool = False  # by Ctrl-C or SIGTERM
    stopped_by: str = "Ctrl-C"  # which
    diverged: str | None = None  # what went non-finite, and where
    save_error: str | None = None  # the one line of a failed save


def run_epochs(model, task, config, initial_epoch, history, quiet, console, save, callbacks=()):
    """Train with a progress bar, saving a snapshot after every whole epoch with `save(epochs_done)`;
    `callbacks` go to fit_iter with the TerminateOnNaN guard.

    Ctrl-C stops after the current batch; the run folder keeps the last whole epoch (Keras's
    BackupAndRestore does the same: an interrupted epoch is trained again on resume), so a resumed run
    ends exactly where an uninterrupted one would. A non-finite loss stops at once (TerminateOnNaN).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from rnnsim.callbacks import TerminateOnNaN
    from rnnsim.reports import BatchReport, EpochReport
    from rnnsim.runs import NonFiniteWeights, SaveFailed

    steps = -(-len(task.x_train) // config.batch_size)
    total = steps * (config.epochs - initial_epoch)
    nan_guard = TerminateOnNaN(verbose=0)
    reports = model.fit_iter(task.x_train, task.y_train, batch_size=config.batch_size, epochs=config.epochs,
                             initial_epoch=initial_epoch, validation_data=(task.x_val, task.y_val), verbose=0,
                             shuffle=True, callbacks=[nan_guard, *callbacks])
    progress = Progress(
        TextColumn("[bold]epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[logs]}"), TimeRemainingColumn(), console=console, disable=quiet,
        transient=False,
    )
    # Until the first batch is done its field says why it may take a while (replaced by the losses after it).
    bar = progress.add_task("train", total=total, epoch=f"{initial_epoch + 1}/{config.epochs}",
                            logs="first batch: compiling the kernels if this is their first run (~10-15 s, once)")
    result = RunResult(epochs_done=initial_epoch, saved_epoch=initial_epoch, last_logs={})
    started = time.perf_counter()
    # Overflow on the way to a non-finite loss is expected there; TerminateOnNaN reports it in one line.
    with progress, CtrlC() as ctrl_c, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        try:
            for report in reports:
                if isinstance(report, BatchReport):
                    logs = "  ".join(f"{key} {value:.4f}" for key, value in report.logs.items())
                    progress.update(bar, advance=1, logs=logs, epoch=f"{report.epoch + 1}/{config.epochs}")
                    if nan_guard.stopped_epoch is not None:
                        result.diverged = (f"the loss became {nan_guard.invalid_loss} in epoch "
                                           f"{nan_guard.stopped_epoch + 1}, batch {nan_guard.stopped_batch + 1}")
                        break
                elif isinstance(report, EpochReport) and model.epochs_trained == report.epoch + 1:  # a whole epoch
                    # Record first, then look at Ctrl-C: an epoch whose report arrived is done, saved and kept.
                    result.epochs_done, result.last_logs = report.epoch + 1, dict(report.logs)
                    for key, value in report.logs.items():
                        history.setdefault(key, []).append(float(value))
                    with ctrl_c.deferred():  # a snapshot is written whole, whatever Ctrl-C does meanwhile
                        save(result.epochs_done)
                    result.saved_epoch = result.epochs_done
                    line = "  ".join(f"{key} {value:.4f}" for key, value in report.logs.items())
                    progress.console.print(f"epoch {result.epochs_done}/{config.epochs}  {line}  "
                                           f"({report.elapsed:.1f} s)")
                if ctrl_c.requested:  # stop between two batches, never inside an update
                    result.stopped, result.stopped_by = True, ctrl_c.by
                    break
        except KeyboardInterrupt:  # a second Ctrl-C: stop now; the folder keeps the last saved epoch
            result.stopped, result.stopped_by = True, ctrl_c.by or "Ctrl-C"
        except SaveFailed as failure:
            result.save_error = str(failure)
        except NonFiniteWeights as error:  # the weights overflowed although the loss stayed finite
            result.diverged = str(error)
        finally:
            reports.close()
    if not quiet:
        console.print(f"trained {result.epochs_done - initial_epoch} epoch(s) in {time.perf_counter() - started:.1f} s")
    return result


class CtrlC:
    """While training: the first Ctrl-C (or SIGTERM, as `kill`, a job scheduler or `docker stop` send) asks
    to stop after the current batch, a second one stops at once (KeyboardInterrupt), except inside
    `deferred()` (a snapshot being written), where it waits for the end. `by` names the first signal."""

    SIGNALS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}

    def __init__(self):
        self.requested = False
        self.by = None  # "Ctrl-C" or "SIGTERM"
        self._deferring = False
        self._abort_pending = False
        self._previous = {}

    def _handler(self, signum, frame):
        if not self.requested:
            self.requested = True
            self.by = self.SIGNALS.get(signum, "a signal")
        elif self._deferring:
            self._abort_pending = True
        else:
            raise KeyboardInterrupt

    def __enter__(self):
        try:
            for number in self.SIGNALS:
                self._previous[number] = signal.signal(number, self._handler)
        except ValueError:  # not the main thread: no handler, plain KeyboardInterrupt applies
            pass
        return self

    def __exit__(self, *exc_info):
        for number, previous in self._previous.items():
            signal.signal(number, previous)

    @contextlib.contextmanager
    def deferred(self):
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self._abort_pending:
            raise KeyboardInterrupt
