"""How much memory a training run needs, estimated from its RunConfig before anything is allocated.

`rnnsim train --units 1000000000` would otherwise die inside NumPy with a traceback (or, worse, make
the machine swap). `check_fits(config)` adds up, for the configured task and model, the larger of:

- making the data: the arrays the task's generator or loader holds at its peak;
- building the model: the data, the weights, and the float64 scratch of the orthogonal initializer
  (a QR decomposition of each recurrent kernel);
- training: the data, the weights with their gradients, the optimizer's slots and the kernels'
  packed copy, and one batch's activations, kept for backpropagation through time (and the
  per-gate traces where they are recorded);

and compares it with the memory this process may still use (MemAvailable, and a cgroup limit where
there is one). The estimate aims at the real peak within a factor of about 2; it is a guard against
hopeless runs, not an accountant. Real data sets are sized from their nominal shapes below (the
files are not opened).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from rnnsim.errors import InputError
from rnnsim.registry import resolve_cell

FLOAT_BYTES = 4  # training runs in float32
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}  # by the registry's cell key
OPTIMIZER_SLOTS = {"rmsprop": 1, "adam": 2, "sgd": 0}  # arrays per weight (SGD without momentum: none)


@dataclass(frozen=True)
class TaskShape:
    """The nominal size of a task, enough to estimate memory without loading it."""

    features: int | None  # inputs per timestep; None for token ids
    seq_len: int  # default timesteps
    train: int  # training samples (synthetic: the default count generated)
    val: int | None  # validation samples; None: a quarter of train (synthetic tasks)
    outputs: int = 1  # units of the last Dense layer
    vocab: int = 0  # Embedding rows for token tasks
    sequence_output: bool = False  # one output per timestep (copy)
    synthetic: bool = False  # generated in code: any sample count
    generation_bytes: int = 8  # bytes per (sample, timestep) the generator holds at its peak
    fixed_bytes: int = 0  # what loading holds besides the arrays (the parsed IMDB reviews, a CSV)
    timesteps_extra: int = 0  # timesteps beyond seq_len (copy: 2 x 10 remembered symbols)


# From rnnsim.datasets.tasks (counts of the full files; generators' temporaries read from synthetic.py).
TASK_SHAPES = {
    "adding": TaskShape(features=2, seq_len=100, train=8_000, val=None, synthetic=True, generation_bytes=48),
    "copy": TaskShape(features=10, seq_len=30, train=8_000, val=None, outputs=10, sequence_output=True,
                      synthetic=True, generation_bytes=64, timesteps_extra=20),
    "sine": TaskShape(features=1, seq_len=50, train=8_000, val=None, synthetic=True, generation_bytes=32),
    "imdb": TaskShape(features=None, seq_len=500, train=20_000, val=5_000, vocab=10_000,
                      fixed_bytes=400 * 2**20),
    "sentiment": TaskShape(features=None, seq_len=40, train=2_400, val=600, vocab=5_200,
                           fixed_bytes=16 * 2**20),
    "beijing": TaskShape(features=7, seq_len=120, train=21_800, val=10_900, fixed_bytes=64 * 2**20),
    "jena": TaskShape(features=14, seq_len=240, train=198_560, val=98_560, fixed_bytes=600 * 2**20),
    "vowels": TaskShape(features=12, seq_len=29, train=270, val=370, outputs=9, fixed_bytes=4 * 2**20),
}
WINDOW_COPY_LIMIT = 512 * 2**20  # forecasting windows above this stay a strided view (datasets.tasks)
COMPILER_BYTES = 256 * 2**20  # Numba and LLVM while the kernels compile on the first batch


@dataclass
class MemoryEstimate:
    """Bytes at the peak of each phase of a run, and what dominates it."""

    phases: dict[str, dict[str, int]]  # phase -> {part: bytes}

    @property
    def total(self) -> int:
        return max(sum(parts.values()) for parts in self.phases.values())

    def largest_part(self) -> tuple[str, int]:
        """The biggest single part of the heaviest phase: (description, bytes)."""
        heaviest = max(self.phases.values(), key=lambda parts: sum(parts.values()))
        return max(heaviest.items(), key=lambda item: item[1])


def _resolved(config, shape: TaskShape) -> tuple[int, int, int]:
    """(timesteps, training samples, validation samples) that the task will really have."""
    seq_len = int(config.seq_len or shape.seq_len)
    if shape.synthetic:
        train = int(config.samples or shape.train)
        return seq_len + shape.timesteps_extra, train, max(1, train // 4)
    train = min(int(config.samples), shape.train) if config.samples else shape.train
    val = min(max(1, int(config.samples) // 4), shape.val) if config.samples else shape.val
    return seq_len, train, val


def _recurrent_parameters(cell: str, inputs: int, units: int) -> int:
    """Parameters of one recurrent layer; `cell` a registry key."""
    gates = GATES[cell]
    bias = 2 * gates * units if cell == "gru" else gates * units  # GRU reset_after: two biases
    return gates * (inputs * units + units * units) + bias


def estimate(config) -> MemoryEstimate | None:
    """The memory a run of `config` (an rnnsim.experiment.RunConfig) needs, by phase.

    Args:
        config: the run. A task missing from TASK_SHAPES gives None (no estimate).
    """
    shape = TASK_SHAPES.get(config.dataset)
    if shape is None:
        return None  # a task this table does not know: rnnsim.datasets.load_task judges the name
    timesteps, train, val = _resolved(config, shape)
    samples = train + val
    units, batch = int(config.units), min(int(config.batch_size), train)
    directions = 2 if config.bidirectional else 1
    features = shape.features or int(config.embedding_dim)

    # Data, as the task keeps it, and the generator's or loader's peak.
    if shape.features is None:
        data = samples * timesteps * 4  # int32 token ids
    elif shape.synthetic or samples * timesteps * shape.features * FLOAT_BYTES <= WINDOW_COPY_LIMIT:
        data = samples * timesteps * shape.features * FLOAT_BYTES
    else:
        data = 0  # a strided view of the series, counted in fixed_bytes
    targets = samples * (timesteps if shape.sequence_output else 1) * 8
    data += targets + shape.fixed_bytes
    making = samples * timesteps * shape.generation_bytes if shape.synthetic else data

    # Weights, layer by layer, and the largest orthogonal initialisation (float64 Gaussian, Q and R).
    parameters = shape.vocab * int(config.embedding_dim) if shape.features is None else 0
    inputs, largest_recurrent = features, 0
    activations = batch * timesteps * features * FLOAT_BYTES * (3 if shape.features is None else 1)
    cell = resolve_cell(config.cell)  # any spelling the registry accepts ('LSTM', 'rnn', ...)
    gates = GATES[cell]
    for _ in range(int(config.layers)):
        parameters += directions * _recurrent_parameters(cell, inputs, units)
        largest_recurrent = max(largest_recurrent, gates * units * units)
        # forward: input projection (T, B, GU), hidden and state (T, B, U) x 2, the input (T, B, D);
        # backward: the gate gradients (T, B, GU), dL/dh (T, B, U), dL/dx (T, B, D); per direction
        activations += directions * batch * timesteps * (2 * gates * units + 4 * units + 2 * inputs) * FLOAT_BYTES
        inputs = directions * units
    parameters += inputs * shape.outputs + shape.outputs
    output_steps = timesteps if shape.sequence_output else 1
    activations += 3 * batch * output_steps * (inputs + shape.outputs) * FLOAT_BYTES
    weights = parameters * FLOAT_BYTES
    initialising = largest_recurrent * 8 * 5  # measured: about 5 float64 copies at the QR's peak
    training_state = weights * (2 + OPTIMIZER_SLOTS.get(config.optimizer, 2))  # gradients, slots, packed copy

    return MemoryEstimate(phases={
        "making the data": {"the data": making},
        "building the model": {"the data": data, "the weights": weights,
                               "the orthogonal initialisation of the recurrent weights": initialising},
        "training": {"the data": data, "the weights": weights,
                     "the gradients and optimizer state": training_state,
                     "one batch's activations": activations, "compiling the kernels": COMPILER_BYTES},
    })


def snapshot_bytes(config) -> int:
    """About how large the run folder's files are: model.npz (weights and optimizer slots) and the JSONs."""
    found = estimate(config)
    if found is None:
        return 0
    weights = found.phases["training"]["the weights"]
    return weights * (1 + OPTIMIZER_SLOTS.get(config.optimizer, 2)) + 64 * 1024


