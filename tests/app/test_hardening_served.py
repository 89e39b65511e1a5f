"""Issue 21 through the served page, each visitor behind the proxy's header as on a Space: a visitor's trained model
stays theirs, a request over the memory budget is refused before decoding, gradio's download cache stays within
its size budget. (The Train tab's fairness is tests/app/test_train_fairness.py; wrong calls, tests/app/test_app.py.)"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import httpx
import pytest

import ui.events
from bench.clients import event_result
from s2s import budget, checkpoint
from s2s.web import export, models, runs, trained, training
from tests.conftest import build_checkpoint, make_bundled, served_app

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # raised inside gradio's queue

TEXT = "3 March 2021"
A, B = "198.51.100.7", "203.0.113.9"  # two visitors' addresses, as the proxy names them


class Finished:
    """A run that is over as soon as it starts, with the model `models_by_page` gives its page: the pages' handling
    of trained models is under test, not training (which tests/web/test_training.py covers)."""

    models_by_page: dict = {}
    exports: Path | None = None  # where export_path writes

    def __init__(self, request, page, train_in=None):
        self.request, self.page, self.done = request, page, True
        self.exported = 0

    def start(self):
        return self

    def cancel(self):
        pass

    def translator(self):
        return self.models_by_page.get(self.page, self.models_by_page.get("*"))

    def export_path(self, name: str = "s2s") -> Path:
        """A new zip's worth of bytes at each export, as a zip dated when it was written was before issue 21 (and as
        many visitors' models are): each is a new copy in gradio's cache."""
        self.exported += 1
        folder = self.exports / f"{self.page}-{self.exported}"
        folder.mkdir(parents=True)
        path = folder / f"{name}-dates.zip"
        path.write_bytes(os.urandom(ZIP_BYTES))
        return path


ZIP_BYTES = 100 * 1024


def events_of(config: dict) -> dict[str, tuple[int, list]]:
    """The page's events this file sends: name -> (fn_index, the inputs' values as the page opens)."""
    components = {c["id"]: c for c in config["components"]}
    found = {}
    for index, dependency in enumerate(config["dependencies"]):
        targets = {components.get(target, {}).get("props", {}).get("elem_id") for target, _ in dependency["targets"]}
        name = ("translate" if dependency.get("api_name") == "translate" else
                next((n for n in ("train-start", "train-use", "train-export") if n in targets), None))
        if name:
            found[name] = (index, [components[i].get("props", {}).get("value") for i in dependency["inputs"]])
    assert set(found) == {"translate", "train-start", "train-use", "train-export"}, sorted(found)
    return found


async def send(client, base: str, event: tuple[int, list], session: str, address: str, data: list | None = None):
    """One event as the page sends it -> (succeeded, output, the warnings shown), the error's text whole."""
    index, defaults = event
    message, warnings = await event_result(client, base, index, defaults if data is None else data, session, address)
    return message.get("success", False), message.get("output") or {}, warnings


async def translate(client, base, events, session: str, address: str, checkpoint_name: str, beam: int = 1):
    """The public endpoint, as the page's session calls it -> the output text, or the error's message."""
    ok, output, _ = await send(client, base, events["translate"], session, address,
                               [TEXT, checkpoint_name, "bidirectional", 0, "", 0, beam])
    return output["data"][0] if ok else f"error: {output.get('error')}"


async def train_and_use(client, base, events, session: str, address: str) -> tuple[str | None, list[str]]:
    """Train (the run ends at once), then "Use it in Explore" -> (the name Explore got, the warnings shown)."""
    ok, output, _ = await send(client, base, events["train-start"], session, address)
    assert ok and str(output["data"][0]).startswith("Starting"), output
    ok, output, warnings = await send(client, base, events["train-use"], session, address)
    assert ok, output
    update = output["data"][0]  # the Explore checkpoint box
    return (update.get("value") if isinstance(update, dict) else None), warnings


def old_name(page: str) -> str:
    """What a page's model was named before issue 21: the first 8 hex digits of sha256(page id)."""
    return "trained-" + hashlib.sha256(page.encode()).hexdigest()[:8]


