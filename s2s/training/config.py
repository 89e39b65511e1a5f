"""One training run's settings (`TrainConfig`), their defaults, and the device policy that resolves them.

The network's settings are a ModelConfig (one source of truth for them); every other field of a run is
here, and each is also a flag of `python -m s2s.cli.train` of the same name (settings_of flattens a run
into those flags, config_from_flags reads them back: what metrics.json records and a recipe replays).

Device policy. batch_size 0 (the default) picks DEFAULT_BATCH for the device: a GPU's time per step hardly
grows with the batch, so there it is large; on the CPU larger batches give more examples a second but learn
far less per epoch on the bundled tasks, whatever the scaling, so the CPU keeps BASE_BATCH (docs/training.md;
the speeds: docs/speed.md). `lr` is the rate for a batch of BASE_BATCH, scaled by sqrt(batch / BASE_BATCH)
(lr_scaling sqrt; linear and none also exist): Adam's update noise falls as the square root of the batch.
`amp` runs the encoder in bfloat16 (autocast) and the fused decoder pass in float32, on CUDA and the CPU
alike; it is off by default, since a run's numbers would then depend on the machine's instructions.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import check_choice
from ..model import ModelConfig, check_mask

BASE_BATCH = 64  # lr is the rate for a batch of this size
DEFAULT_BATCH = {"cpu": 64, "cuda": 512}  # batch_size 0: per kind of device (see the module docstring)
LR_SCALINGS = ("sqrt", "linear", "none")
SCHEDULES = ("plateau-token", "plateau-exact")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. The network's settings are a ModelConfig: each of its fields but the vocabulary
    sizes, which the tokenizers decide, is also a flag of the command line."""

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
    patience: int = 4  # stop after this many epochs without better validation (trainer.progress)
    target_exact_match: float = 1.0  # stop as soon as validation reaches this
    max_minutes: float = 30.0
    forcing_start: float = 1.0  # teacher forcing falls from this ...
    forcing_end: float = 0.5  # ... to this over the first half of the epochs, then stays
    seed: int = 0
    resume: str | None = None  # a checkpoint folder to train further (its tokenizers and sizes are kept)
    threads: int = 0  # torch threads; 0 keeps torch's default
    device: str = "auto"  # auto: CUDA when there is one
    amp: bool = False  # bfloat16 autocast: the encoder (and with fused=False the decoder too)
    fused: bool = True  # the decoder's training pass with its hand-written backward (s2s/fused.py); False: autograd
    log_every: int = 50  # batches between reads of the loss (each read waits for the device)

    def __post_init__(self) -> None:
        check_mask(self.mask)
        check_choice("lr_scaling", self.lr_scaling, LR_SCALINGS)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("device", self.device, DEVICES)
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
        """Where the checkpoint is written: out, or trained/<task> (trained/<the TSV's name>) without it."""
        return Path(self.out) if self.out else Path("trained") / (Path(self.data).stem if self.data else self.task)


NETWORK_FLAGS = tuple(f for f in dataclasses.fields(ModelConfig) if f.default is not dataclasses.MISSING)


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


def settings_of(cfg: TrainConfig) -> dict:
    """Every flag of the run, flat, as metrics.json records them (the network's beside the rest)."""
    flat = dataclasses.asdict(cfg)
    return {k: v for k, v in flat.items() if k != "network"} | {f.name: flat["network"][f.name] for f in NETWORK_FLAGS}


def config_from_flags(values: dict) -> TrainConfig:
    """A TrainConfig from flat flags (the command line's, a recipe's): the network's go into a ModelConfig."""
    values = dict(values)
    network = ModelConfig(0, 0, **{f.name: values.pop(f.name) for f in NETWORK_FLAGS if f.name in values})
    return TrainConfig(**values, network=network)
