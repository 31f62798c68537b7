"""The command line's pictures and files, as a user meets them (subprocesses): `inspect RUN --save`, run
folders, `--data FILE`, `datasets --download`, the 80-column table, flags named in messages, and the app's
screenshot key and `--checkpoint RUN_FOLDER` (Textual's Pilot)."""

import asyncio
import os
import struct
import subprocess
import sys

import pytest
from helpers import wait_for

SUBSET = "jena/jena_climate_2009_first4000rows_12cols.csv"
TINY = ["--seq-len", "12", "--samples", "64", "--units", "4", "--batch-size", "16", "--quiet"]


def run_cli(*args, cwd=None, env=None):
    completed = subprocess.run([sys.executable, "-m", "rnnsim.cli", *args], capture_output=True, text=True,
                               cwd=cwd, timeout=600, env={**os.environ, **(env or {})})
    return completed.returncode, completed.stdout, completed.stderr


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnsim: error: ") and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A run folder as `rnnsim train` writes it: a GRU on the adding problem, two epochs."""
    where = tmp_path_factory.mktemp("runs")
    status, stdout, stderr = run_cli("train", "--cell", "gru", "--epochs", "2", "--out", "gru-adding", *TINY,
                                     cwd=where)
    assert status == 0, stderr
    return where / "gru-adding"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_inspect_takes_the_run_folder_train_printed(run_folder):
    status, stdout, stderr = run_cli("inspect", str(run_folder), "--sample", "1", cwd=run_folder.parent)
    assert status == 0, stderr
    assert stdout.splitlines()[0] == "gru-adding/model.npz: task adding, sample 1"
    assert "update gate z" in stdout and "||dL/dh_t||" in stdout


def test_inspect_save_writes_valid_svg_and_png(run_folder, tmp_path):
    status, stdout, stderr = run_cli("inspect", str(run_folder), "--save", str(tmp_path / "views.svg"))
    assert status == 0, stderr
    assert stdout.strip() == f"saved {tmp_path / 'views.svg'}"
    svg = (tmp_path / "views.svg").read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "<svg" in svg[:1000] and svg.rstrip().endswith("</svg>")
    for text in ("update gate z_t", "reset gate r_t", "hidden state h_t", "gradient norm", "sample 0"):
        assert text in svg, text
    status, _, stderr = run_cli("inspect", str(run_folder / "model.npz"), "--sample", "2", "--gate", "z",
                                "--save", str(tmp_path / "update.png"))
    assert status == 0, stderr
    width, height = png_size((tmp_path / "update.png").read_bytes())
    assert width >= 1000 and height >= 500
    assert sorted(os.listdir(tmp_path)) == ["update.png", "views.svg"]  # no temporary file left


def test_inspect_save_into_a_folder_writes_one_file_per_view_including_the_history(run_folder, tmp_path):
    status, stdout, stderr = run_cli("inspect", str(run_folder), "--save", str(tmp_path / "views") + "/",
                                     "--format", "png")
    assert status == 0, stderr
    names = sorted(os.listdir(tmp_path / "views"))
    assert names == ["gates.png", "gradient.png", "history.png", "step_gain.png"]
    for name in names:
        png_size((tmp_path / "views" / name).read_bytes())
    assert len(stdout.strip().splitlines()) == 4


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--save", "out.txt"], "--save out.txt: name a .svg, .png or .pdf file, or a folder"),
        (["--gate", "forget", "--save", "x.svg"], "unknown gate 'forget' for a GRU layer; choose one of update (z), "
                                                 "reset (r), candidate (h~), hidden (h)"),
    ],
)
def test_inspect_save_mistakes_are_one_line(run_folder, tmp_path, args, fragment):
    status, _, stderr = run_cli("inspect", str(run_folder), *args, cwd=tmp_path)
    assert status == 2 and fragment in one_error_line(stderr)
    assert os.listdir(tmp_path) == []


def test_a_folder_without_a_model_is_one_line(tmp_path):
    for command in (["inspect", str(tmp_path)], ["tui", "--checkpoint", str(tmp_path)]):
        status, _, stderr = run_cli(*command)
        assert status == 2
        assert f"{tmp_path} is a folder without model.npz" in one_error_line(stderr)


