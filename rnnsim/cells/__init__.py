"""The three recurrent cells: SimpleRNN, LSTM and GRU (see API.md in this folder).

Each cell's file holds its equations, its Numba forward kernel and its Numba backward
(BPTT) kernel; `base.py` holds what they share; `rnnsim.reference` holds a plain-NumPy
version of each, written to be read, that the tests use as the oracle.
"""

# First: it keys the on-disk cache of every kernel decorated after it on this whole folder (kernel_cache.py).
from rnnsim.cells import kernel_cache  # noqa: F401
from rnnsim.cells.base import CellGradients, ForwardResult, RecurrentCell
from rnnsim.cells.gru import GRUCell
from rnnsim.cells.lstm import LSTMCell
from rnnsim.cells.simple_rnn import SimpleRNNCell
from rnnsim.errors import InputError

CELLS = {"simple_rnn": SimpleRNNCell, "lstm": LSTMCell, "gru": GRUCell}
ALIASES = {"rnn": "simple_rnn", "simplernn": "simple_rnn", "simple_rnn": "simple_rnn", "lstm": "lstm", "gru": "gru"}


def make_cell(name: str, units: int, **options) -> RecurrentCell:
    """A cell by name ('rnn'/'simple_rnn', 'lstm', 'gru') with the given options."""
    key = ALIASES.get(str(name).lower())
    if key is None:
        raise InputError(f"unknown cell {name!r}; choose one of rnn, lstm, gru")
    return CELLS[key](units, **options)


__all__ = [
    "CELLS",
    "CellGradients",
    "ForwardResult",
    "GRUCell",
    "LSTMCell",
    "RecurrentCell",
    "SimpleRNNCell",
    "make_cell",
]
