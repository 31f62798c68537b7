"""The registry of data sets: what each one is, where it comes from, and where it is on this machine.

Every real data set lists its files (relative to the data folder, see `rnnsim.datasets.paths`), the
official download address, the size and SHA-256 of the copy the project was tested with (from the
shared data README; None where the project has never seen the file), its licence and its citation.
The synthetic tasks are listed too, as "generated in code", so that `rnnsim datasets` shows
everything `load_task` can build.

Loaders call `find_file`, which finds a file the way a user expects: `path` may be the data folder
(the layout above, or a folder that holds the file directly), or the file itself (a Jena CSV or its
zip, the aclImdb folder or its archive); the download folder (`paths.download_dir`) is searched
next. A missing file is downloaded from the registry's address where that address serves it and
the registry has its checksum, and the network answers (`rnnsim.datasets.download`); otherwise the
error is always the same one line: the file looked for, the folder searched, and how to get it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from rnnsim.datasets import download as downloads
from rnnsim.datasets.paths import DATA_ENV_VAR, data_dir, download_dir, downloads_allowed
from rnnsim.errors import InputError


@dataclass(frozen=True)
class DataFile:
    """One file of a data set (or one of several accepted forms of it)."""

    relative_path: str  # inside the data folder, e.g. "imdb/imdb_word_index.json"
    url: str  # where to download it (or the archive that contains it)
    size: int | None = None  # bytes of the tested copy; None where unknown
    sha256: str | None = None  # of the tested copy; None where unknown
    note: str = ""  # e.g. "partial: first 4,000 rows"
    member: str | None = None  # the file's name inside the zip at `url`; None: `url` serves the file itself
    downloadable: bool = True  # False where `url` is a page or serves another form (a repacked copy's original)

    @property
    def fetchable(self) -> bool:
        """rnnsim can download it itself: a direct address and a checksum to check the download against."""
        return self.downloadable and self.sha256 is not None


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
                         "labelled reviews only, repacked with xz", downloadable=False),
                # The official archive's size and SHA-256 as published (TensorFlow Datasets' checksums).
                DataFile("imdb/aclImdb_v1.tar.gz", IMDB_ARCHIVE_URL, 84_125_825,
                         "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe", "the official archive"),
                DataFile("imdb/aclImdb", IMDB_ARCHIVE_URL, note="the unpacked archive (a folder)",
                         downloadable=False),
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
            (DataFile(f"sentiment_labelled_sentences/{source}_labelled.txt", SENTIMENT_URL, size, digest,
                      member=f"sentiment labelled sentences/{source}_labelled.txt"),)
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
                      "892e9559205d16d32623135c127a3951c12e46ea1e0b3093e107ce89a9fd60e2",
                      member="PRSA_data_2010.1.1-2014.12.31.csv"),),
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
                DataFile("jena/jena_climate_2009_2016.csv", JENA_URL, note="the unzipped CSV", downloadable=False),
            ),
        ),
        extra_files=(
            DataFile("jena/jena_climate_2009_first4000rows_12cols.csv", JENA_URL, 335_949,
                     "4f8858d6a054d939e04969bf1a3fcb175e99a211c767853bf937de1ed47b0ab1",
                     "a partial copy: first 4,000 rows, 12 of 15 columns (for tests)", downloadable=False),
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
                      "68a430eabd919cc77f40b1f5f3bc0dcafacc1486bca9260785aeb7d262cc78cd", downloadable=False),),
            (DataFile("japanese_vowels/JapaneseVowels_TEST.ts", VOWELS_URL, 649_132,
                      "b3d41d6a0ca3bcad3afb9ca7d4365382aa51341e2e58bae2a574babdda5b9462", downloadable=False),),
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


# ------------------------------------------------------------------------------------- finding files

_COMPOUND_SUFFIXES = (".tar.gz", ".tar.xz", ".tar.bz2", ".csv.zip")


def _suffix(name: str) -> str:
    """'.csv.zip', '.tar.gz', '.json', ...; '' for a folder's name such as 'aclImdb'."""
    lower = name.lower()
    return next((suffix for suffix in _COMPOUND_SUFFIXES if lower.endswith(suffix)), PurePosixPath(lower).suffix)


