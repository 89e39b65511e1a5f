"""Measure checkpoints on fresh examples: exact match, token accuracy, by source length, whether attention aligns.

    python -m s2s.cli.evaluate dates [--n 2000] [--seed 123] [--mask causal]
    python -m s2s.cli.evaluate --compare reverse-noattn reverse reverse-causal
    python -m s2s.cli.evaluate my-checkpoint --data pairs.tsv

A built-in task's examples are drawn from a seed never used in training, from the split the task is
validated on (s2s.tasks: held-out sentences for toy-fr); each checkpoint runs with the mask it was trained
with unless --mask says otherwise. An error is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import load
from ..errors import S2SError
from ..evaluate import DEFAULT_SEED, check_sources, evaluate, format_comparison, format_report
from ..model import MASKS
from ..tasks import TASKS, Pair, read_tsv
from ..translator import Translator


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m s2s.cli.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="bundled names, folders or Hub repo ids")
    parser.add_argument("--n", type=int, default=2000, help="fresh examples to generate (default 2000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed, never one used in training")
    parser.add_argument("--mask", choices=MASKS, help="default: each checkpoint's own")
    parser.add_argument("--compare", action="store_true", help="print exact match by length, side by side")
    parser.add_argument("--data", help="evaluate on a TSV of source<TAB>target lines instead of the task")
    return parser


def pairs_for(name: str, model: Translator, n: int, seed: int, data: str | None) -> list[Pair]:
    """The pairs to measure checkpoint `name` on: the first n of --data, or n fresh ones of its task."""
    if data:
        pairs = read_tsv(data)[:n]
        check_sources(model, pairs, data)
        return pairs
    task = model.config.get("task")
    if task not in TASKS:
        raise ValueError(f"{name}: task {task!r} is not built in; pass --data pairs.tsv")
    return TASKS[task].validation_pairs(n, seed)


def main(argv: Sequence[str] | None = None) -> int:
    command = parser()
    args = command.parse_args(argv)
    if args.n < 1:
        command.error(f"--n must be 1 or more; got {args.n}")
    results = []
    for name in args.checkpoints:
        try:
            model = load(name)
            pairs = pairs_for(name, model, args.n, args.seed, args.data)
            result = evaluate(model, pairs, mask=args.mask or model.config.get("trained_mask", "bidirectional"))
        except (ValueError, OSError, S2SError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        results.append(result)
        if not args.compare:
            print(format_report(name, result))
    if args.compare:
        print(format_comparison(args.checkpoints, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
