"""Pieces on screen (s2s/viz/pieces.py): readable, distinct, escaped, and read back as the same piece."""

from __future__ import annotations

import pytest

import s2s
from s2s import viz
from s2s.viz.pieces import markdown_piece
from tests.viz.conftest import HOSTILE


def test_display_piece_is_readable_distinct_and_escaped():
    assert viz.display_piece("▁March") == "·March"
    assert viz.display_piece("March") == "March"  # distinct from the word-start piece
    assert viz.display_piece("▁") == "␣"
    assert viz.display_piece("</s>") == "⟨eos⟩" and viz.display_piece("<s>") == "⟨bos⟩"
    assert viz.display_piece("<0xF0>", escape=False) == "<0xF0>"
    assert viz.display_piece("<0xF0>") == "&lt;0xF0&gt;"
    assert viz.display_piece(HOSTILE) == "&lt;img src=x onerror=alert(1)&gt;"


def test_markdown_piece_escapes_html_and_backslashes_punctuation():
    assert markdown_piece("a|b*c_`x`") == r"a\|b\*c\_\`x\`"
    assert markdown_piece("<b>") == "&lt;b&gt;" and markdown_piece("▁[x]") == r"·\[x\]"


@pytest.mark.parametrize("name", ["dates", "reverse", "toy-fr"])
def test_every_piece_shown_reads_back_as_that_piece(name):
    """What a person copies from a table (display_piece) is typed back as the same piece (piece_from_display)."""
    tokenizer = s2s.load(name).target_tokenizer
    pieces = tokenizer.pieces(range(tokenizer.vocab_size))
    assert [viz.piece_from_display(viz.display_piece(p, escape=False)) for p in pieces] == pieces
