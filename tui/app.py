"""The rnnsim terminal app: `rnnsim tui` or `python -m tui.app`.

`run(checkpoint=None, cell=None, dataset=None, ...)` validates its options before the app starts
(a bad one raises `InputError`: the CLI prints one line and exits 2), then runs `RnnsimApp`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from textual.app import App
from textual.binding import Binding

from rnnsim.errors import InputError
from tui.commands import RnnsimCommands
from tui.screens.main import MainScreen
from tui.session import Settings, TrainingSession


class RnnsimApp(App):
    TITLE = "rnnsim"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {RnnsimCommands}
    BINDINGS = [("q", "quit", "Quit"), Binding("ctrl+s", "save_svg", "Save SVG")]

    def __init__(
        self,
        settings: Settings | None = None,
        checkpoint: str | None = None,
        session_factory=TrainingSession,
        screenshot_folder: str | Path | None = None,
    ) -> None:
        super().__init__()
        # checked here, not only by the CLI: Settings(cell="rnn") built in Python is normalised too, and a bad
        # field is an InputError before Textual starts rather than a crash inside it
        self.settings = (settings or Settings()).validated()
        self.checkpoint = checkpoint
        self.session_factory = session_factory
        self.screenshot_folder = Path(screenshot_folder) if screenshot_folder is not None else Path.cwd()
        self.last_screenshot: Path | None = None  # where ctrl+s last saved the screen

    def action_save_svg(self) -> None:
        """ctrl+s: the screen as it is now, as an SVG file in the screenshot folder; the path is shown."""
        tabs = self.screen.query("#tabs")
        view = (tabs.first().active or "screen") if tabs else "screen"  # the tab shown, in the file's name
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name, count = f"rnnsim-{view}-{stamp}.svg", 2
        while (self.screenshot_folder / name).exists():  # two saves in one second keep both
            name, count = f"rnnsim-{view}-{stamp}-{count}.svg", count + 1
        try:
            self.screenshot_folder.mkdir(parents=True, exist_ok=True)
            saved = Path(self.save_screenshot(filename=name, path=str(self.screenshot_folder)))
        except OSError as error:
            self.notify(f"could not save the screen in {self.screenshot_folder}: {error.strerror}",
                        severity="error", title="Save SVG")
            return
        self.last_screenshot = saved
        self.notify(f"Saved the screen as {saved}", title="Save SVG")

    def on_mount(self) -> None:
        self.install_screen(MainScreen(self.settings, self.session_factory, self.checkpoint), "main")
        self.push_screen("main")


def make_settings(
    cell=None, dataset=None, units=None, seq_len=None, learning_rate=None, seed=None, epochs=None
) -> Settings:
    """Settings from command-line options (None = default); raises InputError for a bad one."""
    settings = Settings()
    for name, value in (
        ("cell", cell),
        ("task", dataset),
        ("units", units),
        ("seq_len", seq_len),
        ("learning_rate", learning_rate),
        ("seed", seed),
        ("epochs", epochs),
    ):
        if value is not None:
            setattr(settings, name, value)
    if isinstance(settings.learning_rate, int):
        settings.learning_rate = float(settings.learning_rate)
    return settings.validated()


def check_checkpoint(checkpoint) -> str | None:
    """The checkpoint's .npz (a run folder names its model.npz), or None; InputError if there is none."""
    if checkpoint is None:
        return None
    from rnnsim.checkpoint import model_file

    return str(model_file(checkpoint))


def run(
    checkpoint=None,
    cell=None,
    dataset=None,
    units=None,
    seq_len=None,
    learning_rate=None,
    seed=None,
    epochs=None,
) -> int:
    """Start the app. Raises InputError (before the app starts) for a bad option or a missing checkpoint."""
    settings = make_settings(cell, dataset, units, seq_len, learning_rate, seed, epochs)
    RnnsimApp(settings, check_checkpoint(checkpoint)).run()
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.app", description="rnnsim's terminal app")
    parser.add_argument("--checkpoint", help="a run folder of rnnsim train, or a model saved by model.save")
    parser.add_argument("--cell", help="SimpleRNN, LSTM or GRU")
    parser.add_argument("--dataset", "--task", dest="dataset", help="adding, copy, sine, imdb, ...")
    parser.add_argument("--units", type=int)
    parser.add_argument("--seq-len", type=int)
    parser.add_argument("--lr", type=float, dest="learning_rate")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--epochs", type=int)
    args = parser.parse_args(argv)
    try:
        return run(
            args.checkpoint,
            args.cell,
            args.dataset,
            args.units,
            args.seq_len,
            args.learning_rate,
            args.seed,
            args.epochs,
        )
    except InputError as error:
        print(f"rnnsim tui: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
