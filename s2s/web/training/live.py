"""One page's training run as the page reads it: a `LiveRun` follows the run's events in a thread of the server
and keeps what the page polls (`progress()`, `probes()`), then the trained model and its export.

The training itself runs elsewhere: in a child process at a lower CPU priority (worker.py), or, on a
ZeroGPU Space, in ZeroGPU's GPU worker (the registry's `train_in`); either way its events stream back.
"""

from __future__ import annotations

import contextvars
import dataclasses
import hashlib
import io
import json
import os
import secrets
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ... import checkpoint
from ...errors import one_line
from ...training import cards
from ...translator import Translation, Translator
from .. import runs
from . import limits
from .events import Epoch, Event, Loss, Probe, Trained
from .limits import MAX_POINTS, TrainingRefused
from .request import TrainRequest
from .worker import Job, Worker

ZIP_DATE = (2026, 1, 1, 0, 0, 0)  # every exported zip's entries: the bytes say nothing of when


@dataclass(frozen=True)
class Progress:
    """A snapshot of a run for the page; every field is a plain value, safe to read from any thread."""

    epoch: int  # epochs begun (1 during the first)
    step: int  # optimizer steps taken
    examples: int  # training examples seen
    examples_per_s: float
    seconds: float  # of training so far
    loss: tuple[tuple[int, float], ...]  # (step, mean loss since the previous point)
    accuracy: tuple[tuple[int, float, float], ...]  # (step, validation token accuracy, exact match)
    status: str  # one line for a person
    done: bool  # finished, cancelled or failed: nothing will change any more
    cancelled: bool
    error: str | None
    probes: int  # how many probe translations there are


