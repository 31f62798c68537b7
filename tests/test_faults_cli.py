"""`rnnsim train` as a careful user and a hostile tester meet it: huge numbers, a bad --out, two runs on
one folder, --resume with other flags, a diverging loss, damaged run folders, rnnsim inspect on a folder.

Every case ends in one line `rnnsim: error: ...` and exit status 2, before any training where it can be
told in advance, and the run folder's model, history and config always load together.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import TINY_RUN, one_error_line, read_only_command, read_until, run_rnnsim, start_rnnsim

from rnnsim.cli import main
from rnnsim.runs import RunFolder


def strict_json(path):
    """json.load that refuses NaN and Infinity, which are not JSON."""
    def refuse(constant):
        raise AssertionError(f"{path} holds a bare {constant}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def assert_consistent(out, epochs):
    """model.npz, history.json and config.json describe the same `epochs` whole epochs of one run."""
    snapshot = RunFolder(out).load()
    assert snapshot.epochs_done == snapshot.model.epochs_trained == epochs
    assert snapshot.repaired == []
    history, config = strict_json(out / "history.json"), strict_json(out / "config.json")
    assert history["epochs_done"] == epochs and all(len(v) == epochs for v in history["history"].values())
    assert history["snapshot"] == config["snapshot"] == snapshot.model.metadata["snapshot"]["id"]
    assert history["history"] == snapshot.history
    return snapshot


# ------------------------------------------------------------------------------------------ huge numbers


@pytest.mark.parametrize("flag, needs", [("--units", "the orthogonal initialisation of the recurrent weights"),
                                         ("--seq-len", "the data"), ("--samples", "the data")])
def test_huge_numbers_are_refused_before_anything_is_allocated(tmp_path, flag, needs):
    started = time.monotonic()
    status, stdout, stderr = run_rnnsim("train", flag, "1000000000", "--out", tmp_path / "run", cwd=tmp_path)
    assert status == 2, stderr
    line = one_error_line(stderr)
    assert f"most of it for {needs}" in line and "this machine has" in line
    assert line.endswith(f"lower {flag} (now 1,000,000,000)")
    assert "needs about" in line and "iB of memory" in line
    assert time.monotonic() - started < 60 and stdout == ""
    assert not (tmp_path / "run").exists()  # refused before the run folder was made


def test_the_flag_to_lower_is_the_one_that_saves_most_and_was_typed():
    from rnnsim.experiment import RunConfig
    from rnnsim.memory import check_fits, estimate, flag_to_lower

    assert flag_to_lower(RunConfig(units=100_000)) == "--units"
    assert flag_to_lower(RunConfig(samples=10**9, seq_len=50), typed={"samples"}) == "--samples"
    assert flag_to_lower(RunConfig(batch_size=10**6, samples=10**6, seq_len=100, units=2048),
                         typed={"batch_size"}) == "--batch-size"
    # `rnnsim train --cell gru`: the data 7,500 x 50 x 2 float32 (+ targets), GRU(32) and Dense weights with
    # gradients and RMSprop slots, one batch of 64 through the kernels, and the compiler
    default = RunConfig(seq_len=50, samples=6000)
    training = estimate(default).phases["training"]
    assert training["the data"] == 7500 * 50 * 2 * 4 + 7500 * 8
    assert training["the weights"] == (3 * (2 * 32 + 32 * 32) + 2 * 3 * 32 + 33) * 4
    activations = 64 * 50 * 2 * 4 + 64 * 50 * (6 * 32 + 4 * 32 + 4) * 4 + 3 * 64 * 33 * 4
    assert training["one batch's activations"] == activations
    assert check_fits(default, available=2**30).total == 275_749_424
    # any spelling the registry accepts, as RunConfig does (the CLI passes its short names)
    for spelling in ("GRU", "gru"):
        assert estimate(RunConfig(seq_len=50, samples=6000, cell=spelling)).total == estimate(default).total
    assert estimate(RunConfig(cell="LSTM")).total == estimate(RunConfig(cell="lstm")).total
    assert estimate(RunConfig(cell="SimpleRNN")).total == estimate(RunConfig(cell="rnn")).total
    with pytest.raises(ValueError, match=r"^this run needs about 49 GiB of memory \(most of it for the orthogonal "
                                         r"initialisation of the recurrent weights: 45 GiB\); this machine has "
                                         r"1.0 GiB available: lower --units \(now 20,000\)$"):
        check_fits(RunConfig(units=20_000), available=2**30)


# The peak resident memory from /proc (VmHWM starts afresh at exec; ru_maxrss would keep the parent's).
MEASURE = """
import json, resource, sys
from rnnsim import memory
from rnnsim.cli import main
from rnnsim.experiment import RunConfig
def peak():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
config = RunConfig(**json.loads(sys.argv[1]))
estimate = memory.estimate(config)
if sys.argv[2] == "data":
    from rnnsim.experiment import load_task
    before = peak()
    load_task(config)
    print(peak() - before, sum(estimate.phases["making the data"].values()))
