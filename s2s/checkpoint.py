"""The checkpoint folder: config.json + model.safetensors + source.model + target.model + README.md.

A checkpoint may come from anyone (the Hub), so loading treats it as untrusted and checks everything
it can before it allocates anything: each file's size on disk (FILE_LIMITS), the config's values and
sizes (LIMITS), the number of parameters they imply (MAX_PARAMETERS) and the work of one translation
(MAX_DECODE_WORK), then the tensors' names, shapes and types read from the safetensors header, against a
model built on the `meta` device (which allocates no memory); once read, weights that are NaN or infinite
are refused. Pickles are never loaded.
The limits below are the one place these sizes are set, and the file names above them the one place a
checkpoint's files are named; s2s.hub checks the same FILE_LIMITS against the sizes the Hub reports before
it downloads anything. The checkpoints shipped with the project live in BUNDLED_DIR (list_bundled).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from .errors import CheckpointError, CheckpointTooLarge, check_choice, one_line
from .model import ARCHITECTURES, BRIDGES, EDM, ENCODERS, MASKS, QUERIES, SCORES, ModelConfig, Transformer, build_model
from .tokenizer import Tokenizer
from .translator import Translator

CONFIG, WEIGHTS, SOURCE_TOKENIZER, TARGET_TOKENIZER, CARD, METRICS = (
    "config.json", "model.safetensors", "source.model", "target.model", "README.md", "metrics.json",
)
REQUIRED_FILES = (CONFIG, WEIGHTS, SOURCE_TOKENIZER, TARGET_TOKENIZER)  # every checkpoint has these ...
OPTIONAL_FILES = (CARD, METRICS)  # ... and may have these; no other file is part of a checkpoint
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "checkpoints"  # the checkpoints shipped with the project

# --- limits: what any checkpoint, a visitor's included, may be -------------------------------------------
# Chosen so that one request on a 2-core CPU stays within seconds and a loaded model within a few hundred MB,
# with room to spare above the bundled checkpoints (at most emb 64, hidden 128, 2 layers, 480 pieces,
# 543k parameters, 64 source and 62 target pieces). Each is checked before anything is allocated.
LIMITS = {
    "emb_size": 1024,
    "hidden_size": 1024,
    "num_layers": 4,
    "input_vocab_size": 16384,
    "output_vocab_size": 16384,
    "max_source_len": 256,  # pieces a source may have (encoder steps, attention map width)
    "max_target_len": 256,  # pieces a decode may produce (decoder steps, attention map height)
}
MAX_PIECE_CHARS = 64  # a tokenizer piece's length: each is drawn in tick labels and every hover cell of its row
MAX_PARAMETERS = 20_000_000  # counted on a model built from config.json on the meta device: 80 MB in float32
# multiply-adds of one greedy translation at the config's longest lengths (decode_work): a fraction of a second
# on one core, with room above the bundled checkpoints and the Train tab's medium size at its longest
MAX_DECODE_WORK = 500_000_000
FILE_LIMITS = {  # bytes each file may have, on disk and as the Hub reports it
    CONFIG: 64 * 1024,
    WEIGHTS: 100_000_000,  # MAX_PARAMETERS float32 weights and their header
    SOURCE_TOKENIZER: 4 * 1024 * 1024,
    TARGET_TOKENIZER: 4 * 1024 * 1024,
    CARD: 256 * 1024,
    METRICS: 256 * 1024,
}
MAX_HEADER_BYTES = 1024 * 1024  # the safetensors header (JSON naming each tensor); the bundled ones are ~4 KB
WEIGHT_DTYPES = ("F32", "F16", "BF16")
SMALLER = "train a smaller model (python -m s2s.cli.train --help lists the sizes), or load another checkpoint"

CHOICES = {"model": ARCHITECTURES, "score": SCORES, "query": QUERIES, "trained_mask": MASKS}
OPTIONAL_CHOICES = {"bridge": BRIDGES, "encoder": ENCODERS, "decoder_mask": MASKS}
OPTIONAL_LIMITS = {"heads": 16, "ff_size": 4096}  # a Transformer's (an LSTM's config.json may lack them)


def list_bundled() -> list[str]:
    """Names of the checkpoints shipped in BUNDLED_DIR (each a folder with a config.json)."""
    if not BUNDLED_DIR.is_dir():
        return []
    return sorted(p.name for p in BUNDLED_DIR.iterdir() if (p / CONFIG).is_file())


_bundled_names: frozenset[str] = frozenset()  # the last listing of BUNDLED_DIR


def is_bundled(name: str) -> bool:
    """Whether `name` is a bundled checkpoint, at the cost of one stat (its config.json).

    The web app asks this several times per request, too often to list the folder each time. A name is
    looked for in the last listing (so it is a folder of BUNDLED_DIR, never a path), which is made again
    whenever a name is not in it; then its config.json must still be there.
    """
    global _bundled_names
    if name not in _bundled_names:
        _bundled_names = frozenset(list_bundled())
    return name in _bundled_names and (BUNDLED_DIR / name / CONFIG).is_file()


def read_bounded(path: str | Path, limit: int | None = None) -> bytes:
    """The bytes of a checkpoint file, refused (CheckpointTooLarge) if it has more than `limit` bytes.

    `limit` defaults to FILE_LIMITS for the file's name. At most limit + 1 bytes are ever read, so a file
    that grows, or lies about its size, still cannot make this read it whole.
    """
    path = Path(path)
    limit = FILE_LIMITS[path.name] if limit is None else limit
    with path.open("rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise CheckpointTooLarge(
            f"{path.parent.name}: {path.name} is larger than this app's limit of {_size(limit)} "
            f"(checkpoint.FILE_LIMITS): {SMALLER}."
        )
    return data


def read_card(folder: str | Path) -> str | None:
    """The folder's README.md (model card), read at most FILE_LIMITS bytes; None if it has none."""
    path = Path(folder) / CARD
    if not path.is_file():
        return None
    return read_bounded(path).decode("utf-8", errors="replace")


