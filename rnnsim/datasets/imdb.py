"""IMDB movie reviews, read from the original Large Movie Review Dataset, with `keras.datasets.imdb`'s API.

    from rnnsim.datasets import imdb
    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=10000)
    word_index = imdb.get_word_index()

Keras ships the reviews pre-encoded (`imdb.npz`); rnnsim rebuilds them from the raw reviews (the
`aclImdb` folder or its `.tar.xz` / `.tar.gz` archive) and Keras's `imdb_word_index.json`:

- each review is lowercased, `<br />` becomes a space, and the tokens are the runs of
  `[a-z0-9\\x80-\\uffff']` (the convention that reproduces Keras's word index);
- a word's id is its rank in the word index (1 = most frequent) plus `index_from` (3); every review
  starts with `start_char` (1); ids not below `num_words` (or below `skip_top`) become `oov_char` (2),
  and so do words missing from the word index (they occur only in the test reviews);
- reviews are ordered train/neg, train/pos, test/neg, test/pos, each by file id, and then, as in
  Keras, train and test are each shuffled by one `np.random.RandomState(seed)` (train first).

The sequences are therefore close to Keras's but not byte-identical (Keras's own encoding and review
order are not published). Reading the archive takes several seconds, so the first parse is cached as
an `.npz` (token ids concatenated, plus offsets; no pickles) in the cache folder
(`rnnsim.datasets.paths.cache_dir`), keyed by the sizes and modification times of the archive and the
word index; later loads read the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from rnnsim.atomic import atomic_write
from rnnsim.datasets import registry
from rnnsim.datasets.paths import cache_dir as resolve_cache_dir
from rnnsim.errors import InputError
from rnnsim.preprocessing.text import tokenize

CACHE_FORMAT_VERSION = 1
LABELLED_REVIEWS = 50_000  # 25,000 train + 25,000 test; used to size progress reports
_REVIEW_NAME = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def _archive_alternatives():
    return registry.get_info("imdb").files[0]


def _word_index_alternatives():
    return registry.get_info("imdb").files[1]


def find_source(path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None) -> Path:
    """The reviews' source: the xz archive, the official .tar.gz, or the aclImdb folder (downloaded if missing).

    Args:
        path: the data folder, or the archive or aclImdb folder itself. Default None: `data_dir()`.
        cache_dir: the cache folder whose `datasets/` holds downloads. Default None: `paths.download_dir()`.

    Raises:
        InputError: none is present and none could be downloaded; the message gives the download address.
    """
    return registry.find_file("imdb", _archive_alternatives(), path, cache_dir=cache_dir)


def get_word_index(path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None) -> dict[str, int]:
    """Keras's IMDB word index: {word: rank}, ranks 1..88,584 by frequency in the training reviews.

    Args:
        path: the data folder holding `imdb/imdb_word_index.json` (or the file itself, or a folder
            or archive beside it). Default None: `data_dir()`. Downloaded if missing, as in Keras.
        cache_dir: the cache folder whose `datasets/` holds downloads. Default None: `paths.download_dir()`.

    Raises:
        InputError: the file is missing and could not be downloaded (with its address), or is not a JSON
            object of ranks.
    """
    file = registry.find_file("imdb", _word_index_alternatives(), path, cache_dir=cache_dir)
    try:
        with open(file, encoding="utf-8") as stream:
            word_index = json.load(stream)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{file} is not valid JSON ({error}); download it again from "
                         f"{registry.IMDB_WORD_INDEX_URL}") from None
    if not isinstance(word_index, dict) or not all(isinstance(rank, int) for rank in word_index.values()):
        raise InputError(f"{file} is not a word index ({{word: rank}}); download it again from "
                         f"{registry.IMDB_WORD_INDEX_URL}")
    return word_index


def index_to_word(word_index: dict[str, int], index_from: int = 3, start_char: int | None = 1,
                  oov_char: int | None = 2) -> dict[int, str]:
    """Map token ids (as `load_data` returns them) back to words.

    Args:
        word_index: from `get_word_index()`.
        index_from: as passed to `load_data`. Default 3.
        start_char: as passed to `load_data`. Default 1; shown as '<start>'.
        oov_char: as passed to `load_data`. Default 2; shown as '<oov>'.

    Returns:
        {id: word}, with 0 (padding) mapped to ''.
    """
    reverse = {rank + index_from: word for word, rank in word_index.items()}
    reverse[0] = ""
    if start_char is not None:
        reverse[start_char] = "<start>"
    if oov_char is not None:
        reverse[oov_char] = "<oov>"
    return reverse


def decode_review(ids, word_index: dict[str, int], index_from: int = 3, start_char: int | None = 1,
                  oov_char: int | None = 2) -> str:
    """The words of one encoded review, separated by spaces; padding (0) is left out.

    Args:
        ids: one review's token ids (a list or a row of a padded array).
        word_index: from `get_word_index()`.
        index_from: as passed to `load_data`. Default 3.
        start_char: as passed to `load_data`. Default 1; shown as '<start>'.
        oov_char: as passed to `load_data`. Default 2; shown as '<oov>'.

    Returns:
        e.g. '<start> this film was just brilliant ...'; ids with no word show as '<unk>'.
    """
    reverse = index_to_word(word_index, index_from, start_char, oov_char)
    return " ".join(reverse.get(int(token), "<unk>") for token in ids if int(token) != 0)


# ----------------------------------------------------------------------------------------- parsing


def _iter_archive(archive: Path) -> Iterator[tuple[str, str, int, bytes]]:
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                match = _REVIEW_NAME.search(member.name) if member.isfile() else None
                if match:
                    split, label, review_id, _rating = match.groups()
                    yield split, label, int(review_id), tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError) as error:
        raise InputError(f"cannot read {archive} ({error}); download it again from "
                         f"{registry.IMDB_ARCHIVE_URL}") from None


def _review_files(folder: Path) -> list[Path]:
    return sorted(file for split in ("train", "test") for label in ("pos", "neg")
                  for file in (folder / split / label).glob("*_*.txt"))


def _iter_folder(folder: Path) -> Iterator[tuple[str, str, int, bytes]]:
    for file in _review_files(folder):
        split, label, review_id, _rating = _REVIEW_NAME.search(file.as_posix()).groups()
        yield split, label, int(review_id), file.read_bytes()


def _source_fingerprint(source: Path) -> tuple[int, int]:
    """(size, mtime_ns) of an archive, or summed sizes and latest mtime of a folder's reviews."""
    if source.is_dir():
        stats = [file.stat() for file in _review_files(source)]
        return sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0)
    stat = source.stat()
    return stat.st_size, stat.st_mtime_ns


