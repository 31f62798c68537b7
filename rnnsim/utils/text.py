"""`text_dataset_from_directory`: labelled texts from a folder tree, as `keras.utils.text_dataset_from_directory`.

    train_ds = text_dataset_from_directory("aclImdb/train", batch_size=32)   # the unpacked folder
    test_ds = text_dataset_from_directory("../shared/datasets/imdb/aclImdb_v1_labelled.tar.xz/aclImdb/test")

The second form reads the texts straight out of a .tar / .tar.gz / .tar.xz archive: the path runs
through the archive file and on to a folder inside it. Keras's rules, as in its `dataset_utils`:

- with labels='inferred' each sub-folder is a class (sorted by name, hidden ones skipped; or in the
  order of `class_names`), and every `.txt` file below it, at any depth, is one sample of that class;
- files are listed class by class, each class's folders in sorted order and each folder's files sorted;
- with shuffle=True (the default) the list is shuffled once by `np.random.RandomState(seed)`, so a
  given seed selects the same training and validation files as Keras does;
- validation_split takes the LAST int(split * n) files of that list for 'validation', the rest for
  'training'.

A batch is (texts, labels): texts an object array of str (B,) (the file's UTF-8 text, cut to
max_length bytes if given), labels int32 (B,) for label_mode 'int', float32 (B, 1) for 'binary',
float32 (B, classes) for 'categorical'. A shuffled dataset deals its files out in a new order on every
pass (tf.data's shuffle buffer order itself is not reproduced). An unpacked folder is read batch by
batch; an archive is read once, when the dataset is made.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path, PurePosixPath

import numpy as np

from rnnsim.errors import InputError
from rnnsim.utils.dataset import Dataset

LABEL_MODES = ("int", "categorical", "binary", None)


def _split_archive_path(directory: Path) -> tuple[Path, str] | None:
    """(archive file, folder inside it) when `directory` runs through a tar archive, else None."""
    for candidate in [directory, *directory.parents]:
        if candidate.is_file():
            if not tarfile.is_tarfile(candidate):
                return None
            inner = directory.relative_to(candidate).as_posix()
            return candidate, "" if inner == "." else inner
    return None


def _is_text_file(name: str) -> bool:
    return name.lower().endswith(".txt")


class _FolderSource:
    """The files below a folder on disk, read when asked for."""

    def __init__(self, folder: Path, follow_links: bool):
        self.folder = folder.absolute()  # read later, batch by batch: a change of folder must not matter
        self.follow_links = follow_links

    def subfolders(self) -> list[str]:
        return sorted(entry.name for entry in os.scandir(self.folder) if entry.is_dir())

    def text_files(self, subfolder: str) -> list[str]:
        """Relative paths ('pos/1_7.txt') of the .txt files below `subfolder`, in Keras's order."""
        root = self.folder / subfolder if subfolder else self.folder
        found = []
        for path, _, names in sorted(os.walk(root, followlinks=self.follow_links), key=lambda entry: entry[0]):
            relative = Path(path).relative_to(self.folder)
            found += [(relative / name).as_posix() for name in sorted(names) if _is_text_file(name)]
        return found

    def read(self, relative: str) -> bytes:
        return (self.folder / relative).read_bytes()


class _ArchiveSource:
    """The files below a folder inside a tar archive, all read at once (a compressed tar has no random access)."""

    def __init__(self, archive: Path, inner: str):
        self.archive = archive
        prefix = inner + "/" if inner else ""
        self.contents: dict[str, bytes] = {}
        self.folders: set[str] = set()
        try:
            with tarfile.open(archive, "r|*") as stream:
                for member in stream:
                    name = member.name.removeprefix("./")
                    if not name.startswith(prefix) or name == prefix:
                        continue
                    relative = name[len(prefix):].rstrip("/")
                    parts = PurePosixPath(relative).parts
                    self.folders.update("/".join(parts[:depth]) for depth in range(1, len(parts)))
                    if member.isdir():
                        self.folders.add(relative)
                    elif member.isfile() and _is_text_file(relative):
                        self.contents[relative] = stream.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as error:
            raise InputError(f"cannot read the archive {archive}: {error}") from None
        if not self.contents and not self.folders:
            raise InputError(f"the archive {archive} holds no folder {inner!r}")

    def subfolders(self) -> list[str]:
        return sorted(folder for folder in self.folders if "/" not in folder)

    def text_files(self, subfolder: str) -> list[str]:
        prefix = subfolder + "/" if subfolder else ""
        chosen = [name for name in self.contents if name.startswith(prefix)]
        return sorted(chosen, key=lambda name: (str(PurePosixPath(name).parent), PurePosixPath(name).name))

    def read(self, relative: str) -> bytes:
        return self.contents[relative]


