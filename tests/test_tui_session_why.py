"""The headless session's "why" data on the real model API: annotations, connectivity and a ProbeSource on
every probe, saturation on every epoch, what-ifs that leave the training model alone, the forget-bias compare."""

from __future__ import annotations

import numpy as np

from rnnsim.analysis import Edit, connectivity
from tui.session import (
    DoneEvent,
    EpochEvent,
    ProbeEvent,
    ReadyEvent,
    Settings,
    TrainingSession,
    compare_forget_bias,
    forget_bias_label,
    load_checkpoint,
)

TINY = dict(task="adding", units=4, seq_len=16, epochs=2, batch_size=16, n_samples=64, probe_every=2)


def test_probes_carry_annotations_connectivity_and_the_weights_of_their_moment():
    session = TrainingSession(Settings(cell="lstm", **TINY))
    session.prepare()
    events = list(session.events())
    probes = [event for event in events if isinstance(event, ProbeEvent)]
    first, last = probes[0], probes[-1]
    assert len(first.annotations) == 8 and all(len(a.marked_steps) == 2 for a in first.annotations)
    assert first.connectivity.shape == (8, 16)
    # The connectivity of the last probe is the model's now (the last probe came after the last batch).
    np.testing.assert_allclose(last.connectivity, connectivity(session.model, session.task.x_val[:8]), rtol=1e-5)
    # Each probe kept its own weights: the first probe's differ from the model's final ones.
    assert not all(np.array_equal(a, b) for a, b in zip(first.source.weights, session.model.get_weights()))
    epochs = [event for event in events if isinstance(event, EpochEvent)]
    assert [record["epoch"] for event in epochs for record in event.saturation] == [1, 2]
    assert session.saturation_history == [record for event in epochs for record in event.saturation]


def test_a_what_if_on_a_probe_leaves_the_training_model_alone():
    session = TrainingSession(Settings(cell="gru", **TINY))
    session.prepare()
    probe = next(event for event in session.events() if isinstance(event, ProbeEvent))
    before = [w.copy() for w in session.model.get_weights()]
    result = probe.source.what_if(Edit("update_bias", 4.0))
    assert all(np.array_equal(a, b) for a, b in zip(before, session.model.get_weights()))
    assert result.after.traces[0].gates["update"].mean() > 0.9 > result.before.traces[0].gates["update"].mean()
    # The "as trained" side is the probe's own moment: the same forward pass as the probe itself.
    np.testing.assert_allclose(result.before.traces[0].hidden, probe.traces[0].hidden, rtol=1e-6, atol=1e-7)


def test_the_forget_bias_compare_starts_the_same_lstm_from_zero_and_from_one():
    settings = Settings(cell="gru", compare_batches=4, **TINY)
    events = list(compare_forget_bias(settings))
    ready = [event for event in events if isinstance(event, ReadyEvent)]
    assert [event.cell for event in ready] == [forget_bias_label(0.0), forget_bias_label(1.0)] == [
        "LSTM b_f=0", "LSTM b_f=1"]
    probes = {}
    for event in events:
        if isinstance(event, ProbeEvent):
            probes.setdefault(event.cell, event)
    first_zero, first_one = probes["LSTM b_f=0"], probes["LSTM b_f=1"]
    # Same data and initial kernels, forget bias 0 against 1: sigma(.) near 0.5 against near 0.73.
    assert first_zero.traces[0].gates["forget"].mean() < first_one.traces[0].gates["forget"].mean() - 0.1
    assert isinstance(events[-1], DoneEvent) and events[-1].reason == "finished"


def test_an_opened_checkpoint_brings_annotations_connectivity_a_source_and_its_saturation(tmp_path):
    from rnnsim.cli import main

    out = tmp_path / "run"
    assert main(["train", "--cell", "lstm", "--seq-len", "12", "--samples", "64", "--units", "4", "--epochs",
                 "2", "--quiet", "--out", str(out)]) == 0
    view = load_checkpoint(str(out / "model.npz"))
    assert view.connectivity.shape == (len(view.traces[0].hidden), 12)
    assert view.annotations[0].marked_steps and view.source.weights is None
    assert [record["epoch"] for record in view.saturation_history] == [1, 2]
    result = view.source.what_if(Edit("forget_bias", 0.0))
    assert result.after.traces[0].gates["forget"].mean() < result.before.traces[0].gates["forget"].mean()


def test_the_saved_saturation_is_read_by_one_function_for_the_app_and_inspect_with_a_home_path(tmp_path,
                                                                                                monkeypatch):
    import json

    from rnnsim.inspection import saturation_history

    run = tmp_path / "runs" / "lstm-adding"
    run.mkdir(parents=True)
    records = [{"layer": "lstm", "epoch": 1}, {"layer": "lstm_1", "epoch": 1}, {"layer": "lstm", "epoch": 2}, "bad"]
    (run / "history.json").write_text(json.dumps({"saturation": records}), encoding="utf-8")
    monkeypatch.setenv("HOME", str(tmp_path))
    for given in ("~/runs/lstm-adding", "~/runs/lstm-adding/model.npz", str(run / "model.npz")):
        assert saturation_history(given) == records[:3]
        assert saturation_history(given, "lstm") == [records[0], records[2]]
    (run / "history.json").write_text(json.dumps({"saturation": {"not": "a list"}}), encoding="utf-8")
    assert saturation_history(run) == []
    (run / "history.json").write_text("{truncated", encoding="utf-8")
    assert saturation_history(run) == [] and saturation_history(tmp_path / "nowhere") == []
