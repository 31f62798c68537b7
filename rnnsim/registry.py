"""The one table of recurrent cells: each cell's key, its Keras layer, and the names users type for it.

The command line (`--cell`, `rnnsim demo`), the experiment builder (`rnnsim.experiment`) and the
terminal app (`tui.session`) read cell names from here; `rnnsim.cells.make_cell` accepts the same
names (tests/test_registry.py holds the two together). This module is plain data: it imports no
numpy and no numba, so that building the CLI's argument parser and `import rnnsim` stay light.
The tasks' registry is `rnnsim.datasets.tasks.TASK_NAMES`.

    resolve_cell("SimpleRNN")   # 'simple_rnn'
    layer_name("rnn")           # 'SimpleRNN'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rnnsim.errors import InputError


@dataclass(frozen=True)
class CellEntry:
    """One recurrent cell, under every name it goes by."""

    key: str  # the cell's own name: a Trace's `cell`, its file in rnnsim/cells/, the app's setting
    layer: str  # the Keras layer over it (rnnsim.layers), as `RunConfig.cell` builds it
    short: str  # what the command line lists for --cell
    aliases: tuple[str, ...] = ()  # further spellings users type (matched case-insensitively)

    @property
    def names(self) -> tuple[str, ...]:
        """Every accepted spelling, lower case: the key, the short name, the layer's name, the aliases."""
        spellings = (self.key, self.short, self.layer, *self.aliases)
        return tuple(dict.fromkeys(spelling.lower() for spelling in spellings))


# In display order: the app's cell menu, `rnnsim demo` and the compare run follow it.
CELLS: tuple[CellEntry, ...] = (
    CellEntry(key="simple_rnn", layer="SimpleRNN", short="rnn"),
    CellEntry(key="lstm", layer="LSTM", short="lstm"),
    CellEntry(key="gru", layer="GRU", short="gru"),
)

CELL_KEYS: tuple[str, ...] = tuple(cell.key for cell in CELLS)  # ('simple_rnn', 'lstm', 'gru')
SHORT_NAMES: tuple[str, ...] = tuple(cell.short for cell in CELLS)  # ('rnn', 'lstm', 'gru')
LAYER_NAMES: dict[str, str] = {cell.key: cell.layer for cell in CELLS}  # 'simple_rnn' -> 'SimpleRNN'
# Every accepted spelling (lower case) -> the cell's key: 'rnn', 'simplernn', 'simple_rnn' -> 'simple_rnn'.
ALIASES: dict[str, str] = {name: cell.key for cell in CELLS for name in cell.names}

_BY_KEY = {cell.key: cell for cell in CELLS}


def _spelling(name: str) -> str:
    """How a typed name is compared: 'SimpleRNN', ' simple-rnn ' -> 'simplernn', 'simple_rnn'."""
    return str(name).strip().lower().replace("-", "_")


def cell_entry(name: str, choices: Iterable[str] | None = None) -> CellEntry:
    """The registry's entry for any accepted spelling of a cell; see `resolve_cell` for the error."""
    key = ALIASES.get(_spelling(name))
    if key is None:
        offered = SHORT_NAMES if choices is None else tuple(choices)
        raise InputError(f"unknown cell {name!r}; choose one of {', '.join(offered)}")
    return _BY_KEY[key]


def resolve_cell(name: str, choices: Iterable[str] | None = None) -> str:
    """The key ('simple_rnn', 'lstm', 'gru') of any accepted spelling, case-insensitive.

    Args:
        name: 'rnn', 'simple_rnn', 'simplernn', 'SimpleRNN', 'lstm', 'LSTM', 'gru', 'GRU', ...
        choices: the names an error message offers. Default the short names (rnn, lstm, gru), which
            the command line lists; the app offers its menu's names (SimpleRNN, LSTM, GRU).
    Raises:
        InputError: for an unknown name: "unknown cell 'x'; choose one of rnn, lstm, gru".
    """
    return cell_entry(name, choices).key


def layer_name(name: str) -> str:
    """The Keras layer ('SimpleRNN', 'LSTM', 'GRU') of any accepted spelling of a cell."""
    return cell_entry(name).layer


def layer_phrase(name: str) -> str:
    """'an LSTM layer', 'a GRU layer', 'a SimpleRNN layer': for messages about a cell of any spelling."""
    layer = layer_name(name)
    return f"{'an' if layer == 'LSTM' else 'a'} {layer} layer"


def short_name(name: str) -> str:
    """The command line's name ('rnn', 'lstm', 'gru') of any accepted spelling of a cell."""
    return cell_entry(name).short
