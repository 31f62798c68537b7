"""The model file format, under its old import path: it lives in `rnnsim.models.saving`."""

from rnnsim.models.saving import FORMAT, VERSION, load_model, save_model

__all__ = ["FORMAT", "VERSION", "load_model", "save_model"]
