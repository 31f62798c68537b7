"""The layer registry: class name -> layer class, for model configs and saved files.

Each family module (embedding, core, recurrent, ...) lists its layers in `LAYERS`, and
`rnnsim/layers/__init__.py` registers every family; this module imports none of them, so a
layer that holds another (Bidirectional) can rebuild it from its config without a circle.
"""

from __future__ import annotations

from rnnsim.errors import InputError
from rnnsim.layers.base import Layer

LAYER_CLASSES: dict[str, type[Layer]] = {}  # filled by rnnsim/layers/__init__.py, in the families' order


def register(*classes: type[Layer]) -> None:
    """Make layer classes loadable by name (their `__name__`, as written by `serialize`).

    Args:
        *classes: Layer subclasses; a name registered twice must be the same class.
    """
    for cls in classes:
        known = LAYER_CLASSES.get(cls.__name__)
        if known is not None and known is not cls:
            raise ValueError(f"two layer classes are named {cls.__name__!r}: {known} and {cls}")
        LAYER_CLASSES[cls.__name__] = cls


def layer_from_config(entry: dict) -> Layer:
    """A layer from {'class_name': ..., 'config': {...}} (as written by `serialize`)."""
    class_name = entry.get("class_name")
    if class_name not in LAYER_CLASSES:
        raise InputError(f"unknown layer class {class_name!r} in the model config")
    return LAYER_CLASSES[class_name].from_config(dict(entry.get("config", {})))


def serialize(layer: Layer) -> dict:
    """{'class_name': ..., 'config': layer.get_config()}, the entry `layer_from_config` reads back."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}
