"""A small word tokenizer and vocabulary, enough to turn sentences into padded integer sequences.

Tokens follow the IMDB loader (and Keras's word index): lowercase the text, turn `<br />` into a
space, keep runs of `[a-z0-9\\x80-\\uffff']`. Index 0 is reserved for padding and 1 for words not in the
vocabulary, so a model's Embedding needs `len(vocabulary) + 2` rows (`vocabulary_size`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from rnnsim.errors import InputError

TOKEN_PATTERN = re.compile("[a-z0-9\x80-\uffff']+")
PAD_INDEX = 0
OOV_INDEX = 1
FIRST_WORD_INDEX = 2


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens of `text` (the IMDB/Keras convention)."""
    return TOKEN_PATTERN.findall(text.lower().replace("<br />", " "))


def build_vocabulary(texts: Iterable[str], max_words: int | None = None,
                     min_count: int = 1) -> dict[str, int]:
    """Map the most frequent words of `texts` to indices 2, 3, ... (0 = padding, 1 = unknown).

    Args:
        texts: the training texts (never the validation texts, or their words leak into the vocabulary).
        max_words: keep at most this many words. Default None: all.
        min_count: drop words seen fewer times. Default 1.

    Returns:
        {word: index}; ties in frequency are broken by first appearance, so the result is deterministic.
    """
    if max_words is not None and max_words < 1:
        raise InputError(f"max_words must be at least 1 or None, got {max_words}")
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(tokenize(text))
    # Counter.most_common keeps insertion order among equal counts: first appearance wins.
    ranked = [word for word, count in counts.most_common(max_words) if count >= min_count]
    return {word: FIRST_WORD_INDEX + rank for rank, word in enumerate(ranked)}


def vocabulary_size(vocabulary: dict[str, int]) -> int:
    """Rows an Embedding needs for this vocabulary: its words plus padding and unknown."""
    return len(vocabulary) + FIRST_WORD_INDEX


def texts_to_sequences(texts: Iterable[str], vocabulary: dict[str, int]) -> list[list[int]]:
    """Each text as a list of word indices; unknown words become 1 (OOV_INDEX)."""
    return [[vocabulary.get(word, OOV_INDEX) for word in tokenize(text)] for text in texts]


def index_to_word(vocabulary: dict[str, int]) -> dict[int, str]:
    """The reverse map, with '' for padding and '<oov>' for unknown words."""
    reverse = {index: word for word, index in vocabulary.items()}
    reverse[PAD_INDEX] = ""
    reverse[OOV_INDEX] = "<oov>"
    return reverse
