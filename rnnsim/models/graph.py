"""The node graph of a functional model: its order, its checks, and where an Embedding can be folded.

Every layer call on symbolic tensors recorded a `Node` (rnnsim/layers/input_layer.py); these
functions walk them back from a model's outputs. Used by `Model` (functional.py).
"""

from __future__ import annotations

from rnnsim.errors import InputError
from rnnsim.layers import Embedding
from rnnsim.layers.base import shape_text
from rnnsim.layers.input_layer import InputLayer


def order_nodes(outputs) -> list:
    """Every node the outputs depend on, in Keras's order: by depth from the outputs, deepest (the
    inputs) first, ties in the order a depth-first walk from the outputs finishes them."""
    finished, seen = [], set()

    def visit(node):
        if id(node) in seen:
            return
        seen.add(id(node))
        for tensor in node.parents:
            visit(tensor.node)
        finished.append(node)

    for tensor in outputs:
        visit(tensor.node)
    depth = {}
    for node in reversed(finished):  # every consumer of a node comes before it here
        here = depth.setdefault(id(node), 0)
        for tensor in node.parents:
            depth[id(tensor.node)] = max(depth.get(id(tensor.node), 0), here + 1)
    position = {id(node): k for k, node in enumerate(finished)}
    return sorted(finished, key=lambda node: (-depth[id(node)], position[id(node)]))


def tensor_list(value, label) -> list:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if isinstance(value, dict):
        raise InputError(f"give the model's {label} as a tensor or a list of tensors, not a dict")
    if not items:
        raise InputError(f"the model needs at least one of its {label}")
    for item in items:
        if not getattr(item, "is_symbolic_tensor", False):
            raise InputError(f"the model's {label} must be tensors made by rnnsim.Input and layers, "
                             f"got {type(item).__name__}")
    return items



def check_graph(inputs, nodes) -> list:
    """`nodes` (from order_nodes), after checking the inputs, connectivity and that every layer appears once."""
    for tensor in inputs:
        if not isinstance(tensor.node.layer, InputLayer):
            raise InputError(f"model inputs must come from rnnsim.Input; {tensor.name!r} was made by layer "
                             f"{tensor.node.layer.name!r} ({type(tensor.node.layer).__name__})")
    if len({id(tensor) for tensor in inputs}) != len(inputs):
        raise InputError("the same Input is listed twice in the model's inputs")
    given = {id(tensor.node) for tensor in inputs}
    reached = {id(node) for node in nodes}
    for node in nodes:
        if isinstance(node.layer, InputLayer) and id(node) not in given:
            raise InputError(f"graph disconnected: the outputs depend on Input {node.layer.name!r} "
                             f"{shape_text(node.outputs[0].shape)}, which is not among the model's inputs")
    for tensor in inputs:
        if id(tensor.node) not in reached:
            raise InputError(f"graph disconnected: Input {tensor.node.layer.name!r} "
                             f"{shape_text(tensor.shape)} leads to none of the model's outputs")
    seen_layers, seen_names = set(), set()
    for node in nodes:
        if id(node.layer) in seen_layers:
            raise InputError(f"layer {node.layer.name!r} is called twice in this model; rnnsim keeps one "
                             "forward pass per layer for its backward pass, so give the second call its own layer")
        if node.layer.name in seen_names:
            raise InputError(f"layer name {node.layer.name!r} is used twice in the model; names must be unique")
        seen_layers.add(id(node.layer))
        seen_names.add(node.layer.name)
    return nodes


def token_consumers(nodes, outputs) -> dict:
    """id(Embedding node) -> the recurrent node that alone consumes its output: the lookup can then be
    folded into the recurrent layer's input projection, as Sequential does."""
    consumers: dict[int, list] = {}
    for node in nodes:
        for tensor in node.parents:
            consumers.setdefault(id(tensor), []).append(node)
    output_ids = {id(tensor) for tensor in outputs}
    found = {}
    for node in nodes:
        if isinstance(node.layer, Embedding):
            tensor = node.outputs[0]
            users = consumers.get(id(tensor), [])
            if (id(tensor) not in output_ids and len(users) == 1 and users[0].inputs[0] is tensor
                    and hasattr(users[0].layer, "accepts_tokens") and tensor not in users[0].initial_state):
                found[id(node)] = users[0]
    return found
