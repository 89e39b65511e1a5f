"""sentencepiece tokenizers: special ids, byte fallback, round trips of any Unicode text."""

from __future__ import annotations

import pytest

from s2s.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Tokenizer
from tests.conftest import tiny_tokenizers


@pytest.mark.parametrize("text", ["3 March 2021", "2021年3月3日", "emoji 😀🎉 and ZWJ 👩‍👩‍👧", "Ωμέγα ĳ ß",
                                  "<img src=x onerror=alert(1)>", "tab\there"])
def test_round_trip_of_any_text(text):
    source, _ = tiny_tokenizers()
    ids = source.encode(text)
    assert UNK_ID not in ids, "byte fallback must cover every character"
    assert source.decode(ids) == text


def test_runs_of_spaces_collapse_to_one():
    source, _ = tiny_tokenizers()
    assert source.decode(source.encode("  3   March  ")) == "3 March"


def test_special_ids_and_pieces():
    source, target = tiny_tokenizers()
    for tok in (source, target):
        assert tok.pieces([PAD_ID, UNK_ID, BOS_ID, EOS_ID]) == ["<pad>", "<unk>", "<s>", "</s>"]
    assert source.decode([BOS_ID, *source.encode("3 March"), EOS_ID, PAD_ID]) == "3 March"
    assert target.pieces(target.encode("2021-03-03"))[:4] == ["2", "0", "2", "1"], "digits are split"
    assert source.pieces(source.encode("😀")) == ["<0xF0>", "<0x9F>", "<0x98>", "<0x80>"]


def test_pieces_are_sentencepieces_own_for_every_id_and_out_of_range_is_refused():
    """pieces() reads a table made once; sentencepiece's own id_to_piece is the oracle, id by id."""
    import numpy as np

    source, target = tiny_tokenizers()
    for tok in (source, target):
        every = list(range(tok.vocab_size))
        assert tok.pieces(every) == [tok.sp.id_to_piece(i) for i in every]
        assert tok.pieces(np.array(every[::-1], dtype=np.int64)) == [tok.sp.id_to_piece(i) for i in every[::-1]]
        for wrong in (-1, tok.vocab_size):
            with pytest.raises(IndexError):
                tok.sp.id_to_piece(wrong)  # as sentencepiece itself refuses it ...
            with pytest.raises(IndexError):
                tok.pieces([0, wrong])  # ... and not, for -1, the last piece


def test_save_and_load(tmp_path):
    source, _ = tiny_tokenizers()
    source.save(tmp_path / "source.model")
    again = Tokenizer.load(tmp_path / "source.model")
    assert again.encode("21 September 1999") == source.encode("21 September 1999")
    assert again.vocab_size == source.vocab_size
    assert (tmp_path / "source.model").stat().st_size < 10_000  # the identity normaliser keeps it small


def test_wrong_special_ids_are_refused():
    import io

    import sentencepiece as spm

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(["a b c"] * 10), model_writer=buffer, vocab_size=8,
                                   model_type="char", minloglevel=2)
    with pytest.raises(ValueError, match="special ids"):
        Tokenizer(buffer.getvalue())


def test_text_with_more_characters_than_the_vocabulary_has_room_for_gets_a_piece_for_each():
    """At 320 pieces, 256 go to bytes and 4 to specials: 62 letters and digits and the space did not fit."""
    import string

    alphabet = string.ascii_letters + string.digits + "éàœ"
    sentences = [alphabet[i:] + " " + alphabet[:i] for i in range(5, len(alphabet), 5)]
    tok = Tokenizer.train(sentences, 320)
    assert tok.vocab_size >= 4 + 256 + len(alphabet) + 1
    for character in alphabet:  # each its own piece: none falls back to bytes
        pieces = tok.pieces(tok.encode(character))
        assert pieces == [character], (character, pieces)
    assert all(tok.decode(tok.encode(s)) == s for s in sentences)
