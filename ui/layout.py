"""The page's layout: each region built by one function that returns its components as a part (ui/parts.py).

Nothing here runs a model or decides anything: the opening values come from `views.opening()`.
"""

from __future__ import annotations

import gradio as gr

from s2s import viz
from s2s.model import MASKS
from s2s.web import compare, heads, lessons, notes, runs, training, views
from s2s.web.train_tab import promise
from s2s.web.views import EXPORT, FED, GRID, HEADS, HEATMAP, NBEST

from .events import MAIN_TABS, RESULT_TABS
from .liveplot import LivePlot
from .parts import CompareControls, ExploreControls, Page, Results, TrainControls

TITLE = "Seq2Seq Attention Explorer"
INTRO = ("Type something: a real encoder-decoder (an LSTM with attention, a Transformer, or a translation model "
         "from the Hub) translates it as you type, and the heatmap shows where each output piece looked in the "
         "source. A lesson below sets up one idea in one click.")
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


def header() -> tuple[gr.Checkbox, dict]:
    """One line: the title, the six lessons (one click each from the landing page), presenter mode."""
    with gr.Row(elem_id="header"):
        gr.Markdown(f"# {TITLE}", elem_id="intro")
        presenter = gr.Checkbox(label="Presenter mode", scale=0, min_width=170, elem_id="presenter")
    gr.Markdown(INTRO, elem_id="tagline")  # what the page is, on the landing page (the explainer is folded)
    with gr.Row(elem_id="lessons"):
        buttons = {lesson.key: gr.Button(lesson.title, size="sm", elem_id=f"lesson-{lesson.key}", min_width=60)
                   for lesson in lessons.LESSONS}
    return presenter, buttons


def explore_controls(start: views.Opening) -> ExploreControls:
    with gr.Column(scale=1, min_width=300, elem_id="controls"):
        text = gr.Textbox(label="Source text", value=start.text, lines=1, max_length=runs.MAX_TEXT_CHARS,
                          autofocus=True, elem_id="source", placeholder="Type here, e.g. 3rd of March 2021")
        hint = gr.Markdown(notes.input_hint(start.default) if start.default else "", elem_id="hint")
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
            gr.Markdown(EXPLAINER)
    return ExploreControls(text=text, examples=samples, checkpoint=checkpoint, mask=mask, forcing=forcing,
                           reference=reference, ratio=ratio, seed=seed, decoding=decoding, beam_size=beam_size,
                           card=card, hint=hint, reference_source=gr.State(start.text if start.reference else None),
                           display=display)


def results_panel(start: views.Opening, display: gr.CheckboxGroup) -> Results:
    first = start.explored.result
    last = views.last_step(first)
    with gr.Column(scale=3, min_width=340, elem_id="results"):
        with gr.Row(elem_id="result-row"):
            output = gr.Textbox(label="Output", value=start.explored.output, interactive=False, scale=2,
                                min_width=160, elem_id="output")
            layer = gr.Radio(start.layers, value="mean", label="Layer", scale=3, min_width=200, elem_id="layer")
        # a model with heads: the map's kind of attention and head (the Heads tab shows that kind's every head)
        with gr.Row(elem_id="lens-row", visible=len(start.heads) > 1) as lens:
            kind = gr.Radio(heads.KINDS, value="cross", label="Attention", scale=3, elem_id="kind")
            head = gr.Dropdown(start.heads, value=heads.MEAN, label="Head", scale=1, min_width=140, elem_id="head")
        status = gr.Markdown(start.explored.status, elem_id="status")
        with gr.Tabs(elem_id=RESULT_TABS):
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
            with gr.Tab(HEADS, id=HEADS) as heads_tab:  # layers x heads of the kind above (s2s/web/heads.py)
                gr.Markdown("Click a head to see it whole, with its step's arithmetic, on the Heatmap tab.")
                heads_plot = LivePlot(elem_id="heads")  # a click names its panel in #heads-clicked
                head_clicked = gr.Textbox(elem_id="heads-clicked", elem_classes=["s2s-hidden"], container=False)
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
    tabs = {HEATMAP: heatmap_tab, GRID: grid_tab, HEADS: heads_tab, FED: fed_tab, NBEST: nbest_tab,
            EXPORT: export_tab}
    return Results(result=gr.State(first), view=gr.State(HEATMAP), output=output, layer=layer, display=display,
                   status=status, tabs=tabs, plot=plot, step_plot=step_plot, step=step, play=play,
                   stop=stop, math=math, grid=grid, lens=lens, kind=kind, head=head, pending=gr.State(False),
                   heads=heads_plot,
                   head_clicked=head_clicked,
                   forcing_table=forcing_table, change_step=change_step, change_piece=change_piece, change=change,
                   nbest=nbest, rank=rank, export=export_button, files=files)


