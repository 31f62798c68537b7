"""The book's recurrent chapters, shrunk, on the shared data: each cell as the notebook has it, only the imports,
the data paths and the sizes changed (marked `# shrunk`).

Notebooks (fchollet/deep-learning-with-python-notebooks): first_edition/6.2-understanding-recurrent-neural-
networks, first_edition/6.3-advanced-usage-of-recurrent-neural-networks, second_edition/chapter10_dl-for-
timeseries, second_edition/chapter11_part02_sequence-models. Left out: the plots (matplotlib), the shell cells
(wget, unzip, rm), 6.3's cell 19 (it reads names no cell defines), chapter 11's cells that call TensorFlow
itself (tf.one_hot) and those that read GloVe (its vectors are replaced by a seeded stand-in to run the cells
after them). Where the shared data differ from the book's: Jena is its first 4,000 rows and 11 variables.

The second edition builds its models with the functional API (keras.Input, keras.Model); those cells are
here as written, and the same models as Sequential stacks train on the same datasets too.
"""

# The notebooks' code is kept as written, unused names and loop variables included.
# ruff: noqa: F841, B007

import os
import pathlib
import tarfile

import numpy as np
import pytest

import rnnsim

JENA = "jena/jena_climate_2009_first4000rows_12cols.csv"
IMDB_ARCHIVE = "imdb/aclImdb_v1_labelled.tar.xz"


class Namespace(dict):
    __getattr__ = dict.__getitem__


def summary_lines(model):
    lines = []
    model.summary(print_fn=lines.append)
    return "\n".join(lines)


