"""Numba's on-disk cache for the cells' kernels, keyed by every source file in this folder.

Numba keys a cached function by its signature, the target (`codegen.magic_tuple()`: the triple, the
CPU name and its features, so one CPU's code is never loaded on another) and the contents of the
function's own source file. A kernel that calls compiled code from another file (the micro-kernel
in simd.py, the activations, kernel_parts) carries that code in its cache entry, and Numba does not
notice when only the other file changes: after a change of simd.py's packed layout, lstm.py's
cached kernels kept the old tile and gave wrong numbers. So the cells' functions are stamped with
the contents of every `.py` file here: any change to any of them recompiles them all.

`install()` puts the stamping locators in front of Numba's own; they take only functions defined in
this folder and leave every other cached function to Numba. It runs when this module is imported,
which rnnsim/cells/__init__.py does before anything else: before the first kernel is decorated.
"""

from __future__ import annotations

import functools
import hashlib
import os

FOLDER = os.path.dirname(os.path.abspath(__file__))


@functools.lru_cache(maxsize=1)
def sources_digest() -> str:
    """sha256 over the names and contents of this folder's .py files (once per process)."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(FOLDER)):
        if name.endswith(".py"):
            digest.update(name.encode())
            with open(os.path.join(FOLDER, name), "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()


def _in_folder(py_file) -> bool:
    return os.path.dirname(os.path.abspath(py_file)) == FOLDER


class _FolderStamp:
    """A locator's stamp, plus the digest of the whole folder; only for functions defined in it."""

    def get_source_stamp(self):
        return (super().get_source_stamp(), sources_digest())

    @classmethod
    def from_function(cls, py_func, py_file):
        if not _in_folder(py_file):
            return None
        return super().from_function(py_func, py_file)


def _locators():
    from numba.core import caching

    bases = [getattr(caching, name, None) for name in
             ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")]
    return [type(f"Cells{base.__name__}", (_FolderStamp, base), {}) for base in bases if base is not None]


_installed = []


def install() -> bool:
    """Put the cells' locators first in Numba's list (once). False where this Numba has no such list:
    then caching works as Numba's own does."""
    if _installed:
        return True
    from numba.core import caching

    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)  # renamed in Numba 0.59
    classes = getattr(impl, "_locator_classes", None)
    if not isinstance(classes, list):  # pragma: no cover - another Numba's internals
        return False
    ours = _locators()
    classes[:0] = ours
    _installed.extend(ours)
    return True


install()
