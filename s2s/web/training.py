"""Live training for the page's Train tab, without gradio: a bounded, cancellable run in a process of its own.

A visitor fills a `TrainRequest` (a task or pasted TSV, the model's switches, a size, a probe
sentence); `start(session_id, request)` checks it and the limits and starts a `LiveRun`: the training
itself runs in a child process at a lower CPU priority (s2s/web/worker.py: in a thread of the server
it slowed everybody's requests), and a background thread of the server applies what it sends. The
page then polls, every second or so:

- `run.progress()`: a frozen `Progress` snapshot (epoch, step, examples/s, the loss curve and
  validation accuracy points, a status line, done / cancelled / error);
- `run.probes()`: the probe sentence translated with the weights of that moment, one
  `Translation` every PROBE_EVERY_S seconds of training (attention included), oldest first.

`run.cancel()` stops it at the next batch. When it is done, `run.translator()` is the trained
model and `run.export_zip()` the checkpoint folder as zip bytes (`export_path()` writes it into a folder
of its own under EXPORT_DIR, which keeps the EXPORT_KEEP newest); both load back with `s2s.checkpoint.load`.

Limits, so that training cannot take the server from the visitors who are only looking:
one live run per visitor (keyed by the session id the page passes), at most MAX_RUNS at once on
the server (env S2S_TRAIN_MAX_RUNS; default 1 on a CPU, 4 with CUDA), at most MAX_SECONDS of
training each (env S2S_TRAIN_MAX_SECONDS, default 120; making the data and tokenizers, a second or
two, comes before), TRAIN_THREADS torch threads (env S2S_TRAIN_THREADS, default 1, in the run's
own process: the server keeps the other core), pasted TSV of at most MAX_TSV_LINES lines. A refusal is a
`TrainingRefused` (a ValueError) whose message the page can show as it is.
"""

from __future__ import annotations

import contextvars
import dataclasses
import io
import itertools
import json
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import checkpoint, environment
from ..errors import check_choice, one_line
from ..model import ENCODERS, MASKS, QUERIES, ModelConfig
from ..tasks import is_pair_line, parse_tsv_line
from ..training import cards
from ..training.config import TrainConfig
from ..training.data import Pairs, load_pairs
from ..training.trainer import Trainer
from ..translator import Translation, Translator
from . import runs, worker

TASK_CHOICES = ("dates", "reverse", "toy-fr", "tsv")
# the probe a task opens with (a pasted TSV keeps whatever the visitor typed)
PROBES = {"dates": "the 21st of June, 1999", "reverse": "s e q u e n c e",
          "toy-fr": "the black cat does not see the white mouse"}
SIZES = {  # the network of each size; small trains to a readable heatmap in about a minute on 2 CPUs
    "small": dict(emb_size=32, hidden_size=64, num_layers=1),
    "medium": dict(emb_size=64, hidden_size=128, num_layers=2),
}
MAX_TSV_LINES = 5_000
MAX_TRAIN_SIZE = 40_000  # generated pairs a run may ask for
DEFAULT_TRAIN_SIZE = 20_000
VAL_SIZE = 200  # validation pairs, measured at every probe
BATCH_SIZE = 128  # small enough for many updates in a minute, large enough to use the CPU well
PROBE_EVERY_S = 3.0
# the probe's UTF-8 bytes: a character the data lacks is read as its bytes (byte fallback), and a trained model
# reads at least 64 pieces, its </s> included (s2s.training.trainer.build_or_resume)
MAX_PROBE_BYTES = 60
LEARNT_PROBES = 2  # a run stops once this many probes in a row get every validation pair right
MAX_POINTS = 400  # loss points kept in a snapshot (older ones thinned out)
MAX_FINISHED = 32  # finished runs kept for their visitors (model, export), oldest dropped first
PLACE_KEPT_S = 10.0  # a place in line is kept this long after its page last asked (a waiting page asks each second)
MAX_RUNS = environment.count("S2S_TRAIN_MAX_RUNS", 4 if torch.cuda.is_available() else 1)
MAX_SECONDS = environment.number("S2S_TRAIN_MAX_SECONDS", 120.0, minimum=1)
TRAIN_THREADS = environment.count("S2S_TRAIN_THREADS", 1)
EXPORT_DIR = Path(tempfile.gettempdir()) / "s2s-training"
EXPORT_KEEP = 16  # exported zips kept in EXPORT_DIR, newest first


class TrainingRefused(ValueError):
    """A run was not started; the message says why and what to do."""


class InLine(TrainingRefused):
    """Every slot is taken (or kept for visitors ahead): the visitor has a place in line (Registry)."""