else:
    main(sys.argv[3:])
    print(peak(), estimate.total)
"""


@pytest.mark.parametrize("what, config, args", [
    ("data", {"samples": 200_000, "seq_len": 100}, []),
    ("run", {"units": 1200, "seq_len": 8, "samples": 64, "batch_size": 16, "epochs": 1},
     ["train", "--units", "1200", "--seq-len", "8", "--samples", "64", "--batch-size", "16", "--epochs", "1",
      "--quiet"]),
])
def test_the_memory_estimate_is_within_a_factor_of_two_of_the_measured_peak(tmp_path, what, config, args):
    extra = ["--out", str(tmp_path / "run")] if args else []
    completed = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(config), what, *args, *extra],
                               capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert completed.returncode == 0, completed.stderr
    measured, estimated = map(int, completed.stdout.split()[-2:])
    assert 0.5 < estimated / measured < 2.0, (measured, estimated)


RLIMIT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))
import rnnsim.memory
rnnsim.memory.available_bytes = lambda: 2**50  # the estimate passes; the address-space limit does not
from rnnsim.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_memory_error_that_still_happens_is_one_line(tmp_path):
    # a real MemoryError: the process may map only 2 GiB, and the data alone needs about 5 GiB
    completed = subprocess.run([sys.executable, "-c", RLIMIT, "train", "--samples", "800000", "--seq-len", "100",
                                "--out", str(tmp_path / "run")], capture_output=True, text=True, cwd=tmp_path,
                               timeout=600)
    assert completed.returncode == 2, completed.stderr
    line = one_error_line(completed.stderr)
    assert line.startswith("rnnsim: error: out of memory (Unable to allocate")
    assert line.endswith("try a smaller model or less data (--units, --seq-len, --samples, --batch-size)")
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------------------------ --out


def test_out_naming_a_file_is_refused_before_training(tmp_path):
    existing = tmp_path / "notes.txt"
    existing.write_text("keep me")
    status, stdout, stderr = run_rnnsim("train", "--out", existing, *TINY_RUN, cwd=tmp_path)
    assert status == 2
    assert one_error_line(stderr) == (f"rnnsim: error: --out {existing} is a file, not a folder; give a folder "
                                      f"for model.npz, history.json and config.json")
    assert stdout == "" and existing.read_text() == "keep me"


def test_out_under_proc_is_refused_before_training(tmp_path):
    status, stdout, stderr = run_rnnsim("train", "--out", "/proc/rnnsim-run", *TINY_RUN, cwd=tmp_path)
    assert status == 2 and stdout == ""
    assert one_error_line(stderr).startswith("rnnsim: error: cannot create the run folder /proc/rnnsim-run (")


def test_a_read_only_out_folder_is_refused_before_training(tmp_path):
    # A read-only bind mount in a private mount namespace (root ignores permission bits); else chmod.
    folder = tmp_path / "readonly"
    folder.mkdir()
    program = [sys.executable, "-m", "rnnsim.cli", "train", "--out", folder / "run", *TINY_RUN]
    command = read_only_command([folder], program)
    if command is None:
        if os.geteuid() == 0:
            pytest.skip("root without a mount namespace: a folder cannot be made read-only")
        folder.chmod(0o555)
        command = program
    completed = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    folder.chmod(0o755)
    assert completed.returncode == 2 and completed.stdout == ""
    line = one_error_line(completed.stderr)
    assert line.startswith(f"rnnsim: error: cannot create the run folder {folder / 'run'} (")
    assert "Read-only file system" in line or "Permission denied" in line


def _small_tmpfs(path, size):
    """Mount a tmpfs of `size` at `path` (root only); False where mounting is not possible."""
    path.mkdir()
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


def test_a_disk_without_room_for_the_run_is_refused_before_training(tmp_path, monkeypatch, capsys):
    # On a real 64 KiB tmpfs where the machine allows it (root); otherwise shutil.disk_usage is patched,
    # in this process, to report 64 KiB free.
    disk = tmp_path / "disk"
    mounted = _small_tmpfs(disk, "64k")
    try:
        if not mounted:
            import shutil

            real = shutil.disk_usage
            monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=64 * 1024))
        assert main(["train", "--out", str(disk / "run"), *TINY_RUN[:4], "--units", "64", "--quiet"]) == 2
        line = one_error_line(capsys.readouterr().err)
        assert f"the disk of {disk / 'run'} has" in line and "free; this run's files need about" in line
        assert line.endswith("free some space or choose another --out")
        assert not (disk / "run").exists()
    finally:
        if mounted:
            subprocess.run(["umount", str(disk)], check=True)


def test_a_second_run_on_the_same_out_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "run"
    first = start_rnnsim("train", "--out", out, "--epochs", "100000", *TINY_RUN[:-1], cwd=tmp_path)
    try:
        read_until(first, "epoch 1/")
        status, stdout, stderr = run_rnnsim("train", "--out", out, *TINY_RUN, cwd=tmp_path)
        assert status == 2 and stdout == ""
        line = one_error_line(stderr)
        assert line.startswith(f"rnnsim: error: {out} is in use by another rnnsim train (process {first.pid}, started ")
        assert line.endswith("wait for it to finish or choose another --out")
        status, _, stderr = run_rnnsim("train", "--out", out, "--resume", cwd=tmp_path)
        assert status == 2 and f"process {first.pid}" in one_error_line(stderr)
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)
    assert first.returncode == 130
    # the first run was undisturbed, and the folder is free again
    assert run_rnnsim("train", "--out", out, "--resume", "--epochs", "1", cwd=tmp_path)[0] == 0


# --------------------------------------------------------------------------------------------- --resume


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A GRU(4) run of 2 epochs, and a copy of its folder after epoch 1."""
    import shutil

    base = tmp_path_factory.mktemp("trained")
    out = base / "run"
    assert main(["train", "--cell", "gru", "--epochs", "1", "--out", str(out), *TINY_RUN]) == 0
    shutil.copytree(out, base / "after-epoch-1")
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--quiet"]) == 0
    return out


