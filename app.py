"""Seq2Seq Attention Explorer: type a sentence, watch an LSTM encoder-decoder's attention as a heatmap.

    python app.py        # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT override)

This file lays out the page and wires its events; what each event does is in s2s/service.py.
The same file runs as a Hugging Face Space (it binds 0.0.0.0 there). The one public API endpoint
is `translate`; every other event is private.
"""

import logging
import os
from pathlib import Path

if os.environ.get("SPACES_ZERO_GPU"):  # a ZeroGPU Space: `spaces` must come before anything touches CUDA
    import spaces

import gradio as gr  # noqa: E402

from s2s import service, viz  # noqa: E402

if os.environ.get("SPACES_ZERO_GPU"):
    service.run_models_with(spaces.GPU)

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
PRESENTER_JS = "(on) => { document.body.classList.toggle('presenter', on); }"
HEATMAP, GRID, FED, NBEST = "Heatmap", "All layers", "Fed & predicted", "n-best"  # the results tabs
HIDDEN = "hidden"  # show_progress for the events that follow typing: no spinner flashing on every key


def settings(text, checkpoint, mask, forcing, ratio, reference, seed, decoding, beam_size) -> service.Settings:
    """The Explore tab's controls as one run's settings (in the order of run_settings in build_demo)."""
    return service.Settings(text, checkpoint, mask, bool(forcing), ratio, reference or "", seed,
                            beam_size if decoding == "beam" else 1)


def on_run(*values):
    *controls, layer, presenter = values
    explored = service.explore(settings(*controls), layer, presenter)
    return explored.output, explored.figure, explored.result, explored.status


def tab_contents(view, result, rank, layer, step, presenter):
    """What the visible results tab shows; the hidden tabs are skipped, so a keystroke sends and draws less.

    Returns (step math, layer grid, fed & predicted rows, n-best rows): tab_outputs in build_demo.
    """
    return (service.step_math(result, rank, layer, step) if view == HEATMAP else gr.skip(),
            service.grid(result, rank, presenter) if view == GRID else gr.skip(),
            service.forcing_rows(result, rank) if view == FED else gr.skip(),
            service.nbest_rows(result) if view == NBEST else gr.skip())


def on_details(result, layer, view, presenter):
    """After a new result: the step slider's range, the hypothesis menu back to the best, the visible tab."""
    last = service.last_step(result)
    return (gr.Slider(maximum=max(last, 1), value=last), gr.Radio(choices=service.ranks(result), value="1"),
            *tab_contents(view, result, "1", layer, None, presenter))


def on_view(result, rank, layer, step, presenter):
    return service.figure(result, rank, layer, step, presenter), service.step_math(result, rank, layer, step)


def on_hypothesis(result, rank, layer, view, presenter):
    last = service.last_step(result, rank)
    return (service.figure(result, rank, layer, None, presenter), service.hypothesis_note(result, rank),
            gr.Slider(maximum=max(last, 1), value=last), *tab_contents(view, result, rank, layer, None, presenter))


def on_presenter(result, rank, layer, step, view, presenter):
    plot = service.figure(result, rank, layer, step, presenter)
    return plot, *tab_contents(view, result, rank, layer, step, presenter)


def on_tab(event: gr.SelectData, result, rank, layer, step, presenter):
    return event.value, *tab_contents(event.value, result, rank, layer, step, presenter)


def on_play(result, rank, layer, presenter):
    yield from service.play(result, rank, layer, presenter)


def on_checkpoint(spec, layer):
    """A new checkpoint: its card, and its layers in the layer menu (the chosen one kept if it has it)."""
    choices = service.layer_choices(spec)
    return service.model_card(spec), gr.Radio(choices=choices, value=layer if (layer in dict(choices).values())
                                              else "mean")


def on_example(sample):
    try:
        return service.example(sample[0])
    except ValueError as error:
        gr.Warning(str(error))
        return [gr.skip()] * 3


def on_export(result, rank, layer, presenter):
    paths, message = service.export(result, rank, layer, presenter)
    if message:
        gr.Warning(message)
    return paths or None


