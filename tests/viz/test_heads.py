"""s2s.viz.heads_grid: every head of every layer, for one kind of attention, on the bundled dates-transformer."""

from __future__ import annotations

import numpy as np
import pytest

import s2s
from s2s import viz
from tests.viz.conftest import synthetic


@pytest.fixture(scope="module")
def transformer():
    return s2s.load("dates-transformer").translate("the 21st of June, 1999")


def panels(fig) -> list[np.ndarray]:
    """The weights of each panel, in order (the grey overlays of masked cells left out)."""
    return [np.array(t.z, dtype=float) for t in fig.data if t.hovertemplate]


@pytest.mark.parametrize("kind", ["cross", "decoder_self", "encoder_self"])
def test_each_panel_is_one_head_s_weights_and_every_head_is_drawn(transformer, kind):
    weights = transformer.heads[kind]  # (L, NH, rows, cols)
    layers, heads = weights.shape[:2]
    drawn = panels(viz.heads_grid(transformer, kind))
    assert len(drawn) == layers * heads
    for n, z in enumerate(drawn):
        np.testing.assert_allclose(z, weights[n // heads, n % heads], atol=1e-6)
        np.testing.assert_allclose(z.sum(1), 1.0, atol=1e-5)  # each row a softmax


def test_the_decoder_s_future_is_greyed_and_gets_no_weight(transformer):
    """Row t of decoder self-attention reads the pieces fed at steps 0..t: the cells j > t, written out here."""
    fig = viz.heads_grid(transformer, "decoder_self")
    greys = [np.array(t.z, dtype=float) for t in fig.data if not t.hovertemplate]
    steps = len(transformer.output_pieces)
    future = np.triu(np.ones((steps, steps), bool), k=1)
    assert greys and all(np.array_equal(~np.isnan(g), future) for g in greys)
    assert all(np.all(z[future] == 0) for z in panels(fig))


def test_a_model_without_heads_is_told_so_and_an_unknown_kind_is_refused(transformer):
    said = viz.heads_grid(synthetic()).layout.annotations[0].text.replace("<br>", " ")
    assert said == viz.NO_HEADS
    with pytest.raises(ValueError, match="kind must be one of"):
        viz.heads_grid(transformer, "sideways")


def test_one_head_s_step_is_softmax_of_its_q_and_k_over_root_dh_and_its_weights_times_its_values(transformer):
    """Issue 23: the step-through shows one head's q·K -> softmax -> w·V; written out here from the head's arrays."""
    layers, heads, steps, dh = transformer.head_queries.shape
    for layer in range(layers):
        for head in range(heads):
            view = viz.one_head(transformer, head)
            for t in range(steps):
                q, keys = transformer.head_queries[layer, head, t], transformer.head_keys[layer, head]
                s = keys.astype(np.float64) @ q / np.sqrt(dh)
                w = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
                np.testing.assert_allclose(view.attention[layer, t], w, atol=1e-5)
                np.testing.assert_allclose(w @ transformer.head_values[layer, head], view.contexts[layer, t], atol=1e-5)
    text = viz.step_math(transformer, 2, 1, head=3)
    assert "layer 1, head 3" in text and "√" + str(dh) in text
    assert viz.one_head(synthetic(), 0) is not None  # a model without heads is itself
