"""Keras-style layers: Embedding, SimpleRNN, LSTM, GRU, Bidirectional, Dense, Dropout, Masking.

One module per family: `base` (Layer and the shared argument checks), `embedding`, `recurrent`
(SimpleRNN, LSTM, GRU over the cells of rnnsim.cells), `bidirectional`, `core` (Dense, Dropout,
Masking); `registry` maps class names to classes for configs and saved files. See `base` for
what every layer does (forward keeps what backward needs, masks, direct calls).
"""

from rnnsim.layers import bidirectional, core, embedding, recurrent
from rnnsim.layers.base import FLOAT_DTYPES, Layer
from rnnsim.layers.bidirectional import Bidirectional
from rnnsim.layers.core import Dense, Dropout, Masking
from rnnsim.layers.embedding import Embedding
from rnnsim.layers.recurrent import GRU, LSTM, RNN, SimpleRNN
from rnnsim.layers.registry import LAYER_CLASSES, layer_from_config, register, serialize

# Every family's layers, loadable by name. A new family: its module's LAYERS here, and its classes above.
for _family in (embedding, core, recurrent, bidirectional):
    register(*_family.LAYERS)
del _family

__all__ = [
    "FLOAT_DTYPES",
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
