"""s2s/tasks/tsv.py: your own pairs, from a file or pasted, and every way a line is refused."""

import pytest

from s2s.tasks import read_tsv
from s2s.web.training import pasted_pairs


def test_read_tsv(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_bytes("\ufeff# a comment\nhello\tbonjour\r\n\n  cat \t chat\n2021年\t2021\n".encode())
    assert read_tsv(path) == [("hello", "bonjour"), ("cat", "chat"), ("2021年", "2021")]


@pytest.mark.parametrize("content, message", [
    (b"a\tb\nno tab here\n", "line 2: expected source<TAB>target, found no tab"),
    (b"# comment\n\na\tb\tc\n", "line 3: expected source<TAB>target, found 2 tabs"),
    (b"a\tb\n\tb\n", "line 2: the source is empty"),
    (b"a\tb\r\nx\t \r\n", "line 2: the target is empty"),
    (b"a\tb\nx\t\xff\n", r"line 2: not UTF-8 \(byte 0xff at byte offset 6\)"),
    (b"", "no source<TAB>target lines"),
    (b"# only a comment\n\n", "no source<TAB>target lines"),
])
def test_read_tsv_errors(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"bad\.tsv.*{message}"):
        read_tsv(path)


def test_a_file_and_the_same_lines_pasted_give_the_same_pairs(tmp_path):
    """A line of tabs and spaces was blank when pasted but "no source" in a file (review of 2026-11-29)."""
    text = "# mine\n\t \n" + "".join(f"w{i}\tv{i}\n" for i in range(10)) + " \t\t\n"
    path = tmp_path / "pairs.tsv"
    path.write_text(text, encoding="utf-8")
    expected = [(f"w{i}", f"v{i}") for i in range(10)]
    assert read_tsv(path) == expected and pasted_pairs(text) == expected
