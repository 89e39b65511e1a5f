"""Seq2Seq Attention Explorer: type a sentence, watch an LSTM encoder-decoder's attention as a heatmap.

    python app.py        # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT override)

This file lays out the page and wires its events; what each event does is in s2s/web (the handlers
there use no gradio; s2s/web/liveplot.py is the heatmap's component, s2s/web/serving.py the serving
rules). Each part of the page is built by one function that returns its components as a frozen
dataclass (`ExploreControls`, `Results`, `CompareControls`, `TrainControls`, together a `Page`), and
handlers return a dict {component: value}, so no output list has to match a tuple by position.
The same file runs as a Hugging Face Space (it binds 0.0.0.0 there). The one public API endpoint
is `translate`; every other event is private.
"""

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

if os.environ.get("SPACES_ZERO_GPU"):  # a ZeroGPU Space: `spaces` must come before anything touches CUDA
    import spaces

import gradio as gr  # noqa: E402

from s2s import environment, viz  # noqa: E402
from s2s.model import MASKS  # noqa: E402
from s2s.web import by_length, cards, compare, examples, export, lessons, models, ordering, runs, training, views  # noqa: E402
from s2s.web.liveplot import LivePlot  # noqa: E402
from s2s.web.serving import Serving  # noqa: E402

if os.environ.get("SPACES_ZERO_GPU"):  # training gets the GPU for as long as its request allows; typing, the CPU
    training.train_with(spaces.GPU(duration=training.gpu_seconds))

TITLE = "Seq2Seq Attention Explorer"
INTRO = ("Type something: a real LSTM encoder-decoder translates it as you type, and the heatmap shows "
         "where each output piece looked in the source.")
EXPLAINER = """
**Rows** are the pieces the model writes, one per decoding step, top to bottom. **Columns** are the pieces of
your input (a `·` marks the start of a word, `⟨eos⟩` the end). Each row is one step's **attention weights**: how
much the decoder looked at each source piece while writing that row's piece. A row always sums to 1; darker
means more.

- A good translation model draws a clear path: the date task reads the year last but writes it first, so its
  path starts at the end of the input; the reverse task draws an anti-diagonal.
- **Mask**: *bidirectional* lets every step look at the whole input; *causal* lets step *t* see only pieces
  0…*t* (grey cells). A model run with a mask it was not trained with shows what it relies on.
- **Teacher forcing** feeds the decoder the reference's previous piece instead of its own guess (▸ rows);
  a red ✗ marks a step whose prediction differs from the reference.
- **Step through** replays the decoding one row at a time, with the arithmetic of that step: the query, one
  score per source piece, softmax, and the weighted sum (the context).
- **Beam search** keeps several hypotheses; the n-best tab lists them, and you can plot any of them.
"""
ASSETS = Path(__file__).resolve().parent / "assets"
SERVING = Serving.from_env()  # queue, sessions and per-client limits (s2s/web/serving.py)
# Presenter mode: larger type everywhere, and the map scrolled into view once it is redrawn larger.
PRESENTER_JS = ("(on) => { document.body.classList.toggle('presenter', on); if (on) setTimeout(() => "
                "document.querySelector('#heatmap')?.scrollIntoView({block: 'nearest'}), 800); }")
HEATMAP, GRID, FED, NBEST, EXPORT = "Heatmap", "All layers", "Fed & predicted", "n-best", "Export"  # results tabs
PRIVATE = dict(api_visibility="private")
# The events that follow typing: the latest value wins, and no spinner flashes on every key.
LIVE = dict(trigger_mode="always_last", show_progress="hidden", **PRIVATE)


# --- the page's parts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExploreControls:
    """The Explore tab's left column: one run's settings, the examples, and the checkpoint's card."""

    text: gr.Textbox
    examples: gr.Dataset
    checkpoint: gr.Dropdown
    mask: gr.Radio
    forcing: gr.Checkbox
    reference: gr.Textbox
    ratio: gr.Slider
    seed: gr.Number
    decoding: gr.Radio
    beam_size: gr.Slider
    card: gr.Markdown
    hint: gr.Markdown  # what input the checkpoint expects
    reference_source: gr.State  # the source an example or a lesson set the reference for
    display: gr.CheckboxGroup  # how the maps are drawn (views.DISPLAY_OPTIONS); the Results read it too

    @property
    def settings(self) -> list:
        """The controls a run's settings are read from, in the order `read_settings` takes them."""
        return [self.text, self.checkpoint, self.mask, self.forcing, self.ratio, self.reference, self.seed,
                self.decoding, self.beam_size]

    def fill(self, preset: compare.Preset) -> dict:
        """A preset's text and run A in these controls (the beam size kept unless A uses beam search)."""
        a = preset.a
        shown = {self.text: preset.text, self.reference: preset.reference, self.checkpoint: a.checkpoint,
                 self.mask: a.mask, self.forcing: a.forcing, self.ratio: a.ratio, self.decoding: "greedy"}
        if a.beam_size > 1:
            shown |= {self.decoding: "beam", self.beam_size: a.beam_size}
        return shown | {self.reference_source: preset.text}


