"""Decoding (s2s/decode.py): greedy, forced with a ratio and a seed, batched; properties that hold for any input
(hypothesis), and the reference's probabilities against the oracles of tests/oracles.py."""

from __future__ import annotations

import functools
import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from s2s import decode
from s2s.model import ModelConfig, build_model
from s2s.tokenizer import BOS_ID, EOS_ID, PAD_ID
from tests.oracles import batch, padded_batch, random_model, softmax_rows, tiny_model

IN_VOCAB, OUT_VOCAB = 12, 10  # the property tests' models
FAST = settings(max_examples=40, deadline=None, database=None)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@functools.cache
def model_for(score="scaled_dot", query="state", encoder="uni", bridge="final"):
    torch.manual_seed(7)
    config = ModelConfig(IN_VOCAB, OUT_VOCAB, score=score, query=query, encoder=encoder, bridge=bridge,
                         emb_size=6, hidden_size=8, num_layers=2)
    return build_model(config).eval()


configs = st.builds(
    lambda score, query, encoder, bridge: (score, query, encoder, bridge),
    st.sampled_from(["dot", "scaled_dot", "general", "additive"]),
    st.sampled_from(["input", "state"]),
    st.sampled_from(["uni", "bi"]),
    st.sampled_from(["final", "hidden"]),
)


sequence = st.lists(st.integers(4, IN_VOCAB - 1), min_size=1, max_size=7)


targets = st.lists(st.integers(4, OUT_VOCAB - 1), min_size=0, max_size=5).map(lambda ids: ids + [EOS_ID])


def pad(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [PAD_ID] * (width - len(r)) for r in rows]), torch.tensor([len(r) for r in rows])


@FAST
@given(config=configs, sources=st.lists(sequence, min_size=2, max_size=4), target=targets,
       mask=st.sampled_from(["bidirectional", "causal"]), forcing=st.sampled_from([0.0, 1.0]))
@torch.no_grad()
def test_a_sequence_in_a_padded_batch_gets_what_it_gets_alone(config, sources, target, mask, forcing):
    model = model_for(*config)
    ids, lengths = pad(sources)
    batch_target = torch.tensor([target] * len(sources))
    together = model(ids, lengths, batch_target, teacher_forcing=forcing, mask=mask)
    decoded = decode.greedy(model, ids, lengths, max_len=6, mask=mask)
    for i, row in enumerate(sources):
        alone_ids, alone_lengths = pad([row])
        alone = model(alone_ids, alone_lengths, batch_target[:1], teacher_forcing=forcing, mask=mask)
        assert (together[i] - alone[0]).abs().max() <= 1e-5
        (trace,) = decode.greedy(model, alone_ids, alone_lengths, max_len=6, mask=mask)
        assert decoded[i].outputs == trace.outputs
        n = len(row)
        np.testing.assert_allclose(decoded[i].weights[..., :n], trace.weights, atol=1e-5)
        assert (decoded[i].weights[..., n:] == 0).all()


