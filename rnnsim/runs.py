"""A run folder (`rnnsim train --out`): model, history and config kept as one consistent snapshot.

    model.npz      the model (rnnsim.models.load_model reads it), and inside its header the snapshot:
                   its id, the epochs done, the history and the run's config
    history.json   {"snapshot", "epochs_done", "history", ...}: per-epoch logs, Keras's keys (and, for
                   example, "saturation": each epoch's gate saturation)
    config.json    the RunConfig, plus "snapshot"
    .rnnsim.lock   held (flock) by the one `rnnsim train` using the folder; it names that process

The three files cannot be replaced in one step, so model.npz is the commit: a snapshot is written
model.npz first (atomically, rnnsim.atomic), then the two JSON files, each carrying the snapshot's
id. Whatever interrupts a save, model.npz is either the old snapshot or the new one, whole, and
`RunFolder.load` rebuilds a JSON file whose id is not the model's (or that is missing or damaged)
from the copy inside model.npz. The model file is the truth: a JSON file with the model's id that
disagrees with it was edited by hand, and that is an error naming both values. JSON files hold no
bare NaN: a non-finite number is written as null.

`RunFolder.open` checks everything it can before training: that the path is (or can be made) a
folder, that a file can be written there, that there is room for the snapshot, that no other run
holds the folder; and it removes the temporary files a killed save left behind.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnsim.atomic import atomic_write, remove_orphaned_temporaries
from rnnsim.errors import InputError

MODEL_FILE, HISTORY_FILE, CONFIG_FILE = "model.npz", "history.json", "config.json"
LOCK_FILE = ".rnnsim.lock"
RESCUE_FOLDER = "rnnsim-rescued"  # under the temporary folder or the home folder, for a failed save

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; two runs on one folder are then not detected
    fcntl = None


@dataclass
class Snapshot:
    """A run folder's last good state, as `RunFolder.load` returns it."""

    model: object  # the loaded Sequential
    config: dict  # the RunConfig that trained it, as saved
    history: dict[str, list]  # per-epoch logs
    epochs_done: int
    repaired: list[str] = field(default_factory=list)  # JSON files rebuilt from model.npz
    extra: dict = field(default_factory=dict)  # history.json's other entries, e.g. "saturation"


class NonFiniteWeights(InputError):
    """The model holds NaN or infinity: a diverged run, never saved."""


class SaveFailed(Exception):
    """A snapshot could not be written; `message` is the one line for the user."""

    def __init__(self, message: str, rescued_to: Path | None):
        super().__init__(message)
        self.rescued_to = rescued_to


