"""TextVectorization: raw strings to token ids (or multi-hot vectors), as `keras.layers.TextVectorization`.

    text_vectorization = TextVectorization(max_tokens=20000, output_mode="int", output_sequence_length=600)
    text_vectorization.adapt(texts)              # a list or array of strings, or a dataset of string batches
    ids = text_vectorization(["A great film!"])  # (1, 600) int64: [[id('a'), id('great'), id('film'), 0, ...]]

Each text goes through Keras 3's steps, in Keras's order:

1. standardize (default 'lower_and_strip_punctuation'): lowercase A-Z (TensorFlow's `tf.strings.lower`
   changes ASCII letters only, so 'É' stays 'É'), then delete every ASCII punctuation character
   !"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ (Keras's regular expression; the apostrophe goes too: "don't" -> "dont");
2. split (default 'whitespace'): on runs of ASCII whitespace (space, tab, newline, CR, VT, FF);
3. ngrams (default None): with ngrams=N, the tokens followed by every 2-gram, ..., N-gram, words joined by a space;
4. look up: in output_mode 'int', id 0 is the padding token '' and id 1 '[UNK]' (every word not in the
   vocabulary); in 'multi_hot' and 'count' there is no padding token and '[UNK]' is id 0.

`adapt` counts the tokens and keeps the most frequent, ties broken by the token in descending order
(Keras's `np.lexsort((tokens, counts))[::-1]`), up to max_tokens entries with the special ones included.
In 'int' mode a batch is padded with 0 after the text (or cut) to output_sequence_length, or else to
its longest text. The layer has no weights and no gradient: use it on the data, as the book does with
`dataset.map(lambda x, y: (text_vectorization(x), y))`.
"""

from __future__ import annotations

import os
import re
import string
from collections import Counter
from pathlib import Path

import numpy as np

from rnnsim.errors import InputError
from rnnsim.layers.base import Layer, check_positive_int

PUNCTUATION = string.punctuation  # the 32 ASCII characters of Keras's strip pattern, apostrophe included
_STRIP_PUNCTUATION = str.maketrans("", "", PUNCTUATION)
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_ASCII_WHITESPACE = re.compile(r"[ \t\n\r\x0b\x0c]+")
MASK_TOKEN = ""
OOV_TOKEN = "[UNK]"
OUTPUT_MODES = ("int", "multi_hot", "count")
STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLITS = ("whitespace", "character")


def standardize_text(text: str, standardize="lower_and_strip_punctuation") -> str:
    """Step 1 of the module docstring: `standardize` is one of STANDARDIZE, None, or a function str -> str."""
    if standardize in ("lower", "lower_and_strip_punctuation"):
        text = text.translate(_ASCII_LOWER)
    if standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
        text = text.translate(_STRIP_PUNCTUATION)
    if callable(standardize):
        text = standardize(text)
    return text


def split_text(text: str, split="whitespace") -> list[str]:
    """Step 2: `split` is 'whitespace', 'character', None (the whole text is one token) or a function."""
    if split == "whitespace":
        return [token for token in _ASCII_WHITESPACE.split(text) if token]
    if split == "character":
        return list(text)
    if split is None:
        return [text]
    return list(split(text))


def with_ngrams(tokens: list[str], widths: tuple[int, ...]) -> list[str]:
    """Step 3: every n-gram of each width in `widths`, in that order (tf.strings.ngrams, separator ' ')."""
    grams = []
    for width in widths:
        grams += [" ".join(tokens[i:i + width]) for i in range(len(tokens) - width + 1)]
    return grams


def _as_text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    raise InputError(f"TextVectorization takes strings, got a {type(value).__name__}")


def _as_texts(data) -> tuple[list[str], bool]:
    """(texts, was_one_string) from a string, a list or a (B,) / (B, 1) array of strings."""
    if isinstance(data, (str, bytes)):
        return [_as_text(data)], True
    pairs = isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], (str, bytes))
    if pairs or (isinstance(data, list) and data and isinstance(data[0], tuple)):
        raise InputError("TextVectorization got (texts, labels) pairs; give the texts alone, "
                         "e.g. dataset.map(lambda x, y: x)")
    array = np.asarray(data, dtype=object)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InputError(f"TextVectorization takes a batch of strings, shape (batch,) or (batch, 1); "
                         f"got shape {array.shape}")
    return [_as_text(value) for value in array], False


