"""The `rnnsim` command line: train, inspect, the terminal app, the data registry, a demo.

Every user mistake (an unknown name, a missing or malformed file, a bad number, a run too big for
the machine, a full disk) ends in one line `rnnsim: error: ...` and exit status 2; Ctrl-C ends in
exit status 130 (SIGTERM while training: 143, after the current batch); nothing is half-written.
Internal bugs still raise with a traceback, so they get reported rather than hidden.
"""

from __future__ import annotations

import os
import sys

from rnnsim import interrupts

EXIT_USAGE = 2
EXIT_INTERRUPTED = interrupts.EXIT_INTERRUPTED
EXIT_TERMINATED = 143  # 128 + SIGTERM: training stopped by `kill`, a scheduler or `docker stop`

# Run as the `rnnsim` program (the console script, or python -m rnnsim.cli), not imported by other code.
if os.path.basename(sys.argv[0] if sys.argv else "") in ("rnnsim", "cli.py"):
    interrupts.guard_start_up()

# After the handler: these imports take most of the start-up.
import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

from rnnsim import registry  # noqa: E402
from rnnsim.errors import InputError, message_for  # noqa: E402

# The API's names of the settings a message may ask to change -> this command line's flags.
FLAG_NAMES = {"seq_len": "--seq-len", "n_samples": "--samples", "path": "--data", "data_path": "--data"}


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (not the whole usage) and exit status 2."""

    def error(self, message):
        sys.stderr.write(f"rnnsim: error: {message} (see '{self.prog} --help')\n")
        sys.exit(EXIT_USAGE)


def _number(convert, accept, description):
    """An argparse type: convert the text, then check it, with one message for both failures."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"expected {description}, got {value}")
        return value

    return parse


_positive_int = _number(int, lambda value: value >= 1, "a positive integer")
_non_negative_int = _number(int, lambda value: value >= 0, "a non-negative integer")
_rate = _number(float, lambda value: 0.0 <= value < 1.0, "a number in [0, 1)")
_positive_float = _number(float, lambda value: value > 0, "a positive number")


def _cell_name(text: str) -> str:
    """An argparse type: any spelling of a cell ('SimpleRNN', 'simple_rnn') -> its short name ('rnn').

    Text that names no cell is passed on unchanged, for `choices` to refuse with argparse's own message.
    """
    try:
        return registry.short_name(text)
    except InputError:
        return text


