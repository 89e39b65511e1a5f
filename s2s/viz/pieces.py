"""Pieces on screen: how a sentencepiece piece is shown, escaped for plotly or Markdown, and read back.

sentencepiece marks a word start with "▁". `display_piece` shows a piece that starts a word as
"·March", a space on its own as "␣", the specials as ⟨eos⟩ ⟨bos⟩ ⟨pad⟩ ⟨unk⟩; byte-fallback pieces
("<0xF0>") stay as they are. Plotly draws tick labels and hover text as a subset of HTML, so pieces
go through `html.escape` before they reach a figure: a typed "<img ...>" is shown as text, never
parsed as markup.
"""

from __future__ import annotations

import functools
import html
import re

WORD_START = "▁"
SPECIAL_LABELS = {"</s>": "⟨eos⟩", "<s>": "⟨bos⟩", "<pad>": "⟨pad⟩", "<unk>": "⟨unk⟩"}


@functools.lru_cache(maxsize=8192)  # every figure shows every piece once or twice; a vocabulary's pieces recur
def display_piece(piece: str, *, escape: bool = True) -> str:
    """A sentencepiece piece as a person reads it: "▁March" -> "·March", "▁" -> "␣", "</s>" -> "⟨eos⟩".

    With escape (the default) the result is HTML-escaped for plotly's labels. `quote=False`:
    plotly decodes &amp; &lt; &gt; and numeric entities but shows "&quot;" literally, and a
    quote outside a tag is harmless.
    """
    if piece in SPECIAL_LABELS:
        text = SPECIAL_LABELS[piece]
    else:
        if piece.startswith(WORD_START) and piece.strip(WORD_START):
            piece = "·" + piece[1:]
        text = piece.replace(WORD_START, "␣")
    return html.escape(text, quote=False) if escape else text


def piece_from_display(text: str) -> str:
    """What `display_piece` shows, back to the piece ("·March" -> "▁March", "␣" -> "▁", "⟨eos⟩" -> "</s>"), so
    a person can type a piece as the tables spell it; a piece typed as sentencepiece spells it stays as it is.
    (A vocabulary with a real "·" piece: try the text as typed first, as views.intervene does.)"""
    for piece, label in SPECIAL_LABELS.items():
        if text == label:
            return piece
    if text == "␣":
        return WORD_START
    if text.startswith("·") and len(text) > 1:
        return WORD_START + text[1:]
    return text


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")


def markdown_piece(piece: str) -> str:
    """A piece made safe for Markdown text and table cells: HTML-escaped, then punctuation backslashed."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", display_piece(piece))
