"""Figures, tables and exports of a Translation: labels, marks, escaping, numbers and sizes."""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
import re

import numpy as np
import pytest

from s2s import checkpoint, viz
from s2s.translator import Translation

DATE = "3 March 2021"
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def forced(tiny) -> Translation:
    return tiny.translate(DATE, reference="2021-03-03", teacher_forcing=1.0)


def synthetic(steps: int = 20, width: int = 20, layers: int = 2, hidden: int = 8) -> Translation:
    """A Translation of any size with random attention (the tiny checkpoint outputs at most 16 steps)."""
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(layers, steps, width)).astype(np.float32)
    weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    zeros = np.zeros((layers, steps, hidden), np.float32)
    return Translation(
        source_text="x", source_tokens=[f"▁s{j}" for j in range(width)],
        decoder_inputs=["<s>"] + [f"o{i}" for i in range(steps - 1)], output_tokens=[f"o{i}" for i in range(steps)],
        text="", attention=weights, scores=scores, probs=np.ones(steps, np.float32), forced=np.zeros(steps, bool),
        queries=zeros, contexts=zeros.copy(), encoder_states=np.zeros((layers, width, hidden), np.float32),
        log_prob=0.0,
        mask="bidirectional", teacher_forcing=0.0, seed=0, beam_size=1, score_function="scaled_dot", query="state",
        trained_mask="bidirectional",
    )


