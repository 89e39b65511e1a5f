"""What a visitor takes away (s2s/viz/export.py): CSV labelled as the map, JSON with every number, a page that
opens offline."""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
import re

import numpy as np

from s2s import viz
from tests.viz.conftest import HOSTILE


def test_csv_round_trips_with_the_heatmap_labels(plain):
    r = dataclasses.replace(plain, source_pieces=['a,"b"', *plain.source_pieces[1:]])
    rows = list(csv.reader(io.StringIO(viz.attention_csv(r, layer=1))))
    assert rows[0] == ["output \\ source", *(viz.display_piece(p, escape=False) for p in r.source_pieces)]
    assert [row[0] for row in rows[1:]] == [viz.display_piece(p, escape=False) for p in r.output_pieces]
    fig = viz.heatmap(r, layer=1)  # the axis labels, once plotly has decoded their entities
    assert rows[0][1:] == [html.unescape(label) for label in fig.layout.xaxis.ticktext]
    assert "·March" in rows[0] and rows[0][-1] == "⟨eos⟩"
    np.testing.assert_allclose(np.array([row[1:] for row in rows[1:]], float), r.attention[1], rtol=1e-5)


def test_attention_json(causal):
    data = json.loads(viz.attention_json(causal))
    scores = np.array([[[np.nan if v is None else v for v in row] for row in layer] for layer in data["scores"]])
    assert (np.isnan(scores) == np.isneginf(causal.scores)).all()
    np.testing.assert_allclose(np.array(data["attention"]), causal.attention, rtol=1e-6)
    assert data["source_pieces"] == causal.source_pieces and data["output_pieces"] == causal.output_pieces
    assert data["settings"]["mask"] == "causal" and data["settings"]["score_function"] == "scaled_dot"
    assert set(data["settings"]) >= {"teacher_forcing", "seed", "beam_size", "query", "trained_mask"}


def test_figure_html_is_standalone_titled_and_names_its_png(plain):
    page = viz.figure_html(viz.heatmap(plain, layer=0))
    assert "<html>" in page and page.rstrip().endswith("</html>") and "plotly" in page.lower()
    assert not re.search(r"<script[^>]*\bsrc=", page)  # plotly.js is inlined, nothing fetched
    assert "<title>bidirectional · layer 0 · no teacher forcing</title>" in page
    assert '"filename": "attention-heatmap"' in page and '"scale": 2' in page  # the modebar's PNG
    hostile = viz.figure_html(viz.heatmap(plain, title=HOSTILE))
    assert "<title>&lt;img src=x onerror=alert(1)&gt;</title>" in hostile
    assert "<title>Attention heatmap</title>" in viz.figure_html(viz.heatmap(plain, title=""))


def test_figure_html_can_load_plotly_from_a_file_beside_it(plain):
    page = viz.figure_html(viz.heatmap(plain), plotly_js="plotly.min.js")
    assert re.search(r'<script[^>]*\bsrc="plotly\.min\.js"', page)
    assert len(page) < len(viz.figure_html(viz.heatmap(plain))) // 10  # plotly.js itself is not inlined
