"""The checkpoint folder: config.json + model.safetensors + source.model + target.model + README.md.

Loading checks everything it can before it allocates anything: the config's values and
sizes, then the tensors' names and shapes read from the safetensors header, against a model
built on the `meta` device (which allocates no memory). Pickles are never loaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from .errors import CheckpointError
from .model import BRIDGES, EDM, ENCODERS, MASKS, MODELS, QUERIES, SCORES, ModelConfig, build_model
from .tokenizer import Tokenizer
from .translator import Translator

CONFIG, WEIGHTS, SOURCE_TOKENIZER, TARGET_TOKENIZER, CARD, METRICS = (
    "config.json", "model.safetensors", "source.model", "target.model", "README.md", "metrics.json",
)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")

# Sizes beyond these are refused before anything is allocated (a bad or hostile config.json).
LIMITS = {"emb_size": 2048, "hidden_size": 2048, "num_layers": 8, "input_vocab_size": 65536,
          "output_vocab_size": 65536, "max_source_len": 2048, "max_target_len": 2048}
CHOICES = {"model": MODELS, "score": SCORES, "query": QUERIES, "trained_mask": MASKS}
OPTIONAL_CHOICES = {"bridge": BRIDGES, "encoder": ENCODERS}


def validate_config(config: object) -> dict:
    """Return the config if every required value is present, of the right type and sane."""
    if not isinstance(config, dict):
        raise CheckpointError("config.json must hold a JSON object")
    for key, choices in CHOICES.items():
        if config.get(key) not in choices:
            raise CheckpointError(f"config.json: {key} must be one of {', '.join(choices)}; got {config.get(key)!r}")
    for key, choices in OPTIONAL_CHOICES.items():
        if key in config and config[key] not in choices:
            raise CheckpointError(f"config.json: {key} must be one of {', '.join(choices)}; got {config[key]!r}")
    for key, limit in LIMITS.items():
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            raise CheckpointError(f"config.json: {key} must be a whole number from 1 to {limit}; got {value!r}")
    if config.get("encoder") == "bi" and config["hidden_size"] % 2:
        raise CheckpointError("config.json: a bidirectional encoder needs an even hidden_size")
    dropout = config.get("dropout", 0.0)
    if not isinstance(dropout, int | float) or not 0 <= dropout < 1:
        raise CheckpointError(f"config.json: dropout must be in [0, 1); got {dropout!r}")
    return config


def read_config(folder: str | Path) -> dict:
    path = Path(folder) / CONFIG
    try:
        return validate_config(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise CheckpointError(f"{path.parent.name}: no config.json, so this is not a checkpoint folder") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path.parent.name}: config.json is not valid JSON ({error})") from None


def _check_files(folder: Path) -> None:
    if not (folder / WEIGHTS).is_file():
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise CheckpointError(
                f"{folder.name}: found {', '.join(pickles)} but no model.safetensors. Pickle files can run "
                "code when loaded, so they are never loaded here: convert the weights to safetensors."
            )
        raise CheckpointError(f"{folder.name}: model.safetensors is missing")
    for name in (SOURCE_TOKENIZER, TARGET_TOKENIZER):
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder.name}: tokenizer file {name} is missing")


def _check_tensors(path: Path, expected: dict[str, torch.Size]) -> None:
    """Compare names and shapes in the safetensors header with the model the config describes."""
    try:
        with safe_open(str(path), framework="pt") as weights:
            found = {name: tuple(weights.get_slice(name).get_shape()) for name in weights.keys()}
    except Exception as error:  # safetensors raises its own error types for bad headers
        raise CheckpointError(f"model.safetensors is corrupt or truncated ({error})") from None
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = sorted(n for n in set(found) & set(expected) if found[n] != tuple(expected[n]))
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing {', '.join(missing[:3])}")
        if unexpected:
            details.append(f"unexpected {', '.join(unexpected[:3])}")
        if wrong:
            details.append(", ".join(f"{n} is {list(found[n])}, config says {list(expected[n])}" for n in wrong[:3]))
        raise CheckpointError("model.safetensors does not match config.json: " + "; ".join(details))


def load(folder: str | Path, device: str | torch.device | None = None) -> Translator:
    """Load a checkpoint folder onto `device` (CUDA when there is one, else the CPU)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a folder")
    config = read_config(folder)
    _check_files(folder)
    model_config = ModelConfig.from_dict(config)
    with torch.device("meta"):
        expected = {name: t.shape for name, t in build_model(model_config).state_dict().items()}
    _check_tensors(folder / WEIGHTS, expected)
    try:
        source = Tokenizer.load(folder / SOURCE_TOKENIZER)
        target = Tokenizer.load(folder / TARGET_TOKENIZER)
    except Exception as error:  # sentencepiece raises RuntimeError/OSError on a bad proto
        raise CheckpointError(f"{folder.name}: a tokenizer file is corrupt ({error})") from None
    if (source.vocab_size, target.vocab_size) != (config["input_vocab_size"], config["output_vocab_size"]):
        raise CheckpointError(
            f"{folder.name}: tokenizer vocabularies ({source.vocab_size}, {target.vocab_size}) do not match "
            f"config.json ({config['input_vocab_size']}, {config['output_vocab_size']})"
        )
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = build_model(model_config)
    try:
        model.load_state_dict(load_file(folder / WEIGHTS, device="cpu"))
    except Exception as error:
        raise CheckpointError(f"{folder.name}: model.safetensors could not be read ({error})") from None
    return Translator(model, source, target, config, device)


def save(
    folder: str | Path,
    model: EDM,
    source: Tokenizer,
    target: Tokenizer,
    config: dict,
    *,
    card: str | None = None,
    metrics: dict | None = None,
) -> Path:
    """Write a checkpoint folder that `load` accepts; config holds the model's and the task's settings."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = validate_config({**config, **model.config.to_dict(),
                              "input_vocab_size": source.vocab_size, "output_vocab_size": target.vocab_size})
    (folder / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    state = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    save_file(state, folder / WEIGHTS, metadata={"format": "pt"})
    source.save(folder / SOURCE_TOKENIZER)
    target.save(folder / TARGET_TOKENIZER)
    if card is not None:
        (folder / CARD).write_text(card, encoding="utf-8")
    if metrics is not None:
        (folder / METRICS).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return folder
