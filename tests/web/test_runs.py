"""s2s.web.runs: one run's checks, the entry point, the API adapter and messages, as the Explore tab shows them."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from s2s import budget, checkpoint, viz
from s2s.errors import S2SError
from s2s.web import compare, models, notes, runs, views
from tests.conftest import build_checkpoint, web_settings

pytestmark = pytest.mark.usefixtures("bundled")  # tiny checkpoints only (tests/conftest.py)
settings = web_settings


# --- explore ------------------------------------------------------------------------------------------


def test_explore_returns_the_output_the_figure_and_the_result():
    explored = views.explore(settings())
    r = explored.result
    assert explored.output == r.text and isinstance(explored.output, str)
    assert explored.status == ""  # run with the mask it was trained with, no forcing: nothing to say
    xaxis = explored.figure.layout.xaxis
    assert list(xaxis.ticktext) == [viz.display_piece(p) for p in r.source_pieces]
    assert r.attention.shape == (2, len(r.output_pieces), len(r.source_pieces))


def test_a_mask_the_checkpoint_was_not_trained_with_is_pointed_out():
    assert "Mask mismatch" in views.explore(settings(mask="causal")).status
    note = views.explore(settings(checkpoint="dates-causal")).status
    assert "trained <b>causal</b> and is run <b>bidirectional</b>" in note
    assert views.explore(settings(checkpoint="dates-causal", mask="causal")).status == ""
    assert notes.mask_note("bidirectional", "bidirectional") == ""
    assert "hides positions, not information" not in views.explore(settings(mask="causal")).status


def test_causal_mask_over_a_bidirectional_encoder_is_explained(bundled, tmp_path, monkeypatch):
    folder = build_checkpoint(bundled / "dates-bi", encoder="bi")
    try:
        monkeypatch.setattr(models, "CACHE", models.new_cache())
        assert "hides positions, not information" in views.explore(settings(checkpoint="dates-bi",
                                                                              mask="causal")).status
        assert "hides positions" not in views.explore(settings(checkpoint="dates-bi")).status
        compared = compare.compare(settings(checkpoint="dates-bi"), settings(checkpoint="dates-bi", mask="causal"))
        assert compared.summary.count("hides positions, not information") == 1
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize(("changes", "message"), [
    (dict(text=""), "The input is empty"),
    (dict(text="   "), "The input is empty"),
    (dict(text=None), "The input is empty"),
    (dict(text="x" * (runs.MAX_TEXT_CHARS + 1)), "too long"),
    (dict(text="1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5"), "too long"),  # > 48 pieces, < 500 chars
    (dict(mask="sideways"), "Unknown mask"),
    (dict(forcing=True, ratio=1.5, reference="2021-03-03"), "Teacher forcing must be a number from 0 to 1"),
    (dict(forcing=True, ratio=float("nan"), reference="2021-03-03"), "Teacher forcing must be a number"),
    (dict(forcing=True, ratio=1.0, reference=""), "needs a reference"),
    (dict(forcing=True, ratio=0.5, reference="2021-03-03", beam_size=3), "Beam search decodes freely"),
    (dict(seed=1.5), "The seed must be a whole number"),
    (dict(beam_size=0), "The beam size must be a whole number from 1 to 16"),
    (dict(beam_size=2.5), "The beam size must be a whole number"),
    (dict(checkpoint="../../etc"), "not a checkpoint this app can load"),
    (dict(checkpoint="nothere"), "not a checkpoint this app can load"),
])
def test_bad_values_become_a_message_not_an_exception(changes, message):
    explored = views.explore(settings(**{"text": "3 March 2021", **changes}))
    assert message in explored.status and "s2s-problem" in explored.status
    assert explored.result is None and explored.figure is None and explored.output == ""


def test_a_bug_becomes_a_generic_message_and_a_log_line(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(runs, "_decode", broken)
    with caplog.at_level(logging.ERROR, logger="s2s.web.runs"):
        explored = views.explore(settings())
    assert runs.GENERIC_ERROR in explored.status and "secret" not in explored.status
    assert any("secret internals" in str(record.exc_info[1]) for record in caplog.records)


def test_messages_are_html_escaped():
    status = views.explore(settings(checkpoint="<img src=x onerror=alert(1)>")).status
    assert "<img" not in status and "&lt;img" in status


def test_a_problem_s_code_spans_are_drawn_as_code_not_backticks():
    """Issue 22: status messages showed literal backticks (`a b c d`): Markdown is not read inside the HTML block."""
    shown = runs.problem("Type it spaced, as `a b c d`, not `<b>abcd</b>`.")
    assert "`" not in shown and "<code>a b c d</code>" in shown and "<code>&lt;b&gt;abcd&lt;/b&gt;</code>" in shown


def test_the_seed_may_be_empty_or_a_whole_float():
    a = views.explore(settings(forcing=True, ratio=0.5, reference="2021-03-03", seed=None)).result
    b = views.explore(settings(forcing=True, ratio=0.5, reference="2021-03-03", seed=0.0)).result
    assert a.seed == b.seed == 0 and np.array_equal(a.forced, b.forced)


def test_forcing_is_off_unless_ticked_whatever_the_ratio():
    r = views.explore(settings(forcing=False, ratio=1.0, reference="2021-03-03")).result
    assert r.teacher_forcing == 0 and not r.forced.any() and r.reference_pieces is None
    r = views.explore(settings(forcing=True, ratio=1.0, reference="2021-03-03")).result
    assert r.forced[1:].all()


# --- the API ------------------------------------------------------------------------------------------


def test_translate_returns_text_and_figure_and_raises_a_message_on_bad_values():
    text, fig = runs.api_translate("3 March 2021", "dates", "bidirectional", 0, "", 0, 1)
    assert isinstance(text, str) and fig.layout.xaxis.ticktext
    text, _ = runs.api_translate("3 March 2021", "dates", "causal", 1.0, "2021-03-03", 0, 1.0)
    assert isinstance(text, str)
    with pytest.raises(ValueError, match="needs a reference"):
        runs.api_translate("3 March 2021", "dates", "bidirectional", 0.5, None, 0, 1)
    with pytest.raises(ValueError, match="not a checkpoint this app can load"):
        runs.api_translate("3 March 2021", "/etc", "bidirectional", 0, "", 0, 1)
    assert runs.user_message(ValueError("shown")) == "shown"
    assert runs.user_message(KeyError("hidden")) == runs.GENERIC_ERROR
    import sys
    import tempfile
    from pathlib import Path

    for place in (Path(runs.__file__).resolve(), Path(sys.prefix) / "lib" / "x.py", Path(tempfile.gettempdir()) / "y"):
        assert runs.user_message(ValueError(f"could not read {place}: bad")) == runs.GENERIC_ERROR  # a library's
    assert runs.user_message(ValueError("Shorten it to /3 of the text")) == "Shorten it to /3 of the text"


def test_a_message_quoting_typed_text_that_names_a_folder_is_hidden_and_logged_in_one_line(caplog):
    """A visitor who types "/tmp" as a piece is no bug: one warning line, no traceback (review of 2026-11-29)."""
    import tempfile

    with caplog.at_level("WARNING", logger=runs.__name__):
        message = runs.user_message(ValueError(f"'{tempfile.gettempdir()}' is not a piece this checkpoint writes"))
    assert message == runs.GENERIC_ERROR
    assert [r.levelname for r in caplog.records] == ["WARNING"] and caplog.records[0].exc_info is None


def test_a_checkpoint_that_cannot_load_is_a_message(bundled, tmp_path, monkeypatch):
    broken = tmp_path / "checkpoints"
    build_checkpoint(broken / "dates")
    (broken / "dates" / checkpoint.WEIGHTS).write_bytes(b"not safetensors")
    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", broken)
    explored = views.explore(settings())
    assert "corrupt" in explored.status and explored.result is None


def test_a_repeated_run_is_served_from_the_models_recent_results(monkeypatch):
    calls = []
    real = runs._decode
    monkeypatch.setattr(runs, "_decode", lambda checked, *rest: calls.append(checked) or real(checked, *rest))
    first = runs.run(settings("11 April 2011"))
    again = runs.run(settings("11 April 2011"))
    other = runs.run(settings("11 April 2011", mask="causal"))
    assert len(calls) == 2 and again is first and other is not first
    models.CACHE = models.new_cache()  # a model loaded afresh starts with no results (monkeypatch restores)
    runs.run(settings("11 April 2011"))
    assert len(calls) == 3


def test_beam_search_on_a_hub_checkpoint_is_bounded(monkeypatch):
    monkeypatch.setattr(models, "get_model", lambda spec: models.CACHE.get("dates"))
    with pytest.raises(ValueError, match="at most 4 hypotheses"):
        runs.run(settings("11 April 2011", checkpoint="org/big", beam_size=8))


def test_a_request_over_the_memory_budget_is_refused_before_anything_is_decoded(monkeypatch):
    """Issue 21: a beam search at a checkpoint's limits took hundreds of MB; now its memory is counted first."""
    decoded = []
    real = runs._decode
    monkeypatch.setattr(runs, "_decode", lambda checked, *rest: decoded.append(checked) or real(checked, *rest))
    translator = models.CACHE.get("dates").translator
    config, source_len = translator.config, len(translator.encode_source("11 April 2011"))
    # the count, written out (the module's docstring): steps x rows x (vocabulary + what each layer records) ...
    L, H, V, S, T = (config["num_layers"], config["hidden_size"], config["output_vocab_size"],
                     config["max_target_len"], source_len)
    for beam in (1, 4):
        by_hand = 4 * (S * beam * (V + L * (2 * T + 2 * H)) + S * beam * (L * (2 * T + 2 * H) + 12) + L * T * H)
        assert budget.request_bytes(config, source_len, beam) == by_hand + budget.OVERHEAD
    # ... and a budget between beam 1's and beam 4's needs lets the first run and refuses the second, unrun
    between = (budget.request_bytes(config, source_len, 1) + budget.request_bytes(config, source_len, 4)) // 2
    monkeypatch.setattr(budget, "REQUEST_BYTES", between)
    assert runs.run(settings("11 April 2011")).text and len(decoded) == 1
    with pytest.raises(budget.RequestTooLarge, match=r"above the \d+ MB one request may use here: choose a smaller"):
        runs.run(settings("11 April 2011", beam_size=4))
    assert len(decoded) == 1
    assert "choose a smaller beam" in views.explore(settings("11 April 2011", beam_size=4)).status


