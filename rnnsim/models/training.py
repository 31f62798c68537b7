"""The training engine every model shares: compile, fit / fit_iter, evaluate, predict, the batch API.

The engine is headless. `fit_iter(...)` is a generator that trains and yields a report after
every batch, probe and epoch (`rnnsim.reports`); `fit(...)` simply runs it to the end. A UI
drives `fit_iter` from a worker thread and stops training by closing the generator. Callbacks
(`rnnsim.callbacks`) see the same events through Keras's hooks.

Data comes as arrays, or as a source of batches (`rnnsim.models.batches`): a generator of (x, y)
batches, a Keras-Sequence-like object, a finite re-iterable dataset or a list of batches.
"""

from __future__ import annotations

import math
import time

import numpy as np

from rnnsim import losses as losses_module
from rnnsim import metrics as metrics_module
from rnnsim import optimizers as optimizers_module
from rnnsim.callbacks import CallbackList, History, Observer, ProgressBar
from rnnsim.cells.checks import all_finite, checked_in_pass, nonfinite_input
from rnnsim.errors import InputError
from rnnsim.layers.base import find_symbolic, inference_only
from rnnsim.models.batches import BatchStream, array_batches, is_batch_source
from rnnsim.models.device import host_copy
from rnnsim.reports import BatchReport, EpochReport, ProbeReport
from rnnsim.sparse import SparseRows


def check_input_values(x, finite=True) -> np.ndarray:
    """x as an array, or InputError: rectangular, numeric, a batch axis and one more, non-empty, finite
    (finite=False: all but the last, which the forward pass then checks, see `Trainer._infer`).

    What every model checks before it looks at shapes (which it checks itself, see `_check_x`).
    """
    try:
        x = np.asarray(x)
    except ValueError:
        raise InputError("x must be a rectangular array (pad sequences to one length first)") from None
    if x.dtype.kind not in "biuf":
        raise InputError(f"x must hold numbers, got dtype {x.dtype} (pad ragged sequences to one length)")
    if x.ndim < 2:
        raise InputError(f"x must have a batch axis and at least one more, got shape {x.shape}")
    if x.shape[0] == 0:
        raise InputError("x is empty")
    if finite:
        require_finite(x)
    return x


def require_finite(x) -> None:
    """InputError (naming the first bad sample) when the array x holds NaN or infinity."""
    if x.dtype.kind == "f" and not all_finite(x):
        raise nonfinite_input(x)