def colliding_pages() -> tuple[str, str]:
    """Two page ids with the same old name, found by search (a birthday collision in 32 bits: ~80,000 tries)."""
    seen = {}
    for i in range(10**7):
        page = f"page-{i}"
        name = old_name(page)
        if name in seen:
            return seen[name], page
        seen[name] = page
    raise AssertionError("no collision found")


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    """Two different tiny models (A's and B's), and the output each gives for TEXT, run directly."""
    folder = tmp_path_factory.mktemp("trained")
    mine = checkpoint.load(build_checkpoint(folder / "a", seed=3), device="cpu")
    theirs = checkpoint.load(build_checkpoint(folder / "b", seed=4), device="cpu")
    assert mine.translate(TEXT).text != theirs.translate(TEXT).text  # else the test could not tell them apart
    return mine, theirs


def serving_trained(tmp_path_factory, pages: dict, capacity: int = trained.CAPACITY):
    Finished.models_by_page = pages
    registry = training.Registry(max_runs=1, new_run=Finished, per_address=2)
    attributes = {(ui.events, "CLIENT_HEADER"): "x-forwarded-for", (training, "RUNS"): registry,
                  (models, "TRAINED"): trained.TrainedModels(capacity=capacity)}
    return served_app(make_bundled(tmp_path_factory.mktemp("checkpoints")), attributes)


@pytest.mark.slow  # the app served on a local port
def test_a_visitor_whose_page_id_collides_with_anothers_cannot_replace_or_reach_their_model(tmp_path_factory,
                                                                                            two_models):
    """Issue 21, 2: two page ids colliding in the old 32-bit names were found in 0.3 s; when the second pressed
    "Use it in Explore", the first visitor's Explore silently ran the second's model."""
    mine, theirs = two_models
    page_a, page_b = colliding_pages()
    with serving_trained(tmp_path_factory, {page_a: mine, page_b: theirs}) as url:
        base = url.rstrip("/")

        async def visitors() -> dict:
            seen = {}
            async with httpx.AsyncClient(timeout=60) as client:
                events = events_of((await client.get(f"{base}/config")).json())
                seen["a"], _ = await train_and_use(client, base, events, page_a, A)
                seen["a before"] = await translate(client, base, events, page_a, A, seen["a"])
                seen["b"], _ = await train_and_use(client, base, events, page_b, B)
                seen["a after"] = await translate(client, base, events, page_a, A, seen["a"])
                seen["b runs its own"] = await translate(client, base, events, page_b, B, seen["b"])
                seen["b names a's old name"] = await translate(client, base, events, page_b, B, old_name(page_a))
            return seen

        seen = asyncio.run(visitors())
    assert seen["a"] and seen["b"] and seen["a"] != seen["b"], seen
    assert seen["a before"] == seen["a after"] == mine.translate(TEXT).text, seen  # A's model, run directly
    assert seen["b runs its own"] == theirs.translate(TEXT).text, seen
    assert seen["b names a's old name"].startswith("error: ") and theirs.translate(TEXT).text not in seen[
        "b names a's old name"], seen


@pytest.mark.slow  # the app served on a local port
def test_another_visitors_runs_never_evict_a_visitors_model(tmp_path_factory, two_models):
    """Issue 21, 2: eight quick runs and "Use it in Explore" from other pages evicted everyone's model ("trained-…
    is no longer kept"). Now a full store refuses the newcomer, saying when a place frees."""
    mine, theirs = two_models
    with serving_trained(tmp_path_factory, {"visitor-a": mine, "*": theirs}, capacity=3) as url:
        base = url.rstrip("/")

        async def visitors() -> dict:
            seen = {}
            async with httpx.AsyncClient(timeout=60) as client:
                events = events_of((await client.get(f"{base}/config")).json())
                seen["a"], _ = await train_and_use(client, base, events, "visitor-a", A)
                seen["b"] = [await train_and_use(client, base, events, f"script-{n}", B) for n in range(8)]
                seen["a after"] = await translate(client, base, events, "visitor-a", A, seen["a"])
            return seen

        seen = asyncio.run(visitors())
    kept = [name for name, _ in seen["b"] if name]
    refused = [warnings for name, warnings in seen["b"] if not name]
    assert len(kept) == 2 and len(refused) == 6, seen  # the two free places, then refusals
    assert all(any("The server keeps 3 trained models" in w and "try again in" in w for w in warnings)
               for warnings in refused), refused
    assert seen["a after"] == mine.translate(TEXT).text, seen


