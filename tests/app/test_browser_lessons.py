"""Each lesson from the landing page, in a real headless Chromium at 1280×720, on the bundled checkpoints.

A click on a lesson must set every control it names, show its result in the tab it names with its
title, keep the whole map on screen (presenter mode too), and the picture must show what the
lesson's text claims: the checks read the numbers plotly drew in the page.
"""

from __future__ import annotations

import io
import re
import zipfile

import numpy as np
import pytest

import s2s
from s2s.web import compare, heads, lessons, views
from tests.app.test_browser import (  # noqa: F401 (browser is a fixture)
    ARTIFACTS,
    browser,
    chromium_or_skip,
    pieces,
    type_source,
)
from tests.conftest import served_app
from ui.compare import ON_SCREEN

pytestmark = pytest.mark.browser

TIMEOUT_MS = 60_000
VIEWPORT = {"width": 1280, "height": 720}
# The drawn figure of a plot: its traces' z (as nested lists), names, y values, and the title text.
# Weights reach plotly as float32 base64 ({dtype: "f4", bdata, shape: "rows,cols"}), decoded here.
DRAWN = """(root) => { const g = document.querySelector(`${root} .js-plotly-plot`); if (!g) return null;
  const rows = (z) => {
    if (!z) return null;
    if (!z.bdata) return Array.from(z, (row) => Array.from(row));
    const bytes = Uint8Array.from(atob(z.bdata), (c) => c.charCodeAt(0));
    const values = new Float32Array(bytes.buffer), [n, m] = String(z.shape).split(",").map(Number);
    return Array.from({length: n}, (_, r) => Array.from(values.slice(r * m, (r + 1) * m)));
  };
  return {title: g.layout.title && g.layout.title.text,
          traces: g.data.map((t) => ({z: rows(t.z), y: t.y && Array.from(t.y), x: t.x && Array.from(t.x),
                                      name: t.name || "", type: t.type,
                                      cells: t.cells && t.cells.values.map((c) => Array.from(c))})),
          ticks: Array.from(document.querySelectorAll(`${root} .xtick text`)).map((t) => t.textContent)}; }"""

YTICKS = "(root) => Array.from(document.querySelectorAll(`${root} .ytick text`)).map((t) => t.textContent)"


@pytest.fixture(scope="module")
def url():
    chromium_or_skip()
    with served_app() as address:  # the real bundled checkpoints: the lessons' claims are about them
        yield address


@pytest.fixture
def page(browser, url, request):  # noqa: F811 (the fixture imported above)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#heatmap .js-plotly-plot .xtick text", timeout=TIMEOUT_MS)
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{request.node.name}.png")
    context.close()


def choose(page, key: str):
    """Click lesson `key` and wait until its map shows its source's pieces; returns (lesson, plot selector)."""
    lesson = lessons.BY_KEY[key]
    root = "#plot-a" if lesson.show == lessons.COMPARE else "#heatmap"
    model = s2s.load(lesson.a.checkpoint)
    page.click(f"#lesson-{key}")
    if not model.model.has_attention:  # no map: its message, and the comparison's summary
        page.wait_for_function("() => document.querySelector('#compare-summary')?.innerText?.includes('forcing')",
                               timeout=TIMEOUT_MS)
        return lesson, root
    want = pieces(model.translate(lesson.a.text).source_pieces)
    page.wait_for_function(f"(want) => {{ const d = ({DRAWN})('{root}'); "
                           "return d && JSON.stringify(d.ticks) === JSON.stringify(want); }",
                           arg=want, timeout=TIMEOUT_MS)
    page.wait_for_function("(want) => document.querySelector('#checkpoint input').value === want",
                           arg=lesson.a.checkpoint, timeout=TIMEOUT_MS)
    settled(page, root)
    return lesson, root


def settled(page, root: str) -> None:
    """Wait until the map stops changing: a lesson sets several controls, and each may redraw it."""
    before = None
    for _ in range(30):
        now = drawn(page, root)
        if now == before:
            return
        before = now
        page.wait_for_timeout(700)


def drawn(page, root: str) -> dict:
    return page.evaluate(DRAWN, root)