def json_safe(value):
    """`value` with every non-finite float replaced by None, so that JSON stays valid."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def write_json(path: Path, value) -> None:
    """Write JSON atomically (rnnsim.atomic), with non-finite numbers as null."""
    with atomic_write(path, "w", encoding="utf-8") as stream:
        json.dump(json_safe(value), stream, indent=2, allow_nan=False)


def read_json(path: Path, what: str) -> dict:
    """The JSON object in `path`; InputError (one line, ending with `what` to do) if missing or damaged."""
    try:
        with open(path, encoding="utf-8") as stream:
            value = json.load(stream)
    except FileNotFoundError:
        raise InputError(f"{path} not found: {what}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not valid JSON ({error}); delete the run folder or fix the file") from None
    if not isinstance(value, dict):
        raise InputError(f"{path} should hold a JSON object")
    return value


def _read_json_object(path: Path) -> dict | None:
    """The JSON object in `path`, or None when it is missing, damaged or not an object."""
    try:
        with open(path, encoding="utf-8") as stream:
            value = json.load(stream)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


class RunFolder:
    """The folder of one run; use as a context manager around `open()` ... `close()`.

    Args:
        path: the folder (`--out`).
    """

    def __init__(self, path):
        self.path = Path(path)
        self.created = False  # made by this process: removed again on close if nothing was saved
        self.saved = False
        self._lock_stream = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- before training -------------------------------------------------------------------

    def open(self, create: bool = True, need_bytes: int = 0) -> RunFolder:
        """Check the folder, take its lock and tidy it; raise InputError (one line) if it cannot be used.

        Args:
            create: make the folder (and its parents) if missing (default True); False for --resume.
            need_bytes: the snapshot's expected size; refused when the disk has less room than that.
        """
        path = self.path
        if path.exists() and not path.is_dir():
            raise InputError(f"--out {path} is a file, not a folder; give a folder for model.npz, "
                             f"history.json and config.json")
        if not path.exists():
            if not create:
                raise InputError(f"{path} not found: nothing to resume; train without --resume first")
            try:
                path.mkdir(parents=True)
            except OSError as error:
                raise InputError(f"cannot create the run folder {path} ({_reason(error)}); "
                                 f"choose another --out") from None
            self.created = True
        try:
            handle, probe = tempfile.mkstemp(prefix=".rnnsim-write-test-", dir=path)
            os.close(handle)
            os.unlink(probe)
        except OSError as error:
            raise InputError(f"cannot write in the run folder {path} ({_reason(error)}); "
                             f"choose another --out") from None
        self._lock()
        remove_orphaned_temporaries(path, (MODEL_FILE, HISTORY_FILE, CONFIG_FILE))
        if need_bytes:
            self._check_room(need_bytes)
        return self

    def _lock(self) -> None:
        if fcntl is None:
            return
        lock_path = self.path / LOCK_FILE
        try:
            stream = open(lock_path, "a+", encoding="utf-8")
        except OSError as error:
            raise InputError(f"cannot write in the run folder {self.path} ({_reason(error)}); "
                             f"choose another --out") from None
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            stream.seek(0)
            holder = stream.read().strip() or "another process"
            stream.close()
            raise InputError(f"{self.path} is in use by another rnnsim train ({holder}); wait for it to "
                             f"finish or choose another --out") from None
        stream.seek(0)
        stream.truncate()
        stream.write(f"process {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        stream.flush()
        self._lock_stream = stream  # the lock lasts as long as this file stays open (or the process lives)

    def _check_room(self, need_bytes: int) -> None:
        from rnnsim.memory import format_bytes

        existing = self.path / MODEL_FILE
        # the new model.npz is written next to the old one before it replaces it
        need = need_bytes * 2 if existing.exists() else need_bytes
        try:
            free = shutil.disk_usage(self.path).free
        except OSError:
            return
        if free < need:
            raise InputError(f"the disk of {self.path} has {format_bytes(free)} free; this run's files need "
                             f"about {format_bytes(need)}: free some space or choose another --out")

    def close(self) -> None:
        """Release the lock; remove the folder again if this process made it and saved nothing into it."""
        if self._lock_stream is not None:
            if self.created and not self.saved:
                with contextlib.suppress(OSError):
                    (self.path / LOCK_FILE).unlink()
            self._lock_stream.close()
            self._lock_stream = None
        if self.created and not self.saved:
            with contextlib.suppress(OSError):
                self.path.rmdir()  # only if empty: never delete anything else
            self.created = False

    def has_run(self) -> bool:
        return (self.path / MODEL_FILE).exists()

    # -- saving ----------------------------------------------------------------------------

    def save(self, model, config: dict, history: dict, epochs_done: int, extra: dict | None = None) -> Path:
        """Write one snapshot; on a failed write, write it to a rescue folder and raise SaveFailed.

        Returns the folder written (this one). The earlier snapshot stays intact whatever fails.
        `extra` holds history.json's other entries (e.g. "saturation"), saved with the snapshot too.

        Raises:
            NonFiniteWeights: the model holds NaN or infinity (a diverged run is never saved).
            SaveFailed: the write failed; its message names the reason and where the run went instead.
        """
        bad = next((index for index, weight in enumerate(model.weights) if not np.all(np.isfinite(weight))), None)
        if bad is not None:
            raise NonFiniteWeights(f"the weights became NaN or infinite in epoch {epochs_done} (weight {bad})")
        try:
            write_snapshot(self.path, model, config, history, epochs_done, extra)
            self.saved = True
            return self.path
        except OSError as error:
            reason = _reason(error)
        kept = f"{self.path} still holds {self._epochs_on_disk()}"
        for base in _rescue_bases():
            target = base / f"{self.path.resolve().name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
            try:
                target.mkdir(parents=True, exist_ok=True)
                write_snapshot(target, model, config, history, epochs_done, extra)
            except OSError:
                continue
            raise SaveFailed(f"could not save epoch {epochs_done} in {self.path} ({reason}); saved it to {target} "
                             f"instead ({kept}); continue with: rnnsim train --out {target} --resume", target)
        raise SaveFailed(f"could not save epoch {epochs_done} in {self.path} ({reason}), nor in a rescue folder; "
                         f"{kept}", None)

    def _epochs_on_disk(self) -> str:
        header = _read_model_header(self.path / MODEL_FILE)
        if header is None:
            return "no earlier run"
        snapshot = (header.get("metadata") or {}).get("snapshot") or {}
        return f"epoch {snapshot.get('epochs_done', header.get('epochs_trained', 0))}"

    # -- loading ---------------------------------------------------------------------------

    def load(self, device=None) -> Snapshot:
        """The folder's last good snapshot, with stale JSON files rebuilt from model.npz.

        Args:
            device: 'cpu' or 'cuda' for the model (default None: the one it was saved from).
        Raises:
            InputError: nothing to resume, a damaged model file, or a JSON file edited to disagree with it.
        """
        from rnnsim.models import load_model

        model_path = self.path / MODEL_FILE
        if not model_path.exists():
            config_path = self.path / CONFIG_FILE
            if config_path.exists():
                read_json(config_path, "")  # a damaged config.json gets its own message
            raise InputError(f"{self.path} holds no {MODEL_FILE}: nothing to resume; train without --resume first")
        model = load_model(model_path, device=device)
        snapshot = model.metadata.get("snapshot")
        if not isinstance(snapshot, dict):
            return self._load_without_snapshot(model)
        config = dict(model.metadata.get("run") or {})
        history = dict(snapshot.get("history") or {})
        epochs_done = int(snapshot.get("epochs_done", model.epochs_trained))
        extra = {key: value for key, value in snapshot.items() if key not in ("id", "epochs_done", "history")}
        repaired = []
        expected = {
            HISTORY_FILE: {"snapshot": snapshot["id"], "epochs_done": epochs_done, "history": history, **extra},
            CONFIG_FILE: {**config, "snapshot": snapshot["id"]},
        }
        for name, value in expected.items():
            found = _read_json_object(self.path / name)
            if found is None or found.get("snapshot") != snapshot["id"]:
                with contextlib.suppress(OSError):  # a full disk: the snapshot returned is right all the same
                    write_json(self.path / name, value)  # left behind by an interrupted save (or deleted)
                repaired.append(name)
                continue
            for key, saved in json_safe(value).items():
                if found.get(key, saved) != saved:
                    raise InputError(f"{self.path / name} says {key} {found.get(key)!r} but {MODEL_FILE} holds "
                                     f"{saved!r}; the model file is the truth: delete {name} (it is rebuilt "
                                     f"from {MODEL_FILE}) or train into a new --out")
        return Snapshot(model=model, config=config, history=history, epochs_done=epochs_done, repaired=repaired,
                        extra=extra)

    def _load_without_snapshot(self, model) -> Snapshot:
        """A folder written before snapshots: the JSON files must agree with the model's epoch count."""
        config = read_json(self.path / CONFIG_FILE, "the run folder is incomplete")
        history_file = read_json(self.path / HISTORY_FILE, "the run folder is incomplete")
        epochs_done = int(history_file.get("epochs_done", 0))
        if epochs_done != model.epochs_trained:
            raise InputError(f"{self.path}: {HISTORY_FILE} records {epochs_done} epochs but {MODEL_FILE} "
                             f"{model.epochs_trained} (an interrupted run of an older rnnsim); train into a new "
                             f"--out")
        history = {key: list(values) for key, values in (history_file.get("history") or {}).items()}
        extra = {key: value for key, value in history_file.items() if key not in ("epochs_done", "history")}
        return Snapshot(model=model, config=config, history=history, epochs_done=epochs_done, extra=extra)


