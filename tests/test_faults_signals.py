"""Ctrl-C anywhere, as real SIGINTs to a real `rnnsim train` process: before training, while IMDB is
first parsed, during an epoch's validation, mid-epoch, twice; and SIGTERM mid-epoch (exit status 143).

Always exit status 130, never a traceback, and the run folder holds one consistent snapshot of the
last whole epoch, from which --resume ends exactly where an uninterrupted run does.
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import TINY_RUN, read_until, run_rnnsim, start_rnnsim

from rnnsim.runs import RunFolder

TRAIN = ["train", "--cell", "gru", *TINY_RUN]


def history_of(out):
    snapshot = RunFolder(out).load()
    assert snapshot.epochs_done == snapshot.model.epochs_trained
    assert all(len(values) == snapshot.epochs_done for values in snapshot.history.values())
    return snapshot


def assert_resume_matches_an_uninterrupted_run(out, tmp_path, epochs):
    """--resume to `epochs` gives the same history and weights, to the last bit, as one run of `epochs`."""
    assert run_rnnsim("train", "--out", out, "--resume", "--epochs", epochs, "--quiet", cwd=tmp_path)[0] == 0
    straight = tmp_path / f"straight-{epochs}"
    assert run_rnnsim(*TRAIN, "--epochs", epochs, "--out", straight, cwd=tmp_path)[0] == 0
    resumed, uninterrupted = history_of(out), history_of(straight)
    assert resumed.history == uninterrupted.history
    for a, b in zip(resumed.model.get_weights(), uninterrupted.model.get_weights()):
        np.testing.assert_array_equal(a, b)


# Sends itself SIGINT as the validation of epoch 3 begins (4 batches an epoch), as a user's Ctrl-C would land.
CTRL_C_IN_VALIDATION = """
import os, signal, sys
from rnnsim.models.training import Trainer
real_evaluate = Trainer._evaluate_batches
def evaluate(self, batches):
    if self.optimizer.iterations == 3 * 4:
        os.kill(os.getpid(), signal.SIGINT)
    return real_evaluate(self, batches)
Trainer._evaluate_batches = evaluate
from rnnsim.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_ctrl_c_during_validation_keeps_the_epoch_the_model_has_trained(tmp_path):
    out = tmp_path / "run"
    completed = subprocess.run([sys.executable, "-c", CTRL_C_IN_VALIDATION, *TRAIN, "--epochs", "10",
                                "--out", str(out)], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert completed.returncode == 130, completed.stderr
    assert completed.stderr == ""
    assert (f"stopped by Ctrl-C in epoch 4; {out} holds epoch 3 (the last whole epoch); continue with: "
            f"rnnsim train --out {out} --resume") in " ".join(completed.stdout.split())
    assert history_of(out).epochs_done == 3  # model, history and config all at epoch 3
    assert_resume_matches_an_uninterrupted_run(out, tmp_path, 4)  # epoch 4 is trained once, not epoch 3 twice


@pytest.mark.parametrize("signum, status, name", [
    (signal.SIGINT, 130, "Ctrl-C"),
    (signal.SIGTERM, 143, "SIGTERM"),  # what `kill`, a job scheduler or `docker stop` sends: as the first Ctrl-C
])
def test_a_signal_mid_epoch_keeps_the_last_whole_epoch_and_resume_ends_where_a_straight_run_does(
        tmp_path, signum, status, name):
    out = tmp_path / "run"
    process = start_rnnsim(*TRAIN[:-1], "--epochs", "100000", "--out", out, cwd=tmp_path)
    read_until(process, "epoch 2/")
    time.sleep(0.05)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == status, stderr
    assert stderr == ""
    done = history_of(out).epochs_done
    assert done >= 2
    assert (f"stopped by {name} in epoch {done + 1}; {out} holds epoch {done} (the last whole epoch); continue "
            f"with: rnnsim train --out {out} --resume") in " ".join(stdout.split())  # rich wraps at 80 columns
    assert_resume_matches_an_uninterrupted_run(out, tmp_path, done + 1)


def test_a_second_ctrl_c_stops_at_once_and_the_folder_still_loads(tmp_path):
    out = tmp_path / "run"
    # one big batch an epoch, so that both Ctrl-Cs land inside one
    process = start_rnnsim("train", "--seq-len", "400", "--samples", "1024", "--batch-size", "1024", "--units",
                           "128", "--epochs", "100000", "--out", out, cwd=tmp_path)
    read_until(process, "epoch 1/")
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) <= 1
    assert history_of(out).epochs_done >= 1


