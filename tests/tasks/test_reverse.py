"""s2s/tasks/reverse.py."""

import re

from s2s.tasks import TASKS


def test_reverse():
    pairs = TASKS["reverse"].generate(2000, seed=2)
    for source, target in pairs:
        letters = source.split(" ")
        assert all(re.fullmatch("[a-z]", letter) for letter in letters)
        assert target.split(" ") == letters[::-1]
    assert {len(source.split()) for source, _ in pairs} == set(range(3, 31))