class LiveRun:
    """One visitor's training run, in a thread of its own. Read it with progress() and probes()."""

    def __init__(self, request: TrainRequest, page: str = "",
                 train_in: Callable[[TrainRequest], Iterator[Event]] | None = None):
        """train_in: where the run trains (ZeroGPU's GPU worker); None: a child process of its own (worker.py)."""
        request.check()
        self.request, self.page, self._train_in = request, page, train_in
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._worker: Worker | None = None
        self._finished = threading.Event()
        self._probes: list[Translation] = []
        self._files: dict[str, bytes] | None = None  # the trained checkpoint, once there
        self._stopped = ""  # why it ended before its time cap (events.Watch)
        self._translator: Translator | None = None
        self._progress = Progress(0, 0, 0, 0.0, 0.0, (), (), "Starting: making the data and the tokenizers.",
                                  False, False, None, 0)
        # the page's request context goes with the thread (ZeroGPU reads it to attribute GPU time)
        self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self._run,),
                                        name=f"s2s-train-{page[:16]}", daemon=True)

    # --- what the page reads ---------------------------------------------------------------------------
    def progress(self) -> Progress:
        with self._lock:
            return self._progress

    def probes(self) -> list[Translation]:
        with self._lock:
            return list(self._probes)

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    def cancel(self) -> None:
        self._cancel.set()
        with self._lock:
            running = self._worker
        if running is not None:
            running.cancel()

    @property
    def worker_pid(self) -> int | None:
        """The process the run trains in (None on ZeroGPU, or before it has started)."""
        with self._lock:
            return self._worker.pid if self._worker is not None else None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run is done (tests, scripts); True if it is."""
        return self._finished.wait(timeout)

    def translator(self) -> Translator | None:
        """The trained model, on the CPU, once the run is done without error (None before)."""
        if not self.done or self.progress().error:
            return None
        return self._translator

    def export_zip(self) -> bytes:
        """The checkpoint folder (config, weights, tokenizers, card, metrics) as zip bytes: the same bytes for the
        same run, whenever it is exported (every entry dated ZIP_DATE), so that repeated exports cost no disk."""
        if not self.done or self._files is None or self.progress().error:
            raise TrainingRefused("There is no trained model to export yet: wait until the run is done.")
        files = {**self._files, checkpoint.CARD: self._card().encode(),
                 checkpoint.METRICS: (json.dumps(self._metrics(), indent=2) + "\n").encode()}
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(files):
                archive.writestr(zipfile.ZipInfo(name, date_time=ZIP_DATE), files[name], zipfile.ZIP_DEFLATED)
        return buffer.getvalue()

    def export_path(self, name: str = "s2s") -> Path:
        """export_zip() as <name>-<task>.zip (name: what Explore calls the model) under EXPORT_DIR, in a folder named
        by its content: exporting the same model again finds the same file (gradio's own cache, which keys its
        copies by content, then holds one copy too). The newest EXPORT_KEEP folders are kept."""
        data = self.export_zip()
        folder = limits.EXPORT_DIR / f"export-{hashlib.sha256(data).hexdigest()[:20]}"
        path = folder / f"{name}-{self.request.task}.zip"
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            written = folder / f".{path.name}.{secrets.token_hex(4)}"  # pages exporting at once: each renames its own
            written.write_bytes(data)
            written.replace(path)
        os.utime(folder)  # the newest, whenever it was first written
        _prune(limits.EXPORT_DIR, limits.EXPORT_KEEP)
        return path

    # --- the thread that follows the run (the training itself: a child process, or ZeroGPU's) ----------
    def start(self) -> LiveRun:
        self._thread.start()
        return self

    def _run(self) -> None:
        error, events = None, None
        try:
            events = self._events()
            for event in events:
                self._apply(event)
                if self._cancel.is_set() and self._train_in is not None:
                    break
        except Exception as exc:  # noqa: BLE001 (the page shows it, unless it names a server folder; it goes on)
            error = runs.visible(one_line(str(exc)) or type(exc).__name__)
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
            self._finish(error)

    def _events(self) -> Iterator[Event]:
        if self._train_in is not None:  # in ZeroGPU's GPU worker: cancelling closes the stream
            return self._train_in(self.request)
        # in a child process (worker.py): the page's requests come first
        job = Job(dataclasses.asdict(self.request), limits.PROBE_EVERY_S)
        with self._lock:
            self._worker = Worker(job, self.request.max_seconds)
        if self._cancel.is_set():  # cancelled while the child was starting
            self._worker.cancel()
        return self._worker.events()

    def _apply(self, event: Event) -> None:
        if isinstance(event, Epoch):
            self._update(epoch=event.number, status=f"Training: epoch {event.number}.")
        elif isinstance(event, Loss):
            with self._lock:
                points = self._progress.loss + ((event.step, event.loss),)
                if len(points) > MAX_POINTS:
                    points = points[::2]
                speed = event.examples / max(event.training_seconds, 1e-9)
                self._progress = dataclasses.replace(self._progress, step=event.step, examples=event.examples,
                                                     seconds=event.seconds, examples_per_s=speed, loss=points)
        elif isinstance(event, Probe):
            with self._lock:
                self._probes.append(event.translation)
                accuracy = self._progress.accuracy + ((event.step, event.token_accuracy, event.exact_match),)
                self._progress = dataclasses.replace(self._progress, probes=len(self._probes), accuracy=accuracy)
        elif isinstance(event, Trained):
            self._files, self._stopped = event.files, event.stopped
            with tempfile.TemporaryDirectory(prefix="s2s-live-") as folder:
                for name, data in event.files.items():
                    (Path(folder) / name).write_bytes(data)
                self._translator = checkpoint.load(folder, device="cpu")  # every file read into memory here

    def _update(self, **fields) -> None:
        with self._lock:
            self._progress = dataclasses.replace(self._progress, **fields)

    def _finish(self, error: str | None) -> None:
        if error is None and self._translator is None and not self._cancel.is_set():
            error = "the run ended without a model"
        cancelled = self._cancel.is_set()
        p = self.progress()
        if error:
            status = f"Training failed: {error}"
        elif cancelled:
            status = f"Cancelled after {p.seconds:.0f} s ({p.step} steps)."
        else:
            best = p.accuracy[-1][2] if p.accuracy else 0.0
            status = f"Done: {p.seconds:.0f} s, {p.step} steps, validation exact match {best:.0%}."
            if self._stopped:
                status += f" It stopped before its {self.request.max_seconds:g} s: {self._stopped}."
        self._update(done=True, cancelled=cancelled, error=error, status=status)
        self._finished.set()

    def _metrics(self) -> dict:
        p = self.progress()
        return {"live_training": True, "seconds": round(p.seconds, 1), "steps": p.step, "examples": p.examples,
                "loss": [list(x) for x in p.loss], "accuracy": [list(x) for x in p.accuracy],
                "request": {k: v for k, v in dataclasses.asdict(self.request).items() if k != "tsv"}}

    def _card(self) -> str:
        p = self.progress()
        config = json.loads(self._files[checkpoint.CONFIG])
        return cards.live_card(config, seconds=p.seconds, steps=p.step, examples=p.examples, seed=self.request.seed)


def _prune(folder: Path, keep: int) -> None:
    """Keep the `keep` newest export folders (each holds one zip)."""
    exports = sorted(folder.glob("export-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in exports[keep:]:
        shutil.rmtree(path, ignore_errors=True)
