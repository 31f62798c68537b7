"""rnnsim: an educational simulator of recurrent neural networks.

SimpleRNN, LSTM and GRU cells compiled with Numba that record every gate of every unit at
every timestep, backpropagation through time written out by hand that measures the gradient
reaching each timestep, and a Keras-style API to train them on real data.
"""

import os as _os

# Numba's parallel kernels run on OpenMP threads, and numpy's matrix products on OpenBLAS threads.
# By default OpenMP threads spin after a parallel region, fighting OpenBLAS (and each other) for
# the cores: on a 2-core machine a small training step took 15.6 ms instead of 2.4 ms. Sleeping
# threads cost a few microseconds to wake, once per kernel call. Set before Numba starts OpenMP;
# a user's own setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"


def set_seed(seed):
    """Seed every generator rnnsim draws from (weights, dropout, shuffling): same seed, same run."""
    from rnnsim.models import set_seed as _set_seed  # late: keep `import rnnsim` light

    _set_seed(seed)
