"""The fused training pass against the reference: autograd through `EDM.forward` is the oracle.

For each configuration, the same model and batch go through `model(...)` (every op recorded by autograd)
and through `fused.forward` (the hand-written backward of s2s/fused.py); the logits and every parameter's
gradient must agree. Dropout is off so that both paths compute the very same function; its masks are
checked on their own.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from s2s import fused
from s2s.model import ModelConfig, build_model
from s2s.training.trainer import sequence_loss

B, T, S = 9, 7, 6  # batch, source length, output steps


def batch(ragged: bool, seed: int = 0):
    rng = torch.Generator().manual_seed(seed)
    source = torch.randint(4, 40, (B, T), generator=rng)
    lengths = torch.full((B,), T)
    if ragged:
        lengths = torch.randint(2, T + 1, (B,), generator=rng)
        lengths[0] = T
        source[torch.arange(T)[None] >= lengths[:, None]] = 0
    target = torch.randint(3, 30, (B, S), generator=rng)
    target[:3, -2:] = 0  # padding: not counted by the loss
    target[4, 2] = 0  # a PAD fed in mid-sequence (as a model may predict one): its embedding must stay untrained
    return source, lengths, target


def gradients(model, forward, source, lengths, target, forcing: float, mask: str):
    model.zero_grad(set_to_none=True)
    logits = forward(source, lengths, target, teacher_forcing=forcing, mask=mask,
                     generator=torch.Generator().manual_seed(1))
    sequence_loss(logits, target).backward()
    return logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


CONFIGS = [dict(model=m, query=q, score=s, encoder=e, bridge=b) for m, q, s, e, b in itertools.product(
    ["attention", "edm"], ["state", "input"], ["scaled_dot", "dot"], ["uni", "bi"], ["final", "hidden"])
    if m == "attention" or (q, s) == ("state", "scaled_dot")]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(c.values()))
@pytest.mark.parametrize("mask", ["bidirectional", "causal"])
@pytest.mark.parametrize("forcing", [1.0, 0.75, 0.0])
@pytest.mark.parametrize("ragged", [False, True], ids=["equal", "ragged"])
def test_logits_and_every_gradient_match_autograd_through_the_reference(config, mask, forcing, ragged):
    torch.manual_seed(0)
    model = build_model(ModelConfig(40, 30, emb_size=16, hidden_size=24, num_layers=2, dropout=0.0, **config))
    model.train()
    data = batch(ragged)
    want_logits, want = gradients(model, model, *data, forcing, mask)
    got_logits, got = gradients(model, lambda *a, **k: fused.forward(model, *a, **k), *data, forcing, mask)
    torch.testing.assert_close(got_logits, want_logits, rtol=1e-5, atol=1e-6)
    assert got.keys() == want.keys()
    for name in want:
        error = (got[name] - want[name]).norm() / want[name].norm().clamp_min(1e-12)
        assert error < 1e-4, (name, error.item())


def test_in_float64_the_gradients_agree_to_rounding():
    torch.manual_seed(0)
    model = build_model(ModelConfig(40, 30, emb_size=16, hidden_size=24, num_layers=3, dropout=0.0)).double()
    data = batch(ragged=True)
    _, want = gradients(model, model, *data, 0.5, "causal")
    _, got = gradients(model, lambda *a, **k: fused.forward(model, *a, **k), *data, 0.5, "causal")
    for name in want:
        assert (got[name] - want[name]).norm() <= 1e-12 * want[name].norm().clamp_min(1.0), name


def test_with_dropout_the_backward_is_the_derivative_of_the_forward():
    """Finite differences (float64) of the loss through the fused pass, with its dropout masks held fixed."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(20, 15, emb_size=6, hidden_size=8, num_layers=2, dropout=0.3)).double()
    model.train()
    source, _, target = batch(ragged=False)
    source, lengths, target = source[:3, :5].clamp(max=19), torch.full((3,), 5), target[:3, :4].clamp(max=14)
    names = [name for name, _ in model.named_parameters()]

    class Fused(torch.nn.Module):  # so that torch.func.functional_call can swap the weights in
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self):
            return fused.forward(self.model, source, lengths, target, teacher_forcing=1.0)

    def loss(*weights):
        torch.manual_seed(7)  # the same dropout masks at every evaluation
        logits = torch.func.functional_call(Fused(), {f"model.{n}": w for n, w in zip(names, weights, strict=True)}, ())
        return sequence_loss(logits, target)

    weights = tuple(p.detach().clone().requires_grad_() for p in model.parameters())
    # fast_mode: the derivative along random directions of every weight at once, against finite differences
    assert torch.autograd.gradcheck(loss, weights, eps=1e-6, atol=1e-5, rtol=1e-4, fast_mode=True)


def test_the_general_and_additive_scores_train_through_the_reference():
    for score in ("general", "additive"):
        model = build_model(ModelConfig(40, 30, score=score, emb_size=16, hidden_size=24, dropout=0.0))
        assert not fused.supported(model)
        data = batch(ragged=False)
        torch.testing.assert_close(fused.forward(model, *data, teacher_forcing=0.5,
                                                 generator=torch.Generator().manual_seed(3)),
                                   model(*data, teacher_forcing=0.5, generator=torch.Generator().manual_seed(3)))


def test_under_autocast_the_encoder_runs_in_bfloat16_and_the_decoder_in_float32():
    """The oracle: autograd through `EDM.forward`, whose encoder alone runs under autocast (patched in)."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(40, 30, emb_size=16, hidden_size=24, num_layers=2, dropout=0.0, encoder="bi"))
    model.train()
    data = batch(ragged=False)
    plain_encode = model.encode

    def encode_in_bfloat16(source, lengths):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            memory, (h, c) = plain_encode(source, lengths)
        assert memory.values.dtype == torch.bfloat16  # else this test checks nothing
        return memory._replace(values=memory.values.float(), keys=memory.keys.float()), (h.float(), c.float())

    _, exact = gradients(model, model, *data, 0.75, "bidirectional")
    model.encode = encode_in_bfloat16
    want_logits, want = gradients(model, model, *data, 0.75, "bidirectional")
    model.encode = plain_encode

    def under_autocast(*args, **kwargs):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return fused.forward(model, *args, **kwargs)

    got_logits, got = gradients(model, under_autocast, *data, 0.75, "bidirectional")
    assert got_logits.dtype == torch.float32
    torch.testing.assert_close(got_logits, want_logits, rtol=1e-5, atol=1e-5)
    relative = lambda a, b: ((a - b).norm() / b.norm()).item()  # noqa: E731
    decoder = [n for n in want if not n.startswith("encoder.")]
    for name in decoder:  # the decoder's own backward: as in float32 (its inputs are the bfloat16 encoder's)
        assert relative(got[name], want[name]) < 1e-5, name
        assert relative(got[name], exact[name]) > 1e-5, name  # else the encoder did not run in bfloat16
    for name in set(want) - set(decoder):  # the encoder's backward rounds to bfloat16 as it goes
        assert relative(got[name], exact[name]) < 2e-2, name
