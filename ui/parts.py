"""The page's parts: each a frozen record of the gradio components one region of the page holds.

The layout (ui/layout.py) builds them; the wiring (ui/explore.py, ui/compare.py, ui/train.py) reads
them, and handlers return {component: value} dicts, so that no output list is matched by position.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from s2s.web import compare, views

from .liveplot import LivePlot


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
    tabs: dict  # results tab name -> gr.Tab
    plot: LivePlot  # the heatmap: redrawn in place on every keystroke
    step_plot: LivePlot  # the step's arithmetic, drawn beside the map
    step: gr.Slider
    play: gr.Button
    stop: gr.Button
    math: gr.Markdown
    grid: gr.Plot
    lens: gr.Row  # shown for a model with heads: the two menus below
    kind: gr.Radio  # the kind of attention the map and the Heads tab draw (s2s/web/heads.py)
    head: gr.Dropdown  # the head the map draws, or their mean
    pending: gr.State  # True: the card and menus were made while the checkpoint was still loading from the Hub
    heads: LivePlot  # every head of every layer, of that kind
    head_clicked: gr.Textbox  # hidden: the panel a click on the heads grid named (ui/liveplot.py)
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
        return [self.math, self.step_plot, self.grid, self.heads, self.forcing_table, self.nbest]

    def tab(self, contents: dict[str, object]) -> dict:
        """views.tab_contents' values (by part name) on these components."""
        return {getattr(self, name): value for name, value in contents.items()}

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
    plot_a: LivePlot  # redrawn in place, its height fitted to the window (liveplot.py)
    label_b: gr.Markdown
    plot_b: LivePlot
    plot_diff: LivePlot
    kept: gr.State  # compare.Kept: re-plotted without running again
    measure: gr.Button  # quality by source length, measured on fresh examples
    by_length: LivePlot
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
    family: gr.Radio  # LSTM with attention, or Transformer
    attention: gr.Checkbox  # attention, query, encoder: the LSTM's own, hidden for a Transformer
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
        """The controls a training.TrainRequest is read from, in the order `read_request` takes them."""
        return [self.task, self.tsv, self.family, self.attention, self.query, self.mask, self.encoder, self.size,
                self.probe]

    @property
    def lstm_only(self) -> list:
        """The settings only the LSTM reads, in the order train_tab.lstm_settings answers for them."""
        return [self.attention, self.query, self.encoder]


@dataclass(frozen=True)
class Page:
    """Every part of the page an event reads or writes."""

    presenter: gr.Checkbox
    lessons: dict  # a key of lessons.BY_KEY -> its button
    lesson_texts: tuple  # what to look at, for the lesson chosen: (in Explore, in Compare)
    explore: ExploreControls
    results: Results
    compare: CompareControls
    train: TrainControls
    api: gr.Button  # hidden: carries the public `translate` endpoint...
    api_plot: gr.Plot  # ...whose heatmap is a gradio Plot value, as gradio_client expects