def available_bytes() -> int | None:
    """The memory this process may still allocate: MemAvailable, capped by a cgroup limit; None if unknown."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            limit, usage = Path(limit_file).read_text().strip(), Path(usage_file).read_text().strip()
            if limit != "max" and int(limit) < 2**60:
                found.append(max(0, int(limit) - int(usage)))
        except (OSError, ValueError):
            continue
    if not found and hasattr(os, "sysconf"):
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError):
            pass
    return min(found) if found else None


def format_bytes(count: float) -> str:
    """'45 GiB', '1.2 MiB', '327 TiB': two or three significant digits in binary units."""
    value, units = float(count), ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB")
    unit = units[0]
    for unit in units:
        if value < 1024 or unit == units[-1]:
            break
        value /= 1024
    return f"{value:.0f} {unit}" if value >= 10 or unit == "B" else f"{value:.1f} {unit}"


# The flags a user can lower, as RunConfig fields, in the order they are suggested when equally useful.
_LOWERABLE = ("units", "seq_len", "samples", "batch_size", "layers")


def _lowered(config, field: str, shape: TaskShape):
    current = getattr(config, field)
    if field == "seq_len":
        current = current or shape.seq_len
    elif field == "samples":
        current = current or shape.train
    if field == "layers":
        return replace(config, layers=current - 1) if current > 1 else None
    return replace(config, **{field: max(1, current // 2)}) if current > 1 else None


def flag_to_lower(config, typed: set[str] | frozenset = frozenset()) -> str:
    """The flag whose halving saves the most memory; among near-equal ones, one the user typed."""
    shape = TASK_SHAPES[config.dataset]
    total = estimate(config).total
    savings = {}
    for field in _LOWERABLE:
        lowered = _lowered(config, field, shape)
        if lowered is not None:
            savings[field] = total - estimate(lowered).total
    if not savings:
        return "--units"
    best = max(savings.values())
    close = [field for field in _LOWERABLE if field in savings and savings[field] >= 0.9 * best]
    chosen = next((field for field in close if field in typed), close[0])
    return "--" + chosen.replace("_", "-")


def check_fits(config, typed: set[str] | frozenset = frozenset(),
               available: int | None = None) -> MemoryEstimate | None:
    """Raise InputError (one line: the estimate, what dominates it, the memory there is, the flag to lower)
    when the run cannot fit; return the estimate otherwise (None for a task without a known shape).

    Args:
        config: the run (rnnsim.experiment.RunConfig).
        typed: RunConfig fields the user typed, preferred when suggesting a flag to lower.
        available: bytes available (default None: measured by `available_bytes`).
    """
    found = estimate(config)
    if found is None:
        return None
    available = available_bytes() if available is None else available
    if available is None or found.total <= available:
        return found
    part, size = found.largest_part()
    flag = flag_to_lower(config, typed)
    field = flag[2:].replace("-", "_")
    value = getattr(config, field, None)
    now = f" (now {value:,})" if isinstance(value, int) else ""
    raise InputError(f"this run needs about {format_bytes(found.total)} of memory (most of it for {part}: "
                     f"{format_bytes(size)}); this machine has {format_bytes(available)} available: "
                     f"lower {flag}{now}")