@pytest.mark.parametrize("bad", [
    dict(text=""), dict(text=None), dict(text="x" * 501), dict(text="a\ud800b"), dict(checkpoint="../../etc"),
    dict(checkpoint=""), dict(checkpoint=None), dict(mask="sideways"), dict(mask=None), dict(teacher_forcing=2),
    dict(teacher_forcing="abc"), dict(teacher_forcing=float("nan")), dict(teacher_forcing=1, reference=""),
    dict(seed="abc"), dict(seed=2**64), dict(seed=-1), dict(seed=1.5), dict(beam_size=None), dict(beam_size=0),
    dict(beam_size=99), dict(beam_size="4"), dict(beam_size=1e30), dict(teacher_forcing=0.5, reference="x" * 501),
])
def test_every_bad_api_value_gets_a_message_a_person_can_act_on(bad):
    values = dict(text="3 March 2021", checkpoint="dates", mask="bidirectional", teacher_forcing=0, reference="",
                  seed=0, beam_size=1) | bad
    with pytest.raises((ValueError, S2SError)) as raised:
        runs.api_translate(**values)
    message = runs.user_message(raised.value)
    assert message != runs.GENERIC_ERROR and len(message) > 20 and "\n" not in message
    for server_path in (str(checkpoint.BUNDLED_DIR.resolve()), str(Path.cwd()), tempfile.gettempdir()):
        assert server_path not in message