def on_screen(page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    assert box and box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"] + 1, (selector, box)


def controls_show(page, lesson) -> None:
    a = lesson.a
    assert page.locator("#source textarea, #source input").first.input_value() == a.text
    assert page.locator("#checkpoint input").first.input_value() == a.checkpoint
    assert page.locator("#mask").get_by_label(a.mask, exact=True).is_checked()
    assert page.locator("#lesson-text").inner_text().strip().startswith(lesson.title)


def test_1_attention_aligns_the_year_rows_look_at_the_year(page):
    lesson, root = choose(page, "aligns")
    controls_show(page, lesson)
    assert page.locator("#display").get_by_label(views.SCALE_ROWS).is_checked()
    figure = drawn(page, root)
    assert "bidirectional" in figure["title"] and "mean of 2 layers" in figure["title"]
    weights = np.array(figure["traces"][0]["z"], dtype=float)  # row-scaled: each row's peak is 1
    year = [j for j, piece in enumerate(figure["ticks"]) if piece in "1999" and j > figure["ticks"].index("·June")]
    assert set(weights[:4].argmax(1)) <= set(year)
    on_screen(page, root)


def test_no_lesson_box_is_drawn_until_a_lesson_is_chosen(page):
    """An empty lesson box was drawn above the text box as a thin striped bar, like a stalled progress bar."""
    assert not page.locator("#lesson-text").is_visible() and not page.locator(".lesson-text").first.is_visible()
    choose(page, "matrix")
    assert page.locator("#lesson-text").is_visible()


def test_2_why_attention_reverse_beats_no_attention_on_long_inputs(page):
    lesson, root = choose(page, "why")
    assert page.locator("#checkpoint input").first.input_value() == "reverse"
    page.wait_for_function(f"() => ({DRAWN})('#by-length') && ({DRAWN})('#by-length').traces.length === 3",
                           timeout=120_000)
    lines = {trace["name"]: dict(zip(trace["x"], trace["y"])) for trace in drawn(page, "#by-length")["traces"]}
    long = ["21-25", "26-30"]
    assert all(lines["reverse"][b] - lines["reverse-noattn"][b] >= 50 for b in long)
    summary = page.locator("#compare-summary").inner_text()
    letters = len(lesson.a.reference.replace(" ", ""))
    assert "✓ matches the reference" in summary and f" of {letters} characters right" in summary


def test_3_forcing_hides_what_free_decoding_gets_wrong(page):
    lesson, _ = choose(page, "forcing")
    controls_show(page, lesson)
    summary = page.locator("#compare-summary").inner_text().splitlines()

    def written(run: str) -> list[str]:  # "A (checkpoint, …): s p m … ✗ differs …" -> the letters written
        line = next(line for line in summary if line.startswith(f"{run} ("))
        return line.split("): ", 1)[1].split(" ✗")[0].split(" ✓")[0].split()

    forced, free, reference = written("A"), written("B"), lesson.a.reference.split()
    right = [sum(a == b for a, b in zip(letters, reference)) / len(reference) for letters in (forced, free)]
    assert right[0] >= 0.85 and right[0] >= right[1] + 0.15, right
    # No attention, so each map's place shows the steps: A fed the reference (▸) at every step after the first,
    # B its own output; B's ✗ rows are the errors piling up (the page showed two empty "no attention" boxes)
    tables = {}
    for run in ("a", "b"):
        page.wait_for_function(f"() => ({DRAWN})('#plot-{run}') && ({DRAWN})('#plot-{run}').traces[0].type === 'table'",
                               timeout=TIMEOUT_MS)
        step, fed, wrote, wanted, marks = drawn(page, f"#plot-{run}")["traces"][0]["cells"]
        tables[run] = dict(fed=fed, wrote=wrote, wanted=wanted, wrong=marks.count("✗"))
    assert all(piece.startswith("▸") for piece in tables["a"]["fed"][1:])
    assert not any(piece.startswith("▸") for piece in tables["b"]["fed"])
    assert [p.strip("·") for p in tables["b"]["wrote"][: len(free)]] == free  # the letters the summary says
    assert tables["b"]["wrong"] >= tables["a"]["wrong"] + 2 and tables["b"]["wanted"] == tables["a"]["wanted"]
    assert "characters right (spaces aside)" in page.locator("#compare-summary").inner_text()


def test_4_a_causal_mask_greys_the_future(page):
    lesson, root = choose(page, "causal")
    page.wait_for_function(f"() => ({DRAWN})('#plot-b') && ({DRAWN})('#plot-b').traces.length === 2",
                           timeout=TIMEOUT_MS)
    masked = np.array(drawn(page, "#plot-b")["traces"][1]["z"], dtype=float)  # 1 where the mask forbids
    steps, width = masked.shape
    future = np.arange(width)[None, :] > np.arange(steps)[:, None]
    assert np.array_equal(np.nan_to_num(masked) == 1, future)
    assert "causal" in drawn(page, "#plot-b")["title"]
    spread = np.array(drawn(page, "#plot-a")["traces"][0]["z"], dtype=float)  # A's thin weights, scaled per row
    np.testing.assert_allclose(np.nanmax(spread, 1), 1.0, atol=1e-5)


def test_5_the_step_is_drawn_beside_the_map_for_the_layer_shown(page):
    lesson, root = choose(page, "matrix")
    page.wait_for_function(f"() => ({DRAWN})('#step-plot') && ({DRAWN})('#step-plot').traces.length >= 4",
                           timeout=TIMEOUT_MS)
    figure = drawn(page, "#step-plot")
    assert "layer 0" in figure["title"]
    w, values, context = (np.array(figure["traces"][i]["z"], dtype=float) for i in (1, 2, 3))
    np.testing.assert_allclose(w[:, 0] @ values, context[0], atol=1e-4)  # c = w V, from what is drawn
    on_screen(page, root)
    on_screen(page, "#step-plot")
    labels = page.evaluate(LABELS_INSIDE, "#step-plot")  # every label of the step's grids can be read whole
    assert labels["count"] >= 4 and labels["bad"] == [], labels
    # the source pieces label w's rows from its left: they were drawn over the w column (walk-through 2026-11-29)
    sides = page.evaluate("""() => { const w = document.querySelector('#step-plot .x2y2 .hm image');
      const ticks = Array.from(document.querySelectorAll('#step-plot .y2tick text'), (t) => t.getBoundingClientRect());
      return {w: w && w.getBoundingClientRect().left, right: Math.max(...ticks.map((b) => b.right)),
              n: ticks.length}; }""")
    assert sides["n"] >= 4 and sides["w"] is not None and sides["right"] <= sides["w"] + 1, sides


def test_a_lesson_opens_the_heatmaps_tab_whatever_results_tab_was_open(page):
    """From Export, lesson 5 showed its text over the Export panel, not the map and slider it talks of."""
    page.get_by_role("tab", name="Export").click()
    page.wait_for_selector("#export", state="visible", timeout=TIMEOUT_MS)
    choose(page, "matrix")
    page.wait_for_selector("#step", state="visible", timeout=TIMEOUT_MS)
    assert page.locator("#heatmap").is_visible() and not page.locator("#export").is_visible()


def test_typing_another_source_puts_the_lesson_away_without_a_toast(page):
    """After lesson 1, typing 5 May 1987 kept "look at … on 1 9 9 9" on screen, and an Info toast about the
    reference covered the controls though forcing was off (walk-through of 2026-11-29)."""
    choose(page, "aligns")
    assert page.locator("#lesson-text").is_visible()
    type_source(page, "5 May 1987")
    page.wait_for_selector("#lesson-text", state="hidden", timeout=TIMEOUT_MS)
    assert page.locator(".toast-body").count() == 0


# Labels (plotly's annotations) of a plot that reach past its drawn area (clipped) or onto another label.
LABELS_INSIDE = """(root) => {
  const plot = document.querySelector(`${root} .main-svg`).getBoundingClientRect();
  const boxes = Array.from(document.querySelectorAll(`${root} .annotation-text`), (t) => [t.textContent,
                                                                                         t.getBoundingClientRect()]);
  const bad = boxes.filter(([, b]) => b.left < plot.left - 1 || b.right > plot.right + 1).map(([t]) => `clipped: ${t}`);
  boxes.forEach(([a, p], i) => boxes.slice(i + 1).forEach(([b, q]) => {
    if (p.left < q.right && q.left < p.right && p.top < q.bottom && q.top < p.bottom) bad.push(`overlap: ${a} / ${b}`);
  }));
  return {count: boxes.length, bad};
}"""


def test_6_the_notebooks_query_repeats_rows_for_the_same_fed_piece(page):
    lesson, root = choose(page, "query")
    assert page.locator("#display").get_by_label(views.ROWS_BY_FED).is_checked()
    labels = page.evaluate(YTICKS, "#heatmap")
    fed = [label.split(" → ")[0] for label in labels]
    weights = np.array(drawn(page, root)["traces"][0]["z"], dtype=float)
    same = [(s, t) for s in range(len(fed)) for t in range(s + 1, len(fed)) if fed[s] == fed[t]]
    assert len(same) >= 4
    for s, t in same:
        np.testing.assert_allclose(weights[s], weights[t], atol=1e-4)


def test_presenter_mode_keeps_the_map_on_screen_and_zero_light(page):
    choose(page, "aligns")
    page.locator("#presenter input").check()
    page.wait_for_function("() => document.body.classList.contains('presenter')", timeout=TIMEOUT_MS)
    page.wait_for_function(f"() => ({DRAWN})('#heatmap').traces[0] && "
                           "document.querySelector('#heatmap .js-plotly-plot').layout.font.size >= 20",
                           timeout=TIMEOUT_MS)
    scale = page.evaluate("() => document.querySelector('#heatmap .js-plotly-plot').data[0].colorscale[0][1]")
    red, green, blue = (int(v) / 255 for v in re.findall(r"\d+", scale)[:3])  # "rgb(255,255,217)"
    assert 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.85, scale  # weight 0 is light
    page.wait_for_timeout(1200)  # the page scrolls the larger map into view
    on_screen(page, "#heatmap")


def test_choosing_a_causal_checkpoint_chooses_its_mask(page):
    box = page.locator("#checkpoint").get_by_role("combobox")
    box.fill("reverse-causal")
    box.press("Enter")
    checked = "document.querySelector('#mask input[type=radio]:checked')?.closest('label')?.innerText.trim()"
    page.wait_for_function(f"() => {checked} === 'causal'", timeout=TIMEOUT_MS)
    # the run with the checkpoint's own mask replaces the one made before the mask followed: no mismatch left
    page.wait_for_function("() => document.querySelector('#output textarea, #output input').value !== '' && "
                           "!document.querySelector('#status').innerText.includes('Mask mismatch')",
                           timeout=TIMEOUT_MS)


def test_train_a_small_model_watch_it_learn_then_use_it_in_explore(page):
    page.get_by_role("tab", name="Train").click()
    on_screen(page, "#train-start")  # issue 22: it was at 967 px, below a 720 px projector's fold
    page.locator("#train-start").click()
    seen, deadline = [], 100
    for _ in range(deadline):  # the probe is redrawn every few seconds: collect distinct maps
        figure = drawn(page, "#train-probe-plot")
        z = figure and figure["traces"] and figure["traces"][0]["z"]
        if z and (not seen or z != seen[-1]):
            seen.append(z)
        if len(seen) >= 3:
            break
        page.wait_for_timeout(1000)
    assert len(seen) >= 3, "the probe's attention changed fewer than three times"
    page.wait_for_function(f"() => ({DRAWN})('#train-curves').traces[0].y.length >= 3", timeout=TIMEOUT_MS)
    loss = drawn(page, "#train-curves")["traces"][0]["y"]
    assert loss[-1] < loss[0]
    page.locator("#train-cancel").click()
    page.wait_for_function("() => /Cancelled|Done/.test(document.querySelector('#train-status').innerText)",
                           timeout=TIMEOUT_MS)
    rows = np.array(drawn(page, "#train-probe-plot")["traces"][0]["z"], dtype=float)
    np.testing.assert_allclose(np.nanmax(rows, 1), 1.0, atol=1e-6)  # row-scaled: it was near white on 0..1
    box = page.locator("#train-replay input[type=number]")
    box.fill("0")
    box.press("Enter")  # the replay followed a mouse release only
    page.wait_for_function(f"() => ({DRAWN})('#train-probe-plot').title.includes('snapshot 1 of')",
                           timeout=TIMEOUT_MS)
    assert not page.locator("#train-files").is_visible(), "no empty download box before an export"
    page.locator("#train-export").click()
    link = page.wait_for_selector("#train-files a[download$='.zip']", timeout=TIMEOUT_MS)
    archive = zipfile.ZipFile(io.BytesIO(page.request.get(link.get_attribute("href")).body()))
    assert {"config.json", "model.safetensors", "README.md"} <= set(archive.namelist()), archive.namelist()
    page.locator("#train-use").click()
    page.wait_for_function("() => document.querySelector('#checkpoint input').value.startsWith('trained-')",
                           timeout=TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('#output textarea, #output input').value.length > 0 && "
                           "document.querySelector('#source textarea, #source input').value === "
                           "'the 21st of June, 1999'", timeout=TIMEOUT_MS)
    # the button sets five controls, each of which runs the model: the last run, with all five set, has no problem
    page.wait_for_function("() => !document.querySelector('#status').innerHTML.includes('s2s-problem')",
                           timeout=TIMEOUT_MS)
    page.wait_for_timeout(500)
    on_screen(page, "#heatmap")  # Explore opens with its map on screen, not scrolled to where Use it was


def test_a_second_lecturer_waits_in_line_and_starts_by_itself(browser, url):  # noqa: F811 (the fixture)
    """One training slot on a CPU: the second page's press gets a place in line, kept while the page is open,
    and its run starts when the first ends, without pressing again (a script used to take every freed slot)."""
    pages = []
    for _ in range(2):
        context = browser.new_context(viewport=VIEWPORT)
        pages.append(context.new_page())
        pages[-1].goto(url)
        pages[-1].wait_for_selector("#heatmap .js-plotly-plot .xtick text", timeout=TIMEOUT_MS)
        pages[-1].get_by_role("tab", name="Train").click()
    first, second = pages
    status = "(p) => document.querySelector('#train-status').innerText"
    first.locator("#train-start").click()
    first.wait_for_function(f"() => /steps|epoch|Training/.test(({status})())", timeout=TIMEOUT_MS)
    second.locator("#train-start").click()
    second.wait_for_function(f"() => ({status})().includes('number 1 in line')", timeout=TIMEOUT_MS)
    second.wait_for_timeout(3000)  # it keeps its place while it waits
    assert "number 1 in line" in second.evaluate(f"() => ({status})()")
    first.locator("#train-cancel").click()
    second.wait_for_function(f"() => !({status})().includes('in line') && /Starting|steps|epoch|Training/"
                             f".test(({status})())", timeout=TIMEOUT_MS)
    second.locator("#train-cancel").click()
    second.wait_for_function(f"() => /Cancelled|Done/.test(({status})())", timeout=TIMEOUT_MS)
    for page in pages:
        page.context.close()


# Every drawn plot in the elements a lesson must show (ui.compare.ON_SCREEN), its box and its title's box.
PLOTS_SHOWN = """(selectors) => selectors.map((s) => document.querySelector(s))
  .filter((e) => e && e.offsetParent !== null)
  .flatMap((e) => Array.from(e.querySelectorAll('.js-plotly-plot')).map((g) => {
    const box = g.getBoundingClientRect(), title = g.querySelector('.gtitle');
    const t = title ? title.getBoundingClientRect() : box;
    return {id: e.id, top: box.top, bottom: box.bottom, left: box.left, right: box.right,
            title: [t.top, t.bottom, t.left, t.right]}; }))"""


def lesson_buttons(page) -> list[dict]:
    return page.evaluate("() => Array.from(document.querySelectorAll('#lessons button')).map((b) => {"
                         "const r = b.getBoundingClientRect(); return {height: r.height, left: r.left, right: r.right,"
                         " one_line: b.scrollWidth <= b.clientWidth + 1 && r.height < 40}; })")


@pytest.mark.parametrize("presenter", [False, True], ids=["normal", "presenter"])
def test_every_lesson_s_maps_and_their_titles_are_on_a_720_px_screen(page, presenter):
    """Issue 22: lessons 2-4 opened with their maps at 600-676 px and ending at 1,043-1,281 px; in presenter
    mode maps ran past the bottom, titles past the sides, and a lesson button wrapped onto two lines."""
    if presenter:
        page.locator("#presenter input").check()
        page.wait_for_function("() => document.body.classList.contains('presenter')", timeout=TIMEOUT_MS)
    for key, lesson in lessons.BY_KEY.items():
        choose(page, key)
        page.wait_for_timeout(1800)  # the page scrolls the maps into view once they are drawn
        plots = page.evaluate(PLOTS_SHOWN, list(ON_SCREEN[lesson.show]))
        assert len(plots) >= (1 if lesson.show == lessons.HEAD_GRID else 2), (key, plots)
        for plot in plots:
            top, bottom, left, right = plot["title"]
            assert plot["top"] >= 0 and plot["bottom"] <= VIEWPORT["height"] + 1, (key, presenter, plot)
            assert top >= 0 and left >= 0 and right <= VIEWPORT["width"] and bottom <= VIEWPORT["height"], (key, plot)
        if key == "matrix":
            on_screen(page, "#step")
    buttons = lesson_buttons(page)
    assert len({round(b["height"]) for b in buttons}) == 1 and all(b["one_line"] for b in buttons), buttons


def test_on_a_phone_titles_and_lesson_buttons_are_not_clipped(browser, url):  # noqa: F811
    """Issue 22: at 390x844 plot titles were cut at both sides and the lesson buttons wrapped onto three lines."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#heatmap .js-plotly-plot .xtick text", timeout=TIMEOUT_MS)
    try:
        buttons = lesson_buttons(page)
        # on a phone a long title may take two lines, but no button is cut or runs off the screen
        clipped = [b for b in buttons if not (b["left"] >= 0 and b["right"] <= 390)]
        assert not clipped and page.evaluate("() => Array.from(document.querySelectorAll('#lessons button'))"
                                             ".every((b) => b.scrollWidth <= b.clientWidth + 1)"), clipped
        for key in ("aligns", "why", "causal"):
            choose(page, key)
            page.wait_for_timeout(1800)
            plots = page.evaluate(PLOTS_SHOWN, ["#heatmap", "#step-plot", "#plot-a", "#plot-b", "#plot-diff"])
            assert plots and all(p["title"][2] >= 0 and p["title"][3] <= 390 for p in plots), (key, plots)
            if key == "aligns":  # the lesson's text and its map were ~1,600 px apart (every control between them)
                text, map_ = (page.locator(s).bounding_box() for s in ("#lesson-text", "#heatmap"))
                assert 0 <= map_["y"] - (text["y"] + text["height"]) < 600, (text, map_)
    finally:
        page.screenshot(path=ARTIFACTS / "phone-lessons.png")
        context.close()


# Each shown map's title and its toolbar (plotly's modebar, shown on hover): [left, top, right, bottom] each.
TOOLBARS = """(roots) => roots.flatMap((root) => Array.from(document.querySelectorAll(`${root} .js-plotly-plot`)))
  .filter((g) => g.offsetParent && g.querySelector('.gtitle')).map((g) => {
    const box = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
    const bar = g.querySelector('.modebar');
    return {title: box(g.querySelector('.gtitle')), bar: bar ? box(bar) : [0, 0, 0, 0]}; })"""


def overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3] and b[2] > b[0]


@pytest.mark.parametrize("viewport", [VIEWPORT, {"width": 390, "height": 844}], ids=["projector", "phone"])
def test_the_toolbar_never_covers_a_map_s_title(browser, url, viewport):  # noqa: F811
    """Issue 22: plotly's toolbar, shown on hover at a map's top right, was drawn over its title (at 1280x720 it
    covered the title's right third; on a phone most of it). It now has three tools, the title fits between its
    widths, and a phone, which has no hover, has none."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#heatmap .js-plotly-plot .xtick text", timeout=TIMEOUT_MS)
    try:
        for presenter in (False, True):
            if presenter:
                page.locator("#presenter input").check()
                page.wait_for_function("() => document.body.classList.contains('presenter')", timeout=TIMEOUT_MS)
            for key in ("aligns", "why", "causal"):
                _, root = choose(page, key)
                page.wait_for_timeout(1200)
                page.hover(f"{root} .js-plotly-plot .nsewdrag")
                shown = page.evaluate(TOOLBARS, ["#heatmap", "#plot-a", "#plot-b", "#plot-diff"])
                assert shown, (key, presenter)
                assert not any(overlap(map_["title"], map_["bar"]) for map_ in shown), (key, presenter, shown)
    finally:
        page.screenshot(path=ARTIFACTS / f"toolbar-{viewport['width']}.png")
        context.close()


def test_after_a_comparison_lesson_the_fed_and_predicted_table_is_drawn_whole(page):
    """Issue 22: after lesson 3, Explore's Fed & predicted table showed an empty `fed` column and misaligned
    headers ("referenc") until the window was resized: it had been laid out while its tab was hidden."""
    choose(page, "forcing")
    page.get_by_role("tab", name="Explore").click()
    page.get_by_role("tab", name=views.FED).click()
    page.wait_for_timeout(1000)
    table = page.evaluate("""() => {
      const header = Array.from(document.querySelectorAll(
        '#forcing-table thead th, #forcing-table [role=columnheader]')).filter((c) => c.offsetParent !== null);
      const rows = Array.from(document.querySelectorAll('#forcing-table [role=row]')).map((row) =>
        Array.from(row.querySelectorAll('[role=gridcell]')).map((c) => c.textContent.trim()));
      return {header: header.map((c) => [c.textContent.trim(), c.getBoundingClientRect().width,
                                         c.scrollWidth <= c.clientWidth + 1]),
              rows: rows.filter((r) => r.length)}; }""")
    assert table["rows"] and all(row[1] for row in table["rows"]), table["rows"][:5]  # every step's fed piece
    assert all(width > 0 and whole for _, width, whole in table["header"]), table["header"]


HEAD_PANELS = """() => { const g = document.querySelector('#heads .js-plotly-plot'); if (!g) return null;
  return {panels: g.data.filter((t) => t.hovertemplate).length, greys: g.data.filter((t) => !t.hovertemplate).length,
          title: g.layout.title && g.layout.title.text}; }"""


def test_a_transformer_s_heads_every_head_drawn_for_the_kind_chosen(page):
    """Issue 23: the Heads tab draws a Transformer's layers x heads as small maps, for the kind of attention
    chosen; the decoder's self-attention greys its future."""
    box = page.locator("#checkpoint").get_by_role("combobox")
    box.fill("dates-transformer")
    box.press("Enter")
    page.wait_for_function("() => document.querySelector('#checkpoint input').value === 'dates-transformer'",
                           timeout=TIMEOUT_MS)
    page.wait_for_timeout(1500)  # the run with the new checkpoint
    page.get_by_role("tab", name=views.HEADS).click()
    model = s2s.load("dates-transformer")
    layers, count = model.config["num_layers"], model.config["heads"]
    page.wait_for_function(f"() => ({HEAD_PANELS})()?.panels === {layers * count}", timeout=TIMEOUT_MS)
    assert page.evaluate(HEAD_PANELS)["greys"] == 0 and "cross-attention" in page.evaluate(HEAD_PANELS)["title"]
    page.locator("#kind").get_by_label(heads.KIND_SHORT["decoder_self"], exact=True).check()
    page.wait_for_function(f"() => ({HEAD_PANELS})()?.title.includes('decoder self-attention')", timeout=TIMEOUT_MS)
    drawn = page.evaluate(HEAD_PANELS)
    assert drawn["panels"] == layers * count and drawn["greys"] == layers * count, drawn  # every head's future


def choose_checkpoint(page, name: str) -> None:
    box = page.locator("#checkpoint").get_by_role("combobox")
    box.fill(name)
    box.press("Enter")
    page.wait_for_function("(want) => document.querySelector('#checkpoint input').value === want", arg=name,
                           timeout=TIMEOUT_MS)


def heatmap_z(page) -> np.ndarray:
    return np.array(drawn(page, "#heatmap")["traces"][0]["z"], dtype=float)


def row_scaled(weights: np.ndarray) -> np.ndarray:
    """What the map draws with "scale each row" (on by default): each row over its largest weight."""
    return weights / weights.max(-1, keepdims=True)


def test_the_map_draws_a_transformer_s_kind_and_head_and_a_clicked_head_comes_whole(page):
    """Issue 23: a Transformer's map showed cross-attention's mean over heads only, and the heads grid could not
    be enlarged. The kind and head menus (shown for a model with heads only) now choose what the map draws, and a
    click on a panel of the heads grid shows that layer's head on the map, checked against the model's weights."""
    assert not page.locator("#lens-row").is_visible()  # dates: an LSTM, no heads
    choose_checkpoint(page, "dates-transformer")
    page.wait_for_selector("#lens-row", state="visible", timeout=TIMEOUT_MS)
    r = s2s.load("dates-transformer").translate(page.locator("#source textarea, #source input").first.input_value())
    page.locator("#kind").get_by_label(heads.KIND_SHORT["decoder_self"], exact=True).check()
    head = page.locator("#head").get_by_role("combobox")
    head.click()
    page.get_by_role("option", name="head 2", exact=True).click()
    page.wait_for_function(f"() => ({DRAWN})('#heatmap')?.title?.includes('head 2')", timeout=TIMEOUT_MS)
    np.testing.assert_allclose(heatmap_z(page), row_scaled(r.heads["decoder_self"][:, 2].mean(0)), atol=1e-4)
    page.get_by_role("tab", name=views.HEADS).click()
    page.wait_for_function(f"() => ({HEAD_PANELS})()?.title.includes('decoder self-attention')", timeout=TIMEOUT_MS)
    layers, count = r.heads["cross"].shape[:2]
    panel = page.evaluate("""(n) => { const g = document.querySelector('#heads .js-plotly-plot');
      const x = g._fullLayout[n === 1 ? 'xaxis' : `xaxis${n}`], y = g._fullLayout[n === 1 ? 'yaxis' : `yaxis${n}`];
      g.scrollIntoView({block: 'start'});
      const r = g.getBoundingClientRect();  // the panel's centre, from its axes' place in the plot
      return [r.left + x._offset + x._length / 2, r.top + y._offset + y._length / 2]; }""",
                          1 * count + 3 + 1)  # layer 1, head 3: the panel after layer 0's heads and 3 of layer 1's
    page.mouse.click(*panel)
    page.wait_for_function(f"() => ({DRAWN})('#heatmap')?.title?.includes('head 3')", timeout=TIMEOUT_MS)
    assert page.locator("#heatmap").is_visible()  # the Heatmap tab came to the front
    assert page.locator("#layer").get_by_label("layer 1", exact=True).is_checked()
    np.testing.assert_allclose(heatmap_z(page), row_scaled(r.heads["decoder_self"][1, 3]), atol=1e-4)


def test_the_lstm_vs_transformer_preset_draws_both_maps(page):
    """Issue 23: Compare runs an LSTM and a Transformer on the same input, one click."""
    page.get_by_role("tab", name="Compare").click()
    page.get_by_role("button", name=compare.PRESETS["family"]).click()
    for root in ("#plot-a", "#plot-b"):
        page.wait_for_selector(f"{root} .js-plotly-plot .xtick text", timeout=TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('#label-b').innerText.includes('transformer')",
                           timeout=TIMEOUT_MS)
    a, b = drawn(page, "#plot-a"), drawn(page, "#plot-b")
    assert a["ticks"] == b["ticks"]  # the same source, read by both families
