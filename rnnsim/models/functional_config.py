"""What a functional model (functional.py) shows and saves: its summary table and its config.

The config names every layer in `model.layers` order (inputs first, each layer after those it
reads) with the tensors it was called on, [layer name, output index], so `model_from_config` can
call the layers again in that order and rebuild the same graph. It is plain JSON, saved inside
the model's .npz file by saving.py.
"""

from __future__ import annotations

import shutil

from rnnsim.errors import InputError
from rnnsim.layers import LAYER_CLASSES, layer_from_config, serialize
from rnnsim.layers.base import shape_text
from rnnsim.layers.input_layer import InputLayer
from rnnsim.models.seeding import shuffle_generator

# -- summary -------------------------------------------------------------------------------


def is_chain(model) -> bool:
    """Does every layer read exactly the one before it (then Keras's summary has no 'Connected to')?"""
    nodes = model.nodes
    return len(model.inputs) == 1 and len(model.outputs) == 1 and all(
        len(node.parents) == 1 and node.parents[0].node is nodes[k] and len(nodes[k].outputs) == 1
        for k, node in enumerate(nodes[1:]))


def _connections(node) -> str:
    return ", ".join(f"{tensor.node.layer.name}[0][{tensor.index}]" for tensor in node.parents) or "-"


def _outputs_text(node) -> str:
    shapes = [shape_text(tensor.shape) for tensor in node.outputs]
    return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"


def _memory_text(count_bytes) -> str:
    size = float(count_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"


def print_summary(model, line_length=None, print_fn=None) -> None:
    """Keras 3's summary table (keras/src/utils/summary_utils.py), drawn with rich as Keras draws it."""
    from rich import box
    from rich.console import Console
    from rich.table import Column, Table
    from rich.text import Text

    chain = is_chain(model)
    default, positions = (88, (0.45, 0.80, 1.0)) if chain else (108, (0.3, 0.56, 0.74, 1.0))
    width = int(line_length or min(default, shutil.get_terminal_size().columns - 4))
    widths, edge = [], 0
    for position in positions:
        widths.append(int(position * width) - edge)
        edge += widths[-1]
    if min(widths) < 4:
        raise InputError(f"line_length={line_length} is too narrow for the summary")
    header = ["Layer (type)", "Output Shape", "Param #"] + ([] if chain else ["Connected to"])
    justify = ["left", "left", "right", "left"]
    table = Table(*[Column(name, justify=justify[k], width=widths[k]) for k, name in enumerate(header)],
                  width=width, show_lines=True, box=box.HEAVY_HEAD)
    for node in model.nodes:
        layer = node.layer
        cells = [f"{layer.name} ({type(layer).__name__})", _outputs_text(node), f"{layer.count_params():,}"]
        if not chain:
            cells.append(_connections(node))
        table.add_row(*[Text(cell) for cell in cells])
    total = model.count_params()
    trainable = sum(layer.count_params() for layer in model.layers if layer.trainable)
    item = 8 if model.dtype == "float64" else 4
    console = Console(width=width + 1, highlight=False, color_system=None, force_terminal=False)
    with console.capture() as captured:
        console.print(Text(f'Model: "{model.name}"'))
        console.print(table)
        console.print(Text(f" Total params: {total:,} ({_memory_text(total * item)})"))
        console.print(Text(f" Trainable params: {trainable:,} ({_memory_text(trainable * item)})"))
        frozen = total - trainable
        console.print(Text(f" Non-trainable params: {frozen:,} ({_memory_text(frozen * item)})"))
    text = captured.get().rstrip("\n")
    (print_fn or print)(text)


# -- config --------------------------------------------------------------------------------


def model_config(model) -> dict:
    """The graph as JSON: every layer with the tensors it reads, the inputs and the outputs."""
    layers = []
    for node in model.nodes:
        entry = serialize(node.layer)
        entry["inbound"] = [[tensor.node.layer.name, tensor.index] for tensor in node.inputs]
        entry["initial_state"] = [[tensor.node.layer.name, tensor.index] for tensor in node.initial_state]
        entry["takes_list"] = node.takes_list
        layers.append(entry)
    return {
        "class_name": "Model",
        "name": model.name,
        "seed": model.seed,
        "seed_entropy": str(model.seed_entropy),  # may exceed 64 bits: kept as text
        "dtype": model.dtype,
        "device": model.device,
        "layers": layers,
        "input_layers": [[tensor.node.layer.name, tensor.index] for tensor in model.inputs],
        "output_layers": [[tensor.node.layer.name, tensor.index] for tensor in model.outputs],
        "single_input": model._single_input,
        "single_output": model._single_output,
    }


def _rebuild_layer(entry, dtype, entropy):
    """One layer from its config entry, with its saved name, the model's dtype and derived generators."""
    class_name = entry.get("class_name")
    name = (entry.get("config") or {}).get("name")
    if class_name == "InputLayer":
        return InputLayer(**entry["config"])
    if class_name not in LAYER_CLASSES:
        raise InputError(f"unknown layer class {class_name!r} (layer {name!r}) in the model config; this rnnsim "
                         f"knows {', '.join(sorted(LAYER_CLASSES))}")
    layer = layer_from_config(entry)
    layer.input_shape = None  # built from the graph's tensors
    if layer.has_weights:
        layer.dtype = dtype
    layer.attach_rngs(entropy)  # replaced by the saved random states when load_model reads a file
    return layer


def model_from_config(model_class, config: dict, device=None):
    """The model `model_config` describes: its layers rebuilt and called again in the saved order."""
    saved_device = config.get("device", "cpu")
    seed_entropy = int(config["seed_entropy"])
    dtype = config.get("dtype", "float32")
    tensors: dict[str, list] = {}  # layer name -> its output tensors

    def find(reference, reader):
        name, index = reference
        if name not in tensors or not 0 <= int(index) < len(tensors[name]):
            raise InputError(f"layer {reader!r} reads {name}[{index}], which the config does not define before it")
        return tensors[name][int(index)]

    for position, entry in enumerate(config.get("layers", [])):
        layer = _rebuild_layer(entry, dtype, [seed_entropy, position])
        if isinstance(layer, InputLayer):
            tensors[layer.name] = [layer.output]
            continue
        inputs = [find(reference, layer.name) for reference in entry.get("inbound", [])]
        states = [find(reference, layer.name) for reference in entry.get("initial_state", [])]
        if not inputs:
            raise InputError(f"layer {layer.name!r} reads no tensor in the model config")
        called_on = inputs if entry.get("takes_list") else inputs[0]
        outputs = layer(called_on, initial_state=states) if states else layer(called_on)
        tensors[layer.name] = outputs if isinstance(outputs, list) else [outputs]
    inputs = [find(reference, "the model's inputs") for reference in config.get("input_layers", [])]
    outputs = [find(reference, "the model's outputs") for reference in config.get("output_layers", [])]
    try:
        model = model_class(inputs[0] if config.get("single_input") and len(inputs) == 1 else inputs,
                            outputs[0] if config.get("single_output") and len(outputs) == 1 else outputs,
                            name=config.get("name"), seed=0, device=device or saved_device)
    except InputError as error:
        if device is None and saved_device == "cuda":
            raise InputError(f"it was saved on device 'cuda' ({error}); load it with device='cpu'") from None
        raise
    model.seed = config.get("seed")
    model.seed_entropy = seed_entropy
    model.shuffle_rng = shuffle_generator(seed_entropy)
    return model
