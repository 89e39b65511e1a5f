"""The Heads tab (s2s/web/heads.py and views.tab_contents): a model with heads, a model without, a kind menu."""

from __future__ import annotations

import numpy as np

import s2s
from s2s import viz
from s2s.web import heads, models, views


def test_the_heads_tab_draws_the_kind_chosen_and_a_message_for_a_model_without_heads():
    transformer = s2s.load("dates-transformer").translate("3 March 2021")
    lstm = s2s.load("dates").translate("3 March 2021")
    for kind in ("cross", "decoder_self", "encoder_self"):
        fig = views.tab_contents(views.HEADS, transformer, kind=kind)["heads"]
        drawn = [np.array(t.z, dtype=float) for t in fig.data if t.hovertemplate]
        np.testing.assert_allclose(drawn[-1], transformer.heads[kind][-1, -1], atol=1e-6)
    # the menu's values are the kinds; anything else draws cross-attention
    assert [value for _, value in heads.KINDS] == ["cross", "decoder_self", "encoder_self"]
    assert heads.figure(transformer, "sideways").to_json() == heads.figure(transformer, "cross").to_json()
    said = views.tab_contents(views.HEADS, lstm)["heads"].layout.annotations[0].text.replace("<br>", " ")
    assert said == viz.NO_HEADS
    assert views.tab_contents(views.HEADS, None) == {"heads": None}


def test_a_transformer_s_layer_menu_lists_its_layers():
    """The layer menu offered the mean alone for a Transformer (it listed layers for model "attention" only)."""
    layers = s2s.load("dates-transformer").config["num_layers"]
    assert models.layer_choices("dates-transformer") == [("mean of layers", "mean"),
                                                        *((f"layer {i}", str(i)) for i in range(layers))]
