"""s2s/tasks/__init__.py: the registry and its one-click examples, each the right answer to its source."""

from s2s.tasks import TASKS, examples, split_of, translate_en_fr
from tests.tasks.test_dates import parse_date


def test_examples():
    for source, target in examples("dates"):
        assert target == parse_date(source)[1].isoformat()
    for source, target in examples("reverse"):
        assert target == " ".join(reversed(source.split()))
    assert len(examples("reverse")[-1][0].split()) > 20
    for source, target in [*examples("reverse-short"), *TASKS["reverse-short"].generate(500, seed=3)]:
        assert target == " ".join(reversed(source.split())) and 3 <= len(source.split()) <= 10
    for source, target in examples("toy-fr"):
        assert target == translate_en_fr(source)
        assert split_of(source) == "heldout"
    assert all(5 <= len(examples(name)) <= 8 for name in TASKS)
