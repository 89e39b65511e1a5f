"""One step's arithmetic (s2s/viz/arithmetic.py): the figure draws, and the Markdown writes out and checks, the
recorded numbers of a step."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from s2s import checkpoint, viz
from s2s.web import views
from tests.viz.conftest import DATE, HOSTILE, z_of

# --- as a figure ----------------------------------------------------------------------------------------


def test_the_step_figure_draws_the_recorded_numbers(trained):
    figure = viz.step_figure(trained, 4, 1)
    go.Figure(figure.to_dict())  # plotly validates what was built without validation
    q, w, values, c = (z_of(figure, i) for i in range(4))
    bars = figure.data[4]
    np.testing.assert_allclose(q[0], trained.queries[1, 4], atol=1e-6)
    np.testing.assert_allclose(w[:, 0], trained.attention[1, 4], atol=1e-6)
    np.testing.assert_allclose(values, trained.encoder_states[1], atol=1e-6)
    np.testing.assert_allclose(c[0], trained.contexts[1, 4], atol=1e-6)
    np.testing.assert_allclose(w[:, 0] @ values, c[0], atol=1e-5)  # c = w V, from the figure alone
    assert len(figure.data) == 5
    assert list(bars.y)[0] == viz.display_piece(trained.output_pieces[4])
    assert list(bars.x) == pytest.approx(trained.top_probs[4].tolist())
    assert "step 4 · layer 1" in figure.layout.title.text


def test_the_step_figure_names_pieces_as_the_map_does(trained):
    """Its title said "fed <s> → wrote </s>" where the map's rows and the panel say ⟨bos⟩ and ⟨eos⟩."""
    last = len(trained.output_pieces) - 1
    assert trained.decoder_inputs[0] == "<s>" and trained.output_pieces[last] == "</s>"
    assert "fed ⟨bos⟩ → wrote 2" in viz.step_figure(trained, 0, 0).layout.title.text
    title = viz.step_figure(trained, last, 0).layout.title.text
    assert title.endswith("wrote ⟨eos⟩") and "</s>" not in title and "&lt;" not in title


def test_the_step_figure_refuses_the_mean(trained):
    with pytest.raises(ValueError, match="one layer"):
        viz.step_figure(trained, 0, "mean")


def test_a_one_layer_model_shows_its_layers_arithmetic_for_the_mean(make_checkpoint):
    """The mean of one layer is that layer: the panel said "mean of 1 layers... choose a layer" (Train's small)."""
    one = checkpoint.load(make_checkpoint(num_layers=1), device="cpu").translate(DATE)
    figure = views.step_figure(one, layer="mean", step=2)
    np.testing.assert_allclose(z_of(figure, 0)[0], one.queries[0, 2], atol=1e-6)
    two = checkpoint.load(make_checkpoint(), device="cpu").translate(DATE)
    assert "mean of 2 layers" in views.step_figure(two, layer="mean").layout.annotations[0].text


# --- as Markdown ------------------------------------------------------------------------------------------


def test_step_math_shows_the_recorded_numbers_and_checks_them(causal):
    layer, step = 1, 2
    md = viz.step_math(causal, step, layer)
    rows = [line for line in md.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(rows) == len(causal.source_pieces)
    for j, row in enumerate(rows):
        score, weight = causal.scores[layer, step, j], causal.attention[layer, step, j]
        assert ("masked (−∞)" if np.isneginf(score) else f"{score:.4f}") in row
        assert f"{weight:.4f}" in row
        assert row.count("▇") == round(20 * float(weight))
    q = ", ".join(f"{x:.3f}" for x in causal.queries[layer, step, :6])
    c = ", ".join(f"{x:.3f}" for x in causal.contexts[layer, step, :6])
    assert f"[{q}, …]" in md and f"[{c}, …]" in md
    assert "√32" in md and "Σ_j w_j = 1.000000" in md
    errors = [float(e) for e in re.findall(r"max \|difference\| = ([0-9.e+-]+)", md)]
    assert len(errors) == 2 and max(errors) < 1e-5  # the context and the scores, recomputed
    assert viz.step_math(causal, 999, layer).startswith(f"### Step {len(causal.output_pieces) - 1} ")
    with pytest.raises(ValueError):
        viz.step_math(causal, 0, "mean")


def test_step_math_names_the_score_and_query(make_checkpoint):
    m = checkpoint.load(make_checkpoint(score="additive", query="input"), device="cpu")
    md = viz.step_math(m.translate(DATE), 1, 0, dims=3)
    assert "vᵀ tanh(W q + U k_j)" in md and "fed token alone" in md
    assert "recorded scores are shown as they are" in md and "K q" not in md.split("**Check:**")[1]


def test_step_math_is_markdown_safe(plain):
    r = dataclasses.replace(plain, source_pieces=["a|b*c_`x`", *plain.source_pieces[1:]])
    md = viz.step_math(r, 0)
    assert r"a\|b\*c\_\`x\`" in md
    table = [line for line in md.splitlines() if line.startswith("| 0 |")]
    assert len(table) == 1 and table[0].count(" | ") == 4  # the piece's "|" did not add a column
    hostile = dataclasses.replace(plain, source_pieces=[HOSTILE, *plain.source_pieces[1:]],
                                  output_pieces=[HOSTILE, *plain.output_pieces[1:]])
    assert "<img" not in viz.step_math(hostile, 0)
