"""What every model family shares: its config, what the encoder leaves, what a decoder step records, the coins.

A family (the LSTM models of model.py, the Transformer of transformer.py) answers the same calls:

    encode(source (B, T), lengths (B,), mask)        -> (Memory, decoder state)
    step(token (B,), state, memory, allowed (B, T))  -> (Step, new state)      one output position
    forward(source, lengths, target, teacher_forcing=, mask=, generator=) -> logits (B, S, V)   training

so decoding (decode.py), the Translator and training run every family by the same code. This module
holds those calls' types and the choices a config may take; it imports no family, so each family's
module imports it and model.build_model imports them all without a cycle.

Shapes: B batch, T source length, S output steps, L layers, H hidden size (a Transformer's model size),
NH heads, dh = H / NH a head's size, V vocabulary size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
from torch import nn

from .errors import check_choice

ARCHITECTURES = ("edm", "attention", "transformer")
SCORES = ("dot", "scaled_dot", "general", "additive")
QUERIES = ("input", "state")
BRIDGES = ("final", "hidden")
ENCODERS = ("uni", "bi")
MASKS = ("bidirectional", "causal")
# each choice in a few words, the one wording the model cards and the page use
ENCODER_NOTES = {"uni": "reads the source left to right", "bi": "reads it both ways, half of each state per direction"}
BRIDGE_NOTES = {"final": "the decoder starts from the encoder's final (h, c)",
                "hidden": "the decoder starts from the encoder's final h, its cell empty"}


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build the network (the checkpoint's config.json holds more).

    The LSTM models read emb_size, score, query, bridge and encoder; a Transformer reads heads, ff_size
    and decoder_mask, and its embeddings are hidden_size wide (the width of every block), so it leaves
    emb_size unused. A config.json written before the Transformer existed has none of its three fields
    and loads with their defaults.
    """

    input_vocab_size: int
    output_vocab_size: int
    model: str = "attention"
    score: str = "scaled_dot"
    query: str = "state"
    emb_size: int = 64
    hidden_size: int = 128
    num_layers: int = 2
    dropout: float = 0.0
    bridge: str = "final"  # the decoder starts from the encoder's final (h, c); "hidden": h only, c = 0
    encoder: str = "uni"  # uni: left to right, as in the seed; bi: Bahdanau's, half of H each way
    heads: int = 4  # Transformer: attention heads in every attention, each hidden_size / heads wide
    ff_size: int = 256  # Transformer: the feed-forward layer's inner width
    decoder_mask: str = "causal"  # Transformer: decoder self-attention's mask in training ("bidirectional": a lesson)

    def __post_init__(self) -> None:
        for name, value, allowed in (("model", self.model, ARCHITECTURES), ("score", self.score, SCORES),
                                     ("query", self.query, QUERIES), ("bridge", self.bridge, BRIDGES),
                                     ("encoder", self.encoder, ENCODERS), ("decoder_mask", self.decoder_mask, MASKS)):
            check_choice(name, value, allowed)
        if self.encoder == "bi" and self.hidden_size % 2 and self.model != "transformer":
            raise ValueError("a bidirectional encoder needs an even hidden_size (half of it each way)")
        if self.model == "transformer" and (self.heads < 1 or self.ff_size < 1 or self.hidden_size % self.heads):
            raise ValueError(f"a transformer needs heads and ff_size of 1 or more, and a hidden_size that the heads "
                             f"divide; got hidden_size {self.hidden_size}, heads {self.heads}, ff_size {self.ff_size}")

    @classmethod
    def from_dict(cls, config: dict) -> ModelConfig:
        return cls(**{k: config[k] for k in cls.__dataclass_fields__ if k in config})

    def to_dict(self) -> dict:
        return asdict(self)


def check_mask(mask: str) -> None:
    if mask not in MASKS:
        raise ValueError(f"mask must be 'bidirectional' or 'causal'; got {mask!r}")


def dropped(dropout: nn.Dropout, x: torch.Tensor) -> torch.Tensor:
    """dropout(x) while training; x itself otherwise, without a module call (a decoding step makes several)."""
    return dropout(x) if dropout.training else x


