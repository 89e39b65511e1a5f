"""s2s/transformer.py against independent computations.

The oracle (tests/transformer_oracle.py) writes the network out again from the module's weights, one head
at a time, in float64, recomputing the whole prefix at every call (no cache). Against it: cached decoding,
each head's weights (softmax(q K^T / sqrt(dh)) written out), the log-probabilities, both masks. Against
the model's own step-by-step decoding: the parallel forced pass and scheduled sampling, built by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from s2s import decode
from s2s.model import ModelConfig, Transformer, build_model
from s2s.tokenizer import BOS_ID, EOS_ID, PAD_ID
from s2s.transformer import sinusoids
from tests import transformer_oracle as oracle

TINY = dict(model="transformer", hidden_size=16, heads=4, ff_size=24, num_layers=2)
KINDS = ("cross", "decoder_self", "encoder_self")


def tiny_model(seed: int = 0, vocab: int = 12, **settings) -> Transformer:
    torch.manual_seed(seed)
    return build_model(ModelConfig(30, vocab, **(TINY | settings))).eval()


def source_of(seed: int, length: int = 6) -> torch.Tensor:
    return torch.randint(4, 30, (1, length), generator=torch.Generator().manual_seed(seed))


def check_against_oracle(model, trace, source_ids, mask="bidirectional", decoder_causal=True, greedy=False):
    """Every per-head array and probability of a Trace = the oracle run on the same source and fed pieces."""
    expected = oracle.run(model, source_ids, trace.inputs, mask=mask, decoder_causal=decoder_causal)
    for kind in KINDS:
        np.testing.assert_allclose(trace.heads[kind], expected[kind], atol=2e-5, err_msg=kind)
        finite = np.isfinite(expected[kind + "_scores"])
        assert (np.isfinite(trace.head_scores[kind]) == finite).all(), kind
        np.testing.assert_allclose(trace.head_scores[kind][finite], expected[kind + "_scores"][finite], atol=1e-4)
    produced = expected["log_probs"][np.arange(len(trace.outputs)), trace.outputs]
    np.testing.assert_allclose(np.log(trace.probs), produced, atol=2e-5)
    if greedy:
        assert trace.outputs == [int(i) for i in expected["log_probs"].argmax(-1)]


def test_the_positions_are_the_sinusoids_written_out():
    np.testing.assert_allclose(sinusoids(torch.arange(7), 10).numpy(), oracle.positions(7, 10).numpy(), atol=1e-6)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mask", ["bidirectional", "causal"])
def test_cached_greedy_decoding_equals_the_uncached_oracle(seed, mask):
    """Each step costs one new position (the cache); the oracle recomputes the whole prefix: the same numbers."""
    model, source = tiny_model(seed), source_of(seed)
    trace = decode.greedy(model, source, torch.tensor([6]), max_len=8, mask=mask)[0]
    check_against_oracle(model, trace, source[0].tolist(), mask, greedy=True)
    for t in range(1, len(trace.inputs)):  # every prefix alone, from scratch: its last row is step t's
        prefix = oracle.run(model, source[0].tolist(), trace.inputs[: t + 1], mask=mask)
        np.testing.assert_allclose(trace.heads["cross"][:, :, t], prefix["cross"][:, :, t], atol=2e-5)
        assert np.log(trace.probs[t]) == pytest.approx(prefix["log_probs"][t, trace.outputs[t]], abs=2e-5)


def test_the_cache_grows_by_one_position_a_step():
    model, source = tiny_model(), source_of(0)
    memory, state = model.encode(source, torch.tensor([6]))
    for t in range(4):
        assert state[0].shape == state[1].shape == (2, 1, t, 16)
        _, state = model.step(torch.tensor([BOS_ID]), state, memory, memory.allowed("bidirectional", t))


@pytest.mark.parametrize("seed", range(3))
def test_each_heads_weights_are_softmax_of_q_k_over_root_dh_from_the_recorded_q_and_k(seed):
    model, source = tiny_model(seed), source_of(seed)
    trace = decode.greedy(model, source, torch.tensor([6]), max_len=8)[0]
    dh = 4
    scores = np.einsum("lhsd,lhtd->lhst", trace.head_queries, trace.head_keys) / math.sqrt(dh)
    np.testing.assert_allclose(scores, trace.head_scores["cross"], atol=1e-5)
    np.testing.assert_allclose(np.exp(scores) / np.exp(scores).sum(-1, keepdims=True), trace.heads["cross"],
                               atol=1e-6)
    per_head = np.einsum("lhst,lhtd->lshd", trace.heads["cross"], trace.head_values)  # each head's w V
    np.testing.assert_allclose(per_head.reshape(*per_head.shape[:2], -1), trace.contexts, atol=1e-5)
    np.testing.assert_allclose(trace.weights, trace.heads["cross"].mean(1), atol=1e-7)  # the map: the mean


@pytest.mark.parametrize("seed", range(4))
def test_the_parallel_forced_pass_equals_step_by_step_forced_decoding(seed):
    """Training's one pass over all steps vs the decoder fed BOS, then the target, one step at a time."""
    model = tiny_model(seed)
    source = torch.cat([source_of(seed, 7), source_of(seed + 50, 7)])
    lengths = torch.tensor([7, 4])
    target = torch.randint(4, 12, (2, 6), generator=torch.Generator().manual_seed(seed))
    target[1, 3:] = PAD_ID
    target[1, 2] = EOS_ID
    with torch.no_grad():
        parallel = torch.log_softmax(model(source, lengths, target, teacher_forcing=1.0), -1)
        memory, state = model.encode(source, lengths)
        token, stepped = torch.full((2,), BOS_ID), []
        for t in range(6):
            out, state = model.step(token, state, memory, memory.allowed("bidirectional", t))
            stepped.append(torch.log_softmax(out.logits, -1))
            token = target[:, t]
    stepped = torch.stack(stepped, 1)
    torch.testing.assert_close(parallel[0], stepped[0], atol=2e-5, rtol=0)
    torch.testing.assert_close(parallel[1, :3], stepped[1, :3], atol=2e-5, rtol=0)  # up to its EOS


