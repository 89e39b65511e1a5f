"""s2s/training/cards.py: the one model-card writer, read back with huggingface_hub's own parser."""

import pytest
from huggingface_hub import ModelCard

from s2s.training import cards
from s2s.training.config import TrainConfig

CONFIG = {"task": "reverse", "model": "attention", "score": "scaled_dot", "query": "state", "trained_mask": "causal",
          "emb_size": 8, "hidden_size": 16, "num_layers": 1, "encoder": "uni", "bridge": "hidden",
          "input_vocab_size": 300, "output_vocab_size": 300, "max_source_len": 64, "max_target_len": 64}
METRICS = {"n": 40, "mask": "causal", "exact_match": 0.5, "token_accuracy": 0.75, "epochs": 2, "train_seconds": 90.0,
           "device": "CPU", "parameters": 1234,
           "by_length": {"1-5": {"n": 30, "exact_match": 0.6}, "6-10": {"n": 10, "exact_match": 0.2}},
           "alignment": {"layer 0": 0.25, "layer mean": 0.25}, "alignment_next": {"layer 0": 0.5, "layer mean": 0.5}}


def test_a_trained_card_has_the_hubs_front_matter_and_says_what_was_trained():
    cfg = TrainConfig(out="somewhere/rev-causal", data="data/letters.tsv", seed=4)
    card = ModelCard(cards.trained_card(cfg, CONFIG, METRICS))
    assert card.data.library_name == "s2s-attention-explorer" and card.data.license == "mit"
    assert card.data.tags == ["seq2seq", "attention", "lstm", "s2s-attention-explorer", "reverse"]
    assert card.data.s2s == {k: CONFIG[k] for k in cards.CARD_SETTINGS}
    text = card.text
    assert text.startswith("# rev-causal") and "trained on the pairs of `letters.tsv`" in text
    assert "| `bridge` | `hidden` |" in text and "2 epochs (1.5 min on CPU)" in text
    assert "1,234 parameters, seed 4" in text
    assert "Exact match **50.0%**" in text and "| 6-10 | 20.0% | 10 |" in text
    assert "layer 0: 25.0%, layer mean: 25.0%; the piece just right of it: layer 0: 50.0%" in text
    assert "Trained with the causal mask" in text and "empty cell" in text and "Left-to-right encoder" in text


def test_a_live_card_is_written_by_the_same_writer():
    card = ModelCard(cards.live_card(CONFIG, seconds=61.4, steps=300, examples=38_400, seed=2))
    assert card.data.library_name == "s2s-attention-explorer" and "live-training" in card.data.tags
    assert card.data.s2s["trained_mask"] == "causal" and card.data.license == "mit"
    assert card.text.startswith("# live-reverse") and "61 s (300 steps, 38,400 examples), seed 2" in card.text
    assert "| `encoder` | `uni` |" in card.text


def test_a_cards_own_front_matter_is_kept_and_completed():
    readme = "---\nlicense: apache-2.0\ntags: toy\ns2s: stale\nlanguage: fr\n---\n# Mine\n\nMy words.\n"
    card = ModelCard(cards.hub_card(CONFIG, readme, {"exact_match": 0.9}, "org/mine"))
    assert card.data.license == "apache-2.0" and card.data.language == "fr"
    assert card.data.tags == ["toy", "seq2seq", "attention", "lstm", "s2s-attention-explorer"]
    assert card.data.s2s == {k: CONFIG[k] for k in cards.CARD_SETTINGS} | {"metrics": {"exact_match": 0.9}}
    assert card.text == "# Mine\n\nMy words.\n"


def test_reading_a_card():
    assert cards.read_card("# no front matter\n") == ({}, "# no front matter\n")
    assert cards.read_card("---\n\n---\n# empty\n") == ({}, "# empty\n")
    assert cards.read_card("---\na: 1\n---\nbody") == ({"a": 1}, "body")
    with pytest.raises(ValueError, match="front matter"):
        cards.read_card("---\n- a list\n---\n")


@pytest.mark.parametrize("changes, note", [
    (dict(model="edm"), "python -m s2s.cli.evaluate --compare"),
    (dict(query="input", trained_mask="bidirectional", encoder="bi"), "The seed notebook's query"),
    (dict(task="dates", trained_mask="bidirectional", encoder="bi", bridge="final"), "Dates are short"),
    (dict(trained_mask="bidirectional"), "`python -m s2s.cli.evaluate` counts both"),
])
def test_the_notes_follow_the_settings(changes, note):
    assert note in cards.lesson_notes(CONFIG | changes)
