"""Time the heatmap: the old figure built object by object vs today's `viz.heatmap`, side by side.

    python -m bench.viz                       # the bundled `dates` checkpoint, 200 repeats
    python -m bench.viz --checkpoint dates-causal --repeats 500

The heatmap is rebuilt on every keystroke and every step of the animation, so its cost is paid per
request, next to the model's few milliseconds. The baseline below, `old_heatmap`, is a faithful copy
of the heatmap as it was built before the figures became plain dicts (go.Heatmap, update_layout and
add_shape, each validated by plotly): kept here, unchanged, so that the comparison can be rerun.
Each build is timed alone, then with `to_json()` as gr.Plot calls it (what a request really pays),
and the JSON's size is printed too. Medians, since the first calls and the garbage collector make
the mean noisy.
"""

from __future__ import annotations

import argparse
import functools
import html
import math
import numbers
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from s2s import load, viz
from s2s.errors import S2SError
from s2s.translator import Translation
from s2s.viz import NO_ATTENTION, display_piece

TEXT = "the 21st of June, 1999"

# --- the baseline: the heatmap as it was built before, object by object (a faithful copy) ---------------

MASKED_COLOR = "#bdbdbd"  # masked cells: a grey no colour scale here uses
OUTLINE_COLOR = "#e7298a"  # the current step's outline: magenta stands out on blue and on yellow
MISMATCH_COLOR = "#c62828"
FORCED_MARK, MISMATCH_MARK = "▸", "✗"


@dataclass(frozen=True)
class Style:
    font: int  # px, titles and captions
    tick: int  # px, axis tick labels
    row_px: int  # figure height per output step
    outline: float  # width of the current step's outline
    gap: int  # px between cells
    colorscale: str  # weights 0..1: sequential, dark = more attention
    max_height: int


PLAIN = Style(font=13, tick=12, row_px=22, outline=2.5, gap=1, colorscale="Blues", max_height=760)
PRESENTER = Style(font=22, tick=20, row_px=36, outline=5, gap=2, colorscale="Cividis", max_height=1000)


def _style(presenter: bool) -> Style:
    return PRESENTER if presenter else PLAIN


def _check_layer(r: Translation, layer: int | str) -> int | str:
    if r.attention_layers == 0:
        raise ValueError(NO_ATTENTION)
    if layer == "mean":
        return layer
    if isinstance(layer, bool) or not isinstance(layer, int | np.integer) or not 0 <= layer < r.attention_layers:
        raise ValueError(f"layer must be 'mean' or a whole number from 0 to {r.attention_layers - 1}; got {layer!r}")
    return int(layer)


def _clamp_step(step: float, steps: int) -> int:
    """Steps outside 0..S-1 are clamped: a slider may still hold a step of a longer, earlier output."""
    if isinstance(step, bool) or not isinstance(step, numbers.Real) or not math.isfinite(step):
        raise ValueError(f"step must be a whole number; got {step!r}")
    return min(max(int(step), 0), steps - 1)


def _weights(r: Translation, layer: int | str) -> np.ndarray:
    """(S, T) float32, a copy (callers blank rows of it): one layer's weights, or the mean over layers."""
    weights = r.attention.mean(0) if layer == "mean" else r.attention[layer]
    return weights.astype(np.float32)


def _layer_scores(r: Translation, layer: int | str) -> np.ndarray:
    """(k, S, T): the scores behind a figure, one layer or all of them (for the mean)."""
    return r.scores if layer == "mean" else r.scores[layer : layer + 1]


# --- heatmap pieces ---------------------------------------------------------------------------------


def _row_labels(r: Translation) -> list[str]:
    """Output pieces for the y axis; forced steps get a grey ▸, steps that miss the reference a red ✗."""
    labels = []
    reference = r.reference_pieces or []
    for t, piece in enumerate(r.output_pieces):
        label = display_piece(piece)
        if t < len(reference) and piece != reference[t]:
            label = f'<span style="color:{MISMATCH_COLOR}"><b>{label} {MISMATCH_MARK}</b></span>'
        if t < len(r.forced) and r.forced[t]:
            label = f'<span style="color:#888">{FORCED_MARK}</span> {label}'
        labels.append(label)
    return labels


