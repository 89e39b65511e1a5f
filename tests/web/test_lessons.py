"""Each lesson's claim, checked against what the bundled checkpoint actually does.

The checks are written here from the lesson's text, on the model's raw output (tokens, attention,
encoder states), not with the page's code: a lesson whose checkpoint stops showing what the text
says fails here.
"""

from __future__ import annotations

import numpy as np
import pytest

import s2s
from s2s import evaluate, tasks
from s2s.web import compare, lessons, notes
from s2s.web.runs import Settings


def run(settings):
    model = s2s.load(settings.checkpoint)
    return model.translate(settings.text, mask=settings.mask, reference=settings.reference or None,
                           teacher_forcing=settings.ratio if settings.forcing else 0.0)


def test_every_lesson_sets_an_installed_checkpoint_and_runs():
    assert [lesson.key for lesson in lessons.LESSONS] == ["aligns", "why", "forcing", "causal", "matrix", "query",
                                                          "heads", "unmasked"]
    for lesson in lessons.LESSONS:
        assert lessons.lesson(lesson.key) is lesson
        for settings in (lesson.a, lesson.b):
            if settings is not None:
                assert run(settings).output_pieces


def test_1_the_year_is_written_first_and_read_last():
    r = run(lessons.BY_KEY["aligns"].a)
    assert r.text == "1999-06-21"
    june = r.source_pieces.index("▁June")
    year = [j for j, piece in enumerate(r.source_pieces) if j > june and piece.lstrip("▁").isdigit()]
    assert [r.source_pieces[j] for j in year] == ["1", "9", "9", "9"]
    looked_at = r.attention.mean(0)[:4].argmax(-1)  # the four year rows, mean of layers (what the lesson shows)
    assert set(looked_at) <= set(year), "the year rows look at the year"
    assert min(year) > len(r.source_pieces) // 2, "the year is at the right end of the input"


def test_2_attention_wins_on_long_inputs_by_50_points():
    lesson = lessons.BY_KEY["why"]
    assert run(lesson.a).text == lesson.a.reference
    assert run(lesson.b).text != lesson.b.reference
    pairs = [p for p in tasks.TASKS["reverse"].generate(600, seed=99) if 20 <= len(p[0].split()) <= 30][:120]
    with_attention = evaluate.evaluate(s2s.load("reverse"), pairs, alignment=False)["exact_match"]
    without = evaluate.evaluate(s2s.load("reverse-noattn"), pairs, alignment=False)["exact_match"]
    assert with_attention - without >= 0.5


def test_3_forcing_hides_errors_that_free_decoding_piles_up():
    lesson = lessons.BY_KEY["forcing"]
    forced, free = run(lesson.a), run(lesson.b)
    reference = forced.reference_pieces
    forced_right = np.mean([o == r for o, r in zip(forced.output_pieces, reference)])
    free_right = np.mean([o == r for o, r in zip(free.output_pieces, reference)])
    assert forced.forced[1:].all()
    assert forced_right >= 0.85 and forced_right >= free_right + 0.15
    assert free.text != lesson.b.reference


def test_4_a_causal_mask_hides_the_future_and_the_year_is_lost():
    lesson = lessons.BY_KEY["causal"]
    both, causal = run(lesson.a), run(lesson.b)
    assert both.text == lesson.a.reference and causal.text != lesson.a.reference

    def future(r):  # (S, T): the source pieces after step t
        steps, width = r.attention.shape[1:]
        return np.arange(width)[None, :] > np.arange(steps)[:, None]

    assert (causal.attention[:, future(causal)] == 0).all()
    assert (both.attention[:, future(both)] > 0.01).any()


