"""Preprocessing helpers with Keras's semantics: `sequence.pad_sequences`, and a small word tokenizer."""

from rnnsim.preprocessing import sequence, text
from rnnsim.preprocessing.sequence import pad_sequences

__all__ = ["pad_sequences", "sequence", "text"]
