"""One registry of cells (rnnsim.registry) and one of tasks (rnnsim.datasets.tasks), read by the CLI, the
experiment builder and the app."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rnnsim import registry
from rnnsim.errors import InputError
from rnnsim.registry import layer_name, resolve_cell

SPELLINGS = {
    "simple_rnn": ["rnn", "simple_rnn", "simplernn", "SimpleRNN", "RNN", "Simple_RNN", " simple-rnn "],
    "lstm": ["lstm", "LSTM", "Lstm"],
    "gru": ["gru", "GRU", "Gru"],
}
EVERY_SPELLING = [(key, name) for key, names in SPELLINGS.items() for name in names]


@pytest.mark.parametrize("key, name", EVERY_SPELLING)
def test_every_alias_resolves_to_its_cell_case_insensitively(key, name):
    assert resolve_cell(name) == key
    assert layer_name(name) == {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}[key]


def test_the_registry_lists_the_three_cells_in_display_order():
    assert registry.CELL_KEYS == ("simple_rnn", "lstm", "gru")
    assert registry.SHORT_NAMES == ("rnn", "lstm", "gru")
    assert registry.LAYER_NAMES == {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
    assert set(registry.ALIASES) == {"rnn", "simple_rnn", "simplernn", "lstm", "gru"}


@pytest.mark.parametrize("name", ["transformer", "", "lstm2", "simple rnn"])
def test_an_unknown_cell_is_an_input_error_naming_the_choices(name):
    with pytest.raises(InputError) as error:
        resolve_cell(name)
    assert str(error.value) == f"unknown cell {name!r}; choose one of rnn, lstm, gru"


def test_the_error_offers_the_names_the_caller_shows():
    with pytest.raises(InputError, match=r"^unknown cell 'cnn'; choose one of SimpleRNN, LSTM, GRU$"):
        resolve_cell("cnn", choices=registry.LAYER_NAMES.values())


# make_cell takes names as code spells them (no padding, no hyphen); the app and the CLI also take typed ones.
@pytest.mark.parametrize("key, name", [(key, name) for key, name in EVERY_SPELLING if name.isidentifier()])
def test_make_cell_accepts_the_registry_names(key, name):
    from rnnsim.cells import make_cell

    assert make_cell(name, 3).name == key


def test_make_cell_refuses_what_the_registry_refuses():
    from rnnsim.cells import make_cell

    with pytest.raises(InputError, match="unknown cell 'transformer'; choose one of rnn, lstm, gru"):
        make_cell("transformer", 3)


def test_the_experiment_builder_takes_any_alias_and_keeps_the_name_it_was_given():
    from rnnsim.experiment import CELL_LAYERS, RunConfig

    for _, name in EVERY_SPELLING:
        assert RunConfig(cell=name).validate().cell == name  # config.json keeps what the user typed
    assert CELL_LAYERS["rnn"] == CELL_LAYERS["simple_rnn"] == "SimpleRNN" and CELL_LAYERS["gru"] == "GRU"
    with pytest.raises(InputError, match="unknown cell 'transformer'; choose one of rnn, lstm, gru"):
        RunConfig(cell="transformer").validate()


@pytest.mark.parametrize("key, name", EVERY_SPELLING)
def test_cli_cell_option_accepts_every_alias_as_its_short_name(key, name):
    from rnnsim.cli import build_parser

    args = build_parser().parse_args(["train", "--cell", name])
    assert args.cell == {"simple_rnn": "rnn", "lstm": "lstm", "gru": "gru"}[key]


def test_cli_help_lists_the_short_cell_names_and_every_task(capsys):
    from rnnsim.cli import build_parser
    from rnnsim.datasets.tasks import TASK_NAMES

    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--cell {rnn,lstm,gru}" in text
    assert "task: adding (default), " + ", ".join(name for name in TASK_NAMES if name != "adding") in text


def test_the_app_menus_come_from_the_registries():
    from rnnsim.datasets.tasks import TASK_NAMES
    from tui.session import CELLS, TASKS, Settings, normalise_cell

    assert CELLS == {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
    assert TASKS == TASK_NAMES and "jena" in TASKS
    assert Settings(task="jena").validated().task == "jena"
    assert [normalise_cell(name) for _, name in EVERY_SPELLING] == [key for key, _ in EVERY_SPELLING]


def test_the_cli_parser_and_the_registries_import_no_numba():
    code = (
        "import sys, rnnsim, rnnsim.registry, rnnsim.cli, rnnsim.datasets.tasks\n"
        "rnnsim.cli.build_parser()\n"
        "assert 'numba' not in sys.modules, 'numba imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_registry_module_imports_no_numpy():
    code = "import sys, rnnsim.registry\nassert 'numpy' not in sys.modules, 'numpy imported'\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_rnnsim_train_has_defaults_for_exactly_the_registered_tasks():
    from rnnsim.cli import TASK_DEFAULTS
    from rnnsim.datasets.tasks import TASK_NAMES

    assert tuple(TASK_DEFAULTS) == TASK_NAMES
