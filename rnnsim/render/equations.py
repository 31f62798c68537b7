"""What a trace holds, the heading of each quantity, and the cell's equations with the recorded numbers.

`equations` is kept whole in this one file (it spells out each cell's update rule); nothing else in
`rnnsim.render` depends on how it is written.
"""

from __future__ import annotations

import numpy as np

from rnnsim.cells.trace import GATE_SYMBOLS, Trace
from rnnsim.errors import InputError


def quantities(trace: Trace) -> list[str]:
    """The names of what a trace holds, in display order: gates, then cell state (LSTM), hidden."""
    names = list(trace.gate_names)
    if trace.cell_state is not None:
        names.append("cell_state")
    names.append("hidden")
    return names


def quantity(trace: Trace, name: str) -> np.ndarray:
    """(B, T, U) values of a gate, 'cell_state' or 'hidden'."""
    if name == "hidden":
        return trace.hidden
    if name == "cell_state":
        if trace.cell_state is None:
            raise InputError(f"a {trace.cell} layer has no cell state; choose one of {quantities(trace)}")
        return trace.cell_state
    if name not in trace.gates:
        raise InputError(f"unknown gate {name!r} for a {trace.cell} layer; choose one of {quantities(trace)}")
    return trace.gates[name]


def title_of(name: str, cell: str) -> str:
    """A heading for a quantity, e.g. 'forget gate f', 'candidate c~', 'hidden state h'."""
    if name == "hidden":
        return "hidden state h"
    if name == "cell_state":
        return "cell state c"
    symbol = GATE_SYMBOLS.get(name, name)
    if name == "candidate":
        symbol = {"lstm": "c~", "gru": "h~", "simple_rnn": "h"}.get(cell, symbol)
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


def equations(trace: Trace, t: int, unit: int, sample: int = 0) -> list[str]:
    """The cell's equations at timestep t for one unit, with the recorded numbers filled in.

    Pre-activations are shown as the number they came to, e.g. `f_t = σ(x_t·W_f + h_{t-1}·U_f + b_f)
    = σ(2.10) = 0.89`; the state updates show every factor.
    """

    def value(array) -> float:
        return float(array[sample, t, unit])

    previous = _previous_index(trace, t)

    def previous_value(array) -> float:
        return 0.0 if previous is None else float(array[sample, previous, unit])

    lines = []
    if trace.mask is not None and not bool(trace.mask[sample, t]):
        lines.append(f"t={t} is padding (masked): the state is carried over unchanged.")
    h_prev = previous_value(trace.hidden)
    h = value(trace.hidden)
    pre = trace.preactivations
    if trace.cell == "simple_rnn":
        lines.append(
            f"h_t = tanh(x_t·W + h_{{t-1}}·U + b) = tanh({_fmt(value(pre['candidate']))}) = {_fmt(h)}"
        )
    elif trace.cell == "lstm":
        i, f, g, o = (value(trace.gates[name]) for name in ("input", "forget", "candidate", "output"))
        c_prev = previous_value(trace.cell_state)
        c = value(trace.cell_state)
        lines += [
            f"i_t = σ(x_t·W_i + h_{{t-1}}·U_i + b_i) = σ({_fmt(value(pre['input']))}) = {_fmt(i)}",
            f"f_t = σ(x_t·W_f + h_{{t-1}}·U_f + b_f) = σ({_fmt(value(pre['forget']))}) = {_fmt(f)}",
            f"c~_t = tanh(x_t·W_c + h_{{t-1}}·U_c + b_c) = tanh({_fmt(value(pre['candidate']))}) = {_fmt(g)}",
            f"o_t = σ(x_t·W_o + h_{{t-1}}·U_o + b_o) = σ({_fmt(value(pre['output']))}) = {_fmt(o)}",
            f"c_t = f·c_{{t-1}} + i·c~ = {_fmt(f)}·{_paren(c_prev)} + {_fmt(i)}·{_paren(g)} = {_fmt(c)}",
            f"h_t = o·tanh(c_t) = {_fmt(o)}·tanh({_fmt(c)}) = {_fmt(h)}",
        ]
    elif trace.cell == "gru":
        z, r, g = (value(trace.gates[name]) for name in ("update", "reset", "candidate"))
        reset_after = "reset_after" not in trace.extra or bool(np.asarray(trace.extra["reset_after"]).any())
        inner = (
            "x_t·W_h + b_in + r·(h_{t-1}·U_h + b_rec)" if reset_after else "x_t·W_h + (r·h_{t-1})·U_h + b_h"
        )
        lines += [
            f"z_t = σ(x_t·W_z + h_{{t-1}}·U_z + b_z) = σ({_fmt(value(pre['update']))}) = {_fmt(z)}",
            f"r_t = σ(x_t·W_r + h_{{t-1}}·U_r + b_r) = σ({_fmt(value(pre['reset']))}) = {_fmt(r)}",
            f"h~_t = tanh({inner}) = tanh({_fmt(value(pre['candidate']))}) = {_fmt(g)}",
            f"h_t = z·h_{{t-1}} + (1-z)·h~ = {_fmt(z)}·{_paren(h_prev)} + {_fmt(1 - z)}·{_paren(g)}"
            f" = {_fmt(h)}",
        ]
    else:
        raise InputError(f"unknown cell {trace.cell!r}")
    if trace.grad_hidden_norm is not None:
        lines.append(f"||dL/dh_t|| = {float(trace.grad_hidden_norm[sample, t]):.3g}")
    return lines
