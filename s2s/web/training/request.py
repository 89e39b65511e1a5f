"""What a visitor asks to train (`TrainRequest`), checked against the limits, and the pairs it trains on."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import check_choice
from ...model import ENCODERS, MASKS, QUERIES, ModelConfig
from ...tasks import is_pair_line, parse_tsv_line
from ...training.config import TrainConfig
from ...training.data import Pairs, load_pairs
from .limits import (
    BATCH_SIZE,
    DEFAULT_TRAIN_SIZE,
    FAMILIES,
    FEW_PAIRS,
    MAX_PROBE_BYTES,
    MAX_SECONDS,
    MAX_TRAIN_SIZE,
    MAX_TSV_LINES,
    PROBES,
    SIZES,
    TASK_CHOICES,
    TRANSFORMER_LR,
    TRANSFORMER_SIZES,
    VAL_SIZE,
    TrainingRefused,
)


@dataclass(frozen=True)
class TrainRequest:
    """What a visitor asks to train. `check()` refuses anything outside the limits."""

    task: str = "dates"  # dates | reverse-short | toy-fr | tsv (then `tsv` holds the pairs)
    tsv: str = ""  # pasted source<TAB>target lines
    family: str = "lstm"  # lstm | transformer: a key of FAMILIES
    attention: bool = True  # the LSTM's three switches (a Transformer reads none of them)
    query: str = "state"
    encoder: str = "bi"
    mask: str = "bidirectional"  # cross-attention's (and a Transformer's encoder self-attention's) in training
    size: str = "small"  # a key of SIZES (the LSTM) or TRANSFORMER_SIZES
    probe: str = PROBES["dates"]
    seed: int = 0
    train_size: int = DEFAULT_TRAIN_SIZE  # generated pairs (tasks only)
    max_seconds: float = MAX_SECONDS  # at most MAX_SECONDS

    def check(self) -> None:
        for name, value, allowed in (("task", self.task, TASK_CHOICES), ("model family", self.family, tuple(FAMILIES)),
                                     ("query", self.query, QUERIES), ("mask", self.mask, MASKS),
                                     ("encoder", self.encoder, ENCODERS), ("size", self.size, tuple(self.sizes))):
            check_choice(name, value, allowed, TrainingRefused)
        for what, text in (("probe", self.probe), ("pasted pairs", self.tsv)):
            readable(text, what)
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

    def caution(self) -> str:
        """What the class will see from a run that cannot generalise (pasted pairs too few to learn a rule from),
        said up front; "" for the rest."""
        if self.task != "tsv":
            return ""
        pairs = len(pasted_pairs(self.tsv))
        if pairs >= FEW_PAIRS:
            return ""
        return (f"Only {pairs} pairs: the model will learn them by heart (its loss falls to about 0), but so few "
                "cannot teach it a rule, so validation exact match stays near 0 and a word it has not seen comes "
                f"out wrong. Paste {FEW_PAIRS} pairs or more for it to generalise.")

    @property
    def sizes(self) -> dict[str, dict]:
        """The networks this request's family offers, by size."""
        return TRANSFORMER_SIZES if self.family == "transformer" else SIZES

    def config(self) -> TrainConfig:
        """The TrainConfig of this run. The run is cut by time, not epochs: an LSTM's forcing falls from 1 to 0.5
        over 4 epochs; a Transformer's stays at 1, so that each batch is one parallel pass (a ratio below 1
        costs it a second pass: scheduled sampling), at its own rate (TRANSFORMER_LR, docs/training.md)."""
        if self.family == "transformer":
            network = ModelConfig(0, 0, model="transformer", decoder_mask="causal", dropout=0.0,
                                  **TRANSFORMER_SIZES[self.size])
            rate = dict(lr=TRANSFORMER_LR, lr_scaling="none", forcing_end=1.0)
        else:
            network = ModelConfig(0, 0, model="attention" if self.attention else "edm", query=self.query,
                                  encoder=self.encoder, bridge="hidden" if self.attention else "final", dropout=0.0,
                                  **SIZES[self.size])
            rate = {}
        return TrainConfig(out="", task=self.task, network=network, mask=self.mask, train_size=self.train_size,
                           val_size=VAL_SIZE, batch_size=BATCH_SIZE, epochs=8, seed=self.seed, device="auto", **rate)


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # control characters but tab, newline, return


def readable(text: str, what: str) -> None:
    """Refuse, in the Train tab's words, text no model here can read: lone surrogates, control characters."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise TrainingRefused(f"There are characters that are not text (lone surrogates) in the {what}: type or "
                              "paste it again.") from None
    if CONTROL.search(text):
        raise TrainingRefused(f"There are control characters (such as NUL) in the {what}, which no model here reads: "
                              "remove them.")


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
