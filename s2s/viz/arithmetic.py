"""One step's attention arithmetic, with this model's recorded numbers: `step_figure` draws it as small
grids, `step_math` writes it out as Markdown and checks it.

For layer l at step t (K = V: the keys and the values are both the encoder states of layer l, one row
per source piece, so the figure draws them once):
    logits   s = K q / √H          (T, H) @ (H,) -> (T,)      one per source piece (for scaled_dot)
    weights  w = softmax(s)        (T,)                       the heatmap's row t
    context  c = w V               (T,) @ (T, H) -> (H,)      row j of V scaled by w_j, rows added
q, V and c share one diverging scale (blue < 0 < red); the weights use the heatmap's; every number is in
its cell's hover. Beside them, the step's most probable next pieces.

Shapes: H hidden size, T source pieces.
"""

from __future__ import annotations

import math

import numpy as np

from ..translator import Translation
from .figure import Figure, make_figure, message
from .heads import one_head
from .pieces import display_piece, markdown_piece
from .style import DIFFERENCE_SCALE, LABELS, OUTLINE_COLOR, PLAIN, TEMPLATE, Scale, stops, style_for
from .weights import NO_ATTENTION, check_layer, clamp_step

VALUE_SCALE = DIFFERENCE_SCALE  # diverging, white at 0

# --- as a figure ----------------------------------------------------------------------------------------


def _grid(z: np.ndarray, x: str, y: str, hover: str, scale: Scale, zmid: float | None = 0.0, **extra) -> dict:
    trace = dict(type="heatmap", z=z.astype(np.float32), xaxis=x, yaxis=y, colorscale=stops(scale),
                 showscale=False, hovertemplate=hover + "<extra></extra>", xgap=1, ygap=1, **extra)
    if zmid is not None:
        trace["zmid"] = zmid
    return trace


def _label(text: str, x: float, y: float) -> dict:
    return dict(text=text, x=x, y=y, xref="paper", yref="paper", showarrow=False, xanchor="center",
                yanchor="bottom")


