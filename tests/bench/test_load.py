"""The load benchmark (bench/load.py; its visitors: bench/clients.py): its windows, and its lecturer, who drives the
Train tab as a page does."""

from __future__ import annotations

import asyncio
import statistics
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
        found = asyncio.run(bench_load.class_in_windows(url.rstrip("/"), args, disturbance))
    window = args.seconds / 2
    assert [seconds for _, seconds in windows] == [window, window]
    # warm-up, then alone, disturbed, alone, disturbed: the disturbance starts with the 2nd and 4th window
    assert [round((at - started) / window) for at, _ in windows] == [2, 4]
    assert len(found.alone) == len(found.disturbed) == 2
    for side in (found.alone, found.disturbed):  # each window counts its time after settling, and answers
        for tally in side:
            assert abs(tally.seconds - (window - 0.5)) < 0.25 and len(tally.latencies) > 2 and tally.errors == 0
        pooled = bench_load.Windows.pooled(side)
        assert sorted(pooled.latencies) == sorted(side[0].latencies + side[1].latencies)
    assert found.disturber.latencies == [0.25, 0.25] and found.disturber.refused == 2
    # the change is the ratio of the p95s of all the windows' answers on each side, written out here with the
    # standard library's quantiles; each window's own p95s are shown in the order the windows ran
    def p95(latencies: list[float]) -> float:
        return statistics.quantiles(latencies, n=20)[18]

    every = {side: [x for tally in getattr(found, side) for x in tally.latencies] for side in ("alone", "disturbed")}
    assert found.change() == pytest.approx(p95(every["disturbed"]) / p95(every["alone"]))
    assert found.by_window() == ", ".join(f"{1000 * p95(a.latencies):.0f} → {1000 * p95(d.latencies):.0f}"
                                          for a, d in zip(found.alone, found.disturbed))


def test_the_app_benchmark_hands_a_class_to_the_load_run(monkeypatch):
    """`python -m bench.app --clients 100` once failed before starting: its argument group shadowed the module."""
    runs = []
    monkeypatch.setattr(bench_load, "run", lambda args: runs.append(args) or 0)
    assert bench_app.main(["--clients", "3", "--seconds", "5", "--flood"]) == 0
    assert [(a.clients, a.seconds, a.flood) for a in runs] == [(3, 5.0, True)]


def test_the_cpu_read_from_proc_is_what_the_processes_say_they_used(tmp_path):
    """cpu_s and children_cpu_s read /proc (the server, and its decoding process); each process's own clock of its
    CPU (Python's process_time) is the oracle."""
    import os
    import subprocess
    import sys

    def burn(seconds: float) -> None:
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass

    started, before = time.process_time(), bench_load.cpu_s(os.getpid())
    burn(0.3)
    assert abs((bench_load.cpu_s(os.getpid()) - before) - (time.process_time() - started)) <= 0.03  # ticks of 10 ms
    said, others = tmp_path / "said", bench_load.children_cpu_s(os.getpid())  # (an idle decoding process, say)
    child = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\n"
        f"open({str(said)!r}, 'w').write(str(time.process_time()))\nsys.stdin.read()")], stdin=subprocess.PIPE)
    try:
        while not said.exists() or not said.read_text():
            time.sleep(0.05)
        assert abs(bench_load.children_cpu_s(os.getpid()) - others - float(said.read_text())) <= 0.03
    finally:
        child.communicate(b"")
