"""Train a checkpoint on a built-in task or your own TSV.

    python -m s2s.train --task dates --model attention --score scaled_dot --mask bidirectional \
        --out checkpoints/dates
    python -m s2s.train --data pairs.tsv --out checkpoints/mine

The settings below are the defaults; every one is a command-line flag of the same name.
Batches hold sources of similar length (less padding, fewer wasted steps); teacher forcing
starts at --forcing-start (1.0) and falls linearly to --forcing-end, so the model learns first from the
reference and then from its own predictions, as it must at inference time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from . import checkpoint
from .evaluate import evaluate
from .model import ModelConfig, build_model, check_mask
from .tokenizer import EOS_ID, PAD_ID, Tokenizer
from .translator import Translator


@dataclass(frozen=True)
class TrainConfig:
    """One training run. The network's settings are a ModelConfig (one source of truth for them): each of
    its fields but the vocabulary sizes, which the tokenizers decide, is also a flag of this command."""

    out: str = "checkpoints/dates"
    task: str = "dates"  # a built-in task (s2s.tasks.TASKS) ...
    data: str | None = None  # ... or a TSV of source<TAB>target lines
    network: ModelConfig = ModelConfig(0, 0, dropout=0.1)  # vocabulary sizes are set from the tokenizers
    mask: str = "bidirectional"  # the mask used while training: bidirectional | causal
    source_vocab: int = 320  # byte fallback alone takes 256 pieces
    target_vocab: int = 320
    train_size: int = 40_000
    val_size: int = 1_000
    batch_size: int = 64
    lr: float = 3e-3
    epochs: int = 30
    patience: int = 4  # stop after this many epochs without a better validation exact match
    target_exact_match: float = 1.0  # stop as soon as validation reaches this
    max_minutes: float = 30.0
    forcing_start: float = 1.0  # teacher forcing falls from this ...
    forcing_end: float = 0.5  # ... to this over the first half of the epochs, then stays
    seed: int = 0
    resume: str | None = None  # a checkpoint folder to train further (its tokenizers and sizes are kept)
    threads: int = 0  # torch threads; 0 keeps torch's default

    def __post_init__(self) -> None:
        check_mask(self.mask)


NETWORK_FLAGS = tuple(f for f in dataclasses.fields(ModelConfig) if f.default is not dataclasses.MISSING)


def load_pairs(cfg: TrainConfig) -> tuple[list, list]:
    """(train, validation) pairs. Validation uses its own seed (and, for toy-fr, held-out sentences)."""
    from .tasks import TASKS, read_tsv

    if cfg.data:
        pairs = read_tsv(cfg.data)
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


def batches(examples, batch_size: int, rng: random.Random, device):
    """Yield (source (B, T), lengths (B,), target (B, S)); every batch's sources have one length.

    Equal lengths need no packing, and the backward pass of a packed LSTM on the CPU zero-fills
    a full-size gradient at every time step: exact-length batches train several times faster.
    """
    by_length: dict[int, list[int]] = {}
    for i, (source, _) in enumerate(examples):
        by_length.setdefault(len(source), []).append(i)
    chunks = []
    for group in by_length.values():
        rng.shuffle(group)
        chunks += [group[i : i + batch_size] for i in range(0, len(group), batch_size)]
    rng.shuffle(chunks)
    for chunk in chunks:
        sources, targets = [examples[i][0] for i in chunk], [examples[i][1] for i in chunk]
        yield (_pad(sources).to(device), torch.tensor([len(s) for s in sources]), _pad(targets).to(device))


def _pad(rows: list[list[int]]) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [PAD_ID] * (width - len(r)) for r in rows])


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
    name = Path(cfg.out).name
    by_length = "\n".join(f"| {b} | {v['exact_match']:.1%} | {v['n']} |" for b, v in metrics["by_length"].items())
    if "alignment" in metrics:
        align_line = (", ".join(f"{k}: {v:.1%}" for k, v in metrics["alignment"].items())
                      + "; the piece just right of it: "
                      + ", ".join(f"{k}: {v:.1%}" for k, v in metrics["alignment_next"].items()))
    else:
        align_line = "not measured for this task"
    settings = "\n".join(f"| `{k}` | `{config.get(k)}` |" for k in
                         ("model", "encoder", "score", "query", "bridge", "trained_mask", "emb_size",
                          "hidden_size", "num_layers"))
    return f"""---
library_name: s2s-attention-explorer
tags: [seq2seq, attention, lstm, s2s-attention-explorer, {config['task']}]
license: mit
---
# {name}

An LSTM encoder-decoder of the Seq2Seq Attention Explorer, trained on `{config['task']}`.
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


