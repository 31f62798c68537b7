"""The rnnsim terminal app: `rnnsim tui` or `python -m tui.app`.

`run(checkpoint=None, cell=None, dataset=None, ...)` validates its options before the app starts
(a bad one raises `InputError`: the CLI prints one line and exits 2), then runs `RnnsimApp`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from textual.app import App

from rnnsim.errors import InputError
from tui.commands import RnnsimCommands
from tui.screens.main import MainScreen
from tui.session import Settings, TrainingSession


class RnnsimApp(App):
    TITLE = "rnnsim"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {RnnsimCommands}
    BINDINGS = [("q", "quit", "Quit")]

    def __init__(
        self, settings: Settings | None = None, checkpoint: str | None = None, session_factory=TrainingSession
    ) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.checkpoint = checkpoint
        self.session_factory = session_factory

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
    if checkpoint is None:
        return None
    path = Path(checkpoint)
    if not path.is_file():
        raise InputError(
            f"checkpoint {checkpoint} does not exist; give the .npz file written by rnnsim train"
        )
    return str(path)


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
    parser.add_argument("--checkpoint", help="a model saved by rnnsim train / model.save")
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
