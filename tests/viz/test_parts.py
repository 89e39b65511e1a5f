"""The parts a map is made of (s2s/viz/parts.py), seen through the maps: hover, marks and their key, the line
after the model's own end, titles, heights; pieces shown as text, never as markup."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest

import s2s
from s2s import viz
from tests.viz.conftest import DATE, HOSTILE, strings


def test_hover_holds_pieces_and_raw_scores(plain):
    fig = viz.heatmap(plain, layer=1)
    trace = fig.data[0]
    for name in ("customdata[0]", "customdata[1]", "customdata[2]", "z:"):
        assert name in trace.hovertemplate
    for t in (0, len(plain.output_pieces) - 1):
        for j, piece in enumerate(plain.source_pieces):
            source, output, score = trace.customdata[t][j]
            assert source == viz.display_piece(piece)
            assert output == viz.display_piece(plain.output_pieces[t])
            assert float(score) == pytest.approx(float(plain.scores[1, t, j]), rel=1e-2, abs=1e-6)
    mean = viz.heatmap(plain).data[0].customdata[0][0][2]  # the mean shows every layer's score
    assert len(mean.split(", ")) == plain.attention_layers


def test_causal_masked_cells_are_marked(causal, plain):
    fig = viz.heatmap(causal)
    masked = np.isneginf(causal.scores[0])
    assert masked.any() and (masked == np.isneginf(causal.scores)).all()
    overlay = np.asarray(fig.data[1].z, dtype=np.float64)
    assert (~np.isnan(overlay) == masked).all()
    assert fig.data[1].hoverinfo == "skip" and fig.data[1].showscale is False
    t, j = np.argwhere(masked)[0]
    assert "masked" in fig.data[0].customdata[t][j][2]
    assert "masked" in fig.layout.annotations[0].text
    assert len(viz.heatmap(plain).data) == 1  # nothing masked, no overlay
    step = viz.heatmap(causal, step=1)
    assert np.isnan(np.asarray(step.data[1].z, dtype=np.float64)[2:]).all()  # hidden rows hide their mask too


def test_forced_steps_and_mismatches_are_marked(forced):
    labels = viz.heatmap(forced).layout.yaxis.ticktext
    mismatch = [o != ref for o, ref in zip(forced.output_pieces, forced.reference_pieces, strict=True)]
    assert any(forced.forced) and not all(forced.forced)  # step 0 is fed BOS
    assert [viz.FORCED_MARK in label for label in labels] == list(forced.forced)
    assert [viz.MISMATCH_MARK in label for label in labels] == mismatch
    right = viz.heatmap(dataclasses.replace(forced, output_pieces=forced.reference_pieces))
    assert not any(viz.MISMATCH_MARK in label for label in right.layout.yaxis.ticktext)
    notes = viz.heatmap(forced).layout.annotations[0].text
    assert "teacher forcing" in notes and "reference" in notes


def test_rows_labelled_by_the_fed_piece(trained):
    labels = viz.heatmap(trained, rows_by_fed=True).layout.yaxis.ticktext
    assert labels[0] == "⟨bos⟩ → 2"
    assert [label.split(" → ")[0] for label in labels] == [viz.display_piece(p) for p in trained.decoder_inputs]


def test_a_row_fed_a_piece_by_hand_names_it():
    """Feeding "9" at step 1 labelled the row "▸ 2" (what it wrote): the fed piece was on no label. A row fed
    something other than what the row above wrote now says "fed → written"; the other rows stay as they were."""
    fed = s2s.load("dates").translate(DATE, prefix=("9",))
    labels = [re.sub(r"<[^>]+>", "", label) for label in viz.heatmap(fed).layout.yaxis.ticktext]
    for t, label in enumerate(labels):
        written = viz.display_piece(fed.output_pieces[t])
        other = t > 0 and fed.decoder_inputs[t] != fed.output_pieces[t - 1]
        want = f"{viz.display_piece(fed.decoder_inputs[t])} → {written}" if other else written
        assert label.removeprefix(f"{viz.FORCED_MARK} ") == want, (t, label)
    assert fed.decoder_inputs[1] == "9"
    assert labels[1] == f"{viz.FORCED_MARK} 9 → {viz.display_piece(fed.output_pieces[1])}"
    assert sum("→" in label for label in labels) == 1  # every later row was fed what the row above wrote


def test_html_in_pieces_is_shown_as_text(plain):
    sources = [HOSTILE, *plain.source_pieces[1:]]
    r = dataclasses.replace(plain, source_pieces=sources, output_pieces=[HOSTILE, *plain.output_pieces[1:]])
    figures = [viz.heatmap(r, title=HOSTILE), viz.heatmap(r, step=0), viz.layer_grid(r),
               viz.difference(r, r, labels=(HOSTILE, "B"))]
    for fig in figures:
        shown = strings(json.loads(fig.to_json()))
        assert not any("<img" in s for s in shown)
        assert any("&lt;img" in s for s in shown)


def test_every_figure_has_a_title(plain, causal, tiny):
    forced = tiny.translate(DATE, reference="2021-03-03", teacher_forcing=0.5, seed=1)
    assert viz.heatmap(forced, layer=0).layout.title.text == "bidirectional · layer 0 · teacher forcing 0.5"
    assert viz.heatmap(causal).layout.title.text == "causal · mean of 2 layers · no teacher forcing"
    assert viz.layer_grid(causal).layout.title.text == "causal · 2 layers and their mean · no teacher forcing"
    assert viz.heatmap(tiny.translate(DATE, beam_size=2)).layout.title.text == (
        "bidirectional · mean of 2 layers · beam search (2) · no teacher forcing")
    assert viz.difference(plain, causal, labels=("bi", "causal")).layout.title.text == (
        "bi − causal · mean of 2 layers · bi: bidirectional · no teacher forcing; causal: causal · no teacher forcing")
    same = "A − B · mean of 2 layers · bidirectional · no teacher forcing"
    assert viz.difference(plain, plain).layout.title.text == same
    assert viz.heatmap(plain, title="dates · 3 March").layout.title.text == "dates · 3 March"
    assert viz.heatmap(plain, title="").layout.title.text is None
    assert viz.heatmap(plain).layout.title.font.size == viz.PLAIN.font + 1  # title.font, not the removed titlefont
    assert viz.heatmap(plain).layout.height > viz.heatmap(plain, title="").layout.height  # room for the title
    assert viz.default_title(causal, 1) == "causal · layer 1 · no teacher forcing"


# --- after the end ----------------------------------------------------------------------------------


def test_steps_after_the_models_end_are_marked(after_end, plain):
    assert after_end.end == 5 < len(after_end.output_pieces)
    fig = viz.heatmap(after_end)
    labels = fig.layout.yaxis.ticktext
    assert [viz.AFTER_END_MARK in label for label in labels] == [t >= 5 for t in range(len(labels))]
    assert all(viz.AFTER_END_COLOR in label for label in labels[5:])
    mismatch = [o != ref for o, ref in zip(after_end.output_pieces, after_end.reference_pieces, strict=True)]
    assert [viz.MISMATCH_MARK in label for label in labels] == mismatch  # still marked after the end
    (line,) = fig.layout.shapes
    assert (line.type, line.y0, line.y1, line.line.dash) == ("line", 4.5, 4.5, "dot")
    assert "after the model's own ⟨eos⟩" in fig.layout.annotations[0].text
    assert len(viz.heatmap(after_end, step=3).layout.shapes) == 1  # before the end: the outline only
    assert len(viz.heatmap(after_end, step=6).layout.shapes) == 2  # the line and the outline
    assert len(viz.layer_grid(after_end).layout.shapes) == after_end.attention_layers + 1  # one per panel
    assert not viz.heatmap(plain).layout.shapes  # decoding freely, nothing comes after the end
    assert not any(viz.AFTER_END_MARK in label for label in viz.heatmap(plain).layout.yaxis.ticktext)


def test_after_end_labels_stay_text(after_end):
    outputs = [*after_end.output_pieces[:6], "<b>", *after_end.output_pieces[7:]]
    r = dataclasses.replace(after_end, output_pieces=outputs)
    label = viz.heatmap(r).layout.yaxis.ticktext[6]
    assert "&lt;b&gt;" in label and re.sub(r"<[^>]+>", "", label).count("after") == 1
