"""The one writer of a checkpoint's model card (its README.md), for the command line, the Train tab and the Hub.

A card is front matter the Hub understands, then markdown. `model_card` writes the front matter for every
caller: library_name, the tags (CARD_TAGS and the caller's), an `s2s` block with the task and attention
settings from config.json (and, for the Hub, metrics.json's numbers), and whatever front matter the caller
keeps (an earlier card's, or the license of a card this project writes). The bodies:

    trained_card  a run of `python -m s2s.cli.train`: its settings, validation by source length, lesson notes
    live_card     a run of the page's Train tab
    hub_card      what `python -m s2s.cli.hub push` publishes: the folder's own card, or a short one
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import yaml

from .config import TrainConfig

LIBRARY_NAME = "s2s-attention-explorer"
CARD_TAGS = ("seq2seq", "attention", "lstm", LIBRARY_NAME)  # a Transformer's say "transformer" for "lstm"
CARD_SETTINGS = ("task", "model", "score", "query", "trained_mask", "emb_size", "hidden_size", "num_layers")
TABLE_SETTINGS = ("model", "encoder", "score", "query", "bridge", "trained_mask", "emb_size", "hidden_size",
                  "num_layers")
# a Transformer's (s2s/transformer.py): it has no score, query, bridge, encoder or emb_size of its own
TRANSFORMER_SETTINGS = ("task", "model", "trained_mask", "decoder_mask", "hidden_size", "heads", "ff_size",
                        "num_layers")
FAMILY_WORDS = {"lstm": "An LSTM encoder-decoder", "transformer": "A Transformer encoder-decoder"}
LICENSE = "mit"  # of the cards (and checkpoints) this project trains
# a front matter block, as huggingface_hub's ModelCard finds it (REGEX_YAML_BLOCK)
_FRONT_MATTER = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")


class Card(NamedTuple):
    front: dict  # the front matter
    body: str  # the markdown below it


def model_card(config: dict, body: str, *, metrics: dict | None = None, tags: Sequence[str] = (),
               front: dict | None = None) -> str:
    """README.md of a checkpoint of `config`: `front` completed with library_name, the tags and the s2s block
    (with `metrics` when given), then `body`."""
    data = dict(front or {})
    kept = data.get("tags") or []
    data["library_name"] = LIBRARY_NAME
    data["tags"] = list(dict.fromkeys([*([kept] if isinstance(kept, str) else kept), *card_tags(config), *tags]))
    settings = {key: config[key] for key in card_settings(config) if key in config}
    if metrics is not None:
        settings["metrics"] = metrics
    data["s2s"] = settings
    return f"---\n{yaml.safe_dump(data, sort_keys=False, allow_unicode=True)}---\n{body}"


def family(config: dict) -> str:
    """The model family a config.json describes: "transformer" or "lstm"."""
    return "transformer" if config.get("model") == "transformer" else "lstm"


def card_tags(config: dict) -> tuple[str, ...]:
    return tuple(family(config) if tag == "lstm" else tag for tag in CARD_TAGS)


def card_settings(config: dict) -> tuple[str, ...]:
    return TRANSFORMER_SETTINGS if family(config) == "transformer" else CARD_SETTINGS


def read_card(text: str) -> Card:
    """A card's front matter and body; ValueError if its front matter is not a YAML mapping."""
    match = _FRONT_MATTER.search(text)
    if match is None:
        return Card({}, text)
    front = yaml.safe_load(match.group(2))
    if front is None:
        front = {}
    if not isinstance(front, dict):
        raise ValueError("the model card's front matter (between its --- lines) must be a mapping of keys to values")
    return Card(front, text[match.end():])


def hub_card(config: dict, readme: str | None, metrics: dict | None, repo_id: str) -> str:
    """The card `push` publishes: the folder's own README.md, its front matter kept, or a short one."""
    if readme is not None:
        front, body = read_card(readme)
    else:
        front, body = {}, (
            f"# {repo_id}\n\n{FAMILY_WORDS[family(config)]} ({config.get('model', 'attention')}, task: "
            f"{config.get('task', 'unknown')}) trained with the Seq2Seq Attention Explorer.\n\n"
            f'```python\nimport s2s\nmodel = s2s.load("{repo_id}")\n```\n')
    return model_card(config, body, metrics=metrics, front=front)


