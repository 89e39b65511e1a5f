"""Figures, tables and exports of a `Translation`: pure functions, plotly + numpy only.

    import s2s.viz
    s2s.viz.heatmap(m.translate("3 March 2021"))     # a Figure: shows in a notebook; .plotly is plotly's go.Figure

Every function reads a Translation and runs no model, so the app can redraw (a new layer, the
next step of the animation) without translating again.

Pieces on screen: sentencepiece marks a word start with "▁". `display_piece` shows a piece that
starts a word as "·March", a space on its own as "␣", the specials as ⟨eos⟩ ⟨bos⟩ ⟨pad⟩ ⟨unk⟩;
byte-fallback pieces ("<0xF0>") stay as they are. Plotly draws tick labels and hover text as a
subset of HTML, so pieces go through `html.escape` before they reach a figure: a typed
"<img ...>" is shown as text, never parsed as markup.

Axes are positional (x = 0..T-1 source pieces, y = 0..S-1 output steps) with the pieces as tick
text: on a category axis plotly would merge repeated pieces (the two "0"s of "2021-03-03").

Figures are sent to the browser on every keystroke, so they stay small and cheap: built as plain
dicts and wrapped once without plotly.py's validation (see "heatmap pieces"), no plotly template
(an empty one drops ~6 kB), float32 arrays (encoded as base64), no frames. They also avoid
attributes newer than plotly.js 3 (the app's browser bundle is plotly.js 3.3.1: title.font, never
titlefont).

Shapes: L layers, S output steps, T source pieces, H hidden size.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import numbers
import re
import textwrap
from dataclasses import dataclass

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import plotly.io
from _plotly_utils.utils import to_typed_array_spec

from .translator import Translation

WORD_START = "▁"
SPECIAL_LABELS = {"</s>": "⟨eos⟩", "<s>": "⟨bos⟩", "<pad>": "⟨pad⟩", "<unk>": "⟨unk⟩"}
FORCING_COLUMNS = [
    "step", "fed", "forced?", "predicted", "p(predicted)", "reference", "p(reference)", "match", "after end",
]
SMALL_PROBABILITY = 1e-4  # below this, forcing_table writes a probability as "3.2e-07", not "0.0000"
NBEST_COLUMNS = ["rank", "output", "score (mean log p)", "length"]

MASKED_COLOR = "#bdbdbd"  # masked cells: a grey no colour scale here uses
OUTLINE_COLOR = "#e7298a"  # the current step's outline: magenta stands out on blue, green and yellow
MISMATCH_COLOR = "#c62828"
TEXT_COLOR = "#212121"  # a table's ordinary cells
AFTER_END_COLOR = "#9e9e9e"  # rows decoded after the model's own </s>: greyed, they are not its output
END_LINE_COLOR = "#616161"  # the dotted line between the model's last step and the steps after it
FORCED_MARK, MISMATCH_MARK, AFTER_END_MARK = "▸", "✗", "(after ⟨eos⟩)"
NO_ATTENTION = (
    "This model has no attention: its decoder sees only the encoder's final state, "
    "so there are no weights to show."
)
WEIGHT_TITLE, ROW_SCALED_TITLE = "weight", "weight ÷<br>row max"  # colour bar titles
IMAGE_FILENAME = "attention-heatmap"
PLOT_CONFIG = {"toImageButtonOptions": {"format": "png", "filename": IMAGE_FILENAME, "scale": 2}}
"""plotly.js config for a figure shown outside gr.Plot (figure_html, a notebook's fig.show(config=...)):
the modebar's PNG download gets a name and twice the screen resolution."""


def _colour_stops(name: str) -> tuple[tuple[float, str], ...]:
    """A plotly.py colour scale as explicit stops.

    Figures skip plotly.py's validation, which is what turns a name into stops; a bare name would
    reach plotly.js, whose own "Blues" or "YlGnBu" run the other way (dark at 0).
    """
    return tuple((float(position), colour) for position, colour in plotly.colors.get_colorscale(name))


# Sequential, light at 0 and dark at 1, so that an unattended cell reads as blank paper: ColorBrewer's
# Blues, and for the presenter ColorBrewer's YlGnBu (light yellow -> green -> dark blue), which is
# colour-blind safe and keeps more contrast on a projector than one hue. (Cividis, before, is dark
# navy at 0: maps looked uniformly dark.)
WEIGHT_SCALE = _colour_stops("Blues")
PRESENTER_SCALE = _colour_stops("YlGnBu")
DIFFERENCE_SCALE = _colour_stops("RdBu_r")  # diverging: blue < 0 < red, white at 0
MASKED_SCALE = ((0.0, MASKED_COLOR), (1.0, MASKED_COLOR))
TEMPLATE: dict = {}  # no plotly template: the default's ~6 kB would travel with every figure


@dataclass(frozen=True)
class Style:
    font: int  # px, titles and captions
    tick: int  # px, axis tick labels
    row_px: int  # figure height per output step
    outline: float  # width of the current step's outline
    gap: int  # px between cells
    colorscale: tuple[tuple[float, str], ...]  # weights 0..1: sequential, light = 0, dark = more attention
    max_height: int
    end_line: float  # width of the line after the model's own last step


PLAIN = Style(font=13, tick=12, row_px=22, outline=2.5, gap=1, colorscale=WEIGHT_SCALE, max_height=760,
              end_line=1.5)
PRESENTER = Style(font=20, tick=18, row_px=28, outline=5, gap=2, colorscale=PRESENTER_SCALE, max_height=560,
                  end_line=3)


def _style(presenter: bool) -> Style:
    return PRESENTER if presenter else PLAIN


# --- pieces ---------------------------------------------------------------------------------------


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


def _markdown(piece: str) -> str:
    """A piece made safe for Markdown text and table cells: HTML-escaped, then punctuation backslashed."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", display_piece(piece))


# --- checks -----------------------------------------------------------------------------------------


def _check_layer(r: Translation, layer: int | str) -> int | str:
    if r.num_layers == 0:
        raise ValueError(NO_ATTENTION)
    if layer == "mean":
        return layer
    if isinstance(layer, bool) or not isinstance(layer, int | np.integer) or not 0 <= layer < r.num_layers:
        raise ValueError(f"layer must be 'mean' or a whole number from 0 to {r.num_layers - 1}; got {layer!r}")
    return int(layer)


def _clamp_step(step: float, steps: int) -> int:
    """Steps outside 0..S-1 are clamped: a slider may still hold a step of a longer, earlier output."""
    if isinstance(step, bool) or not isinstance(step, numbers.Real) or not math.isfinite(step):
        raise ValueError(f"step must be a whole number; got {step!r}")
    return min(max(int(step), 0), steps - 1)


def layer_weights(r: Translation, layer: int | str) -> np.ndarray:
    """(S, T) float32, a copy (callers blank rows of it): one layer's weights, or the mean over layers (what a
    map of `layer` shows)."""
    weights = r.attention.mean(0) if layer == "mean" else r.attention[layer]
    return weights.astype(np.float32)


def _layer_scores(r: Translation, layer: int | str) -> np.ndarray:
    """(k, S, T): the scores behind a figure, one layer or all of them (for the mean)."""
    return r.scores if layer == "mean" else r.scores[layer : layer + 1]


# --- heatmap pieces ---------------------------------------------------------------------------------
#
# The figures are plain dicts kept as `Figure`s, written to JSON straight from the dict: building them object by
# object (go.Heatmap, update_layout, add_shape) validated every attribute and cost 10-15 ms a figure, more
# than the model's 3-5 ms (`python -m s2s.bench_viz` times both). Validation is what the tests do instead:
# tests/test_viz.py passes every figure's dict through a validating go.Figure. So, built by hand: the
# weights stay float32 arrays (plotly writes them as base64 "f4", smaller than decimals and exact), every
# other number is a plain list, and colour scales are explicit stops (see `_colour_stops`).


def _row_labels(r: Translation, rows_by_fed: bool = False) -> list[str]:
    """Output pieces for the y axis, with the marks of `_notes`; with rows_by_fed, "fed → written".

    Forced steps get a grey ▸, steps that miss the reference a red ✗, and the steps decoded after the
    model's own </s> (teacher forcing runs on to the reference's length) a grey "(after ⟨eos⟩)".
    """
    labels = []
    reference = r.reference_tokens or []
    end = r.end
    for t, piece in enumerate(r.output_tokens):
        label = display_piece(piece)
        if rows_by_fed:
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
    """customdata (S, T, 3 or 4): source piece, output piece, the pre-softmax score(s) as text, and
    with `weights` (S, T) the true weight as text (when the colours are scaled, z is not the weight).

    Rows from `shown` on are not on screen yet (and have no hover): they are left empty, which
    keeps each frame of the animation small.
    """
    scores = _layer_scores(r, layer)[:, :shown]  # (k, shown, T)
    sources = [display_piece(p) for p in r.source_tokens]
    outputs = [display_piece(p) for p in r.output_tokens]
    texts = _score_texts(scores)  # (shown, T) of str
    rows = []
    for t, out in enumerate(outputs):
        if t >= shown:
            rows.append([])
        elif weights is None:
            rows.append([[src, out, texts[t][j]] for j, src in enumerate(sources)])
        else:
            rows.append([[src, out, texts[t][j], f"{weights[t, j]:.3f}"] for j, src in enumerate(sources)])
    return rows


def _score_texts(scores: np.ndarray) -> list[list[str]]:
    """(k, S, T) scores -> (S, T) texts: "1.23" for one layer, "1.23, -0.5" for all; masked cells say so."""
    masked = np.isneginf(scores).any(0)  # masking does not depend on the layer
    per_layer = scores.transpose(1, 2, 0).tolist()  # (S, T, k) of float: one conversion, not S*T*k
    return [["masked (−∞)" if masked[t, j] else ", ".join(f"{v:.3g}" for v in cell) for j, cell in enumerate(row)]
            for t, row in enumerate(per_layer)]


def _weight_name(r: Translation, layer: int | str) -> str:
    return f"mean weight of {r.num_layers} layers" if layer == "mean" else f"weight (layer {layer})"


def _hovertemplate(r: Translation, layer: int | str, row_scale: bool) -> str:
    score = "scores, layer by layer" if layer == "mean" else "score"
    weight = "%{customdata[3]} (colour: ÷ row max)" if row_scale else "%{z:.3f}"
    return (
        "source: %{customdata[0]}<br>output: %{customdata[1]}<br>"
        f"{_weight_name(r, layer)}: {weight}<br>{score}: %{{customdata[2]}}<extra></extra>"
    )


def _masked(r: Translation) -> np.ndarray:
    """(S, T) bool: cells the mask forbade (their score is -inf in every layer)."""
    return np.isneginf(r.scores).any(0)


def _row_scaled(weights: np.ndarray) -> np.ndarray:
    """Each row divided by its largest weight, so the row's peak is 1 (rows of a softmax have one > 0)."""
    peak = weights.max(1, keepdims=True)  # (S, 1)
    return weights / np.where(peak > 0, peak, 1)


