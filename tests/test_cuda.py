"""The CUDA path under Numba's CUDA simulator: device kernels vs the CPU kernels and the NumPy reference.

NUMBA_ENABLE_CUDASIM=1 must be set before Numba is first imported, and other test modules import
Numba first; so in an ordinary pytest run this module defines one test that runs this same file in
a fresh interpreter with the simulator on (two processes, splitting the checks between them), and
fails with the child's output if any check fails. In that child (RNNSIM_CUDA_CHILD=1) the real checks
are defined. Nothing is skipped: a simulator that cannot import is a failure.

Sizes are tiny (B=2, T=4, D=2, U=3): the simulator runs every GPU thread as a Python thread.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnsim.errors import InputError

REPO = Path(__file__).resolve().parents[1]
IN_CHILD = os.environ.get("RNNSIM_CUDA_CHILD") == "1"


# ---------------------------------------------------------------------------------------
# Detection and messages: no simulator needed, these run in the parent process.


def test_require_cuda_without_numba_cuda_names_the_extra(monkeypatch):
    from rnnsim.cuda import device

    monkeypatch.setattr(device, "simulator_enabled", lambda: False)
    monkeypatch.setattr(device, "numba_cuda_installed", lambda: False)
    assert device.cuda_available() is False
    with pytest.raises(InputError) as error:
        device.require_cuda()
    assert str(error.value) == "--device cuda needs the CUDA extra: pip install -e '.[cuda]' (numba-cuda)"


def test_require_cuda_without_driver_passes_numba_reason_on_one_line(monkeypatch):
    from rnnsim.cuda import device

    monkeypatch.setattr(device, "simulator_enabled", lambda: False)
    monkeypatch.setattr(device, "numba_cuda_installed", lambda: True)
    monkeypatch.setattr(device, "_driver_reason", lambda: device._one_line("Error at driver init: \n\nCUDA driver "
                                                                           "library cannot be found.\n:"))
    assert device.cuda_available() is False
    with pytest.raises(InputError) as error:
        device.require_cuda()
    message = str(error.value)
    assert message == "--device cuda: no NVIDIA GPU or driver found (Error at driver init: CUDA driver library " \
                      "cannot be found.)"
    assert "\n" not in message


def test_simulator_counts_as_available(monkeypatch):
    from rnnsim.cuda import device

    monkeypatch.setattr(device, "simulator_enabled", lambda: True)
    assert device.require_cuda() == "simulator"
    assert device.cuda_available() is True


def _test_package_import_needs_no_cuda():
    code = "import sys; import rnnsim.cuda; assert 'numba.cuda' not in sys.modules, 'imported numba.cuda'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def _script(code, simulator, block_numba_cuda):
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1" if simulator else "0"}
    prefix = "import sys; sys.modules['numba_cuda'] = None\n" if block_numba_cuda else ""
    return subprocess.run([sys.executable, "-W", "ignore", "-c", prefix + code], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def _test_without_numba_cuda():
    """Plain numba still ships the simulator (`from numba import cuda` works in both installs)."""
    run_cell = (
        "import numpy as np\n"
        "from rnnsim.cells import SimpleRNNCell\n"
        "from rnnsim.cuda import make_device_cell\n"
        "cell = SimpleRNNCell(2); w = cell.init_weights(2, np.random.default_rng(0), np.float64)\n"
        "x = np.ones((1, 2, 2))\n"
        "np.testing.assert_allclose(make_device_cell(cell).forward(x, w).outputs, cell.forward(x, w).outputs,"
        " rtol=1e-12)\n"
        "from numba import cuda; print(cuda.implementation)\n"
    )
    done = _script(run_cell, simulator=True, block_numba_cuda=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Built-in"
    check = (
        "from rnnsim.cuda import require_cuda\n"
        "try:\n    require_cuda()\nexcept ValueError as error:\n    print(error)\n"
    )
    done = _script(check, simulator=False, block_numba_cuda=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "--device cuda needs the CUDA extra: pip install -e '.[cuda]' (numba-cuda)"


if not IN_CHILD:

    def test_cuda_kernels_under_simulator():
        """Runs the checks below in a fresh interpreter with NUMBA_ENABLE_CUDASIM=1 (see the module docstring)."""
        env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "RNNSIM_CUDA_CHILD": "1"}
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", __file__],
            env=env, cwd=REPO, capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
        assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]

    test_package_import_needs_no_cuda = _test_package_import_needs_no_cuda
    test_without_numba_cuda_simulator_works_and_real_device_names_the_extra = _test_without_numba_cuda

else:
    from rnnsim import optimizers, reference
    from rnnsim.cells import GRUCell, LSTMCell, SimpleRNNCell

    BATCH, TIMESTEPS, FEATURES, UNITS = 2, 4, 2, 3

    VARIANTS = {
        "simple_rnn": lambda: SimpleRNNCell(UNITS),
        "lstm": lambda: LSTMCell(UNITS),
        "gru": lambda: GRUCell(UNITS),
        "gru_reset_before": lambda: GRUCell(UNITS, reset_after=False),
    }
    OPTIONS = {
        "plain": {},
        "everything": {"mask": True, "go_backwards": True, "dropout": True, "initial_state": True},
        "last_only_masked_backwards": {"mask": True, "go_backwards": True, "last_only": True},
    }

    def _case(cell, options, dtype=np.float64, seed=0):
        rng = np.random.default_rng(seed)
        weights = cell.init_weights(FEATURES, rng, np.float64)
        if "bias" in weights:
            weights["bias"] = rng.normal(0, 0.5, weights["bias"].shape)
        weights["recurrent_kernel"] = weights["recurrent_kernel"] * 1.5
        weights = {key: value.astype(dtype) for key, value in weights.items()}
        x = rng.normal(0, 1, (BATCH, TIMESTEPS, FEATURES)).astype(dtype)
        kwargs = {"go_backwards": bool(options.get("go_backwards"))}
        if options.get("mask"):
            kwargs["mask"] = np.array([[False, True, True, True], [True, True, False, True]])
        if options.get("dropout"):
            kwargs["input_dropout_mask"] = ((rng.random((BATCH, FEATURES)) > 0.3) / 0.7).astype(dtype)
            kwargs["recurrent_dropout_mask"] = ((rng.random((BATCH, UNITS)) > 0.3) / 0.7).astype(dtype)
        if options.get("initial_state"):
            kwargs["initial_state"] = tuple(rng.normal(0, 0.5, (BATCH, UNITS)).astype(dtype) for _ in cell.state_names)
        grad_outputs = None if options.get("last_only") else rng.normal(0, 1, (BATCH, TIMESTEPS, UNITS)).astype(dtype)
        grad_final = tuple(rng.normal(0, 1, (BATCH, UNITS)).astype(dtype) for _ in cell.state_names)
        return weights, x, kwargs, grad_outputs, grad_final

    def _reference(cell, weights, x, kwargs, grad_outputs, grad_final):
        """rnnsim.reference's forward and backward for the case (float64, by input position)."""
        go_backwards = kwargs["go_backwards"]
        f64 = lambda a: None if a is None else np.asarray(a, np.float64)  # noqa: E731
        common = dict(mask=kwargs.get("mask"), go_backwards=go_backwards,
                      input_drop=f64(kwargs.get("input_dropout_mask")),
                      recurrent_drop=f64(kwargs.get("recurrent_dropout_mask")))
        states = kwargs.get("initial_state")
        grad_hidden = np.zeros((BATCH, TIMESTEPS, UNITS)) if grad_outputs is None else f64(grad_outputs)
        if grad_outputs is not None and go_backwards:
            grad_hidden = grad_hidden[:, ::-1]
        args = (f64(x), f64(weights["kernel"]), f64(weights["recurrent_kernel"]), f64(weights.get("bias")))
        finals = tuple(f64(g) for g in grad_final)
        if cell.name == "simple_rnn":
            common["h0"] = None if states is None else f64(states[0])
            back = reference.simple_rnn_backward(*args, grad_hidden, grad_h_final=finals[0], **common)
            back["states"] = (back["h0"],)
        elif cell.name == "lstm":
            if states is not None:
                common["h0"], common["c0"] = f64(states[0]), f64(states[1])
            back = reference.lstm_backward(*args, grad_hidden, grad_h_final=finals[0], grad_c_final=finals[1],
                                           **common)
            back["states"] = (back["h0"], back["c0"])
        else:
            common["h0"] = None if states is None else f64(states[0])
            back = reference.gru_backward(*args, grad_hidden, grad_h_final=finals[0], reset_after=cell.reset_after,
                                          **common)
            back["states"] = (back["h0"],)
        return back

    def _compare(cpu, device, weights, kwargs, tol, expected_back=None, record=True):
        """Every forward buffer and every gradient of `device` against the CPU cell's."""
        r_cpu = cpu.forward(_x, weights, record_trace=record, **kwargs)
        r_dev = device.forward(_x, weights, record_trace=record, **kwargs)
        assert isinstance(r_dev.outputs, np.ndarray)
        np.testing.assert_allclose(r_dev.outputs, r_cpu.outputs, **tol)
        for ours, theirs in zip(r_dev.final_states, r_cpu.final_states, strict=True):
            np.testing.assert_allclose(ours, theirs, **tol)
        if record:
            for name in r_cpu.trace.gate_names:
                np.testing.assert_allclose(r_dev.trace.gates[name], r_cpu.trace.gates[name], err_msg=name, **tol)
                np.testing.assert_allclose(r_dev.trace.preactivations[name], r_cpu.trace.preactivations[name],
                                           err_msg=name, **tol)
            np.testing.assert_allclose(r_dev.trace.hidden, r_cpu.trace.hidden, **tol)
            if cpu.name == "lstm":
                np.testing.assert_allclose(r_dev.trace.cell_state, r_cpu.trace.cell_state, **tol)
            if cpu.name == "gru":
                np.testing.assert_allclose(r_dev.cache["recurrent_candidate"].copy_to_host(),  # device: (B, T, U)
                                           r_cpu.cache["recurrent_candidate"].transpose(1, 0, 2), **tol)  # CPU: T, B
        g_cpu = cpu.backward(r_cpu, _grad_outputs, _grad_final)
        g_dev = device.backward(r_dev, _grad_outputs, _grad_final)
        for key in weights:
            np.testing.assert_allclose(g_dev.weights[key], g_cpu.weights[key], err_msg=key, **tol)
        np.testing.assert_allclose(g_dev.inputs, g_cpu.inputs, **tol)
        for ours, theirs in zip(g_dev.initial_state, g_cpu.initial_state, strict=True):
            np.testing.assert_allclose(ours, theirs, **tol)
        np.testing.assert_allclose(g_dev.grad_hidden_norm, g_cpu.grad_hidden_norm, **tol)
        if cpu.name == "lstm":
            np.testing.assert_allclose(g_dev.grad_cell_norm, g_cpu.grad_cell_norm, **tol)
        if record:
            np.testing.assert_allclose(r_dev.trace.grad_hidden_norm, g_cpu.grad_hidden_norm, **tol)
            # the views' other two norms, as the CPU cells record them
            np.testing.assert_allclose(r_dev.trace.grad_preact_norm, r_cpu.trace.grad_preact_norm, **tol)
            np.testing.assert_allclose(r_dev.trace.grad_input_norm, r_cpu.trace.grad_input_norm, **tol)
        if expected_back is not None:  # and against the NumPy reference
            for key in weights:
                np.testing.assert_allclose(g_dev.weights[key], expected_back[key], err_msg=key, **tol)
            np.testing.assert_allclose(g_dev.inputs, expected_back["inputs"], **tol)
            for ours, theirs in zip(g_dev.initial_state, expected_back["states"], strict=True):
                np.testing.assert_allclose(ours, theirs, **tol)
            np.testing.assert_allclose(g_dev.grad_hidden_norm, expected_back["grad_hidden_norm"], **tol)
            if cpu.name == "lstm":
                np.testing.assert_allclose(g_dev.grad_cell_norm, expected_back["grad_cell_norm"], **tol)

    def _set_case(x, grad_outputs, grad_final):
        global _x, _grad_outputs, _grad_final
        _x, _grad_outputs, _grad_final = x, grad_outputs, grad_final

    def test_runs_under_the_simulator():
        from rnnsim.cuda.device import require_cuda

        assert require_cuda() == "simulator"

    @pytest.mark.parametrize("option", list(OPTIONS))
    @pytest.mark.parametrize("variant", list(VARIANTS))
    def test_forward_backward_float64_match_cpu_and_reference(variant, option):
        from rnnsim.cuda import make_device_cell

        cpu = VARIANTS[variant]()
        weights, x, kwargs, grad_outputs, grad_final = _case(cpu, OPTIONS[option])
        _set_case(x, grad_outputs, grad_final)
        expected = _reference(cpu, weights, x, kwargs, grad_outputs, grad_final)
        _compare(cpu, make_device_cell(cpu), weights, kwargs, dict(rtol=1e-10, atol=1e-11), expected)

    @pytest.mark.parametrize("variant", ["lstm", "gru_reset_before"])
    def test_fewer_threads_than_columns_stride_correctly(variant, monkeypatch):
        """On a GPU a block has fewer threads than gate columns (4U > 256): each thread strides over several."""
        from rnnsim.cuda import kernels, make_device_cell

        monkeypatch.setattr(kernels, "MAX_THREADS", 2)
        cpu = VARIANTS[variant]()
        weights, x, kwargs, grad_outputs, grad_final = _case(cpu, OPTIONS["everything"], seed=4)
        _set_case(x, grad_outputs, grad_final)
        _compare(cpu, make_device_cell(cpu), weights, kwargs, dict(rtol=1e-10, atol=1e-11))

    @pytest.mark.parametrize("variant", list(VARIANTS))
    def test_forward_backward_float32_match_cpu(variant):
        """Device float32 uses exact tanh/exp; the CPU float32 path a rational tanh: float32 agreement."""
        from rnnsim.cuda import make_device_cell

        cpu = VARIANTS[variant]()
        weights, x, kwargs, grad_outputs, grad_final = _case(cpu, OPTIONS["everything"], np.float32, seed=1)
        _set_case(x, grad_outputs, grad_final)
        expected = _reference(cpu, weights, x, kwargs, grad_outputs, grad_final)
        device = make_device_cell(cpu)
        result = device.forward(x, weights, **kwargs)
        assert result.outputs.dtype == np.float32
        _compare(cpu, device, weights, kwargs, dict(rtol=1e-5, atol=2e-6), record=False)
        grads = device.backward(device.forward(x, weights, **kwargs), grad_outputs, grad_final)
        for key in weights:
            np.testing.assert_allclose(grads.weights[key], expected[key], rtol=1e-4, atol=2e-5, err_msg=key)

    @pytest.mark.parametrize("cell_factory", [
        lambda: SimpleRNNCell(UNITS, activation="relu"),
        lambda: LSTMCell(UNITS, activation="linear", recurrent_activation="hard_sigmoid"),
        lambda: GRUCell(UNITS, activation="relu", recurrent_activation="hard_sigmoid", use_bias=False),
    ], ids=["rnn_relu", "lstm_linear_hard_sigmoid", "gru_relu_no_bias"])
    def test_other_activations_and_no_bias_match_cpu(cell_factory):
        from rnnsim.cuda import make_device_cell

        cpu = cell_factory()
        weights, x, kwargs, grad_outputs, grad_final = _case(cpu, {"mask": True})
        _set_case(x, grad_outputs, grad_final)
        device = make_device_cell(cpu)
        assert (device.activation, device.recurrent_activation, device.use_bias) == \
            (cpu.activation, cpu.recurrent_activation, cpu.use_bias)
        _compare(cpu, device, weights, kwargs, dict(rtol=1e-10, atol=1e-11), record=False)

    def test_device_arrays_in_give_device_arrays_out():
        from rnnsim.cuda import make_device_cell, to_device, to_host, weights_to_device

        cpu = LSTMCell(UNITS)
        weights, x, kwargs, grad_outputs, grad_final = _case(cpu, OPTIONS["everything"])
        device = make_device_cell(cpu)
        device_kwargs = {key: (tuple(to_device(v) for v in value) if isinstance(value, tuple)
                               else to_device(value) if isinstance(value, np.ndarray) else value)
                         for key, value in kwargs.items()}
        result = device.forward(to_device(x), weights_to_device(weights), record_trace=True, **device_kwargs)
        assert hasattr(result.outputs, "copy_to_host") and all(hasattr(s, "copy_to_host") for s in result.final_states)
        assert isinstance(result.trace.hidden, np.ndarray)  # traces always come back to the host
        np.testing.assert_array_equal(result.trace.mask, kwargs["mask"])
        grads = device.backward(result, to_device(grad_outputs), tuple(to_device(g) for g in grad_final))
        assert all(hasattr(g, "copy_to_host") for g in grads.weights.values())
        assert hasattr(grads.inputs, "copy_to_host")
        expected = cpu.backward(cpu.forward(x, weights, **kwargs), grad_outputs, grad_final)
        np.testing.assert_allclose(to_host(result.outputs), cpu.forward(x, weights, **kwargs).outputs, rtol=1e-10)
        for key in weights:
            np.testing.assert_allclose(to_host(grads.weights[key]), expected.weights[key], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(result.trace.grad_cell_norm, expected.grad_cell_norm, rtol=1e-10)

    def test_bad_device_input_is_a_clear_error():
        from rnnsim.cuda import make_device_cell, to_device, weights_to_device

        cpu = GRUCell(UNITS)
        weights = weights_to_device(cpu.init_weights(FEATURES, np.random.default_rng(0), np.float64))
        device = make_device_cell(cpu)
        with pytest.raises(InputError, match="expects input of shape"):
            device.forward(to_device(np.zeros((2, 3))), weights)
        with pytest.raises(InputError, match="device input is float32 but the weights are float64"):
            device.forward(to_device(np.zeros((1, 2, FEATURES), np.float32)), weights)
        with pytest.raises(InputError, match=r"mask has shape \(1, 3\), expected \(1, 2\)"):
            device.forward(to_device(np.zeros((1, 2, FEATURES))), weights, mask=np.ones((1, 3), bool))
        with pytest.raises(InputError, match="NaN or infinite"):  # host input: the CPU checks
            device.forward(np.full((1, 2, FEATURES), np.nan), weights)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("tiled", [True, False])
    def test_matmul_kernels_match_numpy(tiled, dtype):
        from numba import cuda

        from rnnsim.cuda import kernels

        rng = np.random.default_rng(0)
        a = rng.normal(size=(5, 7)).astype(dtype)
        b = rng.normal(size=(7, 6)).astype(dtype)
        tol = dict(rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6 if dtype == np.float32 else 1e-12)
        d_a, d_b = cuda.to_device(a), cuda.to_device(b)
        np.testing.assert_allclose(kernels.matmul(d_a, d_b, tiled=tiled).copy_to_host(), a @ b, **tol)
        at, bt = cuda.to_device(np.ascontiguousarray(a.T)), cuda.to_device(np.ascontiguousarray(b.T))
        out = cuda.to_device(np.ones((5, 6), dtype))
        kernels.matmul(at, bt, out=out, transpose_a=True, transpose_b=True, accumulate=True, tiled=tiled)
        np.testing.assert_allclose(out.copy_to_host(), 1.0 + a @ b, **tol)

    OPTIMIZER_CASES = {
        "sgd": lambda: optimizers.SGD(0.1),
        "sgd_nesterov": lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
        "rmsprop": lambda: optimizers.RMSprop(),
        "rmsprop_centered_momentum": lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
        "adam": lambda: optimizers.Adam(0.01),
        "adam_amsgrad_clipnorm": lambda: optimizers.Adam(0.01, amsgrad=True, clipnorm=0.5),
        "sgd_global_clipnorm": lambda: optimizers.SGD(0.1, momentum=0.5, global_clipnorm=0.3),
        "rmsprop_clipvalue": lambda: optimizers.RMSprop(clipvalue=0.2),
    }

    @pytest.mark.parametrize("name", list(OPTIMIZER_CASES))
    def test_device_updates_match_cpu_optimizers(name):
        from rnnsim.cuda import DeviceOptimizer, to_device

        rng = np.random.default_rng(2)
        shapes = [(2, 3), (3,)]
        variables = [rng.normal(size=shape) for shape in shapes]
        cpu_opt, device_opt = OPTIMIZER_CASES[name](), DeviceOptimizer(OPTIMIZER_CASES[name]())
        device_variables = [to_device(v.copy()) for v in variables]
        for _ in range(3):
            gradients = [rng.normal(size=shape) for shape in shapes]
            device_opt.apply_gradients([to_device(g) for g in gradients], device_variables)
            cpu_opt.apply_gradients([g.copy() for g in gradients], variables)
        for ours, theirs in zip(device_variables, variables, strict=True):
            np.testing.assert_allclose(ours.copy_to_host(), theirs, rtol=1e-12, atol=1e-14)
        device_opt.state_to_host()
        assert device_opt.optimizer.iterations == 3
        for ours, theirs in zip(device_opt.optimizer.slots, cpu_opt.slots, strict=True):
            assert ours.keys() == theirs.keys()
            for key in ours:
                np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-12, atol=1e-14)

    def test_rmsprop_update_kernel_follows_keras_formula():
        """One step by hand: v = (1 - rho) g^2, w -= lr g / sqrt(v + eps) (epsilon inside the root)."""
        from rnnsim.cuda import apply_update, to_device
        from rnnsim.cuda.optim import make_slots

        opt = optimizers.RMSprop(learning_rate=0.1, rho=0.9, epsilon=1e-7)
        w, g = np.array([1.0, -2.0, 0.5], np.float32), np.array([0.3, -0.1, 0.0], np.float32)
        variable = to_device(w.copy())
        slots = make_slots(opt, variable)
        apply_update(opt, variable, to_device(g), slots, iteration=0)
        v = 0.1 * g.astype(np.float64) ** 2
        np.testing.assert_allclose(variable.copy_to_host(), w - 0.1 * g / np.sqrt(v + 1e-7), rtol=1e-6)
        np.testing.assert_allclose(slots["velocity"].copy_to_host(), v, rtol=1e-6)

    def test_scale_and_clip_scales_then_clips_in_place():
        from rnnsim.cuda import kernels, to_device
        from rnnsim.cuda.optim import scale_and_clip

        values = np.array([[1.0, -4.0, 0.5], [2.0, -0.25, 3.0]])
        device_values = to_device(values.copy())
        scale_and_clip(device_values, 2.0)
        np.testing.assert_array_equal(device_values.copy_to_host(), values * 2.0)
        scale_and_clip(device_values, 0.5, limit=1.5)
        np.testing.assert_array_equal(device_values.copy_to_host(), np.clip(values, -1.5, 1.5))
        blocks, threads = kernels.launch(10_000)
        assert blocks * threads >= 10_000 or blocks == 4096  # grid-stride kernels: every element is reached

    @pytest.mark.parametrize("setting", [{"clipvalue": 0.3}, {"clipnorm": 1.0}, {"global_clipnorm": 1.0}])
    def test_clip_gradients_on_the_device_clip_as_keras(setting):
        from rnnsim.cuda import to_device
        from rnnsim.cuda.optim import clip_gradients

        gradients = [np.array([0.6, -0.8, 0.1]), np.array([[2.0, 0.0]])]
        device_gradients = [to_device(g.copy()) for g in gradients] + [None]
        clip_gradients(optimizers.SGD(0.1, **setting), device_gradients)
        if "clipvalue" in setting:
            expected = [np.clip(g, -0.3, 0.3) for g in gradients]
        elif "clipnorm" in setting:  # each gradient scaled to norm 1 when its norm is larger
            expected = [g / max(1.0, np.linalg.norm(g)) for g in gradients]
        else:  # all scaled by one factor, to a joint norm of 1
            total = math.sqrt(sum(float(np.sum(g**2)) for g in gradients))
            expected = [g / total for g in gradients]
        assert device_gradients[-1] is None
        for ours, theirs in zip(device_gradients[:-1], expected, strict=True):
            np.testing.assert_allclose(ours.copy_to_host(), theirs, rtol=1e-12)
