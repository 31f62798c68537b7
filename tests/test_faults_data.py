"""Damaged data files: a non-UTF-8 byte, a malformed row early in a big CSV, a binary file passed as a CSV,
an unterminated quote, a random-bytes IMDB archive. One InputError line each, raised where the damage
is, without reading the rest of the file; and streamed reading gives what reading it whole gives.
"""

import tracemalloc

import numpy as np
import pytest
from helpers import one_error_line, run_rnnsim

from rnnsim.datasets import imdb, jena, load_csv_series, timeseries
from rnnsim.errors import InputError


def write_rows(path, header, rows, extra=b""):
    path.write_bytes((header + "\n" + "\n".join(rows) + "\n").encode() + extra)
    return path


def test_a_byte_that_is_not_utf8_names_its_line_and_byte(tmp_path):
    file = tmp_path / "PRSA_data.csv"
    file.write_bytes(b"No,TEMP,PRES\n1,-4,1020\n2,-4\xff,1021\n")
    with pytest.raises(InputError) as raised:
        load_csv_series(file, ["TEMP"])
    assert str(raised.value) == ("PRSA_data.csv line 3 is not UTF-8 text (byte 0xff at column 5); re-save the "
                                 "file as UTF-8")
    jena_file = tmp_path / "jena.csv"
    jena_file.write_bytes(b'"Date Time","T (degC)"\n01.01.2009 00:10:00,-8.02\n01.01.2009 00:20:00,\xe9\n')
    with pytest.raises(InputError, match=r"^jena.csv line 3 is not UTF-8 text \(byte 0xe9 at column 21\)"):
        jena.load_jena(jena_file)


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column_name(tmp_path):
    file = tmp_path / "bom.csv"
    file.write_bytes(b"\xef\xbb\xbfa,b\n1,2\n")
    assert load_csv_series(file, ["a"]).values.tolist() == [[1.0]]


