"""The extras of the CPU benchmark (issue 2), each in a fresh subprocess: first-call compile time with an
empty Numba cache, `import rnnsim.cells` + first step with a warm cache, trace-recording overhead, and the
peak resident memory (VmHWM from /proc/self/status) of the IMDB-size training for each framework.

Run by `benchmarks/bench_cpu.py` (unless --skip-extras).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def run_python(code, env=None, timeout=900, inherit=True):
    """Run `code` in a fresh interpreter (the environment: this one's plus `env`, or only `env`); its last line."""
    base = dict(os.environ) if inherit else {}
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                               env={**base, **(env or {}), "PYTHONPATH": ROOT}, timeout=timeout)
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-2000:])
    return completed.stdout.strip().splitlines()[-1]


def extras(threads, environment):
    """Compile, start-up, trace and memory figures, each in a fresh process with `environment` (only it)."""
    results = {}

    def run(code, **more):
        return run_python(code, {**environment, **more}, inherit=False)

    with tempfile.TemporaryDirectory() as cache_dir:  # an empty Numba cache: first calls compile
        code = _COMPILE_SNIPPET.format(threads=threads, batch=128, timesteps=500)
        results["cold_cache"] = json.loads(run(code, NUMBA_CACHE_DIR=cache_dir))
        results["warm_cache"] = json.loads(run(code, NUMBA_CACHE_DIR=cache_dir))
        startup = [float(run(_STARTUP_SNIPPET.format(threads=threads), NUMBA_CACHE_DIR=cache_dir)) for _ in range(3)]
        results["startup_plus_first_step_s"] = float(np.median(startup))
    results["trace"] = json.loads(run(_TRACE_SNIPPET.format(threads=threads)))
    memory = {}
    for case in ("b_rnn", "b_lstm"):
        for framework in ("rnnsim", "torch"):
            code = _MEMORY_SNIPPET.format(root=ROOT, framework=framework, case=case, threads=threads)
            memory[f"{case}/{framework}"] = json.loads(run(code))
    results["memory"] = memory
    return results
