"""The addition task for an encoder-decoder: read '12+345', write '357'. Generated in code, no files.

An encoder reads the question one character at a time and hands its final state to a decoder,
which writes the answer one character at a time, each step fed the previous character (teacher
forcing: '=' then the true answer during training). Every character is a token id:

    id    0    1 .. 10    11   12   13
    char  ' '  '0'..'9'   '+'  '='  '.'          (' ' pads, '=' starts the answer, '.' ends it)

    question   '12+345 '   (2 * digits + 1 characters, padded at the end)
    answer_in  '=357 '     (digits + 2: the start mark, the sum, padding)
    answer_out '357. '     (the same shifted by one: what the decoder must write at each step)

Padding is id 0, so an Embedding(mask_zero=True) masks it: the encoder carries its state over the
padding and the loss skips padded answer steps. `greedy_answers` writes answers with any trained
model, one character at a time, feeding back its own choices (what inference is).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnnsim.errors import InputError

CHARACTERS = " 0123456789+=."
PAD, START, END = 0, CHARACTERS.index("="), CHARACTERS.index(".")
VOCABULARY_SIZE = len(CHARACTERS)


def encode(text: str, length: int) -> np.ndarray:
    """The ids of `text`, padded with 0 to `length`; InputError for a character outside CHARACTERS."""
    unknown = sorted(set(text) - set(CHARACTERS))
    if unknown:
        raise InputError(f"the addition task has no character {unknown[0]!r}; it knows {CHARACTERS!r}")
    if len(text) > length:
        raise InputError(f"{text!r} is longer than {length} characters")
    ids = np.zeros(length, dtype=np.int64)
    ids[:len(text)] = [CHARACTERS.index(char) for char in text]
    return ids


def decode(ids, stop_at_end: bool = True) -> str:
    """The text of a row of ids, padding dropped; up to the end mark '.' (excluded) when stop_at_end."""
    text = "".join(CHARACTERS[int(i)] for i in np.asarray(ids).reshape(-1) if int(i) != PAD)
    return text.split(".")[0] if stop_at_end else text


def _random_numbers(rng, count, digits):
    """Numbers whose length in digits is uniform in 1..digits, then uniform among those lengths' values."""
    lengths = rng.integers(1, digits + 1, size=count)
    low = np.where(lengths == 1, 0, 10 ** (lengths - 1))
    return rng.integers(low, 10 ** lengths)


def addition_problem(n_samples: int, digits: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    """Questions 'a+b' with a, b of 1 to `digits` digits, and their answers, as token ids.

    Args:
        n_samples: how many questions.
        digits: the most digits of each number (default 3: up to '999+999').
        seed: random seed (default 0).

    Returns:
        {'question': (N, 2 * digits + 1), 'answer_in': (N, digits + 2), 'answer_out': (N, digits + 2)},
        int64 ids (see the module docstring), and 'a', 'b' (N,) the numbers themselves.
    """
    for name, value, minimum in (("n_samples", n_samples, 1), ("digits", digits, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise InputError(f"{name} must be an integer of at least {minimum}, got {value!r}")
    if digits > 9:
        raise InputError(f"digits must be at most 9, got {digits}")
    rng = np.random.default_rng(seed)
    first, second = _random_numbers(rng, n_samples, digits), _random_numbers(rng, n_samples, digits)
    question_length, answer_length = 2 * digits + 1, digits + 2
    questions = np.zeros((n_samples, question_length), np.int64)
    answer_in = np.zeros((n_samples, answer_length), np.int64)
    answer_out = np.zeros((n_samples, answer_length), np.int64)
    for row, (a, b) in enumerate(zip(first.tolist(), second.tolist())):
        questions[row] = encode(f"{a}+{b}", question_length)
        answer_in[row] = encode(f"={a + b}", answer_length)
        answer_out[row] = encode(f"{a + b}.", answer_length)
    return {"question": questions, "answer_in": answer_in, "answer_out": answer_out, "a": first, "b": second}


def greedy_answers(predict: Callable, questions: np.ndarray, answer_length: int) -> np.ndarray:
    """Answers written by a trained model, one character at a time from its own previous choices.

    Args:
        predict: the model's `predict`, taking [questions (N, Q), answers so far (N, A)] and giving
            (N, A, VOCABULARY_SIZE) probabilities of the next character at each step.
        questions: (N, Q) question ids.
        answer_length: A, the decoder's length (digits + 2).

    Returns:
        (N, answer_length) ids: the written answer followed by '.' and padding (decode() reads it).
    """
    questions = np.asarray(questions)
    written = np.zeros((len(questions), answer_length), np.int64)
    written[:, 0] = START
    output = np.zeros_like(written)
    finished = np.zeros(len(questions), bool)
    for step in range(answer_length):
        probabilities = np.asarray(predict([questions, written]))
        choice = np.where(finished, PAD, probabilities[:, step].argmax(axis=-1))
        output[:, step] = choice
        finished |= choice == END
        if step + 1 < answer_length:
            written[:, step + 1] = np.where(finished, PAD, choice)
    return output
