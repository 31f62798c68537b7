"""Helpers shared by several test files (test files never import each other: tests/test_structure.py).

Cell cases: random weights, inputs and options for the kernels, and the plain-NumPy reference's forward and
backward for the same case. Layers: `layer_gradient_errors`, a central-difference check of one layer's hand-
written backward (input and weights). Traces: `make_trace`, a small NumPy forward pass recorded as a `Trace`
(no Numba, no model), for the drawing and the app. The app: `wait_for`, a Pilot wait, and `started_app`, the
app under Pilot once a key's run has finished. The code's imports, read with `ast` (nothing imported):
`imported_names`, `internal_edges`, for tests/test_structure.py and the layout tests. The command line in a
real process (`run_rnnsim`, `start_rnnsim`, `one_error_line`) and a private mount namespace for read-only
folders (`namespace_command`), for the fault tests.
"""

import ast
import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from rnnsim import reference
from rnnsim.cells import GRUCell, LSTMCell, SimpleRNNCell
from rnnsim.trace import GATE_NAMES, Trace

BATCH, TIMESTEPS, FEATURES, UNITS = 3, 6, 4, 5

# Every option the cells support, each on its own and a few together.
OPTIONS = {
    "plain": {},
    "mask": {"mask": True},
    "go_backwards": {"go_backwards": True},
    "dropout": {"dropout": True},
    "initial_state": {"initial_state": True},
    "last_only": {"last_only": True},
    "everything": {"mask": True, "go_backwards": True, "dropout": True, "initial_state": True},
}

CELL_VARIANTS = {
    "simple_rnn": lambda: SimpleRNNCell(UNITS),
    "lstm": lambda: LSTMCell(UNITS),
    "gru": lambda: GRUCell(UNITS),
    "gru_reset_before": lambda: GRUCell(UNITS, reset_after=False),
}


def make_case(cell, options, dtype=np.float64, seed=0):
    """Random weights (with non-zero biases), inputs and per-option arrays."""
    rng = np.random.default_rng(seed)
    weights = cell.init_weights(FEATURES, rng, dtype)
    if "bias" in weights:
        weights["bias"] = rng.normal(0, 0.5, weights["bias"].shape).astype(dtype)
    weights["recurrent_kernel"] = (weights["recurrent_kernel"] * 1.5).astype(dtype)  # livelier dynamics
    x = rng.normal(0, 1, (BATCH, TIMESTEPS, FEATURES)).astype(dtype)
    kwargs = {}
    if options.get("mask"):
        mask = np.ones((BATCH, TIMESTEPS), bool)
        mask[0, :2] = False  # left padding
        mask[1, -2:] = False  # right padding
        mask[2, 3] = False  # a hole in the middle
        kwargs["mask"] = mask
    if options.get("dropout"):
        keep = 1.0 / (1.0 - 0.3)
        kwargs["input_dropout_mask"] = (rng.random((BATCH, FEATURES)) > 0.3).astype(dtype) * keep
        kwargs["recurrent_dropout_mask"] = (rng.random((BATCH, UNITS)) > 0.3).astype(dtype) * keep
    if options.get("initial_state"):
        kwargs["initial_state"] = tuple(
            rng.normal(0, 0.5, (BATCH, UNITS)).astype(dtype) for _ in cell.state_names
        )
    kwargs["go_backwards"] = bool(options.get("go_backwards"))
    grad_outputs = rng.normal(0, 1, (BATCH, TIMESTEPS, UNITS)).astype(dtype)
    grad_final = tuple(rng.normal(0, 1, (BATCH, UNITS)).astype(dtype) for _ in cell.state_names)
    if options.get("last_only"):
        grad_outputs = None  # return_sequences=False: the loss sees only the final state
    return weights, x, kwargs, grad_outputs, grad_final


