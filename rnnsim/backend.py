"""keras.backend for rnnsim: `clear_session`.

rnnsim has one backend, NumPy plus its own Numba kernels, so there is no backend to choose and no
framework graph, session or device memory to release.
"""

from __future__ import annotations


def clear_session(free_memory=True) -> None:
    """Start afresh, as keras.backend.clear_session.

    Keras 3 drops its global state here: the graph of its functional API, the counters behind
    automatic layer names and, with free_memory, garbage it collects. rnnsim keeps no graph or
    memory of its own to clear (a layer's arrays go when the layer goes), so this only does what
    a learner can see: automatic names start again ('lstm', 'dense', 'input_layer', 'functional'
    instead of 'lstm_3', ...), and layers built afterwards draw from the start of the global
    seed's stream, so after `set_random_seed(n)` the same code builds the same weights again.

    Args:
        free_memory: also run Python's garbage collector, as Keras does (default True).
    """
    from rnnsim.layers.input_layer import reset_names  # late: keep `import rnnsim.backend` light
    from rnnsim.utils.random import restart_layer_stream

    reset_names()
    restart_layer_stream()
    if free_memory:
        import gc

        gc.collect()
