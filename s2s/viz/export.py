"""What a visitor takes away: the weights as CSV, the whole result as JSON, a figure as a standalone page."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import numpy as np
import plotly.graph_objects as go

from ..translator import Translation
from .figure import Figure
from .pieces import display_piece
from .weights import check_layer, layer_weights

IMAGE_FILENAME = "attention-heatmap"
PLOT_CONFIG = {"toImageButtonOptions": {"format": "png", "filename": IMAGE_FILENAME, "scale": 2}}
"""plotly.js config for a figure shown outside gr.Plot (figure_html, a notebook's fig.show(config=...)):
the modebar's PNG download gets a name and twice the screen resolution."""


def attention_csv(r: Translation, layer: int | str = "mean") -> str:
    """The weights as CSV: header = source pieces, first column = output pieces, labelled as on the heatmap.

    The labels are `display_piece`'s, unescaped ("·March", "⟨eos⟩"), so that a row of the CSV reads
    like the row of the figure it came from; attention_json keeps the raw sentencepiece pieces. The
    csv module quotes what needs it.
    """
    weights = layer_weights(r, check_layer(r, layer))  # (S, T)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["output \\ source", *(display_piece(p, escape=False) for p in r.source_pieces)])
    for piece, row in zip(r.output_pieces, weights.tolist(), strict=True):
        writer.writerow([display_piece(piece, escape=False), *(f"{w:.6g}" for w in row)])
    return buffer.getvalue()


def attention_json(r: Translation) -> str:
    """Everything needed to redraw the figures elsewhere. Raw pieces; -inf scores become null."""
    data = dict(
        source_text=r.source_text,
        source_pieces=r.source_pieces,
        decoder_inputs=r.decoder_inputs,
        output_pieces=r.output_pieces,
        text=r.text,
        reference=r.reference,
        reference_pieces=r.reference_pieces,
        attention=_numbers(r.attention),  # (L, S, T)
        scores=_numbers(r.scores),  # (L, S, T), null where masked
        family=r.family, heads={kind: _numbers(w) for kind, w in r.heads.items()},  # kind -> (L, NH, rows, cols)
        probs=_numbers(r.probs),
        forced=r.forced.tolist(),
        log_prob=float(r.log_prob),
        settings=dict(mask=r.mask, teacher_forcing=r.teacher_forcing, seed=r.seed, beam_size=r.beam_size,
                      score_function=r.score_function, query=r.query, trained_mask=r.trained_mask),
        hypotheses=[dict(text=h.text, output_pieces=h.output_pieces, mean_log_prob=float(h.mean_log_prob))
                    for h in r.hypotheses],
    )
    return json.dumps(data, ensure_ascii=False, allow_nan=False)


def _numbers(a: np.ndarray) -> list:
    """Nested lists of floats at float32 precision (7 significant digits); -inf -> None."""
    if a.ndim == 0:
        return None if np.isneginf(a) else float(f"{a:.7g}")
    return [_numbers(x) for x in a]


def figure_html(fig: Figure | go.Figure, *, title: str | None = None, plotly_js: str | None = None) -> str:
    """A standalone HTML page of the figure, that opens offline.

    By default plotly.js is inlined (almost all of the page). With `plotly_js`, a file name such as
    "plotly.min.js", the page loads plotly.js from that file beside it instead, and weighs a few kB:
    the app serves one shared copy with every export. The page's <title> is `title` or the figure's
    title (or "Attention heatmap"); the modebar's PNG download is named "attention-heatmap.png", at
    twice the resolution.
    """
    page = fig.to_html(include_plotlyjs=plotly_js or True, full_html=True, config=PLOT_CONFIG, div_id="heatmap")
    if title is None:
        shown = fig.layout.title.text if fig.layout.title and fig.layout.title.text else ""
        title = html.unescape(re.sub(r"<[^>]*>", " ", shown)).strip() or "Attention heatmap"
    return page.replace("<head>", f"<head><title>{html.escape(title)}</title>", 1)
