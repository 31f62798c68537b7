"""rnnsim.utils: timeseries windows (hand-worked against Keras's arithmetic), text folders and archives, Dataset,
and fit / evaluate / predict reading datasets and lists of batches without a step count."""

import io
import tarfile

import numpy as np
import pytest

from rnnsim.errors import InputError
from rnnsim.layers import Dense, Flatten
from rnnsim.models import Sequential
from rnnsim.utils import Dataset, text_dataset_from_directory, timeseries_dataset_from_array

# -- timeseries_dataset_from_array -------------------------------------------------------------


def all_batches(dataset):
    return list(dataset)


def test_the_books_dummy_dataset():
    # Chapter 10: windows of 3 over 0..6, each paired with the value 3 steps after its start.
    int_sequence = np.arange(10)
    dataset = timeseries_dataset_from_array(data=int_sequence[:-3], targets=int_sequence[3:], sequence_length=3,
                                            batch_size=2)
    rows = [([int(v) for v in inputs[i]], int(targets[i])) for inputs, targets in dataset
            for i in range(inputs.shape[0])]
    assert rows == [([0, 1, 2], 3), ([1, 2, 3], 4), ([2, 3, 4], 5), ([3, 4, 5], 6), ([4, 5, 6], 7)]
    assert len(dataset) == 3 and [len(inputs) for inputs, _ in dataset] == [2, 2, 1]


def test_kerass_example_1_sampling_rate_and_stride():
    dataset = timeseries_dataset_from_array(np.arange(99), None, sequence_length=10, sampling_rate=2,
                                            sequence_stride=3, batch_size=1000)
    (windows,) = all_batches(dataset)
    assert windows[0].tolist() == list(range(0, 20, 2))
    assert windows[1].tolist() == list(range(3, 22, 2))
    assert windows[2].tolist() == list(range(6, 25, 2))
    assert windows[-1].tolist() == list(range(78, 97, 2))  # 81 would reach 99: the last 2 points are unused
    assert len(windows) == 27


def test_kerass_example_2_regression_on_the_next_step():
    data = np.arange(100.0) ** 2
    inputs, targets = next(iter(timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10)))
    np.testing.assert_array_equal(inputs[0], data[:10])
    assert targets[0] == data[10] and inputs.shape == (81, 10) and targets.shape == (81,)


def test_start_and_end_index_take_windows_and_targets_from_that_range():
    data = np.arange(20).reshape(20, 1) * 10
    targets = np.arange(20) + 100
    dataset = timeseries_dataset_from_array(data, targets, sequence_length=3, sampling_rate=2, batch_size=None,
                                            start_index=5, end_index=14)
    # rows 5..13 usable; a window spans 5 rows: it starts at 5, 6, 7, 8 or 9; targets[start] for each.
    samples = all_batches(dataset)
    assert [w[:, 0].tolist() for w, _ in samples] == [[50, 70, 90], [60, 80, 100], [70, 90, 110], [80, 100, 120],
                                                      [90, 110, 130]]
    assert [int(t) for _, t in samples] == [105, 106, 107, 108, 109]
    assert len(dataset) == 5


def test_the_chapters_split_counts_windows_as_keras():
    # Chapter 10 on 420,451 Jena rows: 120 steps at sampling rate 6, targets 24 hours after the last step.
    rows, sampling_rate, sequence_length = 4_000, 6, 24
    delay = sampling_rate * (sequence_length + 24 - 1)
    raw = np.zeros((rows, 2))
    dataset = timeseries_dataset_from_array(raw[:-delay], targets=np.arange(rows)[delay:], sampling_rate=sampling_rate,
                                            sequence_length=sequence_length, batch_size=256, start_index=0,
                                            end_index=2_000)
    windows = 2_000 - (sequence_length - 1) * sampling_rate
    assert len(dataset) == -(-windows // 256)
    targets = np.concatenate([t for _, t in dataset])
    assert targets.tolist() == list(range(delay, delay + windows))  # the target of the window starting at row i


def test_shuffle_keeps_the_windows_and_draws_a_new_order_each_pass():
    data = np.arange(50)
    dataset = timeseries_dataset_from_array(data, data, sequence_length=4, batch_size=8, shuffle=True, seed=7)
    first, second = [np.concatenate([t for _, t in dataset]) for _ in range(2)]
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(47))
    assert first.tolist() != second.tolist()
    again = timeseries_dataset_from_array(data, data, sequence_length=4, batch_size=8, shuffle=True, seed=7)
    assert np.concatenate([t for _, t in again]).tolist() == first.tolist()  # same seed, same passes
    for windows, targets in dataset:
        np.testing.assert_array_equal(windows[:, 0], targets)  # windows still match their targets


