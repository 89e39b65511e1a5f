"""What every task shares: a `Task`, its (source, target) `Pair`s, and the fixed train / held-out split.

Every source string is hashed with SHA-256 (unlike hash(), the same in every process) and about
HELDOUT_PERCENT of all possible sources are "heldout", the rest "train": a model trained on
split="train" has never seen a split="heldout" source. A task says which split its pairs come from
(`default_split`) and which split it is validated on (`validation_split`): the one place that decides,
for training, the Train tab and evaluation alike, that toy-fr validates on sentences it never saw.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..errors import check_choice

Pair = tuple[str, str]
Split = Literal["train", "heldout", "all"]
SPLITS: tuple[Split, ...] = ("train", "heldout", "all")

HELDOUT_PERCENT = 10


def _nothing_to_say(text: str) -> list[str]:
    return []


def split_of(source: str) -> Literal["train", "heldout"]:
    """The split a source belongs to: a fixed function of its text."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "heldout" if int.from_bytes(digest[:8], "big") % 100 < HELDOUT_PERCENT else "train"


@dataclass(frozen=True)
class Task:
    """A synthetic task: `generate(n, seed)` gives n pairs, the same pairs for the same seed (a private
    random.Random(seed), never the global one)."""

    name: str
    description: str
    draw: Callable[[random.Random], Pair]  # one random pair, from any split
    default_split: Split  # where generate draws from unless told
    validation_split: Split  # where validation (training's, evaluation's) draws from
    max_source_chars: int  # the longest source and target generate can return, in characters (a config.json's
    max_target_chars: int  # max_source_len and max_target_len count pieces)
    examples: tuple[Pair, ...]  # hand-picked pairs for the app's one-click examples
    # notes, in a visitor's words, on how a source lies outside what `draw` makes (a year out of range, a sentence
    # the grammar cannot build), wherever the task can tell: a model's answer there is not to be trusted
    outside: Callable[[str], list[str]] = _nothing_to_say

    def __post_init__(self) -> None:
        check_choice("default_split", self.default_split, SPLITS)
        check_choice("validation_split", self.validation_split, SPLITS)

    def generate(self, n: int, seed: int, split: Split | None = None) -> list[Pair]:
        """n pairs whose sources are in `split` (None: this task's default_split)."""
        split = split or self.default_split
        check_choice("split", split, SPLITS)
        rng = random.Random(seed)
        pairs = []
        while len(pairs) < n:
            pair = self.draw(rng)
            if split == "all" or split_of(pair[0]) == split:
                pairs.append(pair)
        return pairs

    def validation_pairs(self, n: int, seed: int) -> list[Pair]:
        """n pairs to measure a model on, drawn from validation_split."""
        return self.generate(n, seed, split=self.validation_split)