def copy_of(run, tmp_path, name="run"):
    import shutil

    return shutil.copytree(run, tmp_path / name)


def test_resume_with_flags_that_disagree_is_refused_naming_both_values(trained_run, tmp_path, capsys):
    out = copy_of(trained_run, tmp_path)
    before = (out / "model.npz").read_bytes()
    assert main(["train", "--out", str(out), "--resume", "--cell", "lstm", "--units", "8", "--epochs", "3"]) == 2
    assert one_error_line(capsys.readouterr().err) == (
        f"rnnsim: error: --cell lstm, --units 8 disagree with the saved run (cell gru, units 4 in "
        f"{out / 'model.npz'}): --resume continues that run unchanged; drop them, or train a new run with "
        f"another --out")
    assert main(["train", "--out", str(out), "--resume", "--seq-len", "9", "--optimizer", "adam"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--optimizer adam, --seq-len 9 disagree with the saved run (optimizer rmsprop, seq len 8 in" in line
    assert (out / "model.npz").read_bytes() == before  # nothing trained, nothing written
    assert_consistent(out, 2)


def test_resume_accepts_typed_flags_equal_to_the_saved_run(trained_run, tmp_path):
    out = copy_of(trained_run, tmp_path)
    # the same values, and the short name of the same cell: no conflict
    assert main(["train", "--out", str(out), "--resume", "--cell", "GRU", "--units", "4", "--seq-len", "8",
                 "--batch-size", "16", "--lr", "0.003", "--epochs", "3", "--quiet"]) == 0
    assert_consistent(out, 3)


def test_config_json_edited_to_disagree_with_the_model_is_an_error(trained_run, tmp_path, capsys):
    out = copy_of(trained_run, tmp_path)
    config = strict_json(out / "config.json")
    config["units"] = 8  # the model file holds a GRU(4)
    (out / "config.json").write_text(json.dumps(config))
    assert main(["train", "--out", str(out), "--resume", "--epochs", "3"]) == 2
    assert one_error_line(capsys.readouterr().err) == (
        f"rnnsim: error: {out / 'config.json'} says units 8 but model.npz holds 4; the model file is the truth: "
        f"delete config.json (it is rebuilt from model.npz) or train into a new --out")
    (out / "config.json").unlink()  # as the message says
    assert main(["train", "--out", str(out), "--resume", "--epochs", "3", "--quiet"]) == 0
    assert assert_consistent(out, 3).config["units"] == 4


def test_json_files_left_behind_by_an_interrupted_save_are_rebuilt_from_the_model(trained_run, tmp_path, capsys):
    # A save killed after model.npz (epoch 2) and before the JSON files: they still say epoch 1.
    out = copy_of(trained_run, tmp_path)
    earlier = trained_run.parent / "after-epoch-1"
    for name in ("history.json", "config.json"):
        (out / name).write_bytes((earlier / name).read_bytes())
    snapshot = RunFolder(out).load()
    assert snapshot.repaired == ["history.json", "config.json"] and snapshot.epochs_done == 2
    assert_consistent(out, 2)
    # and --resume goes on from epoch 2, not 1
    assert main(["train", "--out", str(out), "--resume", "--epochs", "3", "--quiet"]) == 0
    assert_consistent(out, 3)


def test_a_folder_written_before_snapshots_must_agree_with_its_model(trained_run, tmp_path, capsys):
    # What an older rnnsim left after Ctrl-C during validation: model.npz at 2 epochs, history.json at 1.
    from rnnsim.models import load_model

    out = copy_of(trained_run, tmp_path)
    model = load_model(out / "model.npz")
    del model.metadata["snapshot"]
    model.save(out / "model.npz")
    history = strict_json(out / "history.json")
    (out / "history.json").write_text(json.dumps({"epochs_done": 1, "history": {
        key: values[:1] for key, values in history["history"].items()}}))
    assert main(["train", "--out", str(out), "--resume", "--epochs", "3"]) == 2
    assert "history.json records 1 epochs but model.npz 2" in one_error_line(capsys.readouterr().err)


# --------------------------------------------------------------------------------------------- diverging


def test_a_diverging_run_stops_exits_2_and_keeps_the_earlier_good_model(trained_run, tmp_path):
    out = copy_of(trained_run, tmp_path)
    before = {name: (out / name).read_bytes() for name in ("model.npz", "history.json", "config.json")}
    status, stdout, stderr = run_rnnsim("train", "--out", out, "--optimizer", "sgd", "--lr", "1e6",
                                        "--epochs", "3", *TINY_RUN, cwd=tmp_path)
    assert status == 2, stderr
    line = one_error_line(stderr)
    assert line.startswith("rnnsim: error: the loss became ")
    assert "in epoch 1, batch " in line and "the run diverged with --optimizer sgd and --lr 1e+06" in line
    assert f"nothing was saved ({out} keeps the earlier run)" in line
    assert line.endswith("Try a smaller --lr, or --optimizer rmsprop")
    assert "saved to" not in stdout
    assert {name: (out / name).read_bytes() for name in before} == before
    assert_consistent(out, 2)


def test_divergence_after_good_epochs_keeps_the_last_finite_epoch(tmp_path, monkeypatch, capsys):
    from rnnsim.models.training import Trainer

    real_step = Trainer._train_step

    def step_that_diverges_in_epoch_3(self, x, y):
        value, sums = real_step(self, x, y)
        if self.optimizer.iterations == 2 * 4 + 2:  # 4 batches an epoch: the 2nd batch of epoch 3
            for weight in self.weights:
                weight[...] = np.nan
            return float("nan"), sums
        return value, sums

    monkeypatch.setattr(Trainer, "_train_step", step_that_diverges_in_epoch_3)
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--epochs", "5", *TINY_RUN]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("rnnsim: error: the loss became nan in epoch 3, batch 2: the run diverged with "
                           "--optimizer rmsprop and --lr 0.003; ")
    assert f"{out} holds epoch 2, the last finite checkpoint" in line
    snapshot = assert_consistent(out, 2)
    assert all(np.all(np.isfinite(weight)) for weight in snapshot.model.weights)


def test_history_json_stays_valid_json_with_non_finite_values(tmp_path):
    from rnnsim.runs import write_json

    write_json(tmp_path / "history.json", {"loss": [0.5, float("nan")], "val_loss": [float("inf"), np.float32(1)]})
    assert strict_json(tmp_path / "history.json") == {"loss": [0.5, None], "val_loss": [None, 1.0]}


# ------------------------------------------------------------------------------------- killed mid-save


def test_a_run_killed_at_any_moment_leaves_a_folder_that_loads_together(tmp_path):
    # SIGKILL lands anywhere, a save included: the folder must still load as one snapshot, and the
    # temporary files of a killed save are gone after the next save.
    out = tmp_path / "run"
    for delay in (0.0, 0.013, 0.031, 0.057):
        process = start_rnnsim("train", "--out", out, "--epochs", "100000", *TINY_RUN[:-1], cwd=tmp_path)
        read_until(process, "epoch 2/")
        time.sleep(delay)
        process.kill()
        process.communicate(timeout=60)
        snapshot = RunFolder(out).load()  # rebuilds a JSON file a killed save left behind
        assert snapshot.model.epochs_trained == snapshot.epochs_done >= 2
        assert_consistent(out, snapshot.epochs_done)
        out = tmp_path / f"run-{delay}"
    orphan = tmp_path / "run" / ".model.npz.k1ll3d.tmp"
    orphan.write_bytes(b"half a model")
    (tmp_path / "run" / ".history.json.x.tmp").write_text("{")
    done = RunFolder(tmp_path / "run").load().epochs_done
    assert run_rnnsim("train", "--out", tmp_path / "run", "--resume", "--epochs", done + 1, "--quiet",
                      cwd=tmp_path)[0] == 0
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        ".rnnsim.lock", "config.json", "history.json", "model.npz"]


# ---------------------------------------------------------------------------------------------- inspect


def test_inspect_takes_a_run_folder(trained_run, tmp_path):
    status, stdout, stderr = run_rnnsim("inspect", trained_run, "--sample", "1", cwd=tmp_path)
    assert status == 0, stderr
    assert stdout.splitlines()[0] == "run/model.npz: task adding, sample 1"
    status, _, stderr = run_rnnsim("inspect", tmp_path, cwd=tmp_path)
    assert status == 2
    assert one_error_line(stderr) == (f"rnnsim: error: {tmp_path} is a folder without model.npz; give a run folder "
                                      f"written by rnnsim train (--out) or a model's .npz file")


def test_inspect_data_is_the_data_folder_not_a_task_name(tmp_path, need_data):
    data = need_data("japanese_vowels/JapaneseVowels_TRAIN.ts", "japanese_vowels/JapaneseVowels_TEST.ts")
    out = tmp_path / "vowels"
    assert main(["train", "--dataset", "vowels", "--data", str(data), "--epochs", "1", "--units", "4",
                 "--out", str(out), "--quiet"]) == 0
    elsewhere = {**os.environ, "RNNSIM_DATA": str(tmp_path / "no-data-here")}
    for args in (["--data", str(data)], []):  # the folder given, or the one the run was trained with
        status, stdout, stderr = run_rnnsim("inspect", out, *args, cwd=tmp_path, env=elsewhere)
        assert status == 0, stderr
        assert stdout.startswith("vowels/model.npz: task vowels, sample 0")
    (tmp_path / "empty").mkdir()
    status, _, stderr = run_rnnsim("inspect", out, "--data", tmp_path / "empty", cwd=tmp_path, env=elsewhere)
    assert status == 2 and "japanese_vowels" in one_error_line(stderr)  # looked for in that folder
