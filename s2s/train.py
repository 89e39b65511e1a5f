"""Train a checkpoint on a built-in task or your own TSV, on the CPU or a GPU with the same code.

    python -m s2s.train --task dates --model attention --score scaled_dot --mask bidirectional \
        --out trained/dates
    python -m s2s.train --data pairs.tsv                    # writes trained/pairs
    python -m s2s.train --list-recipes                      # the bundled checkpoints' own settings
    python -m s2s.train --recipe dates [--out-dir retrained] # retrain one of them (flags given override it)
    python -m s2s.train --all --out-dir retrained            # retrain them all

The settings below are the defaults; every one is a command-line flag of the same name. A run never
writes into the bundled checkpoints/ folder unless --overwrite-bundled says so.

Speed. The pairs are tokenised once into padded tensors on the device, one block per source
length, and each batch is a slice of one block: every source in a batch has the same length, so
the encoder needs no packing (a packed LSTM's backward on the CPU zero-fills a full-size gradient
at every time step). The loss is added up on the device and read every --log-every batches, so a
GPU is never made to wait for the host; Adam is fused, and so is the decoder's training pass
(s2s/fused.py: the model's forward, with a hand-written backward). --batch-size 0 (the default) picks
DEFAULT_BATCH for the device; --lr is the rate for a batch of BASE_BATCH (64), scaled by
sqrt(batch / 64) (--lr-scaling sqrt; linear or none also exist): Adam's update noise falls as the
square root of the batch grows. On the CPU the default stays 64: batches of 256 give about 1.5x
the examples/s on 2 cores, but one epoch of dates (40,000 examples) then reaches 0.1% validation
exact match (sqrt) or 1.8% (linear) where batches of 64 reach 90%; 128 reaches 19%. A GPU's time per
step hardly grows with the batch, so there it is 512. --amp runs the encoder in bfloat16 (autocast)
and the fused decoder pass in float32, on CUDA and on the CPU alike (with --no-fused the whole
forward pass runs under autocast); on a CPU with bfloat16 instructions (AVX512-BF16, AMX) the
encoder's forward and backward take 1.4x less time, and a training step 1.13-1.15x (README, Speed).
It is off by default: a run's numbers then depend on whether the machine has those instructions.

Schedule. Teacher forcing starts at --forcing-start (1.0) and falls linearly to --forcing-end, so
the model learns first from the reference and then from its own predictions, as it must at
inference time. The learning rate halves when a validation figure stops improving for an epoch:
--schedule plateau-token watches token accuracy, which moves from the first epoch on;
plateau-exact (the bundled checkpoints') watches exact match, which sits at 0 early on, so that
schedule halved the rate every other epoch before the model had learnt anything. Early stopping
(--patience) and the epoch kept watch the same: exact match, and with plateau-token, token accuracy
where exact match ties (it stopped runs at 0% exact match while token accuracy rose). --max-minutes
is checked after every batch: the epoch under way ends there, is validated, and the run stops.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import sys
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from . import checkpoint, fused
from .errors import CheckpointError
from .evaluate import evaluate
from .model import BRIDGES, EDM, ENCODERS, MASKS, MODELS, QUERIES, SCORES, ModelConfig, build_model, check_mask
from .tasks import TASKS, read_tsv
from .tokenizer import EOS_ID, PAD_ID, Tokenizer
from .translator import Translator

BASE_BATCH = 64  # --lr is the rate for a batch of this size
DEFAULT_BATCH = {"cpu": 64, "cuda": 512}  # --batch-size 0: per kind of device (the CPU: see the docstring)
LR_SCALINGS = ("sqrt", "linear", "none")
SCHEDULES = ("plateau-token", "plateau-exact")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. The network's settings are a ModelConfig (one source of truth for them): each of
    its fields but the vocabulary sizes, which the tokenizers decide, is also a flag of this command."""

    out: str = ""  # the checkpoint folder; "": trained/<task>, or trained/<the TSV's name> (out_folder)
    task: str = "dates"  # a built-in task (s2s.tasks.TASKS) ...
    data: str | None = None  # ... or a TSV of source<TAB>target lines
    network: ModelConfig = ModelConfig(0, 0, dropout=0.1)  # vocabulary sizes are set from the tokenizers
    mask: str = "bidirectional"  # the mask used while training: bidirectional | causal
    source_vocab: int = 320  # byte fallback takes 256 pieces; grown to give each character of the data one
    target_vocab: int = 320
    train_size: int = 40_000
    val_size: int = 1_000
    batch_size: int = 0  # 0: DEFAULT_BATCH of the device
    lr: float = 3e-3  # for a batch of BASE_BATCH; other sizes scale it (lr_scaling)
    lr_scaling: str = "sqrt"  # sqrt | linear | none
    schedule: str = "plateau-token"  # halve the rate when this validation figure stalls: plateau-token | -exact
    epochs: int = 30
    patience: int = 4  # stop after this many epochs without better validation (`progress`)
    target_exact_match: float = 1.0  # stop as soon as validation reaches this
    max_minutes: float = 30.0
    forcing_start: float = 1.0  # teacher forcing falls from this ...
    forcing_end: float = 0.5  # ... to this over the first half of the epochs, then stays
    seed: int = 0
    resume: str | None = None  # a checkpoint folder to train further (its tokenizers and sizes are kept)
    threads: int = 0  # torch threads; 0 keeps torch's default
    device: str = "auto"  # auto: CUDA when there is one
    amp: bool = False  # bfloat16 autocast: the encoder (and with --no-fused the decoder too)
    fused: bool = True  # the decoder's training pass with its hand-written backward (s2s/fused.py); False: autograd
    log_every: int = 50  # batches between reads of the loss (each read waits for the device)

    def __post_init__(self) -> None:
        check_mask(self.mask)
        for name, value, allowed in (("lr_scaling", self.lr_scaling, LR_SCALINGS),
                                     ("schedule", self.schedule, SCHEDULES), ("device", self.device, DEVICES)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
        if self.batch_size < 0 or self.log_every < 1:
            raise ValueError("batch_size must be 0 (the device's default) or more, and log_every 1 or more")
        for name in ("epochs", "train_size", "val_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be 1 or more; got {getattr(self, name)}")
        if self.max_minutes <= 0:
            raise ValueError(f"max_minutes must be more than 0; got {self.max_minutes:g}")

    @property
    def task_name(self) -> str:
        """The task a checkpoint records: a built-in task's name, or "tsv" for your own pairs (as the Train tab)."""
        return "tsv" if self.data else self.task

    @property
    def out_folder(self) -> Path:
        """Where the checkpoint is written: --out, or trained/<task> (trained/<the TSV's name>) without it."""
        return Path(self.out) if self.out else Path("trained") / (Path(self.data).stem if self.data else self.task)


NETWORK_FLAGS = tuple(f for f in dataclasses.fields(ModelConfig) if f.default is not dataclasses.MISSING)

FLAG_HELP = {  # what each flag of `python -m s2s.train --help` says, before its default
    "out": "the checkpoint folder to write; not given: trained/<task>, or trained/<the TSV's name>",
    "task": "a built-in task to generate pairs for",
    "data": "your own source<TAB>target lines instead of a task (a tenth, at most --val-size, kept for validation)",
    "mask": "the attention mask while training",
    "source_vocab": "source vocabulary size (grown to give each character of the data a piece)",
    "target_vocab": "target vocabulary size (as --source-vocab)",
    "train_size": "pairs generated for training (tasks only)",
    "val_size": "validation pairs",
    "batch_size": f"examples a step; 0: the device's ({', '.join(f'{k} {v}' for k, v in DEFAULT_BATCH.items())})",
    "lr": f"Adam's learning rate for a batch of {BASE_BATCH}; other batch sizes scale it (--lr-scaling)",
    "lr_scaling": "how the rate follows the batch size",
    "schedule": "the validation figure whose stalling halves the rate (and ends the run, --patience)",
    "epochs": "passes over the training pairs, at most",
    "patience": "stop after this many epochs without better validation",
    "target_exact_match": "stop once validation exact match reaches this (above 1: never)",
    "max_minutes": "stop after this many minutes (checked after every batch)",
    "forcing_start": "teacher forcing ratio of the first epoch ...",
    "forcing_end": "... falling linearly to this by half of --epochs",
    "seed": "seeds the data, the weights, the batch order and the forcing coins",
    "resume": "a checkpoint folder to train further (same task and mask; its tokenizers and sizes kept)",
    "threads": "torch threads; 0: torch's default",
    "device": "auto: CUDA when present",
    "amp": "bfloat16 autocast for the encoder (CPU or CUDA; faster where the CPU has bfloat16 instructions)",
    "fused": "the decoder's training pass with its hand-written backward (s2s/fused.py)",
    "log_every": "batches between reads of the loss for the progress bar",
    "model": "attention, or edm: no attention",
    "score": "attention scores",
    "query": "state: the decoder's previous state; input: a projection of the piece fed in (the notebook's)",
    "emb_size": "embedding size",
    "hidden_size": "LSTM hidden size",
    "num_layers": "LSTM layers (encoder and decoder)",
    "dropout": "dropout between layers and before the output layer",
    "bridge": "final: the decoder starts from the encoder's final h and c; hidden: h only",
    "encoder": "uni: left to right; bi: both ways, half of --hidden-size each",
}


def pick_device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is present (use --device cpu or auto)")
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


def batch_size_for(cfg: TrainConfig, device: torch.device) -> int:
    return cfg.batch_size or DEFAULT_BATCH.get(device.type, BASE_BATCH)


def scaled_lr(cfg: TrainConfig, batch_size: int) -> float:
    """cfg.lr is the rate at BASE_BATCH; sqrt scaling multiplies it by sqrt(batch / BASE_BATCH)."""
    ratio = batch_size / BASE_BATCH
    return cfg.lr * {"sqrt": math.sqrt(ratio), "linear": ratio, "none": 1.0}[cfg.lr_scaling]


def load_pairs(cfg: TrainConfig) -> tuple[list, list]:
    """(train, validation) pairs. Validation uses its own seed (and, for toy-fr, held-out sentences)."""
    if cfg.data:
        pairs = read_tsv(cfg.data)
        if len(pairs) < 2:
            raise ValueError(f"{cfg.data}: {len(pairs)} pair(s); training needs at least 2 (one is kept for "
                             "validation), and learns something from hundreds")
        random.Random(cfg.seed).shuffle(pairs)
        n_val = min(cfg.val_size, max(1, len(pairs) // 10))
        return pairs[n_val:], pairs[:n_val]
    if cfg.task not in TASKS:
        raise ValueError(f"unknown task {cfg.task!r}; choose from {', '.join(TASKS)} or pass --data")
    task = TASKS[cfg.task]
    val_split = "heldout" if cfg.task == "toy-fr" else None
    return task.generate(cfg.train_size, cfg.seed), task.generate(cfg.val_size, cfg.seed + 1, split=val_split)


def encode_pairs(pairs, source: Tokenizer, target: Tokenizer) -> list[tuple[list[int], list[int]]]:
    return [(source.encode(s) + [EOS_ID], target.encode(t) + [EOS_ID]) for s, t in pairs]


class Block(NamedTuple):
    """Every training example whose source has one length, tokenised and padded once, on the device."""

    sources: torch.Tensor  # (N, T) ids, no padding: all N sources have length T
    targets: torch.Tensor  # (N, S) ids ending in EOS, padded with PAD to the longest target here
    target_lengths: np.ndarray  # (N,) on the host: a batch's width is known without asking the device


class Batch(NamedTuple):
    source: torch.Tensor  # (B, T) on the device
    lengths: torch.Tensor  # (B,) on the host, all T
    target: torch.Tensor  # (B, S) on the device, S the longest target of the batch


def to_blocks(examples, device) -> list[Block]:
    """Group the examples by source length (in order of first appearance, as `batches` walks them)."""
    by_length: dict[int, list[int]] = {}
    for i, (source, _) in enumerate(examples):
        by_length.setdefault(len(source), []).append(i)
    blocks = []
    for members in by_length.values():
        targets = [examples[i][1] for i in members]
        width = max(len(t) for t in targets)
        padded = [t + [PAD_ID] * (width - len(t)) for t in targets]
        blocks.append(Block(torch.tensor([examples[i][0] for i in members], device=device),
                            torch.tensor(padded, device=device), np.array([len(t) for t in targets])))
    return blocks


def batches(blocks: list[Block], batch_size: int, rng: random.Random) -> Iterator[Batch]:
    """Yield the epoch's batches; every batch's sources have one length.

    The order is drawn from `rng` exactly as the list-based loop before it drew it (shuffle each
    length's examples, cut them into batches, shuffle the batches), so a seed gives the same batches.
    """
    chunks = []
    for b, block in enumerate(blocks):
        order = list(range(len(block.target_lengths)))
        rng.shuffle(order)
        chunks += [(b, order[i : i + batch_size]) for i in range(0, len(order), batch_size)]
    rng.shuffle(chunks)
    for b, chunk in chunks:
        block = blocks[b]
        index = torch.tensor(chunk).to(block.sources.device, non_blocking=True)
        width = int(block.target_lengths[chunk].max())
        source = block.sources.index_select(0, index)  # (B, T)
        lengths = torch.full((len(chunk),), source.shape[1])  # on the host, as packing wants them
        yield Batch(source, lengths, block.targets.index_select(0, index)[:, :width])


def sequence_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of logits (B, S, V) against target (B, S): step t predicts target[t] (the
    decoder was fed BOS, then target[t-1]); PAD positions are not counted."""
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=PAD_ID)


def forcing_ratio(epoch: int, cfg: TrainConfig) -> float:
    """forcing_start at the first epoch, falling linearly to forcing_end halfway through, then held."""
    halfway = max(1, cfg.epochs // 2)
    return max(cfg.forcing_end, cfg.forcing_start - (cfg.forcing_start - cfg.forcing_end) * epoch / halfway)


def model_card(cfg: TrainConfig, config: dict, metrics: dict) -> str:
    """README.md of the checkpoint folder, with Hub front matter."""
    name = cfg.out_folder.name
    by_length = "\n".join(f"| {b} | {v['exact_match']:.1%} | {v['n']} |" for b, v in metrics["by_length"].items())
    if "alignment" in metrics:
        align_line = (", ".join(f"{k}: {v:.1%}" for k, v in metrics["alignment"].items())
                      + "; the piece just right of it: "
                      + ", ".join(f"{k}: {v:.1%}" for k, v in metrics["alignment_next"].items()))
    else:
        align_line = "not measured for this task"
    trained_on = f"the pairs of `{Path(cfg.data).name}`" if cfg.data else f"`{config['task']}`"
    settings = "\n".join(f"| `{k}` | `{config.get(k)}` |" for k in
                         ("model", "encoder", "score", "query", "bridge", "trained_mask", "emb_size",
                          "hidden_size", "num_layers"))
    return f"""---
library_name: s2s-attention-explorer
tags: [seq2seq, attention, lstm, s2s-attention-explorer, {config['task']}]
license: mit
---
# {name}

An LSTM encoder-decoder of the Seq2Seq Attention Explorer, trained on {trained_on}.
Load it with `s2s.load(...)` and look at its attention in the app.

| setting | value |
|---|---|
{settings}

Trained for {metrics['epochs']} epochs ({metrics['train_seconds'] / 60:.1f} min on {metrics['device']}),
{metrics['parameters']:,} parameters, seed {cfg.seed}.

## Validation ({metrics['n']} examples never seen in training, mask `{metrics['mask']}`)
Exact match **{metrics['exact_match']:.1%}**, token accuracy {metrics['token_accuracy']:.1%}.
Most-attended source piece is the aligned one: {align_line}.

| source length | exact match | n |
|---|---|---|
{by_length}

{lesson_notes(config)}
"""


def lesson_notes(config: dict) -> str:
    """What this checkpoint teaches, for the notes a lecturer reads."""
    notes = []
    if config.get("encoder") == "bi":
        notes.append("Bidirectional encoder (Bahdanau et al. 2015): the state at each source piece has read the "
                     "input both ways and is about that piece and its neighbours, so attention can point at the "
                     "piece an output comes from.")
    elif config["model"] == "attention":
        notes.append("Left-to-right encoder (the notebook's): the state at piece j has read pieces 0..j, so a "
                     "piece's content also lives in the states after it, and attention often lands on the piece "
                     "just right of the one an output comes from.")
    if config.get("bridge") == "hidden":
        notes.append("The decoder starts with an empty cell (bridge `hidden`): whatever it knows about the source "
                     "comes through attention, so the heatmap shows what it actually uses.")
    if config["model"] == "edm":
        notes.append("No attention: the whole source must squeeze through the encoder's final (h, c). "
                     "Quality falls as sources grow; compare by length with `python -m s2s.evaluate --compare`.")
    if config["query"] == "input" and config["model"] == "attention":
        notes.append("The seed notebook's query: a projection of the token fed in, nothing else. Every step fed "
                     "the same token gets the same scores, so heatmap rows repeat, and the query carries no "
                     "position: it can find 'the year' but not 'the next letter from the end'.")
    if config["trained_mask"] == "causal":
        notes.append("Trained with the causal mask: output step t sees source pieces 0..t only. Where an output "
                     "needs a piece that comes later in the source (the year of a date, the last letter of a "
                     "reversal) attention cannot reach it; the encoder's final state, which has read the whole "
                     "source, is what still carries it to the decoder.")
    if config["task"] == "reverse" and config["model"] == "attention":
        notes.append("Its query is the decoder's state after writing the previous letter, so attention often "
                     "finds that letter in the source and reads its left neighbour from the encoder state "
                     "there: the anti-diagonal lands one piece right of the letter being written. "
                     "`python -m s2s.evaluate` counts both (aligned / next).")
    if config["task"] == "dates":
        notes.append("Dates are short: their whole content fits in the encoder's final state, and in this "
                     "formulation the final cell also reaches the decoder, so every variant does well here. "
                     "The lesson is in the heatmap (the year is written last and produced first), not the score.")
    return "## Notes\n" + "\n\n".join(notes) if notes else ""


class Start(NamedTuple):
    """What a run starts from: fresh, or an earlier checkpoint's (--resume)."""

    source_tok: Tokenizer
    target_tok: Tokenizer
    model: EDM
    config: dict  # the checkpoint's config.json
    earlier_seconds: float  # training time the checkpoint had already had


def build_or_resume(cfg: TrainConfig, train_pairs, device, val_pairs=()) -> Start:
    """Fresh tokenizers and model, or (--resume) those of an earlier checkpoint to train further.

    The tokenizers learn from the training pairs; the lengths a checkpoint reads cover the validation pairs
    too (a longer one, or one with characters the training pairs lack, failed the run at its first check).
    """
    if cfg.resume:
        earlier = checkpoint.load(cfg.resume, device=device)
        trained = earlier.config.get("task"), earlier.config.get("trained_mask", "bidirectional")
        if cfg.data and trained[0] not in TASKS:  # a TSV's checkpoint from before "tsv": it recorded the file's name
            trained = "tsv", trained[1]
        if trained != (cfg.task_name, cfg.mask):
            raise ValueError(f"--resume {cfg.resume}: that checkpoint was trained on {trained[0]} with the "
                             f"{trained[1]} mask; resume it with the same task and --mask {trained[1]}, or train "
                             "a new one (its config would describe the wrong task or mask)")
        metrics_file = Path(cfg.resume) / checkpoint.METRICS
        seconds = json.loads(metrics_file.read_text())["train_seconds"] if metrics_file.is_file() else 0.0
        return Start(earlier.source_tokenizer, earlier.target_tokenizer, earlier.model, dict(earlier.config), seconds)
    source_tok = Tokenizer.train((s for s, _ in train_pairs), cfg.source_vocab)
    target_tok = Tokenizer.train((t for _, t in train_pairs), cfg.target_vocab)
    pairs = [*train_pairs, *val_pairs]
    longest_source = max(len(source_tok.encode(s)) for s, _ in pairs) + 1
    longest_target = max(len(target_tok.encode(t)) for _, t in pairs) + 1
    model_config = dataclasses.replace(cfg.network, input_vocab_size=source_tok.vocab_size,
                                       output_vocab_size=target_tok.vocab_size)
    config = {
        "task": cfg.task_name,
        "trained_mask": cfg.mask,
        "max_source_len": max(64, 2 * longest_source),
        "max_target_len": max(32, 2 * longest_target),
    } | model_config.to_dict()
    try:  # refused now, not after training
        checkpoint.expected_tensors(checkpoint.validate_config(config))
    except CheckpointError as error:
        raise ValueError(f"these settings would make a checkpoint that cannot be loaded: "
                         f"{str(error).removeprefix('config.json: ')}") from None
    return Start(source_tok, target_tok, build_model(model_config).to(device), config, 0.0)


class Trainer:
    """A training run, one step at a time: the loop of `train`, and of the web page's live training.

    Holds the data (tokenised once, on the device), the model, Adam, the learning-rate schedule and
    the run's random sources (batch order, teacher-forcing coins), all seeded from cfg.seed.
    """

    def __init__(self, cfg: TrainConfig, train_pairs=None, val_pairs=None):
        """Pairs are generated from cfg (load_pairs) unless given; the global RNGs are seeded (weights' init)."""
        random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        self.device = pick_device(cfg)
        self.batch_size = batch_size_for(cfg, self.device)
        self.cfg = cfg = dataclasses.replace(cfg, batch_size=self.batch_size)
        if train_pairs is None:
            train_pairs, val_pairs = load_pairs(cfg)
        self.val_pairs = val_pairs
        self.source_tok, self.target_tok, self.model, self.config, self.earlier_seconds = build_or_resume(
            cfg, train_pairs, self.device, val_pairs or ())
        self.blocks = to_blocks(encode_pairs(train_pairs, self.source_tok, self.target_tok), self.device)
        self.examples = len(train_pairs)
        self.lr = scaled_lr(cfg, self.batch_size)
        # fused: one kernel updates every parameter (about 4x faster than the default on the CPU here)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr, fused=True)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, mode="max", factor=0.5,
                                                                    patience=1)
        self.rng = random.Random(cfg.seed)
        self.coins = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.translator = Translator(self.model, self.source_tok, self.target_tok, self.config, self.device)

    def autocast(self):
        """bfloat16 autocast with --amp (see the module docstring for what runs in it), else nothing."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.cfg.amp else nullcontext()

    def steps(self, epoch: int) -> Iterator[tuple[int, torch.Tensor]]:
        """Train one epoch; after each optimizer step yield (examples in the batch, its loss, detached on the
        device: reading it with .item() makes the host wait for the device, so read it rarely)."""
        self.model.train()
        ratio = forcing_ratio(epoch, self.cfg)
        for source, lengths, target in batches(self.blocks, self.batch_size, self.rng):
            with self.autocast():
                forward = partial(fused.forward, self.model) if self.cfg.fused else self.model
                logits = forward(source, lengths, target, teacher_forcing=ratio, mask=self.cfg.mask,
                                 generator=self.coins)
                loss = sequence_loss(logits, target)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            yield len(lengths), loss.detach()

    def validate(self, alignment: bool = False) -> dict:
        self.model.eval()
        return evaluate(self.translator, self.val_pairs, mask=self.cfg.mask, alignment=alignment)

    def end_epoch(self, val: dict) -> None:
        """Let the schedule see the epoch's validation figure."""
        self.scheduler.step(val["token_accuracy" if self.cfg.schedule == "plateau-token" else "exact_match"])

    def state(self) -> dict[str, torch.Tensor]:
        """A copy of the weights (to keep the best epoch's)."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}


def progress(cfg: TrainConfig, val: dict) -> tuple[float, ...]:
    """What the best epoch and early stopping compare: validation exact match, and with plateau-token, token
    accuracy where exact match ties (exact match sits at 0 for epochs early on, while token accuracy rises)."""
    return (val["exact_match"], val["token_accuracy"]) if cfg.schedule == "plateau-token" else (val["exact_match"],)


def train(cfg: TrainConfig) -> dict:
    """Train, keep the best epoch (`progress`), write the checkpoint folder."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run = Trainer(cfg)
    cfg, device = run.cfg, run.device
    start, best, best_state, stale, history = time.time(), None, None, 0, []
    deadline = start + cfg.max_minutes * 60
    for epoch in range(cfg.epochs):
        ratio = forcing_ratio(epoch, cfg)
        bar = tqdm(total=run.examples, desc=f"epoch {epoch + 1}/{cfg.epochs} forcing {ratio:.2f}", unit="ex",
                   file=sys.stderr, leave=False, mininterval=10)
        total, count, pending, tick = torch.zeros((), device=device), 0, 0, time.time()
        for batch, (size, loss) in enumerate(run.steps(epoch), 1):
            total += loss * size  # on the device: no wait
            count, pending = count + size, pending + size
            if batch % cfg.log_every == 0:
                bar.update(pending)
                bar.set_postfix(loss=f"{total.item() / count:.3f}", ex_per_s=f"{count / (time.time() - tick):.0f}")
                pending = 0
            if time.time() > deadline:  # the cap ends the epoch here; it is validated, and the run stops
                break
        bar.update(pending)
        bar.close()
        epoch_loss, speed = total.item() / max(count, 1), count / (time.time() - tick)
        val = run.validate()
        history.append({"epoch": epoch + 1, "forcing": ratio, "loss": epoch_loss, "examples": count,
                        "examples_per_s": round(speed),
                        "lr": run.optimizer.param_groups[0]["lr"],
                        **{k: val[k] for k in ("exact_match", "token_accuracy")}})
        print(f"epoch {epoch + 1}: loss {epoch_loss:.4f} val exact {val['exact_match']:.1%} "
              f"token acc {val['token_accuracy']:.1%} ({speed:.0f} ex/s, "
              f"{(time.time() - start) / 60:.1f} min)", file=sys.stderr)
        run.end_epoch(val)
        if best is None or progress(cfg, val) > best:
            best, stale, best_state = progress(cfg, val), 0, run.state()
        else:
            stale += 1
        if best[0] >= cfg.target_exact_match or stale >= cfg.patience or time.time() > deadline:
            break

    train_seconds = time.time() - start + run.earlier_seconds
    run.model.load_state_dict(best_state)
    metrics = run.validate(alignment=True)
    metrics |= {"epochs": len(history), "train_seconds": round(train_seconds, 1), "history": history,
                "device": torch.cuda.get_device_name() if device.type == "cuda" else "CPU",
                "parameters": sum(p.numel() for p in run.model.parameters()), "lr_used": run.lr,
                "settings": settings_of(cfg)}
    checkpoint.save(cfg.out_folder, run.model, run.source_tok, run.target_tok, run.config,
                    card=model_card(cfg, run.config, metrics), metrics=metrics)
    print(f"wrote {cfg.out_folder}: validation exact match {metrics['exact_match']:.1%} in "
          f"{train_seconds / 60:.1f} min", file=sys.stderr)
    return metrics


def settings_of(cfg: TrainConfig) -> dict:
    """Every flag of the run, flat, as metrics.json records them (the network's beside the rest)."""
    flat = dataclasses.asdict(cfg)
    return {k: v for k, v in flat.items() if k != "network"} | {f.name: flat["network"][f.name] for f in NETWORK_FLAGS}


def config_from_flags(values: dict) -> TrainConfig:
    """A TrainConfig from flat flags (the command line's, a recipe's): the network's go into a ModelConfig."""
    values = dict(values)
    network = ModelConfig(0, 0, **{f.name: values.pop(f.name) for f in NETWORK_FLAGS if f.name in values})
    return TrainConfig(**values, network=network)


def _parser(suppress: bool = False) -> argparse.ArgumentParser:
    """Flags for TrainConfig's fields and, flattened beside them, the network's (ModelConfig's); with
    `suppress`, a flag not given is absent from the result (to tell which flags override a recipe)."""
    choices = dict(task=tuple(TASKS), mask=MASKS, lr_scaling=LR_SCALINGS, schedule=SCHEDULES, device=DEVICES,
                   model=MODELS, score=SCORES, query=QUERIES, bridge=BRIDGES, encoder=ENCODERS)
    parser = argparse.ArgumentParser(prog="python -m s2s.train", description=__doc__.split("\n")[0])
    defaults = TrainConfig()
    own = [f for f in dataclasses.fields(TrainConfig) if f.name != "network"]
    for f, default in [(f, getattr(defaults, f.name)) for f in own] + [
            (f, getattr(defaults.network, f.name)) for f in NETWORK_FLAGS]:
        shown = argparse.SUPPRESS if suppress else default
        flag = "--" + f.name.replace("_", "-")
        text = FLAG_HELP[f.name] + (f" (default: {default})" if default != "" else "")
        if str(f.type) == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=shown, help=text)
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            parser.add_argument(flag, type=kind, default=shown, help=text, choices=choices.get(f.name))
    parser.add_argument("--overwrite-bundled", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="allow writing into the bundled checkpoints/ folder (by --out or --out-dir)")
    recipes = parser.add_argument_group("recipes: the bundled checkpoints' settings (s2s/recipes.py)")
    recipes.add_argument("--recipe", default=argparse.SUPPRESS if suppress else None,
                         help="retrain this bundled checkpoint with its own settings; flags given override them")
    recipes.add_argument("--all", action="store_true", default=argparse.SUPPRESS if suppress else False,
                         help="retrain every recipe")
    recipes.add_argument("--list-recipes", action="store_true", default=argparse.SUPPRESS if suppress else False,
                         help="print each recipe's flags")
    recipes.add_argument("--out-dir", default=argparse.SUPPRESS if suppress else "retrained",
                         help="where --recipe/--all write, one folder per recipe (default: retrained)")
    return parser


COMMAND_FLAGS = ("recipe", "all", "list_recipes", "out_dir", "overwrite_bundled")


def parse_args(argv=None) -> TrainConfig:
    """The TrainConfig of a plain (non-recipe) command line."""
    values = vars(_parser().parse_args(argv))
    return config_from_flags({k: v for k, v in values.items() if k not in COMMAND_FLAGS})


def recipe_runs(name: str, out_dir: str | Path, overrides: dict) -> list[TrainConfig]:
    """The runs that retrain recipe `name` into out_dir/name, each stage with `overrides` (flags) applied."""
    from .recipes import STAGE_OUTPUT, stages

    out = str(Path(out_dir) / name)
    runs = []
    for stage in stages(name):
        flags = stage | {"out": out} | overrides
        if flags.get("resume") == STAGE_OUTPUT:  # the earlier stage's folder, wherever --out put it
            flags["resume"] = flags["out"]
        runs.append(config_from_flags(flags))
    return runs


def check_out(cfg: TrainConfig, allowed: bool) -> None:
    """Refuse to write into the bundled checkpoints/ folder (or over it) unless asked to."""
    from .hub import BUNDLED_DIR

    folder, bundled = cfg.out_folder.resolve(), BUNDLED_DIR.resolve()
    if (folder == bundled or bundled in folder.parents) and not allowed:
        raise ValueError(f"{cfg.out_folder} is in the bundled checkpoints folder: pass --overwrite-bundled to "
                         "replace what is there, or choose another folder (--out, --out-dir)")


def main(argv=None) -> int:
    values = vars(_parser().parse_args(argv))
    try:
        if values["list_recipes"]:
            from .recipes import RECIPES, describe

            print("\n".join(describe(name) for name in RECIPES))
            return 0
        if values["recipe"] or values["all"]:
            from .recipes import RECIPES

            given = {k: v for k, v in vars(_parser(suppress=True).parse_args(argv)).items() if k not in COMMAND_FLAGS}
            names = list(RECIPES) if values["all"] else [values["recipe"]]
            runs = [run for name in names for run in recipe_runs(name, values["out_dir"], given)]
        else:
            runs = [parse_args(argv)]
        for cfg in runs:
            check_out(cfg, values["overwrite_bundled"])
        for cfg in runs:
            train(cfg)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