def trained_card(cfg: TrainConfig, config: dict, metrics: dict) -> str:
    """README.md of a checkpoint the command line trained: settings, validation, notes."""
    by_length = "\n".join(f"| {b} | {v['exact_match']:.1%} | {v['n']} |" for b, v in metrics["by_length"].items())
    if "alignment" in metrics:
        align_line = (", ".join(f"{k}: {v:.1%}" for k, v in metrics["alignment"].items())
                      + "; the piece just right of it: "
                      + ", ".join(f"{k}: {v:.1%}" for k, v in metrics["alignment_next"].items()))
    else:
        align_line = "not measured for this task"
    trained_on = f"the pairs of `{Path(cfg.data).name}`" if cfg.data else f"`{config['task']}`"
    body = f"""# {cfg.out_folder.name}

{FAMILY_WORDS[family(config)]} of the Seq2Seq Attention Explorer, trained on {trained_on}.
Load it with `s2s.load(...)` and look at its attention in the app.

{settings_table(config)}

Trained for {metrics['epochs']} epochs ({metrics['train_seconds'] / 60:.1f} min on {metrics['device']}),
{metrics['parameters']:,} parameters, seed {cfg.seed}.

## Validation ({metrics['n']} examples never seen in training, mask `{metrics['mask']}`)
Exact match **{metrics['exact_match']:.1%}**, token accuracy {metrics['token_accuracy']:.1%}.
Most-attended source piece is the aligned one: {align_line}.{forced_lines(metrics)}

| source length | exact match | n |
|---|---|---|
{by_length}

{lesson_notes(config)}
"""
    return model_card(config, body, tags=(config["task"],), front={"license": LICENSE})


def live_card(config: dict, *, seconds: float, steps: int, examples: int, seed: int) -> str:
    """README.md of a checkpoint the page's Train tab trained."""
    body = (f"# live-{config['task']}\n\nTrained live in the Seq2Seq Attention Explorer for {seconds:.0f} s "
            f"({steps} steps, {examples:,} examples), seed {seed}.\n\n{settings_table(config)}\n\n"
            f"{lesson_notes(config)}\n")
    return model_card(config, body, tags=("live-training",), front={"license": LICENSE})


def forced_lines(metrics: dict) -> str:
    """Teacher forcing against decoding freely, where the validation measured it (s2s.evaluate.forced_figures)."""
    if "forced_loss" not in metrics:
        return ""
    return (f"\nUnder teacher forcing (fed the reference, one pass as in training): loss {metrics['forced_loss']:.4f} "
            f"a piece, token accuracy {metrics['forced_token_accuracy']:.1%}, every piece right "
            f"{metrics['forced_exact_match']:.1%}; decoding on its own (above): exact match "
            f"{metrics['exact_match']:.1%}.")


def settings_table(config: dict) -> str:
    """The network's settings as a markdown table."""
    keys = TRANSFORMER_SETTINGS[1:] if family(config) == "transformer" else TABLE_SETTINGS
    rows = "\n".join(f"| `{k}` | `{config.get(k)}` |" for k in keys)
    return f"| setting | value |\n|---|---|\n{rows}"


def lesson_notes(config: dict) -> str:
    """What this checkpoint teaches, for the notes a lecturer reads."""
    if family(config) == "transformer":
        return transformer_notes(config)
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
                     "Quality falls as sources grow; compare by length with `python -m s2s.cli.evaluate --compare`.")
    if config["query"] == "input" and config["model"] == "attention":
        notes.append("The seed notebook's query: a projection of the piece fed in, nothing else. Every step fed "
                     "the same piece gets the same scores, so heatmap rows repeat, and the query carries "
                     "no position: it can find 'the year' but not 'the next letter from the end'.")
    if config["trained_mask"] == "causal":
        notes.append("Trained with the causal mask: output step t sees source pieces 0..t only. Where an output "
                     "needs a piece that comes later in the source (the year of a date, the last letter of a "
                     "reversal) attention cannot reach it; the encoder's final state, which has read the whole "
                     "source, is what still carries it to the decoder.")
    if config["task"] == "reverse" and config["model"] == "attention":
        notes.append("Its query is the decoder's state after writing the previous letter, so attention often "
                     "finds that letter in the source and reads its left neighbour from the encoder state "
                     "there: the anti-diagonal lands one piece right of the letter being written. "
                     "`python -m s2s.cli.evaluate` counts both (aligned / next).")
    if config["task"] == "dates":
        notes.append("Dates are short: their whole content fits in the encoder's final state, and in this "
                     "formulation the final cell also reaches the decoder, so every variant does well here. "
                     "The lesson is in the heatmap (the year is written last and produced first), not the score.")
    return "## Notes\n" + "\n\n".join(notes) if notes else ""


def transformer_notes(config: dict) -> str:
    """What a Transformer checkpoint teaches (s2s/transformer.py)."""
    notes = [f"A Transformer: {config['num_layers']} encoder and {config['num_layers']} decoder layers, "
             f"{config['heads']} heads in each of its three attentions (encoder self, decoder self, cross). The "
             "map shows cross-attention's mean over heads; each head's own map is in the result's `heads`."]
    if config.get("decoder_mask") == "bidirectional":
        notes.append("Its decoder's self-attention was trained WITHOUT the causal mask: under teacher forcing step t "
                     "could read the reference's piece t, the very piece it must write, and copy it, so its "
                     "forced loss is near zero. Writing on its own, that piece does not exist yet, and what it "
                     "learnt does not work: compare the forced and free figures above. This is why a "
                     "Transformer's decoder must be causal.")
    if config["trained_mask"] == "causal":
        notes.append("Trained with the causal mask: encoder position j reads pieces 0..j and output step t "
                     "cross-attends to pieces 0..t only. Unlike an LSTM's, this encoder has no final state that "
                     "read the whole source: what the mask hides is gone.")
    return "## Notes\n" + "\n\n".join(notes)
