"""The models (s2s/model.py): the seed's defects corrected, and the arithmetic against the hand-written oracles
of tests/oracles.py (a transposed W, a missing tanh or padding attended all fail here)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from s2s import checkpoint, decode
from s2s.tokenizer import BOS_ID, EOS_ID, PAD_ID
from tests.oracles import (
    HIDDEN,
    LAYERS,
    QUERIES,
    SCORES,
    batch,
    hand_forward,
    hand_softmax,
    lstm_step,
    np_,
    padded_batch,
    random_model,
    reference_encoder,
    reference_forward,
    score_formula,
    tiny_model,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@torch.no_grad()
def test_fast_encoder_and_decoder_equal_step_by_step_reference():
    model = random_model(query="state", score="scaled_dot")
    ids, lengths = batch([9])
    target = torch.randint(4, 40, (1, 7), generator=torch.Generator().manual_seed(1))
    memory, (h, c) = model.encode(ids, lengths)
    ref_values, ref_finals = reference_encoder(model, ids[0])
    assert (memory.values[:, 0] - ref_values).abs().max() <= 1e-5
    assert (h[:, 0] - torch.stack([f[0] for f in ref_finals])).abs().max() <= 1e-5
    assert (c[:, 0] - torch.stack([f[1] for f in ref_finals])).abs().max() <= 1e-5
    fast = model(ids, lengths, target, teacher_forcing=1.0)[0]
    assert (fast - reference_forward(model, ids[0], target[0])).abs().max() <= 1e-5


@torch.no_grad()
def test_teacher_forcing_feeds_bos_first_then_previous_target():
    """Seed defect: it fed target[0] at step 0 and again at step 1."""
    model = random_model()
    ids, lengths = batch([6])
    target = torch.tensor([[5, 6, 7, 8, EOS_ID]])
    changed = target.clone()
    changed[0, 0] = 9
    a = model(ids, lengths, target, teacher_forcing=1.0)
    b = model(ids, lengths, changed, teacher_forcing=1.0)
    assert torch.equal(a[:, 0], b[:, 0]), "step 0 must see BOS, not target[0]"
    assert not torch.allclose(a[:, 1], b[:, 1]), "step 1 must see target[0]"
    changed_last = target.clone()
    changed_last[0, -1] = 9
    assert torch.equal(a, model(ids, lengths, changed_last, teacher_forcing=1.0)), "the last target is never fed"


def test_scores_are_scaled_by_sqrt_hidden_size_not_source_length(tiny):
    """Seed defect: it divided by sqrt(T). scores must be q.k / sqrt(H) whatever the length."""
    for text in ("3 March 2021", "21 September 1999 and a much longer tail of words"):
        r = tiny.translate(text)
        expected = np.einsum("lsh,lth->lst", r.queries, r.encoder_states) / math.sqrt(r.queries.shape[-1])
        np.testing.assert_allclose(r.scores, expected, rtol=1e-4, atol=1e-5)


@torch.no_grad()
def test_padding_is_never_attended_and_batched_equals_alone_in_forward():
    """Seed defect: no padding mask, and the LSTM ran over padding into its final state."""
    model = random_model(dropout=0.0).train()  # training mode's forward; no dropout to compare exactly
    ids, lengths = batch([4, 9, 6])
    target = torch.randint(4, 40, (3, 5), generator=torch.Generator().manual_seed(2))
    together = model(ids, lengths, target)
    for i, n in enumerate(lengths.tolist()):
        alone = model(ids[i : i + 1, :n], lengths[i : i + 1], target[i : i + 1])
        assert (together[i] - alone[0]).abs().max() <= 1e-5
    memory, (h, c) = model.encode(ids, lengths)
    alone_memory, (h0, c0) = model.encode(ids[:1, :4], lengths[:1])
    assert (h[:, 0] - h0[:, 0]).abs().max() <= 1e-5 and (c[:, 0] - c0[:, 0]).abs().max() <= 1e-5


@pytest.mark.parametrize("score", ["dot", "scaled_dot", "general", "additive"])
@pytest.mark.parametrize("query", ["input", "state"])
def test_every_score_and_query_gives_normalised_attention(make_checkpoint, score, query):
    model = checkpoint.load(make_checkpoint(score=score, query=query), device="cpu")
    r = model.translate("3 March 2021")
    layers, steps, width = r.attention.shape
    assert (layers, width) == (2, len(r.source_pieces)) and steps == len(r.output_pieces)
    assert r.attention.dtype == np.float32 and r.scores.dtype == np.float32
    np.testing.assert_allclose(r.attention.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(r.attention, torch.softmax(torch.from_numpy(r.scores), -1).numpy(), atol=1e-6)
    assert r.decoder_inputs[0] == "<s>" and r.decoder_inputs[1:] == r.output_pieces[:-1]


def test_input_query_repeats_rows_for_repeated_inputs(make_checkpoint):
    """The seed's query depends only on the fed token: the same token fed twice, the same scores."""
    model = checkpoint.load(make_checkpoint(query="input"), device="cpu")
    r = model.translate("3 March 2021", reference="2000-00-00", teacher_forcing=1.0)
    zeros = [t for t, piece in enumerate(r.decoder_inputs) if piece == "0"]
    assert len(zeros) >= 2
    np.testing.assert_allclose(r.scores[:, zeros[0]], r.scores[:, zeros[1]], atol=1e-6)


