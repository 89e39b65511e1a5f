"""The load benchmark (bench/load.py; its visitors: bench/clients.py): its windows, and its lecturer, who drives the
Train tab as a page does."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import httpx
import pytest

from bench import app as bench_app
from bench import clients
from bench import load as bench_load
from s2s.web import training
from tests.conftest import make_bundled, served_app

pytestmark = pytest.mark.slow  # starts the app and drives it with a class of clients


def test_the_lecturer_trains_through_the_pages_own_events_polls_and_cancels(tmp_path):
    with served_app(make_bundled(tmp_path)) as url:
        base = url.rstrip("/")
        events = clients.train_tab_events(httpx.get(f"{base}/config", timeout=30).json())
        _, sent = events["train"]
        asked = training.TrainRequest()  # what Train with the page's controls untouched must ask for
        # TrainControls.request's order: task, tsv, family, attention, query, mask, encoder, size, probe
        assert [sent[0], sent[2], sent[7], sent[8]] == [asked.task, asked.family, asked.size, asked.probe]
        polls = asyncio.run(clients.lecturing(base, 2.0, session="lecturer-test"))
        run = training.RUNS.get("lecturer-test")
        assert run.done and run.progress().cancelled and run.progress().step > 0
        assert len(polls.latencies) >= 2 and polls.errors == polls.refused == 0
        assert list(polls.kinds) == [run.progress().status]  # the last status the page was shown
        assert run.progress().status.startswith("Cancelled after")


def test_the_class_runs_throughout_and_the_disturbance_in_every_other_window(monkeypatch):
    monkeypatch.setattr(bench_load, "ROUNDS", 2)
    monkeypatch.setattr(bench_load, "SETTLE_S", 0.5)
    windows = []

    async def disturbance(base, seconds):
        windows.append((time.perf_counter(), seconds))
        await asyncio.sleep(seconds)
        return clients.Tally([0.25], refused=1, seconds=seconds)

    with served_app() as url:  # the bundled checkpoints: the class asks for their tasks' inputs
        started = time.perf_counter()
        args = SimpleNamespace(seconds=4.0, clients=6, think=0.3)  # windows of 2 s
        alone, disturbed, got = asyncio.run(bench_load.class_in_windows(url.rstrip("/"), args, disturbance))
    window = args.seconds / 2
    assert [seconds for _, seconds in windows] == [window, window]
    # warm-up, then alone, disturbed, alone, disturbed: the disturbance starts with the 2nd and 4th window
    assert [round((at - started) / window) for at, _ in windows] == [2, 4]
    for side in (alone, disturbed):  # each side counts the windows' time after their settling, and answers
        assert abs(side.seconds - 2 * (window - 0.5)) < 0.5 and len(side.latencies) > 5 and side.errors == 0
    assert got.latencies == [0.25, 0.25] and got.refused == 2


def test_the_app_benchmark_hands_a_class_to_the_load_run(monkeypatch):
    """`python -m bench.app --clients 100` once failed before starting: its argument group shadowed the module."""
    runs = []
    monkeypatch.setattr(bench_load, "run", lambda args: runs.append(args) or 0)
    assert bench_app.main(["--clients", "3", "--seconds", "5", "--flood"]) == 0
    assert [(a.clients, a.seconds, a.flood) for a in runs] == [(3, 5.0, True)]


def test_the_servers_cpu_a_request_is_what_the_process_used_over_the_answers():
    """measured() reads /proc; Python's own clock of this process's CPU is the oracle."""
    import os

    def busy() -> clients.Tally:
        end = time.process_time() + 0.3
        while time.process_time() < end:
            pass
        return clients.Tally(latencies=[0.1] * 4)

    started = time.process_time()
    tally, ms = bench_load.measured(os.getpid(), busy)
    used_ms = 1000 * (time.process_time() - started)
    assert len(tally.latencies) == 4 and abs(4 * ms - used_ms) <= 30  # /proc counts in ticks of 10 ms
