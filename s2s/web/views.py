"""What the Explore tab shows: a fresh run's notes, then re-plots of the kept result.

The page keeps the last result (a `Translation`), so moving the step slider, choosing a layer, a
hypothesis or presenter mode calls a function here that re-plots it without running the model
again. Every function takes the values the page's controls hold (a layer menu's "mean" or "1", a
slider's float, a hypothesis rank as text) and accepts None for "no result yet".
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import NamedTuple

from .. import viz
from ..translator import Translation
from . import cards, examples, heads, models, notes, runs
from .runs import Settings

PLAY_SECONDS = 6.0  # a play-through of the decoding takes about this long...
PLAY_DELAY_S = (0.15, 0.7)  # ...with at least/at most this pause between steps
# frames a play-through sends at most (a long output skips steps evenly, its last step always shown): gradio
# holds every frame a page has not read yet, so a client that stops reading holds at most this many
MAX_PLAY_FRAMES = 40
SCALE_ROWS, ROWS_BY_FED = "scale each row to its largest weight", "label rows by the piece fed in"
DISPLAY_OPTIONS = (SCALE_ROWS, ROWS_BY_FED)  # the page's display checkboxes, as views take them
DEFAULT_DISPLAY = (SCALE_ROWS,)  # weights of 0.2 are the lesson, and they are pale on a fixed 0-1 scale
NO_CHECKPOINTS = ("No checkpoints are installed: train one (see the README), "
                  "or list Hub checkpoints in S2S_HUB_CHECKPOINTS.")


@dataclass(frozen=True)
class Explored:
    """One run for the Explore tab: the result (None after an error) and what to show right away."""

    result: Translation | None
    output: str
    figure: viz.Figure | None
    status: str  # Markdown: the error, or notes such as a mask mismatch


def explore(settings: Settings, layer: object = "mean", presenter: bool = False, display: object = (),
            kind: object = "cross", head: object = heads.MEAN) -> Explored:
    """The Explore tab after runs.run: the output, the whole figure and the notes; errors become the status."""
    try:
        result = runs.run(settings)
        figure = map_figure(result, layer, None, presenter, display, kind, head)
    except Exception as error:
        return Explored(None, "", None, runs.problem(runs.user_message(error)))
    return Explored(result, result.text, figure, notes.notes(result) + notes.input_notes(result, settings.checkpoint))


def intervene(settings: Settings, result: Translation | None, step: object, piece: object, layer: object = "mean",
              presenter: bool = False, display: object = (), rank: object = 1, kind: object = "cross",
              head: object = heads.MEAN) -> Explored:
    """Feed `piece` at `step` instead of what the shown run was fed there, then decode on freely (no forcing).

    The shown run is beam search's hypothesis `rank` (the one on screen), or the greedy result. Steps
    1..step-1 are fed what they were fed in it (its own outputs, or the reference where teacher forcing
    fed that), so the rows up to the change are the same; the rows after it show what one different input
    does to the rest: exposure bias, caused on purpose.
    """
    if result is None:
        return Explored(None, "", None, runs.problem("Translate something first."))
    result = hypothesis(result, rank)
    try:
        at = int(step)
    except (TypeError, ValueError):
        at = 0
    last = len(result.output_pieces) - 1
    if not 1 <= at <= last:
        return Explored(None, "", None, runs.problem(f"Choose a step from 1 to {last}: step 0 is always fed ⟨bos⟩."))
    piece = piece.strip() if isinstance(piece, str) else ""
    if not piece:
        return Explored(None, "", None, runs.problem("Type the piece to feed (one of the checkpoint's pieces)."))
    try:
        piece = examples.typed_piece(piece, models.get_model(settings.checkpoint).translator.target_tokenizer)
    except Exception:  # the run below says what is wrong with the checkpoint
        pass
    fed = tuple(result.decoder_inputs[1:at])  # steps 1..at-1, as the shown run was fed them
    changed = replace(settings, forcing=False, ratio=0.0, beam_size=1, prefix=(*fed, piece))
    explored = explore(changed, layer, presenter, display, kind, head)
    if explored.result is None:
        return explored
    was, now = (viz.display_piece(p) for p in (result.decoder_inputs[at], piece))
    fed_note = (f"Step {at} was already fed <code>{now}</code>" if piece == result.decoder_inputs[at] else
                f"Step {at} was fed <code>{now}</code> instead of <code>{was}</code> (▸)")
    forcing_note = (" From the change on there is no teacher forcing: the run on screen was fed the reference"
                    f"{' at every step' if result.forced[at:].all() else ' at some steps'}, this one its own "
                    "outputs." if result.reference is not None and result.forced[at:].any() else "")
    note = (f'<div class="s2s-note">{fed_note}; every row after it is what the model did with that, decoding '
            f"on its own.{forcing_note} Its output went from <code>{html.escape(result.text)}</code> to "
            f"<code>{html.escape(explored.result.text)}</code>.</div>")
    return replace(explored, status=note + ("\n\n" + explored.status if explored.status else ""))


# the results tabs
HEATMAP, GRID, HEADS, FED, NBEST, EXPORT = "Heatmap", "All layers", "Heads", "Fed & predicted", "n-best", "Export"


def tab_contents(view: str, result: Translation | None, rank: object = 1, layer: object = "mean",
                 step: object = None, presenter: bool = False, display: object = (),
                 kind: object = "cross", head: object = heads.MEAN) -> dict[str, object]:
    """What the results tab `view` shows, by the name of its part; the other tabs are left alone, so that a
    keystroke sends and draws only what is on screen."""
    if view == HEATMAP:
        return {"math": step_math(result, rank, layer, step, head),
                "step_plot": step_figure(result, rank, layer, step, presenter, head)}
    if view == GRID:
        return {"grid": grid(result, rank, presenter, display)}
    if view == HEADS:
        return {"heads": None if result is None else heads.figure(hypothesis(result, rank), kind, presenter)}
    if view == FED:
        return {"forcing_table": forcing_rows(result, rank)}
    if view == NBEST:
        return {"nbest": nbest_rows(result)}
    return {}


def heatmap_display(display: object) -> dict:
    """The display checkboxes' values as viz.heatmap's keywords."""
    chosen = set(display) if isinstance(display, list | tuple | set) else set()
    return dict(row_scale=SCALE_ROWS in chosen, rows_by_fed=ROWS_BY_FED in chosen)


@dataclass(frozen=True)
class Opening:
    """What the page opens with: the menus, the examples, and the first example already run."""

    choices: list[str]  # the checkpoint menu
    default: str | None  # the checkpoint chosen
    examples: list[list[str]]  # [source, reference, checkpoint] rows
    text: str
    reference: str
    explored: Explored
    card: str
    layers: list[tuple[str, str]]  # the layer menu
    heads: list[tuple[str, str]]  # the head menu (the mean alone: a model without heads, and no lens row)


def opening() -> Opening:
    """The default checkpoint, its card and layers, and its first example translated (if it has one)."""
    choices, default = models.checkpoint_choices(), models.default_checkpoint()
    rows = examples.examples()
    text, reference, _ = next((row for row in rows if row[2] == default), ["", "", default])
    if default is None:
        explored = Explored(None, "", None, NO_CHECKPOINTS)
    elif not text:  # a Hub checkpoint only: no example to start with
        explored = Explored(None, "", None, "")
    else:
        explored = explore(Settings(text, default, reference=reference), display=DEFAULT_DISPLAY)
    card = cards.model_card(default) if default else ""
    layers = models.layer_choices(default) if default else [("mean", "mean")]
    return Opening(choices, default, rows, text, reference, explored, card, layers, heads.head_choices(default))


# --- choosing what to plot --------------------------------------------------------------------------


def hypothesis(result: Translation, rank: object = 1) -> Translation:
    """Beam search's hypothesis of rank `rank` (1 = best); the result itself for a greedy one."""
    hypotheses = result.hypotheses or [result]
    try:
        index = int(rank) - 1
    except (TypeError, ValueError):
        index = 0
    return hypotheses[min(max(index, 0), len(hypotheses) - 1)]


