import json
import tarfile
import time

import numpy as np
import pytest

from rnnsim.datasets import imdb, paths
from rnnsim.errors import InputError

ARCHIVE = "imdb/aclImdb_v1_labelled.tar.xz"
WORD_INDEX = "imdb/imdb_word_index.json"


@pytest.fixture(scope="session")
def imdb_10k(need_data):
    """The tutorial's call. The first run parses the archive (~20 s) into the user cache; later runs reuse it."""
    need_data(ARCHIVE, WORD_INDEX)
    return imdb.load_data(num_words=10000)


def test_imdb_has_25000_train_and_test_reviews_half_positive(imdb_10k):
    (x_train, y_train), (x_test, y_test) = imdb_10k
    assert len(x_train) == len(y_train) == 25_000
    assert len(x_test) == len(y_test) == 25_000
    assert int(y_train.sum()) == 12_500 and int(y_test.sum()) == 12_500
    assert set(np.unique(y_train)) == {0, 1} and y_train.dtype.kind == "i"


def test_imdb_sequences_are_object_arrays_of_int_lists_like_keras(imdb_10k):
    (x_train, _), (x_test, _) = imdb_10k
    assert x_train.dtype == object and isinstance(x_train[0], list) and isinstance(x_train[0][0], int)
    assert all(sequence[0] == 1 for sequence in x_train) and all(sequence[0] == 1 for sequence in x_test)
    assert max(max(sequence) for sequence in x_train) == 9_999
    assert max(max(sequence) for sequence in x_test) < 10_000
    assert min(min(sequence) for sequence in x_train) >= 1
    # Mean review length with the start mark: Keras's own encoding gives 238.7; the rebuilt one is close.
    assert 225 < np.mean([len(sequence) for sequence in x_train]) < 245


def test_imdb_word_index_has_88584_words_ranked_from_1():
    word_index = imdb.get_word_index()
    assert len(word_index) == 88_584
    assert sorted(word_index.values()) == list(range(1, 88_585))
    assert word_index["the"] == 1


def test_imdb_decode_review_shows_words(imdb_10k):
    (x_train, _), _ = imdb_10k
    words = imdb.decode_review(x_train[0], imdb.get_word_index())
    assert words.startswith("<start> ")
    assert len(words.split()) == len(x_train[0])
    assert imdb.decode_review([0, 0, 1, 4, 2, 99999999], {"the": 1}) == "<start> the <oov> <unk>"


def test_imdb_second_load_reads_the_npz_cache(imdb_10k, need_data):
    need_data(ARCHIVE, WORD_INDEX)
    caches = list(paths.cache_dir().glob("imdb_tokens_*.npz"))
    assert caches, "the first parse should have left a cache file"
    with np.load(caches[0], allow_pickle=False) as stored:
        assert stored["offsets"].shape == (50_001,)
    started = time.perf_counter()
    (x_train, y_train), _ = imdb.load_data(num_words=10000)
    assert time.perf_counter() - started < 10
    assert np.array_equal(y_train, imdb_10k[0][1])
    assert x_train[17] == imdb_10k[0][0][17]


def test_imdb_options_follow_keras(imdb_10k):
    (x_full, _), _ = imdb_10k
    (x_short, y_short), (x_short_test, _) = imdb.load_data(num_words=10000, maxlen=100, skip_top=20, seed=7)
    assert 0 < len(x_short) < 25_000 and len(x_short) == len(y_short)
    assert all(len(sequence) < 100 for sequence in x_short)
    # skip_top turns the 20 lowest ids into oov (2), the start mark too, as in Keras.
    assert all(token == 2 or 20 <= token < 10_000 for sequence in x_short for token in sequence)
    assert all(sequence[0] == 2 for sequence in x_short)
    assert 0 < len(x_short_test) < 25_000 and max(len(s) for s in x_short_test) < 100


def test_imdb_shuffle_is_deterministic_by_seed(imdb_10k):
    (x_seed_1, y_seed_1), _ = imdb.load_data(num_words=100, seed=1)
    (x_seed_1_again, y_seed_1_again), _ = imdb.load_data(num_words=100, seed=1)
    assert np.array_equal(y_seed_1, y_seed_1_again) and x_seed_1[5] == x_seed_1_again[5]
    assert not np.array_equal(y_seed_1, imdb_10k[0][1])


def _write_tiny_imdb(folder, reviews):
    """A miniature aclImdb: reviews = {(split, label): text}."""
    for (split, label), review in reviews.items():
        (folder / "aclImdb" / split / label).mkdir(parents=True, exist_ok=True)
        (folder / "aclImdb" / split / label / f"0_{8 if label == 'pos' else 2}.txt").write_text(review)


TINY_WORD_INDEX = {"the": 1, "movie": 2, "good": 3, "bad": 4, "was": 5}
TINY_REVIEWS = {
    ("train", "pos"): "The movie was GOOD<br />good!",
    ("train", "neg"): "the movie was bad",
    ("test", "pos"): "good zebra",
    ("test", "neg"): "bad bad",
}


