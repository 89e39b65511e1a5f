"""The Compare tab: two runs of the same text side by side, and the difference of their attention.

Run A takes the Explore tab's settings, run B its own checkpoint, mask and forcing. A preset sets
both for one lesson (forcing on vs off, bidirectional vs causal, attention vs none). The page keeps
both results (`Kept`), so presenter mode or another layer re-plots them without running again.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace

from .. import checkpoint, tasks, viz
from ..tokenizer import EOS_ID
from ..translator import Translation
from . import examples, models, notes, runs, views
from .runs import Settings

PRESETS = {
    "forcing": "Teacher forcing on vs off",
    "mask": "Bidirectional vs causal mask",
    "attention": "reverse vs reverse-noattn, long input",
    "family": "LSTM vs Transformer",
}
TRANSFORMER_SUFFIX = "-transformer"  # a bundled LSTM checkpoint's Transformer sibling, trained on the same task


@dataclass(frozen=True)
class Preset:
    """Settings for a side-by-side comparison: the text, run A (the Explore tab's) and run B. A note (plain
    text, shown as a toast) says why the preset did not keep the typed text."""

    text: str
    reference: str
    a: Settings
    b: Settings
    note: str = ""  # said to the visitor when the preset could not keep what they typed, and why


def run_b(a: Settings, checkpoint: str, mask: str, ratio: float | None) -> Settings:
    """Run B: run A's text, reference and seed with B's own checkpoint, mask and forcing ratio (0 or None: off)."""
    ratio = ratio or 0.0
    return Settings(a.text, checkpoint, mask, ratio > 0, ratio, a.reference, a.seed, 1)


def preset(name: str, current: Settings) -> Preset:
    """The comparison `name` (a key of PRESETS), starting from the Explore tab's settings. ValueError if impossible."""
    text, reference = current.text, current.reference
    if name == "attention":
        missing = [n for n in ("reverse", "reverse-noattn") if n not in checkpoint.list_bundled()]
        if missing:
            raise ValueError(f"This comparison needs the bundled checkpoints reverse and reverse-noattn; "
                             f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed yet.")
        text, reference = max(tasks.examples("reverse"), key=lambda pair: len(pair[0]))
        a = Settings(text, "reverse", "bidirectional", False, 1.0, reference, current.seed, 1)
        return Preset(text, reference, a, replace(a, checkpoint="reverse-noattn"))
    spec = models.web_spec(current.checkpoint)
    if name == "forcing":
        return forcing_on_and_off(spec, current)
    if name == "family":
        return lstm_and_transformer(spec, current)
    if name == "mask":
        a = Settings(text, spec, "bidirectional", False, current.ratio, reference, current.seed, current.beam_size)
        return Preset(text, reference, a, replace(a, mask="causal", beam_size=1))
    raise ValueError(f"Unknown comparison {name!r}: choose one of {', '.join(PRESETS)}.")


def forcing_on_and_off(spec: str, current: Settings) -> Preset:
    """Run A forced with the reference, run B free. With no reference typed, forcing has nothing to feed, and on
    an input the model gets right the two runs are the same: the preset then takes an input of the checkpoint's
    task that the model gets wrong, where forcing shows its point, and says so; a checkpoint that gets every
    one right gives way to reverse-noattn on a long input (lesson 3's model, which errs)."""
    text, reference, note = current.text, current.reference, ""
    if not (reference or "").strip():
        task = examples.bundled_tasks().get(spec)
        if task not in tasks.TASKS:
            raise ValueError("Type a reference first (the target text): teacher forcing feeds it to the decoder.")
        typed = f"“{text}” has" if text.strip() else "there is"
        missed = first_miss(spec, task)
        if missed is not None:
            text, reference, written = missed
            note = (f"Teacher forcing needs a reference, and {typed} none: this comparison takes “{text}”, which "
                    f"{spec} gets wrong (“{written}”). Forced, each step is fed the reference instead of the "
                    "model's own mistake.")
        elif {"reverse", "reverse-noattn"} <= set(checkpoint.list_bundled()):
            spec, (text, reference) = "reverse-noattn", max(tasks.examples("reverse"), key=lambda p: len(p[0]))
            note = (f"Teacher forcing needs a reference, and {typed} none; {current.checkpoint} gets "
                    f"every example of its task right, where forcing changes nothing, so this comparison shows "
                    "reverse-noattn on a long input, which it gets wrong.")
        else:
            text, reference = tasks.examples(task)[0]
    a = Settings(text, spec, current.mask, True, 1.0, reference, current.seed, 1)
    return Preset(text, reference, a, replace(a, forcing=False, ratio=0.0), note)


def first_miss(spec: str, task: str) -> tuple[str, str, str] | None:
    """(source, reference, what the model wrote) for the first of the task's examples that checkpoint `spec`
    translates wrong (greedy, bidirectional; one batch); None if it gets them all right."""
    pairs = tasks.examples(task)
    translated = models.get_model(spec).translator.translate_batch([source for source, _ in pairs])
    return next(((source, reference, r.text) for (source, reference), r in zip(pairs, translated, strict=True)
                 if r.text != reference), None)


def lstm_and_transformer(spec: str, current: Settings) -> Preset:
    """The checkpoint shown beside its Transformer sibling on the same text; `dates` and `dates-transformer` on
    a dates example when it has none (a Hub checkpoint, a Transformer already)."""
    bundled = checkpoint.list_bundled()
    text, reference = current.text, current.reference
    if spec + TRANSFORMER_SUFFIX not in bundled:
        if "dates" + TRANSFORMER_SUFFIX not in bundled or "dates" not in bundled:
            raise ValueError("This comparison needs the bundled checkpoints dates and dates-transformer.")
        spec, (text, reference) = "dates", tasks.examples("dates")[0]
    a = Settings(text, spec, "bidirectional", False, 1.0, reference, current.seed, 1)
    return Preset(text, reference, a, replace(a, checkpoint=spec + TRANSFORMER_SUFFIX))


@dataclass(frozen=True)
class Kept:
    """Both results of a comparison, with the checkpoint each came from."""

    names: tuple[str, str]
    results: tuple[Translation, Translation]
    reference: str | None = None  # the target text both should write, when the page has one
    # that text in each run's own pieces, for a run without attention to be checked against step by step
    reference_pieces: tuple[list[str] | None, list[str] | None] = (None, None)


@dataclass(frozen=True)
class Compared:
    kept: Kept | None  # the page keeps it to re-plot without running again
    a: viz.Figure | None
    b: viz.Figure | None
    difference: viz.Figure | None
    summary: str  # Markdown: both outputs, notes, or what went wrong
    labels: tuple[str, str] = ("A", "B")  # what each run was: "A: dates, causal"


def _describe(r: Translation, name: str) -> str:
    forcing = f", forcing {r.teacher_forcing:g}" if r.teacher_forcing else ""
    beam = f", beam {r.beam_size}" if r.beam_size > 1 else ""
    return f"{name}, {r.mask}{forcing}{beam}"


def compare(a: Settings, b: Settings, layer: object = "mean", presenter: bool = False,
            row_scale: bool = False) -> Compared:
    """Run A and B on the same text (runs.run); plot each and the difference of their weights (A − B)."""
    results = []
    for name, settings in (("A", a), ("B", b)):
        try:
            results.append(runs.run(settings))
        except Exception as error:
            return Compared(None, None, None, None, runs.problem(f"Run {name}: {runs.user_message(error)}"))
    names = (models.web_spec(a.checkpoint), models.web_spec(b.checkpoint))
    reference = a.reference.strip() or None
    pieces = tuple(_reference_pieces(r, name, reference) for r, name in zip(results, names))
    return compare_view(Kept(names, (results[0], results[1]), reference, pieces), layer, presenter, row_scale)


def _reference_pieces(r: Translation, name: str, reference: str | None) -> list[str] | None:
    """The reference in the pieces of the run's model and </s>, for a run without attention and without forcing
    (with forcing the run has its own); None otherwise. Made once, so re-plotting never loads a model."""
    if r.attention_layers or not reference or r.reference_pieces:
        return None
    target = models.get_model(name).translator.target_tokenizer
    return target.pieces(target.encode(reference) + [EOS_ID])


def verdict(r: Translation, reference: str | None) -> str:
    """ " ✓ matches the reference", or how many characters are right and where it first goes wrong (spaces
    aside: a reversal's letters are spaced); "" without a reference."""
    if not reference:
        return ""
    if r.text == reference:
        return " ✓ matches the reference"
    written, wanted = r.text.replace(" ", ""), reference.replace(" ", "")
    if written == wanted:
        return " ✓ matches the reference apart from spacing"
    right = sum(a == b for a, b in zip(written, wanted))
    wrong = next((i for i, (a, b) in enumerate(zip(written, wanted)) if a != b), min(len(written), len(wanted)))
    if wrong < min(len(written), len(wanted)):
        where = (f"the first wrong is character {wrong + 1}: <code>{html.escape(written[wrong:wrong + 8])}</code> "
                 f"where the reference has <code>{html.escape(wanted[wrong:wrong + 8])}</code>")
    elif len(written) < len(wanted):
        where = f"it stops {len(wanted) - len(written)} character(s) short"
    else:
        more = html.escape(written[wrong:][:8])
        where = f"it writes {len(written) - len(wanted)} character(s) more: <code>{more}</code>"
    return f" ✗ {right} of {max(len(written), len(wanted))} characters right (spaces aside); {where}"


ALIKE = 0.005  # weights closer than this everywhere draw A − B blank


def alike_note(a: Translation, b: Translation, layer: int | str) -> list[str]:
    """Why A − B is blank, when the two runs' weights hardly differ at any step both took; [] otherwise."""
    if not a.attention_layers or not b.attention_layers:
        return []
    wa, wb = viz.layer_weights(a, layer), viz.layer_weights(b, layer)  # (S, T) each
    steps = min(len(wa), len(wb))
    largest = float(abs(wa[:steps] - wb[:steps]).max())
    if largest >= ALIKE:
        return []
    note = f"A − B is blank: the two runs' weights differ by at most {largest:.4f} at every step."
    forced = [r for r in (a, b) if r.teacher_forcing > 0]
    if len(forced) == 1 and forced[0].text == forced[0].reference:
        note += (" The model wrote the reference at every step, so what it fed itself without forcing was what "
                 "forcing fed it: the two runs saw the same inputs. Forcing shows where the model goes wrong: "
                 "try a harder input, or lesson 3.")
    return [note]


def compare_view(kept: Kept | None, layer: object = "mean", presenter: bool = False,
                 row_scale: bool = False) -> Compared:
    """Plot a kept comparison (no model run): A, B, A − B, and a summary of both outputs.

    Both maps share one colour scale (`viz.shared_zmax`), or with `row_scale` (the page's display option)
    each row is coloured by its own peak, so that weights spread thin still show where they fall."""
    if kept is None:
        return Compared(None, None, None, None, "")
    ra, rb = kept.results
    da, db = _describe(ra, kept.names[0]), _describe(rb, kept.names[1])
    try:
        zmax = viz.shared_zmax(*((r, views.pick_layer(layer, r)) for r in kept.results))
        fig_a, fig_b = (viz.heatmap(r, views.pick_layer(layer, r), presenter=presenter, zmax=zmax,
                                    row_scale=row_scale) if r.attention_layers
                        else viz.steps_table(r, presenter=presenter, reference=pieces)
                        for r, pieces in zip(kept.results, kept.reference_pieces))
    except Exception as error:
        return Compared(None, None, None, None, runs.problem(runs.user_message(error)))
    same = "the same output" if ra.text == rb.text else "**different outputs**"
    lines = [f"**A** ({html.escape(da)}): <code>{html.escape(ra.text)}</code>{verdict(ra, kept.reference)}  \n"
             f"**B** ({html.escape(db)}): <code>{html.escape(rb.text)}</code>{verdict(rb, kept.reference)}  \n"
             f"→ {same}."]
    lines += [note for run, r in (("A", ra), ("B", rb)) for note in notes.mask_notes(r, brief=run)]
    layer_a, layer_b = views.pick_layer(layer, ra), views.pick_layer(layer, rb)
    shared = layer_a if layer_a == layer_b else "mean"
    try:
        diff = viz.difference(ra, rb, shared, labels=("A", "B"), presenter=presenter)
    except Exception as error:
        diff = None
        lines.append(runs.problem(runs.user_message(error)))
    else:
        lines += alike_note(ra, rb, shared)
    return Compared(kept, fig_a, fig_b, diff, "\n\n".join(lines), (f"A: {da}", f"B: {db}"))


def compare_runs(a: Settings, checkpoint_b: str, mask_b: str, ratio_b: float | None, layer: object = "mean",
                 presenter: bool = False, display: object = ()) -> Compared:
    """Run A (the Explore tab's settings) beside run B (the Compare tab's controls), drawn as `display` says."""
    return compare(a, run_b(a, checkpoint_b, mask_b, ratio_b), layer, presenter,
                   views.heatmap_display(display)["row_scale"])


def redraw(kept: Kept | None, layer: object = "mean", presenter: bool = False, display: object = ()) -> Compared:
    """The kept comparison drawn again (another layer, presenter mode, display), without running it."""
    return compare_view(kept, layer, presenter, views.heatmap_display(display)["row_scale"])
