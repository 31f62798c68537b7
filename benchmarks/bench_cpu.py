"""rnnsim against PyTorch on the CPU: training step and forward pass, plus start-up, compile, trace and memory.

    .venv/bin/python benchmarks/bench_cpu.py                 # everything, 20 timed steps per case
    .venv/bin/python benchmarks/bench_cpu.py --steps 30 --threads 2 --cases a,b_rnn,b_lstm,c256,c512
    .venv/bin/python benchmarks/bench_cpu.py --skip-extras   # only the speed table

PyTorch is a benchmark-only dependency (pip install torch==2.13.0 into the venv); rnnsim never
imports it. Both frameworks run in this one process with the same thread count, and their steps
alternate (rnnsim, torch, rnnsim, torch, ...) so that the noise of a shared machine hits both;
the table quotes medians, the interquartile range, and the ratio of the medians. In that shared
process OMP_WAIT_POLICY is PASSIVE (unless set by the user): PyTorch's OpenMP threads otherwise spin
after each of its ops and take the cores from whichever framework runs next. So each framework is
also timed alone, in a fresh process with the environment this script was started with (as its
users run it), and the table gives the speed-up both ways: "same" (shared process) and "own" (each
alone). `--no-subprocess` skips the second.

Columns: `speed-up` = PyTorch median / rnnsim median (above 1: rnnsim is faster). `GFLOP/s` counts
only the recurrent math, 2*B*T*U*G*U per pass (G = 1, 3, 4 gate blocks), three passes for a
training step (forward, dh = dz U^T, dU = h^T dz); `% mm` compares it with the float32 matrix
multiply rate numpy reaches on this machine, measured at the start of the run.

The extras (issue 2) run in subprocesses: first-call compile time with an empty Numba cache,
`import rnnsim.cells` + first step with a warm cache, trace-recording overhead, and peak resident
memory (VmHWM from /proc/self/status) of the IMDB-size training for each framework in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# The environment as the user started us: PyTorch is also timed in a subprocess with exactly this environment.
USER_ENV = dict(os.environ)

# case name -> (description, cell, batch, timesteps, features or vocabulary, units, head/loss)
CASES = {
    "a": ("(a) Jena GRU(32), B128 T240 D14, Dense(1), MAE", "gru", 128, 240, 14, 32, "mae"),
    "b_rnn": ("(b) Embedding(10000,32)+SimpleRNN(32), B128 T500, sigmoid BCE", "simple_rnn", 128, 500, 10000, 32,
              "bce"),
    "b_lstm": ("(b) Embedding(10000,32)+LSTM(32), B128 T500, sigmoid BCE", "lstm", 128, 500, 10000, 32, "bce"),
    "c256": ("(c) LSTM(256), B64 T100 D128, Dense(1), MSE", "lstm", 64, 100, 128, 256, "mse"),
    "c512": ("(c) LSTM(512), B64 T100 D128, Dense(1), MSE", "lstm", 64, 100, 128, 512, "mse"),
}
GATE_BLOCKS = {"simple_rnn": 1, "lstm": 4, "gru": 3}
EMBED_DIM = 32


def recurrent_flops(cell, batch, timesteps, units):
    """One pass of the recurrent product: 2 * B * T * U * (G*U)."""
    return 2.0 * batch * timesteps * units * GATE_BLOCKS[cell] * units


def case_data(case, seed=0):
    _, cell, batch, timesteps, features, units, loss = CASES[case]
    rng = np.random.default_rng(seed)
    if loss == "bce":
        x = rng.integers(1, features, size=(batch, timesteps)).astype(np.int64)
        y = rng.integers(0, 2, size=(batch, 1)).astype(np.float32)
    else:
        x = rng.normal(size=(batch, timesteps, features)).astype(np.float32)
        y = rng.normal(size=(batch, 1)).astype(np.float32)
    return x, y


# -- rnnsim ------------------------------------------------------------------------------------


def rnnsim_model(case, seed=0):
    from rnnsim.layers import GRU, LSTM, Dense, Embedding, SimpleRNN
    from rnnsim.models import Sequential

    _, cell, batch, timesteps, features, units, loss = CASES[case]
    layer = {"gru": GRU, "lstm": LSTM, "simple_rnn": SimpleRNN}[cell]
    model = Sequential(seed=seed)
    if loss == "bce":
        model.add(Embedding(features, EMBED_DIM, input_shape=(timesteps,)))
        model.add(layer(units))
        model.add(Dense(1, activation="sigmoid"))
        model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    else:
        model.add(layer(units, input_shape=(timesteps, features)))
        model.add(Dense(1))
        model.compile(optimizer="rmsprop", loss="mae" if loss == "mae" else "mse")
    return model


class CellLevelStep:
    """The training step written directly on the cell API, without the model engine.

    cell.forward -> Dense(1) head -> loss gradient -> head backward -> cell.backward -> RMSprop on every
    weight (Keras's form, epsilon inside the square root). The Embedding, where present, is a gather
    and a scatter-add of its gradient rows. Used to separate the cells' cost from the engine's.
    """

    def __init__(self, case, seed=0):
        from rnnsim.cells import make_cell

        _, cell_name, batch, timesteps, features, units, loss = CASES[case]
        rng = np.random.default_rng(seed)
        self.loss = loss
        self.cell = make_cell(cell_name, units)
        in_dim = EMBED_DIM if loss == "bce" else features
        self.params = self.cell.init_weights(in_dim, rng)
        if loss == "bce":
            self.params["embeddings"] = rng.uniform(-0.05, 0.05, (features, EMBED_DIM)).astype(np.float32)
        self.params["head_kernel"] = rng.uniform(-0.3, 0.3, (units, 1)).astype(np.float32)
        self.params["head_bias"] = np.zeros(1, np.float32)
        self.velocity = {k: np.zeros_like(v) for k, v in self.params.items()}

    def _cell_weights(self):
        return {k: self.params[k] for k in ("kernel", "recurrent_kernel", "bias") if k in self.params}

    def _inputs(self, x):
        return self.params["embeddings"][x] if self.loss == "bce" else x

    def forward(self, x):
        result = self.cell.forward(self._inputs(x), self._cell_weights())
        logits = result.final_states[0] @ self.params["head_kernel"] + self.params["head_bias"]
        return result, logits

    def predict(self, x):
        _, logits = self.forward(x)
        return 1.0 / (1.0 + np.exp(-logits)) if self.loss == "bce" else logits

    def train_step(self, x, y, learning_rate=1e-3, rho=0.9, epsilon=1e-7):
        result, logits = self.forward(x)
        batch = x.shape[0]
        if self.loss == "bce":
            grad_logits = (1.0 / (1.0 + np.exp(-logits)) - y) / batch
        elif self.loss == "mae":
            grad_logits = np.sign(logits - y) / batch
        else:
            grad_logits = 2.0 * (logits - y) / batch
        grad_logits = grad_logits.astype(np.float32)
        h_last = result.final_states[0]
        grads = {"head_kernel": h_last.T @ grad_logits, "head_bias": grad_logits.sum(axis=0)}
        grad_h = grad_logits @ self.params["head_kernel"].T  # (B, U)
        finals = (grad_h,) + (None,) * (len(result.final_states) - 1)
        cell_grads = self.cell.backward(result, grad_final_states=finals)
        grads.update(cell_grads.weights)
        for key, grad in grads.items():
            if key == "embeddings":
                continue
            self._rmsprop(key, grad, learning_rate, rho, epsilon)
        if self.loss == "bce":  # sparse: only the rows this batch used
            rows, inverse = np.unique(x.reshape(-1), return_inverse=True)
            summed = np.zeros((rows.shape[0], EMBED_DIM), np.float32)
            np.add.at(summed, inverse, cell_grads.inputs.reshape(-1, EMBED_DIM))
            velocity = self.velocity["embeddings"]
            velocity[rows] = rho * velocity[rows] + (1 - rho) * summed * summed
            self.params["embeddings"][rows] -= learning_rate * summed / np.sqrt(velocity[rows] + epsilon)

    def _rmsprop(self, key, grad, learning_rate, rho, epsilon):
        velocity = self.velocity[key]
        velocity *= rho
        velocity += (1 - rho) * grad * grad
        self.params[key] -= learning_rate * grad / np.sqrt(velocity + epsilon)


# -- PyTorch -----------------------------------------------------------------------------------


def torch_model(case, seed=0):
    import torch

    _, cell, batch, timesteps, features, units, loss = CASES[case]
    torch.manual_seed(seed)
    rnn_class = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM, "simple_rnn": torch.nn.RNN}[cell]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(features, EMBED_DIM) if loss == "bce" else None
            self.rnn = rnn_class(EMBED_DIM if loss == "bce" else features, units, batch_first=True)
            self.head = torch.nn.Linear(units, 1)

        def forward(self, x):
            if self.embedding is not None:
                x = self.embedding(x)
            output, _ = self.rnn(x)
            return self.head(output[:, -1])  # logits for BCE (the sigmoid is fused into the loss)

    net = Net()
    loss_fn = {"bce": torch.nn.BCEWithLogitsLoss(), "mae": torch.nn.L1Loss(), "mse": torch.nn.MSELoss()}[loss]
    optimizer = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    return net, loss_fn, optimizer


# -- timing ------------------------------------------------------------------------------------


def summarize(times):
    times = np.asarray(times) * 1e3
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return {"median_ms": float(median), "q1_ms": float(q1), "q3_ms": float(q3), "min_ms": float(times.min())}


def alternate(functions, steps, warmup):
    """Call each function `warmup` times, then `steps` rounds of one call each, in turn."""
    for function in functions:
        for _ in range(warmup):
            function()
    times = [[] for _ in functions]
    for _ in range(steps):
        for k, function in enumerate(functions):
            start = time.perf_counter()
            function()
            times[k].append(time.perf_counter() - start)
    return [summarize(t) for t in times]


def run_case(case, steps, warmup, alone=True, fold=True):
    import torch

    description, cell, batch, timesteps, features, units, loss = CASES[case]
    x, y = case_data(case)
    model = rnnsim_model(case)
    cell_step = CellLevelStep(case)
    net, loss_fn, optimizer = torch_model(case)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def torch_train():
        optimizer.zero_grad(set_to_none=True)
        loss_fn(net(xt), yt).backward()
        optimizer.step()

    def torch_forward():
        with torch.no_grad():
            net(xt)

    train = alternate([lambda: model.train_on_batch(x, y), lambda: cell_step.train_step(x, y), torch_train],
                      steps, warmup)
    forward = alternate([lambda: model.predict_on_batch(x), lambda: cell_step.predict(x), torch_forward],
                        steps, warmup)
    flops = recurrent_flops(cell, batch, timesteps, units)
    result = {"case": case, "description": description, "flops_forward": flops,
              "train": {"rnnsim": train[0], "rnnsim_cell": train[1], "torch": train[2]},
              "forward": {"rnnsim": forward[0], "rnnsim_cell": forward[1], "torch": forward[2]}}
    if alone:  # each framework alone, in the user's environment (PyTorch with its own OpenMP wait policy)
        for framework in ("torch", "rnnsim"):
            code = _ALONE_SNIPPET.format(root=ROOT, threads=torch.get_num_threads(), case=case, steps=steps,
                                         warmup=warmup, framework=framework, fold=fold)
            timings = json.loads(_python(code, env=USER_ENV, inherit=False))
            result[f"{framework}_alone_omp_wait_policy"] = timings["OMP_WAIT_POLICY"]
            for kind in ("train", "forward"):
                result[kind][f"{framework}_alone"] = timings[kind]
    return result


_ALONE_SNIPPET = """
import json, os, sys
sys.path.insert(0, {root!r})
from benchmarks.bench_cpu import rnnsim_alone, torch_alone
if {framework!r} == "torch":
    out = torch_alone({case!r}, {steps}, {warmup}, {threads})
else:
    out = rnnsim_alone({case!r}, {steps}, {warmup}, {threads}, fold={fold!r})
out["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY", "(unset)")
print(json.dumps(out))
"""


def rnnsim_alone(case, steps, warmup, threads, fold=True):
    """rnnsim's model-level train and forward steps timed on their own (run in a fresh process by `run_case`)."""
    import rnnsim.threads

    if not fold:
        from rnnsim.layers import RNN

        RNN.accepts_tokens = lambda self, training: False
    rnnsim.threads.set_num_threads(threads)
    x, y = case_data(case)
    model = rnnsim_model(case)
    return {"train": alternate([lambda: model.train_on_batch(x, y)], steps, warmup)[0],
            "forward": alternate([lambda: model.predict_on_batch(x)], steps, warmup)[0]}


def torch_alone(case, steps, warmup, threads):
    """PyTorch's train and forward steps timed on their own (run in a fresh process by `run_case`)."""
    import torch

    torch.set_num_threads(threads)
    x, y = case_data(case)
    net, loss_fn, optimizer = torch_model(case)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def train():
        optimizer.zero_grad(set_to_none=True)
        loss_fn(net(xt), yt).backward()
        optimizer.step()

    def forward():
        with torch.no_grad():
            net(xt)

    return {"train": alternate([train], steps, warmup)[0], "forward": alternate([forward], steps, warmup)[0]}


def matmul_rates(size=2048, repeats=5):
    """float32 GFLOP/s of numpy's matmul (and torch.mm) on (size x size) @ (size x size)."""
    import torch

    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    b = np.random.default_rng(1).random((size, size), dtype=np.float32)
    out = np.empty_like(a)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    np.matmul(a, b, out=out)
    torch.mm(ta, tb)
    rates = {"numpy": [], "torch": []}
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        rates["numpy"].append(2 * size**3 / (time.perf_counter() - start) / 1e9)
        start = time.perf_counter()
        torch.mm(ta, tb)
        rates["torch"].append(2 * size**3 / (time.perf_counter() - start) / 1e9)
    return {k: float(np.median(v)) for k, v in rates.items()}


def machine_info(threads):
    import numba
    import torch
    from threadpoolctl import threadpool_info

    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
            handle.seek(0)
            flags = next((line for line in handle if line.startswith("flags")), "")
        isa = "AVX-512" if "avx512f" in flags else ("AVX2+FMA" if "avx2" in flags else "SSE")
    except OSError:
        isa = "?"
    blas = [f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} threads={i.get('num_threads')}"
            for i in threadpool_info()]
    return {
        "cpu": model, "isa": isa, "logical_cpus": os.cpu_count(), "threads": threads,
        "python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
        "torch": torch.__version__, "blas": blas, "torch_mkldnn": bool(torch.backends.mkldnn.is_available()),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", "(unset)"),
        "load_average": os.getloadavg(),
        "OMP_WAIT_POLICY_in_this_process": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        "OMP_WAIT_POLICY_as_started": USER_ENV.get("OMP_WAIT_POLICY", "(unset)"),
        "torch_parallel": [line.strip() for line in torch.__config__.parallel_info().splitlines()
                           if "backend" in line or "OpenMP" in line or "MKL" in line],
    }