@pytest.fixture
def tiny_imdb(tmp_path):
    data = tmp_path / "data"
    (data / "imdb").mkdir(parents=True)
    (data / "imdb" / "imdb_word_index.json").write_text(json.dumps(TINY_WORD_INDEX))
    _write_tiny_imdb(data / "imdb", TINY_REVIEWS)
    return data


def _by_label(x, y):
    return {int(label): sequence for sequence, label in zip(x, y)}


def test_imdb_encodes_reviews_like_keras_from_an_unpacked_folder(tiny_imdb, tmp_path):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(path=tiny_imdb, cache_dir=tmp_path / "cache")
    # the=1 movie=2 was=5 good=3 -> +3; start mark 1; 'zebra' is not in the index -> oov 2.
    # num_words=None takes the largest id (8, 'was') as the limit, so 'was' becomes oov too (Keras does this).
    assert _by_label(x_train, y_train) == {1: [1, 4, 5, 2, 6, 6], 0: [1, 4, 5, 2, 7]}
    assert _by_label(x_test, y_test) == {1: [1, 6, 2], 0: [1, 7, 7]}
    (x_train, y_train), _ = imdb.load_data(path=tiny_imdb, num_words=7, oov_char=None,
                                           cache_dir=tmp_path / "cache")
    assert _by_label(x_train, y_train) == {1: [1, 4, 5, 6, 6], 0: [1, 4, 5]}
    (x_train, y_train), _ = imdb.load_data(path=tiny_imdb, num_words=100, start_char=None, index_from=0,
                                           cache_dir=tmp_path / "cache")
    assert _by_label(x_train, y_train)[0] == [1, 2, 5, 4]


def test_imdb_reads_a_tar_gz_and_rebuilds_the_cache_when_the_archive_changes(tiny_imdb, tmp_path):
    packed = tmp_path / "packed"
    (packed / "imdb").mkdir(parents=True)
    (packed / "imdb" / "imdb_word_index.json").write_text(json.dumps(TINY_WORD_INDEX))
    archive = packed / "imdb" / "aclImdb_v1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tiny_imdb / "imdb" / "aclImdb", arcname="aclImdb")
    cache = tmp_path / "cache"
    from_archive = imdb.load_data(path=packed, num_words=100, cache_dir=cache)
    from_folder = imdb.load_data(path=tiny_imdb, num_words=100, cache_dir=cache)
    assert _by_label(*from_archive[0]) == _by_label(*from_folder[0])
    assert len(list(cache.glob("imdb_tokens_*.npz"))) == 2
    assert not list(cache.glob(".tmp-*")), "temporary files must be renamed away"

    changed = tmp_path / "changed"
    changed.mkdir()
    _write_tiny_imdb(changed, {**TINY_REVIEWS, ("train", "neg"): "bad"})
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(changed / "aclImdb", arcname="aclImdb")
    (x_train, y_train), _ = imdb.load_data(path=packed, num_words=100, cache_dir=cache)
    assert _by_label(x_train, y_train)[0] == [1, 7]


def test_imdb_missing_files_name_the_file_and_the_download_address(tmp_path):
    with pytest.raises(InputError, match=r"aclImdb_v1_labelled\.tar\.xz.*ai\.stanford\.edu.*RNNSIM_DATA"):
        imdb.load_data(path=tmp_path)
    (tmp_path / "imdb" / "aclImdb").mkdir(parents=True)
    with pytest.raises(InputError, match=r"imdb_word_index\.json.*storage\.googleapis\.com"):
        imdb.load_data(path=tmp_path)


def test_imdb_bad_arguments_and_damaged_files_raise_input_error(tiny_imdb, tmp_path):
    with pytest.raises(InputError, match="num_words"):
        imdb.load_data(path=tiny_imdb, num_words=0)
    with pytest.raises(InputError, match="maxlen=2"):
        imdb.load_data(path=tiny_imdb, maxlen=2, cache_dir=tmp_path / "cache")
    (tiny_imdb / "imdb" / "imdb_word_index.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        imdb.get_word_index(tiny_imdb)
    broken = tmp_path / "broken"
    (broken / "imdb").mkdir(parents=True)
    (broken / "imdb" / "aclImdb_v1_labelled.tar.xz").write_bytes(b"not an archive")
    (broken / "imdb" / "imdb_word_index.json").write_text(json.dumps(TINY_WORD_INDEX))
    with pytest.raises(InputError, match="cannot read"):
        imdb.load_data(path=broken, cache_dir=tmp_path / "cache")


def test_imdb_first_parse_reports_progress(tiny_imdb, tmp_path):
    calls = []
    imdb.load_data(path=tiny_imdb, cache_dir=tmp_path / "cache", progress=lambda done, total: calls.append(done))
    assert calls[-1] == 4
    calls.clear()
    imdb.load_data(path=tiny_imdb, cache_dir=tmp_path / "cache", progress=lambda done, total: calls.append(done))
    assert calls == [], "a cached load has nothing to report"