def read_metrics(folder: str | Path) -> dict:
    """The folder's metrics.json, read at most FILE_LIMITS bytes; {} if it has none.

    Raises CheckpointError (a ValueError) if it is too large, not JSON, too deeply nested or not an object.
    """
    path = Path(folder) / METRICS
    if not path.is_file():
        return {}
    metrics = _parse_json(read_bounded(path), path)
    if not isinstance(metrics, dict):
        raise CheckpointError(f"{path.parent.name}: metrics.json must hold a JSON object")
    return metrics


def validate_config(config: object) -> dict:
    """Return the config if every required value is present, of the right type and within the limits."""
    if not isinstance(config, dict):
        raise CheckpointError("config.json must hold a JSON object")
    for key, choices in CHOICES.items():
        check_choice(f"config.json: {key}", config.get(key), choices, CheckpointError)
    for key, choices in OPTIONAL_CHOICES.items():
        if key in config:
            check_choice(f"config.json: {key}", config[key], choices, CheckpointError)
    for key, limit in LIMITS.items():
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CheckpointError(f"config.json: {key} must be a whole number from 1 to {limit}; got {_shown(value)}")
        if value > limit:
            raise CheckpointTooLarge(
                f"config.json: {key} is {value}, above this app's limit of {limit} (checkpoint.LIMITS): {SMALLER}.")
    for key, limit in OPTIONAL_LIMITS.items():
        value = config.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            raise CheckpointError(f"config.json: {key} must be a whole number from 1 to {limit}; got {_shown(value)}")
    if config["model"] == "transformer" and config["hidden_size"] % config.get("heads", 4):
        raise CheckpointError("config.json: a transformer's heads must divide its hidden_size")
    if config.get("encoder") == "bi" and config["hidden_size"] % 2 and config["model"] != "transformer":
        raise CheckpointError("config.json: a bidirectional encoder needs an even hidden_size")
    dropout = config.get("dropout", 0.0)
    if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0 <= dropout < 1:
        raise CheckpointError(f"config.json: dropout must be in [0, 1); got {_shown(dropout)}")
    return config


def expected_tensors(config: dict) -> dict[str, torch.Size]:
    """Name -> shape of every tensor the model config.json describes, refused above MAX_PARAMETERS.

    The model is built on the meta device, so nothing is allocated whatever the config says (the sizes
    were already bounded by validate_config).
    """
    with torch.device("meta"):
        expected = {name: t.shape for name, t in build_model(ModelConfig.from_dict(config)).state_dict().items()}
    count = sum(shape.numel() for shape in expected.values())
    if count > MAX_PARAMETERS:
        raise CheckpointTooLarge(
            f"config.json describes a model of {count:,} parameters, above this app's limit of "
            f"{MAX_PARAMETERS:,} (checkpoint.MAX_PARAMETERS): {SMALLER}.")
    work = decode_work(config, expected)
    if work > MAX_DECODE_WORK:
        raise CheckpointTooLarge(
            f"config.json describes a model whose every translation may take {work:,} multiply-adds "
            f"({config['max_source_len']} source and {config['max_target_len']} output pieces at most), above this "
            f"app's limit of {MAX_DECODE_WORK:,} (checkpoint.MAX_DECODE_WORK): {SMALLER}, or lower those lengths.")
    return expected


