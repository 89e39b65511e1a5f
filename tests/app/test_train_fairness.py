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


@pytest.mark.slow  # the app served on a local port
def test_a_run_and_a_place_end_when_their_page_closes(tmp_path_factory):
    """A place used to be kept for as long as something polled it; now it is held by the page being open
    (gradio's heartbeat stream): closing the page ends its run or frees its place at once."""
    registry = training.Registry(max_runs=1, new_run=StandIn, per_address=2)
    attributes = {(ui.events, "CLIENT_HEADER"): "x-forwarded-for", (training, "RUNS"): registry}
    with served_app(make_bundled(tmp_path_factory.mktemp("checkpoints")), attributes) as url:
        base = url.rstrip("/")

        async def open_page(client, page: str, address: str, opened: asyncio.Event) -> None:
            async with client.stream("GET", f"{base}/gradio_api/heartbeat/{page}",
                                     headers={"x-forwarded-for": address}) as stream:
                async for _ in stream.aiter_lines():
                    opened.set()  # held open until the task is cancelled: the page closes

        async def until(condition, seconds: float = 10.0) -> bool:
            for _ in range(int(seconds / 0.05)):
                if condition():
                    return True
                await asyncio.sleep(0.05)
            return condition()

        async def lecture() -> dict:
            seen = {}
            async with httpx.AsyncClient(timeout=60) as client:
                events = train_tab_events((await client.get(f"{base}/config")).json())
                pages = {}
                for page, address in (("lecturer", "198.51.100.7"), ("student", "203.0.113.9")):
                    opened = asyncio.Event()
                    pages[page] = asyncio.create_task(open_page(client, page, address, opened))
                    await asyncio.wait_for(opened.wait(), 10)
                    seen[page] = (await page_event(client, base, *events["train"], page, address))["data"][0]
                run = registry.get("lecturer")
                pages["student"].cancel()
                seen["place freed"] = await until(lambda: registry.waiting("student") is None)
                seen["run going"] = not run.done
                pages["lecturer"].cancel()
                seen["run ended"] = await until(lambda: run.done)
            return seen

        seen = asyncio.run(lecture())
    assert seen["lecturer"] == "Starting…" and "number 1 in line" in seen["student"], seen
    assert seen["place freed"] and seen["run going"] and seen["run ended"], seen