def test_targets_shorter_than_the_data_cap_the_windows():
    dataset = timeseries_dataset_from_array(np.arange(10), np.arange(4), sequence_length=2, batch_size=10)
    (_, targets), = all_batches(dataset)
    assert targets.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("kwargs,message", [
    (dict(data=np.arange(10), targets=None, sequence_length=11), "spans 11 rows, but only 10 rows"),
    (dict(data=np.arange(10), targets=None, sequence_length=4, sampling_rate=4), "spans 13 rows, but only 10"),
    (dict(data=np.arange(10), targets=None, sequence_length=3, start_index=5, end_index=7), "only 2 rows"),
    (dict(data=np.arange(10), targets=None, sequence_length=3, sampling_rate=10), "sampling_rate must be lower"),
    (dict(data=np.arange(10), targets=None, sequence_length=3, end_index=10), "leave it None"),
    (dict(data=np.arange(10), targets=None, sequence_length=3, start_index=6, end_index=4), "higher than start"),
    (dict(data=np.arange(10), targets=None, sequence_length=0), "sequence_length must be an integer >= 1"),
    (dict(data=np.arange(10), targets=None, sequence_length=3, batch_size=0), "batch_size"),
    (dict(data=np.zeros((0, 3)), targets=None, sequence_length=3), "non-empty"),
    (dict(data=np.arange(10), targets=np.arange(3), sequence_length=2, start_index=4), "none is left"),
])
def test_timeseries_mistakes_are_one_input_error(kwargs, message):
    with pytest.raises(InputError, match=message):
        timeseries_dataset_from_array(**kwargs)


# -- text_dataset_from_directory ---------------------------------------------------------------

REVIEWS = {
    "neg/0_2.txt": "Awful.", "neg/1_1.txt": "Dull and long.", "neg/deeper/7_3.txt": "Nested, still a review.",
    "pos/0_9.txt": "Great film!", "pos/2_8.txt": "Loved it", "pos/10_7.txt": "Fine.",
    "pos/notes.md": "not a .txt file", ".hidden/0_1.txt": "skipped", "urls.txt": "top level, no class",
}


@pytest.fixture()
def review_folder(tmp_path):
    for name, text in REVIEWS.items():
        path = tmp_path / "reviews" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path / "reviews"


def texts_and_labels(dataset):
    texts, labels = [], []
    for batch_texts, batch_labels in dataset:
        texts += list(batch_texts)
        labels += np.asarray(batch_labels).tolist()
    return texts, labels


def test_labels_come_from_sorted_sub_folders_in_kerass_file_order(review_folder, capsys):
    dataset = text_dataset_from_directory(review_folder, shuffle=False, batch_size=4)
    assert capsys.readouterr().out == "Found 6 files belonging to 2 classes.\n"
    assert dataset.class_names == ["neg", "pos"] and len(dataset) == 2
    texts, labels = texts_and_labels(dataset)
    # neg/ then neg/deeper/, each folder's files by name (so '10_7' before '2_8')
    assert texts == ["Awful.", "Dull and long.", "Nested, still a review.", "Great film!", "Fine.", "Loved it"]
    assert labels == [0, 0, 0, 1, 1, 1]
    batch_texts, batch_labels = next(iter(dataset))
    assert batch_texts.dtype == object and batch_labels.dtype == np.int32


