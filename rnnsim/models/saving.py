"""Saving and loading a whole model as ONE numpy `.npz` file. Never pickle.

The file holds:

    __config__     uint8 array: UTF-8 JSON with the model config, the compile config, the optimizer
                   config, the optimizer's iteration count, the number of epochs trained, every
                   random generator's state, and a table of the arrays below with their shapes
    weight_000...  the weights in get_weights order (Keras's order and layout)
    optimizer_000  the optimizer's slots (RMSprop velocity, Adam moments, ...)

It is written to a temporary file in the same folder and moved over the target with
`os.replace`, so an interrupted save leaves the previous file intact. It is read with
`allow_pickle=False`. Because the random state is saved too, loading and training on gives
the same weights as never having stopped.

This module knows no model class: each registers itself (`register_model_class`), and
`load_model` rebuilds the one the file names (Sequential, or Model for a functional model, whose
config holds its graph: rnnsim/models/functional_config.py), so the model modules can import this one.
"""

from __future__ import annotations

import json
import os

import numpy as np

from rnnsim import optimizers as optimizers_module
from rnnsim.atomic import atomic_write
from rnnsim.errors import InputError

FORMAT = "rnnsim-model"
VERSION = 1

MODEL_CLASSES: dict[str, type] = {}  # class name -> model class with from_config; filled by register_model_class


def register_model_class(cls: type) -> type:
    """Class decorator: `load_model` may rebuild models of this class (by its `__name__`)."""
    MODEL_CLASSES[cls.__name__] = cls
    return cls


def _generators(model):
    """Every numpy Generator a model draws from, in a fixed order."""
    found = [("shuffle", model.shuffle_rng)]
    for layer in model.layers:
        inner = [layer]
        if hasattr(layer, "forward_layer"):
            inner += [layer.forward_layer, layer.backward_layer]
        for index, part in enumerate(inner):
            for kind in ("init_rng", "dropout_rng"):
                found.append((f"{layer.name}/{index}/{kind}", getattr(part, kind)))
    return found