def _attention_traces(r: Translation, layer: int | str, step: int | None, style: Style, row_scale: bool,
                      **colour) -> list[dict]:
    """The weights heatmap and, under a causal mask, a grey overlay on the forbidden cells."""
    weights = layer_weights(r, layer)  # (S, T)
    z = _row_scaled(weights) if row_scale else weights.copy()
    masked = np.where(_masked(r), np.float32(1), np.float32(np.nan))  # (S, T) 1 where forbidden
    shown = len(z) if step is None else step + 1
    z[shown:] = np.nan  # the animation: rows after `step` are not decoded yet
    masked[shown:] = np.nan
    cells = dict(x=list(range(z.shape[1])), y=list(range(z.shape[0])), xgap=style.gap, ygap=style.gap)
    customdata = _hover_cells(r, layer, shown, weights if row_scale else None)
    traces = [dict(type="heatmap", z=z, customdata=customdata, hovertemplate=_hovertemplate(r, layer, row_scale),
                   hoverongaps=False, **cells, **colour)]
    if not np.isnan(masked).all():
        traces.append(dict(type="heatmap", z=masked, colorscale=_stops(MASKED_SCALE), showscale=False,
                           hoverinfo="skip", **cells))
    return traces


def _stops(scale: tuple[tuple[float, str], ...]) -> list[list]:
    return [list(stop) for stop in scale]


