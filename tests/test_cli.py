"""The command line as a user meets it: real runs on tiny tasks, and one clear line for every mistake."""

import json
import subprocess
import sys

import numpy as np
import pytest

from rnnsim.cli import main


def run_cli(*args, cwd=None):
    """The installed entry point in a subprocess: exit status, stdout, stderr."""
    completed = subprocess.run(
        [sys.executable, "-m", "rnnsim.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )
    return completed.returncode, completed.stdout, completed.stderr


TINY = ["--seq-len", "8", "--samples", "64", "--units", "4", "--batch-size", "16", "--quiet"]


def test_train_writes_a_run_folder_and_resume_continues_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--cell", "lstm", "--epochs", "2", "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "val MSE" in printed and "baseline 0." in printed
    history = json.loads((out / "history.json").read_text())
    assert history["epochs_done"] == 2
    assert len(history["history"]["loss"]) == 2 and len(history["history"]["val_loss"]) == 2
    config = json.loads((out / "config.json").read_text())
    assert config["cell"] == "lstm" and config["seq_len"] == 8 and config["units"] == 4

    assert main(["train", "--out", str(out), "--resume", "--epochs", "3", "--quiet"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert history["epochs_done"] == 3 and len(history["history"]["loss"]) == 3

    from rnnsim.models import load_model

    model = load_model(out / "model.npz")
    x = np.zeros((2, 8, 2), np.float32)
    assert model.predict(x).shape == (2, 1)


def test_the_thread_count_does_not_change_a_run(tmp_path, monkeypatch):
    from rnnsim import threads

    monkeypatch.setattr(threads, "_threads", None)
    monkeypatch.setattr(threads, "SPLIT_MIN_MACS", 1000)  # TINY's products are split too
    one, three = tmp_path / "one", tmp_path / "three"
    assert main(["train", "--cell", "lstm", "--epochs", "2", "--threads", "1", "--out", str(one), *TINY]) == 0
    assert threads.get_num_threads() == 1
    assert main(["train", "--cell", "lstm", "--epochs", "2", "--threads", "3", "--out", str(three), *TINY]) == 0
    a = json.loads((one / "history.json").read_text())["history"]
    b = json.loads((three / "history.json").read_text())["history"]
    assert a == b  # to the last bit


def test_resumed_run_equals_an_uninterrupted_one(tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(["train", "--cell", "gru", "--epochs", "2", "--out", str(straight), *TINY]) == 0
    assert main(["train", "--cell", "gru", "--epochs", "1", "--out", str(split), *TINY]) == 0
    assert main(["train", "--out", str(split), "--resume", "--epochs", "2", "--quiet"]) == 0
    a = json.loads((straight / "history.json").read_text())["history"]["loss"]
    b = json.loads((split / "history.json").read_text())["history"]["loss"]
    assert a == pytest.approx(b, rel=1e-6)


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--cell", "transformer"], "argument --cell: invalid choice: 'transformer'"),
        (["train", "--dataset", "mnist"], "unknown task 'mnist'"),
        (["train", "--units", "-3"], "argument --units: expected a positive integer, got -3"),
        (["train", "--threads", "0"], "argument --threads: expected a positive integer, got 0"),
        (["train", "--dropout", "1.5"], "argument --dropout: expected a number in [0, 1), got 1.5"),
        (["train", "--lr", "abc"], "argument --lr: expected a positive number, got 'abc'"),
        (["train", "--resume", "--out", "/nonexistent/run"], "nothing to resume"),
        (["inspect", "/nonexistent/model.npz"], "/nonexistent/model.npz"),
        (["tui", "--checkpoint", "/nonexistent/model.npz"], "/nonexistent/model.npz"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_mistakes_are_one_line_and_exit_status_2(args, message, tmp_path):
    status, stdout, stderr = run_cli(*args, cwd=tmp_path)
    assert status == 2, (stdout, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("rnnsim: error: ")
    assert message in lines[0]
    assert "Traceback" not in stderr


def test_missing_real_data_is_one_clear_line(tmp_path):
    status, _, stderr = run_cli("train", "--dataset", "imdb", "--data", str(tmp_path), cwd=tmp_path)
    assert status == 2
    assert len(stderr.strip().splitlines()) == 1
    assert "imdb" in stderr.lower()


def test_corrupted_model_is_one_clear_line(tmp_path):
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a real archive")
    status, _, stderr = run_cli("inspect", str(bad), cwd=tmp_path)
    assert status == 2
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr


def test_resume_with_a_corrupted_config_is_one_clear_line(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{ not json")
    status, _, stderr = run_cli("train", "--resume", "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert status == 2
    assert "config.json is not valid JSON" in stderr


def test_demo_prints_a_gate_trace(capsys):
    assert main(["demo", "--timesteps", "5"]) == 0
    printed = capsys.readouterr().out
    for heading in ("simple_rnn", "lstm", "gru", "forget", "update", "||dL/dh_t||"):
        assert heading in printed


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "train" in capsys.readouterr().out


def test_ctrl_c_stops_after_a_batch_and_saves_a_resumable_run(tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnsim.cli", "train", "--cell", "gru", "--epochs", "1000", "--out", str(out),
         "--seq-len", "8", "--samples", "64", "--units", "4", "--batch-size", "16"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    # wait until training is under way (an epoch line is printed after the first epoch)
    deadline = time.monotonic() + 300
    seen = ""
    while time.monotonic() < deadline and "epoch 2/1000" not in seen:
        line = process.stdout.readline()
        if not line:
            break
        seen += line
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "--resume" in seen + stdout
    history = json.loads((out / "history.json").read_text())
    assert 2 <= history["epochs_done"] < 1000
    status, _, _ = run_cli("train", "--out", str(out), "--resume", "--epochs", str(history["epochs_done"] + 1),
                           "--quiet", cwd=tmp_path)
    assert status == 0
    assert json.loads((out / "history.json").read_text())["epochs_done"] == history["epochs_done"] + 1


def test_inspect_prints_the_chosen_validation_sample_of_a_trained_model(tmp_path):
    import io

    from rich.console import Console

    from rnnsim.inspect import inspect_command

    out = tmp_path / "run"
    assert main(["train", "--cell", "gru", "--epochs", "1", "--out", str(out), *TINY]) == 0
    buffer = io.StringIO()
    assert inspect_command(out / "model.npz", sample=2, console=Console(file=buffer, width=100)) == 0
    printed = buffer.getvalue()
    lines = printed.splitlines()
    assert lines[0] == "model.npz: task adding, sample 2"
    assert lines[1].startswith("gru (gru, 4 units, 8 timesteps), sample 2")  # the sample asked for, not 0
    for heading in ("update gate z", "reset gate r", "candidate", "hidden state", "||dL/dh_t||"):
        assert heading in printed, heading
    assert "\x1b[" not in printed  # not a terminal: plain characters
