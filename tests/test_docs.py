"""The README as a front door, kept honest: short, the Space's front matter, links that resolve, commands that
exist, CI's test command word for word, and the library's ten lines running as written."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MAX_README_LINES = 220
FRONT_MATTER_KEYS = ("title", "sdk", "sdk_version", "app_file", "python_version", "license")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)
MODULE = re.compile(r"python -m ([A-Za-z_][\w.]*)")


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def code_blocks(markdown: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", markdown, re.S)


def test_the_readme_is_short():
    assert len(text(README).splitlines()) <= MAX_README_LINES


def test_the_readme_opens_with_the_space_front_matter():
    lines = text(README).splitlines()
    assert lines[0] == "---"
    end = lines.index("---", 1)
    fields = dict(line.split(":", 1) for line in lines[1:end])
    assert set(FRONT_MATTER_KEYS) <= set(fields)
    assert fields["sdk"].strip() == "gradio"
    assert (ROOT / fields["app_file"].strip()).is_file()


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    targets = [t.split("#")[0] for t in LINK.findall(text(page)) if not re.match(r"[a-z]+:|#", t)]
    assert targets or page != README
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert not missing, f"{page.name} links to what is not there: {missing}"


def test_the_readme_links_every_doc():
    linked = {(ROOT / t).resolve() for t in LINK.findall(text(README))}
    assert DOCS and not [doc.name for doc in DOCS if doc.resolve() not in linked]


def test_the_readme_test_command_is_the_one_ci_runs():
    ci = [line for line in text(ROOT / ".ci" / "run").splitlines() if "python -m pytest" in line]
    assert ci == ["pip install -r requirements-dev.txt && python -m pytest"]
    shell = [line for block in code_blocks(text(README), "bash") for line in block.splitlines()]
    assert ci[0] in shell


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_every_command_names_a_module_that_exists(page):
    """`python -m s2s.train` and the like, once moved, fail here until the page names the new module."""
    missing = [name for name in MODULE.findall(text(page)) if importlib.util.find_spec(name) is None]
    assert not missing, f"{page.name} names modules that do not exist: {missing}"


def test_the_library_in_ten_lines_runs_as_written():
    blocks = code_blocks(text(README), "python")
    assert len(blocks) == 1 and len(blocks[0].strip().splitlines()) <= 10
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert namespace["r"].text == "1999-06-21"  # as the README's comment says
