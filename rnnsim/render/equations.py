"""What a trace holds, the heading of each quantity, and the cell's equations with the recorded numbers.

The equations themselves are each cell's declaration (`rnnsim.cells.spec`): this module only fills
them with the numbers a trace recorded, so the app's panel, `rnnsim inspect` and the cells' docstrings
read the same text.
"""

from __future__ import annotations

import string

import numpy as np

from rnnsim.cells.spec import SPECS
from rnnsim.cells.trace import GATE_SYMBOLS, Trace
from rnnsim.errors import InputError
from rnnsim.registry import layer_phrase


def quantities(trace: Trace) -> list[str]:
    """The names of what a trace holds, in display order: gates, then cell state (LSTM), hidden."""
    names = list(trace.gate_names)
    if trace.cell_state is not None:
        names.append("cell_state")
    names.append("hidden")
    return names


def _spellings(trace: Trace) -> dict[str, str]:
    """Every accepted spelling of each quantity (lower case) -> its name: the name, its symbol as the
    equations write it, and its heading ('forget', 'f', 'forget gate', 'forget gate f'; 'c' is the cell state)."""
    spellings = {}
    for name in quantities(trace):
        title = title_of(name, trace.cell)
        symbol = title.rsplit(" ", 1)[-1]
        for spelling in (name, name.replace("_", " "), title, title.rsplit(" ", 1)[0], f"{name} gate", symbol):
            spellings.setdefault(spelling.lower(), name)
    spellings["h"] = "hidden"  # a SimpleRNN's candidate is also written h, and equals h_t
    return spellings


def resolve_quantity(trace: Trace, name: str) -> str:
    """The name of a quantity as given on screen or on the command line: 'f' or 'forget gate f' -> 'forget'.

    Raises InputError naming every choice (with its symbol) for anything else.
    """
    spellings = _spellings(trace)
    key = str(name).strip().lower()
    if key in spellings:
        return spellings[key]
    choices = ", ".join(f"{q} ({title_of(q, trace.cell).rsplit(' ', 1)[-1]})" for q in quantities(trace))
    if key in ("cell_state", "cell state", "c") and trace.cell_state is None:
        raise InputError(f"a {trace.cell} layer has no cell state; choose one of {choices}")
    raise InputError(f"unknown gate {name!r} for {layer_phrase(trace.cell)}; choose one of {choices}")


def quantity(trace: Trace, name: str) -> np.ndarray:
    """(B, T, U) values of a gate, 'cell_state' or 'hidden' (or any spelling `resolve_quantity` takes)."""
    if name not in ("hidden", "cell_state") and name not in trace.gates:
        name = resolve_quantity(trace, name)
    if name == "hidden":
        return trace.hidden
    if name == "cell_state":
        if trace.cell_state is None:
            raise InputError(f"a {trace.cell} layer has no cell state; choose one of {quantities(trace)}")
        return trace.cell_state
    if name not in trace.gates:
        raise InputError(f"unknown gate {name!r} for {layer_phrase(trace.cell)}; choose one of {quantities(trace)}")
    return trace.gates[name]


def title_of(name: str, cell: str) -> str:
    """A heading for a quantity, e.g. 'forget gate f', 'candidate c~', 'hidden state h'."""
    if name == "hidden":
        return "hidden state h"
    if name == "cell_state":
        return "cell state c"
    try:
        symbol = SPECS[cell].symbol(name)  # the cell's own symbol: a candidate is c~, h~ or h
    except KeyError:
        symbol = GATE_SYMBOLS.get(name, name)
    if name == "candidate":
        return f"candidate {symbol}"
    return f"{name} gate {symbol}"


def _previous_index(trace: Trace, t: int) -> int | None:
    """The input position read just before t (t-1, or t+1 for go_backwards); None at the start."""
    previous = t + 1 if trace.go_backwards else t - 1
    return previous if 0 <= previous < trace.timesteps else None


def _fmt(value: float) -> str:
    return f"{value:.2f}" if abs(value) < 100 else f"{value:.3g}"


def _paren(value: float) -> str:
    text = _fmt(value)
    return f"({text})" if value < 0 else text


class _Worked(string.Formatter):
    """Fills an equation's worked side: numbers as `_fmt` writes them; `{name:p}` in parentheses when negative."""

    def format_field(self, value, format_spec):
        return _paren(value) if format_spec == "p" else _fmt(value)


_WORKED = _Worked()


def step_values(trace: Trace, t: int, unit: int, sample: int = 0) -> dict[str, float]:
    """The numbers an equation template names (see rnnsim.cells.spec), at step t of one unit."""
    previous = _previous_index(trace, t)

    def at(array, index) -> float:
        return 0.0 if array is None or index is None else float(array[sample, index, unit])

    values = {"hidden": at(trace.hidden, t), "hidden_prev": at(trace.hidden, previous),
              "cell": at(trace.cell_state, t), "cell_prev": at(trace.cell_state, previous)}
    for name, gate in trace.gates.items():
        values[name] = at(gate, t)
        values[f"{name}_pre"] = at(trace.preactivations[name], t)
        values[f"not_{name}"] = 1.0 - values[name]
    return values


def equations(trace: Trace, t: int, unit: int, sample: int = 0) -> list[str]:
    """The cell's equations at timestep t for one unit, with the recorded numbers filled in.

    The equations are the cell's declaration (rnnsim.cells.spec, under the trace's options such as
    GRU reset_after); pre-activations are shown as the number they came to, e.g.
    `f_t = σ(x_t·W_f + h_{t-1}·U_f + b_f) = σ(2.10) = 0.89`; the state updates show every factor.
    """
    if trace.cell not in SPECS:
        raise InputError(f"unknown cell {trace.cell!r}")
    lines = []
    if trace.mask is not None and not bool(trace.mask[sample, t]):
        lines.append(f"t={t} is padding (masked): the state is carried over unchanged.")
    values = step_values(trace, t, unit, sample)
    for equation in trace.spec.lines(**trace.options):
        lines.append(f"{equation.text} = {_WORKED.vformat(equation.worked, (), values)}")
    if trace.grad_hidden_norm is not None:
        lines.append(f"||dL/dh_t|| = {float(trace.grad_hidden_norm[sample, t]):.3g}")
    return lines
