"""The checkpoint folder: what load accepts, and every way it refuses a bad one before building anything."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import s2s
from s2s import checkpoint
from s2s.errors import CheckpointError
from tests.fake_hub import FakeHub, use_fake_hub


def edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | changes))


def test_round_trip_gives_the_same_translation(tiny_checkpoint_dir, tiny, tmp_path):
    copy = checkpoint.save(tmp_path / "copy", tiny.model, tiny.source_tokenizer, tiny.target_tokenizer, tiny.config)
    again = checkpoint.load(copy, device="cpu")
    a, b = tiny.translate("3 March 2021"), again.translate("3 March 2021")
    assert a.output_tokens == b.output_tokens and (a.attention == b.attention).all()
    assert again.config == json.loads((tiny_checkpoint_dir / "config.json").read_text())
    for key in ("model", "score", "query", "emb_size", "hidden_size", "num_layers", "input_vocab_size",
                "output_vocab_size", "trained_mask", "max_source_len", "max_target_len", "task"):
        assert key in again.config


@pytest.fixture
def folder(tiny_checkpoint_dir, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_checkpoint_dir, tmp_path / "ckpt"))


def test_truncated_weights(folder):
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt|truncated|could not be read"):
        checkpoint.load(folder)


def test_garbage_weights(folder):
    (folder / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="corrupt"):
        checkpoint.load(folder)


def test_tensors_that_do_not_match_the_config(folder):
    edit_config(folder, hidden_size=48)
    with pytest.raises(CheckpointError, match="does not match config.json"):
        checkpoint.load(folder)


def test_renamed_tensor(folder):
    from safetensors.torch import load_file

    tensors = load_file(folder / "model.safetensors")
    tensors["surprise"] = tensors.pop("lm.bias")
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="missing lm.bias.*unexpected surprise"):
        checkpoint.load(folder)


@pytest.mark.parametrize("changes, message", [
    (dict(hidden_size=10**9), "hidden_size"),
    (dict(num_layers=0), "num_layers"),
    (dict(input_vocab_size="many"), "input_vocab_size"),
    (dict(model="transformer"), "model must be one of"),
    (dict(trained_mask="diagonal"), "trained_mask"),
    (dict(bridge="sideways"), "bridge"),
    (dict(max_source_len=True), "max_source_len"),
])
def test_absurd_config_is_refused_before_anything_is_allocated(folder, monkeypatch, changes, message):
    edit_config(folder, **changes)

    def no_building(*args, **kwargs):
        raise AssertionError("a model was built from a bad config")

    monkeypatch.setattr(checkpoint, "build_model", no_building)
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(folder)


def test_config_that_is_not_json(folder):
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        checkpoint.load(folder)


def test_pickle_is_refused_and_never_loaded(folder, monkeypatch):
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps({"weights": 1}))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load was called"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("pickle.load was called"))
    with pytest.raises(CheckpointError, match="never loaded"):
        checkpoint.load(folder)


def test_missing_and_corrupt_tokenizers(folder):
    (folder / "target.model").write_bytes(b"not a sentencepiece model")
    with pytest.raises(CheckpointError, match="tokenizer"):
        checkpoint.load(folder)
    (folder / "target.model").unlink()
    with pytest.raises(CheckpointError, match="target.model is missing"):
        checkpoint.load(folder)


def test_load_from_a_fake_hub_end_to_end(tiny_checkpoint_dir, monkeypatch, tmp_path):
    """s2s.load("org/name") runs huggingface_hub's real download code, then loads the files it got."""
    files = {p.name: p.read_bytes() for p in tiny_checkpoint_dir.iterdir()}
    with FakeHub() as server:
        use_fake_hub(monkeypatch, server.url, tmp_path / "hf-cache")
        commit = server.add_commit("lecture/tiny", files)
        model = s2s.load("lecture/tiny")
        assert model.translate("3 March 2021").output_tokens
        pinned = s2s.load(f"lecture/tiny@{commit}")
        assert pinned.config == model.config