class TextVectorization(Layer):
    """Turns strings into token ids (output_mode='int') or vocabulary-sized vectors, as Keras 3.

    Args:
        max_tokens: largest vocabulary, special tokens included (default None: no limit).
        standardize: 'lower_and_strip_punctuation' (default), 'lower', 'strip_punctuation', None, or a
            function str -> str (applied to one text at a time, unlike Keras's, which takes a tensor).
        split: 'whitespace' (default), 'character', None, or a function str -> list of tokens.
        ngrams: None (default), an int N (1- to N-grams) or a tuple of widths.
        output_mode: 'int' (default), 'multi_hot' or 'count' ('tf_idf' is not supported).
        output_sequence_length: 'int' mode only: pad with 0 or cut every text to this many ids
            (default None: pad each batch to its longest text).
        pad_to_max_tokens: 'multi_hot' / 'count': vectors of max_tokens entries even when the
            vocabulary is smaller (default False).
        vocabulary: a list of tokens to use instead of `adapt`, or a text file of one token per line
            (default None); leading special tokens ('' and '[UNK]' in 'int' mode) are recognised and not
            repeated.
        **kwargs: see `Layer` (name, ...).
    """

    default_name = "text_vectorization"
    has_weights = False

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace",
                 ngrams=None, output_mode="int", output_sequence_length=None, pad_to_max_tokens=False,
                 vocabulary=None, **kwargs):
        kwargs.pop("encoding", None)  # Keras's 'utf-8' is the only one here
        super().__init__(**kwargs)
        if output_mode not in OUTPUT_MODES:
            raise InputError(f"TextVectorization output_mode must be one of {', '.join(OUTPUT_MODES)}, "
                             f"got {output_mode!r}")
        if not (standardize is None or callable(standardize) or standardize in STANDARDIZE):
            raise InputError(f"TextVectorization standardize must be one of {', '.join(STANDARDIZE)}, None or a "
                             f"function, got {standardize!r}")
        if not (split is None or callable(split) or split in SPLITS):
            raise InputError(f"TextVectorization split must be 'whitespace', 'character', None or a function, "
                             f"got {split!r}")
        self.output_mode = output_mode
        self.standardize = standardize
        self.split = split
        self.token_start = 2 if output_mode == "int" else 1  # '' and '[UNK]', or '[UNK]' alone
        self.max_tokens = None if max_tokens is None else check_positive_int(max_tokens, "max_tokens")
        if self.max_tokens is not None and self.max_tokens <= self.token_start:
            raise InputError(f"max_tokens must exceed the {self.token_start} special token(s) of output_mode "
                             f"{output_mode!r}, got {max_tokens}")
        if ngrams is None:
            self.ngrams = None
        elif isinstance(ngrams, (tuple, list)):
            self.ngrams = tuple(check_positive_int(width, "ngrams") for width in ngrams)
        else:
            self.ngrams = tuple(range(1, check_positive_int(ngrams, "ngrams") + 1))
        if output_sequence_length is not None:
            if output_mode != "int":
                raise InputError("output_sequence_length applies to output_mode='int' only")
            output_sequence_length = check_positive_int(output_sequence_length, "output_sequence_length")
        self.output_sequence_length = output_sequence_length
        if pad_to_max_tokens and (output_mode == "int" or self.max_tokens is None):
            raise InputError("pad_to_max_tokens needs output_mode 'multi_hot' or 'count' and max_tokens")
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self._vocabulary: list[str] | None = None  # the learned tokens, special ones excluded
        self._index: dict[str, int] = {}
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # -- vocabulary ------------------------------------------------------------------------

    def _special_tokens(self) -> list[str]:
        return [MASK_TOKEN, OOV_TOKEN] if self.output_mode == "int" else [OOV_TOKEN]

    def set_vocabulary(self, vocabulary) -> None:
        """Use `vocabulary` (distinct tokens, most useful first; or a file of one per line) instead of adapting."""
        if isinstance(vocabulary, (str, os.PathLike)):
            try:
                vocabulary = Path(vocabulary).read_text(encoding="utf-8").splitlines()
            except OSError as error:
                raise InputError(f"cannot read the vocabulary file {vocabulary}: {error.strerror}") from None
        tokens = [_as_text(token) for token in vocabulary]
        specials = self._special_tokens()
        if tokens[:len(specials)] == specials:
            tokens = tokens[len(specials):]
        repeated = [token for token, count in Counter(tokens).items() if count > 1]
        if repeated:
            raise InputError(f"the vocabulary repeats tokens: {', '.join(map(repr, repeated[:5]))}")
        if any(token in specials for token in tokens):
            raise InputError(f"the vocabulary holds a special token ({', '.join(map(repr, specials))}) "
                             f"after its start")
        if self.max_tokens is not None and len(tokens) + self.token_start > self.max_tokens:
            raise InputError(f"the vocabulary has {len(tokens) + self.token_start} tokens with the special ones, "
                             f"more than max_tokens={self.max_tokens}")
        self._vocabulary = tokens
        self._index = {token: self.token_start + i for i, token in enumerate(tokens)}

    def _require_vocabulary(self):
        if self._vocabulary is None:
            raise InputError("TextVectorization has no vocabulary yet: call adapt(texts) first "
                             "(or give vocabulary=[...])")

    def get_vocabulary(self, include_special_tokens=True) -> list[str]:
        """The tokens by id: ['', '[UNK]', most frequent, ...] in 'int' mode.

        Args:
            include_special_tokens: default True; False leaves out '' and '[UNK]'.
        """
        self._require_vocabulary()
        return (self._special_tokens() if include_special_tokens else []) + list(self._vocabulary)

    def vocabulary_size(self) -> int:
        """Number of tokens, special ones included."""
        self._require_vocabulary()
        return self.token_start + len(self._vocabulary)

    def tokens(self, text: str) -> list[str]:
        """One text's tokens: standardized, split and n-grammed, before the lookup."""
        tokens = split_text(standardize_text(text, self.standardize), self.split)
        return with_ngrams(tokens, self.ngrams) if self.ngrams else tokens

    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Learn the vocabulary from texts: the most frequent tokens (see the module docstring).

        Args:
            data: a list or array of strings, or an iterable of such batches (a dataset of texts, e.g.
                `train_ds.map(lambda x, y: x)`, or a generator).
            batch_size: ignored (kept for Keras compatibility).
            steps: read at most this many batches of an iterable (default None: all).
        """
        counts: Counter = Counter()
        if isinstance(data, (str, bytes, list, np.ndarray)):
            batches = [data]
        elif hasattr(data, "__iter__"):
            batches = data
        else:
            raise InputError(f"adapt takes strings or batches of strings, got {type(data).__name__}")
        for index, batch in enumerate(batches):
            if steps is not None and index >= steps:
                break
            if isinstance(batch, tuple) and len(batch) in (2, 3) and not isinstance(batch[0], (str, bytes)):
                raise InputError("adapt got (texts, labels) batches; give the texts alone, "
                                 "e.g. text_vectorization.adapt(train_ds.map(lambda x, y: x))")
            for text in _as_texts(batch)[0]:
                counts.update(self.tokens(text))
        for special in self._special_tokens():
            counts.pop(special, None)
        if not counts:
            raise InputError("adapt found no tokens in the data (is it empty?)")
        ranked = sorted(counts.items(), key=lambda item: (item[1], item[0]), reverse=True)
        if self.max_tokens is not None:
            ranked = ranked[: self.max_tokens - self.token_start]
        self.set_vocabulary([token for token, _ in ranked])

    # -- the lookup ------------------------------------------------------------------------

    def _ids(self, text: str) -> list[int]:
        oov = self.token_start - 1  # '[UNK]': 1 in 'int' mode, 0 otherwise
        return [self._index.get(token, oov) for token in self.tokens(text)]

    def __call__(self, x, mask=None, training=False):
        self.built = True  # nothing to build: no weights
        return self.forward(x)

    def forward(self, x, mask=None, training=False, record_trace=False):
        self._require_vocabulary()
        texts, one_string = _as_texts(x)
        rows = [self._ids(text) for text in texts]
        if self.output_mode == "int":
            width = self.output_sequence_length or max((len(row) for row in rows), default=0)
            output = np.zeros((len(rows), width), dtype=np.int64)  # padding id 0 after the text
            for i, row in enumerate(rows):
                row = row[:width]
                output[i, :len(row)] = row
        else:
            width = self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()
            output = np.zeros((len(rows), width), dtype=np.float32)
            for i, row in enumerate(rows):
                if self.output_mode == "count":
                    np.add.at(output[i], row, 1.0)
                else:
                    output[i, row] = 1.0
        return output[0] if one_string else output

    def backward(self, grad_output):
        raise InputError("TextVectorization has no gradient (text is not differentiable); use it on the data, "
                         "before the model")

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return (input_shape[0], self.output_sequence_length)
        if self.pad_to_max_tokens:
            return (input_shape[0], self.max_tokens)
        return (input_shape[0], None if self._vocabulary is None else self.vocabulary_size())

    def compute_mask(self, mask):
        return None

    def get_config(self):
        for label, value in (("standardize", self.standardize), ("split", self.split)):
            if callable(value):
                raise InputError(f"a TextVectorization with a custom {label} function cannot be saved")
        return {**super().get_config(), "max_tokens": self.max_tokens, "standardize": self.standardize,
                "split": self.split, "ngrams": None if self.ngrams is None else list(self.ngrams),
                "output_mode": self.output_mode, "output_sequence_length": self.output_sequence_length,
                "pad_to_max_tokens": self.pad_to_max_tokens, "vocabulary": self._vocabulary}


LAYERS = (TextVectorization,)
