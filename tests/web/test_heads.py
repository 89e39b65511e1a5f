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


def z_of(fig) -> np.ndarray:
    return np.array(fig.data[0].z, dtype=float)


def test_the_main_map_draws_the_kind_and_head_chosen():
    """Issue 23: the main heatmap of a Transformer showed cross-attention's mean over heads only. It now draws
    any kind, of one head or their mean, checked here against the weights the model recorded."""
    r = s2s.load("dates-transformer").translate("3 March 2021")
    layers, count = r.heads["cross"].shape[:2]
    for kind in ("cross", "decoder_self", "encoder_self"):
        for head in ("mean", *map(str, range(count))):
            weights = r.heads[kind]  # (L, NH, rows, cols)
            want = weights.mean(1) if head == "mean" else weights[:, int(head)]  # (L, rows, cols)
            for layer in ("mean", "1"):
                fig = views.figure(r, 1, layer, None, False, (), kind, head)
                drawn = want.mean(0) if layer == "mean" else want[int(layer)]
                np.testing.assert_allclose(z_of(fig), drawn, atol=1e-5, err_msg=f"{kind} {head} {layer}")
            if (kind, head) != ("cross", "mean"):
                assert heads.KIND_SHORT[kind] in fig.layout.title.text
                assert ("mean of heads" if head == "mean" else f"head {head}") in fig.layout.title.text
    ticks = lambda fig, axis: list(getattr(fig.layout, axis).ticktext)  # noqa: E731
    source = [viz.display_piece(p) for p in r.source_pieces]
    encoder = views.figure(r, 1, "mean", 3, False, (), "encoder_self", "0")
    assert ticks(encoder, "xaxis") == source and len(ticks(encoder, "yaxis")) == len(source)  # drawn whole
    decoder = views.figure(r, 1, "mean", None, False, (), "decoder_self", "0")
    assert ticks(decoder, "xaxis") == [viz.display_piece(p) for p in r.decoder_inputs]
    future = np.triu(np.ones((len(r.output_pieces),) * 2, dtype=bool), k=1)  # column j > row t
    greyed = ~np.isnan(np.array(decoder.data[1].z, dtype=float))
    assert (greyed == future).all()  # the causal mask's cells, and only those


def test_an_lstm_s_map_ignores_the_kind_and_head_and_its_menu_has_no_heads():
    r = s2s.load("dates").translate("3 March 2021")
    plain = views.figure(r, 1, "mean", None, False, ())
    assert views.figure(r, 1, "mean", None, False, (), "decoder_self", "2").to_json() == plain.to_json()
    assert heads.head_choices("dates") == [("mean of heads", "mean")]
    count = s2s.load("dates-transformer").config["heads"]
    assert heads.head_choices("dates-transformer")[1:] == [(f"head {h}", str(h)) for h in range(count)]


def test_the_step_shown_is_the_chosen_head_s_arithmetic():
    """The step-through drew head 0 whatever the map showed; it now follows the head menu (the mean: head 0)."""
    r = s2s.load("dates-transformer").translate("3 March 2021")
    step, layer, head = 4, 1, 2
    fig = views.step_figure(r, 1, str(layer), step, False, str(head))
    query = np.array(fig.data[0].z, dtype=float)[0]
    np.testing.assert_allclose(query, r.head_queries[layer, head, step], atol=1e-5)
    assert f"head {head}" in fig.layout.title.text and f"head {head}" in views.step_math(r, 1, str(layer), step,
                                                                                           str(head))


def test_the_checkpoint_menu_lists_the_families_apart(monkeypatch):
    """Issue 23: the menu mixed LSTMs and Transformers in name order (dates, dates-transformer, reverse, ...)."""
    monkeypatch.delenv("S2S_HUB_CHECKPOINTS", raising=False)
    menu = models.checkpoint_choices()
    kinds = [s2s.load(name).config["model"] for name in menu]
    first = {kind: kinds.index(kind) for kind in kinds}
    last = {kind: len(kinds) - 1 - kinds[::-1].index(kind) for kind in kinds}
    assert last["attention"] < first["edm"] and last["edm"] < first["transformer"], list(zip(menu, kinds))


def test_the_export_holds_the_kind_and_head_on_screen(tmp_path, monkeypatch):
    """The Explore export drew cross-attention's mean whatever kind and head the map showed."""
    import csv
    import io
    from pathlib import Path

    from s2s.web import export

    monkeypatch.setattr(export, "EXPORT_DIR", tmp_path / "exports")
    result = runs.run(runs.Settings("3 March 2021", "dates-transformer"))
    for kind, head, layer in (("decoder_self", "2", "1"), ("encoder_self", "mean", "0"), ("cross", "3", "1")):
        paths, message = export.export(result, layer=layer, kind=kind, head=head)
        assert message == ""
        rows = list(csv.reader(io.StringIO(Path(paths[0]).read_text(encoding="utf-8"))))
        got = np.array([[float(w) for w in row[1:]] for row in rows[1:]])
        per_head = result.heads[kind][int(layer)]  # (NH, rows, cols), as recorded while decoding
        expected = per_head.mean(0) if head == "mean" else per_head[int(head)]
        np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=kind)
        columns = result.decoder_inputs if kind == "decoder_self" else result.source_pieces
        assert rows[0][1:] == [viz.display_piece(p, escape=False) for p in columns]
        page = Path(paths[2]).read_text(encoding="utf-8")
        assert heads.KIND_SHORT[kind] in page and ("mean of heads" if head == "mean" else f"head {head}") in page
