"""Measure a checkpoint: exact match, token accuracy, by source length, and whether attention aligns.

The metrics and their reports, for training's validation, the page's chart by length and the command line
(`python -m s2s.cli.evaluate dates`, `... --compare reverse-noattn reverse reverse-causal`).

Alignment is checked, not assumed, where it is known: in `reverse` output letter t belongs to
source letter T-1-t; in `dates` the k-th year digit of the output belongs to the k-th digit
of the year in the source. We count how often the most-attended source piece is that one.

`forced_figures` measures the other side of exposure bias: the model fed the reference at every
step, in one pass as training feeds it (loss, token accuracy, every piece right), to set beside
decoding on its own; a Transformer trained without its decoder's causal mask shows the gap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .tokenizer import EOS_ID, PAD_ID
from .translator import Translation, Translator

BUCKETS = ((1, 5), (6, 10), (11, 15), (16, 20), (21, 25), (26, 30), (31, 40), (41, 60), (61, 10_000))
DEFAULT_SEED = 123  # never used in training (s2s/training/data.py draws from seeds 0 and 1)


def exact_match(predictions: Sequence[str], targets: Sequence[str]) -> float:
    return float(np.mean([p == t for p, t in zip(predictions, targets)])) if targets else 0.0


def token_accuracy(predicted: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]) -> float:
    """Share of target pieces (EOS included) predicted at their own position."""
    hits = sum(sum(p == t for p, t in zip(pred, target)) for pred, target in zip(predicted, targets))
    total = sum(len(t) for t in targets)
    return hits / total if total else 0.0


def source_length(source: str) -> int:
    """The length the buckets use: words (letters, for reverse)."""
    return len(source.split())


def bucket_of(length: int) -> str:
    for low, high in BUCKETS:
        if low <= length <= high:
            return f"{low}-{high}" if high < 10_000 else f"{low}+"
    return "?"


def aligned_positions(translation, task: str | None) -> list[tuple[int, int]]:
    """(output step, source position) pairs whose alignment is known for this task."""
    src, out = translation.source_pieces, translation.output_pieces
    if task == "reverse":
        letters = len(src) - 1  # the last source piece is EOS
        return [(t, letters - 1 - t) for t in range(min(letters, len(out)))]
    if task == "dates":
        digits = [i for i, piece in enumerate(src) if piece.lstrip("▁").isdigit()]
        runs = [digits[i : i + 4] for i in range(len(digits) - 3) if digits[i + 3] - digits[i] == 3]
        if not runs or len(out) < 4:
            return []
        return list(zip(range(4), runs[-1]))  # ISO output starts with the year
    return []


def alignment_hits(translation, task: str | None, offset: int = 0) -> np.ndarray:
    """(layers + 1, pairs) bool: per layer and for the layer mean, argmax attention == aligned piece + offset.

    offset=1 asks whether attention lands on the piece just right of the aligned one: a decoder
    whose query knows the piece it wrote last often finds that piece in the source and reads its
    neighbour from the encoder state there.
    """
    pairs = aligned_positions(translation, task)
    if not pairs or translation.attention_layers == 0:
        return np.zeros((translation.attention_layers + 1, 0), dtype=bool)
    attention = np.concatenate([translation.attention, translation.attention.mean(0, keepdims=True)])
    steps, positions = zip(*pairs)
    return attention[:, list(steps)].argmax(-1) == np.array(positions) + offset


def evaluate(model: Translator, pairs: Sequence[tuple[str, str]], *, mask: str = "bidirectional",
             alignment: bool = True, batch_size: int = 256) -> dict:
    """Metrics of `model` on `pairs`, overall and by source-length bucket; alignment over every example."""
    task = model.config.get("task")
    sources, targets = [s for s, _ in pairs], [t for _, t in pairs]
    results: list[Translation | None] = [None] * len(sources)
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))  # similar lengths batch well
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        for i, r in zip(chunk, model.translate_batch([sources[i] for i in chunk], mask=mask)):
            results[i] = r
    predictions = [r.text for r in results]

    def encode(text: str) -> list[int]:
        return model.target_tokenizer.encode(text) + [EOS_ID]

    result = {
        "n": len(pairs),
        "mask": mask,
        "exact_match": exact_match(predictions, targets),
        "token_accuracy": token_accuracy([encode(p) for p in predictions], [encode(t) for t in targets]),
        "by_length": {},
    }
    buckets: dict[str, list[bool]] = {}
    for source, p, t in zip(sources, predictions, targets):
        buckets.setdefault(bucket_of(source_length(source)), []).append(p == t)
    for low, _ in BUCKETS:
        name = bucket_of(low)
        if name in buckets:
            result["by_length"][name] = {"n": len(buckets[name]), "exact_match": float(np.mean(buckets[name]))}
    for key, offset in (("alignment", 0), ("alignment_next", 1)) if alignment else ():
        hits = [h for h in (alignment_hits(r, task, offset) for r in results) if h.size]
        if hits:
            per_layer = np.concatenate(hits, axis=1).mean(1)
            result[key] = {f"layer {i}": float(v) for i, v in enumerate(per_layer[:-1])}
            result[key]["layer mean"] = float(per_layer[-1])
    return result


@torch.inference_mode()
def forced_figures(model: Translator, pairs: Sequence[tuple[str, str]], *, mask: str = "bidirectional",
                   batch_size: int = 256) -> dict:
    """Under full teacher forcing, the model's own training pass: mean cross-entropy per reference piece (EOS
    included), the share of pieces whose most probable piece is the reference's, the share of pairs with all right."""
    net = model.model.eval()
    loss, pieces, right, whole = 0.0, 0, 0, 0
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        sources = [model.encode_source(s) for s, _ in chunk]
        targets = [model.encode_reference(t) for _, t in chunk]
        source, target = (_padded(rows, model.device) for rows in (sources, targets))  # (B, T), (B, S)
        lengths = torch.tensor([len(s) for s in sources])  # on the host, as the encoder's packing takes them
        logits = net(source, lengths, target, teacher_forcing=1.0, mask=mask)
        real = target != PAD_ID  # (B, S)
        loss += float(torch.nn.functional.cross_entropy(logits[real].float(), target[real], reduction="sum"))
        hits = (logits.argmax(-1) == target) | ~real
        pieces, right, whole = pieces + int(real.sum()), right + int(hits[real].sum()), whole + int(hits.all(1).sum())
    return {"forced_loss": loss / max(pieces, 1), "forced_token_accuracy": right / max(pieces, 1),
            "forced_exact_match": whole / max(len(pairs), 1)}


