"""`heads_grid`: every head of every layer as a small map, for one kind of attention (what BertViz's model
view draws in a notebook, here for an encoder-decoder, live). A model with heads (a Transformer, a Hub
translation model) records three kinds (Translation.heads):

    cross         (L, NH, S, T)  output step t reads source piece j           rows: pieces written, columns: source
    decoder_self  (L, NH, S, S)  step t reads the piece fed at step j <= t    rows: pieces written, columns: fed
    encoder_self  (L, NH, T, T)  source piece i reads source piece j          rows and columns: source

The mean over heads (the main heatmap's cross map) hides what single heads do: one head may carry the
year of a date while another looks at the piece just written. Cells a mask forbade (the decoder's future,
scores of -inf) are grey, as in the main heatmap.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..translator import ATTENTION_KINDS, Translation
from .figure import Figure, make_figure, message
from .parts import map_layout
from .pieces import display_piece
from .style import MASKED_SCALE, WEIGHT_TITLE, colorbar, stops, style_for

KIND_NAMES = {"cross": "cross-attention (output → source)",
              "decoder_self": "decoder self-attention (output → what was fed)",
              "encoder_self": "encoder self-attention (source → source)"}
NO_HEADS = "This model has one attention per layer and no heads: the All layers tab shows each layer."
PANEL_GAP = 0.03  # between the heads' panels, a share of the figure's width
LAYER_GAP = 0.1  # between the layers' rows, a share of its height: room for the panels' names
PANEL_PX = 150  # each layer's row of panels (PANEL_PX + the presenter's larger font in presenter mode)


def one_head(r: Translation, head: int = 0) -> Translation:
    """r's cross-attention as head `head` alone computed it, in the fields one step's arithmetic reads: queries
    (L, S, dh), its keys in head_keys (L, 1, T, dh), its values in encoder_states (L, T, dh), its weights and
    scores in attention and scores, its part of each context. r itself for a model without heads."""
    if r.head_queries is None:
        return r
    heads = r.head_queries.shape[1]
    if isinstance(head, bool) or not isinstance(head, int | np.integer) or not 0 <= head < heads:
        raise ValueError(f"head must be a whole number from 0 to {heads - 1}; got {head!r}")
    dh = r.head_queries.shape[-1]
    return replace(r, attention=r.heads["cross"][:, head], scores=r.head_scores["cross"][:, head],
                   queries=r.head_queries[:, head], encoder_states=r.head_values[:, head],
                   contexts=r.contexts[:, :, head * dh:(head + 1) * dh], head_keys=r.head_keys[:, head:head + 1],
                   head_queries=None, head_values=None, score_function="scaled_dot")


def attention_of(r: Translation, kind: str = "cross", head: int | None = None) -> Translation:
    """r with `kind`'s weights, of head `head` (None: the mean over heads), where every map reads its weights
    (attention and scores, (L, rows, cols)), and with the pieces that kind reads as its columns: so that the
    main heatmap, its hover, its grey masked cells and its step-through draw any kind and any head.

    Cross-attention of one head is `one_head` (its arithmetic included). Decoder self-attention keeps the
    output steps as rows and takes the pieces fed as columns; encoder self-attention has the source pieces
    both ways, no output rows, no forcing and no reference (its rows are not decoding steps). r itself for a
    model without heads, or cross-attention's mean (what `attention` already holds).
    """
    if not r.heads or (kind == "cross" and head is None):
        return r
    check_kind(r, kind)
    count = r.heads[kind].shape[1]
    if head is not None and (isinstance(head, bool) or not isinstance(head, int | np.integer)
                             or not 0 <= head < count):
        raise ValueError(f"head must be a whole number from 0 to {count - 1}; got {head!r}")
    if kind == "cross":
        return one_head(r, head)
    weights, scores = r.heads[kind], r.head_scores[kind]  # (L, NH, rows, cols) each
    weights, scores = (weights.mean(1), scores.mean(1)) if head is None else (weights[:, head], scores[:, head])
    if kind == "decoder_self":
        return replace(r, attention=weights, scores=scores, source_pieces=list(r.decoder_inputs))
    source = list(r.source_pieces)
    return replace(r, attention=weights, scores=scores, output_pieces=source, decoder_inputs=source,
                   reference_pieces=None, forced=np.zeros(len(source), dtype=bool), teacher_forcing=0.0)


def kind_axes(r: Translation, kind: str) -> tuple[list[str], list[str]]:
    """(column labels, row labels) of a map of `kind`: see the module's table."""
    source = [display_piece(p) for p in r.source_pieces]
    written = [display_piece(p) for p in r.output_pieces]
    if kind == "cross":
        return source, written
    if kind == "decoder_self":
        return [display_piece(p) for p in r.decoder_inputs], written
    return source, source