def _open_source(directory, follow_links):
    path = Path(directory).expanduser()
    if path.is_dir():
        return _FolderSource(path, follow_links)
    through_archive = _split_archive_path(path)
    if through_archive is not None:
        return _ArchiveSource(*through_archive)
    raise InputError(f"no folder at {directory} (give a folder of class sub-folders, or a path through a "
                     f"tar archive such as imdb/aclImdb_v1_labelled.tar.xz/aclImdb/train)")


def _check_arguments(labels, label_mode, class_names, validation_split, subset, shuffle, seed):
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise InputError("labels must be 'inferred', None, or a list of integer labels, one per .txt file")
        if class_names:
            raise InputError("class_names only goes with labels='inferred'")
    if label_mode not in LABEL_MODES:
        raise InputError(f"label_mode must be 'int', 'categorical', 'binary' or None, got {label_mode!r}")
    if validation_split is not None and not 0 < validation_split < 1:
        raise InputError(f"validation_split must lie strictly between 0 and 1, got {validation_split!r}")
    if bool(validation_split) != bool(subset):
        raise InputError("give validation_split and subset together (subset 'training', 'validation' or 'both')")
    if subset not in ("training", "validation", "both", None):
        raise InputError(f"subset must be 'training', 'validation' or 'both', got {subset!r}")
    if validation_split and shuffle and seed is None:
        raise InputError("with validation_split and shuffle, give a seed, so that the training and validation "
                         "subsets do not overlap")


def _index(source, directory, labels, class_names):
    """(relative file paths, integer labels or None, class names or None) in Keras's order, before shuffling."""
    if labels == "inferred":
        folders = [name for name in source.subfolders() if not name.startswith(".")]
        if class_names is not None:
            if not set(class_names) <= set(folders):
                raise InputError(f"class_names {list(class_names)} do not match the sub-folders of {directory}: "
                                 f"{folders}")
            folders = list(class_names)
        if not folders:
            raise InputError(f"{directory} has no sub-folders; with labels='inferred' each class needs its own "
                             f"folder of .txt files")
        files, file_labels = [], []
        for index, folder in enumerate(folders):
            found = source.text_files(folder)
            files += found
            file_labels += [index] * len(found)
        return files, np.array(file_labels, dtype=np.int32), folders
    files = source.text_files("")
    if labels is None:
        return files, None, None
    if len(labels) != len(files):
        raise InputError(f"labels has {len(labels)} entries but {directory} holds {len(files)} .txt files")
    return files, np.asarray(labels, dtype=np.int32), [str(label) for label in sorted(set(labels))]


def _encode_labels(labels, label_mode, class_count):
    if label_mode == "binary":
        return labels.astype(np.float32)[:, None]  # (B, 1)
    if label_mode == "categorical":
        return np.eye(class_count, dtype=np.float32)[labels]  # (B, classes)
    return labels  # (B,) int32


