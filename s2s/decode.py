"""Decoding: greedy (optionally teacher-forced) and beam search, recording every step.

Each decoded sequence comes back as a `Trace`: the token fed and the token produced at every
step, the produced token's probability, and what attention did (pre-softmax scores, weights,
query and context of every layer). The model holds no per-request state: the mask, the
teacher-forcing ratio and the random generator are arguments here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .model import EDM, Step, check_mask, choose_next
from .tokenizer import BOS_ID, EOS_ID, PAD_ID


@dataclass
class Trace:
    """Everything recorded while decoding one sequence of S steps over a source of T pieces."""

    inputs: list[int]  # token fed at each step, BOS first
    outputs: list[int]  # token produced at each step (may end with EOS)
    probs: np.ndarray  # (S,) probability of each produced token
    forced: np.ndarray  # (S,) bool: the token fed at this step came from the reference
    log_prob: float  # sum of the produced tokens' log-probabilities
    scores: np.ndarray | None = None  # (L, S, T) what softmax saw; masked positions are -inf
    weights: np.ndarray | None = None  # (L, S, T) attention weights; rows sum to 1
    queries: np.ndarray | None = None  # (L, S, H)
    contexts: np.ndarray | None = None  # (L, S, H)
    reference_probs: np.ndarray | None = None  # (S,) probability given to the reference token
    encoder_states: np.ndarray | None = None  # (L, T, H) the values attention averages

    @property
    def score(self) -> float:
        """Length-normalised log-probability: beam search ranks hypotheses by it."""
        return self.log_prob / max(len(self.outputs), 1)


def _numpy(steps: list[torch.Tensor], dim: int) -> np.ndarray:
    return torch.stack(steps, dim=dim).float().cpu().numpy()


@torch.inference_mode()
def greedy(
    model: EDM,
    source: torch.Tensor,
    lengths: torch.Tensor,
    *,
    max_len: int,
    mask: str = "bidirectional",
    reference: torch.Tensor | None = None,
    teacher_forcing: float = 0.0,
    generator: torch.Generator | None = None,
) -> list[Trace]:
    """Decode a batch: source (B, T), lengths (B,) -> one Trace per sequence.

    Without a reference each sequence stops at its first EOS (or after max_len steps). With a
    reference (B, S) of ids ending in EOS and padded with PAD, every sequence runs exactly as
    many steps as its reference has pieces, so each row lines up with a reference piece, and
    step t > 0 is fed reference[t-1] with probability `teacher_forcing`.
    """
    check_mask(mask)
    model.eval()
    memory, state = model.encode(source, lengths)
    encoder_states = memory.values.float().cpu().numpy()  # (L, B, T, H)
    batch = source.shape[0]
    steps = reference.shape[1] if reference is not None else max_len
    token = torch.full((batch,), BOS_ID, dtype=torch.long, device=source.device)
    forced = torch.zeros(batch, dtype=torch.bool, device=source.device)
    done = torch.zeros(batch, dtype=torch.bool, device=source.device)
    fed, produced, log_probs, was_forced, reference_log_probs, seen = [], [], [], [], [], []
    for t in range(steps):
        out, state = model.step(token, state, memory, memory.allowed(mask, t))
        log_p = torch.log_softmax(out.logits, dim=-1)  # (B, V)
        best, predicted = log_p.max(dim=-1)  # (B,), (B,)
        fed.append(token)
        produced.append(predicted)
        log_probs.append(best)
        was_forced.append(forced)
        seen.append(out)
        if reference is None:
            done = done | (predicted == EOS_ID)
            if bool(done.all()):
                break
            token = predicted
        else:
            reference_log_probs.append(log_p.gather(1, reference[:, t : t + 1]).squeeze(1))
            token, forced = choose_next(out.logits, reference[:, t], teacher_forcing, generator)

    fed_ids, out_ids = torch.stack(fed, 1).tolist(), torch.stack(produced, 1).tolist()  # (B, S)
    probs = _numpy(log_probs, 1)  # (B, S)
    forced_np = torch.stack(was_forced, 1).cpu().numpy()
    reference_probs = np.exp(_numpy(reference_log_probs, 1)) if reference is not None else None
    attention = _stack_attention(seen) if model.has_attention else None
    ref_lengths = (reference != PAD_ID).sum(1).tolist() if reference is not None else None

    traces = []
    for b in range(batch):
        n = ref_lengths[b] if ref_lengths else _length_to_eos(out_ids[b])
        trace = Trace(
            inputs=fed_ids[b][:n],
            outputs=out_ids[b][:n],
            probs=np.exp(probs[b, :n]),
            forced=forced_np[b, :n],
            log_prob=float(probs[b, :n].sum()),
            reference_probs=reference_probs[b, :n] if reference_probs is not None else None,
            encoder_states=encoder_states[:, b, : int(lengths[b])],
        )
        if attention is not None:
            trace.queries, trace.scores, trace.weights, trace.contexts = (a[:, b, :n] for a in attention)
        traces.append(trace)
    return traces


def _stack_attention(seen: list[Step]) -> tuple[np.ndarray, ...]:
    """Per-step (L, B, X) tensors -> (L, B, S, X) arrays for query, scores, weights, context."""
    return tuple(_numpy([getattr(s, name) for s in seen], 2) for name in ("query", "scores", "weights", "context"))


def _length_to_eos(ids: list[int]) -> int:
    """Tokens up to and including the first EOS (all of them if there is none)."""
    return ids.index(EOS_ID) + 1 if EOS_ID in ids else len(ids)


@torch.inference_mode()
def beam_search(
    model: EDM,
    source: torch.Tensor,
    lengths: torch.Tensor,
    *,
    beam_size: int,
    max_len: int,
    mask: str = "bidirectional",
) -> list[Trace]:
    """n-best hypotheses for one source (1, T), best first by length-normalised log-probability.

    Each live hypothesis is one row of the decoder's batch; every step keeps the beam_size best
    continuations among beam_size x V, and a hypothesis that produces EOS is set aside as
    finished. Each hypothesis keeps its own per-step record, attention included.
    """
    check_mask(mask)
    model.eval()
    memory, state = model.encode(source, lengths)
    encoder_states = memory.values[:, 0].float().cpu().numpy()  # (L, T, H)
    tokens = torch.tensor([BOS_ID], device=source.device)  # (N,) one live hypothesis to start
    totals = torch.zeros(1, device=source.device)  # (N,) summed log-probabilities
    histories: list[list[tuple]] = [[]]
    finished: list[Trace] = []
    for t in range(max_len):
        out, state = model.step(tokens, state, memory, memory.allowed(mask, t))
        log_p = torch.log_softmax(out.logits, dim=-1)  # (N, V)
        candidates = (totals[:, None] + log_p).flatten()  # (N * V,)
        top_totals, top_index = candidates.topk(min(2 * beam_size, candidates.numel()))
        vocab = log_p.shape[1]
        keep, new_histories = [], []
        for total, index in zip(top_totals.tolist(), top_index.tolist()):
            parent, token = divmod(index, vocab)
            history = histories[parent] + [(int(tokens[parent]), token, float(log_p[parent, token]), out, parent)]
            if token == EOS_ID:
                finished.append(_trace_from_history(history, total, model.has_attention, encoder_states))
            else:
                keep.append(index)
                new_histories.append(history)
            if len(keep) == beam_size:
                break
        if len(finished) >= beam_size or not keep:
            break
        index = torch.tensor(keep, device=source.device)
        parents = index // vocab
        tokens, totals = index % vocab, candidates[index]
        state = (state[0][:, parents], state[1][:, parents])
        memory = memory.select(parents)
        histories = new_histories
    else:
        finished += [_trace_from_history(h, float(s), model.has_attention, encoder_states)
                     for h, s in zip(histories, totals)]
    return sorted(finished, key=lambda trace: trace.score, reverse=True)[:beam_size]


def _trace_from_history(history: list[tuple], total: float, has_attention: bool, encoder_states) -> Trace:
    """history: per step (fed token, produced token, its log-prob, the Step, row of the Step)."""
    log_probs = np.array([lp for _, _, lp, _, _ in history], dtype=np.float32)
    trace = Trace(
        inputs=[fed for fed, *_ in history],
        outputs=[tok for _, tok, *_ in history],
        probs=np.exp(log_probs),
        forced=np.zeros(len(history), dtype=bool),
        log_prob=total,
        encoder_states=encoder_states,
    )
    if has_attention:
        trace.queries, trace.scores, trace.weights, trace.contexts = (
            _numpy([getattr(step, name)[:, row] for *_, step, row in history], 1)
            for name in ("query", "scores", "weights", "context")
        )
    return trace