@dataclass(frozen=True)
class Results:
    """The Explore tab's right column: the output, the layer menu, the status and the results tabs."""

    result: gr.State  # the kept Translation: every control below re-plots it without running the model
    view: gr.State  # the results tab on screen
    output: gr.Textbox
    layer: gr.Radio
    display: gr.CheckboxGroup  # views.DISPLAY_OPTIONS
    status: gr.Markdown
    view_tabs: gr.Tabs  # the results tabs below (a lesson opens the heatmap's)
    tabs: dict  # results tab name -> gr.Tab
    plot: LivePlot  # the heatmap: redrawn in place on every keystroke
    step_plot: LivePlot  # the step's arithmetic, drawn beside the map
    step: gr.Slider
    play: gr.Button
    stop: gr.Button
    math: gr.Markdown
    grid: gr.Plot
    forcing_table: gr.Dataframe
    change_step: gr.Number  # an intervention: feed another piece at this step...
    change_piece: gr.Textbox  # ...this one...
    change: gr.Button  # ...and decode on
    nbest: gr.Dataframe
    rank: gr.Radio
    export: gr.Button
    files: gr.File

    @property
    def tab_outputs(self) -> list:
        """What the results tabs other than the heatmap show, each drawn only while its tab is on screen."""
        return [self.math, self.step_plot, self.grid, self.forcing_table, self.nbest]

    def show(self, explored: views.Explored) -> dict:
        """A fresh run in the output, the heatmap, the kept result and the status."""
        return {self.output: explored.output, self.plot: explored.figure, self.result: explored.result,
                self.status: explored.status}


@dataclass(frozen=True)
class CompareControls:
    """The Compare tab: preset buttons, run B's settings, and both runs' maps with their difference."""

    tab: gr.Tab
    presets: dict  # a key of compare.PRESETS -> its button
    checkpoint_b: gr.Dropdown
    mask_b: gr.Radio
    ratio_b: gr.Slider
    run: gr.Button
    summary: gr.Markdown
    label_a: gr.Markdown
    plot_a: gr.Plot
    label_b: gr.Markdown
    plot_b: gr.Plot
    plot_diff: gr.Plot
    kept: gr.State  # compare.Kept: re-plotted without running again
    measure: gr.Button  # quality by source length, measured on fresh examples
    by_length: gr.Plot
    lesson_text: gr.Markdown  # what to look at, when a lesson is a comparison

    @property
    def settings(self) -> list:
        """Run B's own controls, in the order compare.run_b takes them."""
        return [self.checkpoint_b, self.mask_b, self.ratio_b]

    @property
    def outputs(self) -> list:
        return [self.label_a, self.plot_a, self.label_b, self.plot_b, self.plot_diff, self.summary, self.kept]

    def show(self, compared: compare.Compared) -> dict:
        label_a, label_b = compared.labels
        return {self.label_a: f"**{label_a}**", self.plot_a: compared.a, self.label_b: f"**{label_b}**",
                self.plot_b: compared.b, self.plot_diff: compared.difference, self.summary: compared.summary,
                self.kept: compared.kept}

    def fill(self, preset: compare.Preset) -> dict:
        """A preset's run B in these controls."""
        b = preset.b
        return {self.checkpoint_b: b.checkpoint, self.mask_b: b.mask, self.ratio_b: b.ratio if b.forcing else 0.0}


@dataclass(frozen=True)
class TrainControls:
    """The Train tab: a small model trained live, its curves, its probe's attention, then used in Explore."""

    tab: gr.Tab
    task: gr.Radio
    tsv: gr.Textbox
    attention: gr.Checkbox
    query: gr.Radio
    mask: gr.Radio
    encoder: gr.Radio
    size: gr.Radio
    probe: gr.Textbox
    start: gr.Button
    cancel: gr.Button
    status: gr.Markdown
    curves: gr.Plot
    probe_plot: gr.Plot  # the probe's attention with the weights of now (or of the snapshot replayed)
    replay: gr.Slider  # snapshots of the probe's attention, from the first to the last
    use: gr.Button  # the trained model in Explore
    export: gr.Button
    files: gr.File
    timer: gr.Timer  # polls the run once a second while it trains

    @property
    def request(self) -> list:
        """The controls a training.TrainRequest is read from, in its order."""
        return [self.task, self.tsv, self.attention, self.query, self.mask, self.encoder, self.size, self.probe]


@dataclass(frozen=True)
class Page:
    """Every part of the page an event reads or writes."""

    presenter: gr.Checkbox
    lessons: dict  # a key of lessons.BY_KEY -> its button
    lesson_texts: tuple  # what to look at, for the lesson chosen: (in Explore, in Compare)
    tabs: gr.Tabs
    explore: ExploreControls
    results: Results
    compare: CompareControls
    train: TrainControls
    api: gr.Button  # hidden: carries the public `translate` endpoint...
    api_plot: gr.Plot  # ...whose heatmap is a gradio Plot value, as gradio_client expects


# --- what each event does -------------------------------------------------------------------------------


def read_settings(text, checkpoint, mask, forcing, ratio, reference, seed, decoding, beam_size) -> runs.Settings:
    """The Explore tab's controls (ExploreControls.settings) as one run's settings."""
    return runs.Settings(text, checkpoint, mask, bool(forcing), ratio, reference or "", seed,
                         beam_size if decoding == "beam" else 1)


def on_run(results: Results, page: str, *values) -> dict:
    """Run the model on the page's settings; an answer a newer run of the page has overtaken is dropped."""
    *controls, layer, presenter, display = values
    ticket = ordering.RUNS.ticket(page)
    shown = results.show(views.explore(read_settings(*controls), layer, presenter, display))
    if not ordering.RUNS.is_latest(page, ticket):
        return {component: gr.skip() for component in shown}
    return shown


