"""The Transformer written out again for one sequence, from the module's weights, as an independent oracle.

Nothing here calls s2s/transformer.py's code: layer norm, the projections, each head's softmax(q K^T / sqrt(dh))
and the positions are written out plainly, in float64, one head at a time, with no cache (every call recomputes
the whole prefix). Tests compare what the module records against it.
"""

from __future__ import annotations

import math

import torch

from s2s.transformer import Transformer


def layer_norm(x: torch.Tensor, norm) -> torch.Tensor:
    mean = x.mean(-1, keepdim=True)
    variance = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(variance + norm.eps) * norm.weight.double() + norm.bias.double()


def linear(x: torch.Tensor, layer) -> torch.Tensor:
    return x @ layer.weight.double().T + layer.bias.double()


def positions(n: int, size: int) -> torch.Tensor:
    """PE[p, 2i] = sin(p / 10000^(2i/size)), PE[p, 2i+1] = cos(the same), entry by entry."""
    table = torch.zeros(n, size, dtype=torch.float64)
    for p in range(n):
        for i in range(0, size, 2):
            table[p, i] = math.sin(p / 10000 ** (i / size))
            if i + 1 < size:
                table[p, i + 1] = math.cos(p / 10000 ** (i / size))
    return table


def attention(module, x: torch.Tensor, z: torch.Tensor, allowed: torch.Tensor, heads: int):
    """x (N, H) asks, z (M, H) is read, allowed (N, M) -> output (N, H), weights and scores (NH, N, M)."""
    q, k, v = linear(x, module.query), linear(z, module.key), linear(z, module.value)
    size = q.shape[1] // heads
    outputs, weights, scores = [], [], []
    for h in range(heads):
        columns = slice(h * size, (h + 1) * size)
        s = q[:, columns] @ k[:, columns].T / math.sqrt(size)  # (N, M)
        s = torch.where(allowed, s, torch.tensor(float("-inf"), dtype=s.dtype))
        e = torch.exp(s - s.max(-1, keepdim=True).values)
        w = e / e.sum(-1, keepdim=True)
        outputs.append(w @ v[:, columns])
        weights.append(w)
        scores.append(s)
    return linear(torch.cat(outputs, -1), module.out), torch.stack(weights), torch.stack(scores)


def feed_forward(x: torch.Tensor, ff) -> torch.Tensor:
    return linear(torch.relu(linear(x, ff[0])), ff[2])


@torch.no_grad()
def run(model: Transformer, source: list[int], inputs: list[int], *, mask: str = "bidirectional",
        decoder_causal: bool = True) -> dict:
    """One sequence through the network, in eval mode (no dropout): log-probabilities (S, V) and, per kind,
    weights and scores (L, NH, rows, cols), with `mask` on encoder self- and cross-attention."""
    c = model.config
    heads, size = c.heads, c.hidden_size
    T, S = len(source), len(inputs)
    lower = torch.ones(max(T, S), max(T, S), dtype=torch.bool).tril()
    x = model.encoder.embedding.weight.double()[source] * math.sqrt(size) + positions(T, size)
    encoder_allowed = lower[:T, :T] if mask == "causal" else torch.ones(T, T, dtype=torch.bool)
    found = {kind: ([], []) for kind in ("encoder_self", "decoder_self", "cross")}

    def keep(kind, weights, scores):
        found[kind][0].append(weights)
        found[kind][1].append(scores)

    for layer in model.encoder.layers:
        n = layer_norm(x, layer.norm1)
        out, w, s = attention(layer.attention, n, n, encoder_allowed, heads)
        keep("encoder_self", w, s)
        x = x + out
        x = x + feed_forward(layer_norm(x, layer.norm2), layer.ff)
    memory = layer_norm(x, model.encoder.norm)
    y = model.decoder_emb.weight.double()[inputs] * math.sqrt(size) + positions(S, size)
    self_allowed = lower[:S, :S] if decoder_causal else torch.ones(S, S, dtype=torch.bool)
    cross_allowed = (torch.arange(T)[None, :] <= torch.arange(S)[:, None]) if mask == "causal" else (
        torch.ones(S, T, dtype=torch.bool))
    for layer in model.decoder_layers:
        n = layer_norm(y, layer.norm1)
        out, w, s = attention(layer.self_attention, n, n, self_allowed, heads)
        keep("decoder_self", w, s)
        y = y + out
        out, w, s = attention(layer.cross_attention, layer_norm(y, layer.norm2), memory, cross_allowed, heads)
        keep("cross", w, s)
        y = y + out
        y = y + feed_forward(layer_norm(y, layer.norm3), layer.ff)
    logits = linear(layer_norm(y, model.decoder_norm), model.lm)
    result = {"log_probs": torch.log_softmax(logits, -1).numpy()}
    for kind, (weights, scores) in found.items():
        result[kind] = torch.stack(weights).numpy()
        result[kind + "_scores"] = torch.stack(scores).numpy()
    return result