def compare_settings(*values) -> tuple[service.Settings, service.Settings]:
    *controls, checkpoint_b, mask_b, ratio_b = values
    a = settings(*controls)
    ratio_b = ratio_b or 0.0
    return a, service.Settings(a.text, checkpoint_b, mask_b, ratio_b > 0, ratio_b, a.reference, a.seed, 1)


def _compared(compared: service.Compared):
    label_a, label_b = compared.labels
    return (f"**{label_a}**", compared.a, f"**{label_b}**", compared.b, compared.difference, compared.summary,
            compared.kept)


def on_compare(*values):
    *controls, layer, presenter = values
    return _compared(service.compare(*compare_settings(*controls), layer, presenter))


def on_compare_view(kept, layer, presenter):
    return _compared(service.compare_view(kept, layer, presenter))


def on_preset(name, *controls):
    """Set both runs for a preset comparison; on failure say why and change nothing."""
    try:
        preset = service.preset(name, settings(*controls))
    except Exception as error:
        gr.Warning(service.user_message(error))
        return [gr.skip()] * 11
    a, b = preset.a, preset.b
    beam = a.beam_size > 1
    return (preset.text, preset.reference, a.checkpoint, a.mask, a.forcing, a.ratio, "beam" if beam else "greedy",
            a.beam_size if beam else gr.skip(), b.checkpoint, b.mask, b.ratio if b.forcing else 0.0)


def on_load():
    choices = service.checkpoint_choices()
    samples = [[row[0]] for row in service.examples()]
    return gr.Dropdown(choices=choices), gr.Dropdown(choices=choices), gr.Dataset(samples=samples)


def translate(text: str, checkpoint: str, mask: str, teacher_forcing: float, reference: str, seed: int,
              beam_size: int):
    """Translate `text` with a checkpoint; returns the output text and the attention heatmap.

    teacher_forcing is the ratio of steps fed the reference (0 = off; the reference may then be empty).
    """
    try:
        return service.translate(text, checkpoint, mask, teacher_forcing, reference, seed, beam_size)
    except Exception as error:
        raise gr.Error(service.user_message(error)) from None


