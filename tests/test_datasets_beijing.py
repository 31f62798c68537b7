import numpy as np
import pytest

from rnnsim.datasets import beijing, load_csv_series, load_task
from rnnsim.errors import InputError

BEIJING = "beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv"


@pytest.fixture(scope="module")
def splits(need_data):
    return beijing.temperature_splits(path=need_data(BEIJING))


def test_beijing_has_43824_hourly_rows_with_interpolated_pm25(need_data):
    table = beijing.load_beijing(path=need_data(BEIJING))
    assert table.values.shape == (43_824, 7)
    assert table.columns == ["DEWP", "TEMP", "PRES", "Iws", "Is", "Ir", "pm2.5"]
    assert table.missing_counts["pm2.5"] == 2_067 and sum(table.missing_counts.values()) == 2_067
    assert not np.isnan(table.values).any()
    assert table.values[0, :3].tolist() == [-21, -11, 1021]
    # The first 24 pm2.5 values are NA: interpolation holds the first valid value (129) before it.
    assert table.values[:25, 6].tolist() == [129.0] * 25


def test_beijing_missing_pm25_with_missing_error_names_the_column(need_data):
    with pytest.raises(InputError, match=r"column 'pm2\.5' .* has 2,067 missing values in 43,824 rows"):
        beijing.load_beijing(path=need_data(BEIJING), missing="error")


def test_beijing_wind_direction_is_not_numeric(need_data):
    with pytest.raises(InputError, match=r"column 'cbwd' .* is not numeric \(data row 1: 'NW'\)"):
        load_csv_series(need_data(BEIJING) / BEIJING, ["TEMP", "cbwd"])


def test_beijing_temperature_task_splits_by_time_and_pins_the_baseline(splits):
    assert splits.bounds == {"train": (0, 21_912), "val": (21_912, 32_868), "test": (32_868, 43_801)}
    assert splits.x_train.shape == (21_912 - 120, 120, 7) and splits.x_train.dtype == np.float32
    assert splits.x_val.shape == (10_956 - 120, 120, 7)
    assert splits.delay == 23  # 24 hours after the last hour seen, with step 1
    assert splits.mean[1] == pytest.approx(11.687705, abs=1e-6)
    # Common-sense baseline: yesterday's temperature at the same hour.
    assert splits.baseline_mae_val == pytest.approx(0.2012749033, rel=1e-9)
    assert splits.baseline_mae_val_units == pytest.approx(2.4890180879, rel=1e-9)


def test_beijing_baseline_equals_the_temperature_24_hours_earlier(splits, need_data):
    temperature = beijing.load_beijing(path=need_data(BEIJING)).values[:, 1]
    low, high = splits.bounds["val"]
    # Targets at rows r + 23 for r in [low + 120, high); the baseline reads row r - 1.
    rows = np.arange(low + 120, high)
    assert np.mean(np.abs(temperature[rows + 23] - temperature[rows - 1])) == pytest.approx(2.4890180879)


def test_beijing_task_reports_the_baseline_in_degrees(need_data):
    task = load_task("beijing", data_path=need_data(BEIJING), n_samples=500, seed=3)
    assert task.x_train.shape == (500, 120, 7) and task.y_train.shape == (500, 1)
    assert task.x_val.shape == (125, 120, 7)
    assert task.baseline["value"] == pytest.approx(0.2012749033)
    assert "2.49 C" in task.baseline["description"]
    info = task.info
    last_temperature = task.x_val[0, -1, 1] * info["std"][1] + info["mean"][1]
    assert task.decode(task.x_val[0, -1]) == f"{last_temperature:.1f} C"


def test_beijing_bad_settings_raise_input_error(need_data):
    with pytest.raises(InputError, match="horizon=0"):
        beijing.temperature_splits(path=need_data(BEIJING), horizon=0)
    with pytest.raises(InputError, match="train_fraction"):
        beijing.temperature_splits(path=need_data(BEIJING), train_fraction=0.9, val_fraction=0.2)


def test_beijing_task_windows_are_plain_contiguous_arrays(need_data):
    task = load_task("beijing", data_path=need_data(BEIJING))
    assert task.x_train.flags.c_contiguous and task.x_train.shape == (21_792, 120, 7)
    assert task.x_val.flags.c_contiguous