def compare_tab(start: views.Opening) -> CompareControls:
    with gr.Tab("Compare", id="compare") as tab:
        lesson_text = gr.Markdown(elem_classes=["lesson-text"], visible=False)  # shown by a lesson
        with gr.Row():
            presets = {name: gr.Button(label, size="sm") for name, label in compare.PRESETS.items()}
            run = gr.Button("Compare", variant="primary", size="sm", scale=0, min_width=120)
        # B's settings folded away: a lesson or a preset sets them, and the two maps come first (issue 22)
        with gr.Accordion("B's settings", open=False, elem_id="b-settings"):
            gr.Markdown("Run **A** uses the Explore tab's settings; run **B** the same text with its own checkpoint, "
                        "mask and forcing. The third map is A − B: red where A attends more.")
            with gr.Row():
                checkpoint_b = gr.Dropdown(start.choices, value=start.default, label="B: checkpoint",
                                           allow_custom_value=True, min_width=200)
                mask_b = gr.Radio(list(MASKS), value="causal", label="B: mask", min_width=200)
                ratio_b = gr.Slider(0, 1, value=0, step=0.05, label="B: teacher forcing (0 = off)", min_width=200)
        with gr.Row(elem_id="compare-maps"):
            with gr.Column(min_width=320):
                label_a = gr.Markdown("**A**", elem_id="label-a")
                plot_a = LivePlot(elem_id="plot-a")
            with gr.Column(min_width=320):
                label_b = gr.Markdown("**B**", elem_id="label-b")
                plot_b = LivePlot(elem_id="plot-b")
        summary = gr.Markdown(elem_id="compare-summary")  # the result lines, under the maps
        gr.Markdown("**A − B**")
        plot_diff = LivePlot(elem_id="plot-diff")
        with gr.Row():
            gr.Markdown("**Why attention, in numbers**: exact match by input length for `reverse`, `reverse-noattn` "
                        "and `reverse-causal`, each on the same fresh inputs (a few seconds the first time).")
            measure = gr.Button("Measure", scale=0, min_width=120, elem_id="measure")
        by_length_plot = LivePlot(elem_id="by-length")
        kept = gr.State(None)  # inside the tab: left directly in gr.Tabs, it made gradio show the next tab twice
    return CompareControls(tab=tab, presets=presets, checkpoint_b=checkpoint_b, mask_b=mask_b, ratio_b=ratio_b,
                           run=run, summary=summary, label_a=label_a, plot_a=plot_a, label_b=label_b, plot_b=plot_b,
                           plot_diff=plot_diff, kept=kept, measure=measure, by_length=by_length_plot,
                           lesson_text=lesson_text)


def train_tab() -> TrainControls:
    with gr.Tab("Train", id="train") as tab:
        gr.Markdown("Train a small model here and watch its attention being learned: the probe below is translated "
                    f"every few seconds. A run lasts at most {training.MAX_SECONDS:g} s, and stops sooner once it "
                    "gets every validation pair right or stops improving; one run per page. "
                    + promise())
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                task = gr.Radio(list(training.TASK_CHOICES), value="dates", label="Task", elem_id="train-task",
                                info="tsv: paste source<TAB>target lines below")
                # shown for the tsv task only (train_tab.pairs_shown): the Train button stays above a 720 px fold
                tsv = gr.Textbox(label="Pairs (tsv task)", lines=3, max_lines=8, elem_id="train-tsv", visible=False)
                probe = gr.Textbox(training.PROBES["dates"], label="Probe: translated as it learns",
                                   elem_id="train-probe")
                # Train and the run's status before the model's settings: on screen at 720 px (issue 22)
                with gr.Row():
                    start = gr.Button("Train", variant="primary", elem_id="train-start")
                    cancel = gr.Button("Cancel", variant="stop", elem_id="train-cancel")
                status = gr.Markdown(elem_id="train-status")
                family = gr.Radio([(words, key) for key, words in training.FAMILIES.items()], value="lstm",
                                  label="Model", elem_id="train-family")
                with gr.Row():
                    attention = gr.Checkbox(True, label="attention", min_width=100, elem_id="train-attention")
                    size = gr.Radio(list(training.SIZES), value="small", label="Size", min_width=160)
                with gr.Row():
                    query = gr.Radio(["state", "input"], value="state", label="Query", min_width=140,
                                     elem_id="train-query")
                    encoder = gr.Radio(["bi", "uni"], value="bi", label="Encoder", min_width=140,
                                       elem_id="train-encoder")
                mask = gr.Radio(list(MASKS), value="bidirectional", label="Mask in training")
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
    return TrainControls(tab=tab, task=task, tsv=tsv, family=family, attention=attention, query=query, mask=mask,
                         encoder=encoder, size=size, probe=probe, start=start, cancel=cancel, status=status,
                         curves=curves, probe_plot=probe_plot, replay=replay, use=use, export=export_button,
                         files=files, timer=timer)


def layout(start: views.Opening) -> Page:
    presenter, buttons = header()
    with gr.Tabs(elem_id=MAIN_TABS):
        with gr.Tab("Explore", id="explore"):
            with gr.Row(elem_id="explore-row"):
                with gr.Column(scale=1, min_width=300, elem_id="explore-left"):
                    explore_text = gr.Markdown(elem_id="lesson-text", elem_classes=["lesson-text"], visible=False)
                    explore = explore_controls(start)
                results = results_panel(start, explore.display)
        compared = compare_tab(start)
        trained = train_tab()
    return Page(presenter=presenter, lessons=buttons, lesson_texts=(explore_text, compared.lesson_text),
                explore=explore, results=results, compare=compared, train=trained, api=gr.Button(visible=False),
                api_plot=gr.Plot(visible=False))
