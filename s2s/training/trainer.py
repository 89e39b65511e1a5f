"""Training: the loss, the forcing schedule, a run one step at a time (`Trainer`) and the loop (`train`).

Speed. The loss is added up on the device and read every log_every batches, so a GPU is never made to
wait for the host; Adam is fused, and so is the LSTM decoder's training pass (s2s/fused.py: the model's
forward with a hand-written backward). A Transformer trains through its own forward, already one parallel
pass over every output step (fused.forward hands it there). The data are tokenised once into blocks on the
device (data.py).

Schedule. Teacher forcing starts at forcing_start and falls linearly to forcing_end, so the model learns
first from the reference and then from its own predictions, as it must at inference time. The learning
rate halves when a validation figure stops improving for an epoch: plateau-token watches token accuracy,
which moves from the first epoch on; plateau-exact (the bundled checkpoints') watches exact match, which
sits at 0 early on, so that schedule halved the rate before the model had learnt anything. Early stopping
(patience) and the epoch kept watch the same (`progress`): exact match, and with plateau-token, token
accuracy where exact match ties. max_minutes is checked after every batch: the epoch under way ends
there, is validated, and the run stops.
"""

from __future__ import annotations

import dataclasses
import json
import random
import sys
import time
from collections.abc import Iterator
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import NamedTuple

import torch
from tqdm import tqdm

from .. import checkpoint, fused
from ..errors import CheckpointError
from ..evaluate import evaluate, forced_figures
from ..model import EDM, Transformer, build_model
from ..tasks import TASKS, Pair
from ..tokenizer import PAD_ID, Tokenizer
from ..translator import Translator
from . import cards
from .config import TrainConfig, batch_size_for, pick_device, scaled_lr, settings_of
from .data import Pairs, batches, encode_pairs, load_pairs, to_blocks


def sequence_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of logits (B, S, V) against target (B, S): step t predicts target[t] (the
    decoder was fed BOS, then target[t-1]); PAD positions are not counted."""
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=PAD_ID)


def forcing_ratio(epoch: int, cfg: TrainConfig) -> float:
    """forcing_start at the first epoch, falling linearly to forcing_end halfway through, then held."""
    halfway = max(1, cfg.epochs // 2)
    return max(cfg.forcing_end, cfg.forcing_start - (cfg.forcing_start - cfg.forcing_end) * epoch / halfway)


class Start(NamedTuple):
    """What a run starts from: fresh, or an earlier checkpoint's (resume)."""

    source_tok: Tokenizer
    target_tok: Tokenizer
    model: EDM | Transformer
    config: dict  # the checkpoint's config.json
    earlier_seconds: float  # training time the checkpoint had already had


def build_or_resume(cfg: TrainConfig, train_pairs: list[Pair], device, val_pairs=()) -> Start:
    """Fresh tokenizers and model, or (cfg.resume) those of an earlier checkpoint to train further.

    The tokenizers learn from the training pairs; the lengths a checkpoint reads cover the validation pairs
    too (a longer one, or one with characters the training pairs lack, failed the run at its first check).
    """
    if cfg.resume:
        return _resume(cfg, device)
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


def _resume(cfg: TrainConfig, device) -> Start:
    """The earlier checkpoint cfg.resume names, refused unless trained on the same task with the same mask."""
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


