"""The load benchmark's visitors: students of a class, a flooding script and a lecturer training, each speaking
the page's protocol (`POST /gradio_api/call/...`, then its event stream), with a `Tally` of their answers.

    python -m bench.clients --flood-client URL SECONDS   # the flooder, in its own process (bench/load.py starts it)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from s2s import tasks

from .server import ROOT, sentence

API = "/gradio_api/call/translate"
FLOOD_IN_FLIGHT = 150
POLL_S = 1.0  # the Train tab's timer
LECTURERS = itertools.count()  # a fresh session for each training window


@dataclass
class Tally:
    """What one batch of requests got back."""

    latencies: list[float] = field(default_factory=list)  # seconds, answered requests only
    refused: int = 0  # "queue is full" or the guard's "slow down"
    errors: int = 0  # anything else that is not an answer
    seconds: float = 0.0
    kinds: Counter = field(default_factory=Counter)  # what the errors were, briefly

    def add(self, other: Tally) -> None:
        """Count `other`'s requests in this tally too."""
        self.latencies += other.latencies
        self.refused += other.refused
        self.errors += other.errors
        self.seconds += other.seconds
        self.kinds.update(other.kinds)

    def error(self, what: str) -> None:
        self.errors += 1
        self.kinds[what[:80]] += 1

    def line(self, name: str) -> str:
        kinds = "; ".join(f"{n}x {what}" for what, n in self.kinds.most_common(3))
        return self._line(name) + (f"\n{'':36}errors: {kinds}" if kinds else "")

    def _line(self, name: str) -> str:
        ms = sorted(1000 * s for s in self.latencies) or [float("nan")]
        p95 = statistics.quantiles(ms, n=20)[18] if len(ms) > 1 else ms[0]
        rate = len(self.latencies) / self.seconds if self.seconds else 0.0
        return (f"{name:<34} {rate:7.1f} req/s   p50 {statistics.median(ms):7.0f} ms   p95 {p95:7.0f} ms   "
                f"max {ms[-1]:7.0f} ms   refused {self.refused:5d}   errors {self.errors:4d}")

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.latencies, n=20)[18] if len(self.latencies) > 1 else float("nan")


async def call(client, base: str, data: list, address: str, tally: Tally, session: str | None = None) -> None:
    """One request over gradio's /call protocol, counted in `tally`. A client with a `session` sends it, as
    gradio_client and the page do (one request at a time each, so no call can read another's answer)."""
    headers = {"x-forwarded-for": address}
    body = {"data": data} | ({"session_hash": session} if session else {})
    started = time.perf_counter()
    try:
        posted = await client.post(base + API, json=body, headers=headers)
        if posted.status_code != 200:
            if posted.status_code == 429:
                tally.refused += 1
            else:
                tally.error(f"HTTP {posted.status_code}")
            return
        event = ""
        async with client.stream("GET", f"{base}{API}/{posted.json()['event_id']}", headers=headers) as stream:
            async for line in stream.aiter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    if event == "complete":
                        tally.latencies.append(time.perf_counter() - started)
                    elif "queue is full" in line.lower():
                        tally.refused += 1
                    else:
                        tally.error(line)
                    return
        tally.error("stream ended without a result")
    except Exception as error:  # a dropped connection is an error of the server's, counted, not raised
        tally.error(type(error).__name__)


