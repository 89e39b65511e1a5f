"""The corrected models: each seed defect has a test that fails on the seed's code."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import torch

from s2s import checkpoint, decode
from s2s.model import ModelConfig, build_model
from s2s.tokenizer import BOS_ID, EOS_ID, PAD_ID


def random_model(seed=0, **settings):
    torch.manual_seed(seed)
    fields = dict(input_vocab_size=50, output_vocab_size=40, emb_size=8, hidden_size=16, num_layers=2) | settings
    return build_model(ModelConfig(**fields)).eval()


def batch(lengths, vocab=50, seed=0):
    """A padded batch of random ids (no specials) with the given lengths."""
    g = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.randint(4, vocab, (len(lengths), width), generator=g)
    for i, n in enumerate(lengths):
        ids[i, n:] = PAD_ID
    return ids, torch.tensor(lengths)


# --- a plain step-by-step reference, written from the equations -------------------------------


def lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def reference_encoder(model, ids):
    """One token at a time, one layer at a time: per-layer states (L, T, H) and final (h, c)."""
    x = model.encoder.embedding(ids)  # (T, E)
    states, finals = [], []
    for lstm in model.encoder.layers:
        h = c = torch.zeros(lstm.hidden_size)
        outs = []
        for x_t in x:
            h, c = lstm_step(x_t, h, c, lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)
            outs.append(h)
        x = torch.stack(outs)
        states.append(x)
        finals.append((h, c))
    return torch.stack(states), finals


def reference_forward(model, ids, target):
    """Teacher forcing 1.0, written out: scores q.k/sqrt(H), explicit weighted sums."""
    values, finals = reference_encoder(model, ids)
    hs, cs = [h for h, _ in finals], [c for _, c in finals]
    size = model.config.hidden_size
    logits = []
    for t in range(len(target)):
        token = BOS_ID if t == 0 else int(target[t - 1])
        x = model.decoder_emb.weight[token]
        for layer, cell in enumerate(model.decoder_cells):
            scores = torch.stack([hs[layer] @ v / math.sqrt(size) for v in values[layer]])
            weights = torch.softmax(scores, dim=0)
            context = sum(w * v for w, v in zip(weights, values[layer]))
            hs[layer], cs[layer] = lstm_step(x, context, cs[layer], cell.weight_ih, cell.weight_hh,
                                             cell.bias_ih, cell.bias_hh)
            x = hs[layer]
        logits.append(model.lm(x))
    return torch.stack(logits)


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


# --- the seed's defects -------------------------------------------------------------------------


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


def test_decoder_inputs_are_bos_then_the_reference(tiny):
    r = tiny.translate("3 March 2021", reference="2021-03-03", teacher_forcing=1.0)
    pieces = tiny.target_tokenizer.pieces(tiny.target_tokenizer.encode("2021-03-03"))
    assert r.decoder_inputs[0] == "<s>"
    assert r.decoder_inputs[1:] == pieces
    assert r.reference_tokens == pieces + ["</s>"]
    assert len(r.output_tokens) == len(pieces) + 1
    assert r.forced[1:].all() and not r.forced[0]


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


# --- the public API's other promises ------------------------------------------------------------


@pytest.mark.parametrize("score", ["dot", "scaled_dot", "general", "additive"])
@pytest.mark.parametrize("query", ["input", "state"])
def test_every_score_and_query_gives_normalised_attention(make_checkpoint, score, query):
    model = checkpoint.load(make_checkpoint(score=score, query=query), device="cpu")
    r = model.translate("3 March 2021")
    layers, steps, width = r.attention.shape
    assert (layers, width) == (2, len(r.source_tokens)) and steps == len(r.output_tokens)
    assert r.attention.dtype == np.float32 and r.scores.dtype == np.float32
    np.testing.assert_allclose(r.attention.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(r.attention, torch.softmax(torch.from_numpy(r.scores), -1).numpy(), atol=1e-6)
    assert r.decoder_inputs[0] == "<s>" and r.decoder_inputs[1:] == r.output_tokens[:-1]


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
    assert r.attention.shape == (0, len(r.output_tokens), len(r.source_tokens))
    assert r.text == model.target_tokenizer.decode(model.target_tokenizer.encode(r.text))


def test_beam_size_one_is_greedy_and_beam_results_are_distinct(tiny):
    greedy = tiny.translate("21 September 1999")
    assert tiny.translate("21 September 1999", beam_size=1).output_tokens == greedy.output_tokens
    r = tiny.translate("21 September 1999", beam_size=4)
    assert len(r.hypotheses) == 4 and r.hypotheses[0] is r
    assert len({tuple(h.output_tokens) for h in r.hypotheses}) == 4
    for h in r.hypotheses:
        assert h.attention.shape[1] == len(h.output_tokens)
        np.testing.assert_allclose(h.attention.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(text=""), "empty"),
        (dict(text="   \n\t"), "empty"),
        (dict(text="7 " * 60), "too long"),
        (dict(mask="sideways"), "mask"),
        (dict(teacher_forcing=1.5, reference="2021"), "from 0 to 1"),
        (dict(teacher_forcing=-0.1, reference="2021"), "from 0 to 1"),
        (dict(teacher_forcing=float("nan"), reference="2021"), "from 0 to 1"),
        (dict(teacher_forcing="lots", reference="2021"), "from 0 to 1"),
        (dict(teacher_forcing=0.5), "reference"),
        (dict(teacher_forcing=0.5, reference="  "), "reference"),
        (dict(beam_size=0), "beam size"),
        (dict(beam_size=2.5), "beam size"),
        (dict(beam_size=3, teacher_forcing=1.0, reference="2021"), "Beam search"),
        (dict(max_len=0), "max_len"),
        (dict(text=None), "must be text"),
    ],
)
def test_bad_input_is_a_clear_value_error(tiny, kwargs, message):
    kwargs = dict(text="3 March 2021") | kwargs
    with pytest.raises(ValueError, match=message):
        tiny.translate(kwargs.pop("text"), **kwargs)


@pytest.mark.parametrize("text", ["😀🎉", "日本語のテキスト", "Ωμέγα", "a\x00b\x07c", "<img src=x onerror=alert(1)>"])
def test_any_unicode_is_input_not_an_error(tiny, text):
    r = tiny.translate(text)
    assert r.attention.shape[2] == len(r.source_tokens)
    assert "<unk>" not in r.source_tokens


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
