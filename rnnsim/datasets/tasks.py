"""One interface to every task, for the trainer and the terminal app: `load_task(name) -> Task`.

Each task bundles training and validation arrays with what a model needs to fit them (loss, output
layer, metrics), a trivial baseline to beat, and a `decode` function for display. Task names:

    adding     regression, adding problem, seq_len 100 (synthetic; the default)
    copy       per-step classification, copy memory, seq_len = the delay, default 30 (synthetic)
    sine       regression, noisy sine one step ahead, seq_len 50 (synthetic)
    imdb       binary, IMDB reviews, 10,000 words, padded/truncated to seq_len 500 ('pre', as Keras)
    sentiment  binary, UCI sentences (all three sources), seq_len 40
    beijing    regression, Beijing temperature 24 h ahead from 120 hours (seq_len = hours)
    jena       regression, Jena temperature as in the book (needs the full file), seq_len 240 (hourly)
    vowels     multiclass, Japanese Vowels speakers, 12 channels, padded to 29 with a mask
    addition   per-step classification for an encoder-decoder, '12+34' -> '46', seq_len = the question's
               characters, 2 * digits + 1, default 5 (synthetic; two inputs: see Task.x_train)

Validation data: `imdb` holds out the last 20 % of the (shuffled) training reviews, as Keras's
`validation_split=0.2` does in the book, and leaves the test reviews untouched (`imdb.load_data` gives
them); `sentiment` shuffles the 3,000 sentences by seed and holds out 20 %; `beijing` and `jena` split
by time (validation is the period after training); `vowels` validates on the official test split;
synthetic tasks generate `n_samples` training and `n_samples // 4` validation sequences.

A task for a model with several inputs (`addition`: the question for the encoder, the answer so
far for the decoder) holds x as a NumPy structured array with one field per input, named as the
model's `Input`s: it slices and counts like any x, and `rnnsim.Model` takes it as such.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rnnsim.annotations import StepAnnotations
from rnnsim.errors import InputError

TASK_NAMES = ("adding", "copy", "sine", "imdb", "sentiment", "beijing", "jena", "vowels", "addition")


@dataclass
class Task:
    """Everything the trainer and the app need to train and judge a model on one task."""

    name: str  # one of TASK_NAMES
    kind: str  # 'regression', 'binary' or 'multiclass'
    # (N, T, input_dim) float32, or (N, T) int32 token ids when vocab_size is set; for the full Jena
    # file a read-only strided view (index it per batch, x[batch] copies); for a model with several
    # inputs a structured array (N,) with one field per input (see `input_fields`)
    x_train: np.ndarray
    y_train: np.ndarray  # (N, output_units) float32 for regression, (N,) int64 labels, (N, T) with sequence_output
    x_val: np.ndarray  # like x_train
    y_val: np.ndarray  # like y_train
    loss: str  # 'mse', 'mae', 'binary_crossentropy' or 'sparse_categorical_crossentropy'
    metrics: list[str]  # Keras metric names, e.g. ['mae'] or ['accuracy']
    baseline: dict  # name, metric, value, description: the trivial predictor to beat
    input_dim: int | None  # features per timestep; None for token tasks (x holds ids, see vocab_size)
    vocab_size: int | None  # rows of the Embedding a token task needs; None for float inputs
    output_units: int  # units of the final Dense layer
    output_activation: str  # 'linear', 'sigmoid' or 'softmax'
    mask_train: np.ndarray | None = None  # (N, T) bool, True on real timesteps; None: all real
    mask_val: np.ndarray | None = None  # like mask_train
    decode: Callable[[np.ndarray], str] | None = None  # x[sample, t] -> short display string (e.g. the word)
    description: str = ""  # one paragraph for the app and the CLI
    sequence_output: bool = False  # the target is per timestep (return_sequences=True), e.g. copy
    info: dict = field(default_factory=dict)  # task-specific extras (normalisation, class names, ...)
    # x[sample] (T, D) or (T,) ids -> what the task marks in it (markers, windows, padding), on top of
    # the labels `decode` gives; None: labels only
    mark: Callable[[np.ndarray], dict] | None = None

    @property
    def input_fields(self) -> tuple[str, ...]:
        """The names of the model inputs x holds, for a task with several (else empty)."""
        return tuple(self.x_train.dtype.names or ())

    @property
    def seq_len(self) -> int:
        """Timesteps per sample (of the first input, for a task with several)."""
        first = self.x_train[self.input_fields[0]] if self.input_fields else self.x_train
        return int(first.shape[1])

    def annotate(self, x_sample, mask=None) -> StepAnnotations:
        """What each step of one sample is, for the time axes of the views (rnnsim.annotations).

        Args:
            x_sample: one sample's inputs, (T, D) values or (T,) token ids.
            mask: (T,) bool, False at masked (padded) steps (default None: the sample has none).
        """
        x_sample = np.asarray(x_sample)
        try:
            labels = [str(self.decode(step)) if self.decode else "" for step in x_sample]
        except Exception:  # a decoder that cannot read this sample: unlabelled steps rather than no view
            labels = [""] * len(x_sample)
        marks = self.mark(x_sample) if self.mark is not None else {}
        kind = "words" if self.vocab_size else marks.pop("kind", "values")
        annotations = StepAnnotations(labels=labels, kind=kind, **marks)
        return annotations.with_mask(mask)


def _subsample(rng: np.random.Generator, n_keep: int | None, *arrays):
    """Keep a random n_keep of the samples (in their original order), or all of them when n_keep is None."""
    total = len(arrays[0])
    if n_keep is None or n_keep >= total:
        return arrays
    chosen = np.sort(rng.choice(total, size=n_keep, replace=False))
    return tuple(None if array is None else np.ascontiguousarray(array[chosen]) for array in arrays)


def _val_count(n_samples: int) -> int:
    return max(1, n_samples // 4)


def _check_int(name: str, value, minimum: int) -> None:
    if value is not None and (not isinstance(value, (int, np.integer)) or value < minimum):
        raise InputError(f"{name} must be an int of at least {minimum} (or None), got {value!r}", option=name)


def _windows(make_splits, task: str, seq_len: int, step: int, source: str):
    """make_splits(), with a too-short series explained in seq_len, the setting a user chose (rows = seq_len x step)."""
    from rnnsim.datasets.timeseries import NoWindowFits

    try:
        return make_splits()
    except NoWindowFits as error:
        longest = error.longest // step
        advice = (f"use a smaller seq_len (at most {longest})" if longest >= 1 else
                  "use a longer file")
        raise InputError(f"{task}: no window of seq_len={seq_len} steps ({error.lookback:,} rows) fits in the "
                         f"{error.split} rows of {source} ({error.split_rows:,} of {error.rows:,}); {advice}",
                         option="seq_len") from None


def load_task(name: str = "adding", *, data_path: str | os.PathLike | None = None, seq_len: int | None = None,
              n_samples: int | None = None, seed: int = 0) -> Task:
    """Build a task by name.

    Args:
        name: one of TASK_NAMES. Default 'adding'.
        data_path: the data folder for real data sets. Default None: `data_dir()` (RNNSIM_DATA or the
            user cache).
        seq_len: timesteps per sample. Default None: the task's default (see the module docstring).
        n_samples: training samples. For synthetic tasks, how many to generate (default 8,000, plus a
            quarter as many for validation); for real data, a random subset of this size (and a quarter
            as many validation samples), default None: all.
        seed: for generation, shuffling and subsets. Default 0.

    Returns:
        A Task.

    Raises:
        InputError: unknown name, bad seq_len / n_samples, or missing data (naming the file and where to get it).
    """
    if name not in TASK_NAMES:
        raise InputError(f"unknown task {name!r}; choose one of {', '.join(TASK_NAMES)}")
    _check_int("seq_len", seq_len, 1)
    _check_int("n_samples", n_samples, 1)
    return _BUILDERS[name](data_path=data_path, seq_len=seq_len, n_samples=n_samples, seed=seed)


# ------------------------------------------------------------------------------------------ synthetic


def _adding(*, data_path, seq_len, n_samples, seed) -> Task:
    from rnnsim.datasets.synthetic import adding_problem

    seq_len = seq_len or 100
    if seq_len < 2:
        raise InputError(f"the adding problem needs seq_len of at least 2 (a marker in each half), got {seq_len}; "
                         f"use a larger seq_len", option="seq_len")
    n_train = n_samples or 8_000
    x, y = adding_problem(n_train + _val_count(n_train), seq_len, seed)
    x_train, y_train, x_val, y_val = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    return Task(
        name="adding", kind="regression", x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val,
        loss="mse", metrics=["mae"],
        baseline={"name": "predict the mean", "metric": "mse", "value": float(np.var(y_val)),
                  "description": "always answer the average sum (1.0); its MSE is the targets' variance, ~1/6"},
        input_dim=2, vocab_size=None, output_units=1, output_activation="linear",
        decode=lambda step: f"{step[0]:.2f}{'*' if step[1] > 0.5 else ''}",
        mark=lambda sample: {"values": np.clip(sample[:, 0], 0.0, 1.0), "markers": sample[:, 1] > 0.5,
                             "marker_name": "marked value"},
        description=f"Adding problem: {seq_len} steps of (value, marker); output the sum of the two marked "
                    f"values (one marker in each half). A model must carry a number across up to "
                    f"{seq_len - 1} steps.",
    )


def _copy(*, data_path, seq_len, n_samples, seed) -> Task:
    from rnnsim.datasets.synthetic import copy_memory

    delay = seq_len or 30
    n_train = n_samples or 8_000
    n_symbols, remembered = 8, 10
    x, y, baseline = copy_memory(n_train + _val_count(n_train), delay, remembered, n_symbols, seed)
    glyphs = "_" + "".join(str(s) for s in range(1, n_symbols + 1)) + ":"
    return Task(
        name="copy", kind="multiclass", x_train=x[:n_train], y_train=y[:n_train], x_val=x[n_train:],
        y_val=y[n_train:], loss="sparse_categorical_crossentropy", metrics=["accuracy"],
        baseline={"name": "blanks, then a uniform guess", "metric": "loss", "value": baseline,
                  "description": "predict blank until the delimiter, then each of the 8 symbols with "
                                 "probability 1/8: 10 ln 8 / L nats per step"},
        input_dim=n_symbols + 2, vocab_size=None, output_units=n_symbols + 2, output_activation="softmax",
        decode=lambda step: glyphs[int(np.argmax(step))], sequence_output=True,
        mark=lambda sample: _copy_marks(sample, delay, remembered, n_symbols),
        description=f"Copy memory: read {remembered} symbols, wait {delay} steps, reproduce them after the "
                    f"delimiter ':'; '_' is blank. Sequences of {delay + 2 * remembered} steps.",
        info={"delay": delay, "remembered": remembered, "n_symbols": n_symbols},
    )


def _copy_marks(sample, delay, remembered, n_symbols) -> dict:
    """The copy task's windows: the symbols to remember, the delimiter, the steps that must recall them."""
    length = len(sample)
    delimiter = np.argmax(sample, axis=-1) == n_symbols + 1
    return {"kind": "symbols", "markers": delimiter, "marker_name": "delimiter ':'",
            "windows": [(0, remembered, "write"), (length - remembered, length, "recall")]}


