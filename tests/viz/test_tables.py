"""Each step as a row (s2s/viz/tables.py): the forcing and n-best tables, probabilities as text, and the steps
table that a model without attention shows in the heatmap's place."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from s2s import checkpoint, viz
from tests.viz.conftest import DATE


def test_forcing_table(forced, plain):
    rows = viz.forcing_table(forced)
    assert len(rows) == len(forced.output_pieces) and all(len(row) == len(viz.FORCING_COLUMNS) for row in rows)
    for t, row in enumerate(rows):
        assert row[0] == t and row[1] == viz.display_piece(forced.decoder_inputs[t], escape=False)
        assert row[2] == ("yes" if forced.forced[t] else "no")
        assert float(row[4]) == pytest.approx(float(forced.probs[t]), rel=0.02, abs=1e-4)
        assert row[5] == viz.display_piece(forced.reference_pieces[t], escape=False)
        assert float(row[6]) == pytest.approx(float(forced.reference_probs[t]), rel=0.02, abs=1e-4)
        assert row[7] == ("✓" if forced.output_pieces[t] == forced.reference_pieces[t] else "✗")
    assert rows[1][1] == "2"  # step 1 was fed the reference's first piece
    free = viz.forcing_table(plain)
    assert all(row[5:] == ["", "", "", ""] for row in free)  # no reference, and the model's own end is the last step


def test_forcing_table_marks_the_steps_after_the_models_end(after_end):
    rows = viz.forcing_table(after_end)
    assert viz.FORCING_COLUMNS[-1] == "after end"
    assert [row[-1] for row in rows] == ["yes" if t >= 5 else "" for t in range(len(rows))]


def test_probabilities_stay_readable_when_tiny(forced):
    assert [viz.probability_text(p) for p in (0.97314, 1e-4, 3.2e-7, 0.0)] == ["0.9731", "0.0001", "3.2e-07", "0.0000"]
    tiny_ref = dataclasses.replace(forced, reference_probs=np.full(len(forced.output_pieces), 3.2e-7, np.float32))
    assert {row[6] for row in viz.forcing_table(tiny_ref)} == {"3.2e-07"}  # was round(…, 4) == 0


def test_nbest_table(tiny, plain):
    beam = tiny.translate(DATE, beam_size=3)
    rows = viz.nbest_table(beam)
    assert [row[0] for row in rows] == list(range(1, len(beam.hypotheses) + 1))
    scores = [float(row[2]) for row in rows]
    assert scores == sorted(scores, reverse=True) and all(len(row[2].split(".")[1]) == 4 for row in rows)
    assert all(len(row) == len(viz.NBEST_COLUMNS) for row in rows)
    assert viz.nbest_table(plain) == [[1, plain.text, f"{plain.mean_log_prob:.4f}", len(plain.output_pieces)]]
    assert [float(row[2]) for row in rows] == pytest.approx([h.mean_log_prob for h in beam.hypotheses], abs=5e-5)


# --- models without attention ----------------------------------------------------------------------


def test_edm_is_handled_everywhere(make_checkpoint, plain):
    r = checkpoint.load(make_checkpoint(model="edm"), device="cpu").translate(DATE)
    assert r.attention.shape == (0, len(r.output_pieces), len(r.source_pieces))
    for fig in (viz.layer_grid(r), viz.difference(r, r), viz.difference(plain, r)):
        assert not fig.data and "no attention" in fig.layout.annotations[0].text.replace("<br>", " ")  # wrapped to fit
    table = viz.heatmap(r, step=2)  # in the heatmap's place: the steps, up to the one shown
    step, fed, wrote, wanted, marks = table.data[0].cells.values
    assert table.data[0].type == "table" and "No attention" in table.layout.title.text
    assert list(step) == ["0", "1", "2"] and list(wanted) == list(marks) == ["", "", ""]  # no reference
    assert list(fed) == [viz.display_piece(p, escape=False) for p in r.decoder_inputs[:3]]
    assert list(wrote) == [viz.display_piece(p, escape=False) for p in r.output_pieces[:3]]
    assert "no attention" in viz.step_math(r, 0)
    assert "no attention" in viz.step_figure(r, 0).layout.annotations[0].text.replace("<br>", " ")
    assert json.loads(viz.attention_json(r))["attention"] == []
    assert len(viz.forcing_table(r)) == len(r.output_pieces)
    with pytest.raises(ValueError, match="no attention"):
        viz.attention_csv(r)


def test_the_steps_of_a_model_without_attention_mark_forcing_and_mistakes(make_checkpoint):
    """Exposure bias without a heatmap: ▸ where the reference was fed, a red ✗ where the piece written is not
    the reference's (lesson 3 showed two empty boxes)."""
    model = checkpoint.load(make_checkpoint(model="edm"), device="cpu")
    r = model.translate(DATE, reference="2021-03-03", teacher_forcing=0.5, seed=4)
    _, fed, wrote, wanted, marks = (list(c) for c in viz.heatmap(r).data[0].cells.values)
    wrong = [t for t, (a, b) in enumerate(zip(r.output_pieces, r.reference_pieces)) if a != b]
    assert [t for t, m in enumerate(marks) if m == "✗"] == wrong and wrong
    assert [t for t, piece in enumerate(fed) if piece.startswith("▸ ")] == [t for t, f in enumerate(r.forced) if f]
    colours = viz.heatmap(r).data[0].cells.font.color[2]
    assert [t for t, c in enumerate(colours) if c == viz.MISMATCH_COLOR] == wrong
    free = model.translate(DATE)  # no reference of its own: the one given is used
    given = [*free.output_pieces[:4], "Ω"]  # its first four pieces, then one it did not write
    marks = list(viz.steps_table(free, reference=given).data[0].cells.values[4])
    assert marks == ["✓"] * 4 + ["✗"] + [""] * (len(free.output_pieces) - 5)
