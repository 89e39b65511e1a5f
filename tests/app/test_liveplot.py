"""The heatmap's component: what it sends is what gradio's Plot would send, and nothing for no figure."""

from __future__ import annotations

import json

import gradio as gr

from s2s import viz
from s2s.web import runs
from ui import liveplot


def test_a_figure_is_sent_as_the_json_gradio_plot_sends():
    figure = viz.heatmap(runs.run(runs.Settings("3 March 2021", "dates")))
    sent = liveplot.LivePlot().postprocess(figure)
    plot = gr.Plot().postprocess(figure)  # gradio's own: {type: plotly, plot: <json>}
    assert json.loads(sent) == json.loads(plot.plot)
    assert liveplot.LivePlot().postprocess(None) == ""


def test_the_page_can_load_plotly_from_gradio_s_own_bundle():
    name = liveplot.gradio_plotly_module()
    assert name.startswith("PlotlyPlot-") and name.endswith(".js")
    assert liveplot.LivePlot().get_config()["props"]["plotly_module"] == name  # the page imports it by name
