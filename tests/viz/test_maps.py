"""The maps of weights (s2s/viz/maps.py): heatmap, layer_grid, difference, shared_zmax. Each is checked against
the recorded weights, and every map's dict passes plotly.py's validation."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest

from s2s import viz
from tests.viz.conftest import synthetic, validated, z_of

# --- heatmap ------------------------------------------------------------------------------------------


def test_heatmap_axes_are_positional_with_the_pieces_as_labels(plain):
    fig = viz.heatmap(plain)
    steps, width = len(plain.output_pieces), len(plain.source_pieces)
    assert z_of(fig).shape == (steps, width)
    np.testing.assert_allclose(z_of(fig), plain.attention.mean(0), rtol=1e-6)
    assert list(fig.layout.xaxis.ticktext) == [viz.display_piece(p) for p in plain.source_pieces]
    assert list(fig.layout.yaxis.ticktext) == [viz.display_piece(p) for p in plain.output_pieces]
    assert list(fig.layout.xaxis.tickvals) == list(range(width))
    assert list(fig.layout.yaxis.tickvals) == list(range(steps))
    assert list(fig.data[0].x) == list(range(width)) and list(fig.data[0].y) == list(range(steps))
    assert fig.layout.yaxis.autorange == "reversed"
    assert (fig.data[0].zmin, fig.data[0].zmax) == (0, 1)
    assert not fig.frames and len(fig.data) == 1 and not fig.layout.shapes


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
    assert list(checked.layout.xaxis.ticktext) == [viz.display_piece(p) for p in causal.source_pieces]
    assert list(checked.layout.yaxis.ticktext) == [viz.display_piece(p) for p in causal.output_pieces]
    masked = np.isneginf(causal.scores).any(0)
    assert (~np.isnan(z_of(checked, 1))[:shown] == masked[:shown]).all()  # the grey overlay
    assert checked.to_plotly_json()["data"][0]["colorscale"] == fig.to_plotly_json()["data"][0]["colorscale"]


def test_repeated_pieces_keep_their_own_positions(forced):
    # "2021-03-03": three "0"s and two "3"s among the outputs; "2" twice among the source pieces
    r = dataclasses.replace(forced, output_pieces=forced.reference_pieces)
    fig = viz.heatmap(r)
    labels = [re.sub(r"<[^>]+>|[▸ ]", "", t) for t in fig.layout.yaxis.ticktext]  # drop the forcing mark
    zeros = [i for i, label in enumerate(labels) if label == "0"]
    assert len(zeros) == 3
    assert z_of(fig).shape[0] == len(r.reference_pieces)
    twos = [j for j, label in enumerate(fig.layout.xaxis.ticktext) if label == "2"]
    assert twos == [3, 5]
    np.testing.assert_allclose(z_of(fig)[:, 3], r.attention.mean(0)[:, 3], rtol=1e-6)
    np.testing.assert_allclose(z_of(fig)[:, 5], r.attention.mean(0)[:, 5], rtol=1e-6)


def test_layer_choice(plain):
    first, mean = z_of(viz.heatmap(plain, layer=0)), z_of(viz.heatmap(plain))
    np.testing.assert_allclose(first, plain.attention[0], rtol=1e-6)
    assert not np.allclose(first, mean)
    for bad in (2, -1, "first", True):
        with pytest.raises(ValueError, match="layer"):
            viz.heatmap(plain, layer=bad)


def test_step_reveals_rows_up_to_step_and_outlines_it(plain):
    fig = viz.heatmap(plain, step=3)
    z = z_of(fig)
    np.testing.assert_allclose(z[:4], plain.attention.mean(0)[:4], rtol=1e-6)
    assert np.isnan(z[4:]).all()
    (outline,) = fig.layout.shapes
    assert (outline.y0, outline.y1) == (2.5, 3.5)
    assert (outline.x0, outline.x1) == (-0.5, len(plain.source_pieces) - 0.5)
    last = len(plain.output_pieces) - 1
    assert not np.isnan(z_of(viz.heatmap(plain, step=999))).any()  # clamped to the last step
    assert viz.heatmap(plain, step=999).layout.shapes[0].y0 == last - 0.5
    assert viz.heatmap(plain, step=2.0).layout.shapes[0].y0 == 1.5  # a slider may send floats
    with pytest.raises(ValueError, match="step"):
        viz.heatmap(plain, step="3")


def test_presenter_mode_is_large_and_colour_blind_safe(plain):
    normal, big = viz.heatmap(plain, step=1), viz.heatmap(plain, step=1, presenter=True)
    assert big.layout.xaxis.tickfont.size >= 18 and big.layout.yaxis.tickfont.size >= 18
    assert big.layout.shapes[0].line.width > normal.layout.shapes[0].line.width
    assert big.data[0].colorscale != normal.data[0].colorscale
    assert big.data[0].colorscale == viz.heatmap(plain, presenter=True).data[0].colorscale
    assert big.layout.height > normal.layout.height


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


def test_heatmap_json_stays_small():
    r = synthetic(20, 20)  # 20 x 20, 2 layers
    sizes = {"mean": len(viz.heatmap(r).to_json()), "layer 0": len(viz.heatmap(r, layer=0).to_json()),
             "step 0": len(viz.heatmap(r, step=0).to_json())}
    assert sizes["mean"] < 17_000 and sizes["layer 0"] < 14_000 and sizes["step 0"] < 6_000, sizes
    data = json.loads(viz.heatmap(r).to_json())
    assert data["data"][0]["z"]["dtype"] == "f4"  # base64 float32, not a list of decimals
    assert "histogram2dcontour" not in json.dumps(data["layout"])  # no default template
    assert "frames" not in data


def test_height_grows_with_rows_but_is_capped():
    heights = [viz.heatmap(synthetic(steps, 5)).layout.height for steps in (3, 10, 200)]
    assert heights[0] < heights[1] < heights[2] == viz.PLAIN.max_height


def test_shared_zmax_rounds_the_largest_weight_up_to_a_twentieth(plain, causal):
    peak = max(float(plain.attention[0].max()), float(causal.attention.mean(0).max()))
    zmax = viz.shared_zmax((plain, 0), (causal, "mean"))
    assert zmax == pytest.approx(np.ceil(peak * 20 - 1e-6) / 20) and zmax - 0.05 < peak <= zmax
    flat = dataclasses.replace(plain, attention=np.zeros_like(plain.attention))
    assert viz.shared_zmax((flat, 0)) == 0.05  # never below 0.05
    no_attention = dataclasses.replace(plain, attention=plain.attention[:0], scores=plain.scores[:0])
    assert viz.shared_zmax((no_attention, "mean")) == 1.0
    assert viz.heatmap(plain, zmax=zmax).data[0].zmax == zmax


# --- layer grid -------------------------------------------------------------------------------------


def test_layer_grid_has_every_layer_and_the_mean(causal):
    fig = viz.layer_grid(causal)
    weights = [t for t in fig.data if t.coloraxis == "coloraxis"]
    assert len(weights) == causal.attention_layers + 1
    for layer, trace in enumerate(weights[:-1]):
        np.testing.assert_allclose(np.asarray(trace.z, float), causal.attention[layer], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(weights[-1].z, float), causal.attention.mean(0), rtol=1e-6)
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0, 1)
    names = [fig.layout[f"xaxis{i if i > 1 else ''}"].title.text for i in range(1, len(weights) + 1)]
    assert names == ["layer 0", "layer 1", "mean of layers"]
    assert len(fig.data) == 2 * len(weights)  # a masked overlay in every panel
    assert all(t.showscale is False for t in fig.data if t.coloraxis is None)


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


# --- difference ---------------------------------------------------------------------------------------


def test_difference_with_itself_is_zero(plain):
    fig = viz.difference(plain, plain)
    assert (z_of(fig) == 0).all()
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-1, 1)


def test_difference_bidirectional_minus_causal(plain, causal):
    fig = viz.difference(plain, causal, layer=0, labels=("bidirectional", "causal"))
    masked = np.isneginf(causal.scores[0])
    diff = z_of(fig)
    rows = min(len(plain.output_pieces), len(causal.output_pieces))
    # where causal was masked its weight is 0, so the difference is the whole bidirectional weight
    np.testing.assert_allclose(diff[:rows][masked[:rows]], plain.attention[0][:rows][masked[:rows]], rtol=1e-6)
    assert (diff[:rows][masked[:rows]] > 0).all()
    assert list(fig.data[0].meta) == ["bidirectional", "causal"] and "%{meta[1]}" in fig.data[0].hovertemplate


def test_difference_pads_the_shorter_output(plain):
    short = dataclasses.replace(plain, output_pieces=plain.output_pieces[:5], attention=plain.attention[:, :5],
                                scores=plain.scores[:, :5])
    fig = viz.difference(plain, short)
    diff = z_of(fig)
    assert diff.shape == (len(plain.output_pieces), len(plain.source_pieces))
    assert (diff[:5] == 0).all() and np.isnan(diff[5:]).all()
    assert fig.layout.yaxis.ticktext[7] == f"{viz.display_piece(plain.output_pieces[7])} / (ended)"  # not "–": a piece
    assert fig.layout.yaxis.ticktext[0] == viz.display_piece(plain.output_pieces[0])


def test_difference_refuses_different_sources(plain, tiny):
    with pytest.raises(ValueError, match="different source pieces"):
        viz.difference(plain, tiny.translate("4 May 1999"))


def test_a_large_map_s_answer_grows_with_its_cells_not_with_hover_text_for_each():
    """Issue 21: the "All layers" answer for a checkpoint at the limits (256 x 256 pieces, 4 layers) was 19.5 MB,
    most of it every cell's pieces and scores. Beyond MAX_HOVER_CELLS the hover gives place and weight only."""
    big = synthetic(steps=256, width=256, layers=4)
    for fig, panels in ((viz.heatmap(big), 1), (viz.layer_grid(big), 5)):
        weights = [t for t in fig.to_dict()["data"] if t.get("hovertemplate")]
        assert len(weights) == panels and all("customdata" not in t and "%{z:.3f}" in t["hovertemplate"]
                                              for t in weights)
        # the colours themselves: float32 cells, base64 (4/3), with room for the axes' labels and the layout
        assert len(fig.to_json()) < panels * 256 * 256 * 4 * 4 / 3 + 200_000, len(fig.to_json())
    # a map the size of the bundled checkpoints', all its layers at once, still names each cell's pieces
    small = synthetic(steps=62, width=64, layers=2)
    grid = viz.layer_grid(small).to_dict()["data"]
    assert all(np.array(t["customdata"], dtype=object).shape[:2] == (62, 64) for t in grid if t.get("hovertemplate"))