def save_model(model, filepath) -> None:
    """Write `model` to `filepath` atomically (see the module docstring)."""
    if not model.built:
        raise InputError("the model is not built yet, so it has no weights to save; train or build it first")
    filepath = os.fspath(filepath)
    arrays: dict[str, np.ndarray] = {}
    weight_table = []
    for index, weight in enumerate(model.weights):
        key = f"weight_{index:03d}"
        arrays[key] = weight
        weight_table.append({"key": key, "shape": list(weight.shape), "dtype": weight.dtype.name})
    compile_config = None
    optimizer_state = None
    if model.compiled:
        compile_config = {"optimizer": optimizers_module.serialize(model.optimizer)}
        # A functional model says how it was compiled (a loss and metrics per output, loss weights).
        compile_config.update(getattr(model, "compile_arguments", None)
                              or {"loss": model.loss.name, "metrics": list(model.metric_names)})
        iterations, entries = model.optimizer.get_state()
        slots = []
        for position, (variable_index, slot_name, array) in enumerate(entries):
            key = f"optimizer_{position:03d}"
            arrays[key] = array
            slots.append({"key": key, "variable": variable_index, "slot": slot_name, "shape": list(array.shape)})
        optimizer_state = {"iterations": iterations, "slots": slots, "built": model.optimizer.slots is not None}
    config = {
        "format": FORMAT,
        "version": VERSION,
        "model": model.get_config(),
        "compile": compile_config,
        "optimizer_state": optimizer_state,
        "epochs_trained": model.epochs_trained,
        "metadata": model.metadata,
        "rng": {name: (None if rng is None else rng.bit_generator.state) for name, rng in _generators(model)},
        "weights": weight_table,
    }
    try:
        text = json.dumps(config)
    except TypeError as error:
        raise InputError(f"model.metadata must hold only JSON values (str, number, list, dict): {error}") from None
    arrays["__config__"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    folder = os.path.dirname(os.path.abspath(filepath))
    if not os.path.isdir(folder):
        raise InputError(f"cannot save to {filepath}: the folder {folder} does not exist")
    with atomic_write(filepath) as stream:
        np.savez(stream, **arrays)


def _read(filepath):
    if not os.path.exists(filepath):
        raise InputError(f"no model file at {filepath}")
    try:
        with np.load(filepath, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        config = json.loads(arrays.pop("__config__").tobytes().decode("utf-8"))
    except Exception as error:  # any failure to read is a damaged file, whatever numpy/zipfile raised
        raise InputError(
            f"{filepath} is not a readable rnnsim model file (truncated or corrupted?): "
            f"{type(error).__name__}: {error}".splitlines()[0]
        ) from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise InputError(f"{filepath} is not an rnnsim model file (no '{FORMAT}' header)")
    if config.get("version") != VERSION:
        raise InputError(f"{filepath} has format version {config.get('version')}, this rnnsim reads {VERSION}")
    return config, arrays


def _model_class(model_config: dict) -> type:
    name = model_config.get("class_name", "Sequential")  # Sequential's config names no class
    if name not in MODEL_CLASSES:
        raise InputError(f"unknown model class {name!r}; this rnnsim loads {', '.join(sorted(MODEL_CLASSES))}")
    return MODEL_CLASSES[name]


def load_model(filepath, device=None):
    """Load a model written by `model.save`: same config, weights, optimizer state and random state.

    Raises InputError (one line) for a damaged or mismatched file.

    Args:
        filepath: the .npz file.
        device: 'cpu' or 'cuda' for the recurrent layers (default None: the device it was saved from).
    """
    filepath = os.fspath(filepath)
    config, arrays = _read(filepath)
    try:
        model = _model_class(config["model"]).from_config(config["model"], device=device)
        weight_table = config["weights"]
        weights = [arrays[entry["key"]] for entry in weight_table]
    except InputError as error:
        raise InputError(f"{filepath}: the model config cannot be rebuilt: {error}") from None
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{filepath}: the model config is damaged ({type(error).__name__}: {error})") from None
    if not model.built:
        raise InputError(f"{filepath}: the model config has no input shape, so its weights cannot be placed")
    expected = [w.shape for w in model.weights]
    found = [w.shape for w in weights]
    if expected != found:
        raise InputError(
            f"{filepath}: the weights in the file do not match its model config "
            f"({len(found)} arrays {found[:4]}... vs {len(expected)} expected {expected[:4]}...)"
        )
    model.set_weights(weights)

    if config.get("compile"):
        compile_config = config["compile"]
        try:
            extra = {"loss_weights": compile_config["loss_weights"]} if "loss_weights" in compile_config else {}
            model.compile(optimizer=optimizers_module.get(compile_config["optimizer"]),
                          loss=compile_config["loss"], metrics=compile_config["metrics"], **extra)
            state = config.get("optimizer_state") or {}
            if state.get("built"):
                entries = [(entry["variable"], entry["slot"], arrays[entry["key"]]) for entry in state["slots"]]
                model.optimizer.set_state(state["iterations"], entries, model.weights)
            else:
                model.optimizer.iterations = int(state.get("iterations", 0))
        except InputError as error:
            raise InputError(f"{filepath}: the optimizer state does not match the model: {error}") from None
        except (KeyError, TypeError) as error:
            raise InputError(f"{filepath}: the compile config is damaged ({type(error).__name__}: {error})") from None

    saved_states = config.get("rng") or {}
    for name, rng in _generators(model):
        state = saved_states.get(name)
        if rng is not None and state is not None:
            try:
                rng.bit_generator.state = state
            except (TypeError, ValueError, KeyError) as error:
                raise InputError(f"{filepath}: random state {name!r} is damaged: {error}") from None
    model.epochs_trained = int(config.get("epochs_trained", 0))
    model.metadata = dict(config.get("metadata") or {})
    return model