def on_intervene(results: Results, *values) -> dict:
    """Feed another piece at a step of the kept result and decode on: the new run replaces the kept one."""
    *controls, result, rank, step, piece, layer, presenter, display = values
    changed = views.intervene(read_settings(*controls), result, step, piece, layer, presenter, display, rank)
    if changed.result is None:  # refused (a step out of range, a piece it lacks): the kept run stays on screen
        return {results.output: gr.skip(), results.plot: gr.skip(), results.result: gr.skip(),
                results.status: changed.status}
    return results.show(changed)


def tab_contents(results: Results, view, result, rank, layer, step, presenter) -> dict:
    """What the visible results tab shows; the hidden tabs are left alone, so a keystroke sends and draws less."""
    if view == HEATMAP:
        return {results.math: views.step_math(result, rank, layer, step),
                results.step_plot: views.step_figure(result, rank, layer, step, presenter)}
    if view == GRID:
        return {results.grid: views.grid(result, rank, presenter)}
    if view == FED:
        return {results.forcing_table: views.forcing_rows(result, rank)}
    if view == NBEST:
        return {results.nbest: views.nbest_rows(result)}
    return {}


def on_details(results: Results, result, layer, view, presenter) -> dict:
    """After a new result: the step slider's range, the hypothesis menu back to the best, the visible tab."""
    last = views.last_step(result)
    return {results.step: gr.Slider(maximum=max(last, 1), value=last),
            results.rank: gr.Radio(choices=views.ranks(result), value="1"),
            **tab_contents(results, view, result, "1", layer, None, presenter)}


def on_view(results: Results, result, rank, layer, step, presenter, display) -> dict:
    return {results.plot: views.figure(result, rank, layer, step, presenter, display),
            results.math: views.step_math(result, rank, layer, step),
            results.step_plot: views.step_figure(result, rank, layer, step, presenter)}


def on_hypothesis(results: Results, result, rank, layer, view, presenter, display) -> dict:
    last = views.last_step(result, rank)
    return {results.plot: views.figure(result, rank, layer, None, presenter, display),
            results.status: views.hypothesis_note(result, rank),
            results.step: gr.Slider(maximum=max(last, 1), value=last),
            **tab_contents(results, view, result, rank, layer, None, presenter)}


def on_presenter(results: Results, result, rank, layer, step, view, presenter, display) -> dict:
    return {results.plot: views.figure(result, rank, layer, step, presenter, display),
            **tab_contents(results, view, result, rank, layer, step, presenter)}


def on_tab(results: Results, view, result, rank, layer, step, presenter) -> dict:
    return {results.view: view, **tab_contents(results, view, result, rank, layer, step, presenter)}


def on_play(results: Results, result, rank, layer, presenter, display):
    for frame in views.play(result, rank, layer, presenter, display=display):
        yield {results.plot: frame.figure, results.step: frame.step, results.math: frame.math,
               results.step_plot: frame.arithmetic}


def on_export(result, rank, layer, presenter, display):
    exported = export.export(result, rank, layer, presenter, display)
    if exported.message:
        gr.Warning(exported.message)
    return exported.paths or None


def on_checkpoint(page: Page, spec, layer) -> dict:
    """A new checkpoint: its card, and its layers in the layer menu (the chosen one kept if it has it)."""
    choices = models.layer_choices(spec)
    kept = layer if layer in dict(choices).values() else "mean"
    return {page.explore.card: cards.model_card(spec), page.results.layer: gr.Radio(choices=choices, value=kept),
            page.explore.hint: views.input_hint(spec)}


def on_checkpoint_chosen(explore: ExploreControls, spec) -> dict:
    """A checkpoint the visitor picks runs with the mask it was trained with (a mismatch is then a choice)."""
    return {explore.mask: models.trained_mask(spec) or gr.skip()}


def on_example(explore: ExploreControls, sample) -> dict:
    try:
        source, reference, checkpoint = examples.example(sample[0])
    except ValueError as error:
        gr.Warning(str(error))
        return {explore.text: gr.skip()}  # nothing changes (gradio needs a key)
    return {explore.text: source, explore.reference: reference, explore.checkpoint: checkpoint,
            explore.reference_source: source}


def on_source(page: Page, text, reference, reference_source, forcing) -> dict:
    """A typed source clears the reference an example or a lesson set for another source (and says so where
    forcing used it), and the lesson's text, which spoke of that source."""
    e = page.explore
    if reference_source and text != reference_source:
        if reference and forcing:
            gr.Info("The reference belonged to the example, not to what you typed: it was cleared. Type a "
                    "reference for your input to use teacher forcing.")
        return {e.reference: "", e.reference_source: None, **dict.fromkeys(page.lesson_texts, gr.Markdown(
            visible=False))}
    return {e.reference: gr.skip()}  # nothing changes (gradio needs a key)


def on_compare(controls: CompareControls, *values) -> dict:
    *settings, checkpoint_b, mask_b, ratio_b, layer, presenter, display = values
    a = read_settings(*settings)
    row_scale = views.heatmap_display(display)["row_scale"]
    return controls.show(compare.compare(a, compare.run_b(a, checkpoint_b, mask_b, ratio_b), layer, presenter,
                                         row_scale))


def on_compare_view(controls: CompareControls, kept, layer, presenter, display) -> dict:
    return controls.show(compare.compare_view(kept, layer, presenter, views.heatmap_display(display)["row_scale"]))


