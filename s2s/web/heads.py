"""The Heads tab: every head of every layer of a model with heads, for the kind of attention chosen.

A model without heads (the LSTM models) gets a message pointing to the All layers tab; a kind the run did
not record (a Hub model may leave one out) is a message too, never an error on the page.
"""

from __future__ import annotations

from .. import viz
from ..translator import ATTENTION_KINDS, Translation

KINDS = [(viz.KIND_NAMES[kind], kind) for kind in ATTENTION_KINDS]  # the kind menu: (label, value)


def figure(result: Translation, kind: object = "cross", presenter: bool = False) -> viz.Figure:
    """The heads grid of `kind` ("cross" when the menu holds something else)."""
    kind = kind if kind in ATTENTION_KINDS else "cross"
    try:
        return viz.heads_grid(result, kind, presenter=presenter)
    except ValueError as error:
        return viz.message(str(error), presenter)
