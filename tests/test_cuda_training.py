"""Training on the device: `Sequential(device='cuda')` and `rnnsim train --device cuda`, under Numba's CUDA simulator.

As in tests/test_cuda.py, NUMBA_ENABLE_CUDASIM=1 must be set before Numba is first imported, so in an
ordinary pytest run this module defines one test that runs this same file in a fresh interpreter with
the simulator on (RNNSIM_CUDA_TRAINING_CHILD=1), where the device checks are defined. The checks that
need no simulator (one-line errors without a GPU) run in the parent. Nothing is skipped.

Sizes are tiny (B=2, T=4, U=3, a few steps): the simulator runs every GPU thread as a Python thread.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnsim.errors import InputError

REPO = Path(__file__).resolve().parents[1]
IN_CHILD = os.environ.get("RNNSIM_CUDA_TRAINING_CHILD") == "1"
TINY_RUN = ["train", "--seq-len", "4", "--samples", "8", "--units", "3", "--epochs", "1", "--batch-size", "4",
            "--quiet"]


def _no_gpu(monkeypatch, installed=True):
    """Make rnnsim.cuda.device see no simulator, and numba-cuda installed (no driver) or not installed."""
    from rnnsim.cuda import device

    monkeypatch.setattr(device, "simulator_enabled", lambda: False)
    monkeypatch.setattr(device, "numba_cuda_installed", lambda: installed)
    monkeypatch.setattr(device, "_driver_reason", lambda: "CUDA driver library cannot be found")


if not IN_CHILD:

    def test_device_training_under_simulator():
        """Runs the checks below in a fresh interpreter with NUMBA_ENABLE_CUDASIM=1 (see the module docstring)."""
        env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "RNNSIM_CUDA_TRAINING_CHILD": "1"}
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "-W", "ignore", __file__],
            env=env, cwd=REPO, capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
        assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]

    @pytest.mark.parametrize("installed", [False, True], ids=["no_extra", "no_driver"])
    def test_train_device_cuda_without_gpu_is_one_line_exit_2(monkeypatch, capsys, tmp_path, installed):
        from rnnsim.cli import main

        _no_gpu(monkeypatch, installed)
        status = main(TINY_RUN + ["--device", "cuda", "--out", str(tmp_path / "run")])
        captured = capsys.readouterr()
        assert status == 2
        expected = ("--device cuda needs the CUDA extra: pip install -e '.[cuda]' (numba-cuda)" if not installed
                    else "--device cuda: no NVIDIA GPU or driver found (CUDA driver library cannot be found)")
        assert captured.err == f"rnnsim: error: {expected}\n"
        assert not (tmp_path / "run").exists()  # nothing half-written

    def test_train_device_cuda_on_this_machine_without_simulator(tmp_path):
        """The real check, no monkeypatching: without a GPU, one line and exit 2 (with one, a normal run)."""
        env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0"}
        done = subprocess.run(
            [sys.executable, "-W", "ignore", "-m", "rnnsim.cli", *TINY_RUN, "--device", "cuda",
             "--out", str(tmp_path / "run")],
            env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
        )
        if done.returncode == 0:  # a machine with an NVIDIA GPU and numba-cuda: it trained
            assert (tmp_path / "run" / "model.npz").exists(), done.stdout
            return
        assert done.returncode == 2, done.stdout + done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("rnnsim: error: --device cuda"), lines[0]
        assert "pip install -e '.[cuda]'" in lines[0] or "no NVIDIA GPU or driver found" in lines[0], lines[0]
        assert not (tmp_path / "run").exists()

    def test_sequential_device_cuda_without_gpu_is_a_clear_error(monkeypatch):
        from rnnsim import layers
        from rnnsim.models import Sequential

        _no_gpu(monkeypatch, installed=False)
        with pytest.raises(InputError, match=r"^--device cuda needs the CUDA extra"):
            Sequential(device="cuda")
        with pytest.raises(InputError, match="unknown device 'tpu'"):
            Sequential(device="tpu")
        model = Sequential([layers.GRU(3, input_shape=(4, 2)), layers.Dense(1)], seed=0)
        with pytest.raises(InputError, match="needs the CUDA extra"):
            model.to_device("cuda")
        assert model.device == "cpu"
        config = model.get_config()
        assert config["device"] == "cpu"
        config["device"] = "cuda"  # as saved from a device model
        with pytest.raises(InputError, match=r"saved on device 'cuda' \(.*CUDA extra.*\); load it with device='cpu'"):
            Sequential.from_config(config)
        assert Sequential.from_config(config, device="cpu").device == "cpu"

else:
    from rnnsim import layers, optimizers
    from rnnsim.models import Sequential, load_model

    BATCH, TIMESTEPS, FEATURES, UNITS, SAMPLES = 2, 4, 2, 3, 6  # 3 steps per epoch

    def _stack_lstm_gru():
        return [layers.LSTM(UNITS, return_sequences=True, dropout=0.25, recurrent_dropout=0.25,
                            input_shape=(TIMESTEPS, FEATURES)),
                layers.GRU(UNITS), layers.Dense(1)], optimizers.Adam(0.01, global_clipnorm=0.05), "mse"

    def _bidirectional():
        return [layers.Bidirectional(layers.GRU(UNITS, reset_after=False, return_sequences=True),
                                     input_shape=(TIMESTEPS, FEATURES), merge_mode="sum"),
                layers.Dense(1)], optimizers.RMSprop(0.01, clipnorm=0.1), "mse"

    def _embedding_simple_rnn():
        return [layers.Embedding(7, FEATURES), layers.SimpleRNN(UNITS, go_backwards=True),
                layers.Dense(1, activation="sigmoid")], optimizers.SGD(0.1, momentum=0.9, nesterov=True), \
            "binary_crossentropy"

    CASES = {"lstm_gru_stack": _stack_lstm_gru, "bidirectional": _bidirectional,
             "embedding_simple_rnn": _embedding_simple_rnn}

    def _data(case, seed=0):
        rng = np.random.default_rng(seed)
        if case == "embedding_simple_rnn":
            x = rng.integers(0, 7, (SAMPLES, TIMESTEPS))
            return x, (rng.random((SAMPLES, 1)) > 0.5).astype(np.float64)
        targets = (SAMPLES, TIMESTEPS, 1) if case == "bidirectional" else (SAMPLES, 1)  # sequence output
        return rng.normal(size=(SAMPLES, TIMESTEPS, FEATURES)), rng.normal(size=targets)

    def _model(case, device, dtype="float64"):
        stack, optimizer, loss = CASES[case]()
        model = Sequential(stack, seed=5, dtype=dtype, device=device)
        model.compile(optimizer=optimizer, loss=loss)
        return model

    def _assert_same_weights(ours, theirs, **tol):
        assert len(ours) == len(theirs)
        for index, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert isinstance(a, np.ndarray)
            np.testing.assert_allclose(a, b, err_msg=f"weight {index}", **tol)

    def _slots(model):
        model.weights  # noqa: B018 - refreshes the host copies of device weights and slots
        return [{name: slot.copy() for name, slot in slots.items()} for slots in model.optimizer.slots]

    def test_runs_under_the_simulator():
        from rnnsim.cuda.device import require_cuda

        assert require_cuda() == "simulator"

    @pytest.mark.parametrize("case", list(CASES))
    def test_device_model_trains_like_the_cpu_model_float64(case):
        x, y = _data(case)
        cpu, device = _model(case, "cpu"), _model(case, "cuda")
        assert device.device == "cuda"
        recurrent = [layer for layer in device.layers if hasattr(layer, "device_weights")]
        assert recurrent and all(layer.device_weights is not None for layer in recurrent)
        assert all(hasattr(w, "copy_to_host") for layer in recurrent for w in layer.device_weights)
        cpu_history = cpu.fit(x, y, batch_size=BATCH, epochs=1, verbose=0).history
        device_history = device.fit(x, y, batch_size=BATCH, epochs=1, verbose=0).history
        np.testing.assert_allclose(device_history["loss"], cpu_history["loss"], rtol=1e-10)
        assert device.optimizer.iterations == cpu.optimizer.iterations == 3
        _assert_same_weights(device.get_weights(), cpu.get_weights(), rtol=1e-10, atol=1e-12)
        for ours, theirs in zip(_slots(device), _slots(cpu), strict=True):
            assert ours.keys() == theirs.keys()
            for name in ours:
                np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-9, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(device.predict(x[:BATCH]), cpu.predict(x[:BATCH]), rtol=1e-10)

    def test_device_model_float32_matches_cpu_within_float32_tolerance():
        x, y = _data("lstm_gru_stack")
        cpu, device = _model("lstm_gru_stack", "cpu", "float32"), _model("lstm_gru_stack", "cuda", "float32")
        cpu.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        device.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        assert all(w.dtype == np.float32 for w in device.get_weights())
        _assert_same_weights(device.get_weights(), cpu.get_weights(), rtol=1e-5, atol=2e-6)

    def test_set_weights_reaches_the_device_and_probe_traces_come_back():
        x, y = _data("bidirectional")
        x, y = x[:BATCH], y[:BATCH]
        cpu, device = _model("bidirectional", "cpu"), _model("bidirectional", "cuda", dtype="float64")
        rng = np.random.default_rng(3)
        cpu.set_weights([w + rng.normal(0, 0.3, w.shape) for w in cpu.get_weights()])
        device.set_weights(cpu.get_weights())
        ours, theirs = device.probe(x, y), cpu.probe(x, y)
        np.testing.assert_allclose(ours.predictions, theirs.predictions, rtol=1e-10)
        assert ours.layer_names == theirs.layer_names and len(ours.traces) == 2
        for a, b in zip(ours.traces, theirs.traces, strict=True):
            assert isinstance(a.hidden, np.ndarray) and isinstance(a.grad_hidden_norm, np.ndarray)
            np.testing.assert_allclose(a.hidden, b.hidden, rtol=1e-10)
            np.testing.assert_allclose(a.grad_hidden_norm, b.grad_hidden_norm, rtol=1e-9, atol=1e-14)
            for gate in b.gate_names:
                np.testing.assert_allclose(a.gates[gate], b.gates[gate], rtol=1e-10, err_msg=gate)
        _, cpu_grads = cpu.loss_and_gradients(x, y)
        _, device_grads = device.loss_and_gradients(x, y)
        _assert_same_weights(device_grads, cpu_grads, rtol=1e-9, atol=1e-13)

    def test_save_and_load_from_a_device_model_resumes_exactly(tmp_path):
        x, y = _data("lstm_gru_stack")
        cpu, device = _model("lstm_gru_stack", "cpu"), _model("lstm_gru_stack", "cuda")
        cpu.fit(x, y, batch_size=BATCH, epochs=1, steps_per_epoch=2, verbose=0)
        device.fit(x, y, batch_size=BATCH, epochs=1, steps_per_epoch=2, verbose=0)
        device.save(tmp_path / "device.npz")
        cpu.save(tmp_path / "cpu.npz")
        with np.load(tmp_path / "device.npz", allow_pickle=False) as saved, \
                np.load(tmp_path / "cpu.npz", allow_pickle=False) as expected:
            assert sorted(saved.files) == sorted(expected.files)  # host weights and host optimizer state
            for key in expected.files:
                if key != "__config__":
                    np.testing.assert_allclose(saved[key], expected[key], rtol=1e-9, atol=1e-12, err_msg=key)

        restored = load_model(tmp_path / "device.npz")  # the saved device setting: back on the device
        assert restored.device == "cuda" and restored.layers[0].device_weights is not None
        on_cpu = load_model(tmp_path / "device.npz", device="cpu")
        assert on_cpu.device == "cpu" and on_cpu.layers[0].device_weights is None
        _assert_same_weights(restored.get_weights(), device.get_weights(), rtol=0, atol=0)
        for model in (device, restored, on_cpu, cpu):
            model.fit(x, y, batch_size=BATCH, epochs=2, initial_epoch=1, steps_per_epoch=1, verbose=0)
        _assert_same_weights(restored.get_weights(), device.get_weights(), rtol=0, atol=0)  # exact resume
        _assert_same_weights(on_cpu.get_weights(), cpu.get_weights(), rtol=1e-10, atol=1e-12)
        _assert_same_weights(device.get_weights(), cpu.get_weights(), rtol=1e-10, atol=1e-12)

    def test_to_device_moves_a_trained_cpu_model_and_back():
        x, y = _data("embedding_simple_rnn")
        reference, moved = _model("embedding_simple_rnn", "cpu"), _model("embedding_simple_rnn", "cpu")
        for model in (reference, moved):
            model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        assert moved.to_device("cuda") is moved and moved.device == "cuda"
        for model in (reference, moved):
            model.fit(x, y, batch_size=BATCH, epochs=2, initial_epoch=1, verbose=0)
        moved.to_device("cpu")  # weights and slots come back; training goes on with the CPU kernels
        assert moved.layers[1].device_weights is None
        for model in (reference, moved):
            model.fit(x, y, batch_size=BATCH, epochs=3, initial_epoch=2, verbose=0)
        _assert_same_weights(moved.get_weights(), reference.get_weights(), rtol=1e-10, atol=1e-12)

    def test_rnnsim_train_device_cuda_end_to_end(tmp_path, capsys):
        from rnnsim.cli import main

        assert main(TINY_RUN + ["--device", "cuda", "--out", str(tmp_path / "gpu")]) == 0
        assert main(TINY_RUN + ["--device", "cpu", "--out", str(tmp_path / "cpu")]) == 0
        capsys.readouterr()
        import json

        assert json.loads((tmp_path / "gpu" / "config.json").read_text())["device"] == "cuda"
        on_device, on_cpu = load_model(tmp_path / "gpu" / "model.npz"), load_model(tmp_path / "cpu" / "model.npz")
        assert on_device.device == "cuda" and on_cpu.device == "cpu"
        _assert_same_weights(on_device.get_weights(), on_cpu.get_weights(), rtol=1e-4, atol=1e-5)
        history = json.loads((tmp_path / "gpu" / "history.json").read_text())
        assert history["epochs_done"] == 1 and np.isfinite(history["history"]["loss"][0])
        # --resume continues on the device the run was trained on
        assert main(["train", "--out", str(tmp_path / "gpu"), "--resume", "--epochs", "2", "--quiet"]) == 0
        assert json.loads((tmp_path / "gpu" / "history.json").read_text())["epochs_done"] == 2
