"""sentencepiece tokenizers, trained in memory, saved as small `.model` files.

Byte fallback means any Unicode text encodes (an emoji becomes its UTF-8 bytes, shown as
pieces like <0xF0>), so no input is ever an error for the tokenizer. The identity normaliser
keeps text as typed and keeps the model file small.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

import sentencepiece as spm

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3  # fixed in every tokenizer, so models and decoding can rely on them
SPECIAL_PIECES = {PAD_ID: "<pad>", UNK_ID: "<unk>", BOS_ID: "<s>", EOS_ID: "</s>"}
BYTE_PIECES = 256  # byte fallback's <0x00> ... <0xFF>


class Tokenizer:
    """A thin wrapper over a sentencepiece model with the project's fixed special ids."""

    def __init__(self, model_proto: bytes):
        self.proto = model_proto
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)
        if (self.sp.pad_id(), self.sp.unk_id(), self.sp.bos_id(), self.sp.eos_id()) != (
            PAD_ID, UNK_ID, BOS_ID, EOS_ID,
        ):
            raise ValueError("tokenizer special ids must be pad=0, unk=1, bos=2, eos=3")

    @classmethod
    def train(cls, sentences: Iterable[str], vocab_size: int, model_type: str = "bpe") -> Tokenizer:
        """Train on `sentences`. BPE reaches `vocab_size` exactly (unigram fails above what
        the corpus supports); digits are split so a year is four pieces a heatmap can align.

        Every character of the corpus gets a piece of its own (character coverage 1), beside the 4 special
        pieces and the 256 bytes of the fallback, so `vocab_size` grows to hold them when it is too small
        (at 320, text with upper and lower case and digits, 63 characters with the space, had no room).
        """
        sentences = list(sentences)
        characters = set().union(*map(set, sentences)) if sentences else set()
        buffer = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_writer=buffer,
            vocab_size=max(vocab_size, len(SPECIAL_PIECES) + BYTE_PIECES + len(characters)),
            model_type=model_type,
            character_coverage=1.0,
            byte_fallback=True,
            split_digits=True,
            normalization_rule_name="identity",
            add_dummy_prefix=False,  # no lone "▁" piece before the first word
            pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
            hard_vocab_limit=False,  # small corpora support fewer pieces: take what they give
            minloglevel=2,
        )
        return cls(buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        return cls(Path(path).read_bytes())

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.proto)

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        """Text -> ids, without BOS/EOS (the caller appends EOS where it belongs)."""
        return self.sp.encode(text)

    def decode(self, ids: Iterable[int]) -> str:
        return self.sp.decode([i for i in ids if i not in SPECIAL_PIECES])

    def piece_id(self, piece: str) -> int | None:
        """The id of a piece of the vocabulary, or None if it has no such piece."""
        i = self.sp.piece_to_id(piece) if isinstance(piece, str) else self.sp.unk_id()
        return None if i == self.sp.unk_id() and piece != SPECIAL_PIECES[UNK_ID] else i

    def pieces(self, ids: Iterable[int]) -> list[str]:
        """Ids -> their pieces, from a table made once: a decode's record names every step's top pieces, and
        sentencepiece's own lookup, one call per id, was a fifth of a batch's decoding."""
        ids = [int(i) for i in ids]
        table = self._piece_table
        if ids and (min(ids) < 0 or max(ids) >= len(table)):
            raise IndexError("piece id is out of range.")
        return [table[i] for i in ids]

    @cached_property
    def _piece_table(self) -> tuple[str, ...]:
        return tuple(self.sp.id_to_piece(i) for i in range(self.sp.get_piece_size()))
