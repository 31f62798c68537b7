import numpy as np
import pytest

from rnnsim.datasets import adding_problem, copy_memory, noisy_sine
from rnnsim.errors import InputError


def test_adding_problem_marks_one_value_in_each_half_and_sums_them():
    x, y = adding_problem(500, timesteps=40, seed=3)
    assert x.shape == (500, 40, 2) and y.shape == (500, 1) and x.dtype == np.float32
    markers = x[:, :, 1]
    assert np.all(markers.sum(axis=1) == 2) and set(np.unique(markers)) == {0.0, 1.0}
    assert np.all(markers[:, :20].sum(axis=1) == 1) and np.all(markers[:, 20:].sum(axis=1) == 1)
    assert np.allclose(y[:, 0], (x[:, :, 0] * markers).sum(axis=1))
    assert x[:, :, 0].min() >= 0 and x[:, :, 0].max() < 1


def test_adding_problem_mean_prediction_scores_one_sixth():
    _, y = adding_problem(50_000, timesteps=10, seed=0)
    assert np.mean((y - y.mean()) ** 2) == pytest.approx(1 / 6, abs=0.004)


def test_synthetic_tasks_are_deterministic_by_seed():
    assert np.array_equal(adding_problem(20, 10, seed=5)[0], adding_problem(20, 10, seed=5)[0])
    assert not np.array_equal(adding_problem(20, 10, seed=5)[0], adding_problem(20, 10, seed=6)[0])
    assert np.array_equal(copy_memory(5, 7, seed=2)[0], copy_memory(5, 7, seed=2)[0])
    assert np.array_equal(noisy_sine(5, 9, seed=2)[0], noisy_sine(5, 9, seed=2)[0])


def test_copy_memory_layout_and_guessing_baseline():
    x, y, baseline = copy_memory(4, delay=5, seq_len=3, n_symbols=4, seed=1)
    assert x.shape == (4, 11, 6) and y.shape == (4, 11)
    inputs = x.argmax(axis=-1)
    assert np.all((inputs[:, :3] >= 1) & (inputs[:, :3] <= 4))
    assert np.all(inputs[:, 3:7] == 0) and np.all(inputs[:, 7] == 5) and np.all(inputs[:, 8:] == 0)
    assert np.all(y[:, :8] == 0) and np.array_equal(y[:, 8:], inputs[:, :3])
    assert baseline == pytest.approx(3 * np.log(4) / 11)
    # Arjovsky et al.'s setting: T = 100, 8 symbols -> 10 ln 8 / 120 = 0.1733 nats.
    assert copy_memory(1, delay=100)[2] == pytest.approx(0.17329, abs=1e-5)


def test_noisy_sine_baseline_is_last_value_mse():
    x, y, baseline = noisy_sine(2_000, timesteps=30, seed=0, noise=0.0)
    assert x.shape == (2_000, 30, 1) and y.shape == (2_000, 1)
    assert baseline == pytest.approx(np.mean((x[:, -1, 0] - y[:, 0]) ** 2))
    assert 0.01 < baseline < 0.5
    _, _, noisy_baseline = noisy_sine(2_000, timesteps=30, seed=0, noise=0.5)
    assert noisy_baseline > baseline


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: adding_problem(0), "n_samples"),
        (lambda: adding_problem(5, timesteps=1), "timesteps"),
        (lambda: copy_memory(5, delay=0), "delay"),
        (lambda: noisy_sine(5, noise=-1), "noise"),
        (lambda: noisy_sine(5, horizon=0), "horizon"),
    ],
)
def test_synthetic_bad_arguments_raise_input_error(call, fragment):
    with pytest.raises(InputError, match=fragment):
        call()