@dataclass(frozen=True)
class TrainRequest:
    """What a visitor asks to train. `check()` refuses anything outside the limits."""

    task: str = "dates"  # dates | reverse | toy-fr | tsv (then `tsv` holds the pairs)
    tsv: str = ""  # pasted source<TAB>target lines
    attention: bool = True
    query: str = "state"
    mask: str = "bidirectional"
    encoder: str = "bi"
    size: str = "small"
    probe: str = PROBES["dates"]
    seed: int = 0
    train_size: int = DEFAULT_TRAIN_SIZE  # generated pairs (tasks only)
    max_seconds: float = MAX_SECONDS  # at most MAX_SECONDS

    def check(self) -> None:
        for name, value, allowed in (("task", self.task, TASK_CHOICES), ("query", self.query, QUERIES),
                                     ("mask", self.mask, MASKS), ("encoder", self.encoder, ENCODERS),
                                     ("size", self.size, tuple(SIZES))):
            check_choice(name, value, allowed, TrainingRefused)
        if not self.probe.strip():
            raise TrainingRefused("Type a probe sentence: it is translated every few seconds while the model learns.")
        if len(self.probe.encode("utf-8")) > MAX_PROBE_BYTES:
            raise TrainingRefused(f"Shorten the probe to at most {MAX_PROBE_BYTES} plain letters (an accented letter "
                                  "or another script counts 2-4): a trained model reads short sentences.")
        if not 1 <= self.train_size <= MAX_TRAIN_SIZE:
            raise TrainingRefused(f"The training set may have 1 to {MAX_TRAIN_SIZE:,} pairs.")
        if not 0 < self.max_seconds <= MAX_SECONDS:
            raise TrainingRefused(f"A run may last at most {MAX_SECONDS:g} seconds.")
        if self.task == "tsv":
            pasted_pairs(self.tsv)

    def config(self) -> TrainConfig:
        """The TrainConfig of this run (the run is cut by time, not epochs: the forcing falls over 4)."""
        network = ModelConfig(0, 0, model="attention" if self.attention else "edm", query=self.query,
                              encoder=self.encoder, bridge="hidden" if self.attention else "final", dropout=0.0,
                              **SIZES[self.size])
        return TrainConfig(out="", task=self.task, network=network, mask=self.mask, train_size=self.train_size,
                           val_size=VAL_SIZE, batch_size=BATCH_SIZE, epochs=8, seed=self.seed, device="auto")


def probe_for(task: str, probe: str) -> str:
    """The probe once `task` is chosen: that task's own, unless the visitor typed one of their own (kept)."""
    if probe.strip() and probe not in PROBES.values():
        return probe
    return PROBES.get(task, probe)


def pasted_pairs(text: str) -> list[tuple[str, str]]:
    """The pairs of pasted source<TAB>target lines (blank and # lines skipped), at most MAX_TSV_LINES."""
    lines = [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), 1)]
    lines = [(n, line) for n, line in lines if is_pair_line(line)]
    if len(lines) > MAX_TSV_LINES:
        raise TrainingRefused(f"Paste at most {MAX_TSV_LINES:,} lines; these are {len(lines):,}.")
    if len(lines) < 10:
        raise TrainingRefused("Paste at least 10 source<TAB>target lines (one pair a line, a tab between).")
    try:
        return [parse_tsv_line(line, f"line {n}") for n, line in lines]
    except ValueError as error:
        raise TrainingRefused(str(error)) from None


def request_pairs(request: TrainRequest) -> Pairs:
    """The run's pairs, by the one loader (s2s.training.data.load_pairs): a task's, or the pasted ones split."""
    return load_pairs(request.config(), pasted_pairs(request.tsv) if request.task == "tsv" else None)


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


# --- a run as a stream of events ---------------------------------------------------------------------
# The training itself is a generator of plain, picklable events; a LiveRun applies them to what the page
# reads. Usually it runs in a child process (s2s/web/worker.py) and its events stream back. On a ZeroGPU
# Space app.py passes spaces.GPU, with a duration computed from the request (`gpu_seconds`), to
# `train_with`: the generator then runs in ZeroGPU's GPU worker process and its events stream back. The
# trained model comes back as checkpoint files (safetensors, JSON, sentencepiece, never a pickle), loaded
# on the CPU for Explore and Compare.


@dataclass(frozen=True)
class Epoch:
    number: int  # 1, 2, ...


@dataclass(frozen=True)
class Loss:
    step: int
    loss: float  # mean over the batches since the last Loss
    examples: int
    seconds: float  # since training began, probes included
    training_seconds: float  # the same, probes and validation left out: what examples/s is measured over


@dataclass(frozen=True)
class Probe:
    step: int
    translation: Translation  # the probe sentence, with the weights of this moment
    token_accuracy: float  # validation, at this moment
    exact_match: float


@dataclass(frozen=True)
class Trained:
    files: dict[str, bytes]  # the checkpoint folder by file name (no card or metrics: the page writes them)


