"""rnnsim against PyTorch on the CPU: training step and forward pass, plus start-up, compile, trace and memory.

    .venv/bin/python benchmarks/bench_cpu.py --json /tmp/bench.json --markdown /tmp/bench.md   # everything
    .venv/bin/python benchmarks/bench_cpu.py --cases a,b_rnn,b_lstm,c256,c512 --steps 20 --rounds 2 --threads 2
    .venv/bin/python benchmarks/bench_cpu.py --skip-extras --no-shared   # only each framework alone
    .venv/bin/python benchmarks/bench_cpu.py --cap-isa avx2 --skip-extras --no-shared   # AVX2 paths on an AVX-512 CPU

PyTorch is a benchmark-only dependency (pip install torch==2.13.0 into the venv); rnnsim never imports it.

Each framework is timed **alone**, in fresh processes, PyTorch and rnnsim alternating (`--rounds` of
each), the steps of a framework's processes pooled: medians, the interquartile range, and the ratio of
the medians (speed-up = PyTorch / rnnsim; above 1, rnnsim is faster). That is done in two environments:
the one this script was started with, and the same with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset,
as users' machines have them (one run serves both where they are already unset). The goals are judged
on the second. Every table says where it was measured: the CPU model and vector ISA, the path rnnsim's
micro-kernel took (rnnsim.cells.simd.ISA), the BLAS kernel numpy ran (threadpoolctl) and numpy's
float32 2048² matmul rate, each measured in a fresh process with that table's environment.

Both frameworks also run in this one process (unless --no-shared), steps alternating, with
OMP_WAIT_POLICY=PASSIVE (unless set by the user): PyTorch's OpenMP threads otherwise spin after each
of its ops and take the cores from whichever framework runs next. "cell-level" there is the step
written on the cell API, without the model engine.

`GFLOP/s` counts only the recurrent math, 2*B*T*U*G*U per pass (G = 1, 3, 4 gate blocks), three passes
for a training step (forward, dh = dz U^T, dU = h^T dz); `% mm` compares it with numpy's matmul rate.

The extras (benchmarks/cpu_extras.py) run in subprocesses with the goals' environment: first-call
compile time with an empty Numba cache, `import rnnsim.cells` + first step with a warm cache,
trace-recording overhead, and the peak memory of the IMDB-size training for each framework.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.cpu_extras import extras, run_python  # noqa: E402
from benchmarks.cpu_report import report  # noqa: E402

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
    return {"median_ms": float(median), "q1_ms": float(q1), "q3_ms": float(q3), "min_ms": float(times.min()),
            "steps_ms": [float(t) for t in times]}


def pooled(summaries):
    """One summary of the steps of several runs (the alternating processes of one framework)."""
    return summarize(np.concatenate([np.asarray(s["steps_ms"]) / 1e3 for s in summaries]))


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


def run_case(case, steps, warmup, environments, rounds=2, shared=True, fold=True, threads=2, torch_flush=False):
    """One case: both frameworks in this process (steps alternating), then each alone in fresh processes,
    per environment, `rounds` times (PyTorch, rnnsim, PyTorch, rnnsim, ...), the steps pooled."""
    description, cell, batch, timesteps, features, units, loss = CASES[case]
    result = {"case": case, "description": description, "flops_forward": recurrent_flops(cell, batch, timesteps, units),
              "load_average": os.getloadavg()}
    if shared:
        import torch

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
        result["train"] = {"rnnsim": train[0], "rnnsim_cell": train[1], "torch": train[2]}
        result["forward"] = {"rnnsim": forward[0], "rnnsim_cell": forward[1], "torch": forward[2]}
    result["alone"] = {}
    for environment in environments:
        runs = {"torch": [], "rnnsim": []}
        for _ in range(rounds):
            for framework in ("torch", "rnnsim"):
                code = _ALONE_SNIPPET.format(root=ROOT, threads=threads, case=case, steps=steps, warmup=warmup,
                                             framework=framework, fold=fold, torch_flush=torch_flush)
                runs[framework].append(json.loads(run_python(code, env=environment["env"], inherit=False)))
        result["alone"][environment["name"]] = {
            framework: {"train": pooled([r["train"] for r in done]), "forward": pooled([r["forward"] for r in done]),
                        "OMP_WAIT_POLICY": done[0]["OMP_WAIT_POLICY"], "blas": done[0]["blas"],
                        **({"rnnsim_simd": done[0]["rnnsim_simd"]} if framework == "rnnsim" else {})}
            for framework, done in runs.items()}
    return result


_ALONE_SNIPPET = """
import json, os, sys
sys.path.insert(0, {root!r})
from benchmarks.bench_cpu import blas_kernels, rnnsim_alone, torch_alone
if {framework!r} == "torch":
    out = torch_alone({case!r}, {steps}, {warmup}, {threads}, flush_denormal={torch_flush!r})
