"""rnnsim on a GPU: parity with the CPU kernels on the real device, then timings.

A prepared script for a machine with an NVIDIA GPU and `pip install -e '.[cuda]'` (numba-cuda).
First it checks, on the device, that every cell (SimpleRNN, LSTM, GRU reset_after True/False)
agrees with the CPU kernels, forward and backward, in float64 (~1e-10) and float32 (~1e-5),
with all options on and with more gate columns than threads per block. Then it times one
training step (forward, backward, RMSprop update; float32; the loss on the final state, as
return_sequences=False) for:

    (a) GRU(32), batch 128, 240 steps, 14 features                (the Jena climate tutorial)
    (b) Embedding(10000, 32) + SimpleRNN(32), and + LSTM(32), batch 128, 500 steps  (IMDB)
    (c) LSTM(256) and LSTM(512) on 128 inputs, 100 steps, batch 64;  LSTM(1024), batch 256, 500 steps

each for rnnsim on the GPU (weights, optimizer state and data resident), rnnsim on the CPU, and
PyTorch (cuDNN) on the same GPU when torch is importable. Prints a markdown table and writes it,
with the raw numbers as JSON, to $OUT when that is set.

    python benchmarks/bench_gpu.py            # parity + all cases
    python benchmarks/bench_gpu.py --quick    # parity + (a) only
    python benchmarks/bench_gpu.py --no-cpu   # skip the CPU column (the big LSTMs take minutes there)

The CPU column of LSTM(1024) is skipped unless --cpu-all (one step is about a minute on 16 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from numba import cuda

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rnnsim import optimizers  # noqa: E402
from rnnsim.cells import GRUCell, LSTMCell, SimpleRNNCell  # noqa: E402
from rnnsim.cuda import require_cuda  # noqa: E402

CASES = [
    # name, cell factory, batch, timesteps, features, vocabulary (None: dense input)
    ("(a) GRU(32), 14 features", lambda: GRUCell(32), 128, 240, 14, None),
    ("(b) Embedding(10000,32)+SimpleRNN(32)", lambda: SimpleRNNCell(32), 128, 500, 32, 10000),
    ("(b) Embedding(10000,32)+LSTM(32)", lambda: LSTMCell(32), 128, 500, 32, 10000),
    ("(c) LSTM(256), 128 inputs", lambda: LSTMCell(256), 64, 100, 128, None),
    ("(c) LSTM(512), 128 inputs", lambda: LSTMCell(512), 64, 100, 128, None),
    ("(c) LSTM(1024), 128 inputs", lambda: LSTMCell(1024), 256, 500, 128, None),
]


# ---------------------------------------------------------------------------------------
# Parity on the real device


def parity_checks() -> list[str]:
    from rnnsim.cuda import kernels, make_device_cell

    lines = []
    rng = np.random.default_rng(0)
    variants = [SimpleRNNCell(6), LSTMCell(6), GRUCell(6), GRUCell(6, reset_after=False),
                LSTMCell(300), GRUCell(300, reset_after=False)]  # 4U = 1200 columns > 256 threads
    for cell in variants:
        for dtype, tol in ((np.float64, dict(rtol=1e-10, atol=1e-11)), (np.float32, dict(rtol=1e-4, atol=1e-5))):
            batch, timesteps, features, units = 3, 7, 5, cell.units
            weights = cell.init_weights(features, rng, dtype)
            if "bias" in weights:
                weights["bias"] = rng.normal(0, 0.5, weights["bias"].shape).astype(dtype)
            x = rng.normal(size=(batch, timesteps, features)).astype(dtype)
            mask = np.ones((batch, timesteps), bool)
            mask[0, :2] = False
            mask[1, 4] = False
            kwargs = dict(mask=mask, go_backwards=True,
                          input_dropout_mask=((rng.random((batch, features)) > 0.3) / 0.7).astype(dtype),
                          recurrent_dropout_mask=((rng.random((batch, units)) > 0.3) / 0.7).astype(dtype),
                          initial_state=tuple(rng.normal(0, 0.5, (batch, units)).astype(dtype)
                                              for _ in cell.state_names))
            grad_outputs = rng.normal(size=(batch, timesteps, units)).astype(dtype)
            grad_final = tuple(rng.normal(size=(batch, units)).astype(dtype) for _ in cell.state_names)
            device = make_device_cell(cell)
            r_cpu = cell.forward(x, weights, record_trace=True, **kwargs)
            r_dev = device.forward(x, weights, record_trace=True, **kwargs)
            g_cpu = cell.backward(r_cpu, grad_outputs, grad_final)
            g_dev = device.backward(r_dev, grad_outputs, grad_final)
            pairs = [("outputs", r_dev.outputs, r_cpu.outputs), ("inputs grad", g_dev.inputs, g_cpu.inputs),
                     ("grad_hidden_norm", g_dev.grad_hidden_norm, g_cpu.grad_hidden_norm)]
            pairs += [(f"gate {k}", r_dev.trace.gates[k], r_cpu.trace.gates[k]) for k in r_cpu.trace.gates]
            pairs += [(f"d{k}", g_dev.weights[k], g_cpu.weights[k]) for k in weights]
            pairs += [("initial state grad", a, b) for a, b in zip(g_dev.initial_state, g_cpu.initial_state)]
            if cell.name == "lstm":
                pairs.append(("grad_cell_norm", g_dev.grad_cell_norm, g_cpu.grad_cell_norm))
            worst = 0.0
            for what, ours, theirs in pairs:
                np.testing.assert_allclose(ours, theirs, err_msg=f"{cell.name} {what} {np.dtype(dtype)}", **tol)
                scale = np.maximum(np.abs(theirs), 1e-3)
                worst = max(worst, float(np.max(np.abs(ours - theirs) / scale)))
            label = f"{cell.name}{'' if cell.name != 'gru' else ' reset_after=' + str(cell.reset_after)}" \
                    f" U={units} {np.dtype(dtype)}"
            lines.append(f"parity ok: {label}: worst relative difference {worst:.2e}")
    lines.append(f"(time-loop kernels use {kernels.MAX_THREADS} threads per block at most)")
    return lines


# ---------------------------------------------------------------------------------------
# Timings


def _median_seconds(step, repeats):
    step()  # warm-up: compiles the kernels (Numba) or picks the algorithms (cuDNN)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@cuda.jit
def gather_rows(table, ids, out):  # out (B, T, D) = table[ids]: the Embedding lookup on the device
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    batch, timesteps, width = out.shape
    for flat in range(start, batch * timesteps * width, stride):
        b = flat // (timesteps * width)
        t = (flat // width) % timesteps
        j = flat % width
        out[b, t, j] = table[ids[b, t], j]


def time_rnnsim_gpu(make_cell, batch, timesteps, features, vocabulary, repeats):
    from rnnsim.cuda import make_device_cell, weights_to_device
    from rnnsim.cuda.optim import DeviceOptimizer

    rng = np.random.default_rng(0)
    cell = make_device_cell(make_cell())
    weights = weights_to_device(cell.init_weights(features, rng, np.float32))
    names = list(weights)
    optimizer = DeviceOptimizer(optimizers.RMSprop())
    grad_final = tuple(cuda.to_device(np.full((batch, cell.units), 1.0 / batch, np.float32))
                       for _ in cell.state_names)
    if vocabulary:
        table = cuda.to_device(rng.uniform(-0.05, 0.05, (vocabulary, features)).astype(np.float32))
        ids = cuda.to_device(rng.integers(0, vocabulary, (batch, timesteps)).astype(np.int64))
        x = cuda.device_array((batch, timesteps, features), np.float32)
    else:
        x = cuda.to_device(rng.normal(size=(batch, timesteps, features)).astype(np.float32))

    def step():
        if vocabulary:
            gather_rows[256, 128](table, ids, x)  # the Embedding lookup (its sparse update is not timed)
        result = cell.forward(x, weights)
        grads = cell.backward(result, grad_final_states=grad_final)
        optimizer.apply_gradients([grads.weights[k] for k in names], [weights[k] for k in names])
        cuda.synchronize()

    return _median_seconds(step, repeats)


def time_rnnsim_cpu(make_cell, batch, timesteps, features, vocabulary, repeats):
    rng = np.random.default_rng(0)
    cell = make_cell()
    weights = cell.init_weights(features, rng, np.float32)
    names = list(weights)
    optimizer = optimizers.RMSprop()
    grad_final = tuple(np.full((batch, cell.units), 1.0 / batch, np.float32) for _ in cell.state_names)
    if vocabulary:
        table = rng.uniform(-0.05, 0.05, (vocabulary, features)).astype(np.float32)
        ids = rng.integers(0, vocabulary, (batch, timesteps))
    else:
        x_fixed = rng.normal(size=(batch, timesteps, features)).astype(np.float32)

    def step():
        x = table[ids] if vocabulary else x_fixed
        result = cell.forward(x, weights)
        grads = cell.backward(result, grad_final_states=grad_final)
        optimizer.apply_gradients([grads.weights[k] for k in names], [weights[k] for k in names])

    return _median_seconds(step, repeats)


def time_torch_gpu(make_cell, batch, timesteps, features, vocabulary, repeats):
    import torch

    cell = make_cell()
    kind = {"simple_rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell.name]
    device = torch.device("cuda")
    layer = kind(features, cell.units, batch_first=True).to(device)
    params = list(layer.parameters())
    embedding = None
    if vocabulary:
        embedding = torch.nn.Embedding(vocabulary, features).to(device)
        params += list(embedding.parameters())
        ids = torch.randint(0, vocabulary, (batch, timesteps), device=device)
    else:
        x_fixed = torch.randn(batch, timesteps, features, device=device)
    optimizer = torch.optim.RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-7)

    def step():
        optimizer.zero_grad(set_to_none=True)
        x = embedding(ids) if vocabulary else x_fixed
        _, state = layer(x)
        final_h = state[0] if isinstance(state, tuple) else state
        final_h.mean().backward()
        optimizer.step()
        torch.cuda.synchronize()

    return _median_seconds(step, repeats)


def device_name() -> str:
    try:
        return cuda.get_current_device().name.decode() if isinstance(cuda.get_current_device().name, bytes) \
            else str(cuda.get_current_device().name)
    except Exception as error:  # the simulator, or no device
        return f"unknown ({type(error).__name__})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="parity checks and case (a) only")
    parser.add_argument("--no-cpu", action="store_true", help="skip the rnnsim CPU column")
    parser.add_argument("--cpu-all", action="store_true", help="also time LSTM(1024) on the CPU")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per case after one warm-up (median)")
    parser.add_argument("--skip-parity", action="store_true")
    args = parser.parse_args(argv)

    mode = require_cuda()
    out_dir = Path(os.environ["OUT"]) if os.environ.get("OUT") else None
    lines = [f"# rnnsim GPU benchmark ({mode}: {device_name()})", ""]
    if not args.skip_parity:
        started = time.perf_counter()
        parity = parity_checks()
        print("\n".join(parity), flush=True)
        lines += ["Parity with the CPU kernels on this device (all options on; float64 and float32):", ""]
        lines += [f"- {line}" for line in parity]
        lines += ["", f"(parity checks took {time.perf_counter() - started:.1f} s, compilation included)", ""]

    try:
        import torch

        has_torch = torch.cuda.is_available()
        torch_label = f"PyTorch {torch.__version__} (cuDNN)"
    except Exception:
        has_torch = False
        torch_label = "PyTorch (not installed)"

    cases = CASES[:1] if args.quick else CASES
    rows = []
    header = ["case", "batch x steps", "rnnsim GPU (ms/step)", "rnnsim CPU (ms/step)", f"{torch_label} GPU (ms/step)",
              "CPU / GPU", "rnnsim GPU / PyTorch"]
    for name, make_cell, batch, timesteps, features, vocabulary in cases:
        shape = (make_cell, batch, timesteps, features, vocabulary)
        gpu = time_rnnsim_gpu(*shape, args.repeats)
        big = "1024" in name
        cpu = None
        if not args.no_cpu and (not big or args.cpu_all):
            cpu = time_rnnsim_cpu(*shape, 1 if big else args.repeats)
        torch_seconds = time_torch_gpu(*shape, args.repeats) if has_torch else None
        row = {"case": name, "batch": batch, "timesteps": timesteps, "rnnsim_gpu_s": gpu, "rnnsim_cpu_s": cpu,
               "torch_gpu_s": torch_seconds}
        rows.append(row)
        print(json.dumps(row), flush=True)

    def ms(seconds):
        return "-" if seconds is None else f"{seconds * 1e3:.1f}"

    def ratio(a, b):
        return "-" if a is None or b is None else f"{a / b:.1f}x"

    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        table.append("| " + " | ".join([
            row["case"], f"{row['batch']} x {row['timesteps']}", ms(row["rnnsim_gpu_s"]), ms(row["rnnsim_cpu_s"]),
            ms(row["torch_gpu_s"]), ratio(row["rnnsim_cpu_s"], row["rnnsim_gpu_s"]),
            ratio(row["rnnsim_gpu_s"], row["torch_gpu_s"]),
        ]) + " |")
    lines += ["One training step: forward, BPTT, RMSprop update; float32; loss on the final state.", ""] + table
    text = "\n".join(lines) + "\n"
    print("\n" + "\n".join(table))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "bench_gpu.md").write_text(text)
        (out_dir / "bench_gpu.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