def strings(node) -> list[str]:
    """Every string in decoded JSON: what the browser gets (to_json writes "<" as \\u003c)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return []


def z_of(fig) -> np.ndarray:
    return np.asarray(fig.data[0].z, dtype=np.float64)


# --- pieces -----------------------------------------------------------------------------------------


def test_display_piece_is_readable_distinct_and_escaped():
    assert viz.display_piece("▁March") == "·March"
    assert viz.display_piece("March") == "March"  # distinct from the word-start piece
    assert viz.display_piece("▁") == "␣"
    assert viz.display_piece("</s>") == "⟨eos⟩" and viz.display_piece("<s>") == "⟨bos⟩"
    assert viz.display_piece("<0xF0>", escape=False) == "<0xF0>"
    assert viz.display_piece("<0xF0>") == "&lt;0xF0&gt;"
    assert viz.display_piece(HOSTILE) == "&lt;img src=x onerror=alert(1)&gt;"


# --- heatmap ------------------------------------------------------------------------------------------


def test_heatmap_axes_are_positional_with_the_pieces_as_labels(plain):
    fig = viz.heatmap(plain)
    steps, width = len(plain.output_tokens), len(plain.source_tokens)
    assert z_of(fig).shape == (steps, width)
    np.testing.assert_allclose(z_of(fig), plain.attention.mean(0), rtol=1e-6)
    assert list(fig.layout.xaxis.ticktext) == [viz.display_piece(p) for p in plain.source_tokens]
    assert list(fig.layout.yaxis.ticktext) == [viz.display_piece(p) for p in plain.output_tokens]
    assert list(fig.layout.xaxis.tickvals) == list(range(width))
    assert list(fig.layout.yaxis.tickvals) == list(range(steps))
    assert list(fig.data[0].x) == list(range(width)) and list(fig.data[0].y) == list(range(steps))
    assert fig.layout.yaxis.autorange == "reversed"
    assert (fig.data[0].zmin, fig.data[0].zmax) == (0, 1)
    assert not fig.frames and len(fig.data) == 1 and not fig.layout.shapes


def test_repeated_pieces_keep_their_own_positions(forced):
    # "2021-03-03": three "0"s and two "3"s among the outputs; "2" twice among the source pieces
    r = dataclasses.replace(forced, output_tokens=forced.reference_tokens)
    fig = viz.heatmap(r)
    labels = [re.sub(r"<[^>]+>|[▸ ]", "", t) for t in fig.layout.yaxis.ticktext]  # drop the forcing mark
    zeros = [i for i, label in enumerate(labels) if label == "0"]
    assert len(zeros) == 3
    assert z_of(fig).shape[0] == len(r.reference_tokens)
    twos = [j for j, label in enumerate(fig.layout.xaxis.ticktext) if label == "2"]
    assert twos == [3, 5]
    np.testing.assert_allclose(z_of(fig)[:, 3], r.attention.mean(0)[:, 3], rtol=1e-6)
    np.testing.assert_allclose(z_of(fig)[:, 5], r.attention.mean(0)[:, 5], rtol=1e-6)


def test_hover_holds_pieces_and_raw_scores(plain):
    fig = viz.heatmap(plain, layer=1)
    trace = fig.data[0]
    for name in ("customdata[0]", "customdata[1]", "customdata[2]", "z:"):
        assert name in trace.hovertemplate
    for t in (0, len(plain.output_tokens) - 1):
        for j, piece in enumerate(plain.source_tokens):
            source, output, score = trace.customdata[t][j]
            assert source == viz.display_piece(piece)
            assert output == viz.display_piece(plain.output_tokens[t])
            assert float(score) == pytest.approx(float(plain.scores[1, t, j]), rel=1e-2, abs=1e-6)
    mean = viz.heatmap(plain).data[0].customdata[0][0][2]  # the mean shows every layer's score
    assert len(mean.split(", ")) == plain.num_layers


def test_layer_choice(plain):
    first, mean = z_of(viz.heatmap(plain, layer=0)), z_of(viz.heatmap(plain))
    np.testing.assert_allclose(first, plain.attention[0], rtol=1e-6)
    assert not np.allclose(first, mean)
    for bad in (2, -1, "first", True):
        with pytest.raises(ValueError, match="layer"):
            viz.heatmap(plain, layer=bad)


def test_step_reveals_rows_up_to_step_and_outlines_it(plain):
    fig = viz.heatmap(plain, step=3)
    z = z_of(fig)
    np.testing.assert_allclose(z[:4], plain.attention.mean(0)[:4], rtol=1e-6)
    assert np.isnan(z[4:]).all()
    (outline,) = fig.layout.shapes
    assert (outline.y0, outline.y1) == (2.5, 3.5)
    assert (outline.x0, outline.x1) == (-0.5, len(plain.source_tokens) - 0.5)
    last = len(plain.output_tokens) - 1
    assert not np.isnan(z_of(viz.heatmap(plain, step=999))).any()  # clamped to the last step
    assert viz.heatmap(plain, step=999).layout.shapes[0].y0 == last - 0.5
    assert viz.heatmap(plain, step=2.0).layout.shapes[0].y0 == 1.5  # a slider may send floats
    with pytest.raises(ValueError, match="step"):
        viz.heatmap(plain, step="3")


def test_causal_masked_cells_are_marked(causal, plain):
    fig = viz.heatmap(causal)
    masked = np.isneginf(causal.scores[0])
    assert masked.any() and (masked == np.isneginf(causal.scores)).all()
    overlay = np.asarray(fig.data[1].z, dtype=np.float64)
    assert (~np.isnan(overlay) == masked).all()
    assert fig.data[1].hoverinfo == "skip" and fig.data[1].showscale is False
    t, j = np.argwhere(masked)[0]
    assert "masked" in fig.data[0].customdata[t][j][2]
    assert "masked" in fig.layout.annotations[0].text
    assert len(viz.heatmap(plain).data) == 1  # nothing masked, no overlay
    step = viz.heatmap(causal, step=1)
    assert np.isnan(np.asarray(step.data[1].z, dtype=np.float64)[2:]).all()  # hidden rows hide their mask too


def test_forced_steps_and_mismatches_are_marked(forced):
    labels = viz.heatmap(forced).layout.yaxis.ticktext
    mismatch = [o != ref for o, ref in zip(forced.output_tokens, forced.reference_tokens, strict=True)]
    assert any(forced.forced) and not all(forced.forced)  # step 0 is fed BOS
    assert [viz.FORCED_MARK in label for label in labels] == list(forced.forced)
    assert [viz.MISMATCH_MARK in label for label in labels] == mismatch
    right = viz.heatmap(dataclasses.replace(forced, output_tokens=forced.reference_tokens))
    assert not any(viz.MISMATCH_MARK in label for label in right.layout.yaxis.ticktext)
    notes = viz.heatmap(forced).layout.annotations[0].text
    assert "teacher forcing" in notes and "reference" in notes


def test_html_in_pieces_is_shown_as_text(plain):
    sources = [HOSTILE, *plain.source_tokens[1:]]
    r = dataclasses.replace(plain, source_tokens=sources, output_tokens=[HOSTILE, *plain.output_tokens[1:]])
    figures = [viz.heatmap(r, title=HOSTILE), viz.heatmap(r, step=0), viz.layer_grid(r),
               viz.difference(r, r, labels=(HOSTILE, "B"))]
    for fig in figures:
        shown = strings(json.loads(fig.to_json()))
        assert not any("<img" in s for s in shown)
        assert any("&lt;img" in s for s in shown)
    assert "<img" not in viz.step_math(r, 0)


def test_presenter_mode_is_large_and_colour_blind_safe(plain):
    normal, big = viz.heatmap(plain, step=1), viz.heatmap(plain, step=1, presenter=True)
    assert big.layout.xaxis.tickfont.size >= 18 and big.layout.yaxis.tickfont.size >= 18
    assert big.layout.shapes[0].line.width > normal.layout.shapes[0].line.width
    assert big.data[0].colorscale != normal.data[0].colorscale
    assert big.data[0].colorscale == viz.heatmap(plain, presenter=True).data[0].colorscale
    assert big.layout.height > normal.layout.height


def test_heatmap_json_stays_small():
    r = synthetic(20, 20)  # 20 x 20, 2 layers
    sizes = {"mean": len(viz.heatmap(r).to_json()), "layer 0": len(viz.heatmap(r, layer=0).to_json()),
             "step 0": len(viz.heatmap(r, step=0).to_json())}
    assert sizes["mean"] < 17_000 and sizes["layer 0"] < 14_000 and sizes["step 0"] < 6_000, sizes
    data = json.loads(viz.heatmap(r).to_json())
    assert data["data"][0]["z"]["dtype"] == "f4"  # base64 float32, not a list of decimals
    assert "histogram2dcontour" not in json.dumps(data["layout"])  # no default template
    assert "frames" not in data


def test_height_grows_with_rows_but_is_capped():
    heights = [viz.heatmap(synthetic(steps, 5)).layout.height for steps in (3, 10, 200)]
    assert heights[0] < heights[1] < heights[2] == viz.PLAIN.max_height


# --- layer grid -------------------------------------------------------------------------------------


def test_layer_grid_has_every_layer_and_the_mean(causal):
    fig = viz.layer_grid(causal)
    weights = [t for t in fig.data if t.coloraxis == "coloraxis"]
    assert len(weights) == causal.num_layers + 1
    for layer, trace in enumerate(weights[:-1]):
        np.testing.assert_allclose(np.asarray(trace.z, float), causal.attention[layer], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(weights[-1].z, float), causal.attention.mean(0), rtol=1e-6)
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0, 1)
    names = [fig.layout[f"xaxis{i if i > 1 else ''}"].title.text for i in range(1, len(weights) + 1)]
    assert names == ["layer 0", "layer 1", "mean of layers"]
    assert len(fig.data) == 2 * len(weights)  # a masked overlay in every panel
    assert all(t.showscale is False for t in fig.data if t.coloraxis is None)


# --- step math --------------------------------------------------------------------------------------


def test_step_math_shows_the_recorded_numbers_and_checks_them(causal):
    layer, step = 1, 2
    md = viz.step_math(causal, step, layer)
    rows = [line for line in md.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(rows) == len(causal.source_tokens)
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
    assert viz.step_math(causal, 999, layer).startswith(f"### Step {len(causal.output_tokens) - 1} ")
    with pytest.raises(ValueError):
        viz.step_math(causal, 0, "mean")


def test_step_math_names_the_score_and_query(make_checkpoint):
    m = checkpoint.load(make_checkpoint(score="additive", query="input"), device="cpu")
    md = viz.step_math(m.translate(DATE), 1, 0, dims=3)
    assert "vᵀ tanh(W q + U k_j)" in md and "fed token alone" in md
    assert "recorded scores are shown as they are" in md and "K q" not in md.split("**Check:**")[1]


def test_step_math_is_markdown_safe(plain):
    r = dataclasses.replace(plain, source_tokens=["a|b*c_`x`", *plain.source_tokens[1:]])
    md = viz.step_math(r, 0)
    assert r"a\|b\*c\_\`x\`" in md
    table = [line for line in md.splitlines() if line.startswith("| 0 |")]
    assert len(table) == 1 and table[0].count(" | ") == 4  # the piece's "|" did not add a column


# --- difference ---------------------------------------------------------------------------------------


def test_difference_with_itself_is_zero(plain):
    fig = viz.difference(plain, plain)
    assert (z_of(fig) == 0).all()
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-1, 1)


def test_difference_bidirectional_minus_causal(plain, causal):
    fig = viz.difference(plain, causal, layer=0, labels=("bidirectional", "causal"))
    masked = np.isneginf(causal.scores[0])
    diff = z_of(fig)
    rows = min(len(plain.output_tokens), len(causal.output_tokens))
    # where causal was masked its weight is 0, so the difference is the whole bidirectional weight
    np.testing.assert_allclose(diff[:rows][masked[:rows]], plain.attention[0][:rows][masked[:rows]], rtol=1e-6)
    assert (diff[:rows][masked[:rows]] > 0).all()
    assert list(fig.data[0].meta) == ["bidirectional", "causal"] and "%{meta[1]}" in fig.data[0].hovertemplate


def test_difference_pads_the_shorter_output(plain):
    short = dataclasses.replace(plain, output_tokens=plain.output_tokens[:5], attention=plain.attention[:, :5],
                                scores=plain.scores[:, :5])
    fig = viz.difference(plain, short)
    diff = z_of(fig)
    assert diff.shape == (len(plain.output_tokens), len(plain.source_tokens))
    assert (diff[:5] == 0).all() and np.isnan(diff[5:]).all()
    assert fig.layout.yaxis.ticktext[7] == f"{viz.display_piece(plain.output_tokens[7])} / (ended)"  # not "–": a piece
    assert fig.layout.yaxis.ticktext[0] == viz.display_piece(plain.output_tokens[0])


def test_difference_refuses_different_sources(plain, tiny):
    with pytest.raises(ValueError, match="different source pieces"):
        viz.difference(plain, tiny.translate("4 May 1999"))


# --- models without attention ----------------------------------------------------------------------


def test_edm_is_handled_everywhere(make_checkpoint, plain):
    r = checkpoint.load(make_checkpoint(model="edm"), device="cpu").translate(DATE)
    assert r.attention.shape == (0, len(r.output_tokens), len(r.source_tokens))
    for fig in (viz.layer_grid(r), viz.difference(r, r), viz.difference(plain, r)):
        assert not fig.data and "no attention" in fig.layout.annotations[0].text.replace("<br>", " ")  # wrapped to fit
    table = viz.heatmap(r, step=2)  # in the heatmap's place: the steps, up to the one shown
    step, fed, wrote, wanted, marks = table.data[0].cells.values
    assert table.data[0].type == "table" and "No attention" in table.layout.title.text
    assert list(step) == ["0", "1", "2"] and list(wanted) == list(marks) == ["", "", ""]  # no reference
    assert list(fed) == [viz.display_piece(p, escape=False) for p in r.decoder_inputs[:3]]
    assert list(wrote) == [viz.display_piece(p, escape=False) for p in r.output_tokens[:3]]
    assert "no attention" in viz.step_math(r, 0)
    assert json.loads(viz.attention_json(r))["attention"] == []
    assert len(viz.forcing_table(r)) == len(r.output_tokens)
    with pytest.raises(ValueError, match="no attention"):
        viz.attention_csv(r)


def test_the_steps_of_a_model_without_attention_mark_forcing_and_mistakes(make_checkpoint):
    """Exposure bias without a heatmap: ▸ where the reference was fed, a red ✗ where the piece written is not
    the reference's (lesson 3 showed two empty boxes)."""
    model = checkpoint.load(make_checkpoint(model="edm"), device="cpu")
    r = model.translate(DATE, reference="2021-03-03", teacher_forcing=0.5, seed=4)
    _, fed, wrote, wanted, marks = (list(c) for c in viz.heatmap(r).data[0].cells.values)
    wrong = [t for t, (a, b) in enumerate(zip(r.output_tokens, r.reference_tokens)) if a != b]
    assert [t for t, m in enumerate(marks) if m == "✗"] == wrong and wrong
    assert [t for t, piece in enumerate(fed) if piece.startswith("▸ ")] == [t for t, f in enumerate(r.forced) if f]
    colours = viz.heatmap(r).data[0].cells.font.color[2]
    assert [t for t, c in enumerate(colours) if c == viz.MISMATCH_COLOR] == wrong
    free = model.translate(DATE)  # no reference of its own: the one given is used
    given = [*free.output_tokens[:4], "Ω"]  # its first four pieces, then one it did not write
    marks = list(viz.steps_table(free, reference=given).data[0].cells.values[4])
    assert marks == ["✓"] * 4 + ["✗"] + [""] * (len(free.output_tokens) - 5)