def _base_name(candidate: DataFile) -> str:
    return PurePosixPath(candidate.relative_path).name


def _is_form_of(given: Path, candidate: DataFile, info: DatasetInfo) -> bool:
    """Is `given` (an existing path) the file `candidate` itself: same name, or a file of its kind?

    A renamed file counts when its ending is the candidate's and no other needed file of the set ends
    the same way (a renamed Jena CSV is the Jena CSV; a renamed sentence file could be any of three).
    """
    name = _base_name(candidate)
    is_folder = _suffix(name) == ""
    if given.name == name:
        return given.is_dir() == is_folder
    if is_folder or given.is_dir():
        return False
    others = [other for group in info.files if candidate not in group for other in group]
    suffix = _suffix(name)
    return given.name.lower().endswith(suffix) and all(_suffix(_base_name(other)) != suffix for other in others)


def _places(folder: Path, candidate: DataFile) -> tuple[Path, Path]:
    """Where a candidate may sit in a folder: in the data-folder layout, or directly in it."""
    return folder / candidate.relative_path, folder / _base_name(candidate)


def _search_folders(info: DatasetInfo, alternatives, path, cache_dir) -> tuple[Path | None, list[Path]]:
    """(the path itself when it is one of the alternatives, else None; the folders to look in, in order)."""
    if path is None:
        folders = [data_dir(None)]
    else:
        given = Path(path).expanduser().absolute()
        if not given.exists():
            raise InputError(f"{given} does not exist; pass a data folder, or the {info.name} file itself")
        if any(_is_form_of(given, candidate, info) for candidate in alternatives):
            return given, []
        every_form = [c for group in info.files for c in group] + list(info.extra_files)
        if any(_is_form_of(given, candidate, info) for candidate in every_form):
            folders = [given.parent]  # another file of the set (the archive when the word index is wanted)
        elif given.is_file():
            wanted = " or ".join(_base_name(candidate) for candidate in alternatives)
            raise InputError(f"{given} is not a {info.name} file: expected {wanted}, or a folder that holds it")
        else:
            folders = [given]
    downloaded = download_dir(cache_dir)
    return None, folders + ([downloaded] if downloaded not in folders else [])


def locate(name: str, alternatives: tuple[DataFile, ...] | None = None, path: str | os.PathLike | None = None,
           cache_dir: str | os.PathLike | None = None) -> Path | None:
    """Where the first present form of a data set's file is, or None; never downloads.

    Args:
        name, alternatives, path, cache_dir: as in `find_file`.

    Raises:
        InputError: `path` does not exist, or is a file that is no file of this data set.
    """
    info = get_info(name)
    alternatives = info.files[0] if alternatives is None else alternatives
    itself, folders = _search_folders(info, alternatives, path, cache_dir)
    if itself is not None:
        return itself
    for folder in folders:
        for candidate in alternatives:
            for place in _places(folder, candidate):
                if place.exists():
                    return place
    return None


def find_file(name: str, alternatives: tuple[DataFile, ...] | None = None,
              path: str | os.PathLike | None = None, *, cache_dir: str | os.PathLike | None = None,
              download: bool | None = None, progress: bool = True) -> Path:
    """The first present form of a data set's file, downloaded if need be, or an error saying how to get it.

    Args:
        name: the registry name, e.g. "imdb".
        alternatives: the accepted forms of one file, in order of preference. Default None: the
            data set's first needed file.
        path: the data folder (in the layout `imdb/`, `jena/`, ... or holding the file directly), or the
            file itself. Default None: `data_dir()` (RNNSIM_DATA or the user cache).
        cache_dir: the cache folder whose `datasets/` holds downloads. Default None: `paths.download_dir()`.
        download: fetch a missing file when the registry can (a direct address and a checksum). Default
            None: yes, unless RNNSIM_OFFLINE is set.
        progress: show a progress bar while downloading. Default True.

    Returns:
        The path of the first alternative found (the data folder first, then the download folder), or of
        the download.

    Raises:
        InputError: none exists and none could be downloaded (offline, or no checksum to trust it by); the
            message names the file, the folder searched and the download address. Also: a download that
            failed (cut off, wrong checksum), or a `path` that does not exist or is no file of this set.
    """
    info = get_info(name)
    alternatives = info.files[0] if alternatives is None else alternatives
    found = locate(name, alternatives, path, cache_dir)
    if found is not None:
        return found
    fetchable = next((candidate for candidate in alternatives if candidate.fetchable), None)
    if fetchable is not None and (downloads_allowed() if download is None else download):
        try:
            return downloads.fetch(fetchable.url, download_dir(cache_dir) / fetchable.relative_path,
                                   fetchable.sha256, size=fetchable.size, member=fetchable.member, progress=progress)
        except downloads.Unreachable:
            pass  # offline: the message stays the one a user got before downloads existed
    raise InputError(_missing_message(info, alternatives, path), option="path")  # the CLI says --data


