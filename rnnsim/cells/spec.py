"""What each cell computes, declared once: its gates and the text of its equations.

Everything that *shows* a cell reads these declarations: the cells' docstrings, the equation
panel of the app's Gates tab and `rnnsim inspect` (through `rnnsim.render.equations`), the gate
names of a `Trace`, the headings of the heatmaps. The Numba kernels in `simple_rnn.py`, `lstm.py`
and `gru.py` compute the same equations and `rnnsim.reference` computes them again in plain NumPy
as the tests' oracle: those are code, checked against each other; this is the text.

An equation has a symbolic side (`f_t = σ(x_t·W_f + h_{t-1}·U_f + b_f)`) and a worked side, a
template that the equation panel fills with the numbers recorded at one step and unit
(`σ({forget_pre}) = {forget}`). The template's fields are:

    {name}        the gate's activation (a gate name: input, forget, candidate, update, ...)
    {name_pre}    the gate's pre-activation, x_t W + h_{t-1} U + b of its block
    {not_name}    1 - the gate's activation
    {hidden}, {hidden_prev}, {cell}, {cell_prev}    h_t, h_{t-1}, c_t, c_{t-1}

and `{field:p}` writes a negative number in parentheses, so `0.9·(-0.3)` reads as a product.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gate:
    """One block of a cell's kernel: a gate (sigmoid) or the candidate (tanh)."""

    name: str  # the key in Trace.gates, e.g. 'forget'
    symbol: str  # as written in the equations, e.g. 'f'
    role: str  # what it does, in a learner's words


@dataclass(frozen=True)
class Equation:
    """One line of a cell's step: symbolic text, and the worked numbers as a template."""

    text: str  # e.g. 'f_t = σ(x_t·W_f + h_{t-1}·U_f + b_f)'
    worked: str  # e.g. 'σ({forget_pre}) = {forget}'
    when: str = ""  # an option the line depends on: 'reset_after' or 'not reset_after'; '' for always

    def applies(self, options: dict) -> bool:
        if not self.when:
            return True
        name = self.when.removeprefix("not ")
        wanted = not self.when.startswith("not ")
        return bool(options.get(name, True)) == wanted


@dataclass(frozen=True)
class CellSpec:
    """A cell's declaration: its gates in Keras's block order and its equations."""

    key: str  # 'simple_rnn' | 'lstm' | 'gru'
    gates: tuple[Gate, ...]
    equations: tuple[Equation, ...]
    memory: str  # why it remembers (or forgets), one sentence

    @property
    def gate_names(self) -> tuple[str, ...]:
        return tuple(gate.name for gate in self.gates)

    def symbol(self, gate_name: str) -> str:
        for gate in self.gates:
            if gate.name == gate_name:
                return gate.symbol
        raise KeyError(gate_name)

    def lines(self, **options) -> list[Equation]:
        """The equations that apply under the cell's options (e.g. reset_after=False)."""
        return [equation for equation in self.equations if equation.applies(options)]

    def text(self, indent: str = "    ", **options) -> str:
        """The equations as plain text, one per line, for a docstring."""
        return "\n".join(f"{indent}{equation.text}" for equation in self.lines(**options))

    def docstring(self) -> str:
        """The block a cell's docstring ends with: gates, equations (every variant), why it remembers."""
        gates = "\n".join(f"    {gate.symbol:<3} {gate.name:<10} {gate.role}" for gate in self.gates)
        variants = sorted({equation.when for equation in self.equations if equation.when})
        if variants:
            flag = variants[0].removeprefix("not ")
            body = "\n\n".join(
                f"  With {flag}={value}:\n" + self.text(**{flag: value}) for value in (True, False)
            )
        else:
            body = self.text()
        return f"Gates (Keras's block order):\n\n{gates}\n\nEquations, one step:\n\n{body}\n\n{self.memory}\n"


SIMPLE_RNN = CellSpec(
    key="simple_rnn",
    gates=(Gate("candidate", "h", "the new hidden state, tanh(x W + h U + b)"),),
    equations=(Equation("h_t = tanh(x_t·W + h_{t-1}·U + b)", "tanh({candidate_pre}) = {hidden}"),),
    memory=(
        "Why it forgets: each step multiplies the gradient by tanh'(a_t) U, and a product of many\n"
        "such factors shrinks (or blows up) geometrically with the distance in time."
    ),
)

LSTM = CellSpec(
    key="lstm",
    gates=(
        Gate("input", "i", "how much of the candidate to write"),
        Gate("forget", "f", "how much of the old cell state to keep"),
        Gate("candidate", "c~", "what could be written, tanh(x W_c + h U_c + b_c)"),
        Gate("output", "o", "how much of the cell state to show"),
    ),
    equations=(
        Equation("i_t = σ(x_t·W_i + h_{t-1}·U_i + b_i)", "σ({input_pre}) = {input}"),
        Equation("f_t = σ(x_t·W_f + h_{t-1}·U_f + b_f)", "σ({forget_pre}) = {forget}"),
        Equation("c~_t = tanh(x_t·W_c + h_{t-1}·U_c + b_c)", "tanh({candidate_pre}) = {candidate}"),
        Equation("o_t = σ(x_t·W_o + h_{t-1}·U_o + b_o)", "σ({output_pre}) = {output}"),
        Equation("c_t = f·c_{t-1} + i·c~", "{forget}·{cell_prev:p} + {input}·{candidate:p} = {cell}"),
        Equation("h_t = o·tanh(c_t)", "{output}·tanh({cell}) = {hidden}"),
    ),
    memory=(
        "Why it remembers: along the cell state c the gradient is multiplied only by f_t, and a\n"
        "forget gate near 1 passes it back almost unchanged for many steps."
    ),
)

GRU = CellSpec(
    key="gru",
    gates=(
        Gate("update", "z", "how much of h_{t-1} to keep"),
        Gate("reset", "r", "how much of h_{t-1} the candidate sees"),
        Gate("candidate", "h~", "the replacement for h_{t-1}"),
    ),
    equations=(
        Equation("z_t = σ(x_t·W_z + h_{t-1}·U_z + b_z)", "σ({update_pre}) = {update}"),
        Equation("r_t = σ(x_t·W_r + h_{t-1}·U_r + b_r)", "σ({reset_pre}) = {reset}"),
        Equation(
            "h~_t = tanh(x_t·W_h + b_in + r·(h_{t-1}·U_h + b_rec))",
            "tanh({candidate_pre}) = {candidate}",
            when="reset_after",
        ),
        Equation(
            "h~_t = tanh(x_t·W_h + (r·h_{t-1})·U_h + b_h)",
            "tanh({candidate_pre}) = {candidate}",
            when="not reset_after",
        ),
        Equation(
            "h_t = z·h_{t-1} + (1-z)·h~",
            "{update}·{hidden_prev:p} + {not_update}·{candidate:p} = {hidden}",
        ),
    ),
    memory=(
        "Why it remembers: where z_t is near 1, h_{t-1} passes to h_t (and dL/dh_t back to\n"
        "dL/dh_{t-1}) almost unchanged: a leak-free path like the LSTM's cell state."
    ),
)

SPECS = {spec.key: spec for spec in (SIMPLE_RNN, LSTM, GRU)}


def spec_for(cell: str) -> CellSpec:
    """The declaration of a cell by its key ('simple_rnn', 'lstm', 'gru')."""
    return SPECS[cell]