# --- tables -------------------------------------------------------------------------------------------


def test_forcing_table(forced, plain):
    rows = viz.forcing_table(forced)
    assert len(rows) == len(forced.output_tokens) and all(len(row) == len(viz.FORCING_COLUMNS) for row in rows)
    for t, row in enumerate(rows):
        assert row[0] == t and row[1] == viz.display_piece(forced.decoder_inputs[t], escape=False)
        assert row[2] == ("yes" if forced.forced[t] else "no")
        assert float(row[4]) == pytest.approx(float(forced.probs[t]), rel=0.02, abs=1e-4)
        assert row[5] == viz.display_piece(forced.reference_tokens[t], escape=False)
        assert float(row[6]) == pytest.approx(float(forced.reference_probs[t]), rel=0.02, abs=1e-4)
        assert row[7] == ("✓" if forced.output_tokens[t] == forced.reference_tokens[t] else "✗")
    assert rows[1][1] == "2"  # step 1 was fed the reference's first piece
    free = viz.forcing_table(plain)
    assert all(row[5:] == ["", "", "", ""] for row in free)  # no reference, and the model's own end is the last step


def test_probabilities_stay_readable_when_tiny(forced):
    assert [viz.probability_text(p) for p in (0.97314, 1e-4, 3.2e-7, 0.0)] == ["0.9731", "0.0001", "3.2e-07", "0.0000"]
    tiny_ref = dataclasses.replace(forced, reference_probs=np.full(len(forced.output_tokens), 3.2e-7, np.float32))
    assert {row[6] for row in viz.forcing_table(tiny_ref)} == {"3.2e-07"}  # was round(…, 4) == 0


