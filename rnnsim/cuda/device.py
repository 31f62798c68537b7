"""Is the CUDA path usable here? Detection, and the one-line errors a user sees when it is not.

Three situations:

- ``NUMBA_ENABLE_CUDASIM=1`` was set before Numba was imported: Numba's CUDA *simulator* runs the
  kernels in Python threads on the CPU. It counts as available (this is how the tests run without
  a GPU), but it is very slow: for correctness checks on tiny sizes only. Plain ``numba`` (which
  still ships the simulator) is enough for it; ``numba-cuda`` is not needed.
- ``numba-cuda`` is not installed: ``--device cuda`` needs the CUDA extra, ``pip install -e '.[cuda]'``.
  (Numba 0.60+ still has a deprecated built-in ``numba.cuda``; we use the NVIDIA-maintained
  ``numba-cuda`` for real GPUs, which replaces ``numba.cuda`` when installed.)
- ``numba-cuda`` is installed but finds no driver or no GPU: Numba's own reason is passed on.

The import that works in all three cases is ``from numba import cuda``: with ``numba-cuda``
installed it resolves to ``numba_cuda.numba.cuda``, without it to Numba's built-in module, and
both switch to the simulator when ``NUMBA_ENABLE_CUDASIM=1`` was set before the first import.
"""

from __future__ import annotations

import importlib.util
import os

from rnnsim.errors import InputError

SIMULATOR_ENV = "NUMBA_ENABLE_CUDASIM"
EXTRA_MESSAGE = "--device cuda needs the CUDA extra: pip install -e '.[cuda]' (numba-cuda)"
NO_GPU_MESSAGE = "--device cuda: no NVIDIA GPU or driver found ({reason})"


def simulator_enabled() -> bool:
    """True when Numba's CUDA simulator is on (NUMBA_ENABLE_CUDASIM=1 before numba.cuda was first imported)."""
    if os.environ.get(SIMULATOR_ENV, "0") != "1":
        try:
            from numba.core import config
        except ImportError:  # pragma: no cover - numba is a hard dependency
            return False
        if not getattr(config, "ENABLE_CUDASIM", False):
            return False
    try:
        from numba import cuda
    except Exception:
        return False
    # The module numba.cuda resolved to, not the variable, decides: it is read once, at import.
    return "simulator" in getattr(cuda.detect, "__module__", "")


def numba_cuda_installed() -> bool:
    """True when the NVIDIA-maintained numba-cuda package (the `cuda` extra) is importable."""
    return importlib.util.find_spec("numba_cuda") is not None


def _one_line(text: str) -> str:
    return " ".join(str(text).split()).rstrip(":").strip() or "unknown reason"


def _driver_reason() -> str | None:
    """None when a real GPU is usable, else Numba's reason in one line."""
    try:
        from numba import cuda

        if cuda.is_available():
            return None
        error = cuda.cuda_error() if hasattr(cuda, "cuda_error") else None
        return _one_line(error if error is not None else "numba.cuda.is_available() is False")
    except Exception as error:  # a broken driver raises all sorts of things
        return _one_line(f"{type(error).__name__}: {error}")


def cuda_status() -> tuple[bool, str]:
    """(usable, why): why is "simulator", "gpu", or the one-line error message."""
    if simulator_enabled():
        try:
            from numba import cuda  # noqa: F401
        except Exception as error:  # pragma: no cover - the simulator ships with numba
            return False, NO_GPU_MESSAGE.format(reason=_one_line(f"simulator failed to import: {error}"))
        return True, "simulator"
    if not numba_cuda_installed():
        return False, EXTRA_MESSAGE
    reason = _driver_reason()
    if reason is not None:
        return False, NO_GPU_MESSAGE.format(reason=reason)
    return True, "gpu"


def cuda_available() -> bool:
    """True when `--device cuda` can run: a GPU with numba-cuda, or the simulator (NUMBA_ENABLE_CUDASIM=1)."""
    return cuda_status()[0]


def require_cuda() -> str:
    """Raise `InputError` with one clear line unless the CUDA path is usable; returns "gpu" or "simulator".

    The simulator counts as usable only when NUMBA_ENABLE_CUDASIM=1 was set before Numba was imported.
    """
    usable, why = cuda_status()
    if not usable:
        raise InputError(why)
    return why
