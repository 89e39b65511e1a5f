"""The figures the lessons add: one step's arithmetic, rows labelled by the fed piece, quality by length."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

import s2s
from s2s import viz


@pytest.fixture(scope="module")
def result():
    return s2s.load("dates").translate("3 March 2021")


def _z(trace) -> np.ndarray:
    return np.asarray(trace.z, dtype=np.float64)


def test_the_step_figure_draws_the_recorded_numbers(result):
    figure = viz.step_figure(result, 4, 1)
    go.Figure(figure.to_dict())  # plotly validates what was built without validation
    q, w, values, c, bars = figure.data
    np.testing.assert_allclose(_z(q)[0], result.queries[1, 4], atol=1e-6)
    np.testing.assert_allclose(_z(w)[:, 0], result.attention[1, 4], atol=1e-6)
    np.testing.assert_allclose(_z(values), result.encoder_states[1], atol=1e-6)
    np.testing.assert_allclose(_z(c)[0], result.contexts[1, 4], atol=1e-6)
    np.testing.assert_allclose(_z(w)[:, 0] @ _z(values), _z(c)[0], atol=1e-5)  # c = w V, from the figure alone
    assert list(bars.y)[0] == viz.display_piece(result.output_tokens[4])
    assert list(bars.x) == pytest.approx(result.top_probs[4].tolist())
    assert "step 4 · layer 1" in figure.layout.title.text


def test_the_step_figure_names_pieces_as_the_map_does(result):
    """Its title said "fed <s> → wrote </s>" where the map's rows and the panel say ⟨bos⟩ and ⟨eos⟩."""
    last = len(result.output_tokens) - 1
    assert result.decoder_inputs[0] == "<s>" and result.output_tokens[last] == "</s>"
    assert "fed ⟨bos⟩ → wrote 2" in viz.step_figure(result, 0, 0).layout.title.text
    title = viz.step_figure(result, last, 0).layout.title.text
    assert title.endswith("wrote ⟨eos⟩") and "</s>" not in title and "&lt;" not in title


def test_the_step_figure_refuses_the_mean(result):
    with pytest.raises(ValueError, match="one layer"):
        viz.step_figure(result, 0, "mean")


def test_rows_labelled_by_the_fed_piece(result):
    labels = viz.heatmap(result, rows_by_fed=True).layout.yaxis.ticktext
    assert labels[0] == "⟨bos⟩ → 2"
    assert [label.split(" → ")[0] for label in labels] == [viz.display_piece(p) for p in result.decoder_inputs]


def test_quality_by_length_plots_percentages_with_counts():
    figure = viz.quality_by_length(["1-5", "6-10"], {"a": [1.0, 0.25], "b": [0.5, None]}, [10, 20])
    go.Figure(figure.to_dict())
    a, b = figure.data
    assert list(a.y) == [100.0, 25.0] and list(b.y) == [50.0, None]
    assert list(a.customdata) == [10, 20] and a.name == "a"


def test_a_one_layer_model_shows_its_layers_arithmetic_for_the_mean(make_checkpoint):
    """The mean of one layer is that layer: the panel said "mean of 1 layers... choose a layer" (Train's small)."""
    from s2s import checkpoint
    from s2s.web import views

    one = checkpoint.load(make_checkpoint(num_layers=1), device="cpu").translate("3 March 2021")
    figure = views.step_figure(one, layer="mean", step=2)
    q = figure.data[0]
    np.testing.assert_allclose(_z(q)[0], one.queries[0, 2], atol=1e-6)
    two = checkpoint.load(make_checkpoint(), device="cpu").translate("3 March 2021")
    assert "mean of 2 layers" in views.step_figure(two, layer="mean").layout.annotations[0].text
