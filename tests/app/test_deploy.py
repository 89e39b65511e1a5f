"""Deploying: the ZeroGPU Space's requirements and Python version, checked against the repository's own."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The torch releases ZeroGPU lists as supported (Hub documentation, "Spaces ZeroGPU", Supported Versions).
ZEROGPU_TORCH = {"2.1.0", "2.1.1", "2.1.2", "2.2.0", "2.2.2", "2.4.0", "2.5.1", "2.6.0", "2.7.1", "2.8.0"}
ZEROGPU_PYTHON = (3, 10)  # ZeroGPU runs Python 3.10.13


def requirements(path: Path) -> dict[str, str]:
    """{package: its requirement line} of a requirements file, comments left out."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    found = {}
    for line in lines:
        if line and not line.startswith("#"):
            name = line.split("==")[0].split(">=")[0].split("<")[0].strip().lower()
            found[name] = line
    return found


def test_the_zerogpu_requirements_are_the_apps_with_a_torch_zerogpu_supports():
    app, zero = requirements(ROOT / "requirements.txt"), requirements(ROOT / "deploy/zerogpu/requirements.txt")
    assert set(app) == set(zero)
    assert {k: v for k, v in app.items() if k != "torch"} == {k: v for k, v in zero.items() if k != "torch"}
    assert zero["torch"].startswith("torch==") and zero["torch"].removeprefix("torch==") in ZEROGPU_TORCH


def test_every_module_is_python_that_zerogpu_runs():
    sources = [*ROOT.joinpath("s2s").rglob("*.py"), *ROOT.joinpath("ui").rglob("*.py"), ROOT / "app.py"]
    for source in sources:
        try:
            ast.parse(source.read_text(), filename=str(source), feature_version=ZEROGPU_PYTHON)
        except SyntaxError as error:
            raise AssertionError(f"{source.relative_to(ROOT)} is not Python {ZEROGPU_PYTHON}: {error}") from None
    assert len(sources) > 20


def test_the_package_built_from_pyproject_is_the_library_alone():
    """`pip wheel .` failed: setuptools' automatic discovery found several top-level folders (s2s, deploy, assets,
    notebooks, checkpoints). pyproject names what to include: the library s2s with every package in it, and
    nothing else: not the gradio layer (ui/, beside app.py), the benchmarks or the tests (the wheel itself was
    built by hand: a build needs the package index)."""
    import tomllib
    from setuptools import find_packages

    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    library = {".".join(init.parent.relative_to(ROOT).parts) for init in ROOT.joinpath("s2s").rglob("__init__.py")}
    assert {"s2s", "s2s.web", "s2s.viz"} <= library
    assert set(find_packages(str(ROOT), include=found["include"])) == library
    dynamic = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["dynamic"]
    assert dynamic["dependencies"]["file"] == ["requirements.txt"]  # one list of what the library needs