def run_reference(cell, weights, x, kwargs, grad_outputs, grad_final):
    """The reference's forward and backward for the same case, all arrays by input position."""
    go_backwards = kwargs["go_backwards"]
    common = dict(
        mask=kwargs.get("mask"),
        go_backwards=go_backwards,
        input_drop=kwargs.get("input_dropout_mask"),
        recurrent_drop=kwargs.get("recurrent_dropout_mask"),
        activation=cell.activation,
    )
    if cell.name != "simple_rnn":
        common["recurrent_activation"] = cell.recurrent_activation
    states = kwargs.get("initial_state")
    if grad_outputs is None:
        grad_hidden = np.zeros((x.shape[0], x.shape[1], cell.units), x.dtype)
    else:  # outputs come in processing order; the reference works by input position
        grad_hidden = grad_outputs[:, ::-1] if go_backwards else grad_outputs
    args = (x, weights["kernel"], weights["recurrent_kernel"], weights.get("bias"))
    if cell.name == "simple_rnn":
        common["h0"] = None if states is None else states[0]
        forward = reference.simple_rnn_forward(*args, **common)
        backward = reference.simple_rnn_backward(*args, grad_hidden, grad_h_final=grad_final[0], **common)
        forward["gates"] = {"candidate": forward["hidden"]}
        backward["states"] = (backward["h0"],)
    elif cell.name == "lstm":
        if states is not None:
            common["h0"], common["c0"] = states
        forward = reference.lstm_forward(*args, **common)
        backward = reference.lstm_backward(
            *args, grad_hidden, grad_h_final=grad_final[0], grad_c_final=grad_final[1], **common
        )
        forward["gates"] = {name: forward[name] for name in ("input", "forget", "candidate", "output")}
        backward["states"] = (backward["h0"], backward["c0"])
    else:
        common["h0"] = None if states is None else states[0]
        common["reset_after"] = cell.reset_after
        forward = reference.gru_forward(*args, **common)
        backward = reference.gru_backward(*args, grad_hidden, grad_h_final=grad_final[0], **common)
        forward["gates"] = {name: forward[name] for name in ("update", "reset", "candidate")}
        backward["states"] = (backward["h0"],)
    return forward, backward


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def make_trace(cell: str = "lstm", batch: int = 2, steps: int = 12, units: int = 6, seed: int = 0) -> Trace:
    """Run a random `cell` over random inputs in float64 and record gates, states and a gradient norm.

    The gradient norms are ||dL/dh_t|| for L = sum(h_T) computed by backpropagating through the
    recorded Jacobians of h (for LSTM through h only, holding c fixed: enough for a plot).
    """
    rng = np.random.default_rng(seed)
    n_gates = len(GATE_NAMES[cell])
    inputs = rng.normal(size=(batch, steps, 2))
    kernel = rng.normal(scale=0.8, size=(2, n_gates * units))
    recurrent = rng.normal(scale=0.5, size=(units, n_gates * units))
    bias = np.zeros(n_gates * units)
    if cell == "lstm":
        bias[units : 2 * units] = 1.0
    gates = {name: np.zeros((batch, steps, units)) for name in GATE_NAMES[cell]}
    pre = {name: np.zeros((batch, steps, units)) for name in GATE_NAMES[cell]}
    hidden = np.zeros((batch, steps, units))
    cell_state = np.zeros((batch, steps, units)) if cell == "lstm" else None
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))
    for t in range(steps):
        if cell == "gru":
            x_part = inputs[:, t] @ kernel + bias
            h_part = h @ recurrent
            a_z = x_part[:, :units] + h_part[:, :units]
            a_r = x_part[:, units : 2 * units] + h_part[:, units : 2 * units]
            z, r = _sigmoid(a_z), _sigmoid(a_r)
            a_h = x_part[:, 2 * units :] + r * h_part[:, 2 * units :]
            g = np.tanh(a_h)
            h = z * h + (1 - z) * g
            for name, a, v in (("update", a_z, z), ("reset", a_r, r), ("candidate", a_h, g)):
                pre[name][:, t], gates[name][:, t] = a, v
        else:
            a = inputs[:, t] @ kernel + h @ recurrent + bias
            if cell == "simple_rnn":
                pre["candidate"][:, t] = a
                h = np.tanh(a)
                gates["candidate"][:, t] = h
            else:
                blocks = [a[:, k * units : (k + 1) * units] for k in range(4)]
                i, f, o = _sigmoid(blocks[0]), _sigmoid(blocks[1]), _sigmoid(blocks[3])
                g = np.tanh(blocks[2])
                c = f * c + i * g
                h = o * np.tanh(c)
                cell_state[:, t] = c
                for name, block, v in zip(("input", "forget", "candidate", "output"), blocks, (i, f, g, o)):
                    pre[name][:, t], gates[name][:, t] = block, v
        hidden[:, t] = h
    # A gradient norm that decays backwards in time: geometric for SimpleRNN, flat-ish otherwise.
    decay = {"simple_rnn": 0.5, "gru": 0.9, "lstm": 0.97}[cell]
    grad = np.array([[decay ** (steps - 1 - t) for t in range(steps)]] * batch)
    return Trace(
        cell=cell,
        gates=gates,
        preactivations=pre,
        hidden=hidden,
        cell_state=cell_state,
        grad_hidden_norm=grad,
        layer_name=f"{cell}_1",
    )


# ---------------------------------------------------------------------------------------------
# The tests.


