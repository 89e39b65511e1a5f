"""The parts a map of weights is made of, shared by `heatmap`, `layer_grid` and `difference`: the weights
trace and its hover, the axes, the layout, the row labels and their marks, the notes under the map, the
line after the model's own end, and the titles.

Axes are positional (x = 0..T-1 source pieces, y = 0..S-1 output steps) with the pieces as tick text: on
a category axis plotly would merge repeated pieces (the two "0"s of "2021-03-03").

Shapes: L layers, S output steps, T source pieces.
"""

from __future__ import annotations

import html

import numpy as np

from ..translator import Translation
from .pieces import display_piece
from .style import (
    AFTER_END_COLOR,
    AFTER_END_MARK,
    END_LINE_COLOR,
    FORCED_MARK,
    LABELS,
    MASKED_COLOR,
    MASKED_SCALE,
    MISMATCH_COLOR,
    MISMATCH_MARK,
    ROW_SCALED_TITLE,
    TEMPLATE,
    WEIGHT_TITLE,
    Style,
    colorbar,
    stops,
)
from .weights import layer_scores, layer_weights, masked_cells

# cells a figure's hover describes in full (pieces and scores in each cell's data): every bundled checkpoint's
# maps, all layers at once; a larger map (a Hub checkpoint's 256 x 256 pieces) gives each cell's place
# and weight only, so what is sent follows what the page can show rather than growing with every cell
MAX_HOVER_CELLS = 16_384

# --- rows and hover -----------------------------------------------------------------------------------


def row_labels(r: Translation, rows_by_fed: bool = False) -> list[str]:
    """Output pieces for the y axis, with the marks of `marks_key`; with rows_by_fed, "fed → written".

    Forced steps get a grey ▸, steps that miss the reference a red ✗, and the steps decoded after the
    model's own </s> (teacher forcing runs on to the reference's length) a grey "(after ⟨eos⟩)". A row
    fed something other than what the row above wrote (the reference after a miss, a piece fed by hand)
    says "fed → written" whatever rows_by_fed is: otherwise the piece fed there would be on no label.
    """
    labels = []
    reference = r.reference_pieces or []
    end = r.end
    for t, piece in enumerate(r.output_pieces):
        label = display_piece(piece)
        fed_other = 0 < t < len(r.decoder_inputs) and r.decoder_inputs[t] != r.output_pieces[t - 1]
        if rows_by_fed or fed_other:
            label = f"{display_piece(r.decoder_inputs[t])} → {label}"
        mismatch = t < len(reference) and piece != reference[t]
        if mismatch:
            label = f'<span style="color:{MISMATCH_COLOR}"><b>{label} {MISMATCH_MARK}</b></span>'
        if t >= end:  # spans are not nested: plotly's label markup is a small subset of HTML
            after = f'<span style="color:{AFTER_END_COLOR}">{{}}{AFTER_END_MARK}</span>'
            label = f"{label} {after.format('')}" if mismatch else after.format(label + " ")
        if t < len(r.forced) and r.forced[t]:
            label = f'<span style="color:#888">{FORCED_MARK}</span> {label}'
        labels.append(label)
    return labels


def _hover_cells(r: Translation, layer: int | str, shown: int, weights: np.ndarray | None) -> list:
    """customdata (S, T, 3 or 4): source piece, output piece, the score(s) as text, and
    with `weights` (S, T) the true weight as text (when the colours are scaled, z is not the weight).

    Rows from `shown` on are not on screen yet (and have no hover): they are left empty, which
    keeps each frame of the animation small.
    """
    scores = layer_scores(r, layer)[:, :shown]  # (k, shown, T)
    sources = [display_piece(p) for p in r.source_pieces]
    texts = _score_texts(scores)  # (shown, T) of str
    rows = []
    for t, out in enumerate(map(display_piece, r.output_pieces[:shown])):
        if weights is None:
            rows.append([[src, out, text] for src, text in zip(sources, texts[t])])
        else:
            rows.append([[src, out, text, f"{w:.3f}"] for src, text, w in zip(sources, texts[t], weights[t].tolist())])
    return rows + [[] for _ in range(len(r.output_pieces) - shown)]