def _sine(*, data_path, seq_len, n_samples, seed) -> Task:
    from rnnsim.datasets.synthetic import noisy_sine

    seq_len = seq_len or 50
    n_train = n_samples or 8_000
    x, y, _ = noisy_sine(n_train + _val_count(n_train), seq_len, seed)
    x_val, y_val = x[n_train:], y[n_train:]
    return Task(
        name="sine", kind="regression", x_train=x[:n_train], y_train=y[:n_train], x_val=x_val, y_val=y_val,
        loss="mse", metrics=["mae"],
        baseline={"name": "last value", "metric": "mse",
                  "value": float(np.mean((x_val[:, -1, 0] - y_val[:, 0]) ** 2)),
                  "description": "repeat the last noisy observation as the forecast"},
        input_dim=1, vocab_size=None, output_units=1, output_activation="linear",
        decode=lambda step: f"{step[0]:+.2f}",
        mark=lambda sample: {"values": np.clip((sample[:, 0] + 1.0) / 2.0, 0.0, 1.0)},
        description=f"Noisy sine: {seq_len} noisy samples of a sine (period 8-32 steps); forecast the clean "
                    f"value one step ahead.",
    )


def _addition(*, data_path, seq_len, n_samples, seed) -> Task:
    from rnnsim.datasets import addition

    seq_len = seq_len or 5
    if not 3 <= seq_len <= 19:
        raise InputError(f"the addition task's seq_len is the question's length, 2 * digits + 1: from 3 to 19 "
                         f"characters (default 5, numbers of up to 2 digits), got {seq_len}", option="seq_len")
    digits = (seq_len - 1) // 2  # the question is 'a+b' with up to `digits` digits each
    n_train = n_samples or 8_000
    data = addition.addition_problem(n_train + _val_count(n_train), digits, seed)
    fields = [("question", np.int64, (data["question"].shape[1],)),
              ("answer_in", np.int64, (data["answer_in"].shape[1],))]
    x = np.zeros(len(data["question"]), dtype=fields)
    x["question"], x["answer_in"] = data["question"], data["answer_in"]
    y = data["answer_out"]
    y_val = y[n_train:]
    real = y_val != addition.PAD
    # the baseline writes, at each answer step, the character the validation answers use most there
    commonest = [np.bincount(y_val[real[:, t], t], minlength=addition.VOCABULARY_SIZE).argmax()
                 for t in range(y_val.shape[1])]
    baseline = float(((y_val == np.array(commonest)[None, :]) & real).sum() / real.sum())
    return Task(
        name="addition", kind="multiclass", x_train=x[:n_train], y_train=y[:n_train], x_val=x[n_train:],
        y_val=y_val, loss="sparse_categorical_crossentropy", metrics=["accuracy"],
        baseline={"name": "commonest character per step", "metric": "accuracy", "value": baseline,
                  "description": "at each step of the answer write the character most answers have there"},
        input_dim=None, vocab_size=addition.VOCABULARY_SIZE, output_units=addition.VOCABULARY_SIZE,
        output_activation="softmax", decode=lambda token: addition.CHARACTERS[int(token)],
        sequence_output=True,
        description=f"Addition for an encoder-decoder: the encoder reads a question such as "
                    f"'{'1' * digits}+{'2' * digits}' a character at a time and hands its state to the decoder, "
                    f"which writes the sum after '=' and ends with '.'. Numbers of 1 to {digits} digits.",
        info={"architecture": "encoder_decoder", "digits": digits, "characters": addition.CHARACTERS},
    )


