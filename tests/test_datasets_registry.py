from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from rnnsim.datasets import cache_dir, data_dir, list_datasets, registry, render_table, verify
from rnnsim.errors import InputError


def test_data_dir_prefers_argument_then_environment_then_user_cache(monkeypatch, tmp_path):
    assert data_dir(tmp_path) == tmp_path
    monkeypatch.setenv("RNNSIM_DATA", str(tmp_path / "from_env"))
    assert data_dir() == tmp_path / "from_env"
    monkeypatch.delenv("RNNSIM_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "rnnsim" / "datasets"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data_dir() == Path.home() / ".cache" / "rnnsim" / "datasets"


def test_data_dir_that_is_a_file_and_unwritable_cache_raise_input_error(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        data_dir(a_file)
    with pytest.raises(InputError, match="cannot create the cache folder"):
        cache_dir(a_file / "below")
    assert cache_dir(tmp_path / "new" / "cache").is_dir()


def test_registry_records_checksums_from_the_shared_readme():
    imdb_archive = registry.get_info("imdb").files[0][0]
    assert imdb_archive.sha256 == "2032c028652825f5f6c5b8bde59e9ac892424de35169cbbded899feec4c8fc72"
    assert imdb_archive.size == 19_078_956
    assert registry.get_info("jena").files[0][0].url == \
        "https://s3.amazonaws.com/keras-datasets/jena_climate_2009_2016.csv.zip"
    every_file = [f for info in registry.DATASETS.values() for group in info.files for f in group]
    assert all(f.url.startswith("https://") for f in every_file)
    with pytest.raises(InputError, match="unknown data set 'cifar'"):
        registry.get_info("cifar")


def test_list_datasets_finds_the_shared_data_and_marks_jena_missing(need_data):
    folder = need_data("beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv", "imdb/imdb_word_index.json")
    rows = {row["name"]: row for row in list_datasets(folder)}
    assert set(rows) >= {"imdb", "sentiment", "beijing", "jena", "vowels", "seattle_weather", "adding"}
    assert rows["beijing"]["present"] and rows["beijing"]["files"][0]["size"] == 2_010_492
    assert rows["imdb"]["present"]
    assert not rows["jena"]["present"] and rows["jena"]["missing"] == ["jena/jena_climate_2009_2016.csv.zip"]
    # The real 12-column subset is listed as an extra file that is present.
    assert any(f["relative_path"].endswith("first4000rows_12cols.csv") and f["found_at"]
               for f in rows["jena"]["files"])
    assert rows["adding"]["synthetic"] and rows["adding"]["present"]


def test_render_table_shows_status_and_download_addresses(tmp_path, monkeypatch):
    console = Console(width=200, record=True)
    console.print(render_table(tmp_path))
    text = console.export_text()
    assert "missing" in text and "generated" in text and "s3.amazonaws.com" in text
    # With nothing missing there are no addresses to give: the table alone.
    monkeypatch.setattr(registry, "DATASETS", {"adding": registry.DATASETS["adding"]})
    assert isinstance(render_table(tmp_path), Table)


def test_verify_checks_sha256_of_present_files(need_data, tmp_path):
    folder = need_data("beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv")
    assert verify("beijing", folder) == {"beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv": True}
    assert verify("adding", folder) == {}
    (tmp_path / "beijing_pm25").mkdir()
    (tmp_path / "beijing_pm25" / "PRSA_data_2010.1.1-2014.12.31.csv").write_text("tampered")
    assert verify("beijing", tmp_path) == {"beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv": False}
