"""`rnnsim inspect --view ... --what-if ... --notes` on small saved models (real Numba cells)."""

from __future__ import annotations

import hashlib
import io

import pytest
from rich.console import Console

from rnnsim.cli import inspect_command, main
from rnnsim.datasets import load_task
from rnnsim.experiment import RunConfig, build_model
from rnnsim.notes import NOTES


def _saved(tmp_path_factory, cell, dataset="adding", seq_len=20, **task_options):
    task = load_task(dataset, seq_len=seq_len, n_samples=64, seed=0, **task_options)
    model = build_model(task, RunConfig(cell=cell, dataset=dataset, units=6, epochs=1, batch_size=16, lr=1e-2,
                                        seq_len=seq_len, samples=64).validate())
    model.fit(task.x_train, task.y_train, batch_size=16, epochs=1, verbose=0)
    path = tmp_path_factory.mktemp(cell) / "model.npz"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def lstm_model(tmp_path_factory):
    return _saved(tmp_path_factory, "lstm")


@pytest.fixture(scope="module")
def rnn_model(tmp_path_factory):
    return _saved(tmp_path_factory, "rnn")


def run_inspect(path, width=120, **options) -> tuple[int, str]:
    buffer = io.StringIO()
    status = inspect_command(path, console=Console(file=buffer, width=width, force_terminal=False), **options)
    return status, buffer.getvalue()


def test_the_gain_and_inputs_views_state_what_they_measured(lstm_model):
    status, out = run_inspect(lstm_model, views=["gain,inputs"])
    assert status == 0, out
    assert "per-step gain g_t" in out and "from t=19 back to t=0 the gradient is multiplied by" in out
    assert "along the cell state c" in out
    assert "input connectivity ||dy/dx_t|| of sample 0" in out and "▲ marked value (t=" in out
    assert "forget gate f" not in out  # only the views asked for


def test_every_view_with_notes(lstm_model):
    status, out = run_inspect(lstm_model, views=["all"], notes=True, width=200)
    assert status == 0, out
    for key in ("gates", "gain", "connectivity", "text", "saturation"):
        assert NOTES[key].look_for[:40] in out, key
    assert "gate saturation over 16 samples" in out and "forget gate f: shut" in out
    assert "input by input, down: forget gate f" in out  # the text view of numbers still reads downwards


def test_a_gate_named_as_on_screen(lstm_model):
    status, out = run_inspect(lstm_model, gate="f")
    assert status == 0, out
    assert "forget gate f" in out and "input gate i" not in out


def test_what_if_prints_both_models_and_leaves_the_file_alone(lstm_model):
    digest = hashlib.sha256(lstm_model.read_bytes()).hexdigest()
    status, out = run_inspect(lstm_model, views=["gain"], what_if="forget_bias=0", width=140)
    assert status == 0, out
    assert "what if: forget-gate bias b_f = 0 (as trained:" in out
    assert "as trained: forget gate f" in out and "edited: forget gate f" in out
    trained, edited = (float(part.split("mean ")[1].split()[0]) for part in out.split("forget gate f")[1:3])
    assert edited < trained - 0.1  # a forget bias of 0 instead of about 1: f falls from ~0.7 towards 0.5
    assert hashlib.sha256(lstm_model.read_bytes()).hexdigest() == digest


def test_the_simple_rnn_gain_shows_its_two_factors(rnn_model):
    status, out = run_inspect(rnn_model, views=["gain"], what_if="recurrent_scale=0.5", width=160)
    assert status == 0, out
    assert "tanh' contributes" in out and "U factor" in out and "recurrent matrix U x 0.5" in out


@pytest.mark.parametrize(
    "options, message",
    [(dict(views=["gian"]), "unknown view 'gian'"), (dict(gate="zz"), "unknown gate 'zz' for an LSTM layer"),
     (dict(what_if="forget_bias"), "is not NAME=VALUE"), (dict(what_if="update_bias=1"), "changes a GRU layer")],
)
def test_mistakes_are_one_line_and_exit_status_2(lstm_model, capsys, options, message):
    status, out = run_inspect(lstm_model, **options)
    err = capsys.readouterr().err.strip()
    assert status == 2 and out == ""
    assert len(err.splitlines()) == 1 and message in err


def test_the_command_line_takes_the_view_flags(lstm_model, capsys):
    status = main(["inspect", str(lstm_model), "--view", "gain", "--view", "saturation", "--saturation-samples", "4"])
    out = capsys.readouterr().out
    assert status == 0
    assert "per-step gain" in out and "gate saturation over 4 samples" in out


def test_text_is_read_downwards_with_each_words_connectivity(tmp_path_factory, need_data):
    need_data("sentiment_labelled_sentences/imdb_labelled.txt")
    path = _saved(tmp_path_factory, "gru", dataset="sentiment", seq_len=30)
    status, out = run_inspect(path, width=100, views=["gates", "text"])
    assert status == 0, out
    assert "word by word, down: update gate z" in out and "padding, not shown" in out
    assert "inputs: " not in out  # the words are on their own lines, not a paragraph under the heatmap
    word_lines = [line for line in out.splitlines() if line[:5].strip().isdigit() and "e-" in line[-8:]]
    assert len(word_lines) >= 3  # one line per real word, each ending in its ||dy/dx_t||


def test_by_default_text_longer_than_a_line_is_read_downwards():
    from rnnsim.annotations import StepAnnotations
    from rnnsim.inspection import choose_views

    review = StepAnnotations(labels=[""] * 5 + ["a", "truly", "awful", "film"] * 30, kind="words")
    short = StepAnnotations(labels=["5", "2", "+", "2"], kind="words")
    numbers = StepAnnotations(labels=["0.42"] * 100)
    assert choose_views(None, None, review, 80) == ["gates", "text"]
    assert choose_views(None, None, short, 80) == ["gates"]  # one line of inputs under the heatmaps
    assert choose_views(None, None, numbers, 80) == ["gates"]
    assert choose_views(["gain,inputs"], "forget_bias=0", review, 80) == ["gain", "inputs", "what-if"]