def _colorbar(style: Style, title: str) -> dict:
    return dict(title=dict(text=title), thickness=14, tickfont=dict(size=style.tick))


def _colour(style: Style, row_scale: bool, zmax: float = 1.0) -> dict:
    return dict(zmin=0, zmax=1 if row_scale else zmax, colorscale=_stops(style.colorscale),
                colorbar=_colorbar(style, ROW_SCALED_TITLE if row_scale else WEIGHT_TITLE))


def shared_zmax(*shown: tuple[Translation, int | str]) -> float:
    """The colour scale's top for maps shown side by side, each (result, layer): their largest weight, up to
    the next 0.05 (never below 0.05; 1 when none has attention).

    Weights spread over many pieces (0.15-0.3 at most) left both maps nearly white on a 0..1 scale;
    one scale for both keeps them comparable cell for cell.
    """
    peak = max((float(layer_weights(r, layer).max()) for r, layer in shown if r.num_layers), default=1.0)
    return float(min(1.0, max(0.05, np.ceil(peak * 20 - 1e-6) / 20)))


def _axes(source_labels: list[str], row_labels: list[str], style: Style) -> tuple[dict, dict]:
    """x: source pieces along the top; y: output steps downwards, first step at the top."""
    common = dict(tickmode="array", showgrid=False, zeroline=False, automargin=True, tickfont=dict(size=style.tick))
    x = dict(common, tickvals=list(range(len(source_labels))), ticktext=source_labels, side="top")
    y = dict(common, tickvals=list(range(len(row_labels))), ticktext=row_labels, autorange="reversed")
    return x, y


def _layout(style: Style, rows: int, title: str, notes: list[str]) -> dict:
    """No template; fits the width, grows with the rows (and a line for the title and each note).

    The title (plain text, escaped here) sits above the source pieces (automargin keeps it clear of
    them), so a PNG saved from the modebar says what it shows.
    """
    notes_px = len(notes) * (style.font + 8)  # one line per note under the heatmap
    title_px = style.font + 12 if title else 0
    layout = dict(
        template=TEMPLATE,
        autosize=True,
        height=min(style.max_height, 100 + title_px + style.row_px * rows + notes_px),
        margin=dict(l=10, r=10, t=30 + title_px, b=10 + notes_px),  # the title above the source pieces
        font=dict(size=style.font),
        hoverlabel=dict(font=dict(size=style.tick + 2)),
    )
    if title:
        layout["title"] = dict(text=html.escape(title, quote=False), font=dict(size=style.font + 1), x=0.5,
                               xanchor="center", yref="container", y=1, yanchor="top", pad=dict(t=4),
                               automargin=True)
    if notes:
        layout["annotations"] = [dict(text="<br>".join(notes), xref="paper", yref="paper", x=0, y=0, yanchor="top",
                                      yshift=-6, xanchor="left", align="left", showarrow=False)]
    return layout


def _notes(r: Translation, shown: int | None = None) -> list[str]:
    """The key to the marks that this figure shows."""
    notes = []
    if _masked(r).any():
        notes.append(f'<span style="color:{MASKED_COLOR}">■</span> masked: forbidden by the causal mask')
    if r.forced.any():
        notes.append(f"{FORCED_MARK} fed the reference (teacher forcing)" if r.reference is not None else
                     f"{FORCED_MARK} fed as given: the pieces kept up to the change, and the changed one")
    if r.reference_tokens:
        notes.append(f'<span style="color:{MISMATCH_COLOR}">{MISMATCH_MARK}</span> prediction ≠ reference')
    if r.end < len(r.output_tokens):
        notes.append(f'<span style="color:{AFTER_END_COLOR}">{AFTER_END_MARK}</span> below the dotted line: '
                     "decoded after the model's own ⟨eos⟩, because teacher forcing runs to the reference's end")
    return notes


def _end_line(r: Translation, shown: int, style: Style, axes: tuple[str, str] = ("x", "y")) -> list[dict]:
    """A dotted line above the first step after the model's own </s>, once that step is on screen."""
    if not r.end < min(shown, len(r.output_tokens)):
        return []
    y = r.end - 0.5
    return [dict(type="line", xref=axes[0], yref=axes[1], x0=-0.5, x1=len(r.source_tokens) - 0.5, y0=y, y1=y,
                 line=dict(color=END_LINE_COLOR, width=style.end_line, dash="dot"))]


def _settings_text(r: Translation) -> str:
    """"bidirectional · teacher forcing 0.5": the run's settings that change the map."""
    parts = [r.mask]
    if r.beam_size > 1:
        parts.append(f"beam search ({r.beam_size})")
    parts.append(f"teacher forcing {r.teacher_forcing:g}" if r.teacher_forcing else "no teacher forcing")
    return " · ".join(parts)


def _layer_text(r: Translation, layer: int | str) -> str:
    if layer != "mean":
        return f"layer {layer}"
    return f"mean of {r.num_layers} layers" if r.num_layers > 1 else "the only layer"


