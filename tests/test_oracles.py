"""The model's arithmetic against independent oracles: formulas written out by hand, other code paths.

Each test computes what the library should give without the library's own arithmetic (plain numpy
loops over the model's parameters, or a second way through the model) and compares. They exist
because a transposed W, a missing tanh, a probability read one step off, padding counted in the
loss or a label shift all leave the rest of the suite green.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from s2s import decode
from s2s.model import ModelConfig, build_model
from s2s.tokenizer import BOS_ID, EOS_ID, PAD_ID
from s2s.train import sequence_loss

SCORES = ("dot", "scaled_dot", "general", "additive")
QUERIES = ("input", "state")
IN_VOCAB, OUT_VOCAB, EMB, HIDDEN, LAYERS = 13, 11, 5, 6, 2


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def tiny_model(seed: int = 0, **settings):
    torch.manual_seed(seed)
    fields = dict(emb_size=EMB, hidden_size=HIDDEN, num_layers=LAYERS) | settings
    return build_model(ModelConfig(IN_VOCAB, OUT_VOCAB, **fields)).eval()


def padded_batch(lengths, vocab=IN_VOCAB, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, vocab, (len(lengths), max(lengths)), generator=g)
    for i, n in enumerate(lengths):
        ids[i, n:] = PAD_ID
    return ids, torch.tensor(lengths)


def np_(tensor) -> np.ndarray:
    return tensor.detach().double().numpy()


# --- the score functions, written out ---------------------------------------------------------


def score_formula(model, layer: int, q: np.ndarray, k: np.ndarray) -> float:
    """The README's formulas, one query q (H,) against one encoder state k (H,), for decoder layer `layer`."""
    kind = model.config.score
    if kind == "dot":
        return float(q @ k)
    if kind == "scaled_dot":
        return float(q @ k) / math.sqrt(model.config.hidden_size)
    if kind == "general":  # q^T W k
        return float(q @ np_(model.score_weight[layer]) @ k)
    # additive: v^T tanh(W q + U k)
    w, u, v = np_(model.query_weight[layer]), np_(model.key_weight[layer]), np_(model.score_vector[layer])
    return float(v @ np.tanh(w @ q + u @ k))


