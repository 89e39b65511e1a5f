"""The page in a real headless Chromium (Debian's, driven by Playwright): type, watch, step, compare, stay safe.

Screenshots land in artifacts/ (git-ignored). With CI=true these tests never skip; elsewhere they skip,
saying why, when /usr/bin/chromium is missing (install it: apt-get install -y --no-install-recommends
chromium; never `playwright install`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from s2s import viz
from s2s.web import compare, runs, views
from tests.conftest import make_bundled, served_app
from ui.layout import INTRO

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]


CHROMIUM = os.environ.get("S2S_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
XSS = "<img src=x onerror=alert(1)>"
TIMEOUT_MS = 30_000

# JavaScript run in the page. The plot's div is plotly's graph div: .data and .layout are the drawn figure.
TICKS = "([root, axis]) => Array.from(document.querySelectorAll(`${root} .${axis}tick text`)).map(t => t.textContent)"
GRAPH = ("(root) => { const g = document.querySelector(`${root} .js-plotly-plot`); "
         "return g && {traces: g.data.length, shapes: (g.layout.shapes || []).length, font: g.layout.font.size}; }")


def chromium_or_skip() -> str:
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    reason = f"no Chromium at {CHROMIUM}: apt-get install -y --no-install-recommends chromium"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI must run the browser tests, but there is {reason}")
    print(f"skipping the browser tests: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    """The app on tiny random-weight checkpoints: what is checked is the page, not what the model learned."""
    chromium_or_skip()
    # a quicker play-through: the steps, not the pace, are tested
    with served_app(make_bundled(tmp_path_factory.mktemp("checkpoints")), {(views, "PLAY_SECONDS"): 1.0}) as address:
        yield address


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_or_skip(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, url, request):
    """A fresh 1280×720 page (the projector) per test, so one test's state never leaks into the next;
    a screenshot is kept after the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url)
    page.wait_for_selector("#heatmap .js-plotly-plot .xtick text", timeout=30_000)
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
    context.close()


def expected(text: str, **changes) -> tuple[list[str], list[str], str]:
    """(source labels, output labels, output text) as the page should show them, computed in process."""
    r = runs.run(runs.Settings(text, changes.pop("checkpoint", "dates"), **changes))
    return pieces(r.source_pieces), pieces(r.output_pieces), r.text


def pieces(tokens: list[str]) -> list[str]:
    """Pieces as the plot's SVG text holds them (plotly decodes the escaping)."""
    return [viz.display_piece(p, escape=False) for p in tokens]


def ticks(page, axis: str, root: str = "#heatmap") -> list[str]:
    return page.evaluate(TICKS, [root, axis])


def wait_for_ticks(page, axis: str, labels: list[str], root: str = "#heatmap") -> None:
    page.wait_for_function(f"(want) => JSON.stringify(({TICKS})(['{root}', '{axis}'])) === JSON.stringify(want)",
                           arg=labels, timeout=TIMEOUT_MS)


# Resolves once nothing under `root` has changed for `ms` (or after 20 s, whatever the page does).
QUIET = """([root, ms]) => new Promise(resolve => {
  let last = performance.now();
  const started = last;
  const observer = new MutationObserver(() => { last = performance.now(); });
  observer.observe(document.querySelector(root), {subtree: true, childList: true, attributes: true,
                                                  characterData: true});
  const check = () => {
    const now = performance.now();
    if (now - last >= ms || now - started > 20000) { observer.disconnect(); resolve(now - last >= ms); }
    else setTimeout(check, 100);
  };
  check();
})"""


def type_source(page, text: str) -> None:
    """Type `text` key by key, then wait until the map has stopped changing: gradio's always_last does not
    always fold a keystroke's runs, so runs of the final text can still redraw the map a second or two
    after the last key, and would undo a step move or cancel a play-through started meanwhile."""
    box = page.locator("#source").get_by_role("textbox")
    box.fill("")
    box.press_sequentially(text, delay=30)
    page.evaluate(QUIET, ["#heatmap", 1500])


def step_math(page) -> str:
    return page.locator("#step-math").inner_text()