class Trainer:
    """Mixin: the training loop and batch API of a model, written against a few methods the model provides.

    The model holds `layers` (a list, in get_weights order), `optimizer`, `loss`, `metric_names`
    and `shuffle_rng`, and implements:

        _check_x(x) -> x            check an input batch against the model (building it on first data)
        _forward(x, training, record_trace=False) -> (output, mask)
        _loss_and_backward(y, output, mask) -> loss value; fills every layer's `gradients`
        _loss_value(y, output, mask) -> loss value, computed as in training, without backward
        _apply_gradients(gradients) and _release_device_slots()   (`DevicePlacement`)
    """

    def _init_training(self) -> None:
        self.optimizer = None
        self.loss = None
        self.metric_names: list[str] = []
        self._metric_functions = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self.epochs_trained = 0

    # -- compile ---------------------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, metrics=None) -> None:
        """Choose the optimizer, loss and metrics.

        Args:
            optimizer: 'rmsprop' (default), 'adam', 'sgd' or an optimizer instance.
            loss: 'binary_crossentropy', 'categorical_crossentropy', 'sparse_categorical_crossentropy',
                'mse', 'mae' (or their long names), or a Loss instance. Required.
            metrics: list of names: 'acc' / 'accuracy', 'mae', 'mse' (default None).
        """
        if loss is None:
            raise InputError("compile needs a loss, e.g. loss='binary_crossentropy'")
        self._release_device_slots()  # the old optimizer's device slots back to its host slots
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)
        if metrics is None:
            metrics = []
        if isinstance(metrics, str):
            metrics = [metrics]
        for name in metrics:
            metrics_module.check_name(name)
        self.metric_names = list(metrics)
        self._metric_functions = None
        self.compiled = True

    def _require_compiled(self):
        if not self.compiled:
            raise InputError("the model must be compiled first: model.compile(optimizer=..., loss=...)")

    # -- data checks -----------------------------------------------------------------------

    def _check_y(self, y, count) -> np.ndarray:
        """y as a checked array of targets for `count` samples."""
        try:
            y = np.asarray(y)
        except ValueError:
            raise InputError("y must be a rectangular array") from None
        if y.dtype.kind not in "biuf":
            raise InputError(f"y must hold numbers, got dtype {y.dtype}")
        if y.ndim == 0 or y.shape[0] != count:
            raise InputError(f"x has {count} samples but y has {y.shape[0] if y.ndim else 0} labels; they must match")
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise InputError("y contains NaN or infinity")
        return y

    # -- steps -----------------------------------------------------------------------------

    def _resolve_metrics(self, y, output):
        """The metric functions, resolved at the first batch: 'acc' from the targets' and outputs' shapes."""
        if self._metric_functions is None:
            self._metric_functions = [
                metrics_module.resolve(name, np.shape(y), np.shape(output)) for name in self.metric_names
            ]
        return self._metric_functions

    def _metric_sums(self, y, output, mask):
        return [function(y, output, mask) for function in self._resolve_metrics(y, output)]

    def _gradients(self) -> list:
        """The layers' gradients in get_weights order; None for a frozen layer's weights."""
        grads = []
        for layer in self.layers:
            # a layer no loss depends on (a functional model's dead branch) has no gradients this step
            if layer.trainable and len(layer.gradients) == len(layer.weights):
                grads.extend(layer.gradients)
            else:
                grads.extend([None] * len(layer.weights))
        return grads

    def _train_step(self, x, y):
        output, mask = self._forward(x, training=True)
        value = self._loss_and_backward(y, output, mask)
        self._apply_gradients(self._gradients())
        return value, self._metric_sums(y, output, mask)

    def loss_and_gradients(self, x, y, training=False):
        """(loss, gradients in get_weights order) for one batch, without updating anything.

        Embedding gradients come back dense here (for gradient checks); training never builds them.

        Args:
            x: inputs (B, ...).
            y: targets.
            training: run dropout as in training (default False).
        """
        self._require_compiled()
        x = self._check_x(x)
        y = self._check_y(y, x.shape[0])
        output, mask = self._forward(x, training=training)
        value = self._loss_and_backward(y, output, mask)
        grads = []
        for layer in self.layers:
            for gradient in layer.gradients if layer.gradients else [np.zeros_like(w) for w in layer.weights]:
                grads.append(gradient.to_dense() if isinstance(gradient, SparseRows) else host_copy(gradient))
        return value, grads

    def probe(self, x, y, epoch=0, batch=0) -> ProbeReport:
        """Forward with traces and backward on (x, y), without touching weights, optimizer or random state."""
        self._require_compiled()
        x = self._check_x(x)
        y = self._check_y(y, x.shape[0])
        output, mask = self._forward(x, training=False, record_trace=True)
        value = self._loss_and_backward(y, output, mask)
        traces, names = [], []
        for layer in self.layers:
            for trace in layer.traces():
                traces.append(trace)
                names.append(trace.layer_name or layer.name)
        for layer in self.layers:  # drop the recorded traces so later passes do not keep them alive
            layer.release_cache()
        step = self.optimizer.iterations if self.optimizer else 0
        return ProbeReport(epoch=epoch, batch=batch, step=step, loss=value, traces=traces, layer_names=names,
                           predictions=output.copy(), targets=y.copy())

    # -- batch-level API -------------------------------------------------------------------

    def _batch_result(self, value, sums, return_dict=False):
        """What the batch API returns: the loss, [loss, *metrics], or a dict of them."""
        logs = {"loss": value}
        for name, (total, count) in zip(self.metric_names, sums):
            logs[name] = total / max(count, 1.0)
        if return_dict:
            return logs
        return value if not self.metric_names else list(logs.values())

    def train_on_batch(self, x, y, return_dict=False):
        """One optimizer step on (x, y); returns the loss (or [loss, *metrics])."""
        self._require_compiled()
        x = self._check_x(x)
        y = self._check_y(y, x.shape[0])
        value, sums = self._train_step(x, y)
        return self._batch_result(value, sums, return_dict)

    def test_on_batch(self, x, y, return_dict=False):
        """Loss (and metrics) on (x, y) without training."""
        self._require_compiled()
        x = self._check_x(x)
        y = self._check_y(y, x.shape[0])
        output, mask = self._infer(x)
        value = self._loss_value(y, output, mask)
        return self._batch_result(value, self._metric_sums(y, output, mask), return_dict)

    def _infer(self, x, unchecked=False):
        """(output, mask) of a forward pass that no backward will read: the layers keep only what the
        outputs need (`layers.base.inference_only`).

        unchecked: x has not been checked for NaN and infinity yet (`_check_x(x, finite=False)`, where
        `_checks_inputs_in_pass` said so): the first layer's kernel checks it as it reads it, or this does.
        """
        with inference_only():
            if not unchecked:
                return self._forward(x, training=False)
            with checked_in_pass(x) as check:
                result = self._forward(x, training=False)
            if not check.done:
                require_finite(x)
            return result

    def _checks_inputs_in_pass(self) -> bool:
        """Can the forward pass check the input for NaN itself (see `cells.checks.checked_in_pass`)?"""
        return False

    def predict_on_batch(self, x):
        """The model's outputs for one batch x."""
        deferred = self._checks_inputs_in_pass()
        return self._infer(self._check_x(x, finite=not deferred), unchecked=deferred)[0]

    def __call__(self, x, training=False):
        """The model's outputs for x, all at once (dropout only with training=True)."""
        if find_symbolic(x) is not None:
            raise InputError("calling a model on symbolic tensors (a model inside a model) is not supported; "
                             "call its layers instead")
        return self._forward(self._check_x(x), training=training)[0]

    def predict(self, x, batch_size=32, verbose=0, steps=None):
        """The model's outputs for x, computed batch_size samples at a time.

        Args:
            x: inputs (N, ...); or a source of batches (see `rnnsim.models.batches`) of inputs or of
                (x, y) pairs, whose x alone is used: a dataset or a list of batches in one full pass,
                a generator for `steps` batches.
            batch_size: default 32 (arrays only; a dataset's batches are its own).
            verbose: ignored (kept for Keras compatibility), default 0.
            steps: batches to draw (default None: a dataset's full pass; required for a generator).
        """
        if is_batch_source(x):
            return self._join_batches([self.predict_on_batch(batch)
                                       for batch in BatchStream(x, steps, "x", "steps").inputs()])
        deferred = self._checks_inputs_in_pass()
        x = self._check_x(x, finite=not deferred)
        batch_size = self._check_batch_size(batch_size)
        try:
            return self._join_batches([self._infer(batch, unchecked=deferred)[0]
                                       for batch in array_batches(x, None, batch_size)])
        except InputError:
            if deferred:
                require_finite(x)  # a bad value named by its sample in x, not in its batch
            raise

    def _join_batches(self, outputs):
        """One result from the outputs of consecutive batches (a model with several outputs joins each)."""
        return np.concatenate(outputs, axis=0)

    @staticmethod
    def _check_batch_size(batch_size):
        """batch_size as an int (None: 32), or InputError."""
        if batch_size is None:
            return 32
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
        return int(batch_size)

    def _evaluate_batches(self, batches):
        """Sample-weighted mean loss and metrics over an iterable of (x, y) batches."""
        loss_total, count = 0.0, 0
        metric_totals = [[0.0, 0.0] for _ in self.metric_names]
        deferred = self._checks_inputs_in_pass()
        for xb, yb in batches:
            xb = self._check_x(xb, finite=not deferred)
            yb = self._check_y(yb, xb.shape[0])
            output, mask = self._infer(xb, unchecked=deferred)
            loss_total += self._loss_value(yb, output, mask) * xb.shape[0]
            count += xb.shape[0]
            for totals, (total, seen) in zip(metric_totals, self._metric_sums(yb, output, mask)):
                totals[0] += total
                totals[1] += seen
        logs = {"loss": loss_total / max(count, 1)}
        for name, (total, seen) in zip(self.metric_names, metric_totals):
            logs[name] = total / max(seen, 1.0)
        return logs

    def evaluate(self, x=None, y=None, batch_size=32, verbose=0, steps=None, return_dict=False, callbacks=None):
        """Loss (and metrics) over a data set, without training.

        Args:
            x, y: arrays; or x a source of (x, y) batches (see `rnnsim.models.batches`) and y None:
                a dataset or a list of batches is read in one full pass, a generator needs `steps`.
            batch_size: default 32 (arrays only; a dataset's batches are its own).
            verbose: ignored, default 0.
            steps: batches to draw (default None: a dataset's full pass; required for a generator).
            return_dict: return {'loss': ..., 'acc': ...} instead of a scalar or list (default False).
            callbacks: callbacks receiving on_test_begin/end (default None).
        """
        self._require_compiled()
        hooks = CallbackList(callbacks or [], self, {})
        hooks.on_test_begin({})
        if is_batch_source(x):
            if y is not None:
                raise InputError("when x is a source of (x, y) batches, y must be None")
            logs = self._evaluate_batches(BatchStream(x, steps, "x", "steps").batches())
        else:
            x = self._check_x(x)
            y = self._check_y(y, x.shape[0])
            batch_size = self._check_batch_size(batch_size)
            logs = self._evaluate_batches(array_batches(x, y, batch_size))
        hooks.on_test_end(logs)
        if return_dict:
            return logs
        return logs["loss"] if not self.metric_names else list(logs.values())

    evaluate_generator = evaluate

    def predict_generator(self, generator, steps=None, verbose=0):
        return self.predict(generator, steps=steps)

    # -- training --------------------------------------------------------------------------

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, probe=None, probe_every=None):
        """Train; returns a `History` whose `.history` maps 'loss', 'acc', 'val_loss', ... to per-epoch lists.

        Args:
            x: inputs (N, ...); or a source of (x, y) batches (see `rnnsim.models.batches`): a finite
                dataset (such as `rnnsim.utils.timeseries_dataset_from_array`'s), a list of batches or a
                Sequence, one full pass per epoch; or a generator, with steps_per_epoch.
            y: targets (N, ...) (None with a source of batches).
            batch_size: default None (32).
            epochs: train until this epoch index (default 1).
            verbose: 0 silent, 1 a progress bar per epoch (default), 2 one line per epoch.
            callbacks: list of Callback (default None).
            validation_split: fraction of the samples, taken from the END before shuffling, held out for
                validation (default 0.0).
            validation_data: (x_val, y_val), or a source of batches: a dataset or a list of batches (one
                full pass after every epoch), a generator with validation_steps (default None).
            shuffle: reshuffle the training samples every epoch (default True).
            initial_epoch: epoch index to start from (default 0).
            steps_per_epoch: batches per epoch (default None: all the samples, or a dataset's full pass;
                required for generators). A dataset then continues where the last epoch stopped.
            validation_steps: batches to draw from validation_data (default None: a full pass; required
                for generators).
            validation_batch_size: default None (batch_size).
            probe: (x_probe, y_probe): a fixed batch to trace (gates, gradient norms) during training.
            probe_every: probe after every this many batches (default None: once per epoch).
        """
        for _ in self.fit_iter(x, y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
                               validation_split=validation_split, validation_data=validation_data,
                               shuffle=shuffle, initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                               validation_steps=validation_steps, validation_batch_size=validation_batch_size,
                               probe=probe, probe_every=probe_every):
            pass
        return self.history

    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1, callbacks=None,
                      validation_data=None, validation_steps=None, initial_epoch=0, shuffle=True, **kwargs):
        """Keras 2's name for fit on a generator of (x, y) batches; same arguments as fit."""
        return self.fit(generator, None, epochs=epochs, verbose=verbose, callbacks=callbacks,
                        validation_data=validation_data, validation_steps=validation_steps,
                        initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch, shuffle=shuffle, **kwargs)

    def _training_batches(self, x, y, batch_size, shuffle, steps_per_epoch):
        """A function epoch -> iterable of (x, y) batches, and the number of steps per epoch."""
        if is_batch_source(x):
            if y is not None:
                raise InputError("when x is a source of (x, y) batches, y must be None")
            stream = BatchStream(x, steps_per_epoch, "x", "steps_per_epoch")
            self._check_x(stream.first_pair()[0])  # builds the model and checks shapes before training starts
            return (lambda: stream.batches()), stream.steps
        count = x.shape[0]
        steps = math.ceil(count / batch_size)
        if steps_per_epoch is not None:
            steps = min(steps, int(steps_per_epoch))

        def batches():
            order = self.shuffle_rng.permutation(count) if shuffle else np.arange(count)
            for step in range(steps):
                chosen = order[step * batch_size:(step + 1) * batch_size]
                if not shuffle:
                    chosen = slice(step * batch_size, (step + 1) * batch_size)
                yield x[chosen], y[chosen]

        return batches, steps

    def _validation_batches(self, validation_data, validation_steps, batch_size):
        if validation_data is None:
            return None
        if is_batch_source(validation_data):
            stream = BatchStream(validation_data, validation_steps, "validation_data", "validation_steps")
            return lambda: stream.batches()
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise InputError("validation_data must be (x_val, y_val), a dataset or a generator of batches")
        x_val = self._check_x(validation_data[0])
        y_val = self._check_y(validation_data[1], x_val.shape[0])
        return lambda: array_batches(x_val, y_val, batch_size)

    def fit_iter(self, x=None, y=None, batch_size=None, epochs=1, verbose=0, callbacks=None, validation_split=0.0,
                 validation_data=None, shuffle=True, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
                 validation_batch_size=None, probe=None, probe_every=None):
        """Train, yielding a BatchReport after every batch, ProbeReports and an EpochReport per epoch.

        Same arguments as `fit` (but verbose defaults to 0). Closing the generator stops training
        cleanly after the current batch; `self.history` holds what was done. Epoch bookkeeping:
        `self.epochs_trained` and the History entry of an epoch are both set before its EpochReport is
        yielded, so a consumer that records every report it receives agrees with the model wherever it
        stops; closing at a BatchReport leaves them at the last whole epoch. `epochs_trained` counts
        whole epochs only (an epoch cut short by `stop_training` is reported, not counted).
        """
        self._require_compiled()
        batch_size = self._check_batch_size(batch_size)
        validation_batch_size = self._check_batch_size(validation_batch_size or batch_size)
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise InputError(f"epochs must be a non-negative integer, got {epochs!r}")
        if not 0.0 <= float(validation_split) < 1.0:
            raise InputError(f"validation_split must be in [0, 1), got {validation_split!r}")
        if verbose not in (0, 1, 2, True, False):
            raise InputError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        if not is_batch_source(x):
            if x is None or y is None:
                raise InputError("fit needs x and y (or a dataset or generator of (x, y) batches as x)")
            x = self._check_x(x)
            y = self._check_y(y, x.shape[0])
            if validation_split:
                if validation_data is not None:
                    raise InputError("give validation_split or validation_data, not both")
                split_at = int(x.shape[0] * (1.0 - validation_split))  # the LAST fraction, before shuffling
                if split_at == 0 or split_at == x.shape[0]:
                    raise InputError(f"validation_split={validation_split} leaves no training or validation samples")
                validation_data = (x[split_at:], y[split_at:])
                x, y = x[:split_at], y[:split_at]
        elif validation_split:
            raise InputError("validation_split needs array inputs; give validation_data with a dataset or generator")
        train_batches, steps = self._training_batches(x, y, batch_size, shuffle, steps_per_epoch)
        validation_batches = self._validation_batches(validation_data, validation_steps, validation_batch_size)

        probes = []  # (x, y, every, observer or None)
        if probe is not None:
            if not isinstance(probe, (tuple, list)) or len(probe) != 2:
                raise InputError("probe must be (x_probe, y_probe)")
            probes.append((probe[0], probe[1], probe_every, None))
        for callback in callbacks or []:
            if isinstance(callback, Observer) and callback.probe_x is not None:
                probes.append((callback.probe_x, callback.probe_y, callback.every, callback))
        for probe_x, probe_y, every, _ in probes:
            bad_every = isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every <= 0
            if every is not None and bad_every:
                raise InputError(f"probe_every must be a positive integer, got {every!r}")
            checked = self._check_x(probe_x)
            self._check_y(probe_y, checked.shape[0])

        self.history = History()
        hook_list = [self.history, *(callbacks or [])]
        if verbose:
            hook_list.append(ProgressBar(int(verbose)))
        hooks = CallbackList(hook_list, self, {"epochs": epochs, "steps": steps, "verbose": verbose})
        self.stop_training = False
        hooks.on_train_begin({})
        epoch_logs: dict = {}
        try:
            for epoch in range(initial_epoch, epochs):
                hooks.on_epoch_begin(epoch, {})
                started = time.perf_counter()
                loss_total, seen = 0.0, 0
                metric_totals = [[0.0, 0.0] for _ in self.metric_names]
                batches_done, cut_short = 0, False
                for batch_index, ((xb, yb), is_last) in enumerate(_marking_the_last(train_batches())):
                    xb = self._check_x(xb)
                    yb = self._check_y(yb, xb.shape[0])
                    hooks.on_train_batch_begin(batch_index, {})
                    value, sums = self._train_step(xb, yb)
                    batches_done += 1
                    loss_total += value * xb.shape[0]
                    seen += xb.shape[0]
                    for totals, (total, count) in zip(metric_totals, sums):
                        totals[0] += total
                        totals[1] += count
                    logs = {"loss": loss_total / seen}
                    for name, (total, count) in zip(self.metric_names, metric_totals):
                        logs[name] = total / max(count, 1.0)
                    hooks.on_train_batch_end(batch_index, logs)
                    report = BatchReport(epoch=epoch, batch=batch_index, step=self.optimizer.iterations,
                                         steps_in_epoch=steps, batch_size=int(xb.shape[0]), loss=value,
                                         logs=dict(logs), elapsed=time.perf_counter() - started)
                    hooks.on_report(report)
                    yield report
                    for probe_x, probe_y, every, observer in probes:
                        due = (self.optimizer.iterations % every == 0) if every else is_last
                        if not due:
                            continue
                        probe_report = self.probe(probe_x, probe_y, epoch=epoch, batch=batch_index)
                        targets = [observer] if observer is not None else hooks.callbacks
                        for target in targets:
                            target.on_probe(probe_report)
                            target.on_report(probe_report)
                        yield probe_report
                    if self.stop_training:
                        cut_short = not is_last
                        break
                epoch_logs = {"loss": loss_total / max(seen, 1)}
                for name, (total, count) in zip(self.metric_names, metric_totals):
                    epoch_logs[name] = total / max(count, 1.0)
                if validation_batches is not None:
                    hooks.on_test_begin({})
                    validation_logs = self._evaluate_batches(validation_batches())
                    hooks.on_test_end(validation_logs)
                    for key, value in validation_logs.items():
                        epoch_logs["val_" + key] = value
                if not cut_short:
                    # Only a whole epoch counts (all its steps, or a dataset's pass that ended sooner): a
                    # callback that stops mid-epoch (TerminateOnNaN) still gets on_epoch_end and a History
                    # entry, as in Keras, but a resume starts that epoch again.
                    self.epochs_trained = epoch + 1
                hooks.on_epoch_end(epoch, epoch_logs)
                report = EpochReport(epoch=epoch, epochs=epochs, logs=dict(epoch_logs),
                                     elapsed=time.perf_counter() - started, steps=batches_done)
                hooks.on_report(report)
                yield report
                if self.stop_training:
                    break
        finally:
            hooks.on_train_end(epoch_logs)


def _marking_the_last(items):
    """(item, is_last) for each item of an iterable, looking one ahead."""
    iterator = iter(items)
    try:
        current = next(iterator)
    except StopIteration:
        return
    for following in iterator:
        yield current, False
        current = following
    yield current, True
