"""What the page says about a run, beside its maps: the status under a fresh run (the mask, forcing, beam
search), plain notes when the input is outside what the checkpoint was trained on, and the hint under the
text box saying what a checkpoint expects."""

from __future__ import annotations

import html

from .. import tasks
from ..translator import Translation
from . import models


def notes(r: Translation) -> str:
    """The status under a fresh run: mask notes, how much was forced, beam search."""
    found = mask_notes(r)
    if r.teacher_forcing > 0:
        found.append(f"Teacher forcing at {r.teacher_forcing:g}: {int(r.forced.sum())} of {len(r.forced)} steps "
                     "were fed the reference (▸) instead of the model's own previous output.")
    if r.beam_size > 1:
        found.append(f"Beam search kept {r.beam_size} hypotheses per step; the best is shown. "
                     "The n-best tab lists them all.")
    return "\n\n".join(note for note in found if note)


def input_notes(r: Translation, spec: str) -> str:
    """Plain notes when an input is outside what the checkpoint was trained on: unknown pieces, bytes, length, and
    whatever its task can tell (Task.outside: a year out of range, a sentence its grammar cannot build)."""
    found = []
    try:
        config = models.get_model(spec).translator.config
    except Exception:
        return ""
    task = config.get("task")
    if any(piece.startswith("<0x") for piece in r.source_pieces):
        found.append("Some of your input is not in this checkpoint's vocabulary: it was read byte by byte "
                     "(the <0x..> pieces), which the model never saw in training.")
    if "<unk>" in r.source_pieces:
        found.append("Some of your input is unknown to this checkpoint (⟨unk⟩).")
    if task in tasks.TASKS:  # what the task can tell of an input it never makes
        found += tasks.TASKS[task].outside(r.source_text)
    trained = tasks.TASKS[task].max_source_chars if task in tasks.TASKS else None
    if trained and len(r.source_text) > trained:
        found.append(f"Your input is longer than anything this checkpoint was trained on ({len(r.source_text)} "
                     f"characters; at most {trained} in training): expect it to go wrong.")
    return "".join(f'\n\n<div class="s2s-note">{html.escape(note)}</div>' for note in found)


def input_hint(spec: object) -> str:
    """What input a checkpoint expects, from its task, and how long it may be (shown under the text box)."""
    try:
        config = models.get_model(spec).translator.config
    except Exception:
        return ""
    task = config.get("task")
    expects = f"*Expects*: {html.escape(tasks.TASKS[task].description)} " if task in tasks.TASKS else ""
    return f"{expects}*Reads* at most {config['max_source_len'] - 1} pieces (a piece is a character or more)."


def mask_notes(r: Translation, brief: str = "") -> list[str]:
    """What the mask means for this run: a mismatch with training, and a causal mask that cannot hide much.
    With `brief` (a run's name, "B"), a line each, for a summary above two maps (a lesson's text says the rest)."""
    mismatch, bi_causal = r.mask != r.trained_mask, r.mask == "causal" and r.encoder == "bi"
    if brief:
        notes = []
        if mismatch:
            notes.append(f'<div class="s2s-note"><b>{brief}: mask mismatch</b>: trained '
                         f"<b>{html.escape(r.trained_mask)}</b>, run <b>{html.escape(r.mask)}</b> here.</div>")
        if bi_causal:
            notes.append(f"{brief}: its encoder reads both ways, so a causal mask hides positions, not information.")
        return notes
    found = [mask_note(r.trained_mask, r.mask)]
    if bi_causal:
        found.append("This checkpoint's encoder reads the source both ways, so the states at pieces 0…t have "
                     "already read the pieces after t right to left: the causal mask hides positions, not "
                     "information. A checkpoint trained causal with a left-to-right encoder (`dates-causal`, "
                     "`reverse-causal`) cannot see past t at all.")
    return [note for note in found if note]


def mask_note(trained_mask: str, mask: str) -> str:
    """Markdown pointing out that the model runs with a mask it was not trained with, or ""."""
    if mask == trained_mask:
        return ""
    if mask == "causal":
        what = ("now output step t may only look at source pieces 0…t, which it never had to do in training: "
                "watch the attention squeeze into the allowed triangle, and the output go wrong")
    else:
        what = ("now every step may look at the whole source, including pieces it never saw at that step in "
                "training: the weights can land on pieces that carry no meaning for it")
    return (f'<div class="s2s-note"><b>Mask mismatch</b>: this checkpoint was trained '
            f"<b>{html.escape(trained_mask)}</b> and is run <b>{html.escape(mask)}</b>; {what}. "
            "That mismatch is the lesson.</div>")
