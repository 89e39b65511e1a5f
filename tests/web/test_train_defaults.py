"""The Train tab teaches in the time it offers (issues 22 and 23): each task, trained with the tab's defaults on
this machine's CPU, reaches the validation exact match the tab states (limits.REACHES) within its time cap, with
each model family the tab offers (the LSTM with attention, the Transformer). A run is left as soon as it has
reached it: the claim is "within the cap", and the rest of the cap would only cost the suite time.

The run's clock here is this process's CPU time, not the wall clock: the tab's figures are measured on an idle
machine, where the two agree (one training thread), while in a suite other processes may share the CPUs (a full
CI run once left toy-fr's LSTM at 55.5% after 122 s, where alone it reached 60% at 71 s). So the test fails when
training learns less per CPU second, not when a neighbour is busy.

With the tab's defaults `reverse` (3 to 30 letters) ran the whole 120 s to 2%: its reversal is reverse-short now.
"""

from __future__ import annotations

import time
import types

import pytest

from s2s.web import training
from s2s.web.training import events, limits

CASES = [(family, task) for family, reaches in limits.REACHES.items() for task in reaches]


@pytest.mark.slow  # up to two minutes a task, on one thread, as the tab trains
@pytest.mark.parametrize(("family", "task"), CASES)
def test_each_task_reaches_what_the_tab_states_within_its_cap(family, task, monkeypatch):
    monkeypatch.setattr(events, "time", types.SimpleNamespace(monotonic=time.process_time))  # the run's clock
    request = training.TrainRequest(task=task, family=family, probe=limits.PROBES[task])
    stated, best, trained = limits.REACHES[family][task], 0.0, set()
    started = time.process_time()
    run = events.train_events(request)
    for event in run:
        if isinstance(event, events.Probe):
            best = max(best, event.exact_match)
            trained.add(event.translation.family)
            if best >= stated:
                break
    run.close()
    took = time.process_time() - started
    assert trained == {"transformer" if family == "transformer" else "lstm"}  # the family asked for was trained
    assert best >= stated, (family, task, best, took)
    assert took <= request.max_seconds + 30, took  # the cap, and the probe after it