def hypothesis_note(result: Translation | None, rank: object = 1) -> str:
    """The status while hypothesis `rank` is plotted: the run's notes, and which hypothesis unless the best."""
    if result is None:
        return ""
    r = hypothesis(result, rank)
    if not result.hypotheses or r is result.hypotheses[0]:
        return notes.notes(result)
    return (f"Showing hypothesis {result.hypotheses.index(r) + 1} of {len(result.hypotheses)}: "
            f"<code>{html.escape(r.text)}</code> (mean log p {r.mean_log_prob:.3f}; the best scored "
            f"{result.mean_log_prob:.3f}).")


def pick_layer(value: object, r: Translation) -> int | str:
    """A layer menu value ("mean" or "0", "1", …) as viz takes it; a layer the model lacks falls back to the mean."""
    if value in (None, "", "mean"):
        return "mean"
    try:
        layer = int(value)
    except (TypeError, ValueError):
        return "mean"
    return layer if 0 <= layer < r.attention_layers else "mean"


def _revealed(step: object, r: Translation) -> int | None:
    """The step to reveal up to, or None (the whole map, no outline) at the last step."""
    if step is None or isinstance(step, bool) or not isinstance(step, int | float) or math.isnan(step):
        return None
    step = int(step)
    return None if step >= len(r.output_pieces) - 1 else max(step, 0)


