"""Models with Keras's API: `Sequential`, `Model` (functional), `Input`, `load_model`, `set_seed`.

    sequential.py   Sequential: adding and building layers, shapes, weights, summary, forward/backward
    functional.py   Model(inputs, outputs): the graph of layers called on Input tensors, forward/backward
    graph.py        that graph's order (Keras's), its checks, where an Embedding folds into a recurrent layer
    functional_config.py   a functional model's summary table and its config (the graph as JSON)
    training.py     Trainer, the loop every model shares: compile, fit / fit_iter, evaluate, predict
    device.py       DevicePlacement: the recurrent layers on 'cpu' or 'cuda', the device optimizer step
    saving.py       save_model / load_model: one .npz file, never pickle
    seeding.py      set_seed and the random streams a model derives from its seed
"""

from rnnsim.callbacks import Callback
from rnnsim.layers.input_layer import Input, InputLayer
from rnnsim.models.functional import Functional, Model
from rnnsim.models.saving import load_model, save_model
from rnnsim.models.seeding import set_seed
from rnnsim.models.sequential import Sequential

__all__ = ["Callback", "Functional", "Input", "InputLayer", "Model", "Sequential", "load_model", "save_model",
           "set_seed"]
