"""A disk that fills up while `rnnsim train` runs: one line, exit 2, the training saved to a rescue folder
the message names, and the run folder still holding its last good snapshot, whole.

Where the tests run as root and the machine allows it, the run folder is on a real 256 KiB tmpfs that
the test fills up once training is under way. Everywhere (the only case where no tmpfs can be mounted)
the same test also runs with `tempfile.mkstemp` (the call every save makes first, in rnnsim.atomic)
patched in the subprocess to fail with ENOSPC inside the run folder once the test creates a flag file.
"""

import errno
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import TINY_RUN, one_error_line, read_until

from rnnsim.atomic import atomic_write
from rnnsim.runs import RunFolder

# With the patched mkstemp: no space left in the run folder (argv[1]) once the flag file (argv[2]) exists.
FULL_WHEN_FLAGGED = """
import errno, os, sys, tempfile
import rnnsim.atomic
folder, flag = os.path.realpath(sys.argv[1]), sys.argv[2]
real_mkstemp = tempfile.mkstemp
def mkstemp(*args, dir=None, **kwargs):
    if os.path.exists(flag) and dir is not None and os.path.realpath(dir).startswith(folder):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return real_mkstemp(*args, dir=dir, **kwargs)
rnnsim.atomic.tempfile = type(sys)("tempfile_with_a_full_disk")
rnnsim.atomic.tempfile.mkstemp = mkstemp
from rnnsim.cli import main
sys.exit(main(sys.argv[3:]))
"""


@pytest.fixture(params=["tmpfs", "patched mkstemp"])
def small_disk(tmp_path, request):
    """(the folder of a small disk, a function that fills it up, how it is done): both ways where root may
    mount a tmpfs, the patched call alone elsewhere."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if request.param == "tmpfs":
        if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)],
                                               capture_output=True).returncode != 0:
            pytest.skip("no tmpfs here (not root, or mounting refused): the patched-mkstemp case covers it")
        def fill():
            with open(disk / "filler", "wb", buffering=0) as stream:
                try:
                    while True:
                        stream.write(b"\0" * 512)
                except OSError as error:
                    assert error.errno == errno.ENOSPC
        yield disk, fill, "tmpfs"
        subprocess.run(["umount", str(disk)], check=True)
    else:
        yield disk, lambda: (tmp_path / "disk-full").touch(), "patched mkstemp"


def test_a_disk_filling_up_mid_run_saves_the_run_to_a_rescue_folder(tmp_path, small_disk):
    disk, fill, how = small_disk
    out = disk / "run"
    rescue_base = tmp_path / "tmp"
    rescue_base.mkdir()
    env = {**os.environ, "TMPDIR": str(rescue_base)}
    args = ["train", "--out", str(out), "--epochs", "100000", *TINY_RUN[:-1]]
    if how == "tmpfs":
        command = [sys.executable, "-m", "rnnsim.cli", *args]
    else:
        command = [sys.executable, "-c", FULL_WHEN_FLAGGED, str(out), str(tmp_path / "disk-full"), *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                               env=env)
    read_until(process, "epoch 1/")
    fill()
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 2, (how, stderr)
    line = one_error_line(stderr)
    rescues = list((rescue_base / "rnnsim-rescued").iterdir())
    assert len(rescues) == 1, (how, rescues)
    rescued = RunFolder(rescues[0]).load()
    kept = RunFolder(out).load()
    assert rescued.epochs_done == kept.epochs_done + 1 >= 2, how
    assert line == (f"rnnsim: error: could not save epoch {rescued.epochs_done} in {out} (No space left on device); "
                    f"saved it to {rescues[0]} instead ({out} still holds epoch {kept.epochs_done}); continue "
                    f"with: rnnsim train --out {rescues[0]} --resume"), how
    # the run folder's snapshot is whole, and no temporary file is left behind
    assert kept.repaired == [] and kept.model.epochs_trained == kept.epochs_done
    assert all(len(values) == kept.epochs_done for values in kept.history.values())
    assert sorted(p.name for p in out.iterdir()) == [".rnnsim.lock", "config.json", "history.json", "model.npz"]
    # the rescued run carries on with --resume
    assert rescued.repaired == [] and json.loads((rescues[0] / "history.json").read_text())["epochs_done"] == \
        rescued.epochs_done
    done = subprocess.run([sys.executable, "-m", "rnnsim.cli", "train", "--out", str(rescues[0]), "--resume",
                           "--epochs", str(rescued.epochs_done + 1), "--quiet"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "model.npz"
    target.write_bytes(b"the last good model")

    def no_space(descriptor):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space left on device"), atomic_write(target) as stream:
        stream.write(np.zeros(1000).tobytes())
    assert target.read_bytes() == b"the last good model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