def step_figure(r: Translation, step: int, layer: int = 0, *, presenter: bool = False, head: int = 0) -> Figure:
    """The arithmetic of `step` in `layer` (clamped like heatmap's step), drawn as small grids; for a model with
    heads, of one head (`head`): its own query, keys and values."""
    if r.attention_layers == 0:
        return message(NO_ATTENTION, presenter)
    headed, r = r.head_queries is not None, one_head(r, head)
    layer = check_layer(r, layer)
    if layer == "mean":
        raise ValueError("step_figure draws one layer's arithmetic: pass a layer number, not 'mean'")
    step = clamp_step(step, len(r.output_pieces))
    style = style_for(presenter)
    q, c = r.queries[layer, step], r.contexts[layer, step]  # (H,), (H,)
    values = r.encoder_states[layer]  # (T, H)
    w = r.attention[layer, step]  # (T,)
    pieces = [display_piece(p) for p in r.source_pieces]
    limit = float(np.abs(np.concatenate([q, c, values.ravel()])).max()) or 1.0
    scale = dict(zmin=-limit, zmax=limit)
    data = [
        _grid(q[None], "x", "y", "q[%{x}] = %{z:.4f}", VALUE_SCALE, **scale),
        _grid(w[:, None], "x2", "y2", "%{customdata}: w = %{z:.4f}", style.colorscale, zmid=None, zmin=0, zmax=1,
              customdata=[[p] for p in pieces]),
        _grid(values, "x3", "y2", "%{customdata}: v[%{x}] = %{z:.4f}", VALUE_SCALE,
              customdata=[[p] * values.shape[1] for p in pieces], **scale),
        _grid(c[None], "x3", "y4", "c[%{x}] = %{z:.4f}", VALUE_SCALE, **scale),
    ]
    rows = len(pieces)
    height = min(400 if style is PLAIN else 600, (240 if style is PLAIN else 330) + (style.row_px * 2 // 3) * rows)
    # Bands from the top, as fractions of the plot's height, each grid with its label just above it: q; w
    # beside V (the source pieces label w's rows, left of it); c; the next-piece bars. The gaps hold a label.
    q_band, grid_band, c_band, bars_band = (0.90, 0.95), (0.45, 0.83), (0.32, 0.37), (0.0, 0.25)
    layout = dict(
        template=TEMPLATE, height=height, margin=dict(l=10, r=10, t=40, b=10), font=dict(size=style.font),
        showlegend=False,
        title=dict(text=f"step {step} · layer {layer}{f' · head {head}' if headed else ''} · fed "
                        f"{display_piece(r.decoder_inputs[step])} → wrote "
                        f"{display_piece(r.output_pieces[step])}", x=0.5, xanchor="center",
                   font=dict(size=style.font + 1)),
        xaxis=dict(domain=[0.22, 1.0], anchor="y", visible=False),
        yaxis=dict(domain=list(q_band), visible=False),
        xaxis2=dict(domain=[0.0, 0.18], anchor="y2", visible=False),
        yaxis2=dict(domain=list(grid_band), anchor="x2", tickmode="array", tickvals=list(range(rows)),
                    ticktext=pieces, autorange="reversed", tickfont=dict(size=style.tick), **LABELS),
        xaxis3=dict(domain=[0.22, 1.0], anchor="y2", visible=False),
        yaxis4=dict(domain=list(c_band), anchor="x3", visible=False),
        annotations=[_label("query q", 0.61, q_band[1]), _label("w", 0.09, grid_band[1]),
                     _label("values V, a row per piece" if headed else "keys = values V, a row per piece",
                            0.61, grid_band[1]),
                     _label("context c = w V", 0.61, c_band[1])],
    )
    if r.top_pieces is not None and r.top_probs is not None:
        top = [display_piece(p) for p in r.top_pieces[step]]
        data.append(dict(type="bar", orientation="h", x=[float(p) for p in r.top_probs[step]], y=top,
                         xaxis="x5", yaxis="y5", marker=dict(color=OUTLINE_COLOR),
                         hovertemplate="%{y}: p = %{x:.4f}<extra></extra>"))
        layout["xaxis5"] = dict(domain=[0.22, 1.0], anchor="y5", range=[0, 1], tickfont=dict(size=style.tick - 2),
                                **LABELS)
        layout["yaxis5"] = dict(domain=list(bars_band), anchor="x5", autorange="reversed", type="category",
                                tickfont=dict(size=style.tick), **LABELS)
        layout["annotations"].append(_label("the next piece, by p", 0.61, bars_band[1]))
    return make_figure(data, layout)


# --- as Markdown ------------------------------------------------------------------------------------------


def step_math(r: Translation, step: int, layer: int = 0, *, dims: int = 6, head: int = 0) -> str:
    """Markdown walking through one step of one layer with the recorded numbers.

    query q -> a score per source piece -> softmax weights -> context c = Σ_j w_j v_j, then a
    check that the weights sum to 1 and that w V recomputed here equals the recorded context.
    Vectors show their first `dims` components. step is clamped to 0..S-1, like `heatmap`'s. A model with heads
    shows head `head`: its own q, its keys K and values V (two projections of the encoder's output), √dh.
    """
    if r.attention_layers == 0:
        return f"**{NO_ATTENTION}** The decoder carries the encoder's final state from step to step instead."
    headed, r = r.head_queries is not None, one_head(r, head)
    if layer == "mean":
        raise ValueError("step_math explains one layer: pass a layer number, not 'mean'")
    layer = check_layer(r, layer)
    step = clamp_step(step, len(r.output_pieces))
    q = r.queries[layer, step]  # (H,)
    s, w = r.scores[layer, step], r.attention[layer, step]  # (T,), (T,)
    hidden, dims = len(q), max(1, min(dims, len(q)))
    fed = markdown_piece(r.decoder_inputs[step]) + (" (from the reference)" if r.forced[step] else "")
    parts = [
        f"### Step {step} of {len(r.output_pieces) - 1}, layer {layer}{f', head {head}' if headed else ''}: "
        f"fed {fed}, predicted "
        f"{markdown_piece(r.output_pieces[step])}",
        f"**1. Query** q ({hidden} numbers): {_vector(q, dims)}  \n{_query_note(r, step)}",
        f"**2. Scores**, one per source piece: {_score_rule(r, hidden)}",
        "**3. Weights** w = softmax(s): w_j = exp(s_j) / Σ_i exp(s_i), so they are positive and sum to 1"
        + ("; a masked score is −∞ and its weight exp(−∞) = 0." if np.isneginf(s).any() else "."),
        _table(r.source_pieces, s, w),
        ("**4. Context** c = Σ_j w_j v_j, the weighted sum of this head's values v_j (its keys k_j are another "
         "projection of the same encoder states): " if headed else
         "**4. Context** c = Σ_j w_j v_j, the weighted sum of the encoder states v_j (here v_j = k_j): ")
        + _vector(r.contexts[layer, step], dims),
        "Why a weighted sum is a matrix product: stack the T encoder states as the rows of V (T × H). Then "
        "w V, (1 × T) @ (T × H) → (1 × H), scales row j by w_j and adds the rows up: exactly Σ_j w_j v_j. "
        "The scores of all pieces at once are one product too, K q: (T × H) @ (H) → (T).",
        _checks(r, step, layer),
    ]
    return "\n\n".join(parts)


def _vector(v: np.ndarray, dims: int) -> str:
    shown = ", ".join(f"{x:.3f}" for x in v[:dims])
    return f"[{shown}{', …' if dims < len(v) else ''}]"


def _query_note(r: Translation, step: int) -> str:
    if r.head_keys is not None:
        return ("q is this head's projection of the decoder's state at this step (q = x W_Q), which has already "
                "attended to the pieces fed so far; the heatmap's map is the mean of the heads' weights.")
    if r.query == "input":
        return ("q is a projection of the embedding of the fed token alone: it depends on nothing else, so the "
                "same fed token always asks the same question (the seed's own query).")
    previous = "the encoder's final state" if step == 0 else "its hidden state after the previous step"
    return f"q is this decoder layer's state before the step ({previous})."


def _score_rule(r: Translation, hidden: int) -> str:
    return {
        "dot": "s_j = q · k_j, the dot product of the query with the encoder state of piece j.",
        "scaled_dot": f"s_j = q · k_j / √H = q · k_j / √{hidden}, the dot product scaled so that it does not grow "
        "with the hidden size.",
        "general": "s_j = qᵀ W k_j with a learned matrix W (Luong's general score). W is not part of the result, "
        "so the recorded scores are shown as they are.",
        "additive": "s_j = vᵀ tanh(W q + U k_j) with learned W, U and v (Bahdanau's additive score). They are not "
        "part of the result, so the recorded scores are shown as they are.",
    }[r.score_function]


def _table(sources: list[str], scores: np.ndarray, weights: np.ndarray) -> str:
    lines = ["| j | source piece | score s_j | weight w_j | |", "|---:|---|---:|---:|---|"]
    for j, (piece, score, weight) in enumerate(zip(sources, scores, weights, strict=True)):
        shown = "masked (−∞)" if np.isneginf(score) else f"{score:.4f}"
        lines.append(f"| {j} | {markdown_piece(piece)} | {shown} | {weight:.4f} | {'▇' * round(20 * float(weight))} |")
    return "\n".join(lines)


def _checks(r: Translation, step: int, layer: int) -> str:
    q, v = r.queries[layer, step].astype(np.float64), r.encoder_states[layer].astype(np.float64)  # (H,), (T, H)
    k = v if r.head_keys is None else r.head_keys[layer, 0].astype(np.float64)  # one head's own keys (T, dh)
    w = r.attention[layer, step].astype(np.float64)  # (T,)
    context_error = np.abs(w @ v - r.contexts[layer, step]).max()  # (T,) @ (T, H) -> (H,)
    lines = [f"**Check:** Σ_j w_j = {w.sum():.6f}; w V recomputed here vs the recorded context: "
             f"max |difference| = {context_error:.1e}"]
    if r.score_function in ("dot", "scaled_dot"):
        scale = math.sqrt(len(q)) if r.score_function == "scaled_dot" else 1.0
        recorded = r.scores[layer, step]
        allowed = ~np.isneginf(recorded)
        score_error = np.abs(k[allowed] @ q / scale - recorded[allowed]).max()  # (T', H) @ (H,) -> (T',)
        lines.append(f"K q{' / √' + str(len(q)) if scale != 1 else ''} recomputed vs the recorded scores: "
                     f"max |difference| = {score_error:.1e}")
    return "  \n".join(lines)
