"""Quality by source length, measured on demand: why attention, in numbers the page can plot.

For a family of checkpoints trained on one task (reverse, reverse-noattn, reverse-causal), fresh
examples are drawn from a seed never used in training and each checkpoint is evaluated with the
mask it was trained with, batched. The result is cached per (checkpoints, n, seed): the first
visitor pays a few seconds on a CPU, everyone after reads it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .. import evaluate, tasks, viz
from . import models

FAMILIES = {"reverse": ("reverse", "reverse-noattn", "reverse-causal"),
            "dates": ("dates", "dates-seed", "dates-causal")}
EXAMPLES = 600  # fresh examples per family: about 100 per length bucket for reverse
SEED = evaluate.DEFAULT_SEED


@dataclass(frozen=True)
class ByLength:
    """Exact match by source-length bucket, per checkpoint, on the same examples."""

    task: str
    names: tuple[str, ...]
    buckets: tuple[str, ...]  # e.g. "1-5", in order of length
    exact: dict[str, tuple[float | None, ...]]  # name -> exact match per bucket (None: no examples there)
    counts: tuple[int, ...]  # examples per bucket
    masks: dict[str, str]  # name -> the mask it was run with (its trained mask)


@functools.lru_cache(maxsize=8)
def measure(family: str, n: int = EXAMPLES, seed: int = SEED) -> ByLength:
    """Evaluate every installed checkpoint of `family` on n fresh examples. ValueError if none is installed."""
    if family not in FAMILIES:
        raise ValueError(f"Unknown family {family!r}: choose one of {', '.join(FAMILIES)}.")
    names = tuple(name for name in FAMILIES[family] if name in models.checkpoint_choices())
    if not names:
        raise ValueError(f"None of the {family} checkpoints is installed here.")
    pairs = tasks.TASKS[family].generate(n, seed)
    results, masks = {}, {}
    for name in names:
        translator = models.get_model(name).translator
        masks[name] = translator.config.get("trained_mask", "bidirectional")
        results[name] = evaluate.evaluate(translator, pairs, mask=masks[name], alignment=False)
    buckets = tuple(b for b in (evaluate.bucket_of(low) for low, _ in evaluate.BUCKETS)
                    if b in results[names[0]]["by_length"])
    exact = {name: tuple(results[name]["by_length"][b]["exact_match"] if b in results[name]["by_length"] else None
                         for b in buckets) for name in names}
    counts = tuple(results[names[0]]["by_length"][b]["n"] for b in buckets)
    return ByLength(family, names, buckets, exact, counts, masks)


def chart(family: str = "reverse", presenter: bool = False) -> viz.Figure:
    """Exact match by source length for `family`, as the Compare tab plots it. ValueError if none is installed."""
    measured = measure(family)
    title = (f"exact match by source length: {len(measured.names)} {family} checkpoints, "
             f"{sum(measured.counts)} fresh inputs")
    return viz.quality_by_length(list(measured.buckets), dict(measured.exact), list(measured.counts),
                                 presenter=bool(presenter), title=title)
