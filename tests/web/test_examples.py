"""The one-click examples, and what typing another source does to the reference they set (s2s/web/examples.py)."""

from __future__ import annotations

import pytest

from s2s.web import examples


@pytest.mark.parametrize(("text", "reference", "source", "forcing", "typed"), [
    ("3 March 2021", "2021-03-03", "3 March 2021", True, examples.Typed(False)),  # still the example's source
    ("3 March 202", "2021-03-03", "3 March 2021", True, examples.Typed(True, examples.REFERENCE_CLEARED)),
    ("3 March 202", "2021-03-03", "3 March 2021", False, examples.Typed(True)),  # not forcing: cleared silently
    ("3 March 202", "", "3 March 2021", True, examples.Typed(True)),
    ("anything", "my own reference", None, True, examples.Typed(False)),  # a reference the visitor typed stays
])
def test_a_reference_belongs_to_the_source_it_was_set_for(text, reference, source, forcing, typed):
    assert examples.source_typed(text, reference, source, forcing) == typed


def test_every_example_names_an_installed_checkpoint_of_its_task(bundled):
    tasks = examples.bundled_tasks()
    rows = examples.examples()
    assert rows and all(row[2] in tasks for row in rows)
    assert examples.example(rows[0][0]) == rows[0]
    with pytest.raises(ValueError, match="reload the page"):
        examples.example("no such example")
