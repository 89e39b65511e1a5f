"""s2s/evaluate.py: the metrics by hand, alignment against known positions, the bars the bundled checkpoints clear."""

from __future__ import annotations

import numpy as np
import pytest

import s2s
from s2s import evaluate
from s2s.tasks import TASKS

BARS = {"dates": 0.99, "reverse": 0.97, "toy-fr": 0.97}  # exact match on fresh examples (the bars)


def test_metrics():
    assert evaluate.exact_match(["a", "b", "c"], ["a", "x", "c"]) == pytest.approx(2 / 3)
    assert evaluate.token_accuracy([[1, 2, 3], [4]], [[1, 9, 3], [4, 5]]) == pytest.approx(3 / 5)
    assert [evaluate.bucket_of(n) for n in (3, 5, 6, 30, 31, 99)] == ["1-5", "1-5", "6-10", "26-30", "31-40", "61+"]


class FakeTranslation:
    def __init__(self, source_pieces, output_pieces, attention):
        self.source_pieces, self.output_pieces, self.attention = source_pieces, output_pieces, attention
        self.attention_layers = attention.shape[0]


def test_alignment_is_checked_against_the_known_positions():
    src, out = ["a", "▁b", "▁c", "</s>"], ["c", "▁b", "▁a", "</s>"]
    anti = np.zeros((1, 4, 4), dtype=np.float32)
    for t, j in enumerate([2, 1, 0, 3]):
        anti[0, t, j] = 1
    assert evaluate.aligned_positions(FakeTranslation(src, out, anti), "reverse") == [(0, 2), (1, 1), (2, 0)]
    assert evaluate.alignment_hits(FakeTranslation(src, out, anti), "reverse").all()
    diagonal = np.eye(4, dtype=np.float32)[None]
    assert evaluate.alignment_hits(FakeTranslation(src, out, diagonal), "reverse").mean() < 0.5
    date_src = ["3", "▁March", "▁", "2", "0", "2", "1", "</s>"]
    date_out = ["2", "0", "2", "1", "-", "0", "3", "-", "0", "3", "</s>"]
    pairs = evaluate.aligned_positions(FakeTranslation(date_src, date_out, np.zeros((1, 11, 8))), "dates")
    assert pairs == [(0, 3), (1, 4), (2, 5), (3, 6)]


def test_alignment_one_piece_to_the_right_is_counted_apart():
    src, out = ["a", "▁b", "▁c", "</s>"], ["c", "▁b", "▁a", "</s>"]
    shifted = np.zeros((1, 4, 4), dtype=np.float32)
    for t, j in enumerate([3, 2, 1, 0]):
        shifted[0, t, j] = 1
    r = FakeTranslation(src, out, shifted)
    assert not evaluate.alignment_hits(r, "reverse").any()
    assert evaluate.alignment_hits(r, "reverse", offset=1).all()


def test_compare_table_lists_each_checkpoint_by_length():
    results = [{"exact_match": 0.5, "by_length": {"1-5": {"n": 2, "exact_match": 1.0}}},
               {"exact_match": 1.0, "by_length": {"1-5": {"n": 2, "exact_match": 1.0},
                                                  "6-10": {"n": 2, "exact_match": 0.0}}}]
    table = evaluate.format_comparison(["noattn", "attn"], results)
    lines = table.splitlines()
    assert "noattn" in lines[0] and "attn" in lines[0]
    assert lines[3].split() == ["6-10", "-", "0.0%"] and lines[-1].split() == ["all", "50.0%", "100.0%"]


@pytest.mark.parametrize("name", sorted(BARS))
def test_bundled_checkpoint_clears_its_bar(name):
    model = s2s.load(name, device="cpu")
    task = model.config["task"]
    pairs = TASKS[task].generate(300, evaluate.DEFAULT_SEED, split="heldout" if task == "toy-fr" else None)
    result = evaluate.evaluate(model, pairs, alignment=False)
    assert result["exact_match"] >= BARS[name], f"{name}: {result['exact_match']:.1%} < {BARS[name]:.0%}"


def test_attention_beats_no_attention_on_long_reversals():
    long_pairs = [p for p in TASKS["reverse"].generate(400, evaluate.DEFAULT_SEED) if len(p[0].split()) >= 21][:100]
    scores = {name: evaluate.evaluate(s2s.load(name, device="cpu"), long_pairs, alignment=False)["exact_match"]
              for name in ("reverse", "reverse-noattn")}
    assert scores["reverse"] > scores["reverse-noattn"] + 0.3, scores