# -- extras (issue 2), each in a fresh subprocess ---------------------------------------------------

_COMPILE_SNIPPET = """
import time, json, numpy as np
import rnnsim.threads
rnnsim.threads.set_num_threads({threads})
t0 = time.perf_counter()
from rnnsim.cells import make_cell
t_import = time.perf_counter() - t0
out = {{"import_s": t_import}}
for name in ("simple_rnn", "lstm", "gru"):
    cell = make_cell(name, 32)
    w = cell.init_weights(32, np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=({batch}, {timesteps}, 32)).astype(np.float32)
    g = (np.ones(({batch}, 32), np.float32),) * len(cell.state_names)
    t0 = time.perf_counter(); r = cell.forward(x, w); cell.backward(r, grad_final_states=g)
    first = time.perf_counter() - t0
    t0 = time.perf_counter(); r = cell.forward(x, w); cell.backward(r, grad_final_states=g)
    out[name] = {{"first_call_s": first, "warm_call_s": time.perf_counter() - t0}}
print(json.dumps(out))
"""

_STARTUP_SNIPPET = """
import time
t0 = time.perf_counter()
import numpy as np
import rnnsim.threads
rnnsim.threads.set_num_threads({threads})
import rnnsim.cells
from rnnsim.cells import make_cell
cell = make_cell("lstm", 32)
w = cell.init_weights(32, np.random.default_rng(0))
x = np.random.default_rng(1).normal(size=(128, 500, 32)).astype(np.float32)
r = cell.forward(x, w); cell.backward(r, grad_final_states=(np.ones((128, 32), np.float32), None))
print(time.perf_counter() - t0)
"""