def _missing_message(info: DatasetInfo, alternatives, path) -> str:
    _, folders = _search_folders(info, alternatives, path, None)
    wanted = " or ".join(candidate.relative_path for candidate in alternatives)
    return (f"{wanted} not found in {folders[0]}; download it from {alternatives[0].url} into that "
            f"folder, or set {DATA_ENV_VAR} (or path=) to a folder that has it")


def download(name: str, path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
             progress: bool = True) -> list[Path]:
    """Fetch every needed file of a data set that is not present yet (`rnnsim datasets --download NAME`).

    Args:
        name: the registry name.
        path: the data folder to look in first. Default None: `data_dir()`.
        cache_dir: the cache folder whose `datasets/` receives the files. Default None: `paths.download_dir()`.
        progress: show progress bars. Default True.

    Returns:
        Where each needed file is now (found or downloaded), in the registry's order.

    Raises:
        InputError: a synthetic set (nothing to fetch), a file rnnsim cannot fetch itself (no direct address
            or no checksum: the message gives the address to fetch it from by hand), no network, or a failed
            download.
    """
    info = get_info(name)
    if info.synthetic:
        raise InputError(f"{name} is generated in code; there is nothing to download")
    places = []
    for alternatives in info.files:
        found = locate(name, alternatives, path, cache_dir)
        if found is not None:
            places.append(found)
            continue
        fetchable = next((candidate for candidate in alternatives if candidate.fetchable), None)
        target_folder = download_dir(cache_dir)
        if fetchable is None:
            raise InputError(f"rnnsim cannot download {alternatives[0].relative_path} itself (the registry has no "
                             f"direct address with a checksum for it); get it from {alternatives[0].url} into "
                             f"{target_folder / PurePosixPath(alternatives[0].relative_path).parent}")
        target = target_folder / fetchable.relative_path
        try:
            places.append(downloads.fetch(fetchable.url, target, fetchable.sha256, size=fetchable.size,
                                          member=fetchable.member, progress=progress))
        except downloads.Unreachable as error:
            raise InputError(f"cannot reach {error}: offline? Download {fetchable.url} by hand into "
                             f"{target.parent}", option="path") from None
    return places


def _file_size(file: Path) -> int:
    if file.is_dir():
        return sum(entry.stat().st_size for entry in file.rglob("*") if entry.is_file())
    return file.stat().st_size


def _present(folders: list[Path], candidate: DataFile) -> Path | None:
    return next((place for folder in folders for place in _places(folder, candidate) if place.exists()), None)


def _folders(path) -> list[Path]:
    """The data folder and the download folder, for the listing and the checks."""
    folder, downloaded = data_dir(path), download_dir()
    return [folder] + ([downloaded] if downloaded != folder else [])