def _make_dataset(source, files, labels, label_mode, class_names, batch_size, max_length, shuffle, seed):
    per_batch = batch_size or 1
    order_rng = np.random.default_rng(seed) if shuffle else None

    def read_text(relative):
        content = source.read(relative)
        if max_length is not None:
            content = content[:max_length]  # bytes, as tf.strings.substr; a cut character is dropped below
        return content.decode("utf-8", errors="ignore" if max_length is not None else "replace")

    def make_pass():
        order = order_rng.permutation(len(files)) if shuffle else np.arange(len(files))
        for first in range(0, len(files), per_batch):
            chosen = order[first:first + per_batch]
            texts = np.empty(len(chosen), dtype=object)
            texts[:] = [read_text(files[i]) for i in chosen]
            if batch_size is None:
                texts = texts[0]
            if labels is None:
                yield texts
                continue
            batch_labels = _encode_labels(labels[chosen], label_mode, len(class_names))
            yield texts, (batch_labels[0] if batch_size is None else batch_labels)

    count = -(-len(files) // per_batch)
    dataset = Dataset(make_pass, count, "(texts, labels)" if labels is not None else "texts")
    dataset.class_names = class_names
    return dataset


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                max_length=None, shuffle=True, seed=None, validation_split=None, subset=None,
                                follow_links=False, verbose=True):
    """A Dataset of (texts, labels) batches from a folder of class sub-folders (see the module docstring).

    Args:
        directory: the folder (e.g. 'aclImdb/train'), or a path through a tar archive to a folder in it.
        labels: 'inferred' (default: from the sub-folders), None (texts only), or a list of integer labels
            in the order of the sorted file paths.
        label_mode: 'int' (default), 'categorical', 'binary' (two classes) or None (texts only).
        class_names: with labels='inferred', the sub-folders to use, in this order (default None: all, sorted).
        batch_size: texts per batch, default 32; None: one text at a time, no batch axis.
        max_length: cut each text to this many bytes (default None: whole).
        shuffle: default True; False keeps Keras's sorted order.
        seed: shuffling seed (default None: drawn from NumPy's global generator, as Keras). Required with
            validation_split and shuffle.
        validation_split: fraction of the files held out (default None).
        subset: 'training', 'validation' or 'both' (then a list [training, validation]); with validation_split.
        follow_links: follow symbolic links to sub-folders (default False).
        verbose: print how many files and classes were found, as Keras (default True).

    Returns:
        A Dataset with `class_names`, or [training, validation] for subset='both'.

    Raises:
        InputError: no such folder, no sub-folders, no .txt files, or a bad argument.
    """
    _check_arguments(labels, label_mode, class_names, validation_split, subset, shuffle, seed)
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or batch_size <= 0):
        raise InputError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer))
                                   or max_length <= 0):
        raise InputError(f"max_length must be a positive integer or None, got {max_length!r}")
    if seed is None:
        seed = np.random.randint(1_000_000)
    source = _open_source(directory, follow_links)
    files, file_labels, class_names = _index(source, directory, labels, class_names)
    if label_mode == "binary" and len(class_names) != 2:
        raise InputError(f"label_mode='binary' needs exactly 2 classes, found {len(class_names)}: {class_names}")
    if verbose:
        if file_labels is None:
            print(f"Found {len(files)} files.")
        else:
            print(f"Found {len(files)} files belonging to {len(class_names)} classes.")
    if shuffle:
        order = np.arange(len(files))
        np.random.RandomState(seed).shuffle(order)  # the permutation Keras applies to its paths and labels
        files = [files[i] for i in order]
        file_labels = None if file_labels is None else file_labels[order]

    def part(name):
        if not validation_split:
            return files, file_labels
        held_out = int(validation_split * len(files))
        keep = len(files) - held_out
        if verbose:
            print(f"Using {keep if name == 'training' else held_out} files for {name}.")
        if name == "training":
            return files[:keep], None if file_labels is None else file_labels[:keep]
        return files[keep:], None if file_labels is None else file_labels[keep:]

    def dataset(name, shuffled):
        chosen, chosen_labels = part(name)
        if not chosen:
            where = f" for {name}" if validation_split else ""
            raise InputError(f"no .txt files{where} in {directory}")
        return _make_dataset(source, chosen, chosen_labels, label_mode, class_names, batch_size, max_length,
                             shuffled, seed)

    if subset == "both":
        return [dataset("training", shuffle), dataset("validation", False)]
    return dataset(subset, shuffle)
