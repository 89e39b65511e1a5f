"""Load benchmark: a class of students, a flooding client, and gradio's own ceiling, side by side.

    python -m bench.app --clients 100 --think 3 [--seconds 30] [--flood] [--train] [--calls 10000]

Launches `python app.py` and a no-op gradio app (the same queue, sessions and guard, one endpoint
`translate` that returns its text reversed) on free local ports, and drives both with the same
client over the same protocol (`POST /gradio_api/call/translate`, then its event stream), one after
the other so they never share the CPUs:

1. capacity: `--concurrency` clients calling back to back, for each server: requests/s, and the
   app's share of the no-op ceiling;
2. class: `--clients` students, each sending a request every `--think` seconds on average (mixed
   checkpoints, masks, forcing and beams of the bundled set), each from its own address (as a
   Space's proxy reports it) and with its own session, as a page has: p50/p95/max, refused, errors;
3. with `--flood`, the same class, run without a break, while one more client, a script with no session,
   keeps 150 requests in flight (in its own process at the lowest CPU priority, standing in for a
   machine elsewhere) in every other window: ROUNDS windows alone and ROUNDS flooded, in
   turn, each `--seconds` / ROUNDS long. A request counts for the window it starts in, and those
   starting in a window's first SETTLE_S seconds (the flood starting or ending) and in a first window of
   warm-up (every student's first request opens a session) count for neither. So both sides see the same
   students, sessions and machine: the students' p95 with and without the flood, and how the flooder
   was answered;
4. with `--train`, the same design with a lecturer instead of the flood: in every other window a page presses
   Train in the Train tab with its controls as they open (`train_tab_events` finds the page's own events in its
   /config, and they are sent as the page sends them), polls the run every POLL_S as the tab's timer does,
   and presses Cancel at the window's end; the next window begins once the run has stopped;
5. with `--calls N`, memory: the app's resident memory after a warm-up and after N more calls.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import httpx

from s2s import tasks
from ui.serving import Serving

from .server import free_port, machine, start

ROOT = Path(__file__).resolve().parent.parent
API = "/gradio_api/call/translate"
FLOOD_IN_FLIGHT = 150
ROUNDS = 3  # windows of the class alone and flooded (or training), in turn, this many of each
POLL_S = 1.0  # the Train tab's timer
LECTURERS = itertools.count()  # a fresh session for each training window
SETTLE_S = 2.0  # requests starting this soon after the flood (or training) starts or stops count for neither side


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


# --- the servers ----------------------------------------------------------------------------------------


def noop_server(port: int) -> None:
    """A gradio app with the explorer's serving rules and one endpoint that does nothing: the ceiling."""
    serving = Serving.from_env()
    with gr.Blocks(analytics_enabled=False) as demo:
        inputs = [gr.Textbox(), gr.Textbox(), gr.Textbox(), gr.Number(), gr.Textbox(), gr.Number(), gr.Number()]
        outputs = [gr.Textbox(), gr.Textbox()]
        gr.Button().click(lambda text, *rest: (text[::-1], ""), inputs, outputs, api_name="translate")
    serving.queue(demo)
    demo.launch(server_name="127.0.0.1", server_port=port, **serving.launch_options(demo))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- the client ---------------------------------------------------------------------------------------


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


def requests_for(rng: random.Random, mixed: bool) -> list:
    """translate's inputs: dates only (the capacity runs), or a class's mix over the bundled checkpoints."""
    if not mixed:  # a fresh date each time: no request is a repeat the app could serve from its recent results
        source, _ = tasks.TASKS["dates"].generate(1, rng.randrange(10**9))[0]
        return [source, "dates", "bidirectional", 0, "", 0, 1]
    name = rng.choice(["dates", "dates", "reverse", "toy-fr", "dates-seed", "dates-causal", "reverse-causal",
                       "reverse-noattn"])
    task = next(task for task in ("dates", "reverse", "toy-fr") if name.startswith(task))
    source, target = tasks.TASKS[task].generate(1, rng.randrange(10**6))[0]
    mask = "causal" if name.endswith("causal") or rng.random() < 0.15 else "bidirectional"
    forcing = rng.choice([0, 0, 0, 1.0, 0.5])
    beam = 4 if not forcing and rng.random() < 0.1 else 1
    return [source, name, mask, forcing, target if forcing else "", rng.randrange(100), beam]


