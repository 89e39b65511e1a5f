"""notebooks/lessons.ipynb runs headless from start to end: each lesson's claim is an assert in it."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from s2s.web import lessons

pytestmark = pytest.mark.slow  # runs the whole notebook in a kernel

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "lessons.ipynb"


def test_the_lessons_notebook_runs_without_an_error():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
                   ).execute()  # raises CellExecutionError, with the cell and its traceback, on any failure
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    figures = sum("application/vnd.plotly.v1+json" in output.get("data", {}) for output in outputs)
    assert figures == len(lessons.LESSONS)  # a figure each
