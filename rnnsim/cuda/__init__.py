"""The GPU path: numba.cuda kernels for the SimpleRNN, LSTM and GRU cells, and device-side optimizers.

Importing this package is always safe (it imports no CUDA code). Check first, then build:

    from rnnsim.cuda import require_cuda, make_device_cell
    require_cuda()                          # InputError with one clear line if the GPU path is unusable
    device_cell = make_device_cell(cpu_cell)  # CudaSimpleRNNCell / CudaLSTMCell / CudaGRUCell
    weights = weights_to_device(weights)      # keep weights (and optimizer state) resident
    result = device_cell.forward(x_device, weights, ...)   # the API of rnnsim/cells/API.md
    grads = device_cell.backward(result, grad_outputs=...)
    apply_update(optimizer, weights[name], grads.weights[name], slots[name], step)  # rnnsim.cuda.optim

Numba's CUDA simulator counts as available when NUMBA_ENABLE_CUDASIM=1 is set before Numba is
imported (how the tests run without a GPU; slow, tiny sizes only). See `device.py`.
"""

from rnnsim.cuda.device import cuda_available, require_cuda

_LAZY = {
    "CudaSimpleRNNCell": "rnnsim.cuda.cells",
    "CudaLSTMCell": "rnnsim.cuda.cells",
    "CudaGRUCell": "rnnsim.cuda.cells",
    "make_device_cell": "rnnsim.cuda.cells",
    "weights_to_device": "rnnsim.cuda.cells",
    "to_device": "rnnsim.cuda.cells",
    "to_host": "rnnsim.cuda.cells",
    "apply_update": "rnnsim.cuda.optim",
    "DeviceOptimizer": "rnnsim.cuda.optim",
}


def __getattr__(name):
    """Import the CUDA modules only when asked for (they import numba.cuda)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnnsim.cuda' has no attribute {name!r}")


__all__ = ["cuda_available", "require_cuda", *_LAZY]
