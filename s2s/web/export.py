"""The files a visitor downloads from the Explore tab, and their clean-up.

Each export is written to a fresh folder under EXPORT_DIR; the page copies the files into its own
cache at once, so folders older than EXPORT_TTL_S are deleted at the next export.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import NamedTuple

from .. import viz
from ..translator import Translation
from . import runs, views

EXPORT_TTL_S = 3600  # exported files older than this are deleted at the next export
EXPORT_DIR = Path(tempfile.gettempdir()) / "s2s-exports"


class Exported(NamedTuple):
    paths: list[str]  # the files written; empty when there is nothing to export
    message: str  # why nothing was exported, or ""


def export(result: Translation | None, rank: object = 1, layer: object = "mean",
           presenter: bool = False) -> Exported:
    """Write attention.csv, attention.json and heatmap.html of the shown result."""
    if result is None:
        return Exported([], "Nothing to export yet: translate something first.")
    r = views.hypothesis(result, rank)
    try:
        chosen = views.pick_layer(layer, r)
        files = {
            "attention.csv": viz.attention_csv(r, chosen),
            "attention.json": viz.attention_json(r),
            "heatmap.html": viz.figure_html(viz.heatmap(r, chosen, presenter=presenter)),
        }
    except Exception as error:
        return Exported([], runs.user_message(error))
    _prune_exports()
    folder = EXPORT_DIR / uuid.uuid4().hex
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return Exported([str(folder / name) for name in files], "")


def _prune_exports() -> None:
    """Delete exports older than EXPORT_TTL_S (the page has copied them into its own cache long before)."""
    if not EXPORT_DIR.is_dir():
        return
    cutoff = time.time() - EXPORT_TTL_S
    for folder in EXPORT_DIR.iterdir():
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue
