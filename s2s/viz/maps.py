"""The maps of weights: `heatmap` (one layer or their mean, step by step), `layer_grid` (every layer side
by side) and `difference` (two runs, cell by cell), with `shared_zmax` for maps shown side by side.

Each reads a Translation and runs no model, so the app can redraw (a new layer, the next step of the
animation) without translating again. Their parts are in `parts`.

Shapes: L layers, S output steps, T source pieces.
"""

from __future__ import annotations

import html

import numpy as np

from ..translator import Translation
from .figure import Figure, make_figure, message
from .parts import (
    attention_traces,
    axes,
    colour,
    default_title,
    end_line,
    layer_text,
    map_layout,
    marks_key,
    row_labels,
    settings_text,
    titled,
)
from .pieces import display_piece
from .style import DIFFERENCE_SCALE, OUTLINE_COLOR, colorbar, stops, style_for
from .tables import steps_table
from .weights import NO_ATTENTION, check_layer, clamp_step, layer_weights

GRID_SPACING = 0.02  # the gap between layer_grid's panels, a share of the width
NO_STEP = "(ended)"  # a row label of the run that had already ended at that step (a dash could be a piece)


def heatmap(
    r: Translation,
    layer: int | str = "mean",
    step: int | None = None,
    *,
    presenter: bool = False,
    title: str | None = None,
    row_scale: bool = False,
    rows_by_fed: bool = False,
    zmax: float = 1.0,
) -> Figure:
    """Attention weights: source pieces across, output steps down, colour 0..zmax (1 unless told: `shared_zmax`).

    layer: 0-based layer or "mean" (mean over layers). step: show rows 0..step only, outlining
    `step` (the app's play control calls this once per step); clamped to 0..S-1. Grey cells were
    forbidden by a causal mask; ▸ marks steps fed the reference, a red ✗ a prediction that is not
    the reference, and a dotted line with greyed labels the steps after the model's own </s>.
    `title` is plain text (escaped); None composes one (`default_title`), "" leaves it out.
    row_scale: colour each row by weight ÷ the row's largest weight, so that a flat row still shows
    where it peaks (the colour bar says so; the hover keeps the true weight). rows_by_fed: label
    each row "fed piece → written piece", so rows fed the same piece can be told apart at a glance.
    A model without attention has no weights: it gives `steps_table` instead.
    """
    if r.attention_layers == 0:
        return steps_table(r, step, presenter=presenter)
    layer = check_layer(r, layer)
    steps = len(r.output_pieces)
    if step is not None:
        step = clamp_step(step, steps)
    shown = steps if step is None else step + 1
    style = style_for(presenter)
    xaxis, yaxis = axes([display_piece(p) for p in r.source_pieces], row_labels(r, rows_by_fed), style)
    title = default_title(r, layer) if title is None else title
    layout = dict(xaxis=xaxis, yaxis=yaxis, **map_layout(style, steps, title, marks_key(r)))
    shapes = end_line(r, shown, style)
    if step is not None:
        width = len(r.source_pieces)
        shapes.append(dict(type="rect", x0=-0.5, x1=width - 0.5, y0=step - 0.5, y1=step + 0.5,
                           line=dict(color=OUTLINE_COLOR, width=style.outline)))
    if shapes:
        layout["shapes"] = shapes
    return make_figure(attention_traces(r, layer, step, style, row_scale, **colour(style, row_scale, zmax)), layout)


def shared_zmax(*shown: tuple[Translation, int | str]) -> float:
    """The colour scale's top for maps shown side by side, each (result, layer): their largest weight, up to
    the next 0.05 (never below 0.05; 1 when none has attention).

    Weights spread over many pieces left both maps nearly white on a 0..1 scale; one scale for both keeps
    them comparable cell for cell.
    """
    peak = max((float(layer_weights(r, layer).max()) for r, layer in shown if r.attention_layers), default=1.0)
    return float(min(1.0, max(0.05, np.ceil(peak * 20 - 1e-6) / 20)))


def layer_grid(r: Translation, *, presenter: bool = False, title: str | None = None,
               row_scale: bool = False) -> Figure:
    """One heatmap per layer and their mean, side by side in one row, sharing one colour bar.

    Each panel is named by its x-axis title, above its source pieces: subplot titles would sit
    on top of those pieces. `title` and `row_scale` as in `heatmap` (by default "causal · 2 layers
    and their mean · no teacher forcing"; each row is scaled within its own panel).
    """
    if r.attention_layers == 0:
        return message(NO_ATTENTION, presenter)
    style = style_for(presenter)
    layers: list[int | str] = [*range(r.attention_layers), "mean"]
    xaxis, yaxis = axes([display_piece(p) for p in r.source_pieces], row_labels(r), style)
    panel = (1 - GRID_SPACING * (len(layers) - 1)) / len(layers)  # each panel's share of the width
    data, shapes = [], []
    title = titled(r, f"{r.attention_layers} layers and their mean") if title is None else title
    layout = map_layout(style, len(r.output_pieces), title, marks_key(r))
    for i, layer in enumerate(layers):
        x, y = ("x", "y") if i == 0 else (f"x{i + 1}", f"y{i + 1}")
        for trace in attention_traces(r, layer, None, style, row_scale, len(layers), coloraxis="coloraxis"):
            data.append(dict(trace, xaxis=x, yaxis=y))
        start = i * (panel + GRID_SPACING)
        name = "mean of layers" if layer == "mean" else f"layer {layer}"
        layout["xaxis" if i == 0 else f"xaxis{i + 1}"] = dict(
            xaxis, anchor=y, domain=[round(start, 6), round(min(start + panel, 1.0), 6)],
            title=dict(text=name, font=dict(size=style.font)))
        layout["yaxis" if i == 0 else f"yaxis{i + 1}"] = dict(
            yaxis, anchor=x, domain=[0.0, 1.0], showticklabels=i == 0, **({} if i == 0 else dict(matches="y")))
        shapes += end_line(r, len(r.output_pieces), style, (x, y))
    scale = colour(style, row_scale)
    layout["coloraxis"] = dict(cmin=0, cmax=1, colorscale=scale["colorscale"], colorbar=scale["colorbar"])
    if shapes:
        layout["shapes"] = shapes
    return make_figure(data, layout)


def difference(
    a: Translation,
    b: Translation,
    layer: int | str = "mean",
    *,
    labels: tuple[str, str] = ("A", "B"),
    presenter: bool = False,
    title: str | None = None,
) -> Figure:
    """Weights of a minus weights of b, on -1..1: red where a attends more, blue where b does.

    Both must read the same source pieces (ValueError otherwise). Outputs of different lengths
    are padded with blank rows; a row whose output pieces differ is labelled "a / b". `title` as in
    `heatmap`; by default "A − B · layer · settings", each run's settings when they differ.
    """
    if a.source_pieces != b.source_pieces:
        raise ValueError(
            "These two results read different source pieces, so their attention cannot be compared cell by cell "
            f"({len(a.source_pieces)} vs {len(b.source_pieces)} pieces): compare checkpoints with the same tokenizer."
        )
    if a.attention_layers == 0 or b.attention_layers == 0:
        return message("Nothing to compare: " + NO_ATTENTION, presenter)
    layer_a, layer_b = check_layer(a, layer), check_layer(b, layer)
    style = style_for(presenter)
    steps, width = max(len(a.output_pieces), len(b.output_pieces)), len(a.source_pieces)
    wa, wb = _padded(layer_weights(a, layer_a), steps), _padded(layer_weights(b, layer_b), steps)  # (S, T) each
    outs_a, outs_b = _padded_pieces(a.output_pieces, steps), _padded_pieces(b.output_pieces, steps)
    rows = [pa if pa == pb else f"{pa} / {pb}" for pa, pb in zip(outs_a, outs_b, strict=True)]
    name_a, name_b = (html.escape(str(label), quote=False) for label in labels)
    sources = [display_piece(p) for p in a.source_pieces]
    texts_a, texts_b = _weight_texts(wa), _weight_texts(wb)
    cells = [[[src, outs_a[t], outs_b[t], texts_a[t][j], texts_b[t][j]] for j, src in enumerate(sources)]
             for t in range(steps)]  # (S, T, 5)
    trace = dict(
        type="heatmap", z=wa - wb, x=list(range(width)), y=list(range(steps)), zmin=-1, zmax=1,
        colorscale=stops(DIFFERENCE_SCALE), xgap=style.gap, ygap=style.gap, hoverongaps=False, customdata=cells,
        meta=[name_a, name_b],  # the labels reach the hover through meta: never parsed as a template
        hovertemplate=("source: %{customdata[0]}<br>%{meta[0]}: %{customdata[1]} weight %{customdata[3]}<br>"
                       "%{meta[1]}: %{customdata[2]} weight %{customdata[4]}<br>"
                       "%{meta[0]} − %{meta[1]}: %{z:.3f}<extra></extra>"),
        colorbar=colorbar(style, f"{name_a} − {name_b}"),
    )
    if title is None:
        settings = settings_text(a), settings_text(b)
        both = settings[0] if settings[0] == settings[1] else f"{labels[0]}: {settings[0]}; {labels[1]}: {settings[1]}"
        title = f"{labels[0]} − {labels[1]} · {layer_text(a, layer_a)} · {both}"
    xaxis, yaxis = axes(sources, rows, style)
    return make_figure([trace], dict(xaxis=xaxis, yaxis=yaxis, **map_layout(style, steps, title, [])))


def _padded(weights: np.ndarray, steps: int) -> np.ndarray:
    """(S', T) -> (steps, T), missing rows NaN."""
    out = np.full((steps, weights.shape[1]), np.nan, dtype=np.float32)
    out[: len(weights)] = weights
    return out


def _padded_pieces(pieces: list[str], steps: int) -> list[str]:
    return [display_piece(p) for p in pieces] + [NO_STEP] * (steps - len(pieces))


def _weight_texts(weights: np.ndarray) -> list[list[str]]:
    """(S, T) -> texts "0.123", "–" where a padded row has no weight."""
    return [["–" if w != w else f"{w:.3f}" for w in row] for row in weights.tolist()]  # w != w: NaN
