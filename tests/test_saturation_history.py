"""Gate saturation per epoch: the SaturationHistory callback, and history.json from rnnsim train (and --resume)."""

from __future__ import annotations

import json

from rnnsim.analysis import saturation_record
from rnnsim.callbacks import SaturationHistory
from rnnsim.cli import main
from rnnsim.datasets import load_task
from rnnsim.experiment import RunConfig, build_model


def test_one_record_per_epoch_of_the_weights_after_its_last_batch():
    task = load_task("adding", seq_len=15, n_samples=96, seed=1)
    model = build_model(task, RunConfig(cell="gru", units=5, batch_size=32, lr=1e-2, seq_len=15).validate())
    monitor = SaturationHistory(task.x_val[:8], task.y_val[:8])
    model.fit(task.x_train, task.y_train, batch_size=32, epochs=3, verbose=0, callbacks=[monitor])
    assert [record["epoch"] for record in monitor.records] == [1, 2, 3]
    assert list(monitor.records[0]["gates"]) == ["update", "reset"]
    # The last probe ran after the last batch: the final weights, the same numbers as a probe now.
    now = saturation_record(model.probe(task.x_val[:8], task.y_val[:8]).traces[0], epoch=3)
    assert monitor.records[-1] == now
    assert now["steps"] == 8 * 15


def test_a_simple_rnn_has_no_gate_and_records_nothing():
    task = load_task("adding", seq_len=10, n_samples=32)
    model = build_model(task, RunConfig(cell="rnn", units=3, batch_size=16, seq_len=10).validate())
    monitor = SaturationHistory(task.x_val[:4], task.y_val[:4])
    model.fit(task.x_train, task.y_train, batch_size=16, epochs=2, verbose=0, callbacks=[monitor])
    assert monitor.records == []


def test_train_writes_saturation_to_history_json_and_resume_continues_it(tmp_path, capsys):
    out = tmp_path / "run"
    common = ["--seq-len", "12", "--samples", "128", "--units", "4", "--quiet", "--out", str(out)]
    assert main(["train", "--cell", "lstm", "--epochs", "2", *common]) == 0
    history = json.loads((out / "history.json").read_text())
    assert [record["epoch"] for record in history["saturation"]] == [1, 2]
    forget = history["saturation"][0]["gates"]["forget"]
    assert len(forget["low"]) == len(forget["high"]) == 4
    assert all(0.0 <= value <= 1.0 for value in forget["low"] + forget["high"])
    assert main(["train", "--resume", "--epochs", "3", "--out", str(out), "--quiet"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert [record["epoch"] for record in history["saturation"]] == [1, 2, 3]
    capsys.readouterr()
    assert main(["inspect", str(out / "model.npz"), "--view", "saturation"]) == 0
    assert "by epoch (history.json)" in capsys.readouterr().out