class Trainer:
    """A training run, one step at a time: the loop of `train`, and of the web page's live training.

    Holds the data (tokenised once, on the device), the model, Adam, the learning-rate schedule and
    the run's random sources (batch order, teacher-forcing coins), all seeded from cfg.seed.
    """

    def __init__(self, cfg: TrainConfig, pairs: Pairs | None = None):
        """Pairs are loaded from cfg (data.load_pairs) unless given; the global RNGs are seeded (weights' init)."""
        random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        self.device = pick_device(cfg)
        self.batch_size = batch_size_for(cfg, self.device)
        self.cfg = cfg = dataclasses.replace(cfg, batch_size=self.batch_size)
        train_pairs, self.val_pairs = pairs if pairs is not None else load_pairs(cfg)
        self.source_tok, self.target_tok, self.model, self.config, self.earlier_seconds = build_or_resume(
            cfg, train_pairs, self.device, self.val_pairs)
        self.blocks = to_blocks(encode_pairs(train_pairs, self.source_tok, self.target_tok), self.device)
        self.examples = len(train_pairs)
        self.lr = scaled_lr(cfg, self.batch_size)
        # fused: one kernel updates every parameter
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr, fused=True)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, mode="max", factor=0.5,
                                                                    patience=1)
        self.rng = random.Random(cfg.seed)
        self.coins = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.translator = Translator(self.model, self.source_tok, self.target_tok, self.config, self.device)

    def autocast(self):
        """bfloat16 autocast with cfg.amp (config.py's docstring says what runs in it), else nothing."""
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

    def validate(self, alignment: bool = False, forced: bool = False) -> dict:
        """Validation decoding freely; with `forced`, also under teacher forcing (evaluate.forced_figures)."""
        self.model.eval()
        metrics = evaluate(self.translator, self.val_pairs, mask=self.cfg.mask, alignment=alignment)
        return metrics | (forced_figures(self.translator, self.val_pairs, mask=self.cfg.mask) if forced else {})

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
    """Train, keep the best epoch (`progress`), write the checkpoint folder; return its metrics."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run = Trainer(cfg)
    cfg = run.cfg
    start, best, best_state, stale, history = time.time(), None, None, 0, []
    deadline = start + cfg.max_minutes * 60
    for epoch in range(cfg.epochs):
        row, val = _epoch(run, epoch, start, deadline)
        history.append(row)
        run.end_epoch(val)
        if best is None or progress(cfg, val) > best:
            best, stale, best_state = progress(cfg, val), 0, run.state()
        else:
            stale += 1
        if best[0] >= cfg.target_exact_match or stale >= cfg.patience or time.time() > deadline:
            break
    train_seconds = time.time() - start + run.earlier_seconds
    run.model.load_state_dict(best_state)
    metrics = run.validate(alignment=True, forced=True)
    metrics |= {"epochs": len(history), "train_seconds": round(train_seconds, 1), "history": history,
                "device": torch.cuda.get_device_name() if run.device.type == "cuda" else "CPU",
                "parameters": sum(p.numel() for p in run.model.parameters()), "lr_used": run.lr,
                "settings": settings_of(cfg)}
    checkpoint.save(cfg.out_folder, run.model, run.source_tok, run.target_tok, run.config,
                    card=cards.trained_card(cfg, run.config, metrics), metrics=metrics)
    print(f"wrote {cfg.out_folder}: validation exact match {metrics['exact_match']:.1%} in "
          f"{train_seconds / 60:.1f} min", file=sys.stderr)
    return metrics


def _epoch(run: Trainer, epoch: int, start: float, deadline: float) -> tuple[dict, dict]:
    """Train one epoch (cut short at `deadline`) with a progress bar, validate; (its history row, validation)."""
    cfg = run.cfg
    ratio = forcing_ratio(epoch, cfg)
    bar = tqdm(total=run.examples, desc=f"epoch {epoch + 1}/{cfg.epochs} forcing {ratio:.2f}", unit="ex",
               file=sys.stderr, leave=False, mininterval=10)
    total, count, pending, tick = torch.zeros((), device=run.device), 0, 0, time.time()
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
    print(f"epoch {epoch + 1}: loss {epoch_loss:.4f} val exact {val['exact_match']:.1%} "
          f"token acc {val['token_accuracy']:.1%} ({speed:.0f} ex/s, "
          f"{(time.time() - start) / 60:.1f} min)", file=sys.stderr)
    row = {"epoch": epoch + 1, "forcing": ratio, "loss": epoch_loss, "examples": count,
           "examples_per_s": round(speed), "lr": run.optimizer.param_groups[0]["lr"],
           **{k: val[k] for k in ("exact_match", "token_accuracy")}}
    return row, val
