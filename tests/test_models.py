"""Sequential: the tutorial's summaries, compile/fit arguments, bad input, determinism, fit_iter, probes."""

import numpy as np
import pytest

from rnnsim import layers
from rnnsim.callbacks import Callback, EarlyStopping, Observer
from rnnsim.errors import InputError
from rnnsim.layers import LSTM, Dense, Embedding, SimpleRNN
from rnnsim.models import Sequential, set_seed
from rnnsim.optimizers import RMSprop
from rnnsim.reports import BatchReport, EpochReport, ProbeReport


def summary_rows(model):
    lines = []
    model.summary(print_fn=lines.append)
    return lines


def row_cells(line):
    return [cell.strip() for cell in line.strip("│").split("│")]


def test_tutorial_summary_prints_keras_numbers():
    model = Sequential()
    model.add(Embedding(10000, 32))
    model.add(SimpleRNN(32))
    lines = summary_rows(model)
    assert lines[0] == 'Model: "sequential"'
    assert row_cells(lines[2].replace("┃", "│")) == ["Layer (type)", "Output Shape", "Param #"]
    rows = [row_cells(line) for line in lines if line.startswith("│")]
    assert rows == [["embedding (Embedding)", "(None, None, 32)", "320,000"],
                    ["simple_rnn (SimpleRNN)", "(None, 32)", "2,080"]]
    assert " Total params: 322,080 (1.23 MB)" in lines
    assert " Trainable params: 322,080 (1.23 MB)" in lines
    assert " Non-trainable params: 0 (0.00 B)" in lines


def test_tutorial_summary_with_return_sequences_and_stack():
    model = Sequential()
    model.add(Embedding(10000, 32))
    model.add(SimpleRNN(32, return_sequences=True))
    rows = [row_cells(line) for line in summary_rows(model) if line.startswith("│")]
    assert rows[1] == ["simple_rnn (SimpleRNN)", "(None, None, 32)", "2,080"]
    for _ in range(3):
        model.add(SimpleRNN(32, return_sequences=True))
    model.add(SimpleRNN(32))
    lines = summary_rows(model)
    names = [row_cells(line)[0] for line in lines if line.startswith("│")]
    assert names[1:] == ["simple_rnn (SimpleRNN)", "simple_rnn_1 (SimpleRNN)", "simple_rnn_2 (SimpleRNN)",
                         "simple_rnn_3 (SimpleRNN)", "simple_rnn_4 (SimpleRNN)"]
    assert any(line.startswith(" Total params: 330,400") for line in lines)


def test_summary_of_gru_with_input_shape():
    model = Sequential([layers.GRU(32, dropout=0.2, recurrent_dropout=0.2, input_shape=(None, 14)), layers.Dense(1)])
    rows = [row_cells(line) for line in summary_rows(model) if line.startswith("│")]
    assert rows == [["gru (GRU)", "(None, 32)", "4,608"], ["dense (Dense)", "(None, 1)", "33"]]


def small_model(seed=0, **compile_options):
    model = Sequential(seed=seed)
    model.add(LSTM(6, dropout=0.1, recurrent_dropout=0.1, input_shape=(None, 3)))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(**{"optimizer": "adam", "loss": "binary_crossentropy", "metrics": ["acc"], **compile_options})
    return model


def data(count=64, timesteps=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, timesteps, 3)).astype(np.float32)
    return x, (x[:, :, 0].sum(axis=1) > 0).astype(np.float32)


def test_same_seed_gives_same_weights_after_training():
    x, y = data()
    first, second = small_model(seed=5), small_model(seed=5)
    first.fit(x, y, epochs=2, batch_size=16, verbose=0)
    second.fit(x, y, epochs=2, batch_size=16, verbose=0)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(small_model(seed=6).get_weights()[0], first.get_weights()[0])


def test_global_seed_applies_to_models_without_their_own():
    try:
        set_seed(11)
        a, b = Sequential([Dense(2, input_shape=(3,))]), Sequential([Dense(2, input_shape=(3,))])
        np.testing.assert_array_equal(a.get_weights()[0], b.get_weights()[0])
    finally:
        set_seed(None)


def test_history_keys_follow_the_names_typed():
    x, y = data()
    history = small_model(metrics=["acc", "mae"]).fit(x, y, epochs=2, batch_size=16, validation_split=0.25,
                                                      verbose=0)
    assert set(history.history) == {"loss", "acc", "mae", "val_loss", "val_acc", "val_mae"}
    assert len(history.history["val_acc"]) == 2