def write_snapshot(folder: Path, model, config: dict, history: dict, epochs_done: int,
                   extra: dict | None = None) -> None:
    """model.npz (the commit, with the snapshot inside), then history.json and config.json; raises OSError.

    `extra`: history.json's entries besides the logs (e.g. "saturation"), kept in the snapshot too.
    """
    remove_orphaned_temporaries(folder, (MODEL_FILE, HISTORY_FILE, CONFIG_FILE))
    snapshot_id = f"{epochs_done}-{secrets.token_hex(6)}"
    history, config, extra = json_safe(history), json_safe(config), json_safe(dict(extra or {}))
    model.metadata["run"] = config
    model.metadata["snapshot"] = {"id": snapshot_id, "epochs_done": epochs_done, "history": history, **extra}
    model.save(folder / MODEL_FILE)
    write_json(folder / HISTORY_FILE, {"snapshot": snapshot_id, "epochs_done": epochs_done, "history": history,
                                       **extra})
    write_json(folder / CONFIG_FILE, {**config, "snapshot": snapshot_id})


def _read_model_header(path: Path) -> dict | None:
    """The JSON header of a model file, or None when there is none or it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return json.loads(archive["__config__"].tobytes().decode("utf-8"))
    except Exception:  # a missing or damaged file: the caller says "no earlier run"
        return None


def _rescue_bases() -> list[Path]:
    """Where a snapshot goes when its run folder cannot take it: the temporary folder, then the home folder."""
    bases = []
    with contextlib.suppress(OSError, FileNotFoundError):
        bases.append(Path(tempfile.gettempdir()) / RESCUE_FOLDER)
    with contextlib.suppress(RuntimeError, KeyError):
        bases.append(Path.home() / RESCUE_FOLDER)
    return bases
