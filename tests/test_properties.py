"""Properties that must hold for any input (hypothesis): padding changes nothing, the causal mask hides the
future, attention rows are distributions, and a seed reproduces the forcing coins on any thread."""

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

IN_VOCAB, OUT_VOCAB = 12, 10
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
