"""The house rules of the layout, read from the code's imports (the `ast` module, nothing is imported).

Every `import` and `from ... import` counts, at the top of a module or late inside a function. The rules
(see ../shared/ARCHITECTURE.md): the core knows no screen; a cell knows no layer, optimizer, data set
or drawing; data knows no model; no import circle inside rnnsim; no module over 600 lines; test files
do not import each other.
"""

from __future__ import annotations

import pytest
from helpers import REPO, imported_names, internal_edges, package_modules

MAX_LINES = 600
RNNSIM = package_modules("rnnsim")
TUI = package_modules("tui")


def violations(modules, source_prefixes, forbidden_prefixes, allow=()) -> list[str]:
    """'module imports name (line n)' wherever a module under a source prefix imports a forbidden one."""
    found = []
    for module, path in modules.items():
        if not any(module == p or module.startswith(p + ".") for p in source_prefixes):
            continue
        for name, node, _late in imported_names(path, module):
            if any(name == f or name.startswith(f + ".") for f in forbidden_prefixes) and (module, name) not in allow:
                found.append(f"{module} imports {name} (line {node.lineno})")
    return sorted(set(found))


def test_the_scan_sees_late_and_relative_imports(tmp_path):
    # The rules are only as good as the scan: it must see an import inside a function and resolve `..`.
    package = tmp_path / "pkg" / "sub"
    package.mkdir(parents=True)
    file = package / "mod.py"
    file.write_text("def f():\n    from ..other import thing\n    import textual.app\n")
    names = {name: late for name, _node, late in imported_names(file, "pkg.sub.mod")}
    assert names["pkg.other"] is True
    assert names["pkg.other.thing"] is True
    assert names["textual.app"] is True


def test_rnnsim_never_imports_textual():
    assert violations(RNNSIM, ["rnnsim"], ["textual"]) == []


def test_only_the_cli_tui_command_imports_tui_and_only_lazily():
    found = []
    for module, path in RNNSIM.items():
        for name, node, late in imported_names(path, module):
            if name == "tui" or name.startswith("tui."):
                if module != "rnnsim.cli" or not late:
                    found.append(f"{module} imports {name} (line {node.lineno}, late={late})")
    assert found == []
    cli_imports = [name for name, _node, _late in imported_names(RNNSIM["rnnsim.cli"], "rnnsim.cli")]
    assert any(name.startswith("tui") for name in cli_imports), "the CLI's tui command should import tui"


@pytest.mark.parametrize(
    "forbidden",
    ["rnnsim.layers", "rnnsim.models", "rnnsim.optimizers", "rnnsim.datasets", "rnnsim.render", "rnnsim.plot",
     "rnnsim.checkpoint", "rnnsim.inspect", "rnnsim.callbacks", "rnnsim.losses", "rnnsim.metrics", "rnnsim.saving",
     "rnnsim.preprocessing", "rnnsim.cli", "rnnsim.experiment", "rich", "textual"],
)
def test_the_cells_know_no_layer_model_optimizer_data_or_drawing(forbidden):
    assert violations(RNNSIM, ["rnnsim.cells"], [forbidden]) == []


@pytest.mark.parametrize("forbidden", ["rnnsim.layers", "rnnsim.models", "rnnsim.saving", "rnnsim.optimizers"])
def test_data_modules_know_no_layer_or_model(forbidden):
    data = ["rnnsim.datasets", "rnnsim.preprocessing", "rnnsim.utils"]
    assert violations(RNNSIM, data, [forbidden]) == []


def test_drawing_reads_traces_and_arrays_never_models_or_data():
    forbidden = ["rnnsim.layers", "rnnsim.models", "rnnsim.datasets", "rnnsim.saving", "rnnsim.checkpoint"]
    assert violations(RNNSIM, ["rnnsim.render"], forbidden) == []


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan), each sorted."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def _without_package_reexports(edges):
    """Drop the edges from a package to its own submodules (its __init__ re-exporting them): importing
    `rnnsim.cells.base` runs `rnnsim/cells/__init__.py` first, but that is Python's order, not a circle
    of the code's own making. Every other edge, late ones included, stays."""
    return {
        module: {target for target in targets if not target.startswith(module + ".")}
        for module, targets in edges.items()
    }


def test_no_import_circle_inside_rnnsim():
    assert _cycles(_without_package_reexports(internal_edges(RNNSIM))) == []


def test_no_import_circle_inside_tui():
    assert _cycles(_without_package_reexports(internal_edges(TUI))) == []


def test_no_module_over_600_lines():
    too_long = {
        str(path.relative_to(REPO)): count
        for path in [*RNNSIM.values(), *TUI.values()]
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}


def test_test_files_do_not_import_each_other():
    tests = {path.stem: path for path in (REPO / "tests").glob("*.py")}
    found = []
    for name, path in tests.items():
        for imported, node, _late in imported_names(path, f"tests.{name}"):
            parts = imported.split(".")
            stems = {parts[0], parts[-1]} | ({parts[1]} if parts[0] == "tests" and len(parts) > 1 else set())
            if any(stem in tests and stem not in ("conftest", name) and stem.startswith("test_") for stem in stems):
                found.append(f"{name} imports {imported} (line {node.lineno})")
    assert found == []


def test_the_core_imports_without_textual_in_a_fresh_process():
    # Stands on its own: a fresh interpreter in which importing textual fails outright.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'textual' or name.startswith('textual.'):\n"
        "            raise ImportError('textual is blocked in this test')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import rnnsim, rnnsim.cells, rnnsim.layers, rnnsim.models, rnnsim.render, rnnsim.checkpoint\n"
        "import rnnsim.datasets, rnnsim.cli\n"
        "assert not any(m == 'textual' or m.startswith('textual.') for m in sys.modules)\n"
        "print('ok')\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "ok"


def test_import_rnnsim_is_light_and_exposes_its_submodules():
    import subprocess
    import sys

    code = (
        "import sys, rnnsim\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('numba', 'textual', 'rich', 'tui'))\n"
        "assert heavy == [], heavy\n"
        "import rnnsim as keras\n"
        "assert keras.layers.LSTM.__name__ == 'LSTM'\n"
        "assert keras.callbacks.EarlyStopping.__name__ == 'EarlyStopping'\n"
        "assert keras.optimizers.RMSprop.__name__ == 'RMSprop'\n"
        "assert keras.models.Sequential.__name__ == 'Sequential'\n"
        "print('ok')\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "ok"