# ------------------------------------------------------------------------------------------ real data


def _majority_baseline(y_val: np.ndarray, n_classes: int) -> dict:
    counts = np.bincount(y_val.astype(np.int64), minlength=n_classes)
    return {"name": "majority class", "metric": "accuracy", "value": float(counts.max() / counts.sum()),
            "description": f"always predict class {int(counts.argmax())}, the commonest in the validation data"}


def _imdb(*, data_path, seq_len, n_samples, seed) -> Task:
    from rnnsim.datasets import imdb
    from rnnsim.preprocessing.sequence import pad_sequences

    maxlen, num_words = seq_len or 500, 10_000
    (x_all, y_all), _ = imdb.load_data(path=data_path, num_words=num_words)
    n_val = len(x_all) // 5  # validation_split=0.2 takes the last 20 %
    x_train, y_train = x_all[:-n_val], y_all[:-n_val]
    x_val, y_val = x_all[-n_val:], y_all[-n_val:]
    rng = np.random.default_rng(seed)
    if n_samples is not None:
        x_train, y_train = _subsample(rng, n_samples, x_train, y_train)
        x_val, y_val = _subsample(rng, _val_count(n_samples), x_val, y_val)
    words = imdb.index_to_word(imdb.get_word_index(data_path))
    return Task(
        name="imdb", kind="binary",
        x_train=pad_sequences(x_train, maxlen=maxlen), y_train=y_train,
        x_val=pad_sequences(x_val, maxlen=maxlen), y_val=y_val,
        loss="binary_crossentropy", metrics=["accuracy"], baseline=_majority_baseline(y_val, 2),
        input_dim=None, vocab_size=num_words, output_units=1, output_activation="sigmoid",
        decode=lambda token: words.get(int(token), "<unk>"), mark=_token_marks,
        description=f"IMDB reviews, positive or negative: the {num_words:,} commonest words, reviews cut to "
                    f"their last {maxlen} words (padded in front). Validation: the last 20 % of the training "
                    f"reviews.",
        info={"num_words": num_words},
    )