@pytest.mark.parametrize("delay", [0.15, 0.3, 0.5, 0.8, 1.2, 1.8])
def test_ctrl_c_before_training_starts_is_one_line_and_exit_130(tmp_path, delay):
    # Covered from the first lines of rnnsim/cli.py on (its imports, then main); a Ctrl-C inside the
    # interpreter's own start, the first 20-30 ms before any rnnsim code runs, is Python's to report.
    out = tmp_path / "run"
    process = start_rnnsim(*TRAIN, "--epochs", "100000", "--out", out, cwd=tmp_path)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert stderr in ("", "rnnsim: interrupted by Ctrl-C\n"), stderr
    # nothing half-made: no folder, or a folder holding a whole snapshot
    assert not out.exists() or history_of(out).epochs_done >= 1


# Sends itself SIGINT while IMDB's reviews are first tokenized, as a user's Ctrl-C during the parse would land.
CTRL_C_WHILE_PARSING = """
import os, signal, sys
import rnnsim.datasets.imdb as imdb
real_tokenize, calls = imdb.tokenize, []
def tokenize(text):
    calls.append(1)
    if len(calls) == 2000:
        os.kill(os.getpid(), signal.SIGINT)
    return real_tokenize(text)
imdb.tokenize = tokenize
from rnnsim.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_ctrl_c_while_imdb_is_first_parsed_is_one_line_and_leaves_no_cache(tmp_path, need_data):
    data = need_data("imdb/aclImdb_v1_labelled.tar.xz", "imdb/imdb_word_index.json")
    cache = tmp_path / "cache"
    env = {**os.environ, "RNNSIM_CACHE": str(cache), "RNNSIM_DATA": str(data)}
    out = tmp_path / "run"
    # The SIGINT is sent from inside the parse (after 2,000 of the 50,000 reviews), so it lands there on a
    # machine of any speed: a fixed delay was once longer than the whole parse.
    completed = subprocess.run([sys.executable, "-c", CTRL_C_WHILE_PARSING, "train", "--dataset", "imdb", "--out",
                                str(out), "--quiet"], capture_output=True, text=True, cwd=tmp_path, env=env,
                               timeout=300)
    stderr = completed.stderr
    assert completed.returncode == 130, stderr
    assert stderr == "rnnsim: interrupted by Ctrl-C\n"
    assert list(cache.rglob("*.npz")) == [] and list(cache.rglob("*.tmp")) == []  # no cache, not even half
    assert not out.exists()


# Ctrl-C where Python itself makes it awkward, each as a real SIGINT inside a stand-in train command:
# numpy turning an interrupted C import into an ImportError, an interrupt raised inside __del__ (Python
# prints "Exception ignored" and carries on), and one raised inside exec() (which CPython then counts as
# unhandled at exit, ending the process by SIGINT unless the program leaves with its own status).
AWKWARD_CTRL_C = """
import os, signal, sys, time
import rnnsim.cli as cli
from rnnsim import interrupts

def ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)

def as_import_error(args):
    try:
        ctrl_c()
    except KeyboardInterrupt as error:
        raise ImportError("Importing the numpy C-extensions failed.") from error

class Eats:
    def __del__(self):
        ctrl_c()

def inside_del(args):
    Eats()  # collected at once: the interrupt is raised inside __del__, where Python cannot raise it
    interrupts.stop_if_pressed()  # what the train command does before training
    return 0

def inside_exec(args):
    exec("ctrl_c()")

cli.COMMANDS["train"] = {"import": as_import_error, "del": inside_del, "exec": inside_exec}[sys.argv.pop(1)]
sys.argv[0] = "rnnsim"
sys.exit(cli.main())
"""


@pytest.mark.parametrize("where", ["import", "del", "exec"])
def test_ctrl_c_where_python_makes_it_awkward_is_still_one_line_and_130(tmp_path, where):
    # run with -m, as `python -m rnnsim.cli` is: that is where CPython checks for an unhandled interrupt at exit
    (tmp_path / "awkward_ctrl_c.py").write_text(AWKWARD_CTRL_C)
    completed = subprocess.run([sys.executable, "-m", "awkward_ctrl_c", where, "train"], capture_output=True,
                               text=True, cwd=tmp_path, timeout=120)
    assert (completed.returncode, completed.stderr) == (130, "rnnsim: interrupted by Ctrl-C\n")
