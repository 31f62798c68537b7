"""Save/load: one .npz, identical predictions, resumed training == uninterrupted, clear errors."""

import os

import numpy as np
import pytest

from rnnsim.errors import InputError
from rnnsim.layers import GRU, LSTM, Bidirectional, Dense, Embedding
from rnnsim.models import Sequential, load_model


def make_model():
    model = Sequential(seed=7)
    model.add(Embedding(30, 4, mask_zero=True))
    model.add(Bidirectional(LSTM(5, return_sequences=True, dropout=0.2, recurrent_dropout=0.2)))
    model.add(GRU(4, dropout=0.1))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    return model


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 30, size=(48, 7))
    return ids, (ids[:, -1] > 15).astype(np.float32)


def test_round_trip_gives_identical_predictions_and_config(tmp_path, data):
    ids, labels = data
    model = make_model()
    model.fit(ids, labels, epochs=1, batch_size=16, verbose=0)
    model.metadata = {"task": {"name": "imdb", "seq_len": 7}}
    path = tmp_path / "model.npz"
    model.save(path)
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]  # no temporary file left behind
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(ids), model.predict(ids))
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    assert loaded.optimizer.iterations == model.optimizer.iterations == 3
    assert loaded.metric_names == ["acc"] and loaded.epochs_trained == 1
    assert loaded.metadata == {"task": {"name": "imdb", "seq_len": 7}}


def test_resumed_training_equals_uninterrupted_training(tmp_path, data):
    ids, labels = data
    uninterrupted = make_model()
    uninterrupted.fit(ids, labels, epochs=4, batch_size=16, verbose=0)
    first_half = make_model()
    first_half.fit(ids, labels, epochs=2, batch_size=16, verbose=0)
    first_half.save(tmp_path / "half.npz")
    resumed = load_model(tmp_path / "half.npz")
    resumed.fit(ids, labels, epochs=2, batch_size=16, verbose=0)
    for a, b in zip(resumed.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_saving_over_a_file_replaces_it_atomically(tmp_path, data):
    ids, labels = data
    model = make_model()
    model.fit(ids, labels, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "model.npz"
    path.write_bytes(b"previous contents")
    model.save(path)
    np.testing.assert_array_equal(load_model(path).predict(ids), model.predict(ids))


def test_truncated_or_corrupted_file_gives_a_clear_error(tmp_path, data):
    ids, labels = data
    model = make_model()
    model.fit(ids, labels, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "model.npz"
    model.save(path)
    content = path.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(content[: len(content) // 2])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"\x00not a model at all" * 10)
    for broken in (truncated, garbage):
        with pytest.raises(InputError, match="not a readable rnnsim model file") as caught:
            load_model(broken)
        assert "\n" not in str(caught.value)
    with pytest.raises(InputError, match="no model file"):
        load_model(tmp_path / "missing.npz")


def test_weights_that_do_not_match_the_config_give_a_clear_error(tmp_path, data):
    ids, labels = data
    model = make_model()
    model.fit(ids, labels, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "model.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["weight_000"] = np.zeros((31, 4), dtype=np.float32)  # one row more than Embedding(30, 4)
    with open(tmp_path / "mismatched.npz", "wb") as stream:
        np.savez(stream, **arrays)
    with pytest.raises(InputError, match="do not match its model config"):
        load_model(tmp_path / "mismatched.npz")


def test_set_weights_with_wrong_shapes_is_refused_before_changing_anything():
    model = Sequential([Dense(3, input_shape=(2,)), Dense(1)])
    before = model.get_weights()
    wrong = [w.copy() for w in before]
    wrong[2] = np.zeros((4, 1))
    with pytest.raises(InputError, match=r"expected \(3, 1\)"):
        model.set_weights(wrong)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_saves_the_best_epoch(tmp_path, data):
    from rnnsim.callbacks import ModelCheckpoint

    ids, labels = data
    model = make_model()
    checkpoint = ModelCheckpoint(str(tmp_path / "best-{epoch:02d}.npz"), monitor="loss", save_best_only=True)
    history = model.fit(ids, labels, epochs=2, batch_size=16, verbose=0, callbacks=[checkpoint])
    saved = sorted(os.listdir(tmp_path))
    assert saved[0] == "best-01.npz" and len(saved) == 1 + (history.history["loss"][1] < history.history["loss"][0])