def decode_work(config: dict, shapes: dict[str, torch.Size]) -> int:
    """Multiply-adds of one greedy translation at the longest lengths, counted from the tensors' shapes.

    Each encoder weight is used once per source piece, each decoder and output weight once per output
    step, and attention reads every layer's T states twice a step (scores, then the context):
        work = T * encoder weights + S * (decoder weights + 2 L T H)
    Embeddings are looked up, not multiplied, and are left out. A limit on parameters alone let a model
    at that limit, with 256 pieces each way, take 5 billion (seconds of CPU, and GBs for beam search).
    A Transformer's self-attentions add their own reads: the encoder's T^2 H per layer, twice, and the
    decoder's up to S H a step (its cache), twice: + 2 L H (T^2 + S^2).
    """
    weights = {name: shape.numel() for name, shape in shapes.items() if "weight" in name and "emb" not in name}
    encoder = sum(n for name, n in weights.items() if name.startswith("encoder."))
    decoder = sum(weights.values()) - encoder
    T, S = config["max_source_len"], config["max_target_len"]
    L, H = config["num_layers"], config["hidden_size"]
    work = T * encoder + S * (decoder + 2 * L * T * H)
    return work + (2 * L * H * (T * T + S * S) if config["model"] == "transformer" else 0)


def read_config(folder: str | Path) -> dict:
    """The folder's config.json, checked: size (FILE_LIMITS), JSON, values and limits (validate_config)."""
    path = Path(folder) / CONFIG
    try:
        data = read_bounded(path)
    except (FileNotFoundError, IsADirectoryError):
        raise CheckpointError(f"{path.parent.name}: no config.json, so this is not a checkpoint folder") from None
    return validate_config(_parse_json(data, path))


def _parse_json(data: bytes, path: Path) -> object:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path.parent.name}: {path.name} is not valid JSON ({_brief(error)})") from None
    except RecursionError:
        raise CheckpointError(f"{path.parent.name}: {path.name} is nested too deeply to be a checkpoint's") from None


def _check_files(folder: Path) -> None:
    if not (folder / WEIGHTS).is_file():
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise CheckpointError(
                f"{folder.name}: found {', '.join(pickles[:5])} but no model.safetensors. Pickle files can run "
                "code when loaded, so they are never loaded here: convert the weights to safetensors."
            )
        raise CheckpointError(f"{folder.name}: model.safetensors is missing")
    for name in (SOURCE_TOKENIZER, TARGET_TOKENIZER):
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder.name}: tokenizer file {name} is missing")
    for name in (WEIGHTS, SOURCE_TOKENIZER, TARGET_TOKENIZER):
        size = (folder / name).stat().st_size
        if size > FILE_LIMITS[name]:
            raise CheckpointTooLarge(
                f"{folder.name}: {name} has {_size(size)}, above this app's limit of {_size(FILE_LIMITS[name])} "
                f"(checkpoint.FILE_LIMITS): {SMALLER}.")


def _check_header(path: Path) -> None:
    """Refuse a safetensors header too large to be this model's before safetensors parses it."""
    with path.open("rb") as file:
        prefix = file.read(8)
    if len(prefix) < 8:
        raise CheckpointError("model.safetensors is corrupt or truncated (no header)")
    (length,) = struct.unpack("<Q", prefix)
    if length > MAX_HEADER_BYTES:
        raise CheckpointError(
            f"model.safetensors is corrupt or not this app's: its header claims {_size(length)}, and a "
            f"checkpoint's is at most {_size(MAX_HEADER_BYTES)}")


