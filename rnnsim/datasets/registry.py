"""The registry of data sets: what each one is, where it comes from, and where it is on this machine.

Every real data set lists its files (relative to the data folder, see `rnnsim.datasets.paths`), the
official download address, the size and SHA-256 of the copy the project was tested with (from the
shared data README; None where the project has never seen the file), its licence and its citation.
The synthetic tasks are listed too, as "generated in code", so that `rnnsim datasets` shows
everything `load_task` can build.

Loaders call `find_file` so that a missing file always gives the same one-line error: the file looked
for, the folder searched, and how to get it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from rnnsim.datasets.paths import DATA_ENV_VAR, data_dir
from rnnsim.errors import InputError


@dataclass(frozen=True)
class DataFile:
    """One file of a data set (or one of several accepted forms of it)."""

    relative_path: str  # inside the data folder, e.g. "imdb/imdb_word_index.json"
    url: str  # where to download it (or the archive that contains it)
    size: int | None = None  # bytes of the tested copy; None where unknown
    sha256: str | None = None  # of the tested copy; None where unknown
    note: str = ""  # e.g. "partial: first 4,000 rows"


@dataclass(frozen=True)
class DatasetInfo:
    """A data set as the registry describes it."""

    name: str  # registry key, e.g. "imdb"
    title: str  # human name
    task: str  # what rnnsim uses it for, and the load_task name
    files: tuple[tuple[DataFile, ...], ...]  # each inner tuple: accepted alternatives for one needed file
    licence: str
    citation: str
    homepage: str
    synthetic: bool = False  # generated in code; no files
    extra_files: tuple[DataFile, ...] = field(default=())  # optional files (checked by verify, not needed)


IMDB_ARCHIVE_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_WORD_INDEX_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json"
JENA_URL = "https://s3.amazonaws.com/keras-datasets/jena_climate_2009_2016.csv.zip"
BEIJING_URL = "https://archive.ics.uci.edu/static/public/381/beijing+pm2+5+data.zip"
SENTIMENT_URL = "https://archive.ics.uci.edu/static/public/331/sentiment+labelled+sentences.zip"
VOWELS_URL = "https://www.timeseriesclassification.com/description.php?Dataset=JapaneseVowels"
SEATTLE_URL = "https://raw.githubusercontent.com/vega/vega-datasets/main/data/seattle-weather.csv"

_SENTIMENT_FILES = {
    "imdb": (85_285, "aef2e49e3da25714d61175e3a6e68eeef74a20a2f914318dc3be9947ea86512d"),
    "amazon_cells": (58_226, "47003fc0a0d4840b00e96e715b6189bad09e7443a3da41c4cbe12ffc79f86ae3"),
    "yelp": (61_320, "c76468b7b5c6e56a0804d728345c5f84aa2142ddb214420f61cc9cfd4c00d2ea"),
}

DATASETS: dict[str, DatasetInfo] = {
    "imdb": DatasetInfo(
        name="imdb",
        title="IMDB Large Movie Review Dataset v1.0 (labelled part) + Keras word index",
        task="binary sentiment of 50,000 reviews (load_task('imdb'))",
        files=(
            (
                DataFile("imdb/aclImdb_v1_labelled.tar.xz", IMDB_ARCHIVE_URL, 19_078_956,
                         "2032c028652825f5f6c5b8bde59e9ac892424de35169cbbded899feec4c8fc72",
                         "labelled reviews only, repacked with xz"),
                DataFile("imdb/aclImdb_v1.tar.gz", IMDB_ARCHIVE_URL, note="the official archive"),
                DataFile("imdb/aclImdb", IMDB_ARCHIVE_URL, note="the unpacked archive (a folder)"),
            ),
            (
                DataFile("imdb/imdb_word_index.json", IMDB_WORD_INDEX_URL, 1_641_221,
                         "027313fe9a320280f3bf0fac5baf58c4a683cf39a7ed9c3d3d3912bde4284cf6"),
            ),
        ),
        licence="no licence stated; cite the paper (texts from IMDb)",
        citation="Maas et al. (2011), Learning Word Vectors for Sentiment Analysis, ACL 2011",
        homepage="https://ai.stanford.edu/~amaas/data/sentiment/",
    ),
    "sentiment": DatasetInfo(
        name="sentiment",
        title="UCI Sentiment Labelled Sentences (imdb, yelp, amazon_cells)",
        task="binary sentiment of 3 x 1,000 sentences (load_task('sentiment'))",
        files=tuple(
            (DataFile(f"sentiment_labelled_sentences/{source}_labelled.txt", SENTIMENT_URL, size, digest),)
            for source, (size, digest) in _SENTIMENT_FILES.items()
        ),
        licence="CC BY 4.0 (UCI); the readme asks to cite the paper",
        citation="Kotzias et al. (2015), From Group to Individual Labels using Deep Features, KDD 2015",
        homepage="https://archive.ics.uci.edu/dataset/331/sentiment+labelled+sentences",
    ),
    "beijing": DatasetInfo(
        name="beijing",
        title="UCI Beijing PM2.5 Data (hourly weather 2010-2014)",
        task="temperature 24 h ahead from 5 days, the offline stand-in for Jena (load_task('beijing'))",
        files=(
            (DataFile("beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv", BEIJING_URL, 2_010_492,
                      "892e9559205d16d32623135c127a3951c12e46ea1e0b3093e107ce89a9fd60e2"),),
        ),
        licence="CC BY 4.0 (UCI)",
        citation="Liang et al. (2015), Proc. R. Soc. A 471: 20150257",
        homepage="https://archive.ics.uci.edu/dataset/381/beijing+pm2+5+data",
    ),
    "jena": DatasetInfo(
        name="jena",
        title="Jena climate 2009-2016 (MPI-BGC weather station, 10-minute rows)",
        task="temperature 24 h ahead from 10 days, Chollet ch. 6.3 (load_task('jena'))",
        files=(
            (
                DataFile("jena/jena_climate_2009_2016.csv.zip", JENA_URL, note="the Keras download"),
                DataFile("jena/jena_climate_2009_2016.csv", JENA_URL, note="the unzipped CSV"),
            ),
        ),
        extra_files=(
            DataFile("jena/jena_climate_2009_first4000rows_12cols.csv", JENA_URL, 335_949,
                     "4f8858d6a054d939e04969bf1a3fcb175e99a211c767853bf937de1ed47b0ab1",
                     "partial: first 4,000 rows, 12 of 15 columns (for tests)"),
        ),
        licence="no licence file; data are MPI-BGC's (https://www.bgc-jena.mpg.de/wetter/)",
        citation="Max Planck Institute for Biogeochemistry, Jena weather station; Chollet (2017), "
                 "Deep Learning with Python, ch. 6.3",
        homepage="https://www.bgc-jena.mpg.de/wetter/",
    ),
    "vowels": DatasetInfo(
        name="vowels",
        title="UCI Japanese Vowels (sktime .ts format)",
        task="speaker (9 classes) from variable-length 12-channel sequences (load_task('vowels'))",
        files=(
            (DataFile("japanese_vowels/JapaneseVowels_TRAIN.ts", VOWELS_URL, 487_971,
                      "68a430eabd919cc77f40b1f5f3bc0dcafacc1486bca9260785aeb7d262cc78cd"),),
            (DataFile("japanese_vowels/JapaneseVowels_TEST.ts", VOWELS_URL, 649_132,
                      "b3d41d6a0ca3bcad3afb9ca7d4365382aa51341e2e58bae2a574babdda5b9462"),),
        ),
        licence="CC BY 4.0 (UCI); .ts files from sktime (BSD-3-Clause)",
        citation="Kudo, Toyama & Shimbo (1999), Pattern Recognition Letters 20(11-13): 1103-1111",
        homepage="https://archive.ics.uci.edu/dataset/128/japanese+vowels",
    ),
    "seattle_weather": DatasetInfo(
        name="seattle_weather",
        title="Seattle daily weather 2012-2015 (vega-datasets)",
        task="not used by a task yet; loadable with load_csv_series",
        files=(
            (DataFile("vega_seattle_weather/seattle-weather.csv", SEATTLE_URL, 47_838,
                      "62f0609f787158128aa2bd102967173a4953122dd4f872bf1d502cae1037df0b"),),
        ),
        licence="vega-datasets MIT; data from public-domain NOAA records",
        citation="vega-datasets 0.9.0",
        homepage="https://github.com/vega/vega-datasets",
    ),
}

for _name, _title, _task, _citation in (
    ("adding", "Adding problem", "regression: sum of two marked numbers (load_task('adding'))",
     "Hochreiter & Schmidhuber (1997); Le, Jaitly & Hinton (2015)"),
    ("copy", "Copy memory", "per-step classification: recall 10 symbols after a delay (load_task('copy'))",
     "Hochreiter & Schmidhuber (1997); Arjovsky, Shah & Bengio (2016)"),
    ("sine", "Noisy sine", "regression: next clean value of a noisy sine (load_task('sine'))", "rnnsim"),
):
    DATASETS[_name] = DatasetInfo(name=_name, title=_title, task=_task, files=(), licence="generated in code",
                                  citation=_citation, homepage="", synthetic=True)


def get_info(name: str) -> DatasetInfo:
    """The registry entry for `name`.

    Raises:
        InputError: no such data set.
    """
    try:
        return DATASETS[name]
    except KeyError:
        raise InputError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}") from None


def find_file(name: str, alternatives: tuple[DataFile, ...] | None = None,
              path: str | os.PathLike | None = None) -> Path:
    """The first present form of a data set's file, or an error saying how to get it.

    Args:
        name: the registry name, e.g. "imdb".
        alternatives: the accepted forms of one file, in order of preference. Default None: the
            data set's first needed file.
        path: the data folder. Default None: `data_dir()` (RNNSIM_DATA or the user cache).

    Returns:
        The path of the first alternative that exists.

    Raises:
        InputError: none exists; the message names the file, the folder searched and the download address.
    """
    info = get_info(name)
    if alternatives is None:
        alternatives = info.files[0]
    folder = data_dir(path)
    for candidate in alternatives:
        if (folder / candidate.relative_path).exists():
            return folder / candidate.relative_path
    wanted = " or ".join(candidate.relative_path for candidate in alternatives)
    raise InputError(f"{wanted} not found in {folder}; download it from {alternatives[0].url} into that "
                     f"folder, or set {DATA_ENV_VAR} (or path=) to a folder that has it")


def _file_size(file: Path) -> int:
    if file.is_dir():
        return sum(entry.stat().st_size for entry in file.rglob("*") if entry.is_file())
    return file.stat().st_size


def list_datasets(path: str | os.PathLike | None = None) -> list[dict]:
    """Every data set with its files and whether (and where) they are present.

    Args:
        path: the data folder. Default None: `data_dir()`.

    Returns:
        One dict per data set: name, title, task, synthetic, present (all needed files found),
        files (a list of dicts: relative_path, found_at or None, size, expected_size, sha256, url, note),
        missing (relative paths of needed files not found), licence, citation, homepage.
    """
    folder = data_dir(path)
    rows = []
    for info in DATASETS.values():
        files, missing = [], []
        for alternatives in info.files:
            found = next((c for c in alternatives if (folder / c.relative_path).exists()), None)
            if found is None:
                missing.append(alternatives[0].relative_path)
            for candidate in alternatives:
                if candidate is found or (found is None and candidate is alternatives[0]):
                    files.append(_file_row(folder, candidate))
        for candidate in info.extra_files:
            if (folder / candidate.relative_path).exists():
                files.append(_file_row(folder, candidate))
        rows.append({
            "name": info.name, "title": info.title, "task": info.task, "synthetic": info.synthetic,
            "present": not missing, "files": files, "missing": missing, "licence": info.licence,
            "citation": info.citation, "homepage": info.homepage,
        })
    return rows


def _file_row(folder: Path, candidate: DataFile) -> dict:
    location = folder / candidate.relative_path
    present = location.exists()
    return {
        "relative_path": candidate.relative_path,
        "found_at": str(location) if present else None,
        "size": _file_size(location) if present else None,
        "expected_size": candidate.size,
        "sha256": candidate.sha256,
        "url": candidate.url,
        "note": candidate.note,
    }


def _human_size(size: int | None) -> str:
    if size is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return "?"  # unreachable; keeps linters content


def render_table(path: str | os.PathLike | None = None):
    """A rich Table of `list_datasets(path)` for `rnnsim datasets`.

    Args:
        path: the data folder. Default None: `data_dir()`.
    """
    from rich.table import Table  # rich is only needed by the command line

    folder = data_dir(path)
    table = Table(title=f"rnnsim data sets (data folder: {folder})", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("files (size)", overflow="fold")
    table.add_column("licence", overflow="fold")
    for row in list_datasets(folder):
        # Short cells keep the table readable in an 80-column terminal: file names without folders,
        # and the licence up to its first ';' (the registry and the cards hold the full text).
        licence = row["licence"].split(";")[0]
        if row["synthetic"]:
            status, files = "[green]generated[/]", "none (in code)"
        elif row["present"]:
            status = "[green]found[/]"
            files = "\n".join(f"{Path(f['relative_path']).name} ({_human_size(f['size'])})" for f in row["files"])
        else:
            status = "[red]missing[/]"
            lines = [f"{f['relative_path']}\nget: {f['url']}" for f in row["files"] if f["found_at"] is None]
            lines += [f"present: {Path(f['relative_path']).name} ({f['note']})" for f in row["files"]
                      if f["found_at"] is not None and f["note"]]
            files = "\n".join(lines)
        table.add_row(row["name"], status, files, licence)
    return table


def sha256_of(file: Path, chunk_bytes: int = 1 << 20) -> str:
    """The SHA-256 hex digest of a file, read in chunks of `chunk_bytes` (default 1 MiB)."""
    digest = hashlib.sha256()
    with open(file, "rb") as stream:
        while chunk := stream.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def verify(name: str, path: str | os.PathLike | None = None) -> dict[str, bool | None]:
    """Check the SHA-256 of every present file of a data set against the registry.

    Args:
        name: the registry name.
        path: the data folder. Default None: `data_dir()`.

    Returns:
        {relative_path: True (matches), False (differs) or None (no recorded checksum, or a folder)}
        for each present file. Missing files are left out.
    """
    info = get_info(name)
    folder = data_dir(path)
    results: dict[str, bool | None] = {}
    candidates = [c for alternatives in info.files for c in alternatives] + list(info.extra_files)
    for candidate in candidates:
        location = folder / candidate.relative_path
        if not location.exists():
            continue
        if candidate.sha256 is None or location.is_dir():
            results[candidate.relative_path] = None
        else:
            results[candidate.relative_path] = sha256_of(location) == candidate.sha256
    return results
