"""The package s2s/viz as a whole: it draws without gradio, keeps every name the project reaches through
`viz.`, and its modules import one another without a cycle, all at the top."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from s2s import viz

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "s2s" / "viz"


@pytest.mark.slow  # a fresh interpreter loads torch and a checkpoint
def test_loading_translating_and_drawing_imports_no_gradio():
    code = (
        "import sys, s2s, s2s.viz\n"
        "r = s2s.load('dates').translate('3 March 2021')\n"
        "s2s.viz.heatmap(r, step=2).to_json(); s2s.viz.step_figure(r, 1).to_json()\n"
        "assert 'gradio' not in sys.modules, 'gradio'\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('ui', 'bench') or m.startswith('s2s.web')]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_every_name_the_project_reaches_through_viz_is_there():
    sources = [p for folder in ("s2s", "ui", "bench", "tests", "notebooks") for p in (ROOT / folder).rglob("*")
               if p.suffix in (".py", ".ipynb") and PACKAGE not in p.parents]
    sources += [p for p in (ROOT / "app.py",) if p.exists()]
    reached = re.compile(r"(?<!tests\.)\bviz\.([A-Za-z_]\w*)")  # viz.heatmap, s2s.viz.heatmap; not tests.viz
    used = {name for p in sources for name in reached.findall(p.read_text(encoding="utf-8"))}
    used -= {"py"}  # a file name, s2s/viz.py in a comment
    assert {"heatmap", "display_piece", "Figure", "FORCING_COLUMNS"} <= used  # the scan sees the project
    assert not [name for name in used if not hasattr(viz, name)]


ALLOWED = {"__future__", "base64", "csv", "dataclasses", "functools", "html", "io", "json", "math", "numbers", "re",
           "textwrap", "numpy", "plotly", "_plotly_utils"}  # besides the package itself and s2s.translator


def _imports(path: Path) -> tuple[set[str], list[int]]:
    """The package's sibling modules that `path` imports, and the lines of any import inside a function.

    Any other import must be in ALLOWED or be `..translator`: no gradio, no page, no torch of its own."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    siblings = {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module}
    others = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
              for alias in node.names}
    others |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               and node.level == 0}
    parents = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 2}
    assert others <= ALLOWED and parents <= {"translator"}, (path.name, others - ALLOWED, parents)
    nested = [inner.lineno for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
              for inner in ast.walk(node) if isinstance(inner, ast.Import | ast.ImportFrom)]
    return siblings, nested


def test_the_modules_import_little_each_other_without_a_cycle_and_stay_small():
    graph, nested = {}, {}
    for path in PACKAGE.glob("*.py"):
        graph[path.stem], lines = _imports(path)
        if lines:
            nested[path.name] = lines
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, path.name
    assert not nested  # every import at the top
    done: list[str] = []
    while len(done) < len(graph):  # take a module whose imports are all taken: stuck means a cycle
        ready = [m for m, deps in graph.items() if m not in done and deps - {"__init__"} <= set(done)]
        assert ready, f"a cycle among {sorted(set(graph) - set(done))}"
        done += ready
    assert "__init__" not in set().union(*(deps for m, deps in graph.items() if m != "__init__"))