def default_title(r: Translation, layer: int | str = "mean") -> str:
    """What a heatmap shows, from what the result knows: "bidirectional · layer 0 · teacher forcing 0.5".

    The checkpoint's name is not part of a Translation: callers who know it pass `title=` instead.
    """
    mask, *rest = _settings_text(r).split(" · ")
    return " · ".join([mask, _layer_text(r, layer), *rest])


class Figure:
    """A plotly figure kept as its finished dict; plotly's objects are made only if something asks for them.

    gradio's Plot sends a plotly figure as `figure.to_json()`, which here writes the dict straight out,
    arrays as plotly's base64 typed arrays: the same JSON as `go.Figure(d).to_json()` (tests/test_viz_figures.py
    checks every figure), without building and copying plotly's object tree, which cost ~1.3 ms a request
    (~15% of a loaded server's Python time, py-spy). Anything else (`.layout`, `.data`, `.to_dict()`,
    `.to_html()`, `.update_layout()`) is the plotly `go.Figure` made from the dict on first use.
    """

    def __init__(self, figure: dict):
        self._dict = figure
        self._plotly: go.Figure | None = None

    @property
    def plotly(self) -> Figure:
        """The figure as plotly's objects (made once, then used by every later call, changes included)."""
        if self._plotly is None:
            self._plotly = go.Figure(self._dict, _validate=False)
        return self._plotly

    def to_json(self) -> str:
        if self._plotly is not None:  # made, and perhaps changed since: plotly writes it
            return self._plotly.to_json()
        return plotly.io.to_json(_typed_arrays(self._dict), validate=False)

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("_dict", "_plotly"):  # copy and pickle look for these: not plotly's
            raise AttributeError(name)
        return getattr(self.plotly, name)

    def _repr_html_(self) -> str:  # a notebook shows it as it shows plotly's
        return self.plotly._repr_html_()

    def _repr_mimebundle_(self, *args, **kwargs):
        return self.plotly._repr_mimebundle_(*args, **kwargs)


def _typed_arrays(figure: dict) -> dict:
    """The figure with its traces' numpy arrays as plotly.js typed arrays, as plotly.py writes them.

    Arrays are only ever a trace's own attributes here (z), never deeper, so only those are looked at:
    tests/test_viz_figures.py compares every figure with plotly.py's own JSON.
    """
    data = [{k: to_typed_array_spec(v) if isinstance(v, np.ndarray) else v for k, v in trace.items()}
            for trace in figure["data"]]
    return dict(figure, data=data)


def _figure(data: list[dict], layout: dict) -> Figure:
    """The one place a figure is made: from finished dicts, without plotly.py's validation."""
    return Figure(dict(data=data, layout=layout))


def message(text: str, presenter: bool = False) -> Figure:
    """A figure holding only a centred message (a model without attention, nothing to compare)."""
    style = _style(presenter)
    layout = dict(template=TEMPLATE, height=220, margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(visible=False),
                  yaxis=dict(visible=False),
                  annotations=[dict(text="<br>".join(textwrap.wrap(html.escape(text, quote=False), 40)), x=0.5,
                                    y=0.5, xref="paper", yref="paper",
                                    showarrow=False, font=dict(size=style.font))])
    return _figure([], layout)


# --- figures ----------------------------------------------------------------------------------------


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
    if r.num_layers == 0:
        return steps_table(r, step, presenter=presenter)
    layer = _check_layer(r, layer)
    steps = len(r.output_tokens)
    if step is not None:
        step = _clamp_step(step, steps)
    shown = steps if step is None else step + 1
    style = _style(presenter)
    xaxis, yaxis = _axes([display_piece(p) for p in r.source_tokens], _row_labels(r, rows_by_fed), style)
    layout = dict(xaxis=xaxis, yaxis=yaxis, **_layout(style, steps, _title(title, r, layer), _notes(r)))
    shapes = _end_line(r, shown, style)
    if step is not None:
        width = len(r.source_tokens)
        shapes.append(dict(type="rect", x0=-0.5, x1=width - 0.5, y0=step - 0.5, y1=step + 0.5,
                           line=dict(color=OUTLINE_COLOR, width=style.outline)))
    if shapes:
        layout["shapes"] = shapes
    return _figure(_attention_traces(r, layer, step, style, row_scale, **_colour(style, row_scale, zmax)), layout)


NO_ATTENTION_TITLE = "No attention, so no weights: what each step was fed and wrote"
STEP_COLUMNS = ("step", "fed", "wrote", "reference", "")


def steps_table(r: Translation, step: int | None = None, *, presenter: bool = False,
                reference: list[str] | None = None) -> Figure:
    """What a model without attention can show in the heatmap's place: each step's fed and written piece.

    ▸ marks a step fed the reference (teacher forcing), a red ✗ a written piece that is not the
    reference's, so forcing against free running (exposure bias) reads row by row as on a heatmap.
    step: the rows up to it, as the heatmap's play shows them. reference: the reference's pieces and
    </s> (a run without forcing has none of its own); the run's own by default.
    """
    style = _style(presenter)
    reference = reference or r.reference_tokens or []
    shown = len(r.output_tokens) if step is None else _clamp_step(step, len(r.output_tokens)) + 1
    rows = []
    for t in range(shown):
        fed = display_piece(r.decoder_inputs[t], escape=False)
        wrote = display_piece(r.output_tokens[t], escape=False)
        has_reference = t < len(reference)
        mark = ("✓" if r.output_tokens[t] == reference[t] else MISMATCH_MARK) if has_reference else ""
        rows.append((str(t), f"{FORCED_MARK} {fed}" if r.forced[t] else fed, wrote,
                     display_piece(reference[t], escape=False) if has_reference else "", mark))
    columns = [list(column) for column in zip(*rows)] if rows else [[] for _ in STEP_COLUMNS]
    colours = [MISMATCH_COLOR if row[4] == MISMATCH_MARK else TEXT_COLOR for row in rows]
    row_px = style.font + 12
    cells = dict(values=columns, align="center", height=row_px, font=dict(size=style.font, color=[colours] * 5),
                 fill=dict(color="white"), line=dict(color="#e0e0e0"))
    table = dict(type="table", columnwidth=[1, 2, 2, 2, 1], cells=cells,
                 header=dict(values=[f"<b>{c}</b>" for c in STEP_COLUMNS], align="center", height=row_px,
                             font=dict(size=style.font), fill=dict(color="#f5f5f5"), line=dict(color="#e0e0e0")))
    # tall enough for 32 steps (the table scrolls beyond), so that errors piling up are seen without scrolling
    layout = dict(template=TEMPLATE, autosize=True, height=60 + row_px * (min(shown, 32) + 2),
                  margin=dict(l=10, r=10, t=30 + style.font, b=10), font=dict(size=style.font),
                  title=dict(text=NO_ATTENTION_TITLE, font=dict(size=style.font + 1), x=0.5, xanchor="center",
                             yref="container", y=1, yanchor="top", pad=dict(t=4)))
    return _figure([table], layout)


