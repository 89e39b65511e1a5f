"""A training run as a stream of plain events: what the Train tab shows comes from these alone.

`train_events(request)` trains as the request asks and yields a `Probe` first, `Epoch` and `Loss` as it
goes, a `Probe` every PROBE_EVERY_S seconds, and at the end `Trained`, the checkpoint's files.
"""

from __future__ import annotations

import itertools
import math
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from ... import checkpoint
from ...training.trainer import Trainer
from ...translator import Translation
from .limits import LEARNT_PROBES, MIN_GAIN, MIN_LOSS_GAIN, PROBE_EVERY_S, STALL_PROBES, TRAIN_THREADS
from .request import TrainRequest, request_pairs

# --- a run as a stream of events ---------------------------------------------------------------------
# The training itself is a generator of plain events; a LiveRun applies them to what the page reads.
# Usually it runs in a child process (worker.py) and its events stream back as JSON lines (wire.py). On a ZeroGPU
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
    stopped: str = ""  # why the run ended before its time cap, in the page's words ("" if it did not)


@dataclass(frozen=True)
class Failed:
    """The last event of a run that raised in a child process (worker.py): the message for the page."""

    message: str


Event = Epoch | Loss | Probe | Trained


def _never() -> bool:
    return False


LEARNT = "it got every validation pair right"
STALLED = "validation had stopped improving"


@dataclass
class Watch:
    """Whether a run should end before its time cap, probe after probe: once LEARNT_PROBES probes in a row get
    every validation pair right (nothing left to watch), or once STALL_PROBES probes in a row improve neither
    validation exact match, nor token accuracy (by MIN_GAIN), nor the training loss (by MIN_LOSS_GAIN): a run
    that cannot improve frees its slot. The loss counts because validation may sit on a plateau while the
    model is still learning (toy-fr's first minute); a model learning pairs by heart has no loss left to lose."""

    perfect: int = 0  # probes in a row with every validation pair right
    stalled: int = 0  # probes in a row without a gain
    best: tuple[float, float] = (-1.0, -1.0)  # the best (exact match, token accuracy) so far
    lowest_loss: float = math.inf  # the lowest training loss so far

    def after(self, probe: Probe, loss: float = math.inf) -> str:
        """The reason to stop after `probe`, with the training loss since the probe before (LEARNT or STALLED),
        or ""."""
        self.perfect = self.perfect + 1 if probe.exact_match >= 1.0 else 0
        if self.perfect >= LEARNT_PROBES:
            return LEARNT
        exact, tokens = self.best
        learning = math.isfinite(loss) and loss <= self.lowest_loss - MIN_LOSS_GAIN
        self.lowest_loss = min(self.lowest_loss, loss)
        if probe.exact_match > exact or probe.token_accuracy >= tokens + MIN_GAIN or learning:
            self.best, self.stalled = (max(exact, probe.exact_match), max(tokens, probe.token_accuracy)), 0
        else:
            self.stalled += 1
        return STALLED if self.stalled >= STALL_PROBES else ""


def train_events(request: TrainRequest, stop: Callable[[], bool] = _never,
                 probe_every_s: float | None = None) -> Iterator[Event]:
    """Train as `request` asks, for at most request.max_seconds (or until `stop()`, or until `Watch` says there is
    nothing more to learn or to see), as a stream of events: a Probe first, Epoch and Loss as it goes,
    a Probe every `probe_every_s` s (default PROBE_EVERY_S), then a last Probe (unless the one before was of
    the same weights) and Trained."""
    probe_every_s = PROBE_EVERY_S if probe_every_s is None else probe_every_s
    torch.set_num_threads(TRAIN_THREADS)
    trainer = Trainer(request.config(), request_pairs(request))
    probe = _probe(trainer, request, 0)
    yield probe
    start = last_probe = time.monotonic()
    watch, stopped = Watch(), ""
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
                loss = total.item() / count
                yield Loss(step, loss, examples, elapsed, elapsed - probing)
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
                stopped = watch.after(probe, loss)
                if stopped:  # the slot goes to the next run
                    over = True
                    break
        if over:
            break
    trainer.blocks = []  # the tokenised training data: not needed any more
    if probe.step != step:
        yield _probe(trainer, request, step)
    yield Trained(_checkpoint_files(trainer), stopped)


def _probe(trainer: Trainer, request: TrainRequest, step: int) -> Probe:
    """Translate the probe and measure validation with the weights of this moment."""
    trainer.model.eval()
    translation = trainer.translator.translate(request.probe, mask=request.mask, max_len=probe_steps(trainer, request))
    val = trainer.validate()
    return Probe(step, translation, val["token_accuracy"], val["exact_match"])


def probe_steps(trainer: Trainer, request: TrainRequest) -> int:
    """The probe's longest output: twice its pieces and two (every task writes at most that much for its source),
    within the model's limit. An untrained model writes until it is stopped: its map had 32 rows of noise."""
    pieces = len(trainer.translator.encode_source(request.probe))
    return min(2 * pieces + 2, trainer.translator.config["max_target_len"])


def _checkpoint_files(trainer: Trainer) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory(prefix="s2s-live-") as folder:
        checkpoint.save(folder, trainer.model, trainer.source_tok, trainer.target_tok, trainer.config)
        return {path.name: path.read_bytes() for path in sorted(Path(folder).iterdir())}


def gpu_seconds(request: TrainRequest, *_) -> int:
    """The GPU time to ask ZeroGPU for: the run's own limit, plus making the data, the probes and the export."""
    return int(request.max_seconds) + 30
