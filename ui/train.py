"""The Train tab's events: Train starts a run for this page, a timer polls it, and the finished model goes to
Explore or to a zip. What each does is s2s/web/train_tab.py.

The handlers are closures, not partials: gradio passes gr.Request only to a function whose own signature
asks for it, and the page's id is what limits it to one run.
"""

from __future__ import annotations

import json

import gradio as gr

from s2s.web import models, train_tab, training

from .compare import EXPLORE_MAPS, SHOW_JS
from .events import LIVE, MAIN_TABS, PRIVATE, address_of, open_tabs_js, page_of, unchanged
from .parts import Page
from .serving import prune_downloads


def read_request(task, tsv, family, attention, query, mask, encoder, size, probe) -> training.TrainRequest:
    """The Train tab's controls (TrainControls.request) as a request."""
    return training.TrainRequest(task=task, tsv=tsv or "", family=family, attention=bool(attention), query=query,
                                 mask=mask, encoder=encoder, size=size, probe=probe or "")


def task_chosen(task) -> dict:
    """The pasted pairs' box, shown for the tsv task only."""
    return gr.update(visible=train_tab.pairs_shown(task))


def family_chosen(family) -> list:
    """The LSTM's own settings (TrainControls.lstm_only) shown for the LSTM, hidden for a Transformer."""
    return [gr.update(visible=shown) for shown in train_tab.lstm_settings(family)]


def wire_train(page: Page, demo: gr.Blocks) -> None:
    t, e = page.train, page.explore
    shown = [t.status, t.curves, t.probe_plot, t.replay, t.timer]

    def answer(asked: train_tab.Asked) -> dict:
        return {t.status: asked.status, t.timer: gr.Timer(active=asked.polling)}

    def started(request: gr.Request, *controls):
        return answer(train_tab.ask(page_of(request), read_request(*controls), address_of(request)))

    def polled(request: gr.Request, presenter):
        run = train_tab.poll(page_of(request), presenter, address_of(request))
        if run is None:
            return {t.timer: gr.Timer(active=False)}
        if isinstance(run, train_tab.Asked):
            return answer(run)
        last = max(run.snapshots - 1, 0)
        return {t.status: run.status, t.curves: run.curves,
                t.probe_plot: run.probe if run.probe is not None else gr.skip(),
                t.replay: gr.Slider(maximum=max(last, 1), value=last), t.timer: gr.Timer(active=run.polling)}

    def replayed(request: gr.Request, snapshot, presenter):
        figure = train_tab.replay(page_of(request), snapshot, presenter)
        return {t.probe_plot: figure if figure is not None else gr.skip()}

    def cancelled(request: gr.Request):
        return {t.status: train_tab.cancel(page_of(request))}

    def used(request: gr.Request):
        try:
            model = train_tab.use(page_of(request))
        except ValueError as error:
            gr.Warning(str(error))
            return unchanged(t.status)
        return {e.checkpoint: gr.Dropdown(choices=[*models.checkpoint_choices(), model.name], value=model.name),
                e.text: model.text, e.reference: "", e.forcing: False, e.mask: model.mask}

    def exported(request: gr.Request):
        prune_downloads()
        try:
            return {t.files: gr.File(str(train_tab.export(page_of(request))), visible=True)}
        except ValueError as error:
            gr.Warning(str(error))
            return unchanged(t.files)

    t.task.input(training.probe_for, [t.task, t.probe], [t.probe], **PRIVATE)  # a date probe for reversals: bytes
    t.task.change(task_chosen, [t.task], [t.tsv], **PRIVATE)
    t.family.change(family_chosen, [t.family], t.lstm_only, **PRIVATE)  # a Transformer has no LSTM switches
    t.start.click(started, t.request, [t.status, t.timer], **PRIVATE)
    t.timer.tick(polled, [page.presenter], shown, show_progress="hidden", **PRIVATE)
    t.replay.input(replayed, [t.replay, page.presenter], [t.probe_plot], **LIVE)  # dragged, typed or arrow keys
    t.cancel.click(cancelled, None, [t.status], **PRIVATE)
    t.use.click(used, None, [e.checkpoint, e.text, e.reference, e.forcing, e.mask, t.status], **PRIVATE
                ).then(None, js=SHOW_JS % (open_tabs_js((MAIN_TABS, "explore")), json.dumps(list(EXPLORE_MAPS))))
    t.export.click(exported, None, [t.files], **PRIVATE)
    def closed(request: gr.Request):
        train_tab.left(page_of(request))

    demo.unload(closed)  # when the page's heartbeat stream closes: a run or a place is held by an open page