def _score_texts(scores: np.ndarray) -> list[list[str]]:
    """(k, S, T) logits -> (S, T) texts: "1.23" for one layer, "1.23, -0.5" for all; masked cells say so.

    Every request's heatmap writes one text per cell, so the cells are formatted in one pass over a flat list."""
    layers, steps, width = scores.shape
    cell = ", ".join(["{:.3g}"] * layers).format  # one cell's scores, layer by layer
    texts = [cell(*values) for values in scores.transpose(1, 2, 0).reshape(steps * width, layers).tolist()]
    for i in np.flatnonzero(np.isneginf(scores).any(0)).tolist():  # masking does not depend on the layer
        texts[i] = "masked (−∞)"
    return [texts[t * width:(t + 1) * width] for t in range(steps)]


def hover_in_full(r: Translation, panels: int = 1) -> bool:
    """Whether a figure of `panels` maps of r names the pieces and scores in every cell's hover (MAX_HOVER_CELLS)."""
    return len(r.output_pieces) * len(r.source_pieces) * panels <= MAX_HOVER_CELLS


def _hovertemplate(r: Translation, layer: int | str, row_scale: bool, full: bool = True) -> str:
    score = "scores, layer by layer" if layer == "mean" else "score"
    name = f"mean weight of {r.attention_layers} layers" if layer == "mean" else f"weight (layer {layer})"
    if not full:  # a large map: its cells are a few pixels; the axes name the pieces
        weight = "%{z:.3f} (÷ row max)" if row_scale else "%{z:.3f}"
        return f"source piece %{{x}} · step %{{y}}<br>{name}: {weight}<extra></extra>"
    weight = "%{customdata[3]} (colour: ÷ row max)" if row_scale else "%{z:.3f}"
    return (
        "source: %{customdata[0]}<br>output: %{customdata[1]}<br>"
        f"{name}: {weight}<br>{score}: %{{customdata[2]}}<extra></extra>"
    )


# --- traces -------------------------------------------------------------------------------------------


def _row_scaled(weights: np.ndarray) -> np.ndarray:
    """Each row divided by its largest weight, so the row's peak is 1 (rows of a softmax have one > 0)."""
    peak = weights.max(1, keepdims=True)  # (S, 1)
    return weights / np.where(peak > 0, peak, 1)


def attention_traces(r: Translation, layer: int | str, step: int | None, style: Style, row_scale: bool,
                     panels: int = 1, **colour) -> list[dict]:
    """The weights heatmap and, under a causal mask, a grey overlay on the forbidden cells.

    panels: the maps of r in the figure; beyond MAX_HOVER_CELLS cells in all, the hover gives the cell's
    place and weight, not its pieces and scores, so that the figure's size follows what the page can show."""
    weights = layer_weights(r, layer)  # (S, T)
    z = _row_scaled(weights) if row_scale else weights.copy()
    masked = np.where(masked_cells(r), np.float32(1), np.float32(np.nan))  # (S, T) 1 where forbidden
    shown = len(z) if step is None else step + 1
    z[shown:] = np.nan  # the animation: rows after `step` are not decoded yet
    masked[shown:] = np.nan
    cells = dict(x=list(range(z.shape[1])), y=list(range(z.shape[0])), xgap=style.gap, ygap=style.gap)
    full = hover_in_full(r, panels)
    hover = dict(customdata=_hover_cells(r, layer, shown, weights if row_scale else None)) if full else {}
    traces = [dict(type="heatmap", z=z, **hover, hovertemplate=_hovertemplate(r, layer, row_scale, full),
                   hoverongaps=False, **cells, **colour)]
    if not np.isnan(masked).all():
        traces.append(dict(type="heatmap", z=masked, colorscale=stops(MASKED_SCALE), showscale=False,
                           hoverinfo="skip", **cells))
    return traces


def colour(style: Style, row_scale: bool, zmax: float = 1.0) -> dict:
    """A weights trace's colour: 0..zmax (0..1 when rows are scaled), the style's scale and a titled bar."""
    return dict(zmin=0, zmax=1 if row_scale else zmax, colorscale=stops(style.colorscale),
                colorbar=colorbar(style, ROW_SCALED_TITLE if row_scale else WEIGHT_TITLE))


# --- axes, layout, notes ------------------------------------------------------------------------------


