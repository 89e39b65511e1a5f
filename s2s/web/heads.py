"""The Heads tab: every head of every layer of a model with heads, for the kind of attention chosen; and the
main heatmap's lens on such a model: which kind of attention it draws, of which head (or their mean).

A model without heads (the LSTM models) gets a message pointing to the All layers tab; a kind the run did
not record (a Hub model may leave one out) is a message too, never an error on the page.
"""

from __future__ import annotations

from .. import viz
from ..translator import ATTENTION_KINDS, WITH_HEADS, Translation
from . import models

KIND_SHORT = {"cross": "cross-attention", "decoder_self": "decoder self-attention",
              "encoder_self": "encoder self-attention"}
KINDS = [(KIND_SHORT[kind], kind) for kind in ATTENTION_KINDS]  # the kind menu: (label, value)
MEAN = "mean"  # the head menu's value for the mean over heads


def figure(result: Translation, kind: object = "cross", presenter: bool = False) -> viz.Figure:
    """The heads grid of `kind` ("cross" when the menu holds something else)."""
    kind = kind if kind in ATTENTION_KINDS else "cross"
    try:
        return viz.heads_grid(result, kind, presenter=presenter)
    except ValueError as error:
        return viz.message(str(error), presenter)


def head_choices(spec: object) -> list[tuple[str, str]]:
    """The head menu for a checkpoint: the mean, then each head; the mean alone for a model without heads."""
    choices = [("mean of heads", MEAN)]
    try:
        config = models.get_model(spec).translator.config
    except Exception:
        return choices
    if config.get("model") not in WITH_HEADS:
        return choices
    return choices + [(f"head {h}", str(h)) for h in range(int(config["heads"]))]


def pick_kind(value: object, r: Translation) -> str:
    """A kind menu value as the run has it: cross-attention unless the run recorded that kind."""
    return value if isinstance(value, str) and value in r.heads else "cross"


def pick_head(value: object, r: Translation) -> int | None:
    """A head menu value ("mean" or "0", "1", …) as viz takes it: None for the mean, or for a head the run lacks."""
    if not r.heads or value in (None, "", MEAN):
        return None
    try:
        head = int(value)
    except (TypeError, ValueError):
        return None
    return head if 0 <= head < next(iter(r.heads.values())).shape[1] else None


def clicked(value: object, r: Translation | None) -> tuple[str, str] | None:
    """The (layer, head) menu values of the heads grid's panel a click named ("1,3@<time>"), or None when the
    value is not such a name or the run has no such head (the page then changes nothing)."""
    if r is None or not r.heads or not isinstance(value, str):
        return None
    try:
        layer, head = (int(part) for part in value.split("@")[0].split(","))
    except ValueError:
        return None
    layers, count = next(iter(r.heads.values())).shape[:2]
    return (str(layer), str(head)) if 0 <= layer < layers and 0 <= head < count else None


def lens(r: Translation, kind: object = "cross", head: object = MEAN) -> tuple[Translation, str | None]:
    """r as the main map draws the chosen kind and head (viz.attention_of), and the map's title: None (the usual
    one) for cross-attention's mean, which is what every model's map shows by default."""
    kind, head = pick_kind(kind, r), pick_head(head, r)
    if kind == "cross" and head is None:
        return r, None
    shown = viz.attention_of(r, kind, head)
    return shown, f"{KIND_SHORT[kind]} · {'mean of heads' if head is None else f'head {head}'}"
