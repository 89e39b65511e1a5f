"""The Explore tab's events: typing and every run setting run the model; the results then follow from the
kept result without running it again. Also presenter mode, the page's load, and the public API."""

from __future__ import annotations

from functools import partial

import gradio as gr

from s2s.web import cards, examples, export, heads, models, notes, ordering, runs, views

from .compare import on_compare_view
from .events import LIVE, PRIVATE, RESULT_TABS, open_tabs_js, page_of, unchanged
from .parts import ExploreControls, Page, Results
from .serving import prune_downloads

# Presenter mode: larger type everywhere, and the map scrolled into view once it is redrawn larger.
PRESENTER_JS = ("(on) => { document.body.classList.toggle('presenter', on); if (on) setTimeout(() => "
                "document.querySelector('#heatmap')?.scrollIntoView({block: 'nearest'}), 800); }")

def on_run(results: Results, page: str, *values) -> dict:
    """Run the model on the page's settings; an answer a newer run of the page has overtaken is dropped."""
    *controls, layer, presenter, display, kind, head = values
    ticket = ordering.PAGES.ticket(page)
    shown = results.show(views.explore(runs.settings_from(*controls), layer, presenter, display, kind, head))
    if not ordering.PAGES.is_latest(page, ticket):
        return {component: gr.skip() for component in shown}
    return shown


def on_intervene(results: Results, *values) -> dict:
    """Feed another piece at a step of the kept result and decode on: the new run replaces the kept one."""
    *controls, result, rank, step, piece, layer, presenter, display, kind, head = values
    changed = views.intervene(runs.settings_from(*controls), result, step, piece, layer, presenter, display, rank,
                              kind, head)
    if changed.result is None:  # refused (a step out of range, a piece it lacks): the kept run stays on screen
        return {results.output: gr.skip(), results.plot: gr.skip(), results.result: gr.skip(),
                results.status: changed.status}
    return results.show(changed)


def on_details(page: Page, result, layer, view, presenter, display, kind, head, spec, pending) -> dict:
    """After a new result: the step slider's range, the hypothesis menu back to the best, the visible tab; and
    the checkpoint's card and menus when they were made while its model was still loading from the Hub."""
    results, last = page.results, views.last_step(result)
    shown = {results.step: gr.Slider(maximum=max(last, 1), value=last),
             results.rank: gr.Radio(choices=views.ranks(result), value="1"),
             **results.tab(views.tab_contents(view, result, "1", layer, None, presenter, display, kind, head))}
    if pending and result is not None:  # a run came back, so the model has loaded: its card and menus now
        shown |= on_checkpoint(page, spec, layer, head)
    return shown


def on_view(results: Results, result, rank, layer, step, presenter, display, kind, head) -> dict:
    return {results.plot: views.figure(result, rank, layer, step, presenter, display, kind, head),
            **results.tab(views.tab_contents(views.HEATMAP, result, rank, layer, step, presenter, display, kind,
                                             head))}


def on_hypothesis(results: Results, result, rank, layer, view, presenter, display, kind, head) -> dict:
    last = views.last_step(result, rank)
    return {results.plot: views.figure(result, rank, layer, None, presenter, display, kind, head),
            results.status: views.hypothesis_note(result, rank),
            results.step: gr.Slider(maximum=max(last, 1), value=last),
            **results.tab(views.tab_contents(view, result, rank, layer, None, presenter, display, kind, head))}


def on_redraw(results: Results, result, rank, layer, step, view, presenter, display, kind, head) -> dict:
    """Presenter mode, another kind of attention or another head: the map and the visible tab drawn again."""
    return {results.plot: views.figure(result, rank, layer, step, presenter, display, kind, head),
            **results.tab(views.tab_contents(view, result, rank, layer, step, presenter, display, kind, head))}


