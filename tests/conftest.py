"""Shared fixtures: tiny untrained checkpoints built in temporary folders (fast, no network)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch

from s2s import checkpoint
from s2s.model import ModelConfig, build_model
from s2s.tokenizer import Tokenizer

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]


@functools.cache
def tiny_tokenizers() -> tuple[Tokenizer, Tokenizer]:
    sources = [f"{d} {m} {y}" for d in range(1, 29) for m in MONTHS for y in (1999, 2021)]
    targets = [f"{y}-{i:02d}-{d:02d}" for d in range(1, 29) for i in range(1, 13) for y in (1999, 2021)]
    return Tokenizer.train(sources, 400), Tokenizer.train(targets, 300)


def build_checkpoint(folder: Path, seed: int = 0, **settings) -> Path:
    """A small random-weight checkpoint; `settings` override ModelConfig fields."""
    source, target = tiny_tokenizers()
    torch.manual_seed(seed)
    fields = dict(emb_size=16, hidden_size=32, num_layers=2) | settings
    model = build_model(ModelConfig(source.vocab_size, target.vocab_size, **fields))
    extra = dict(task="dates", trained_mask="bidirectional", max_source_len=48, max_target_len=16)
    return checkpoint.save(folder, model, source, target, extra, card="# tiny test checkpoint\n")


@pytest.fixture(scope="session")
def tiny_checkpoint_dir(tmp_path_factory) -> Path:
    """A tiny attention checkpoint folder (query=state, scaled_dot)."""
    return build_checkpoint(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny(tiny_checkpoint_dir):
    """The tiny checkpoint, loaded on the CPU."""
    return checkpoint.load(tiny_checkpoint_dir, device="cpu")


@pytest.fixture
def make_checkpoint(tmp_path):
    """Factory: make_checkpoint(score=..., query=..., model=...) -> folder."""
    counter = iter(range(1000))
    return lambda **settings: build_checkpoint(tmp_path / f"ckpt{next(counter)}", **settings)
