"""Where the drawing code lives: rnnsim.render draws, rnnsim.checkpoint opens models, rnnsim.inspect only re-exports."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from helpers import make_trace

from rnnsim.checkpoint import choose_layer
from rnnsim.errors import InputError

ROOT = Path(__file__).resolve().parents[1]

# Every public name `rnnsim.inspect` had before the split, and the module that defines it now.
OLD_NAMES = {
    "rnnsim.render.colours": [
        "SEQUENTIAL", "DIVERGING", "SEQUENTIAL_RAMP", "DIVERGING_RAMP", "SERIES_COLOURS", "SERIES_MARKERS",
        "BASELINE_COLOUR", "CURSOR_COLOUR", "SIGMOID_GATES", "scale_for", "value_range", "colour_for",
        "char_for", "legend",
    ],
    "rnnsim.render.heatmap": ["bin_columns", "heatmap", "time_axis"],
    "rnnsim.render.lineplot": [
        "BRAILLE_BLANK", "BAND_SYMBOL", "Smoother", "ema", "log_span", "line_plot", "gradient_plot",
        "mean_gradient_norm",
    ],
    "rnnsim.render.equations": ["quantities", "quantity", "title_of", "equations"],
    "rnnsim.render.trace_view": ["render_trace"],
    "rnnsim.checkpoint": ["CheckpointProbe", "probe_checkpoint"],
    "rnnsim.cli": ["inspect_command"],
}


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import statement in a file; `import a.b` gives ('a.b', [])."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def _sources(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("home", sorted(OLD_NAMES))
def test_every_old_name_of_rnnsim_inspect_is_the_object_at_its_new_home(home):
    import rnnsim.inspect

    module = importlib.import_module(home)
    for name in OLD_NAMES[home]:
        assert getattr(rnnsim.inspect, name) is getattr(module, name), name
        assert name in rnnsim.inspect.__all__


def test_the_render_package_offers_every_drawing_name():
    import rnnsim.render

    for home, names in OLD_NAMES.items():
        if home.startswith("rnnsim.render."):
            for name in names:
                assert getattr(rnnsim.render, name) is getattr(importlib.import_module(home), name), name


def test_nothing_in_rnnsim_or_tui_imports_the_compatibility_module():
    for path in _sources("rnnsim", "tui"):
        if path == ROOT / "rnnsim" / "inspect.py":
            continue
        for module, names in _imports(path):
            assert module != "rnnsim.inspect" and not (module == "rnnsim" and "inspect" in names), path


def test_render_imports_no_model_data_set_checkpoint_or_screen():
    # Besides the trace: plain annotation records, the numbers the views compute from a trace (gains,
    # saturation: numpy only), the learners' notes (text) and the table of cell names (registry: a cell's
    # Keras name in messages).
    allowed_rnnsim = {"rnnsim.cells.trace", "rnnsim.cells.spec", "rnnsim.errors", "rnnsim.annotations",
                      "rnnsim.analysis.gain", "rnnsim.analysis.saturation", "rnnsim.notes", "rnnsim.registry"}
    for path in _sources("rnnsim/render"):
        for module, _ in _imports(path):
            top = module.split(".")[0]
            if top == "rnnsim":
                assert module.startswith("rnnsim.render") or module in allowed_rnnsim, (path.name, module)
            else:
                assert top in {"__future__", "collections", "dataclasses", "string", "math", "numpy", "rich"}, (
                    path.name, module)


def test_the_app_imports_each_drawing_from_the_module_that_defines_it():
    # A reader of tui/widgets/gates.py follows `from rnnsim.render.heatmap import heatmap` in one step.
    seen = set()
    for path in _sources("tui"):
        for module, names in _imports(path):
            if module == "rnnsim.render":
                raise AssertionError(f"{path.name} imports from the package, not the defining module")
            if module.startswith("rnnsim.render."):
                defining = importlib.import_module(module)
                for name in names:
                    value = getattr(defining, name)
                    if callable(value):
                        assert value.__module__ == module, (path.name, name, value.__module__)
                    seen.add(name)
    assert {"heatmap", "equations", "gradient_plot", "line_plot", "mean_gradient_norm"} <= seen


def test_new_modules_stay_under_600_lines():
    for path in _sources("rnnsim/render") + [ROOT / "rnnsim" / "checkpoint.py", ROOT / "rnnsim" / "inspect.py"]:
        assert len(path.read_text(encoding="utf-8").splitlines()) < 600, path.name


def test_choose_layer_by_default_index_or_name_and_one_clear_line_for_a_mistake():
    first, second = make_trace("lstm", steps=4), make_trace("gru", steps=4)
    first.layer_name, second.layer_name = "lstm", "gru_1"
    traces = [first, second]
    assert choose_layer(traces, None) is first
    assert choose_layer(traces, 1) is second and choose_layer(traces, "1") is second
    assert choose_layer(traces, "gru_1") is second
    with pytest.raises(InputError, match="no recurrent layer named 'dense'; the model has lstm, gru_1"):
        choose_layer(traces, "dense")
    with pytest.raises(InputError, match="layer 2 is out of range: the model has 2 recurrent layers"):
        choose_layer(traces, "2")
    with pytest.raises(InputError, match="no recurrent layer to inspect"):
        choose_layer([], None)
