"""Decoding: greedy (optionally teacher-forced) and beam search, recording every step.

Each decoded sequence comes back as a `Trace`: the token fed and the token produced at every
step, the produced token's probability, and what attention did (pre-softmax scores, weights,
query and context of every layer; for a model with heads, each head's too). The model holds no
per-request state: the mask, the teacher-forcing ratio and the random generator are arguments here.

Every family runs through the same loop (model.encode, then model.step per output position). One
exception: under full teacher forcing a model with `parallel_decoder` (the Transformer) decodes in one
pass, as training saw it (`forced_steps`): the same numbers for a causal decoder (tests check it), and
for one trained without its causal mask what that mask hid: the future it read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .model import EDM, HeadStep, Memory, Step, Transformer, check_mask, choose_next
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
    top_ids: np.ndarray | None = None  # (S, K) the K most probable tokens at each step, most probable first
    top_probs: np.ndarray | None = None  # (S, K) their probabilities
    heads: dict[str, np.ndarray] | None = None  # a model with heads: kind -> (L, NH, rows, cols) weights
    head_scores: dict[str, np.ndarray] | None = None  # kind -> what each head's softmax saw
    head_queries: np.ndarray | None = None  # (L, NH, S, dh) each head's cross-attention query
    head_keys: np.ndarray | None = None  # (L, NH, T, dh) each head's cross-attention keys
    head_values: np.ndarray | None = None  # (L, NH, T, dh) each head's cross-attention values

TOP_K = 5  # alternatives recorded per step: the output distribution's head, for the page's bar chart


def _numpy(steps: list[torch.Tensor], dim: int) -> np.ndarray:
    return torch.stack(steps, dim=dim).float().cpu().numpy()


@torch.inference_mode()
def greedy(
    model: EDM | Transformer,
    source: torch.Tensor,
    lengths: torch.Tensor,
    *,
    max_len: int,
    mask: str = "bidirectional",
    reference: torch.Tensor | None = None,
    teacher_forcing: float = 0.0,
    generator: torch.Generator | None = None,
    prefix: list[int] = (),
) -> list[Trace]:
    """Decode a batch: source (B, T), lengths (B,) -> one Trace per sequence.

    `prefix` is an intervention for decoding without a reference: steps 1..len(prefix) are fed its
    tokens whatever the model predicted (marked forced), and decoding goes on freely after them, so
    the rows that follow show what one changed input does to the rest (exposure bias).

    Without a reference each sequence stops at its first EOS (or after max_len steps). With a
    reference (B, S) of ids ending in EOS and padded with PAD, every sequence runs exactly as
    many steps as its reference has pieces, so each row lines up with a reference piece, and
    step t > 0 is fed reference[t-1] with probability `teacher_forcing`.
    """
    check_mask(mask)
    if getattr(model, "training", True):  # eval() walks every module: once, not on every request
        model.eval()
    memory, state = model.encode(source, lengths, mask)
    encoder_states = memory.values.float().cpu().numpy()  # (L, B, T, H)
    batch = source.shape[0]
    steps = reference.shape[1] if reference is not None else max_len
    token = torch.full((batch,), BOS_ID, dtype=torch.long, device=source.device)
    forced = torch.zeros(batch, dtype=torch.bool, device=source.device)
    done = torch.zeros(batch, dtype=torch.bool, device=source.device)
    fed, produced, log_probs, was_forced, reference_log_probs, seen, tops = [], [], [], [], [], [], []
    given = None  # every step at once: a parallel decoder under full forcing
    if reference is not None and teacher_forcing >= 1.0 and model.parallel_decoder:
        given = model.forced_steps(memory, torch.cat([token[:, None], reference[:, :-1]], 1), mask)
    for t in range(steps):
        out, state = (given[t], state) if given else model.step(token, state, memory, memory.allowed(mask, t))
        log_p = torch.log_softmax(out.logits, dim=-1)  # (B, V)
        best, predicted = log_p.max(dim=-1)  # (B,), (B,)
        tops.append(log_p.topk(min(TOP_K, log_p.shape[1]), dim=-1))  # (B, K) each
        fed.append(token)
        produced.append(predicted)
        log_probs.append(best)
        was_forced.append(forced)
        seen.append(out)
        if reference is None and t < len(prefix):
            token, forced = torch.full_like(predicted, prefix[t]), torch.ones_like(done)
        elif reference is None:
            done = done | (predicted == EOS_ID)
            if bool(done.all()):
                break
            token, forced = predicted, torch.zeros_like(done)
        else:
            reference_log_probs.append(log_p.gather(1, reference[:, t : t + 1]).squeeze(1))
            token, forced = choose_next(out.logits, reference[:, t], teacher_forcing, generator)

    fed_ids, out_ids = torch.stack(fed, 1).tolist(), torch.stack(produced, 1).tolist()  # (B, S)
    probs = _numpy(log_probs, 1)  # (B, S)
    forced_np = torch.stack(was_forced, 1).cpu().numpy()
    reference_probs = np.exp(_numpy(reference_log_probs, 1)) if reference is not None else None
    attention = _stack_attention(seen) if model.has_attention else None
    ref_lengths = (reference != PAD_ID).sum(1).tolist() if reference is not None else None
    top_ids = torch.stack([ids for _, ids in tops], 1).cpu().numpy()  # (B, S, K)
    top_probs = np.exp(_numpy([values for values, _ in tops], 1))  # (B, S, K)

    traces = []
    for b in range(batch):
        n = ref_lengths[b] if ref_lengths else len(prefix) + _length_to_eos(out_ids[b][len(prefix):])
        trace = Trace(
            inputs=fed_ids[b][:n],
            outputs=out_ids[b][:n],
            probs=np.exp(probs[b, :n]),
            forced=forced_np[b, :n],
            log_prob=float(probs[b, :n].sum()),
            reference_probs=reference_probs[b, :n] if reference_probs is not None else None,
            encoder_states=encoder_states[:, b, : int(lengths[b])],
            top_ids=top_ids[b, :n],
            top_probs=top_probs[b, :n],
        )
        if attention is not None:
            width = int(lengths[b])  # its own source pieces: the batch's padding columns are dropped
            trace.queries, scores, weights, trace.contexts = (a[:, b, :n] for a in attention)
            trace.scores, trace.weights = scores[..., :width], weights[..., :width]
        if seen[0].heads is not None:
            _add_heads(trace, [out.heads for out in seen[:n]], [b] * n, memory, b, width)
        traces.append(trace)
    return traces


def _stack_attention(seen: list[Step]) -> tuple[np.ndarray, ...]:
    """Per-step (L, B, X) tensors -> (L, B, S, X) arrays for query, scores, weights, context."""
    return tuple(_numpy([getattr(s, name) for s in seen], 2) for name in ("query", "scores", "weights", "context"))


def _add_heads(trace: Trace, steps: list[HeadStep], rows: list[int], memory: Memory, entry: int, width: int) -> None:
    """Fill a Trace's per-head arrays: step t read from row rows[t] of its record, the source from the memory's
    batch entry `entry`, its first `width` pieces (the batch's padding columns dropped)."""
    n = len(rows)

    def per_step(name: str) -> list[torch.Tensor]:  # each (L, NH, X)
        return [getattr(step, name)[:, row] for step, row in zip(steps, rows)]

    def square(rows_: list[torch.Tensor], fill: float) -> np.ndarray:  # S rows of up to S columns -> (L, NH, S, S)
        out = rows_[0].new_full((*rows_[0].shape[:2], n, n), fill)
        for t, row in enumerate(rows_):
            out[:, :, t, : min(row.shape[-1], n)] = row[..., :n]
        return out.float().cpu().numpy()

    encoder_scores, encoder_weights = (r[:, entry, :, :width, :width].float().cpu().numpy() for r in memory.record)
    trace.heads = {"cross": _numpy(per_step("cross_weights"), 2)[..., :width],
                   "decoder_self": square(per_step("self_weights"), 0.0), "encoder_self": encoder_weights}
    trace.head_scores = {"cross": _numpy(per_step("cross_scores"), 2)[..., :width],
                         "decoder_self": square(per_step("self_scores"), float("-inf")),
                         "encoder_self": encoder_scores}
    trace.head_queries = _numpy(per_step("cross_queries"), 2)  # (L, NH, S, dh)
    heads = trace.head_queries.shape[1]
    trace.head_keys, trace.head_values = (  # (L, T, H) -> (L, NH, T, dh): head h is columns h dh .. (h + 1) dh
        x[:, entry, :width].float().cpu().numpy().reshape(x.shape[0], width, heads, -1).transpose(0, 2, 1, 3)
        for x in (memory.keys, memory.values))


def _length_to_eos(ids: list[int]) -> int:
    """Tokens up to and including the first EOS (all of them if there is none)."""
    return ids.index(EOS_ID) + 1 if EOS_ID in ids else len(ids)


@dataclass(frozen=True)
class Hypothesis:
    """One output beam search is growing: what it was fed and wrote, and where its record lives.

    Step t's record (logits and attention of every live hypothesis) is shared by all of them;
    `rows[t]` is this hypothesis's row in it.
    """

    fed: tuple[int, ...] = ()  # token fed at each step, BOS first
    tokens: tuple[int, ...] = ()  # token produced at each step
    log_probs: tuple[float, ...] = ()  # log-probability of each produced token
    rows: tuple[int, ...] = ()  # its row in step t's record

    @property
    def log_prob(self) -> float:
        return float(sum(self.log_probs))

    @property
    def mean_log_prob(self) -> float:
        """The one rule beam search prunes, stops and ranks by: mean log-probability per produced token."""
        return self.log_prob / max(len(self.tokens), 1)

    @property
    def finished(self) -> bool:
        return bool(self.tokens) and self.tokens[-1] == EOS_ID

    def extend(self, fed: int, token: int, log_prob: float, row: int) -> Hypothesis:
        return Hypothesis(self.fed + (fed,), self.tokens + (token,), self.log_probs + (log_prob,), self.rows + (row,))


def best_possible_score(log_prob: float, max_len: int) -> float:
    """The highest score a live hypothesis with summed log-probability `log_prob` can still reach.

    Every later token adds a log-probability <= 0 and one to the length, so the mean can at best
    become log_prob / n for a longer n; as log_prob <= 0 that is largest at the longest length.
    """
    return log_prob / max_len


@torch.inference_mode()
def beam_search(
    model: EDM | Transformer,
    source: torch.Tensor,
    lengths: torch.Tensor,
    *,
    beam_size: int,
    max_len: int,
    mask: str = "bidirectional",
) -> list[Trace]:
    """n-best hypotheses for one source (1, T), best first, all by one rule: `Hypothesis.mean_log_prob`.

    Every live hypothesis is one row of the decoder's batch. At step t every live hypothesis is
    extended by every token; all these candidates have length t + 1, so ranking them by mean
    log-probability is ranking them by their sum. A candidate ending in EOS is finished; the
    `beam_size` best of the others stay live. The search stops when `beam_size` hypotheses have
    finished and none of the live ones can still score above the worst of them
    (`best_possible_score`), or at max_len, when unfinished hypotheses fill any places left.
    """
    check_mask(mask)
    if getattr(model, "training", True):  # eval() walks every module: once, not on every request
        model.eval()
    memory, state = model.encode(source, lengths, mask)
    source_memory = memory  # (B = 1)
    encoder_states = memory.values[:, 0].float().cpu().numpy()  # (L, T, H)
    live = [Hypothesis()]
    finished: list[Hypothesis] = []
    records: list[Step] = []
    for t in range(max_len):
        fed = torch.tensor([h.tokens[-1] if h.tokens else BOS_ID for h in live], device=source.device)  # (N,)
        out, state = model.step(fed, state, memory, memory.allowed(mask, t))
        records.append(out)
        log_p = torch.log_softmax(out.logits, dim=-1)  # (N, V)
        totals = torch.tensor([h.log_prob for h in live], device=source.device)  # (N,)
        for row, (hypothesis, token) in enumerate(zip(live, fed.tolist())):  # ending here finishes it
            finished.append(hypothesis.extend(token, EOS_ID, float(log_p[row, EOS_ID]), row))
        going_on = totals[:, None] + log_p  # (N, V)
        going_on[:, EOS_ID] = float("-inf")  # ending was counted above (an index tensor made here was on the CPU)
        # Every candidate has length t + 1, so the largest sums are the largest means.
        top_totals, top_index = going_on.flatten().topk(min(beam_size, going_on.numel()))
        vocab = log_p.shape[1]
        live = [live[parent].extend(int(fed[parent]), token, float(log_p[parent, token]), parent)
                for parent, token in (divmod(i, vocab) for i, total in zip(top_index.tolist(), top_totals.tolist())
                                      if total > float("-inf"))]
        if beam_done(finished, live, beam_size, max_len):
            break
        parents = torch.tensor([h.rows[-1] for h in live], device=source.device)
        state = (state[0][:, parents], state[1][:, parents])
        memory = source_memory.rows(len(live))  # every hypothesis reads the one source: views, not copies
    best = sorted(finished, key=lambda h: h.mean_log_prob, reverse=True)[:beam_size]
    best += sorted(live, key=lambda h: h.mean_log_prob, reverse=True)[: beam_size - len(best)]
    return [_trace(h, records, model.has_attention, encoder_states, source_memory) for h in best]
def beam_done(finished: list[Hypothesis], live: list[Hypothesis], beam_size: int, max_len: int) -> bool:
    """True when no live hypothesis can still enter the n-best (the `beam_size` best finished)."""
    if not live:
        return True
    if len(finished) < beam_size:
        return False
    worst_kept = sorted((h.mean_log_prob for h in finished), reverse=True)[beam_size - 1]
    return all(best_possible_score(h.log_prob, max_len) <= worst_kept for h in live)


def _trace(h: Hypothesis, records: list[Step], has_attention: bool, encoder_states: np.ndarray,
           memory: Memory) -> Trace:
    """A hypothesis's Trace, its attention read from its own row of each step's record."""
    trace = Trace(
        inputs=list(h.fed),
        outputs=list(h.tokens),
        probs=np.exp(np.array(h.log_probs, dtype=np.float32)),
        forced=np.zeros(len(h.tokens), dtype=bool),
        log_prob=h.log_prob,
        encoder_states=encoder_states,
    )
    tops = [torch.log_softmax(records[t].logits[row], -1).topk(min(TOP_K, records[t].logits.shape[-1]))
            for t, row in enumerate(h.rows)]
    trace.top_ids = torch.stack([ids for _, ids in tops]).cpu().numpy()  # (S, K)
    trace.top_probs = np.exp(_numpy([values for values, _ in tops], 0))  # (S, K)
    if has_attention:
        trace.queries, trace.scores, trace.weights, trace.contexts = (
            _numpy([getattr(records[t], name)[:, row] for t, row in enumerate(h.rows)], 1)
            for name in ("query", "scores", "weights", "context")
        )
    if records[0].heads is not None:
        _add_heads(trace, [records[t].heads for t in range(len(h.rows))], list(h.rows), memory, 0,
                   memory.valid.shape[1])
    return trace