def test_edm_has_no_attention_layers(make_checkpoint):
    model = checkpoint.load(make_checkpoint(model="edm"), device="cpu")
    r = model.translate("3 March 2021", beam_size=2)
    assert r.attention.shape == (0, len(r.output_pieces), len(r.source_pieces))
    assert r.text == model.target_tokenizer.decode(model.target_tokenizer.encode(r.text))


@torch.no_grad()
def test_hidden_bridge_starts_the_decoder_with_an_empty_cell():
    """bridge="hidden": the encoder's final h is the first query, but the cell starts empty."""
    final, hidden = random_model(bridge="final"), random_model(bridge="hidden")
    ids, lengths = batch([7])
    _, (h_final, c_final) = final.encode(ids, lengths)
    _, (h_hidden, c_hidden) = hidden.encode(ids, lengths)
    assert torch.equal(h_final, h_hidden) and c_final.abs().sum() > 0
    assert (c_hidden == 0).all()


@torch.no_grad()
def test_bidirectional_encoder_reads_both_ways_and_ignores_padding():
    """encoder="bi": state j is [left-to-right state j, right-to-left state j], each half of H."""
    model = random_model(encoder="bi")
    ids, lengths = batch([4, 9, 6])
    memory, (h, c) = model.encode(ids, lengths)
    half = model.config.hidden_size // 2
    for i, n in enumerate(lengths.tolist()):
        lstm = model.encoder.layers[0]
        x = model.encoder.embedding(ids[i, :n])
        forward_h = backward_h = torch.zeros(half)
        forward_c = backward_c = torch.zeros(half)
        forward_states, backward_states = [], []
        for x_t in x:
            forward_h, forward_c = lstm_step(x_t, forward_h, forward_c, lstm.weight_ih_l0, lstm.weight_hh_l0,
                                             lstm.bias_ih_l0, lstm.bias_hh_l0)
            forward_states.append(forward_h)
        for x_t in x.flip(0):
            backward_h, backward_c = lstm_step(x_t, backward_h, backward_c, lstm.weight_ih_l0_reverse,
                                               lstm.weight_hh_l0_reverse, lstm.bias_ih_l0_reverse,
                                               lstm.bias_hh_l0_reverse)
            backward_states.append(backward_h)
        expected = torch.cat([torch.stack(forward_states), torch.stack(backward_states[::-1])], dim=-1)
        assert (memory.values[0, i, :n] - expected).abs().max() <= 1e-5
        assert (h[0, i] - torch.cat([forward_h, backward_h])).abs().max() <= 1e-5
        alone, (h_alone, _) = model.encode(ids[i : i + 1, :n], lengths[i : i + 1])
        assert (memory.values[:, i, :n] - alone.values[:, 0]).abs().max() <= 1e-5
        assert (h[:, i] - h_alone[:, 0]).abs().max() <= 1e-5
    together = decode.greedy(model, ids, lengths, max_len=8)
    for i, n in enumerate(lengths.tolist()):
        (alone,) = decode.greedy(model, ids[i : i + 1, :n], lengths[i : i + 1], max_len=8)
        assert together[i].outputs == alone.outputs


@torch.no_grad()
def test_training_forward_without_forcing_follows_its_own_predictions():
    """teacher_forcing=0 in training equals greedy decoding; 1.0 (the batched path) equals per-step forcing."""
    model = random_model()
    ids, lengths = batch([7], seed=4)
    target = torch.randint(4, 40, (1, 6), generator=torch.Generator().manual_seed(5))
    free = model(ids, lengths, target, teacher_forcing=0.0)
    (trace,) = decode.greedy(model, ids, lengths, max_len=6, reference=target, teacher_forcing=0.0)
    assert free.argmax(-1)[0].tolist() == trace.outputs
    forced = model(ids, lengths, target, teacher_forcing=1.0)
    (forced_trace,) = decode.greedy(model, ids, lengths, max_len=6, reference=target, teacher_forcing=1.0)
    assert forced.argmax(-1)[0].tolist() == forced_trace.outputs
    assert forced_trace.inputs[1:] == target[0, :-1].tolist()


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


@pytest.mark.parametrize("family", ["edm", "attention"])
def test_every_lstm_dropout_acts_in_training_and_none_while_decoding(family):
    """Decoding skips the dropout modules (family.dropped); training must still pass through each of them (the
    encoder's between layers, the decoder's), and its output must then be random, where eval passes agree."""
    model = tiny_model(3, model=family, dropout=0.3)
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    calls = []
    for m in dropouts:
        m.register_forward_hook(lambda module, args, out: calls.append(module))
    source, lengths = padded_batch([5, 3])
    target = torch.tensor([[4, 5, 6, EOS_ID], [7, 8, EOS_ID, PAD_ID]])
    with torch.no_grad():
        evals = [model(source, lengths, target) for _ in range(2)]
        decode.greedy(model, source, lengths, max_len=6)
    assert calls == [] and torch.equal(*evals)
    model.train()
    with torch.no_grad():
        trains = [model(source, lengths, target) for _ in range(2)]
    assert {id(m) for m in calls} == {id(m) for m in dropouts} and len(dropouts) == 2
    assert not torch.equal(*trains) and not torch.equal(trains[0], evals[0])