def build_parser() -> argparse.ArgumentParser:
    from rnnsim.datasets.tasks import TASK_NAMES  # no numba: the task registry is plain data and numpy

    other_tasks = ", ".join(name for name in TASK_NAMES if name != "adding")
    parser = _Parser(prog="rnnsim", description="See inside recurrent neural networks: train, inspect, watch.")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    train = commands.add_parser("train", help="train a SimpleRNN, LSTM or GRU on a task and save it")
    train.add_argument("--cell", type=_cell_name, choices=registry.SHORT_NAMES, default="gru",
                       help="recurrent cell (default gru)")
    train.add_argument("--dataset", default="adding", help=f"task: adding (default), {other_tasks}")
    train.add_argument("--units", type=_positive_int, default=32, help="units per recurrent layer (default 32)")
    train.add_argument("--layers", type=_positive_int, default=1, help="stacked recurrent layers (default 1)")
    train.add_argument("--bidirectional", action="store_true", help="wrap each recurrent layer in Bidirectional")
    train.add_argument("--epochs", type=_positive_int, default=None, help="epochs (default: the task's)")
    train.add_argument("--batch-size", type=_positive_int, default=None, help="batch size (default: the task's)")
    train.add_argument("--optimizer", choices=["rmsprop", "adam", "sgd"], default="rmsprop")
    train.add_argument("--lr", type=_positive_float, default=None, help="learning rate (default: the task's)")
    train.add_argument("--dropout", type=_rate, default=0.0, help="input dropout of the recurrent layers")
    train.add_argument("--recurrent-dropout", type=_rate, default=0.0, help="recurrent-state dropout")
    train.add_argument("--seq-len", type=_positive_int, default=None, help="timesteps (default: the task's)")
    train.add_argument("--samples", type=_positive_int, default=None, help="training samples (default: the task's)")
    train.add_argument("--seed", type=_non_negative_int, default=0)
    train.add_argument("--data", default=None,
                       help="data folder, or the data file itself: a Jena CSV or its zip, the aclImdb folder or "
                            "its archive (default: $RNNSIM_DATA or ~/.cache/rnnsim/datasets)")
    train.add_argument("--out", default=None, help="run folder for model.npz, history.json, config.json "
                       "(default runs/CELL-DATASET)")
    train.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    train.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--threads", type=_positive_int, default=None,
                       help="CPU threads for the cells (default: every CPU this process may use); "
                            "the numbers are the same on any count")

    inspect = commands.add_parser("inspect", help="print a saved model's gates and gradient by timestep")
    inspect.add_argument("model", help="a run folder written by rnnsim train, or its model.npz")
    inspect.add_argument("--sample", type=_non_negative_int, default=0, help="validation sample to show")
    inspect.add_argument("--layer", default=None, help="recurrent layer (index or name; default the first)")
    inspect.add_argument("--gate", default=None, help="show only this gate, as named on screen (f, forget, "
                         "'forget gate f', z, c~, h); the text view's gate")
    inspect.add_argument("--data", default=None, help="data folder or file for tasks with real data "
                         "(default: the one the run was trained on)")
    inspect.add_argument("--save", default=None, metavar="PATH",
                         help="draw with matplotlib into PATH instead of printing: a .svg, .png or .pdf file "
                              "(all views in one figure), or a folder (one file per view); needs the [plot] extra")
    inspect.add_argument("--format", choices=["svg", "png", "pdf"], default="svg",
                         help="file type of the views when --save names a folder (default svg)")
    inspect.add_argument("--view", action="append", default=None, metavar="VIEW",
                         help="what to print, repeatable or comma-separated: gates (default), gain, inputs "
                              "(connectivity ||dy/dx_t||), text (words down the page), saturation, what-if, all")
    inspect.add_argument("--what-if", dest="what_if", default=None, metavar="NAME=VALUE",
                         help="probe an edited copy beside the model: forget_bias=0 (LSTM), update_bias=2 (GRU), "
                              "recurrent_scale=0.5 (SimpleRNN); the saved model is not touched")
    inspect.add_argument("--notes", action="store_true", help="explain each view in a few sentences")
    inspect.add_argument("--saturation-samples", type=_positive_int, default=64, metavar="N",
                         help="validation samples the saturation view counts (default 64)")

    tui = commands.add_parser("tui", help="the terminal app: watch gates and gradients while a model trains")
    tui.add_argument("--checkpoint", default=None, help="open a run folder of rnnsim train (or a model's .npz)")
    tui.add_argument("--cell", default=None, help="rnn, lstm or gru")
    tui.add_argument("--dataset", default=None, help="task to train on (default adding)")

    datasets = commands.add_parser("datasets", help="list the data sets, where they are and how to get them")
    datasets.add_argument("--data", default=None,
                          help="data folder (default: $RNNSIM_DATA or ~/.cache/rnnsim/datasets)")
    datasets.add_argument("--download", default=None, metavar="NAME",
                          help="fetch the data set NAME into the cache (~/.cache/rnnsim/datasets), checked by SHA-256")

    demo = commands.add_parser("demo", help="run the three cells on a tiny sequence and print a gate trace")
    demo.add_argument("--timesteps", type=_positive_int, default=12)
    return parser


def _version() -> str:
    from rnnsim import __version__

    return f"rnnsim {__version__}"