def last_step(result: Translation | None, rank: object = 1) -> int:
    """The last step of the shown hypothesis: the step slider runs from 0 to it."""
    return 0 if result is None else len(hypothesis(result, rank).output_pieces) - 1


def ranks(result: Translation | None) -> list[str]:
    """The hypothesis menu's choices: "1" (the best) to the number beam search kept."""
    count = len(result.hypotheses) if result is not None and result.hypotheses else 1
    return [str(rank) for rank in range(1, count + 1)]


# --- re-plotting a kept result ----------------------------------------------------------------------


def figure(result: Translation | None, rank: object = 1, layer: object = "mean", step: object = None,
           presenter: bool = False, display: object = (), kind: object = "cross",
           head: object = heads.MEAN) -> viz.Figure | None:
    """Re-plot a kept result (no model run): one hypothesis, one layer, revealed up to `step`."""
    if result is None:
        return None
    r = hypothesis(result, rank)
    return map_figure(r, layer, _revealed(step, r), presenter, display, kind, head)


def map_figure(r: Translation, layer: object, step: int | None, presenter: bool, display: object,
               kind: object = "cross", head: object = heads.MEAN) -> viz.Figure:
    """The heatmap of r: for a model with heads, of the kind and head chosen (heads.lens). Encoder
    self-attention's rows are source pieces, not steps: it is drawn whole whatever the step."""
    shown, lens_title = heads.lens(r, kind, head)
    if heads.pick_kind(kind, r) == "encoder_self":
        step = None
    chosen = pick_layer(layer, shown)
    title = None if lens_title is None else f"{lens_title} · {viz.default_title(shown, chosen)}"
    return viz.heatmap(shown, chosen, step, presenter=presenter, title=title, **heatmap_display(display))


def step_figure(result: Translation | None, rank: object = 1, layer: object = "mean", step: object = None,
                presenter: bool = False, head: object = heads.MEAN) -> viz.Figure | None:
    """The shown step's arithmetic as grids, for the layer on the map (the mean has none of its own)."""
    if result is None:
        return None
    r = hypothesis(result, rank)
    chosen = pick_layer(layer, r)
    if r.attention_layers == 0:
        return viz.step_figure(r, 0, 0, presenter=presenter)
    if chosen == "mean" and r.attention_layers > 1:
        return viz.message(f"The map shows the mean of {r.attention_layers} layers, and each layer does its own "
                           "arithmetic: choose a layer above to see its query, keys, values and context.", presenter)
    shown = _revealed(step, r)
    layer_shown = 0 if chosen == "mean" else chosen  # the mean of one layer is that layer
    return viz.step_figure(r, last_step(result, rank) if shown is None else shown, layer_shown, presenter=presenter,
                           head=heads.pick_head(head, r) or 0)


