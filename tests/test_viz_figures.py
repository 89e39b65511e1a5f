"""The hand-built figures: valid for plotly, equal to an independent computation, titled, legible."""

from __future__ import annotations

import base64
import dataclasses
import re

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import pytest

from s2s import viz
from s2s.translator import Translation

DATE = "3 March 2021"


@pytest.fixture(scope="module")
def after_end(tiny) -> Translation:
    """Forced on past the model's own </s>: the model ends at step 4, the reference runs to step 10."""
    r = tiny.translate(DATE, reference="2021-03-03", teacher_forcing=0.5, seed=1)
    outputs = [p if p != "</s>" else "0" for p in r.output_tokens]
    outputs[4] = "</s>"
    return dataclasses.replace(r, output_tokens=outputs)


def validated(fig: go.Figure) -> go.Figure:
    """The figure's dict through plotly.py's validation (the figures skip it when they are built)."""
    return go.Figure(fig.to_dict())


def z_of(fig: go.Figure, trace: int = 0) -> np.ndarray:
    """A trace's z as float64, decoding the typed-array spec ({"dtype", "bdata", "shape"}) to_dict writes."""
    z = fig.data[trace].z
    if isinstance(z, dict):
        shape = [int(n) for n in str(z["shape"]).split(",")]
        z = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape)
    return np.asarray(z, dtype=np.float64)


def luminance(colour: str) -> float:
    """WCAG relative luminance of "rgb(r,g,b)" or "#rrggbb": 0 black .. 1 white."""
    rgb = plotly.colors.hex_to_rgb(colour) if colour.startswith("#") else plotly.colors.unlabel_rgb(colour)
    linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


# --- valid and equal to an independent computation -------------------------------------------------


@pytest.mark.parametrize("kwargs", [{}, {"layer": 1}, {"step": 2}, {"presenter": True}, {"row_scale": True}])
def test_heatmap_is_valid_and_shows_the_mean_over_layers(causal, kwargs):
    fig = viz.heatmap(causal, **kwargs)
    checked = validated(fig)  # raises on any attribute plotly.js would not know
    weights = causal.attention.astype(np.float64)  # (L, S, T)
    expected = weights[kwargs["layer"]] if "layer" in kwargs else weights.sum(0) / weights.shape[0]
    if kwargs.get("row_scale"):
        expected = expected / expected.max(1, keepdims=True)
    shown = kwargs.get("step", len(expected) - 1) + 1
    z = z_of(checked)
    np.testing.assert_allclose(z[:shown], expected[:shown], rtol=1e-5, atol=1e-7)
    assert np.isnan(z[shown:]).all()
    assert list(checked.layout.xaxis.ticktext) == [viz.display_piece(p) for p in causal.source_tokens]
    assert list(checked.layout.yaxis.ticktext) == [viz.display_piece(p) for p in causal.output_tokens]
    masked = np.isneginf(causal.scores).any(0)
    assert (~np.isnan(z_of(checked, 1))[:shown] == masked[:shown]).all()  # the grey overlay
    assert checked.to_plotly_json()["data"][0]["colorscale"] == fig.to_plotly_json()["data"][0]["colorscale"]


def test_layer_grid_and_difference_are_valid(causal, plain, after_end):
    for fig in (viz.layer_grid(causal), viz.layer_grid(after_end, row_scale=True, presenter=True),
                viz.difference(plain, causal), viz.difference(plain, causal, 1, presenter=True),
                viz.heatmap(after_end, step=7), viz.layer_grid(dataclasses.replace(plain, attention=plain.attention[:0],
                                                                               scores=plain.scores[:0])),
                viz.steps_table(after_end), viz.steps_table(after_end, step=2, presenter=True)):
        validated(fig)
    grid = validated(viz.layer_grid(causal))
    weights = [t for t in grid.data if t.coloraxis == "coloraxis"]
    np.testing.assert_allclose(z_of(grid, grid.data.index(weights[-1])), causal.attention.astype(np.float64).mean(0),
                               rtol=1e-5)
    assert [grid.layout[f"xaxis{i}"].domain for i in ("", "2", "3")] == [(0, 0.32), (0.34, 0.66), (0.68, 1)]
    assert grid.layout.yaxis2.matches == "y" and grid.layout.yaxis2.showticklabels is False
    diff = validated(viz.difference(plain, causal, 0))
    np.testing.assert_allclose(z_of(diff), plain.attention[0] - causal.attention[0], atol=1e-6)


def test_colour_scales_are_explicit_stops_not_names(plain):
    # plotly.js's own "Blues" and "YlGnBu" are dark at 0: a bare name would flip the map in the browser
    figures = [viz.heatmap(plain), viz.heatmap(plain, presenter=True), viz.difference(plain, plain)]
    for fig in figures:
        scale = fig.to_plotly_json()["data"][0]["colorscale"]
        assert isinstance(scale, list) and scale[0][0] == 0 and scale[-1][0] == 1
    assert isinstance(viz.layer_grid(plain).layout.coloraxis.colorscale, tuple | list)


def test_default_layout_has_no_template_weight(plain):
    assert len(viz.heatmap(plain).layout.template.to_plotly_json()) == 0


