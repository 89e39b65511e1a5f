"""Take the README's screenshots of the app running the trained, bundled checkpoints.

    python -m tests.app.screenshots          # writes assets/screenshots/*.png (needs /usr/bin/chromium)

Each skipped with a note when a checkpoint it needs is not installed: the Explore tab on toy-fr
(adjectives move behind the noun), the Compare tab with dates run bidirectional vs causal, the Train
tab after a run with its defaults (about a minute), and one picture per lesson (lesson-<key>.png),
each as a click on the lesson shows it at 1280×720.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from s2s.web import models, runs
from s2s.web.compare import PRESETS
from s2s.web.lessons import LESSONS
from tests.app.test_browser import CHROMIUM, CHROMIUM_ARGS, type_source
from tests.app.test_browser_lessons import choose as show_lesson
from tests.conftest import served_app

OUT = Path(__file__).resolve().parents[2] / "assets" / "screenshots"
TIMEOUT_MS = 30_000


def wait_for_plot(page: Page, root: str = "#heatmap") -> None:
    page.wait_for_selector(f"{root} .js-plotly-plot .xtick text", timeout=TIMEOUT_MS)
    page.wait_for_timeout(800)  # let plotly finish drawing


def dismiss_toasts(page: Page) -> None:
    """Close gradio's notices (typing over the opening example clears its reference, and says so): the
    screenshots show the page, not a notice over its corner."""
    for close in page.locator(".toast-close").all():
        close.click()
    page.wait_for_function("() => !document.querySelector('.toast-body')", timeout=TIMEOUT_MS)


def choose(page: Page, checkpoint: str, text: str) -> None:
    box = page.locator("#checkpoint").get_by_role("combobox")
    box.fill(checkpoint)
    box.press("Enter")
    page.wait_for_timeout(500)
    type_source(page, text)
    expected = runs.run(runs.Settings(text, checkpoint)).text
    page.wait_for_function("(want) => document.querySelector('#output textarea, #output input').value === want",
                           arg=expected, timeout=TIMEOUT_MS)
    wait_for_plot(page)


def explore(page: Page) -> None:
    choose(page, "toy-fr", "the black cat does not see the small white mouse")
    dismiss_toasts(page)
    page.screenshot(path=OUT / "explore.png", clip={"x": 0, "y": 0, "width": 1280, "height": 900})


def lesson_shot(key: str):
    def take(page: Page) -> None:
        page.set_viewport_size({"width": 1280, "height": 720})
        show_lesson(page, key)
        page.wait_for_timeout(1500)  # the second map of a comparison, the by-length plot
        page.mouse.move(2, 2)  # off the maps: the lesson button clicked lies over a map once the page has scrolled
        page.wait_for_timeout(300)
        page.screenshot(path=OUT / f"lesson-{key}.png")

    return take


def compare(page: Page) -> None:
    choose(page, "dates", "the 3rd of March, 2021")
    page.get_by_role("tab", name="Compare").click()
    page.get_by_role("button", name=PRESETS["mask"]).click()
    wait_for_plot(page, "#plot-diff")
    dismiss_toasts(page)
    page.locator("#main-tabs").screenshot(path=OUT / "compare.png")


def train(page: Page) -> None:
    """The Train tab after a run with its defaults (dates, small): curves, the probe's last map, the status."""
    page.get_by_role("tab", name="Train").click()
    page.locator("#train-start").click()
    page.wait_for_function("() => /Done|Cancelled|failed/.test(document.querySelector('#train-status').innerText)",
                           timeout=150_000)
    wait_for_plot(page, "#train-probe-plot")
    page.locator("#main-tabs").screenshot(path=OUT / "train.png")


SHOTS = {"explore.png": (explore, ["toy-fr"]), "compare.png": (compare, ["dates"]), "train.png": (train, [])} | {
    f"lesson-{lesson.key}.png": (lesson_shot(lesson.key), list(lesson.needs)) for lesson in LESSONS}


def main() -> int:

    if not Path(CHROMIUM).is_file():
        print(f"error: no Chromium at {CHROMIUM}", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with served_app() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, (take, needs) in SHOTS.items():
            missing = [spec for spec in needs if spec not in models.checkpoint_choices()]
            if missing:
                print(f"skipped {name}: {', '.join(missing)} not installed")
                continue
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            wait_for_plot(page)
            take(page)
            page.close()
            print(f"wrote {OUT / name}")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
