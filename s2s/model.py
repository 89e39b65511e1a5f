"""The seed notebook's two encoder-decoders, corrected and made fast.

`EDM` is the plain encoder-decoder: the encoder's final (h, c) of every layer starts the
decoder, and that fixed-size state is all the decoder ever learns about the source.

`AttentionEDM` keeps the seed's idea: at every output step, decoder layer l looks at
encoder layer l's hidden state at *every* source position, and the weighted sum of those
states (the context) becomes layer l's hidden state for that step while the cell carries on.

What changed from the seed, and why:
- the encoder runs each layer over the whole sequence in one `nn.LSTM` call (a stack of
  one-layer LSTMs, so every layer's per-position states are kept) instead of one call per
  token; the decoder steps with `torch.lstm_cell`, not a fresh `nn.LSTM` call per step;
- sequences of different lengths are packed, so padding neither reaches the final state
  nor receives attention: a sequence in a padded batch gets exactly what it gets alone;
- scores are scaled by sqrt(hidden size) (the seed divided by sqrt(source length));
- the mask (bidirectional or causal) is an argument of each call, never module state;
- teacher forcing feeds BOS first, then target[t-1] (the seed fed target[0] twice), and its
  coin flips come from a `torch.Generator` passed in, never the global RNG.

This file is the reference. Training runs the decoder through s2s/fused.py: the same maths with
its backward written out (faster), checked against autograd through `EDM.forward` by tests/test_fused.py.
The third family, the Transformer, is s2s/transformer.py; what every family shares (ModelConfig, Memory,
Step, the forcing coins) is s2s/family.py, imported here so that `s2s.model` names them all, and
`build_model` builds any of them from its config.

Shapes: B batch, T source length, S output steps, L layers, E embedding size,
H hidden size, V vocabulary size.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .family import (
    ARCHITECTURES,
    BRIDGE_NOTES,
    BRIDGES,
    ENCODER_NOTES,
    ENCODERS,
    MASKS,
    QUERIES,
    SCORES,
    HeadStep,
    Memory,
    ModelConfig,
    Step,
    check_mask,
    choose_next,
    dropped,
)
from .tokenizer import BOS_ID, PAD_ID
from .transformer import Transformer

__all__ = ["ARCHITECTURES", "BRIDGE_NOTES", "BRIDGES", "ENCODER_NOTES", "ENCODERS", "MASKS", "QUERIES", "SCORES",
           "HeadStep", "Memory", "ModelConfig", "Step", "check_mask", "choose_next", "EDM", "AttentionEDM",
           "Transformer", "build_model"]

class Encoder(nn.Module):
    """Embedding, then a stack of one-layer LSTMs, each run over the whole sequence at once.

    Left to right (`bidirectional=False`, the seed's), the state at position j has read pieces
    0..j, so it holds piece j and, less clearly, what came before. Bidirectional (Bahdanau's),
    each layer also reads right to left with the other half of the hidden size, and the state
    at j is [forward_j, backward_j]: it is about piece j and its neighbours on both sides.
    """

    def __init__(self, vocab_size: int, emb_size: int, hidden_size: int, num_layers: int, dropout: float,
                 bidirectional: bool = False):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_size, padding_idx=PAD_ID)
        sizes = [emb_size] + [hidden_size] * (num_layers - 1)
        per_direction = hidden_size // 2 if bidirectional else hidden_size
        self.layers = nn.ModuleList(nn.LSTM(size, per_direction, batch_first=True, bidirectional=bidirectional)
                                    for size in sizes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, source: torch.Tensor, lengths: torch.Tensor):
        """source (B, T) ids, lengths (B,) -> per-position states (L, B, T, H), final (h, c) each (L, B, H)."""
        x = self.embedding(source)  # (B, T, E)
        total = source.shape[1]
        ragged = bool((lengths < total).any())
        outputs, hs, cs = [], [], []
        for i, lstm in enumerate(self.layers):
            if i > 0:
                x = dropped(self.dropout, x)
            if ragged:
                # Packing stops each sequence at its true end (and starts the backward direction
                # there): padding never enters (h, c).
                packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
                out, (h, c) = lstm(packed)
                x, _ = pad_packed_sequence(out, batch_first=True, total_length=total)  # (B, T, H)
            else:
                x, (h, c) = lstm(x)  # (B, T, H), (directions, B, H / directions) each
            outputs.append(x)
            hs.append(torch.cat(list(h), dim=-1))  # (B, H): [forward final, backward final] when bidirectional
            cs.append(torch.cat(list(c), dim=-1))
        return torch.stack(outputs), (torch.stack(hs), torch.stack(cs))


class EDM(nn.Module):
    """The plain encoder-decoder: the encoder's final (h, c) is all the decoder gets."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        e, h, n = config.emb_size, config.hidden_size, config.num_layers
        self.encoder = Encoder(config.input_vocab_size, e, h, n, config.dropout, config.encoder == "bi")
        self.decoder_emb = nn.Embedding(config.output_vocab_size, e, padding_idx=PAD_ID)
        self.decoder_cells = nn.ModuleList(nn.LSTMCell(e if i == 0 else h, h) for i in range(n))
        self.dropout = nn.Dropout(config.dropout)
        self.lm = nn.Linear(h, config.output_vocab_size)

    parallel_decoder = False  # decoding under full forcing is one step at a time (a Transformer's is one pass)

    @property
    def has_attention(self) -> bool:
        return False

    def encode(self, source: torch.Tensor, lengths: torch.Tensor, mask: str = "bidirectional"):
        """-> (Memory, decoder start state (h, c), each (L, B, H)). The mask acts on attention at each step,
        not here: the encoder reads the whole source either way (the `bi` one both ways)."""
        values, state = self.encoder(source, lengths)
        if self.config.bridge == "hidden":
            # h is only the first query (attention replaces it at once); with an empty cell, what the
            # decoder knows of the source comes through attention, so the heatmap shows what it uses.
            state = (state[0], torch.zeros_like(state[1]))
        valid = torch.arange(source.shape[1], device=source.device) < lengths.to(source.device)[:, None]
        return Memory(values, self.prepare_keys(values), valid), state

    def prepare_keys(self, values: torch.Tensor) -> torch.Tensor:
        return values

    def attend(self, embedded, h, memory: Memory, allowed):
        """The plain EDM keeps its hidden state as it is; AttentionEDM replaces it by a context."""
        return h, None

    def step(self, token: torch.Tensor, state, memory: Memory, allowed: torch.Tensor) -> tuple[Step, tuple]:
        """Feed one token per sequence (B,) and advance every layer by one step."""
        top, record, state = self.advance(self.decoder_emb(token), state, memory, allowed)
        return Step(self.lm(top), *(record or (None,) * 4)), state  # logits (B, V)

    def advance(self, embedded: torch.Tensor, state, memory: Memory, allowed: torch.Tensor):
        """embedded (B, E) -> the top layer's output (B, H), what attention did, the new (h, c)."""
        h, c = state  # (L, B, H) each
        h, record = self.attend(embedded, h, memory, allowed)
        x, new_h, new_c = embedded, [], []
        for i, (cell, h_i, c_i) in enumerate(zip(self.decoder_cells, h.unbind(0), c.unbind(0))):
            if i > 0:
                x = dropped(self.dropout, x)
            hi, ci = torch.lstm_cell(x, (h_i, c_i), cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
            new_h.append(hi)
            new_c.append(ci)
            x = hi  # (B, H) the next layer's input
        return dropped(self.dropout, x), record, (torch.stack(new_h), torch.stack(new_c))

    def forward(
        self,
        source: torch.Tensor,
        lengths: torch.Tensor,
        target: torch.Tensor,
        *,
        teacher_forcing: float = 1.0,
        mask: str = "bidirectional",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Training pass: source (B, T), lengths (B,), target (B, S) ending in EOS -> logits (B, S, V).

        Step 0 is fed BOS; step t > 0 is fed target[t-1] with probability `teacher_forcing`,
        otherwise the model's own previous prediction. Coin flips come from `generator`.
        """
        check_mask(mask)
        memory, state = self.encode(source, lengths)
        batch, steps = target.shape
        bos = torch.full((batch, 1), BOS_ID, dtype=torch.long, device=source.device)
        if teacher_forcing >= 1.0:
            # Every input is known before the first step: embed them all at once, run the
            # recurrence, and project every step's output to the vocabulary in one product.
            embedded = self.decoder_emb(torch.cat([bos, target[:, :-1]], dim=1))  # (B, S, E)
            tops = []
            for t in range(steps):
                top, _, state = self.advance(embedded[:, t], state, memory, memory.allowed(mask, t))
                tops.append(top)
            return self.lm(torch.stack(tops, dim=1))  # (B, S, H) -> (B, S, V)
        token, logits = bos[:, 0], []
        for t in range(steps):
            out, state = self.step(token, state, memory, memory.allowed(mask, t))
            logits.append(out.logits)
            token, _ = choose_next(out.logits, target[:, t], teacher_forcing, generator)
        return torch.stack(logits, dim=1)


class AttentionEDM(EDM):
    """The seed's attention model: each decoder layer's hidden state is replaced by a context.

    At step t, decoder layer l asks a query q (L, B, H): either a projection of the embedded
    input token (`query="input"`, the seed's own) or the layer's previous hidden state
    (`query="state"`, Luong's and Bahdanau's). Each source position j gets a score s_j; softmax
    turns scores into weights w_j; the context is sum_j w_j * v_j over encoder states v_j.

    Why a weighted sum is a matrix product (the seed's own explanation): with the T encoder
    states as rows of V (T, H), the scores of all positions at once are one product
    s = K q (T, H) @ (H,) -> (T,), and the weighted sum is another, w V (T,) @ (T, H) -> (H,):
    row j of V is scaled by w_j and the rows are added. Batching over layers and sequences
    just adds leading dimensions (L, B). The code writes both products as a broadcast multiply
    and a sum, which is the same arithmetic: with one query per step, autograd's backward for
    it is about twice as fast on the CPU as that of a matrix product with an inner size of 1.
    """

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        h, n = config.hidden_size, config.num_layers
        if config.query == "input":
            self.projection = nn.Linear(config.emb_size, h)
        if config.score == "general":  # Luong: q^T W k, one W per layer
            self.score_weight = nn.Parameter(torch.randn(n, h, h) / math.sqrt(h))
        elif config.score == "additive":  # Bahdanau: v^T tanh(W q + U k), one (W, U, v) per layer
            self.query_weight = nn.Parameter(torch.randn(n, h, h) / math.sqrt(h))
            self.key_weight = nn.Parameter(torch.randn(n, h, h) / math.sqrt(h))
            self.score_vector = nn.Parameter(torch.randn(n, h) / math.sqrt(h))

    @property
    def has_attention(self) -> bool:
        return True

    def prepare_keys(self, values: torch.Tensor) -> torch.Tensor:
        """Work that depends only on the source is done once, not at every step."""
        if self.config.score == "general":
            return torch.einsum("lbth,lgh->lbtg", values, self.score_weight)  # W k: (L, B, T, H)
        if self.config.score == "additive":
            return torch.einsum("lbth,lah->lbta", values, self.key_weight)  # U k: (L, B, T, H)
        return values

    def score(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """query (L, B, H), keys (L, B, T, K) -> scores (L, B, T)."""
        if self.config.score == "additive":
            projected = torch.einsum("lbh,lah->lba", query, self.query_weight)  # W q: (L, B, H)
            energy = torch.tanh(keys + projected.unsqueeze(2))  # (L, B, T, H)
            return (energy @ self.score_vector[:, None, :, None]).squeeze(-1)  # (L, B, T)  v^T tanh(.)
        scores = (keys * query.unsqueeze(2)).sum(-1)  # (L, B, T, H) * (L, B, 1, H) summed over H -> (L, B, T)
        if self.config.score == "scaled_dot":
            scores = scores / math.sqrt(self.config.hidden_size)
        return scores

    def attend(self, embedded, h, memory: Memory, allowed):
        if self.config.query == "input":
            query = self.projection(embedded).expand_as(h)  # (B, H) -> (L, B, H): one query for all layers
        else:
            query = h  # (L, B, H) each layer's previous hidden state
        scores = self.score(query, memory.keys)  # (L, B, T)
        scores = scores.masked_fill(~allowed, float("-inf"))  # padding (and, causal, the future) get weight 0
        weights = torch.softmax(scores, dim=-1)  # (L, B, T)
        context = (weights.unsqueeze(-1) * memory.values).sum(2)  # (L, B, T, 1) * (L, B, T, H), sum over T
        return context, (query, scores, weights, context)


def build_model(config: ModelConfig) -> EDM | Transformer:
    """The network config.model names: the plain EDM, the attention EDM, or a Transformer (s2s/transformer.py)."""
    families = {"edm": EDM, "attention": AttentionEDM, "transformer": Transformer}
    return families[config.model](config)