def test_a_malformed_row_early_in_a_big_csv_stops_the_read_there(tmp_path):
    rows = ["1,2,3"] * 2 + ["4,5"] + ["6,7,8"] * 400_000  # 2.4 MB after the bad line 4
    file = write_rows(tmp_path / "big.csv", "a,b,c", rows)
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as raised:
            load_csv_series(file, ["a", "b"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(raised.value) == "big.csv line 4 has 2 fields, the header 3; fix or remove that line"
    assert peak < 1_000_000  # the rest of the file was never read into memory


def test_a_non_numeric_field_is_reported_in_its_chunk_with_its_data_row(tmp_path, monkeypatch):
    monkeypatch.setattr(timeseries, "CHUNK_ROWS", 4)
    rows = [f"{i},{i * 2}" for i in range(9)] + ["9,oops"] + [f"{i},{i}" for i in range(10, 20)]
    file = write_rows(tmp_path / "values.csv", "a,b", rows)
    with pytest.raises(InputError, match=r"^column 'b' of values.csv is not numeric \(data row 10: 'oops'\)"):
        load_csv_series(file, ["a", "b"])


def test_a_binary_file_passed_as_a_csv_is_refused_at_its_first_long_line(tmp_path, monkeypatch):
    monkeypatch.setattr(timeseries, "MAX_LINE_BYTES", 4096)
    file = tmp_path / "archive.csv"
    file.write_bytes(b"a,b\n" + bytes(range(1, 10)) * 10_000)  # 90 KB and no newline
    with pytest.raises(InputError, match=r"^archive.csv line 2 is longer than 0 MiB; is this a CSV file\?$"):
        load_csv_series(file, ["a"])


def test_an_unterminated_quote_is_one_line_naming_where_it_gave_up(tmp_path):
    rows = ["1,2", '"3,4'] + ["5,6"] * 40_000  # the quote swallows the rest, past the csv module's field limit
    file = write_rows(tmp_path / "quoted.csv", "a,b", rows)
    with pytest.raises(InputError) as raised:
        load_csv_series(file, ["a"])
    assert str(raised.value) == ("quoted.csv line 3 is not valid CSV (field larger than field limit (131072)); "
                                 "fix or remove that line")  # line 3: where the quote opens


def test_streamed_reading_equals_reading_the_file_whole(tmp_path, monkeypatch):
    # Chunks of 3 rows: the missing values, the dropped rows and the fills all cross chunk boundaries.
    monkeypatch.setattr(timeseries, "CHUNK_ROWS", 3)
    rng = np.random.default_rng(0)
    values = rng.normal(size=(20, 3)).round(4)
    texts = [[f"{v:.4f}" for v in row] for row in values]
    for row, column in [(0, 1), (4, 0), (5, 0), (6, 2), (11, 1), (19, 0)]:
        texts[row][column] = ["NA", "", "nan", "null", "N/A", "none"][row % 6]
    file = write_rows(tmp_path / "gappy.csv", "x,y,z", [",".join(row) for row in texts])
    header, rows = timeseries.read_csv_rows(file)  # the whole file at once, as before streaming
    for missing in ("drop", "interpolate", "ffill"):
        streamed = load_csv_series(file, ["z", "x", "y"], missing=missing)
        whole = timeseries._numeric_columns(header, rows, ["z", "x", "y"], missing, "gappy.csv")
        np.testing.assert_array_equal(streamed.values, whole.values)
        assert streamed.kept_rows.tolist() == whole.kept_rows.tolist()
        assert streamed.missing_counts == whole.missing_counts == {"z": 1, "x": 3, "y": 2}
    dropped = load_csv_series(file, ["x", "y", "z"], missing="drop")
    assert dropped.kept_rows.tolist() == [1, 2, 3, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18]
    np.testing.assert_array_equal(dropped.values, values[dropped.kept_rows])


def test_jena_dates_are_parsed_chunk_by_chunk_and_follow_the_kept_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(timeseries, "CHUNK_ROWS", 2)
    rows = [f"01.01.2009 00:{10 * i:02d}:00,{i}.5,{'NA' if i == 2 else i}" for i in range(5)]
    file = write_rows(tmp_path / "jena.csv", '"Date Time","p (mbar)","T (degC)"', rows)
    series = jena.load_jena(file, missing="drop")
    assert series.columns == ["p (mbar)", "T (degC)"]
    assert series.values.tolist() == [[0.5, 0], [1.5, 1], [3.5, 3], [4.5, 4]]
    assert series.times.astype(str).tolist() == ["2009-01-01T00:00:00", "2009-01-01T00:10:00",
                                                 "2009-01-01T00:30:00", "2009-01-01T00:40:00"]


def test_a_random_bytes_imdb_archive_is_one_line(tmp_path):
    folder = tmp_path / "data" / "imdb"
    folder.mkdir(parents=True)
    (folder / "aclImdb_v1.tar.gz").write_bytes(np.random.default_rng(0).bytes(50_000))
    with pytest.raises(InputError) as raised:
        list(imdb._iter_archive(folder / "aclImdb_v1.tar.gz"))
    assert str(raised.value) == (f"cannot read {folder / 'aclImdb_v1.tar.gz'}: not a tar archive (gzip, bzip2, "
                                 f"xz or plain), so damaged or not the IMDB download; download it again from "
                                 f"https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz")


def test_a_random_bytes_imdb_archive_through_rnnsim_train(tmp_path, need_data):
    word_index = need_data("imdb/imdb_word_index.json") / "imdb" / "imdb_word_index.json"
    folder = tmp_path / "data" / "imdb"
    folder.mkdir(parents=True)
    (folder / "aclImdb_v1.tar.gz").write_bytes(np.random.default_rng(1).bytes(50_000))
    (folder / "imdb_word_index.json").write_bytes(word_index.read_bytes())
    env = {"RNNSIM_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    status, _, stderr = run_rnnsim("train", "--dataset", "imdb", "--data", tmp_path / "data", "--quiet",
                                   "--out", tmp_path / "run", cwd=tmp_path, env=env)
    assert status == 2
    assert ": not a tar archive (gzip, bzip2, xz or plain)" in one_error_line(stderr)
    assert not (tmp_path / "run").exists()
