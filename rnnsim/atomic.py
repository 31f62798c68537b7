"""Write files so that an interruption never destroys the last good one.

Everything rnnsim saves (models, run histories and configs, the IMDB token cache) is written to
a temporary name in the target's folder, flushed to disk, given the usual permissions and then
renamed over the target: a reader sees either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_write(target, mode="wb", encoding=None):
    """Open a temporary file next to `target`; on a clean exit it replaces `target`.

    Args:
        target: the final path.
        mode: 'wb' (default) or 'w'.
        encoding: for text mode (default None: the platform's; pass 'utf-8').
    """
    target = Path(target)
    handle, temporary = tempfile.mkstemp(prefix="." + target.name + ".", suffix=".tmp", dir=target.parent)
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
