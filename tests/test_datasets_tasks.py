import numpy as np
import pytest

from rnnsim.datasets import TASK_NAMES, Task, load_task
from rnnsim.datasets.timeseries import NoWindowFits, forecast_splits
from rnnsim.errors import InputError, message_for

LOSSES = {"mse", "mae", "binary_crossentropy", "sparse_categorical_crossentropy"}


def check_task_contract(task: Task) -> None:
    assert task.kind in {"regression", "binary", "multiclass"} and task.loss in LOSSES
    assert len(task.x_train) == len(task.y_train) and len(task.x_val) == len(task.y_val)
    assert set(task.baseline) == {"name", "metric", "value", "description"}
    assert np.isfinite(task.baseline["value"])
    if task.vocab_size is None:
        assert task.x_train.ndim == 3 and task.x_train.shape[2] == task.input_dim
    else:
        assert task.x_train.ndim == 2 and task.x_train.max() < task.vocab_size and task.input_dim is None
    if task.mask_train is not None:
        assert task.mask_train.shape == task.x_train.shape[:2]
    if task.decode is not None:
        assert isinstance(task.decode(task.x_val[0, -1]), str)
    assert task.description


def test_adding_task_is_the_default_and_its_baseline_is_the_target_variance():
    task = load_task()
    check_task_contract(task)
    assert task.name == "adding" and task.seq_len == 100 and task.input_dim == 2
    assert task.x_train.shape == (8_000, 100, 2) and task.x_val.shape == (2_000, 100, 2)
    assert task.baseline["metric"] == "mse" and task.baseline["value"] == pytest.approx(1 / 6, abs=0.015)
    assert task.baseline["value"] == pytest.approx(np.var(task.y_val))
    assert task.output_units == 1 and task.output_activation == "linear"


def test_synthetic_tasks_follow_seq_len_n_samples_and_seed():
    first = load_task("adding", seq_len=12, n_samples=40, seed=9)
    again = load_task("adding", seq_len=12, n_samples=40, seed=9)
    assert first.x_train.shape == (40, 12, 2) and first.x_val.shape == (10, 12, 2)
    assert np.array_equal(first.x_train, again.x_train)
    copy = load_task("copy", seq_len=5, n_samples=16)
    check_task_contract(copy)
    assert copy.sequence_output and copy.y_train.shape == (16, 25) and copy.output_units == 10
    assert copy.decode(copy.x_train[0, 24]) == "_" and copy.decode(copy.x_train[0, 14]) == ":"
    sine = load_task("sine", seq_len=20, n_samples=30)
    check_task_contract(sine)
    assert sine.x_train.shape == (30, 20, 1)


def test_imdb_task_holds_out_the_last_fifth_of_training_reviews(need_data):
    need_data("imdb/aclImdb_v1_labelled.tar.xz", "imdb/imdb_word_index.json")
    task = load_task("imdb")
    check_task_contract(task)
    assert task.x_train.shape == (20_000, 500) and task.x_val.shape == (5_000, 500)
    assert task.vocab_size == 10_000 and task.x_train.dtype == np.int32
    assert task.baseline["metric"] == "accuracy" and 0.49 < task.baseline["value"] < 0.52
    assert task.decode(0) == "" and task.decode(1) == "<start>" and task.decode(4) == "the"


def test_sentiment_and_vowels_tasks(need_data):
    need_data("sentiment_labelled_sentences/imdb_labelled.txt", "japanese_vowels/JapaneseVowels_TRAIN.ts")
    sentences = load_task("sentiment", seq_len=25)
    check_task_contract(sentences)
    assert sentences.x_train.shape == (2_400, 25) and sentences.x_val.shape == (600, 25)
    speakers = load_task("vowels")
    check_task_contract(speakers)
    assert speakers.x_train.shape == (270, 29, 12) and speakers.mask_val.shape == (370, 29)
    assert speakers.output_units == 9 and speakers.baseline["value"] == pytest.approx(88 / 370)
    assert load_task("vowels", seq_len=32).x_val.shape == (370, 32, 12)


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"name": "mnist"}, "unknown task 'mnist'; choose one of adding, copy"),
        ({"name": "adding", "seq_len": 0}, "seq_len must be an int of at least 1"),
        ({"name": "adding", "n_samples": 2.5}, "n_samples"),
        ({"name": "vowels", "seq_len": 10}, "seq_len=10 is shorter than the longest utterance"),
    ],
)
def test_load_task_bad_input_raises_input_error(arguments, fragment, need_data):
    if arguments["name"] == "vowels":
        need_data("japanese_vowels/JapaneseVowels_TRAIN.ts")
    name = arguments.pop("name")
    with pytest.raises(InputError, match=fragment):
        load_task(name, **arguments)


@pytest.mark.parametrize("name", ["imdb", "sentiment", "beijing", "vowels", "jena"])
def test_real_tasks_without_data_name_the_missing_file(name, tmp_path):
    with pytest.raises(InputError, match=f"not found in {tmp_path}.*download it from https://"):
        load_task(name, data_path=tmp_path)


def test_task_names_are_all_buildable_or_explain_what_is_missing():
    assert TASK_NAMES == ("adding", "copy", "sine", "imdb", "sentiment", "beijing", "jena", "vowels", "addition")


CLI_NAMES = {"seq_len": "--seq-len", "n_samples": "--samples"}


def test_messages_that_ask_for_another_value_name_the_setting():
    with pytest.raises(InputError) as adding:
        load_task("adding", seq_len=1)
    assert message_for(adding.value, CLI_NAMES) == (
        "the adding problem needs --seq-len of at least 2 (a marker in each half), got 1; use a larger --seq-len")
    with pytest.raises(InputError) as samples:
        load_task("adding", n_samples=0)
    assert message_for(samples.value, CLI_NAMES).startswith("--samples must be an int of at least 1")


def test_message_for_rewrites_only_whole_words_of_the_named_option():
    error = InputError("use a smaller seq_len, not max_seq_len or seq_length (seq_len=3)", option="seq_len")
    assert message_for(error, CLI_NAMES) == "use a smaller --seq-len, not max_seq_len or seq_length (--seq-len=3)"
    assert message_for(InputError("seq_len is fine"), CLI_NAMES) == "seq_len is fine"  # no option: unchanged
    assert message_for(ValueError("plain"), CLI_NAMES) == "plain"


def test_a_series_too_short_for_its_windows_says_the_largest_lookback_that_fits():
    values = np.arange(400, dtype=float)[:, None].repeat(2, axis=1)
    with pytest.raises(NoWindowFits) as short:
        forecast_splits(values, ["a", "b"], "b", lookback=120, delay=10, step=6, train_end=200, val_end=300)
    error = short.value
    assert (error.split, error.split_rows, error.longest) == ("test", 90, 84)
    assert error.option == "lookback" and "use a smaller lookback (at most 84)" in str(error)
    forecast_splits(values, ["a", "b"], "b", lookback=84, delay=10, step=6, train_end=200, val_end=300)


def test_a_beijing_window_longer_than_a_split_asks_for_a_smaller_seq_len(need_data):
    need_data("beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv")
    with pytest.raises(InputError) as long:
        load_task("beijing", seq_len=11_000)
    assert long.value.option == "seq_len"
    assert message_for(long.value, CLI_NAMES).endswith(
        "fits in the test rows of PRSA_data_2010.1.1-2014.12.31.csv (10,933 of 43,824); use a smaller --seq-len "
        "(at most 10932)")