# --- legible ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", [viz.PLAIN, viz.PRESENTER])
def test_palettes_are_light_at_zero_and_dark_at_one(style):
    assert luminance(style.colorscale[0][1]) > 0.85  # an unattended cell reads as blank paper
    assert luminance(style.colorscale[-1][1]) < 0.1
    assert [stop[0] for stop in style.colorscale] == sorted(stop[0] for stop in style.colorscale)


def test_presenter_palette_is_a_colour_blind_safe_scale():
    assert viz.PRESENTER.colorscale == viz._colour_stops("YlGnBu")  # ColorBrewer: colour-blind safe
    assert viz.PRESENTER.colorscale != viz.PLAIN.colorscale


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


def test_row_scale_colours_by_the_row_peak_and_hovers_the_true_weight(plain):
    fig = viz.heatmap(plain, layer=1, row_scale=True)
    z, weights = z_of(fig), plain.attention[1].astype(np.float64)
    np.testing.assert_allclose(z.max(1), 1, rtol=1e-6)
    np.testing.assert_allclose(z * weights.max(1, keepdims=True), weights, rtol=1e-5)
    assert "row max" in fig.data[0].colorbar.title.text
    assert "%{customdata[3]}" in fig.data[0].hovertemplate and "%{z" not in fig.data[0].hovertemplate
    assert fig.data[0].customdata[2][3][3] == f"{weights[2, 3]:.3f}"
    plain_fig = viz.heatmap(plain, layer=1)
    assert plain_fig.data[0].colorbar.title.text == "weight" and len(plain_fig.data[0].customdata[0][0]) == 3
    grid = viz.layer_grid(plain, row_scale=True)
    assert "row max" in grid.layout.coloraxis.colorbar.title.text
    np.testing.assert_allclose(np.nanmax(np.asarray(grid.data[0].z, float), 1), 1, rtol=1e-6)


# --- after the end ----------------------------------------------------------------------------------


def test_steps_after_the_models_end_are_marked(after_end, plain):
    assert after_end.end == 5 < len(after_end.output_tokens)
    fig = viz.heatmap(after_end)
    labels = fig.layout.yaxis.ticktext
    assert [viz.AFTER_END_MARK in label for label in labels] == [t >= 5 for t in range(len(labels))]
    assert all(viz.AFTER_END_COLOR in label for label in labels[5:])
    mismatch = [o != ref for o, ref in zip(after_end.output_tokens, after_end.reference_tokens, strict=True)]
    assert [viz.MISMATCH_MARK in label for label in labels] == mismatch  # still marked after the end
    (line,) = fig.layout.shapes
    assert (line.type, line.y0, line.y1, line.line.dash) == ("line", 4.5, 4.5, "dot")
    assert "after the model's own ⟨eos⟩" in fig.layout.annotations[0].text
    assert len(viz.heatmap(after_end, step=3).layout.shapes) == 1  # before the end: the outline only
    assert len(viz.heatmap(after_end, step=6).layout.shapes) == 2  # the line and the outline
    assert len(viz.layer_grid(after_end).layout.shapes) == after_end.num_layers + 1  # one per panel
    rows = viz.forcing_table(after_end)
    assert viz.FORCING_COLUMNS[-1] == "after end"
    assert [row[-1] for row in rows] == ["yes" if t >= 5 else "" for t in range(len(rows))]
    assert not viz.heatmap(plain).layout.shapes  # decoding freely, nothing comes after the end
    assert not any(viz.AFTER_END_MARK in label for label in viz.heatmap(plain).layout.yaxis.ticktext)


def test_after_end_labels_stay_text(after_end):
    outputs = [*after_end.output_tokens[:6], "<b>", *after_end.output_tokens[7:]]
    r = dataclasses.replace(after_end, output_tokens=outputs)
    label = viz.heatmap(r).layout.yaxis.ticktext[6]
    assert "&lt;b&gt;" in label and re.sub(r"<[^>]+>", "", label).count("after") == 1


def test_every_figure_is_sent_as_plotly_itself_would_write_it(causal, plain, after_end):
    """gradio sends figure.to_json(): written from the dict, it must equal plotly.py's own writing of the figure."""
    import json

    figures = [viz.heatmap(causal), viz.heatmap(causal, layer=1, step=2, presenter=True, row_scale=True),
               viz.heatmap(after_end, rows_by_fed=True), viz.layer_grid(causal), viz.difference(plain, causal),
               viz.step_figure(causal, 2, 1), viz.message("nothing to compare", presenter=True),
               viz.quality_by_length(["1-5", "6-10"], {"a": [1.0, 0.25], "b": [0.5, None]}, [10, 20]),
               viz.training_curves([(1, 2.5), (2, 1.25)], [(1, 0.1, 0.2), (2, 0.5, 0.75)]), viz.steps_table(after_end)]
    for fig in figures:
        sent = json.loads(fig.to_json())
        plotly_own = json.loads(go.Figure(fig._dict, _validate=False).to_json())  # plotly's object tree, then JSON
        assert sent == plotly_own
        assert any(isinstance(t.get("z"), dict) and set(t["z"]) >= {"dtype", "bdata"} for t in sent["data"]) or \
            not any("z" in t for t in sent["data"])  # weights travel as typed arrays, not decimals


def test_a_figure_changed_through_plotly_is_sent_as_changed(plain):
    fig = viz.heatmap(plain)
    fig.update_layout(title_text="changed")  # made into plotly's objects on first use, then kept
    assert '"changed"' in fig.to_json() and fig.layout.title.text == "changed"
