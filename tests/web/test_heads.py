"""The Heads tab (s2s/web/heads.py and views.tab_contents): a model with heads, a model without, a kind menu."""

from __future__ import annotations

import numpy as np

import s2s
from s2s import viz
from s2s.web import compare, heads, models, runs, views


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


def test_the_lstm_vs_transformer_preset_keeps_the_text_and_runs_the_transformer_sibling():
    """Issue 23: Compare runs an LSTM and a Transformer on the same input, from one preset."""
    typed = runs.Settings("the black cat does not see the white mouse", "toy-fr", reference="")
    chosen = compare.preset("family", typed)
    assert (chosen.a.checkpoint, chosen.b.checkpoint) == ("toy-fr", "toy-fr-transformer")
    assert chosen.text == chosen.a.text == chosen.b.text == typed.text  # what was typed stays
    compared = compare.compare_runs(chosen.a, chosen.b.checkpoint, chosen.b.mask, 0.0)
    both = compared.kept.results
    assert both[1].family == "transformer" and both[0].family == "lstm"
    assert both[0].text == both[1].text == "le chat noir ne voit pas la souris blanche"
    # a checkpoint without a sibling (a Transformer itself) compares dates with dates-transformer
    other = compare.preset("family", runs.Settings("3 March 2021", "dates-transformer"))
    assert (other.a.checkpoint, other.b.checkpoint) == ("dates", "dates-transformer")
