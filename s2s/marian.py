"""A Hub translation model (MarianMT, the opus-mt family) behind the same call as `Translator`, giving a `Translation`.

`transformers` runs the network, on its eager attention path; s2s/attention_hooks.py reads what every head of
every layer did; this module decodes (greedy, forced with a reference and a ratio, fed a prefix, beam search) by
the same rules as s2s/decode.py, one decoder step at a time with the model's own key/value cache, and fills the same
`Translation` every view reads, with `family="marian"` and `heads`/`head_scores` for every kind of ATTENTION_KINDS.

What differs from the LSTM models, and why:
- pieces are the model's own: its sentencepiece models and vocab.json (`Pieces`), so EOS is "</s>" and step 0 is
  fed the decoder start piece the model was trained with ("<pad>" for Marian), not "<s>";
- a piece the model's generation_config bans (Marian: "<pad>") is never written: its logit is -inf before softmax,
  as generate() does, so probabilities and alternatives are over the pieces it may write;
- `mask="causal"` hides source pieces after step t from cross-attention at step t (the same lesson as the
  LSTM models'); the encoder's self-attention always reads the whole source, as it was trained;
- beam search ranks by mean log-probability per written piece, as decode.beam_search does; generate(num_beams=)
  admits fewer finished hypotheses (only those among the top num_beams candidates of a step) and stops by its
  own heuristic, so the two can differ (docs/hub.md; tests/test_hub_translation.py shows where they agree).

One object serves every request at once: settings are arguments, and the recorder is per call (a ContextVar).
Shapes: L layers, NH heads, S output steps, T source pieces, H model size, V vocabulary, N beam rows, K = TOP_K.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import attention_hooks
from .decode import TOP_K, Hypothesis, beam_done
from .model import choose_next
from .translator import TextChecks, Translation, output_length, ranked

WORD_START = "▁"


class Pieces:
    """One side of a Marian tokenizer, read as the app reads a tokenizer: encode, decode, piece_id, pieces.

    It does what MarianTokenizer does (a leading ">>xx<<" language code kept whole, sentencepiece pieces looked up
    in vocab.json, an unknown piece <unk>), but holds no switch between the source and the target side: two
    objects, so requests encoding sources and references at once never race.
    """

    def __init__(self, processor, vocabulary: dict[str, int], *, unk: str, specials: set[int], codes: bool):
        self.sp = processor
        self.vocabulary = vocabulary
        self.names = {i: piece for piece, i in vocabulary.items()}
        self.unk_piece = unk
        self.unk_id = vocabulary[unk]
        self.specials = specials
        self.codes = codes  # a source side of a multilingual model: ">>fr<<" first chooses the language

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)

    def encode(self, text: str) -> list[int]:
        """Text -> ids, without EOS (the caller appends it)."""
        code = []
        if self.codes and text.startswith(">>") and (end := text.find("<<")) != -1:
            code, text = [text[: end + 2]], text[end + 2 :]
        return [self.vocabulary.get(piece, self.unk_id) for piece in code + self.sp.encode(text, out_type=str)]

    def decode(self, ids) -> str:
        """Ids -> text, special pieces left out (MarianTokenizer.decode with skip_special_tokens)."""
        kept = [self.names.get(int(i), self.unk_piece) for i in ids if int(i) not in self.specials]
        return self.sp.decode_pieces(kept).replace(WORD_START, " ").strip()

    def piece_id(self, piece: str) -> int | None:
        """The id of a piece of the vocabulary, or None if it has no such piece."""
        return self.vocabulary.get(piece) if isinstance(piece, str) else None

    def pieces(self, ids) -> list[str]:
        return [self.names.get(int(i), self.unk_piece) for i in ids]


@dataclass
class _Step:
    """What one decoder step recorded for its N rows, every layer and head."""

    log_p_top: tuple[torch.Tensor, torch.Tensor]  # (N, K) log-probabilities and ids of the best pieces
    cross: tuple[torch.Tensor, torch.Tensor]  # (L, N, NH, T) scores, weights
    self_: tuple[torch.Tensor, torch.Tensor]  # (L, N, NH, t + 1) scores, weights
    query: torch.Tensor  # (L, N, H) cross-attention's q, heads side by side
    context: torch.Tensor  # (L, N, H) cross-attention's weights @ V, heads side by side


@dataclass
class _Trace:
    inputs: list[int]
    outputs: list[int]
    log_probs: list[float]
    forced: list[bool]
    rows: list[int]  # this output's row in each step's record
    reference_log_probs: list[float] | None = None


class MarianTranslator(TextChecks):
    """A loaded Hub translation model. One object serves every user at once: it holds no per-request state."""

    family = "marian"

    def __init__(self, model, tokenizer, config: dict, device: torch.device | str = "cpu"):
        if model.config._attn_implementation != "eager":  # a fused kernel returns no weights to show
            raise ValueError(f"The model runs {model.config._attn_implementation!r} attention, which returns no "
                             'weights: open it with attn_implementation="eager".')
        self.model = model.to(device).eval()
        self.config = config
        self.device = torch.device(device)
        specials = {tokenizer.convert_tokens_to_ids(t) for t in tokenizer.all_special_tokens} - {tokenizer.unk_token_id}
        source_vocabulary = dict(tokenizer.encoder)
        target_vocabulary = dict(tokenizer.target_encoder) if tokenizer.separate_vocabs else source_vocabulary
        unk = str(tokenizer.unk_token)
        self.source_tokenizer = Pieces(tokenizer.spm_source, source_vocabulary, unk=unk, specials=specials,
                                       codes=bool(tokenizer.supported_language_codes))
        self.target_tokenizer = Pieces(tokenizer.spm_target, target_vocabulary, unk=unk, specials=specials,
                                       codes=False)
        rules = model.generation_config
        self.start_id = int(model.config.decoder_start_token_id)
        self.eos_id = int(tokenizer.eos_token_id)
        self.banned = sorted({int(ids[0]) for ids in (rules.bad_words_ids or []) if len(ids) == 1})
        layers = [(layer.self_attn, ("encoder_self", i)) for i, layer in enumerate(model.model.encoder.layers)]
        for i, layer in enumerate(model.model.decoder.layers):
            layers += [(layer.self_attn, ("decoder_self", i)), (layer.encoder_attn, ("cross", i))]
        attention_hooks.install(dict(layers))

    def __repr__(self) -> str:
        return f"MarianTranslator(repo={self.config.get('repo_id')!r}, commit={self.config.get('commit')!r})"

    def translate(self, text: str, *, reference: str | None = None, teacher_forcing: float = 0.0,
                  mask: str = "bidirectional", beam_size: int = 1, seed: int = 0, max_len: int | None = None,
                  prefix: list[str] | None = None) -> Translation:
        """Translate one text, as Translator.translate does (the same checks, messages and settings)."""
        source_ids, teacher_forcing, max_len, beam_size, prefix_ids, reference_ids = self.checked(
            text, reference, teacher_forcing, mask, beam_size, seed, max_len, prefix)
        settings = dict(mask=mask, teacher_forcing=teacher_forcing, seed=int(seed), beam_size=beam_size,
                        reference=reference if reference_ids else None)
        with attention_hooks.recording() as recorder, torch.inference_mode():
            encoded, encoder_self = self._encode(source_ids, recorder)
            if beam_size > 1:
                traces, steps = self._beam(encoded, recorder, beam_size=beam_size, max_len=max_len, mask=mask)
            else:
                generator = torch.Generator().manual_seed(int(seed))
                traces, steps = self._greedy(encoded, recorder, max_len=max_len, mask=mask, reference=reference_ids,
                                             ratio=teacher_forcing, generator=generator, prefix=prefix_ids)
        return ranked([self._translation(text, source_ids, trace, steps, encoder_self, reference_ids, **settings)
                       for trace in traces], beam_size)

    def translate_batch(self, texts: list[str], *, mask: str = "bidirectional",
                        max_len: int | None = None) -> list[Translation]:
        """Greedy-decode many texts, each as `translate` gives it (one after the other: each its own pass)."""
        self._check_settings(mask, 1, 0, max_len)
        return [self.translate(text, mask=mask, max_len=max_len) for text in texts]

    # text to ids, and the settings: checked as every family checks them (translator.TextChecks)

    # --- the network, one step at a time -----------------------------------------------------------------------

    def _encode(self, source_ids: list[int], recorder: attention_hooks.Recorder):
        """Run the encoder once: (its output (1, T, H), encoder self-attention (scores, weights) (L, NH, T, T))."""
        source = torch.tensor([source_ids], device=self.device)
        output = self.model.get_encoder()(input_ids=source, attention_mask=torch.ones_like(source))
        calls = recorder.take("encoder_self")
        record = tuple(torch.stack([getattr(c, name)[0] for c in calls]) for name in ("scores", "weights"))
        return output.last_hidden_state, record

    def _step(self, tokens: torch.Tensor, cache, encoded: torch.Tensor, allowed: torch.Tensor,
              recorder: attention_hooks.Recorder):
        """One decoder step for N rows: (log-probabilities (N, V), logits (N, V), cache, _Step, cross-attention's
        (keys, values) of every layer, each (N, NH, T, dh))."""
        rows = tokens.shape[0]
        out = self.model(encoder_outputs=(encoded.expand(rows, -1, -1),),  # the model wraps it as its own output
                         attention_mask=allowed.expand(rows, -1), decoder_input_ids=tokens[:, None],
                         past_key_values=cache, use_cache=True)
        logits = out.logits[:, -1].float()  # (N, V)
        if self.banned:
            logits[:, self.banned] = float("-inf")
        log_p = torch.log_softmax(logits, dim=-1)
        cross, self_ = recorder.take("cross"), recorder.take("decoder_self")

        def stacked(calls, name):
            return torch.stack([getattr(c, name)[:, :, 0] if name in ("scores", "weights") else getattr(c, name)[:, 0]
                                for c in calls])

        record = _Step(log_p.topk(min(TOP_K, log_p.shape[1]), dim=-1), (stacked(cross, "scores"),
                       stacked(cross, "weights")), (stacked(self_, "scores"), stacked(self_, "weights")),
                       stacked(cross, "query"), stacked(cross, "context"))
        return log_p, logits, out.past_key_values, record, [(c.keys, c.values) for c in cross]

    def _allowed(self, width: int, mask: str, step: int) -> torch.Tensor:
        """(1, T) where step `step` may attend in the source: everywhere, or with `causal` pieces 0..step."""
        positions = torch.arange(width, device=self.device)
        return (positions <= step if mask == "causal" else positions >= 0).long()[None]

    def _greedy(self, encoded, recorder, *, max_len, mask, reference, ratio, generator, prefix):
        """One output: free, fed a prefix, or forced with a reference; as decode.greedy decides each step."""
        width = encoded.shape[1]
        steps = len(reference) if reference else max_len
        token, forced, cache = self.start_id, False, None
        trace = _Trace([], [], [], [], [], [] if reference else None)
        records = []
        for t in range(steps):
            log_p, logits, cache, record, values = self._step(torch.tensor([token], device=self.device), cache,
                                                              encoded, self._allowed(width, mask, t), recorder)
            if t == 0:
                records.append(values)
            records.append(record)
            best, predicted = (float(v) for v in log_p[0].max(-1))
            predicted = int(predicted)
            trace.inputs.append(token)
            trace.outputs.append(predicted)
            trace.log_probs.append(best)
            trace.forced.append(forced)
            trace.rows.append(0)
            if reference is None and t < len(prefix):
                token, forced = prefix[t], True
            elif reference is None:
                if predicted == self.eos_id:
                    break
                token, forced = predicted, False
            else:
                trace.reference_log_probs.append(float(log_p[0, reference[t]]))
                chosen, was_forced = choose_next(logits, torch.tensor([reference[t]]), ratio, generator)
                token, forced = int(chosen[0]), bool(was_forced[0])
        return [trace], records

    def _beam(self, encoded, recorder, *, beam_size, max_len, mask):
        """n-best outputs, best first, by decode.beam_search's rule: mean log-probability per written piece."""
        width = encoded.shape[1]
        live, finished, records, cache = [Hypothesis()], [], [], None
        for t in range(max_len):
            fed = torch.tensor([h.tokens[-1] if h.tokens else self.start_id for h in live], device=self.device)
            log_p, _, cache, record, values = self._step(fed, cache, encoded, self._allowed(width, mask, t), recorder)
            if t == 0:
                records.append(values)
            records.append(record)
            totals = torch.tensor([h.log_prob for h in live], device=self.device)
            for row, (hypothesis, token) in enumerate(zip(live, fed.tolist())):  # ending here finishes it
                finished.append(hypothesis.extend(token, self.eos_id, float(log_p[row, self.eos_id]), row))
            going_on = totals[:, None] + log_p  # (N, V)
            going_on[:, self.eos_id] = float("-inf")
            top_totals, top_index = going_on.flatten().topk(min(beam_size, going_on.numel()))
            vocab = log_p.shape[1]
            live = [live[parent].extend(int(fed[parent]), token, float(log_p[parent, token]), parent)
                    for parent, token in (divmod(i, vocab) for i, total in zip(top_index.tolist(), top_totals.tolist())
                                          if total > float("-inf"))]
            if beam_done(finished, live, beam_size, max_len):
                break
            cache.reorder_cache(torch.tensor([h.rows[-1] for h in live], device=self.device))
        best = sorted(finished, key=lambda h: h.mean_log_prob, reverse=True)[:beam_size]
        best += sorted(live, key=lambda h: h.mean_log_prob, reverse=True)[: beam_size - len(best)]
        traces = [_Trace(list(h.fed), list(h.tokens), list(h.log_probs), [False] * len(h.tokens), list(h.rows))
                  for h in best]
        return traces, records

    # --- a trace as the Translation every view reads -----------------------------------------------------------

    def _translation(self, text, source_ids, trace: _Trace, records, encoder_self, reference_ids,
                     **settings) -> Translation:
        values, steps = records[0], records[1:]
        n = len(trace.outputs)
        picked = [(steps[t], row) for t, row in enumerate(trace.rows)]

        def per_step(get, dim: int) -> np.ndarray:  # step t's row of every layer, stacked as dimension `dim`
            return torch.stack([get(step)[:, row] for step, row in picked], dim=dim).float().cpu().numpy()

        queries = per_step(lambda s: s.query, 1)  # (L, S, H)
        cross_scores = per_step(lambda s: s.cross[0], 2)  # (L, NH, S, T)
        cross_weights = per_step(lambda s: s.cross[1], 2)
        self_scores = np.full(cross_scores.shape[:2] + (n, n), -np.inf, dtype=np.float32)  # (L, NH, S, S)
        self_weights = np.zeros_like(self_scores)
        for t, (step, row) in enumerate(picked):
            self_scores[:, :, t, : t + 1] = step.self_[0][:, row].float().cpu().numpy()
            self_weights[:, :, t, : t + 1] = step.self_[1][:, row].float().cpu().numpy()
        encoder_scores, encoder_weights = (r.float().cpu().numpy() for r in encoder_self)
        tops = [(step.log_p_top[0][row], step.log_p_top[1][row]) for step, row in picked]
        target = self.target_tokenizer
        log_probs = np.array(trace.log_probs, dtype=np.float32)
        out_pieces = target.pieces(trace.outputs)
        return Translation(
            source_text=text,
            source_pieces=self.source_tokenizer.pieces(source_ids),
            decoder_inputs=target.pieces(trace.inputs),
            output_pieces=out_pieces,
            text=target.decode(trace.outputs[: output_length(out_pieces)]),
            attention=cross_weights.mean(axis=1),
            scores=cross_scores.mean(axis=1),
            probs=np.exp(log_probs),
            forced=np.array(trace.forced, dtype=bool),
            queries=queries,
            contexts=per_step(lambda s: s.context, 1),
            encoder_states=torch.stack([attention_hooks.side_by_side(v[:1])[0]
                                        for _, v in values]).float().cpu().numpy(),
            log_prob=float(log_probs.sum()),
            score_function="scaled_dot",
            query="state",
            trained_mask="bidirectional",
            encoder="bi",
            reference_pieces=target.pieces(reference_ids) if reference_ids else None,
            reference_probs=(np.exp(np.array(trace.reference_log_probs, dtype=np.float32))
                             if trace.reference_log_probs is not None else None),
            top_pieces=[target.pieces(ids.tolist()) for _, ids in tops],
            top_probs=np.exp(torch.stack([v for v, _ in tops]).float().cpu().numpy()),
            **_per_head_parts(queries, [k[0] for k, _ in values], [v[0] for _, v in values]),
            family=self.family,
            heads={"cross": cross_weights, "decoder_self": self_weights, "encoder_self": encoder_weights},
            head_scores={"cross": cross_scores, "decoder_self": self_scores, "encoder_self": encoder_scores},
            **settings,
        )


def _per_head_parts(queries: np.ndarray, keys: list[torch.Tensor], values: list[torch.Tensor]) -> dict:
    """Cross-attention's q, K and V of each head, (L, NH, S, dh) and (L, NH, T, dh), for the Translation fields
    head_queries, head_keys and head_values."""
    layers, steps, _ = queries.shape
    heads_, size = keys[0].shape[0], keys[0].shape[-1]
    return {"head_queries": queries.reshape(layers, steps, heads_, size).transpose(0, 2, 1, 3),
            "head_keys": torch.stack(keys).float().cpu().numpy(),
            "head_values": torch.stack(values).float().cpu().numpy()}
