"""Load benchmark: a class of students, a flooding client, and gradio's own ceiling, side by side.

    python -m bench.app --clients 100 --think 3 [--seconds 30] [--flood] [--train] [--calls 10000] [--opus-sized]

Launches `python app.py` and a no-op gradio app (the same queue, sessions and guard, one endpoint
`translate` that returns its text reversed) on free local ports, and drives both with the same
client over the same protocol (`POST /gradio_api/call/translate`, then its event stream), never both at once:

1. capacity: `--concurrency` clients calling back to back, the no-op server and the app in turns (turns of
   about TURN_S, `--seconds` in all for each: this machine's speed moves by a third within minutes, and short
   turns spread that over both sides alike): requests/s, the app's share of the no-op ceiling (in all, and
   turn by turn), and each server's CPU a request;
2. class: `--clients` students, each sending a request every `--think` seconds on average (mixed
   checkpoints, masks, forcing and beams of the bundled set), each from its own address (as a
   Space's proxy reports it) and with its own session, as a page has: p50/p95/max, refused, errors;
3. with `--flood`, the same class, run without a break, while one more client, a script with no session,
   keeps 150 requests in flight (in its own process at the lowest CPU priority, standing in for a
   machine elsewhere) in every other window: ROUNDS windows alone and ROUNDS flooded, in
   turn, each `--seconds` / ROUNDS long. A request counts for the window it starts in, and those
   starting in a window's first SETTLE_S seconds (the flood starting or ending) and in a first window of
   warm-up (every student's first request opens a session) count for neither. So both sides see the same
   students, sessions and machine: the students' p95 with and without the flood (each side's windows pooled;
   then window by window, so that a window the machine slowed shows as one), and how the flooder was answered;
4. with `--train`, the same design with a lecturer instead of the flood: in every other window a page presses
   Train in the Train tab with its controls as they open (`clients.train_tab_events` finds the page's own events
   in its /config, and they are sent as the page sends them), polls the run every POLL_S as the tab's timer does,
   and presses Cancel at the window's end; the next window begins once the run has stopped;
5. with `--calls N`, memory: the app's resident memory after a warm-up and after N more calls;
6. with `--opus-sized` (bench/app.py), a random model of opus-mt-en-fr's size served offline from a Hub cache made
   here: its capacity after dates' (once its first request has loaded it), and the same class with every request
   an English sentence for it.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import gradio as gr

from ui.api import in_one_thread
from ui.serving import Serving

from .clients import FLOOD_IN_FLIGHT, POLL_S, Tally, closed_loop, flooding, lecturing, students
from .server import free_port, machine, start

ROUNDS = 3  # windows of the class alone and flooded (or training), in turn, this many of each
TURN_S = 2.0  # a capacity turn: short, so that the VM's drift falls on both servers alike
SETTLE_S = 2.0  # requests starting this soon after the flood (or training) starts or stops count for neither side




# --- the servers ----------------------------------------------------------------------------------------


def noop_server(port: int) -> None:
    """A gradio app with the explorer's serving rules and one endpoint that does nothing, its values processed in
    its own thread as /translate's are (ui.api.in_one_thread): the ceiling."""
    serving = Serving.from_env()
    with gr.Blocks(analytics_enabled=False) as demo:
        inputs = [gr.Textbox(), gr.Textbox(), gr.Textbox(), gr.Number(), gr.Textbox(), gr.Number(), gr.Number()]
        outputs = [gr.Textbox(), gr.Textbox()]
        noop = in_one_thread(lambda text, *rest: (text[::-1], ""), inputs, outputs)  # processed as /translate is
        gr.Button().click(noop, inputs, outputs, api_name="translate", preprocess=False, postprocess=False)
    serving.queue(demo)
    serving.launch(demo, server_name="127.0.0.1", server_port=port)  # as app.py launches