def _title(title: str | None, r: Translation, layer: int | str) -> str:
    return default_title(r, layer) if title is None else title


def layer_grid(r: Translation, *, presenter: bool = False, title: str | None = None,
               row_scale: bool = False) -> Figure:
    """One heatmap per layer and their mean, side by side in one row, sharing one colour bar.

    Each panel is named by its x-axis title, above its source pieces: subplot titles would sit
    on top of those pieces. `title` and `row_scale` as in `heatmap` (by default "causal · 2 layers
    and their mean · no teacher forcing"; each row is scaled within its own panel).
    """
    if r.num_layers == 0:
        return message(NO_ATTENTION, presenter)
    style = _style(presenter)
    layers: list[int | str] = [*range(r.num_layers), "mean"]
    xaxis, yaxis = _axes([display_piece(p) for p in r.source_tokens], _row_labels(r), style)
    panel = (1 - GRID_SPACING * (len(layers) - 1)) / len(layers)  # each panel's share of the width
    data, shapes = [], []
    if title is None:
        mask, *rest = _settings_text(r).split(" · ")
        title = " · ".join([mask, f"{r.num_layers} layers and their mean", *rest])
    layout = _layout(style, len(r.output_tokens), title, _notes(r))
    for i, layer in enumerate(layers):
        x, y = ("x", "y") if i == 0 else (f"x{i + 1}", f"y{i + 1}")
        for trace in _attention_traces(r, layer, None, style, row_scale, coloraxis="coloraxis"):
            data.append(dict(trace, xaxis=x, yaxis=y))
        start = i * (panel + GRID_SPACING)
        name = "mean of layers" if layer == "mean" else f"layer {layer}"
        layout["xaxis" if i == 0 else f"xaxis{i + 1}"] = dict(
            xaxis, anchor=y, domain=[round(start, 6), round(min(start + panel, 1.0), 6)],
            title=dict(text=name, font=dict(size=style.font)))
        layout["yaxis" if i == 0 else f"yaxis{i + 1}"] = dict(
            yaxis, anchor=x, domain=[0.0, 1.0], showticklabels=i == 0, **({} if i == 0 else dict(matches="y")))
        shapes += _end_line(r, len(r.output_tokens), style, (x, y))
    colour = _colour(style, row_scale)
    layout["coloraxis"] = dict(cmin=0, cmax=1, colorscale=colour["colorscale"], colorbar=colour["colorbar"])
    if shapes:
        layout["shapes"] = shapes
    return _figure(data, layout)


GRID_SPACING = 0.02  # the gap between layer_grid's panels, a share of the width


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
    if a.source_tokens != b.source_tokens:
        raise ValueError(
            "These two results read different source pieces, so their attention cannot be compared cell by cell "
            f"({len(a.source_tokens)} vs {len(b.source_tokens)} pieces): compare checkpoints with the same tokenizer."
        )
    if a.num_layers == 0 or b.num_layers == 0:
        return message("Nothing to compare: " + NO_ATTENTION, presenter)
    layer_a, layer_b = _check_layer(a, layer), _check_layer(b, layer)
    style = _style(presenter)
    steps, width = max(len(a.output_tokens), len(b.output_tokens)), len(a.source_tokens)
    wa, wb = _padded(layer_weights(a, layer_a), steps), _padded(layer_weights(b, layer_b), steps)  # (S, T) each
    outs_a, outs_b = _padded_pieces(a.output_tokens, steps), _padded_pieces(b.output_tokens, steps)
    rows = [pa if pa == pb else f"{pa} / {pb}" for pa, pb in zip(outs_a, outs_b, strict=True)]
    name_a, name_b = (html.escape(str(label), quote=False) for label in labels)
    sources = [display_piece(p) for p in a.source_tokens]
    texts_a, texts_b = _weight_texts(wa), _weight_texts(wb)
    cells = [[[src, outs_a[t], outs_b[t], texts_a[t][j], texts_b[t][j]] for j, src in enumerate(sources)]
             for t in range(steps)]  # (S, T, 5)
    trace = dict(
        type="heatmap", z=wa - wb, x=list(range(width)), y=list(range(steps)), zmin=-1, zmax=1,
        colorscale=_stops(DIFFERENCE_SCALE), xgap=style.gap, ygap=style.gap, hoverongaps=False, customdata=cells,
        meta=[name_a, name_b],  # the labels reach the hover through meta: never parsed as a template
        hovertemplate=("source: %{customdata[0]}<br>%{meta[0]}: %{customdata[1]} weight %{customdata[3]}<br>"
                       "%{meta[1]}: %{customdata[2]} weight %{customdata[4]}<br>"
                       "%{meta[0]} − %{meta[1]}: %{z:.3f}<extra></extra>"),
        colorbar=_colorbar(style, f"{name_a} − {name_b}"),
    )
    if title is None:
        settings = _settings_text(a), _settings_text(b)
        both = settings[0] if settings[0] == settings[1] else f"{labels[0]}: {settings[0]}; {labels[1]}: {settings[1]}"
        title = f"{labels[0]} − {labels[1]} · {_layer_text(a, layer_a)} · {both}"
    xaxis, yaxis = _axes(sources, rows, style)
    return _figure([trace], dict(xaxis=xaxis, yaxis=yaxis, **_layout(style, steps, title, [])))