def main(argv=None) -> int:
    """The `rnnsim` program; `argv` None means this process is it (sys.argv), a list a call from Python."""
    interrupts.end_start_up(program=argv is None)  # from here on, Ctrl-C is handled below
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        args.typed_options = typed_options(argv)
        status = exit_status(COMMANDS[args.command], args)
    except KeyboardInterrupt:  # Ctrl-C while the command line is read, or as the command returns
        sys.stderr.write(interrupts.MESSAGE + "\n")
        status = EXIT_INTERRUPTED
    except Exception:
        if not interrupts.pressed():
            raise
        sys.stderr.write(interrupts.MESSAGE + "\n")  # what Ctrl-C left behind while the parser was built
        status = EXIT_INTERRUPTED
    if argv is None:
        interrupts.leave(status)
    return status


def typed_options(argv=None) -> set[str]:
    """The options the user typed (argparse dests), told from the defaults, e.g. {'units', 'resume'}.

    The parser is built again with every default suppressed, so only what was typed lands in the namespace
    (argparse keeps its actions in `_actions`, subcommands in a `_SubParsersAction`'s `choices`).
    """
    parser = build_parser()
    pending = [parser]
    while pending:
        for action in pending.pop()._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
            elif action.dest not in ("help", "version"):
                action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv))) - {"command"}