def test_the_app_opens_a_run_folder_and_ctrl_s_saves_the_screen_as_svg(run_folder, tmp_path):
    from tui.app import RnnsimApp, check_checkpoint
    from tui.session import Settings

    checkpoint = check_checkpoint(str(run_folder))
    assert checkpoint == str(run_folder / "model.npz")

    async def scenario():
        app = RnnsimApp(Settings(), checkpoint=checkpoint, screenshot_folder=tmp_path / "shots")
        async with app.run_test(size=(100, 30)) as pilot:
            screen = app.screen
            await wait_for(pilot, lambda: screen.state == "checkpoint", timeout=60)
            assert screen.trace.cell == "gru"
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: app.last_screenshot is not None)
            saved = app.last_screenshot
            assert saved.parent == tmp_path / "shots" and saved.name.startswith("rnnsim-gates-")
            assert any(str(saved) in note.message for note in app._notifications)  # the path is shown
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: app.last_screenshot != saved)
        return saved

    saved = asyncio.run(scenario())
    svg = saved.read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<svg") and "</svg>" in svg[-100:]
    assert len(os.listdir(tmp_path / "shots")) == 2  # two saves, two files


def test_train_accepts_the_jena_csv_itself_and_names_the_flag_to_change(need_data, tmp_path):
    csv = need_data(SUBSET) / SUBSET
    status, _, stderr = run_cli("train", "--dataset", "jena", "--data", str(csv), "--quiet", cwd=tmp_path)
    assert status == 2
    line = one_error_line(stderr)
    assert "use a smaller --seq-len (at most 142)" in line and "seq_len" not in line
    folder = tmp_path / "downloads"  # the CSV directly in a folder, no jena/ sub-folder
    folder.mkdir()
    (folder / "jena_climate_2009_2016.csv").symlink_to(csv)
    status, stdout, stderr = run_cli("train", "--dataset", "jena", "--data", str(folder), "--epochs", "1",
                                     "--seq-len", "142", "--samples", "32", "--units", "4", "--quiet", cwd=tmp_path)
    assert status == 0, stderr
    assert "saved to runs/gru-jena/" in stdout


def test_train_data_mistakes_are_one_line(tmp_path):
    status, _, stderr = run_cli("train", "--dataset", "jena", "--data", str(tmp_path / "nope.csv"), cwd=tmp_path)
    assert status == 2
    assert one_error_line(stderr).endswith(f"{tmp_path / 'nope.csv'} does not exist; pass a data folder, or the "
                                           f"jena file itself")
    status, _, stderr = run_cli("train", "--dataset", "beijing", "--data", str(tmp_path), cwd=tmp_path)
    line = one_error_line(stderr)
    assert f"not found in {tmp_path}" in line and "(or --data)" in line and "path=" not in line
    status, _, stderr = run_cli("train", "--seq-len", "1", "--quiet", cwd=tmp_path)
    assert "needs --seq-len of at least 2" in one_error_line(stderr)


def test_datasets_download_explains_what_it_cannot_fetch(tmp_path):
    status, _, stderr = run_cli("datasets", "--download", "jena", "--data", str(tmp_path))
    assert status == 2 and "cannot download jena/jena_climate_2009_2016.csv.zip itself" in one_error_line(stderr)
    status, _, stderr = run_cli("datasets", "--download", "cifar")
    assert status == 2 and "unknown data set 'cifar'; known: imdb" in one_error_line(stderr)


def test_datasets_download_finds_what_is_already_there(need_data):
    folder = need_data("beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv")
    status, stdout, stderr = run_cli("datasets", "--download", "beijing", "--data", str(folder))
    assert status == 0, stderr
    assert stdout.strip() == f"beijing: {folder / 'beijing_pm25' / 'PRSA_data_2010.1.1-2014.12.31.csv'}"


def test_datasets_table_fits_80_columns(tmp_path):
    status, stdout, _ = run_cli("datasets", "--data", str(tmp_path), env={"COLUMNS": "80"})
    assert status == 0
    lines = [line.rstrip() for line in stdout.splitlines()]
    assert max(len(line) for line in lines) <= 80
    assert "get: rnnsim datasets --download imdb" in stdout
    assert "[1] https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz" in lines


def test_inspect_save_without_matplotlib_is_one_line(run_folder, tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from rnnsim.cli import main\n"
            f"sys.exit(main(['inspect', {str(run_folder)!r}, '--save', 'x.svg']))\n")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                               timeout=300)
    assert completed.returncode == 2
    assert one_error_line(completed.stderr) == (
        'rnnsim: error: rnnsim.plot needs matplotlib, which is not installed: pip install "rnnsim[plot]" '
        '(in a clone: pip install -e ".[plot]")')
    assert os.listdir(tmp_path) == []
