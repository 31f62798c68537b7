"""The model API under faults: set_weights with a bad last array changes nothing, TerminateOnNaN stops as
Keras's does, and fit_iter's epoch count agrees with its History wherever a consumer stops it."""

import numpy as np
import pytest

from rnnsim import optimizers
from rnnsim.callbacks import Observer, TerminateOnNaN
from rnnsim.errors import InputError
from rnnsim.layers import GRU, LSTM, Bidirectional, Dense, Embedding
from rnnsim.models import Sequential
from rnnsim.reports import BatchReport, EpochReport


def small_model(*layers):
    model = Sequential(layers=list(layers), seed=0)
    model.compile(optimizer="rmsprop", loss="mse")
    return model


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_set_weights_with_a_non_finite_last_array_changes_no_weight(bad):
    model = small_model(Embedding(20, 3), Bidirectional(LSTM(4)), Dense(2))
    model.build((None, 5))
    before = model.get_weights()
    replacement = [w + 1.0 for w in before]
    replacement[-1] = replacement[-1].copy()
    replacement[-1][1] = bad
    with pytest.raises(InputError, match=rf"^weight {len(before) - 1} \(dense/bias\) contains NaN or infinity; "
                                         r"no weight was changed$"):
        model.set_weights(replacement)
    for kept, original in zip(model.get_weights(), before):
        np.testing.assert_array_equal(kept, original)
    with pytest.raises(InputError, match="holds <U1, not numbers"):
        model.set_weights([*replacement[:-1], np.array(["a", "b"])])
    model.set_weights([w + 1.0 for w in before])  # a good list still goes in whole
    for new, original in zip(model.get_weights(), before):
        np.testing.assert_allclose(new, original + 1.0)


def diverging_data():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, (64, 6, 2)).astype(np.float32), rng.uniform(0, 1, (64, 1)).astype(np.float32)


def test_terminate_on_nan_stops_at_the_first_invalid_batch_and_prints_keras_line(capsys):
    x, y = diverging_data()
    model = Sequential(layers=[GRU(4), Dense(1)], seed=0)
    model.compile(optimizer=optimizers.SGD(learning_rate=1e6), loss="mse")
    guard = TerminateOnNaN()
    batches = []  # (epoch, batch, running loss) of every batch trained
    watch = Observer(on_report=lambda r: batches.append((r.epoch, r.batch, r.logs["loss"]))
                     if isinstance(r, BatchReport) else None)
    with np.errstate(all="ignore"):
        history = model.fit(x, y, batch_size=8, epochs=5, verbose=0, callbacks=[guard, watch], shuffle=False)
    *finite, (epoch, batch, loss) = batches
    assert all(np.isfinite(value) for _, _, value in finite) and not np.isfinite(loss)  # stopped at the first
    assert (guard.stopped_epoch, guard.stopped_batch, guard.invalid_loss) == (epoch, batch, loss)
    assert capsys.readouterr().out == f"Batch {batch}: Invalid loss, terminating training\n"  # Keras's line
    # as in Keras, the cut-short epoch still ends (on_epoch_end, a History entry); it is not counted as trained
    assert len(history.history["loss"]) == epoch + 1 and not np.isfinite(history.history["loss"][-1])
    assert model.epochs_trained == epoch


def test_terminate_on_nan_is_silent_with_verbose_0_and_leaves_finite_runs_alone(capsys):
    x, y = diverging_data()
    model = Sequential(layers=[GRU(4), Dense(1)], seed=0)
    model.compile(optimizer="rmsprop", loss="mse")
    guard = TerminateOnNaN(verbose=0)
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[guard])
    assert guard.stopped_epoch is None and guard.stopped_batch is None and guard.invalid_loss is None
    assert len(history.history["loss"]) == 3 and model.epochs_trained == 3
    model.compile(optimizer=optimizers.SGD(learning_rate=1e6), loss="mse")
    with np.errstate(all="ignore"):
        model.fit(x, y, batch_size=16, epochs=5, verbose=0, callbacks=[guard])
    assert guard.stopped_epoch is not None and capsys.readouterr().out == ""


@pytest.mark.parametrize("stop_at", ["batch", "epoch"])
def test_fit_iter_epoch_count_and_history_agree_wherever_the_consumer_stops(stop_at):
    x, y = diverging_data()
    model = small_model(GRU(4), Dense(1))
    reports = model.fit_iter(x, y, batch_size=16, epochs=10, validation_data=(x[:8], y[:8]))
    recorded = []  # what a consumer recording every EpochReport it receives knows
    for report in reports:
        if isinstance(report, EpochReport):
            recorded.append(report.logs["loss"])
            if stop_at == "epoch" and report.epoch == 2:
                break
        if isinstance(report, BatchReport) and stop_at == "batch" and report.epoch == 3 and report.batch == 1:
            break
    reports.close()
    assert model.epochs_trained == len(recorded) == len(model.history.history["val_loss"]) == 3
    assert model.history.history["loss"] == recorded