@FAST
@given(config=configs, source=sequence, reference=targets, mask=st.sampled_from(["bidirectional", "causal"]))
def test_attention_rows_are_distributions_over_what_the_mask_allows(config, source, reference, mask):
    model = model_for(*config)
    ids, lengths = pad([source])
    (trace,) = decode.greedy(model, ids, lengths, max_len=8, mask=mask, reference=torch.tensor([reference]),
                             teacher_forcing=1.0)
    n = len(source)
    weights, scores = trace.weights, trace.scores  # (L, S, T)
    assert weights.shape[1] == len(reference) and (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    for t in range(weights.shape[1]):
        visible = n if mask == "bidirectional" else min(n, t + 1)
        assert np.isfinite(scores[:, t, :visible]).all() and np.isneginf(scores[:, t, visible:]).all()
        assert (weights[:, t, visible:] == 0).all()
        e = np.exp(scores[:, t, :visible].astype(np.float64) - scores[:, t, :visible].max(-1, keepdims=True))
        np.testing.assert_allclose(weights[:, t, :visible], e / e.sum(-1, keepdims=True), atol=1e-5)


@FAST
@given(score=st.sampled_from(["dot", "scaled_dot", "general", "additive"]),
       source=st.lists(st.integers(4, IN_VOCAB - 1), min_size=2, max_size=7), data=st.data())
@torch.no_grad()
def test_causal_step_t_never_sees_source_pieces_after_t(score, source, data):
    """A left-to-right encoder and the input query (which depends on the fed token only): under the causal mask,
    changing source pieces after t leaves step t's scores exactly as they were, and its weights there are 0."""
    model = model_for(score, "input", "uni")
    n = len(source)
    t = data.draw(st.integers(0, n - 2), label="t")
    changed = source[: t + 1] + data.draw(st.lists(st.integers(4, IN_VOCAB - 1), min_size=n - t - 1,
                                                    max_size=n - t - 1), label="new tail")
    reference = torch.tensor([data.draw(targets, label="reference")])
    runs = []
    for row in (source, changed):
        ids, lengths = pad([row])
        (trace,) = decode.greedy(model, ids, lengths, max_len=8, mask="causal", reference=reference,
                                 teacher_forcing=1.0)
        runs.append(trace)
    steps = min(t + 1, reference.shape[1])
    for s in range(steps):  # every step up to t sees pieces 0..s <= t only
        np.testing.assert_array_equal(runs[0].scores[:, s], runs[1].scores[:, s])
        assert (runs[0].weights[:, s, s + 1 :] == 0).all()
        np.testing.assert_array_equal(runs[0].encoder_states[:, : s + 1], runs[1].encoder_states[:, : s + 1])


def forcing_run(model, source, reference, ratio, seed):
    ids, lengths = pad([source])
    (trace,) = decode.greedy(model, ids, lengths, max_len=8, reference=torch.tensor([reference]),
                             teacher_forcing=ratio, generator=torch.Generator().manual_seed(seed))
    return trace


@FAST
@given(source=sequence, reference=st.lists(st.integers(4, OUT_VOCAB - 1), min_size=2, max_size=9),
       ratio=st.floats(0.05, 0.95), seed=st.integers(0, 2**31 - 1))
def test_a_seed_reproduces_the_forcing_coins_on_any_thread(source, reference, ratio, seed):
    model = model_for()
    main = forcing_run(model, source, reference, ratio, seed)
    box = {}
    worker = threading.Thread(target=lambda: box.update(trace=forcing_run(model, source, reference, ratio, seed)))
    worker.start()
    worker.join()
    other = box["trace"]
    assert other.forced.tolist() == main.forced.tolist() and other.inputs == main.inputs
    np.testing.assert_array_equal(other.weights, main.weights)
    # the coins themselves: one uniform draw per step from the seeded generator, forced when below the ratio
    g = torch.Generator().manual_seed(seed)
    coins = [float(torch.rand(1, generator=g)) for _ in range(len(reference) - 1)]
    assert main.forced.tolist() == [False] + [c < ratio for c in coins]
    for t in range(1, len(reference)):
        assert main.inputs[t] == (reference[t - 1] if main.forced[t] else main.outputs[t - 1])
    assert main.inputs[0] == BOS_ID


@torch.no_grad()
def test_reference_probs_are_the_forced_runs_probability_of_piece_t_at_step_t(tiny):
    text, reference = "21 September 1999", "1999-09-21"
    r = tiny.translate(text, reference=reference, teacher_forcing=1.0)
    source_ids = tiny.encode_source(text)
    reference_ids = tiny.encode_reference(reference)
    logits = tiny.model(torch.tensor([source_ids]), torch.tensor([len(source_ids)]), torch.tensor([reference_ids]),
                        teacher_forcing=1.0)[0]
    probs = softmax_rows(logits)  # (S, V), by the batched forced path (not decode.greedy's step loop)
    assert len(r.reference_probs) == len(reference_ids) == len(r.reference_pieces)
    expected = [probs[t, reference_ids[t]] for t in range(len(reference_ids))]
    np.testing.assert_allclose(r.reference_probs, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(r.probs, probs.max(-1), rtol=1e-4, atol=1e-6)
    assert tiny.target_tokenizer.pieces(probs.argmax(-1)) == r.output_pieces
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
            expected_piece = r.reference_pieces[t - 1] if r.forced[t] else r.output_pieces[t - 1]
            assert r.decoder_inputs[t] == expected_piece
        # replay the same inputs through the forced path: p(reference piece t) at step t
        fed = [target.sp.piece_to_id(p) for p in r.decoder_inputs[1:]] + [EOS_ID]
        source_ids = tiny.encode_source(text)
        logits = tiny.model(torch.tensor([source_ids]), torch.tensor([len(source_ids)]), torch.tensor([fed]),
                            teacher_forcing=1.0)[0]
        probs = softmax_rows(logits)
        np.testing.assert_allclose(r.reference_probs, [probs[t, reference_ids[t]] for t in range(len(fed))],
                                   rtol=1e-4, atol=1e-6)


def test_decoder_inputs_are_bos_then_the_reference(tiny):
    r = tiny.translate("3 March 2021", reference="2021-03-03", teacher_forcing=1.0)
    pieces = tiny.target_tokenizer.pieces(tiny.target_tokenizer.encode("2021-03-03"))
    assert r.decoder_inputs[0] == "<s>"
    assert r.decoder_inputs[1:] == pieces
    assert r.reference_pieces == pieces + ["</s>"]
    assert len(r.output_pieces) == len(pieces) + 1
    assert r.forced[1:].all() and not r.forced[0]


def test_batched_decoding_equals_alone_and_ignores_padding():
    model = random_model()
    ids, lengths = batch([3, 8, 5], seed=3)
    together = decode.greedy(model, ids, lengths, max_len=10)
    for i, n in enumerate(lengths.tolist()):
        (alone,) = decode.greedy(model, ids[i : i + 1, :n], lengths[i : i + 1], max_len=10)
        assert together[i].outputs == alone.outputs
        assert together[i].weights.shape[-1] == n  # its own pieces: the batch's padding columns are dropped
        np.testing.assert_allclose(together[i].weights.sum(-1), 1.0, atol=1e-5)  # so padding got nothing
        assert np.abs(together[i].weights - alone.weights).max() <= 1e-5


def test_causal_mask_has_the_right_shape_at_every_step(tiny):
    """Seed defect: its commented mask sliced tril[:t, :t], the wrong shape (empty at t = 0)."""
    r = tiny.translate("21 September 1999", mask="causal", max_len=16)
    steps, width = r.attention.shape[1:]
    assert steps > width, "the test needs steps past the source length"
    for t in range(steps):
        assert (r.attention[:, t, t + 1 :] == 0).all()
        assert np.isneginf(r.scores[:, t, t + 1 :]).all()
        assert np.isfinite(r.scores[:, t, : t + 1]).all()
    np.testing.assert_allclose(r.attention.sum(-1), 1.0, atol=1e-5)


def test_teacher_forcing_state_is_per_call_and_global_rng_untouched(tiny):
    """Seed defect: ratio stored on the module, coins from the global RNG."""
    assert not any("teacher" in name for name in vars(tiny.model))
    torch.manual_seed(123)
    before = torch.get_rng_state()
    kwargs = dict(reference="1999-09-21", teacher_forcing=0.5, seed=7)
    first = tiny.translate("21 September 1999", **kwargs)
    assert torch.equal(before, torch.get_rng_state()), "translate used the global RNG"
    results = []

    def worker():
        for _ in range(5):
            results.append(tiny.translate("21 September 1999", **kwargs))
            tiny.translate("3 March 2021", reference="2021-03-03", teacher_forcing=0.5, seed=99)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20
    for r in results:
        assert r.decoder_inputs == first.decoder_inputs and r.forced.tolist() == first.forced.tolist()
        np.testing.assert_array_equal(r.attention, first.attention)


def test_forcing_ratio_between_0_and_1_mixes_and_seed_matters(tiny):
    runs = [tiny.translate("21 September 1999", reference="1999-09-21", teacher_forcing=0.5, seed=s)
            for s in range(8)]
    patterns = {tuple(r.forced.tolist()) for r in runs}
    assert len(patterns) > 1
    mixed = [r for r in runs if 0 < r.forced[1:].sum() < len(r.forced) - 1]
    assert mixed, "some run should mix forced and free steps"


def test_full_teacher_forcing_does_not_depend_on_seed(tiny):
    a = tiny.translate("3 March 2021", reference="2021-03-03", teacher_forcing=1.0, seed=1)
    b = tiny.translate("3 March 2021", reference="2021-03-03", teacher_forcing=1.0, seed=2)
    assert a.decoder_inputs == b.decoder_inputs
    np.testing.assert_array_equal(a.attention, b.attention)


def test_beam_size_one_is_greedy_and_beam_results_are_distinct(tiny):
    greedy = tiny.translate("21 September 1999")
    assert tiny.translate("21 September 1999", beam_size=1).output_pieces == greedy.output_pieces
    r = tiny.translate("21 September 1999", beam_size=4)
    assert len(r.hypotheses) == 4 and r.hypotheses[0] is r
    assert len({tuple(h.output_pieces) for h in r.hypotheses}) == 4
    for h in r.hypotheses:
        assert h.attention.shape[1] == len(h.output_pieces)
        np.testing.assert_allclose(h.attention.sum(-1), 1.0, atol=1e-5)
