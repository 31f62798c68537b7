"""Keras-style layers: Embedding, SimpleRNN, LSTM, GRU, Bidirectional, Dense, Activation, Dropout, Masking, the
merges, and the chapters' baselines and preprocessing: Flatten, Reshape, RepeatVector, Conv1D, the 1-D poolings,
TextVectorization.

One module per family: `base` (Layer and the shared argument checks), `embedding`, `recurrent`
(SimpleRNN, LSTM, GRU over the cells of rnnsim.cells), `bidirectional`, `core` (Dense, Activation,
Dropout, Masking), `merge` (Concatenate, Add, ...), `reshaping` (Flatten, Reshape, RepeatVector), `conv` (Conv1D,
MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D, GlobalAveragePooling1D), `text`
(TextVectorization); `input_layer` holds `Input` and the symbolic tensors of functional models
(rnnsim.Model); `registry` maps class names to classes for configs and saved files. See `base` for
what every layer does (forward keeps what backward needs, masks, direct calls).
"""

from rnnsim.layers import bidirectional, conv, core, embedding, merge, recurrent, reshaping, text
from rnnsim.layers.base import FLOAT_DTYPES, Layer
from rnnsim.layers.bidirectional import Bidirectional
from rnnsim.layers.conv import AveragePooling1D, Conv1D, GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D
from rnnsim.layers.core import Activation, Dense, Dropout, Masking
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
from rnnsim.layers.reshaping import Flatten, RepeatVector, Reshape
from rnnsim.layers.text import TextVectorization

# Every family's layers, loadable by name. A new family: its module's LAYERS here, and its classes above.
for _family in (embedding, core, recurrent, bidirectional, merge, reshaping, conv, text):
    register(*_family.LAYERS)
del _family

__all__ = [
    "FLOAT_DTYPES",
    "Activation",
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
    "AveragePooling1D",
    "Bidirectional",
    "Conv1D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalAveragePooling1D",
    "GlobalMaxPooling1D",
    "Layer",
    "Masking",
    "MaxPooling1D",
    "RepeatVector",
    "Reshape",
    "SimpleRNN",
    "TextVectorization",
    "layer_from_config",
    "register",
    "serialize",
]
