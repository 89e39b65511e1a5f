"""Benchmark: how soon the Train tab's defaults teach each task, model family by model family (issue 23), the
LSTM the baseline, in the same session on the same machine.

    python -m bench.train_tab [--tasks dates reverse-short toy-fr] [--families lstm transformer]

Each run is the tab's own (`s2s.web.training.train_events` with `TrainRequest(task=…, family=…)`, one training
thread, probes every PROBE_EVERY_S s) in this process, one after another. For each it prints the seconds from
the start of the run (making the data and tokenizers included, as a class waits for them) to the first probe
whose validation exact match reached the tab's stated figure (limits.REACHES), 90% and 100%; the best; the
steps and examples/s; why it stopped; then each family's time to the stated figure ÷ the LSTM's.
"""

from __future__ import annotations

import argparse
import json
import time

from s2s.web.training import TrainRequest, events, limits

from .server import machine

MARKS = (0.9, 1.0)


def summary(probes: list[tuple[float, int, float]], stated: float) -> dict:
    """(seconds, step, exact match) of each probe -> the seconds to `stated`, to each of MARKS, and the best."""
    def first(share: float) -> float | None:
        return next((seconds for seconds, _, exact in probes if exact >= share), None)

    return {"to_stated": first(stated), **{f"to_{share:.0%}": first(share) for share in MARKS},
            "best": max((exact for _, _, exact in probes), default=0.0)}


def run(task: str, family: str) -> dict:
    request = TrainRequest(task=task, family=family, probe=limits.PROBES[task])
    stated = limits.REACHES.get(family, {}).get(task, 1.0)
    started, probes, stopped, speed = time.monotonic(), [], "", 0.0
    for event in events.train_events(request):
        if isinstance(event, events.Probe):
            probes.append((round(time.monotonic() - started, 1), event.step, event.exact_match))
        elif isinstance(event, events.Loss):
            speed = event.examples / max(event.training_seconds, 1e-9)
        elif isinstance(event, events.Trained):
            stopped = event.stopped
    steps = probes[-1][1] if probes else 0
    return {"task": task, "family": family, "stated": stated, **summary(probes, stated), "steps": steps,
            "examples_per_s": round(speed), "seconds": round(time.monotonic() - started, 1),
            "stopped": stopped or "the time cap", "probes": probes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(limits.REACHES["transformer"]))
    parser.add_argument("--families", nargs="+", default=list(limits.FAMILIES), choices=list(limits.FAMILIES))
    args = parser.parse_args()
    print(machine())
    for task in args.tasks:
        rows = {family: run(task, family) for family in args.families}
        for row in rows.values():
            print(json.dumps({k: v for k, v in row.items() if k != "probes"}))
        base = rows.get("lstm", {}).get("to_stated")
        for family, row in rows.items():
            if family != "lstm" and base and row["to_stated"]:
                print(f"{task}: {family} reached {row['stated']:.0%} in {row['to_stated']:g} s, "
                      f"{row['to_stated'] / base:.2f}x the LSTM's {base:g} s")
    print(machine())


if __name__ == "__main__":
    main()