def check_kind(r: Translation, kind: str) -> None:
    if kind not in ATTENTION_KINDS:
        raise ValueError(f"kind must be one of {', '.join(ATTENTION_KINDS)}; got {kind!r}")
    if kind not in r.heads:
        raise ValueError(f"This run recorded no {KIND_NAMES[kind]}.")


def heads_grid(r: Translation, kind: str = "cross", *, presenter: bool = False) -> Figure:
    """A grid of small maps, a row per layer and a column per head, of `kind`'s weights on one colour scale."""
    if not r.heads:
        return message(NO_HEADS, presenter)
    check_kind(r, kind)
    weights = r.heads[kind]  # (L, NH, rows, cols)
    layers, heads = weights.shape[:2]
    scores = r.head_scores.get(kind)
    style = style_for(presenter)
    columns, rows = kind_axes(r, kind)
    width, height = (1 - PANEL_GAP * (heads - 1)) / heads, (1 - LAYER_GAP * (layers - 1)) / layers
    title = f"{KIND_NAMES[kind]} · {layers} layers × {heads} heads"
    layout = map_layout(style, 0, title, [])
    layout["height"] = 80 + (style.font + 12) + layers * (PANEL_PX + 2 * style.font)
    data = []
    for layer in range(layers):
        for head in range(heads):
            n = layer * heads + head + 1
            x, y = ("x", "y") if n == 1 else (f"x{n}", f"y{n}")
            cells = dict(x=list(range(len(columns))), y=list(range(len(rows))), xaxis=x, yaxis=y, xgap=0, ygap=0)
            data.append(dict(type="heatmap", z=weights[layer, head].astype(np.float32), coloraxis="coloraxis",
                             name=f"{layer},{head}",  # what a click on the panel names (the page enlarges it)
                             hovertemplate=f"layer {layer} · head {head}<br>row %{{y}} → column %{{x}}: "
                                           "%{z:.3f}<extra></extra>", **cells))
            if scores is not None and np.isneginf(scores[layer, head]).any():
                grey = np.where(np.isneginf(scores[layer, head]), np.float32(1), np.float32(np.nan))
                data.append(dict(type="heatmap", z=grey, colorscale=stops(MASKED_SCALE), showscale=False,
                                 hoverinfo="skip", **cells))
            left, top = head * (width + PANEL_GAP), 1 - layer * (height + LAYER_GAP)
            common = dict(showgrid=False, zeroline=False, tickfont=dict(size=style.tick - 2))
            layout["xaxis" if n == 1 else f"xaxis{n}"] = dict(
                common, anchor=y, domain=[round(left, 6), round(min(left + width, 1.0), 6)], showticklabels=False,
                title=dict(text=f"L{layer} · H{head}", font=dict(size=style.tick), standoff=2), side="top")
            layout["yaxis" if n == 1 else f"yaxis{n}"] = dict(
                common, anchor=x, domain=[round(max(top - height, 0.0), 6), round(top, 6)], autorange="reversed",
                showticklabels=False)
    layout["coloraxis"] = dict(cmin=0, cmax=1, colorscale=stops(style.colorscale),
                               colorbar=colorbar(style, WEIGHT_TITLE))
    return make_figure(data, layout)
