"""The page's one-click examples: a few of each task's examples, each with the bundled checkpoint that shows it best.

Examples come from the tasks the installed checkpoints were trained on (read from their
config.json), so a checkpoint that is not installed never has an example that fails.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from .. import checkpoint, hub, tasks, viz
from ..errors import S2SError

# Bahdanau, Cho and Bengio's Figure 3 (2015): "European Economic Area" is written "zone économique européenne",
# in the reverse order, which the cross-attention of a real English-French model shows as an anti-diagonal
BAHDANAU = ("The agreement on the European Economic Area was signed in August 1992.",
            "L'accord sur la zone économique européenne a été signé en août 1992.")
ENGLISH_TO = re.compile(r"opus-mt-en-([a-z]+)$", re.IGNORECASE)  # Helsinki-NLP/opus-mt-en-fr: English to French


def bundled_tasks() -> dict[str, str]:
    """Bundled checkpoint -> its task, from config.json (a checkpoint that cannot be read is skipped)."""
    found = {}
    for name in checkpoint.list_bundled():
        try:
            found[name] = checkpoint.read_config(checkpoint.BUNDLED_DIR / name).get("task", "")
        except S2SError:
            continue
    return found


def _checkpoint_for(task: str, found: dict[str, str]) -> str | None:
    """The checkpoint that shows a task best: the one named after it, else the first with attention."""
    names = [name for name, t in found.items() if t == task]
    if task in names:
        return task
    plain = [name for name in names if not name.endswith(("-noattn", "-causal"))]
    return (plain or names or [None])[0]


def examples() -> list[list[str]]:
    """One-click examples for every task a bundled checkpoint was trained on: [source, reference, checkpoint].

    The tasks take turns (a dates example, a reverse one, a toy-fr one, a dates one, ...), so that the
    first few, all a small screen shows at once, cover every task.
    """
    found = bundled_tasks()
    per_task = [[[source, target, name] for source, target in tasks.examples(task)]
                for task in tasks.TASKS if (name := _checkpoint_for(task, found)) is not None]
    return hub_examples() + [row for turn in itertools.zip_longest(*per_task) for row in turn if row is not None]


def hub_examples() -> list[list[str]]:
    """A lecturer's preset for the first English-to-X opus-mt model the Space lists (S2S_HUB_CHECKPOINTS): Bahdanau
    et al.'s sentence, with its French as the reference for English-French; first among the examples, since the
    Space was set up for it. Known from the repo's name, so the page opens without loading the model."""
    for spec in hub.hub_checkpoints():
        found = ENGLISH_TO.search(spec.split("@")[0])
        if found:  # the first such model only: an example is found by its source (`example`)
            return [[BAHDANAU[0], BAHDANAU[1] if found.group(1).lower() == "fr" else "", spec]]
    return []


def example(source: object) -> list[str]:
    """The example [source, reference, checkpoint] whose source is `source`."""
    for row in examples():
        if row[0] == source:
            return row
    raise ValueError("That example's checkpoint is not installed any more: reload the page.")


@dataclass(frozen=True)
class Typed:
    """What typing a source does to the reference an example or a lesson set."""

    clears: bool  # the reference (and the lesson's text, which spoke of its source) goes
    note: str = ""  # said to the visitor, where forcing was using that reference


REFERENCE_CLEARED = ("The reference belonged to the example, not to what you typed: it was cleared. Type a "
                     "reference for your input to use teacher forcing.")


def source_typed(text: object, reference: object, reference_source: object, forcing: object) -> Typed:
    """A reference set for `reference_source` does not belong to another text: typing one clears it."""
    if reference_source and text != reference_source:
        return Typed(True, REFERENCE_CLEARED if reference and forcing else "")
    return Typed(False)


def typed_piece(typed: str, vocabulary) -> str:
    """The piece a visitor means: as typed (a vocabulary may hold a real "·"), else as the tables spell it ("·f"
    for "▁f"), else the word with its start mark ("blanc" for "▁blanc", which the tables show as "·blanc")."""
    for candidate in (typed, viz.piece_from_display(typed), viz.WORD_START + typed):
        if vocabulary.piece_id(candidate) is not None:
            return candidate
    return typed
