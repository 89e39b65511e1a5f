"""The files a visitor downloads from the Explore tab, kept small, shared and bounded on disk.

A class exporting the same lesson must not fill the disk, so:
- the heatmap page loads plotly.js from one shared file (PLOTLY_JS, written once) instead of
  inlining its 4.6 MB, so an export is tens of kB;
- an export's folder is named by the digest of its files, so the same export twice is stored once
  (gradio, which copies downloads into its own cache, names its copies by content too);
- folders older than EXPORT_TTL_S, and the oldest beyond EXPORT_BUDGET_BYTES in all, are deleted at
  each export; gradio's copies of downloads are cleared by age on the same schedule (app.py) and by size
  at each download (ui/serving.py, `prune_downloads`: DOWNLOADS_BUDGET_BYTES).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from plotly.offline import get_plotlyjs

from .. import viz
from ..translator import Translation
from . import heads, runs, views

EXPORT_TTL_S = 600  # an export is downloaded at once; ten minutes is plenty
EXPORT_BUDGET_BYTES = 50 * 2**20  # all exports together, the shared plotly.js aside
DOWNLOADS_BUDGET_BYTES = 200 * 2**20  # gradio's copies of every download (exports and trained models' zips)
EXPORT_DIR = Path(tempfile.gettempdir()) / "s2s-exports"
PLOTLY_JS = "plotly.min.js"  # the shared file every heatmap.html loads


class Exported(NamedTuple):
    paths: list[str]  # the files written; empty when there is nothing to export
    message: str  # why nothing was exported, or ""


def export(result: Translation | None, rank: object = 1, layer: object = "mean", presenter: bool = False,
           display: object = (), kind: object = "cross", head: object = heads.MEAN) -> Exported:
    """attention.csv and heatmap.html of the map as on screen (for a model with heads, the kind and head chosen;
    its layer and display options), attention.json of everything recorded, and the plotly.js the page loads
    from beside it."""
    if result is None:
        return Exported([], "Nothing to export yet: translate something first.")
    r = views.hypothesis(result, rank)
    try:
        shown, _ = heads.lens(r, kind, head)
        files = {
            "attention.csv": viz.attention_csv(shown, views.pick_layer(layer, shown)),
            "attention.json": viz.attention_json(r),
            "heatmap.html": viz.figure_html(views.map_figure(r, layer, None, presenter, display, kind, head),
                                            plotly_js=PLOTLY_JS),
        }
    except Exception as error:
        return Exported([], runs.user_message(error))
    folder = _store(files)
    prune()
    return Exported([str(folder / name) for name in files] + [str(_plotly_js())], "")


def _store(files: dict[str, str]) -> Path:
    """The folder holding exactly these files, named by their digest: written once, touched after."""
    digest = hashlib.sha256()
    for name, text in files.items():
        digest.update(name.encode() + b"\0" + text.encode("utf-8") + b"\0")
    folder = EXPORT_DIR / digest.hexdigest()[:32]
    if folder.is_dir():
        os.utime(folder)
        return folder
    EXPORT_DIR.mkdir(parents=True, exist_ok=True)
    # one of its own per request: requests exporting the same files at once each write and rename their own
    partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".partial", dir=EXPORT_DIR))
    for name, text in files.items():
        (partial / name).write_text(text, encoding="utf-8")
    try:
        partial.rename(folder)
    except OSError:  # another request stored the same export meanwhile
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def _plotly_js() -> Path:
    path = EXPORT_DIR / PLOTLY_JS
    if not path.is_file():
        EXPORT_DIR.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(prefix=f".{PLOTLY_JS}.", suffix=".partial", dir=EXPORT_DIR)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(get_plotlyjs())
        os.replace(partial, path)
    return path


def prune(now: float | None = None) -> None:
    """Delete export folders older than EXPORT_TTL_S, then the oldest until all fit in EXPORT_BUDGET_BYTES."""
    prune_folder(EXPORT_DIR, EXPORT_TTL_S, EXPORT_BUDGET_BYTES, now)


def prune_folder(root: Path, ttl_s: float, budget: int, now: float | None = None) -> None:
    """Delete the folders in `root` last changed over `ttl_s` ago, then the oldest until the rest hold at most
    `budget` bytes. Each folder is one download (ours, or gradio's copy of one: a folder per file's digest)."""
    if not root.is_dir():
        return
    now = time.time() if now is None else now
    folders = []
    for folder in root.iterdir():
        try:
            if not folder.is_dir():
                continue
            when = folder.stat().st_mtime
            if when < now - ttl_s:
                shutil.rmtree(folder, ignore_errors=True)
            else:
                folders.append((when, sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()), folder))
        except OSError:
            continue
    total = sum(size for _, size, _ in folders)
    for _, size, folder in sorted(folders, key=lambda item: item[0]):
        if total <= budget:
            break
        shutil.rmtree(folder, ignore_errors=True)
        total -= size
