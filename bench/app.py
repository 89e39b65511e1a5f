"""Benchmark: how long the app takes to answer, from a client's request to the heatmap back.

    python -m bench.app [--n 50] [--checkpoint dates] [--browser [--lesson aligns]] [--opus-sized [--steps 20]]
    python -m bench.app --clients 100 --think 3 [--flood] [--train] [--calls 10000] [--opus-sized]   # bench/load.py

Starts `python app.py` in its own process on a free local port (as a Space runs it), calls the public
`translate` endpoint with gradio_client for n varied inputs of the checkpoint's task, and prints the
median and 95th percentile. Then times the same work in this process without the server (model run,
figure, the figure's JSON as gradio sends it), so the ratio shows what serving adds. The live typing
event does the same work as `translate`. With --browser it also types into the page in headless
Chromium (/usr/bin/chromium, driven by Playwright) and times each last keystroke until the heatmap
shows the new input's pieces: the whole path, drawing included. First one visitor alone, one page on the
app as it ships (the goal's figure: what a visitor gets), then on two servers, key by key in turn: the app
as it ships (the heatmap a `LivePlot`, redrawn in place) and the same app with gradio's own `gr.Plot` as
the heatmap (the baseline; gradio re-creates that plot for every value), for their ratio. Interleaved, each
page's keystroke follows the other page's drawing and the other server's work, which pollute the CPUs'
caches: the pair's absolute figures are slower than one visitor's and are printed for the ratio only. Run
it on an otherwise idle machine for figures to compare; the load average is printed so that a busy machine
shows.

With --opus-sized, a Hub translation model of Helsinki-NLP/opus-mt-en-fr's configuration with random weights
(bench/hub_model.py, 75 million parameters) is measured first, then the checkpoint, both in the same run on the
same servers: no download, the model is put in a Hub cache here and the app opens it by its name,
bench/opus-mt-en-fr-sized, offline from there, through the same code as a real repo. Its </s> is unreachable, so
each translate writes exactly --steps pieces (the length of a dozen words' translation). The browser run then
times the app as shipped only (the gr.Plot baseline is the page's, not the model's, and is left out).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from gradio_client import Client
from playwright.sync_api import sync_playwright

from s2s import tasks, viz
from s2s.errors import HubBusy
from s2s.viz import display_piece
from s2s.web import models, runs

from . import hub_model, load
from .server import CHROMIUM, CHROMIUM_ARGS, free_port, machine, sentence, start

GOAL_MS = 100  # typing to an updated heatmap, median (issue 9)


def inputs(spec: str, n: int) -> list[str]:
    """n varied sources of the checkpoint's task (prefixes of one sentence when the task is unknown)."""
    task = ready(spec).translator.config.get("task")
    if task in tasks.TASKS:
        return [source for source, _ in tasks.TASKS[task].generate(n, seed=1)]
    return [sentence(i) for i in range(n)]  # a translation model: English sentences of 8 to 13 words