def test_class_names_choose_and_order_the_classes_and_label_modes_encode(review_folder):
    texts, labels = texts_and_labels(text_dataset_from_directory(review_folder, class_names=["pos", "neg"],
                                                                 shuffle=False, verbose=False))
    assert labels == [0, 0, 0, 1, 1, 1] and texts[0] == "Great film!"
    _, binary = next(iter(text_dataset_from_directory(review_folder, label_mode="binary", shuffle=False,
                                                      verbose=False)))
    assert binary.dtype == np.float32 and binary.shape == (6, 1) and binary[:, 0].tolist() == [0, 0, 0, 1, 1, 1]
    _, onehot = next(iter(text_dataset_from_directory(review_folder, label_mode="categorical", shuffle=False,
                                                      verbose=False)))
    assert onehot.tolist()[2:4] == [[1, 0], [0, 1]]
    texts_only = next(iter(text_dataset_from_directory(review_folder, labels=None, shuffle=False, verbose=False)))
    assert "top level, no class" in list(texts_only) and "skipped" in list(texts_only)  # every .txt, as Keras


def test_validation_split_selects_kerass_files_for_a_seed(review_folder):
    seed = 1337
    # Keras: the sorted list shuffled by RandomState(seed); the last int(0.2 * n) files are the validation ones.
    ordered = ["Awful.", "Dull and long.", "Nested, still a review.", "Great film!", "Fine.", "Loved it"]
    np.random.RandomState(seed).shuffle(ordered)
    train, val = text_dataset_from_directory(review_folder, validation_split=0.34, subset="both", seed=seed,
                                             batch_size=2, verbose=False)
    train_texts, _ = texts_and_labels(train)
    val_texts, _ = texts_and_labels(val)
    assert val_texts == ordered[4:]  # not shuffled: in Keras's order
    assert sorted(train_texts) == sorted(ordered[:4])
    alone = text_dataset_from_directory(review_folder, validation_split=0.34, subset="validation", seed=seed,
                                        verbose=False)
    assert sorted(texts_and_labels(alone)[0]) == sorted(val_texts)


def test_a_shuffled_text_dataset_reshuffles_each_pass_and_keeps_labels_with_texts(review_folder):
    dataset = text_dataset_from_directory(review_folder, batch_size=2, seed=3, verbose=False)
    passes = [texts_and_labels(dataset) for _ in range(4)]
    assert len({tuple(texts) for texts, _ in passes}) > 1
    label_of = {"Awful.": 0, "Dull and long.": 0, "Nested, still a review.": 0, "Great film!": 1, "Fine.": 1,
                "Loved it": 1}
    for texts, labels in passes:
        assert sorted(texts) == sorted(label_of) and labels == [label_of[text] for text in texts]


def test_max_length_cuts_bytes_and_batch_size_none_yields_single_texts(review_folder):
    dataset = text_dataset_from_directory(review_folder, batch_size=None, max_length=4, shuffle=False,
                                          verbose=False)
    first_text, first_label = next(iter(dataset))
    assert first_text == "Awfu" and first_label == 0 and len(dataset) == 6


def test_a_tar_archive_reads_like_the_unpacked_folder(review_folder, tmp_path):
    archive = tmp_path / "reviews.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(review_folder, arcname="data/reviews")
        tar.addfile(tarfile.TarInfo("data/other/x.txt"), io.BytesIO(b""))
    from_folder = texts_and_labels(text_dataset_from_directory(review_folder, shuffle=False, verbose=False))
    inside = archive / "data" / "reviews"
    from_archive = text_dataset_from_directory(inside, shuffle=False, verbose=False)
    assert texts_and_labels(from_archive) == from_folder and from_archive.class_names == ["neg", "pos"]
    with pytest.raises(InputError, match="holds no folder 'data/elsewhere'"):
        text_dataset_from_directory(archive / "data" / "elsewhere")
    with pytest.raises(InputError, match="no folder at"):
        text_dataset_from_directory(review_folder / "urls.txt" / "inside")  # a file, but no archive