_TRACE_SNIPPET = """
import time, json, numpy as np
import rnnsim.threads
rnnsim.threads.set_num_threads({threads})
from rnnsim.cells import make_cell
out = {{}}
for name in ("simple_rnn", "lstm", "gru"):
    cell = make_cell(name, 32)
    w = cell.init_weights(32, np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(128, 500, 32)).astype(np.float32)
    probe = x[:16]  # the probe batch the app records
    g = (np.ones((128, 32), np.float32),) + (None,) * (len(cell.state_names) - 1)
    gp = (np.ones((16, 32), np.float32),) + (None,) * (len(cell.state_names) - 1)
    def step(xb, gb, record):
        r = cell.forward(xb, w, record_trace=record); cell.backward(r, grad_final_states=gb)
    for rec in (False, True):
        step(probe, gp, rec)
    plain, traced, train = [], [], []
    for _ in range(15):
        t0 = time.perf_counter(); step(probe, gp, False); plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter(); step(probe, gp, True); traced.append(time.perf_counter() - t0)
        t0 = time.perf_counter(); step(x, g, False); train.append(time.perf_counter() - t0)
    p, q, s = (float(np.median(v)) for v in (plain, traced, train))
    out[name] = {{"probe_plain_ms": p * 1e3, "probe_traced_ms": q * 1e3, "train_step_ms": s * 1e3,
                  "overhead_vs_train_pct": 100 * (q - p) / s, "overhead_vs_probe_pct": 100 * (q - p) / p}}
print(json.dumps(out))
"""