def test_nbest_table(tiny, plain):
    beam = tiny.translate(DATE, beam_size=3)
    rows = viz.nbest_table(beam)
    assert [row[0] for row in rows] == list(range(1, len(beam.hypotheses) + 1))
    scores = [float(row[2]) for row in rows]
    assert scores == sorted(scores, reverse=True) and all(len(row[2].split(".")[1]) == 4 for row in rows)
    assert all(len(row) == len(viz.NBEST_COLUMNS) for row in rows)
    assert viz.nbest_table(plain) == [[1, plain.text, f"{plain.score:.4f}", len(plain.output_tokens)]]
    assert [float(row[2]) for row in rows] == pytest.approx([h.score for h in beam.hypotheses], abs=5e-5)


# --- exports ------------------------------------------------------------------------------------------


def test_csv_round_trips_with_the_heatmap_labels(plain):
    r = dataclasses.replace(plain, source_tokens=['a,"b"', *plain.source_tokens[1:]])
    rows = list(csv.reader(io.StringIO(viz.attention_csv(r, layer=1))))
    assert rows[0] == ["output \\ source", *(viz.display_piece(p, escape=False) for p in r.source_tokens)]
    assert [row[0] for row in rows[1:]] == [viz.display_piece(p, escape=False) for p in r.output_tokens]
    fig = viz.heatmap(r, layer=1)  # the axis labels, once plotly has decoded their entities
    assert rows[0][1:] == [html.unescape(label) for label in fig.layout.xaxis.ticktext]
    assert "·March" in rows[0] and rows[0][-1] == "⟨eos⟩"
    np.testing.assert_allclose(np.array([row[1:] for row in rows[1:]], float), r.attention[1], rtol=1e-5)


