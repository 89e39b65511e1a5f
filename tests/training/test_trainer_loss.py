"""The training loss (s2s/training/trainer.py, sequence_loss) against a hand-written masked cross-entropy
(tests/oracles.py)."""

from __future__ import annotations

import math

import pytest
import torch

from s2s.tokenizer import EOS_ID, PAD_ID
from s2s.training.trainer import sequence_loss
from tests.oracles import hand_loss


def test_sequence_loss_is_masked_cross_entropy_written_out():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 7, generator=g) * 2
    target = torch.tensor([[4, 5, 6, EOS_ID, PAD_ID], [6, EOS_ID, PAD_ID, PAD_ID, PAD_ID], [4, 4, 5, 6, EOS_ID]])
    got = float(sequence_loss(logits, target))
    assert got == pytest.approx(hand_loss(logits.double().numpy(), target.numpy()), rel=1e-5)


def test_sequence_loss_scores_step_t_against_target_t_and_ignores_padding():
    """Logits that put (almost) all mass on target[t] at step t lose ~0; PAD steps, whatever they say, count nothing."""
    target = torch.tensor([[4, 5, 6, EOS_ID, PAD_ID, PAD_ID], [6, 4, 5, 4, 6, EOS_ID]])
    vocab = 8
    logits = torch.full((2, 6, vocab), -30.0)
    for b in range(2):
        for t in range(6):
            token = int(target[b, t])
            # at PAD positions the logits favour a real token: counting padding (as class 0) would cost ~30
            logits[b, t, 7 if token == PAD_ID else token] = 30.0
    assert float(sequence_loss(logits, target)) < 1e-6
    # the same logits scored one step off are far from right
    off_by_one = torch.full_like(logits, -30.0)
    for b in range(2):
        for t in range(6):
            source_t = min(t + 1, 5)
            token = int(target[b, source_t])
            off_by_one[b, t, 7 if token == PAD_ID else token] = 30.0
    assert float(sequence_loss(off_by_one, target)) > 10
    # padding changes nothing: the same real steps, more padding, different junk in it
    wider = torch.cat([target, torch.full((2, 3), PAD_ID)], dim=1)
    junk = torch.randn(2, 3, vocab, generator=torch.Generator().manual_seed(1)) * 50
    assert float(sequence_loss(torch.cat([logits, junk], dim=1), wider)) == pytest.approx(
        float(sequence_loss(logits, target)), abs=1e-6)


def test_sequence_loss_is_a_mean_over_real_pieces_not_over_all_cells():
    """One real piece per row with loss log(V) each (uniform logits) and lots of padding: the mean is log(V)."""
    vocab = 9
    target = torch.tensor([[EOS_ID] + [PAD_ID] * 5, [5, EOS_ID] + [PAD_ID] * 4])
    logits = torch.zeros(2, 6, vocab)
    assert float(sequence_loss(logits, target)) == pytest.approx(math.log(vocab), rel=1e-6)
