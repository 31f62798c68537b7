"""Keras-style layers: Embedding, SimpleRNN, LSTM, GRU, Bidirectional, Dense, Dropout, Masking, the merges.

One module per family: `base` (Layer and the shared argument checks), `embedding`, `recurrent`
(SimpleRNN, LSTM, GRU over the cells of rnnsim.cells), `bidirectional`, `core` (Dense, Dropout,
Masking), `merge` (Concatenate, Add, ...); `input_layer` holds `Input` and the symbolic tensors of
functional models (rnnsim.Model); `registry` maps class names to classes for configs and saved files. See `base` for
what every layer does (forward keeps what backward needs, masks, direct calls).
"""

from rnnsim.layers import bidirectional, core, embedding, merge, recurrent
from rnnsim.layers.base import FLOAT_DTYPES, Layer
from rnnsim.layers.bidirectional import Bidirectional
from rnnsim.layers.core import Dense, Dropout, Masking
from rnnsim.layers.embedding import Embedding
from rnnsim.layers.input_layer import Input, InputLayer, KerasTensor, SymbolicTensor
from rnnsim.layers.merge import (
    Add,
    Average,
    Concatenate,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    multiply,
    subtract,
)
from rnnsim.layers.recurrent import GRU, LSTM, RNN, SimpleRNN
from rnnsim.layers.registry import LAYER_CLASSES, layer_from_config, register, serialize

# Every family's layers, loadable by name. A new family: its module's LAYERS here, and its classes above.
for _family in (embedding, core, recurrent, bidirectional, merge):
    register(*_family.LAYERS)
del _family

__all__ = [
    "FLOAT_DTYPES",
    "Add",
    "Average",
    "Concatenate",
    "Input",
    "InputLayer",
    "KerasTensor",
    "Multiply",
    "Subtract",
    "SymbolicTensor",
    "add",
    "average",
    "concatenate",
    "multiply",
    "subtract",
    "GRU",
    "LAYER_CLASSES",
    "LSTM",
    "RNN",
    "Bidirectional",
    "Dense",
    "Dropout",
    "Embedding",
    "Layer",
    "Masking",
    "SimpleRNN",
    "layer_from_config",
    "register",
    "serialize",
]