def test_the_shared_imdb_archive_reads_as_aclimdb_test(need_data):
    archive = need_data("imdb/aclImdb_v1_labelled.tar.xz") / "imdb" / "aclImdb_v1_labelled.tar.xz"
    dataset = text_dataset_from_directory(archive / "aclImdb" / "test", batch_size=1000, shuffle=False,
                                          verbose=False)
    assert dataset.class_names == ["neg", "pos"] and len(dataset) == 25
    texts, labels = next(iter(dataset))
    assert labels.tolist() == [0] * 1000 and all(isinstance(text, str) and text for text in texts)


@pytest.mark.parametrize("make,message", [
    (lambda root: text_dataset_from_directory(root / "missing"), "no folder at"),
    (lambda root: text_dataset_from_directory(root / "empty"), "has no sub-folders"),
    (lambda root: text_dataset_from_directory(root / "no_text"), r"no \.txt files in"),
    (lambda root: text_dataset_from_directory(root / "three", label_mode="binary"), "exactly 2 classes"),
    (lambda root: text_dataset_from_directory(root / "three", validation_split=0.2, subset="training"),
     "give a seed"),
    (lambda root: text_dataset_from_directory(root / "three", validation_split=0.2), "together"),
    (lambda root: text_dataset_from_directory(root / "three", validation_split=1.5, subset="training", seed=1),
     "strictly between 0 and 1"),
    (lambda root: text_dataset_from_directory(root / "three", class_names=["a", "zz"]), "do not match"),
    (lambda root: text_dataset_from_directory(root / "three", labels=[0, 1]), "labels has 2 entries but"),
    (lambda root: text_dataset_from_directory(root / "three", label_mode="sparse"), "label_mode must be"),
])
def test_text_folder_mistakes_are_one_input_error(tmp_path, make, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "no_text" / "a").mkdir(parents=True)
    (tmp_path / "no_text" / "a" / "readme.md").write_text("x")
    for name in ("a", "b", "c"):
        (tmp_path / "three" / name).mkdir(parents=True)
        (tmp_path / "three" / name / "1.txt").write_text(name)
    with pytest.raises(InputError, match=message):
        make(tmp_path)


# -- Dataset, and the models reading datasets --------------------------------------------------


def test_a_dataset_is_re_iterable_and_map_unpacks_pairs_lazily():
    calls = []

    def make_pass():
        calls.append(1)
        yield np.ones((2, 3)), np.zeros(2)
        yield np.ones((1, 3)), np.ones(1)

    dataset = Dataset(make_pass, 2, "pairs")
    mapped = dataset.map(lambda x, y: (x * 2, y + 1), num_parallel_calls=4)
    assert calls == [] and len(mapped) == 2 and repr(dataset) == "<Dataset: 2 batches of pairs>"
    assert [float(y.sum()) for _, y in mapped] == [2.0, 2.0]
    assert [x.shape for x in dataset.map(lambda x, y: x)] == [(2, 3), (1, 3)]
    assert calls == [1, 1]
    with pytest.raises(InputError, match="needs a function"):
        dataset.map(3)


def series_model():
    model = Sequential([Flatten(input_shape=(4, 1)), Dense(1)], seed=0)
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    return model


def series_data(count=40, shuffle=False):
    series = np.sin(np.arange(count + 4) / 3.0).astype(np.float32)
    return timeseries_dataset_from_array(series[:-4, None], series[4:], sequence_length=4, batch_size=8,
                                         shuffle=shuffle, seed=0)


def test_fit_and_evaluate_take_a_dataset_and_validation_data_without_step_counts():
    model = series_model()
    train, val = series_data(shuffle=True), series_data()
    history = model.fit(train, epochs=3, validation_data=val, verbose=0)
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"} and len(history.history["loss"]) == 3
    windows = np.concatenate([x for x, _ in val])
    targets = np.concatenate([y for _, y in val])
    logs = model.evaluate(val, return_dict=True)
    assert logs["loss"] == pytest.approx(model.evaluate(windows, targets, batch_size=8, return_dict=True)["loss"])
    assert logs["loss"] == pytest.approx(history.history["val_loss"][-1])
    np.testing.assert_array_equal(model.predict(val), model.predict(windows))


