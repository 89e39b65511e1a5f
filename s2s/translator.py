"""Text in, `Translation` out: tokenizers + model + decoding, with every argument checked.

`Translation` is the one object that crosses from model land into display land: the figures,
the exports and the app all read it, so a result can be re-plotted without running the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch

from . import decode
from .model import EDM, MASKS, Transformer
from .tokenizer import EOS_ID, PAD_ID, SPECIAL_PIECES, Tokenizer

EOS_PIECE = SPECIAL_PIECES[EOS_ID]

MAX_BEAM_SIZE = 16
MAX_SEED = 2**63  # what torch.Generator.manual_seed takes
WITH_HEADS = ("transformer", "marian")  # config["model"] of the families whose attention has heads
# the attentions a model with heads records (a Transformer, a Hub translation model), each its own map
ATTENTION_KINDS = ("cross", "decoder_self", "encoder_self")


@dataclass(eq=False)  # == is identity: field by field it raised (an array has no single truth value)
class Translation:
    """One decoded output and everything recorded while producing it.

    attention and scores are (layers, len(output_pieces), len(source_pieces)); a model without
    attention (EDM) has zero layers. scores are exactly what softmax saw (scaling included,
    masked positions -inf); each attention row sums to 1.

    A model with heads also fills `heads` and `head_scores`, one array per kind of ATTENTION_KINDS:
    cross (L, NH, S, T), decoder_self (L, NH, S, S), encoder_self (L, NH, T, T); `attention` and
    `scores` are then cross-attention's mean over heads, so every view of the LSTM models reads it too.
    The LSTM models leave both empty.

    For a Transformer (family "transformer", s2s/transformer.py) the other arrays mean:
    - queries (L, S, H): decoder layer l's cross-attention query at step t, every head's side by side
      (head h is columns h dh .. (h + 1) dh, dh = H / NH);
    - encoder_states (L, T, H): what layer l's cross-attention averages, its values V = X W_V of the
      encoder's output X, heads side by side as in queries;
    - contexts (L, S, H): each head's w V, side by side (before the output projection W_O);
    - scores: the mean over heads of each head's scores (with -inf where masked); a mean of softmaxes
      is not the softmax of a mean, so for one head's arithmetic read the per-head fields:
    - head_queries (L, NH, S, dh), head_keys (L, NH, T, dh), head_values (L, NH, T, dh): head h of layer
      l at step t computes head_scores["cross"][l, h, t] = head_keys[l, h] @ head_queries[l, h, t] / sqrt(dh),
      heads["cross"][l, h, t] = softmax of that, and contexts[l, t, h dh:(h + 1) dh] = heads["cross"][l, h, t]
      @ head_values[l, h]. The LSTM models leave the three None.
    decoder_self row t covers the pieces fed at steps 0..t (columns beyond t are 0, scores -inf) when the
    model decodes step by step; under full teacher forcing the Transformer decodes in one pass, as it was
    trained, and a model trained without the causal mask (decoder_mask "bidirectional") then reads the
    future too. `mask` acts on the encoder's self-attention and on cross-attention (step t sees source
    pieces 0..t), never on decoder self-attention. All of it is bounded by the checkpoint's
    max_source_len and max_len, which for a Transformer is at most max_target_len (its decoder_self map
    grows as S^2; an LSTM's max_len may reach 4 max_target_len).
    """

    source_text: str
    source_pieces: list[str]
    decoder_inputs: list[str]
    output_pieces: list[str]
    text: str
    attention: np.ndarray
    scores: np.ndarray
    probs: np.ndarray  # (S,) probability the model gave each produced token
    forced: np.ndarray  # (S,) bool: the token fed at this step came from the reference
    queries: np.ndarray  # (layers, S, H)
    contexts: np.ndarray  # (layers, S, H): attention @ the encoder states of that layer
    encoder_states: np.ndarray  # (layers, T, H): what each layer attends over (keys before any projection, values)
    log_prob: float
    mask: str
    teacher_forcing: float
    seed: int
    beam_size: int
    score_function: str
    query: str
    trained_mask: str
    encoder: str = "uni"  # "bi": every encoder state has also read the source right to left
    reference: str | None = None
    reference_pieces: list[str] | None = None  # the reference's pieces and EOS, one per step
    reference_probs: np.ndarray | None = None  # (S,) probability given to the reference piece
    top_pieces: list[list[str]] | None = None  # per step, the most probable pieces, best first
    top_probs: np.ndarray | None = None  # (S, K) their probabilities
    hypotheses: list[Translation] = field(default_factory=list)  # beam search's n-best, best first
    family: str = "lstm"  # the model family that wrote it: "lstm", "transformer", or a Hub family ("marian")
    heads: dict[str, np.ndarray] = field(default_factory=dict)  # kind -> (L, NH, rows, cols) weights per head
    head_scores: dict[str, np.ndarray] = field(default_factory=dict)  # kind -> what each head's softmax saw
    head_queries: np.ndarray | None = None  # (L, NH, S, dh) cross-attention: each head's q at each step
    head_keys: np.ndarray | None = None  # (L, NH, T, dh) each head's K
    head_values: np.ndarray | None = None  # (L, NH, T, dh) each head's V

    @property
    def end(self) -> int:
        """How many steps the model's own output has: up to and including its first EOS.

        Decoding freely it stops there; under teacher forcing it runs on as long as the reference, and
        the steps from `end` on come after the model had finished (the text leaves them out)."""
        return output_length(self.output_pieces)

    @property
    def attention_layers(self) -> int:
        """The layers that recorded attention: the model's layers, or 0 for a model without attention (EDM)."""
        return self.attention.shape[0]

    @property
    def mean_log_prob(self) -> float:
        """Length-normalised log-probability (what beam search ranks by)."""
        return self.log_prob / max(len(self.output_pieces), 1)


def ranked(results: list[Translation], beam_size: int) -> Translation:
    """What translate returns, for every family: the best result, which under beam search carries every
    hypothesis (best first) as its `hypotheses`."""
    best = results[0]
    if beam_size > 1:
        best.hypotheses = results
    return best


def check_seed(seed: object) -> None:
    """A seed drives the forcing coins: a whole number in [0, MAX_SEED). ValueError with a message otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < MAX_SEED:
        raise ValueError(f"The seed must be a whole number from 0 to {MAX_SEED - 1}; got {seed!r}.")


class Checked(NamedTuple):
    """A translation's arguments once checked (TextChecks.checked)."""

    source_ids: list[int]
    teacher_forcing: float
    max_len: int
    beam_size: int
    prefix_ids: list[int]
    reference_ids: list[int] | None


class TextChecks:
    """What every family's translator checks before it decodes, in the same words: the text and the pieces a
    visitor sent, turned into ids (`encode_source`, `encode_prefix`, `encode_reference`), and the settings.
    A translator that mixes it in has `config` (config.json's), `source_tokenizer`, `target_tokenizer`, `eos_id`."""

    def checked(self, text, reference, teacher_forcing, mask, beam_size, seed, max_len, prefix) -> Checked:
        """`translate`'s arguments, checked in the order a person fixes them, as ids and plain values."""
        source_ids = self.encode_source(text)
        teacher_forcing = _check_ratio(teacher_forcing)
        max_len = self._check_settings(mask, beam_size, seed, max_len)
        beam_size = int(beam_size)  # a numpy integer too
        prefix_ids = self.encode_prefix(prefix or [], max_len)
        if prefix_ids and (teacher_forcing > 0 or beam_size > 1):
            raise ValueError("A changed piece is decoded on greedily: set teacher forcing to 0 and the beam size to 1.")
        reference_ids = None
        if teacher_forcing > 0:
            if reference is None or not str(reference).strip():
                raise ValueError("Teacher forcing needs a reference: type the target text, or turn forcing off.")
            if beam_size > 1:
                raise ValueError("Beam search decodes freely: set teacher forcing to 0 or the beam size to 1.")
            reference_ids = self.encode_reference(reference)
        return Checked(source_ids, teacher_forcing, max_len, beam_size, prefix_ids, reference_ids)

    def encode_source(self, text: str) -> list[int]:
        """Source text -> ids ending in EOS, refusing empty and over-long input."""
        if not isinstance(text, str):
            raise ValueError(f"The input must be text (a str); got {type(text).__name__}.")
        if not text.strip():
            raise ValueError("The input is empty: type something to translate.")
        _check_encodable(text, "input")
        ids = self.source_tokenizer.encode(text) + [self.eos_id]
        limit = self.config["max_source_len"]
        if len(ids) > limit:
            raise ValueError(
                f"The input is too long: {len(ids)} pieces, and this checkpoint reads at most {limit}. "
                "Shorten it."
            )
        return ids

    def encode_prefix(self, pieces: list[str], max_len: int) -> list[int]:
        """Target pieces -> ids, refusing pieces the target vocabulary lacks and prefixes as long as max_len."""
        if len(pieces) >= max_len:
            raise ValueError(f"Too many pieces to feed: {len(pieces)}, fewer than {max_len} here.")
        ids = [self.target_tokenizer.piece_id(piece) for piece in pieces]
        unknown = [piece for piece, i in zip(pieces, ids) if i is None]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a piece this checkpoint writes: choose one from its outputs "
                             "(a piece that starts a word begins with ▁, shown · in the tables).")
        return ids

    def encode_reference(self, reference: str) -> list[int]:
        _check_encodable(reference, "reference")
        ids = self.target_tokenizer.encode(reference) + [self.eos_id]
        limit = self.config["max_target_len"]
        if len(ids) > limit:
            raise ValueError(f"The reference is too long: {len(ids)} pieces, at most {limit} here.")
        return ids

    def _check_settings(self, mask: str, beam_size: int, seed: int, max_len: int | None) -> int:
        if mask not in MASKS:
            raise ValueError(f"Unknown mask {mask!r}: choose 'bidirectional' or 'causal'.")
        if isinstance(beam_size, bool) or not isinstance(beam_size, int | np.integer) or not (
                1 <= beam_size <= MAX_BEAM_SIZE):
            raise ValueError(f"The beam size must be a whole number from 1 to {MAX_BEAM_SIZE}; got {beam_size!r}.")
        check_seed(seed)
        limit = self.config["max_target_len"]
        if max_len is None:
            return limit
        most = limit if self.config["model"] in WITH_HEADS else 4 * limit  # a model with heads records S x S maps
        if isinstance(max_len, bool) or not isinstance(max_len, int) or not 1 <= max_len <= most:
            raise ValueError(f"max_len must be a whole number from 1 to {most}; got {max_len!r}.")
        return max_len