def hand_softmax(scores: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Softmax over the allowed positions; the others get exactly 0."""
    out = np.zeros_like(scores)
    top = scores[allowed].max()
    e = np.exp(scores[allowed] - top)
    out[allowed] = e / e.sum()
    return out


@pytest.mark.parametrize("mask", ["bidirectional", "causal"])
@pytest.mark.parametrize("encoder", ["uni", "bi"])
@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("score", SCORES)
def test_scores_weights_and_contexts_follow_the_formulas(score, query, encoder, mask):
    model = tiny_model(score=score, query=query, encoder=encoder)
    ids, lengths = padded_batch([6, 3], seed=1)
    reference = torch.tensor([[5, 6, 7, 8, 9, EOS_ID, PAD_ID], [4, 9, 5, 6, 7, 8, EOS_ID]])
    traces = decode.greedy(model, ids, lengths, max_len=8, mask=mask, reference=reference, teacher_forcing=1.0)
    emb = np_(model.decoder_emb.weight)
    for b, trace in enumerate(traces):
        n = int(lengths[b])
        keys = trace.encoder_states.astype(np.float64)  # (L, n, H): what attention averages, before any W or U
        assert keys.shape == (LAYERS, n, HIDDEN)
        layers, steps, width = trace.scores.shape
        assert layers == LAYERS and width in (n, ids.shape[1])  # its own pieces (padding columns may be kept)
        for t in range(steps):
            allowed = np.arange(width) < n
            if mask == "causal":
                allowed &= np.arange(width) <= t
            for layer in range(LAYERS):
                q = trace.queries[layer, t].astype(np.float64)
                # the query itself: a projection of the fed token ("input"), or the state ("state", step 0:
                # the encoder's final h, which is state n-1 left to right and state 0 right to left)
                if query == "input":
                    expected_q = np_(model.projection.weight) @ emb[trace.inputs[t]] + np_(model.projection.bias)
                    np.testing.assert_allclose(q, expected_q, atol=1e-5)
                elif t == 0:
                    final = keys[layer, n - 1].copy()
                    if encoder == "bi":
                        final[HIDDEN // 2 :] = keys[layer, 0, HIDDEN // 2 :]
                    np.testing.assert_allclose(q, final, atol=1e-5)
                expected = np.full(width, -np.inf)
                for j in range(width):
                    if allowed[j]:
                        expected[j] = score_formula(model, layer, q, keys[layer, j])
                got = trace.scores[layer, t]
                np.testing.assert_allclose(got[allowed], expected[allowed], rtol=1e-4, atol=1e-5)
                assert np.isneginf(got[~allowed]).all(), "a masked position must be -inf before softmax"
                weights = trace.weights[layer, t]
                np.testing.assert_allclose(weights, hand_softmax(expected, allowed), atol=1e-5)
                assert (weights[~allowed] == 0).all(), "padding or the causal future got attention"
                assert abs(float(weights.sum()) - 1.0) <= 1e-5
                context = (weights[:n, None].astype(np.float64) * keys[layer]).sum(0)
                np.testing.assert_allclose(trace.contexts[layer, t], context, atol=1e-5)


@pytest.mark.parametrize("score", SCORES)
@torch.no_grad()
def test_padding_and_the_causal_future_get_exactly_zero_weight_in_a_batch(score):
    """The model's own step on a padded batch: weights beyond a sequence's end (and, causal, beyond t) are 0."""
    model = tiny_model(score=score)
    ids, lengths = padded_batch([2, 7, 4], seed=2)
    memory, state = model.encode(ids, lengths)
    token = torch.full((3,), BOS_ID)
    for t in range(5):
        for mask in ("bidirectional", "causal"):
            step, _ = model.step(token, state, memory, memory.allowed(mask, t))
            weights = step.weights.numpy()  # (L, B, T)
            for b, n in enumerate(lengths.tolist()):
                visible = n if mask == "bidirectional" else min(n, t + 1)
                assert (weights[:, b, visible:] == 0).all()
                assert (weights[:, b, :visible] > 0).all()
                np.testing.assert_allclose(weights[:, b].sum(-1), 1.0, atol=1e-6)
        step, state = model.step(token, state, memory, memory.allowed("bidirectional", t))
        token = step.logits.argmax(-1)


# --- a whole forward pass, written out from the equations --------------------------------------


def lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    gates = w_ih @ x + b_ih + w_hh @ h + b_hh
    i, f, g, o = np.split(gates, 4)
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def hand_forward(model, ids: list[int], target: list[int], mask: str) -> np.ndarray:
    """Teacher forcing 1.0 for a left-to-right encoder, one token, one layer, one position at a time."""
    x_seq = [np_(model.encoder.embedding.weight)[i] for i in ids]
    values, hs, cs = [], [], []
    for lstm in model.encoder.layers:
        h = c = np.zeros(HIDDEN)
        outs = []
        for x in x_seq:
            h, c = lstm_step(x, h, c, np_(lstm.weight_ih_l0), np_(lstm.weight_hh_l0), np_(lstm.bias_ih_l0),
                             np_(lstm.bias_hh_l0))
            outs.append(h)
        values.append(outs)
        hs.append(h)
        cs.append(c)
        x_seq = outs
    logits = []
    for t in range(len(target)):
        token = BOS_ID if t == 0 else target[t - 1]
        embedded = np_(model.decoder_emb.weight)[token]
        x = embedded
        for layer, cell in enumerate(model.decoder_cells):
            if model.config.query == "input":
                q = np_(model.projection.weight) @ embedded + np_(model.projection.bias)
            else:
                q = hs[layer]
            visible = [j for j in range(len(ids)) if mask == "bidirectional" or j <= t]
            scores = np.array([score_formula(model, layer, q, values[layer][j]) for j in visible])
            weights = np.exp(scores - scores.max())
            weights /= weights.sum()
            context = sum(w * values[layer][j] for w, j in zip(weights, visible))
            hs[layer], cs[layer] = lstm_step(x, context, cs[layer], np_(cell.weight_ih), np_(cell.weight_hh),
                                             np_(cell.bias_ih), np_(cell.bias_hh))
            x = hs[layer]
        logits.append(np_(model.lm.weight) @ x + np_(model.lm.bias))
    return np.stack(logits)


@pytest.mark.parametrize("mask", ["bidirectional", "causal"])
@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("score", SCORES)
@torch.no_grad()
def test_forward_equals_a_hand_written_decoder(score, query, mask):
    model = tiny_model(seed=3, score=score, query=query)
    ids, lengths = padded_batch([5, 3], seed=4)
    target = torch.tensor([[4, 7, 9, 5, EOS_ID, PAD_ID], [6, 6, 8, 10, 5, EOS_ID]])
    logits = model(ids, lengths, target, teacher_forcing=1.0, mask=mask)
    for b, n in enumerate(lengths.tolist()):
        steps = int((target[b] != PAD_ID).sum())
        expected = hand_forward(model, ids[b, :n].tolist(), target[b, :steps].tolist(), mask)
        np.testing.assert_allclose(np_(logits[b, :steps]), expected, atol=1e-5)


# --- p(reference) -------------------------------------------------------------------------------


def softmax_rows(logits: torch.Tensor) -> np.ndarray:
    z = np_(logits)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@torch.no_grad()
def test_reference_probs_are_the_forced_runs_probability_of_piece_t_at_step_t(tiny):
    text, reference = "21 September 1999", "1999-09-21"
    r = tiny.translate(text, reference=reference, teacher_forcing=1.0)
    source_ids = tiny.encode_source(text)
    reference_ids = tiny.encode_reference(reference)
    logits = tiny.model(torch.tensor([source_ids]), torch.tensor([len(source_ids)]), torch.tensor([reference_ids]),
                        teacher_forcing=1.0)[0]
    probs = softmax_rows(logits)  # (S, V), by the batched forced path (not decode.greedy's step loop)
    assert len(r.reference_probs) == len(reference_ids) == len(r.reference_tokens)
    expected = [probs[t, reference_ids[t]] for t in range(len(reference_ids))]
    np.testing.assert_allclose(r.reference_probs, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(r.probs, probs.max(-1), rtol=1e-4, atol=1e-6)
    assert tiny.target_tokenizer.pieces(probs.argmax(-1)) == r.output_tokens
    # one step off would read another piece's probability: make sure those differ here
    shifted = [probs[t, reference_ids[t + 1]] for t in range(len(reference_ids) - 1)]
    assert not np.allclose(r.reference_probs[:-1], shifted, rtol=1e-3)


@torch.no_grad()
def test_reference_probs_without_forcing_are_those_of_the_free_run():
    """Forcing 0 with a reference: the model follows itself; p(reference) is read from those same steps."""
    model = tiny_model(seed=5)
    ids, lengths = padded_batch([4, 6], seed=6)
    reference = torch.tensor([[5, 6, 7, EOS_ID, PAD_ID], [8, 9, 4, 10, EOS_ID]])
    traces = decode.greedy(model, ids, lengths, max_len=9, reference=reference, teacher_forcing=0.0)
    probs = softmax_rows(model(ids, lengths, reference, teacher_forcing=0.0))  # (B, S, V)
    for b, trace in enumerate(traces):
        n = int((reference[b] != PAD_ID).sum())
        assert len(trace.reference_probs) == n
        expected = [probs[b, t, int(reference[b, t])] for t in range(n)]
        np.testing.assert_allclose(trace.reference_probs, expected, rtol=1e-4, atol=1e-6)
        assert trace.outputs == probs[b, :n].argmax(-1).tolist()
        assert trace.inputs == [BOS_ID] + trace.outputs[:-1], "free running feeds back its own outputs"


@torch.no_grad()
def test_partial_forcing_feeds_the_reference_where_forced_and_reports_its_probability(tiny):
    text, reference = "3 March 2021", "2021-03-03"
    reference_ids = tiny.encode_reference(reference)
    target = tiny.target_tokenizer
    for seed in range(4):
        r = tiny.translate(text, reference=reference, teacher_forcing=0.5, seed=seed)
        for t in range(1, len(r.decoder_inputs)):
            expected_piece = r.reference_tokens[t - 1] if r.forced[t] else r.output_tokens[t - 1]
            assert r.decoder_inputs[t] == expected_piece
        # replay the same inputs through the forced path: p(reference piece t) at step t
        fed = [target.sp.piece_to_id(p) for p in r.decoder_inputs[1:]] + [EOS_ID]
        source_ids = tiny.encode_source(text)
        logits = tiny.model(torch.tensor([source_ids]), torch.tensor([len(source_ids)]), torch.tensor([fed]),
                            teacher_forcing=1.0)[0]
        probs = softmax_rows(logits)
        np.testing.assert_allclose(r.reference_probs, [probs[t, reference_ids[t]] for t in range(len(fed))],
                                   rtol=1e-4, atol=1e-6)


# --- the training loss --------------------------------------------------------------------------


def hand_loss(logits: np.ndarray, target: np.ndarray) -> float:
    """Mean over non-PAD positions of -log softmax(logits[b, t])[target[b, t]], written out."""
    total, count = 0.0, 0
    for b in range(target.shape[0]):
        for t in range(target.shape[1]):
            if target[b, t] == PAD_ID:
                continue
            z = logits[b, t]
            log_norm = z.max() + math.log(np.exp(z - z.max()).sum())
            total += log_norm - z[target[b, t]]
            count += 1
    return total / count


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
