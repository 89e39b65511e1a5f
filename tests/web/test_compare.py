"""s2s.web.examples and s2s.web.compare: one-click examples, presets, and two runs side by side."""

from __future__ import annotations

import numpy as np
import pytest

from s2s import checkpoint
from s2s.web import compare, examples, models
from tests.conftest import web_settings

pytestmark = pytest.mark.usefixtures("bundled")  # tiny checkpoints only (tests/conftest.py)
settings = web_settings


# --- examples, presets, compare, export -----------------------------------------------------------


def test_examples_cover_each_task_with_its_own_checkpoint():
    rows = examples.examples()
    assert {row[2] for row in rows} == {"dates", "reverse"}  # toy-fr: no checkpoint, no examples
    assert ["3 March 2021", "2021-03-03", "dates"] in rows
    assert all(len(row) == 3 and row[0] and row[1] for row in rows)
    assert [row[2] for row in rows[:4]] == ["dates", "reverse", "dates", "reverse"]  # the tasks take turns


def test_an_example_is_found_by_its_source():
    assert examples.example("3 March 2021") == ["3 March 2021", "2021-03-03", "dates"]
    with pytest.raises(ValueError, match="not installed"):
        examples.example("le chat noir")


def test_a_space_listing_an_english_opus_model_opens_with_bahdanau_s_sentence_for_it(monkeypatch):
    """Issue 24: a preset lecturers can use on a Space. Listing Helsinki-NLP/opus-mt-en-fr puts the sentence of
    Bahdanau et al.'s Figure 3, with its French as the reference, first among the examples; known from the
    repo's name, so no model is loaded to open the page."""
    monkeypatch.setattr(models, "get_model", lambda spec: pytest.fail(f"loaded {spec} to list the examples"))
    monkeypatch.setenv("S2S_HUB_CHECKPOINTS", "org/other,Helsinki-NLP/opus-mt-en-fr@main,Helsinki-NLP/opus-mt-en-de")
    first = examples.examples()[0]
    assert first == ["The agreement on the European Economic Area was signed in August 1992.",
                     "L'accord sur la zone économique européenne a été signé en août 1992.",
                     "Helsinki-NLP/opus-mt-en-fr@main"]
    assert examples.example(first[0]) == first
    monkeypatch.setenv("S2S_HUB_CHECKPOINTS", "Helsinki-NLP/opus-mt-en-de")
    assert examples.examples()[0][1:] == ["", "Helsinki-NLP/opus-mt-en-de"]  # no French reference for German
    monkeypatch.setenv("S2S_HUB_CHECKPOINTS", "Helsinki-NLP/opus-mt-fr-en")
    assert examples.examples()[0][2] != "Helsinki-NLP/opus-mt-fr-en"  # its source is French: no English preset


def test_examples_prefer_a_checkpoint_with_attention(bundled, tmp_path, monkeypatch):
    only = tmp_path / "checkpoints"
    for name in ("reverse-noattn", "reverse-x"):
        (only / name).mkdir(parents=True)
        (only / name / "config.json").write_text((bundled / "reverse" / "config.json").read_text())
    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", only)
    assert {row[2] for row in examples.examples()} == {"reverse-x"}


def test_presets():
    mask = compare.preset("mask", settings(mask="causal"))
    assert (mask.a.mask, mask.b.mask, mask.a.checkpoint, mask.b.checkpoint) == ("bidirectional", "causal", "dates",
                                                                                "dates")
    forcing = compare.preset("forcing", settings(reference=""))
    assert forcing.reference == "2021-03-03" and forcing.a.forcing and forcing.a.ratio == 1.0
    assert not forcing.b.forcing
    typed = compare.preset("forcing", settings(text="4 May 1999", reference="1999-05-04"))
    assert (typed.text, typed.reference, typed.note) == ("4 May 1999", "1999-05-04", "")  # the visitor's own pair
    attention = compare.preset("attention", settings())
    assert (attention.a.checkpoint, attention.b.checkpoint) == ("reverse", "reverse-noattn")
    assert attention.text == "l e a r n i n g t o a l i g n a n d t r a n s l a t e"
    with pytest.raises(ValueError, match="Unknown comparison"):
        compare.preset("nope", settings())


def test_the_attention_preset_says_what_is_missing(monkeypatch, bundled, tmp_path):
    only = tmp_path / "checkpoints"
    (only / "dates").mkdir(parents=True)
    (only / "dates" / "config.json").write_text((bundled / "dates" / "config.json").read_text())
    monkeypatch.setattr(checkpoint, "BUNDLED_DIR", only)
    with pytest.raises(ValueError, match="reverse and reverse-noattn are not installed"):
        compare.preset("attention", settings())