def _token_marks(sample) -> dict:
    """Text padded by pad_sequences: id 0 is padding (read by the layer, since the Embedding has no mask)."""
    return {"padding": np.asarray(sample) == 0}


def _sentiment(*, data_path, seq_len, n_samples, seed) -> Task:
    from rnnsim.datasets import sentiment
    from rnnsim.preprocessing import text
    from rnnsim.preprocessing.sequence import pad_sequences

    maxlen = seq_len or 40
    texts, labels, _sources = sentiment.load_all(path=data_path)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(texts))
    n_val = len(texts) // 5
    train_rows, val_rows = order[:-n_val], order[-n_val:]
    if n_samples is not None:
        train_rows = train_rows[:n_samples]
        val_rows = val_rows[:_val_count(n_samples)]
    train_texts = [texts[i] for i in train_rows]
    vocabulary = text.build_vocabulary(train_texts)  # from training sentences only
    words = text.index_to_word(vocabulary)
    y_val = labels[val_rows]
    return Task(
        name="sentiment", kind="binary",
        x_train=pad_sequences(text.texts_to_sequences(train_texts, vocabulary), maxlen=maxlen),
        y_train=labels[train_rows],
        x_val=pad_sequences(text.texts_to_sequences([texts[i] for i in val_rows], vocabulary), maxlen=maxlen),
        y_val=y_val, loss="binary_crossentropy", metrics=["accuracy"], baseline=_majority_baseline(y_val, 2),
        input_dim=None, vocab_size=text.vocabulary_size(vocabulary), output_units=1,
        output_activation="sigmoid", decode=lambda token: words.get(int(token), "<unk>"), mark=_token_marks,
        description=f"UCI labelled sentences (IMDB, Yelp, Amazon; 3,000 in all), positive or negative; "
                    f"words indexed from the training sentences, padded to {maxlen}. 20 % held out.",
        info={"vocabulary": vocabulary},
    )


