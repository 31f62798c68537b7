"""A read-only install run with an unwritable home: Numba's kernel cache falls back, never a traceback.

Each case copies the rnnsim package into a temporary folder and runs a fresh interpreter on the copy
with HOME (and, in the second case, every temporary folder Python would try) unwritable too. The
folders become read-only bind mounts in a private mount namespace: `unshare -m` as root (who ignores
permission bits), `unshare -rm` (a user namespace) as anyone else. Where no namespace can be made,
the first case falls back to `chmod a-w` and the second is skipped (/tmp cannot be made read-only).
"""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import read_only_command

REPO = Path(__file__).resolve().parents[1]

# Imports every module with cached kernels, then compiles and runs one (a SimpleRNN forward pass).
PROGRAM = textwrap.dedent("""
    import os, sys
    import numpy as np
    import rnnsim
    assert rnnsim.__file__.startswith(sys.argv[1]), rnnsim.__file__
    from rnnsim.cells import SimpleRNNCell, cache
    from rnnsim import optimizers
    from rnnsim.layers import Embedding
    cell = SimpleRNNCell(3)
    weights = cell.init_weights(2, np.random.default_rng(0))
    result = cell.forward(np.ones((1, 4, 2), np.float32), weights)
    print(cache._decision, os.environ.get("NUMBA_CACHE_DIR", ""), float(result.outputs.sum()))
""")


def run_read_only(tmp_path, unwritable, env_extra):
    """Run PROGRAM on a copy of the package with the folders in `unwritable` made read-only."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "rnnsim", site / "rnnsim", ignore=shutil.ignore_patterns("__pycache__"))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("NUMBA_CACHE", "XDG_"))}
    env.update(PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1", **env_extra)
    program = [sys.executable, "-c", PROGRAM, str(site)]
    folders = [site, *unwritable]
    command = read_only_command(folders, program)
    if command is not None:
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    if os.geteuid() == 0 or any(not str(f).startswith(str(tmp_path)) for f in folders):
        pytest.skip("no private mount namespace here, and permission bits cannot make these folders read-only")
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
    try:
        return subprocess.run(program, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    finally:
        for folder in folders:
            for path in [folder, *folder.rglob("*")]:
                path.chmod(path.stat().st_mode | 0o200)


def test_read_only_package_and_home_cache_kernels_in_a_private_temporary_folder(tmp_path):
    home, temporary = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    temporary.mkdir()
    completed = run_read_only(tmp_path, [home], {"HOME": str(home), "TMPDIR": str(temporary)})
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    decision, cache_dir, _ = completed.stdout.split()
    assert decision == "fallback" and Path(cache_dir).parent == temporary  # uid as seen inside the namespace
    assert Path(cache_dir).name.startswith("rnnsim-numba-cache-")
    assert oct(Path(cache_dir).stat().st_mode & 0o777) == "0o700"
    # the compiled SimpleRNN kernel was saved there, so the next run loads it instead of compiling
    assert list(Path(cache_dir).rglob("simple_rnn*.nbi")), list(Path(cache_dir).rglob("*"))


def test_nothing_writable_runs_uncached_with_one_line_on_stderr(tmp_path):
    home, temporary = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    temporary.mkdir()
    # Python's tempfile tries TMPDIR, then /tmp, /var/tmp, /usr/tmp and the working folder (tmp_path).
    fallbacks = [Path(folder) for folder in ("/tmp", "/var/tmp", "/usr/tmp") if Path(folder).is_dir()]
    unwritable = [home, temporary, tmp_path, *fallbacks]
    completed = run_read_only(tmp_path, unwritable, {"HOME": str(home), "TMPDIR": str(temporary)})
    assert completed.returncode == 0, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnsim: note: no writable folder for Numba's kernel cache")
    assert "compile on every run" in lines[0]
    assert completed.stdout.split()[0] == "disabled"
    assert list(temporary.iterdir()) == [] and list(home.iterdir()) == []


def test_another_users_temporary_cache_folder_is_never_used(tmp_path, monkeypatch):
    # Numba's cache files are pickles: a folder someone else could have written must not be loaded.
    from rnnsim.cells import cache

    monkeypatch.setattr(cache.tempfile, "gettempdir", lambda: str(tmp_path))
    folder = tmp_path / f"rnnsim-numba-cache-{os.getuid()}"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)  # others may write: refused
    assert cache._private_temporary_folder() is None
    folder.chmod(0o700)
    assert cache._private_temporary_folder() == folder