Event = Epoch | Loss | Probe | Trained


def _never() -> bool:
    return False


def train_events(request: TrainRequest, stop: Callable[[], bool] = _never,
                 probe_every_s: float | None = None) -> Iterator[Event]:
    """Train as `request` asks, for at most request.max_seconds (or until `stop()`, or until LEARNT_PROBES probes in
    a row find every validation pair right), as a stream of events: a Probe first, Epoch and Loss as it goes,
    a Probe every `probe_every_s` s (default PROBE_EVERY_S), then a last Probe (unless the one before was of
    the same weights) and Trained."""
    probe_every_s = PROBE_EVERY_S if probe_every_s is None else probe_every_s
    torch.set_num_threads(TRAIN_THREADS)
    trainer = Trainer(request.config(), request_pairs(request))
    probe = _probe(trainer, request, 0)
    yield probe
    start = last_probe = time.monotonic()
    perfect = 0  # probes in a row with every validation pair right
    probing = 0.0  # seconds spent on probes and validation
    step = examples = 0
    total, count = torch.zeros((), device=trainer.device), 0
    over = False  # stopped, or out of time
    for epoch in itertools.count():
        yield Epoch(epoch + 1)
        for size, loss in trainer.steps(epoch):
            step, examples = step + 1, examples + size
            total, count = total + loss * size, count + size  # on the device: read at each probe only
            elapsed = time.monotonic() - start
            over = stop() or elapsed >= request.max_seconds
            due = time.monotonic() - last_probe >= probe_every_s  # a loss point and a probe
            if over or due:
                yield Loss(step, total.item() / count, examples, elapsed, elapsed - probing)
                total, count = torch.zeros((), device=trainer.device), 0
            if over:
                break
            if due:
                probe_start = time.monotonic()
                probe = _probe(trainer, request, step)
                trainer.model.train()
                last_probe = time.monotonic()
                probing += last_probe - probe_start
                yield probe
                perfect = perfect + 1 if probe.exact_match >= 1.0 else 0
                if perfect >= LEARNT_PROBES:  # nothing left to watch: the slot goes to the next run
                    over = True
                    break
        if over:
            break
    trainer.blocks = []  # the tokenised training data: not needed any more
    if probe.step != step:
        yield _probe(trainer, request, step)
    yield Trained(_checkpoint_files(trainer))


def _probe(trainer: Trainer, request: TrainRequest, step: int) -> Probe:
    """Translate the probe and measure validation with the weights of this moment."""
    trainer.model.eval()
    translation = trainer.translator.translate(request.probe, mask=request.mask)
    val = trainer.validate()
    return Probe(step, translation, val["token_accuracy"], val["exact_match"])


def _checkpoint_files(trainer: Trainer) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory(prefix="s2s-live-") as folder:
        checkpoint.save(folder, trainer.model, trainer.source_tok, trainer.target_tok, trainer.config)
        return {path.name: path.read_bytes() for path in sorted(Path(folder).iterdir())}


_train_hooked: Callable[[TrainRequest], Iterator[Event]] | None = None  # set on a ZeroGPU Space


def train_with(decorator: Callable[[Callable], Callable]) -> None:
    """Run every training through `decorator`: app.py passes spaces.GPU(duration=gpu_seconds) on ZeroGPU."""
    global _train_hooked
    _train_hooked = decorator(train_events)


def gpu_seconds(request: TrainRequest, *_) -> int:
    """The GPU time to ask ZeroGPU for: the run's own limit, plus making the data, the probes and the export."""
    return int(request.max_seconds) + 30


class LiveRun:
    """One visitor's training run, in a thread of its own. Read it with progress() and probes()."""

    def __init__(self, request: TrainRequest, session_id: str = ""):
        request.check()
        self.request, self.session_id = request, session_id
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._worker: worker.Worker | None = None
        self._finished = threading.Event()
        self._probes: list[Translation] = []
        self._files: dict[str, bytes] | None = None  # the trained checkpoint, once there
        self._translator: Translator | None = None
        self._progress = Progress(0, 0, 0, 0.0, 0.0, (), (), "Starting: making the data and the tokenizers.",
                                  False, False, None, 0)
        # the page's request context goes with the thread (ZeroGPU reads it to attribute GPU time)
        self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self._run,),
                                        name=f"s2s-train-{session_id[:16]}", daemon=True)

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
        """The checkpoint folder (config, weights, tokenizers, card, metrics) as zip bytes."""
        if not self.done or self._files is None or self.progress().error:
            raise TrainingRefused("There is no trained model to export yet: wait until the run is done.")
        files = {**self._files, checkpoint.CARD: self._card().encode(),
                 checkpoint.METRICS: (json.dumps(self._metrics(), indent=2) + "\n").encode()}
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(files):
                archive.writestr(name, files[name])
        return buffer.getvalue()

    def export_path(self, name: str = "s2s") -> Path:
        """export_zip() as <name>-<task>.zip (name: what Explore calls the model), in a fresh folder under
        EXPORT_DIR (the oldest beyond EXPORT_KEEP go)."""
        data = self.export_zip()
        EXPORT_DIR.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="export-", dir=EXPORT_DIR)) / f"{name}-{self.request.task}.zip"
        path.write_bytes(data)
        _prune(EXPORT_DIR, EXPORT_KEEP)
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
                if self._cancel.is_set() and _train_hooked is not None:
                    break
        except Exception as exc:  # noqa: BLE001 (the page shows it, unless it names a server folder; it goes on)
            error = runs.visible(one_line(str(exc)) or type(exc).__name__)
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
            self._finish(error)

    def _events(self) -> Iterator[Event]:
        if _train_hooked is not None:  # in ZeroGPU's GPU worker: cancelling closes the stream
            return _train_hooked(self.request)
        # in a child process (s2s/web/worker.py): the page's requests come first
        job = worker.Job(dataclasses.asdict(self.request), PROBE_EVERY_S)
        with self._lock:
            self._worker = worker.Worker(job, self.request.max_seconds)
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
            self._files = event.files
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


