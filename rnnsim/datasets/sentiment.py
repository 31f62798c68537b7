"""UCI Sentiment Labelled Sentences (Kotzias et al., KDD 2015): 1,000 sentences each from IMDB, Yelp, Amazon.

Files `sentiment_labelled_sentences/{imdb,yelp,amazon_cells}_labelled.txt`, one `sentence<TAB>label` per
line. Sentences contain unbalanced quotes, so a CSV parser loses lines (pandas finds 748 of IMDB's
1,000); each line is split on its *last* tab instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from rnnsim.datasets import registry
from rnnsim.errors import InputError

SOURCES = ("imdb", "yelp", "amazon_cells")


def load_sentences(source: str = "imdb", path: str | os.PathLike | None = None) -> tuple[list[str], np.ndarray]:
    """The sentences and labels of one source file.

    Args:
        source: 'imdb' (default), 'yelp' or 'amazon_cells'.
        path: the data folder. Default None: `data_dir()`.

    Returns:
        (texts: list of str, labels: int64 array of 0 / 1), in file order.

    Raises:
        InputError: unknown source, missing file, or a line without a tab-separated 0/1 label.
    """
    if source not in SOURCES:
        raise InputError(f"unknown sentiment source {source!r}; use one of {', '.join(SOURCES)}")
    relative = f"sentiment_labelled_sentences/{source}_labelled.txt"
    alternatives = next(group for group in registry.get_info("sentiment").files
                        if group[0].relative_path == relative)
    file = registry.find_file("sentiment", alternatives, path)
    texts, labels = [], []
    with open(file, encoding="utf-8", errors="replace", newline="") as stream:
        for line_number, line in enumerate(stream, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            sentence, tab, label = line.rpartition("\t")
            if not tab or label.strip() not in ("0", "1"):
                raise InputError(f"{file.name} line {line_number} is not 'sentence<TAB>0|1'; "
                                 f"check the file (or download it again from {alternatives[0].url})")
            texts.append(sentence.strip())
            labels.append(int(label))
    return texts, np.array(labels, dtype=np.int64)


def load_all(sources: Sequence[str] = SOURCES,
             path: str | os.PathLike | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Sentences of several sources, concatenated in the order given.

    Args:
        sources: which files. Default: all three.
        path: the data folder. Default None: `data_dir()`.

    Returns:
        (texts, labels int64, source index int64 into `sources`).
    """
    all_texts, all_labels, all_sources = [], [], []
    for position, source in enumerate(sources):
        texts, labels = load_sentences(source, path)
        all_texts += texts
        all_labels.append(labels)
        all_sources.append(np.full(len(labels), position, dtype=np.int64))
    return all_texts, np.concatenate(all_labels), np.concatenate(all_sources)