def build_or_resume(cfg: TrainConfig, train_pairs, device):
    """Fresh tokenizers and model, or (--resume) those of an earlier checkpoint to train further."""
    if cfg.resume:
        earlier = checkpoint.load(cfg.resume, device=device)
        metrics_file = Path(cfg.resume) / checkpoint.METRICS
        seconds = json.loads(metrics_file.read_text())["train_seconds"] if metrics_file.is_file() else 0.0
        return earlier.source_tokenizer, earlier.target_tokenizer, earlier.model, dict(earlier.config), seconds
    source_tok = Tokenizer.train((s for s, _ in train_pairs), cfg.source_vocab)
    target_tok = Tokenizer.train((t for _, t in train_pairs), cfg.target_vocab)
    longest_source = max(len(source_tok.encode(s)) for s, _ in train_pairs) + 1
    longest_target = max(len(target_tok.encode(t)) for _, t in train_pairs) + 1
    model_config = dataclasses.replace(cfg.network, input_vocab_size=source_tok.vocab_size,
                                       output_vocab_size=target_tok.vocab_size)
    config = {
        "task": cfg.data and Path(cfg.data).stem or cfg.task,
        "trained_mask": cfg.mask,
        "max_source_len": max(64, 2 * longest_source),
        "max_target_len": max(32, 2 * longest_target),
    } | model_config.to_dict()
    return source_tok, target_tok, build_model(model_config).to(device), config, 0.0


def train(cfg: TrainConfig) -> dict:
    """Train, keep the best epoch by validation exact match, write the checkpoint folder."""
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_pairs, val_pairs = load_pairs(cfg)
    source_tok, target_tok, model, config, earlier_seconds = build_or_resume(cfg, train_pairs, device)
    examples = encode_pairs(train_pairs, source_tok, target_tok)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=1)
    rng, coins = random.Random(cfg.seed), torch.Generator().manual_seed(cfg.seed)
    translator = Translator(model, source_tok, target_tok, config, device)

    start, best, best_state, stale, history = time.time(), -1.0, None, 0, []
    for epoch in range(cfg.epochs):
        model.train()
        ratio = forcing_ratio(epoch, cfg)
        bar = tqdm(batches(examples, cfg.batch_size, rng, device), desc=f"epoch {epoch + 1}/{cfg.epochs} "
                   f"forcing {ratio:.2f}", file=sys.stderr, leave=False, mininterval=10)
        seen, tick = 0, time.time()
        for source, lengths, target in bar:
            logits = model(source, lengths, target, teacher_forcing=ratio, mask=cfg.mask, generator=coins)
            loss = sequence_loss(logits, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            seen += len(lengths)
            bar.set_postfix(loss=f"{loss.item():.3f}", ex_per_s=f"{seen / (time.time() - tick):.0f}")
        model.eval()
        val = evaluate(translator, val_pairs, mask=cfg.mask, alignment=False)
        history.append({"epoch": epoch + 1, "forcing": ratio, "loss": loss.item(), **{
            k: val[k] for k in ("exact_match", "token_accuracy")}})
        print(f"epoch {epoch + 1}: loss {loss.item():.4f} val exact {val['exact_match']:.1%} "
              f"token acc {val['token_accuracy']:.1%} ({(time.time() - start) / 60:.1f} min)", file=sys.stderr)
        scheduler.step(val["exact_match"])
        if val["exact_match"] > best:
            best, stale = val["exact_match"], 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        if best >= cfg.target_exact_match or stale >= cfg.patience or time.time() - start > cfg.max_minutes * 60:
            break

    train_seconds = time.time() - start + earlier_seconds
    model.load_state_dict(best_state)
    model.eval()
    metrics = evaluate(translator, val_pairs, mask=cfg.mask)
    metrics |= {"epochs": len(history), "train_seconds": round(train_seconds, 1), "history": history,
                "device": torch.cuda.get_device_name() if device.type == "cuda" else "CPU",
                "parameters": sum(p.numel() for p in model.parameters()), "settings": dataclasses.asdict(cfg)}
    checkpoint.save(cfg.out, model, source_tok, target_tok, config,
                    card=model_card(cfg, config, metrics), metrics=metrics)
    print(f"wrote {cfg.out}: validation exact match {metrics['exact_match']:.1%} in {train_seconds / 60:.1f} min",
          file=sys.stderr)
    return metrics


def parse_args(argv=None) -> TrainConfig:
    """Flags for TrainConfig's fields and, flattened beside them, the network's (ModelConfig's)."""
    parser = argparse.ArgumentParser(prog="python -m s2s.train", description=__doc__.split("\n")[0])
    defaults = TrainConfig()
    own = [f for f in dataclasses.fields(TrainConfig) if f.name != "network"]
    for f, default in [(f, getattr(defaults, f.name)) for f in own] + [
            (f, getattr(defaults.network, f.name)) for f in NETWORK_FLAGS]:
        kind = {"int": int, "float": float}.get(str(f.type), str)
        parser.add_argument("--" + f.name.replace("_", "-"), type=kind, default=default, help=f"default: {default}")
    values = vars(parser.parse_args(argv))
    network = ModelConfig(0, 0, **{f.name: values.pop(f.name) for f in NETWORK_FLAGS})
    return TrainConfig(**values, network=network)


def main(argv=None) -> int:
    cfg = parse_args(argv)
    try:
        train(cfg)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