def on_preset(page: Page, name: str, *settings) -> dict:
    """Set both runs for a preset comparison; on failure say why and change nothing."""
    try:
        preset = compare.preset(name, read_settings(*settings))
    except Exception as error:
        gr.Warning(runs.user_message(error))
        return {page.explore.text: gr.skip()}  # nothing changes (gradio needs a key)
    return page.explore.fill(preset) | page.compare.fill(preset)


def on_lesson(page: Page, key: str) -> dict:
    """Every control a lesson sets, its text, and the tab that shows it; on failure say why and change nothing."""
    try:
        lesson = lessons.lesson(key)
    except ValueError as error:
        gr.Warning(str(error))
        return {page.explore.text: gr.skip()}  # nothing changes (gradio needs a key)
    e, r, c, a = page.explore, page.results, page.compare, lesson.a
    display = [option for option, on in zip(views.DISPLAY_OPTIONS, (lesson.row_scale, lesson.rows_by_fed)) if on]
    updates = {e.text: a.text, e.reference: a.reference, e.reference_source: a.text, e.checkpoint: a.checkpoint,
               e.mask: a.mask, e.forcing: a.forcing, e.ratio: a.ratio, e.decoding: "greedy",
               r.layer: gr.Radio(choices=models.layer_choices(a.checkpoint), value=lesson.layer),
               r.display: display, r.view_tabs: gr.Tabs(selected=HEATMAP), r.view: HEATMAP,
               **dict.fromkeys(page.lesson_texts, gr.Markdown(f"**{lesson.title}.** {lesson.look}", visible=True)),
               page.tabs: gr.Tabs(selected="compare" if lesson.show == lessons.COMPARE else "explore")}
    if lesson.b is not None:
        b = lesson.b
        updates |= {c.checkpoint_b: b.checkpoint, c.mask_b: b.mask, c.ratio_b: b.ratio if b.forcing else 0.0}
    return updates


def on_measure(controls: CompareControls, presenter) -> dict:
    """Quality by source length for the reverse family (a few seconds the first time, then cached)."""
    try:
        measured = by_length.measure("reverse")
    except ValueError as error:
        gr.Warning(str(error))
        return {controls.by_length: gr.skip()}  # nothing changes (gradio needs a key)
    title = (f"exact match by source length: {len(measured.names)} reverse checkpoints, "
             f"{sum(measured.counts)} fresh inputs")
    return {controls.by_length: viz.quality_by_length(list(measured.buckets), dict(measured.exact),
                                                     list(measured.counts), presenter=bool(presenter), title=title)}


def on_load(page: Page) -> dict:
    """Each visit: the checkpoint menus and examples as installed now (the page may be older)."""
    choices = models.checkpoint_choices()
    return {page.explore.checkpoint: gr.Dropdown(choices=choices),
            page.compare.checkpoint_b: gr.Dropdown(choices=choices),
            page.explore.examples: gr.Dataset(samples=[[row[0]] for row in examples.examples()])}


def client_errors(endpoint: Callable) -> Callable:
    """An API endpoint whose errors reach the client as their runs.user_message (a bug's never does)."""

    @functools.wraps(endpoint)  # gradio reads the parameters and description of the endpoint itself
    def call(*args):
        try:
            return endpoint(*args)
        except Exception as error:
            # a visitor's mistake is answered, not logged as a traceback (a bug is logged by user_message)
            raise gr.Error(runs.user_message(error), print_exception=False) from None

    return call


translate = client_errors(runs.api_translate)  # the public API endpoint


# --- layout -------------------------------------------------------------------------------------------


def header() -> tuple[gr.Checkbox, dict]:
    """One line: the title, the six lessons (one click each from the landing page), presenter mode."""
    with gr.Row(elem_id="header"):
        gr.Markdown(f"# {TITLE}", elem_id="intro")
        presenter = gr.Checkbox(label="Presenter mode", scale=0, min_width=170, elem_id="presenter")
    with gr.Row(elem_id="lessons"):
        buttons = {lesson.key: gr.Button(lesson.title, size="sm", elem_id=f"lesson-{lesson.key}", min_width=60)
                   for lesson in lessons.LESSONS}
    return presenter, buttons