async def closed_loop(base: str, clients: int, seconds: float, mixed: bool = False) -> Tally:
    """`clients` callers sending back to back for `seconds`."""
    tally = Tally()
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=1000)) as client:
        async def caller(i: int) -> None:
            rng = random.Random(i)
            while time.perf_counter() < deadline:
                await call(client, base, requests_for(rng, mixed), f"10.1.{i // 250}.{i % 250}", tally,
                           session=f"capacity-{i}")

        started = time.perf_counter()
        await asyncio.gather(*(caller(i) for i in range(clients)))
        tally.seconds = time.perf_counter() - started
    return tally


async def students(base: str, count: int, think: float, seconds: float, seed: int = 1000,
                   phase: Callable[[], Tally] | None = None, stop: asyncio.Event | None = None) -> Tally:
    """`count` students, each a request every `think` s on average (exponential gaps), each from its own address,
    for `seconds` (or until `stop` is set). With `phase`, each request counts in the tally it returns when the
    request starts."""
    tally = Tally()
    deadline = time.perf_counter() + seconds
    running = (lambda: not stop.is_set()) if stop else (lambda: time.perf_counter() < deadline)
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=2000)) as client:
        async def student(i: int) -> None:
            rng = random.Random(seed + i)  # each run its own requests: none a repeat of the run before
            await asyncio.sleep(rng.uniform(0, think))
            while running():
                await call(client, base, requests_for(rng, mixed=True), f"10.2.{i // 250}.{i % 250}",
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
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.load", "--flood-client", base,
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


async def page_event(client, base: str, index: int, data: list, session: str, address: str) -> dict:
    """One event as the page sends it (gradio's queue: join, then the session's stream) -> its output."""
    headers = {"x-forwarded-for": address}
    body = {"data": data, "event_data": None, "fn_index": index, "trigger_id": None, "session_hash": session}
    joined = await client.post(f"{base}/gradio_api/queue/join", json=body, headers=headers)
    joined.raise_for_status()
    async with client.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session},
                             headers=headers) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    if not message.get("success"):
                        raise RuntimeError(f"event {index} failed: {str(message.get('output'))[:200]}")
                    return message["output"]
    raise RuntimeError(f"event {index} ended without a result")


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


async def class_in_windows(base: str, args, disturbance: Callable) -> tuple[Tally, Tally, Tally]:
    """(the class alone, the class disturbed, what the disturbance got): one class throughout, the disturbance
    (`flooding` or `lecturing`, each given a window's seconds) in every other window (see the module docstring)."""
    window = args.seconds / ROUNDS
    alone, disturbed, ignored = Tally(), Tally(), Tally()
    disturber = Tally()
    now = {"tally": ignored}

    async def switch() -> None:
        await asyncio.sleep(window)  # warm-up: every student opens a session
        for _ in range(ROUNDS):
            for side in (alone, disturbed):
                now["tally"] = ignored
                running = asyncio.ensure_future(disturbance(base, window)) if side is disturbed else None
                await asyncio.sleep(SETTLE_S)
                now["tally"] = side
                started = time.perf_counter()
                await asyncio.sleep(window - SETTLE_S)
                side.seconds += time.perf_counter() - started
                if running is not None:
                    now["tally"] = ignored
                    disturber.add(await running)
        now["tally"] = ignored
        done.set()

    done = asyncio.Event()
    class_run = students(base, args.clients, args.think, 0, seed=20_000, phase=lambda: now["tally"], stop=done)
    await asyncio.gather(class_run, switch())
    return alone, disturbed, disturber


# --- the run ------------------------------------------------------------------------------------------


