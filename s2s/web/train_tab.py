"""What each event of the Train tab does, without gradio: ask for a run, follow it, replay it, use it, export it.

A page (gradio's session_hash) has at most one run in `training.RUNS`. Each function here takes the page's
id and returns a named value that the gradio layer (ui/train.py) shows; a refusal is a ValueError whose
message is for the visitor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import viz
from ..translator import Translation
from . import models, runs, training


@dataclass(frozen=True)
class Asked:
    """The answer to Train: what to say, and whether the page should keep polling."""

    status: str
    polling: bool


@dataclass(frozen=True)
class Polled:
    """One poll of a page's run: where it is, its curves, and the probe's latest map."""

    status: str
    curves: viz.Figure
    probe: viz.Figure | None  # None before the first probe
    snapshots: int  # how many probe maps the replay slider can show
    polling: bool  # False once the run is over


@dataclass(frozen=True)
class Used:
    """A finished run's model, registered for Explore, and the settings Explore opens it with."""

    name: str  # the name it goes by in the checkpoint menus
    text: str  # the run's probe, to translate first
    mask: str  # the mask it was trained with


def promise() -> str:
    """What each task reaches with the tab's defaults within the cap (training.REACHES), in one sentence: once for
    both families where they state the same (the Train button stays above a 720 px screen's fold), else each's."""
    each = {family: ", ".join(f"{task} {share:.0%}" for task, share in tasks.items())
            for family, tasks in training.REACHES.items()}
    if len(set(each.values())) == 1:
        reached = f"{next(iter(each.values()))} (either model)"
    else:
        reached = "; ".join(f"{training.FAMILIES[family]}: {tasks}" for family, tasks in each.items())
    return f"With these defaults each task reaches at least this validation exact match in time: {reached}."


def pairs_shown(task: object) -> bool:
    """Whether the box for pasted pairs applies: for the tsv task only (hidden, it leaves the Train button higher)."""
    return task == "tsv"


def lstm_settings(family: object) -> tuple[bool, bool, bool]:
    """Whether the LSTM's own settings (attention, query, encoder) apply to this family: shown, or hidden."""
    shown = family != "transformer"
    return shown, shown, shown


def probe_title(translation: Translation, what: str) -> str:
    """The Train tab map's title: `what`, and for a model with heads which attention it is, as Explore's map shows
    it by default (cross-attention, the mean of its heads and layers)."""
    if not translation.heads:
        return what
    layers, heads = translation.heads["cross"].shape[:2]
    return f"{what} · cross-attention, mean of {heads} heads" + (f" and {layers} layers" if layers > 1 else "")


def ask(page: str, request: training.TrainRequest, address: str = "") -> Asked:
    """Start a run for this page, or keep its place in line (the page asks again each second while waiting);
    `address` is the visitor's, which holds a few runs and places at most, whatever pages it opens."""
    try:
        training.RUNS.start(page, request, address)
    except training.InLine as waiting:
        return Asked(str(waiting), True)
    except ValueError as error:
        return Asked(runs.problem(str(error)), False)
    return Asked(with_caution("Starting…", request), True)


def with_caution(status: str, request: training.TrainRequest) -> str:
    """The status, and under it what a run that cannot generalise will show (TrainRequest.caution)."""
    caution = request.caution() if isinstance(request, training.TrainRequest) else ""
    return f"{status}\n\n*{caution}*" if caution else status


def poll(page: str, presenter: bool = False, address: str = "") -> Polled | Asked | None:
    """Where this page's run is (None: it has none); a page waiting in line asks for its place again."""
    waiting = training.RUNS.waiting(page)
    if waiting is not None:
        return ask(page, waiting, address)
    run = training.RUNS.get(page)
    if run is None:
        return None
    progress, probes = run.progress(), run.probes()
    probe = (viz.heatmap(probes[-1], title=probe_title(probes[-1], f"the probe after {progress.step} steps"),
                         presenter=presenter, row_scale=True) if probes else None)
    curves = viz.training_curves(list(progress.loss), list(progress.accuracy), presenter=presenter)
    return Polled(with_caution(progress.status, run.request), curves, probe, len(probes), not progress.done)


def replay(page: str, snapshot: object, presenter: bool = False) -> viz.Figure | None:
    """The probe's map at one snapshot of this page's run (clamped to those it has); None if it has none."""
    run = training.RUNS.get(page)
    probes = run.probes() if run is not None else []
    if not probes:
        return None
    k = min(max(int(snapshot or 0), 0), len(probes) - 1)
    return viz.heatmap(probes[k], title=probe_title(probes[k], f"the probe, snapshot {k + 1} of {len(probes)}"),
                       presenter=presenter, row_scale=True)


def cancel(page: str) -> str:
    """Stop this page's run (or its place in line); what to say."""
    return "Cancelling…" if training.RUNS.cancel(page) else "No run going."


def left(page: str) -> None:
    """The page has closed: its run or place in line ends now (not once its polls stop), its model goes."""
    training.RUNS.cancel(page)
    models.TRAINED.drop(page)


def use(page: str) -> Used:
    """Register this page's trained model for Explore. ValueError while there is none, or no place to keep it."""
    run = training.RUNS.get(page)
    translator = run.translator() if run is not None else None
    if translator is None:
        raise ValueError("No trained model yet: train one and let it finish (or cancel it).")
    name = models.add_trained(page, translator, training.EXPORT_DIR)
    return Used(name, run.request.probe, run.request.mask)


def export(page: str) -> Path:
    """This page's trained model as a zip to download. ValueError while there is none."""
    run = training.RUNS.get(page)
    if run is None:
        raise ValueError("There is no trained model to export yet: train one first.")
    return run.export_path(models.TRAINED.name_of(page) or "trained")