def on_head_clicked(results: Results, value, result) -> dict:
    """A head clicked in the heads grid: its layer and head on the heatmap (which the event's script then opens)."""
    chosen = heads.clicked(value, result)
    if chosen is None:
        return unchanged(results.layer)
    layer, head = chosen
    return {results.layer: layer, results.head: head}


def on_tab(results: Results, view, result, rank, layer, step, presenter, display, kind, head) -> dict:
    return {results.view: view,
            **results.tab(views.tab_contents(view, result, rank, layer, step, presenter, display, kind, head))}


def on_play(results: Results, result, rank, layer, presenter, display, kind, head):
    for frame in views.play(result, rank, layer, presenter, display=display, kind=kind, head=head):
        yield {results.plot: frame.figure, results.step: frame.step, results.math: frame.math,
               results.step_plot: frame.arithmetic}


def on_export(result, rank, layer, presenter, display, kind, head):
    prune_downloads()
    exported = export.export(result, rank, layer, presenter, display, kind, head)
    if exported.message:
        gr.Warning(exported.message)
    return exported.paths or None


def on_checkpoint(page: Page, spec, layer, head) -> dict:
    """A new checkpoint: its card, its layers in the layer menu (the chosen one kept if it has it), its hint;
    for a model with heads the kind and head menus (the chosen head kept if it has it)."""
    choices, kept = models.layer_menu(spec, layer)
    r, heads_menu = page.results, heads.head_choices(spec)
    head = head if head in dict(heads_menu).values() else heads.MEAN
    return {page.explore.card: cards.model_card(spec), r.layer: gr.Radio(choices=choices, value=kept),
            page.explore.hint: notes.input_hint(spec), r.lens: gr.Row(visible=len(heads_menu) > 1),
            r.head: gr.Dropdown(choices=heads_menu, value=head), r.pending: models.loading(spec)}


def on_checkpoint_chosen(explore: ExploreControls, spec) -> dict:
    """A checkpoint the visitor picks runs with the mask it was trained with (a mismatch is then a choice)."""
    return {explore.mask: models.trained_mask(spec) or gr.skip()}


def on_example(explore: ExploreControls, sample) -> dict:
    try:
        source, reference, checkpoint = examples.example(sample[0])
    except ValueError as error:
        gr.Warning(str(error))
        return unchanged(explore.text)
    return {explore.text: source, explore.reference: reference, explore.checkpoint: checkpoint,
            explore.reference_source: source}


def on_source(page: Page, text, reference, reference_source, forcing) -> dict:
    """A typed source clears the reference set for another source, and the lesson's text (examples.source_typed)."""
    typed = examples.source_typed(text, reference, reference_source, forcing)
    if not typed.clears:
        return unchanged(page.explore.reference)
    if typed.note:
        gr.Info(typed.note)
    return {page.explore.reference: "", page.explore.reference_source: None,
            **dict.fromkeys(page.lesson_texts, gr.Markdown(visible=False))}


def on_load(page: Page) -> dict:
    """Each visit: the checkpoint menus and examples as installed now (the page may be older)."""
    choices = models.checkpoint_choices()
    return {page.explore.checkpoint: gr.Dropdown(choices=choices),
            page.compare.checkpoint_b: gr.Dropdown(choices=choices),
            page.explore.examples: gr.Dataset(samples=[[row[0]] for row in examples.examples()])}


