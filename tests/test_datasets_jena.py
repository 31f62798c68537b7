import zipfile

import numpy as np
import pytest

from rnnsim.datasets import jena, load_task
from rnnsim.datasets.timeseries import generator, make_windows
from rnnsim.errors import InputError

SUBSET = "jena/jena_climate_2009_first4000rows_12cols.csv"
ORIGINAL_HEADER = ('"Date Time","p (mbar)","T (degC)","Tpot (K)","Tdew (degC)","rh (%)","VPmax (mbar)",'
                   '"VPact (mbar)","VPdef (mbar)","sh (g/kg)","H2OC (mmol/mol)","rho (g/m**3)","wv (m/s)",'
                   '"max. wv (m/s)","wd (deg)"')


def write_original_format(file, rows):
    """A Jena file in the byte format of the Keras download: quoted header, 15 columns, 10-minute rows."""
    rng = np.random.default_rng(0)
    lines = [ORIGINAL_HEADER]
    for row in range(rows):
        minutes = 10 * (row + 1)
        day, hour, minute = 1 + minutes // 1440, (minutes % 1440) // 60, minutes % 60
        temperature = -8.02 + 0.01 * row
        values = [996.52, temperature, 265.40, -8.90, 93.30, 3.33, 3.11, 0.22, 1.94, 3.12, 1307.75,
                  1.03 + rng.random(), 1.75, 152.30]
        lines.append(f"{day:02d}.01.2009 {hour:02d}:{minute:02d}:00," + ",".join(f"{v:.2f}" for v in values))
    file.write_text("\r\n".join(lines) + "\r\n")
    return file


def test_jena_reads_the_original_quoted_15_column_format(tmp_path):
    series = jena.load_jena(write_original_format(tmp_path / "jena_climate_2009_2016.csv", 300))
    assert series.columns == list(jena.COLUMNS)
    assert series.values.shape == (300, 14)
    assert series.times[0] == np.datetime64("2009-01-01T00:10:00")
    assert np.all(np.diff(series.times) == np.timedelta64(10, "m"))
    assert series.values[1, 1] == pytest.approx(-8.01)


def test_jena_reads_the_zip_and_chooses_columns_by_name(tmp_path):
    csv_file = write_original_format(tmp_path / "jena_climate_2009_2016.csv", 50)
    archive = tmp_path / "jena_climate_2009_2016.csv.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(csv_file, "jena_climate_2009_2016.csv")
    series = jena.load_jena(archive, columns=["wd (deg)", "T (degC)"])
    assert series.columns == ["wd (deg)", "T (degC)"] and series.values[0].tolist() == [152.30, -8.02]


def test_jena_real_12_column_subset_loads(need_data):
    series = jena.load_jena(need_data(SUBSET) / SUBSET)
    assert series.values.shape == (4000, 11)
    assert series.columns[1] == "T (degC)" and "wd (deg)" not in series.columns
    assert series.times[0] == np.datetime64("2009-01-01T00:10:00")
    assert series.times[-1] == np.datetime64("2009-01-28T18:40:00")
    assert np.all(np.diff(series.times) == np.timedelta64(10, "m"))
    assert series.values[0, :3].tolist() == [996.52, -8.02, 265.4]


def test_jena_tutorial_windows_equal_the_generator_on_real_rows(need_data):
    series = jena.load_jena(need_data(SUBSET) / SUBSET)
    splits = jena.tutorial_splits(series, lookback=240, step=6, delay=36)
    normalised = (series.values - splits.mean) / splits.std
    assert np.allclose(normalised[:2000].mean(axis=0), 0) and np.allclose(normalised[:2000].std(axis=0), 1)
    samples, targets = make_windows(normalised, 240, 36, 6, 0, 2000)
    x, y = next(generator(normalised, 240, 36, 0, 2000, batch_size=128, step=6))
    assert np.array_equal(x, samples[:128]) and np.array_equal(y, targets[:128])
    assert splits.x_train.shape == (1760, 40, 11)
    assert np.allclose(splits.x_train[:128], x, atol=1e-5)  # float32 copy of the same windows
    assert splits.baseline_mae_val_units == pytest.approx(splits.baseline_mae_val * splits.std[1])


def test_jena_task_without_the_full_file_names_the_download_address(tmp_path):
    with pytest.raises(InputError, match=r"jena_climate_2009_2016\.csv\.zip.*s3\.amazonaws\.com/keras-datasets"):
        load_task("jena", data_path=tmp_path)


def test_jena_task_runs_on_a_file_in_the_original_format(tmp_path):
    (tmp_path / "jena").mkdir()
    write_original_format(tmp_path / "jena" / "jena_climate_2009_2016.csv", 800)
    task = load_task("jena", data_path=tmp_path, seq_len=8)
    assert task.kind == "regression" and task.input_dim == 14 and task.loss == "mae"
    assert task.x_train.shape == (400 - 48, 8, 14) and task.y_train.shape == (352, 1)
    assert task.baseline["metric"] == "mae" and task.baseline["value"] > 0


def test_jena_bad_files_raise_input_error(tmp_path):
    no_dates = tmp_path / "no_dates.csv"
    no_dates.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="no 'Date Time' column"):
        jena.load_jena(no_dates)
    bad_date = tmp_path / "bad_date.csv"
    bad_date.write_text('"Date Time","T (degC)"\n2009-01-01 00:10:00,1.0\n')
    with pytest.raises(InputError, match="dd.mm.yyyy"):
        jena.load_jena(bad_date)
