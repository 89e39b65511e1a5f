"""The load benchmark's lecturer (`python -m s2s.bench_app --train`) drives the real Train tab as the page does."""

from __future__ import annotations

import asyncio

import httpx

from s2s import bench_load
from s2s.web import training
from tests.conftest import make_bundled, served_app


def test_the_lecturer_trains_through_the_pages_own_events_polls_and_cancels(tmp_path):
    with served_app(make_bundled(tmp_path)) as url:
        base = url.rstrip("/")
        events = bench_load.train_tab_events(httpx.get(f"{base}/config", timeout=30).json())
        _, sent = events["train"]
        asked = training.TrainRequest()  # what Train with the page's controls untouched must ask for
        assert [sent[0], sent[6], sent[7]] == [asked.task, asked.size, asked.probe]
        polls = asyncio.run(bench_load.lecturing(base, 2.0, session="lecturer-test"))
        run = training.RUNS.get("lecturer-test")
        assert run.done and run.progress().cancelled and run.progress().step > 0
        assert len(polls.latencies) >= 2 and polls.errors == polls.refused == 0
        assert list(polls.kinds) == [run.progress().status]  # the last status the page was shown
        assert run.progress().status.startswith("Cancelled after")
