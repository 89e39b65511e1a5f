"""A run's pairs, and the blocks and batches the trainer feeds the model.

load_pairs is the one pair loader, for the command line and the Train tab alike: a task's pairs are
generated, its validation pairs drawn with the next seed from the split the task names
(Task.validation_split: held-out sentences for toy-fr); your own pairs (a TSV file, or pasted lines
the caller has read) are shuffled with the run's seed and a tenth, at most val_size, kept for validation.

The pairs are tokenised once into padded tensors on the device, one `Block` per source length, and each
`Batch` is a slice of one block: every source in a batch has the same length, so the encoder needs no
packing (a packed LSTM's backward on the CPU zero-fills a full-size gradient at every time step).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch

from ..errors import check_choice
from ..tasks import TASKS, Pair, read_tsv
from ..tokenizer import EOS_ID, PAD_ID, Tokenizer
from .config import TrainConfig


class Pairs(NamedTuple):
    """A run's (source, target) pairs."""

    train: list[Pair]
    validation: list[Pair]


def load_pairs(cfg: TrainConfig, own: Sequence[Pair] | None = None) -> Pairs:
    """The run's pairs: `own` pairs if given, else cfg.data's TSV, else cfg.task's generated pairs.

    Your own pairs are shuffled with cfg.seed, and a tenth (at least 1, at most cfg.val_size) validates.
    A task's validation pairs come from seed cfg.seed + 1 and the task's validation_split.
    """
    if own is None and cfg.data:
        own = read_tsv(cfg.data)
    if own is not None:
        return split_own(list(own), cfg.val_size, cfg.seed, where=cfg.data or "your pairs")
    check_choice("task", cfg.task, TASKS)
    task = TASKS[cfg.task]
    return Pairs(task.generate(cfg.train_size, cfg.seed), task.validation_pairs(cfg.val_size, cfg.seed + 1))


def split_own(pairs: list[Pair], val_size: int, seed: int, where: str) -> Pairs:
    """Shuffle your own pairs with `seed` and keep a tenth of them (1 to val_size) for validation."""
    if len(pairs) < 2:
        raise ValueError(f"{where}: {len(pairs)} pair(s); training needs at least 2 (one is kept for "
                         "validation), and learns something from hundreds")
    random.Random(seed).shuffle(pairs)
    n_val = min(val_size, max(1, len(pairs) // 10))
    return Pairs(pairs[n_val:], pairs[:n_val])


def encode_pairs(pairs: Sequence[Pair], source: Tokenizer, target: Tokenizer) -> list[tuple[list[int], list[int]]]:
    """Each pair as (source token ids, target token ids), both ending in EOS."""
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