def _padded(weights: np.ndarray, steps: int) -> np.ndarray:
    """(S', T) -> (steps, T), missing rows NaN."""
    out = np.full((steps, weights.shape[1]), np.nan, dtype=np.float32)
    out[: len(weights)] = weights
    return out


NO_STEP = "(ended)"  # a row label of the run that had already ended at that step (a dash could be a piece)


def _padded_pieces(pieces: list[str], steps: int) -> list[str]:
    return [display_piece(p) for p in pieces] + [NO_STEP] * (steps - len(pieces))


def _weight_texts(weights: np.ndarray) -> list[list[str]]:
    """(S, T) -> texts "0.123", "–" where a padded row has no weight."""
    return [["–" if w != w else f"{w:.3f}" for w in row] for row in weights.tolist()]  # w != w: NaN


# --- the arithmetic of one step ------------------------------------------------------------------


def step_math(r: Translation, step: int, layer: int = 0, *, dims: int = 6) -> str:
    """Markdown walking through one step of one layer with the recorded numbers.

    query q -> a score per source piece -> softmax weights -> context c = Σ_j w_j v_j, then a
    check that the weights sum to 1 and that w V recomputed here equals the recorded context.
    Vectors show their first `dims` components. step is clamped to 0..S-1, like `heatmap`'s.
    """
    if r.num_layers == 0:
        return f"**{NO_ATTENTION}** The decoder carries the encoder's final state from step to step instead."
    if layer == "mean":
        raise ValueError("step_math explains one layer: pass a layer number, not 'mean'")
    layer = _check_layer(r, layer)
    step = _clamp_step(step, len(r.output_tokens))
    q = r.queries[layer, step]  # (H,)
    s, w = r.scores[layer, step], r.attention[layer, step]  # (T,), (T,)
    hidden, dims = len(q), max(1, min(dims, len(q)))
    fed = _markdown(r.decoder_inputs[step]) + (" (from the reference)" if r.forced[step] else "")
    parts = [
        f"### Step {step} of {len(r.output_tokens) - 1}, layer {layer}: fed {fed}, predicted "
        f"{_markdown(r.output_tokens[step])}",
        f"**1. Query** q ({hidden} numbers): {_vector(q, dims)}  \n{_query_note(r, step)}",
        f"**2. Scores**, one per source piece: {_score_rule(r, hidden)}",
        "**3. Weights** w = softmax(s): w_j = exp(s_j) / Σ_i exp(s_i), so they are positive and sum to 1"
        + ("; a masked score is −∞ and its weight exp(−∞) = 0." if np.isneginf(s).any() else "."),
        _table(r.source_tokens, s, w),
        "**4. Context** c = Σ_j w_j v_j, the weighted sum of the encoder states v_j (here v_j = k_j): "
        f"{_vector(r.contexts[layer, step], dims)}",
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
        lines.append(f"| {j} | {_markdown(piece)} | {shown} | {weight:.4f} | {'▇' * round(20 * float(weight))} |")
    return "\n".join(lines)


def _checks(r: Translation, step: int, layer: int) -> str:
    q, k = r.queries[layer, step].astype(np.float64), r.encoder_states[layer].astype(np.float64)  # (H,), (T, H)
    w = r.attention[layer, step].astype(np.float64)  # (T,)
    context_error = np.abs(w @ k - r.contexts[layer, step]).max()  # (T,) @ (T, H) -> (H,)
    lines = [f"**Check:** Σ_j w_j = {w.sum():.6f}; w V recomputed here vs the recorded context: "
             f"max |difference| = {context_error:.1e}"]
    if r.score_function in ("dot", "scaled_dot"):
        scale = math.sqrt(len(q)) if r.score_function == "scaled_dot" else 1.0
        recorded = r.scores[layer, step]
        allowed = ~np.isneginf(recorded)
        score_error = np.abs(k[allowed] @ q / scale - recorded[allowed]).max()  # (T', H) @ (H,) -> (T',)
        lines.append(f"K q{' / √H' if scale != 1 else ''} recomputed vs the recorded scores: "
                     f"max |difference| = {score_error:.1e}")
    return "  \n".join(lines)


# --- tables for the app ---------------------------------------------------------------------------


def forcing_table(r: Translation) -> list[list]:
    """One row per step (columns FORCING_COLUMNS); plain-text pieces, for a gr.Dataframe of strings.

    Probabilities are text (`probability_text`: "0.9731", "3.2e-07", never a rounded "0"). "forced?" is
    "given" on the steps an intervention fed (the pieces kept up to the change, and the changed one). Without
    a reference the reference columns are empty strings. "after end" says "yes" on the steps decoded
    after the model's own </s> (teacher forcing runs on to the reference's length).
    """
    reference = r.reference_tokens or []
    end = r.end
    rows = []
    for t, (fed, predicted) in enumerate(zip(r.decoder_inputs, r.output_tokens, strict=True)):
        has_reference = t < len(reference)
        rows.append([
            t,
            display_piece(fed, escape=False),
            ("yes" if r.reference is not None else "given") if r.forced[t] else "no",
            display_piece(predicted, escape=False),
            probability_text(r.probs[t]),
            display_piece(reference[t], escape=False) if has_reference else "",
            probability_text(r.reference_probs[t]) if has_reference and r.reference_probs is not None else "",
            ("✓" if predicted == reference[t] else "✗") if has_reference else "",
            "yes" if t >= end else "",
        ])
    return rows


def probability_text(p: float) -> str:
    """A probability a person can read: 4 decimals, or 2 significant digits below 0.0001 ("3.2e-07")."""
    p = float(p)
    return f"{p:.4f}" if p >= SMALL_PROBABILITY or p == 0 else f"{p:.1e}"


def nbest_table(r: Translation) -> list[list]:
    """Beam search's hypotheses best first (columns NBEST_COLUMNS); a greedy result is its only row.

    Scores are text with four decimals each ("-0.4820", not -0.482 beside -0.4482), so the column lines up."""
    return [[rank, h.text, f"{h.score:.4f}", len(h.output_tokens)]
            for rank, h in enumerate(r.hypotheses or [r], start=1)]


# --- exports --------------------------------------------------------------------------------------


def attention_csv(r: Translation, layer: int | str = "mean") -> str:
    """The weights as CSV: header = source pieces, first column = output pieces, labelled as on the heatmap.

    The labels are `display_piece`'s, unescaped ("·March", "⟨eos⟩"), so that a row of the CSV reads
    like the row of the figure it came from; attention_json keeps the raw sentencepiece pieces. The
    csv module quotes what needs it.
    """
    weights = layer_weights(r, _check_layer(r, layer))  # (S, T)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["output \\ source", *(display_piece(p, escape=False) for p in r.source_tokens)])
    for piece, row in zip(r.output_tokens, weights.tolist(), strict=True):
        writer.writerow([display_piece(piece, escape=False), *(f"{w:.6g}" for w in row)])
    return buffer.getvalue()


def attention_json(r: Translation) -> str:
    """Everything needed to redraw the figures elsewhere. Raw pieces; -inf scores become null."""
    data = dict(
        source_text=r.source_text,
        source_tokens=r.source_tokens,
        decoder_inputs=r.decoder_inputs,
        output_tokens=r.output_tokens,
        text=r.text,
        reference=r.reference,
        reference_tokens=r.reference_tokens,
        attention=_numbers(r.attention),  # (L, S, T)
        scores=_numbers(r.scores),  # (L, S, T), null where masked
        probs=_numbers(r.probs),
        forced=r.forced.tolist(),
        log_prob=float(r.log_prob),
        settings=dict(mask=r.mask, teacher_forcing=r.teacher_forcing, seed=r.seed, beam_size=r.beam_size,
                      score_function=r.score_function, query=r.query, trained_mask=r.trained_mask),
        hypotheses=[dict(text=h.text, output_tokens=h.output_tokens, score=float(h.score)) for h in r.hypotheses],
    )
    return json.dumps(data, ensure_ascii=False, allow_nan=False)


def _numbers(a: np.ndarray) -> list:
    """Nested lists of floats at float32 precision (7 significant digits); -inf -> None."""
    if a.ndim == 0:
        return None if np.isneginf(a) else float(f"{a:.7g}")
    return [_numbers(x) for x in a]


def figure_html(fig: Figure | go.Figure, *, title: str | None = None, plotly_js: str | None = None) -> str:
    """A standalone HTML page of the figure, that opens offline.

    By default plotly.js is inlined (about 4.6 MB, almost all of the page). With `plotly_js`, a file
    name such as "plotly.min.js", the page loads plotly.js from that file beside it instead, and
    weighs a few kB: the app serves one shared copy with every export. The page's <title> is `title`
    or the figure's title (or "Attention heatmap"); the modebar's PNG download is named
    "attention-heatmap.png", at twice the resolution.
    """
    page = fig.to_html(include_plotlyjs=plotly_js or True, full_html=True, config=PLOT_CONFIG, div_id="heatmap")
    if title is None:
        shown = fig.layout.title.text if fig.layout.title and fig.layout.title.text else ""
        title = html.unescape(re.sub(r"<[^>]*>", " ", shown)).strip() or "Attention heatmap"
    return page.replace("<head>", f"<head><title>{html.escape(title)}</title>", 1)


# --- one step's arithmetic as a figure ----------------------------------------------------------------
# For layer l at step t, with this model's real numbers (K = V: the keys and the values are both the
# encoder states of layer l, one row per source piece, so the figure draws them once):
#     scores   s = K q / √H          (T, H) @ (H,) -> (T,)      one score per source piece
#     weights  w = softmax(s)        (T,)                       the heatmap's row t
#     context  c = w V               (T,) @ (T, H) -> (H,)      row j of V scaled by w_j, rows added
# q, V and c share one diverging scale (blue < 0 < red); the weights use the heatmap's; every number
# is in its cell's hover. Beside them, the step's most probable next pieces.

VALUE_SCALE = DIFFERENCE_SCALE  # diverging, white at 0


def _grid(z: np.ndarray, x: str, y: str, hover: str, scale, zmid: float | None = 0.0, **extra) -> dict:
    trace = dict(type="heatmap", z=z.astype(np.float32), xaxis=x, yaxis=y, colorscale=_stops(scale),
                 showscale=False, hovertemplate=hover + "<extra></extra>", xgap=1, ygap=1, **extra)
    if zmid is not None:
        trace["zmid"] = zmid
    return trace


def step_figure(r: Translation, step: int, layer: int = 0, *, presenter: bool = False) -> Figure:
    """The arithmetic of `step` in `layer` (clamped like heatmap's step), drawn as small grids."""
    if r.num_layers == 0:
        return message(NO_ATTENTION, presenter)
    layer = _check_layer(r, layer)
    if layer == "mean":
        raise ValueError("step_figure draws one layer's arithmetic: pass a layer number, not 'mean'")
    step = _clamp_step(step, len(r.output_tokens))
    style = _style(presenter)
    q, c = r.queries[layer, step], r.contexts[layer, step]  # (H,), (H,)
    values = r.encoder_states[layer]  # (T, H)
    w = r.attention[layer, step]  # (T,)
    pieces = [display_piece(p) for p in r.source_tokens]
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
        title=dict(text=f"step {step} · layer {layer} · fed {display_piece(r.decoder_inputs[step])} → wrote "
                        f"{display_piece(r.output_tokens[step])}", x=0.5, xanchor="center",
                   font=dict(size=style.font + 1)),
        xaxis=dict(domain=[0.22, 1.0], anchor="y", visible=False),
        yaxis=dict(domain=list(q_band), visible=False),
        xaxis2=dict(domain=[0.0, 0.18], anchor="y2", visible=False),
        yaxis2=dict(domain=list(grid_band), anchor="x2", tickmode="array", tickvals=list(range(rows)),
                    ticktext=pieces, autorange="reversed", tickfont=dict(size=style.tick), automargin=True),
        xaxis3=dict(domain=[0.22, 1.0], anchor="y2", visible=False),
        yaxis4=dict(domain=list(c_band), anchor="x3", visible=False),
        annotations=[_label("query q", 0.61, q_band[1]), _label("w", 0.09, grid_band[1]),
                     _label("keys = values V, a row per piece", 0.61, grid_band[1]),
                     _label("context c = w V", 0.61, c_band[1])],
    )
    if r.top_tokens is not None and r.top_probs is not None:
        top = [display_piece(p) for p in r.top_tokens[step]]
        data.append(dict(type="bar", orientation="h", x=[float(p) for p in r.top_probs[step]], y=top,
                         xaxis="x5", yaxis="y5", marker=dict(color=OUTLINE_COLOR),
                         hovertemplate="%{y}: p = %{x:.4f}<extra></extra>"))
        layout["xaxis5"] = dict(domain=[0.22, 1.0], anchor="y5", range=[0, 1], tickfont=dict(size=style.tick - 2),
                                automargin=True)
        layout["yaxis5"] = dict(domain=list(bars_band), anchor="x5", autorange="reversed", type="category",
                                tickfont=dict(size=style.tick), automargin=True)
        layout["annotations"].append(_label("the next piece, by p", 0.61, bars_band[1]))
    return _figure(data, layout)