def list_datasets(path: str | os.PathLike | None = None) -> list[dict]:
    """Every data set with its files and whether (and where) they are present.

    Args:
        path: the data folder. Default None: `data_dir()`. The download folder is looked in too.

    Returns:
        One dict per data set: name, title, task, synthetic, present (all needed files found),
        files (a list of dicts: relative_path, found_at or None, size, expected_size, sha256, url, note,
        fetchable), missing (relative paths of needed files not found), fetchable (every missing file can
        be downloaded by rnnsim), licence, citation, homepage.
    """
    folders = _folders(path)
    rows = []
    for info in DATASETS.values():
        files, missing, fetchable = [], [], True
        for alternatives in info.files:
            found = next(((c, place) for c in alternatives if (place := _present(folders, c)) is not None), None)
            if found is None:
                # The form to get: the one rnnsim can download, else the preferred one.
                wanted = next((c for c in alternatives if c.fetchable), alternatives[0])
                missing.append(wanted.relative_path)
                fetchable = fetchable and wanted.fetchable
                files.append(_file_row(wanted, None))
            else:
                files.append(_file_row(*found))
        for candidate in info.extra_files:
            if (place := _present(folders, candidate)) is not None:
                files.append(_file_row(candidate, place))
        rows.append({
            "name": info.name, "title": info.title, "task": info.task, "synthetic": info.synthetic,
            "present": not missing, "files": files, "missing": missing, "fetchable": bool(missing) and fetchable,
            "licence": info.licence, "citation": info.citation, "homepage": info.homepage,
        })
    return rows


def _file_row(candidate: DataFile, location: Path | None) -> dict:
    return {
        "relative_path": candidate.relative_path,
        "found_at": str(location) if location is not None else None,
        "size": _file_size(location) if location is not None else None,
        "expected_size": candidate.size,
        "sha256": candidate.sha256,
        "url": candidate.url,
        "note": candidate.note,
        "fetchable": candidate.fetchable,
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
    """What `rnnsim datasets` prints: a table of `list_datasets(path)`, then the download addresses.

    The table stays within 80 columns: file names without folders, the licence up to its first ';'
    (the registry and the cards hold the full text) under the files, and each address as a numbered
    note below the table, on a line of its own, never broken across table lines.

    Args:
        path: the data folder. Default None: `data_dir()`.

    Returns:
        A rich renderable: the Table, followed by the notes when a file is missing.
    """
    from rich import box  # rich is only needed by the command line
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    folder = data_dir(path)
    table = Table(title=f"rnnsim data sets (data folder: {folder})", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    table.add_column("name", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("files (size), licence", no_wrap=True, overflow="ellipsis")
    addresses: list[str] = []
    for row in list_datasets(folder):
        if row["synthetic"]:
            table.add_row(row["name"], "[green]generated[/]", "none (in code)")
            continue
        lines = []
        for f in row["files"]:
            name = Path(f["relative_path"]).name
            if f["found_at"] is None:
                if f["url"] not in addresses:
                    addresses.append(f["url"])
                lines.append(f"{name} [{addresses.index(f['url']) + 1}]")
            elif f["note"].startswith("a partial copy"):
                lines.append(f"also: {f['note'].split(':')[0]} ({_human_size(f['size'])})")
            else:
                lines.append(f"{name} ({_human_size(f['size'])})")
        if row["fetchable"]:
            lines.append(f"[cyan]get: rnnsim datasets --download {row['name']}[/]")
        lines.append(f"[dim]licence: {row['licence'].split(';')[0]}[/]")
        status = "[green]found[/]" if row["present"] else "[red]missing[/]"
        table.add_row(row["name"], status, "\n".join(lines))
    if not addresses:
        return table
    notes = Table.grid(padding=(0, 1))
    notes.add_column(no_wrap=True)
    notes.add_column(overflow="fold")  # an address longer than the line folds where the line ends, as a terminal's
    for number, url in enumerate(addresses, start=1):
        notes.add_row(f"[{number}]", url)
    return Group(table, Text("Download addresses of the missing files:"), notes)


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
        path: the data folder. Default None: `data_dir()`. The download folder is looked in too.

    Returns:
        {relative_path: True (matches), False (differs) or None (no recorded checksum, or a folder)}
        for each present file. Missing files are left out.
    """
    info = get_info(name)
    folders = _folders(path)
    results: dict[str, bool | None] = {}
    candidates = [c for alternatives in info.files for c in alternatives] + list(info.extra_files)
    for candidate in candidates:
        location = _present(folders, candidate)
        if location is None:
            continue
        if candidate.sha256 is None or location.is_dir():
            results[candidate.relative_path] = None
        else:
            results[candidate.relative_path] = sha256_of(location) == candidate.sha256
    return results
