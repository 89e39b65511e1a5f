"""Benchmark: the pause of a full garbage collection in the server, with what start-up built walked at every one
(Python's default, the baseline) and frozen out of the walk (`s2s.web.heap.freeze_startup`, what the server does
once it serves), side by side in one process.

    python -m bench.heap [--rounds 5]

It builds the whole page as app.py does (the bundled checkpoints loaded, torch and gradio imported; greedy batches
decoded in this process, so no decoding process starts), serves `--requests` of a class's mixed requests through
the public endpoint's function, then times `gc.collect()`, a full collection: the pause in which no request moves,
which serving's allocations bring about every few seconds under load. Then it freezes start-up as the server does,
serves as many requests again (what serving keeps is walked on both sides), and times the same. Prints the objects
each walks and the median pause of `--rounds` collections.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time

os.environ["S2S_DECODE_PROCESS"] = "0"  # before s2s.web.runs is imported: no decoding process for a benchmark

import app  # noqa: E402
from s2s.web import heap, runs  # noqa: E402

from .clients import requests_for  # noqa: E402
from .server import machine  # noqa: E402


def serve(count: int, seed: int) -> None:
    """`count` of a class's mixed requests, each through the public endpoint's function, as the server runs it."""
    rng = random.Random(seed)
    for _ in range(count):
        runs.api_translate(*requests_for(rng, mixed=True))


def pause_ms(rounds: int) -> float:
    """The median wall time of `rounds` full collections, in ms."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        gc.collect()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def walked() -> int:
    """The objects a full collection walks now (every generation; frozen ones are in none)."""
    return len(gc.get_objects())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="full collections timed on each side")
    parser.add_argument("--requests", type=int, default=500, help="requests served before each side's timing")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    app.build_demo()  # everything start-up builds
    serve(args.requests, seed=1)
    before_objects, before_ms = walked(), pause_ms(args.rounds)
    frozen = heap.freeze_startup()
    serve(args.requests, seed=2)
    after_objects, after_ms = walked(), pause_ms(args.rounds)
    print(f"a full garbage collection after start-up and {args.requests} requests, median of {args.rounds}:")
    print(f"  everything walked (Python's default)          {before_objects:9,d} objects   {before_ms:7.1f} ms")
    print(f"  start-up frozen first ({frozen:,d} objects){after_objects:9,d} objects   {after_ms:7.1f} ms")
    print(f"  the pause is {before_ms / max(after_ms, 1e-3):.0f}x shorter")
    print(json.dumps({"before": [before_objects, round(before_ms, 2)], "after": [after_objects, round(after_ms, 2)],
                      "frozen": frozen}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