_MEMORY_SNIPPET = """
import json, sys, numpy as np
sys.path.insert(0, {root!r})
from benchmarks.bench_cpu import case_data, rnnsim_model, torch_model
framework, case, threads = {framework!r}, {case!r}, {threads}
x, y = case_data(case)
def high_water_mb():  # VmHWM is per address space; ru_maxrss would carry the parent's peak across exec
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmHWM")) / 1024
before = high_water_mb()
if framework == "rnnsim":
    import rnnsim.threads
    rnnsim.threads.set_num_threads(threads)
    model = rnnsim_model(case)
    for _ in range(3):
        model.train_on_batch(x, y)
else:
    import torch
    torch.set_num_threads(threads)
    net, loss_fn, optimizer = torch_model(case)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(3):
        optimizer.zero_grad(set_to_none=True)
        loss_fn(net(xt), yt).backward()
        optimizer.step()
print(json.dumps({{"before_mb": before, "peak_mb": high_water_mb()}}))
"""


def _python(code, env=None, timeout=900, inherit=True):
    base = dict(os.environ) if inherit else {}
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                               env={**base, **(env or {}), "PYTHONPATH": ROOT}, timeout=timeout)
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-2000:])
    return completed.stdout.strip().splitlines()[-1]


def extras(threads):
    results = {}
    with tempfile.TemporaryDirectory() as cache_dir:  # an empty Numba cache: first calls compile
        code = _COMPILE_SNIPPET.format(threads=threads, batch=128, timesteps=500)
        results["cold_cache"] = json.loads(_python(code, {"NUMBA_CACHE_DIR": cache_dir}))
        results["warm_cache"] = json.loads(_python(code, {"NUMBA_CACHE_DIR": cache_dir}))
        startup = [float(_python(_STARTUP_SNIPPET.format(threads=threads), {"NUMBA_CACHE_DIR": cache_dir}))
                   for _ in range(3)]
        results["startup_plus_first_step_s"] = float(np.median(startup))
    results["trace"] = json.loads(_python(_TRACE_SNIPPET.format(threads=threads)))
    memory = {}
    for case in ("b_rnn", "b_lstm"):
        for framework in ("rnnsim", "torch"):
            code = _MEMORY_SNIPPET.format(root=ROOT, framework=framework, case=case, threads=threads)
            memory[f"{case}/{framework}"] = json.loads(_python(code))
    results["memory"] = memory
    return results