def test_5_the_context_is_the_weights_times_the_encoder_states():
    lesson = lessons.BY_KEY["matrix"]
    r = run(lesson.a)
    layer = int(lesson.layer)
    for step in range(len(r.output_pieces)):
        w, values = r.attention[layer, step].astype(np.float64), r.encoder_states[layer].astype(np.float64)
        context = sum(w[j] * values[j] for j in range(len(w)))  # Σ_j w_j v_j, term by term
        np.testing.assert_allclose(context, r.contexts[layer, step], atol=1e-5)
        np.testing.assert_allclose(w @ values, context, atol=1e-9)  # = the matrix product w V


def test_6_the_notebooks_query_repeats_rows_for_a_repeated_fed_piece():
    lesson = lessons.BY_KEY["query"]
    r = run(lesson.a)
    assert lesson.rows_by_fed
    fed = r.decoder_inputs
    pairs = [(s, t) for s in range(len(fed)) for t in range(s + 1, len(fed)) if fed[s] == fed[t]]
    assert len(pairs) >= 4, "the date repeats fed pieces"
    for s, t in pairs:
        np.testing.assert_allclose(r.attention[:, s], r.attention[:, t], atol=1e-6)
    # the standard query (dates) knows where it is: the same fed pieces give different rows
    standard = s2s.load("dates").translate(lesson.a.text)
    assert standard.decoder_inputs == fed
    assert max(np.abs(standard.attention[:, s] - standard.attention[:, t]).max() for s, t in pairs) > 0.05


def year_rows_on_their_digit(cross: np.ndarray, source: list[str]) -> np.ndarray:
    """(..., ) the mean weight rows 0-3 (the year, written first) give the year's t-th digit, read off the pieces."""
    digits = [j for j, piece in enumerate(source) if piece.lstrip("▁").isdigit()]
    year = next(digits[i] for i in range(len(digits) - 3) if digits[i + 3] - digits[i] == 3 and i + 4 == len(digits))
    return np.mean([cross[..., t, year + t] for t in range(4)], axis=0)


def test_7_heads_read_the_year_differently_and_their_mean_blurs_it():
    lesson = lessons.BY_KEY["heads"]
    r = run(lesson.a)
    assert r.text == "1999-06-21" and r.family == "transformer"
    on_digit = year_rows_on_their_digit(r.heads["cross"], r.source_pieces)  # (L, NH)
    assert on_digit[0, 3] >= 0.6 and on_digit[0, 2] <= 0.4  # digit by digit; spread over the year
    assert on_digit[0, 2] < year_rows_on_their_digit(r.heads["cross"].mean(1), r.source_pieces)[0] < on_digit[0, 3]
    steps = len(r.output_pieces)  # the decoder's self-attention: each row reads what was fed before it
    future = np.triu(np.ones((steps, steps), bool), k=1)
    assert (r.heads["decoder_self"][..., future] == 0).all()


def test_8_a_decoder_trained_without_the_causal_mask_reads_the_future_when_forced_and_fails_alone():
    lesson = lessons.BY_KEY["unmasked"]
    forced, free = run(lesson.a), run(lesson.b)
    assert forced.text == lesson.a.reference and free.text != lesson.b.reference
    steps = len(forced.output_pieces)
    future = np.triu(np.ones((steps, steps), bool), k=1)
    looked_ahead = forced.heads["decoder_self"][..., future].sum(-1) / steps  # (L, NH): weight a row puts ahead
    assert looked_ahead.mean() > 0.3, looked_ahead


def test_an_unknown_lesson_is_a_message():
    with pytest.raises(ValueError, match="Unknown lesson"):
        lessons.lesson("nope")


def test_the_forcing_preset_on_an_input_the_model_gets_right_says_why_the_difference_is_blank():
    """On the bundled dates model the preset "forcing on vs off" drew a blank A − B and said nothing
    (walk-through of 2026-11-29): the model writes the reference, so forcing feeds what it would feed itself."""
    from s2s.web import compare, runs

    current = runs.Settings("3 March 2021", "dates", reference="2021-03-03")
    chosen = compare.preset("forcing", current)
    compared = compare.compare(chosen.a, chosen.b)
    ra, rb = compared.kept.results
    assert ra.text == rb.text == "2021-03-03" and np.abs(ra.attention - rb.attention).max() < compare.ALIKE
    assert "A − B is blank" in compared.summary and "wrote the reference at every step" in compared.summary
    causal = compare.compare(current, compare.preset("mask", current).b)
    assert "A − B is blank" not in causal.summary


