"""`pad_sequences`, with the rules of `keras.preprocessing.sequence.pad_sequences` (Keras 3).

Rules (Keras's, kept exactly):
- every sequence becomes `maxlen` long; maxlen defaults to the longest sequence;
- longer sequences lose values at the start (`truncating='pre'`) or the end ('post');
- shorter ones get `value` at the start (`padding='pre'`) or the end ('post');
- truncating happens before padding; empty sequences become all `value`;
- a sequence's elements may be vectors (then the result is (N, maxlen, *element_shape));
- the result has the requested `dtype`, so float values are cast (truncated) for integer dtypes.
"""

from __future__ import annotations

import numpy as np

from rnnsim.errors import InputError


def pad_sequences(sequences, maxlen: int | None = None, dtype="int32", padding: str = "pre",
                  truncating: str = "pre", value=0.0) -> np.ndarray:
    """Pad (and truncate) a list of sequences to one length.

    Args:
        sequences: a list (or object array) of sequences; each a list or array of numbers, or of
            equal-shaped vectors.
        maxlen: the length of every output row. Default None: the longest sequence's length.
        dtype: the output dtype. Default 'int32'.
        padding: 'pre' (default) or 'post': where padding values go.
        truncating: 'pre' (default) or 'post': which end of a too-long sequence is cut.
        value: the padding value. Default 0.0 (cast to dtype).

    Returns:
        An array of shape (len(sequences), maxlen) + element_shape.

    Raises:
        InputError: `sequences` is not a list of sequences, padding/truncating is not 'pre' or 'post',
            maxlen is negative, elements have different shapes, or `value` is a string for a numeric dtype.
    """
    if padding not in ("pre", "post"):
        raise InputError(f"padding={padding!r} not understood; use 'pre' or 'post'")
    if truncating not in ("pre", "post"):
        raise InputError(f"truncating={truncating!r} not understood; use 'pre' or 'post'")
    if not hasattr(sequences, "__len__"):
        raise InputError("pad_sequences needs a list of sequences (something with a length)")
    if maxlen is not None and (not isinstance(maxlen, (int, np.integer)) or maxlen < 0):
        raise InputError(f"maxlen must be a non-negative int or None, got {maxlen!r}")

    lengths = []
    element_shape: tuple[int, ...] = ()
    shape_found = False
    for position, sequence in enumerate(sequences):
        try:
            lengths.append(len(sequence))
        except TypeError:
            raise InputError(f"pad_sequences: element {position} is a {type(sequence).__name__}, "
                             f"not a sequence; pass a list of lists (or arrays)") from None
        # Like Keras, the first non-empty sequence fixes the shape of one element.
        if not shape_found and len(sequence):
            element_shape = np.asarray(sequence).shape[1:]
            shape_found = True
    if maxlen is None:
        maxlen = max(lengths) if lengths else 0

    is_text_dtype = np.issubdtype(np.dtype(dtype), np.str_) if dtype is not object else False
    if isinstance(value, str) and dtype is not object and not is_text_dtype:
        raise InputError(f"pad_sequences: value={value!r} is a string but dtype={dtype!r} is numeric; "
                         f"pass dtype=object for text")

    padded = np.full((len(lengths), maxlen) + element_shape, value, dtype=dtype)
    if maxlen == 0:
        return padded
    for row, sequence in enumerate(sequences):
        if not lengths[row]:
            continue
        kept = sequence[-maxlen:] if truncating == "pre" else sequence[:maxlen]
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != element_shape:
            raise InputError(f"pad_sequences: sequence {row} has elements of shape {kept.shape[1:]}, "
                             f"the first non-empty one {element_shape}; make all elements the same shape")
        if padding == "post":
            padded[row, : len(kept)] = kept
        else:
            padded[row, -len(kept):] = kept
    return padded