# -- report ------------------------------------------------------------------------------------


def _cell(timing):
    if timing is None:
        return "–"
    return f"{timing['median_ms']:.1f} ({timing['q1_ms']:.1f}–{timing['q3_ms']:.1f})"


def table(results, matmul):
    lines = ["| case | pass | rnnsim model ms, same process (IQR) | rnnsim alone ms (IQR) | rnnsim cell-level ms | "
             "PyTorch same process ms (IQR) | PyTorch alone ms (IQR) | speed-up (same / alone) | "
             "rnnsim GFLOP/s alone (% numpy mm) | PyTorch GFLOP/s alone |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for kind, passes in (("train", 3), ("forward", 1)):
            ours, cell, theirs = r[kind]["rnnsim"], r[kind]["rnnsim_cell"], r[kind]["torch"]
            ours_alone, theirs_alone = r[kind].get("rnnsim_alone"), r[kind].get("torch_alone")
            flops = passes * r["flops_forward"]
            ours_rate = flops / (ours_alone or ours)["median_ms"] / 1e6
            theirs_rate = flops / (theirs_alone or theirs)["median_ms"] / 1e6
            alone_ratio = "–" if ours_alone is None else f"{theirs_alone['median_ms'] / ours_alone['median_ms']:.2f}x"
            lines.append(
                f"| {r['description']} | {kind} | {_cell(ours)} | {_cell(ours_alone)} | {cell['median_ms']:.1f} | "
                f"{_cell(theirs)} | {_cell(theirs_alone)} | "
                f"**{theirs['median_ms'] / ours['median_ms']:.2f}x / {alone_ratio}** | "
                f"{ours_rate:.1f} ({100 * ours_rate / matmul['numpy']:.0f}%) | {theirs_rate:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="threads for both frameworks (default 2)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per framework and pass (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {','.join(CASES)}")
    parser.add_argument("--skip-extras", action="store_true", help="only the speed table")
    parser.add_argument("--json", default=None, help="also write all results to this JSON file")
    parser.add_argument("--no-subprocess", action="store_true",
                        help="skip timing each framework alone in its own process with the user's environment")
    parser.add_argument("--no-token-fold", action="store_true",
                        help="rnnsim models embed the tokens first instead of folding the Embedding into the "
                             "recurrent layer's input projection (to see what the fold is worth)")
    args = parser.parse_args(argv)
    if args.no_token_fold:
        from rnnsim.layers import RNN

        RNN.accepts_tokens = lambda self, training: False

    # Before torch loads libgomp: in this shared process PyTorch's OpenMP threads must not spin between
    # its ops (they would take the cores from rnnsim's next step); the "alone" runs use the user's setting.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch
    from threadpoolctl import threadpool_limits

    import rnnsim.threads

    rnnsim.threads.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    info = machine_info(args.threads)
    matmul = matmul_rates()
    print(json.dumps({**info, "matmul_gflops": matmul}, indent=1), flush=True)
    results = []
    for case in args.cases.split(","):
        results.append(run_case(case, args.steps, args.warmup, alone=not args.no_subprocess,
                                fold=not args.no_token_fold))
        print(table(results[-1:], matmul), flush=True)
    print("\n" + table(results, matmul), flush=True)
    print(json.dumps({"omp_wait_policy_alone": sorted({r.get("torch_alone_omp_wait_policy", "-") for r in results}),
                      "omp_wait_policy_same_process": os.environ["OMP_WAIT_POLICY"]}), flush=True)
    output = {"machine": info, "matmul_gflops": matmul, "cases": results}
    if not args.skip_extras:
        output["extras"] = extras(args.threads)
        print(json.dumps(output["extras"], indent=1), flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(output, handle, indent=1)


if __name__ == "__main__":
    main()