def requests_for(rng: random.Random, mixed: bool, checkpoint: str | None = None) -> list:
    """translate's inputs: dates only (the capacity runs), or a class's mix over the bundled checkpoints; with
    `checkpoint` (a translation model), an English sentence for it, greedy, each time another."""
    if checkpoint:
        return [sentence(rng.randrange(10**6)), checkpoint, "bidirectional", 0, "", 0, 1]
    if not mixed:  # a fresh date each time: no request is a repeat the app could serve from its recent results
        source, _ = tasks.TASKS["dates"].generate(1, rng.randrange(10**9))[0]
        return [source, "dates", "bidirectional", 0, "", 0, 1]
    name = rng.choice(["dates", "dates", "reverse", "toy-fr", "dates-seed", "dates-causal", "reverse-causal",
                       "reverse-noattn", "dates-transformer", "reverse-transformer"])
    task = next(task for task in ("dates", "reverse", "toy-fr") if name.startswith(task))
    source, target = tasks.TASKS[task].generate(1, rng.randrange(10**6))[0]
    mask = "causal" if name.endswith("causal") or rng.random() < 0.15 else "bidirectional"
    forcing = rng.choice([0, 0, 0, 1.0, 0.5])
    beam = 4 if not forcing and rng.random() < 0.1 else 1
    return [source, name, mask, forcing, target if forcing else "", rng.randrange(100), beam]


async def closed_loop(base: str, clients: int, seconds: float, mixed: bool = False,
                      checkpoint: str | None = None) -> Tally:
    """`clients` callers sending back to back for `seconds` (requests_for's inputs)."""
    tally = Tally()
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=1000)) as client:
        async def caller(i: int) -> None:
            rng = random.Random(i)
            while time.perf_counter() < deadline:
                await call(client, base, requests_for(rng, mixed, checkpoint), f"10.1.{i // 250}.{i % 250}", tally,
                           session=f"capacity-{i}")

        started = time.perf_counter()
        await asyncio.gather(*(caller(i) for i in range(clients)))
        tally.seconds = time.perf_counter() - started
    return tally


async def students(base: str, count: int, think: float, seconds: float, seed: int = 1000,
                   phase: Callable[[], Tally] | None = None, stop: asyncio.Event | None = None,
                   checkpoint: str | None = None) -> Tally:
    """`count` students, each a request every `think` s on average (exponential gaps), each from its own address,
    for `seconds` (or until `stop` is set), on the bundled mix or on `checkpoint` alone. With `phase`, each request
    counts in the tally it returns when the request starts."""
    tally = Tally()
    deadline = time.perf_counter() + seconds
    running = (lambda: not stop.is_set()) if stop else (lambda: time.perf_counter() < deadline)
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=2000)) as client:
        async def student(i: int) -> None:
            rng = random.Random(seed + i)  # each run its own requests: none a repeat of the run before
            await asyncio.sleep(rng.uniform(0, think))
            while running():
                await call(client, base, requests_for(rng, True, checkpoint), f"10.2.{i // 250}.{i % 250}",
                           phase() if phase else tally, session=f"student-{seed}-{i}")
                await asyncio.sleep(rng.expovariate(1 / think))

        started = time.perf_counter()
        await asyncio.gather(*(student(i) for i in range(count)))
        tally.seconds = time.perf_counter() - started
    return tally


async def flood(base: str, seconds: float) -> Tally:
    """One address keeping FLOOD_IN_FLIGHT requests in flight, each sent again as soon as it is answered."""
    tally = Tally()
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=FLOOD_IN_FLIGHT)) as client:
        async def slot(i: int) -> None:
            rng = random.Random(5000 + i)
            while time.perf_counter() < deadline:
                await call(client, base, requests_for(rng, mixed=True), "10.66.6.6", tally)

        started = time.perf_counter()
        await asyncio.gather(*(slot(i) for i in range(FLOOD_IN_FLIGHT)))
        tally.seconds = time.perf_counter() - started
    return tally


def flood_client(base: str, seconds: float) -> None:
    """The flooder, in its own process at the lowest CPU priority: on one machine it stands in for a client on
    another, so that what it costs the server is measured, not the CPU its own loop takes from the server."""
    os.nice(19)
    tally = asyncio.run(flood(base, seconds))
    print(json.dumps(dict(latencies=tally.latencies, refused=tally.refused, errors=tally.errors,
                          seconds=tally.seconds, kinds=dict(tally.kinds))))