def wire_explore(page: Page) -> None:
    """Typing and every run setting run the model; the results then follow, without running it again."""
    e, r = page.explore, page.results
    playing = r.play.click(partial(on_play, r), [r.result, r.rank, r.layer, page.presenter, r.display, r.kind, r.head],
                           [r.plot, r.step, r.math, r.step_plot], show_progress="hidden", concurrency_limit=16,
                           **PRIVATE)
    r.stop.click(None, cancels=[playing], **PRIVATE)

    # .change, not .input: in gradio 6.31 a Textbox's .input misses deletions and pastes. Examples and
    # presets set the controls, and these events then run the model, at most twice with always_last.
    def run(request: gr.Request, *values) -> dict:  # gradio passes the Request to a leading parameter only
        return on_run(r, page_of(request), *values)

    changed = gr.on([control.change for control in e.settings] + [e.text.submit, r.display.change],
                    run, e.settings + [r.layer, page.presenter, r.display, r.kind, r.head],
                    [r.output, r.plot, r.result, r.status], cancels=[playing], **LIVE)
    menus = [e.card, r.layer, e.hint, r.lens, r.head, r.pending]  # what on_checkpoint sets
    details = (partial(on_details, page),
               [r.result, r.layer, r.view, page.presenter, r.display, r.kind, r.head, e.checkpoint, r.pending],
               [r.step, r.rank, *r.tab_outputs, *menus])
    changed.then(*details, **LIVE)
    e.checkpoint.change(partial(on_checkpoint, page), [e.checkpoint, r.layer, r.head], menus, **LIVE)
    e.checkpoint.input(partial(on_checkpoint_chosen, e), [e.checkpoint], [e.mask], **LIVE)
    e.examples.click(partial(on_example, e), e.examples, [e.text, e.reference, e.checkpoint, e.reference_source],
                     **PRIVATE)
    e.text.change(partial(on_source, page), [e.text, e.reference, e.reference_source, e.forcing],
                  [e.reference, e.reference_source, *page.lesson_texts], **LIVE)

    lens = [r.kind, r.head]
    gr.on([r.layer.change, r.step.input], partial(on_view, r),
          [r.result, r.rank, r.layer, r.step, page.presenter, r.display, *lens], [r.plot, r.math, r.step_plot],
          **LIVE)
    r.rank.input(partial(on_hypothesis, r), [r.result, r.rank, r.layer, r.view, page.presenter, r.display, *lens],
                 [r.plot, r.status, r.step, *r.tab_outputs], **LIVE)
    for name, tab in r.tabs.items():
        tab.select(partial(on_tab, r, name),
                   [r.result, r.rank, r.layer, r.step, page.presenter, r.display, *lens],
                   [r.view, *r.tab_outputs], **LIVE)
    gr.on([r.kind.change, r.head.change], partial(on_redraw, r),
          [r.result, r.rank, r.layer, r.step, r.view, page.presenter, r.display, *lens], [r.plot, *r.tab_outputs],
          **LIVE)
    r.head_clicked.change(partial(on_head_clicked, r), [r.head_clicked, r.result], [r.layer, r.head], **PRIVATE
                          ).then(None, js=f"() => {{ {open_tabs_js((RESULT_TABS, views.HEATMAP))} }}")
    r.export.click(on_export, [r.result, r.rank, r.layer, page.presenter, r.display, r.kind, r.head], r.files,
                   **PRIVATE)
    r.change.click(partial(on_intervene, r),
                   e.settings + [r.result, r.rank, r.change_step, r.change_piece, r.layer, page.presenter, r.display,
                                 *lens],
                   [r.output, r.plot, r.result, r.status], **PRIVATE).then(*details, **LIVE)


def wire_presenter(page: Page) -> None:
    """Presenter mode restyles the page (in the browser) and re-plots what is shown."""
    r, c = page.results, page.compare
    page.presenter.change(None, page.presenter, None, js=PRESENTER_JS, **PRIVATE)
    page.presenter.change(partial(on_redraw, r),
                          [r.result, r.rank, r.layer, r.step, r.view, page.presenter, r.display, r.kind, r.head],
                          [r.plot, *r.tab_outputs], **LIVE
                          ).then(partial(on_compare_view, c), [c.kept, r.layer, page.presenter, r.display], c.outputs,
                                 **LIVE)


def wire_load(page: Page, demo: gr.Blocks) -> None:
    demo.load(partial(on_load, page), None, [page.explore.checkpoint, page.compare.checkpoint_b,
                                             page.explore.examples], **PRIVATE)
