"""TextVectorization: Keras's standardisation, split, vocabulary order, ids, multi-hot, and its errors."""

import numpy as np
import pytest

from rnnsim.errors import InputError
from rnnsim.layers import TextVectorization, layer_from_config, serialize
from rnnsim.utils import Dataset


def test_the_keras_docstring_example_gives_kerass_ids():
    layer = TextVectorization(max_tokens=5000, output_mode="int", output_sequence_length=4)
    layer.adapt(["foo bar", "bar baz", "baz bada boom"])
    np.testing.assert_array_equal(layer([["foo qux bar"], ["qux baz"]]), [[4, 1, 3, 0], [1, 2, 0, 0]])
    # counts 2, 2, 1, 1, 1; ties in descending token order
    assert layer.get_vocabulary() == ["", "[UNK]", "baz", "bar", "foo", "boom", "bada"]


def test_a_given_vocabulary_gets_the_special_tokens_in_front():
    layer = TextVectorization(max_tokens=5000, output_sequence_length=4, vocabulary=["earth", "wind", "and", "fire"])
    assert layer.get_vocabulary() == ["", "[UNK]", "earth", "wind", "and", "fire"]
    assert layer.get_vocabulary(include_special_tokens=False) == ["earth", "wind", "and", "fire"]
    again = TextVectorization(vocabulary=layer.get_vocabulary())  # leading specials are not added twice
    assert again.get_vocabulary() == layer.get_vocabulary()


def test_vocabulary_from_a_file_of_one_token_per_line(tmp_path):
    (tmp_path / "vocab.txt").write_text("earth\nwind\nfire\n", encoding="utf-8")
    layer = TextVectorization(vocabulary=tmp_path / "vocab.txt")
    np.testing.assert_array_equal(layer(["Fire, wind and EARTH"]), [[4, 3, 1, 2]])


def test_standardisation_lowercases_ascii_strips_ascii_punctuation_and_splits_on_ascii_whitespace():
    layer = TextVectorization()
    # tf.strings.lower changes A-Z only; the apostrophe is punctuation; a no-break space is no separator.
    assert layer.tokens("Don't STOP!\tÉcole,  naïve\u00a0art <br />x-ray") == \
        ["dont", "stop", "École", "naïve\u00a0art", "br", "xray"]
    assert TextVectorization(standardize="lower").tokens("A, b.") == ["a,", "b."]
    assert TextVectorization(standardize=None, split="character").tokens("Ab") == ["A", "b"]
    assert TextVectorization(split=None).tokens("two words") == ["two words"]


def test_ngrams_follow_the_tokens_width_by_width():
    assert TextVectorization(ngrams=3).tokens("a b c d") == ["a", "b", "c", "d", "a b", "b c", "c d", "a b c",
                                                            "b c d"]
    assert TextVectorization(ngrams=(2,)).tokens("a b") == ["a b"]


def test_max_tokens_counts_the_special_tokens_and_keeps_the_most_frequent():
    texts = ["c c c b b a", "d", "c b"]
    layer = TextVectorization(max_tokens=4)
    layer.adapt(texts)
    assert layer.get_vocabulary() == ["", "[UNK]", "c", "b"]
    np.testing.assert_array_equal(layer(["a b c d"]), [[1, 3, 2, 1]])
    multi = TextVectorization(max_tokens=4, output_mode="multi_hot")
    multi.adapt(texts)
    assert multi.get_vocabulary() == ["[UNK]", "c", "b", "d"]  # no padding token: one more learned token


def test_int_output_pads_after_the_text_or_cuts_it():
    layer = TextVectorization(vocabulary=["a", "b", "c"])
    np.testing.assert_array_equal(layer(["a b", "c c c a", ""]), [[2, 3, 0, 0], [4, 4, 4, 2], [0, 0, 0, 0]])
    cut = TextVectorization(vocabulary=["a", "b", "c"], output_sequence_length=2)
    output = cut(np.array(["a b c", "z"], dtype=object))
    assert output.dtype == np.int64 and output.tolist() == [[2, 3], [1, 0]]
    assert cut("c a b").tolist() == [4, 2]  # one string in, no batch axis out
    assert cut.compute_output_shape((None,)) == (None, 2)


def test_multi_hot_and_count_outputs():
    multi = TextVectorization(output_mode="multi_hot", vocabulary=["a", "b", "c"])
    output = multi(["a a z", "c b"])
    assert output.dtype == np.float32
    np.testing.assert_array_equal(output, [[1, 1, 0, 0], [0, 0, 1, 1]])  # column 0 is '[UNK]'
    counts = TextVectorization(output_mode="count", vocabulary=["a", "b"])
    np.testing.assert_array_equal(counts(["a a z b a"]), [[1, 3, 1]])
    padded = TextVectorization(output_mode="multi_hot", max_tokens=6, pad_to_max_tokens=True, vocabulary=["a"])
    assert padded(["a"]).shape == (1, 6) and padded.compute_output_shape((None,)) == (None, 6)


def test_adapt_reads_a_dataset_of_text_batches_and_steps_limits_it():
    batches = [np.array(["x y", "y"], dtype=object), np.array(["z z z"], dtype=object)]
    dataset = Dataset(lambda: iter(batches), len(batches))
    layer = TextVectorization()
    layer.adapt(dataset)
    assert layer.get_vocabulary() == ["", "[UNK]", "z", "y", "x"]
    layer.adapt(dataset, steps=1)
    assert layer.get_vocabulary() == ["", "[UNK]", "y", "x"]  # adapt starts afresh


def test_the_config_round_trips_with_the_vocabulary():
    layer = TextVectorization(max_tokens=10, output_sequence_length=3, ngrams=2)
    layer.adapt(["one two", "two three"])
    rebuilt = layer_from_config(serialize(layer))
    assert rebuilt.get_vocabulary() == layer.get_vocabulary()
    np.testing.assert_array_equal(rebuilt(["two three four"]), layer(["two three four"]))


@pytest.mark.parametrize("call,message", [
    (lambda: TextVectorization().get_vocabulary(), r"no vocabulary yet: call adapt"),
    (lambda: TextVectorization()(["text"]), r"no vocabulary yet"),
    (lambda: TextVectorization().adapt([(np.array(["a"]), np.array([1]))]), r"give the texts alone"),
    (lambda: TextVectorization().adapt(iter([(np.array(["a"]), np.array([1]))])), r"map\(lambda x, y: x\)"),
    (lambda: TextVectorization().adapt(["", "  ", "!!"]), "found no tokens"),
    (lambda: TextVectorization(output_mode="tf_idf"), "output_mode must be one of"),
    (lambda: TextVectorization(output_mode="multi_hot", output_sequence_length=5), "output_mode='int' only"),
    (lambda: TextVectorization(max_tokens=2), "must exceed the 2 special token"),
    (lambda: TextVectorization(vocabulary=["a", "b", "a"]), "repeats tokens: 'a'"),
    (lambda: TextVectorization(max_tokens=3, vocabulary=["a", "b"]), "more than max_tokens=3"),
    (lambda: TextVectorization(vocabulary=["a"])(np.array([["a", "b"]])), r"shape \(batch,\) or \(batch, 1\)"),
    (lambda: TextVectorization(vocabulary=["a"])([1, 2]), "takes strings, got a int"),
    (lambda: TextVectorization(vocabulary=["a"]).backward(np.zeros((1, 1))), "no gradient"),
])
def test_mistakes_are_one_input_error(call, message):
    with pytest.raises(InputError, match=message):
        call()