def move_step(page, step: int) -> None:
    """Move the step slider until the step math shows `step` and the map outlines that row, and both stay.

    Typing queues a run per keystroke, and gradio's always_last does not always fold them: runs of the
    final text can still arrive a second or two after the last key (each answers with the same cached
    result), and each puts the slider back on the last step. So the move is repeated until it holds.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    moved = (f"(k) => document.querySelector('#step-math').innerText.includes(`Step ${{k}} of`) && "
             f"({GRAPH})('#heatmap').shapes === 1")
    for _ in range(8):
        page.locator("#step input[type=range]").fill(str(step))
        try:
            page.wait_for_function(moved, arg=step, timeout=TIMEOUT_MS // 3)
        except PlaywrightTimeout:
            continue
        page.wait_for_timeout(1500)  # a late run of the typed text would undo the move within this
        if page.evaluate(moved, step):
            return
    raise AssertionError(f"the step math and the map never stayed on step {step}")


def test_typing_updates_the_heatmap_live(page):
    sources, outputs, text = expected("5 May 1999")
    page.evaluate("() => { document.querySelector('#heatmap .js-plotly-plot').dataset.s2sMark = 'first'; }")
    type_source(page, "5 May 1999")
    wait_for_ticks(page, "x", sources)
    # redrawn in place (ui/liveplot.py): the plot's div is the one drawn at load, not a new one per value
    assert page.evaluate("() => document.querySelector('#heatmap .js-plotly-plot').dataset.s2sMark") == "first"
    wait_for_ticks(page, "y", outputs)
    assert page.locator("#output").get_by_role("textbox").input_value() == text
    assert page.evaluate(GRAPH, "#heatmap")["traces"] == 1  # bidirectional: no masked cells
    page.locator("#source").get_by_role("textbox").press("Backspace")  # deleting updates it too
    wait_for_ticks(page, "x", expected("5 May 199")[0])
    page.keyboard.insert_text("8")  # as a paste or an input method does: no key press
    wait_for_ticks(page, "x", expected("5 May 1998")[0])


def test_switching_to_causal_changes_the_plot_and_says_why(page):
    type_source(page, "5 May 1999")
    wait_for_ticks(page, "x", expected("5 May 1999")[0])
    page.locator("#mask").get_by_text("causal").click()
    page.wait_for_function(f"() => ({GRAPH})('#heatmap').traces === 2", timeout=TIMEOUT_MS)  # the grey mask layer
    assert "Mask mismatch" in page.locator("#status").inner_text()
    wait_for_ticks(page, "y", expected("5 May 1999", mask="causal")[1])


def test_the_step_slider_reveals_rows_and_explains_the_step(page):
    _, outputs, _ = expected("5 May 1999")
    type_source(page, "5 May 1999")
    wait_for_ticks(page, "y", outputs)
    last = len(outputs) - 1
    page.wait_for_function("(last) => document.querySelector('#step input[type=range]').max == last", arg=last,
                           timeout=TIMEOUT_MS)
    assert f"Step {last} of {last}" in step_math(page)
    move_step(page, 0)  # the step math says step 0 and the map outlines its row
    page.locator("#layer").get_by_text("layer 1").click()
    page.wait_for_function("() => document.querySelector('#step-math').innerText.includes('layer 1')",
                           timeout=TIMEOUT_MS)


def test_play_steps_through_to_the_end(page):
    _, outputs, _ = expected("5 May 1999")
    type_source(page, "5 May 1999")
    wait_for_ticks(page, "y", outputs)
    page.locator("#play").click()
    page.wait_for_function("() => document.querySelector('#step-math').innerText.includes('Step 0 of') || "
                           "document.querySelector('#step-math').innerText.includes('Step 1 of')",
                           timeout=TIMEOUT_MS)  # the play-through starts from the top (a busy machine may skip one)
    last = len(outputs) - 1
    page.wait_for_function(f"() => document.querySelector('#step-math').innerText.includes('Step {last} of')",
                           timeout=TIMEOUT_MS)
    page.wait_for_function(f"() => ({GRAPH})('#heatmap').shapes === 0", timeout=TIMEOUT_MS)  # the whole map again


def test_typed_markup_is_shown_as_text_and_never_runs(page):
    type_source(page, XSS)
    wait_for_ticks(page, "x", expected(XSS)[0])
    shown = "".join(ticks(page, "x"))  # the tokenizer spells "<" as the byte piece "<0x3C>": text, not a tag
    assert shown.startswith("<0x3C>img") and "onerror" in shown
    assert page.evaluate("() => document.querySelectorAll('#heatmap img, [onerror]').length") == 0  # ...not parsed
    checkpoint = page.locator("#checkpoint").get_by_role("combobox")
    checkpoint.fill(XSS)
    checkpoint.press("Enter")
    page.wait_for_function("() => document.querySelector('#status').innerText.includes('not a checkpoint')",
                           timeout=TIMEOUT_MS)
    assert XSS in page.locator("#status").inner_text()
    assert page.evaluate("() => document.querySelectorAll('img[src=x], [onerror]').length") == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []
    checkpoint.fill("dates")
    checkpoint.press("Enter")
    page.wait_for_function("() => !document.querySelector('#status').innerText.includes('not a checkpoint')",
                           timeout=TIMEOUT_MS)


def test_an_example_fills_the_form_and_runs(page):
    sources, outputs, text = expected("the 21st of June, 1999")
    page.locator("#examples").get_by_text("the 21st of June, 1999").click()
    wait_for_ticks(page, "x", sources)
    assert page.locator("#source").get_by_role("textbox").input_value() == "the 21st of June, 1999"
    assert page.locator("#output").get_by_role("textbox").input_value() == text


def test_beam_search_lists_hypotheses_and_plots_the_one_chosen(page):
    type_source(page, "5 May 1999")
    wait_for_ticks(page, "x", expected("5 May 1999")[0])
    page.get_by_text("Decoding", exact=True).click()
    page.locator("#controls").get_by_text("beam", exact=True).click()
    beam = runs.run(runs.Settings("5 May 1999", "dates", beam_size=4))
    page.get_by_role("tab", name="n-best").click()
    page.wait_for_function("(n) => document.querySelectorAll('#rank input[type=radio]').length === n",
                           arg=len(beam.hypotheses), timeout=TIMEOUT_MS)
    assert beam.hypotheses[1].text in page.locator("#nbest").inner_text()
    # In 2 of 5 CI runs (never in 30 local ones, alone, with the module, after the tests before it, with
    # the CPUs loaded or the server slowed) the first click on "2" was lost: "1" stayed checked and the
    # status never changed, even once the results had been still for a second. What is tested is that a
    # hypothesis chosen is the one plotted, so a lost click is clicked again, at most twice more.
    page.evaluate(QUIET, ["#results", 1000])
    chosen = "() => document.querySelector('#status').innerText.includes('hypothesis 2 of')"
    for attempt in range(3):
        page.locator("#rank").get_by_text("2", exact=True).click()
        try:
            page.wait_for_function(chosen, timeout=TIMEOUT_MS // 3)
            break
        except PlaywrightTimeout:
            assert attempt < 2, "three clicks on hypothesis 2 and the page never showed it"
    wait_for_ticks(page, "y", pieces(beam.hypotheses[1].output_pieces))
    page.locator("#controls").get_by_text("greedy", exact=True).click()
    page.get_by_text("Decoding", exact=True).click()
    page.get_by_role("tab", name="Heatmap").click()


def test_fed_and_predicted_and_export_tabs(page):
    type_source(page, "5 May 1999")
    _, outputs, _ = expected("5 May 1999")
    wait_for_ticks(page, "y", outputs)
    page.get_by_role("tab", name="Fed & predicted").click()
    first = ["0", "⟨bos⟩", "no", outputs[0]]  # step, fed, forced?, predicted
    page.wait_for_function("(want) => Array.from(document.querySelectorAll('#forcing-table [role=row]')).some(row => "
                           "JSON.stringify(Array.from(row.querySelectorAll('[role=gridcell]')).slice(0, 4)"
                           ".map(c => c.textContent.trim())) === JSON.stringify(want))", arg=first, timeout=TIMEOUT_MS)
    page.get_by_role("tab", name="Export").click()
    page.locator("#export").click()
    page.wait_for_selector("a[download*='heatmap.html']", timeout=TIMEOUT_MS)
    for name in ("attention.csv", "attention.json", "heatmap.html"):
        assert page.locator(f"a[download*='{name}']").count() == 1
    page.get_by_role("tab", name="Heatmap").click()


def test_presenter_mode_enlarges_the_page_and_the_plot(page):
    small = page.evaluate(GRAPH, "#heatmap")["font"]
    page.locator("#presenter").get_by_role("checkbox").check()
    page.wait_for_function(f"(small) => ({GRAPH})('#heatmap').font > small", arg=small, timeout=TIMEOUT_MS)
    assert page.evaluate("() => document.body.classList.contains('presenter')")
    size = page.evaluate("() => getComputedStyle(document.querySelector('#source textarea, #source input')).fontSize")
    assert float(size.removesuffix("px")) >= 24
    # the title and the lesson buttons too (gradio's prefix made the plain rules outrank presenter's: 20, 12.8 px)
    title, lesson = (page.evaluate(f"() => parseFloat(getComputedStyle(document.querySelector('{css}')).fontSize)")
                     for css in ("#header h1", "#lessons button"))
    assert title >= 30 and lesson >= 16, (title, lesson)


def test_compare_preset_plots_both_runs_and_their_difference(page):
    page.get_by_role("tab", name="Compare").click()
    page.get_by_role("button", name=compare.PRESETS["mask"]).click()
    for root in ("#plot-a", "#plot-b", "#plot-diff"):
        page.wait_for_selector(f"{root} .js-plotly-plot .xtick text", timeout=TIMEOUT_MS)
    summary = page.locator("#compare-summary").inner_text()
    assert "bidirectional" in summary and "causal" in summary


def test_the_tab_bar_lists_each_tab_once_whichever_is_open(page):
    """A component left directly in gr.Tabs (not in a Tab) made gradio show the next tab twice once opened."""
    bar = "() => Array.from(document.querySelectorAll('#main-tabs > .tab-wrapper [role=tablist] > [role=tab]'))" \
          ".map(tab => tab.innerText)"
    tabs = page.evaluate(bar)
    assert tabs == ["Explore", "Compare", "Train"]
    for name in ("Train", "Compare", "Train", "Explore"):
        page.locator(f"#main-tabs [role=tab][data-tab-id={name.lower()}]").first.click()
        page.wait_for_function(f"() => document.querySelector('#main-tabs [role=tab][aria-selected=true]')"
                               f".dataset.tabId === '{name.lower()}'", timeout=TIMEOUT_MS)
        page.wait_for_timeout(300)  # the duplicate came as the opened tab's contents mounted
        assert page.evaluate(bar) == tabs, name


def test_a_phone_gets_one_column_without_sideways_scrolling(browser, url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#heatmap .js-plotly-plot .xtick text", timeout=30_000)
    source, results, menu = (page.locator(s).bounding_box() for s in ("#source", "#results", "#checkpoint"))
    # stacked, not side by side: the source box, then the results, then the other controls (style.css)
    assert results["y"] >= source["y"] + source["height"] - 1 and menu["y"] >= results["y"] + results["height"] - 1
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    heatmap, step = page.locator("#heatmap").bounding_box(), page.locator("#step-plot").bounding_box()
    assert heatmap["width"] >= 300 and step["y"] >= heatmap["y"] + heatmap["height"] - 1  # the map ~60 px wide before
    for plot in ("#heatmap", "#step-plot"):  # titles were cut at both sides ("directional · … no teacher forci")
        page.wait_for_function("""(root) => { const t = document.querySelector(`${root} .gtitle`);
          const p = document.querySelector(`${root} .main-svg`); if (!p) return false; if (!t) return true;
          const a = t.getBoundingClientRect(), b = p.getBoundingClientRect();
          return a.left >= b.left - 1 && a.right <= b.right + 1; }""", arg=plot, timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "phone.png", full_page=True)
    context.close()


def test_the_landing_page_says_what_it_is_in_one_line(page):
    """Issue 22: the page's one-line introduction was inside the folded "What am I looking at?"; a visitor
    landing on it saw a title, buttons and a map, and no word of what they were."""
    line = page.locator("#tagline")
    box = line.bounding_box()
    assert line.inner_text().strip() == INTRO
    assert box and 0 <= box["y"] and box["y"] + box["height"] <= 200 and box["height"] < 50, box  # at the top
