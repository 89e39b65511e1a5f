"""`Figure` and `message` (s2s/viz/figure.py): every figure is written to JSON as plotly.py itself would write
it, changes made through plotly are kept, and no template travels with a figure."""

from __future__ import annotations

import json

import plotly.graph_objects as go

from s2s import viz


def test_every_figure_is_sent_as_plotly_itself_would_write_it(causal, plain, after_end):
    """gradio sends figure.to_json(): written from the dict, it must equal plotly.py's own writing of the figure."""
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
    assert isinstance(fig.plotly, go.Figure) and fig.plotly is fig.plotly  # made once


def test_default_layout_has_no_template_weight(plain):
    assert len(viz.heatmap(plain).layout.template.to_plotly_json()) == 0


def test_a_message_is_centred_escaped_and_wrapped():
    fig = viz.message("<b>nothing</b> " + "to compare " * 8, presenter=True)
    go.Figure(fig.to_dict())  # valid for plotly
    (note,) = fig.layout.annotations
    assert not fig.data and (note.x, note.y) == (0.5, 0.5) and note.font.size == viz.PRESENTER.font
    assert note.text.startswith("&lt;b&gt;nothing&lt;/b&gt;") and "<br>" in note.text  # wrapped at 40 characters
    assert all(len(line) <= 40 for line in note.text.split("<br>"))


def test_no_axis_with_piece_labels_makes_plotly_measure_them_again_and_again(causal):
    """Every axis that shows tick labels says ticklabeloverflow "allow": plotly's default measures every label
    again each time it places one (n^2 bounding boxes), most of a map's redraw on every keystroke
    (`python -m bench.app --browser`); automargin keeps the labels inside the figure instead."""
    figures = [viz.heatmap(causal), viz.heatmap(causal, presenter=True), viz.layer_grid(causal),
               viz.step_figure(causal, 2, 1)]
    labelled = 0
    for fig in figures:
        layout = json.loads(fig.to_json())["layout"]
        for name, axis in layout.items():
            if name.startswith(("xaxis", "yaxis")) and axis.get("visible", True) and axis.get("showticklabels", True):
                assert axis.get("ticklabeloverflow") == "allow" and axis.get("automargin"), name
                labelled += 1
    assert labelled >= 6  # the heatmap's two, the grid's, and the step figure's pieces and bars