else:
    out = rnnsim_alone({case!r}, {steps}, {warmup}, {threads}, fold={fold!r})
    from rnnsim.cells import simd
    out["rnnsim_simd"] = simd.ISA
out["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY", "(unset)")
out["blas"] = blas_kernels()
print(json.dumps(out))
"""

_MATMUL_SNIPPET = """
import json, sys
sys.path.insert(0, {root!r})
from threadpoolctl import threadpool_limits
threadpool_limits({threads})
from benchmarks.bench_cpu import blas_kernels, matmul_rates
from rnnsim.cells import simd
print(json.dumps({{"matmul": matmul_rates(), "blas": blas_kernels(), "rnnsim_simd": simd.ISA}}))
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


def torch_alone(case, steps, warmup, threads, flush_denormal=False):
    """PyTorch's train and forward steps timed on their own (run in a fresh process by `run_case`)."""
    import torch

    torch.set_num_threads(threads)
    if flush_denormal:  # not PyTorch's default: denormals cost it on Intel CPUs as they cost rnnsim before
        torch.set_flush_denormal(True)
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


def matmul_rates(size=2048, repeats=9):
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


def blas_kernels():
    """What threadpoolctl says of this process's BLAS libraries: library, version, kernel, threads."""
    from threadpoolctl import threadpool_info

    return [f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} threads={i.get('num_threads')}"
            for i in threadpool_info() if i.get("user_api") == "blas"]


def cpu_model_and_isa():
    model, isa = platform.processor() or "?", "?"
    try:
        with open("/proc/cpuinfo") as handle:
            lines = handle.readlines()
    except OSError:
        return model, isa
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), model)
    flags = set(next((line.split(":", 1)[1].split() for line in lines if line.startswith(("flags", "Features"))), []))
    if "avx512f" in flags:
        parts = sorted(f.removeprefix("avx512").strip("_") for f in flags if f.startswith("avx512"))
        isa = "AVX-512 (" + " ".join(parts) + (", AMX" if "amx_tile" in flags else "") + ")"
    elif "avx2" in flags:
        isa = "AVX2" + ("+FMA" if "fma" in flags else "")
    elif "asimd" in flags:
        isa = "NEON (asimd)"
    else:
        isa = "SSE"
    return model, isa


def machine_info(threads):
    import llvmlite.binding
    import numba
    import torch

    from rnnsim.cells import simd

    model, isa = cpu_model_and_isa()
    return {
        "cpu": model, "isa": isa, "llvm_cpu": llvmlite.binding.get_host_cpu_name(), "rnnsim_simd": simd.ISA,
        # what each framework was told to compile or dispatch for (an ISA-capped run sets these)
        "numba_cpu": numba.config.CPU_NAME or "(host)", "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_max_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", os.environ.get("DNNL_MAX_CPU_ISA", "(unset)")),
        "logical_cpus": os.cpu_count(), "threads": threads,
        "python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
        "torch": torch.__version__, "blas": blas_kernels(), "torch_mkldnn": bool(torch.backends.mkldnn.is_available()),
        "load_average": os.getloadavg(),
        "OMP_WAIT_POLICY_in_this_process": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        "OMP_WAIT_POLICY_as_started": USER_ENV.get("OMP_WAIT_POLICY", "(unset)"),
        "torch_parallel": [line.strip() for line in torch.__config__.parallel_info().splitlines()
                           if "backend" in line or "OpenMP" in line or "MKL" in line],
    }


OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

# --cap-isa: every framework held to a narrower vector ISA than the CPU has, to measure that ISA's paths on
# this machine (not another CPU's microarchitecture): rnnsim's kernels through what Numba compiles for,
# PyTorch's own kernels (ATen) and oneDNN's, and numpy's BLAS (OpenBLAS's kernel for that ISA).
ISA_CAPS = {
    "avx2": {
        "NUMBA_CPU_NAME": "haswell",
        "NUMBA_CPU_FEATURES": "+64bit,+avx,+avx2,+fma,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3,+popcnt,+cx16,+bmi,"
                              "+bmi2,+f16c,+movbe,+lzcnt,-avx512f",
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "OPENBLAS_CORETYPE": "Haswell",
    },
}
CAPPED = "RNNSIM_BENCH_ISA_CAP"  # set in the re-executed process of a --cap-isa run


