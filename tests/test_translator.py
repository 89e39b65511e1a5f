"""What a Translation says about its own output, checked on the bundled `dates` checkpoint."""

from __future__ import annotations

import numpy as np
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
    assert len(forced.output_pieces) == len(dates.target_tokenizer.encode("2021-03-03-03")) + 1
    eos = forced.output_pieces.index("</s>")
    assert eos < len(forced.output_pieces) - 1, "the model must end before the reference does for this test"
    assert forced.end == eos + 1
    assert forced.text == free.text == "2021-03-03"
    # the rows after the end stay in the result, for the map and the table
    assert forced.attention.shape[1] == len(forced.output_pieces)


def test_free_decoding_ends_at_its_eos(dates):
    r = dates.translate("the 21st of June, 1999")
    assert r.output_pieces[-1] == "</s>" and r.end == len(r.output_pieces)
    assert r.text == "1999-06-21"


def test_a_batch_gives_each_text_what_it_gets_alone(dates):
    texts = ["3 March 2021", "the 21st of June, 1999", "12/01/1987", "Sunday, 5 May 2024"]
    for batched, text in zip(dates.translate_batch(texts), texts):
        alone = dates.translate(text)
        assert batched.text == alone.text and batched.output_pieces == alone.output_pieces
        assert batched.attention.shape == alone.attention.shape
        np.testing.assert_allclose(batched.attention, alone.attention, atol=1e-5)


def test_evaluate_measures_alignment_on_every_example(dates):
    from s2s import evaluate, tasks

    pairs = tasks.TASKS["dates"].generate(40, seed=7)
    result = evaluate.evaluate(dates, pairs, batch_size=16)
    # the oracle: each example translated alone, the year's digits located by hand in its pieces
    hits = []
    for source, _ in pairs:
        r = dates.translate(source)
        digits = [j for j, piece in enumerate(r.source_pieces) if piece.lstrip("▁").isdigit()]
        year = [run for run in (digits[i : i + 4] for i in range(len(digits) - 3)) if run[3] - run[0] == 3][-1]
        mean = r.attention.mean(0)
        hits += [mean[t].argmax() == year[t] for t in range(4)]
    assert result["n"] == 40
    assert result["alignment"]["layer mean"] == pytest.approx(np.mean(hits))


def test_a_changed_piece_is_fed_and_decoding_goes_on_from_it(dates):
    free = dates.translate("3 March 2021")
    same = dates.translate("3 March 2021", prefix=free.output_pieces[:3])  # its own pieces: nothing changes
    assert same.output_pieces == free.output_pieces
    np.testing.assert_allclose(same.attention, free.attention, atol=1e-6)

    changed = dates.translate("3 March 2021", prefix=["1", "9"])
    assert changed.decoder_inputs[:3] == ["<s>", "1", "9"]
    assert changed.forced.tolist()[:4] == [False, True, True, False]
    # the oracle: teacher forcing with every fed piece as the reference gives the same rows
    fed_after = changed.decoder_inputs[1:] + [changed.output_pieces[-1]]
    rerun = dates.translate("3 March 2021", reference=dates.target_tokenizer.decode(
        [dates.target_tokenizer.piece_id(p) for p in fed_after]), teacher_forcing=1.0)
    assert rerun.decoder_inputs == changed.decoder_inputs
    np.testing.assert_allclose(rerun.attention, changed.attention, atol=1e-5)
    assert changed.output_pieces[3:] == rerun.output_pieces[3:]


def test_a_piece_the_checkpoint_cannot_write_is_refused(dates):
    with pytest.raises(ValueError, match="not a piece this checkpoint writes"):
        dates.translate("3 March 2021", prefix=["Ω"])
    with pytest.raises(ValueError, match="teacher forcing to 0"):
        dates.translate("3 March 2021", prefix=["1"], beam_size=2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(seed=2**64), "seed must be a whole number from 0"),
    (dict(seed=-1), "seed must be a whole number from 0"),
    (dict(text="a\ud800b"), "lone surrogate"),
    (dict(reference="x\udfffy", teacher_forcing=1.0), "lone surrogate"),
    (dict(text=123), "must be text \\(a str\\); got int"),  # said "The input is empty"
    (dict(text=None), "must be text \\(a str\\); got NoneType"),
])
def test_values_the_library_cannot_take_are_clear_value_errors(dates, kwargs, message):
    text = kwargs.pop("text", "3 March 2021")
    with pytest.raises(ValueError, match=message):
        dates.translate(text, **kwargs)


def test_numbers_numpy_gives_are_taken_as_python_numbers_are(dates):
    """beam_size=np.int64(4) was refused while seed=np.int64 was taken (review of 2026-11-29)."""
    by_numpy = dates.translate("3 March 2021", beam_size=np.int64(3), seed=np.int64(1))
    plain = dates.translate("3 March 2021", beam_size=3, seed=1)
    assert by_numpy.beam_size == 3 and type(by_numpy.beam_size) is int
    assert [h.text for h in by_numpy.hypotheses] == [h.text for h in plain.hypotheses]


def test_an_empty_batch_translates_to_nothing(dates):
    """translate_batch([]) failed with "max() arg is an empty sequence"."""
    assert dates.translate_batch([]) == []


def test_asking_for_cuda_where_there_is_none_says_so(monkeypatch):
    """s2s.load("dates", device="cuda") raised torch's AssertionError "Torch not compiled with CUDA enabled"."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same on a machine that has one
    with pytest.raises(ValueError, match="no CUDA device is present here; use device='cpu'"):
        s2s.load("dates", device="cuda")


def test_two_results_compare_as_objects_not_arrays(dates):
    """== raised "The truth value of an array ... is ambiguous" (a dataclass compares its array fields)."""
    a, b = dates.translate("3 March 2021"), dates.translate("3 March 2021")
    assert a == a and a != b and a in [b, a]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(text=""), "empty"),
        (dict(text="   \n\t"), "empty"),
        (dict(text="7 " * 60), "too long"),
        (dict(mask="sideways"), "mask"),
        (dict(teacher_forcing=1.5, reference="2021"), "from 0 to 1"),
        (dict(teacher_forcing=-0.1, reference="2021"), "from 0 to 1"),
        (dict(teacher_forcing=float("nan"), reference="2021"), "from 0 to 1"),
        (dict(teacher_forcing="lots", reference="2021"), "from 0 to 1"),
        (dict(teacher_forcing=0.5), "reference"),
        (dict(teacher_forcing=0.5, reference="  "), "reference"),
        (dict(beam_size=0), "beam size"),
        (dict(beam_size=2.5), "beam size"),
        (dict(beam_size=3, teacher_forcing=1.0, reference="2021"), "Beam search"),
        (dict(max_len=0), "max_len"),
        (dict(text=None), "must be text"),
    ],
)
def test_bad_input_is_a_clear_value_error(tiny, kwargs, message):
    kwargs = dict(text="3 March 2021") | kwargs
    with pytest.raises(ValueError, match=message):
        tiny.translate(kwargs.pop("text"), **kwargs)


@pytest.mark.parametrize("text", ["😀🎉", "日本語のテキスト", "Ωμέγα", "a\x00b\x07c", "<img src=x onerror=alert(1)>"])
def test_any_unicode_is_input_not_an_error(tiny, text):
    r = tiny.translate(text)
    assert r.attention.shape[2] == len(r.source_pieces)
    assert "<unk>" not in r.source_pieces