@pytest.mark.parametrize("mask", ["bidirectional", "causal"])
def test_forced_decoding_in_one_pass_matches_the_oracle(mask):
    model, source = tiny_model(3), source_of(3)
    reference = torch.tensor([[5, 6, 7, 8, EOS_ID]])
    trace = decode.greedy(model, source, torch.tensor([6]), max_len=8, mask=mask, reference=reference,
                          teacher_forcing=1.0)[0]
    assert trace.inputs == [BOS_ID, 5, 6, 7, 8] and trace.forced[1:].all()
    check_against_oracle(model, trace, source[0].tolist(), mask)


def test_the_decoders_causal_mask_hides_exactly_the_future():
    """Change the piece fed at step k: the steps before k are untouched, every step from k on changes; trained
    without the mask (decoder_mask bidirectional), the steps before k change too."""
    source, lengths = source_of(1), torch.tensor([6])
    target = torch.tensor([[4, 5, 6, 7, 8, 9]])
    changed = target.clone()
    changed[0, 2] = 10  # fed at step 3
    for decoder_mask in ("causal", "bidirectional"):
        model = tiny_model(1, decoder_mask=decoder_mask)
        with torch.no_grad():
            before, after = model(source, lengths, target), model(source, lengths, changed)
        same = (before - after).abs().amax(-1)[0]  # (S,)
        assert (same[3:] > 1e-4).all()
        if decoder_mask == "causal":
            assert (same[:3] == 0).all()
        else:
            assert (same[:3] > 1e-4).all()


def test_the_causal_mask_hides_exactly_the_later_source_pieces():
    """mask causal: encoder position i reads 0..i, step t reads source 0..t. Changing source piece j leaves the
    steps before j as they were and changes every step from j on."""
    model, target, lengths = tiny_model(2), torch.tensor([[4, 5, 6, 7, 8, 9]]), torch.tensor([6])
    source = source_of(2)
    changed = source.clone()
    changed[0, 3] = 4 if source[0, 3] != 4 else 5
    with torch.no_grad():
        before = model(source, lengths, target, mask="causal")
        after = model(changed, lengths, target, mask="causal")
        everywhere = model(changed, lengths, target) - model(source, lengths, target)
    moved = (before - after).abs().amax(-1)[0]
    assert (moved[:3] == 0).all() and (moved[3:] > 1e-4).all()
    assert (everywhere.abs().amax(-1)[0] > 1e-4).all()  # bidirectional: every step reads piece 3