def explore_controls(start: views.Opening) -> ExploreControls:
    with gr.Column(scale=1, min_width=300, elem_id="controls"):
        text = gr.Textbox(label="Source text", value=start.text, lines=1, max_length=runs.MAX_TEXT_CHARS,
                          autofocus=True, elem_id="source", placeholder="Type here, e.g. 3rd of March 2021")
        hint = gr.Markdown(views.input_hint(start.default) if start.default else "", elem_id="hint")
        samples = gr.Dataset(label="Examples: a click picks the checkpoint too", layout="gallery",
                             components=["textbox"], samples=[[row[0]] for row in start.examples],
                             samples_per_page=6, elem_id="examples")
        checkpoint = gr.Dropdown(start.choices, value=start.default, label="Checkpoint", allow_custom_value=True,
                                 info="bundled, or a Hub repo org/name", elem_id="checkpoint")
        mask = gr.Radio(list(MASKS), value="bidirectional", label="Attention mask", elem_id="mask")
        display = gr.CheckboxGroup(list(views.DISPLAY_OPTIONS), value=list(views.DEFAULT_DISPLAY),
                                   label="Display (the hover keeps the true weight)", elem_id="display")
        with gr.Accordion("Teacher forcing", open=False):
            forcing = gr.Checkbox(label="Feed the reference to the decoder", elem_id="forcing")
            reference = gr.Textbox(label="Reference (target text)", value=start.reference, lines=1,
                                   max_length=runs.MAX_TEXT_CHARS, elem_id="reference")
            with gr.Row():
                ratio = gr.Slider(0, 1, value=1.0, step=0.05, label="Ratio", min_width=160,
                                  info="share of steps fed the reference")
                seed = gr.Number(0, precision=0, label="Seed", min_width=100, info="which steps, when the ratio < 1")
        with gr.Accordion("Decoding", open=False):
            with gr.Row():
                decoding = gr.Radio(["greedy", "beam"], value="greedy", label="Search", min_width=140)
                beam_size = gr.Slider(1, 16, value=4, step=1, label="Beam size", min_width=160)
        with gr.Accordion("About this checkpoint", open=False):
            card = gr.Markdown(start.card, elem_id="card")
        with gr.Accordion("What am I looking at?", open=False, elem_id="explainer"):
            gr.Markdown(f"{INTRO}\n{EXPLAINER}")
    return ExploreControls(text, samples, checkpoint, mask, forcing, reference, ratio, seed, decoding, beam_size,
                           card, hint, gr.State(start.text if start.reference else None), display)


def results_panel(start: views.Opening, display: gr.CheckboxGroup) -> Results:
    first = start.explored.result
    last = views.last_step(first)
    with gr.Column(scale=3, min_width=340, elem_id="results"):
        with gr.Row(elem_id="result-row"):
            output = gr.Textbox(label="Output", value=start.explored.output, interactive=False, scale=2,
                                min_width=160, elem_id="output")
            layer = gr.Radio(start.layers, value="mean", label="Layer", scale=3, min_width=200, elem_id="layer")
        status = gr.Markdown(start.explored.status, elem_id="status")
        with gr.Tabs(elem_id="result-tabs") as view_tabs:
            with gr.Tab(HEATMAP, id=HEATMAP) as heatmap_tab:
                with gr.Row(elem_id="map-row"):
                    plot = LivePlot(start.explored.figure, elem_id="heatmap")  # 3 : 2 with the step plot (style.css)
                    step_plot = LivePlot(views.step_figure(first), elem_id="step-plot")
                with gr.Row(elem_id="stepper"):
                    step = gr.Slider(0, max(last, 1), value=last, step=1, label="Step",
                                     info="move to reveal the decoding row by row", min_width=220, elem_id="step")
                    play = gr.Button("▶ Play", scale=0, min_width=90, elem_id="play")
                    stop = gr.Button("■ Stop", scale=0, min_width=90, variant="stop", elem_id="stop")
                with gr.Accordion("The arithmetic of this step, in numbers", open=True):
                    math = gr.Markdown(views.step_math(first), elem_id="step-math")
            with gr.Tab(GRID, id=GRID) as grid_tab:
                grid = gr.Plot(show_label=False, elem_id="grid")
            with gr.Tab(FED, id=FED) as fed_tab:
                gr.Markdown("What the decoder was fed at each step (its own previous output, or the reference's "
                            "under teacher forcing) and what it predicted.")
                forcing_table = gr.Dataframe(views.forcing_rows(first), headers=viz.FORCING_COLUMNS,
                                             interactive=False, wrap=True, elem_id="forcing-table")
                with gr.Row(elem_id="intervene"):
                    change_step = gr.Number(1, precision=0, minimum=1, label="Step", min_width=90, scale=0,
                                            elem_id="change-step")
                    change_piece = gr.Textbox(label="Feed this piece there instead", min_width=160,
                                              elem_id="change-piece", placeholder="e.g. 9")
                    change = gr.Button("Feed it and decode on", scale=0, min_width=180, elem_id="change")
            with gr.Tab(NBEST, id=NBEST) as nbest_tab:
                nbest = gr.Dataframe(views.nbest_rows(first), headers=viz.NBEST_COLUMNS, interactive=False,
                                     wrap=True, elem_id="nbest")
                rank = gr.Radio(views.ranks(first), value="1", label="Plot hypothesis", elem_id="rank")
            with gr.Tab(EXPORT, id=EXPORT) as export_tab:
                gr.Markdown("The attention weights of the layer shown as CSV, everything recorded as JSON, and the "
                            "heatmap as on screen as a page that opens offline: it loads `plotly.min.js`, so save "
                            "both into one folder. (PNG: the camera icon above the heatmap.)")
                export_button = gr.Button("Prepare downloads", elem_id="export")
                files = gr.File(label="Downloads", file_count="multiple", interactive=False)
    tabs = {HEATMAP: heatmap_tab, GRID: grid_tab, FED: fed_tab, NBEST: nbest_tab, EXPORT: export_tab}
    return Results(gr.State(first), gr.State(HEATMAP), output, layer, display, status, view_tabs, tabs, plot,
                   step_plot, step, play, stop, math, grid, forcing_table, change_step, change_piece, change, nbest,
                   rank, export_button, files)


