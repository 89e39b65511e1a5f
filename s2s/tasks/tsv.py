"""Your own data: (source, target) pairs read from `source<TAB>target` lines, a file's or pasted ones.

read_tsv reads a file; is_pair_line and parse_tsv_line are the rules both it and the Train tab's
pasted lines follow, so a file and the same lines pasted give the same pairs.
"""

from __future__ import annotations

import codecs
from os import PathLike
from pathlib import Path

from .task import Pair

# A source or target of your own data, in characters. Each character of the training data is at most one
# piece, a checkpoint reads twice its data's longest (s2s.training.trainer.build_or_resume) and this app loads
# at most 256 pieces (s2s.checkpoint.LIMITS): longer lines would train a checkpoint nothing can load.
MAX_PAIR_CHARS = 127


def _decode(raw: bytes, where: str, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{where}: not UTF-8 (byte 0x{raw[error.start]:02x} at byte offset {offset + error.start})"
        ) from error


def is_pair_line(line: str) -> bool:
    """A line of a TSV of pairs that holds a pair: not blank (spaces, tabs) and not a # comment."""
    return bool(line.strip()) and not line.startswith("#")


def parse_tsv_line(line: str, where: str) -> Pair:
    fields = line.split("\t")
    if len(fields) != 2:
        found = "no tab" if len(fields) == 1 else f"{len(fields) - 1} tabs"
        raise ValueError(f"{where}: expected source<TAB>target, found {found}")
    source, target = (field.strip() for field in fields)
    if not source or not target:
        raise ValueError(f"{where}: the {'source' if not source else 'target'} is empty")
    for side, text in (("source", source), ("target", target)):
        if len(text) > MAX_PAIR_CHARS:
            raise ValueError(f"{where}: the {side} has {len(text):,} characters; shorten it to at most "
                             f"{MAX_PAIR_CHARS} (a model reads and writes short sentences)")
    return source, target


def read_tsv(path: str | PathLike[str]) -> list[Pair]:
    """The (source, target) pairs of a UTF-8 file of `source<TAB>target` lines.

    Blank lines (spaces, tabs) and lines starting with # are skipped (is_pair_line, as the Train tab's
    pasted lines); a byte-order mark is allowed; spaces around a source or target are dropped. Anything
    else that is not one source, a tab and one target is a ValueError naming the file and line.
    """
    data = Path(path).read_bytes()
    offset = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    pairs = []
    for number, raw in enumerate(data[offset:].split(b"\n"), start=1):
        where = f"{path}, line {number}"
        line = _decode(raw.removesuffix(b"\r"), where, offset)
        offset += len(raw) + 1
        if is_pair_line(line):
            pairs.append(parse_tsv_line(line, where))
    if not pairs:
        raise ValueError(f"{path}: no source<TAB>target lines (the file is empty, or all blank or # lines)")
    return pairs