def test_the_recorded_maps_of_each_mask_are_zero_exactly_where_hidden():
    model, source = tiny_model(4), source_of(4)
    trace = decode.greedy(model, source, torch.tensor([6]), max_len=8, mask="causal")[0]
    steps, width = len(trace.outputs), 6
    above = {"encoder_self": np.triu(np.ones((width, width), bool), 1),
             "decoder_self": np.triu(np.ones((steps, steps), bool), 1),
             "cross": np.arange(width)[None, :] > np.arange(steps)[:, None]}
    for kind, hidden in above.items():
        assert (trace.heads[kind][..., hidden] == 0).all(), kind
        assert (trace.heads[kind][..., ~hidden] > 0).all(), kind
        assert np.isneginf(trace.head_scores[kind][..., hidden]).all(), kind


def test_a_decoder_trained_without_its_mask_reads_the_future_only_under_forcing():
    model, source = tiny_model(5, decoder_mask="bidirectional"), source_of(5)
    reference = torch.tensor([[5, 6, 7, 8, EOS_ID]])
    forced = decode.greedy(model, source, torch.tensor([6]), max_len=8, reference=reference, teacher_forcing=1.0)[0]
    check_against_oracle(model, forced, source[0].tolist(), decoder_causal=False)
    assert (forced.heads["decoder_self"][..., np.triu(np.ones((5, 5), bool), 1)] > 0).all()
    free = decode.greedy(model, source, torch.tensor([6]), max_len=8)[0]
    check_against_oracle(model, free, source[0].tolist(), decoder_causal=True)  # decoding cannot see the future


def test_padding_changes_nothing():
    """Sources and targets of several lengths in one batch: each row as it is alone, recorded and trained."""
    model = tiny_model(6)
    sources = [source_of(s, n)[0] for s, n in ((1, 3), (2, 7), (3, 5))]
    batch = torch.full((3, 7), PAD_ID)
    for i, s in enumerate(sources):
        batch[i, : len(s)] = s
    lengths = torch.tensor([3, 7, 5])
    together = decode.greedy(model, batch, lengths, max_len=8)
    for s, trace in zip(sources, together):
        alone = decode.greedy(model, s[None], torch.tensor([len(s)]), max_len=8)[0]
        assert trace.outputs == alone.outputs
        for kind in KINDS:
            np.testing.assert_allclose(trace.heads[kind], alone.heads[kind], atol=1e-6)
        np.testing.assert_allclose(trace.head_values, alone.head_values, atol=1e-6)
    target = torch.tensor([[4, 5, EOS_ID, PAD_ID], [6, 7, 8, EOS_ID], [9, EOS_ID, PAD_ID, PAD_ID]])
    with torch.no_grad():
        logits = model(batch, lengths, target)
        for i, (s, n) in enumerate(zip(sources, (3, 4, 2))):
            one = model(s[None], torch.tensor([len(s)]), target[i : i + 1, :n])[0]
            torch.testing.assert_close(logits[i, :n], one, atol=1e-5, rtol=0)


def test_two_pass_scheduled_sampling_feeds_the_reference_or_the_first_passs_prediction_by_the_coins():
    """Ratio r: the coins (the same generator rule as the LSTM's, one per sequence per step), the first forced
    pass's predictions and the mixed inputs are built here by hand, and the second pass is the oracle's."""
    model = tiny_model(7)
    source, lengths = torch.cat([source_of(7), source_of(8)]), torch.tensor([6, 6])
    target = torch.randint(4, 12, (2, 7), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        first = model(source, lengths, target).argmax(-1)  # (B, S) the forced pass's predictions
        for ratio in (0.0, 0.4, 0.8):
            coins = torch.Generator().manual_seed(11)
            got = torch.log_softmax(model(source, lengths, target, teacher_forcing=ratio,
                                          generator=torch.Generator().manual_seed(11)), -1)
            flips = [torch.rand(2, generator=coins) < ratio if ratio > 0 else torch.zeros(2, dtype=torch.bool)
                     for _ in range(7)]
            for b in range(2):
                fed = [BOS_ID] + [int(target[b, t] if flips[t][b] else first[b, t]) for t in range(6)]
                expected = oracle.run(model, source[b].tolist(), fed)["log_probs"]
                np.testing.assert_allclose(got[b].numpy(), expected, atol=3e-5)
    assert not all(f.all() for f in flips) and any(f.any() for f in flips)  # at 0.8 both kinds occurred


def test_a_forcing_ratio_below_one_trains_every_weight_in_training_mode():
    model = tiny_model(8, dropout=0.1).train()
    source, lengths, target = source_of(8), torch.tensor([6]), torch.tensor([[4, 5, 6, EOS_ID]])
    logits = model(source, lengths, target, teacher_forcing=0.5, generator=torch.Generator().manual_seed(0))
    torch.nn.functional.cross_entropy(logits[0], target[0]).backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads.values())
    assert all(float(g.abs().sum()) > 0 for name, g in grads.items() if "embedding" not in name and "emb" not in name)


