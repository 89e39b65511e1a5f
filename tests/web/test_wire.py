"""Frames (s2s/web/wire.py), the decoding process's answers: a frame gives back exactly what was framed, arrays of
every kind a translation holds included, and whatever is not a frame this module wrote is refused."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from s2s import load
from s2s.web import wire
from tests.oracles import same


def test_a_frame_gives_back_what_was_framed():
    translations = [load("dates").translate("3 March 2021", beam_size=3),  # hypotheses, themselves translations
                    load("dates-transformer").translate("2021-04-05"),  # heads: dicts of arrays
                    load("reverse-noattn").translate("abc")]  # no attention: arrays with no elements
    extras = {"bool": np.array([True, False]), "ints": np.arange(6, dtype=np.int64).reshape(2, 3)[:, ::2],
              "scalar": np.float32(1.5), "bytes": b"\x00\xff", "inf": np.array([-np.inf, np.nan], np.float32)}
    stream = io.BytesIO(wire.frame(translations) + wire.frame(extras))
    assert same(translations, wire.read_frame(stream)) and translations[0].hypotheses[0] is translations[0]
    back = wire.read_frame(stream)
    assert same({**extras, "ints": np.ascontiguousarray(extras["ints"]), "scalar": 1.5}, back)
    with pytest.raises(wire.WireError):  # the stream has ended
        wire.read_frame(stream)


def framed(head: dict, data: bytes = b"") -> io.BytesIO:
    return io.BytesIO(json.dumps(head).encode() + b"\n" + data)


@pytest.mark.parametrize("stream", [
    framed({"value": [{"raw": ["<f4", [4]]}], "bytes": 8}, bytes(8)),  # an array beyond the frame's bytes
    framed({"value": [{"raw": ["<f4", [1]]}], "bytes": 8}, bytes(8)),  # bytes no array reads
    framed({"value": [], "bytes": 8}, bytes(4)),  # cut short
    framed({"value": [], "bytes": wire.MAX_FRAME_BYTES + 1}),  # too large to be read at all
    framed({"value": [], "bytes": -1}),
    framed({"value": [{"raw": ["|O", [1]]}], "bytes": 8}, bytes(8)),  # objects would need a pickle
    framed({"value": [{"raw": ["<f4", [1]]}, {"raw": ["<f4", [-1]]}, {"raw": ["<f4", [1]]}, {"raw": ["<f4", [1]]}],
            "bytes": 8}, bytes(8)),  # a negative size would read backwards, and the bytes would seem all read
    framed({"value": [{"raw": ["<f4", [-1, -2]]}], "bytes": 8}, bytes(8)),  # a shape whose product only looks right
    framed({"value": [{"raw": ["<f4", [2.0]]}], "bytes": 8}, bytes(8)),  # sizes are whole numbers
    framed({"value": [{"raw": ["<f4", [True, 2]]}], "bytes": 8}, bytes(8)),
    framed({"value": [{"raw": ["<f4", "ab"]}], "bytes": 8}, bytes(8)),
    framed({"value": {"raw": ["<f4", [1]], "x": 1}, "bytes": 4}, bytes(4)),  # an untagged object
    framed({"bytes": 0}),
    io.BytesIO(b"not json\n"),
])
def test_what_is_not_a_frame_is_refused(stream):
    with pytest.raises(wire.WireError):
        wire.read_frame(stream)