def compare_tab(start: views.Opening) -> CompareControls:
    with gr.Tab("Compare", id="compare") as tab:
        lesson_text = gr.Markdown(elem_classes=["lesson-text"], visible=False)  # shown by a lesson
        gr.Markdown("Run **A** uses the Explore tab's settings; run **B** the same text with its own checkpoint, "
                    "mask and forcing. The third map is A − B: red where A attends more.")
        with gr.Row():
            presets = {name: gr.Button(label, size="sm") for name, label in compare.PRESETS.items()}
        with gr.Row():
            checkpoint_b = gr.Dropdown(start.choices, value=start.default, label="B: checkpoint",
                                       allow_custom_value=True, min_width=200)
            mask_b = gr.Radio(list(MASKS), value="causal", label="B: mask", min_width=200)
            ratio_b = gr.Slider(0, 1, value=0, step=0.05, label="B: teacher forcing (0 = off)", min_width=200)
            run = gr.Button("Compare", variant="primary", scale=0, min_width=120)
        summary = gr.Markdown(elem_id="compare-summary")
        with gr.Row():
            with gr.Column(min_width=320):
                label_a = gr.Markdown("**A**")
                plot_a = gr.Plot(show_label=False, elem_id="plot-a")
            with gr.Column(min_width=320):
                label_b = gr.Markdown("**B**")
                plot_b = gr.Plot(show_label=False, elem_id="plot-b")
        gr.Markdown("**A − B**")
        plot_diff = gr.Plot(show_label=False, elem_id="plot-diff")
        with gr.Row():
            gr.Markdown("**Why attention, in numbers**: exact match by input length for `reverse`, `reverse-noattn` "
                        "and `reverse-causal`, each on the same fresh inputs (a few seconds the first time).")
            measure = gr.Button("Measure", scale=0, min_width=120, elem_id="measure")
        by_length_plot = gr.Plot(show_label=False, elem_id="by-length")
        kept = gr.State(None)  # inside the tab: left directly in gr.Tabs, it made gradio show the next tab twice
    return CompareControls(tab, presets, checkpoint_b, mask_b, ratio_b, run, summary, label_a, plot_a, label_b,
                           plot_b, plot_diff, kept, measure, by_length_plot, lesson_text)


def train_tab() -> TrainControls:
    with gr.Tab("Train", id="train") as tab:
        gr.Markdown("Train a small model here and watch its attention being learned: the probe below is translated "
                    f"every few seconds. A run lasts at most {training.MAX_SECONDS:g} s, and stops sooner once it "
                    "gets every validation pair right; one run per visitor.")
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                task = gr.Radio(list(training.TASK_CHOICES), value="dates", label="Task", elem_id="train-task",
                                info="tsv: paste source<TAB>target lines below")
                tsv = gr.Textbox(label="Pairs (tsv task)", lines=3, max_lines=8, elem_id="train-tsv")
                probe = gr.Textbox(training.PROBES["dates"], label="Probe: translated as it learns",
                                   elem_id="train-probe")
                with gr.Row():
                    attention = gr.Checkbox(True, label="attention", min_width=100)
                    size = gr.Radio(list(training.SIZES), value="small", label="Size", min_width=160)
                with gr.Row():
                    query = gr.Radio(["state", "input"], value="state", label="Query", min_width=140)
                    encoder = gr.Radio(["bi", "uni"], value="bi", label="Encoder", min_width=140)
                mask = gr.Radio(list(MASKS), value="bidirectional", label="Mask in training")
                with gr.Row():
                    start = gr.Button("Train", variant="primary", elem_id="train-start")
                    cancel = gr.Button("Cancel", variant="stop", elem_id="train-cancel")
                status = gr.Markdown(elem_id="train-status")
            with gr.Column(scale=2, min_width=340):
                curves = gr.Plot(show_label=False, elem_id="train-curves")
                probe_plot = gr.Plot(show_label=False, elem_id="train-probe-plot")
                replay = gr.Slider(0, 1, value=0, step=1, label="Replay the probe's attention, snapshot by snapshot",
                                   elem_id="train-replay")
                with gr.Row():
                    use = gr.Button("Use it in Explore", elem_id="train-use")
                    export_button = gr.Button("Export the checkpoint (zip)", elem_id="train-export")
                # shown once there is something to download
                files = gr.File(label="Checkpoint", interactive=False, visible=False, elem_id="train-files")
        timer = gr.Timer(1.0, active=False)  # inside the tab, as everything in gr.Tabs must be (compare_tab)
    return TrainControls(tab, task, tsv, attention, query, mask, encoder, size, probe, start, cancel, status, curves,
                         probe_plot, replay, use, export_button, files, timer)


def layout(start: views.Opening) -> Page:
    presenter, buttons = header()
    with gr.Tabs(elem_id="main-tabs") as tabs:
        with gr.Tab("Explore", id="explore"):
            with gr.Row(elem_id="explore-row"):
                with gr.Column(scale=1, min_width=300):
                    explore_text = gr.Markdown(elem_id="lesson-text", elem_classes=["lesson-text"], visible=False)
                    explore = explore_controls(start)
                results = results_panel(start, explore.display)
        compared = compare_tab(start)
        trained = train_tab()
    return Page(presenter, buttons, (explore_text, compared.lesson_text), tabs, explore, results, compared, trained,
                gr.Button(visible=False), gr.Plot(visible=False))


# --- wiring -------------------------------------------------------------------------------------------