async def wait_for(pilot, condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


@contextlib.asynccontextmanager
async def started_app(app, *, size=(80, 24), key="s", state="finished", timeout=10.0):
    """The app under Pilot at `size`, after pressing `key`, once its screen reaches `state`: (pilot, screen)."""
    async with app.run_test(size=size) as pilot:
        screen = app.screen
        await pilot.press(key)
        await wait_for(pilot, lambda: screen.state == state, timeout)
        yield pilot, screen


REPO = Path(__file__).resolve().parents[1]


def package_modules(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of a package folder."""
    modules = {}
    for path in sorted((REPO / package).rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules



def imported_names(path: Path, module: str) -> list[tuple[str, ast.AST, bool]]:
    """(imported module, node, is_late) for every import in a file; relative imports resolved.

    `from a.b import c` yields a.b and also a.b.c (c may be a submodule: `from rnnsim import layers`).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        late = id(node) not in top_level
        if isinstance(node, ast.Import):
            found += [(alias.name, node, late) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, node, late))
            found += [(f"{target}.{alias.name}", node, late) for alias in node.names]
    return found


def internal_edges(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the modules of the same package that it imports (module or name imports resolved)."""
    edges = {}
    for module, path in modules.items():
        targets = set()
        for name, _node, _late in imported_names(path, module):
            while name and name not in modules:  # `from rnnsim.cells.base import X`: X is no module
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        edges[module] = targets
    return edges


def layer_gradient_errors(layer, x, mask=None, step=1e-6, seed=0):
    """Worst relative errors of a built float64 layer's backward against central differences.

    The loss is sum(output * R) for a fixed random R, so dL/d(output) = R. Returns
    (error in dL/dx, [error in dL/dw for each weight]).
    """
    projection = np.random.default_rng(seed).normal(size=layer.forward(x, mask=mask).shape)

    def loss():
        return float(np.sum(layer.forward(x, mask=mask) * projection))

    def worst(numeric, analytic):
        scale = np.maximum(np.abs(numeric) + np.abs(analytic), 1e-6)
        return float(np.max(np.abs(numeric - analytic) / scale))

    def numeric_gradient(array):
        numeric = np.zeros_like(array)
        for position in np.ndindex(array.shape):
            saved = array[position]
            array[position] = saved + step
            plus = loss()
            array[position] = saved - step
            minus = loss()
            array[position] = saved
            numeric[position] = (plus - minus) / (2 * step)
        return numeric

    layer.forward(x, mask=mask)
    grad_x = layer.backward(projection)
    weight_grads = [np.array(g) for g in layer.gradients]
    x = np.array(x, dtype=np.float64)  # perturbed in place below; the caller's array stays as it was
    input_error = worst(numeric_gradient(x), grad_x)
    weight_errors = [worst(numeric_gradient(weight), grad) for weight, grad in zip(layer.weights, weight_grads)]
    return input_error, weight_errors


# ----------------------------------------------------------------------------------- the command line

TINY_RUN = ["--seq-len", "8", "--samples", "64", "--units", "4", "--batch-size", "16", "--quiet"]


def start_rnnsim(*args, cwd, env=None, stdout=subprocess.PIPE) -> subprocess.Popen:
    """`python -m rnnsim.cli ARGS` started in a real process (text pipes)."""
    return subprocess.Popen([sys.executable, "-m", "rnnsim.cli", *map(str, args)], stdout=stdout,
                            stderr=subprocess.PIPE, text=True, cwd=cwd, env=env)


def run_rnnsim(*args, cwd, env=None, timeout=600) -> tuple[int, str, str]:
    """`python -m rnnsim.cli ARGS` run to the end: (exit status, stdout, stderr)."""
    completed = subprocess.run([sys.executable, "-m", "rnnsim.cli", *map(str, args)], capture_output=True,
                               text=True, cwd=cwd, env=env, timeout=timeout)
    return completed.returncode, completed.stdout, completed.stderr


def read_until(process: subprocess.Popen, text: str, timeout: float = 300) -> str:
    """Read the process's stdout line by line until a line holds `text`; what was read."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen += line
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never printed; got {seen!r} and {process.stderr.read()!r}")


def one_error_line(stderr: str, prefix: str = "rnnsim: error: ") -> str:
    """The single line of stderr, checked: exactly one line, the prefix, no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(prefix), stderr
    return lines[0]


def namespace_command() -> list[str] | None:
    """The `unshare` prefix that gives this user a private mount namespace (to bind-mount a folder
    read-only: root ignores permission bits), or None where there is none."""
    if shutil.which("unshare") is None:
        return None
    command = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    probe = subprocess.run([*command, "true"], capture_output=True)
    return command if probe.returncode == 0 else None


def read_only_command(folders, program: list[str]) -> list[str] | None:
    """`program` run with `folders` bind-mounted read-only in a private mount namespace, or None."""
    namespace = namespace_command()
    if namespace is None:
        return None
    mounts = " && ".join(f"mount --bind {f} {f} && mount -o remount,ro,bind {f} {f}" for f in folders)
    return [*namespace, "sh", "-c", f'{mounts} && exec "$@"', "sh", *map(str, program)]