def _label(text: str, x: float, y: float) -> dict:
    return dict(text=text, x=x, y=y, xref="paper", yref="paper", showarrow=False, xanchor="center",
                yanchor="bottom")


# --- quality by source length -----------------------------------------------------------------------


def quality_by_length(buckets: list[str], exact: dict[str, list[float | None]], counts: list[int], *,
                      presenter: bool = False, title: str = "exact match by source length") -> Figure:
    """One line per checkpoint: exact match (%) in each source-length bucket; the hover has the numbers."""
    style = _style(presenter)
    colours = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a")  # ColorBrewer Dark2: colour-blind safe
    data = [dict(type="scatter", mode="lines+markers", name=name, x=list(buckets),
                 y=[None if v is None else round(100 * v, 1) for v in values],
                 customdata=list(counts), line=dict(width=3, color=colours[i % len(colours)]),
                 marker=dict(size=9), hovertemplate=f"{html.escape(name)}<br>%{{x}} letters: %{{y:.1f}}% "
                                                    "exact (of %{customdata})<extra></extra>")
            for i, (name, values) in enumerate(exact.items())]
    layout = dict(template=TEMPLATE, height=360 if not presenter else 480, margin=dict(l=10, r=10, t=50, b=10),
                  font=dict(size=style.font), legend=dict(orientation="h", y=-0.2),
                  title=dict(text=html.escape(title, quote=False), x=0.5, xanchor="center"),
                  xaxis=dict(title=dict(text="source length (letters)"), type="category", automargin=True),
                  yaxis=dict(title=dict(text="exact match (%)"), range=[-3, 103], automargin=True))
    return _figure(data, layout)


