"""A Transformer encoder-decoder (Vaswani et al. 2017), pre-LayerNorm, as small as the LSTM models.

It answers the calls every family answers (s2s/family.py): `encode`, `step` (one output position,
with a key/value cache) and `forward` (training: every output step in one parallel pass), so
decoding, the Translator, training and the checkpoint folder run it as they run the LSTM models.

Each block is pre-LayerNorm (the norm inside the residual branch: gradients reach the first layers
unscaled, so a small model trains at a fixed rate, without the warm-up post-LN needs):
    encoder layer:  x = x + SelfAttn(LN(x));  x = x + FF(LN(x))
    decoder layer:  y = y + SelfAttn(LN(y));  y = y + CrossAttn(LN(y), X);  y = y + FF(LN(y))
with X = LN(the last encoder layer's x), FF(x) = W2 relu(W1 x + b1) + b2, and dropout on every
branch's output, on the embeddings and on the attention weights (training only).

Multi-head scaled dot-product attention (`MultiHeadAttention`), head h of NH, dh = H / NH:
    q = x W_Q^h,  K = Z W_K^h,  V = Z W_V^h          (N, dh), (M, dh), (M, dh)
    s = q K^T / sqrt(dh), -inf where not allowed      (N, M)   what softmax saw: Record.scores
    w = softmax(s), row by row                        (N, M)   Record.weights
    c^h = w V                                         (N, dh)
    out = [c^1 ... c^NH] W_O                           (N, H)   the heads side by side: Record.context
The projections of all heads are one H x H matrix each; head h owns columns h dh .. (h + 1) dh.

Three attentions, three masks:
- encoder self-attention, Z = the source: each real piece sees every real piece (mask `bidirectional`)
  or pieces 0..j (mask `causal`: unlike the LSTM's `bi` encoder, this hides information, not only positions);
- decoder self-attention, Z = the pieces fed: position t sees 0..t. Decoding always works so (the
  future is not written yet). config.decoder_mask `bidirectional` trains without that mask: the
  parallel pass lets t see the whole reference, the very piece it must predict included, which is the
  lesson checkpoint's defect: near-zero loss under teacher forcing, lost when it writes on its own;
- cross-attention, Z = X: step t sees every real source piece, or with the `causal` mask pieces
  0..t, the LSTM attention's rule, so the page greys the same cells for both families.

Positions are sinusoidal, added to the embeddings (scaled by sqrt(H)):
    PE[p, 2i] = sin(p / 10000^(2i/H)),  PE[p, 2i+1] = cos(p / 10000^(2i/H))
rather than learned: no weights (a smaller checkpoint); defined at every length a config allows, where a
learned row of a long position is trained on the few long examples only; and PE[p + k] is a fixed
rotation of PE[p], so "k pieces further on" is one linear map a head learns for every p at once.

Decoding keeps a key/value cache: the state is decoder self-attention's (keys, values), each
(L, B, P, H) for the P pieces fed so far; a step projects only the new piece and appends it, so it
costs one new position. Cross-attention's K and V depend on the source alone: `encode` computes them
once (Memory.keys, Memory.values).

Shapes: B batch, T source length, S output steps, N query positions, M key positions, P cached
positions, L layers, H hidden (model) size, NH heads, dh = H / NH, F feed-forward size, V vocabulary.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import torch
from torch import nn

from .family import HeadStep, Memory, ModelConfig, Step, check_mask, dropped
from .tokenizer import BOS_ID, PAD_ID


def sinusoids(positions: torch.Tensor, size: int) -> torch.Tensor:
    """positions (N,) -> PE (N, size): sin on even columns, cos on odd ones, one frequency per pair."""
    i = torch.arange(0, size, 2, device=positions.device, dtype=torch.float32)  # 2i
    angles = positions.float()[:, None] / 10000 ** (i / size)  # (N, ceil(size / 2))
    return torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(1)[:, :size]  # interleaved: sin, cos, ...


@functools.lru_cache(maxsize=16)
def position_table(size: int, length: int, device: torch.device) -> torch.Tensor:
    """PE of positions 0 .. length - 1 (length, size), made once: a decoding step reads one row of it instead of
    computing it anew (an arange, a power, a sine and a cosine on every step)."""
    with torch.inference_mode(False):  # made while decoding, it is also added to a training pass's embeddings
        return sinusoids(torch.arange(length, device=device), size)


class Record(NamedTuple):
    """What one attention did for a batch."""

    queries: torch.Tensor  # (B, NH, N, dh)
    scores: torch.Tensor  # (B, NH, N, M) q K^T / sqrt(dh), -inf where not allowed
    weights: torch.Tensor  # (B, NH, N, M) softmax(scores); each row sums to 1
    context: torch.Tensor  # (B, N, H) each head's w V, side by side (before W_O)


class MultiHeadAttention(nn.Module):
    def __init__(self, size: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value, self.out = (nn.Linear(size, size) for _ in range(4))
        self.dropout = nn.Dropout(dropout)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, H) -> (B, NH, N, dh): head h is columns h dh .. (h + 1) dh."""
        batch, n, size = x.shape
        return x.reshape(batch, n, self.heads, size // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, blocked: torch.Tensor | None):
        """x (B, N, H) what asks; keys, values (B, M, H) already projected (K = Z W_K, V = Z W_V, every head side
        by side); blocked (B or 1, 1, N, M) True where a query may not read a key (`hidden(allowed)`), or None
        where every key may be read -> the output (B, N, H) and its Record."""
        q = self.split(self.query(x))  # (B, NH, N, dh)
        scores = q @ self.split(keys).transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, NH, N, M)
        if blocked is not None:
            scores = scores.masked_fill(blocked, float("-inf"))  # the same mask for every head
        weights = torch.softmax(scores, dim=-1)  # (B, NH, N, M)
        heads = dropped(self.dropout, weights) @ self.split(values)  # (B, NH, N, M) @ (B, NH, M, dh) -> (B, NH, N, dh)
        context = heads.transpose(1, 2).flatten(2)  # (B, N, NH * dh): [c^1 ... c^NH]
        return self.out(context), Record(q, scores, weights, context)

    def project(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z (B, M, H) -> K, V (B, M, H) each."""
        return self.key(z), self.value(z)


def hidden(allowed: torch.Tensor) -> torch.Tensor:
    """allowed (B or 1, N, M), True where query i may read key j -> blocked (B or 1, 1, N, M), its complement with a
    heads axis: made once per pass or step and read by every layer."""
    return ~allowed[:, None]


def feed_forward(size: int, inner: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(size, inner), nn.ReLU(), nn.Linear(inner, size))


class EncoderLayer(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        h = config.hidden_size
        self.norm1, self.norm2 = nn.LayerNorm(h), nn.LayerNorm(h)
        self.attention = MultiHeadAttention(h, config.heads, config.dropout)
        self.ff = feed_forward(h, config.ff_size)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, blocked: torch.Tensor) -> tuple[torch.Tensor, Record]:
        """x (B, T, H), blocked (B, 1, T, T) -> x (B, T, H), what self-attention did."""
        n = self.norm1(x)
        out, record = self.attention(n, *self.attention.project(n), blocked)
        x = x + dropped(self.dropout, out)
        return x + dropped(self.dropout, self.ff(self.norm2(x))), record


class DecoderLayer(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        h = config.hidden_size
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(h), nn.LayerNorm(h), nn.LayerNorm(h)
        self.self_attention = MultiHeadAttention(h, config.heads, config.dropout)
        self.cross_attention = MultiHeadAttention(h, config.heads, config.dropout)
        self.ff = feed_forward(h, config.ff_size)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, y, cache, memory_kv, self_blocked, cross_blocked):
        """y (B, N, H) the new positions; cache (K, V) (B, P, H) each of the positions before; memory_kv (K, V)
        (B, T, H) each; self_blocked (B or 1, 1, N, P + N) or None, cross_blocked (B, 1, N, T)
        -> y (B, N, H), the cache grown to P + N positions, self and cross Records."""
        n = self.norm1(y)
        new_keys, new_values = self.self_attention.project(n)  # only the N new positions are projected
        cache = torch.cat([cache[0], new_keys], 1), torch.cat([cache[1], new_values], 1)  # (B, P + N, H) each
        out, mine = self.self_attention(n, *cache, self_blocked)
        y = y + dropped(self.dropout, out)
        out, cross = self.cross_attention(self.norm2(y), *memory_kv, cross_blocked)
        y = y + dropped(self.dropout, out)
        return y + dropped(self.dropout, self.ff(self.norm3(y))), cache, mine, cross


class Encoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.embedding = nn.Embedding(config.input_vocab_size, config.hidden_size, padding_idx=PAD_ID)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.num_layers))
        self.norm = nn.LayerNorm(config.hidden_size)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> tuple[torch.Tensor, list[Record]]:
        """x (B, T, H) embedded source, allowed (B, T, T) -> X = LN(x after every layer) (B, T, H), records."""
        records, blocked = [], hidden(allowed)
        for layer in self.layers:
            x, record = layer(x, blocked)
            records.append(record)
        return self.norm(x), records


class Transformer(nn.Module):
    """config.model == "transformer": encoder and decoder of config.num_layers blocks each, config.heads
    heads in each of the three attentions, model size config.hidden_size."""

    parallel_decoder = True  # decoding under full forcing is one pass (`forced_steps`), as training sees it

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        h = config.hidden_size
        self.encoder = Encoder(config)
        self.decoder_emb = nn.Embedding(config.output_vocab_size, h, padding_idx=PAD_ID)
        self.decoder_layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.num_layers))
        self.decoder_norm = nn.LayerNorm(h)
        self.lm = nn.Linear(h, config.output_vocab_size)
        self.dropout = nn.Dropout(config.dropout)
        for embedding in (self.encoder.embedding, self.decoder_emb):  # std 1/sqrt(H): unit size once scaled
            nn.init.normal_(embedding.weight, std=h**-0.5)
            embedding.weight.data[PAD_ID] = 0

    @property
    def has_attention(self) -> bool:
        return True

    def embed(self, embedding: nn.Embedding, tokens: torch.Tensor, start: int) -> torch.Tensor:
        """tokens (B, N) at positions start .. start + N - 1 -> E[token] sqrt(H) + PE[position] (B, N, H)."""
        end, size = start + tokens.shape[1], self.config.hidden_size
        table = position_table(size, 1 << max(7, (end - 1).bit_length()), tokens.device)  # 128, 256, ... rows
        return dropped(self.dropout, embedding(tokens) * math.sqrt(size) + table[start:end])  # (B, N, H)

    def encode(self, source: torch.Tensor, lengths: torch.Tensor, mask: str = "bidirectional"):
        """source (B, T), lengths (B,) -> (Memory, an empty cache). mask: encoder self-attention's."""
        check_mask(mask)
        total = source.shape[1]
        valid = torch.arange(total, device=source.device) < lengths.to(source.device)[:, None]  # (B, T)
        allowed = valid[:, None, :].expand(-1, total, -1)  # (B, T, T): query i may read key j
        if mask == "causal":
            allowed = allowed & torch.ones(total, total, dtype=torch.bool, device=source.device).tril()
        x, records = self.encoder(self.embed(self.encoder.embedding, source, 0), allowed)  # X (B, T, H)
        keys, values = zip(*(layer.cross_attention.project(x) for layer in self.decoder_layers))
        record = torch.stack([r.scores for r in records]), torch.stack([r.weights for r in records])  # (L, B, NH, T, T)
        empty = x.new_zeros(len(self.decoder_layers), source.shape[0], 0, x.shape[-1])  # (L, B, 0, H)
        return Memory(torch.stack(values), torch.stack(keys), valid, record), (empty, empty)

    def decode(self, y, cache, memory: Memory, self_allowed: torch.Tensor | None, cross_allowed: torch.Tensor):
        """y (B, N, H) embedded new positions after the cache's P; self_allowed (B or 1, N, P + N), None where each
        may read all; cross_allowed (B, N, T) -> top (B, N, H), the cache (L, B, P + N, H) each, and every layer's
        self and cross Records."""
        keys, values, mine, cross = [], [], [], []
        self_blocked = None if self_allowed is None else hidden(self_allowed)
        cross_blocked = hidden(cross_allowed)
        for i, layer in enumerate(self.decoder_layers):
            y, (k, v), s, c = layer(y, (cache[0][i], cache[1][i]), (memory.keys[i], memory.values[i]),
                                    self_blocked, cross_blocked)
            keys.append(k)
            values.append(v)
            mine.append(s)
            cross.append(c)
        return dropped(self.dropout, self.decoder_norm(y)), (torch.stack(keys), torch.stack(values)), mine, cross

    def step(self, token: torch.Tensor, state, memory: Memory, allowed: torch.Tensor) -> tuple[Step, tuple]:
        """Feed one token per sequence (B,) at position P (the cache's length): one new position per layer."""
        cached = state[0].shape[2]
        y = self.embed(self.decoder_emb, token[:, None], cached)  # (B, 1, H)
        top, state, mine, cross = self.decode(y, state, memory, None, allowed[:, None, :])  # the cache is the past
        return steps_of(self.lm(top), mine, cross)[0], state

    def parallel(self, memory: Memory, inputs: torch.Tensor, mask: str):
        """Every step of a forced decoder at once: inputs (B, S) BOS, then the reference -> top (B, S, H) and the
        layers' Records. Position t reads inputs 0..t, or (decoder_mask `bidirectional`) every real one."""
        batch, steps = inputs.shape
        reads = (inputs != PAD_ID)[:, None, :]  # (B, 1, S): a padding input is read by no one
        if self.config.decoder_mask == "causal":
            reads = reads & torch.ones(steps, steps, dtype=torch.bool, device=inputs.device).tril()  # (B, S, S)
        empty = memory.values.new_zeros(len(self.decoder_layers), batch, 0, self.config.hidden_size)
        y = self.embed(self.decoder_emb, inputs, 0)  # (B, S, H)
        top, _, mine, cross = self.decode(y, (empty, empty), memory, reads, memory.allowed_steps(mask, steps))
        return top, mine, cross

    def forced_steps(self, memory: Memory, inputs: torch.Tensor, mask: str) -> list[Step]:
        """Decoding under full forcing, in one pass as training runs it: one Step per position of inputs (B, S)."""
        top, mine, cross = self.parallel(memory, inputs, mask)
        return steps_of(self.lm(top), mine, cross)

    def forward(self, source: torch.Tensor, lengths: torch.Tensor, target: torch.Tensor, *,
                teacher_forcing: float = 1.0, mask: str = "bidirectional",
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Training pass: source (B, T), lengths (B,), target (B, S) ending in EOS -> logits (B, S, V).

        Teacher forcing is one parallel pass over all S steps, fed BOS then target[:-1]. A ratio below 1
        is two-pass scheduled sampling: a first forced pass, without gradients, predicts every step;
        the second pass feeds step t > 0 the reference's piece t-1 where a coin says so (probability
        `teacher_forcing`), else the first pass's prediction at step t-1. The coins are drawn as the
        LSTM's are (one per sequence per step, from `generator`; the coin of step t decides step t + 1's
        input). What differs from the LSTM's step-by-step forcing: the predictions fed come from a pass
        that was itself forced, not from a decoder running on its own mistakes.
        """
        memory, _ = self.encode(source, lengths, mask)
        bos = torch.full_like(target[:, :1], BOS_ID)
        inputs = torch.cat([bos, target[:, :-1]], dim=1)  # (B, S)
        if teacher_forcing < 1.0:
            with torch.no_grad():
                first = self.lm(self.parallel(memory, inputs, mask)[0]).argmax(-1)  # (B, S)
            inputs = scheduled_inputs(inputs, first, teacher_forcing, generator)
        return self.lm(self.parallel(memory, inputs, mask)[0])  # (B, S, V)


def scheduled_inputs(inputs: torch.Tensor, predicted: torch.Tensor, teacher_forcing: float,
                     generator: torch.Generator | None) -> torch.Tensor:
    """inputs (B, S) BOS then the reference, predicted (B, S) the first pass's -> the second pass's inputs (B, S).

    Step t + 1 is fed inputs[t + 1] (= the reference's piece t) where coin t < teacher_forcing, else
    predicted[t]; padding stays padding. Coins: an (S, B) block, the numbers of S draws of B on the CPU.
    """
    batch, steps = inputs.shape
    if teacher_forcing <= 0.0:
        forced = torch.zeros(steps, batch, dtype=torch.bool, device=inputs.device)
    else:
        device = generator.device if generator is not None else "cpu"
        coins = torch.rand(steps, batch, generator=generator, device=device)
        forced = coins.to(inputs.device) < teacher_forcing  # (S, B)
    later = torch.where(forced[:-1].T, inputs[:, 1:], predicted[:, :-1])  # (B, S - 1)
    later = torch.where(inputs[:, 1:] == PAD_ID, inputs[:, 1:], later)
    return torch.cat([inputs[:, :1], later], dim=1)


def steps_of(logits: torch.Tensor, mine: list[Record], cross: list[Record]) -> list[Step]:
    """Logits (B, N, V) and each layer's Records of N positions -> N Steps: per head in Step.heads, the mean
    over heads in Step.scores and Step.weights, every head side by side in Step.query and Step.context."""
    cq, cs, cw = (torch.stack([getattr(r, name) for r in cross]) for name in ("queries", "scores", "weights"))
    ss, sw = torch.stack([r.scores for r in mine]), torch.stack([r.weights for r in mine])  # (L, B, NH, N, P)
    context = torch.stack([r.context for r in cross])  # (L, B, N, H)
    steps = []
    for t in range(logits.shape[1]):
        heads = HeadStep(cq[:, :, :, t], cs[:, :, :, t], cw[:, :, :, t], ss[:, :, :, t], sw[:, :, :, t])
        steps.append(Step(logits[:, t], heads.cross_queries.flatten(2), heads.cross_scores.mean(2),
                          heads.cross_weights.mean(2), context[:, :, t], heads))
    return steps