def test_validation_split_takes_the_last_samples_before_shuffling():
    x, y = data(count=40)
    seen = []

    class Recorder(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(batch)

    model = small_model()
    history = model.fit(x, y, epochs=1, batch_size=10, validation_split=0.25, verbose=0, callbacks=[Recorder()])
    assert len(seen) == 3  # 30 training samples in batches of 10
    validation = model.evaluate(x[30:], y[30:], batch_size=10, return_dict=True)
    assert history.history["val_loss"][0] == pytest.approx(validation["loss"], rel=1e-6)
    assert history.history["val_acc"][0] == pytest.approx(validation["acc"], rel=1e-6)


def test_fit_accepts_a_generator_with_steps_per_epoch():
    rng = np.random.default_rng(0)

    def batches():
        while True:
            x = rng.normal(size=(8, 5, 14)).astype(np.float32)
            yield x, x[:, -1, :1]

    model = Sequential(seed=0)
    model.add(layers.GRU(4, dropout=0.2, recurrent_dropout=0.2, input_shape=(None, 14)))
    model.add(layers.Dense(1))
    model.compile(optimizer=RMSprop(), loss="mae")
    history = model.fit_generator(batches(), steps_per_epoch=5, epochs=2, validation_data=batches(),
                                  validation_steps=2, verbose=0)
    assert len(history.history["loss"]) == 2 and len(history.history["val_loss"]) == 2
    with pytest.raises(InputError, match="steps_per_epoch"):
        model.fit(batches(), epochs=1, verbose=0)


def test_fit_iter_yields_reports_and_stops_when_closed():
    x, y = data()
    model = small_model()
    stream = model.fit_iter(x, y, epochs=5, batch_size=16)
    reports = [next(stream) for _ in range(6)]
    stream.close()
    assert [type(r) for r in reports] == [BatchReport] * 4 + [EpochReport, BatchReport]
    assert reports[4].logs.keys() == {"loss", "acc"}
    assert model.optimizer.iterations == 5 and model.epochs_trained == 1


def test_probe_reports_traces_and_gradient_norms_without_changing_training():
    x, y = data()
    probed, plain = small_model(seed=3), small_model(seed=3)
    received = []
    observer = Observer(x[:4], y[:4], every=2, on_probe=received.append)
    probed.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[observer], probe=(x[:2], y[:2]))
    plain.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for a, b in zip(probed.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)
    observer_probes = [r for r in received if r.traces[0].batch_size == 4]
    assert len(observer_probes) == 2  # after steps 2 and 4
    report = observer_probes[0]
    assert isinstance(report, ProbeReport) and report.layer_names == ["lstm"]
    trace = report.traces[0]
    assert trace.cell == "lstm" and trace.hidden.shape == (4, 8, 6)
    assert trace.grad_hidden_norm.shape == (4, 8) and np.all(trace.grad_hidden_norm[:, -1] > 0)
    assert any(r.traces[0].batch_size == 2 for r in received)  # fit's own probe reaches every callback


def test_early_stopping_stops_and_restores_best_weights():
    x, y = data()
    model = small_model()
    model.compile(optimizer=RMSprop(learning_rate=0.5), loss="binary_crossentropy")
    stopper = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    history = model.fit(x, y, epochs=30, batch_size=64, verbose=0, callbacks=[stopper], validation_data=(x, y))
    assert len(history.history["loss"]) < 30
    assert model.evaluate(x, y, batch_size=64) == pytest.approx(min(history.history["val_loss"]), rel=1e-6)


def test_bad_arguments_raise_one_line_input_errors():
    x, y = data()
    model = small_model()
    cases = [
        (lambda: model.compile(optimizer="adamw_x", loss="mse"), "unknown optimizer"),
        (lambda: model.compile(optimizer="adam", loss="nope"), "unknown loss"),
        (lambda: model.compile(optimizer="adam", loss="mse", metrics=["f1_x"]), "unknown metric"),
        (lambda: model.fit(x[:, :, :2], y, verbose=0), "expects input of shape"),
        (lambda: model.fit(x, y[:-1], verbose=0), "64 samples but y has 63"),
        (lambda: model.fit(np.where(x > 2, np.nan, x), y, verbose=0), "NaN"),
        (lambda: model.fit(x, y, batch_size=0, verbose=0), "batch_size"),
        (lambda: model.fit(x, y, validation_split=1.5, verbose=0), "validation_split"),
        (lambda: model.predict(x[0]), "expects input of shape"),
        (lambda: Sequential().fit(x, y), "compiled"),
        (lambda: model.set_weights([np.zeros(3)]), "weight arrays"),
        (lambda: Sequential().add("dense"), "expects a layer"),
    ]
    for run, message in cases:
        with pytest.raises(InputError, match=message) as caught:
            run()
        assert "\n" not in str(caught.value)


def test_predict_evaluate_and_batch_methods():
    x, y = data()
    model = small_model()
    loss_before = model.evaluate(x, y)[0]
    result = model.train_on_batch(x, y)
    assert len(result) == 2 and np.isfinite(result[0])
    assert model.test_on_batch(x, y)[0] < loss_before + 1.0
    predictions = model.predict(x, batch_size=10)
    assert predictions.shape == (64, 1) and np.all((predictions > 0) & (predictions < 1))
    np.testing.assert_allclose(predictions, model.predict(x, batch_size=64), rtol=1e-6)