class Translator(TextChecks):
    """A loaded checkpoint. One object serves every user at once: it holds no per-request state."""

    eos_id = EOS_ID

    def __init__(self, model: EDM | Transformer, source: Tokenizer, target: Tokenizer, config: dict,
                 device: torch.device | str = "cpu"):
        self.model = model.to(device).eval()
        self.source_tokenizer = source
        self.target_tokenizer = target
        self.config = config
        self.device = torch.device(device)

    def __repr__(self) -> str:
        c = self.config
        if c["model"] == "transformer":
            return f"Translator(task={c.get('task')!r}, model='transformer', heads={c.get('heads')!r}, " \
                   f"hidden_size={c['hidden_size']!r})"
        return f"Translator(task={c.get('task')!r}, model={c['model']!r}, score={c['score']!r}, query={c['query']!r})"

    def translate(
        self,
        text: str,
        *,
        reference: str | None = None,
        teacher_forcing: float = 0.0,
        mask: str = "bidirectional",
        beam_size: int = 1,
        seed: int = 0,
        max_len: int | None = None,
        prefix: list[str] | None = None,
    ) -> Translation:
        """Translate one text. Bad arguments raise ValueError with a message a person can act on.

        `prefix` (target pieces) is fed at steps 1, 2, ... whatever the model predicts there, and
        decoding then goes on freely: change one piece the model wrote and see what follows.
        """
        source_ids, teacher_forcing, max_len, beam_size, prefix_ids, reference_ids = self.checked(
            text, reference, teacher_forcing, mask, beam_size, seed, max_len, prefix)

        source = torch.tensor([source_ids], device=self.device)
        lengths = torch.tensor([len(source_ids)])
        if beam_size > 1:
            traces = decode.beam_search(self.model, source, lengths, beam_size=beam_size, max_len=max_len, mask=mask)
        else:
            generator = torch.Generator().manual_seed(int(seed))
            ref = torch.tensor([reference_ids], device=self.device) if reference_ids else None
            traces = decode.greedy(self.model, source, lengths, max_len=max_len, mask=mask, reference=ref,
                                   teacher_forcing=teacher_forcing, generator=generator, prefix=prefix_ids)
        settings = dict(mask=mask, teacher_forcing=teacher_forcing, seed=int(seed), beam_size=beam_size,
                        reference=reference if reference_ids else None)
        return ranked([self._translation(text, source_ids, trace, reference_ids, **settings) for trace in traces],
                      beam_size)

    def translate_batch(self, texts: list[str], *, mask: str = "bidirectional",
                        max_len: int | None = None) -> list[Translation]:
        """Greedy-decode many texts in one batch (evaluation, probes); each result as `translate` gives it."""
        max_len = self._check_settings(mask, 1, 0, max_len)
        if not texts:
            return []
        ids = [self.encode_source(t) for t in texts]
        width = max(len(i) for i in ids)
        source = torch.tensor([i + [PAD_ID] * (width - len(i)) for i in ids], device=self.device)  # (B, T)
        lengths = torch.tensor([len(i) for i in ids])
        traces = decode.greedy(self.model, source, lengths, max_len=max_len, mask=mask)
        settings = dict(mask=mask, teacher_forcing=0.0, seed=0, beam_size=1, reference=None)
        return [self._translation(text, source_ids, trace, None, **settings)
                for text, source_ids, trace in zip(texts, ids, traces)]

    def _translation(self, text, source_ids, trace: decode.Trace, reference_ids, **settings) -> Translation:
        layers, steps, width = self.model.config.num_layers, len(trace.outputs), len(source_ids)
        hidden = self.model.config.hidden_size
        if trace.weights is None:  # the plain EDM: no attention to show
            layers = 0
        empty = np.zeros((layers, steps, width), dtype=np.float32)
        target = self.target_tokenizer
        return Translation(
            source_text=text,
            source_pieces=self.source_tokenizer.pieces(source_ids),
            decoder_inputs=target.pieces(trace.inputs),
            output_pieces=target.pieces(trace.outputs),
            text=target.decode(trace.outputs[: output_length(target.pieces(trace.outputs))]),
            attention=trace.weights if trace.weights is not None else empty,
            scores=trace.scores if trace.scores is not None else empty.copy(),
            probs=trace.probs.astype(np.float32),
            forced=trace.forced,
            queries=trace.queries if trace.queries is not None else np.zeros((0, steps, hidden), np.float32),
            contexts=trace.contexts if trace.contexts is not None else np.zeros((0, steps, hidden), np.float32),
            encoder_states=trace.encoder_states if layers else np.zeros((0, width, hidden), np.float32),
            log_prob=trace.log_prob,
            score_function=self.config["score"],
            query=self.config["query"],
            trained_mask=self.config.get("trained_mask", "bidirectional"),
            encoder=self.config.get("encoder", "uni"),
            reference_pieces=target.pieces(reference_ids) if reference_ids else None,
            reference_probs=trace.reference_probs,
            top_pieces=[target.pieces(ids) for ids in trace.top_ids] if trace.top_ids is not None else None,
            top_probs=trace.top_probs,
            family="transformer" if self.config["model"] == "transformer" else "lstm",
            heads=trace.heads or {},
            head_scores=trace.head_scores or {},
            head_queries=trace.head_queries,
            head_keys=trace.head_keys,
            head_values=trace.head_values,
            **settings,
        )


def _check_encodable(text: str, what: str) -> None:
    """Text the tokenizer can read: a lone surrogate (half of a UTF-16 pair) is not a character."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        bad = text[error.start]
        raise ValueError(f"The {what} holds U+{ord(bad):04X}, half of a character (a lone surrogate), at position "
                         f"{error.start + 1}: remove it or paste the text again.") from None


def output_length(pieces: list[str]) -> int:
    """Pieces up to and including the first end-of-sequence piece (all of them if there is none)."""
    return pieces.index(EOS_PIECE) + 1 if EOS_PIECE in pieces else len(pieces)


def _check_ratio(teacher_forcing) -> float:
    try:
        ratio = float(teacher_forcing)
    except (TypeError, ValueError):
        raise ValueError(f"Teacher forcing must be a number from 0 to 1; got {teacher_forcing!r}.") from None
    if math.isnan(ratio) or not 0.0 <= ratio <= 1.0:
        raise ValueError(f"Teacher forcing must be a number from 0 to 1; got {teacher_forcing!r}.")
    return ratio