def test_every_dropout_acts_in_training_and_none_while_decoding():
    """Decoding skips the dropout modules (transformer.dropped); training must still pass through each of them,
    and its output must then be random: two passes differ, where two eval passes agree bit for bit."""
    model = tiny_model(3, dropout=0.3)
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    calls = []
    for m in dropouts:
        m.register_forward_hook(lambda module, args, out: calls.append(module))
    source, lengths, target = source_of(3), torch.tensor([6]), torch.tensor([[4, 5, 6, EOS_ID]])
    with torch.no_grad():
        evals = [model(source, lengths, target) for _ in range(2)]
    assert calls == [] and torch.equal(*evals)
    model.train()
    with torch.no_grad():
        trains = [model(source, lengths, target) for _ in range(2)]
    assert {id(m) for m in calls} == {id(m) for m in dropouts}
    assert not torch.equal(*trains) and not torch.equal(trains[0], evals[0])


def test_a_beam_of_one_never_ranks_below_greedy():
    """Greedy's output is one of the endings a beam of 1 compares (tests/test_beam.py proves it for any model);
    wider beams are held to it on the trained checkpoints (tests/test_transformer_checkpoints.py): on untrained,
    near-uniform models a beam of 2 can prune greedy's path (test_beam.py builds one where it does)."""
    compared = 0
    for seed in range(40):
        model, source = tiny_model(seed, vocab=6), source_of(seed)
        greedy = decode.greedy(model, source, torch.tensor([6]), max_len=12)[0]
        if greedy.outputs[-1] != EOS_ID:
            continue  # no finished output to compare
        compared += 1
        best = decode.beam_search(model, source, torch.tensor([6]), beam_size=1, max_len=12)[0]
        greedy_score = float(np.log(greedy.probs).sum()) / len(greedy.outputs)
        assert float(np.log(best.probs).sum()) / len(best.outputs) >= greedy_score - 1e-6, seed
    assert compared >= 10


@pytest.mark.parametrize("beam_size", [2, 4])
def test_each_hypothesis_records_what_the_oracle_computes_for_its_own_pieces(beam_size):
    model, source = tiny_model(9), source_of(9)
    for h in decode.beam_search(model, source, torch.tensor([6]), beam_size=beam_size, max_len=6):
        assert h.inputs == [BOS_ID, *h.outputs[:-1]]
        check_against_oracle(model, h, source[0].tolist())


def test_the_config_is_frozen_and_refuses_heads_that_do_not_divide_the_model_size():
    config = ModelConfig(30, 12, **TINY)
    with pytest.raises(Exception, match="cannot assign"):
        config.heads = 8
    with pytest.raises(ValueError, match="heads divide"):
        ModelConfig(30, 12, **(TINY | dict(heads=3)))
    with pytest.raises(ValueError, match="decoder_mask must be one of"):
        ModelConfig(30, 12, **(TINY | dict(decoder_mask="sideways")))
    old = ModelConfig.from_dict(dict(input_vocab_size=30, output_vocab_size=12, model="attention", hidden_size=16))
    assert (old.heads, old.ff_size, old.decoder_mask) == (4, 256, "causal")  # an LSTM config.json's, unchanged


def test_a_model_holds_no_per_request_state():
    """Mask, forcing and generator are arguments: two calls with different settings leave the module as it was."""
    model = tiny_model(10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    attributes = dict(vars(model))
    source, lengths = source_of(10), torch.tensor([6])
    decode.greedy(model, source, lengths, max_len=5, mask="causal")
    decode.greedy(model, source, lengths, max_len=5, reference=torch.tensor([[4, 5, EOS_ID]]), teacher_forcing=0.5,
                  generator=torch.Generator().manual_seed(1))
    assert vars(model).keys() == attributes.keys()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