def stop(server: subprocess.Popen | None) -> None:
    if server is not None and server.poll() is None:
        server.terminate()
        server.wait(timeout=30)


def stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the process's name (state, parent, ...: fields 3 on of proc(5))."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_s(pid: int) -> float:
    """CPU seconds process `pid` has used (user + system), from /proc."""
    fields = stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The live child processes of process `pid` (the app's decoding process; a Train-tab run), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(stat(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except OSError:  # gone meanwhile
                continue
    return found


def children_cpu_s(pid: int) -> float:
    """CPU seconds the live children of process `pid` have used (each with its threads)."""
    return sum(_or_zero(cpu_s, child) for child in children(pid))


def children_rss_mb(pid: int) -> float:
    return sum(_or_zero(rss_mb, child) for child in children(pid))


def _or_zero(read: Callable[[int], float], pid: int) -> float:
    try:
        return read(pid)
    except OSError:  # the process ended meanwhile
        return 0.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Capacity(NamedTuple):
    """One server's capacity run: its answers, CPU milliseconds a request in the server, in its children (the
    app's decoding process, s2s/web/decode_worker.py) and in the client (this process: it shares the machine's
    CPUs with both servers), and its requests/s in each turn."""

    tally: Tally
    cpu_ms: float
    children_ms: float
    client_ms: float
    turns: list[float]


def capacity_in_turns(noop: tuple[str, int], app: tuple[str, int], clients: int, seconds: float) -> list[Capacity]:
    """[the no-op server's Capacity, the app's]: `clients` back to back on each (base URL, pid) in turn, `seconds`
    on each in turns of about TURN_S (at least ROUNDS turns)."""
    count = max(ROUNDS, round(seconds / TURN_S))
    sides = [(base, pid, Tally(), [0.0, 0.0, 0.0], []) for base, pid in (noop, app)]
    for _ in range(count):
        for base, pid, tally, cpu, turns in sides:
            own, theirs, mine = cpu_s(pid), children_cpu_s(pid), time.process_time()
            turn = asyncio.run(closed_loop(base, clients, seconds / count))
            cpu[0] += cpu_s(pid) - own
            cpu[1] += children_cpu_s(pid) - theirs
            cpu[2] += time.process_time() - mine
            tally.add(turn)
            turns.append(len(turn.latencies) / turn.seconds)
    return [Capacity(tally, *(1000 * c / max(1, len(tally.latencies)) for c in cpu), turns)
            for _, _, tally, cpu, turns in sides]


class Windows(NamedTuple):
    """A class run in windows (`class_in_windows`): each window's answers on each side, in the order they ran, and
    what the disturbance got."""

    alone: list[Tally]
    disturbed: list[Tally]
    disturber: Tally

    @staticmethod
    def pooled(side: list[Tally]) -> Tally:
        """A side's windows as one tally."""
        whole = Tally()
        for window in side:
            whole.add(window)
        return whole

    def change(self) -> float:
        """The students' p95 disturbed over their p95 alone, each side's windows pooled."""
        return self.pooled(self.disturbed).p95 / self.pooled(self.alone).p95

    def by_window(self) -> str:
        """Each window's p95, side by side in the order they ran: a window the machine slowed shows as one."""
        return ", ".join(f"{1000 * alone.p95:.0f} → {1000 * disturbed.p95:.0f}"
                         for alone, disturbed in zip(self.alone, self.disturbed, strict=True))


async def class_in_windows(base: str, args, disturbance: Callable) -> Windows:
    """One class throughout, the disturbance (`flooding` or `lecturing`, each given a window's seconds) in every
    other window (see the module docstring)."""
    window = args.seconds / ROUNDS
    ignored, disturber = Tally(), Tally()
    found = Windows([], [], disturber)
    now = {"tally": ignored}

    async def switch() -> None:
        await asyncio.sleep(window)  # warm-up: every student opens a session
        for _ in range(ROUNDS):
            for side in (found.alone, found.disturbed):
                now["tally"] = ignored
                disturbed = side is found.disturbed
                running = asyncio.ensure_future(disturbance(base, window)) if disturbed else None
                await asyncio.sleep(SETTLE_S)
                now["tally"] = tally = Tally()
                side.append(tally)
                started = time.perf_counter()
                await asyncio.sleep(window - SETTLE_S)
                tally.seconds = time.perf_counter() - started
                if running is not None:
                    now["tally"] = ignored
                    disturber.add(await running)
        now["tally"] = ignored
        done.set()

    done = asyncio.Event()
    class_run = students(base, args.clients, args.think, 0, seed=20_000, phase=lambda: now["tally"], stop=done)
    await asyncio.gather(class_run, switch())
    return found


# --- the run ------------------------------------------------------------------------------------------


async def loaded(base: str, spec: str, seconds: float = 300) -> None:
    """Return once the app answers a request for `spec` (it says "still loading" while a Hub model loads)."""
    deadline = time.perf_counter() + seconds
    while not (await closed_loop(base, 1, 0.1, checkpoint=spec)).latencies:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the app did not answer for {spec} within {seconds:g} s")
        await asyncio.sleep(1)


def run(args) -> int:
    hub = getattr(args, "hub_model", None)  # a Hub translation model (bench.app --opus-sized), beside dates
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
        app = None
        try:
            app = start([sys.executable, "app.py"], app_port, Path(folder) / "app.log",
                        dict(env, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(app_port)))
            base, noop_base = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{noop_port}"
            asyncio.run(closed_loop(noop_base, args.concurrency, 3))  # warm-up
            asyncio.run(closed_loop(base, args.concurrency, 3, mixed=True))  # warm-up: every checkpoint once
            results["noop"], results["app"] = capacity_in_turns((noop_base, noop.pid), (base, app.pid),
                                                                args.concurrency, args.seconds)
            stop(noop)  # the rest drives the app alone
            if hub:  # the Hub model loads in the background on its first request: wait for it, then measure
                asyncio.run(loaded(base, hub))
                results["hub capacity"] = asyncio.run(closed_loop(base, args.concurrency, args.seconds,
                                                                  checkpoint=hub))
            if args.flood:
                results["flood"] = asyncio.run(class_in_windows(base, args, flooding))
                results["class"] = Windows.pooled(results["flood"].alone)
            else:
                results["class"] = asyncio.run(students(base, args.clients, args.think, args.seconds))
            if hub:
                results["hub class"] = asyncio.run(students(base, args.clients, args.think, args.seconds,
                                                            checkpoint=hub))
            if args.train:
                results["training"] = asyncio.run(class_in_windows(base, args, lecturing))
            if args.calls:
                before = rss_mb(app.pid), children_rss_mb(app.pid)
                calls = Tally()
                while calls.errors + calls.refused + len(calls.latencies) < args.calls:
                    calls.add(asyncio.run(closed_loop(base, args.concurrency, 5, mixed=True)))
                after = rss_mb(app.pid), children_rss_mb(app.pid)
                results["memory"] = (before, after, len(calls.latencies) + calls.refused + calls.errors)
        finally:
            for server in (noop, app):
                stop(server)

    (noop, noop_cpu, _, noop_client, noop_turns), (served, app_cpu, child_cpu, app_client, app_turns) = \
        results["noop"], results["app"]
    print(f"capacity: {args.concurrency} clients back to back, {args.seconds:.0f} s on each server in turns of about "
          f"{TURN_S:g} s, same client and protocol")
    print(noop.line("  no-op gradio endpoint (ceiling)"))
    print(served.line("  /translate on dates"))
    ratio = (len(served.latencies) / served.seconds) / (len(noop.latencies) / noop.seconds)
    print(f"  /translate reaches {ratio:.0%} of the no-op ceiling (goal >= 60%); the server's CPU a request: "
          f"{app_cpu:.2f} ms (+{child_cpu:.2f} ms in its decoding process) vs {noop_cpu:.2f} ms; the client's, on the "
          f"same CPUs: {app_client:.2f} vs {noop_client:.2f} ms")
    print(f"  the no-op's CPU a request over the app server's: {noop_cpu / app_cpu:.0%} (the share to expect where the "
          "clients run elsewhere and each server's one process is what limits it; here they share its CPUs)")
    shares = sorted(mine / ceiling for mine, ceiling in zip(app_turns, noop_turns, strict=True))
    print(f"  turn by turn ({len(shares)} turns on each, in turn): median {statistics.median(shares):.0%}, "
          f"from {shares[0]:.0%} to {shares[-1]:.0%}")
    if hub:
        capacity = results["hub capacity"]
        print(capacity.line(f"  /translate on {hub}"))
        print(f"  {hub}: {len(capacity.latencies) / capacity.seconds:.2f} requests/s, "
              f"{(len(capacity.latencies) / capacity.seconds) / (len(served.latencies) / served.seconds):.1%} "
              "of dates'")
    print(f"class: {args.clients} students, a request every {args.think:g} s each on average, mixed settings")
    print(results["class"].line("  students"))
    print(f"  goal: 0 refused and p95 <= 1 s: "
          f"{'met' if results['class'].refused == 0 and results['class'].p95 <= 1.0 else 'NOT met'}")
    if hub:
        hub_class = results["hub class"]
        print(f"the same class, every request to {hub} (an English sentence, greedy)")
        print(hub_class.line("  students"))
        print(f"  goal: 0 refused and p95 <= 1 s: "
              f"{'met' if hub_class.refused == 0 and hub_class.p95 <= 1.0 else 'NOT met'}; it asks "
              f"{args.clients / args.think:.1f} requests/s")
    if args.flood:
        print(f"flood: the same class while one address keeps {FLOOD_IN_FLIGHT} requests in flight "
              f"in every other window ({ROUNDS} of each; the class line above: its windows alone)")
        flood = results["flood"]
        print(Windows.pooled(flood.disturbed).line("  students"))
        print(flood.disturber.line("  flooder"))
        print(f"  students' p95 changed {flood.change():.2f}x (goal < 2x); window by window, alone → flooded: "
              f"{flood.by_window()} ms")
    if args.train:
        training = results["training"]
        trained, lecturer = Windows.pooled(training.disturbed), training.disturber
        print(f"training: the same class while a lecturer trains in the Train tab (the page's defaults, its page "
              f"polling every {POLL_S:g} s) in every other window ({ROUNDS} of each)")
        print(Windows.pooled(training.alone).line("  students, windows alone"))
        print(trained.line("  students, windows training"))
        print(lecturer._line("  the lecturer's polls"))
        print(f"  the run's last status: {'; '.join(lecturer.kinds)}")
        met = trained.refused == 0 and trained.p95 <= 1.0 and training.change() < 2
        print(f"  students' p95 changed {training.change():.2f}x; goal: 0 refused, p95 <= 1 s and < 2x: "
              f"{'met' if met else 'NOT met'}; window by window, alone → training: {training.by_window()} ms")
    if args.calls:
        (before, before_children), (after, after_children), calls = results["memory"]
        growth = after + after_children - before - before_children
        print(f"memory: app RSS {before:.0f} MB (its decoding process {before_children:.0f} MB) after warm-up, "
              f"{after:.0f} MB ({after_children:.0f} MB) after {calls} more calls (+{growth:.0f} MB in all; "
              "goal <= 100 MB)")
    print(f"machine at the end: {machine()}")
    print(json.dumps({"ratio_to_noop": round(ratio, 3), "class_p95_s": round(results["class"].p95, 3),
                      "class_refused": results["class"].refused}))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--noop-server"]:
        noop_server(int(sys.argv[2]))
