"""Models with Keras's API: `Sequential`, `load_model`, `set_seed`.

    sequential.py   Sequential: adding and building layers, shapes, weights, summary, forward/backward
    training.py     Trainer, the loop every model shares: compile, fit / fit_iter, evaluate, predict
    device.py       DevicePlacement: the recurrent layers on 'cpu' or 'cuda', the device optimizer step
    saving.py       save_model / load_model: one .npz file, never pickle
    seeding.py      set_seed and the random streams a model derives from its seed
"""

from rnnsim.callbacks import Callback
from rnnsim.models.saving import load_model, save_model
from rnnsim.models.seeding import set_seed
from rnnsim.models.sequential import Sequential

__all__ = ["Sequential", "load_model", "save_model", "set_seed", "Callback"]
