"""The Compare tab's events and the lessons: run A (the Explore tab's settings) beside run B, presets that set
both, and the six lessons, each of which sets every control it needs with one click."""

from __future__ import annotations

import json
from functools import partial

import gradio as gr

from s2s.web import by_length, compare, heads, lessons, runs

from .events import LIVE, MAIN_TABS, PRIVATE, RESULT_TABS, open_tabs_js, unchanged
from .parts import CompareControls, Page

# What an open lesson must have on screen (issue 22: a 720 px projector): the page scrolls until these fit, and
# LivePlot draws no map taller than the window. A comparison's two maps with their labels; the heatmap and
# the step's plot; for STEP also the step slider.
COMPARE_MAPS = ("#label-a", "#plot-a", "#label-b", "#plot-b")
EXPLORE_MAPS = ("#heatmap", "#step-plot")
ON_SCREEN = {lessons.COMPARE: COMPARE_MAPS, lessons.WHY: COMPARE_MAPS, lessons.STEP: (*EXPLORE_MAPS, "#step"),
             lessons.EXPLORE: EXPLORE_MAPS, lessons.HEAD_GRID: ("#heads",)}
# Open the tabs (events.open_tabs_js), then, once the maps are drawn (twice: plotly may still be laying them out),
# scroll the least that shows them all.
SHOW_JS = """() => { %s const fit = () => {
  const boxes = %s.map((s) => document.querySelector(s)).filter((e) => e && e.offsetParent !== null)
                  .map((e) => e.getBoundingClientRect());
  if (!boxes.length) return;
  const top = Math.min(...boxes.map((b) => b.top)), bottom = Math.max(...boxes.map((b) => b.bottom));
  const by = bottom > window.innerHeight ? Math.min(bottom - window.innerHeight + 8, top - 8) : top < 0 ? top - 8 : 0;
  if (by) window.scrollBy(0, by); };
  setTimeout(fit, 400); setTimeout(fit, 1500); }"""


def on_compare(controls: CompareControls, *values) -> dict:
    *settings, checkpoint_b, mask_b, ratio_b, layer, presenter, display = values
    return controls.show(compare.compare_runs(runs.settings_from(*settings), checkpoint_b, mask_b, ratio_b, layer,
                                              presenter, display))


def on_compare_view(controls: CompareControls, kept, layer, presenter, display) -> dict:
    return controls.show(compare.redraw(kept, layer, presenter, display))


def on_preset(page: Page, name: str, *settings) -> dict:
    """Set both runs for a preset comparison; on failure say why and change nothing."""
    try:
        preset = compare.preset(name, runs.settings_from(*settings))
    except Exception as error:
        gr.Warning(runs.user_message(error))
        return unchanged(page.explore.text)
    if preset.note:
        gr.Info(preset.note)
    return page.explore.fill(preset) | page.compare.fill(preset)


def on_lesson(page: Page, key: str) -> dict:
    """Every control a lesson sets, its text, and the tab that shows it; on failure say why and change nothing."""
    try:
        opened = lessons.open_lesson(key)
    except ValueError as error:
        gr.Warning(str(error))
        return unchanged(page.explore.text)
    r = page.results
    shown = {r.layer: gr.Radio(choices=opened.layers, value=opened.layer), r.display: opened.display,
             r.view: opened.view, r.kind: "cross", r.head: heads.MEAN,
             **dict.fromkeys(page.lesson_texts, gr.Markdown(opened.text, visible=True))}
    compared = page.compare.fill(opened.preset) if opened.compares else {}
    return page.explore.fill(opened.preset) | compared | shown


def on_measure(controls: CompareControls, presenter) -> dict:
    """Quality by source length for the reverse family (a few seconds the first time, then cached)."""
    try:
        return {controls.by_length: by_length.chart("reverse", presenter)}
    except ValueError as error:
        gr.Warning(str(error))
        return unchanged(controls.by_length)


def compare_event(page: Page) -> tuple:
    """The comparison's function, inputs and outputs: what every event that compares again passes to gradio."""
    c, e, r = page.compare, page.explore, page.results
    return partial(on_compare, c), e.settings + c.settings + [r.layer, page.presenter, r.display], c.outputs


def wire_compare(page: Page) -> None:
    """Opening the tab, its controls and the presets run both runs again."""
    c, e = page.compare, page.explore
    compared = compare_event(page)
    gr.on([c.tab.select, c.run.click, c.checkpoint_b.input, c.mask_b.input, c.ratio_b.release], *compared, **LIVE)
    for name, button in c.presets.items():
        button.click(partial(on_preset, page, name), e.settings, e.settings + c.settings + [e.reference_source],
                     **PRIVATE).then(*compared, **LIVE)
    c.measure.click(partial(on_measure, c), [page.presenter], [c.by_length], **PRIVATE)


def wire_lessons(page: Page) -> None:
    """A lesson sets every control, then shows its run (and, for a comparison, both runs)."""
    c, e, r = page.compare, page.explore, page.results
    outputs = (e.settings + [e.reference_source, r.layer, r.display, r.view, r.kind, r.head, *page.lesson_texts]
               + c.settings)
    for key, button in page.lessons.items():
        chosen = button.click(partial(on_lesson, page, key), None, outputs, **PRIVATE)
        if lessons.BY_KEY[key].show == lessons.COMPARE:
            chosen = chosen.then(*compare_event(page), **LIVE)
        lesson = lessons.BY_KEY[key]
        tabs = open_tabs_js((MAIN_TABS, lessons.tab_of(lesson)), (RESULT_TABS, lessons.view_of(lesson)))
        chosen.then(None, None, None, js=SHOW_JS % (tabs, json.dumps(list(ON_SCREEN[lesson.show]))))
        if key == "why":
            chosen.then(partial(on_measure, c), [page.presenter], [c.by_length], **PRIVATE)
