"""rnnsim: an educational simulator of recurrent neural networks.

SimpleRNN, LSTM and GRU cells compiled with Numba that record every gate of every unit at
every timestep, backpropagation through time written out by hand that measures the gradient
reaching each timestep, and a Keras-style API to train them on real data.
"""

__version__ = "0.1.0"


def set_seed(seed):
    """Seed every generator rnnsim draws from (weights, dropout, shuffling): same seed, same run."""
    from rnnsim.models import set_seed as _set_seed  # late: keep `import rnnsim` light

    _set_seed(seed)