def axes(source_labels: list[str], row_texts: list[str], style: Style) -> tuple[dict, dict]:
    """x: source pieces along the top; y: output steps downwards, first step at the top."""
    common = dict(tickmode="array", showgrid=False, zeroline=False, tickfont=dict(size=style.tick), **LABELS)
    x = dict(common, tickvals=list(range(len(source_labels))), ticktext=source_labels, side="top")
    y = dict(common, tickvals=list(range(len(row_texts))), ticktext=row_texts, autorange="reversed")
    return x, y


def map_layout(style: Style, rows: int, title: str, notes: list[str]) -> dict:
    """No template; fits the width, grows with the rows (and a line for the title and each note).

    The title (plain text, escaped here) sits above the source pieces (automargin keeps it clear of
    them), so a PNG saved from the modebar says what it shows.
    """
    notes_px = len(notes) * (style.font + 8)  # one line per note under the heatmap
    title_px = style.font + 12 if title else 0
    result = dict(
        template=TEMPLATE,
        autosize=True,
        height=min(style.max_height, 100 + title_px + style.row_px * rows + notes_px),
        margin=dict(l=10, r=10, t=30 + title_px, b=10 + notes_px),  # the title above the source pieces
        font=dict(size=style.font),
        hoverlabel=dict(font=dict(size=style.tick + 2)),
    )
    if title:
        result["title"] = dict(text=html.escape(title, quote=False), font=dict(size=style.font + 1), x=0.5,
                               xanchor="center", yref="container", y=1, yanchor="top", pad=dict(t=4),
                               automargin=True)
    if notes:
        result["annotations"] = [dict(text="<br>".join(notes), xref="paper", yref="paper", x=0, y=0, yanchor="top",
                                      yshift=-6, xanchor="left", align="left", showarrow=False)]
    return result


def marks_key(r: Translation) -> list[str]:
    """The key to the marks that this figure shows."""
    lines = []
    if masked_cells(r).any():
        lines.append(f'<span style="color:{MASKED_COLOR}">■</span> masked: forbidden by the causal mask')
    if r.forced.any():
        lines.append(f"{FORCED_MARK} fed the reference (teacher forcing)" if r.reference is not None else
                     f"{FORCED_MARK} fed as given: the pieces kept up to the change, and the changed one")
    if r.reference_pieces:
        lines.append(f'<span style="color:{MISMATCH_COLOR}">{MISMATCH_MARK}</span> prediction ≠ reference')
    if r.end < len(r.output_pieces):
        lines.append(f'<span style="color:{AFTER_END_COLOR}">{AFTER_END_MARK}</span> below the dotted line: '
                     "decoded after the model's own ⟨eos⟩, because teacher forcing runs to the reference's end")
    return lines


def end_line(r: Translation, shown: int, style: Style, on: tuple[str, str] = ("x", "y")) -> list[dict]:
    """A dotted line above the first step after the model's own </s>, once that step is on screen."""
    if not r.end < min(shown, len(r.output_pieces)):
        return []
    y = r.end - 0.5
    return [dict(type="line", xref=on[0], yref=on[1], x0=-0.5, x1=len(r.source_pieces) - 0.5, y0=y, y1=y,
                 line=dict(color=END_LINE_COLOR, width=style.end_line, dash="dot"))]


# --- titles -------------------------------------------------------------------------------------------


def settings_text(r: Translation) -> str:
    """"bidirectional · teacher forcing 0.5": the run's settings that change the map."""
    parts = [r.mask]
    if r.beam_size > 1:
        parts.append(f"beam search ({r.beam_size})")
    parts.append(f"teacher forcing {r.teacher_forcing:g}" if r.teacher_forcing else "no teacher forcing")
    return " · ".join(parts)


def layer_text(r: Translation, layer: int | str) -> str:
    if layer != "mean":
        return f"layer {layer}"
    return f"mean of {r.attention_layers} layers" if r.attention_layers > 1 else "the only layer"


def titled(r: Translation, middle: str) -> str:
    """The run's settings with `middle` after the mask: "causal · <middle> · no teacher forcing"."""
    mask, *rest = settings_text(r).split(" · ")
    return " · ".join([mask, middle, *rest])


def default_title(r: Translation, layer: int | str = "mean") -> str:
    """What a heatmap shows, from what the result knows: "bidirectional · layer 0 · teacher forcing 0.5".

    The checkpoint's name is not part of a Translation: callers who know it pass `title=` instead.
    """
    return titled(r, layer_text(r, layer))