def test_attention_json(causal):
    data = json.loads(viz.attention_json(causal))
    scores = np.array([[[np.nan if v is None else v for v in row] for row in layer] for layer in data["scores"]])
    assert (np.isnan(scores) == np.isneginf(causal.scores)).all()
    np.testing.assert_allclose(np.array(data["attention"]), causal.attention, rtol=1e-6)
    assert data["source_tokens"] == causal.source_tokens and data["output_tokens"] == causal.output_tokens
    assert data["settings"]["mask"] == "causal" and data["settings"]["score_function"] == "scaled_dot"
    assert set(data["settings"]) >= {"teacher_forcing", "seed", "beam_size", "query", "trained_mask"}


def test_figure_html_is_standalone_titled_and_names_its_png(plain):
    page = viz.figure_html(viz.heatmap(plain, layer=0))
    assert "<html>" in page and page.rstrip().endswith("</html>") and "plotly" in page.lower()
    assert not re.search(r"<script[^>]*\bsrc=", page)  # plotly.js is inlined, nothing fetched
    assert "<title>bidirectional · layer 0 · no teacher forcing</title>" in page
    assert '"filename": "attention-heatmap"' in page and '"scale": 2' in page  # the modebar's PNG
    hostile = viz.figure_html(viz.heatmap(plain, title=HOSTILE))
    assert "<title>&lt;img src=x onerror=alert(1)&gt;</title>" in hostile
    assert "<title>Attention heatmap</title>" in viz.figure_html(viz.heatmap(plain, title=""))


@pytest.mark.parametrize("name", ["dates", "reverse", "toy-fr"])
def test_every_piece_shown_reads_back_as_that_piece(name):
    """What a person copies from a table (display_piece) is typed back as the same piece (piece_from_display)."""
    import s2s

    tokenizer = s2s.load(name).target_tokenizer
    pieces = tokenizer.pieces(range(tokenizer.vocab_size))
    assert [viz.piece_from_display(viz.display_piece(p, escape=False)) for p in pieces] == pieces
