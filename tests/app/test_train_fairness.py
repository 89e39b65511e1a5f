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


@pytest.mark.slow  # the app served on a local port
def test_the_model_control_reaches_the_run_and_hides_the_lstms_own_switches(tmp_path_factory):
    """Issue 23: Train with "Transformer" chosen asks for a Transformer (the page's value, not a default), a family
    the page does not offer is refused, and choosing the Transformer hides attention, query and encoder."""
    registry = training.Registry(max_runs=4, new_run=StandIn, per_address=4)
    with served_app(make_bundled(tmp_path_factory.mktemp("checkpoints")), {(training, "RUNS"): registry}) as url:
        base = url.rstrip("/")

        async def visit() -> tuple[list, dict, str, list]:
            async with httpx.AsyncClient(timeout=60) as client:
                config = (await client.get(f"{base}/config")).json()
                elem = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
                by_elem = {v: k for k, v in elem.items() if v}
                index, values = train_tab_events(config)["train"]
                inputs = config["dependencies"][index]["inputs"]
                family = inputs.index(by_elem["train-family"])
                opened = {c["id"]: c.get("props", {}) for c in config["components"]}[by_elem["train-family"]]
                asked = []
                for page, chosen in (("page-t", "transformer"), ("page-l", "lstm")):
                    data = [*values[:family], chosen, *values[family + 1:]]
                    asked.append((await page_event(client, base, index, data, page, "192.0.2.1"))["data"][0])
                data = [*values[:family], "gru", *values[family + 1:]]
                try:
                    asked.append((await page_event(client, base, index, data, "page-g", "192.0.2.1"))["data"][0])
                except RuntimeError as error:
                    asked.append(str(error))
                hide = next(i for i, d in enumerate(config["dependencies"])
                            if any(elem.get(t) == "train-family" for t, _ in d["targets"]))
                hidden = await page_event(client, base, hide, ["transformer"], "page-t", "192.0.2.1")
                shown = await page_event(client, base, hide, ["lstm"], "page-t", "192.0.2.1")
                return asked, opened, hidden, shown

        asked, opened, hidden, shown = asyncio.run(visit())
    assert asked[:2] == ["Starting…", "Starting…"]
    # gradio's Radio refuses it before the handler (TrainRequest.check refuses it too: tests/web/test_training.py)
    assert "'gru' (type: <class 'str'>) is not in the list of choices" in asked[2], asked[2]
    assert registry.get("page-g") is None and registry.waiting("page-g") is None
    assert registry.get("page-t").request.family == "transformer"  # what the page chose, not the default
    assert registry.get("page-l").request.family == "lstm"
    assert opened["value"] == "lstm" and [c[1] for c in opened["choices"]] == list(training.FAMILIES)
    assert [update["visible"] for update in hidden["data"]] == [False, False, False]
    assert [update["visible"] for update in shown["data"]] == [True, True, True]