def wire_explore(page: Page) -> None:
    """Typing and every run setting run the model; the results then follow, without running it again."""
    e, r = page.explore, page.results
    playing = r.play.click(partial(on_play, r), [r.result, r.rank, r.layer, page.presenter, r.display],
                           [r.plot, r.step, r.math, r.step_plot], show_progress="hidden", concurrency_limit=16,
                           **PRIVATE)
    r.stop.click(None, cancels=[playing], **PRIVATE)
    # .change, not .input: in gradio 6.31 a Textbox's .input misses deletions and pastes. Examples and
    # presets set the controls, and these events then run the model, at most twice with always_last.
    def run(request: gr.Request, *values) -> dict:  # gradio passes the Request to a leading parameter only
        return on_run(r, request.session_hash or "", *values)

    changed = gr.on([control.change for control in e.settings] + [e.text.submit, r.display.change],
                    run, e.settings + [r.layer, page.presenter, r.display],
                    [r.output, r.plot, r.result, r.status], cancels=[playing], **LIVE)
    changed.then(partial(on_details, r), [r.result, r.layer, r.view, page.presenter], [r.step, r.rank, *r.tab_outputs],
                 **LIVE)
    e.checkpoint.change(partial(on_checkpoint, page), [e.checkpoint, r.layer], [e.card, r.layer, e.hint], **LIVE)
    e.checkpoint.input(partial(on_checkpoint_chosen, e), [e.checkpoint], [e.mask], **LIVE)
    e.examples.click(partial(on_example, e), e.examples, [e.text, e.reference, e.checkpoint, e.reference_source],
                     **PRIVATE)
    e.text.change(partial(on_source, page), [e.text, e.reference, e.reference_source, e.forcing],
                  [e.reference, e.reference_source, *page.lesson_texts], **LIVE)

    gr.on([r.layer.change, r.step.input], partial(on_view, r),
          [r.result, r.rank, r.layer, r.step, page.presenter, r.display], [r.plot, r.math, r.step_plot], **LIVE)
    r.rank.input(partial(on_hypothesis, r), [r.result, r.rank, r.layer, r.view, page.presenter, r.display],
                 [r.plot, r.status, r.step, *r.tab_outputs], **LIVE)
    for name, tab in r.tabs.items():
        tab.select(partial(on_tab, r, name), [r.result, r.rank, r.layer, r.step, page.presenter],
                   [r.view, *r.tab_outputs], **LIVE)
    r.export.click(on_export, [r.result, r.rank, r.layer, page.presenter, r.display], r.files, **PRIVATE)
    r.change.click(partial(on_intervene, r),
                   e.settings + [r.result, r.rank, r.change_step, r.change_piece, r.layer, page.presenter, r.display],
                   [r.output, r.plot, r.result, r.status], **PRIVATE
                   ).then(partial(on_details, r), [r.result, r.layer, r.view, page.presenter],
                          [r.step, r.rank, *r.tab_outputs], **LIVE)


def wire_compare(page: Page) -> None:
    """Opening the tab, its controls and the presets run both runs again."""
    c, e, r = page.compare, page.explore, page.results
    compare_args = (partial(on_compare, c), e.settings + c.settings + [r.layer, page.presenter, r.display],
                    c.outputs)
    gr.on([c.tab.select, c.run.click, c.checkpoint_b.input, c.mask_b.input, c.ratio_b.release], *compare_args, **LIVE)
    for name, button in c.presets.items():
        button.click(partial(on_preset, page, name), e.settings, e.settings + c.settings + [e.reference_source],
                     **PRIVATE).then(*compare_args, **LIVE)
    c.measure.click(partial(on_measure, c), [page.presenter], [c.by_length], **PRIVATE)


def wire_lessons(page: Page) -> None:
    """A lesson sets every control, then shows its run (and, for a comparison, both runs)."""
    c, e, r = page.compare, page.explore, page.results
    outputs = (e.settings + [e.reference_source, r.layer, r.display, r.view_tabs, r.view, *page.lesson_texts,
                             page.tabs] + c.settings)
    compare_args = (partial(on_compare, c), e.settings + c.settings + [r.layer, page.presenter, r.display],
                    c.outputs)
    for key, button in page.lessons.items():
        chosen = button.click(partial(on_lesson, page, key), None, outputs, **PRIVATE)
        if lessons.BY_KEY[key].show == lessons.COMPARE:
            chosen = chosen.then(*compare_args, **LIVE)
        if key == "why":
            chosen.then(partial(on_measure, c), [page.presenter], [c.by_length], **PRIVATE)