def test_every_epoch_is_one_full_pass_and_a_step_count_continues_the_pass():
    seen = []
    batches = [(np.full((2, 4, 1), i, np.float32), np.zeros(2, np.float32)) for i in range(5)]

    def make_pass():
        for x, y in batches:
            seen.append(int(x[0, 0, 0]))
            yield x, y

    model = series_model()
    model.fit(Dataset(make_pass, 5), epochs=2, verbose=0)
    assert seen == [0, 1, 2, 3, 4] * 2
    seen.clear()
    model.fit(Dataset(make_pass, 5), epochs=4, steps_per_epoch=2, verbose=0)
    assert seen == [0, 1, 2, 3, 4, 0, 1]  # as Keras 3: the third epoch ends with the pass, the fourth starts anew
    # an epoch that the pass's end cut short is still a whole epoch: counted (for saves and --resume), and
    # its once-an-epoch probe runs
    from rnnsim.callbacks import Observer

    probes = []
    model = series_model()
    model.fit(Dataset(make_pass, 5), epochs=3, steps_per_epoch=2, verbose=0,
              callbacks=[Observer(on_probe=probes.append)],
              probe=(batches[0][0], batches[0][1]))
    assert model.epochs_trained == 3
    assert [report.epoch for report in probes] == [0, 1, 2]


def test_a_plain_list_of_batches_trains_validates_and_predicts():
    batches = [(x, y) for x, y in series_data()]
    model = series_model()
    history = model.fit(batches, epochs=2, validation_data=batches[:2], verbose=0)
    assert len(history.history["val_loss"]) == 2
    xs, ys = np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])
    np.testing.assert_array_equal(model.predict(batches), model.predict(xs, batch_size=len(xs)))
    assert model.evaluate(batches) == pytest.approx(model.evaluate(xs, ys, batch_size=len(xs)))


def test_a_generator_still_needs_its_step_count_and_evaluate_names_steps():
    model = series_model()
    generator = (batch for batch in series_data())
    with pytest.raises(InputError, match="give steps$"):
        model.evaluate(generator)
    with pytest.raises(InputError, match="give steps_per_epoch"):
        model.fit((batch for batch in series_data()), epochs=1, verbose=0)
    with pytest.raises(InputError, match="give validation_steps"):
        model.fit(series_data(), validation_data=(batch for batch in series_data()), verbose=0)
    assert model.evaluate((batch for batch in series_data()), steps=2) is not None


def test_dataset_mistakes_in_fit_are_one_input_error():
    model = series_model()
    with pytest.raises(InputError, match="y must be None"):
        model.fit(series_data(), np.zeros(40), verbose=0)
    with pytest.raises(InputError, match="y must be None"):
        model.evaluate(series_data(), np.zeros(40))
    with pytest.raises(InputError, match="validation_split needs array inputs"):
        model.fit(series_data(), validation_split=0.2, verbose=0)
    with pytest.raises(InputError, match="holds no batches"):
        model.fit(Dataset(lambda: iter([]), 0), verbose=0)
    with pytest.raises(InputError, match="yielded no batches"):
        model.fit(Dataset(lambda: iter([]), 3), verbose=0)
    with pytest.raises(InputError, match="must yield .inputs, targets. pairs"):
        model.fit(Dataset(lambda: iter([np.zeros((2, 4, 1))]), 1), verbose=0)


def test_a_folder_given_relative_is_read_from_where_it_was_when_the_dataset_was_made(review_folder, monkeypatch):
    monkeypatch.chdir(review_folder.parent)
    dataset = text_dataset_from_directory("reviews", shuffle=False, verbose=False)
    monkeypatch.chdir(review_folder / "neg")
    assert texts_and_labels(dataset)[0][0] == "Awful."