def test_a_model_trained_in_the_page_runs_in_explore_greedy_forced_and_batched(tmp_path):
    """The Train tab's "Use it in Explore" names the model trained-<hex>: every kind of run must find it.
    (It once went to the checkpoint cache, which read the name as a Hub repo and refused it.)"""
    translator = models.get_model("dates-causal").translator  # any loaded model stands in for a trained one
    name = models.add_trained("a-visitor", translator, tmp_path)
    greedy = runs.run(settings("9 June 2012", checkpoint=name))
    assert greedy.text == translator.translate("9 June 2012").text
    forced = runs.run(settings("9 June 2012", checkpoint=name, forcing=True, ratio=0.5, reference="2012-06-09"))
    alone = translator.translate("9 June 2012", reference="2012-06-09", teacher_forcing=0.5, seed=0)
    assert forced.output_pieces == alone.output_pieces
    assert "s2s-problem" not in views.explore(settings("9 June 2012", checkpoint=name)).status


def test_the_explore_controls_become_one_runs_settings():
    """settings_from: the beam size counts only under beam search; forcing is a bool; no reference is ""."""
    beam = runs.settings_from("3 March 2021", "dates", "causal", 1, 0.5, None, 7, "beam", 4)
    assert beam == runs.Settings("3 March 2021", "dates", "causal", True, 0.5, "", 7, 4)
    greedy = runs.settings_from("3 March 2021", "dates", "bidirectional", None, 1.0, "2021-03-03", 0, "greedy", 4)
    assert greedy.beam_size == 1 and greedy.forcing is False and greedy.reference == "2021-03-03"


def test_a_model_with_heads_is_counted_with_every_head_it_records():
    """A Transformer records, per step and row, each head's cross and decoder self weights and scores, and its
    encoder's self-attention once; a Hub translation model keeps the K best pieces of a step, not its logits."""
    config = dict(model="transformer", num_layers=2, heads=4, hidden_size=64, output_vocab_size=300,
                  max_target_len=32)
    L, NH, H, V, S, T, beam = 2, 4, 64, 300, 32, 20, 3
    per_step = L * (2 * T + 2 * H) + L * NH * 2 * (T + S)
    by_hand = 4 * (S * beam * (V + per_step) + S * beam * (per_step + 12) + L * T * H + 2 * L * NH * T * T)
    assert budget.request_bytes(config, T, beam) == by_hand + budget.OVERHEAD
    marian = dict(config, model="marian", family="marian", encoder_layers=3)
    by_hand = 4 * (S * beam * per_step + S * beam * (per_step + 12) + L * T * H + 2 * 3 * NH * T * T)
    assert budget.request_bytes(marian, T, beam) == by_hand + budget.OVERHEAD