# Windows overlap, so a copy multiplies memory by lookback / step: Beijing's (110 MB) is copied, the full
# Jena file's (2.7 GB for training alone) stays a read-only strided view; index it per batch.
_COPY_WINDOWS_UP_TO_BYTES = 512 * 2**20


def _forecast_task(name: str, splits, n_samples, seed, unit: str, description: str) -> Task:
    rng = np.random.default_rng(seed)
    x_train, y_train, x_val, y_val = splits.x_train, splits.y_train, splits.x_val, splits.y_val
    if n_samples is not None:
        x_train, y_train = _subsample(rng, n_samples, x_train, y_train)
        x_val, y_val = _subsample(rng, _val_count(n_samples), x_val, y_val)
    if x_train.nbytes + x_val.nbytes <= _COPY_WINDOWS_UP_TO_BYTES:
        # Plain contiguous arrays where they fit: kernels and in-place code then need no special case.
        x_train, x_val = np.ascontiguousarray(x_train), np.ascontiguousarray(x_val)
    target = splits.target_column
    mean, std = float(splits.mean[target]), float(splits.std[target])
    target_name = splits.columns[target]
    return Task(
        name=name, kind="regression", x_train=x_train, y_train=y_train[:, None], x_val=x_val,
        y_val=y_val[:, None], loss="mae", metrics=["mae"],
        baseline={"name": "common sense (last value)", "metric": "mae", "value": splits.baseline_mae_val,
                  "description": f"predict the last {target_name} in the window; MAE "
                                 f"{splits.baseline_mae_val:.3f} normalised = "
                                 f"{splits.baseline_mae_val_units:.2f} {unit} on all validation windows"},
        input_dim=len(splits.columns), vocab_size=None, output_units=1, output_activation="linear",
        decode=lambda step: f"{step[target] * std + mean:.1f} {unit}",
        description=description,
        info={"columns": splits.columns, "target_column": target, "mean": splits.mean, "std": splits.std,
              "lookback": splits.lookback, "delay": splits.delay, "step": splits.step,
              "baseline_mae_units": splits.baseline_mae_val_units},
    )


