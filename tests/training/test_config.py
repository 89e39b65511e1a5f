"""s2s/training/config.py: a run's settings, refused when they cannot train, and the device policy."""

import dataclasses

import pytest
import torch

from s2s.model import ModelConfig
from s2s.training.config import (
    DEFAULT_BATCH,
    TrainConfig,
    batch_size_for,
    config_from_flags,
    pick_device,
    scaled_lr,
    settings_of,
)


def test_batch_size_and_learning_rate_follow_the_device():
    cfg = TrainConfig()
    assert batch_size_for(cfg, torch.device("cpu")) == DEFAULT_BATCH["cpu"]
    assert batch_size_for(TrainConfig(batch_size=32), torch.device("cuda")) == 32
    assert scaled_lr(cfg, 64) == pytest.approx(3e-3) and scaled_lr(cfg, 256) == pytest.approx(6e-3)
    assert scaled_lr(TrainConfig(lr_scaling="linear"), 256) == pytest.approx(1.2e-2)
    assert scaled_lr(TrainConfig(lr_scaling="none"), 256) == pytest.approx(3e-3)
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="cosine")


@pytest.mark.parametrize("changes, said", [
    (dict(epochs=0), "epochs must be 1 or more"),
    (dict(train_size=0), "train_size must be 1 or more"),
    (dict(val_size=0), "val_size must be 1 or more"),
    (dict(max_minutes=0), "max_minutes must be more than 0"),
    (dict(lr_scaling="cubic"), "lr_scaling must be one of sqrt, linear, none; got 'cubic'"),
    (dict(device="tpu"), "device must be one of auto, cpu, cuda; got 'tpu'"),
    (dict(batch_size=-1), "batch_size must be 0"),
    (dict(mask="sideways"), "mask"),
])
def test_settings_that_cannot_train_are_refused(changes, said):
    with pytest.raises(ValueError, match=said):
        TrainConfig(**changes)


def test_flat_settings_give_the_same_run_back():
    """metrics.json records settings_of(cfg); config_from_flags reads them back (what recipes replay)."""
    cfg = TrainConfig(out="x", task="reverse", mask="causal", seed=7, amp=True,
                      network=ModelConfig(0, 0, model="edm", emb_size=8, hidden_size=12, encoder="bi"))
    flat = settings_of(cfg)
    assert "network" not in flat and flat["hidden_size"] == 12 and flat["model"] == "edm" and flat["seed"] == 7
    assert config_from_flags(flat) == cfg
    assert set(flat) == {f.name for f in dataclasses.fields(TrainConfig) if f.name != "network"} | {
        f.name for f in dataclasses.fields(ModelConfig) if f.default is not dataclasses.MISSING}


def test_where_a_run_writes_and_what_task_it_records():
    assert str(TrainConfig().out_folder) == "trained/dates" and TrainConfig().task_name == "dates"
    own = TrainConfig(data="some/where/pairs.tsv")
    assert str(own.out_folder) == "trained/pairs" and own.task_name == "tsv"
    assert str(TrainConfig(out="mine", data="pairs.tsv").out_folder) == "mine"


def test_cuda_is_refused_where_there_is_none(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA device is present"):
        pick_device(TrainConfig(device="cuda"))
    assert pick_device(TrainConfig()) == torch.device("cpu")
