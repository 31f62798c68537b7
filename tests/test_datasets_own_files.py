"""The user's own files: `path` / `--data` may be the file itself, its zip or archive, or a folder holding it
directly; mistakes are one line; messages that ask for another value name it so the CLI can name its flag."""

import zipfile

import pytest
from rich.console import Console

from rnnsim.datasets import imdb, jena, load_task, registry, render_table
from rnnsim.errors import InputError, message_for

SUBSET = "jena/jena_climate_2009_first4000rows_12cols.csv"
BEIJING = "beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv"
IMDB_ARCHIVE = "imdb/aclImdb_v1_labelled.tar.xz"
CLI_NAMES = {"seq_len": "--seq-len", "n_samples": "--samples"}


def test_jena_accepts_the_csv_itself_and_a_short_file_names_the_setting_to_lower(need_data):
    csv = need_data(SUBSET) / SUBSET
    with pytest.raises(InputError) as short:
        load_task("jena", data_path=csv)  # 4,000 rows: too few for the book's 10 days (seq_len 240)
    assert short.value.option == "seq_len"
    assert message_for(short.value, CLI_NAMES) == (
        "jena: no window of --seq-len=240 steps (1,440 rows) fits in the test rows of "
        "jena_climate_2009_first4000rows_12cols.csv (856 of 4,000); use a smaller --seq-len (at most 142)")
    task = load_task("jena", data_path=csv, seq_len=142)  # the largest that fits, as the message said
    assert task.x_train.shape == (2000 - 142 * 6, 142, 11)


def test_jena_accepts_its_zip_and_a_folder_that_holds_the_file_directly(need_data, tmp_path):
    csv = need_data(SUBSET) / SUBSET
    package = tmp_path / "downloads" / "jena_climate_2009_2016.csv.zip"
    package.parent.mkdir()
    with zipfile.ZipFile(package, "w") as archive:
        archive.write(csv, "jena_climate_2009_2016.csv")
    from_zip = load_task("jena", data_path=package, seq_len=24)
    from_folder = load_task("jena", data_path=package.parent, seq_len=24)  # no jena/ sub-folder
    assert from_zip.x_train.shape == from_folder.x_train.shape == (2000 - 144, 24, 11)
    assert jena.find_file(package.parent) == package
    renamed = tmp_path / "my weather.csv"
    renamed.symlink_to(csv)
    assert jena.find_file(renamed) == renamed  # a renamed CSV is still the Jena CSV


def test_beijing_accepts_the_csv_itself_or_its_folder(need_data):
    csv = need_data(BEIJING) / BEIJING
    assert registry.find_file("beijing", path=csv) == csv
    assert registry.find_file("beijing", path=csv.parent) == csv  # the folder that holds it directly
    assert load_task("beijing", data_path=csv, n_samples=50).x_train.shape == (50, 120, 7)


def test_imdb_accepts_the_archive_itself_and_finds_the_word_index_beside_it(need_data):
    archive = need_data(IMDB_ARCHIVE, "imdb/imdb_word_index.json") / IMDB_ARCHIVE
    assert imdb.find_source(archive) == archive
    assert registry.find_file("imdb", registry.get_info("imdb").files[1], archive) == archive.parent / \
        "imdb_word_index.json"


def test_imdb_accepts_an_aclimdb_folder_or_a_folder_holding_one(tmp_path):
    folder = tmp_path / "aclImdb"
    (folder / "train" / "pos").mkdir(parents=True)
    (tmp_path / "imdb_word_index.json").write_text('{"good": 1}')
    assert imdb.find_source(folder) == folder
    assert imdb.find_source(tmp_path) == folder
    assert imdb.get_word_index(folder) == {"good": 1}  # beside the aclImdb folder


def test_a_path_that_is_not_there_or_not_the_data_is_one_clear_line(tmp_path):
    with pytest.raises(InputError, match=rf"^{tmp_path}/nope\.csv does not exist; pass a data folder, or the jena "
                                         rf"file itself$"):
        load_task("jena", data_path=tmp_path / "nope.csv")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(InputError, match=r"notes\.txt is not a jena file: expected jena_climate_2009_2016\.csv\.zip "
                                         r"or jena_climate_2009_2016\.csv, or a folder that holds it$"):
        load_task("jena", data_path=notes)
    with pytest.raises(InputError, match=r"amazon_cells_labelled\.txt not found in "):
        yelp = tmp_path / "yelp_labelled.txt"
        yelp.write_text("fine\t1\n")
        registry.find_file("sentiment", registry.get_info("sentiment").files[1], yelp)  # looks beside it


def test_the_datasets_table_stays_within_80_columns_and_keeps_addresses_whole(tmp_path):
    console = Console(width=80, record=True)
    console.print(render_table(tmp_path))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    table_end = lines.index("Download addresses of the missing files:")
    table, notes = "\n".join(lines[:table_end]), lines[table_end + 1:]
    assert "http" not in table  # addresses are never broken across table lines
    joined = "".join(line.strip() for line in notes)
    every_url = {c.url for info in registry.DATASETS.values() for group in info.files for c in group}
    assert all(url in joined for url in every_url)
    for name in ("aclImdb_v1.tar.gz", "imdb_word_index.json", "PRSA_data_2010.1.1-2014.12.31.csv",
                 "jena_climate_2009_2016.csv.zip", "JapaneseVowels_TRAIN.ts"):
        assert name in table  # file names whole, on one line
    assert "get: rnnsim datasets --download imdb" in table and "--download jena" not in table
    assert "licence: CC BY 4.0 (UCI)" in table
