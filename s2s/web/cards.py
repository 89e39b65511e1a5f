"""The model card the page shows for a checkpoint: task, architecture, sizes, and its metrics.

Every value read from a checkpoint's folder is HTML-escaped: a Hub checkpoint's files are whatever
its author wrote.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

from .. import checkpoint, tasks
from ..model import BRIDGE_NOTES, ENCODER_NOTES
from . import models, runs


def model_card(spec: object) -> str:
    """Markdown describing a checkpoint: task, architecture, sizes, and metrics.json's numbers if present.

    Loading the model first means a Hub checkpoint's files are fetched and checked. A checkpoint
    that cannot load gets a message instead.
    """
    try:
        loaded = models.get_model(spec)
    except Exception as error:
        return runs.problem(runs.user_message(error))
    config = loaded.translator.config
    metrics = _metrics(loaded.folder)
    e = _escaped
    task = config.get("task", "unknown")
    about = tasks.TASKS[task].description if task in tasks.TASKS else "a custom task"
    if config.get("languages"):  # a Hub translation model: its card's languages
        about = "languages " + ", ".join(e(language) for language in config["languages"])
    rows = [
        ("model", f"{e(config['model'])}: {family_words(config)}"),
        ("score function", e(config["score"])),
        ("query", e(config["query"])),
        ("trained mask", e(config.get("trained_mask", "bidirectional"))),
        ("encoder", _explained(config.get("encoder", "uni"), ENCODER_NOTES)),
        ("bridge", _explained(config.get("bridge", "final"), BRIDGE_NOTES)),
        ("sizes", f"embedding {e(config['emb_size'])}, hidden {e(config['hidden_size'])}, "
                  f"{e(config['num_layers'])} layers, vocabulary {e(config['input_vocab_size'])} → "
                  f"{e(config['output_vocab_size'])}"),
        ("reads at most", f"{e(config['max_source_len'])} source pieces, writes {e(config['max_target_len'])}"),
    ]
    if _number(metrics.get("exact_match")):
        n = f" of {e(metrics['n'])} held-out examples" if _number(metrics.get("n")) else ""
        rows.append(("exact match", f"{100 * metrics['exact_match']:.1f}%{n}"))
    if _number(metrics.get("token_accuracy")):
        rows.append(("token accuracy", f"{100 * metrics['token_accuracy']:.1f}%"))
    if _number(metrics.get("epochs")):
        minutes = f", {metrics['train_seconds'] / 60:.1f} min" if _number(metrics.get("train_seconds")) else ""
        rows.append(("training", f"{e(metrics['epochs'])} epochs{minutes}"))
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return f"**{e(loaded.spec)}**: task *{e(task)}*, {e(about)}\n\n| | |\n|---|---|\n{table}"


def family_words(config: dict) -> str:
    """The model's family in a few words, from its config."""
    heads = f"{_escaped(config.get('heads'))} heads a layer"
    if config["model"] == "marian":
        return f"MarianMT from the Hub, a Transformer with {heads} (read through transformers)"
    if config["model"] == "transformer":
        return f"Transformer encoder-decoder, {heads}"
    if config["model"] == "attention":
        return "LSTM encoder-decoder with attention"
    return "plain LSTM encoder-decoder, no attention"


def _explained(value: object, notes: dict[str, str]) -> str:
    return f"{_escaped(value)}: {notes[value]}" if value in notes else _escaped(value)


def _escaped(value: object) -> str:
    return html.escape(str(value))


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _metrics(folder: Path) -> dict:
    """metrics.json as checkpoint.read_metrics reads it (bounded, its nesting too); {} if it cannot be read."""
    try:
        return checkpoint.read_metrics(folder)
    except (OSError, ValueError):  # CheckpointError is a ValueError
        return {}
