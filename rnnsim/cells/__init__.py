"""The three recurrent cells: SimpleRNN, LSTM and GRU (see API.md in this folder).

Each cell declares its gates and equations once in `spec.py`; its own file holds its Numba
forward kernel and its Numba backward (BPTT) kernel; `base.py` holds what they share;
`rnnsim.reference` holds a plain-NumPy version of each, written to be read, that the tests use
as the oracle. The names users type for a cell ('rnn', 'SimpleRNN', ...) are in `rnnsim.registry`.
"""

# First, before any `@njit(cache=True)` below is decorated: choose a writable Numba cache (cache.py),
# then key the cache of every kernel on this whole folder (kernel_cache.py). Imported in that order.
from rnnsim.cells import cache, kernel_cache  # noqa: F401
from rnnsim.cells.base import CellGradients, ForwardResult, RecurrentCell
from rnnsim.cells.gru import GRUCell
from rnnsim.cells.lstm import LSTMCell
from rnnsim.cells.simple_rnn import SimpleRNNCell
from rnnsim.registry import ALIASES, resolve_cell

CELLS = {"simple_rnn": SimpleRNNCell, "lstm": LSTMCell, "gru": GRUCell}  # registry key -> class


def make_cell(name: str, units: int, **options) -> RecurrentCell:
    """A cell by any of its names ('rnn', 'simple_rnn', 'SimpleRNN', 'lstm', 'gru') with the given options."""
    return CELLS[resolve_cell(name)](units, **options)


__all__ = [
    "ALIASES",
    "CELLS",
    "CellGradients",
    "ForwardResult",
    "GRUCell",
    "LSTMCell",
    "RecurrentCell",
    "SimpleRNNCell",
    "make_cell",
]