def build_demo() -> gr.Blocks:
    """The whole page, with the default checkpoint loaded and a first example already translated."""
    service.prepare()
    choices, default = service.checkpoint_choices(), service.default_checkpoint()
    samples = service.examples()
    first = next((row for row in samples if row[2] == default), ["", "", default])
    if default is None:
        start = service.Explored(None, "", None, "No checkpoints are installed: train one (see the README), "
                                                  "or list Hub checkpoints in S2S_HUB_CHECKPOINTS.")
    elif not first[0]:  # a Hub checkpoint only: no example to start with
        start = service.Explored(None, "", None, "")
    else:
        start = service.explore(service.Settings(first[0], default, reference=first[1]))
    last = service.last_step(start.result)

    with gr.Blocks(title=TITLE, delete_cache=(3600, 3600), analytics_enabled=False) as demo:
        result = gr.State(start.result)
        view = gr.State(HEATMAP)  # the results tab on screen
        pair = gr.State(None)
        with gr.Row(elem_id="header"):
            with gr.Column(scale=4, min_width=300):
                gr.Markdown(f"# {TITLE}\n{INTRO}", elem_id="intro")
                with gr.Accordion("What am I looking at?", open=False, elem_id="explainer"):
                    gr.Markdown(EXPLAINER)
            presenter = gr.Checkbox(label="Presenter mode", info="large type, colour-blind-safe colours",
                                    scale=0, min_width=180, elem_id="presenter")

        with gr.Tabs(elem_id="main-tabs"):
            with gr.Tab("Explore", id="explore"):
                with gr.Row(elem_id="explore-row"):
                    with gr.Column(scale=1, min_width=300, elem_id="controls"):
                        text = gr.Textbox(label="Source text", value=first[0], lines=1,
                                          max_length=service.MAX_TEXT_CHARS, autofocus=True, elem_id="source",
                                          placeholder="Type here, e.g. 3rd of March 2021")
                        examples = gr.Dataset(label="Examples: a click picks the checkpoint too", layout="gallery",
                                              components=["textbox"], samples=[[row[0]] for row in samples],
                                              samples_per_page=6, elem_id="examples")
                        checkpoint = gr.Dropdown(choices, value=default, label="Checkpoint", allow_custom_value=True,
                                                 info="bundled, or a Hub repo org/name", elem_id="checkpoint")
                        mask = gr.Radio(["bidirectional", "causal"], value="bidirectional", label="Attention mask",
                                        elem_id="mask")
                        with gr.Accordion("Teacher forcing", open=False):
                            forcing = gr.Checkbox(label="Feed the reference to the decoder", elem_id="forcing")
                            reference = gr.Textbox(label="Reference (target text)", value=first[1], lines=1,
                                                   max_length=service.MAX_TEXT_CHARS, elem_id="reference")
                            with gr.Row():
                                ratio = gr.Slider(0, 1, value=1.0, step=0.05, label="Ratio", min_width=160,
                                                  info="share of steps fed the reference")
                                seed = gr.Number(0, precision=0, label="Seed", min_width=100,
                                                 info="which steps, when the ratio < 1")
                        with gr.Accordion("Decoding", open=False):
                            with gr.Row():
                                decoding = gr.Radio(["greedy", "beam"], value="greedy", label="Search",
                                                    min_width=140)
                                beam_size = gr.Slider(1, 16, value=4, step=1, label="Beam size", min_width=160)
                        with gr.Accordion("About this checkpoint", open=False):
                            card = gr.Markdown(service.model_card(default) if default else "", elem_id="card")
                    with gr.Column(scale=2, min_width=340, elem_id="results"):
                        with gr.Row():
                            output = gr.Textbox(label="Output", value=start.output, interactive=False, scale=2,
                                                min_width=200, elem_id="output")
                            layer = gr.Radio(service.layer_choices(default) if default else [("mean", "mean")],
                                             value="mean", label="Layer", scale=3, min_width=200, elem_id="layer")
                        status = gr.Markdown(start.status, elem_id="status")
                        with gr.Tabs():
                            with gr.Tab(HEATMAP) as heatmap_tab:
                                plot = gr.Plot(start.figure, show_label=False, elem_id="heatmap")
                                with gr.Row(elem_id="stepper"):
                                    step = gr.Slider(0, max(last, 1), value=last, step=1,
                                                     label="Step", info="move to reveal the decoding row by row",
                                                     min_width=220, elem_id="step")
                                    play = gr.Button("▶ Play", scale=0, min_width=90, elem_id="play")
                                    stop = gr.Button("■ Stop", scale=0, min_width=90, variant="stop",
                                                     elem_id="stop")
                                with gr.Accordion("The arithmetic of this step", open=True):
                                    math = gr.Markdown(service.step_math(start.result), elem_id="step-math")
                            with gr.Tab(GRID) as grid_tab:
                                grid = gr.Plot(show_label=False, elem_id="grid")
                            with gr.Tab(FED) as fed_tab:
                                gr.Markdown("What the decoder was fed at each step (its own previous output, or "
                                            "the reference's under teacher forcing) and what it predicted.")
                                forcing_table = gr.Dataframe(service.forcing_rows(start.result),
                                                             headers=viz.FORCING_COLUMNS, interactive=False, wrap=True,
                                                             elem_id="forcing-table")
                            with gr.Tab(NBEST) as nbest_tab:
                                nbest = gr.Dataframe(service.nbest_rows(start.result), headers=viz.NBEST_COLUMNS,
                                                     interactive=False, wrap=True, elem_id="nbest")
                                rank = gr.Radio(service.ranks(start.result), value="1", label="Plot hypothesis",
                                                elem_id="rank")
                            with gr.Tab("Export") as export_tab:
                                gr.Markdown("The attention weights as CSV, everything recorded as JSON, and the "
                                            "heatmap as a page that opens offline. (PNG: the camera icon above "
                                            "the heatmap.)")
                                export = gr.Button("Prepare downloads", elem_id="export")
                                files = gr.File(label="Downloads", file_count="multiple", interactive=False)

            with gr.Tab("Compare", id="compare") as compare_tab:
                gr.Markdown("Run **A** uses the Explore tab's settings; run **B** the same text with its own "
                            "checkpoint, mask and forcing. The third map is A − B: red where A attends more.")
                with gr.Row():
                    presets = {name: gr.Button(label, size="sm") for name, label in service.PRESETS.items()}
                with gr.Row():
                    checkpoint_b = gr.Dropdown(choices, value=default, label="B: checkpoint", allow_custom_value=True,
                                               min_width=200)
                    mask_b = gr.Radio(["bidirectional", "causal"], value="causal", label="B: mask", min_width=200)
                    ratio_b = gr.Slider(0, 1, value=0, step=0.05, label="B: teacher forcing (0 = off)",
                                        min_width=200)
                    run_compare = gr.Button("Compare", variant="primary", scale=0, min_width=120)
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

        api_button = gr.Button(visible=False)

        # --- wiring -----------------------------------------------------------------------------------
        run_settings = [text, checkpoint, mask, forcing, ratio, reference, seed, decoding, beam_size]
        run_args = (on_run, run_settings + [layer, presenter], [output, plot, result, status])
        tab_outputs = [math, grid, forcing_table, nbest]
        details_args = (on_details, [result, layer, view, presenter], [step, rank, *tab_outputs])
        private = dict(api_visibility="private")
        live = dict(trigger_mode="always_last", show_progress=HIDDEN, **private)

        playing = play.click(on_play, [result, rank, layer, presenter], [plot, step, math], show_progress=HIDDEN,
                             concurrency_limit=16, **private)
        stop.click(None, cancels=[playing], **private)
        # .change, not .input: in gradio 6.31 a Textbox's .input misses deletions and pastes. Examples and
        # presets set the controls, and these events then run the model, at most twice with always_last.
        changed = gr.on([control.change for control in run_settings] + [text.submit], *run_args, cancels=[playing],
                        **live)
        changed.then(*details_args, **live)
        checkpoint.change(on_checkpoint, [checkpoint, layer], [card, layer], **live)
        examples.click(on_example, examples, [text, reference, checkpoint], **private)

        gr.on([layer.input, step.input], on_view, [result, rank, layer, step, presenter], [plot, math], **live)
        rank.input(on_hypothesis, [result, rank, layer, view, presenter], [plot, status, step, *tab_outputs], **live)
        gr.on([tab.select for tab in (heatmap_tab, grid_tab, fed_tab, nbest_tab, export_tab)], on_tab,
              [result, rank, layer, step, presenter], [view, *tab_outputs], **live)
        export.click(on_export, [result, rank, layer, presenter], files, **private)

        compare_outputs = [label_a, plot_a, label_b, plot_b, plot_diff, summary, pair]
        compare_args = (on_compare, run_settings + [checkpoint_b, mask_b, ratio_b, layer, presenter], compare_outputs)
        gr.on([compare_tab.select, run_compare.click, checkpoint_b.input, mask_b.input, ratio_b.release], *compare_args,
              **live)
        for name, button in presets.items():
            button.click(on_preset, [gr.State(name), *run_settings],
                         [text, reference, checkpoint, mask, forcing, ratio, decoding, beam_size, checkpoint_b,
                          mask_b, ratio_b], **private).then(*compare_args, **live)

        presenter.change(None, presenter, None, js=PRESENTER_JS, **private)
        presenter.change(on_presenter, [result, rank, layer, step, view, presenter], [plot, *tab_outputs], **live
                         ).then(on_compare_view, [pair, layer, presenter], compare_outputs, **live)

        demo.load(on_load, None, [checkpoint, checkpoint_b, examples], **private)
        api_button.click(translate, [text, checkpoint, mask, ratio, reference, seed, beam_size], [output, plot],
                         api_name="translate")
    demo.queue(default_concurrency_limit=8, max_size=64)
    return demo


def launch_options() -> dict:
    """What demo.launch needs besides the address: the theme and the stylesheet."""
    return dict(theme=gr.themes.Soft(primary_hue="indigo", secondary_hue="pink"), css_paths=[ASSETS / "style.css"])


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    on_space = bool(os.environ.get("SPACE_ID")) or os.environ.get("SYSTEM") == "spaces"
    server_name = os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_space else "127.0.0.1")
    build_demo().launch(server_name=server_name, **launch_options())


if __name__ == "__main__":
    main()
