"""Each cell's gates and equations are declared once (rnnsim/cells/spec.py); what shows a cell renders them."""

import re

import numpy as np
import pytest

from rnnsim.cells import GRUCell, LSTMCell, SimpleRNNCell
from rnnsim.cells.spec import SPECS
from rnnsim.render.equations import equations, title_of

CELLS = {
    "simple_rnn": lambda: SimpleRNNCell(3),
    "lstm": lambda: LSTMCell(3),
    "gru": lambda: GRUCell(3),
    "gru_reset_before": lambda: GRUCell(3, reset_after=False),
}


def real_trace(variant, steps=5, seed=0):
    cell = CELLS[variant]()
    rng = np.random.default_rng(seed)
    weights = cell.init_weights(2, rng, np.float64)
    x = rng.normal(size=(2, steps, 2))
    return cell, cell.forward(x, weights, record_trace=True).trace


@pytest.mark.parametrize("variant", list(CELLS))
def test_a_trace_has_the_declared_gates_in_the_kernels_block_order(variant):
    cell, trace = real_trace(variant)
    assert tuple(trace.gates) == SPECS[cell.name].gate_names
    assert len(SPECS[cell.name].gates) == cell.n_blocks


@pytest.mark.parametrize("variant", list(CELLS))
def test_every_equation_fills_with_the_recorded_numbers(variant):
    cell, trace = real_trace(variant)
    lines = equations(trace, t=2, unit=1, sample=1)
    declared = SPECS[cell.name].lines(**trace.options)
    assert [line.split(" = ")[0] for line in lines] == [equation.text.split(" = ")[0] for equation in declared]
    hidden = f"{trace.hidden[1, 2, 1]:.2f}"
    assert any(line.endswith(f"= {hidden}") for line in lines)  # the h_t line ends with h_t's value
    assert not any(re.search(r"\{[a-z_]+(:p)?\}", line) for line in lines)  # every template field was filled


def test_a_gru_with_reset_after_false_is_shown_its_own_candidate_equation():
    _, before = real_trace("gru_reset_before")
    _, after = real_trace("gru")
    assert before.options == {"reset_after": False}
    assert after.options == {"reset_after": True}
    candidate_before = next(line for line in equations(before, 1, 0) if line.startswith("h~_t"))
    candidate_after = next(line for line in equations(after, 1, 0) if line.startswith("h~_t"))
    assert "(r·h_{t-1})·U_h" in candidate_before and "b_rec" not in candidate_before
    assert "r·(h_{t-1}·U_h + b_rec)" in candidate_after


def test_the_worked_numbers_are_the_traces_own():
    _, trace = real_trace("lstm")
    t, unit = 3, 2
    forget = next(line for line in equations(trace, t, unit) if line.startswith("f_t"))
    pre = trace.preactivations["forget"][0, t, unit]
    assert forget.endswith(f"σ({pre:.2f}) = {trace.gates['forget'][0, t, unit]:.2f}")
    cell_line = next(line for line in equations(trace, t, unit) if line.startswith("c_t"))
    previous = trace.cell_state[0, t - 1, unit]
    shown = f"({previous:.2f})" if previous < 0 else f"{previous:.2f}"
    assert f"·{shown} + " in cell_line


@pytest.mark.parametrize("cls", [SimpleRNNCell, LSTMCell, GRUCell])
def test_each_cells_docstring_ends_with_its_declared_equations(cls):
    for equation in cls.spec.equations:
        assert equation.text in cls.__doc__
    for gate in cls.spec.gates:
        assert gate.role in cls.__doc__


def test_headings_use_each_cells_own_candidate_symbol():
    assert title_of("candidate", "lstm") == "candidate c~"
    assert title_of("candidate", "gru") == "candidate h~"
    assert title_of("candidate", "simple_rnn") == "candidate h"
    assert title_of("forget", "lstm") == "forget gate f"
    assert title_of("update", "gru") == "update gate z"
