"""Where data sets are looked for, and where parsed caches are written.

Two folders matter:

- the *data folder*, in the layout of the project's shared data (`imdb/`, `beijing_pm25/`, `jena/`,
  `japanese_vowels/`, `sentiment_labelled_sentences/`, `vega_seattle_weather/`). It is named by a
  `path=` argument, else by the `RNNSIM_DATA` environment variable, else it is
  `$XDG_CACHE_HOME/rnnsim/datasets` (`~/.cache/rnnsim/datasets` when XDG_CACHE_HOME is unset).
  The data folder may be read-only: nothing is ever written into it.
- the *cache folder* for parsed forms of slow-to-read files (the IMDB archive). It is
  `RNNSIM_CACHE` when set, else `$XDG_CACHE_HOME/rnnsim` (`~/.cache/rnnsim`).

Downloads go to `datasets/` in the cache folder (`download_dir`), in the data folder's layout: with
neither variable set that *is* the default data folder, and the loaders look there after the data
folder in any case. `RNNSIM_OFFLINE=1` stops the loaders from downloading (the tests set it).
"""

from __future__ import annotations

import os
from pathlib import Path

from rnnsim.errors import InputError

DATA_ENV_VAR = "RNNSIM_DATA"
CACHE_ENV_VAR = "RNNSIM_CACHE"
OFFLINE_ENV_VAR = "RNNSIM_OFFLINE"


def _user_cache_root() -> Path:
    xdg_cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg_cache) if xdg_cache else Path.home() / ".cache"
    return base / "rnnsim"


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """Resolve the data folder.

    Args:
        path: the folder to use. Default None: the `RNNSIM_DATA` environment variable, else
            `$XDG_CACHE_HOME/rnnsim/datasets` or `~/.cache/rnnsim/datasets`.

    Returns:
        The folder as an absolute Path. It is not required to exist (a missing file inside it gets
        its own error naming the file and where to download it).

    Raises:
        InputError: `path` (or RNNSIM_DATA) names something that exists but is not a folder.
    """
    if path is None:
        path = os.environ.get(DATA_ENV_VAR) or (_user_cache_root() / "datasets")
    folder = Path(path).expanduser().absolute()
    if folder.exists() and not folder.is_dir():
        raise InputError(f"data folder {folder} is a file, not a folder; pass the folder that holds imdb/, "
                         f"jena/, ... (path= or {DATA_ENV_VAR})")
    return folder


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """Resolve (and create) the folder for parsed caches.

    Args:
        path: the folder to use. Default None: `RNNSIM_CACHE`, else `$XDG_CACHE_HOME/rnnsim` or
            `~/.cache/rnnsim`.

    Returns:
        The folder as an absolute Path, created if missing.

    Raises:
        InputError: the folder cannot be created.
    """
    if path is None:
        path = os.environ.get(CACHE_ENV_VAR) or _user_cache_root()
    folder = Path(path).expanduser().absolute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot create the cache folder {folder} ({error.strerror}); "
                         f"set {CACHE_ENV_VAR} to a writable folder") from None
    return folder


def download_dir(cache: str | os.PathLike | None = None) -> Path:
    """Where downloaded data sets go: `datasets/` in the cache folder. Not created here.

    Args:
        cache: the cache folder. Default None: `RNNSIM_CACHE`, else `$XDG_CACHE_HOME/rnnsim` or `~/.cache/rnnsim`
            (so downloads land in the default data folder).
    """
    if cache is None:
        cache = os.environ.get(CACHE_ENV_VAR) or _user_cache_root()
    return Path(cache).expanduser().absolute() / "datasets"


def downloads_allowed() -> bool:
    """False when `RNNSIM_OFFLINE` is set to anything but '', '0', 'false' or 'no'."""
    return os.environ.get(OFFLINE_ENV_VAR, "").strip().lower() in ("", "0", "false", "no")