def _padded(rows: list[list[int]], device) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [PAD_ID] * (width - len(r)) for r in rows], device=device)


def format_report(name: str, result: dict) -> str:
    lines = [f"{name}: exact match {result['exact_match']:.1%}, token accuracy {result['token_accuracy']:.1%} "
             f"on {result['n']} examples, mask {result['mask']}"]
    lines += [f"  length {b:>6}: {v['exact_match']:6.1%}  (n={v['n']})" for b, v in result["by_length"].items()]
    for key, what in (("alignment", "the aligned one"), ("alignment_next", "the one right after it")):
        if key in result:
            shares = ", ".join(f"{k} {v:.1%}" for k, v in result[key].items())
            lines.append(f"  most-attended piece is {what}: {shares}")
    if "forced_loss" in result:
        lines.append(f"  under teacher forcing: loss {result['forced_loss']:.4f} a piece, token accuracy "
                     f"{result['forced_token_accuracy']:.1%}, all pieces right {result['forced_exact_match']:.1%}")
    return "\n".join(lines)


def format_comparison(names: Sequence[str], results: Sequence[dict]) -> str:
    """The why-attention table: exact match by source-length bucket, one column per checkpoint."""
    width = max(12, *(len(n) + 2 for n in names))
    header = "length".ljust(8) + "".join(n.rjust(width) for n in names)
    rows = [header, "-" * len(header)]
    for low, _ in BUCKETS:
        bucket = bucket_of(low)
        cells = [r["by_length"].get(bucket) for r in results]
        if any(cells):
            rows.append(bucket.ljust(8) + "".join(
                (f"{c['exact_match']:.1%}" if c else "-").rjust(width) for c in cells))
    rows.append("all".ljust(8) + "".join(f"{r['exact_match']:.1%}".rjust(width) for r in results))
    return "\n".join(rows)


def check_sources(model: Translator, pairs, data: str) -> None:
    """Refuse, naming the pair, a source this checkpoint cannot read (the whole run failed on it, unnamed)."""
    for n, (source, _) in enumerate(pairs, 1):
        try:
            model.encode_source(source)
        except ValueError as error:
            shown = f"{source[:20]!r}{'...' if len(source) > 20 else ''}"
            raise ValueError(f"{data}, pair {n} ({shown}): {error}") from None
