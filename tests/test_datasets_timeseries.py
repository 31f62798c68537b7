import zipfile

import numpy as np
import pytest

from rnnsim.datasets import timeseries
from rnnsim.datasets.timeseries import generator, load_csv_series, make_windows, normalize
from rnnsim.errors import InputError


@pytest.fixture
def gappy_csv(tmp_path):
    file = tmp_path / "series.csv"
    file.write_text("when,a,b,label\r\n1,1.0,10,x\r\n2,,20,y\r\n3,NA,30,z\r\n4,4.0,NaN,w\r\n5,5.0,50,v\r\n")
    return file


def test_load_csv_series_picks_columns_by_name_in_the_order_asked(gappy_csv):
    table = load_csv_series(gappy_csv, ["b", "when"], missing="ffill")
    assert table.columns == ["b", "when"]
    assert table.values.tolist() == [[10, 1], [20, 2], [30, 3], [30, 4], [50, 5]]
    assert table.missing_counts == {"b": 1, "when": 0}


def test_load_csv_series_missing_error_names_column_and_counts(gappy_csv):
    with pytest.raises(InputError, match=r"column 'a' of series\.csv has 2 missing values in 5 rows.*missing="):
        load_csv_series(gappy_csv, ["a", "b"])


def test_load_csv_series_missing_choices(gappy_csv):
    interpolated = load_csv_series(gappy_csv, ["a", "b"], missing="interpolate").values
    assert interpolated[:, 0].tolist() == [1, 2, 3, 4, 5] and interpolated[3, 1] == 40
    filled = load_csv_series(gappy_csv, ["a"], missing="ffill").values
    assert filled[:, 0].tolist() == [1, 1, 1, 4, 5]
    dropped = load_csv_series(gappy_csv, ["a", "b"], missing="drop")
    assert dropped.values.tolist() == [[1, 10], [5, 50]] and dropped.rows_dropped == 3
    assert dropped.kept_rows.tolist() == [0, 4]


def test_load_csv_series_leading_gap_with_ffill_takes_first_valid_value(tmp_path):
    file = tmp_path / "lead.csv"
    file.write_text("v\nNA\n\n7\nnan\n")  # the blank line is skipped, not a missing value
    assert load_csv_series(file, ["v"], missing="ffill").values[:, 0].tolist() == [7, 7, 7]


def test_load_csv_series_bad_input_raises_input_error(gappy_csv, tmp_path):
    with pytest.raises(InputError, match=r"column 'label' of series\.csv is not numeric \(data row 1: 'x'\)"):
        load_csv_series(gappy_csv, ["label"])
    with pytest.raises(InputError, match=r"column 'c' not in series\.csv; its columns are: when, a, b, label"):
        load_csv_series(gappy_csv, ["c"])
    with pytest.raises(InputError, match="missing='sometimes' not understood"):
        load_csv_series(gappy_csv, ["a"], missing="sometimes")
    with pytest.raises(InputError, match="list of column names"):
        load_csv_series(gappy_csv, "a")
    with pytest.raises(InputError, match="not found"):
        load_csv_series(tmp_path / "absent.csv", ["a"])
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3\n")
    with pytest.raises(InputError, match="line 3 has 1 fields"):
        load_csv_series(ragged, ["a"])
    empty_column = tmp_path / "empty.csv"
    empty_column.write_text("a\nNA\n\n")
    with pytest.raises(InputError, match="no valid value"):
        load_csv_series(empty_column, ["a"], missing="interpolate")


def test_load_csv_series_reads_a_zipped_csv(tmp_path):
    archive = tmp_path / "data.csv.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("data.csv", '"x","y"\n1,2\n3,4\n')
    assert load_csv_series(archive, ["y"]).values[:, 0].tolist() == [2, 4]
    (tmp_path / "bad.zip").write_bytes(b"nope")
    with pytest.raises(InputError, match="zip"):
        load_csv_series(tmp_path / "bad.zip", ["y"])


def test_normalize_uses_training_rows_only():
    data = np.array([[1.0, 5.0], [3.0, 5.0], [100.0, 7.0]])
    normalised, mean, std = normalize(data, train_rows=2)
    assert mean.tolist() == [2.0, 5.0] and std.tolist() == [1.0, 1.0]  # constant column: divided by 1
    assert normalised[:, 0].tolist() == [-1.0, 1.0, 98.0]
    with pytest.raises(InputError, match="train_rows=0"):
        normalize(data, 0)


def _series(rows=500, features=3, seed=0):
    return np.random.default_rng(seed).standard_normal((rows, features))


def test_make_windows_equals_the_tutorial_generator_in_order():
    data = _series()
    lookback, delay, step, batch = 20, 5, 2, 32
    samples, targets = make_windows(data, lookback, delay, step, min_index=0, max_index=300)
    assert samples.shape == (280, 10, 3) and targets.shape == (280,)
    batches = generator(data, lookback, delay, 0, 300, batch_size=batch, step=step)
    # The generator yields 8 full batches (rows 20..275), then restarts instead of yielding the tail.
    for number in range(8):
        x, y = next(batches)
        assert np.array_equal(x, samples[number * batch:(number + 1) * batch])
        assert np.array_equal(y, targets[number * batch:(number + 1) * batch])
    x, _ = next(batches)
    assert np.array_equal(x, samples[:batch])


def test_make_windows_matches_shuffled_generator_rows_and_hand_indexing():
    data = _series(features=2)
    samples, targets = make_windows(data, 12, 3, 3, min_index=50, max_index=200, target_column=0)
    x, y = next(generator(data, 12, 3, 50, 200, shuffle=True, batch_size=16, step=3, target_column=0,
                          rng=np.random.RandomState(4)))
    rows = np.random.RandomState(4).randint(62, 200, size=16)
    assert np.array_equal(x, samples[rows - 62]) and np.array_equal(y, targets[rows - 62])
    # Window of row r: data[r - 12 : r : 3]; target data[r + 3, 0].
    assert np.array_equal(samples[0], data[50:62:3]) and targets[0] == data[65, 0]
    assert not samples.flags.writeable


def test_make_windows_default_max_index_matches_the_tutorial():
    data = _series(rows=100)
    samples, _ = make_windows(data, 10, 4, 1)
    assert len(samples) == 100 - 4 - 1 - 10


def test_last_value_baseline_is_mean_absolute_error_of_the_window_end():
    data = np.arange(40, dtype=float)[:, None].repeat(2, axis=1)
    samples, targets = make_windows(data, 6, 2, 2, 0, 30)
    # Window end row r - 2, target row r + 2: always 4 apart on a ramp.
    assert timeseries.last_value_baseline_mae(samples, targets) == 4.0


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"lookback": 10, "step": 3}, "not a multiple of step"),
        ({"lookback": 0}, "lookback >= 1"),
        ({"max_index": 99, "delay": 5}, "run past"),
        ({"min_index": 90, "max_index": 95}, "no window fits"),
        ({"target_column": 3}, "target_column=3"),
    ],
)
def test_windowing_bad_arguments_raise_input_error(arguments, fragment):
    data = _series(rows=100)
    settings = {"lookback": 12, "delay": 2, "step": 3, "min_index": 0, "max_index": 80, **arguments}
    with pytest.raises(InputError, match=fragment):
        make_windows(data, **settings)
    with pytest.raises(InputError, match=fragment):
        next(generator(data, **settings))
