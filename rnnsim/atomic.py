"""Write files so that an interruption never destroys the last good one.

Everything rnnsim saves (models, run histories and configs, the IMDB token cache) is written to
a temporary name in the target's folder (`.NAME.XXXXXXXX.tmp`), flushed to disk, given the usual
permissions and then renamed over the target: a reader sees either the old file or the new one,
never half of one. A failed write (a full disk, say) removes its temporary file and raises; only a
process killed mid-write leaves one behind, and `remove_orphaned_temporaries` clears those.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _temporary_prefix(name: str) -> str:
    return "." + name + "."


TEMPORARY_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_write(target, mode="wb", encoding=None):
    """Open a temporary file next to `target`; on a clean exit it replaces `target`.

    Args:
        target: the final path.
        mode: 'wb' (default) or 'w'.
        encoding: for text mode (default None: the platform's; pass 'utf-8').
    """
    target = Path(target)
    handle, temporary = tempfile.mkstemp(prefix=_temporary_prefix(target.name), suffix=TEMPORARY_SUFFIX,
                                         dir=target.parent)
    try:
        with os.fdopen(handle, mode, encoding=encoding) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    """Flush the rename itself to disk (POSIX); where a folder cannot be opened, the rename stands as is."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the data itself was synced above
    finally:
        os.close(descriptor)


def remove_orphaned_temporaries(folder, names) -> list[Path]:
    """Delete the temporary files that writes of `names` in `folder` left behind when killed.

    Call it only where no other process is writing those names (rnnsim.runs holds the folder's lock).

    Args:
        folder: the folder.
        names: the target file names, e.g. ('model.npz', 'history.json').
    Returns:
        The files removed.
    """
    removed = []
    for name in names:
        for orphan in Path(folder).glob(_temporary_prefix(name) + "*" + TEMPORARY_SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                orphan.unlink()
                removed.append(orphan)
    return removed
