"""The house's rules, read from the code with Python's own parser: layers apart, no import cycle, small modules.

The project's modules are s2s/ (the library, with its command lines in s2s/cli/), ui/ and app.py (the gradio
layer) and bench/ (benchmarks). An import is followed wherever it stands, at the top or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400
APP_MAX_LINES = 300


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for folder in ("s2s", "ui", "bench") for path in ROOT.joinpath(folder).rglob("*.py")}
MODULES["app"] = ROOT / "app.py"


def imports(name: str) -> list[tuple[str, bool]]:
    """The project modules `name` imports, each with whether the import stands inside a function."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    inside = {id(node) for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
              for node in ast.walk(fn) if isinstance(node, ast.Import | ast.ImportFrom)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:  # a name inside a module: the module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.append((target, id(node) in inside))
    return found


GRAPH = {name: sorted({target for target, _ in imports(name)}) for name in MODULES}


def reach(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in GRAPH[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_no_import_cycle_among_the_projects_modules():
    assert sorted(name for name in MODULES if name in reach(name)) == []


def test_no_project_import_hides_inside_a_function():
    hidden = sorted(f"{name} -> {target}" for name in MODULES for target, inside in imports(name) if inside)
    assert hidden == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_a_drawer(name):
    limit = APP_MAX_LINES if name == "app" else MAX_LINES
    assert len(MODULES[name].read_text().splitlines()) <= limit


def test_the_page_reaches_no_command_line_and_no_benchmark():
    reached = reach("app") | {"app"}
    with_parser = sorted(name for name in reached if "argparse" in MODULES[name].read_text())
    assert with_parser == [] and not any(name.startswith("bench") for name in reached)


def test_the_library_knows_nothing_of_the_page_or_the_benchmarks():
    for name in MODULES:
        if name.startswith("s2s"):
            assert not any(t.startswith(("ui", "bench", "app")) for t in GRAPH[name]), name
            if not name.startswith("s2s.cli"):
                assert "import argparse" not in MODULES[name].read_text(), name
            assert "import gradio" not in MODULES[name].read_text(), name


def test_every_folder_says_what_it_owns():
    for name, path in MODULES.items():
        if path.name == "__init__.py" or name == "app":
            docstring = ast.get_docstring(ast.parse(path.read_text()))
            assert docstring and len(docstring.split()) >= 8, f"{name} has no docstring saying what it owns"