def _parse(source: Path, word_index: dict[str, int],
           progress: Callable[[int, int], None] | None) -> dict[str, np.ndarray]:
    """Tokenize every labelled review into word-index ranks (0 = word not in the index)."""
    reviews = _iter_folder(source) if source.is_dir() else _iter_archive(source)
    split_order = {"train": 0, "test": 1}
    label_value = {"neg": 0, "pos": 1}
    keyed = []
    for count, (split, label, review_id, raw) in enumerate(reviews, start=1):
        ranks = [word_index.get(word, 0) for word in tokenize(raw.decode("utf-8", errors="replace"))]
        keyed.append(((split_order[split], label_value[label], review_id), ranks))
        if progress is not None and count % 1000 == 0:
            progress(count, LABELLED_REVIEWS)
    keyed.sort(key=lambda item: item[0])
    is_test = np.array([key[0] for key, _ in keyed], dtype=bool)
    if len(keyed) == 0 or is_test.all() or not is_test.any():
        raise InputError(f"{source} holds no train/test reviews (expected aclImdb/train/pos/*.txt ...); "
                         f"download {registry.IMDB_ARCHIVE_URL}")
    if np.any(np.diff(is_test.astype(np.int8)) < 0):
        raise AssertionError("reviews were not sorted train before test")  # internal invariant
    lengths = np.array([len(ranks) for _, ranks in keyed], dtype=np.int64)
    offsets = np.zeros(len(keyed) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ranks = np.fromiter((rank for _, review in keyed for rank in review), dtype=np.int32, count=offsets[-1])
    if progress is not None:
        progress(len(keyed), len(keyed))
    return {
        "ranks": ranks,  # (total_tokens,) word-index rank of every token, 0 = not in the index
        "offsets": offsets,  # (N + 1,) review i is ranks[offsets[i]:offsets[i + 1]]
        "labels": np.array([key[1] for key, _ in keyed], dtype=np.int8),  # (N,) 0 neg, 1 pos
        "review_ids": np.array([key[2] for key, _ in keyed], dtype=np.int32),  # (N,) file id
        "n_train": np.array(int((~is_test).sum()), dtype=np.int64),
    }


def _cache_file(source: Path, word_index_file: Path, folder: Path) -> tuple[Path, str]:
    size, mtime = _source_fingerprint(source)
    index_stat = word_index_file.stat()
    key = f"v{CACHE_FORMAT_VERSION}|{size}|{mtime}|{index_stat.st_size}|{index_stat.st_mtime_ns}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return folder / f"imdb_tokens_{digest}.npz", key


def _write_atomically(target: Path, arrays: dict[str, np.ndarray]) -> None:
    # An interrupted write never leaves a broken cache (see rnnsim.atomic).
    with atomic_write(target) as stream:
        np.savez(stream, **arrays)


def load_parsed(path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
                progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
    """The tokenized reviews as flat arrays, from the cache or (first time) from the archive.

    Args:
        path: the data folder. Default None: `data_dir()`.
        cache_dir: where the parsed `.npz` is kept. Default None: `paths.cache_dir()`.
        progress: called as progress(reviews_done, reviews_expected) while parsing. Default None.

    Returns:
        {'ranks', 'offsets', 'labels', 'review_ids', 'n_train'} (see `_parse`), train reviews first.
    """
    source = find_source(path, cache_dir)
    word_index_file = registry.find_file("imdb", _word_index_alternatives(), path, cache_dir=cache_dir)
    cache_folder = resolve_cache_dir(cache_dir)
    cache_file, key = _cache_file(source, word_index_file, cache_folder)
    if cache_file.exists():
        try:
            with np.load(cache_file, allow_pickle=False) as stored:
                if str(stored["key"]) == key:
                    return {name: stored[name] for name in stored.files if name != "key"}
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is simply rebuilt
    arrays = _parse(source, get_word_index(path, cache_dir), progress)
    try:
        _write_atomically(cache_file, {**arrays, "key": np.array(key)})
    except OSError:
        pass  # a read-only cache folder costs speed, not correctness
    return arrays


# ----------------------------------------------------------------------------------------- load_data


def _gather_segments(offsets: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices that list the segments `order` of a concatenated array, and the new offsets."""
    lengths = offsets[1:][order] - offsets[:-1][order]
    new_offsets = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    shift = np.repeat(offsets[:-1][order] - new_offsets[:-1], lengths)  # old start - new start, per token
    flat = np.arange(new_offsets[-1], dtype=np.int64) + shift
    return flat, new_offsets


def load_data(path: str | os.PathLike | None = None, num_words: int | None = None, skip_top: int = 0,
              maxlen: int | None = None, seed: int = 113, start_char: int | None = 1,
              oov_char: int | None = 2, index_from: int = 3, cache_dir: str | os.PathLike | None = None,
              progress: Callable[[int, int], None] | None = None):
    """Load the IMDB reviews as Keras does: `(x_train, y_train), (x_test, y_test)`.

    Args:
        path: the data folder (holding `imdb/`, or the archive and word index directly), or the archive or
            aclImdb folder itself. Default None: `data_dir()` (RNNSIM_DATA or the user cache). Keras's `path`
            names the .npz file instead. Missing files are downloaded (with a progress bar, checked by
            SHA-256) into the cache folder when the network answers, as Keras does; RNNSIM_OFFLINE=1 stops it.
        num_words: keep word ids below this; others become `oov_char`. Default None: all words (as in
            Keras, the largest id seen becomes the limit, so that one word also turns into `oov_char`).
        skip_top: ids below this also become `oov_char` (the start mark too, as in Keras). Default 0.
        maxlen: drop reviews whose length, start mark included, is not below maxlen. Default None: keep all.
        seed: the shuffle seed. Default 113 (Keras's).
        start_char: the id that starts every review. Default 1; None: no start mark.
        oov_char: the id of dropped words. Default 2; None: drop them from the review instead.
        index_from: added to every word's rank. Default 3 (0 padding, 1 start, 2 oov).
        cache_dir: where the parsed archive is cached (and downloads go, into its `datasets/`). Default
            None: `paths.cache_dir()`.
        progress: called as progress(done, expected) during the first parse. Default None.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: x is a numpy object array of int lists, y an int64
        array of 0 (negative) / 1 (positive). 25,000 reviews each unless `maxlen` drops some.

    Raises:
        InputError: files missing or unreadable, a bad argument, or `maxlen` so small that nothing is kept.
    """
    for name, value in (("num_words", num_words), ("maxlen", maxlen)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < 1):
            raise InputError(f"{name} must be a positive int or None, got {value!r}")
    if not isinstance(skip_top, (int, np.integer)) or skip_top < 0:
        raise InputError(f"skip_top must be a non-negative int, got {skip_top!r}")
    if index_from < 0:
        raise InputError(f"index_from must be non-negative, got {index_from}")

    parsed = load_parsed(path, cache_dir, progress)
    ranks, offsets, labels = parsed["ranks"], parsed["offsets"], parsed["labels"].astype(np.int64)
    n_train = int(parsed["n_train"])
    n_reviews = len(labels)

    # Keras's shuffle: one RandomState, train permuted first, then test.
    rng = np.random.RandomState(seed)
    train_order = np.arange(n_train)
    rng.shuffle(train_order)
    test_order = np.arange(n_reviews - n_train)
    rng.shuffle(test_order)
    order = np.concatenate([train_order, n_train + test_order])

    flat, new_offsets = _gather_segments(offsets, order)
    tokens = ranks[flat].astype(np.int64)
    unknown = tokens == 0  # words missing from Keras's index: never kept, whatever num_words says
    tokens += index_from
    if start_char is not None:
        # One start mark before every review: insert at each review's start.
        starts = new_offsets[:-1]
        tokens = np.insert(tokens, starts, start_char)
        unknown = np.insert(unknown, starts, False)
        new_offsets = new_offsets + np.arange(n_reviews + 1)
    lengths = np.diff(new_offsets)
    is_train = np.arange(n_reviews) < n_train
    labels = labels[order]

    keep_review = np.ones(n_reviews, dtype=bool)
    if maxlen:
        keep_review = lengths < maxlen
        if not keep_review[is_train].any() or not keep_review[~is_train].any():
            raise InputError(f"no review is shorter than maxlen={maxlen}; increase maxlen (or pass None)",
                             option="maxlen")
        flat, new_offsets = _gather_segments(new_offsets, np.flatnonzero(keep_review))
        tokens, unknown = tokens[flat], unknown[flat]
        labels, is_train = labels[keep_review], is_train[keep_review]

    if not num_words:
        num_words = int(tokens[~unknown].max())
    kept = (tokens >= skip_top) & (tokens < num_words) & ~unknown
    if oov_char is not None:
        tokens = np.where(kept, tokens, oov_char)
    else:
        segment_of_token = np.repeat(np.arange(len(new_offsets) - 1), np.diff(new_offsets))
        kept_per_review = np.bincount(segment_of_token[kept], minlength=len(new_offsets) - 1)
        tokens = tokens[kept]
        new_offsets = np.concatenate([[0], np.cumsum(kept_per_review)])

    token_list, bounds = tokens.tolist(), new_offsets.tolist()  # plain ints: slicing lists is the fast path
    sequences = [token_list[start:end] for start, end in zip(bounds[:-1], bounds[1:])]
    x_all = np.empty(len(sequences), dtype=object)
    x_all[:] = sequences
    n_kept_train = int(is_train.sum())
    return (x_all[:n_kept_train], labels[:n_kept_train]), (x_all[n_kept_train:], labels[n_kept_train:])
