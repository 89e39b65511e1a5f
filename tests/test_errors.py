"""s2s/errors.py: every expected error is one line, and a choice is refused in one wording."""

import pytest

from s2s.errors import HubFileTooLarge, S2SError, check_choice


def test_9_messages_are_folded_into_one_line():
    assert str(S2SError("first line\n  second line\r\nthird")) == "first line second line third"
    assert str(HubFileTooLarge("a\n\nb")) == "a b"


def test_a_choice_outside_the_allowed_is_refused_with_the_error_asked_for():
    check_choice("mask", "causal", ("bidirectional", "causal"))
    with pytest.raises(ValueError, match=r"^mask must be one of bidirectional, causal; got 'sideways'$"):
        check_choice("mask", "sideways", ("bidirectional", "causal"))
    with pytest.raises(KeyError):
        check_choice("size", "huge", {"small": 1}, KeyError)