class Memory(NamedTuple):
    """What the encoder leaves for the decoder; batch is dimension 1 of the tensors (0 of valid).

    LSTM: values are every encoder layer's states, keys the same made ready for the score function.
    Transformer: values and keys are decoder layer l's cross-attention V = X W_V and K = X W_K of the
    encoder's output X, every head side by side (head h is columns h dh .. (h + 1) dh), and `record`
    holds what the encoder's self-attention did.
    """

    values: torch.Tensor  # (L, B, T, H) every layer's hidden state at every source position
    keys: torch.Tensor  # (L, B, T, K) the same, made ready for the score function (K = H or A)
    valid: torch.Tensor  # (B, T) True where a real (non-padding) source piece is
    record: tuple[torch.Tensor, torch.Tensor] | None = None  # encoder self (scores, weights) (L, B, NH, T, T)

    def allowed(self, mask: str, step: int) -> torch.Tensor:
        """(B, T) where step `step` may attend: every real piece, or with `causal` pieces 0..step."""
        if mask == "causal":
            positions = torch.arange(self.valid.shape[1], device=self.valid.device)
            return self.valid & (positions <= step)
        return self.valid

    def allowed_steps(self, mask: str, steps: int) -> torch.Tensor:
        """(B, S, T): `allowed` of every step 0..S-1 at once, for a parallel pass."""
        valid = self.valid[:, None, :].expand(-1, steps, -1)  # (B, S, T)
        if mask == "causal":
            positions = torch.arange(self.valid.shape[1], device=self.valid.device)
            return valid & (positions[None, :] <= torch.arange(steps, device=valid.device)[:, None])
        return valid

    def rows(self, n: int) -> Memory:
        """One source's memory (B = 1) for n rows, as views that share its storage: beam search's hypotheses all
        read the same source, so a step costs no copy of (L, n, T, H)."""
        L, _, T = self.values.shape[:3]
        record = None if self.record is None else tuple(r.expand(L, n, *r.shape[2:]) for r in self.record)
        return Memory(self.values.expand(L, n, T, -1), self.keys.expand(L, n, T, -1), self.valid.expand(n, T), record)

    def select(self, index: torch.Tensor) -> Memory:
        """Reorder or repeat batch entries (beam search keeps one row per hypothesis)."""
        record = None if self.record is None else tuple(r[:, index] for r in self.record)
        return Memory(self.values[:, index], self.keys[:, index], self.valid[index], record)


class HeadStep(NamedTuple):
    """What each head of a model with heads did at one decoder step (the per-head side of `Step`)."""

    cross_queries: torch.Tensor  # (L, B, NH, dh) each head's cross-attention query q
    cross_scores: torch.Tensor  # (L, B, NH, T) q K^T / sqrt(dh), masked positions -inf
    cross_weights: torch.Tensor  # (L, B, NH, T) softmax of those
    self_scores: torch.Tensor  # (L, B, NH, P) decoder self-attention over the P positions it read
    self_weights: torch.Tensor  # (L, B, NH, P)


class Step(NamedTuple):
    """One decoder step: the logits, and what attention did (None for the plain EDM).

    A model with heads records query and context with its heads side by side (H = NH dh), scores and
    weights as their mean over heads, and each head's own in `heads`.
    """

    logits: torch.Tensor  # (B, V)
    query: torch.Tensor | None  # (L, B, H)
    scores: torch.Tensor | None  # (L, B, T) exactly what softmax saw: scaled, masked with -inf
    weights: torch.Tensor | None  # (L, B, T) softmax(scores); each row sums to 1
    context: torch.Tensor | None  # (L, B, H) weights @ values: the new hidden state of each layer
    heads: HeadStep | None = None


def choose_next(
    logits: torch.Tensor, target_t: torch.Tensor, teacher_forcing: float, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The next input tokens (B,) and where they were forced (B,) bool.

    Forced means target_t (the reference); otherwise the model's own prediction. A coin per
    sequence decides, drawn from `generator` so that a seed reproduces the same choices.
    """
    if teacher_forcing >= 1.0:
        return target_t, torch.ones_like(target_t, dtype=torch.bool)
    predicted = logits.argmax(-1)  # (B,)
    if teacher_forcing <= 0.0:
        forced = torch.zeros_like(predicted, dtype=torch.bool)
    else:
        device = generator.device if generator is not None else "cpu"
        coin = torch.rand(logits.shape[0], generator=generator, device=device)
        forced = coin.to(logits.device) < teacher_forcing
    return torch.where(forced, target_t, predicted), forced