def grid(result: Translation | None, rank: object = 1, presenter: bool = False,
         display: object = ()) -> viz.Figure | None:
    """Every layer side by side, and their mean, each row scaled as the heatmap's are when "scale each row" is on."""
    if result is None:
        return None
    row_scale = heatmap_display(display)["row_scale"]
    return viz.layer_grid(hypothesis(result, rank), presenter=presenter, row_scale=row_scale)


def step_math(result: Translation | None, rank: object = 1, layer: object = "mean", step: object = None,
              head: object = heads.MEAN) -> str:
    """The arithmetic of one step (Markdown); for the mean of layers it explains layer 0, for the mean of heads
    head 0."""
    if result is None:
        return ""
    r = hypothesis(result, rank)
    last = len(r.output_pieces) - 1
    chosen = pick_layer(layer, r)
    shown = 0 if chosen == "mean" else chosen
    step = last if _revealed(step, r) is None else _revealed(step, r)
    text = viz.step_math(r, step, shown if r.attention_layers else 0, head=heads.pick_head(head, r) or 0)
    if chosen == "mean" and r.attention_layers > 1:
        text = (f"*The heatmap shows the mean of {r.attention_layers} layers; each layer does its own arithmetic. "
                "This is layer 0's (choose a layer to see another).*\n\n" + text)
    if r.heads and heads.pick_head(head, r) is None:
        text = ("*A layer's heads each do their own arithmetic; this is head 0's (choose a head to see "
                "another).*\n\n" + text)
    return text


def forcing_rows(result: Translation | None, rank: object = 1) -> list[list]:
    """Fed token, forced or not, prediction and reference per step (viz.FORCING_COLUMNS)."""
    return [] if result is None else viz.forcing_table(hypothesis(result, rank))


def nbest_rows(result: Translation | None) -> list[list]:
    """Beam search's hypotheses, best first (viz.NBEST_COLUMNS)."""
    return [] if result is None else viz.nbest_table(result)


class Frame(NamedTuple):
    """One step of a play-through."""

    figure: viz.Figure
    step: int
    math: str  # the step's arithmetic
    arithmetic: viz.Figure | None  # the same, drawn (step_figure)


def play(result: Translation | None, rank: object = 1, layer: object = "mean", presenter: bool = False,
         delay: float | None = None, display: object = (), kind: object = "cross",
         head: object = heads.MEAN) -> Iterator[Frame]:
    """Decode again on screen: yields the figure revealed up to step k, k and its math, for k = 0…S-1 (at most
    MAX_PLAY_FRAMES of them, evenly spread, the last step always among them)."""
    if result is None:
        return
    steps = len(hypothesis(result, rank).output_pieces)
    shown = played_steps(steps)
    if delay is None:
        delay = min(max(PLAY_SECONDS / len(shown), PLAY_DELAY_S[0]), PLAY_DELAY_S[1])
    for step in shown:
        started = time.perf_counter()
        yield Frame(figure(result, rank, layer, step, presenter, display, kind, head), step,
                    step_math(result, rank, layer, step, head), step_figure(result, rank, layer, step, presenter, head))
        if step < steps - 1:
            time.sleep(max(0.0, delay - (time.perf_counter() - started)))


def played_steps(steps: int, most: int | None = None) -> list[int]:
    """The steps a play-through shows: every one, or `most` (MAX_PLAY_FRAMES) spread evenly, ending on the last."""
    most = MAX_PLAY_FRAMES if most is None else most
    if steps <= most:
        return list(range(steps))
    return sorted({round(k * (steps - 1) / (most - 1)) for k in range(most)})
