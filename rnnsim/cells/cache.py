"""Where Numba keeps rnnsim's compiled kernels, chosen before the first `@njit(cache=True)` runs.

Numba caches a kernel next to its source (`__pycache__`), else in the user's cache folder
(`~/.cache/numba`); when neither is writable (a read-only install run with an unwritable home)
the decorator itself raises "cannot cache function ...: no locator available", so `import
rnnsim.cells` would die. `ensure_writable_cache()` runs first, on import of this module, which
`rnnsim/cells/__init__.py` imports before any cell (the kernels outside the cells come after it
too: `rnnsim.optimizers` imports this module, `rnnsim.layers.embedding` imports the cells). It picks:

1. nothing to do: `NUMBA_CACHE_DIR` is set and writable, or Numba's own places are;
2. a private folder in the temporary directory, `rnnsim-numba-cache-<uid>` (mode 0700, refused if
   another user owns it: cache files are pickles that Numba loads), set as `NUMBA_CACHE_DIR`;
3. no cache at all, with one line on stderr saying that kernels compile on every run.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# The folders whose modules hold `@njit(cache=True)` kernels: rnnsim/cells, rnnsim (optimizers.py),
# rnnsim/layers (embedding.py). Numba caches each module's kernels in its folder's __pycache__.
_PACKAGE = Path(__file__).resolve().parents[1]
KERNEL_FOLDERS = (_PACKAGE / "cells", _PACKAGE, _PACKAGE / "layers")

NO_CACHE_NOTE = ("rnnsim: note: no writable folder for Numba's kernel cache (the package folder, the "
                 "home cache and the temporary folder are read-only); kernels compile on every run "
                 "(about 10 s per cell); set NUMBA_CACHE_DIR to a writable folder to keep them")

_decision: str | None = None  # 'default', 'fallback' or 'disabled', once decided for this process


def _writable(folder: str | os.PathLike) -> bool:
    """Numba's own test of a cache folder: create it if needed, then create and remove a file in it."""
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def _numba_user_cache() -> str:
    """The user-wide folder Numba falls back to (~/.cache/numba on Linux), computed as Numba does."""
    from numba.misc.appdirs import AppDirs

    return AppDirs(appname="numba", appauthor=False).user_cache_dir


def _private_temporary_folder() -> Path | None:
    """`<tmp>/rnnsim-numba-cache-<uid>`, created 0700; None if unusable or not ours alone."""
    try:
        base = Path(tempfile.gettempdir())
    except (OSError, FileNotFoundError):  # no usable temporary folder at all
        return None
    uid = os.getuid() if hasattr(os, "getuid") else 0
    folder = base / f"rnnsim-numba-cache-{uid}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        status = folder.lstat()
    except OSError:
        return None
    if hasattr(os, "getuid") and (status.st_uid != uid or status.st_mode & 0o022 or folder.is_symlink()):
        return None  # another user's folder, or one others may write to: never load its pickles
    return folder if _writable(folder) else None


def _numba_defaults_work() -> bool:
    """Would Numba find a writable cache for every folder of rnnsim's kernels without help?"""
    user_dir = os.environ.get("NUMBA_CACHE_DIR")
    if user_dir and _writable(user_dir):
        return True
    if all(_writable(folder / "__pycache__") for folder in KERNEL_FOLDERS):
        return True
    return _writable(_numba_user_cache())


def _use_cache_folder(folder: Path) -> None:
    os.environ["NUMBA_CACHE_DIR"] = str(folder)  # for numba imported later, and child processes
    from numba.core import config

    config.CACHE_DIR = str(folder)  # numba may be imported already: it read the environment then


def _disable_caching() -> None:
    """Make `cache=True` a no-op: the dispatcher keeps Numba's in-memory NullCache."""
    from numba.core.dispatcher import Dispatcher

    Dispatcher.enable_caching = lambda self: None


def ensure_writable_cache() -> str:
    """Choose the cache for this process (once) and return the choice: 'default', 'fallback' or 'disabled'."""
    global _decision
    if _decision is not None:
        return _decision
    if _numba_defaults_work():
        _decision = "default"
    elif (folder := _private_temporary_folder()) is not None:
        _use_cache_folder(folder)
        _decision = "fallback"
    else:
        _disable_caching()
        sys.stderr.write(NO_CACHE_NOTE + "\n")
        _decision = "disabled"
    return _decision


ensure_writable_cache()