class Registry:
    """The server's live runs, by visitor: one running run per visitor and MAX_RUNS running in all.

    When every slot is taken, a visitor who asks gets a place in line (`InLine`) with its request; the page
    asks again every second on its own (`waiting` gives the request back), which keeps the place, and a
    place not asked for in PLACE_KEPT_S (a page closed) is dropped. A slot that frees goes to the first in
    line, not to whoever asks first (a script restarting its run the moment it ended held the only slot).
    """

    def __init__(self, max_runs: int = MAX_RUNS, clock: Callable[[], float] = time.monotonic):
        self.max_runs = max_runs
        self.clock = clock
        self._runs: dict[str, LiveRun] = {}
        # visitors refused for a full server, first come first -> (when they last asked, what they asked for)
        self._line: dict[str, tuple[float, TrainRequest]] = {}
        self._lock = threading.Lock()

    def start(self, session_id: str, request: TrainRequest) -> LiveRun:
        """Check the request and the limits, then start a run; TrainingRefused says why not."""
        if not session_id:
            raise TrainingRefused("No session: reload the page and try again.")
        request.check()
        with self._lock:
            mine = self._runs.get(session_id)
            if mine is not None and not mine.done:
                raise TrainingRefused("You already have a training run going: wait for it to finish, or cancel it.")
            running = sum(not run.done for run in self._runs.values())
            now = self.clock()
            self._drop_stale_places(now)
            ahead = list(self._line).index(session_id) if session_id in self._line else len(self._line)
            if running + ahead >= self.max_runs:
                self._line[session_id] = (now, request)  # joins the line, or keeps its place
                busy = (f"The server is training {running} model(s), its limit" if running >= self.max_runs
                        else f"A training slot is free, but {ahead} visitor(s) asked first")
                raise InLine(f"{busy}. You are number {ahead + 1} in line: your run starts by itself when its turn "
                             "comes (keep this page open).")
            self._line.pop(session_id, None)
            run = LiveRun(request, session_id)
            self._runs.pop(session_id, None)
            self._runs[session_id] = run
            self._forget_finished()
            return run.start()

    def get(self, session_id: str) -> LiveRun | None:
        with self._lock:
            return self._runs.get(session_id)

    def waiting(self, session_id: str) -> TrainRequest | None:
        """What the visitor asked for, while it has a place in line (the page then asks again with it)."""
        with self._lock:
            self._drop_stale_places(self.clock())
            kept = self._line.get(session_id)
            return kept[1] if kept is not None else None

    def _drop_stale_places(self, now: float) -> None:
        """Forget the places not asked for in PLACE_KEPT_S (their pages have closed); the lock is held."""
        self._line = {visitor: kept for visitor, kept in self._line.items() if now - kept[0] <= PLACE_KEPT_S}

    def cancel(self, session_id: str) -> bool:
        """Cancel the visitor's run, or its place in line; False when it has neither."""
        with self._lock:
            left = self._line.pop(session_id, None) is not None
        run = self.get(session_id)
        if run is None or run.done:
            return left
        run.cancel()
        return True

    def running(self) -> int:
        with self._lock:
            return sum(not run.done for run in self._runs.values())

    def _forget_finished(self) -> None:
        finished = [key for key, run in self._runs.items() if run.done]
        for key in finished[: max(0, len(finished) - MAX_FINISHED)]:  # dicts keep insertion order: oldest first
            del self._runs[key]


RUNS = Registry()  # the app's registry


def start(session_id: str, request: TrainRequest) -> LiveRun:
    return RUNS.start(session_id, request)