def test_compare_plots_both_runs_and_their_difference():
    compared = compare.compare(settings(), settings(mask="causal"))
    ra, rb = compared.kept.results
    assert compared.kept.names == ("dates", "dates")
    diff = np.array(compared.difference.data[0].z, dtype=float)
    expected = _padded(ra.attention.mean(0), len(diff)) - _padded(rb.attention.mean(0), len(diff))
    assert np.allclose(diff, expected, equal_nan=True, atol=1e-6)
    assert compared.labels == ("A: dates, bidirectional", "B: dates, causal")
    assert ra.text in compared.summary
    assert "B: mask mismatch</b>: trained <b>bidirectional</b>, run <b>causal" in compared.summary  # one line
    view = compare.compare_view(compared.kept, presenter=True)
    assert view.a.layout.font.size > compared.a.layout.font.size
    # one colour scale for both, topped at their largest weight (up to the next 0.05): maps of spread-out
    # weights were nearly white on 0..1 (lesson 4)
    spread = compare.compare(settings(), settings(seed=1))  # both bidirectional: no weight of 1
    ra, rb = spread.kept.results
    peak = max(ra.attention.mean(0).max(), rb.attention.mean(0).max())
    top = spread.a.data[0].zmax
    assert peak < 0.9 and top == spread.b.data[0].zmax and peak <= top < peak + 0.05 + 1e-6
    assert round(top * 20, 6).is_integer()
    layer_1 = compare.compare_view(spread.kept, layer="1")
    assert max(ra.attention[1].max(), rb.attention[1].max()) <= layer_1.a.data[0].zmax <= 1


def _padded(weights: np.ndarray, steps: int) -> np.ndarray:
    out = np.full((steps, weights.shape[1]), np.nan)
    out[: len(weights)] = weights
    return out


def test_compare_says_which_run_failed_and_handles_a_model_without_attention():
    failed = compare.compare(settings(), settings(checkpoint="nothere"))
    assert failed.kept is None and failed.a is None and "Run B" in failed.summary
    noattn = compare.compare(settings("a b c", checkpoint="reverse"), settings("a b c", checkpoint="reverse-noattn"))
    assert noattn.a is not None and noattn.difference is not None  # a message figure: nothing to compare
    assert noattn.b.data[0].type == "table" and noattn.a.data[0].zmax >= noattn.kept.results[0].attention.mean(0).max()
    assert "reverse-noattn" in noattn.summary


def test_replotting_a_comparison_never_loads_a_model(monkeypatch):
    """The run without attention is checked against the reference in its own pieces, made when it ran: re-plotting
    (another layer, presenter mode) loaded the model again, and lost the comparison if it had gone (2026-11-29)."""
    run = settings("a b c", checkpoint="reverse-noattn", reference="c b a")
    compared = compare.compare(settings("a b c", checkpoint="reverse", reference="c b a"), run)
    marks = list(compared.b.data[0].cells.values[4])
    assert compared.kept.reference_pieces[0] is None and marks and all(m in ("✓", "✗", "") for m in marks)
    assert marks[: len(compared.kept.reference_pieces[1])].count("") == 0  # every step with a reference is marked
    monkeypatch.setattr(models, "get_model", lambda *a, **k: pytest.fail("a model was loaded to re-plot"))
    again = compare.compare_view(compared.kept, layer="1", presenter=True)
    assert list(again.b.data[0].cells.values[4]) == marks and again.kept is compared.kept


@pytest.mark.parametrize("written, verdict", [
    ("a b c", " ✓ matches the reference"),
    ("abc", " ✓ matches the reference apart from spacing"),
    ("a b", " ✗ 2 of 3 characters right (spaces aside); it stops 1 character(s) short"),
    ("a b c d", " ✗ 3 of 4 characters right (spaces aside); it writes 1 character(s) more: <code>d</code>"),
    ("a x c", " ✗ 2 of 3 characters right (spaces aside); the first wrong is character 2: <code>xc</code> where the "
              "reference has <code>bc</code>"),
])
def test_the_verdict_counts_characters_and_says_where_it_goes_wrong(written, verdict):
    """It said "10 of 10 right; the first wrong is character 11" when only spacing or the tail differed."""
    from types import SimpleNamespace

    assert compare.verdict(SimpleNamespace(text=written), "a b c") == verdict


def test_compare_follows_the_row_scaling_option():
    """Lesson 4's map A spreads its weights thin (0.15-0.3): scaled per row, each row's peak is darkest."""
    from s2s import viz

    compared = compare.compare(settings(), settings(mask="causal"), row_scale=True)
    for figure, r in zip((compared.a, compared.b), compared.kept.results):
        z = np.array(figure.data[0].z, dtype=float)
        np.testing.assert_allclose(np.nanmax(z, 1), 1.0, atol=1e-6)
        np.testing.assert_allclose(z, r.attention.mean(0) / r.attention.mean(0).max(1, keepdims=True), atol=1e-5)
        assert figure.data[0].colorbar.title.text == viz.ROW_SCALED_TITLE
    assert compare.compare_view(compared.kept).a.data[0].colorbar.title.text == viz.WEIGHT_TITLE