def environments(threads):
    """The environment as given, and with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset (as users' machines have
    them, where the goals are judged); one entry when they are the same. Each with its BLAS kernel and
    numpy's matmul rate, measured in a fresh process with that environment."""
    unset = {key: value for key, value in USER_ENV.items() if key not in OPENBLAS_OVERRIDES}
    if USER_ENV.get(CAPPED):  # the cap includes OpenBLAS's kernel: one environment, the capped one
        chosen = [(f"capped at {USER_ENV[CAPPED].upper()}", USER_ENV)]
    elif unset == USER_ENV:
        chosen = [("as given = OPENBLAS_* unset", USER_ENV)]
    else:
        chosen = [("as given", USER_ENV), ("OPENBLAS_* unset", unset)]
    out = []
    for name, env in chosen:
        measured = json.loads(run_python(_MATMUL_SNIPPET.format(root=ROOT, threads=threads), env=env, inherit=False))
        out.append({"name": name, "env": env, "matmul_gflops": measured["matmul"]["numpy"],
                    "torch_mm_gflops": measured["matmul"]["torch"], "blas": measured["blas"],
                    "rnnsim_simd": measured["rnnsim_simd"],
                    **{key: env.get(key, "(unset)") for key in OPENBLAS_OVERRIDES}})
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="threads for both frameworks (default 2)")
    parser.add_argument("--steps", type=int, default=20,
                        help="timed steps per framework, pass and process (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="processes per framework, alternating, for each alone timing (default 2)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {','.join(CASES)}")
    parser.add_argument("--skip-extras", action="store_true", help="only the speed tables")
    parser.add_argument("--no-shared", action="store_true", help="skip the run of both frameworks in this process")
    parser.add_argument("--json", default=None, help="also write all results to this JSON file")
    parser.add_argument("--markdown", default=None, help="also write the report to this markdown file")
    parser.add_argument("--torch-flush-denormal", action="store_true",
                        help="PyTorch alone with torch.set_flush_denormal(True), as rnnsim's cells flush them "
                             "(not PyTorch's default; the goals are judged on its default)")
    parser.add_argument("--no-token-fold", action="store_true",
                        help="rnnsim models embed the tokens first instead of folding the Embedding into the "
                             "recurrent layer's input projection (to see what the fold is worth)")
    parser.add_argument("--cap-isa", choices=sorted(ISA_CAPS), default=None,
                        help="hold rnnsim (Numba), PyTorch (ATen, oneDNN) and numpy's BLAS to this vector ISA, "
                             "to measure its paths on a CPU that has a wider one")
    args = parser.parse_args(argv)
    if args.cap_isa and os.environ.get(CAPPED) != args.cap_isa:
        # the caps must be in the environment before Numba, torch and OpenBLAS load: run again with them
        arguments = sys.argv[1:] if argv is None else list(argv)
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *arguments],
                  {**os.environ, **ISA_CAPS[args.cap_isa], CAPPED: args.cap_isa})
    if args.no_token_fold:
        from rnnsim.layers import RNN

        RNN.accepts_tokens = lambda self, training: False

    # Before torch loads libgomp: in this shared process PyTorch's OpenMP threads must not spin between
    # its ops (they would take the cores from rnnsim's next step), nor rnnsim's between its passes; the
    # "alone" runs use the user's settings.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("RNNSIM_WAIT_POLICY", "passive")  # rnnsim's pool likewise (threads.py)
    import torch
    from threadpoolctl import threadpool_limits

    import rnnsim.threads

    rnnsim.threads.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    if args.torch_flush_denormal:
        torch.set_flush_denormal(True)
    threadpool_limits(args.threads)
    info = machine_info(args.threads)
    envs = environments(args.threads)
    print(json.dumps({**info, "environments": [{k: v for k, v in e.items() if k != "env"} for e in envs]}, indent=1),
          flush=True)
    output = {"machine": info, "environments": envs, "shared_process": not args.no_shared, "cases": [],
              "torch_flush_denormal": args.torch_flush_denormal}
    for case in args.cases.split(","):
        output["cases"].append(run_case(case, args.steps, args.warmup, envs, rounds=args.rounds,
                                        torch_flush=args.torch_flush_denormal,
                                        shared=not args.no_shared, fold=not args.no_token_fold, threads=args.threads))
        print(json.dumps({case: {name: {fw: {kind: round(t[kind]["median_ms"], 1) for kind in ("train", "forward")}
                                        for fw, t in alone.items()}
                                 for name, alone in output["cases"][-1]["alone"].items()}}), flush=True)
    if not args.skip_extras:
        goal_env = envs[-1]["env"]  # OPENBLAS_* unset
        output["extras"] = extras(args.threads, goal_env)
        print(json.dumps(output["extras"], indent=1), flush=True)
    text = report(output)
    print("\n" + text, flush=True)
    for environment in envs:
        environment.pop("env")  # the whole environment stays out of the files
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(output, handle, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
