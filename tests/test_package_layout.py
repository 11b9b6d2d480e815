"""The package's shape: napari only on the napari side, one-way flow, no import cycles."""

import ast
from pathlib import Path

import pytest

import napari_respond_cam

PACKAGE = Path(napari_respond_cam.__file__).parent
NAME = "napari_respond_cam"
GUI_LIBRARIES = {"napari", "qtpy", "magicgui", "superqt", "PyQt5", "PyQt6", "PySide2", "PySide6"}

#: What each part may not import (at any depth): data flows napari side / CLI -> jobs ->
#: run layer -> tiling -> engine, with models and MRC I/O beside them; training stands
#: apart, on engine, models and the simulation.
FORBIDDEN = {
    "engine": {"tiling", "runs", "jobs", "cli", "napari_plugin", "models", "mrc_io", "training"},
    "tiling": {"runs", "jobs", "cli", "napari_plugin", "models", "mrc_io", "training"},
    "models": {"tiling", "runs", "jobs", "cli", "napari_plugin", "mrc_io", "training"},
    "mrc_io": {"engine", "tiling", "runs", "jobs", "cli", "napari_plugin", "models", "training"},
    "runs": {"jobs", "cli", "napari_plugin", "mrc_io", "training"},
    "jobs": {"cli", "napari_plugin", "training"},
    "napari_plugin": {"cli", "jobs", "training"},
    "faithfulness": {"runs", "jobs", "cli", "napari_plugin", "models", "mrc_io", "training"},
    # Training makes the demo models; only the command line's train command runs it.
    "training": {"tiling", "runs", "jobs", "cli", "napari_plugin", "mrc_io", "faithfulness"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imported(path: Path, top_level_only: bool) -> set[str]:
    """Absolute names of the modules (and imported names) a file imports."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == NAME and len(parts) > 1 else None


def test_only_the_napari_side_imports_napari_or_qt():
    offenders = {
        name: sorted(m for m in _imported(path, False) if m.split(".")[0] in GUI_LIBRARIES)
        for name, path in MODULES.items()
        if _part(name) != "napari_plugin"
    }
    assert {name: found for name, found in offenders.items() if found} == {}


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_data_flows_one_way(part):
    crossings = {
        name: sorted(m for m in _imported(path, False) if _part(m) in FORBIDDEN[part])
        for name, path in MODULES.items()
        if _part(name) == part
    }
    assert {name: found for name, found in crossings.items() if found} == {}


def test_no_import_cycles():
    graph = {
        name: {m for m in _imported(path, True) if m in MODULES and m != name}
        for name, path in MODULES.items()
    }
    # A package's __init__ importing its own submodules, and those importing siblings
    # through the package ("from . import x"), is how packages are built, not a cycle.
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(f"{m}.")}
    cycles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []
