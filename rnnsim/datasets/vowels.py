"""UCI Japanese Vowels (Kudo, Toyama & Shimbo 1999) from sktime's `.ts` files.

Nine speakers saying "ae": 12 LPC cepstrum coefficients per frame, 7 to 29 frames per utterance.
`JapaneseVowels_TRAIN.ts` holds 270 utterances (30 per speaker), `JapaneseVowels_TEST.ts` 370. In the
`.ts` format, metadata lines start with `@`, comments with `#`; after `@data` each line is one case:
channels separated by ':', values within a channel by ',', and the class label last.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnsim.datasets import registry
from rnnsim.errors import InputError

CHANNELS = 12
SPLITS = ("train", "test")


@dataclass
class VowelsSplit:
    """One split, padded at the end to a common length."""

    x: np.ndarray  # (N, T_max, 12) float32, zeros after each sequence's end
    mask: np.ndarray  # (N, T_max) bool, True on real frames
    y: np.ndarray  # (N,) int64 speaker 0..8
    lengths: np.ndarray  # (N,) int64 frames per utterance
    class_names: list[str]  # the file's labels, y indexes this list


def parse_ts(file: str | os.PathLike) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Read a multivariate `.ts` file with class labels.

    Returns:
        (sequences: list of (T_i, channels) float64 arrays, labels: list of str, class_names from @classLabel).

    Raises:
        InputError: no @data section, a case with channels of different lengths, or a non-numeric value.
    """
    file = Path(file)
    sequences, labels, class_names = [], [], []
    in_data = False
    with open(file, encoding="utf-8") as stream:
        for line_number, line in enumerate(stream, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                lowered = line.lower()
                if lowered.startswith("@classlabel"):
                    class_names = line.split()[2:]  # "@classLabel true 1 2 ... 9"
                elif lowered.startswith("@data"):
                    in_data = True
                continue
            *channels, label = line.split(":")
            try:
                values = [np.array(channel.split(","), dtype=np.float64) for channel in channels]
            except ValueError:
                raise InputError(f"{file.name} line {line_number} has a non-numeric value; "
                                 f"is this a .ts file?") from None
            if len({len(channel) for channel in values}) != 1:
                raise InputError(f"{file.name} line {line_number}: channels have different lengths; "
                                 f"each case needs equal-length channels")
            sequences.append(np.stack(values, axis=1))  # (T_i, channels)
            labels.append(label.strip())
    if not in_data:
        raise InputError(f"{file.name} has no @data section; is it a sktime .ts file?")
    return sequences, labels, class_names


def load_split(split: str = "train", path: str | os.PathLike | None = None,
               pad_to: int | None = None) -> VowelsSplit:
    """One split of Japanese Vowels, padded at the end with zeros.

    Args:
        split: 'train' (default, 270 cases) or 'test' (370).
        path: the data folder. Default None: `data_dir()`.
        pad_to: the padded length. Default None: the split's longest sequence.

    Raises:
        InputError: unknown split, missing file, a bad file, or pad_to shorter than a sequence.
    """
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; use 'train' or 'test'")
    info = registry.get_info("vowels")
    file = registry.find_file("vowels", info.files[SPLITS.index(split)], path)
    sequences, labels, class_names = parse_ts(file)
    if any(sequence.shape[1] != CHANNELS for sequence in sequences):
        raise InputError(f"{file.name} does not have {CHANNELS} channels per case; is it JapaneseVowels?")
    class_names = class_names or sorted(set(labels))
    unknown = sorted(set(labels) - set(class_names))
    if unknown:
        raise InputError(f"{file.name} has labels {unknown} not declared in @classLabel")
    lengths = np.array([len(sequence) for sequence in sequences], dtype=np.int64)
    pad_to = int(lengths.max()) if pad_to is None else pad_to
    if pad_to < lengths.max():
        raise InputError(f"pad_to={pad_to} is shorter than the longest sequence ({lengths.max()} frames); use a "
                         f"larger pad_to", option="pad_to")
    x = np.zeros((len(sequences), pad_to, CHANNELS), dtype=np.float32)
    for row, sequence in enumerate(sequences):
        x[row, : len(sequence)] = sequence
    mask = np.arange(pad_to)[None, :] < lengths[:, None]  # (N, T_max)
    y = np.array([class_names.index(label) for label in labels], dtype=np.int64)
    return VowelsSplit(x=x, mask=mask, y=y, lengths=lengths, class_names=class_names)


def load_data(path: str | os.PathLike | None = None) -> tuple[VowelsSplit, VowelsSplit]:
    """(train, test), both padded to the longest sequence of either (29 frames).

    Args:
        path: the data folder. Default None: `data_dir()`.
    """
    train, test = load_split("train", path), load_split("test", path)
    longest = max(train.x.shape[1], test.x.shape[1])
    return _pad_end(train, longest), _pad_end(test, longest)


def _pad_end(split: VowelsSplit, length: int) -> VowelsSplit:
    extra = length - split.x.shape[1]
    if extra == 0:
        return split
    return VowelsSplit(x=np.pad(split.x, ((0, 0), (0, extra), (0, 0))), mask=np.pad(split.mask, ((0, 0), (0, extra))),
                       y=split.y, lengths=split.lengths, class_names=split.class_names)
