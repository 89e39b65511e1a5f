"""Line charts (s2s/viz/charts.py): quality by source length, a training run's curves."""

from __future__ import annotations

import plotly.graph_objects as go

from s2s import viz


def test_quality_by_length_plots_percentages_with_counts():
    figure = viz.quality_by_length(["1-5", "6-10"], {"a": [1.0, 0.25], "b": [0.5, None]}, [10, 20])
    go.Figure(figure.to_dict())
    a, b = figure.data
    assert list(a.y) == [100.0, 25.0] and list(b.y) == [50.0, None]
    assert list(a.customdata) == [10, 20] and a.name == "a"


def test_training_curves_plot_loss_and_accuracy_on_two_axes():
    figure = viz.training_curves([(1, 2.5), (2, 1.25)], [(1, 0.1, 0.2), (2, 0.5, 0.755)], title="<b>run</b>")
    go.Figure(figure.to_dict())
    loss, pieces, exact = figure.data
    assert (list(loss.x), list(loss.y), loss.yaxis) == ([1, 2], [2.5, 1.25], None)  # the left axis
    assert (list(pieces.x), list(pieces.y), pieces.yaxis) == ([1, 2], [10.0, 50.0], "y2")  # percent, the right axis
    assert list(exact.y) == [20.0, 75.5]
    assert tuple(figure.layout.yaxis2.range) == (0, 100) and figure.layout.yaxis2.overlaying == "y"
    assert figure.layout.title.text == "&lt;b&gt;run&lt;/b&gt;"
