"""Fetch a data file from its address, as Keras's `get_file` does, and never leave half of one behind.

`fetch(url, target, sha256)` streams the download into a temporary file next to `target`
(`.NAME.XXXX.part`), with a progress bar, hashing as it goes; only when every byte has arrived and
the SHA-256 equals the registry's is the file renamed to `target`. A connection cut halfway, a wrong
checksum, an HTTP error or Ctrl-C delete the temporary file: nothing that looks complete is left.
Where the address serves a zip that holds the file (`member=`), the zip goes to a temporary file,
the member is extracted next to `target`, checked and renamed the same way, and the zip is deleted.

A machine that cannot reach the address at all (no network, no DNS, refused) raises `Unreachable`,
which the loaders turn into the message they gave before downloads existed.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from rnnsim.errors import InputError

CHUNK_BYTES = 1 << 16
USER_AGENT = "rnnsim (https://github.com/; educational RNN simulator)"


class Unreachable(Exception):
    """The address did not answer at all: offline, unknown host, refused or timed out before a reply."""


def fetch(url: str, target: str | os.PathLike, sha256: str, *, size: int | None = None, member: str | None = None,
          timeout: float = 30.0, progress: bool = True) -> Path:
    """Download `url` to `target`, check its SHA-256, and only then move it into place.

    Args:
        url: the address (http or https).
        target: the final path; its folder is created.
        sha256: the expected hex digest of the file (of `member` when given).
        size: the expected size in bytes, for the progress bar when the server sends no length. Default None.
        member: the file's name inside the zip that `url` serves (matched on its last part, so a zip's
            top folder may differ). Default None: `url` serves the file itself.
        timeout: seconds to wait for the connection and for each chunk. Default 30.
        progress: show a progress bar on stderr. Default True.

    Returns:
        `target`.

    Raises:
        Unreachable: no answer from the address; nothing was written.
        InputError: the server answered but the download failed (HTTP error, connection cut, wrong checksum,
            a zip without the member) or the folder is not writable; nothing was left behind.
    """
    target = Path(target)
    response = _connect(url, timeout)  # first: offline, nothing is created, not even the folder
    with response:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"cannot create {target.parent} for the download ({error.strerror}); set "
                             f"RNNSIM_CACHE to a writable folder") from None
        with _temporary(target) as download:
            digest = _download(response, url, download, size, progress, target.name)
            _finish(download, digest, target, sha256, member, url)
    return target


def _finish(download: Path, digest: str, target: Path, sha256: str, member: str | None, url: str) -> None:
    """Check what arrived (or the member it holds) and rename it to `target`."""
    if member is None:
        _check(digest, sha256, url)
        _place(download, target)
    else:
        with _temporary(target) as extracted:
            _check(_extract(download, member, extracted, url), sha256, url)
            _place(extracted, target)


@contextlib.contextmanager
def _temporary(target: Path):
    """A temporary file's path next to `target`, deleted on the way out unless it was renamed."""
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _connect(url: str, timeout: float):
    """The open response for `url`. Raises Unreachable (no answer) or InputError (an HTTP error)."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:  # the server answered: not "offline"
        raise InputError(f"downloading {url} failed: HTTP {error.code} {error.reason}; try again later, or "
                         f"download it by hand") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        host = urllib.parse.urlsplit(url).netloc
        raise Unreachable(f"{host} ({getattr(error, 'reason', error)})") from None


def _download(response, url: str, destination: Path, size: int | None, progress: bool, title: str) -> str:
    """Stream the response into `destination`; the SHA-256 of what arrived. Raises InputError if cut off."""
    length = response.headers.get("Content-Length")
    expected = int(length) if length and length.isdigit() else size
    digest = hashlib.sha256()
    received = 0
    with _progress_bar(progress, title, expected) as advance, open(destination, "wb") as stream:
        while chunk := _read(response, url, received, expected):
            stream.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            advance(len(chunk))
        stream.flush()
        os.fsync(stream.fileno())
    if length and length.isdigit() and received != int(length):
        raise InputError(_cut_message(url, received, int(length), None))
    return digest.hexdigest()


def _read(response, url: str, received: int, expected: int | None) -> bytes:
    """The next chunk; a connection that breaks (reset, timeout, closed before its length) is an InputError."""
    try:
        return response.read(CHUNK_BYTES)
    except (http.client.HTTPException, OSError) as error:  # IncompleteRead, ConnectionResetError, timeout
        raise InputError(_cut_message(url, received, expected, error)) from None


def _cut_message(url: str, received: int, expected: int | None, error) -> str:
    of = f" of {expected:,}" if expected else ""
    why = f" ({type(error).__name__})" if error is not None else ""
    return (f"the download of {url} was cut off after {received:,}{of} bytes{why}; nothing was saved; run it "
            f"again")


def _check(digest: str, expected: str, url: str) -> None:
    if digest != expected.lower():
        raise InputError(f"the file from {url} has SHA-256 {digest[:16]}..., not the registry's "
                         f"{expected[:16]}...; it was deleted, nothing was saved (try again later, or download it "
                         f"by hand)")


def _extract(archive: Path, member: str, destination: Path, url: str) -> str:
    """Copy one member of a zip into `destination`; the member's SHA-256."""
    wanted = PurePosixPath(member).name
    try:
        with zipfile.ZipFile(archive) as package:
            names = [name for name in package.namelist()
                     if PurePosixPath(name).name == wanted and not name.startswith("__MACOSX")]
            if not names:
                raise InputError(f"the zip from {url} holds no {wanted}; download it by hand")
            digest = hashlib.sha256()
            with package.open(names[0]) as source, open(destination, "wb") as stream:
                while chunk := source.read(CHUNK_BYTES):
                    stream.write(chunk)
                    digest.update(chunk)
                stream.flush()
                os.fsync(stream.fileno())
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(f"the file from {url} is not a readable zip ({error}); nothing was saved; run it "
                         f"again") from None
    return digest.hexdigest()


def _place(temporary: Path, target: Path) -> None:
    """Give the checked file the usual permissions and rename it over `target` (atomic on one file system)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)  # mkstemp creates 0600
    os.replace(temporary, target)


@contextlib.contextmanager
def _progress_bar(show: bool, title: str, total: int | None):
    """advance(n) for a rich progress bar on stderr (or a no-op when `show` is False)."""
    if not show:
        yield lambda count: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    console = Console(file=sys.stderr)
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(title, total=total)
        yield lambda count: bar.advance(task, count)