def wire_train(page: Page) -> None:
    """Train starts a run for this visitor; a timer polls it; the finished model goes to Explore or a zip.

    The handlers are closures, not partials: gradio passes gr.Request only to a function whose own
    signature asks for it, and the visitor's session is what limits them to one run.
    """
    t, e = page.train, page.explore
    shown = [t.status, t.curves, t.probe_plot, t.replay, t.timer]

    def started(request: gr.Request, task, tsv, attention, query, mask, encoder, size, probe):
        ask = training.TrainRequest(task=task, tsv=tsv or "", attention=bool(attention), query=query, mask=mask,
                                    encoder=encoder, size=size, probe=probe or "")
        return asked(request.session_hash or "", ask)

    def asked(session: str, ask: training.TrainRequest) -> dict:
        try:
            training.start(session, ask)
        except training.InLine as waiting:  # the timer asks again each second, keeping the place
            return {t.status: str(waiting), t.timer: gr.Timer(active=True)}
        except ValueError as error:
            return {t.status: runs.problem(str(error)), t.timer: gr.Timer(active=False)}
        return {t.status: "Starting…", t.timer: gr.Timer(active=True)}

    def polled(request: gr.Request, presenter):
        waiting = training.RUNS.waiting(request.session_hash or "")
        if waiting is not None:
            return asked(request.session_hash or "", waiting)
        run = training.RUNS.get(request.session_hash or "")
        if run is None:
            return {t.timer: gr.Timer(active=False)}
        progress, probes = run.progress(), run.probes()
        last = max(len(probes) - 1, 0)
        return {t.status: progress.status,
                t.curves: viz.training_curves(list(progress.loss), list(progress.accuracy), presenter=presenter),
                t.probe_plot: viz.heatmap(probes[-1], title=f"the probe after {progress.step} steps",
                                          presenter=presenter, row_scale=True) if probes else gr.skip(),
                t.replay: gr.Slider(maximum=max(last, 1), value=last),
                t.timer: gr.Timer(active=not progress.done)}

    def replayed(request: gr.Request, snapshot, presenter):
        run = training.RUNS.get(request.session_hash or "")
        probes = run.probes() if run is not None else []
        if not probes:
            return {t.probe_plot: gr.skip()}
        k = min(max(int(snapshot or 0), 0), len(probes) - 1)
        return {t.probe_plot: viz.heatmap(probes[k], title=f"the probe, snapshot {k + 1} of {len(probes)}",
                                          presenter=presenter, row_scale=True)}

    def cancelled(request: gr.Request):
        stopped = training.RUNS.cancel(request.session_hash or "")
        return {t.status: "Cancelling…" if stopped else "No run going."}

    def used(request: gr.Request):
        run = training.RUNS.get(request.session_hash or "")
        translator = run.translator() if run is not None else None
        if translator is None:
            gr.Warning("No trained model yet: train one and let it finish (or cancel it).")
            return {t.status: gr.skip()}
        name = models.add_trained(request.session_hash or "", translator, training.EXPORT_DIR)
        return {e.checkpoint: gr.Dropdown(choices=[*models.checkpoint_choices(), name], value=name),
                e.text: run.request.probe, e.reference: "", e.forcing: False, e.mask: run.request.mask,
                page.tabs: gr.Tabs(selected="explore")}

    def exported(request: gr.Request):
        run = training.RUNS.get(request.session_hash or "")
        if run is None:
            gr.Warning("There is no trained model to export yet: train one first.")
            return {t.files: gr.skip()}
        try:
            return {t.files: gr.File(str(run.export_path(models.trained_name(request.session_hash or ""))),
                                     visible=True)}
        except ValueError as error:
            gr.Warning(str(error))
            return {t.files: gr.skip()}

    t.task.input(training.probe_for, [t.task, t.probe], [t.probe], **PRIVATE)  # a date probe for reversals: bytes
    t.start.click(started, t.request, [t.status, t.timer], **PRIVATE)
    t.timer.tick(polled, [page.presenter], shown, show_progress="hidden", **PRIVATE)
    t.replay.input(replayed, [t.replay, page.presenter], [t.probe_plot], **LIVE)  # dragged, typed or arrow keys
    t.cancel.click(cancelled, None, [t.status], **PRIVATE)
    t.use.click(used, None, [e.checkpoint, e.text, e.reference, e.forcing, e.mask, page.tabs, t.status], **PRIVATE)
    t.export.click(exported, None, [t.files], **PRIVATE)


def wire_presenter(page: Page) -> None:
    """Presenter mode restyles the page (in the browser) and re-plots what is shown."""
    r, c = page.results, page.compare
    page.presenter.change(None, page.presenter, None, js=PRESENTER_JS, **PRIVATE)
    page.presenter.change(partial(on_presenter, r),
                          [r.result, r.rank, r.layer, r.step, r.view, page.presenter, r.display],
                          [r.plot, *r.tab_outputs], **LIVE
                          ).then(partial(on_compare_view, c), [c.kept, r.layer, page.presenter, r.display], c.outputs,
                                 **LIVE)


def wire_api(page: Page) -> None:
    """The one public endpoint, `translate`: the Explore tab's controls in the order of its parameters."""
    e, r = page.explore, page.results
    page.api.click(translate, [e.text, e.checkpoint, e.mask, e.ratio, e.reference, e.seed, e.beam_size],
                   [r.output, page.api_plot], api_name="translate")


def build_demo() -> gr.Blocks:
    """The whole page, with the default checkpoint loaded and a first example already translated."""
    models.prepare()
    start = views.opening()
    # gradio's copies of downloads are cleared on the exports' own schedule (s2s/web/export.py)
    every = export.EXPORT_TTL_S
    with gr.Blocks(title=TITLE, delete_cache=(every, every), analytics_enabled=False) as demo:
        page = layout(start)
        wire_explore(page)
        wire_compare(page)
        wire_lessons(page)
        wire_train(page)
        wire_presenter(page)
        demo.load(partial(on_load, page), None, [page.explore.checkpoint, page.compare.checkpoint_b,
                                                 page.explore.examples], **PRIVATE)
        wire_api(page)
    SERVING.queue(demo)
    return demo


def launch_options(demo: gr.Blocks) -> dict:
    """What demo.launch needs besides the address: the theme, the stylesheet, and the limits for a class."""
    return dict(theme=gr.themes.Soft(primary_hue="indigo", secondary_hue="pink"), css_paths=[ASSETS / "style.css"],
                **SERVING.launch_options(demo))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server_name = os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if environment.on_a_space() else "127.0.0.1")
    demo = build_demo()
    demo.launch(server_name=server_name, **launch_options(demo))


if __name__ == "__main__":
    main()