def _hover_cells(r: Translation, layer: int | str, shown: int) -> list[list[list[str]]]:
    """customdata (S, T, 3): source piece, output piece, the pre-softmax score(s) as text.

    Rows from `shown` on are not on screen yet (and have no hover): they are left empty, which
    keeps each frame of the animation small.
    """
    scores = _layer_scores(r, layer)  # (k, S, T)
    sources = [display_piece(p) for p in r.source_pieces]
    outputs = [display_piece(p) for p in r.output_pieces]
    return [
        [[src, out, _score_text(scores[:, t, j])] for j, src in enumerate(sources)] if t < shown else []
        for t, out in enumerate(outputs)
    ]


def _score_text(values: np.ndarray) -> str:
    if np.isneginf(values).any():  # masking does not depend on the layer
        return "masked (−∞)"
    return ", ".join(f"{v:.3g}" for v in values)


def _hovertemplate(r: Translation, layer: int | str) -> str:
    if layer == "mean":
        weight, score = f"mean weight of {r.attention_layers} layers", "scores, layer by layer"
    else:
        weight, score = f"weight (layer {layer})", "score"
    return (
        "source: %{customdata[0]}<br>output: %{customdata[1]}<br>"
        f"{weight}: %{{z:.3f}}<br>{score}: %{{customdata[2]}}<extra></extra>"
    )


def _masked(r: Translation) -> np.ndarray:
    """(S, T) bool: cells the mask forbade (their score is -inf in every layer)."""
    return np.isneginf(r.scores).any(0)


def _attention_traces(r: Translation, layer: int | str, step: int | None, style: Style, **colour) -> list:
    """The weights heatmap and, under a causal mask, a grey overlay on the forbidden cells."""
    z = _weights(r, layer)  # (S, T)
    masked = _masked(r).astype(np.float32)  # (S, T) 1 where forbidden
    masked[masked == 0] = np.nan
    shown = len(z) if step is None else step + 1
    z[shown:] = np.nan  # the animation: rows after `step` are not decoded yet
    masked[shown:] = np.nan
    cells = dict(x=np.arange(z.shape[1]), y=np.arange(z.shape[0]), xgap=style.gap, ygap=style.gap)
    traces = [go.Heatmap(z=z, customdata=_hover_cells(r, layer, shown), hovertemplate=_hovertemplate(r, layer),
                         hoverongaps=False, **cells, **colour)]
    if not np.isnan(masked).all():
        traces.append(go.Heatmap(z=masked, colorscale=[[0, MASKED_COLOR], [1, MASKED_COLOR]], showscale=False,
                                 hoverinfo="skip", **cells))
    return traces


def _colour(style: Style) -> dict:
    return dict(zmin=0, zmax=1, colorscale=style.colorscale,
                colorbar=dict(title=dict(text="weight"), thickness=14, tickfont=dict(size=style.tick)))


def _axes(source_labels: list[str], row_labels: list[str], style: Style) -> tuple[dict, dict]:
    """x: source pieces along the top; y: output steps downwards, first step at the top."""
    common = dict(tickmode="array", showgrid=False, zeroline=False, automargin=True, tickfont=dict(size=style.tick))
    x = dict(common, tickvals=list(range(len(source_labels))), ticktext=source_labels, side="top")
    y = dict(common, tickvals=list(range(len(row_labels))), ticktext=row_labels, autorange="reversed")
    return x, y


def _layout(style: Style, rows: int, title: str | None, notes: list[str]) -> dict:
    """No template (its ~6 kB would travel with every figure); fits the width, grows with the rows."""
    notes_px = len(notes) * (style.font + 8)  # one line per note under the heatmap
    layout = dict(
        template="none",
        autosize=True,
        height=min(style.max_height, 140 + style.row_px * rows + notes_px),
        margin=dict(l=10, r=10, t=30, b=10 + notes_px),
        font=dict(size=style.font),
        hoverlabel=dict(font=dict(size=style.tick + 2)),
    )
    if title:  # above the source pieces: automargin keeps it clear of them
        layout["title"] = dict(text=html.escape(title, quote=False), x=0.5, xanchor="center", yref="paper", y=1,
                               yanchor="bottom", automargin=True)
    if notes:
        layout["annotations"] = [dict(text="<br>".join(notes), xref="paper", yref="paper", x=0, y=0, yanchor="top",
                                      yshift=-6, xanchor="left", align="left", showarrow=False)]
    return layout