def exit_status(command, *args, **options) -> int:
    """Run `command(*args, **options)` and return its exit status: the CLI's one error handler.

    A user's mistake (an `InputError`, a file that cannot be read or written, a full disk, not enough
    memory) is one line `rnnsim: error: ...` on stderr and status 2; Ctrl-C is one line and status 130;
    anything else is an internal bug and raises with its traceback.
    """
    try:
        return int(command(*args, **options) or 0)
    except InputError as error:
        sys.stderr.write(f"rnnsim: error: {message_for(error, FLAG_NAMES)}\n")  # seq_len -> --seq-len, ...
        return EXIT_USAGE
    except OSError as error:
        name = f": {error.filename}" if error.filename else ""
        sys.stderr.write(f"rnnsim: error: {error.strerror or error}{name}\n")
        return EXIT_USAGE
    except MemoryError as error:
        detail = f" ({str(error).splitlines()[0]})" if str(error) else ""
        sys.stderr.write(f"rnnsim: error: out of memory{detail}; try a smaller model or less data "
                         f"(--units, --seq-len, --samples, --batch-size)\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write(interrupts.MESSAGE + "\n")
        return EXIT_INTERRUPTED
    except Exception:
        if interrupts.pressed():  # what Ctrl-C left behind (numpy's ImportError for an interrupted import)
            sys.stderr.write(interrupts.MESSAGE + "\n")
            return EXIT_INTERRUPTED
        raise


# ---------------------------------------------------------------------------------------
# rnnsim train

# Per-task defaults, so that `rnnsim train --cell gru` alone is a good first minute.
TASK_DEFAULTS = {
    "adding": dict(epochs=8, batch_size=64, lr=3e-3, seq_len=50, samples=6000),
    "copy": dict(epochs=10, batch_size=64, lr=3e-3),
    "sine": dict(epochs=10, batch_size=64, lr=3e-3),
    "imdb": dict(epochs=10, batch_size=128),
    "sentiment": dict(epochs=10, batch_size=32),
    "beijing": dict(epochs=10, batch_size=128),
    "jena": dict(epochs=20, batch_size=128),
    "vowels": dict(epochs=30, batch_size=32, lr=3e-3),
    "addition": dict(epochs=30, batch_size=64, lr=3e-3, seq_len=5, samples=8000),
}


def _train_config(args):
    from rnnsim.experiment import RunConfig

    defaults = TASK_DEFAULTS.get(args.dataset, {})

    def pick(name, value):
        return defaults.get(name) if value is None else value

    return RunConfig(
        cell=args.cell, dataset=args.dataset, units=args.units, layers=args.layers,
        bidirectional=args.bidirectional, epochs=pick("epochs", args.epochs) or 10,
        batch_size=pick("batch_size", args.batch_size) or 64, optimizer=args.optimizer,
        lr=pick("lr", args.lr), dropout=args.dropout, recurrent_dropout=args.recurrent_dropout,
        seq_len=pick("seq_len", args.seq_len), samples=pick("samples", args.samples), seed=args.seed,
        data=args.data, device=args.device,
    ).validate()


def command_train(args) -> int:
    from dataclasses import asdict

    from rich.console import Console

    from rnnsim import experiment, memory, runs
    from rnnsim.train_loop import run_epochs

    console = Console(stderr=False)
    if args.threads is not None:
        from rnnsim.cells import threads

        threads.set_num_threads(args.threads)
    typed = {name: getattr(args, name) for name in getattr(args, "typed_options", ()) if hasattr(args, name)}
    out = Path(args.out) if args.out else Path("runs") / f"{args.cell}-{args.dataset}"
    # Everything that can be checked is checked before any data is made or anything trained.
    with runs.RunFolder(out) as folder:
        if args.resume:
            folder.open(create=False)
            snapshot = folder.load(device=typed.get("device"))
            config = experiment.resume_config(snapshot, typed, where=str(out / runs.MODEL_FILE))
            memory.check_fits(config, set(typed))
            if snapshot.repaired:
                console.print(f"rebuilt {' and '.join(snapshot.repaired)} from model.npz (an interrupted save "
                              f"had left an older copy)")
        else:
            config = _train_config(args)
            memory.check_fits(config, set(typed))
            earlier_run = (out / runs.MODEL_FILE).exists()
            folder.open(create=True, need_bytes=memory.snapshot_bytes(config))
            snapshot = None
        if config.device == "cuda":
            from rnnsim.cuda.device import require_cuda

            require_cuda()

        _fetch_missing(config.dataset, config.data, quiet=args.quiet)
        with console.status(f"loading {config.dataset} ..."):
            task = experiment.load_task(config)
        if snapshot is not None:
            model, initial_epoch = snapshot.model, snapshot.epochs_done
            history = {key: list(values) for key, values in snapshot.history.items()}
        else:
            model, initial_epoch, history = experiment.build_model(task, config), 0, {}
        if initial_epoch >= config.epochs:
            console.print(f"{out} already has {initial_epoch} epochs; ask for more with --epochs N")
            return 0

        replacing = " (replaces the earlier run there after the first epoch)" if not args.resume and earlier_run else ""
        console.print(
            f"[bold]{task.name}[/]: {task.description.splitlines()[0] if task.description else ''}\n"
            f"model: {_model_line(config, task)}, {model.count_params():,} parameters; "
            f"{len(task.x_train):,} training / {len(task.x_val):,} validation samples; out: {out}{replacing}"
        )
        saturation = _saturation_monitor(task, snapshot.extra.get("saturation") if snapshot else None)

        def save(epochs):  # one snapshot: the model, its history (and gate saturation) and its config
            extra = {"saturation": saturation.records} if saturation.records else None
            folder.save(model, asdict(config), history, epochs, extra=extra)

        interrupts.stop_if_pressed()  # a Ctrl-C whose exception was lost while modules loaded
        run = run_epochs(model, task, config, initial_epoch, history, args.quiet, console, save=save,
                         callbacks=[saturation])
    return _report_end(run, task, config, out, initial_epoch, console)


def _report_end(run, task, config, out, initial_epoch, console) -> int:
    """The last lines of `rnnsim train` and its exit status, from what `run_epochs` returned."""
    from rnnsim import experiment

    if run.saved_epoch > 0:
        kept = f"{out} holds epoch {run.saved_epoch}"
    elif (out / "model.npz").exists():
        kept = f"nothing was saved ({out} keeps the earlier run)"
    else:
        kept = "nothing was saved"
    if run.save_error is not None:
        sys.stderr.write(f"rnnsim: error: {run.save_error}\n")
        return EXIT_USAGE
    if run.diverged is not None:
        step = f"--lr {config.lr:g}" if config.lr else f"the {config.optimizer} default learning rate"
        last = ", the last finite checkpoint" if run.saved_epoch > 0 else ""
        sys.stderr.write(f"rnnsim: error: {run.diverged}: the run diverged with --optimizer {config.optimizer} "
                         f"and {step}; {kept}{last}. Try a smaller --lr, or --optimizer rmsprop\n")
        return EXIT_USAGE
    label, ours, baseline = experiment.baseline_comparison(task, run.last_logs)
    if ours is not None:
        console.print(f"val {label} {ours:.4g} (baseline {baseline:.4g}: {task.baseline['name']}; "
                      f"{_verdict(label, ours, baseline)})")
    if run.stopped:
        resume = f"; continue with: rnnsim train --out {out} --resume" if run.saved_epoch > 0 else ""
        console.print(f"stopped by {run.stopped_by} in epoch {run.epochs_done + 1}; {kept} (the last whole epoch)"
                      f"{resume}")
        return EXIT_TERMINATED if run.stopped_by == "SIGTERM" else EXIT_INTERRUPTED
    console.print(f"saved to {out}/ (model.npz, history.json, config.json)")
    return 0


def _fetch_missing(dataset: str, data: str | None, quiet: bool) -> None:
    """Download what a task's loader would, before the spinner starts: a progress bar needs the terminal alone.

    Files the registry cannot fetch are left for the loader; offline, find_file's message is the loader's.
    """
    from rnnsim.datasets import paths
    from rnnsim.datasets import registry as data_registry

    info = data_registry.DATASETS.get(dataset)
    if info is None or info.synthetic or not paths.downloads_allowed():
        return
    for alternatives in info.files:
        if data_registry.locate(dataset, alternatives, data) is None and any(c.fetchable for c in alternatives):
            data_registry.find_file(dataset, alternatives, data, progress=not quiet)


def _verdict(label: str, ours: float, baseline: float) -> str:
    """Plain words for the comparison; within 5% of the baseline is no real difference."""
    higher_is_better = label == "accuracy"
    gain = (ours - baseline) if higher_is_better else (baseline - ours)
    if abs(gain) <= 0.05 * abs(baseline):
        return "about the same as the baseline: the model has not learned the task"
    return "the model beats it" if gain > 0 else "worse than the baseline"


def _model_line(config, task) -> str:
    name = registry.layer_name(config.cell)
    if task.info.get("architecture") == "encoder_decoder":
        return (f"encoder {name}({config.units}) -> states -> decoder {name}({config.units}) -> "
                f"Dense({task.output_units}, {task.output_activation}), each reading Embedding({task.vocab_size}, "
                f"{config.embedding_dim})")
    stack = f"{config.layers} x {name}({config.units})" if config.layers > 1 else f"{name}({config.units})"
    if config.bidirectional:
        stack = f"Bidirectional({stack})"
    if task.vocab_size:
        stack = f"Embedding({task.vocab_size}, {config.embedding_dim}) -> {stack}"
    return f"{stack} -> Dense({task.output_units}, {task.output_activation})"


def _saturation_monitor(task, earlier):
    """The callback recording each epoch's gate saturation of the first 64 validation samples."""
    from rnnsim.callbacks import SaturationHistory

    return SaturationHistory(task.x_val[:64], task.y_val[:64], records=earlier if isinstance(earlier, list) else [])


# ---------------------------------------------------------------------------------------
# rnnsim inspect


def command_inspect(args) -> int:
    if args.save is not None:
        from rnnsim.inspection_files import save_inspection

        return save_inspection(args.model, args.save, sample=args.sample, layer=args.layer, gate=args.gate,
                                data_path=args.data, file_format=args.format)
    from rnnsim.inspection import print_inspection

    return print_inspection(args.model, sample=args.sample, layer=args.layer, gate=args.gate, data_path=args.data,
                             views=args.view, what_if=args.what_if, notes=args.notes,
                             saturation_samples=args.saturation_samples)


def inspect_command(
    model_path: str | Path,
    sample: int = 0,
    layer: str | int | None = None,
    gate: str | None = None,
    data: str | None = None,
    console=None,
    views=None,
    what_if: str | None = None,
    notes: bool = False,
    saturation_samples: int = 64,
) -> int:
    """`rnnsim inspect MODEL` from Python: print the views of one sample (default: heatmaps and gradient).

    Returns the exit status: a user's mistake (missing file, unknown gate or view, sample out of range) prints
    one line on stderr and returns 2, as on the command line. `console` is a rich Console (default stdout).
    `views` is a list of view names (rnnsim.render.trace_view.VIEWS, or 'all'); `what_if` an edit such as
    'forget_bias=0'.
    """
    from rnnsim.inspection import print_inspection

    return exit_status(print_inspection, model_path, sample=sample, layer=layer, gate=gate, data=data,
                       console=console, views=views, what_if=what_if, notes=notes,
                       saturation_samples=saturation_samples)



# ---------------------------------------------------------------------------------------
# the other commands


def command_datasets(args) -> int:
    from rich.console import Console

    from rnnsim.datasets import registry as data_registry

    console = Console()
    if args.download is None:
        console.print(data_registry.render_table(args.data))
        return 0
    data_registry.get_info(args.download)  # an unknown name: one line listing the known ones
    for place in data_registry.download(args.download, path=args.data):
        console.print(f"{args.download}: {place}", soft_wrap=True)
    return 0


def command_tui(args) -> int:
    try:
        from tui.app import run
    except ImportError as error:  # textual is a dependency, but say so plainly if it is broken
        raise InputError(f"the terminal app needs textual: pip install textual ({error})") from None
    return int(run(checkpoint=args.checkpoint, cell=args.cell, dataset=args.dataset) or 0)


def command_demo(args) -> int:
    """The cells on a tiny sequence: every gate of one unit at every step, and the gradient per step."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from rnnsim.cells import make_cell

    console = Console()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (1, args.timesteps, 2)).astype(np.float32)
    for entry in registry.CELLS:
        cell = make_cell(entry.key, 4)
        weights = cell.init_weights(2, np.random.default_rng(1))
        result = cell.forward(x, weights, record_trace=True)
        grad = np.zeros((1, 4), np.float32)
        grad[0, 0] = 1.0
        cell.backward(result, grad_final_states=(grad,) + (None,) * (len(cell.state_names) - 1))
        trace = result.trace
        table = Table(title=f"{cell.name}: unit 0 over {args.timesteps} steps (loss = h_T[0])")
        table.add_column("t", justify="right")
        for gate in trace.gate_names:
            table.add_column(gate, justify="right")
        if trace.cell_state is not None:
            table.add_column("c_t", justify="right")
        table.add_column("h_t", justify="right")
        table.add_column("||dL/dh_t||", justify="right")
        for t in range(args.timesteps):
            row = [str(t)] + [f"{trace.gates[g][0, t, 0]:+.3f}" for g in trace.gate_names]
            if trace.cell_state is not None:
                row.append(f"{trace.cell_state[0, t, 0]:+.3f}")
            row += [f"{trace.hidden[0, t, 0]:+.3f}", f"{trace.grad_hidden_norm[0, t]:.2e}"]
            table.add_row(*row)
        console.print(table)
    return 0


COMMANDS = {
    "train": command_train,
    "inspect": command_inspect,
    "tui": command_tui,
    "datasets": command_datasets,
    "demo": command_demo,
}


if __name__ == "__main__":
    sys.exit(main())