def _beijing(*, data_path, seq_len, n_samples, seed) -> Task:
    from rnnsim.datasets import beijing

    lookback = seq_len or 120
    file = beijing.find_file(data_path)
    splits = _windows(lambda: beijing.temperature_splits(file=file, lookback=lookback, horizon=24, step=1),
                      "beijing", lookback, 1, file.name)
    return _forecast_task(
        "beijing", splits, n_samples, seed, "C",
        f"Beijing hourly weather 2010-2014: predict the temperature 24 hours after the last of {lookback} "
        f"hours of 7 normalised variables. Split by time: 50 % train, 25 % validation, 25 % test.")


def _jena(*, data_path, seq_len, n_samples, seed) -> Task:
    from rnnsim.datasets import jena

    timesteps = seq_len or 240
    series = jena.load_jena(path=data_path)
    splits = _windows(lambda: jena.tutorial_splits(series, lookback=timesteps * 6, step=6, delay=144),
                      "jena", timesteps, 6, series.source.name)
    return _forecast_task(
        "jena", splits, n_samples, seed, "C",
        f"Jena climate 2009-2016 (Chollet ch. 6.3): predict the temperature 24 hours ahead from "
        f"{timesteps} hourly rows of 14 normalised variables.")


def _vowels(*, data_path, seq_len, n_samples, seed) -> Task:
    from rnnsim.datasets import vowels

    train, test = vowels.load_data(data_path)
    length = train.x.shape[1]
    if seq_len is not None:
        if seq_len < length:
            raise InputError(f"seq_len={seq_len} is shorter than the longest utterance ({length} frames); "
                             f"use a larger seq_len (at least {length})", option="seq_len")
        train, test = vowels._pad_end(train, seq_len), vowels._pad_end(test, seq_len)
    rng = np.random.default_rng(seed)
    x_train, y_train, mask_train = train.x, train.y, train.mask
    x_val, y_val, mask_val = test.x, test.y, test.mask
    if n_samples is not None:
        x_train, y_train, mask_train = _subsample(rng, n_samples, x_train, y_train, mask_train)
        x_val, y_val, mask_val = _subsample(rng, _val_count(n_samples), x_val, y_val, mask_val)
    n_classes = len(train.class_names)
    return Task(
        name="vowels", kind="multiclass", x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val,
        loss="sparse_categorical_crossentropy", metrics=["accuracy"],
        baseline=_majority_baseline(y_val, n_classes), input_dim=vowels.CHANNELS, vocab_size=None,
        output_units=n_classes, output_activation="softmax", mask_train=mask_train, mask_val=mask_val,
        decode=None, mark=lambda sample: {"padding": ~np.any(sample != 0, axis=-1)},
        description="Japanese Vowels: which of 9 speakers said 'ae', from 7-29 frames of 12 LPC cepstrum "
                    "coefficients, zero-padded at the end (use the mask). Validation: the official test split.",
        info={"class_names": train.class_names},
    )


_BUILDERS = {
    "adding": _adding, "copy": _copy, "sine": _sine, "imdb": _imdb, "sentiment": _sentiment,
    "beijing": _beijing, "jena": _jena, "vowels": _vowels, "addition": _addition,
}