def _check_tensors(path: Path, expected: dict[str, torch.Size]) -> None:
    """Compare names, shapes and types in the safetensors header with the model the config describes."""
    _check_header(path)
    try:
        with safe_open(str(path), framework="pt") as weights:
            slices = {name: weights.get_slice(name) for name in weights.keys()}
            found = {name: tuple(s.get_shape()) for name, s in slices.items()}
            dtypes = {name: s.get_dtype() for name, s in slices.items()}
    except Exception as error:  # safetensors raises its own error types for bad headers
        raise CheckpointError(f"model.safetensors is corrupt or truncated ({_brief(error)})") from None
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = sorted(n for n in set(found) & set(expected) if found[n] != tuple(expected[n]))
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing {', '.join(missing[:3])}")
        if unexpected:
            details.append(f"unexpected {', '.join(n[:60] for n in unexpected[:3])}")
        if wrong:
            details.append(", ".join(f"{n} is {list(found[n])}, config says {list(expected[n])}" for n in wrong[:3]))
        raise CheckpointError("model.safetensors does not match config.json: " + "; ".join(details))
    for name in sorted(dtypes):
        check_choice(f"model.safetensors: the type of {name}", dtypes[name], WEIGHT_DTYPES, CheckpointError)


def _check_pieces(tokenizer: Tokenizer, where: str) -> None:
    """Refuse a tokenizer with a piece longer than MAX_PIECE_CHARS (sentencepiece itself allows ~8 KB).

    Every output piece appears in its row's hover data and every source piece in its column's label, so
    one 8 KB piece written 256 times made a single keystroke's figure 64 MB.
    """
    longest = max((len(tokenizer.sp.id_to_piece(i)) for i in range(tokenizer.vocab_size)), default=0)
    if longest > MAX_PIECE_CHARS:
        raise CheckpointError(f"{where} has a piece of {longest} characters, above this app's limit of "
                              f"{MAX_PIECE_CHARS} (checkpoint.MAX_PIECE_CHARS); retrain its tokenizer")


def _check_finite(tensors: dict[str, torch.Tensor], folder: Path) -> None:
    bad = sorted(name for name, t in tensors.items() if not bool(torch.isfinite(t).all()))
    if bad:
        raise CheckpointError(
            f"{folder.name}: model.safetensors holds NaN or infinite weights ({', '.join(bad[:3])}), so it "
            "cannot translate: it was saved from a run that diverged; retrain it or save an earlier epoch.")


def load(folder: str | Path, device: str | torch.device | None = None) -> Translator:
    """Load a checkpoint folder onto `device` (CUDA when there is one, else the CPU).

    Raises CheckpointError (CheckpointTooLarge for a checkpoint beyond the limits above) with a one-line
    message that names no path but the folder's own name.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder.name or 'that'}: not a checkpoint folder (no such folder)")
    config = read_config(folder)
    _check_files(folder)
    model_config = ModelConfig.from_dict(config)
    expected = expected_tensors(config)
    _check_tensors(folder / WEIGHTS, expected)
    try:
        source = Tokenizer.load(folder / SOURCE_TOKENIZER)
        target = Tokenizer.load(folder / TARGET_TOKENIZER)
    except Exception:  # sentencepiece raises RuntimeError/OSError on a bad proto, naming the file's path
        raise CheckpointError(f"{folder.name}: a tokenizer file is corrupt (not a sentencepiece model)") from None
    for name, tokenizer in ((SOURCE_TOKENIZER, source), (TARGET_TOKENIZER, target)):
        _check_pieces(tokenizer, f"{folder.name}: {name}")
    if (source.vocab_size, target.vocab_size) != (config["input_vocab_size"], config["output_vocab_size"]):
        raise CheckpointError(
            f"{folder.name}: tokenizer vocabularies ({source.vocab_size}, {target.vocab_size}) do not match "
            f"config.json ({config['input_vocab_size']}, {config['output_vocab_size']})"
        )
    try:
        tensors = load_file(folder / WEIGHTS, device="cpu")
    except Exception as error:
        raise CheckpointError(f"{folder.name}: model.safetensors could not be read ({_brief(error)})") from None
    _check_finite(tensors, folder)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r}: no CUDA device is present here; use device='cpu' (or leave it "
                         "out: CUDA when there is one, else the CPU)")
    model = build_model(model_config)
    try:
        model.load_state_dict(tensors)
    except Exception as error:
        raise CheckpointError(f"{folder.name}: model.safetensors could not be read ({_brief(error)})") from None
    return Translator(model, source, target, config, device)


def save(
    folder: str | Path,
    model: EDM | Transformer,
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
    expected_tensors(config)  # within MAX_PARAMETERS: never write what load would refuse
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


def _shown(value: object, limit: int = 60) -> str:
    """repr(value), cut short: a hostile config.json must not make a message huge."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _brief(error: BaseException, limit: int = 160) -> str:
    """The first line of a library's error, cut short, for a message."""
    text = one_line(str(error)) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _size(count: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count} bytes"