def assert_checkpoint_holds(model, filename):
    """After one epoch, ModelCheckpoint(save_best_only=True) has saved exactly the model as trained."""
    saved = rnnsim.models.load_model(filename)
    for ours, theirs in zip(saved.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


# -- first edition, 6.2: understanding recurrent neural networks -------------------------------


@pytest.fixture(scope="module")
def imdb_reviews(need_data):
    need_data(IMDB_ARCHIVE, "imdb/imdb_word_index.json")
    from rnnsim.datasets import imdb

    return imdb.load_data(num_words=10000)


def test_6_2_simple_rnn_summaries_have_kerass_parameter_counts():
    # cells 2, 4, 5, 7
    from rnnsim.layers import Embedding, SimpleRNN
    from rnnsim.models import Sequential

    model = Sequential()
    model.add(Embedding(10000, 32))
    model.add(SimpleRNN(32))
    text = summary_lines(model)
    assert "(None, 32)" in text and "320,000" in text and "2,080" in text and "Total params: 322,080" in text

    model = Sequential()
    model.add(Embedding(10000, 32))
    model.add(SimpleRNN(32, return_sequences=True))
    assert "(None, None, 32)" in summary_lines(model)

    model = Sequential()
    model.add(Embedding(10000, 32))
    model.add(SimpleRNN(32, return_sequences=True))
    model.add(SimpleRNN(32, return_sequences=True))
    model.add(SimpleRNN(32, return_sequences=True))
    model.add(SimpleRNN(32))  # This last layer only returns the last outputs.
    assert "Total params: 328,320" in summary_lines(model)


def test_6_2_simple_rnn_and_lstm_train_on_imdb(imdb_reviews, capsys):
    # cell 9
    from rnnsim.preprocessing import sequence

    max_features = 10000  # number of words to consider as features
    maxlen = 80  # shrunk from 500
    batch_size = 32

    print('Loading data...')
    (input_train, y_train), (input_test, y_test) = imdb_reviews
    input_train, y_train = input_train[:640], y_train[:640]  # shrunk from 25,000
    input_test, y_test = input_test[:160], y_test[:160]
    print(len(input_train), 'train sequences')
    print(len(input_test), 'test sequences')

    print('Pad sequences (samples x time)')
    input_train = sequence.pad_sequences(input_train, maxlen=maxlen)
    input_test = sequence.pad_sequences(input_test, maxlen=maxlen)
    print('input_train shape:', input_train.shape)
    print('input_test shape:', input_test.shape)
    assert "input_train shape: (640, 80)" in capsys.readouterr().out

    # cell 11
    from rnnsim.layers import Dense, Embedding, SimpleRNN
    from rnnsim.models import Sequential

    model = Sequential()
    model.add(Embedding(max_features, 32))
    model.add(SimpleRNN(32))
    model.add(Dense(1, activation='sigmoid'))

    model.compile(optimizer='rmsprop', loss='binary_crossentropy', metrics=['acc'])
    history = model.fit(input_train, y_train,
                        epochs=2,  # shrunk from 10
                        batch_size=128,
                        validation_split=0.2,
                        verbose=0)
    # cell 13 plots these
    acc = history.history['acc']
    val_acc = history.history['val_acc']
    loss = history.history['loss']
    val_loss = history.history['val_loss']
    assert len(acc) == len(val_acc) == len(loss) == len(val_loss) == 2 and loss[1] < loss[0]

    # cell 16
    from rnnsim.layers import LSTM

    model = Sequential()
    model.add(Embedding(max_features, 32))
    model.add(LSTM(32))
    model.add(Dense(1, activation='sigmoid'))

    model.compile(optimizer='rmsprop',
                  loss='binary_crossentropy',
                  metrics=['acc'])
    history = model.fit(input_train, y_train,
                        epochs=2,  # shrunk from 10
                        batch_size=128,
                        validation_split=0.2,
                        verbose=0)
    assert sorted(history.history) == ['acc', 'loss', 'val_acc', 'val_loss']


# -- first edition, 6.3: advanced usage of recurrent neural networks ---------------------------


@pytest.fixture(scope="module")
def jena_6_3(need_data):
    folder = need_data(JENA)
    # cell 4
    data_dir = str(folder / "jena")
    fname = os.path.join(data_dir, 'jena_climate_2009_first4000rows_12cols.csv')

    f = open(fname)
    data = f.read()
    f.close()

    lines = data.split('\n')
    header = lines[0].split(',')
    lines = lines[1:]

    # cell 6
    float_data = np.zeros((len(lines), len(header) - 1))
    for i, line in enumerate(lines):
        values = [float(x) for x in line.split(',')[1:]]
        float_data[i, :] = values

    # cell 13
    mean = float_data[:2000].mean(axis=0)  # shrunk from 200,000
    float_data -= mean
    std = float_data[:2000].std(axis=0)
    float_data /= std

    # cell 15
    def generator(data, lookback, delay, min_index, max_index,
                  shuffle=False, batch_size=128, step=6):
        if max_index is None:
            max_index = len(data) - delay - 1
        i = min_index + lookback
        while 1:
            if shuffle:
                rows = np.random.randint(
                    min_index + lookback, max_index, size=batch_size)
            else:
                if i + batch_size >= max_index:
                    i = min_index + lookback
                rows = np.arange(i, min(i + batch_size, max_index))
                i += len(rows)

            samples = np.zeros((len(rows),
                               lookback // step,
                               data.shape[-1]))
            targets = np.zeros((len(rows),))
            for j, row in enumerate(rows):
                indices = range(rows[j] - lookback, rows[j], step)
                samples[j] = data[indices]
                targets[j] = data[rows[j] + delay][1]
            yield samples, targets

    # cell 17
    lookback = 240  # shrunk from 1440
    step = 6
    delay = 24  # shrunk from 144
    batch_size = 32  # shrunk from 128

    def make_generators():
        train_gen = generator(float_data,
                              lookback=lookback,
                              delay=delay,
                              min_index=0,
                              max_index=2000,  # shrunk from 200000, and below
                              shuffle=True,
                              step=step,
                              batch_size=batch_size)
        val_gen = generator(float_data,
                            lookback=lookback,
                            delay=delay,
                            min_index=2001,
                            max_index=3000,
                            step=step,
                            batch_size=batch_size)
        test_gen = generator(float_data,
                             lookback=lookback,
                             delay=delay,
                             min_index=3001,
                             max_index=None,
                             step=step,
                             batch_size=batch_size)
        return train_gen, val_gen, test_gen

    # This is how many steps to draw from `val_gen`
    # in order to see the whole validation set:
    val_steps = (3000 - 2001 - lookback) // batch_size

    return Namespace(header=header, float_data=float_data, generator=generator, make_generators=make_generators,
                     lookback=lookback, step=step, delay=delay, batch_size=batch_size, val_steps=val_steps)


def test_6_3_the_jena_cells_parse_and_the_naive_method_runs(jena_6_3, capsys):
    assert jena_6_3.header[:3] == ['Date Time', 'p (mbar)', 'T (degC)'] and jena_6_3.float_data.shape == (4000, 11)
    train_gen, val_gen, test_gen = jena_6_3.make_generators()
    val_steps = jena_6_3.val_steps

    # cell 21
    def evaluate_naive_method():
        batch_maes = []
        for step in range(val_steps):
            samples, targets = next(val_gen)
            preds = samples[:, -1, 1]
            mae = np.mean(np.abs(preds - targets))
            batch_maes.append(mae)
        print(np.mean(batch_maes))

    evaluate_naive_method()
    assert 0.0 < float(capsys.readouterr().out) < 1.0  # normalised units: 4 hours ahead beats the spread


def test_6_3_the_dense_baseline_trains_from_generators(jena_6_3):
    train_gen, val_gen, test_gen = jena_6_3.make_generators()
    lookback, step, float_data, val_steps = jena_6_3.lookback, jena_6_3.step, jena_6_3.float_data, jena_6_3.val_steps

    # cell 24
    from rnnsim import layers
    from rnnsim.models import Sequential
    from rnnsim.optimizers import RMSprop

    model = Sequential()
    model.add(layers.Flatten(input_shape=(lookback // step, float_data.shape[-1])))
    model.add(layers.Dense(32, activation='relu'))
    model.add(layers.Dense(1))

    model.compile(optimizer=RMSprop(), loss='mae')
    history = model.fit_generator(train_gen,
                                  steps_per_epoch=20,  # shrunk from 500
                                  epochs=3,  # shrunk from 20
                                  validation_data=val_gen,
                                  validation_steps=val_steps,
                                  verbose=0)
    # cell 26 plots these
    loss = history.history['loss']
    val_loss = history.history['val_loss']
    assert len(loss) == len(val_loss) == 3 and loss[-1] < loss[0]
    assert "(None, 440)" in summary_lines(model) and model.count_params() == 440 * 32 + 32 + 33


def test_6_3_gru_dropout_stacked_and_reversed_models_train(jena_6_3):
    train_gen, val_gen, test_gen = jena_6_3.make_generators()
    float_data, val_steps = jena_6_3.float_data, jena_6_3.val_steps
    from rnnsim import layers
    from rnnsim.models import Sequential
    from rnnsim.optimizers import RMSprop

    # cell 29
    model = Sequential()
    model.add(layers.GRU(32, input_shape=(None, float_data.shape[-1])))
    model.add(layers.Dense(1))

    model.compile(optimizer=RMSprop(), loss='mae')
    history = model.fit_generator(train_gen,
                                  steps_per_epoch=5,  # shrunk from 500, and epochs below
                                  epochs=2,
                                  validation_data=val_gen,
                                  validation_steps=val_steps,
                                  verbose=0)
    assert len(history.history['val_loss']) == 2

    # cell 34
    model = Sequential()
    model.add(layers.GRU(32,
                         dropout=0.2,
                         recurrent_dropout=0.2,
                         input_shape=(None, float_data.shape[-1])))
    model.add(layers.Dense(1))

    model.compile(optimizer=RMSprop(), loss='mae')
    history = model.fit_generator(train_gen,
                                  steps_per_epoch=5,
                                  epochs=2,
                                  validation_data=val_gen,
                                  validation_steps=val_steps,
                                  verbose=0)

    # cell 38
    model = Sequential()
    model.add(layers.GRU(32,
                         dropout=0.1,
                         recurrent_dropout=0.5,
                         return_sequences=True,
                         input_shape=(None, float_data.shape[-1])))
    model.add(layers.GRU(64, activation='relu',
                         dropout=0.1,
                         recurrent_dropout=0.5))
    model.add(layers.Dense(1))

    model.compile(optimizer=RMSprop(), loss='mae')
    history = model.fit_generator(train_gen,
                                  steps_per_epoch=5,
                                  epochs=2,
                                  validation_data=val_gen,
                                  validation_steps=val_steps,
                                  verbose=0)
    assert model.count_params() == 4_320 + 18_816 + 65

    # cell 43
    lookback, delay, step, batch_size = jena_6_3.lookback, jena_6_3.delay, jena_6_3.step, jena_6_3.batch_size

    def reverse_order_generator(data, lookback, delay, min_index, max_index,
                                shuffle=False, batch_size=128, step=6):
        if max_index is None:
            max_index = len(data) - delay - 1
        i = min_index + lookback
        while 1:
            if shuffle:
                rows = np.random.randint(
                    min_index + lookback, max_index, size=batch_size)
            else:
                if i + batch_size >= max_index:
                    i = min_index + lookback
                rows = np.arange(i, min(i + batch_size, max_index))
                i += len(rows)

            samples = np.zeros((len(rows),
                               lookback // step,
                               data.shape[-1]))
            targets = np.zeros((len(rows),))
            for j, row in enumerate(rows):
                indices = range(rows[j] - lookback, rows[j], step)
                samples[j] = data[indices]
                targets[j] = data[rows[j] + delay][1]
            yield samples[:, ::-1, :], targets

    train_gen_reverse = reverse_order_generator(
        float_data,
        lookback=lookback,
        delay=delay,
        min_index=0,
        max_index=2000,
        shuffle=True,
        step=step,
        batch_size=batch_size)
    val_gen_reverse = reverse_order_generator(
        float_data,
        lookback=lookback,
        delay=delay,
        min_index=2001,
        max_index=3000,
        step=step,
        batch_size=batch_size)

    # cell 44
    model = Sequential()
    model.add(layers.GRU(32, input_shape=(None, float_data.shape[-1])))
    model.add(layers.Dense(1))

    model.compile(optimizer=RMSprop(), loss='mae')
    history = model.fit_generator(train_gen_reverse,
                                  steps_per_epoch=5,
                                  epochs=2,
                                  validation_data=val_gen_reverse,
                                  validation_steps=val_steps,
                                  verbose=0)

    # cell 54
    model = Sequential()
    model.add(layers.Bidirectional(
        layers.GRU(32), input_shape=(None, float_data.shape[-1])))
    model.add(layers.Dense(1))

    model.compile(optimizer=RMSprop(), loss='mae')
    history = model.fit_generator(train_gen,
                                  steps_per_epoch=5,
                                  epochs=2,
                                  validation_data=val_gen,
                                  validation_steps=val_steps,
                                  verbose=0)
    assert model.output_shape == (None, 1) and len(history.history['loss']) == 2


def test_6_3_reversed_and_bidirectional_imdb_models_train(imdb_reviews):
    # cell 47
    from rnnsim import layers
    from rnnsim.models import Sequential
    from rnnsim.preprocessing import sequence

    # Number of words to consider as features
    max_features = 10000
    # Cut texts after this number of words (among top max_features most common words)
    maxlen = 60  # shrunk from 500

    # Load data
    (x_train, y_train), (x_test, y_test) = imdb_reviews
    x_train, y_train, x_test = x_train[:320], y_train[:320], x_test[:64]  # shrunk

    # Reverse sequences
    x_train = [x[::-1] for x in x_train]
    x_test = [x[::-1] for x in x_test]

    # Pad sequences
    x_train = sequence.pad_sequences(x_train, maxlen=maxlen)
    x_test = sequence.pad_sequences(x_test, maxlen=maxlen)

    model = Sequential()
    model.add(layers.Embedding(max_features, 128))
    model.add(layers.LSTM(32))
    model.add(layers.Dense(1, activation='sigmoid'))

    model.compile(optimizer='rmsprop',
                  loss='binary_crossentropy',
                  metrics=['acc'])
    history = model.fit(x_train, y_train,
                        epochs=1,  # shrunk from 10
                        batch_size=128,
                        validation_split=0.2,
                        verbose=0)

    # cell 51
    from rnnsim import backend as K
    K.clear_session()

    # cell 52
    model = Sequential()
    model.add(layers.Embedding(max_features, 32))
    model.add(layers.Bidirectional(layers.LSTM(32)))
    model.add(layers.Dense(1, activation='sigmoid'))

    model.compile(optimizer='rmsprop', loss='binary_crossentropy', metrics=['acc'])
    history = model.fit(x_train, y_train, epochs=1, batch_size=128, validation_split=0.2, verbose=0)
    assert [layer.name for layer in model.layers] == ["embedding", "bidirectional", "dense"]
    assert model.count_params() == 320_000 + 2 * 8_320 + 65 and len(history.history['val_acc']) == 1


# -- second edition, chapter 10: deep learning for timeseries ----------------------------------


@pytest.fixture(scope="module")
def jena_10(need_data):
    folder = need_data(JENA)
    # cell 6
    fname = os.path.join(folder / "jena" / "jena_climate_2009_first4000rows_12cols.csv")

    with open(fname) as f:
        data = f.read()

    lines = data.split("\n")
    header = lines[0].split(",")
    lines = lines[1:]

    # cell 8
    temperature = np.zeros((len(lines),))
    raw_data = np.zeros((len(lines), len(header) - 1))
    for i, line in enumerate(lines):
        values = [float(x) for x in line.split(",")[1:]]
        temperature[i] = values[1]
        raw_data[i, :] = values[:]

    # cell 14
    num_train_samples = int(0.5 * len(raw_data))
    num_val_samples = int(0.25 * len(raw_data))
    num_test_samples = len(raw_data) - num_train_samples - num_val_samples

    # cell 17
    mean = raw_data[:num_train_samples].mean(axis=0)
    raw_data -= mean
    std = raw_data[:num_train_samples].std(axis=0)
    raw_data /= std

    # cell 20
    import rnnsim as keras

    sampling_rate = 6
    sequence_length = 24  # shrunk from 120
    delay = sampling_rate * (sequence_length + 24 - 1)
    batch_size = 64  # shrunk from 256

    train_dataset = keras.utils.timeseries_dataset_from_array(
        raw_data[:-delay],
        targets=temperature[delay:],
        sampling_rate=sampling_rate,
        sequence_length=sequence_length,
        shuffle=True,
        batch_size=batch_size,
        start_index=0,
        end_index=num_train_samples)

    val_dataset = keras.utils.timeseries_dataset_from_array(
        raw_data[:-delay],
        targets=temperature[delay:],
        sampling_rate=sampling_rate,
        sequence_length=sequence_length,
        shuffle=True,
        batch_size=batch_size,
        start_index=num_train_samples,
        end_index=num_train_samples + num_val_samples)

    test_dataset = keras.utils.timeseries_dataset_from_array(
        raw_data[:-delay],
        targets=temperature[delay:],
        sampling_rate=sampling_rate,
        sequence_length=sequence_length,
        shuffle=True,
        batch_size=batch_size,
        start_index=num_train_samples + num_val_samples)

    return Namespace(temperature=temperature, raw_data=raw_data, mean=mean, std=std, delay=delay,
                     num_train_samples=num_train_samples, num_val_samples=num_val_samples,
                     num_test_samples=num_test_samples, sampling_rate=sampling_rate,
                     sequence_length=sequence_length, train_dataset=train_dataset, val_dataset=val_dataset,
                     test_dataset=test_dataset)


def test_10_the_dummy_dataset_prints_the_books_windows(capsys):
    # cell 18
    import numpy as np

    import rnnsim as keras
    int_sequence = np.arange(10)
    dummy_dataset = keras.utils.timeseries_dataset_from_array(
        data=int_sequence[:-3],
        targets=int_sequence[3:],
        sequence_length=3,
        batch_size=2,
    )

    for inputs, targets in dummy_dataset:
        for i in range(inputs.shape[0]):
            print([int(x) for x in inputs[i]], int(targets[i]))
    assert capsys.readouterr().out == "[0, 1, 2] 3\n[1, 2, 3] 4\n[2, 3, 4] 5\n[3, 4, 5] 6\n[4, 5, 6] 7\n"


def test_10_the_datasets_shapes_and_the_naive_method_on_jena(jena_10, capsys):
    train_dataset, val_dataset, test_dataset = jena_10.train_dataset, jena_10.val_dataset, jena_10.test_dataset
    mean, std = jena_10.mean, jena_10.std
    assert (jena_10.num_train_samples, jena_10.num_val_samples, jena_10.num_test_samples) == (2000, 1000, 1000)

    # cell 22
    for samples, targets in train_dataset:
        print("samples shape:", samples.shape)
        print("targets shape:", targets.shape)
        break
    assert capsys.readouterr().out == "samples shape: (64, 24, 11)\ntargets shape: (64,)\n"

    # cell 25
    def evaluate_naive_method(dataset):
        total_abs_err = 0.
        samples_seen = 0
        for samples, targets in dataset:
            preds = samples[:, -1, 1] * std[1] + mean[1]
            total_abs_err += np.sum(np.abs(preds - targets))
            samples_seen += samples.shape[0]
        return total_abs_err / samples_seen

    print(f"Validation MAE: {evaluate_naive_method(val_dataset):.2f}")
    print(f"Test MAE: {evaluate_naive_method(test_dataset):.2f}")

    # The same number from the rows themselves: the window starting at row s ends at row s + 6 * 23 and its
    # target is the temperature `delay` rows after s, i.e. 24 hours after that last row.
    temperature, delay = jena_10.temperature, jena_10.delay
    starts = np.arange(2000, 3000 - 23 * 6)
    expected = np.mean(np.abs(temperature[starts + 23 * 6] - temperature[starts + delay]))
    assert capsys.readouterr().out.splitlines()[0] == f"Validation MAE: {expected:.2f}"
    assert evaluate_naive_method(val_dataset) == pytest.approx(expected, rel=1e-12)


def test_10_the_dense_conv_and_lstm_models_as_sequential_stacks(jena_10, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import rnnsim as keras
    from rnnsim import layers

    sequence_length, raw_data = jena_10.sequence_length, jena_10.raw_data
    train_dataset, val_dataset, test_dataset = jena_10.train_dataset, jena_10.val_dataset, jena_10.test_dataset
    results = {}
    stacks = {
        "jena_dense.keras": [layers.Flatten(input_shape=(sequence_length, raw_data.shape[-1])),
                             layers.Dense(16, activation="relu"), layers.Dense(1)],  # cell 28
        "jena_conv.keras": [layers.Conv1D(8, 6, activation="relu", input_shape=(sequence_length, raw_data.shape[-1])),
                            layers.MaxPooling1D(2), layers.Conv1D(8, 3, activation="relu"),  # cell 32: kernels
                            layers.MaxPooling1D(2), layers.Conv1D(8, 2, activation="relu"),  # 24, 12, 6 shrunk
                            layers.GlobalAveragePooling1D(), layers.Dense(1)],
        "jena_lstm.keras": [layers.LSTM(16, input_shape=(sequence_length, raw_data.shape[-1])),
                            layers.Dense(1)],  # cell 35
    }
    for filename, stack in stacks.items():
        model = keras.models.Sequential(stack)
        callbacks = [
            keras.callbacks.ModelCheckpoint(filename,
                                            save_best_only=True)
        ]
        model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
        history = model.fit(train_dataset,
                            epochs=3,  # shrunk from 10
                            validation_data=val_dataset,
                            callbacks=callbacks,
                            verbose=0)

        model = keras.models.load_model(filename)
        print(f"Test MAE: {model.evaluate(test_dataset)[1]:.2f}")
        # cell 30 plots these
        loss = history.history["mae"]
        val_loss = history.history["val_mae"]
        assert len(loss) == len(val_loss) == 3
        best = int(np.argmin(history.history["val_loss"]))
        assert model.evaluate(val_dataset, return_dict=True)["mae"] == pytest.approx(val_loss[best], rel=1e-6)
        results[filename] = model.evaluate(test_dataset)[1]
    assert all(np.isfinite(value) for value in results.values())


def test_10_the_functional_cells(jena_10, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import rnnsim as keras
    from rnnsim import layers

    sequence_length, raw_data = jena_10.sequence_length, jena_10.raw_data
    train_dataset, val_dataset, test_dataset = jena_10.train_dataset, jena_10.val_dataset, jena_10.test_dataset

    # cell 28
    inputs = keras.Input(shape=(sequence_length, raw_data.shape[-1]))
    x = layers.Flatten()(inputs)
    x = layers.Dense(16, activation="relu")(x)
    outputs = layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)

    callbacks = [
        keras.callbacks.ModelCheckpoint("jena_dense.keras",
                                        save_best_only=True)
    ]
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    history = model.fit(train_dataset,
                        epochs=2,  # shrunk from 10
                        validation_data=val_dataset,
                        callbacks=callbacks)

    model = keras.models.load_model("jena_dense.keras")
    print(f"Test MAE: {model.evaluate(test_dataset)[1]:.2f}")

    # cell 32
    inputs = keras.Input(shape=(sequence_length, raw_data.shape[-1]))
    x = layers.Conv1D(8, 6, activation="relu")(inputs)  # shrunk kernels: 24, 12, 6
    x = layers.MaxPooling1D(2)(x)
    x = layers.Conv1D(8, 3, activation="relu")(x)
    x = layers.MaxPooling1D(2)(x)
    x = layers.Conv1D(8, 2, activation="relu")(x)
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)

    callbacks = [
        keras.callbacks.ModelCheckpoint("jena_conv.keras",
                                        save_best_only=True)
    ]
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    history = model.fit(train_dataset,
                        epochs=2,
                        validation_data=val_dataset,
                        callbacks=callbacks)

    model = keras.models.load_model("jena_conv.keras")
    print(f"Test MAE: {model.evaluate(test_dataset)[1]:.2f}")

    # cell 35
    inputs = keras.Input(shape=(sequence_length, raw_data.shape[-1]))
    x = layers.LSTM(16)(inputs)
    outputs = layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)

    callbacks = [
        keras.callbacks.ModelCheckpoint("jena_lstm.keras",
                                        save_best_only=True)
    ]
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    history = model.fit(train_dataset,
                        epochs=2,
                        validation_data=val_dataset,
                        callbacks=callbacks)

    model = keras.models.load_model("jena_lstm.keras")
    print(f"Test MAE: {model.evaluate(test_dataset)[1]:.2f}")

    # cell 38
    timesteps = 100
    input_features = 32
    output_features = 64
    inputs = np.random.random((timesteps, input_features))
    state_t = np.zeros((output_features,))
    W = np.random.random((output_features, input_features))
    U = np.random.random((output_features, output_features))
    b = np.random.random((output_features,))
    successive_outputs = []
    for input_t in inputs:
        output_t = np.tanh(np.dot(W, input_t) + np.dot(U, state_t) + b)
        successive_outputs.append(output_t)
        state_t = output_t
    final_output_sequence = np.stack(successive_outputs, axis=0)

    # cell 41
    num_features = 14
    inputs = keras.Input(shape=(None, num_features))
    outputs = layers.SimpleRNN(16)(inputs)

    # cell 43
    num_features = 14
    steps = 120
    inputs = keras.Input(shape=(steps, num_features))
    outputs = layers.SimpleRNN(16, return_sequences=False)(inputs)
    print(outputs.shape)
    assert tuple(outputs.shape) == (None, 16)

    # cell 45
    num_features = 14
    steps = 120
    inputs = keras.Input(shape=(steps, num_features))
    outputs = layers.SimpleRNN(16, return_sequences=True)(inputs)
    print(outputs.shape)
    assert tuple(outputs.shape) == (None, 120, 16)

    # cell 47
    inputs = keras.Input(shape=(steps, num_features))
    x = layers.SimpleRNN(16, return_sequences=True)(inputs)
    x = layers.SimpleRNN(16, return_sequences=True)(x)
    outputs = layers.SimpleRNN(16)(x)

    # cell 51
    inputs = keras.Input(shape=(sequence_length, raw_data.shape[-1]))
    x = layers.LSTM(32, recurrent_dropout=0.25)(inputs)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)

    callbacks = [
        keras.callbacks.ModelCheckpoint("jena_lstm_dropout.keras",
                                        save_best_only=True)
    ]
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    history = model.fit(train_dataset,
                        epochs=1,  # shrunk from 50
                        validation_data=val_dataset,
                        callbacks=callbacks)

    # cell 52
    inputs = keras.Input(shape=(sequence_length, num_features))
    x = layers.LSTM(32, recurrent_dropout=0.2, unroll=True)(inputs)

    # cell 55
    inputs = keras.Input(shape=(sequence_length, raw_data.shape[-1]))
    x = layers.GRU(32, recurrent_dropout=0.5, return_sequences=True)(inputs)
    x = layers.GRU(32, recurrent_dropout=0.5)(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)

    callbacks = [
        keras.callbacks.ModelCheckpoint("jena_stacked_gru_dropout.keras",
                                        save_best_only=True)
    ]
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    history = model.fit(train_dataset,
                        epochs=1,  # shrunk from 50
                        validation_data=val_dataset,
                        callbacks=callbacks)
    model = keras.models.load_model("jena_stacked_gru_dropout.keras")
    print(f"Test MAE: {model.evaluate(test_dataset)[1]:.2f}")

    # cell 58
    inputs = keras.Input(shape=(sequence_length, raw_data.shape[-1]))
    x = layers.Bidirectional(layers.LSTM(16))(inputs)
    outputs = layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)

    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    history = model.fit(train_dataset,
                        epochs=1,  # shrunk from 10
                        validation_data=val_dataset)
    assert len(history.history["val_mae"]) == 1


# -- second edition, chapter 11 part 2: sequence models ----------------------------------------

REVIEWS_PER_CLASS = {"train": 100, "test": 40}  # shrunk from 12,500 each


@pytest.fixture(scope="module")
def acl_imdb_texts(need_data):
    """The first reviews of each class and split, read once from the shared archive: {relative path: bytes}."""
    archive = need_data(IMDB_ARCHIVE) / IMDB_ARCHIVE
    wanted = {f"{split}/{label}": count for split, count in REVIEWS_PER_CLASS.items() for label in ("neg", "pos")}
    found = {}
    with tarfile.open(archive, "r|*") as stream:
        for member in stream:
            folder = member.name.removeprefix("aclImdb/").rpartition("/")[0]
            if member.isfile() and member.name.endswith(".txt") and wanted.get(folder, 0) > 0:
                found[member.name.removeprefix("aclImdb/")] = stream.extractfile(member).read()
                wanted[folder] -= 1
    return found


@pytest.fixture(scope="module")
def chapter_11(acl_imdb_texts, tmp_path_factory):
    """Cells 6 and 8 in a folder of their own: the unpacked aclImdb, its val split, the vectorized datasets."""
    workdir = tmp_path_factory.mktemp("chapter11")
    for relative, content in acl_imdb_texts.items():
        path = workdir / "aclImdb" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    previous = os.getcwd()
    os.chdir(workdir)
    try:
        # cell 6
        import random
        import shutil

        import rnnsim as keras
        batch_size = 32
        base_dir = pathlib.Path("aclImdb")
        val_dir = base_dir / "val"
        train_dir = base_dir / "train"
        for category in ("neg", "pos"):
            os.makedirs(val_dir / category)
            files = os.listdir(train_dir / category)
            random.Random(1337).shuffle(files)
            num_val_samples = int(0.2 * len(files))
            val_files = files[-num_val_samples:]
            for fname in val_files:
                shutil.move(train_dir / category / fname,
                            val_dir / category / fname)

        train_ds = keras.utils.text_dataset_from_directory(
            "aclImdb/train", batch_size=batch_size
        )
        val_ds = keras.utils.text_dataset_from_directory(
            "aclImdb/val", batch_size=batch_size
        )
        test_ds = keras.utils.text_dataset_from_directory(
            "aclImdb/test", batch_size=batch_size
        )
        text_only_train_ds = train_ds.map(lambda x, y: x)

        # cell 8
        from rnnsim import layers

        max_length = 100  # shrunk from 600
        max_tokens = 2000  # shrunk from 20000
        text_vectorization = layers.TextVectorization(
            max_tokens=max_tokens,
            output_mode="int",
            output_sequence_length=max_length,
        )
        text_vectorization.adapt(text_only_train_ds)

        int_train_ds = train_ds.map(
            lambda x, y: (text_vectorization(x), y),
            num_parallel_calls=4)
        int_val_ds = val_ds.map(
            lambda x, y: (text_vectorization(x), y),
            num_parallel_calls=4)
        int_test_ds = test_ds.map(
            lambda x, y: (text_vectorization(x), y),
            num_parallel_calls=4)
    finally:
        os.chdir(previous)
    return Namespace(workdir=workdir, train_ds=train_ds, val_ds=val_ds, test_ds=test_ds,
                     text_vectorization=text_vectorization, max_tokens=max_tokens, max_length=max_length,
                     int_train_ds=int_train_ds, int_val_ds=int_val_ds, int_test_ds=int_test_ds)


def test_11_the_folders_datasets_and_vocabulary(chapter_11):
    assert len(os.listdir(chapter_11.workdir / "aclImdb" / "val" / "pos")) == 20
    assert len(os.listdir(chapter_11.workdir / "aclImdb" / "train" / "neg")) == 80
    assert chapter_11.train_ds.class_names == ["neg", "pos"] and len(chapter_11.train_ds) == 5
    vocabulary = chapter_11.text_vectorization.get_vocabulary()
    assert len(vocabulary) == chapter_11.max_tokens and vocabulary[:3] == ["", "[UNK]", "the"]
    ids, labels = next(iter(chapter_11.int_train_ds))
    assert ids.shape == (32, 100) and ids.dtype == np.int64 and labels.dtype == np.int32
    assert set(np.unique(labels)) <= {0, 1}


def test_11_the_embedding_models_as_sequential_stacks(chapter_11, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import rnnsim as keras
    from rnnsim import layers

    max_tokens, int_train_ds, int_val_ds, int_test_ds = (chapter_11.max_tokens, chapter_11.int_train_ds,
                                                         chapter_11.int_val_ds, chapter_11.int_test_ds)
    text_vectorization = chapter_11.text_vectorization
    # cell 16
    embedding_layer = layers.Embedding(input_dim=max_tokens, output_dim=256)
    assert embedding_layer.output_dim == 256

    # cells 18 and 21 (output_dim 256 shrunk to 16)
    for mask_zero, filename in ((False, "embeddings_bidir_gru.keras"),
                                (True, "embeddings_bidir_gru_with_masking.keras")):
        model = keras.models.Sequential([
            layers.Embedding(input_dim=max_tokens, output_dim=16, mask_zero=mask_zero),
            layers.Bidirectional(layers.LSTM(8)), layers.Dropout(0.5), layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="rmsprop",
                      loss="binary_crossentropy",
                      metrics=["accuracy"])
        callbacks = [
            keras.callbacks.ModelCheckpoint(filename,
                                            save_best_only=True)
        ]
        model.fit(int_train_ds, validation_data=int_val_ds, epochs=1, callbacks=callbacks, verbose=0)
        assert_checkpoint_holds(model, filename)
        model = keras.models.load_model(filename)
        accuracy = model.evaluate(int_test_ds)[1]
        print(f"Test acc: {accuracy:.3f}")

    # cell 27, with a seeded stand-in for GloVe's vectors (cells 23 and 25 download and read them)
    embedding_dim = 100
    rng = np.random.default_rng(0)
    embeddings_index = {word: rng.normal(size=embedding_dim).astype("f") for word in ("the", "film", "movie")}

    vocabulary = text_vectorization.get_vocabulary()
    word_index = dict(zip(vocabulary, range(len(vocabulary))))

    embedding_matrix = np.zeros((max_tokens, embedding_dim))
    for word, i in word_index.items():
        if i < max_tokens:
            embedding_vector = embeddings_index.get(word)
        if embedding_vector is not None:
            embedding_matrix[i] = embedding_vector

    # cell 28
    embedding_layer = layers.Embedding(
        max_tokens,
        embedding_dim,
        embeddings_initializer=keras.initializers.Constant(embedding_matrix),
        trainable=False,
        mask_zero=True,
    )

    # cell 30, as a Sequential stack
    model = keras.models.Sequential([embedding_layer, layers.Bidirectional(layers.LSTM(8)), layers.Dropout(0.5),
                                     layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop",
                  loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(int_train_ds, validation_data=int_val_ds, epochs=1, verbose=0)
    assert "Non-trainable params: 200,000" in summary_lines(model)
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], embedding_matrix.astype(np.float32))
    assert np.count_nonzero(embedding_matrix.any(axis=1)) == 3


def test_11_the_functional_cells(chapter_11, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import rnnsim as keras
    from rnnsim import layers

    max_tokens, int_train_ds, int_val_ds, int_test_ds = (chapter_11.max_tokens, chapter_11.int_train_ds,
                                                         chapter_11.int_val_ds, chapter_11.int_test_ds)
    # cell 18
    inputs = keras.Input(shape=(None,), dtype="int64")
    embedded = layers.Embedding(input_dim=max_tokens, output_dim=256)(inputs)
    x = layers.Bidirectional(layers.LSTM(32))(embedded)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop",
                  loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.summary()

    callbacks = [
        keras.callbacks.ModelCheckpoint("embeddings_bidir_gru.keras",
                                        save_best_only=True)
    ]
    model.fit(int_train_ds, validation_data=int_val_ds, epochs=1, callbacks=callbacks)  # shrunk from 10
    assert_checkpoint_holds(model, "embeddings_bidir_gru.keras")
    model = keras.models.load_model("embeddings_bidir_gru.keras")
    print(f"Test acc: {model.evaluate(int_test_ds)[1]:.3f}")

    # cell 21
    inputs = keras.Input(shape=(None,), dtype="int64")
    embedded = layers.Embedding(
        input_dim=max_tokens, output_dim=256, mask_zero=True)(inputs)
    x = layers.Bidirectional(layers.LSTM(32))(embedded)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop",
                  loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.summary()

    callbacks = [
        keras.callbacks.ModelCheckpoint("embeddings_bidir_gru_with_masking.keras",
                                        save_best_only=True)
    ]
    model.fit(int_train_ds, validation_data=int_val_ds, epochs=1, callbacks=callbacks)
    assert_checkpoint_holds(model, "embeddings_bidir_gru_with_masking.keras")
    model = keras.models.load_model("embeddings_bidir_gru_with_masking.keras")
    print(f"Test acc: {model.evaluate(int_test_ds)[1]:.3f}")

    # cells 27 and 28 with a seeded stand-in for GloVe (cells 23 and 25 download and read it)
    embedding_dim = 100
    rng = np.random.default_rng(0)
    embeddings_index = {word: rng.normal(size=embedding_dim).astype("f") for word in ("the", "film", "movie")}
    vocabulary = chapter_11.text_vectorization.get_vocabulary()
    word_index = dict(zip(vocabulary, range(len(vocabulary))))
    embedding_matrix = np.zeros((max_tokens, embedding_dim))
    for word, i in word_index.items():
        if i < max_tokens:
            embedding_vector = embeddings_index.get(word)
        if embedding_vector is not None:
            embedding_matrix[i] = embedding_vector
    embedding_layer = layers.Embedding(
        max_tokens,
        embedding_dim,
        embeddings_initializer=keras.initializers.Constant(embedding_matrix),
        trainable=False,
        mask_zero=True,
    )

    # cell 30
    inputs = keras.Input(shape=(None,), dtype="int64")
    embedded = embedding_layer(inputs)
    x = layers.Bidirectional(layers.LSTM(32))(embedded)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop",
                  loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.summary()

    callbacks = [
        keras.callbacks.ModelCheckpoint("glove_embeddings_sequence_model.keras",
                                        save_best_only=True)
    ]
    model.fit(int_train_ds, validation_data=int_val_ds, epochs=1, callbacks=callbacks)
    assert_checkpoint_holds(model, "glove_embeddings_sequence_model.keras")
    model = keras.models.load_model("glove_embeddings_sequence_model.keras")
    print(f"Test acc: {model.evaluate(int_test_ds)[1]:.3f}")
    assert "Non-trainable params: 200,000" in summary_lines(model)  # the frozen stand-in for GloVe
    np.testing.assert_array_equal(model.layers[1].get_weights()[0], embedding_matrix.astype(np.float32))
