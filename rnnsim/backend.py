"""`keras.backend`'s few names that the book's code calls on rnnsim.

    from rnnsim import backend as K
    K.clear_session()

rnnsim keeps no graph, no session and no global layer-name counter (a Sequential names its
layers itself, 'dense', 'dense_1', ...), so there is nothing a session holds that could be freed.
"""


def clear_session() -> None:
    """Keras's `backend.clear_session()`: here there is no global state to reset, so it changes nothing.

    Weights, optimizer slots and seeds belong to each model; `rnnsim.set_seed` stays in force, as
    Keras's global seed does across `clear_session()`.
    """