async def flooding(base: str, seconds: float) -> Tally:
    """The flood of one window: the flooder's process (see `flood_client`), and how it was answered."""
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.clients", "--flood-client", base,
                                                   str(seconds), cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    data = json.loads(out.decode().strip().splitlines()[-1])
    return Tally(data["latencies"], data["refused"], data["errors"], data["seconds"], Counter(data["kinds"]))


def train_tab_events(config: dict) -> dict[str, tuple[int, list]]:
    """The Train tab's events in the page's /config: name -> (fn_index, the inputs' values as the page opens)."""
    components = {c["id"]: c for c in config["components"]}
    elem = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    found = {}
    for index, dependency in enumerate(config["dependencies"]):
        targets = [(elem.get(target), components.get(target, {}).get("type")) for target, _ in dependency["targets"]]
        outputs = {elem.get(output) for output in dependency["outputs"]}
        name = ("train" if ("train-start", "button") in targets else "cancel" if ("train-cancel", "button") in targets
                else "poll" if any(kind == "timer" for _, kind in targets) and "train-status" in outputs else None)
        if name:
            found[name] = (index, [components[i].get("props", {}).get("value") for i in dependency["inputs"]])
    if set(found) != {"train", "poll", "cancel"}:
        raise RuntimeError(f"the page's Train tab events were not found (found: {sorted(found)})")
    return found


async def event_result(client, base: str, index: int, data: list, session: str, address: str) -> tuple[dict, list]:
    """One event as the page sends it (gradio's queue: join, then the session's stream) -> its completed
    message, and the log lines (the warnings the page shows) sent before it."""
    headers = {"x-forwarded-for": address}
    body = {"data": data, "event_data": None, "fn_index": index, "trigger_id": None, "session_hash": session}
    joined = await client.post(f"{base}/gradio_api/queue/join", json=body, headers=headers)
    joined.raise_for_status()
    logs = []
    async with client.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session},
                             headers=headers) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "log":
                    logs.append(message["log"])
                elif message.get("msg") == "process_completed":
                    return message, logs
    raise RuntimeError(f"event {index} ended without a result")


async def page_event(client, base: str, index: int, data: list, session: str, address: str) -> dict:
    """One event as the page sends it -> its output (an event that failed raises, its error cut short)."""
    message, _ = await event_result(client, base, index, data, session, address)
    if not message.get("success"):
        raise RuntimeError(f"event {index} failed: {str(message.get('output'))[:200]}")
    return message["output"]


async def lecturing(base: str, seconds: float, session: str | None = None) -> Tally:
    """A lecturer's Train tab for one window: Train pressed with the page's defaults, the run polled every
    second as the page's timer does (curves and the probe's heatmap each time), then Cancel, waiting until
    the run has stopped. The tally: the polls' latencies, and the run's last status under `kinds`."""
    tally, address = Tally(), "10.3.0.1"
    session = session or f"lecturer-{next(LECTURERS)}"
    status = ""
    async with httpx.AsyncClient(timeout=60) as client:
        started = time.perf_counter()
        events = train_tab_events((await client.get(f"{base}/config")).json())
        output = await page_event(client, base, *events["train"], session, address)
        if output["data"][0] != "Starting…":
            raise RuntimeError(f"the Train tab refused to start: {output['data'][0]}")
        ended = time.perf_counter() + seconds
        cancelled = False
        while True:
            await asyncio.sleep(POLL_S)
            asked = time.perf_counter()
            output = await page_event(client, base, *events["poll"], session, address)
            tally.latencies.append(time.perf_counter() - asked)
            status = output["data"][0] if isinstance(output["data"][0], str) else status
            still = output["data"][-1].get("active", False)  # the timer: off once the run is done
            if not still:
                break
            if not cancelled and time.perf_counter() >= ended:
                await page_event(client, base, *events["cancel"], session, address)
                cancelled = True
        tally.seconds = time.perf_counter() - started
    tally.kinds[status] += 1
    return tally


if __name__ == "__main__":
    if sys.argv[1:2] == ["--flood-client"]:
        flood_client(sys.argv[2], float(sys.argv[3]))
