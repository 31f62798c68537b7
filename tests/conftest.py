"""Shared test set-up: where the real data sets are, and no downloads.

The tests read real data from the project's shared data folder, `../shared/datasets` next to the
repository (override with RNNSIM_DATA). When a data file is missing, tests that need it are skipped on
a developer's machine but FAIL when the CI environment variable is set, so that CI never passes by
silently skipping.
"""

import os
from pathlib import Path

import pytest

DATA_DIR = Path(os.environ.get("RNNSIM_DATA") or Path(__file__).parents[2] / "shared" / "datasets")
# Loaders with no path= argument read RNNSIM_DATA: point it at the same folder for the whole run.
os.environ.setdefault("RNNSIM_DATA", str(DATA_DIR))
# A missing file is never downloaded from the real addresses by a test (child processes inherit this);
# tests/test_download.py turns downloads back on against its own server on 127.0.0.1.
os.environ["RNNSIM_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def need_data():
    """need_data('imdb/imdb_word_index.json', ...) -> DATA_DIR, or skip (fail under CI) if a file is missing."""

    def need(*relative_paths: str) -> Path:
        missing = [relative for relative in relative_paths if not (DATA_DIR / relative).exists()]
        if missing:
            message = f"data missing in {DATA_DIR}: {', '.join(missing)} (set RNNSIM_DATA)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        return DATA_DIR

    return need
