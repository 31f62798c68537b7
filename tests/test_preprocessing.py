import numpy as np
import pytest

from rnnsim.errors import InputError
from rnnsim.preprocessing import pad_sequences, text

SEQUENCES = [[1, 2, 3, 4], [5, 6], [], [7]]


def test_pad_sequences_pre_pads_to_longest_by_default():
    expected = [[1, 2, 3, 4], [0, 0, 5, 6], [0, 0, 0, 0], [0, 0, 0, 7]]
    padded = pad_sequences(SEQUENCES)
    assert padded.dtype == np.int32
    assert padded.tolist() == expected


def test_pad_sequences_post_padding():
    assert pad_sequences(SEQUENCES, padding="post").tolist() == [[1, 2, 3, 4], [5, 6, 0, 0], [0, 0, 0, 0],
                                                                 [7, 0, 0, 0]]


def test_pad_sequences_pre_truncating_keeps_the_end():
    assert pad_sequences(SEQUENCES, maxlen=3).tolist() == [[2, 3, 4], [0, 5, 6], [0, 0, 0], [0, 0, 7]]


def test_pad_sequences_post_truncating_keeps_the_start():
    padded = pad_sequences(SEQUENCES, maxlen=3, truncating="post", padding="post")
    assert padded.tolist() == [[1, 2, 3], [5, 6, 0], [0, 0, 0], [7, 0, 0]]


def test_pad_sequences_truncates_before_padding_and_uses_value():
    padded = pad_sequences([[1, 2, 3], [4]], maxlen=2, truncating="post", value=-1)
    assert padded.tolist() == [[1, 2], [-1, 4]]


def test_pad_sequences_longer_maxlen_and_float_dtype_casts():
    padded = pad_sequences([[0.5, 1.5]], maxlen=4, dtype="float32", value=9.0)
    assert padded.dtype == np.float32
    assert padded.tolist() == [[9.0, 9.0, 0.5, 1.5]]
    # Integer dtype truncates floats, as Keras's does.
    assert pad_sequences([[0.7, 2.9]]).tolist() == [[0, 2]]


def test_pad_sequences_vector_elements_keep_their_shape():
    padded = pad_sequences([np.ones((1, 2)), np.full((3, 2), 2.0)], dtype="float32")
    assert padded.shape == (2, 3, 2)
    assert padded[0].tolist() == [[0, 0], [0, 0], [1, 1]]


def test_pad_sequences_object_array_input_like_imdb():
    sequences = np.empty(2, dtype=object)
    sequences[:] = [[1, 14, 22], [1, 5]]
    assert pad_sequences(sequences, maxlen=4).tolist() == [[0, 1, 14, 22], [0, 0, 1, 5]]


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"padding": "middle"}, "padding='middle'"),
        ({"truncating": "both"}, "truncating='both'"),
        ({"maxlen": -1}, "maxlen"),
        ({"value": "x"}, "dtype=object"),
    ],
)
def test_pad_sequences_bad_arguments_raise_input_error(arguments, fragment):
    with pytest.raises(InputError, match=fragment):
        pad_sequences([[1, 2]], **arguments)


def test_pad_sequences_rejects_non_sequences_and_ragged_elements():
    with pytest.raises(InputError, match="element 1"):
        pad_sequences([[1], 5])
    with pytest.raises(InputError, match="shape"):
        pad_sequences([np.ones((2, 2)), np.ones((2, 3))], dtype="float32")


def test_tokenize_lowercases_and_drops_line_breaks():
    assert text.tokenize("Great film!<br />It's GOOD, 10/10") == ["great", "film", "it's", "good", "10", "10"]


def test_vocabulary_reserves_padding_and_unknown_and_ranks_by_frequency():
    vocabulary = text.build_vocabulary(["b a b", "c b a"])
    assert vocabulary == {"b": 2, "a": 3, "c": 4}
    assert text.vocabulary_size(vocabulary) == 5
    assert text.texts_to_sequences(["a z b"], vocabulary) == [[3, 1, 2]]
    assert text.build_vocabulary(["b a b", "c b a"], max_words=1) == {"b": 2}
    with pytest.raises(InputError, match="max_words"):
        text.build_vocabulary(["a"], max_words=0)