def run(args) -> int:
    print(f"machine: {machine()}")
    # S2S_RATE: the capacity clients send back to back, faster than a visitor's 30/s, and the ceiling is the
    # servers', not the per-visitor limit's; students (a request every few s) and the flooder (no session:
    # S2S's per-address API limit) are held by the same limits as on a Space.
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="0", S2S_CLIENT_HEADER="x-forwarded-for", S2S_RATE="1000",
               S2S_BURST="1000")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        noop_port, app_port = free_port(), free_port()
        noop = start([sys.executable, "-m", "bench.load", "--noop-server", str(noop_port)], noop_port,
                     Path(folder) / "noop.log", env)
        try:
            asyncio.run(closed_loop(f"http://127.0.0.1:{noop_port}", args.concurrency, 3))  # warm-up
            results["noop"] = asyncio.run(closed_loop(f"http://127.0.0.1:{noop_port}", args.concurrency,
                                                      args.seconds))
        finally:
            noop.terminate()
            noop.wait(timeout=30)
        app = start([sys.executable, "app.py"], app_port, Path(folder) / "app.log",
                    dict(env, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(app_port)))
        base = f"http://127.0.0.1:{app_port}"
        try:
            asyncio.run(closed_loop(base, args.concurrency, 3, mixed=True))  # warm-up: every checkpoint once
            results["app"] = asyncio.run(closed_loop(base, args.concurrency, args.seconds))
            if args.flood:
                results["class"], results["flooded"], results["flooder"] = asyncio.run(
                    class_in_windows(base, args, flooding))
            else:
                results["class"] = asyncio.run(students(base, args.clients, args.think, args.seconds))
            if args.train:
                results["class alone"], results["training"], results["lecturer"] = asyncio.run(
                    class_in_windows(base, args, lecturing))
            if args.calls:
                before = rss_mb(app.pid)
                calls = Tally()
                while calls.errors + calls.refused + len(calls.latencies) < args.calls:
                    calls.add(asyncio.run(closed_loop(base, args.concurrency, 5, mixed=True)))
                results["memory"] = (before, rss_mb(app.pid), len(calls.latencies) + calls.refused + calls.errors)
        finally:
            app.terminate()
            app.wait(timeout=30)

    noop, served = results["noop"], results["app"]
    print(f"capacity: {args.concurrency} clients back to back, {args.seconds:.0f} s each, same client and protocol")
    print(noop.line("  no-op gradio endpoint (ceiling)"))
    print(served.line("  /translate on dates"))
    ratio = (len(served.latencies) / served.seconds) / (len(noop.latencies) / noop.seconds)
    print(f"  /translate reaches {ratio:.0%} of the no-op ceiling (goal >= 60%)")
    print(f"class: {args.clients} students, a request every {args.think:g} s each on average, mixed settings")
    print(results["class"].line("  students"))
    print(f"  goal: 0 refused and p95 <= 1 s: "
          f"{'met' if results['class'].refused == 0 and results['class'].p95 <= 1.0 else 'NOT met'}")
    if args.flood:
        print(f"flood: the same class while one address keeps {FLOOD_IN_FLIGHT} requests in flight "
              f"in every other window ({ROUNDS} of each; the class line above: its windows alone)")
        print(results["flooded"].line("  students"))
        print(results["flooder"].line("  flooder"))
        change = results["flooded"].p95 / results["class"].p95
        print(f"  students' p95 changed {change:.2f}x (goal < 2x)")
    if args.train:
        trained, lecturer = results["training"], results["lecturer"]
        print(f"training: the same class while a lecturer trains in the Train tab (the page's defaults, its page "
              f"polling every {POLL_S:g} s) in every other window ({ROUNDS} of each)")
        print(results["class alone"].line("  students, windows alone"))
        print(trained.line("  students, windows training"))
        print(lecturer._line("  the lecturer's polls"))
        print(f"  the run's last status: {'; '.join(lecturer.kinds)}")
        change = trained.p95 / results["class alone"].p95
        met = trained.refused == 0 and trained.p95 <= 1.0 and change < 2
        print(f"  students' p95 changed {change:.2f}x; goal: 0 refused, p95 <= 1 s and < 2x: "
              f"{'met' if met else 'NOT met'}")
    if args.calls:
        before, after, calls = results["memory"]
        print(f"memory: app RSS {before:.0f} MB after warm-up, {after:.0f} MB after {calls} more calls "
              f"(+{after - before:.0f} MB; goal <= 100 MB)")
    print(json.dumps({"ratio_to_noop": round(ratio, 3), "class_p95_s": round(results["class"].p95, 3),
                      "class_refused": results["class"].refused}))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--noop-server"]:
        noop_server(int(sys.argv[2]))
    elif sys.argv[1:2] == ["--flood-client"]:
        flood_client(sys.argv[2], float(sys.argv[3]))
