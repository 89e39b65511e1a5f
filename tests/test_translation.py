"""What a Translation says about its own output, checked on the bundled `dates` checkpoint."""

from __future__ import annotations

import pytest

import s2s


@pytest.fixture(scope="module")
def dates():
    return s2s.load("dates")


def test_forced_text_stops_at_the_models_own_eos(dates):
    # The reference is longer than what the model writes: it ends the date after 10 pieces and emits
    # </s>, but forcing keeps feeding the reference, so the rows go on. The text is what the model
    # wrote up to its </s>, which is the same as decoding freely.
    free = dates.translate("3 March 2021")
    forced = dates.translate("3 March 2021", reference="2021-03-03-03", teacher_forcing=1.0)
    assert len(forced.output_tokens) == len(dates.target_tokenizer.encode("2021-03-03-03")) + 1
    eos = forced.output_tokens.index("</s>")
    assert eos < len(forced.output_tokens) - 1, "the model must end before the reference does for this test"
    assert forced.end == eos + 1
    assert forced.text == free.text == "2021-03-03"
    # the rows after the end stay in the result, for the map and the table
    assert forced.attention.shape[1] == len(forced.output_tokens)


def test_free_decoding_ends_at_its_eos(dates):
    r = dates.translate("the 21st of June, 1999")
    assert r.output_tokens[-1] == "</s>" and r.end == len(r.output_tokens)
    assert r.text == "1999-06-21"