def _notes(r: Translation) -> list[str]:
    """The key to the marks that this figure shows."""
    notes = []
    if _masked(r).any():
        notes.append(f'<span style="color:{MASKED_COLOR}">■</span> masked: forbidden by the causal mask')
    if r.forced.any():
        notes.append(f"{FORCED_MARK} fed the reference (teacher forcing)")
    if r.reference_pieces:
        notes.append(f'<span style="color:{MISMATCH_COLOR}">{MISMATCH_MARK}</span> prediction ≠ reference')
    return notes



def old_heatmap(
    r: Translation,
    layer: int | str = "mean",
    step: int | None = None,
    *,
    presenter: bool = False,
    title: str | None = None,
) -> go.Figure:
    """Attention weights: source pieces across, output steps down, colour fixed to 0..1.

    layer: 0-based layer or "mean" (mean over layers). step: show rows 0..step only, outlining
    `step` (the app's play control calls this once per step); clamped to 0..S-1. Grey cells were
    forbidden by a causal mask; ▸ marks steps fed the reference, a red ✗ a prediction that is not
    the reference. `title` is plain text (escaped). A model without attention gives a message.
    """
    layer = _check_layer(r, layer)
    steps = len(r.output_pieces)
    if step is not None:
        step = _clamp_step(step, steps)
    style = _style(presenter)
    xaxis, yaxis = _axes([display_piece(p) for p in r.source_pieces], _row_labels(r), style)
    notes = _notes(r)
    fig = go.Figure(_attention_traces(r, layer, step, style, **_colour(style)))
    fig.update_layout(xaxis=xaxis, yaxis=yaxis, **_layout(style, steps, title, notes))
    if step is not None:
        width = len(r.source_pieces)
        fig.add_shape(type="rect", x0=-0.5, x1=width - 0.5, y0=step - 0.5, y1=step + 0.5,
                      line=dict(color=OUTLINE_COLOR, width=style.outline))
    return fig


# --- the bench ------------------------------------------------------------------------------------------


def median_ms(build: Callable[[], object], repeats: int) -> float:
    """Median wall time of one call in milliseconds, after two warm-up calls."""
    build(), build()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        build()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.viz", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default="dates", help="a bundled name, a folder or a Hub repo")
    parser.add_argument("--text", default=TEXT)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args(argv)
    try:
        r = load(args.checkpoint, device="cpu").translate(args.text)
    except (ValueError, S2SError) as error:
        parser.exit(2, f"error: {error}\n")
    print(f"{args.checkpoint}: {args.text!r} -> {r.text!r}: {len(r.output_pieces)} steps x "
          f"{len(r.source_pieces)} source pieces, {r.attention_layers} layers; median of {args.repeats}")
    cases = {"heatmap(r)": {}, "heatmap(r, step=3)": dict(step=3), "heatmap(r, layer=0)": dict(layer=0)}
    print(f"{'':24}{'old ms':>9}{'new ms':>9}{'ratio':>8}   {'+to_json old':>13}{'new':>7}{'ratio':>8}"
          f"   {'JSON bytes old':>15}{'new':>7}")
    for name, kwargs in cases.items():
        old, new = functools.partial(old_heatmap, r, **kwargs), functools.partial(viz.heatmap, r, **kwargs)
        build_old, build_new = median_ms(old, args.repeats), median_ms(new, args.repeats)
        json_old = median_ms(lambda build=old: build().to_json(), args.repeats)
        json_new = median_ms(lambda build=new: build().to_json(), args.repeats)
        size_old, size_new = len(old().to_json().encode()), len(new().to_json().encode())
        print(f"{name:24}{build_old:9.2f}{build_new:9.2f}{build_old / build_new:7.1f}x   "
              f"{json_old:13.2f}{json_new:7.2f}{json_old / json_new:7.1f}x   {size_old:15,}{size_new:7,}")
    grid_ms = median_ms(lambda: viz.layer_grid(r), args.repeats)
    print(f"layer_grid(r) {grid_ms:.2f} ms now; difference(r, r) "
          f"{median_ms(lambda: viz.difference(r, r), args.repeats):.2f} ms now")


if __name__ == "__main__":
    main()