def ready(spec: str, seconds: float = 300) -> models.Loaded:
    """The loaded model of `spec`, waiting for a Hub model's load (the page answers "still loading" meanwhile)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return models.get_model(spec)
        except HubBusy:
            if time.monotonic() > deadline:
                raise


def summary(name: str, seconds: list[float]) -> str:
    ms = sorted(1000 * s for s in seconds)
    p95 = statistics.quantiles(ms, n=20)[18] if len(ms) > 1 else ms[0]
    return f"{name:<34} median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms"


# The baseline page: app.py with gradio's own Plot where the app has its LivePlot heatmap.
GRADIO_PLOT_APP = ("import gradio as gr, app, ui.layout; "
                   "ui.layout.LivePlot = lambda value=None, **kw: gr.Plot(value, show_label=False, **kw); app.main()")


def serve(port: int, log: Path, gradio_plot: bool = False) -> subprocess.Popen:
    """`python app.py` on 127.0.0.1:port (with gradio_plot, its heatmap a gr.Plot); returns once the page answers."""
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="0")
    command = [sys.executable, "-c", GRADIO_PLOT_APP] if gradio_plot else [sys.executable, "app.py"]
    return start(command, port, log, env)


# In the page: note when the next key changes the text, and when the heatmap's x tick labels become `want`.
WATCH = """(want) => {
  window.typedAt = null; window.drawnAt = null;
  const box = document.querySelector('#source textarea, #source input');
  box.addEventListener('beforeinput', () => { window.typedAt = performance.now(); }, {once: true, capture: true});
  const ticks = () => Array.from(document.querySelectorAll('#heatmap .xtick text')).map(t => t.textContent);
  const observer = new MutationObserver(() => {
    if (JSON.stringify(ticks()) === JSON.stringify(want)) { window.drawnAt = performance.now(); observer.disconnect(); }
  });
  observer.observe(document.querySelector('#heatmap'), {subtree: true, childList: true, characterData: true});
}"""


TICKS = "() => Array.from(document.querySelectorAll('#heatmap .xtick text')).map(t => t.textContent)"


def source_labels(translator, text: str) -> list[str]:
    """The heatmap's x tick labels for `text`: its source pieces, as plotly's SVG text holds them."""
    return [display_piece(p, escape=False) for p in translator.source_tokenizer.pieces(translator.encode_source(text))]


def browser_times(urls: list[str], spec: str, texts: list[str], lesson: str | None = None) -> list[list[float]]:
    """Seconds from the last key press of each text to the heatmap showing its source pieces, in Chromium,
    on each page of `urls` in turn for every text (so that the machine's noise hits every page alike). With
    `lesson` (a key of s2s.web.lessons.BY_KEY), each page first opens that lesson, as a lecture would.

    Both moments are taken in the page (a beforeinput listener, a MutationObserver on the plot), so the
    figures hold the server's answer and plotly's drawing but not Playwright's own round trips.
    """
    translator = ready(spec).translator
    times: list[list[float]] = [[] for _ in urls]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = []
        for url in urls:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(url)
            page.wait_for_selector("#heatmap .xtick text", timeout=60_000)
            if lesson:
                page.click(f"#lesson-{lesson}")
                page.wait_for_timeout(3_000)  # its runs and drawings are over
            page.locator("#checkpoint").get_by_role("combobox").fill(spec)
            page.locator("#checkpoint").get_by_role("combobox").press("Enter")
            pages.append(page)
        for text in texts:
            before, want = (source_labels(translator, t) for t in (text[:-1], text))
            for page, seconds in zip(pages, times):
                page.bring_to_front()
                box = page.locator("#source").get_by_role("textbox")
                box.fill(text[:-1])
                page.wait_for_function(f"(want) => JSON.stringify(({TICKS})()) === JSON.stringify(want)", arg=before,
                                       timeout=60_000)  # the update this starts is drawn before the measured key
                page.wait_for_timeout(400)  # and its follow-up events are over
                page.evaluate(WATCH, want)
                box.press_sequentially(text[-1])
                page.wait_for_function("() => window.drawnAt !== null", timeout=30_000)
                seconds.append(page.evaluate("() => (window.drawnAt - window.typedAt) / 1000"))
        browser.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.app", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=50, help="measured calls (after 3 warm-up calls)")
    parser.add_argument("--checkpoint", default=None, help="bundled name or Hub repo (default: the app's default)")
    parser.add_argument("--browser", action="store_true", help="also time keystroke to heatmap in headless Chromium")
    parser.add_argument("--lesson", default=None, help="with --browser: open this lesson (e.g. aligns) before typing")
    parser.add_argument("--opus-sized", action="store_true",
                        help="also, first, a random model of opus-mt-en-fr's configuration, opened from a Hub cache "
                             "made here (no download)")
    parser.add_argument("--steps", type=int, default=20, help="pieces each translate of --opus-sized writes")
    loading = parser.add_argument_group("load (bench/load.py): a class, a flood, and the no-op ceiling")
    loading.add_argument("--clients", type=int, default=0, help="students in the class run (0: no load run)")
    loading.add_argument("--think", type=float, default=3.0, help="seconds between a student's requests, on average")
    loading.add_argument("--seconds", type=float, default=30.0, help="length of each load run")
    loading.add_argument("--concurrency", type=int, default=16, help="clients back to back in the capacity runs")
    loading.add_argument("--flood", action="store_true", help="also run the class with one flooding client")
    loading.add_argument("--train", action="store_true", help="also run the class while a lecturer trains in the page")
    loading.add_argument("--calls", type=int, default=0, help="also measure the app's memory over this many calls")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:
        args.hub_model = None
        if args.opus_sized:
            print(f"opus-mt-en-fr's size: {hub_model.REPO_ID}, random weights, put in a Hub cache, opened offline "
                  f"({hub_model.offline_cache(Path(cache), args.steps)})")
            args.hub_model = hub_model.REPO_ID
        if args.clients:
            return load.run(args)
        models.prepare()
        runs.decode_here()  # the in-process figures are this process's own work (the served app has its child)
        spec = args.checkpoint or models.default_checkpoint()
        if spec is None:
            print("error: no checkpoint installed", file=sys.stderr)
            return 1
        print(f"machine: {machine()}")
        for name in [*([args.hub_model] if args.hub_model else []), spec]:
            measure(name, args.n, args.browser, baseline=not args.hub_model, lesson=args.lesson)
        print(f"machine at the end: {machine()}")
    return 0


def measure(spec: str, n: int, browser: bool, baseline: bool, lesson: str | None = None) -> None:
    """Time `spec`: through the served app (and, with `browser`, in Chromium, with `baseline` beside gradio's own
    gr.Plot), then the same work in this process; print the figures."""
    # no text is asked twice of a server, which keeps recent results (a repeat would be a cache hit): the warm-up's
    # texts are never timed, and the browser types others than the client sends
    every = inputs(spec, 3 * n + 3)
    warm, texts, typing, paired = every[:3], every[3:n + 3], every[n + 3:2 * n + 3], every[2 * n + 3:]
    print(f"\ncheckpoint {spec}, {len(texts)} inputs, greedy, bidirectional; {torch.get_num_threads()} torch "
          "thread(s)")

    port, baseline_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as folder:
        processes = [serve(port, Path(folder) / "app.log")]
        try:
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            call = lambda text: client.predict(text, spec, "bidirectional", 0, "", 0, 1,  # noqa: E731
                                               api_name="/translate")
            deadline = time.monotonic() + 300
            while True:  # a Hub model loads in the background, and the server answers "still loading" meanwhile
                try:
                    call(warm[0])
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)
            for text in warm:
                call(text)
            served = []
            for text in texts:
                started = time.perf_counter()
                call(text)
                served.append(time.perf_counter() - started)
            typed, shipped, gradio_plot = [], [], []
            if browser:
                url = f"http://127.0.0.1:{port}/"
                [typed] = browser_times([url], spec, typing, lesson)  # one visitor, alone on the machine
                if baseline:
                    processes.append(serve(baseline_port, Path(folder) / "baseline.log", gradio_plot=True))
                    shipped, gradio_plot = browser_times([url, f"http://127.0.0.1:{baseline_port}/"], spec, paired,
                                                         lesson)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)

    model, figure, encoded, handler = [], [], [], []
    translator = ready(spec).translator
    for text in warm:
        runs.api_translate(text, spec, "bidirectional", 0, "", 0, 1)[1].to_json()
    for text in texts:
        t0 = time.perf_counter()
        r = translator.translate(text)
        t1 = time.perf_counter()
        fig = viz.heatmap(r)
        t2 = time.perf_counter()
        fig.to_json()
        t3 = time.perf_counter()
        _, fig = runs.api_translate(text, spec, "bidirectional", 0, "", 0, 1)
        fig.to_json()
        t4 = time.perf_counter()
        model.append(t1 - t0)
        figure.append(t2 - t1)
        encoded.append(t3 - t2)
        handler.append(t4 - t3)

    if typed:
        print(summary("browser: keystroke -> heatmap, one visitor", typed))
    if gradio_plot:
        print(summary("  key by key with the baseline: as shipped", shipped))
        print(summary("  key by key with the baseline: gradio's gr.Plot", gradio_plot))
        print(f"  baseline / as shipped (medians): {statistics.median(gradio_plot) / statistics.median(shipped):.2f}x")
    print(summary("gradio_client -> /translate", served))
    print(summary("in-process handler (all below)", handler))
    print(summary("  model: translate()", model))
    print(summary("  figure: viz.heatmap()", figure))
    print(summary("  figure JSON: fig.to_json()", encoded))
    ratio = statistics.median(served) / statistics.median(handler)
    median_ms = 1000 * statistics.median(served)
    print(f"served / in-process (medians): {ratio:.1f}x")
    if typed:
        median_ms, what = 1000 * statistics.median(typed), "keystroke to heatmap in the browser"
    else:
        what = "client to heatmap JSON (run with --browser for the whole path)"
    print(f"goal, {what}: median < {GOAL_MS} ms: {'met' if median_ms < GOAL_MS else 'NOT met'} ({median_ms:.0f} ms)")


if __name__ == "__main__":
    sys.exit(main())