def test_input_a_checkpoint_never_saw_is_pointed_out():
    """`le chat noir` on toy-fr gave "une souris porte le chien et le chien", and `hello world` on reverse
    "d l r o l o l e h", with no word of warning (walk-through of 2026-11-29)."""
    def said(text, name):
        return notes.input_notes(s2s.load(name).translate(text), name)

    assert "never saw le, chat, noir" in said("le chat noir", "toy-fr")
    assert "never saw" not in said("the black cat", "toy-fr")
    assert "letters separated by spaces" in said("hello world", "reverse")


def test_a_piece_is_fed_as_the_tables_spell_it():
    """Lesson 3's table shows "·f"; typing it was refused ("not a piece this checkpoint writes")."""
    from s2s import viz
    from s2s.web import runs, views

    settings = runs.Settings("the black cat", "toy-fr")
    shown = runs.run(settings)
    assert shown.decoder_inputs[2] == "▁chat" and viz.display_piece("▁chat") == "·chat"
    for typed in ("·chat", "▁chat"):  # as the table spells it, and as sentencepiece does
        same = views.intervene(settings, shown, 2, typed)
        assert same.result is not None and "Step 2 was already fed <code>·chat</code>" in same.status, same.status
    other = views.intervene(settings, shown, 2, "·souris")
    assert other.result.decoder_inputs[2] == "▁souris" and "instead of <code>·chat</code>" in other.status


@pytest.mark.parametrize("lesson", lessons.LESSONS, ids=lambda lesson: lesson.key)
def test_opening_a_lesson_sets_what_its_data_says(lesson):
    """open_lesson read against the Lesson's own fields, written out: the runs, the tab, the display, the text."""
    opened = lessons.open_lesson(lesson.key)
    assert opened.preset.a == lesson.a and opened.preset.text == lesson.a.text
    assert opened.preset.b == (lesson.b or lesson.a) and opened.compares == (lesson.b is not None)
    assert opened.tab == ("compare" if lesson.show == lessons.COMPARE else "explore")
    assert opened.display == [name for name, on in (("scale each row to its largest weight", lesson.row_scale),
                                                    ("label rows by the piece fed in", lesson.rows_by_fed)) if on]
    assert opened.layer == lesson.layer and opened.layer in [value for _, value in opened.layers]
    assert opened.text.startswith(f"**{lesson.title}.**") and lesson.look in opened.text


def test_an_unknown_lesson_is_refused_in_words():
    with pytest.raises(ValueError, match="Unknown lesson 'nope': choose one of aligns"):
        lessons.open_lesson("nope")


@pytest.mark.parametrize("spec", ["dates", "reverse", "toy-fr", "dates-transformer", "reverse-noattn"])
def test_the_forcing_preset_shows_forcing_s_point_on_each_bundled_checkpoint(spec):
    """On a typed date with no reference, "Teacher forcing on vs off" used to put `3 March 2021` and its reference
    in, which dates gets right: the two runs were the same and the difference blank (issue 22, item 7). Now the
    two runs differ, checked by running both with s2s.load, and the preset says why it changed the text."""
    preset = compare.preset("forcing", Settings("4 May 1999", spec))
    forced, free = run(preset.a), run(preset.b)
    assert preset.a.forcing and not preset.b.forcing and preset.reference
    assert forced.output_pieces != free.output_pieces  # forcing corrected something the free run got wrong
    assert free.text != preset.reference  # the free run is wrong, which is what forcing is shown against
    assert "“4 May 1999” has none" in preset.note
