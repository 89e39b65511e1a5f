"""Training a Transformer: its own parallel pass (not s2s/fused.py), a checkpoint that names its family, a card
that says so, and a tiny one that learns."""

from __future__ import annotations

import itertools
import json

import pytest
import torch

from s2s import checkpoint, decode, fused
from s2s.model import ModelConfig, Transformer, build_model
from s2s.tokenizer import EOS_ID
from s2s.training import cards, trainer
from tests.training.test_trainer import short_run

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

NETWORK = ModelConfig(0, 0, model="transformer", hidden_size=16, heads=2, ff_size=32, num_layers=1, dropout=0.0)


def test_the_fused_lstm_pass_hands_a_transformer_to_its_own_forward(monkeypatch):
    model = build_model(ModelConfig(12, 12, **{k: v for k, v in NETWORK.to_dict().items()
                                                if k not in ("input_vocab_size", "output_vocab_size")}))
    assert not fused.supported(model)
    seen = []
    monkeypatch.setattr(Transformer, "forward", lambda self, *a, **k: seen.append(k) or torch.zeros(1))
    source, lengths, target = torch.tensor([[5, 6, EOS_ID]]), torch.tensor([3]), torch.tensor([[6, 5, EOS_ID]])
    fused.forward(model, source, lengths, target, teacher_forcing=0.5, mask="causal")
    assert seen == [dict(teacher_forcing=0.5, mask="causal", generator=None)]


def test_a_run_writes_a_transformer_checkpoint_with_forced_and_free_figures_in_its_card(tmp_path):
    cfg = short_run(tmp_path, "t", network=NETWORK, epochs=2, forcing_start=1.0, forcing_end=0.5)
    metrics = trainer.train(cfg)
    assert [h["forcing"] for h in metrics["history"]] == [1.0, 0.5]  # the second epoch samples (two passes)
    config = json.loads((tmp_path / "t" / "config.json").read_text())
    assert config["model"] == "transformer" and config["heads"] == 2 and config["decoder_mask"] == "causal"
    for key in ("forced_loss", "forced_token_accuracy", "forced_exact_match"):
        assert 0 <= metrics[key] and key in json.loads((tmp_path / "t" / "metrics.json").read_text())
    card = cards.read_card((tmp_path / "t" / "README.md").read_text())
    assert "transformer" in card.front["tags"] and "lstm" not in card.front["tags"]
    assert card.front["s2s"]["heads"] == 2 and "score" not in card.front["s2s"]
    assert "A Transformer encoder-decoder" in card.body and "Under teacher forcing" in card.body
    assert f"token accuracy {metrics['forced_token_accuracy']:.1%}" in card.body
    assert checkpoint.load(tmp_path / "t", device="cpu").translate("a b c").family == "transformer"


def test_the_unmasked_lessons_card_says_why_the_decoder_must_be_causal():
    config = dict(task="dates", model="transformer", trained_mask="bidirectional", decoder_mask="bidirectional",
                  hidden_size=64, heads=4, ff_size=128, num_layers=2)
    notes = cards.lesson_notes(config)
    assert "WITHOUT the causal mask" in notes and "compare the forced and free figures" in notes
    assert "WITHOUT" not in cards.lesson_notes(config | dict(decoder_mask="causal"))


@pytest.mark.slow  # trains until it has learnt
def test_a_tiny_transformer_learns_to_reverse_three_letters():
    """The parallel pass + sequence_loss, a few seconds of Adam: greedy decoding (step by step, cached) gets
    >= 90% of the reversals right. A pass that let step t see target[t] would not learn to decode."""
    torch.manual_seed(0)
    combos = list(itertools.product(range(4, 10), repeat=3))
    source = torch.tensor([[*c, EOS_ID] for c in combos])
    target = torch.tensor([[*reversed(c), EOS_ID] for c in combos])
    lengths = torch.full((len(combos),), 4)
    model = build_model(ModelConfig(10, 10, model="transformer", hidden_size=32, heads=4, ff_size=64, num_layers=1))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(150):
        loss = trainer.sequence_loss(model(source, lengths, target, teacher_forcing=1.0), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    traces = decode.greedy(model, source, lengths, max_len=6)
    exact = sum(trace.outputs == row.tolist() for trace, row in zip(traces, target)) / len(combos)
    assert exact >= 0.9, f"exact match {exact:.1%} after training"