@pytest.mark.slow  # the app served on a local port
def test_a_request_over_the_memory_budget_is_refused_before_decoding_and_the_next_visitor_is_served(
        tmp_path_factory, capfd):
    """Issue 21, 3: one beam-4 request on a checkpoint at the limits took the server +788 MB; nothing bounded a
    request's memory. The budget is set between what greedy and beam 4 count on the tiny `dates`."""
    bundled = make_bundled(tmp_path_factory.mktemp("checkpoints"))
    dates = checkpoint.load(bundled / "dates", device="cpu")
    pieces = len(dates.encode_source(TEXT))
    greedy, beam = (budget.request_bytes(dates.config, pieces, width) for width in (1, 4))
    assert greedy < beam
    decoded = []
    original = runs._decode

    def counted(checked, *rest):
        decoded.append(checked.beam_size)
        return original(checked, *rest)

    attributes = {(ui.events, "CLIENT_HEADER"): "x-forwarded-for", (budget, "REQUEST_BYTES"): (greedy + beam) // 2,
                  (runs, "_decode"): counted}
    with served_app(bundled, attributes) as url:
        base = url.rstrip("/")

        async def visitors() -> list[str]:
            async with httpx.AsyncClient(timeout=60) as client:
                events = events_of((await client.get(f"{base}/config")).json())
                capfd.readouterr()
                decoded.clear()  # the page's opening view, decoded as the page was built
                return [await translate(client, base, events, "greedy-visitor-first", B, "dates"),
                        await translate(client, base, events, "beam-visitor", A, "dates", beam=4),
                        await translate(client, base, events, "greedy-visitor", B, "dates")]

        first, refused, served = asyncio.run(visitors())
    log = capfd.readouterr().err
    assert refused.startswith("error: This translation may need") and "choose a smaller beam" in refused, refused
    assert "\n" not in refused and "Traceback" not in log
    assert first == served == dates.translate(TEXT).text
    assert decoded == [1], decoded  # the greedy requests' (the second served from the model's recent results)


def folder_bytes(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


@pytest.mark.slow  # the app served on a local port
def test_visitors_exports_keep_gradios_download_cache_within_its_budget(tmp_path_factory, monkeypatch, two_models):
    """Issue 21, 4: gradio copies every download into its cache and cleared it by age only: one finished run exported
    once a second added 54 MB a minute. Each export by each visitor here is new bytes (as a model's zip dated
    when written was); the cache is pruned to DOWNLOADS_BUDGET_BYTES before each copy, so it holds at most the
    budget and the newest download."""
    cache = tmp_path_factory.mktemp("gradio-cache")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    Finished.exports = tmp_path_factory.mktemp("exports")
    Finished.models_by_page = {"*": two_models[0]}
    registry = training.Registry(max_runs=1, new_run=Finished, per_address=2)
    budget_bytes = 3 * ZIP_BYTES + ZIP_BYTES // 2
    attributes = {(ui.events, "CLIENT_HEADER"): "x-forwarded-for", (training, "RUNS"): registry,
                  (export, "DOWNLOADS_BUDGET_BYTES"): budget_bytes}
    with served_app(make_bundled(tmp_path_factory.mktemp("checkpoints")), attributes) as url:
        base = url.rstrip("/")

        async def visitors() -> list[int]:
            sizes = []
            async with httpx.AsyncClient(timeout=60) as client:
                events = events_of((await client.get(f"{base}/config")).json())
                pages = [(f"visitor-{n}", f"203.0.113.{n + 1}") for n in range(4)]
                for page, address in pages:
                    ok, output, _ = await send(client, base, events["train-start"], page, address)
                    assert ok, output
                for _ in range(3):
                    for page, address in pages:
                        ok, output, _ = await send(client, base, events["train-export"], page, address)
                        assert ok and output["data"][0]["value"]["path"].startswith(str(cache)), output
                        sizes.append(folder_bytes(cache))
            return sizes

        sizes = asyncio.run(visitors())
    assert len(sizes) == 12 and sizes[0] >= ZIP_BYTES  # every export was copied into the cache
    assert max(sizes) <= budget_bytes + ZIP_BYTES, sizes  # without the bound: 12 copies, 1.2 MB
