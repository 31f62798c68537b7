"""Synthetic long-memory tasks, generated in code: no files, deterministic by seed.

- `adding_problem`: add the two numbers marked in a long sequence (Hochreiter & Schmidhuber 1997;
  the variant of Le, Jaitly & Hinton 2015, one marker in each half).
- `copy_memory`: read a few symbols, wait, reproduce them after a delimiter (Hochreiter & Schmidhuber
  1997; the form of Arjovsky, Shah & Bengio 2016).
- `noisy_sine`: forecast the clean value of a noisy sine wave `horizon` steps ahead.

Each comes with the score of a trivial predictor, so that a user can tell learning from guessing.
"""

from __future__ import annotations

import numpy as np

from rnnsim.errors import InputError


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"{name} must be a positive int, got {value!r}")


def adding_problem(n_samples: int, timesteps: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem.

    Each sequence has two input columns: column 0 holds values drawn from U[0, 1]; column 1 is a marker,
    0 everywhere except exactly two 1s, one at a random step in the first half and one in the second.
    The target is the sum of the two marked values. Predicting the mean (1.0) scores MSE 1/6 ~ 0.167
    (the variance of a sum of two U[0, 1]); learning means going clearly below that.

    Args:
        n_samples: how many sequences.
        timesteps: sequence length. Default 100.
        seed: random seed. Default 0.

    Returns:
        x (n_samples, timesteps, 2) float32, y (n_samples, 1) float32.
    """
    _check_positive(n_samples=n_samples)
    if not isinstance(timesteps, (int, np.integer)) or timesteps < 2:
        raise InputError(f"timesteps must be an int of at least 2 (one marker per half), got {timesteps!r}")
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(n_samples, timesteps))
    half = timesteps // 2
    first = rng.integers(0, half, size=n_samples)
    second = rng.integers(half, timesteps, size=n_samples)
    markers = np.zeros((n_samples, timesteps))
    rows = np.arange(n_samples)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)  # (N, T, 2)
    y = (values[rows, first] + values[rows, second])[:, None].astype(np.float32)  # (N, 1)
    return x, y


def copy_memory(n_samples: int, delay: int = 30, seq_len: int = 10, n_symbols: int = 8,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """The copy-memory task.

    Alphabet: 0 = blank, 1..n_symbols = symbols, n_symbols + 1 = delimiter. Input: seq_len random
    symbols, delay - 1 blanks, the delimiter, seq_len blanks (length delay + 2 * seq_len). Target: blanks
    for the first delay + seq_len steps, then the seq_len symbols. Guessing (blank until the delimiter,
    then a uniform symbol) costs seq_len * ln(n_symbols) / (delay + 2 * seq_len) nats per step.

    Args:
        n_samples: how many sequences.
        delay: steps between the last symbol and the delimiter, plus one. Default 30.
        seq_len: symbols to remember. Default 10.
        n_symbols: size of the symbol alphabet. Default 8.
        seed: random seed. Default 0.

    Returns:
        x (N, L, n_symbols + 2) float32 one-hot inputs, y (N, L) int64 target class per step,
        baseline cross-entropy (float, nats per step).
    """
    _check_positive(n_samples=n_samples, delay=delay, seq_len=seq_len, n_symbols=n_symbols)
    rng = np.random.default_rng(seed)
    length = delay + 2 * seq_len
    delimiter = n_symbols + 1
    symbols = rng.integers(1, n_symbols + 1, size=(n_samples, seq_len))
    inputs = np.zeros((n_samples, length), dtype=np.int64)
    inputs[:, :seq_len] = symbols
    inputs[:, seq_len + delay - 1] = delimiter
    targets = np.zeros((n_samples, length), dtype=np.int64)
    targets[:, -seq_len:] = symbols
    x = np.eye(n_symbols + 2, dtype=np.float32)[inputs]  # (N, L, n_symbols + 2)
    baseline = seq_len * np.log(n_symbols) / length
    return x, targets, float(baseline)


def noisy_sine(n_samples: int, timesteps: int = 50, seed: int = 0, noise: float = 0.1,
               horizon: int = 1) -> tuple[np.ndarray, np.ndarray, float]:
    """Forecast a sine wave from noisy observations.

    Each sequence is sin(2 pi t / period + phase) with period ~ U[8, 32] steps and phase ~ U[0, 2 pi),
    observed with Gaussian noise of standard deviation `noise`. The target is the *clean* value
    `horizon` steps after the last observation. Baseline: repeat the last (noisy) observation.

    Args:
        n_samples: how many sequences.
        timesteps: observed steps. Default 50.
        seed: random seed. Default 0.
        noise: standard deviation of the observation noise. Default 0.1.
        horizon: steps ahead. Default 1.

    Returns:
        x (N, timesteps, 1) float32, y (N, 1) float32, baseline MSE of the last-value forecast (float).
    """
    _check_positive(n_samples=n_samples, timesteps=timesteps, horizon=horizon)
    if noise < 0:
        raise InputError(f"noise must be non-negative, got {noise}")
    rng = np.random.default_rng(seed)
    period = rng.uniform(8.0, 32.0, size=(n_samples, 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(n_samples, 1))
    steps = np.arange(timesteps + horizon)[None, :]
    clean = np.sin(2 * np.pi * steps / period + phase)  # (N, T + horizon)
    observed = clean[:, :timesteps] + noise * rng.standard_normal((n_samples, timesteps))
    x = observed[:, :, None].astype(np.float32)  # (N, T, 1)
    y = clean[:, -1:].astype(np.float32)  # (N, 1)
    baseline = float(np.mean((x[:, -1, 0] - y[:, 0]) ** 2))
    return x, y, baseline
