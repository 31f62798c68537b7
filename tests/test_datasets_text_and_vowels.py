import numpy as np
import pytest

from rnnsim.datasets import sentiment, vowels
from rnnsim.errors import InputError

SENTENCE_FILES = [f"sentiment_labelled_sentences/{s}_labelled.txt" for s in sentiment.SOURCES]
VOWEL_FILES = ["japanese_vowels/JapaneseVowels_TRAIN.ts", "japanese_vowels/JapaneseVowels_TEST.ts"]


@pytest.mark.parametrize("source", sentiment.SOURCES)
def test_sentiment_reads_all_1000_lines_despite_unbalanced_quotes(need_data, source):
    texts, labels = sentiment.load_sentences(source, need_data(*SENTENCE_FILES))
    assert len(texts) == len(labels) == 1_000
    assert int(labels.sum()) == 500
    assert all("\t" not in text and text == text.strip() for text in texts)


def test_sentiment_first_imdb_sentence_and_label(need_data):
    texts, labels = sentiment.load_sentences("imdb", need_data(*SENTENCE_FILES))
    assert texts[0] == "A very, very, very slow-moving, aimless movie about a distressed, drifting young man."
    assert labels[0] == 0


def test_sentiment_load_all_concatenates_sources(need_data):
    texts, labels, sources = sentiment.load_all(path=need_data(*SENTENCE_FILES))
    assert len(texts) == 3_000 and np.bincount(sources).tolist() == [1_000] * 3 and labels.sum() == 1_500


def test_sentiment_splits_on_the_last_tab_and_rejects_bad_lines(tmp_path):
    folder = tmp_path / "sentiment_labelled_sentences"
    folder.mkdir()
    (folder / "yelp_labelled.txt").write_text('He said "wow\tok\t1\r\n\nfine\t0\n')
    texts, labels = sentiment.load_sentences("yelp", tmp_path)
    assert texts == ['He said "wow\tok', "fine"] and labels.tolist() == [1, 0]
    (folder / "yelp_labelled.txt").write_text("no label here\n")
    with pytest.raises(InputError, match="line 1 is not 'sentence<TAB>0|1'"):
        sentiment.load_sentences("yelp", tmp_path)
    with pytest.raises(InputError, match="unknown sentiment source 'twitter'"):
        sentiment.load_sentences("twitter", tmp_path)
    with pytest.raises(InputError, match=r"amazon_cells_labelled\.txt not found.*archive\.ics\.uci\.edu"):
        sentiment.load_sentences("amazon_cells", tmp_path)


def test_vowels_train_270_test_370_lengths_7_to_29_nine_classes(need_data):
    train, test = vowels.load_data(need_data(*VOWEL_FILES))
    assert train.x.shape == (270, 29, 12) and test.x.shape == (370, 29, 12)
    assert train.x.dtype == np.float32 and train.mask.dtype == bool
    lengths = np.concatenate([train.lengths, test.lengths])
    assert lengths.min() == 7 and lengths.max() == 29
    assert train.class_names == [str(k) for k in range(1, 10)]
    assert np.bincount(train.y).tolist() == [30] * 9
    assert np.bincount(test.y).tolist() == [31, 35, 88, 44, 29, 24, 40, 50, 29]
    assert np.array_equal(train.mask.sum(axis=1), train.lengths)


def test_vowels_padding_is_zero_after_each_sequence(need_data):
    train, _ = vowels.load_data(need_data(*VOWEL_FILES))
    assert not train.x[~train.mask].any()
    assert train.x[0, 0, 0] == pytest.approx(1.860936)
    assert train.x[0, 0, 1] == pytest.approx(-0.207383)  # second channel: values after the first ':'


def test_vowels_bad_files_raise_input_error(tmp_path):
    folder = tmp_path / "japanese_vowels"
    folder.mkdir()
    train_file = folder / "JapaneseVowels_TRAIN.ts"
    train_file.write_text("@problemName x\n1,2\n")
    with pytest.raises(InputError, match="no @data section"):
        vowels.load_split("train", tmp_path)
    train_file.write_text("@classLabel true 1 2\n@data\n1,2:3:1\n")
    with pytest.raises(InputError, match="different lengths"):
        vowels.load_split("train", tmp_path)
    train_file.write_text("@data\n1,a:3,4:1\n")
    with pytest.raises(InputError, match="non-numeric"):
        vowels.load_split("train", tmp_path)
    with pytest.raises(InputError, match="unknown split 'dev'"):
        vowels.load_split("dev", tmp_path)
    with pytest.raises(InputError, match=r"JapaneseVowels_TEST\.ts not found"):
        vowels.load_split("test", tmp_path)
