"""The Train tab's fairness through the served page, each visitor behind the proxy's header as on a Space
(issue 21): one address holds a few runs and places whatever pages it opens; another address is served."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import ui.events
from bench.clients import page_event, train_tab_events
from s2s.web import training
from tests.conftest import make_bundled, served_app


class StandIn:
    """A run that starts at once and never ends by itself: the registry's rules are under test, not training."""

    def __init__(self, request, page, train_in=None):
        self.request, self.done = request, False

    def start(self):
        return self

    def cancel(self):
        self.done = True


@pytest.mark.slow  # the app served on a local port
def test_pages_of_one_address_hold_two_runs_or_places_and_another_address_gets_in_line(tmp_path_factory):
    """Six pages from one address got one run and five places in line, and the real visitor was sixth."""
    registry = training.Registry(max_runs=1, new_run=StandIn, per_address=2)
    attributes = {(ui.events, "CLIENT_HEADER"): "x-forwarded-for", (training, "RUNS"): registry}
    with served_app(make_bundled(tmp_path_factory.mktemp("checkpoints")), attributes) as url:
        base = url.rstrip("/")

        async def press_train(client, events, page: str, address: str) -> str:
            return (await page_event(client, base, *events["train"], page, address))["data"][0]

        async def visitors() -> list[str]:
            async with httpx.AsyncClient(timeout=60) as client:
                events = train_tab_events((await client.get(f"{base}/config")).json())
                said = [await press_train(client, events, f"script-page-{n}", "203.0.113.9") for n in range(6)]
                return [*said, await press_train(client, events, "student-page", "198.51.100.7")]

        said = asyncio.run(visitors())
    assert said[0] == "Starting…" and "number 1 in line" in said[1]
    assert all("Your address already has 2 training run" in line for line in said[2:6]), said
    assert "number 2 in line" in said[6], said  # the real visitor: second in line, not sixth
