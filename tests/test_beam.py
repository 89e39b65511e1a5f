"""Beam search against independent oracles: an exhaustive search, greedy decoding, and forced re-runs.

Beam search ranks, prunes and stops by one rule, the mean log-probability per produced token
(`Hypothesis.score`). The oracles here never call beam_search's own bookkeeping: the exhaustive
search enumerates every output up to max_len by running the decoder over all prefixes, and each
hypothesis is re-run with its own tokens as a forced reference.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from s2s import decode
from s2s.model import ModelConfig, build_model
from s2s.tokenizer import BOS_ID, EOS_ID

SMALL = dict(emb_size=8, hidden_size=10, num_layers=2)  # the review's 400 small untrained models


def small_model(seed: int, output_vocab: int = 6):
    """An untrained model and a random 5-piece source, both drawn from `seed`."""
    torch.manual_seed(seed)
    model = build_model(ModelConfig(30, output_vocab, **SMALL)).eval()
    source = torch.randint(4, 30, (1, 5))
    return model, source, torch.tensor([5])


def mean_log_prob(tokens, log_probs) -> float:
    return float(np.sum(log_probs)) / len(tokens)


@torch.inference_mode()
def exhaustive_best(model, source, lengths, max_len: int) -> tuple[float, tuple[int, ...]]:
    """The finished output (ending in EOS, at most max_len tokens) with the highest mean log-probability.

    Brute force: at depth t every prefix of t tokens without EOS is in the batch, each is scored
    ending with EOS there, and all are extended by every other token.
    """
    memory, state = model.encode(source, lengths)
    vocab = model.config.output_vocab_size
    prefixes, sums = [()], torch.zeros(1)
    best = (float("-inf"), ())
    for t in range(max_len):
        fed = torch.tensor([p[-1] if p else BOS_ID for p in prefixes])
        out, state = model.step(fed, state, memory, memory.allowed("bidirectional", t))
        totals = sums[:, None] + torch.log_softmax(out.logits, -1)  # (N, V)
        for i, prefix in enumerate(prefixes):
            score = float(totals[i, EOS_ID]) / (t + 1)
            if score > best[0]:
                best = (score, prefix + (EOS_ID,))
        grow = [(i, v) for i in range(len(prefixes)) for v in range(vocab) if v != EOS_ID]
        rows, tokens = torch.tensor([i for i, _ in grow]), torch.tensor([v for _, v in grow])
        prefixes, sums = [prefixes[i] + (v,) for i, v in grow], totals[rows, tokens]
        state = (state[0][:, rows], state[1][:, rows])
        memory = memory.select(rows)
    return best


@pytest.mark.parametrize("seed", range(40))
def test_a_beam_as_wide_as_the_vocabulary_finds_the_exhaustive_best(seed):
    model, source, lengths = small_model(seed)
    score, tokens = exhaustive_best(model, source, lengths, max_len=5)
    best = decode.beam_search(model, source, lengths, beam_size=6, max_len=5)[0]
    assert tuple(best.outputs) == tokens
    assert mean_log_prob(best.outputs, np.log(best.probs)) == pytest.approx(score, abs=1e-5)


def test_beam_never_scores_below_greedy_when_both_finish():
    compared = 0
    for seed in range(400):
        model, source, lengths = small_model(seed)
        greedy = decode.greedy(model, source, lengths, max_len=12)[0]
        if greedy.outputs[-1] != EOS_ID:
            continue
        greedy_score = mean_log_prob(greedy.outputs, np.log(greedy.probs))
        for beam_size in (2, 3, 4):
            best = decode.beam_search(model, source, lengths, beam_size=beam_size, max_len=12)[0]
            if best.outputs[-1] == EOS_ID:
                compared += 1
                assert mean_log_prob(best.outputs, np.log(best.probs)) >= greedy_score - 1e-6, (seed, beam_size)
    assert compared > 100


def test_the_reviewed_case_keeps_the_better_longer_output():
    # s = 192, beam 2: the old search stopped on [5, 3] (mean -1.6326) and lost [5, 5, 3] (-1.6255).
    model, source, lengths = small_model(192)
    greedy = decode.greedy(model, source, lengths, max_len=12)[0]
    best = decode.beam_search(model, source, lengths, beam_size=2, max_len=12)[0]
    assert greedy.outputs == [5, 5, 3]
    assert mean_log_prob(best.outputs, np.log(best.probs)) >= mean_log_prob(greedy.outputs, np.log(greedy.probs))


@pytest.mark.parametrize("beam_size", [2, 4, 8])
def test_every_hypothesis_matches_a_forced_rerun_of_its_own_tokens(tiny, beam_size):
    """Tokens, log-probability, attention and scores of each hypothesis = teacher forcing with its tokens."""
    source = torch.tensor([tiny.encode_source("21 September 1999")])
    lengths = torch.tensor([source.shape[1]])
    hypotheses = decode.beam_search(tiny.model, source, lengths, beam_size=beam_size, max_len=16)
    assert len(hypotheses) == beam_size
    assert len({tuple(h.outputs) for h in hypotheses}) == beam_size
    for h in hypotheses:
        # forcing feeds BOS, then the hypothesis's tokens: the record of a beam row must be the same
        forced = decode.greedy(tiny.model, source, lengths, max_len=16, reference=torch.tensor([h.outputs]),
                               teacher_forcing=1.0)[0]
        assert forced.inputs == h.inputs == [BOS_ID, *h.outputs[:-1]]
        np.testing.assert_allclose(forced.reference_probs, h.probs, rtol=1e-4)
        assert h.log_prob == pytest.approx(float(np.log(forced.reference_probs).sum()), rel=1e-4)
        np.testing.assert_allclose(h.weights, forced.weights, atol=1e-5)
        np.testing.assert_allclose(h.contexts, forced.contexts, atol=1e-5)
        assert EOS_ID not in h.outputs[:-1], "a hypothesis never goes on past its EOS"


def test_hypotheses_are_ranked_by_mean_log_probability_best_first(tiny):
    r = tiny.translate("21 September 1999", beam_size=5)
    means = [float(np.log(h.probs).sum()) / len(h.output_tokens) for h in r.hypotheses]
    assert means == sorted(means, reverse=True)
    assert r.hypotheses[0] is r
    assert [h.score for h in r.hypotheses] == pytest.approx(means, rel=1e-5)


def test_the_recorded_alternatives_are_the_steps_most_probable_pieces(tiny):
    """Top-k per step, for greedy and beam hypotheses alike, against the forced run's full distribution."""
    source = torch.tensor([tiny.encode_source("21 September 1999")])
    lengths = torch.tensor([source.shape[1]])
    for h in decode.beam_search(tiny.model, source, lengths, beam_size=3, max_len=16):
        target = torch.tensor([h.outputs])
        logits = tiny.model(source, lengths, target, teacher_forcing=1.0)[0]  # (S, V)
        probs = torch.softmax(logits, -1).detach().numpy()
        for t in range(len(h.outputs)):
            expected = np.argsort(-probs[t])[: h.top_ids.shape[1]]
            assert list(h.top_ids[t]) == list(expected)
            np.testing.assert_allclose(h.top_probs[t], probs[t][expected], rtol=1e-4, atol=1e-7)
    greedy = decode.greedy(tiny.model, source, lengths, max_len=16)[0]
    assert list(greedy.top_ids[:, 0]) == greedy.outputs
    np.testing.assert_allclose(greedy.top_probs[:, 0], greedy.probs, rtol=1e-6)