# --- a training run's curves ------------------------------------------------------------------------


def training_curves(loss: list[tuple[int, float]], accuracy: list[tuple[int, float, float]], *,
                    presenter: bool = False, title: str = "learning") -> Figure:
    """Loss (left axis) and validation accuracy (right axis, %) by optimizer step, as a run reports them."""
    style = _style(presenter)
    data = [dict(type="scatter", mode="lines", name="training loss", x=[s for s, _ in loss], y=[v for _, v in loss],
                 line=dict(color="#7570b3", width=2), hovertemplate="step %{x}: loss %{y:.3f}<extra></extra>"),
            dict(type="scatter", mode="lines+markers", name="validation: tokens right", yaxis="y2",
                 x=[s for s, _, _ in accuracy], y=[round(100 * t, 1) for _, t, _ in accuracy],
                 line=dict(color="#1b9e77", width=2), hovertemplate="step %{x}: %{y:.1f}% of pieces<extra></extra>"),
            dict(type="scatter", mode="lines+markers", name="validation: exact match", yaxis="y2",
                 x=[s for s, _, _ in accuracy], y=[round(100 * e, 1) for _, _, e in accuracy],
                 line=dict(color="#d95f02", width=2), hovertemplate="step %{x}: %{y:.1f}% exact<extra></extra>")]
    layout = dict(template=TEMPLATE, height=300, margin=dict(l=10, r=10, t=40, b=10), font=dict(size=style.font),
                  title=dict(text=html.escape(title, quote=False), x=0.5, xanchor="center"),
                  legend=dict(orientation="h", y=-0.35, yanchor="top"),  # below the x axis title, not over it
                  xaxis=dict(title=dict(text="step"), automargin=True),
                  yaxis=dict(title=dict(text="loss"), rangemode="tozero", automargin=True),
                  yaxis2=dict(title=dict(text="%"), overlaying="y", side="right", range=[0, 100], automargin=True))
    return _figure(data, layout)
