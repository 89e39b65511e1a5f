"""The tasks the explorer trains on, one module a task, and a reader for your own data.

    dates    "3rd March 2021", "2021年3月3日", ... -> "2021-03-03"       (s2s/tasks/dates.py)
    reverse  "a b c" -> "c b a"                                         (s2s/tasks/reverse.py)
    toy-fr   "the black cat does not see the small dog"
             -> "le chat noir ne voit pas le petit chien"               (s2s/tasks/toy_fr.py)

`TASKS[name].generate(n, seed)` returns n (source, target) string pairs, the same for the same seed;
`TASKS[name].validation_pairs(n, seed)` the pairs a model is measured on (held-out sentences for toy-fr).
What every task shares (Task, the train / held-out split) is in task.py; your own TSV files in tsv.py.
"""

from __future__ import annotations

from . import dates, reverse, toy_fr
from .dates import DATE_FORMS, format_date
from .task import HELDOUT_PERCENT, SPLITS, Pair, Split, Task, split_of
from .toy_fr import english_words, translate_en_fr
from .tsv import MAX_PAIR_CHARS, is_pair_line, parse_tsv_line, read_tsv

TASKS: dict[str, Task] = {task.name: task for task in (dates.TASK, reverse.TASK, reverse.SHORT_TASK, toy_fr.TASK)}

__all__ = ["TASKS", "Task", "Pair", "Split", "SPLITS", "HELDOUT_PERCENT", "split_of", "examples", "format_date",
           "DATE_FORMS", "translate_en_fr", "english_words", "read_tsv", "is_pair_line", "parse_tsv_line",
           "MAX_PAIR_CHARS"]


def examples(name: str) -> list[Pair]:
    """A few hand-picked pairs of task `name`, for one-click examples."""
    return list(TASKS[name].examples)
